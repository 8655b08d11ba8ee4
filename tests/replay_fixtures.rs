//! Every fixture replayed against a live gateway with the testers' own tool, as
//! `gpd-gateway replay fixtures --target URL` would.

mod common;
mod harness;

use std::path::PathBuf;

use gpd_gateway::replay::{self, ReplayOptions};
use harness::TestServer;

#[tokio::test(flavor = "multi_thread")]
async fn every_fixture_passes() {
    let server = TestServer::start().await;
    let answers = tempfile::tempdir().unwrap();
    let opts = ReplayOptions {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        target: server.base.clone(),
        filter: None,
        verbose: false,
        save: Some(answers.path().to_owned()),
    };
    let mut out = Vec::new();
    let summary = replay::run(&opts, &mut out)
        .await
        .expect("fixtures are readable");
    let report = String::from_utf8_lossy(&out);
    assert_eq!(summary.failed, 0, "{report}");
    assert!(
        summary.passed >= 30,
        "expected the whole fixture set, ran {}\n{report}",
        summary.passed
    );
    assert!(
        report
            .trim_end()
            .ends_with(&format!("{} passed, 0 failed", summary.passed)),
        "{report}"
    );
    // Every answer the gateway gave validates against our schema and the official one.
    let mut checked = 0;
    for entry in std::fs::read_dir(answers.path()).unwrap() {
        let path = entry.unwrap().path();
        let answer = std::fs::read(&path).unwrap();
        common::validate_envelope(&answer).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert_eq!(checked, summary.passed);
    // Replaying twice against the same server works: each run uses its own identifiers.
    let again = replay::run(&opts, &mut Vec::new())
        .await
        .expect("second run");
    assert_eq!(again.failed, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_expectation_fails_with_a_diff() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("paVerifyPaymentNotice").join("wrong");
    std::fs::create_dir_all(&case).unwrap();
    let request = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body><pafn:paVerifyPaymentNoticeReq><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>{{NAV:01:1}}</noticeNumber></qrCode></pafn:paVerifyPaymentNoticeReq></soapenv:Body></soapenv:Envelope>"#;
    std::fs::write(case.join("request.xml"), request).unwrap();
    // The notice is unknown, so the real answer is a KO; the fixture claims OK.
    let expected = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:paf="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Header/><soapenv:Body><paf:paVerifyPaymentNoticeRes><outcome>OK</outcome></paf:paVerifyPaymentNoticeRes></soapenv:Body></soapenv:Envelope>"#;
    std::fs::write(case.join("response.xml"), expected).unwrap();
    let opts = ReplayOptions {
        dir: dir.path().to_owned(),
        target: server.base.clone(),
        filter: None,
        verbose: false,
        save: None,
    };
    let mut out = Vec::new();
    let summary = replay::run(&opts, &mut out).await.unwrap();
    let report = String::from_utf8_lossy(&out);
    assert_eq!((summary.passed, summary.failed), (0, 1), "{report}");
    assert!(
        report.contains("outcome"),
        "the diff names the element: {report}"
    );
    assert!(
        report.trim_end().ends_with("0 passed, 1 failed"),
        "{report}"
    );
    server.stop().await;
}
