//! The event journal end to end: a verify, a getPaymentV2 and a paSendRTV2 whose delivery to a
//! stub station fails once then succeeds, REST reads and changes with two keys; then the
//! creditor lists exactly those entries, by each filter and in pages, another creditor's key
//! cannot, no debtor's fiscal code or name is in any entry, and the sweeper prunes them once
//! they are past the retention.

mod harness;

use std::time::{Duration, Instant};

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::FiscalCodePA;
use gpd_gateway::domain::api_key::ApiKeySecret;
use gpd_gateway::domain::broadcast::{DeliveryState, RetryPolicy};
use gpd_gateway::domain::journal::JournalFilter;
use gpd_gateway::store::PageRequest;
use harness::positions::{iuv, position};
use harness::receipts::ReceiptRequest;
use harness::soap::{get_payment_request, verify_request};
use harness::stub_station::{Behaviour, StubStation};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";

/// Retries after 100 ms, the worker every 50 ms, the sweeper every 100 ms.
fn config() -> Config {
    let mut config = harness::loopback_stations(Config::example());
    config.broadcast.retry = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
    };
    config.broadcast.poll_interval = Duration::from_millis(50);
    config.lifecycle.sweep_interval = Duration::from_millis(100);
    config
}

fn key_id(secret: &str) -> String {
    ApiKeySecret::parse(secret).unwrap().id().to_string()
}

/// The creditor's entries as `key` lists them with `query`.
async fn events(server: &TestServer, key: &str, query: &str) -> Value {
    let r = server
        .request_as(
            key,
            "GET",
            &format!("/organizations/{ORG}/events?{query}"),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{query}: {}", text(&r));
    json(&r)
}

fn results(page: &Value) -> &Vec<Value> {
    page["results"].as_array().unwrap()
}

/// `field` of each entry, in order.
fn column<'a>(page: &'a Value, field: &str) -> Vec<&'a Value> {
    results(page).iter().map(|e| &e[field]).collect()
}

async fn wait_until_delivered(server: &TestServer) {
    let org = FiscalCodePA::parse(ORG).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = PageRequest { page: 0, limit: 10 };
        let listed = server
            .ctx
            .store
            .list_deliveries(Some(org.clone()), None, page)
            .await
            .unwrap();
        if listed
            .items
            .iter()
            .any(|d| d.state == DeliveryState::Delivered)
        {
            return;
        }
        assert!(Instant::now() < deadline, "never delivered: {listed:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_creditor_reads_its_journal_and_the_sweeper_prunes_it() {
    let server = TestServer::start_with(config(), Clock::system()).await;
    let (first, second) = (
        server.create_key(&[ORG]).await,
        server.create_key(&[ORG]).await,
    );
    let others = server.create_key(&[OTHER]).await;
    let station = StubStation::start(Behaviour::Status500).await;

    // REST changes and a read, with two keys.
    let put = format!("/organizations/{ORG}/broadcast-stations/JOURNAL_ST");
    let body = json!({"brokerId": "99999999999", "url": station.url(), "primitiveVersion": 2});
    let json_type = [("Content-Type", "application/json")];
    let r = server
        .request_as(&first, "PUT", &put, &json_type, body.to_string().as_bytes())
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let iuv = iuv(1, 4_242);
    let notice = format!("3{iuv}");
    let create = format!("/organizations/{ORG}/debtpositions?toPublish=true");
    let body = position("RSSMRA80A01H501U-TARI", &iuv, 12_000).to_string();
    let r = server
        .request_as(&second, "POST", &create, &json_type, body.as_bytes())
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));

    // The Node: a verify, a getPaymentV2, the receipt.
    let r = server
        .soap(Some("paVerifyPaymentNotice"), &verify_request(&notice))
        .await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    let r = server
        .soap(
            Some("paGetPaymentV2"),
            &get_payment_request(true, &notice, ""),
        )
        .await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    let receipt = ReceiptRequest::v2("journal-r1", &iuv, 12_000);
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    // The station fails the first attempt, takes the second.
    station.wait_for(1, Duration::from_secs(10)).await;
    station.set_behaviour(Behaviour::Ok);
    wait_until_delivered(&server).await;

    let read = format!("/organizations/{ORG}/debtpositions/RSSMRA80A01H501U-TARI");
    let r = server.request_as(&first, "GET", &read, &[], b"").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    server.ctx.journal.flush().await;

    // Exactly those, newest first; primitives in the order they came.
    let all = events(&server, &first, "limit=100").await;
    assert_eq!(all["page_info"]["items_found"], 8, "{all:#}");
    let kinds = |page: &Value, kind: &str| {
        results(page)
            .iter()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let primitives = kinds(&all, "PRIMITIVE");
    let names: Vec<&Value> = primitives.iter().map(|e| &e["primitive"]).collect();
    assert_eq!(
        names,
        ["paSendRTV2", "paGetPaymentV2", "paVerifyPaymentNotice"]
    );
    for e in &primitives {
        assert_eq!(e["organizationFiscalCode"], ORG);
        assert_eq!(e["idBrokerPA"], ORG);
        assert_eq!(e["stationId"], "77777777777_01");
        assert_eq!(e["noticeNumber"], notice.as_str());
        assert_eq!((&e["outcome"], &e["status"]), (&json!("OK"), &json!(200)));
        assert_eq!(e["faultCode"], Value::Null);
        assert!(e["durationUs"].as_u64().unwrap() > 0, "{e}");
    }
    assert_eq!(primitives[0]["receiptId"], "journal-r1");
    assert_eq!(primitives[1]["receiptId"], Value::Null);

    let deliveries = kinds(&all, "DELIVERY");
    assert_eq!(deliveries.len(), 2, "{deliveries:#?}");
    let (second_try, first_try) = (&deliveries[0], &deliveries[1]);
    assert_eq!(
        (
            &first_try["attempt"],
            &first_try["outcome"],
            &first_try["status"],
            &first_try["error"]
        ),
        (
            &json!(1),
            &json!("FAILED"),
            &json!(500),
            &json!("HTTP_STATUS")
        )
    );
    assert_eq!(
        (
            &second_try["attempt"],
            &second_try["outcome"],
            &second_try["status"]
        ),
        (&json!(2), &json!("DELIVERED"), &json!(200))
    );
    for e in &deliveries {
        assert_eq!(e["stationId"], "JOURNAL_ST");
        assert_eq!(e["idBrokerPA"], "99999999999");
        assert_eq!(e["primitive"], "paSendRTV2");
        assert_eq!(e["noticeNumber"], notice.as_str());
        assert_eq!(e["receiptId"], "journal-r1");
    }

    let rest = kinds(&all, "REST");
    let calls: Vec<(&Value, &Value, &Value, &Value)> = rest
        .iter()
        .map(|e| (&e["method"], &e["route"], &e["status"], &e["keyId"]))
        .collect();
    let (a, b) = (json!(key_id(&first)), json!(key_id(&second)));
    assert_eq!(
        calls,
        [
            (
                &json!("GET"),
                &json!("/organizations/{fiscalCode}/debtpositions/{iupd}"),
                &json!(200),
                &a
            ),
            (
                &json!("POST"),
                &json!("/organizations/{fiscalCode}/debtpositions"),
                &json!(201),
                &b
            ),
            (
                &json!("PUT"),
                &json!("/organizations/{fiscalCode}/broadcast-stations/{stationId}"),
                &json!(201),
                &a
            ),
        ]
    );
    assert_eq!(rest[0]["iupdDigest"].as_str().map(str::len), Some(64));
    assert_eq!(rest[2]["stationId"], "JOURNAL_ST");

    // Neither the debtor's fiscal code (in the IUPD too) nor a name, in any entry.
    let listed = all.to_string();
    for personal in ["RSSMRA80A01H501U", "Mario Rossi", "Comune di Esempio"] {
        assert!(!listed.contains(personal), "{personal} in {listed}");
    }

    // Each filter.
    let count = |page: &Value| page["page_info"]["items_found"].as_u64().unwrap();
    let by = |query: String| {
        let server = &server;
        let first = first.clone();
        async move { events(server, &first, &query).await }
    };
    assert_eq!(count(&by("kind=DELIVERY".into()).await), 2);
    assert_eq!(count(&by(format!("noticeNumber={notice}")).await), 5);
    assert_eq!(count(&by("receiptId=journal-r1".into()).await), 3);
    assert_eq!(count(&by("primitive=paSendRTV2".into()).await), 3);
    assert_eq!(count(&by("outcome=FAILED".into()).await), 1);
    let page = by(format!("keyId={}", key_id(&second))).await;
    assert_eq!(column(&page, "method"), [&json!("POST")]);
    let page = by("iupd=RSSMRA80A01H501U-TARI".into()).await;
    assert_eq!(column(&page, "method"), [&json!("GET")]);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    assert_eq!(count(&by(format!("from={tomorrow}")).await), 0);
    assert_eq!(count(&by("to=2000-01-01".into()).await), 0);
    // Pages.
    let page = by("kind=PRIMITIVE&limit=2&page=1".into()).await;
    assert_eq!(
        column(&page, "primitive"),
        [&json!("paVerifyPaymentNotice")]
    );
    assert_eq!(page["page_info"]["total_pages"], 2);
    // Reading the journal is journaled too.
    server.ctx.journal.flush().await;
    let page = by("kind=REST&limit=1".into()).await;
    assert_eq!(
        column(&page, "route"),
        [&json!("/organizations/{fiscalCode}/events")]
    );

    // Bad filters; another creditor's key.
    for bad in [
        "kind=SOAP",
        "noticeNumber=12",
        "from=2026-02-01&to=2026-01-01",
        "who=me",
    ] {
        let path = format!("/organizations/{ORG}/events?{bad}");
        let r = server.request_as(&first, "GET", &path, &[], b"").await;
        assert_eq!(r.status, 400, "{bad}: {}", text(&r));
        assert!(text(&r).contains("detail"), "{}", text(&r));
    }
    let path = format!("/organizations/{ORG}/events");
    let r = server.request_as(&others, "GET", &path, &[], b"").await;
    assert_eq!(r.status, 403, "{}", text(&r));
    let r = server
        .request_as(
            &first,
            "GET",
            &format!("/organizations/{OTHER}/events"),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    station.stop().await;

    // Past the 24 months' retention, the sweeper prunes them all at its first round.
    let data = server.stop_and_keep_data().await;
    let later = Clock::shifted(chrono::Duration::days(25 * 31));
    let server = TestServer::start_on(data, config(), later).await;
    let org = FiscalCodePA::parse(ORG).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kept = server
            .ctx
            .store
            .list_journal(
                org.clone(),
                JournalFilter::default(),
                PageRequest { page: 0, limit: 1 },
            )
            .await
            .unwrap();
        if kept.items_found == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "never pruned: {kept:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_an_envelope_is_journaled_with_what_is_known() {
    let server = TestServer::start().await;
    let r = server.soap(None, "not xml").await;
    assert_eq!(r.status, 400);
    let r = server
        .soap(Some("paVerifyPaymentNotice"), &verify_request("12"))
        .await;
    assert!(text(&r).contains("PAA_SINTASSI_XSD"), "{}", text(&r));
    server.ctx.journal.flush().await;
    let page = events(&server, &server.key, "").await;
    // The first names no creditor: only the second is the creditor's.
    assert_eq!(page["page_info"]["items_found"], 1, "{page:#}");
    let e = &results(&page)[0];
    assert_eq!(
        (
            &e["primitive"],
            &e["outcome"],
            &e["faultCode"],
            &e["noticeNumber"]
        ),
        (
            &json!("paVerifyPaymentNotice"),
            &json!("KO"),
            &json!("PAA_SINTASSI_XSD"),
            &Value::Null
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn a_disabled_journal_records_nothing() {
    let mut config = Config::example();
    config.journal.enabled = false;
    let server = TestServer::start_with(config, Clock::system()).await;
    let notice = format!("3{}", iuv(1, 4_243));
    server
        .soap(Some("paVerifyPaymentNotice"), &verify_request(&notice))
        .await;
    assert_eq!(
        server
            .get(&format!("/organizations/{ORG}/events"))
            .await
            .status,
        200
    );
    server.ctx.journal.flush().await;
    let page = events(&server, &server.key, "").await;
    assert_eq!(page["page_info"]["items_found"], 0, "{page:#}");
    server.stop().await;
}
