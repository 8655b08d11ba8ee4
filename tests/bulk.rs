//! GPD's operations on many positions over HTTP: `POST …/debtpositions/bulk` (all or nothing,
//! every refused position named) and `PATCH …/debtpositions/transfers` (an IBAN replaced in the
//! transfers still to be paid, versions moved only where something changed).

mod harness;

use harness::positions::{iuv, position};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OLD: &str = "IT60X0542811101000000123456";
const NEW: &str = "IT02A0301503200000003517230";

fn bulk_path(query: &str) -> String {
    format!("/organizations/{ORG}/debtpositions/bulk{query}")
}

async fn get(server: &TestServer, iupd: &str) -> (u16, Value, Option<String>) {
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/{iupd}"))
        .await;
    let etag = r.header("etag").map(str::to_owned);
    let body = if r.status == 200 {
        json(&r)
    } else {
        Value::Null
    };
    (r.status, body, etag)
}

#[tokio::test]
async fn bulk_create_is_all_or_nothing() {
    let server = TestServer::start().await;
    let many = |names: &[(&str, u64)]| {
        let list: Vec<Value> = names
            .iter()
            .map(|(iupd, base)| position(iupd, &iuv(1, *base), 1000))
            .collect();
        json!({ "paymentPositions": list })
    };

    let r = server
        .post_json(
            &bulk_path("?toPublish=true"),
            &many(&[("B-1", 7_001), ("B-2", 7_002), ("B-3", 7_003)]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    assert!(r.body.is_empty());
    for iupd in ["B-1", "B-2", "B-3"] {
        let (status, body, _) = get(&server, iupd).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "VALID", "{iupd}");
    }
    let r = server
        .post_json(&bulk_path(""), &many(&[("B-4", 7_004)]))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(get(&server, "B-4").await.1["status"], "DRAFT");

    // One invalid position: nothing stored, and the answer names it by index.
    let mut list = many(&[("B-5", 7_005), ("B-6", 7_006)]);
    list["paymentPositions"][1]["paymentOption"][0]["amount"] = json!(999);
    let r = server.post_json(&bulk_path(""), &list).await;
    assert_eq!(r.status, 400, "{}", text(&r));
    let detail = json(&r)["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("paymentPositions[1].paymentOption[0].amount:"),
        "{detail}"
    );
    assert_eq!(get(&server, "B-5").await.0, 404);

    // Clashes with the store and within the list: each named, nothing stored.
    let r = server
        .post_json(
            &bulk_path(""),
            &many(&[("B-7", 7_007), ("B-1", 7_008), ("B-9", 7_007)]),
        )
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    let detail = json(&r)["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("paymentPositions[1]: iupd B-1 already exists"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("paymentPositions[2]: iuv {}", iuv(1, 7_007))),
        "{detail}"
    );
    assert!(!detail.contains("paymentPositions[0]"), "{detail}");
    assert_eq!(get(&server, "B-7").await.0, 404);

    // Sizes and shapes GPD refuses.
    let empty = json!({"paymentPositions": []});
    let names: Vec<(String, u64)> = (0..101).map(|i| (format!("T-{i}"), 7_100 + i)).collect();
    let refs: Vec<(&str, u64)> = names.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    for (body, what) in [
        (empty, "empty"),
        (many(&refs), "101 positions"),
        (json!({"positions": []}), "unknown field"),
        (json!([]), "not an object"),
    ] {
        let r = server.post_json(&bulk_path(""), &body).await;
        assert_eq!(r.status, 400, "{what}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(get(&server, "T-0").await.0, 404);
    let r = server
        .post_json(&bulk_path("?toPublish=maybe"), &many(&[("B-10", 7_010)]))
        .await;
    assert_eq!(r.status, 400);
    let r = server
        .post_json(
            "/organizations/99999999999/debtpositions/bulk",
            &many(&[("B-11", 7_011)]),
        )
        .await;
    assert_eq!(r.status, 404);
    server.stop().await;
}

fn plan(iupd: &str, bases: &[u64]) -> Value {
    let options: Vec<Value> = bases
        .iter()
        .map(|b| {
            json!({"iuv": iuv(1, *b), "amount": 500, "description": "Rata", "isPartialPayment": true,
                   "dueDate": "2099-12-31T23:59:59",
                   "transfer": [{"idTransfer": "1", "amount": 500, "remittanceInformation": "Rata",
                                 "category": "9/0101108TS/", "iban": OLD}]})
        })
        .collect();
    let mut p = position(iupd, &iuv(1, bases[0]), 500);
    p["paymentOption"] = Value::Array(options);
    p
}

fn ibans(position: &Value) -> Vec<String> {
    position["paymentOption"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["transfer"][0]["iban"].as_str().unwrap().to_owned())
        .collect()
}

async fn patch(server: &TestServer, query: &str, body: &Value) -> (u16, Value) {
    let r = server
        .request(
            "PATCH",
            &format!("/organizations/{ORG}/debtpositions/transfers{query}"),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await;
    (r.status, json(&r))
}

#[tokio::test]
async fn iban_change_leaves_paid_and_closed_options_alone() {
    let server = TestServer::start().await;
    let create = |body: Value, publish: bool| {
        let server = &server;
        async move {
            let q = if publish { "?toPublish=true" } else { "" };
            let r = server
                .post_json(&format!("/organizations/{ORG}/debtpositions{q}"), &body)
                .await;
            assert_eq!(r.status, 201, "{}", text(&r));
        }
    };
    create(position("I-SINGLE", &iuv(1, 6_001), 1000), true).await;
    create(plan("I-PLAN", &[6_002, 6_003]), true).await;
    create(position("I-GONE", &iuv(1, 6_004), 1000), true).await;
    create(position("I-DRAFT", &iuv(1, 6_005), 1000), false).await;
    let mut other = position("I-OTHER", &iuv(1, 6_006), 1000);
    other["paymentOption"][0]["transfer"][0]["iban"] = json!("IT11X0000000000000000000001");
    create(other, true).await;
    // The first installment is paid; I-GONE is invalidated.
    let nav = format!("3{}", iuv(1, 6_002));
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav}"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/I-GONE/invalidate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let before: Vec<_> = {
        let mut v = Vec::new();
        for iupd in ["I-SINGLE", "I-PLAN", "I-GONE", "I-DRAFT", "I-OTHER"] {
            v.push(get(&server, iupd).await.2.unwrap());
        }
        v
    };

    let new = json!({ "newIban": NEW });
    // A limit of one: one transfer per call, until none is left (three can change).
    let mut counts = Vec::new();
    loop {
        let (status, body) = patch(&server, &format!("?oldIban={OLD}&limit=1"), &new).await;
        assert_eq!(status, 200, "{body}");
        let n = body["updatedTransfers"].as_u64().unwrap();
        assert_eq!(
            body["description"],
            format!("Updated IBAN on {n} Transfers")
        );
        counts.push(n);
        if n == 0 || counts.len() > 5 {
            break;
        }
    }
    assert_eq!(counts, [1, 1, 1, 0]);

    let single = get(&server, "I-SINGLE").await;
    assert_eq!(ibans(&single.1), [NEW]);
    let plan = get(&server, "I-PLAN").await;
    assert_eq!(
        ibans(&plan.1),
        [OLD, NEW],
        "the paid installment keeps its IBAN"
    );
    assert_eq!(ibans(&get(&server, "I-GONE").await.1), [OLD]);
    assert_eq!(ibans(&get(&server, "I-DRAFT").await.1), [NEW]);
    assert_eq!(
        ibans(&get(&server, "I-OTHER").await.1),
        ["IT11X0000000000000000000001"]
    );
    // Versions moved exactly where something changed.
    let after: Vec<_> = {
        let mut v = Vec::new();
        for iupd in ["I-SINGLE", "I-PLAN", "I-GONE", "I-DRAFT", "I-OTHER"] {
            v.push(get(&server, iupd).await.2.unwrap());
        }
        v
    };
    let moved: Vec<bool> = before.iter().zip(&after).map(|(b, a)| b != a).collect();
    assert_eq!(moved, [true, true, false, true, false]);

    for (query, body) in [
        ("", new.clone()),
        (&*format!("?oldIban={OLD}&limit=0"), new.clone()),
        (&*format!("?oldIban={OLD}&limit=1001"), new.clone()),
        (&*format!("?oldIban={OLD}"), json!({})),
        (
            &*format!("?oldIban={OLD}"),
            json!({"newIban": "IT-not-an-iban"}),
        ),
        ("?oldIban=", new.clone()),
    ] {
        let (status, answer) = patch(&server, query, &body).await;
        assert_eq!(status, 400, "{query} {body}: {answer}");
    }
    server.stop().await;
}
