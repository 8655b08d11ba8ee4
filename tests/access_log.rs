//! The access log of the real binary: one line per request at info, target `access`, with the
//! request id, what answered, status, outcome and faultCode, key id and duration, in text and
//! in JSON (`--log-format json`), never a fiscal code, notice number or IUPD; and none at all
//! with `[log] access = false`.

mod harness;

use std::time::{Duration, Instant};

use gpd_gateway::client;
use gpd_gateway::config::EXAMPLE_TOML;
use harness::binary::Process;
use serde_json::Value;

const FISCAL_CODE: &str = "RSSMRA80A01H501U";

/// A notice no position has.
fn notice() -> String {
    format!("3{}", harness::positions::iuv(1, 71))
}

/// A request: method, path, headers, body.
type Request<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>);

/// Sends the requests of each test; returns each one's request id and status.
async fn send_requests(base: &str) -> Vec<(String, u16)> {
    let verify = harness::soap::verify_request(&notice());
    let iupd_path = format!("/organizations/77777777777/debtpositions/IUPD-{FISCAL_CODE}");
    let requests: Vec<Request<'_>> = vec![
        (
            "GET",
            "/health",
            vec![("X-Request-Id", "given-id-1")],
            vec![],
        ),
        (
            "POST",
            "/partner",
            vec![
                ("Content-Type", "text/xml"),
                ("SOAPAction", "paVerifyPaymentNotice"),
            ],
            verify.into_bytes(),
        ),
        ("GET", &iupd_path, vec![], vec![]),
        ("GET", "/nowhere", vec![], vec![]),
    ];
    let mut ids = Vec::new();
    for (method, path, headers, body) in requests {
        let r = client::send(base, method, path, &headers, body)
            .await
            .expect("the gateway answers");
        let id = r.header("x-request-id").expect("X-Request-Id").to_owned();
        ids.push((id, r.status));
    }
    assert_eq!(ids[0].0, "given-id-1");
    ids
}

/// The log's access lines, once there are `n` (the writer is asynchronous).
fn access_lines(process: &Process, n: usize, is_access: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines: Vec<String> = process
            .log()
            .lines()
            .filter(|l| is_access(l))
            .map(str::to_owned)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} access lines, expected {n}:\n{}",
            lines.len(),
            process.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn no_personal_data(log: &str) {
    for personal in [FISCAL_CODE, &notice(), "IUPD-"] {
        assert!(!log.contains(personal), "{personal} logged:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_text_line_per_request_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let process = Process::serve(&["--data", data.to_str().unwrap()], dir.path().join("log"));
    let ids = send_requests(&process.base).await;
    let lines = access_lines(&process, ids.len(), |l| l.contains(" access: "));
    assert_eq!(lines.len(), ids.len(), "{lines:#?}");
    let expected = [
        (r#"answered="/health""#, r#"method="GET""#),
        (r#"answered="paVerifyPaymentNotice""#, r#"method="POST""#),
        (
            r#"answered="/organizations/{fiscalCode}/debtpositions/{iupd}""#,
            r#"method="GET""#,
        ),
        (r#"answered="unmatched""#, r#"method="GET""#),
    ];
    for ((line, (id, status)), (answered, method)) in lines.iter().zip(&ids).zip(expected) {
        assert!(line.contains(" INFO access: request "), "{line}");
        for field in [
            format!(r#"request_id="{id}""#),
            answered.to_owned(),
            method.to_owned(),
            format!("status={status}"),
            "micros=".to_owned(),
        ] {
            assert!(line.contains(&field), "{field} not in {line}");
        }
    }
    assert!(lines[1].contains(r#"outcome="KO""#), "{}", lines[1]);
    assert!(
        lines[1].contains(r#"fault_code="PAA_PAGAMENTO_SCONOSCIUTO""#),
        "{}",
        lines[1]
    );
    // A request without a valid key has no key id.
    assert!(!lines[2].contains("key="), "{}", lines[2]);
    no_personal_data(&process.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_carry_the_same_fields() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let process = Process::serve(
        &["--data", data.to_str().unwrap(), "--log-format", "json"],
        dir.path().join("log"),
    );
    let ids = send_requests(&process.base).await;
    let lines = access_lines(&process, ids.len(), |l| l.contains(r#""target":"access""#));
    assert_eq!(lines.len(), ids.len());
    // Every line is JSON, not only the access log's.
    for line in process.log().lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let answered = [
        "/health",
        "paVerifyPaymentNotice",
        "/organizations/{fiscalCode}/debtpositions/{iupd}",
        "unmatched",
    ];
    for ((line, (id, status)), answered) in lines.iter().zip(&ids).zip(answered) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["level"], "INFO");
        let f = &v["fields"];
        assert_eq!(f["message"], "request");
        assert_eq!(f["request_id"], id.as_str());
        assert_eq!(f["answered"], answered);
        assert_eq!(f["status"], *status);
        assert!(f["micros"].is_u64(), "{line}");
    }
    let verify: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(verify["fields"]["outcome"], "KO");
    assert_eq!(verify["fields"]["fault_code"], "PAA_PAGAMENTO_SCONOSCIUTO");
    no_personal_data(&process.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_access_lines_when_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    let text = EXAMPLE_TOML.replace("access = true", "access = false");
    assert_ne!(text, EXAMPLE_TOML);
    std::fs::write(&config, text).unwrap();
    let data = dir.path().join("data");
    // The server's debug line per request shows when the requests' lines are written.
    let process = Process::serve_with_env(
        &[
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &[("RUST_LOG", "info,gpd_gateway::http::server=debug")],
        dir.path().join("log"),
    );
    let ids = send_requests(&process.base).await;
    access_lines(&process, ids.len(), |l| {
        l.contains(" DEBUG ") && l.contains(": request ")
    });
    let log = process.log();
    assert!(!log.contains(" access: "), "{log}");
}
