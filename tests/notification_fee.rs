//! SEND's notification fee end to end: set and replaced over REST, carried by the creditor's
//! own transfer, exposed to the Node as NOTIFICATION_FEE metadata in schema-valid
//! paGetPayment(V2) answers, kept by a later update, refused on paid options.

mod common;
mod harness;

use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";

fn iuv(base: u64) -> String {
    gpd_gateway::domain::Iuv::from_parts(
        gpd_gateway::domain::SegregationCode::parse("01").unwrap(),
        base,
    )
    .unwrap()
    .to_string()
}

fn transfer(id: &str, amount: i64, beneficiary: &str) -> Value {
    json!({"idTransfer": id, "amount": amount, "remittanceInformation": "TARI 2025",
           "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456",
           "organizationFiscalCode": beneficiary})
}

/// One option with the given transfers, its amount their sum.
fn position(iupd: &str, base: u64, transfers: Vec<Value>) -> Value {
    let amount: i64 = transfers
        .iter()
        .map(|t| t["amount"].as_i64().unwrap())
        .sum();
    json!({
        "iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
        "companyName": "Comune di Esempio", "switchToExpired": false,
        "paymentOption": [{
            "iuv": iuv(base), "amount": amount, "description": "TARI 2025", "isPartialPayment": false,
            "dueDate": "2099-12-31T23:59:59", "transfer": transfers,
            "paymentOptionMetadata": [{"key": "anno", "value": "2025"}]
        }]
    })
}

fn fee_path(base: u64) -> String {
    format!(
        "/organizations/{ORG}/paymentoptions/3{}/notificationfee",
        iuv(base)
    )
}

async fn create(server: &TestServer, body: &Value) {
    server.create_position(ORG, body, true).await;
}

async fn get_payment(server: &TestServer, v2: bool, base: u64) -> String {
    let wrapper = if v2 {
        "paGetPaymentV2Request"
    } else {
        "paGetPaymentReq"
    };
    let notice = format!("3{}", iuv(base));
    let request = format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:{wrapper} xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>{ORG}</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{ORG}</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode></ns2:{wrapper}></S:Body></S:Envelope>"#
    );
    let action = if v2 { "paGetPaymentV2" } else { "paGetPayment" };
    let r = server.soap(Some(action), &request).await;
    assert_eq!(r.status, 200);
    common::validate_envelope(&r.body)
        .unwrap_or_else(|e| panic!("invalid response: {e}\n{}", text(&r)));
    text(&r)
}

fn amounts(option: &Value) -> (i64, Vec<i64>) {
    let transfers = option["transfer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["amount"].as_i64().unwrap())
        .collect();
    (option["amount"].as_i64().unwrap(), transfers)
}

#[tokio::test(flavor = "multi_thread")]
async fn fee_is_added_replaced_exposed_and_kept() {
    let server = TestServer::start().await;
    // Transfer 1 goes to another creditor: the fee goes to transfer 2, the first of ours.
    let body = position(
        "F-1",
        1,
        vec![
            transfer("1", 500, OTHER),
            transfer("3", 300, ORG),
            transfer("2", 200, ORG),
        ],
    );
    create(&server, &body).await;

    let r = server
        .put_json(&fee_path(1), &json!({"notificationFee": 150}))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let option = json(&r);
    assert_eq!(option["notificationFee"], 150);
    // Transfers are listed by id: 1, 2, 3.
    assert_eq!(amounts(&option), (1150, vec![500, 350, 300]));

    // A new fee replaces the old one.
    let r = server
        .put_json(&fee_path(1), &json!({"notificationFee": 100}))
        .await;
    assert_eq!(amounts(&json(&r)), (1100, vec![500, 300, 300]));

    for v2 in [false, true] {
        let answer = get_payment(&server, v2, 1).await;
        assert!(
            answer.contains("<paymentAmount>11.00</paymentAmount>"),
            "{answer}"
        );
        assert!(
            answer.contains(
                "<mapEntry><key>anno</key><value>2025</value></mapEntry><mapEntry><key>NOTIFICATION_FEE</key><value>100</value></mapEntry>"
            ),
            "{answer}"
        );
    }

    // The creditor updates the position with its own amounts: the fee is added again.
    let mut updated = position(
        "F-1",
        1,
        vec![transfer("1", 600, OTHER), transfer("2", 400, ORG)],
    );
    updated["paymentOption"][0]["description"] = json!("TARI 2025 - rettifica");
    let r = server
        .put_json(
            &format!("/organizations/{ORG}/debtpositions/F-1?toPublish=true"),
            &updated,
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let read = json(
        &server
            .get(&format!("/organizations/{ORG}/debtpositions/F-1"))
            .await,
    );
    let option = &read["paymentOption"][0];
    assert_eq!(option["notificationFee"], 100);
    assert_eq!(amounts(option), (1100, vec![600, 500]));
    assert!(
        get_payment(&server, true, 1)
            .await
            .contains("<key>NOTIFICATION_FEE</key><value>100</value>")
    );

    // Zero restores the creditor's amounts.
    let r = server
        .put_json(&fee_path(1), &json!({"notificationFee": 0}))
        .await;
    assert_eq!(amounts(&json(&r)), (1000, vec![600, 400]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals() {
    let server = TestServer::start().await;
    create(
        &server,
        &position("F-2", 2, vec![transfer("1", 1000, OTHER)]),
    )
    .await;
    let r = server
        .put_json(&fee_path(2), &json!({"notificationFee": 100}))
        .await;
    assert_eq!(r.status, 422, "no transfer of ours: {}", text(&r));
    assert!(json(&r)["detail"].as_str().unwrap().contains("transfer"));

    create(&server, &position("F-3", 3, vec![transfer("1", 1000, ORG)])).await;
    for bad in [
        json!({"notificationFee": -1}),
        json!({"notificationFee": "100"}),
        json!({}),
        json!({"notificationFee": 1.5}),
    ] {
        let r = server.put_json(&fee_path(3), &bad).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            json(&r)["detail"]
                .as_str()
                .unwrap()
                .contains("notificationFee"),
            "{bad}: {}",
            text(&r)
        );
    }
    let unknown = format!("/organizations/{ORG}/paymentoptions/301000000000999999/notificationfee");
    let r = server
        .put_json(&unknown, &json!({"notificationFee": 1}))
        .await;
    assert_eq!(r.status, 404);
    let r = server
        .put_json(
            &format!("/organizations/{ORG}/paymentoptions/123/notificationfee"),
            &json!({"notificationFee": 1}),
        )
        .await;
    // As in GPD: an identifier that names no option is not found, whatever its shape.
    assert_eq!(r.status, 404);

    let nav = format!("3{}", iuv(3));
    let paid = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav}"),
            &json!({}),
        )
        .await;
    assert_eq!(paid.status, 200);
    let r = server
        .put_json(&fee_path(3), &json!({"notificationFee": 100}))
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    let read = json(
        &server
            .get(&format!("/organizations/{ORG}/debtpositions/F-3"))
            .await,
    );
    assert_eq!(read["paymentOption"][0]["amount"], 1000);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_without_own_transfer_cannot_keep_the_fee() {
    let server = TestServer::start().await;
    create(&server, &position("F-4", 4, vec![transfer("1", 1000, ORG)])).await;
    let r = server
        .put_json(&fee_path(4), &json!({"notificationFee": 100}))
        .await;
    assert_eq!(r.status, 200);
    let third_party_only = position("F-4", 4, vec![transfer("1", 1000, OTHER)]);
    let r = server
        .put_json(
            &format!("/organizations/{ORG}/debtpositions/F-4"),
            &third_party_only,
        )
        .await;
    assert_eq!(r.status, 422, "{}", text(&r));
    assert!(
        json(&r)["detail"]
            .as_str()
            .unwrap()
            .starts_with("paymentOption[0].transfer"),
        "{}",
        text(&r)
    );
    let read = json(
        &server
            .get(&format!("/organizations/{ORG}/debtpositions/F-4"))
            .await,
    );
    assert_eq!(
        read["status"], "VALID",
        "the refused update changed nothing"
    );
    assert_eq!(read["paymentOption"][0]["amount"], 1100);
    server.stop().await;
}

#[tokio::test]
async fn if_match_makes_the_fee_conditional_on_the_position_version() {
    let server = TestServer::start().await;
    create(&server, &position("F-5", 5, vec![transfer("1", 1000, ORG)])).await;
    let read = server
        .get(&format!("/organizations/{ORG}/debtpositions/F-5"))
        .await;
    let etag = read.header("etag").expect("ETag").to_owned();
    let body = json!({"notificationFee": 100}).to_string();
    let put = |tag: String| {
        let server = &server;
        let body = body.clone();
        async move {
            let headers = [
                ("Content-Type", "application/json"),
                ("If-Match", tag.as_str()),
            ];
            server
                .request("PUT", &fee_path(5), &headers, body.as_bytes())
                .await
        }
    };
    let r = put(etag.clone()).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let new_etag = r.header("etag").expect("ETag").to_owned();
    assert_ne!(new_etag, etag);
    // The same If-Match again: the position has moved on.
    let r = put(etag).await;
    assert_eq!(r.status, 412, "{}", text(&r));
    assert_eq!(r.header("etag"), Some(new_etag.as_str()));
    let read = json(
        &server
            .get(&format!("/organizations/{ORG}/debtpositions/F-5"))
            .await,
    );
    assert_eq!(read["paymentOption"][0]["amount"], 1100, "applied once");
    server.stop().await;
}
