//! `GET /metrics` end to end: a scripted flow (verifies OK and KO, a receipt, a REST create and
//! a 404, a station that fails a delivery) moves each metric by exactly what it did, the scrape
//! passes `promtool check metrics`, and scrapes from outside `[metrics] allow` or with metrics
//! off are refused. Counts are compared with a scrape taken before the flow.

mod harness;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use harness::receipts::{ReceiptRequest, to};
use harness::stub_station::{Behaviour, StubStation};
use harness::{TestServer, text};
use serde_json::json;

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";

/// Series and their values, keyed as written: `name{label="value",…}`.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    fn parse(body: &str) -> Scrape {
        let mut series = HashMap::new();
        for line in body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (name, value) = line.rsplit_once(' ').expect("a sample line");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            assert!(series.insert(name.to_owned(), value).is_none(), "{line}");
        }
        Scrape(series)
    }

    fn value(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// The sum over the series of `name` whose labels include each of `labels`.
    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.0
            .iter()
            .filter(|(k, _)| {
                k.split('{').next() == Some(name) && labels.iter().all(|l| k.contains(l))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

async fn scrape(server: &TestServer) -> (String, Scrape) {
    let r = server.get("/metrics").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = text(&r).to_owned();
    let parsed = Scrape::parse(&body);
    (body, parsed)
}

fn promtool_check(body: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn nav(base: u64) -> String {
    format!("3{}", harness::positions::iuv(1, base))
}

fn verify(notice: &str) -> String {
    harness::soap::verify_request(notice)
}

#[tokio::test]
async fn a_scripted_flow_moves_each_metric_by_what_it_did() {
    let mut config = harness::loopback_stations(Config::example());
    // A failed delivery stays PENDING for the whole test.
    config.broadcast.retry.base = Duration::from_secs(3600);
    config.broadcast.retry.max_delay = Duration::from_secs(3600);
    let server = TestServer::start_with(config, Clock::system()).await;
    let station = StubStation::start(Behaviour::Status500).await;
    let (_, before) = scrape(&server).await;

    let r = server
        .request(
            "PUT",
            &format!("/organizations/{OTHER}/broadcast-stations/FAILING"),
            &[("Content-Type", "application/json")],
            json!({"brokerId": "99999999999", "url": station.url(), "primitiveVersion": 2, "timeoutMs": 1000})
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let iuv = harness::positions::iuv(1, 71);
    let position = harness::positions::position("MET-1", &iuv, 1000);
    server.create_position(ORG, &position, true).await;
    let r = server
        .soap(Some("paVerifyPaymentNotice"), &verify(&nav(71)))
        .await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    let r = server
        .soap(Some("paVerifyPaymentNotice"), &verify(&nav(72)))
        .await;
    assert!(
        text(&r).contains("<faultCode>PAA_PAGAMENTO_SCONOSCIUTO</faultCode>"),
        "{}",
        text(&r)
    );
    let mut receipt = ReceiptRequest::v2("met-1", &iuv, 0);
    receipt.transfers = vec![to(ORG, 700), to(OTHER, 300)];
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/MISSING-1"))
        .await;
    assert_eq!(r.status, 404);
    station.wait_for(1, Duration::from_secs(5)).await;

    // The attempt's result is counted once it is recorded, beside the Node's answer.
    let attempts = format!(
        r#"gpd_gateway_delivery_attempts_total{{organization="{OTHER}",station="FAILING",result="failed"}}"#
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let (body, after) = loop {
        let (body, after) = scrape(&server).await;
        if after.value(&attempts) >= 1.0 {
            break (body, after);
        }
        assert!(Instant::now() < deadline, "no failed attempt counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let moved = |series: &str| after.value(series) - before.value(series);

    let soap = |op: &str, outcome: &str, fault: &str| {
        format!(
            r#"gpd_gateway_soap_requests_total{{operation="{op}",outcome="{outcome}",fault_code="{fault}"}}"#
        )
    };
    assert_eq!(moved(&soap("paVerifyPaymentNotice", "OK", "")), 1.0);
    assert_eq!(
        moved(&soap(
            "paVerifyPaymentNotice",
            "KO",
            "PAA_PAGAMENTO_SCONOSCIUTO"
        )),
        1.0
    );
    assert_eq!(moved(&soap("paSendRTV2", "OK", "")), 1.0);
    assert_eq!(
        after.sum("gpd_gateway_soap_requests_total", &[])
            - before.sum("gpd_gateway_soap_requests_total", &[]),
        3.0
    );
    assert_eq!(
        moved(
            r#"gpd_gateway_soap_request_duration_seconds_count{operation="paVerifyPaymentNotice"}"#
        ),
        2.0
    );
    let http = |route: &str, method: &str, status: u16| {
        format!(
            r#"gpd_gateway_http_requests_total{{route="{route}",method="{method}",status="{status}"}}"#
        )
    };
    assert_eq!(
        moved(&http(
            "/organizations/{fiscalCode}/debtpositions",
            "POST",
            201
        )),
        1.0
    );
    assert_eq!(
        moved(&http(
            "/organizations/{fiscalCode}/debtpositions/{iupd}",
            "GET",
            404
        )),
        1.0
    );
    assert_eq!(
        moved(&http(
            "/organizations/{fiscalCode}/broadcast-stations/{stationId}",
            "PUT",
            201
        )),
        1.0
    );
    assert_eq!(
        moved(
            r#"gpd_gateway_http_request_duration_seconds_count{route="/organizations/{fiscalCode}/debtpositions/{iupd}",method="GET"}"#
        ),
        1.0
    );

    assert_eq!(
        moved(r#"gpd_gateway_receipts_total{status="applied"}"#),
        1.0
    );
    assert_eq!(
        after.sum("gpd_gateway_receipts_total", &[])
            - before.sum("gpd_gateway_receipts_total", &[]),
        1.0
    );
    assert_eq!(moved(&attempts), 1.0);
    assert_eq!(
        after.sum("gpd_gateway_delivery_attempts_total", &[]),
        1.0,
        "{body}"
    );
    let station_labels = format!(r#"{{organization="{OTHER}",station="FAILING"}}"#);
    assert_eq!(
        after.value(&format!("gpd_gateway_outbox_pending{station_labels}")),
        1.0
    );
    let age = after.value(&format!(
        "gpd_gateway_outbox_oldest_pending_age_seconds{station_labels}"
    ));
    assert!((0.0..60.0).contains(&age), "{age}");
    // The position, the station, the receipt at least were committed.
    assert!(
        after.sum("gpd_gateway_store_commit_batch_size_count", &[])
            - before.sum("gpd_gateway_store_commit_batch_size_count", &[])
            >= 3.0,
        "{body}"
    );
    assert_eq!(
        after.sum("gpd_gateway_store_commit_duration_seconds_count", &[]),
        after.sum("gpd_gateway_store_commit_batch_size_count", &[])
    );
    assert!(after.value("gpd_gateway_connections_open") >= 1.0);
    assert_eq!(after.value("gpd_gateway_connections_shed_total"), 0.0);
    // The journal took every event; some may still wait to be written.
    assert!(
        body.contains("\ngpd_gateway_journal_entries_lost_total 0\n"),
        "{body}"
    );
    assert!(
        body.contains("\ngpd_gateway_journal_queued_entries "),
        "{body}"
    );
    assert!(
        after.value("gpd_gateway_journal_queued_entries") < 16.0,
        "{body}"
    );
    assert_eq!(
        after.value(&format!(
            r#"gpd_gateway_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    // Labels name routes and primitives, never what a request carried.
    for personal in ["RSSMRA80A01H501U", "MET-1", "MISSING-1", &nav(72)] {
        assert!(!body.contains(personal), "{personal} in the scrape");
    }
    promtool_check(&body);
    station.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_scrape_from_outside_the_allowed_networks_is_refused() {
    let mut config = Config::example();
    config.metrics.allow = vec!["10.0.0.0/8".parse().unwrap()];
    let server = TestServer::start_with(config, Clock::system()).await;
    let r = server.get("/metrics").await;
    assert_eq!(r.status, 403, "{}", text(&r));
    assert!(text(&r).contains("[metrics] allow"), "{}", text(&r));
    assert!(!text(&r).contains("gpd_gateway_"));
    // An API key changes nothing.
    let r = server
        .request_as(&server.key, "GET", "/metrics", &[], b"")
        .await;
    assert_eq!(r.status, 403);
    server.stop().await;
}

#[tokio::test]
async fn metrics_off_are_not_served() {
    let mut config = Config::example();
    config.metrics.enabled = false;
    let server = TestServer::start_with(config, Clock::system()).await;
    let r = server.get("/metrics").await;
    assert_eq!(r.status, 404, "{}", text(&r));
    assert!(!text(&r).contains("gpd_gateway_"));
    server.stop().await;
}
