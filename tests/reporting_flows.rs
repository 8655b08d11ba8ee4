//! Reporting flows end to end: a fake reporting flows service (behind the platform stub, which
//! checks every call and answer against `fdr_organization.json`) publishes flows over several
//! pages, each with pages of payments, one slow, then a revision 2 and an error; the gateway
//! fetches them on demand, and what they reconciled shows through the positions REST API, the
//! flows' payments and the anomalies. A flow imported from a file is reconciled the same way.
//! The poller fetches by itself; for a payment whose receipt the Node never delivered it asks
//! the fake receipts service, and the receipt recovered is applied, forwarded and matched,
//! also when the recovery was pending across a restart.

mod harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::FiscalCodePA;
use gpd_gateway::domain::platform::PlatformAccess;
use harness::bizevents::{self, Held};
use harness::platform_stub::{Answer, PlatformStub};
use harness::receipts::{ReceiptRequest, iuv};
use harness::stub_station::{Behaviour, StubStation};
use harness::{TestServer, eventually, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const PSP: &str = "88888888888";
const DOCUMENT: &str = "pagopa-api/openapi/fdr_organization.json";
const BASE: &str = "/fdr-org/service/v1";
const LIST: &str = "/organizations/{organizationId}/fdrs";
const ONE: &str = "/organizations/{organizationId}/fdrs/{fdr}/revisions/{revision}/psps/{pspId}";
const PAYMENTS: &str =
    "/organizations/{organizationId}/fdrs/{fdr}/revisions/{revision}/psps/{pspId}/payments";

/// A flow the fake service publishes: its name, revision and payments (IUV, transfer,
/// cents, status); its declared totals are its payments' unless `declared` says otherwise.
#[derive(Clone)]
struct Published {
    fdr: &'static str,
    revision: i64,
    payments: Vec<(String, i64, i64, &'static str)>,
    declared: Option<(i64, f64)>,
}

#[derive(Default)]
struct Service {
    flows: Vec<Published>,
    list_fails: bool,
}

fn euro(cents: i64) -> f64 {
    cents as f64 / 100.0
}

fn page_of<T: Clone>(items: &[T], page: usize, size: usize) -> (Vec<T>, usize) {
    let pages = items.len().div_ceil(size).max(1);
    let start = (page - 1) * size;
    (
        items.iter().skip(start).take(size).cloned().collect(),
        pages,
    )
}

fn error(status: u16) -> Answer {
    Answer::json(
        status,
        json!({"httpStatusCode": status, "httpStatusDescription": "Error", "appErrorCode": "FDR-0500",
               "errors": [{"message": "failed"}]}),
    )
}

fn header(f: &Published) -> Value {
    let sum: i64 = f.payments.iter().map(|p| p.2).sum();
    let (tot, sum) = f.declared.unwrap_or((f.payments.len() as i64, euro(sum)));
    json!({
        "status": "PUBLISHED", "revision": f.revision, "fdr": f.fdr,
        "created": "2025-02-01T10:00:00Z", "updated": "2025-02-01T10:00:00Z",
        "fdrDate": "2025-02-01T10:00:00Z", "published": "2025-02-02T10:00:00Z",
        "regulation": "SEPA - Bonifico 1", "regulationDate": "2025-02-03",
        "bicCodePouringBank": "UNCRITMMXXX",
        "sender": {"type": "LEGAL_PERSON", "id": "SELBIT2B", "pspId": PSP, "pspName": "PSP Uno",
                   "pspBrokerId": PSP, "channelId": "88888888888_01"},
        "receiver": {"id": "APPBIT2B", "organizationId": ORG, "organizationName": "Comune di Esempio"},
        "computedTotPayments": f.payments.len(), "computedSumPayments": sum,
        "totPayments": tot, "sumPayments": sum,
    })
}

fn payment(i: usize, p: &(String, i64, i64, &str)) -> Value {
    json!({"index": i + 1, "iuv": p.0, "iur": format!("IUR{i}"), "idTransfer": p.1,
           "pay": euro(p.2), "payStatus": p.3, "payDate": "2025-02-01T09:00:00Z"})
}

async fn fdr_service(state: Arc<Mutex<Service>>) -> PlatformStub {
    PlatformStub::start(DOCUMENT, BASE, move |call| {
        let s = state.lock().unwrap();
        let page: usize = call.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let size: usize = call.query("size").and_then(|p| p.parse().ok()).unwrap_or(1000);
        let find = |p: &std::collections::BTreeMap<String, String>| {
            s.flows
                .iter()
                .find(|f| f.fdr == p["fdr"] && f.revision.to_string() == p["revision"])
                .cloned()
        };
        if let Some(p) = call.matches("GET", PAYMENTS) {
            let Some(f) = find(&p) else { return error(404) };
            let all: Vec<Value> = f.payments.iter().enumerate().map(|(i, x)| payment(i, x)).collect();
            let (data, pages) = page_of(&all, page, size);
            return Answer::json(
                200,
                json!({"metadata": {"pageSize": size, "pageNumber": page, "totPage": pages},
                       "count": data.len(), "data": data}),
            );
        }
        if let Some(p) = call.matches("GET", ONE) {
            let Some(f) = find(&p) else { return error(404) };
            let answer = Answer::json(200, header(&f));
            // Slower than the gateway waits: this flow fails, the others do not.
            return if f.fdr == "FDR-SLOW" {
                answer.after(Duration::from_secs(3))
            } else {
                answer
            };
        }
        if call.matches("GET", LIST).is_some() {
            if s.list_fails {
                return error(500);
            }
            let all: Vec<Value> = s
                .flows
                .iter()
                .map(|f| json!({"fdr": f.fdr, "pspId": PSP, "revision": f.revision,
                               "published": "2025-02-02T10:00:00Z", "flowDate": "2025-02-01T10:00:00Z"}))
                .collect();
            let (data, pages) = page_of(&all, page, size);
            return Answer::json(
                200,
                json!({"metadata": {"pageSize": size, "pageNumber": page, "totPage": pages},
                       "count": data.len(), "data": data}),
            );
        }
        error(404)
    })
    .await
}

fn config(stub: &PlatformStub) -> Config {
    let mut config = harness::loopback_stations(Config::example());
    let org = FiscalCodePA::parse(ORG).unwrap();
    let creditor = config.creditors.get_mut(&org).unwrap();
    creditor.platform.fdr = Some(PlatformAccess::new(&stub.url(), "fdr-key").unwrap());
    config.fdr.page_size = 2;
    config.fdr.timeout = Duration::from_secs(1);
    config
}

fn position(iupd: &str, iuv: &str, cents: i64) -> Value {
    json!({"iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
           "companyName": "Comune di Esempio", "switchToExpired": false,
           "paymentOption": [{"iuv": iuv, "amount": cents, "description": "TARI 2025",
              "isPartialPayment": false, "dueDate": "2099-12-31T23:59:59",
              "transfer": [{"idTransfer": "1", "amount": cents, "remittanceInformation": "TARI",
                            "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]}]})
}

async fn paid(server: &TestServer, iupd: &str, base: u64, cents: i64) -> String {
    let iuv = iuv("01", base);
    server
        .create_position(ORG, &position(iupd, &iuv, cents), true)
        .await;
    let receipt = ReceiptRequest::v2(&format!("R-{iupd}"), &iuv, cents);
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    iuv
}

/// The position's status, its option's and its transfer's, as the positions API shows them.
async fn statuses(server: &TestServer, iupd: &str) -> (String, String, String) {
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/{iupd}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let v = json(&r);
    let o = &v["paymentOption"][0];
    (
        v["status"].as_str().unwrap().to_owned(),
        o["status"].as_str().unwrap().to_owned(),
        o["transfer"][0]["status"].as_str().unwrap().to_owned(),
    )
}

fn reported() -> (String, String, String) {
    ("REPORTED".into(), "PO_REPORTED".into(), "T_REPORTED".into())
}

fn unreported() -> (String, String, String) {
    ("PAID".into(), "PO_PAID".into(), "T_UNREPORTED".into())
}

async fn fetch(server: &TestServer) -> (u16, Value) {
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/reporting-flows/fetch"),
            &json!({}),
        )
        .await;
    (r.status, json(&r))
}

async fn anomalies(server: &TestServer, query: &str) -> Vec<String> {
    let r = server
        .get(&format!("/organizations/{ORG}/reporting-anomalies{query}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let mut kinds: Vec<String> = json(&r)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn published_flows_are_fetched_page_by_page_and_reconciled() {
    let state = Arc::new(Mutex::new(Service::default()));
    let stub = fdr_service(state.clone()).await;
    let server = TestServer::start_with(config(&stub), Clock::system()).await;
    let first = paid(&server, "FDR-P1", 1, 300).await;
    let second = paid(&server, "FDR-P2", 2, 500).await;
    let third = paid(&server, "FDR-P3", 3, 700).await;
    let stranger = iuv("01", 99);
    {
        let mut s = state.lock().unwrap();
        s.flows = vec![
            Published {
                fdr: "FDR-1",
                revision: 1,
                payments: vec![
                    (first.clone(), 1, 300, "EXECUTED"),
                    (second.clone(), 1, 499, "STAND_IN"),
                    (stranger.clone(), 1, 100, "NO_RPT"),
                ],
                declared: Some((3, 10.99)),
            },
            Published {
                fdr: "FDR-2",
                revision: 1,
                payments: vec![(third.clone(), 1, 700, "EXECUTED")],
                declared: None,
            },
            Published {
                fdr: "FDR-SLOW",
                revision: 1,
                payments: vec![],
                declared: None,
            },
        ];
    }
    let (status, report) = fetch(&server).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["listed"], 3, "{report}");
    assert_eq!(report["stored"], 2, "{report}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(statuses(&server, "FDR-P1").await, reported());
    assert_eq!(statuses(&server, "FDR-P2").await, reported());
    assert_eq!(statuses(&server, "FDR-P3").await, reported());
    assert_eq!(
        anomalies(&server, "?resolved=false").await,
        ["AMOUNT_DIFFERS", "NO_RECEIPT", "TOTALS_DIFFER"]
    );
    // Three pages of flows of two, two pages of FDR-1's payments.
    let calls = stub.calls();
    let lists = calls.iter().filter(|c| c.path.ends_with("/fdrs")).count();
    assert_eq!(lists, 2);
    let pages = calls
        .iter()
        .filter(|c| c.path.contains("/FDR-1/") && c.path.ends_with("/payments"))
        .count();
    assert_eq!(pages, 2);
    assert!(
        calls
            .iter()
            .all(|c| c.header("ocp-apim-subscription-key") == Some("fdr-key"))
    );

    // Fetched again: nothing new but the slow flow, tried again.
    let (_, report) = fetch(&server).await;
    assert_eq!(report["stored"], 0, "{report}");

    // Revision 2 of FDR-1 drops the first notice and corrects the second's amount.
    state.lock().unwrap().flows.push(Published {
        fdr: "FDR-1",
        revision: 2,
        payments: vec![(second.clone(), 1, 500, "EXECUTED")],
        declared: None,
    });
    let (_, report) = fetch(&server).await;
    assert_eq!(report["stored"], 1, "{report}");
    assert_eq!(statuses(&server, "FDR-P1").await, unreported());
    assert_eq!(statuses(&server, "FDR-P2").await, reported());
    assert!(anomalies(&server, "?resolved=false").await.is_empty());
    assert_eq!(
        anomalies(&server, "?resolved=true&kind=NO_RECEIPT").await,
        ["NO_RECEIPT"]
    );

    let r = server
        .get(&format!("/organizations/{ORG}/reporting-flows?fdr=FDR-1"))
        .await;
    let flows = json(&r);
    assert_eq!(flows["page_info"]["items_found"], 2, "{flows}");
    assert_eq!(flows["results"][0]["revision"], 2);
    assert_eq!(flows["results"][1]["superseded"], true);
    let r = server
        .get(&format!(
            "/organizations/{ORG}/reporting-flows/FDR-1/psps/{PSP}/revisions/1/payments?limit=2&page=0"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let v = json(&r);
    assert_eq!(v["page_info"]["total_pages"], 2, "{v}");
    assert_eq!(v["results"][1]["match"], "AMOUNT_DIFFERS");
    assert_eq!(v["results"][1]["expectedAmount"], "5.00");
    assert_eq!(v["results"][1]["reports"], false);

    // The paid transfer no flow reports any more is an anomaly once its days have passed.
    let flagged =
        gpd_gateway::reporting::flag_unreported(server.ctx.store.as_ref(), server.ctx.clock, 1)
            .await
            .unwrap();
    assert_eq!(flagged, 1);
    assert_eq!(anomalies(&server, "?kind=UNREPORTED").await, ["UNREPORTED"]);

    // The list failing is the fetch failing.
    state.lock().unwrap().list_fails = true;
    let (status, problem) = fetch(&server).await;
    assert_eq!(status, 502, "{problem}");
    server.stop().await;
}

#[tokio::test]
async fn a_flow_from_a_file_is_reconciled_as_a_fetched_one() {
    let state = Arc::new(Mutex::new(Service::default()));
    let stub = fdr_service(state).await;
    let server = TestServer::start_with(config(&stub), Clock::system()).await;
    let first = paid(&server, "FDR-F1", 11, 300).await;
    let flow = Published {
        fdr: "FDR-FILE",
        revision: 1,
        payments: vec![(first, 1, 300, "EXECUTED")],
        declared: None,
    };
    let mut document = header(&flow);
    document["payments"] = flow
        .payments
        .iter()
        .enumerate()
        .map(|(i, p)| payment(i, p))
        .collect();
    let bytes = serde_json::to_vec(&document).unwrap();
    let org = FiscalCodePA::parse(ORG).unwrap();
    let store = server.ctx.store.as_ref();
    let recorded = gpd_gateway::reporting::import(store, server.ctx.clock, org.clone(), &bytes)
        .await
        .unwrap();
    assert!(
        format!("{recorded:?}").starts_with("Applied"),
        "{recorded:?}"
    );
    assert_eq!(statuses(&server, "FDR-F1").await, reported());
    let again = gpd_gateway::reporting::import(store, server.ctx.clock, org.clone(), &bytes)
        .await
        .unwrap();
    assert_eq!(format!("{again:?}"), "AlreadyStored");
    let other = FiscalCodePA::parse("88888888888").unwrap();
    let e = gpd_gateway::reporting::import(store, server.ctx.clock, other, &bytes)
        .await
        .unwrap_err();
    assert!(e.contains("receiver.organizationId"), "{e}");
    let e = gpd_gateway::reporting::import(store, server.ctx.clock, org, b"{}")
        .await
        .unwrap_err();
    assert!(e.starts_with("not a reporting flow"), "{e}");
    server.stop().await;
}

/// [`config`] with the poller every 100 ms and, with `receipts`, the creditor's access to the
/// receipts service.
fn polled(stub: &PlatformStub, receipts: Option<&PlatformStub>) -> Config {
    let mut config = config(stub);
    config.fdr.poll_interval = Duration::from_millis(100);
    if let Some(receipts) = receipts {
        let org = FiscalCodePA::parse(ORG).unwrap();
        let creditor = config.creditors.get_mut(&org).unwrap();
        creditor.platform.bizevents =
            Some(PlatformAccess::new(&receipts.url(), "biz-key").unwrap());
    }
    config
}

/// The revisions of flow `fdr` the REST listing shows, newest flow date first.
async fn revisions(server: &TestServer, fdr: &str) -> Vec<i64> {
    let r = server
        .get(&format!("/organizations/{ORG}/reporting-flows?fdr={fdr}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    (json(&r)["results"].as_array().unwrap().iter())
        .map(|f| f["revision"].as_i64().unwrap())
        .collect()
}

/// The creditor's anomalies of `kind` as the REST listing shows them.
async fn anomalies_of(server: &TestServer, kind: &str) -> Vec<Value> {
    let r = server
        .get(&format!(
            "/organizations/{ORG}/reporting-anomalies?kind={kind}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_poller_fetches_published_flows_and_a_newer_revision_replaces_the_older() {
    let state = Arc::new(Mutex::new(Service::default()));
    let stub = fdr_service(state.clone()).await;
    let server = TestServer::start_with(polled(&stub, None), Clock::system()).await;
    let first = paid(&server, "POLL-P1", 21, 300).await;
    let second = paid(&server, "POLL-P2", 22, 500).await;
    let poller = gpd_gateway::reporting::spawn(server.ctx.clone());
    state.lock().unwrap().flows.push(Published {
        fdr: "FDR-POLL",
        revision: 1,
        payments: vec![(first.clone(), 1, 300, "EXECUTED")],
        declared: None,
    });
    eventually("revision 1 stored and applied", async || {
        revisions(&server, "FDR-POLL").await == [1]
            && statuses(&server, "POLL-P1").await == reported()
    })
    .await;
    assert_eq!(statuses(&server, "POLL-P2").await, unreported());

    state.lock().unwrap().flows.push(Published {
        fdr: "FDR-POLL",
        revision: 2,
        payments: vec![(second.clone(), 1, 500, "EXECUTED")],
        declared: None,
    });
    eventually("revision 2 replaces revision 1", async || {
        revisions(&server, "FDR-POLL").await == [2, 1]
            && statuses(&server, "POLL-P2").await == reported()
    })
    .await;
    assert_eq!(statuses(&server, "POLL-P1").await, unreported());
    // Each revision was fetched once, however many rounds ran.
    let calls = stub.calls();
    for revision in ["1", "2"] {
        let headers = calls
            .iter()
            .filter(|c| {
                c.matches("GET", ONE)
                    .is_some_and(|p| p["revision"] == revision)
            })
            .count();
        assert_eq!(headers, 1, "revision {revision}");
    }
    poller.stop().await;
    server.stop().await;
}

/// An unpaid position of one transfer of `cents` for notice `base`; its IUV.
async fn unpaid(server: &TestServer, iupd: &str, base: u64, cents: i64) -> String {
    let iuv = iuv("01", base);
    server
        .create_position(ORG, &position(iupd, &iuv, cents), true)
        .await;
    iuv
}

#[tokio::test]
async fn a_payment_whose_receipt_the_node_never_delivered_is_recovered_matched_and_forwarded() {
    let state = Arc::new(Mutex::new(Service::default()));
    let stub = fdr_service(state.clone()).await;
    let held: Held = Arc::default();
    let receipts = bizevents::service(held.clone()).await;
    let server = TestServer::start_with(polled(&stub, Some(&receipts)), Clock::system()).await;
    let station = StubStation::start(Behaviour::Ok).await;
    server.add_station(ORG, "RECON_ST", &station.url()).await;
    let missing = unpaid(&server, "MISS-1", 31, 1250).await;
    let unknown = unpaid(&server, "MISS-2", 32, 800).await;
    // The flow's payments have IURs IUR0 and IUR1; the platform has the first's receipt only.
    held.lock().unwrap().insert(
        "IUR0".into(),
        bizevents::platform_receipt(ORG, "IUR0", &missing, 1250),
    );
    state.lock().unwrap().flows.push(Published {
        fdr: "FDR-MISSING",
        revision: 1,
        payments: vec![
            (missing.clone(), 1, 1250, "EXECUTED"),
            (unknown.clone(), 1, 800, "EXECUTED"),
        ],
        declared: None,
    });
    let poller = gpd_gateway::reporting::spawn(server.ctx.clone());
    eventually(
        "the receipt recovered and the transfer reported",
        async || statuses(&server, "MISS-1").await == reported(),
    )
    .await;

    // Stored as recovered from the platform, and forwarded like any receipt.
    let r = server.get(&format!("/organizations/{ORG}/receipts")).await;
    let listed = json(&r)["results"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["origin"], "PLATFORM");
    assert_eq!(listed[0]["status"], "APPLIED");
    let got = station.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        got[0].body.contains("<receiptId>IUR0</receiptId>"),
        "{}",
        got[0].body
    );
    let asked = receipts.calls();
    assert_eq!(
        asked[0].path,
        format!("/organizations/{ORG}/receipts/IUR0/paymentoptions/{missing}")
    );

    // Its anomaly is resolved by the recovery; the other's receipt is not at the platform.
    eventually("the second receipt asked for", async || {
        anomalies_of(&server, "NO_RECEIPT")
            .await
            .iter()
            .all(|a| !a["receiptRecovery"].is_null())
    })
    .await;
    let found = anomalies_of(&server, "NO_RECEIPT").await;
    let of = |iuv: &str| found.iter().find(|a| a["iuv"] == iuv).unwrap().clone();
    let resolved = of(&missing);
    assert!(!resolved["resolvedAt"].is_null(), "{resolved}");
    assert_eq!(resolved["receiptRecovery"]["outcome"], "RECOVERED");
    assert!(resolved["receiptRecovery"]["nextAttemptAt"].is_null());
    let open = of(&unknown);
    assert!(open["resolvedAt"].is_null(), "{open}");
    assert_eq!(open["receiptRecovery"]["outcome"], "NOT_FOUND");
    assert_eq!(open["receiptRecovery"]["attempts"], 1);
    assert!(!open["receiptRecovery"]["nextAttemptAt"].is_null());
    let r = server
        .get(&format!(
            "/organizations/{ORG}/reporting-flows/FDR-MISSING/psps/{PSP}/revisions/1/payments"
        ))
        .await;
    let payments = json(&r);
    assert_eq!(payments["results"][0]["match"], "REPORTED", "{payments}");
    assert_eq!(payments["results"][0]["reports"], true);
    assert_eq!(payments["results"][1]["match"], "NO_RECEIPT");

    // Later rounds do not ask again before the next attempt is due.
    let lists = stub
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/fdrs"))
        .count();
    stub.wait_for(Duration::from_secs(10), |calls| {
        calls.iter().filter(|c| c.path.ends_with("/fdrs")).count() >= lists + 3
    })
    .await;
    let asked_unknown = (receipts.calls().iter())
        .filter(|c| c.path.contains("/receipts/IUR1/"))
        .count();
    assert_eq!(asked_unknown, 1);
    poller.stop().await;

    // The Node's copy arriving late is a repeat of the recovered receipt.
    let node = ReceiptRequest::v2("IUR0", &missing, 1250);
    let r = server.soap(Some(node.action()), &node.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    let r = server.get(&format!("/organizations/{ORG}/receipts")).await;
    assert_eq!(json(&r)["results"].as_array().unwrap().len(), 1);
    assert_eq!(station.received().len(), 1);
    server.stop().await;
    station.stop().await;
    receipts.stop().await;
}

#[tokio::test]
async fn a_recovery_pending_when_the_server_stops_is_made_after_a_restart() {
    let state = Arc::new(Mutex::new(Service::default()));
    let stub = fdr_service(state).await;
    let held: Held = Arc::default();
    let receipts = bizevents::service(held.clone()).await;
    let config = polled(&stub, Some(&receipts));
    let server = TestServer::start_with(config.clone(), Clock::system()).await;
    let missing = unpaid(&server, "MISS-R", 41, 700).await;
    held.lock().unwrap().insert(
        "IUR0".into(),
        bizevents::platform_receipt(ORG, "IUR0", &missing, 700),
    );
    // A flow taken from a file while no poller runs: its recovery is left pending.
    let flow = Published {
        fdr: "FDR-RESTART",
        revision: 1,
        payments: vec![(missing.clone(), 1, 700, "EXECUTED")],
        declared: None,
    };
    let mut document = header(&flow);
    document["payments"] = json!([payment(0, &flow.payments[0])]);
    let org = FiscalCodePA::parse(ORG).unwrap();
    gpd_gateway::reporting::import(
        server.ctx.store.as_ref(),
        server.ctx.clock,
        org,
        &serde_json::to_vec(&document).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(anomalies(&server, "?resolved=false").await, ["NO_RECEIPT"]);
    assert!(receipts.calls().is_empty());
    let data = server.stop_and_keep_data().await;

    let server = TestServer::start_on(data, config, Clock::system()).await;
    let poller = gpd_gateway::reporting::spawn(server.ctx.clone());
    eventually("the pending recovery made after the restart", async || {
        statuses(&server, "MISS-R").await == reported()
    })
    .await;
    assert!(anomalies(&server, "?resolved=false").await.is_empty());
    poller.stop().await;
    server.stop().await;
    receipts.stop().await;
}
