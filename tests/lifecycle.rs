//! A debt position's life over REST after creation: update (merge, back to DRAFT, publish
//! again), delete, list with filters, ordering and paging, optimistic concurrency with
//! ETag / If-Match, and the statuses time changes (computed on read, stored by the sweeper).

mod harness;

use gpd_gateway::domain::position::PositionStatus;
use gpd_gateway::store::PositionKey;
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";

fn iuv(base: u64) -> String {
    gpd_gateway::domain::Iuv::from_parts(
        gpd_gateway::domain::SegregationCode::parse("01").unwrap(),
        base,
    )
    .unwrap()
    .to_string()
}

fn option(base: u64, amount: i64, due: &str) -> Value {
    json!({
        "iuv": iuv(base), "amount": amount, "description": "TARI 2025", "isPartialPayment": false,
        "dueDate": due,
        "transfer": [{"idTransfer": "1", "amount": amount, "remittanceInformation": "TARI",
                      "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]
    })
}

fn position(iupd: &str, options: Vec<Value>) -> Value {
    json!({
        "iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
        "companyName": "Comune di Esempio", "switchToExpired": false, "paymentOption": options
    })
}

fn path(iupd: &str) -> String {
    format!("/organizations/{ORG}/debtpositions/{iupd}")
}

async fn create(server: &TestServer, body: &Value, publish: bool) {
    server.create_position(ORG, body, publish).await;
}

fn detail(r: &gpd_gateway::client::Response) -> String {
    json(r)["detail"].as_str().unwrap_or_default().to_owned()
}

async fn put_if(
    server: &TestServer,
    path: &str,
    tag: &str,
    body: &Value,
) -> gpd_gateway::client::Response {
    let headers = [("Content-Type", "application/json"), ("If-Match", tag)];
    server
        .request("PUT", path, &headers, body.to_string().as_bytes())
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn update_merges_and_goes_back_to_draft() {
    let server = TestServer::start().await;
    let due = "2099-12-31T23:59:59";
    create(
        &server,
        &position("U-1", vec![option(1, 1000, due), option(2, 500, due)]),
        true,
    )
    .await;
    let read = server.get(&path("U-1")).await;
    assert_eq!(json(&read)["status"], "VALID");
    assert_eq!(read.header("etag"), Some("\"0\""));

    let mut kept = option(1, 1200, due);
    kept["paymentOptionMetadata"] = json!([{"key": "anno", "value": "2026"}]);
    kept["transfer"] = json!([
        {"idTransfer": "1", "amount": 700, "remittanceInformation": "TARI", "category": "9/0101108TS/",
         "iban": "IT60X0542811101000000123456"},
        {"idTransfer": "2", "amount": 500, "remittanceInformation": "TEFA", "category": "9/0101108TS/",
         "iban": "IT60X0542811101000000123456", "organizationFiscalCode": "88888888888"}
    ]);
    let mut body = position("U-1", vec![kept, option(3, 300, due)]);
    body["companyName"] = json!("Comune Nuovo");
    let updated = server.put_json(&path("U-1"), &body).await;
    assert_eq!(updated.status, 200, "{}", text(&updated));
    assert_eq!(updated.header("etag"), Some("\"1\""));
    let updated = json(&updated);
    assert_eq!(updated["status"], "DRAFT", "an update unpublishes");
    assert_eq!(updated["fullName"], "Mario Rossi");
    assert!(updated.get("publishDate").is_none());

    let read = json(&server.get(&path("U-1")).await);
    assert_eq!(read["companyName"], "Comune Nuovo");
    let options = read["paymentOption"].as_array().unwrap();
    let ivs: Vec<&str> = options.iter().map(|o| o["iuv"].as_str().unwrap()).collect();
    assert_eq!(ivs, [iuv(1), iuv(3)], "option 2 was not sent: it is gone");
    assert_eq!(options[0]["amount"], 1200);
    assert_eq!(options[0]["paymentOptionMetadata"][0]["value"], "2026");
    assert_eq!(
        options[0]["transfer"][1]["organizationFiscalCode"],
        "88888888888"
    );
    // The removed option's notice is gone for the Node too.
    let nav2 = format!("3{}", iuv(2));
    let paid = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav2}"),
            &json!({}),
        )
        .await;
    assert_eq!(paid.status, 404);

    let published = server
        .put_json(&format!("{}?toPublish=true", path("U-1")), &body)
        .await;
    assert_eq!(published.status, 200, "{}", text(&published));
    assert_eq!(json(&published)["status"], "VALID");

    let mut other = body.clone();
    other["iupd"] = json!("U-2");
    let mismatch = server.put_json(&path("U-1"), &other).await;
    assert_eq!(mismatch.status, 400);
    assert!(
        detail(&mismatch).starts_with("iupd"),
        "{}",
        detail(&mismatch)
    );
    let mut bad = body.clone();
    bad["paymentOption"][1]["amount"] = json!(299);
    let bad = server.put_json(&path("U-1"), &bad).await;
    assert_eq!(bad.status, 400);
    assert!(detail(&bad).contains("paymentOption[1].amount"));
    assert_eq!(server.put_json(&path("U-2"), &other).await.status, 404);
    // An IUV of another position is a conflict, and changes nothing.
    create(&server, &position("U-3", vec![option(9, 100, due)]), false).await;
    let mut clash = body.clone();
    clash["paymentOption"][1] = option(9, 300, due);
    let clash = server.put_json(&path("U-1"), &clash).await;
    assert_eq!(clash.status, 409, "{}", text(&clash));
    assert_eq!(json(&server.get(&path("U-1")).await)["status"], "VALID");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paid_and_invalid_positions_refuse_changes() {
    let server = TestServer::start().await;
    let due = "2099-12-31T23:59:59";
    create(&server, &position("R-1", vec![option(20, 100, due)]), true).await;
    create(&server, &position("R-2", vec![option(21, 100, due)]), true).await;
    let nav = format!("3{}", iuv(20));
    let paid = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav}"),
            &json!({}),
        )
        .await;
    assert_eq!(paid.status, 200);
    let body = position("R-1", vec![option(20, 200, due)]);
    let r = server.put_json(&path("R-1"), &body).await;
    assert_eq!(r.status, 409);
    assert!(detail(&r).contains("PAID"), "{}", detail(&r));
    let r = server.delete(&path("R-1")).await;
    assert_eq!(r.status, 409);
    assert!(detail(&r).contains("payment"), "{}", detail(&r));
    let r = server
        .post_json(&format!("{}/invalidate", path("R-1")), &json!({}))
        .await;
    assert_eq!(r.status, 409);

    let r = server
        .post_json(&format!("{}/invalidate", path("R-2")), &json!({}))
        .await;
    assert_eq!(json(&r)["status"], "INVALID");
    let body = position("R-2", vec![option(21, 200, due)]);
    let r = server.put_json(&path("R-2"), &body).await;
    assert_eq!(r.status, 409);
    assert!(detail(&r).contains("INVALID"));
    let r = server
        .post_json(&format!("{}/invalidate", path("R-2")), &json!({}))
        .await;
    assert_eq!(r.status, 409, "INVALID is final");
    // An invalid position can be deleted, which frees its IUPD and IUV.
    let r = server.delete(&path("R-2")).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(
        json(&r),
        json!("The debt position was successfully deleted")
    );
    assert_eq!(server.get(&path("R-2")).await.status, 404);
    assert_eq!(server.delete(&path("R-2")).await.status, 404);
    create(&server, &body, false).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_notice_is_unknown_to_the_node() {
    let server = TestServer::start().await;
    let due = "2099-12-31T23:59:59";
    create(&server, &position("X-1", vec![option(30, 100, due)]), true).await;
    assert_eq!(server.delete(&path("X-1")).await.status, 200);
    let nav = format!("3{}", iuv(30));
    let verify = format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:paVerifyPaymentNoticeReq xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>{ORG}</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{ORG}</fiscalCode><noticeNumber>{nav}</noticeNumber></qrCode></ns2:paVerifyPaymentNoticeReq></S:Body></S:Envelope>"#
    );
    let r = server.soap(Some("paVerifyPaymentNotice"), &verify).await;
    assert!(
        text(&r).contains("PAA_PAGAMENTO_SCONOSCIUTO"),
        "{}",
        text(&r)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn if_match_prevents_lost_updates() {
    let server = TestServer::start().await;
    let due = "2099-12-31T23:59:59";
    create(&server, &position("C-1", vec![option(40, 100, due)]), false).await;
    let tag = server
        .get(&path("C-1"))
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let first = position("C-1", vec![option(40, 111, due)]);
    let second = position("C-1", vec![option(40, 222, due)]);
    let p = path("C-1");
    let (a, b) = tokio::join!(
        put_if(&server, &p, &tag, &first),
        put_if(&server, &p, &tag, &second)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "{} / {}", text(&a), text(&b));
    let (won, lost) = if a.status == 200 { (a, b) } else { (b, a) };
    assert_eq!(
        lost.header("content-type"),
        Some("application/problem+json")
    );
    assert!(detail(&lost).contains("If-Match"), "{}", detail(&lost));
    assert_eq!(lost.header("etag"), won.header("etag"));
    let amount = json(&won)["paymentOption"][0]["amount"].clone();
    assert_eq!(
        json(&server.get(&path("C-1")).await)["paymentOption"][0]["amount"],
        amount,
        "the refused update changed nothing"
    );

    // The stale tag is refused by every write; the current one and * are accepted.
    let stale = server
        .request("DELETE", &p, &[("If-Match", &tag)], b"")
        .await;
    assert_eq!(stale.status, 412);
    let publish = format!("{p}/publish");
    let stale = server
        .request("POST", &publish, &[("If-Match", &tag)], b"")
        .await;
    assert_eq!(stale.status, 412);
    let current = won.header("etag").unwrap().to_owned();
    let published = server
        .request("POST", &publish, &[("If-Match", &current)], b"")
        .await;
    assert_eq!(published.status, 200, "{}", text(&published));
    let invalidate = format!("{p}/invalidate");
    let stale = server
        .request("POST", &invalidate, &[("If-Match", &current)], b"")
        .await;
    assert_eq!(stale.status, 412);
    let any = server
        .request("POST", &invalidate, &[("If-Match", "*")], b"")
        .await;
    assert_eq!(any.status, 200);
    let malformed = put_if(&server, &p, "3", &first).await;
    assert_eq!(malformed.status, 400);
    assert!(detail(&malformed).starts_with("If-Match"));
    let weak = server
        .request("DELETE", &p, &[("If-Match", "W/\"3\"")], b"")
        .await;
    assert_eq!(weak.status, 412, "a weak tag never matches");
    let tag = server.get(&p).await.header("etag").unwrap().to_owned();
    let deleted = server
        .request("DELETE", &p, &[("If-Match", &tag)], b"")
        .await;
    assert_eq!(deleted.status, 200);
    server.stop().await;
}

async fn list(server: &TestServer, query: &str) -> Value {
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions{query}"))
        .await;
    assert_eq!(r.status, 200, "{query}: {}", text(&r));
    json(&r)
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_orders_and_pages() {
    let server = TestServer::start().await;
    for n in 1..=12u64 {
        let due = format!("2099-07-{n:02}T12:00:00");
        let mut body = position(&format!("L-{n:02}"), vec![option(100 + n, 100, &due)]);
        if n % 3 == 0 {
            body["companyName"] = json!(format!("A{n:02}"));
        }
        create(&server, &body, n % 2 == 0).await;
    }
    create(
        &server,
        &position("L-PAID", vec![option(200, 100, "2099-08-01T00:00:00")]),
        true,
    )
    .await;
    let nav = format!("3{}", iuv(200));
    let paid = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav}"),
            &json!({"paymentDate": "2025-05-05T10:00:00"}),
        )
        .await;
    assert_eq!(paid.status, 200);
    let other = json!({
        "iupd": "L-01", "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
        "companyName": "Provincia", "switchToExpired": false,
        "paymentOption": [{
            "iuv": gpd_gateway::domain::Iuv::from_parts(gpd_gateway::domain::SegregationCode::parse("47").unwrap(), 1).unwrap().to_string(),
            "amount": 100, "description": "x", "isPartialPayment": false, "dueDate": "2099-07-01T12:00:00",
            "transfer": [{"idTransfer": "1", "amount": 100, "remittanceInformation": "x",
                          "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]}]
    });
    let r = server
        .post_json("/organizations/88888888888/debtpositions", &other)
        .await;
    assert_eq!(r.status, 201);

    let iupds = |v: &Value| -> Vec<String> {
        v["payment_position_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["iupd"].as_str().unwrap().to_owned())
            .collect()
    };

    let first = list(&server, "").await;
    assert_eq!(first["page_info"]["limit"], 10);
    assert_eq!(first["page_info"]["items_found"], 13);
    assert_eq!(first["page_info"]["total_pages"], 2);
    assert_eq!(iupds(&first)[0], "L-PAID", "newest first");
    assert!(
        first["payment_position_list"][0].get("fullName").is_none(),
        "lists do not return the debtor's identity"
    );

    let by_iupd = list(&server, "?orderby=IUPD&ordering=ASC&limit=5&page=1").await;
    assert_eq!(iupds(&by_iupd), ["L-06", "L-07", "L-08", "L-09", "L-10"]);
    assert_eq!(by_iupd["page_info"]["page"], 1);
    let by_company = list(&server, "?orderby=COMPANY_NAME&ordering=ASC&limit=4").await;
    assert_eq!(iupds(&by_company), ["L-03", "L-06", "L-09", "L-12"]);

    let valid = list(&server, "?status=VALID&orderby=IUPD&ordering=ASC&limit=50").await;
    assert_eq!(
        iupds(&valid),
        ["L-02", "L-04", "L-06", "L-08", "L-10", "L-12"]
    );
    assert!(
        valid["payment_position_list"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "VALID")
    );
    assert_eq!(
        list(&server, "?status=DRAFT").await["page_info"]["items_found"],
        6
    );
    assert_eq!(iupds(&list(&server, "?status=PAID").await), ["L-PAID"]);

    let due = list(
        &server,
        "?due_date_from=2099-07-03&due_date_to=2099-07-05&orderby=IUPD&ordering=ASC",
    )
    .await;
    assert_eq!(iupds(&due), ["L-03", "L-04", "L-05"]);
    let paid_on = list(
        &server,
        "?payment_date_from=2025-05-05&payment_date_to=2025-05-05",
    )
    .await;
    assert_eq!(iupds(&paid_on), ["L-PAID"]);
    let paid_at = list(
        &server,
        "?payment_date_time_from=2025-05-05T09:00:00&payment_date_time_to=2025-05-05T09:59:59",
    )
    .await;
    assert!(iupds(&paid_at).is_empty());

    for (query, parameter) in [
        ("?status=UNKNOWN", "status"),
        ("?limit=51", "limit"),
        ("?orderby=AMOUNT", "orderby"),
        ("?ordering=SIDEWAYS", "ordering"),
        (
            "?due_date_from=2099-07-01&due_date_to=2099-09-01",
            "due_date_to",
        ),
        (
            "?due_date_from=2099-07-01&payment_date_from=2025-05-05",
            "payment_date",
        ),
        ("?due_date_from=01/07/2099", "due_date_from"),
        ("?color=red", "color"),
    ] {
        let r = server
            .get(&format!("/organizations/{ORG}/debtpositions{query}"))
            .await;
        assert_eq!(r.status, 400, "{query}");
        assert!(detail(&r).contains(parameter), "{query}: {}", detail(&r));
    }
    assert_eq!(
        server
            .get("/organizations/12345678901/debtpositions")
            .await
            .status,
        404
    );
    server.stop().await;
}

/// Waits until the stored (not computed) status of `iupd` is `status`.
async fn stored_status(server: &TestServer, iupd: &str, status: PositionStatus) -> bool {
    let org = gpd_gateway::domain::FiscalCodePA::parse(ORG).unwrap();
    let key = PositionKey::Iupd(gpd_gateway::domain::position::Iupd::parse(iupd).unwrap());
    for _ in 0..100 {
        let p = server
            .ctx
            .store
            .get_position(org.clone(), key.clone())
            .await
            .unwrap()
            .unwrap();
        if p.status == status {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn time_moves_statuses_for_reads_lists_and_the_store() {
    let server = TestServer::start().await;
    let now = chrono::Utc::now().naive_utc();
    let at = |days: i64| {
        (now + chrono::Duration::days(days))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    let mut later = position("T-1", vec![option(50, 100, &at(10))]);
    later["validityDate"] = json!(at(1));
    create(&server, &later, true).await;
    let mut expiring = position("T-2", vec![option(51, 100, &at(2))]);
    expiring["switchToExpired"] = json!(true);
    create(&server, &expiring, true).await;
    assert_eq!(json(&server.get(&path("T-1")).await)["status"], "PUBLISHED");
    assert_eq!(json(&server.get(&path("T-2")).await)["status"], "VALID");
    let tags = [
        server
            .get(&path("T-1"))
            .await
            .header("etag")
            .unwrap()
            .to_owned(),
        server
            .get(&path("T-2"))
            .await
            .header("etag")
            .unwrap()
            .to_owned(),
    ];

    // Five days later: the same store, a clock five days ahead.
    let dir = server.stop_and_keep_data().await;
    let clock = gpd_gateway::clock::Clock::shifted(chrono::Duration::days(5));
    let server = TestServer::start_on(dir, gpd_gateway::config::Config::example(), clock).await;
    let t1 = server.get(&path("T-1")).await;
    assert_eq!(json(&t1)["status"], "VALID");
    let t2 = server.get(&path("T-2")).await;
    assert_eq!(json(&t2)["status"], "EXPIRED");
    assert_eq!(
        iupds_of(&list(&server, "?status=EXPIRED").await),
        ["T-2"],
        "lists agree with reads"
    );
    assert_eq!(iupds_of(&list(&server, "?status=VALID").await), ["T-1"]);
    let nav = format!("3{}", iuv(51));
    let verify = format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:paVerifyPaymentNoticeReq xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>{ORG}</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{ORG}</fiscalCode><noticeNumber>{nav}</noticeNumber></qrCode></ns2:paVerifyPaymentNoticeReq></S:Body></S:Envelope>"#
    );
    let answer = text(&server.soap(Some("paVerifyPaymentNotice"), &verify).await);
    assert!(answer.contains("PAA_PAGAMENTO_SCADUTO"), "{answer}");

    // The sweeper stores what reads show, without a new version.
    assert!(stored_status(&server, "T-1", PositionStatus::Valid).await);
    assert!(stored_status(&server, "T-2", PositionStatus::Expired).await);
    assert_eq!(t1.header("etag"), Some(tags[0].as_str()));
    assert_eq!(
        server.get(&path("T-2")).await.header("etag"),
        Some(tags[1].as_str())
    );
    // An expired position can be updated, and published again.
    let mut renewed = position("T-2", vec![option(51, 100, &at(30))]);
    renewed["switchToExpired"] = json!(true);
    let r = put_if(
        &server,
        &format!("{}?toPublish=true", path("T-2")),
        &tags[1],
        &renewed,
    )
    .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["status"], "VALID");
    server.stop().await;
}

fn iupds_of(v: &Value) -> Vec<String> {
    v["payment_position_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["iupd"].as_str().unwrap().to_owned())
        .collect()
}
