//! The platform stub of the end-to-end tests against a real official document, through the
//! gateway's own platform client: a documented call passes, an undocumented one is caught, a
//! slow service is cut off by the client's bound.

mod harness;

use std::time::Duration;

use gpd_gateway::client;
use gpd_gateway::domain::platform::PlatformAccess;
use gpd_gateway::platform::api::{ApiError, PlatformApi, SUBSCRIPTION_KEY};
use harness::platform_stub::{Answer, PlatformStub};
use serde_json::{Value, json};

const RECEIPTS: &str = "pagopa-api/openapi/biz_events.json";
const BASE: &str = "/bizevents/service/v1";
const RECEIPT: &str = "/organizations/{organizationfiscalcode}/receipts/{iur}";

async fn receipts_stub() -> PlatformStub {
    PlatformStub::start(RECEIPTS, BASE, |call| {
        if let Some(p) = call.matches("GET", RECEIPT) {
            if p["iur"] == "slow" {
                return Answer::empty(404).after(Duration::from_secs(5));
            }
            return Answer::json(
                404,
                json!({"title": "Not Found", "status": 404, "detail": format!("no receipt {}", p["iur"])}),
            );
        }
        Answer::empty(404)
    })
    .await
}

fn client(stub: &PlatformStub, timeout: Duration) -> PlatformApi {
    let access = PlatformAccess::new(&stub.url(), "secret-key").unwrap();
    PlatformApi::new(&access, SUBSCRIPTION_KEY, timeout)
}

#[tokio::test]
async fn a_documented_call_passes_and_its_error_comes_back_as_a_status() {
    let stub = receipts_stub().await;
    let api = client(&stub, Duration::from_secs(5));
    let e = api
        .get::<Value>(&["organizations", "77777777777", "receipts", "IUR/1"], &[])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    let calls = stub.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/organizations/77777777777/receipts/IUR%2F1");
    assert_eq!(
        calls[0].header("ocp-apim-subscription-key"),
        Some("secret-key")
    );
    assert!(stub.violations().is_empty(), "{:?}", stub.violations());
}

#[tokio::test]
async fn what_the_document_does_not_allow_is_caught() {
    if !harness::openapi::reference_dir().exists() {
        return;
    }
    let stub = receipts_stub().await;
    // No key, an undocumented query parameter, a body on a GET, a path that does not exist.
    let url = stub.url();
    client::send(
        &url,
        "GET",
        "/organizations/7/receipts/1?page=2",
        &[],
        b"{}".to_vec(),
    )
    .await
    .unwrap();
    client::send(&url, "GET", "/organizations/7/flows", &[], Vec::new())
        .await
        .unwrap();
    let violations = stub.take_violations().join("\n");
    for expected in [
        "no key where the document's security wants one",
        "query parameter page is not documented",
        "a body where none is documented",
        "/organizations/7/flows: no documented path",
    ] {
        assert!(
            violations.contains(expected),
            "{expected} not in:\n{violations}"
        );
    }
}

#[tokio::test]
async fn a_slow_service_is_cut_off_by_the_clients_bound() {
    let stub = receipts_stub().await;
    let api = client(&stub, Duration::from_millis(300));
    let started = std::time::Instant::now();
    let e = api
        .get::<Value>(&["organizations", "77777777777", "receipts", "slow"], &[])
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Unreachable(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
}
