//! Honest answers when the store cannot serve: `/ready` names the failing part while `/health`
//! stays a liveness check, and `/partner` answers SOAP (the operation's KO, or a SOAP Fault),
//! never a JSON problem body, whether the store is locked by another process or the request
//! is one the endpoint does not take.

mod common;
mod harness;

use std::time::Duration;

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use harness::receipts::{ReceiptRequest, iuv};
use harness::store::{WriteLock, schema_version, set_schema_version};
use harness::{TestServer, json, text};

async fn ready(server: &TestServer) -> (u16, serde_json::Value) {
    let r = server.get("/ready").await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    (r.status, json(&r))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_locked_by_another_process_is_not_ready_and_the_node_still_gets_soap() {
    let mut config = Config::example();
    config.limits.request_timeout = Duration::from_secs(2);
    let server = TestServer::start_with(config, Clock::system()).await;
    let (status, body) = ready(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["store"]["status"], "UP");

    // Another process takes the write lock and keeps it.
    let other = WriteLock::take(server.data_dir()).await;

    let (status, body) = ready(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["checks"]["store"]["status"], "DOWN");
    assert!(body["checks"]["store"]["reason"].is_string(), "{body}");
    assert_eq!(body["checks"]["schema"]["status"], "UP");
    assert_eq!(
        server.get("/health").await.status,
        200,
        "alive all the same"
    );

    let receipt = ReceiptRequest::v2("locked-1", &iuv("01", 9_990), 100);
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.header("content-type").unwrap().starts_with("text/xml"));
    common::validate_envelope(&r.body).unwrap();
    assert!(
        text(&r).contains("<faultCode>PAA_SYSTEM_ERROR</faultCode>"),
        "{}",
        text(&r)
    );

    other.release().await;
    // Once the lock is gone: ready again, and the Node's retry is stored.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = ready(&server).await;
        if status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    server.stop().await;
}

#[tokio::test]
async fn a_store_migrated_by_a_newer_binary_or_a_closed_store_is_not_ready() {
    let server = TestServer::start().await;
    let version = schema_version(server.data_dir()).await;
    set_schema_version(server.data_dir(), 99).await;
    let (status, body) = ready(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["schema"]["status"], "DOWN");
    let reason = body["checks"]["schema"]["reason"].as_str().unwrap();
    assert!(reason.contains("schema version 99"), "{reason}");
    set_schema_version(server.data_dir(), version).await;
    assert_eq!(ready(&server).await.0, 200);

    gpd_gateway::store::Store::close(server.ctx.store.as_ref())
        .await
        .unwrap();
    let (status, body) = ready(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["store"]["status"], "DOWN");
    assert_eq!(server.get("/health").await.status, 503);
}

#[tokio::test]
async fn the_nodes_endpoint_answers_soap_to_whatever_it_is_asked() {
    let server = TestServer::start().await;
    for (method, status) in [("GET", 404), ("PUT", 405), ("DELETE", 405)] {
        let r = server.request(method, "/partner", &[], b"").await;
        assert_eq!(r.status, status, "{method}");
        assert!(
            r.header("content-type").unwrap().starts_with("text/xml"),
            "{method}"
        );
        common::validate_envelope(&r.body).unwrap();
        assert!(text(&r).contains("Fault>"), "{method}: {}", text(&r));
    }
    server.stop().await;
}
