//! paSendRT and paSendRTV2 end to end: positions are created over REST, receipts posted to
//! /partner, and the effect checked over REST (position status, stored receipts). Every SOAP
//! answer is validated against the schemas.

mod common;
mod harness;

use harness::receipts::{ReceiptRequest, iuv, to};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";

fn position(iupd: &str, options: Vec<(String, i64, bool)>) -> Value {
    let options: Vec<Value> = options
        .into_iter()
        .map(|(iuv, amount, partial)| {
            json!({"iuv": iuv, "amount": amount, "description": "TARI 2025", "isPartialPayment": partial,
                   "dueDate": "2099-12-31T23:59:59",
                   "transfer": [{"idTransfer": "1", "amount": amount, "remittanceInformation": "TARI",
                                 "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]})
        })
        .collect();
    json!({"iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
           "companyName": "Comune di Esempio", "switchToExpired": false, "paymentOption": options})
}

async fn create(server: &TestServer, body: Value) {
    server.create_position(ORG, &body, true).await;
}

async fn status_of(server: &TestServer, iupd: &str) -> Value {
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/{iupd}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)
}

/// Posts the receipt; returns the outcome and the fault code (if any) of a schema-valid answer.
async fn send(server: &TestServer, receipt: &ReceiptRequest) -> (String, Option<String>) {
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    common::validate_envelope(&r.body).unwrap_or_else(|e| panic!("{e}\n{}", text(&r)));
    let body = text(&r);
    let between = |open: &str, close: &str| {
        body.split_once(open)
            .and_then(|(_, rest)| rest.split_once(close))
            .map(|(v, _)| v.to_owned())
    };
    let wrapper = if receipt.v2 {
        "paSendRTV2Response"
    } else {
        "paSendRTRes"
    };
    assert!(body.contains(wrapper), "{body}");
    (
        between("<outcome>", "</outcome>").expect("outcome"),
        between("<faultCode>", "</faultCode>"),
    )
}

fn ok() -> (String, Option<String>) {
    ("OK".into(), None)
}

fn ko(code: &str) -> (String, Option<String>) {
    ("KO".into(), Some(code.into()))
}

#[tokio::test]
async fn a_receipt_pays_once_is_idempotent_and_a_second_one_is_a_duplicate() {
    let server = TestServer::start().await;
    let iuv = iuv("01", 9_100);
    create(&server, position("R-1", vec![(iuv.clone(), 1500, false)])).await;

    let first = ReceiptRequest::v2("token-1", &iuv, 1500);
    assert_eq!(send(&server, &first).await, ok());
    let paid = status_of(&server, "R-1").await;
    assert_eq!(paid["status"], "PAID");
    assert_eq!(paid["paymentOption"][0]["status"], "PO_PAID");

    // The Node retries: same receipt id, nothing changes.
    assert_eq!(send(&server, &first).await, ok());
    assert_eq!(status_of(&server, "R-1").await, paid);

    let second = ReceiptRequest::v2("token-2", &iuv, 1500);
    assert_eq!(send(&server, &second).await, ko("PAA_RECEIPT_DUPLICATA"));
    // Asked again, the kept duplicate is answered the same way.
    assert_eq!(send(&server, &second).await, ko("PAA_RECEIPT_DUPLICATA"));
    assert_eq!(status_of(&server, "R-1").await, paid);

    // The applied receipt, byte for byte as received.
    let r = server
        .get(&format!("/organizations/{ORG}/receipts/{iuv}"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/xml"));
    assert_eq!(text(&r), first.xml());

    let listed = json(&server.get(&format!("/organizations/{ORG}/receipts")).await);
    assert_eq!(listed["page_info"]["items_found"], 2);
    let statuses: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["DUPLICATE", "APPLIED"]);
    assert_eq!(listed["results"][1]["receiptId"], "token-1");
    assert_eq!(listed["results"][1]["paymentAmount"], 1500);
    assert_eq!(
        listed["results"][1]["paymentDateTime"],
        "2025-06-01T10:15:30"
    );
    server.stop().await;
}

#[tokio::test]
async fn v1_receipts_are_acquired_too() {
    let server = TestServer::start().await;
    let iuv = iuv("01", 9_150);
    create(&server, position("R-V1", vec![(iuv.clone(), 700, false)])).await;
    let mut v1 = ReceiptRequest::v2("token-v1", &iuv, 700);
    v1.v2 = false;
    assert_eq!(send(&server, &v1).await, ok());
    assert_eq!(status_of(&server, "R-V1").await["status"], "PAID");
    let listed = json(&server.get(&format!("/organizations/{ORG}/receipts")).await);
    assert_eq!(listed["results"][0]["primitiveVersion"], 1);
    server.stop().await;
}

#[tokio::test]
async fn installments_then_the_single_option_is_flagged() {
    let server = TestServer::start().await;
    let (single, first, second) = (iuv("01", 9_200), iuv("01", 9_201), iuv("01", 9_202));
    create(
        &server,
        position(
            "R-PLAN",
            vec![
                (single.clone(), 1000, false),
                (first.clone(), 500, true),
                (second.clone(), 500, true),
            ],
        ),
    )
    .await;
    assert_eq!(
        send(&server, &ReceiptRequest::v2("p-1", &first, 500)).await,
        ok()
    );
    assert_eq!(
        status_of(&server, "R-PLAN").await["status"],
        "PARTIALLY_PAID"
    );
    // Paid elsewhere (Stand-In): stored and answered OK, but it cannot pay the position.
    assert_eq!(
        send(&server, &ReceiptRequest::v2("s-1", &single, 1000)).await,
        ok()
    );
    let position = status_of(&server, "R-PLAN").await;
    assert_eq!(position["status"], "PARTIALLY_PAID");
    assert_eq!(position["paymentOption"][0]["status"], "PO_UNPAID");
    assert_eq!(
        send(&server, &ReceiptRequest::v2("p-2", &second, 500)).await,
        ok()
    );
    assert_eq!(status_of(&server, "R-PLAN").await["status"], "PAID");

    let flagged = json(
        &server
            .get(&format!("/organizations/{ORG}/receipts?status=FLAGGED"))
            .await,
    );
    assert_eq!(flagged["page_info"]["items_found"], 1);
    assert_eq!(flagged["results"][0]["receiptId"], "s-1");
    assert_eq!(flagged["results"][0]["flag"], "NOT_PAYABLE");
    server.stop().await;
}

#[tokio::test]
async fn unknown_and_invalid_notices_are_stored_flagged_and_answered_ok() {
    let server = TestServer::start().await;
    let stranger = iuv("02", 9_300);
    assert_eq!(
        send(&server, &ReceiptRequest::v2("u-1", &stranger, 100)).await,
        ok()
    );
    let r = server
        .get(&format!("/organizations/{ORG}/receipts/{stranger}"))
        .await;
    assert_eq!(r.status, 200);

    let cancelled = iuv("01", 9_301);
    create(
        &server,
        position("R-INV", vec![(cancelled.clone(), 100, false)]),
    )
    .await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/R-INV/invalidate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(
        send(&server, &ReceiptRequest::v2("i-1", &cancelled, 100)).await,
        ok()
    );
    assert_eq!(status_of(&server, "R-INV").await["status"], "INVALID");

    let flagged = json(
        &server
            .get(&format!(
                "/organizations/{ORG}/receipts?status=FLAGGED&limit=1"
            ))
            .await,
    );
    assert_eq!(flagged["page_info"]["items_found"], 2);
    assert_eq!(flagged["page_info"]["total_pages"], 2);
    assert_eq!(flagged["results"].as_array().unwrap().len(), 1);
    let all = json(&server.get(&format!("/organizations/{ORG}/receipts")).await);
    let mut flags: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flag"].as_str().unwrap())
        .collect();
    flags.sort();
    assert_eq!(flags, ["NOT_PAYABLE", "UNKNOWN_NOTICE"]);
    server.stop().await;
}

#[tokio::test]
async fn wrong_ids_and_bad_receipts_get_their_fault() {
    let server = TestServer::start().await;
    let iuv = iuv("01", 9_400);
    let base = ReceiptRequest::v2("f-1", &iuv, 100);
    type Change = Box<dyn Fn(&mut ReceiptRequest)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|r| r.id_broker_pa = "99999999999".into()),
            "PAA_ID_INTERMEDIARIO_ERRATO",
        ),
        (
            Box::new(|r| r.id_station = "77777777777_99".into()),
            "PAA_STAZIONE_INT_ERRATA",
        ),
        (
            Box::new(|r| r.id_pa = "12345678901".into()),
            "PAA_ID_DOMINIO_ERRATO",
        ),
        (Box::new(|r| r.receipt_id = "   ".into()), "PAA_SEMANTICA"),
        // 88888888888 is served here but neither owns the notice nor is a beneficiary.
        (
            Box::new(|r| r.id_pa = "88888888888".into()),
            "PAA_SEMANTICA",
        ),
        (Box::new(|r| r.iuv = "12AB".into()), "PAA_SINTASSI_XSD"),
    ];
    for (change, fault) in cases {
        let mut r = base.clone();
        change(&mut r);
        assert_eq!(send(&server, &r).await, ko(fault), "{fault}");
    }
    // None of them was stored.
    let listed = json(&server.get(&format!("/organizations/{ORG}/receipts")).await);
    assert_eq!(listed["page_info"]["items_found"], 0);

    // A beneficiary creditor may receive it, on one of its stations.
    let mut secondary = base.clone();
    secondary.id_pa = "88888888888".into();
    secondary.id_station = "77777777777_02".into();
    secondary.transfers = vec![to(ORG, 60), to("88888888888", 40)];
    assert_eq!(send(&server, &secondary).await, ok());
    let theirs = json(&server.get("/organizations/88888888888/receipts").await);
    assert_eq!(theirs["results"][0]["recipient"], "88888888888");
    server.stop().await;
}

#[tokio::test]
async fn a_beneficiary_sees_the_receipt_whichever_copy_came_first() {
    let server = TestServer::start().await;
    let iuv = iuv("01", 9_400);
    create(
        &server,
        position("R-SHARED", vec![(iuv.clone(), 100, false)]),
    )
    .await;
    // The Node's copy for the notice's creditor comes first.
    let mut receipt = ReceiptRequest::v2("shared-1", &iuv, 100);
    receipt.transfers = vec![to(ORG, 60), to("88888888888", 40)];
    assert_eq!(send(&server, &receipt).await, ok());
    let theirs = json(&server.get("/organizations/88888888888/receipts").await);
    assert_eq!(theirs["page_info"]["items_found"], 1, "{theirs}");
    assert_eq!(theirs["results"][0]["receiptId"], "shared-1");
    assert_eq!(theirs["results"][0]["recipient"], ORG);
    let document = server
        .get(&format!("/organizations/88888888888/receipts/{iuv}"))
        .await;
    assert_eq!(document.status, 200);
    assert!(text(&document).contains("shared-1"));
    // Then the beneficiary's own copy: the same receipt, nothing new.
    let mut copy = receipt.clone();
    copy.id_pa = "88888888888".into();
    copy.id_station = "77777777777_02".into();
    assert_eq!(send(&server, &copy).await, ok());
    for org in [ORG, "88888888888"] {
        let listed = json(&server.get(&format!("/organizations/{org}/receipts")).await);
        assert_eq!(listed["page_info"]["items_found"], 1, "{org}: {listed}");
    }
    // A creditor with no part in it sees nothing.
    let other = server
        .get(&format!("/organizations/99999999999/receipts/{iuv}"))
        .await;
    assert_ne!(other.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_receipts_for_one_option_apply_exactly_once() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let iuv = iuv("01", 9_500);
    create(&server, position("R-RACE", vec![(iuv.clone(), 100, false)])).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let server = server.clone();
            let r = ReceiptRequest::v2(&format!("race-{i}"), &iuv, 100);
            tokio::spawn(async move { send(&server, &r).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|a| **a == ok()).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|a| *a == ok() || *a == ko("PAA_RECEIPT_DUPLICATA"))
    );
    let applied = json(
        &server
            .get(&format!("/organizations/{ORG}/receipts?status=APPLIED"))
            .await,
    );
    assert_eq!(applied["page_info"]["items_found"], 1);
}

#[tokio::test]
async fn a_receipt_that_cannot_be_stored_gets_a_system_error() {
    let server = TestServer::start().await;
    gpd_gateway::store::Store::close(server.ctx.store.as_ref())
        .await
        .unwrap();
    let r = ReceiptRequest::v2("down-1", &iuv("01", 9_600), 100);
    assert_eq!(send(&server, &r).await, ko("PAA_SYSTEM_ERROR"));
}

#[tokio::test]
async fn receipt_lists_filter_and_refuse_bad_parameters() {
    let server = TestServer::start().await;
    let a = iuv("01", 9_700);
    assert_eq!(
        send(&server, &ReceiptRequest::v2("l-1", &a, 100)).await,
        ok()
    );
    let get = async |q: &str| {
        server
            .get(&format!("/organizations/{ORG}/receipts?{q}"))
            .await
    };
    let found = |v: Value| v["page_info"]["items_found"].as_u64().unwrap();
    assert_eq!(found(json(&get("debtor=RSSMRA80A01H501U").await)), 1);
    assert_eq!(found(json(&get("debtor=XXXXXX80A01H501U").await)), 0);
    assert_eq!(found(json(&get("from=2025-06-01&to=2025-06-01").await)), 1);
    assert_eq!(found(json(&get("from=2025-06-02").await)), 0);
    assert_eq!(found(json(&get("to=2025-06-01T10%3A15%3A00").await)), 0);
    for bad in [
        "status=PAID",
        "from=yesterday",
        "limit=0",
        "page=x",
        "color=red",
    ] {
        let r = get(bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(
        server
            .get(&format!("/organizations/{ORG}/receipts/{}", iuv("01", 1)))
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .get("/organizations/12345678901/receipts")
            .await
            .status,
        404
    );
    server.stop().await;
}

/// The same receipt as the Node might serialise it another time: another prefix, no indentation.
fn reserialised(receipt: &ReceiptRequest) -> String {
    receipt
        .xml()
        .replace("pafn:", "ns2:")
        .replace("xmlns:pafn", "xmlns:ns2")
        .lines()
        .map(str::trim)
        .collect()
}

async fn receipts_with(server: &TestServer, query: &str) -> Value {
    let r = server
        .get(&format!("/organizations/{ORG}/receipts?{query}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)
}

#[tokio::test]
async fn a_receipt_is_its_notice_and_id_and_a_copy_with_other_content_is_a_conflict() {
    let server = TestServer::start().await;
    let (first, second) = (iuv("01", 9_800), iuv("01", 9_801));
    create(
        &server,
        position("R-ID-1", vec![(first.clone(), 10_000, false)]),
    )
    .await;
    create(
        &server,
        position("R-ID-2", vec![(second.clone(), 10_000, false)]),
    )
    .await;

    let paid = ReceiptRequest::v2("same-id", &first, 10_000);
    assert_eq!(send(&server, &paid).await, ok());
    // Re-serialised by the Node: the same receipt, nothing changes.
    let r = server.soap(Some(paid.action()), &reserialised(&paid)).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));

    // The same receiptId on another notice is another receipt, and pays that notice.
    let other_notice = ReceiptRequest::v2("same-id", &second, 10_000);
    assert_eq!(send(&server, &other_notice).await, ok());
    assert_eq!(status_of(&server, "R-ID-2").await["status"], "PAID");

    // Same creditor, notice and id, 1.00 instead of 100.00: kept, not applied, refused.
    let mut forged = paid.clone();
    forged.transfers[0].cents = 100;
    let r = server.soap(Some(forged.action()), &forged.xml()).await;
    common::validate_envelope(&r.body).unwrap();
    let body = text(&r);
    assert!(
        body.contains("<faultCode>PAA_SEMANTICA</faultCode>"),
        "{body}"
    );
    assert!(
        body.contains("amount 100.00 before, 1.00 now") && body.contains("CONFLICT"),
        "{body}"
    );
    // Sent again, the same answer and still one copy of it.
    assert_eq!(send(&server, &forged).await, ko("PAA_SEMANTICA"));
    let position = status_of(&server, "R-ID-1").await;
    assert_eq!(position["status"], "PAID");
    assert_eq!(position["paymentOption"][0]["amount"], 10_000);

    let conflicts = receipts_with(&server, "status=CONFLICT").await;
    assert_eq!(conflicts["page_info"]["items_found"], 1);
    assert_eq!(conflicts["results"][0]["receiptId"], "same-id");
    assert_eq!(conflicts["results"][0]["paymentAmount"], 100);
    let all = receipts_with(&server, "").await;
    assert_eq!(all["page_info"]["items_found"], 3);
    // The document served for the notice is the applied one.
    let r = server
        .get(&format!("/organizations/{ORG}/receipts/{first}"))
        .await;
    assert_eq!(text(&r), paid.xml());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_copies_of_one_receipt_and_fifty_receipts_for_one_notice() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let (a, b) = (iuv("01", 9_900), iuv("01", 9_901));
    create(&server, position("R-50-A", vec![(a.clone(), 100, false)])).await;
    create(&server, position("R-50-B", vec![(b.clone(), 100, false)])).await;
    let race = async |receipts: Vec<ReceiptRequest>| {
        let tasks: Vec<_> = receipts
            .into_iter()
            .map(|r| {
                let server = server.clone();
                tokio::spawn(async move { send(&server, &r).await })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    };
    let copies = race(vec![ReceiptRequest::v2("copy", &a, 100); 50]).await;
    assert!(copies.iter().all(|a| *a == ok()), "{copies:?}");
    let rivals = (0..50)
        .map(|i| ReceiptRequest::v2(&format!("rival-{i}"), &b, 100))
        .collect();
    let rivals = race(rivals).await;
    assert_eq!(rivals.iter().filter(|a| **a == ok()).count(), 1);
    assert_eq!(
        rivals
            .iter()
            .filter(|a| **a == ko("PAA_RECEIPT_DUPLICATA"))
            .count(),
        49
    );
    assert_eq!(
        receipts_with(&server, "status=APPLIED").await["page_info"]["items_found"],
        2
    );
    assert_eq!(
        receipts_with(&server, "status=DUPLICATE").await["page_info"]["items_found"],
        49
    );
    assert_eq!(
        receipts_with(&server, "").await["page_info"]["items_found"],
        51
    );
}

#[tokio::test]
async fn receipts_stored_before_digests_are_told_apart_after_a_restart() {
    let server = TestServer::start().await;
    let notice = iuv("01", 9_950);
    create(
        &server,
        position("R-OLD", vec![(notice.clone(), 10_000, false)]),
    )
    .await;
    let paid = ReceiptRequest::v2("old-1", &notice, 10_000);
    assert_eq!(send(&server, &paid).await, ok());
    let data = server.stop_and_keep_data().await;
    // As a store written before digests were kept leaves it.
    assert_eq!(
        harness::store::execute(data.path(), "UPDATE receipt SET digest = NULL").await,
        1
    );
    let server = TestServer::start_on(
        data,
        harness::loopback_stations(gpd_gateway::config::Config::example()),
        gpd_gateway::clock::Clock::system(),
    )
    .await;
    assert_eq!(send(&server, &paid).await, ok());
    let mut forged = paid.clone();
    forged.transfers[0].cents = 100;
    assert_eq!(send(&server, &forged).await, ko("PAA_SEMANTICA"));
    assert_eq!(
        receipts_with(&server, "status=CONFLICT").await["page_info"]["items_found"],
        1
    );
    server.stop().await;
}
