//! Resource limits end to end: connections over `limits.max_connections` are shed at once and
//! verifies work again as soon as others close; a body that does not fit in what is left of
//! `limits.max_inflight_body_bytes` gets 503 (a problem document for REST, a SOAP Fault on
//! /partner) instead of being buffered.

mod harness;

use std::time::{Duration, Instant};

use gpd_gateway::client;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use harness::positions::{iuv, position};
use harness::{TestServer, text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ORG: &str = "77777777777";

/// The example configuration with these `[limits]` keys set (`key = value` lines).
fn config(limits: &[&str]) -> Config {
    let mut text = String::new();
    for line in gpd_gateway::config::EXAMPLE_TOML.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        match limits
            .iter()
            .find(|l| l.split('=').next().unwrap().trim() == key)
        {
            Some(set) => text.push_str(set),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    for set in limits {
        assert!(
            text.contains(set),
            "{set} is not a key of the example's [limits]"
        );
    }
    Config::parse(&text, "t").unwrap()
}

fn verify(notice: &str) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body><pafn:paVerifyPaymentNoticeReq><idPA>{ORG}</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{ORG}</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode></pafn:paVerifyPaymentNoticeReq></soapenv:Body></soapenv:Envelope>"#
    )
}

/// A published position to verify; its notice number.
async fn notice(server: &TestServer) -> String {
    let path = format!("/organizations/{ORG}/debtpositions?toPublish=true");
    let r = server
        .post_json(&path, &position("LIMITS-1", &iuv(1, 77), 1500))
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    format!("3{}", iuv(1, 77))
}

async fn send_verify(server: &TestServer, notice: &str) -> Result<client::Response, String> {
    client::send(
        &server.base,
        "POST",
        "/partner",
        &[
            ("Content-Type", "text/xml"),
            ("SOAPAction", "paVerifyPaymentNotice"),
        ],
        verify(notice).into_bytes(),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes (or 2 s pass: then None).
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_cap_are_shed_and_verifies_resume() {
    let server = TestServer::start_with(config(&["max_connections = 20"]), Clock::system()).await;
    let notice = notice(&server).await;

    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(connect(&server).await);
    }
    // The 21st: answered 503 and closed at once, though it sent nothing.
    let mut shed = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while shed.is_none() {
        assert!(Instant::now() < deadline, "the 21st connection was kept");
        let mut extra = connect(&server).await;
        if let Some(answer) = read_until_closed(&mut extra).await {
            shed = Some(answer);
        }
    }
    let shed = shed.unwrap();
    assert!(
        shed.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{shed:?}"
    );
    // A verify on a new connection now is shed too, quickly, not queued.
    let started = Instant::now();
    // (An error is the connection closed before the client read the 503.)
    if let Ok(r) = send_verify(&server, &notice).await {
        assert_eq!(r.status, 503);
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    // Others close: a verify gets in and is answered.
    idle.truncate(15);
    let deadline = Instant::now() + Duration::from_secs(5);
    let answer = loop {
        if let Ok(r) = send_verify(&server, &notice).await
            && r.status == 200
        {
            break text(&r);
        }
        assert!(
            Instant::now() < deadline,
            "no verify got in after others closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(answer.contains("<outcome>OK</outcome>"), "{answer}");
    drop(idle);
    server.stop().await;
}

/// Starts a request whose body never finishes: headers and the first bytes only.
async fn stalled_upload(server: &TestServer, path: &str, length: usize) -> TcpStream {
    let mut stream = connect(server).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{\"iupd\":",
        server.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Sends the head of a request with a body of `length` bytes and reads the answer, which must
/// come before the body is sent.
async fn refused_before_body(server: &TestServer, path: &str, length: usize) -> String {
    let mut stream = connect(server).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {}\r\n\
         Content-Type: text/xml\r\nSOAPAction: paVerifyPaymentNotice\r\n\
         Content-Length: {length}\r\n\r\n",
        server.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_until_closed(&mut stream)
        .await
        .expect("answered without the body")
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_in_flight_budget_are_refused() {
    let server = TestServer::start_with(
        config(&["max_inflight_body_bytes = 4096", "max_body_bytes = 2048"]),
        Clock::system(),
    )
    .await;
    let notice = notice(&server).await;
    let rest = format!("/organizations/{ORG}/debtpositions");
    let first = stalled_upload(&server, &rest, 2000).await;
    let second = stalled_upload(&server, &rest, 2000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // 4,000 of 4,096 bytes are held: 500 more do not fit.
    let answer = refused_before_body(&server, &rest, 500).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json")
    );
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));
    assert!(answer.contains("\"status\":503"), "{answer}");

    // The Node's endpoint answers in SOAP.
    let answer = refused_before_body(&server, "/partner", 500).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: text/xml"),
        "{answer}"
    );
    assert!(
        answer.contains("<faultcode>soapenv:Server</faultcode>"),
        "{answer}"
    );
    assert!(!answer.contains("\"status\""), "{answer}");

    // A request without a body needs none of the budget.
    assert_eq!(server.get("/health").await.status, 200);

    // The stalled uploads end: their bytes are given back, and verifies get through.
    drop(first);
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = send_verify(&server, &notice).await.unwrap();
        if r.status == 200 {
            assert!(text(&r).contains("<outcome>OK</outcome>"));
            break;
        }
        assert_eq!(r.status, 503, "{}", text(&r));
        assert!(Instant::now() < deadline, "the budget was not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_large_uploads_leave_room_for_verifies() {
    let server = TestServer::start_with(
        config(&[
            "max_inflight_body_bytes = 409600",
            "max_body_bytes = 204800",
        ]),
        Clock::system(),
    )
    .await;
    let notice = notice(&server).await;
    let rest = format!("/organizations/{ORG}/debtpositions");
    // Two large uploads hold 300 KiB: three quarters of the 400 KiB budget, all large ones get.
    let first = stalled_upload(&server, &rest, 150 * 1024).await;
    let second = stalled_upload(&server, &rest, 150 * 1024).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = refused_before_body(&server, &rest, 70 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    // The last quarter is there for small bodies such as the Node's.
    for _ in 0..20 {
        let r = send_verify(&server, &notice).await.unwrap();
        assert_eq!(r.status, 200, "{}", text(&r));
        assert!(text(&r).contains("<outcome>OK</outcome>"));
    }
    drop((first, second));
    server.stop().await;
}
