//! Receipt recovery end to end: a fake of the platform's receipts service (checked against
//! `biz_events.json`) holds receipts the Node never delivered; `POST …/receipts/recover` stores
//! one, applies it and forwards it to a broadcast station, and the Node's later copy is a
//! repeat. The service's failures come back as clear statuses. Receipts sent to a station of
//! ours not bound to the creditor are kept, applied, marked and answered OK.

mod harness;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::FiscalCodePA;
use gpd_gateway::domain::platform::PlatformAccess;
use harness::bizevents;
use harness::platform_stub::PlatformStub;
use harness::receipts::{ReceiptRequest, iuv};
use harness::stub_station::{Behaviour, StubStation};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";

/// The receipt the platform keeps of [`ReceiptRequest::v2`]`(iur, iuv, cents)`.
fn platform_receipt(iur: &str, iuv: &str, cents: i64) -> Value {
    bizevents::platform_receipt(ORG, iur, iuv, cents)
}

/// The example configuration, with the creditor's access to the fake receipts service.
fn config(service: &PlatformStub) -> Config {
    let mut config = harness::loopback_stations(Config::example());
    let creditor = config
        .creditors
        .get_mut(&FiscalCodePA::parse(ORG).unwrap())
        .unwrap();
    creditor.platform.bizevents = Some(PlatformAccess::new(&service.url(), "biz-key").unwrap());
    config
}

fn position(iupd: &str, iuv: &str, cents: i64) -> Value {
    json!({"iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
           "companyName": "Comune di Esempio", "switchToExpired": false,
           "paymentOption": [{"iuv": iuv, "amount": cents, "description": "TARI 2025", "isPartialPayment": false,
               "dueDate": "2099-12-31T23:59:59",
               "transfer": [{"idTransfer": "1", "amount": cents, "remittanceInformation": "TARI",
                             "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]}]})
}

async fn recover(server: &TestServer, body: Value) -> (u16, Value) {
    let r = server
        .post_json(&format!("/organizations/{ORG}/receipts/recover"), &body)
        .await;
    (r.status, json(&r))
}

async fn receipts(server: &TestServer) -> Vec<Value> {
    let r = server.get(&format!("/organizations/{ORG}/receipts")).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)["results"].as_array().unwrap().clone()
}

async fn position_status(server: &TestServer, iupd: &str) -> Value {
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/{iupd}"))
        .await;
    json(&r)["status"].clone()
}

#[tokio::test]
async fn a_recovered_receipt_is_applied_and_forwarded_and_the_nodes_copy_is_a_repeat() {
    let held = Arc::new(Mutex::new(BTreeMap::new()));
    let service = bizevents::service(held.clone()).await;
    let server = TestServer::start_with(config(&service), Clock::system()).await;
    let station = StubStation::start(Behaviour::Ok).await;
    server.add_station(ORG, "REC_ST", &station.url()).await;
    let iuv_a = iuv("01", 61_001);
    server
        .create_position(ORG, &position("REC-1", &iuv_a, 1250), true)
        .await;
    held.lock()
        .unwrap()
        .insert("IUR-A".into(), platform_receipt("IUR-A", &iuv_a, 1250));

    let (status, body) = recover(&server, json!({"iur": "IUR-A", "iuv": iuv_a})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["outcome"], "RECOVERED");
    assert_eq!(body["status"], "APPLIED");
    assert_eq!(body["noticeNumber"], format!("3{iuv_a}"));
    assert_eq!(position_status(&server, "REC-1").await, "PAID");
    let calls = service.calls();
    assert_eq!(
        calls.last().unwrap().path,
        format!("/organizations/{ORG}/receipts/IUR-A/paymentoptions/{iuv_a}")
    );
    assert_eq!(
        calls.last().unwrap().header("ocp-apim-subscription-key"),
        Some("biz-key")
    );

    // Forwarded like any receipt, in the paSendRTV2 shape, with the station's ids.
    let got = station.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        got[0].body.contains("<receiptId>IUR-A</receiptId>"),
        "{}",
        got[0].body
    );
    assert!(got[0].body.contains("paSendRTV2Request"));
    assert!(got[0].body.contains("<paymentAmount>12.50</paymentAmount>"));
    let listed = receipts(&server).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["origin"], "PLATFORM");
    assert_eq!(listed[0]["status"], "APPLIED");
    assert_eq!(listed[0]["paymentDateTime"], "2025-06-01T10:15:30");

    // The Node's copy, arriving late with the fields the platform does not keep, is a repeat.
    let node = ReceiptRequest::v2("IUR-A", &iuv_a, 1250);
    let r = server.soap(Some(node.action()), &node.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    assert_eq!(receipts(&server).await.len(), 1);
    // Asked again: already stored, nothing changes, nothing more delivered.
    let (status, body) = recover(
        &server,
        json!({"iur": "IUR-A", "noticeNumber": format!("3{iuv_a}")}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "ALREADY_STORED");
    assert_eq!(station.received().len(), 1);

    // A platform copy recording another payment than the stored receipt: kept as CONFLICT.
    let iuv_b = iuv("01", 61_002);
    server
        .create_position(ORG, &position("REC-2", &iuv_b, 900), true)
        .await;
    let node = ReceiptRequest::v2("IUR-B", &iuv_b, 900);
    let r = server.soap(Some(node.action()), &node.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    held.lock()
        .unwrap()
        .insert("IUR-B".into(), platform_receipt("IUR-B", &iuv_b, 800));
    let (status, body) = recover(&server, json!({"iur": "IUR-B"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["outcome"], "CONFLICT");
    assert_eq!(position_status(&server, "REC-2").await, "PAID");
    server.stop().await;
    station.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn by_iur_alone_a_receipt_already_stored_is_found_and_the_services_failures_are_told() {
    let held = Arc::new(Mutex::new(BTreeMap::new()));
    let service = bizevents::service(held.clone()).await;
    let server = TestServer::start_with(config(&service), Clock::system()).await;
    let iuv_c = iuv("01", 61_003);
    server
        .create_position(ORG, &position("REC-3", &iuv_c, 700), true)
        .await;
    let node = ReceiptRequest::v2("IUR-C", &iuv_c, 700);
    let r = server.soap(Some(node.action()), &node.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    held.lock()
        .unwrap()
        .insert("IUR-C".into(), platform_receipt("IUR-C", &iuv_c, 700));
    let (status, body) = recover(&server, json!({"iur": "IUR-C"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "ALREADY_STORED");
    assert_eq!(
        service.calls().last().unwrap().path,
        format!("/organizations/{ORG}/receipts/IUR-C")
    );
    let listed = receipts(&server).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["origin"], "NODE");

    // Not at the platform; its failure; its refusal; too slow.
    let (status, body) = recover(&server, json!({"iur": "IUR-NONE"})).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("no such receipt"));
    let (status, body) = recover(&server, json!({"iur": "broken"})).await;
    assert_eq!(status, 504, "{body}");
    let (status, body) = recover(&server, json!({"iur": "refused"})).await;
    assert_eq!(status, 502, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("422"), "{body}");
    let started = std::time::Instant::now();
    let (status, body) = recover(&server, json!({"iur": "slow"})).await;
    assert_eq!(status, 504, "{body}");
    assert!(started.elapsed() < Duration::from_secs(7));
    // A request the gateway refuses before asking anyone.
    let (status, _) = recover(
        &server,
        json!({"iur": "x", "iuv": "1", "noticeNumber": "3"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(receipts(&server).await.len(), 1);
    server.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn a_receipt_to_a_station_no_longer_bound_is_kept_and_ok_while_verify_is_refused() {
    let server = TestServer::start().await;
    let iuv_d = iuv("01", 61_004);
    server
        .create_position(ORG, &position("REC-4", &iuv_d, 500), true)
        .await;
    // 77777777777_02 is one of ours, but the creditor is bound to _01 only.
    let mut moved = ReceiptRequest::v2("IUR-D", &iuv_d, 500);
    moved.id_station = "77777777777_02".into();
    let r = server.soap(Some(moved.action()), &moved.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    assert_eq!(position_status(&server, "REC-4").await, "PAID");
    let listed = receipts(&server).await;
    assert_eq!(listed[0]["stationNotBound"], "77777777777_02");
    assert_eq!(listed[0]["status"], "APPLIED");
    let metrics = text(&server.get("/metrics").await);
    assert!(
        metrics.contains("gpd_gateway_receipts_station_not_bound_total 1"),
        "{metrics}"
    );

    let verify = harness::soap::verify_request(&format!("3{iuv_d}"))
        .replace("77777777777_01", "77777777777_02");
    let r = server.soap(Some("paVerifyPaymentNotice"), &verify).await;
    assert!(text(&r).contains("PAA_ID_DOMINIO_ERRATO"), "{}", text(&r));
    // A station that is not ours at all is still refused.
    let mut foreign = ReceiptRequest::v2("IUR-E", &iuv_d, 500);
    foreign.id_station = "77777777777_09".into();
    let r = server.soap(Some(foreign.action()), &foreign.xml()).await;
    assert!(text(&r).contains("PAA_STAZIONE_INT_ERRATA"), "{}", text(&r));
    assert_eq!(receipts(&server).await.len(), 1);
    server.stop().await;
}

/// `gpd-gateway receipts recover --org … --iur … [--iuv …]`, run as a separate process on the
/// stopped gateway's store.
fn run_recover(store: &[String], config: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(harness::binary::BIN)
        .args(["receipts", "recover", "--org", ORG])
        .args(args)
        .args(store)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_recovers_into_the_store_and_says_what_it_did() {
    let held = Arc::new(Mutex::new(BTreeMap::new()));
    let service = bizevents::service(held.clone()).await;
    let config = config(&service);
    let server = TestServer::start_with(config.clone(), Clock::system()).await;
    let iuv_f = iuv("01", 61_006);
    server
        .create_position(ORG, &position("REC-6", &iuv_f, 300), true)
        .await;
    held.lock()
        .unwrap()
        .insert("IUR-F".into(), platform_receipt("IUR-F", &iuv_f, 300));
    let data = server.stop_and_keep_data().await;
    let store = harness::store::args(data.path()).await;
    let file = data.path().join("gateway.toml");
    let second = "\n[[creditor]]\nfiscal_code = \"88888888888\"";
    let toml = gpd_gateway::config::EXAMPLE_TOML.replacen(
        second,
        &format!(
            "\n[creditor.bizevents]\nendpoint = \"{}\"\nsubscription_key = \"biz-key\"\n{second}",
            service.url()
        ),
        1,
    );
    std::fs::write(&file, toml).unwrap();

    let (ok, out) = tokio::task::spawn_blocking({
        let (store, file, iuv_f) = (store.clone(), file.clone(), iuv_f.clone());
        move || run_recover(&store, &file, &["--iur", "IUR-F", "--iuv", &iuv_f])
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("RECOVERED receipt IUR-F"), "{out}");
    assert!(out.contains("status APPLIED"), "{out}");
    let (ok, out) = tokio::task::spawn_blocking({
        let (store, file) = (store.clone(), file.clone());
        move || run_recover(&store, &file, &["--iur", "IUR-F"])
    })
    .await
    .unwrap();
    assert!(ok && out.contains("ALREADY_STORED"), "{out}");
    let (ok, out) = tokio::task::spawn_blocking({
        let (store, file) = (store.clone(), file.clone());
        move || run_recover(&store, &file, &["--iur", "IUR-NONE"])
    })
    .await
    .unwrap();
    assert!(!ok && out.contains("no such receipt"), "{out}");

    let server = TestServer::start_on(data, config, Clock::system()).await;
    assert_eq!(position_status(&server, "REC-6").await, "PAID");
    let listed = receipts(&server).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["origin"], "PLATFORM");
    server.stop().await;
    service.stop().await;
}
