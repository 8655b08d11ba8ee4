//! SEND's notification costs on paGetPayment(V2), end to end against a fake SEND that checks
//! each call against SEND's official document: options notified through SEND (marked in the
//! position's JSON or by `POST /internal/config/send`) get SEND's price as their notification
//! fee, in the answer's amount and metadata and in the stored option; a price is used again
//! within `[send] cache_seconds`; SEND slow, failing or refusing leaves the fee last stored and
//! the Node's answer within its budget; unmarked options and creditors without
//! `[creditor.send]` never call SEND.

mod common;
mod harness;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::FiscalCodePA;
use gpd_gateway::domain::platform::PlatformAccess;
use harness::platform_stub::{Answer, PlatformStub};
use harness::positions::{iuv, position};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const SEND_DOCUMENT: &str = "send/api-external-b2b-pa-bundle.yaml";
const PRICE: &str = "/delivery/v2.3/price/{paTaxId}/{noticeCode}";
const ORG: &str = "77777777777";
/// The example's other creditor, without `[creditor.send]`; segregation code 47.
const OTHER: &str = "88888888888";
const SEND_KEY: &str = "send-api-key";

/// What the fake SEND answers next.
#[derive(Clone, Copy)]
enum Mode {
    Price(i64),
    Slow,
    Status(u16),
}

fn problem(status: u16) -> Value {
    json!({"status": status, "title": "Not Found", "detail": "no notification for this notice",
           "errors": [{"code": "PN_GENERIC_NOTFOUND"}]})
}

async fn send_stub(mode: Arc<Mutex<Mode>>) -> PlatformStub {
    PlatformStub::start(SEND_DOCUMENT, "", move |call| {
        if call.matches("GET", PRICE).is_none() {
            return Answer::empty(404);
        }
        match *mode.lock().unwrap() {
            Mode::Price(total) => Answer::json(
                200,
                json!({"iun": "ABCD-EFGH-IJKL-202501-A-1", "partialPrice": total - 122,
                       "totalPrice": total, "vat": 22, "paFee": 100, "sendFee": 100,
                       "analogCost": 0, "refinementDate": "2025-06-01T00:00:00Z"}),
            ),
            Mode::Slow => {
                Answer::json(200, json!({"totalPrice": 999})).after(Duration::from_secs(3))
            }
            Mode::Status(status) => Answer::json(status, problem(status)),
        }
    })
    .await
}

/// The example configuration with SEND's price API at `stub` for creditor 77777777777.
fn config(stub: &PlatformStub, cache_seconds: u64) -> Config {
    let mut config = harness::loopback_stations(Config::example());
    let org = FiscalCodePA::parse(ORG).unwrap();
    let creditor = config.creditors.get_mut(&org).unwrap();
    creditor.platform.send = Some(PlatformAccess::new(&stub.url(), SEND_KEY).unwrap());
    config.send.timeout = Duration::from_millis(300);
    config.send.cache_for = Duration::from_secs(cache_seconds);
    config
}

fn notice(iuv: &str) -> String {
    format!("3{iuv}")
}

/// A position of one option of 1000 cents, marked as notified through SEND when `send_sync`.
fn marked(iupd: &str, iuv: &str, send_sync: bool) -> Value {
    let mut p = position(iupd, iuv, 1000);
    p["paymentOption"][0]["sendSync"] = json!(send_sync);
    p
}

async fn get_payment(server: &TestServer, org: &str, v2: bool, notice: &str) -> String {
    let (wrapper, action) = if v2 {
        ("paGetPaymentV2Request", "paGetPaymentV2")
    } else {
        ("paGetPaymentReq", "paGetPayment")
    };
    let request = format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:{wrapper} xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>{org}</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{org}</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode></ns2:{wrapper}></S:Body></S:Envelope>"#
    );
    let r = server.soap(Some(action), &request).await;
    assert_eq!(r.status, 200);
    common::validate_envelope(&r.body)
        .unwrap_or_else(|e| panic!("invalid response: {e}\n{}", text(&r)));
    let answer = text(&r).to_owned();
    assert!(answer.contains("<outcome>OK</outcome>"), "{answer}");
    answer
}

/// The answer's amount and NOTIFICATION_FEE metadata, as written.
fn fee_in(answer: &str, amount: &str, fee: i64) {
    assert!(
        answer.contains(&format!("<paymentAmount>{amount}</paymentAmount>")),
        "{amount}: {answer}"
    );
    assert!(
        answer.contains(&format!(
            "<mapEntry><key>NOTIFICATION_FEE</key><value>{fee}</value></mapEntry>"
        )),
        "{fee}: {answer}"
    );
}

async fn stored_option(server: &TestServer, org: &str, iupd: &str) -> Value {
    let r = server
        .get(&format!("/organizations/{org}/debtpositions/{iupd}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)["paymentOption"][0].clone()
}

async fn lookups(server: &TestServer, outcome: &str) -> f64 {
    let r = server.get("/metrics").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let series = format!(
        r#"gpd_gateway_send_price_lookups_total{{organization="{ORG}",outcome="{outcome}"}} "#
    );
    text(&r)
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_marked_option_gets_sends_price_once_within_the_cache_time() {
    let mode = Arc::new(Mutex::new(Mode::Price(345)));
    let stub = send_stub(mode.clone()).await;
    let server = TestServer::start_with(config(&stub, 60), Clock::system()).await;
    let (a, b) = (iuv(1, 7_001), iuv(1, 7_002));
    server
        .create_position(ORG, &marked("SEND-1", &a, true), true)
        .await;
    server
        .create_position(ORG, &marked("SEND-2", &b, false), true)
        .await;

    if harness::openapi::reference_dir().exists() {
        assert!(stub.checks_document());
    }
    let answer = get_payment(&server, ORG, false, &notice(&a)).await;
    fee_in(&answer, "13.45", 345);
    let calls = stub.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path,
        format!("/delivery/v2.3/price/{ORG}/{}", notice(&a))
    );
    assert_eq!(calls[0].header("x-api-key"), Some(SEND_KEY));
    // Applied as PUT …/notificationfee applies it: stored, on the creditor's transfer.
    let option = stored_option(&server, ORG, "SEND-1").await;
    assert_eq!(option["notificationFee"], 345);
    assert_eq!(option["amount"], 1345);
    assert_eq!(option["transfer"][0]["amount"], 1345);
    assert_eq!(option["sendSync"], true);

    // Within the cache time SEND is not asked again, even if its price changed.
    *mode.lock().unwrap() = Mode::Price(500);
    let answer = get_payment(&server, ORG, true, &notice(&a)).await;
    fee_in(&answer, "13.45", 345);
    assert_eq!(stub.calls().len(), 1);
    assert_eq!(lookups(&server, "asked").await, 1.0);
    assert_eq!(lookups(&server, "cached").await, 1.0);

    // An option not notified through SEND never asks it.
    let answer = get_payment(&server, ORG, false, &notice(&b)).await;
    assert!(
        answer.contains("<paymentAmount>10.00</paymentAmount>"),
        "{answer}"
    );
    assert!(!answer.contains("NOTIFICATION_FEE"), "{answer}");
    assert_eq!(stub.calls().len(), 1);
    server.stop().await;
    stub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn send_slow_failing_or_refusing_leaves_the_last_fee_within_the_budget() {
    let mode = Arc::new(Mutex::new(Mode::Price(200)));
    let stub = send_stub(mode.clone()).await;
    // No cache: every paGetPayment asks SEND.
    let server = TestServer::start_with(config(&stub, 0), Clock::system()).await;
    let a = iuv(1, 7_101);
    server
        .create_position(ORG, &marked("SEND-3", &a, true), true)
        .await;
    fee_in(
        &get_payment(&server, ORG, false, &notice(&a)).await,
        "12.00",
        200,
    );

    for (next, outcome) in [
        (Mode::Slow, "unreachable"),
        (Mode::Status(500), "refused"),
        (Mode::Status(404), "refused"),
    ] {
        *mode.lock().unwrap() = next;
        let before = stub.calls().len();
        let started = Instant::now();
        let answer = get_payment(&server, ORG, true, &notice(&a)).await;
        let took = started.elapsed();
        fee_in(&answer, "12.00", 200);
        assert_eq!(stub.calls().len(), before + 1, "{outcome}: SEND was asked");
        // The lookup's bound is 300 ms; the Node's budget is 8 s.
        assert!(took < Duration::from_secs(2), "{outcome}: {took:?}");
        assert!(lookups(&server, outcome).await >= 1.0, "{outcome}");
    }
    assert_eq!(lookups(&server, "unreachable").await, 1.0);
    assert_eq!(lookups(&server, "refused").await, 2.0);
    let option = stored_option(&server, ORG, "SEND-3").await;
    assert_eq!(
        (option["notificationFee"].clone(), option["amount"].clone()),
        (json!(200), json!(1200))
    );

    // SEND back: its new price replaces the old one.
    *mode.lock().unwrap() = Mode::Price(150);
    fee_in(
        &get_payment(&server, ORG, false, &notice(&a)).await,
        "11.50",
        150,
    );
    server.stop().await;
    stub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_creditor_without_send_never_calls_it() {
    let stub = send_stub(Arc::new(Mutex::new(Mode::Price(345)))).await;
    let server = TestServer::start_with(config(&stub, 60), Clock::system()).await;
    let other = iuv(47, 7_201);
    server
        .create_position(OTHER, &marked("SEND-4", &other, true), true)
        .await;
    let answer = get_payment(&server, OTHER, false, &notice(&other)).await;
    assert!(
        answer.contains("<paymentAmount>10.00</paymentAmount>"),
        "{answer}"
    );
    assert!(stub.calls().is_empty(), "{:?}", stub.calls());
    assert_eq!(
        stored_option(&server, OTHER, "SEND-4").await["sendSync"],
        true
    );
    server.stop().await;
    stub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn options_are_marked_in_bulk_and_the_mark_survives_updates() {
    let stub = send_stub(Arc::new(Mutex::new(Mode::Price(270)))).await;
    let server = TestServer::start_with(config(&stub, 60), Clock::system()).await;
    let (a, b) = (iuv(1, 7_301), iuv(1, 7_302));
    server
        .create_position(ORG, &position("SEND-5", &a, 1000), true)
        .await;
    server
        .create_position(ORG, &position("SEND-6", &b, 1000), true)
        .await;
    assert_eq!(
        stored_option(&server, ORG, "SEND-5").await["sendSync"],
        false
    );
    get_payment(&server, ORG, false, &notice(&a)).await;
    assert!(stub.calls().is_empty(), "not marked yet");

    let send = "/internal/config/send";
    let item = |org: &str, iuv: &str| json!({"organizationFiscalCode": org, "nav": notice(iuv)});
    let unknown = iuv(1, 7_399);
    let r = server
        .post_json(
            send,
            &json!([item(ORG, &a), item(ORG, &unknown), item(OTHER, &b)]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(text(&r), "Configuration completed for 1 items");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    fee_in(
        &get_payment(&server, ORG, false, &notice(&a)).await,
        "12.70",
        270,
    );
    assert_eq!(stub.calls().len(), 1);
    assert_eq!(
        stored_option(&server, ORG, "SEND-6").await["sendSync"],
        false
    );

    // An update that does not say sendSync keeps the mark, and the fee.
    let r = server
        .put_json(
            &format!("/organizations/{ORG}/debtpositions/SEND-5?toPublish=true"),
            &position("SEND-5", &a, 1000),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let option = stored_option(&server, ORG, "SEND-5").await;
    assert_eq!(option["sendSync"], true);
    assert_eq!(
        (option["notificationFee"].clone(), option["amount"].clone()),
        (json!(270), json!(1270))
    );

    // What is refused: nothing listed, more than 100, a malformed notice, another creditor's
    // key. Nothing is marked then.
    assert_eq!(server.post_json(send, &json!([])).await.status, 400);
    let many: Vec<Value> = (0..101).map(|_| item(ORG, &b)).collect();
    assert_eq!(server.post_json(send, &json!(many)).await.status, 400);
    let r = server
        .post_json(send, &json!([{"organizationFiscalCode": ORG, "nav": "12"}]))
        .await;
    assert_eq!(r.status, 400);
    assert!(text(&r).contains("[0].nav"), "{}", text(&r));
    let other_key = server.create_key(&[OTHER]).await;
    let body = json!([item(ORG, &b)]).to_string();
    let r = server
        .request(
            "POST",
            send,
            &[
                ("Ocp-Apim-Subscription-Key", &other_key),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    let json_type = [("Content-Type", "application/json")];
    let r = server
        .request_without_key("POST", send, &json_type, body.as_bytes())
        .await;
    assert_eq!(r.status, 401, "{}", text(&r));
    assert_eq!(
        stored_option(&server, ORG, "SEND-6").await["sendSync"],
        false
    );
    server.stop().await;
    stub.stop().await;
}
