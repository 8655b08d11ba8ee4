//! gpd-payments' receipts API over HTTP: receipts are paid over SOAP, then listed and read at
//! `/payments/{organizationfiscalcode}/receipts[/{iuv}]`, with every filter and the paging of
//! `gpd_payments.json`. Lists are checked against that document's `PaymentsResult` schema when
//! the reference copy is present.

mod harness;

use harness::openapi::OpenApi;
use harness::receipts::{ReceiptRequest, iuv};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER_DEBTOR: &str = "VRDLGU70B02F205X";

fn gpd_payments() -> Option<OpenApi> {
    let api = OpenApi::reference("pagopa-api/openapi/gpd_payments.json");
    if api.is_none() {
        eprintln!("note: gpd_payments.json is absent; answers are checked without its schema");
    }
    api
}

fn position(iupd: &str, iuv: &str) -> Value {
    json!({"iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
           "companyName": "Comune di Esempio", "switchToExpired": false,
           "paymentOption": [{"iuv": iuv, "amount": 1000, "description": "TARI", "isPartialPayment": false,
               "dueDate": "2099-12-31T23:59:59",
               "transfer": [{"idTransfer": "1", "amount": 1000, "remittanceInformation": "TARI",
                             "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]}]})
}

/// Creates a published position for `iuv` and pays it with a receipt by `debtor` on `paid_at`.
async fn paid(server: &TestServer, receipt_id: &str, iuv: &str, debtor: &str, paid_at: &str) {
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions?toPublish=true"),
            &position(&format!("P-{receipt_id}"), iuv),
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    send(server, receipt_id, iuv, debtor, paid_at).await;
}

async fn send(server: &TestServer, receipt_id: &str, iuv: &str, debtor: &str, paid_at: &str) {
    let receipt = ReceiptRequest::v2(receipt_id, iuv, 1000);
    let xml = receipt
        .xml()
        .replace("RSSMRA80A01H501U", debtor)
        .replace("2025-06-01T10:15:30", paid_at);
    let r = server.soap(Some(receipt.action()), &xml).await;
    assert!(text(&r).contains("<outcome>"), "{}", text(&r));
}

async fn list(server: &TestServer, api: &Option<OpenApi>, query: &str) -> Value {
    let r = server
        .get(&format!("/payments/{ORG}/receipts{query}"))
        .await;
    assert_eq!(r.status, 200, "{query}: {}", text(&r));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = json(&r);
    if let Some(api) = api {
        let result = api.resolve("#/components/schemas/PaymentsResult");
        let errors = api.check(result, &body);
        assert!(errors.is_empty(), "{query}: {errors:#?}");
    }
    body
}

fn iuvs(body: &Value) -> Vec<String> {
    let mut v: Vec<String> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["iuv"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn receipts_in_gpd_payments_shapes() {
    let api = gpd_payments();
    let server = TestServer::start().await;
    let a = iuv("01", 9_101);
    let b = iuv("01", 9_102);
    let c = iuv("02", 9_103);
    paid(
        &server,
        "PR-A",
        &a,
        "RSSMRA80A01H501U",
        "2025-06-01T10:15:30",
    )
    .await;
    paid(&server, "PR-B", &b, OTHER_DEBTOR, "2025-07-01T08:00:00").await;
    paid(
        &server,
        "PR-C",
        &c,
        "RSSMRA80A01H501U",
        "2025-08-01T09:30:00",
    )
    .await;
    // A second, different receipt for A is kept for audit but is not one of gpd-payments' rows.
    send(
        &server,
        "PR-A2",
        &a,
        "RSSMRA80A01H501U",
        "2025-06-02T10:00:00",
    )
    .await;

    let all = list(&server, &api, "").await;
    assert_eq!(iuvs(&all), [a.clone(), b.clone(), c.clone()]);
    assert_eq!(
        (
            &all["currentPageNumber"],
            &all["length"],
            &all["totalPages"]
        ),
        (&json!(0), &json!(3), &json!(1))
    );
    let one = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["iuv"] == b.as_str())
        .unwrap();
    assert_eq!(
        one,
        &json!({"organizationFiscalCode": ORG, "iuv": b, "debtor": OTHER_DEBTOR,
                "paymentDateTime": "2025-07-01T08:00:00", "status": "PAID"})
    );

    // Paging: two pages of two, the second holds the rest; a page past the last is refused.
    let first = list(&server, &api, "?pageSize=2").await;
    let second = list(&server, &api, "?pageSize=2&pageNum=1").await;
    assert_eq!(
        (&first["length"], &first["totalPages"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(
        (&second["length"], &second["currentPageNumber"]),
        (&json!(1), &json!(1))
    );
    let mut both = iuvs(&first);
    both.extend(iuvs(&second));
    both.sort();
    assert_eq!(both, [a.clone(), b.clone(), c.clone()]);

    // Filters.
    let cases: Vec<(String, Vec<String>)> = vec![
        (format!("?debtor={OTHER_DEBTOR}"), vec![b.clone()]),
        (format!("?service={}", &c[..4]), vec![c.clone()]),
        ("?debtorOrIuv=VRDL".into(), vec![b.clone()]),
        (format!("?debtorOrIuv={}", &a[..17]), vec![a.clone()]),
        ("?segregationCodes=02".into(), vec![c.clone()]),
        (
            "?segregationCodes=01,02".into(),
            vec![a.clone(), b.clone(), c.clone()],
        ),
        ("?from=2025-07-01".into(), vec![b.clone(), c.clone()]),
        ("?to=2025-07-01".into(), vec![a.clone(), b.clone()]),
        (
            "?from=2025-06-15T00:00:00&to=2025-07-31".into(),
            vec![b.clone()],
        ),
        ("?from=2025-07-01T08:01".into(), vec![c.clone()]),
        ("?debtor=NOBODY".into(), vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            iuvs(&list(&server, &api, &query).await),
            expected,
            "{query}"
        );
    }
    let none = list(&server, &api, "?debtor=NOBODY").await;
    assert_eq!(
        (&none["length"], &none["totalPages"]),
        (&json!(0), &json!(0))
    );

    for bad in [
        "?pageNum=5",
        "?pageSize=0",
        "?pageSize=101",
        "?pageNum=-1",
        "?from=yesterday",
        "?from=2025-08-01&to=2025-07-01",
        "?segregationCodes=1",
        "?service=",
        "?page=1",
    ] {
        let r = server.get(&format!("/payments/{ORG}/receipts{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(json(&r)["status"], 400);
    }
    let r = server.get("/payments/99999999999/receipts").await;
    assert_eq!(r.status, 404, "{}", text(&r));

    // One receipt: its XML, the one that paid.
    let r = server.get(&format!("/payments/{ORG}/receipts/{a}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(
        text(&r).contains("<receiptId>PR-A</receiptId>"),
        "{}",
        text(&r)
    );
    let r = server
        .get(&format!("/payments/{ORG}/receipts/{a}?segregationCodes=01"))
        .await;
    assert_eq!(r.status, 200);
    let r = server
        .get(&format!(
            "/payments/{ORG}/receipts/{a}?segregationCodes=02,03"
        ))
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    let r = server
        .get(&format!("/payments/{ORG}/receipts/{}", iuv("01", 9_999)))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(json(&r)["status"], 404);
    server.stop().await;
}
