//! Broadcast end to end: creditors register stations over REST, receipts posted to /partner are
//! forwarded to real stub stations on loopback (answering OK, KO, 500, garbage, late or never),
//! and the outbox is inspected and re-queued over REST. The Node's answer never depends on them.

mod common;
mod harness;

use std::time::{Duration, Instant};

use gpd_gateway::client::Response;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::broadcast::RetryPolicy;
use harness::receipts::{ReceiptRequest, iuv, to};
use harness::stub_station::{Behaviour, StubStation};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";

/// Fast retries so that tests see them: 100 ms, doubling, 3 attempts, worker every 50 ms.
fn fast_config() -> Config {
    let mut config = harness::loopback_stations(Config::example());
    config.broadcast.retry = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
    };
    config.broadcast.poll_interval = Duration::from_millis(50);
    config
}

async fn put_station(server: &TestServer, org: &str, id: &str, body: Value) -> Response {
    server
        .request(
            "PUT",
            &format!("/organizations/{org}/broadcast-stations/{id}"),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
}

async fn register(
    server: &TestServer,
    org: &str,
    id: &str,
    station: &StubStation,
    version: u8,
    timeout_ms: u64,
) {
    let r = put_station(
        server,
        org,
        id,
        json!({"brokerId": "99999999999", "url": station.url(), "primitiveVersion": version, "timeoutMs": timeout_ms}),
    )
    .await;
    assert!(r.status == 201 || r.status == 200, "{}", text(&r));
}

async fn send_ok(server: &TestServer, receipt: &ReceiptRequest) {
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert_eq!(r.status, 200);
    common::validate_envelope(&r.body).unwrap();
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
}

async fn deliveries(server: &TestServer, org: &str, query: &str) -> Vec<Value> {
    let r = server
        .get(&format!("/organizations/{org}/deliveries?{query}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)["results"].as_array().unwrap().clone()
}

/// Polls the deliveries of `org` until every one is in `state` (and there are `n`).
async fn wait_for_state(server: &TestServer, org: &str, n: usize, state: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = deliveries(server, org, "").await;
        if all.len() == n && all.iter().all(|d| d["state"] == state) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries never all {state}: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn shared_receipt(id: &str, base: u64) -> ReceiptRequest {
    let mut r = ReceiptRequest::v2(id, &iuv("01", base), 0);
    r.transfers = vec![to(ORG, 700), to(OTHER, 300)];
    r
}

fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    &xml[start..end]
}

#[tokio::test]
async fn v1_and_v2_stations_side_by_side_get_their_own_form() {
    let server = TestServer::start_with(fast_config(), Clock::system()).await;
    let v1 = StubStation::start(Behaviour::Ok).await;
    let v2 = StubStation::start(Behaviour::Ok).await;
    register(&server, OTHER, "OTHER_V1", &v1, 1, 1000).await;
    register(&server, OTHER, "OTHER_V2", &v2, 2, 1000).await;

    let receipt = shared_receipt("bc-1", 10_001);
    send_ok(&server, &receipt).await;
    // Delivered at once, beside the Node's answer.
    v1.wait_for(1, Duration::from_secs(5)).await;
    v2.wait_for(1, Duration::from_secs(5)).await;
    let (a, b) = (v1.received(), v2.received());
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!(
        a[0].soap_action.as_deref().map(|s| s.trim_matches('"')),
        Some("paSendRT")
    );
    assert!(a[0].body.contains("paSendRTReq"));
    assert!(
        !a[0].body.contains("paymentNote"),
        "V1 drops V2-only fields"
    );
    assert!(b[0].body.contains("paSendRTV2Request"));
    assert!(b[0].body.contains("<paymentNote>nota</paymentNote>"));
    for got in [&a[0], &b[0]] {
        common::validate_envelope(got.body.as_bytes()).unwrap();
        // The recipient's own ids, the receipt unchanged.
        assert_eq!(element(&got.body, "idPA"), OTHER);
        assert_eq!(element(&got.body, "idBrokerPA"), "99999999999");
        assert_eq!(element(&got.body, "receiptId"), "bc-1");
        assert_eq!(element(&got.body, "fiscalCode"), ORG);
        assert_eq!(element(&got.body, "paymentDateTime"), "2025-06-01T10:15:30");
    }
    assert_eq!(element(&a[0].body, "idStation"), "OTHER_V1");
    assert_eq!(element(&b[0].body, "idStation"), "OTHER_V2");
    let done = wait_for_state(&server, OTHER, 2, "DELIVERED").await;
    assert!(
        done.iter()
            .all(|d| d["attempts"] == 1 && d["receiptId"] == "bc-1")
    );
    // The notice's creditor has no station: nothing for it, and the Node's retry sends nothing.
    assert!(deliveries(&server, ORG, "").await.is_empty());
    send_ok(&server, &receipt).await;
    assert_eq!((v1.received().len(), v2.received().len()), (1, 1));
    server.stop().await;
}

#[tokio::test]
async fn a_stamp_receipt_is_undeliverable_to_a_v1_station() {
    let server = TestServer::start_with(fast_config(), Clock::system()).await;
    let v1 = StubStation::start(Behaviour::Ok).await;
    let v2 = StubStation::start(Behaviour::Ok).await;
    register(&server, OTHER, "OTHER_V1", &v1, 1, 1000).await;
    register(&server, OTHER, "OTHER_V2", &v2, 2, 1000).await;
    let mut receipt = shared_receipt("mbd-1", 10_002);
    receipt.transfers[1].stamp = true;
    send_ok(&server, &receipt).await;
    v2.wait_for(1, Duration::from_secs(5)).await;
    assert!(v1.received().is_empty());
    assert!(v2.received()[0].body.contains("<MBDAttachment>"));
    let undeliverable = deliveries(&server, OTHER, "state=UNDELIVERABLE").await;
    assert_eq!(undeliverable.len(), 1);
    assert_eq!(undeliverable[0]["stationId"], "OTHER_V1");
    assert!(
        undeliverable[0]["lastError"]
            .as_str()
            .unwrap()
            .contains("MBDAttachment")
    );
    let r = server
        .request(
            "POST",
            &format!(
                "/organizations/{OTHER}/deliveries/{}/redeliver",
                undeliverable[0]["id"]
            ),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    server.stop().await;
}

#[tokio::test]
async fn failing_stations_never_change_the_answer_and_are_classified() {
    let mut config = fast_config();
    // No retries here: each failure is seen as is.
    config.broadcast.retry.base = Duration::from_secs(3600);
    config.broadcast.retry.max_delay = Duration::from_secs(3600);
    let server = TestServer::start_with(config, Clock::system()).await;
    let stations = [
        ("KO", StubStation::start(Behaviour::Ko).await),
        ("E500", StubStation::start(Behaviour::Status500).await),
        ("GARBAGE", StubStation::start(Behaviour::Garbage).await),
        (
            "SLOW",
            StubStation::start(Behaviour::Slow(Duration::from_millis(600))).await,
        ),
        ("SILENT", StubStation::start(Behaviour::Silent).await),
        ("FINE", StubStation::start(Behaviour::Ok).await),
    ];
    for (id, s) in &stations {
        register(&server, OTHER, id, s, 2, 300).await;
    }
    send_ok(&server, &shared_receipt("f-1", 10_003)).await;
    for (_, s) in &stations {
        s.wait_for(1, Duration::from_secs(5)).await;
    }
    let by_station =
        |all: &[Value], id: &str| all.iter().find(|d| d["stationId"] == id).unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(5);
    let all = loop {
        let all = deliveries(&server, OTHER, "").await;
        if all.iter().all(|d| d["attempts"] == 1) || Instant::now() > deadline {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ko = by_station(&all, "KO");
    assert_eq!(
        (ko["state"].as_str(), ko["faultCode"].as_str()),
        (Some("REJECTED"), Some("PAA_SYSTEM_ERROR"))
    );
    assert_eq!(by_station(&all, "FINE")["state"], "DELIVERED");
    for (id, reason) in [
        ("E500", "500"),
        ("GARBAGE", "invalid"),
        ("SLOW", "timed out"),
        ("SILENT", "timed out"),
    ] {
        let d = by_station(&all, id);
        assert_eq!(d["state"], "PENDING", "{id}");
        assert_eq!(d["attempts"], 1, "{id}");
        let error = d["lastError"].as_str().unwrap();
        assert!(error.contains(reason), "{id}: {error}");
        assert!(d["nextAttemptAt"].is_string());
    }
    let pending = deliveries(&server, OTHER, "state=PENDING").await;
    assert_eq!(pending.len(), 4);
    server.stop().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_until_delivered_or_given_up() {
    let server = TestServer::start_with(fast_config(), Clock::system()).await;
    let flaky = StubStation::start(Behaviour::Status500).await;
    let dead = StubStation::start(Behaviour::Status500).await;
    register(&server, OTHER, "FLAKY", &flaky, 2, 500).await;
    register(&server, OTHER, "DEAD", &dead, 2, 500).await;
    send_ok(&server, &shared_receipt("r-1", 10_004)).await;
    flaky.wait_for(1, Duration::from_secs(10)).await;
    flaky.set_behaviour(Behaviour::Ok);
    flaky.wait_for(2, Duration::from_secs(10)).await;
    // 3 attempts at most: the first, then after 100 ms and 200 ms.
    dead.wait_for(3, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = deliveries(&server, OTHER, "").await;
        let state = |id: &str| all.iter().find(|d| d["stationId"] == id).unwrap()["state"].clone();
        if state("FLAKY") == "DELIVERED" && state("DEAD") == "FAILED" {
            let dead_row = all.iter().find(|d| d["stationId"] == "DEAD").unwrap();
            assert_eq!(dead_row["attempts"], 3);
            assert!(dead_row["nextAttemptAt"].is_null());
            break;
        }
        assert!(Instant::now() < deadline, "{all:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dead.received().len(), 3, "no attempt after giving up");

    // An operator asks again once the station is back.
    dead.set_behaviour(Behaviour::Ok);
    let failed = deliveries(&server, OTHER, "state=FAILED").await;
    let r = server
        .request(
            "POST",
            &format!(
                "/organizations/{OTHER}/deliveries/{}/redeliver",
                failed[0]["id"]
            ),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["state"], "PENDING");
    wait_for_state(&server, OTHER, 2, "DELIVERED").await;
    // Another creditor cannot see or re-queue them.
    assert!(deliveries(&server, ORG, "").await.is_empty());
    let r = server
        .request(
            "POST",
            &format!(
                "/organizations/{ORG}/deliveries/{}/redeliver",
                failed[0]["id"]
            ),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 404);
    server.stop().await;
}

/// A gateway that allows ten attempts, with a V2 station `id` of OTHER answering 500 for now.
async fn with_a_failing_station(id: &str) -> (Config, TestServer, StubStation) {
    let mut config = fast_config();
    config.broadcast.retry.max_attempts = 10;
    let server = TestServer::start_with(config.clone(), Clock::system()).await;
    let station = StubStation::start(Behaviour::Status500).await;
    register(&server, OTHER, id, &station, 2, 500).await;
    (config, server, station)
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart() {
    let (config, server, station) = with_a_failing_station("LATER").await;
    send_ok(&server, &shared_receipt("restart-1", 10_005)).await;
    send_ok(&server, &shared_receipt("restart-2", 10_006)).await;
    assert_eq!(deliveries(&server, OTHER, "state=PENDING").await.len(), 2);
    let data = server.stop_and_keep_data().await;

    station.set_behaviour(Behaviour::Ok);
    let before = station.received().len();
    let server = TestServer::start_on(data, config, Clock::system()).await;
    let done = wait_for_state(&server, OTHER, 2, "DELIVERED").await;
    // The second may not have been attempted before the restart: its station was down.
    assert!(done.iter().all(|d| d["attempts"].as_u64().unwrap() >= 1));
    assert!(done.iter().any(|d| d["attempts"].as_u64().unwrap() >= 2));
    let ids: Vec<String> = station.received()[before..]
        .iter()
        .map(|r| element(&r.body, "receiptId").to_owned())
        .collect();
    assert!(
        ids.contains(&"restart-1".to_owned()) && ids.contains(&"restart-2".to_owned()),
        "{ids:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn deliveries_stored_before_their_requests_are_sent_after_the_upgrade() {
    if harness::store::sqlite_only("an upgrade of a SQLite file from schema version 10") {
        return;
    }
    let (config, server, station) = with_a_failing_station("OLD").await;
    send_ok(&server, &shared_receipt("upgrade-1", 10_007)).await;
    station.wait_for(1, Duration::from_secs(10)).await;
    let data = server.stop_and_keep_data().await;
    {
        // As a data file of schema version 10 leaves it: deliveries without requests, and
        // nothing of the later migrations.
        let file = data
            .path()
            .join(gpd_gateway::store::sqlite::SqliteStore::FILE_NAME);
        let conn = rusqlite::Connection::open(file).unwrap();
        conn.execute_batch(
            "DROP TRIGGER notice_view_position_update;
             DROP TRIGGER notice_view_position_delete;
             DROP TRIGGER notice_view_option_insert;
             DROP TRIGGER notice_view_option_update;
             DROP TRIGGER notice_view_option_delete;
             DROP TRIGGER notice_view_transfer_insert;
             DROP TRIGGER notice_view_transfer_update;
             DROP TRIGGER notice_view_transfer_delete;
             DROP TABLE notice_view;
             DROP TABLE notice_view_backfill;
             DROP INDEX debt_position_to_erase;
             DROP INDEX debt_position_by_debtor;
             DROP INDEX receipt_to_erase;
             DROP INDEX payment_option_paid_iuv;
             ALTER TABLE debt_position DROP COLUMN retained_until;
             ALTER TABLE debt_position DROP COLUMN personal_data_erased_at;
             ALTER TABLE receipt DROP COLUMN personal_data_erased_at;
             ALTER TABLE receipt DROP COLUMN origin;
             ALTER TABLE receipt DROP COLUMN unbound_station;
             DROP TABLE delivery_request;
             DROP TABLE delivery_request_backfill;
             ALTER TABLE payment_option DROP COLUMN send_sync;
             DROP TABLE reporting_anomaly;
             DROP TABLE reporting_payment;
             DROP TABLE reporting_flow;
             DROP TRIGGER aca_position_inserted;
             DROP TRIGGER aca_position_updated;
             DROP TRIGGER aca_position_deleted;
             DROP TABLE aca_mirror;
             DROP TABLE aca_creditor;
             DROP TABLE notice_job_item;
             DROP TABLE notice_job;
             PRAGMA user_version = 10;",
        )
        .unwrap();
        // The event journal had no file of its own before schema version 21.
        let journal = gpd_gateway::store::sqlite::SqliteStore::JOURNAL_FILE_NAME;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(data.path().join(format!("{journal}{suffix}")));
        }
    }

    station.set_behaviour(Behaviour::Ok);
    let server = TestServer::start_on(data, config, Clock::system()).await;
    wait_for_state(&server, OTHER, 1, "DELIVERED").await;
    let received = station.received();
    let last = received.last().unwrap();
    assert_eq!(element(&last.body, "receiptId"), "upgrade-1");
    // The request written from the stored document is the one the first attempt sent.
    assert_eq!(last.body, received[0].body);
    server.stop().await;
}

#[tokio::test]
async fn a_retry_sends_the_bytes_of_the_first_attempt() {
    let server = TestServer::start_with(fast_config(), Clock::system()).await;
    let station = StubStation::start(Behaviour::Status500).await;
    register(&server, OTHER, "FLAKY", &station, 1, 500).await;
    send_ok(&server, &shared_receipt("same-bytes", 10_008)).await;
    station.wait_for(1, Duration::from_secs(10)).await;
    station.set_behaviour(Behaviour::Ok);
    wait_for_state(&server, OTHER, 1, "DELIVERED").await;
    let received = station.received();
    assert!(received.len() >= 2);
    assert!(received.iter().all(|r| r.body == received[0].body));
    assert!(received[0].body.contains("paSendRTReq"));
    server.stop().await;
}

#[tokio::test]
async fn the_routing_table_is_managed_over_rest_and_seeded_from_config() {
    let mut config = harness::loopback_stations(Config::example());
    config.broadcast.stations = gpd_gateway::config::Config::parse(
        &format!(
            "{}\n[[broadcast.station]]\norganization = \"{OTHER}\"\nstation_id = \"SEEDED\"\nbroker_id = \"{OTHER}\"\nurl = \"https://ec.example.it/pa\"\n",
            gpd_gateway::config::EXAMPLE_TOML
        ),
        "t",
    )
    .unwrap()
    .broadcast
    .stations;
    let server = TestServer::start_with(config, Clock::system()).await;
    let stations = json(
        &server
            .get(&format!("/organizations/{OTHER}/broadcast-stations"))
            .await,
    );
    assert_eq!(stations[0]["stationId"], "SEEDED");
    assert_eq!(stations[0]["primitiveVersion"], 2);
    assert_eq!(stations[0]["timeoutMs"], 1000);

    let body = json!({"brokerId": OTHER, "url": "http://127.0.0.1:9/ec", "primitiveVersion": 1, "timeoutMs": 2500, "enabled": false});
    assert_eq!(
        put_station(&server, ORG, "MINE", body.clone()).await.status,
        201
    );
    let r = put_station(&server, ORG, "MINE", body).await;
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["enabled"], false);
    let mine = json(
        &server
            .get(&format!("/organizations/{ORG}/broadcast-stations"))
            .await,
    );
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["primitiveVersion"], 1);

    for (bad, field) in [
        (json!({"brokerId": OTHER, "url": "ftp://x"}), "url"),
        (
            json!({"brokerId": OTHER, "url": "http://x", "primitiveVersion": 3}),
            "primitiveVersion",
        ),
        (
            json!({"brokerId": OTHER, "url": "http://x", "timeoutMs": 0}),
            "timeoutMs",
        ),
        (
            json!({"brokerId": OTHER, "url": "http://x", "colour": "red"}),
            "colour",
        ),
        (json!({"url": "http://x"}), "brokerId"),
    ] {
        let r = put_station(&server, ORG, "BAD", bad).await;
        assert_eq!(r.status, 400, "{field}");
        assert!(text(&r).contains(field), "{field}: {}", text(&r));
    }
    assert_eq!(
        put_station(&server, "12345678901", "X", json!({}))
            .await
            .status,
        404
    );

    let delete = async |org: &str, id: &str| {
        let path = format!("/organizations/{org}/broadcast-stations/{id}");
        server.request("DELETE", &path, &[], b"").await.status
    };
    assert_eq!(delete(ORG, "MINE").await, 204);
    assert_eq!(delete(ORG, "MINE").await, 404);
    assert_eq!(
        delete(ORG, "SEEDED").await,
        404,
        "another creditor's station"
    );
    let r = server
        .request(
            "POST",
            &format!("/organizations/{ORG}/broadcast-stations"),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 405);
    server.stop().await;
}

/// `gpd-gateway deliveries …` against the store of a running gateway.
fn cli(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gpd-gateway"))
        .args(args)
        .output()
        .expect("the binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn operators_list_and_requeue_deliveries_from_the_command_line() {
    let server = TestServer::start_with(fast_config(), Clock::system()).await;
    let station = StubStation::start(Behaviour::Ko).await;
    register(&server, OTHER, "REFUSES", &station, 2, 500).await;
    send_ok(&server, &shared_receipt("cli-1", 10_007)).await;
    wait_for_state(&server, OTHER, 1, "REJECTED").await;
    let store = harness::store::args(server.data_dir()).await;
    let store: Vec<&str> = store.iter().map(String::as_str).collect();

    let (ok, listed) = cli(&[&["deliveries", "list", "--state", "REJECTED"], &store[..]].concat());
    assert!(ok, "{listed}");
    assert!(
        listed.contains("cli-1") && listed.contains("88888888888/REFUSES"),
        "{listed}"
    );
    assert!(
        listed
            .trim_end()
            .ends_with("1 of 1 deliveries (page 1 of 1)"),
        "{listed}"
    );
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    station.set_behaviour(Behaviour::Ok);
    let (ok, out) = cli(&[&["deliveries", "redeliver", &id], &store[..]].concat());
    assert!(ok && out.contains("PENDING"), "{out}");
    wait_for_state(&server, OTHER, 1, "DELIVERED").await;
    assert_eq!(station.received().len(), 2);

    let (ok, out) = cli(&[&["deliveries", "redeliver", "999999"], &store[..]].concat());
    assert!(!ok && out.contains("not found"), "{out}");
    let (ok, out) = cli(&[&["deliveries", "list", "--state", "LOST"], &store[..]].concat());
    assert!(!ok && out.contains("state"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn a_black_hole_station_holds_neither_the_node_nor_more_than_its_share() {
    let mut config = fast_config();
    config.broadcast.max_in_flight_per_station = 2;
    let server = TestServer::start_with(config, Clock::system()).await;
    let hole = StubStation::start(Behaviour::Silent).await;
    register(&server, OTHER, "BLACK_HOLE", &hole, 2, 15_000).await;
    for i in 0..6 {
        let started = Instant::now();
        send_ok(&server, &shared_receipt(&format!("bh-{i}"), 10_100 + i)).await;
        // Answered long before the station's 15 s timeout could end.
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    hole.wait_for(2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hole.received().len(),
        2,
        "two attempts open at once, no more"
    );
    let all = deliveries(&server, OTHER, "state=PENDING").await;
    assert_eq!(all.len(), 6, "every delivery kept for the retries");
    server.stop().await;
}

#[tokio::test]
async fn a_failing_station_is_left_to_the_retries_until_it_answers() {
    let mut config = fast_config();
    config.broadcast.retry.max_attempts = 20;
    let server = TestServer::start_with(config, Clock::system()).await;
    let station = StubStation::start(Behaviour::Status500).await;
    register(&server, OTHER, "DOWN", &station, 2, 500).await;
    send_ok(&server, &shared_receipt("down-1", 10_200)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while deliveries(&server, OTHER, "").await[0]["attempts"] == 0 {
        assert!(
            Instant::now() < deadline,
            "the first attempt was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 2..=4 {
        send_ok(&server, &shared_receipt(&format!("down-{i}"), 10_200 + i)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Only the first receipt reached the station (attempt and probes), none of the later ones.
    let ids: Vec<String> = station
        .received()
        .iter()
        .map(|r| element(&r.body, "receiptId").to_owned())
        .collect();
    assert!(ids.iter().all(|id| id == "down-1"), "{ids:?}");
    station.set_behaviour(Behaviour::Ok);
    let done = wait_for_state(&server, OTHER, 4, "DELIVERED").await;
    let later = |d: &&Value| d["receiptId"] != "down-1";
    assert!(done.iter().filter(later).all(|d| d["attempts"] == 1));
    server.stop().await;
}

/// A host name (not `localhost`, which the URL check refuses by itself) that resolves to a
/// loopback address here: this machine's own name.
fn name_of_this_machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn receipts_go_over_https_to_public_addresses_unless_the_operator_allows_a_network() {
    // The default configuration: no network allowed.
    let server = TestServer::start_with(Config::example(), Clock::system()).await;
    let host = name_of_this_machine();
    for (url, reason) in [
        ("http://127.0.0.1:9/pa", "127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest", "is a link-local address"),
        ("https://[::]/pa", "is a unspecified address"),
        ("https://10.1.2.3/pa", "is a private address"),
        ("https://224.0.0.1/pa", "multicast"),
        ("https://localhost/pa", "loopback"),
        ("http://station.example.org/pa", "plain http"),
        (&format!("https://{host}:9/pa"), "resolves to 127.0.0.1"),
    ] {
        let body = json!({"brokerId": OTHER, "url": url});
        let r = put_station(&server, OTHER, "S", body).await;
        assert_eq!(r.status, 400, "{url}");
        assert!(text(&r).contains(reason), "{url}: {}", text(&r));
    }
    // A public name that cannot be resolved now is checked again at every connection.
    let body = json!({"brokerId": OTHER, "url": "https://station.example.org/pa"});
    assert_eq!(put_station(&server, OTHER, "S", body).await.status, 201);
    server.stop().await;

    // A station registered while its network was allowed, then no longer allowed: its
    // deliveries fail at once, with the reason, and are not retried.
    let allowed = fast_config();
    let server = TestServer::start_with(allowed, Clock::system()).await;
    let station = StubStation::start(Behaviour::Ok).await;
    register(&server, OTHER, "INSIDE", &station, 2, 500).await;
    let by_name = station.url().replace("127.0.0.1", &host);
    let body = json!({"brokerId": OTHER, "url": by_name, "timeoutMs": 500});
    assert_eq!(
        put_station(&server, OTHER, "BY_NAME", body).await.status,
        201
    );
    let data = server.stop_and_keep_data().await;
    let mut strict = fast_config();
    strict.broadcast.destinations.allowed_networks.clear();
    let server = TestServer::start_on(data, strict, Clock::system()).await;
    send_ok(&server, &shared_receipt("nowhere-1", 10_300)).await;
    let failed = wait_for_state(&server, OTHER, 2, "FAILED").await;
    for d in &failed {
        assert_eq!(d["attempts"], 1);
        assert!(d["nextAttemptAt"].is_null());
        let error = d["lastError"].as_str().unwrap();
        let reason = match d["stationId"].as_str() {
            Some("INSIDE") => "127.0.0.1 is a loopback address",
            _ => "plain http",
        };
        assert!(error.contains(reason), "{error}");
    }
    assert!(station.received().is_empty());
    server.stop().await;
}
