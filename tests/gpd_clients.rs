//! A drop-in for GPD's clients, end to end: where they rely on how GPD answers (booleans in
//! any case, identifiers that match nothing, the order of the checks, date-times to the
//! fraction of a second, `/info`), the gateway answers the same.

mod harness;

use harness::positions::{iuv, position};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";

fn detail(v: &Value) -> String {
    v["detail"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn boolean_query_parameters_in_any_case() {
    let server = TestServer::start().await;
    let create = |iupd: &str, base: u64, query: &str| {
        let body = position(iupd, &iuv(1, base), 1000);
        let path = format!("/organizations/{ORG}/debtpositions{query}");
        let server = &server;
        async move { server.post_json(&path, &body).await }
    };
    for (i, (value, status)) in [
        ("true", "VALID"),
        ("True", "VALID"),
        ("TRUE", "VALID"),
        ("false", "DRAFT"),
        ("False", "DRAFT"),
        ("FALSE", "DRAFT"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = create(
            &format!("B-{i}"),
            100 + i as u64,
            &format!("?toPublish={value}"),
        )
        .await;
        assert_eq!(r.status, 201, "{value}: {}", text(&r));
        assert_eq!(json(&r)["status"], status, "{value}");
    }
    for value in ["yes", "1", "", "truee", "t"] {
        let r = create("B-X", 199, &format!("?toPublish={value}")).await;
        assert_eq!(r.status, 400, "{value}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(detail(&json(&r)).contains("toPublish"), "{}", text(&r));
    }
    // The update takes the same parameter.
    let path = format!("/organizations/{ORG}/debtpositions/B-3?toPublish=TrUe");
    let r = server
        .put_json(&path, &position("B-3", &iuv(1, 103), 1000))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["status"], "VALID");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn info_says_name_version_and_environment_without_a_key() {
    let server = TestServer::start().await;
    let r = server.request_without_key("GET", "/info", &[], b"").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        json(&r),
        json!({"name": "gpd-gateway", "version": env!("CARGO_PKG_VERSION"), "environment": "local"})
    );
    let r = server.request_without_key("POST", "/info", &[], b"").await;
    assert_eq!(r.status, 405);
    server.stop().await;

    let toml = format!(
        "{}\n[instance]\nenvironment = \"uat\"\n",
        gpd_gateway::config::EXAMPLE_TOML.replace("[instance]\nenvironment = \"local\"", "")
    );
    let config = gpd_gateway::config::Config::parse(&toml, "test").unwrap();
    let server = TestServer::start_with(config, gpd_gateway::context::Clock::system()).await;
    let r = server.request_without_key("GET", "/info", &[], b"").await;
    assert_eq!(json(&r)["environment"], "uat");
    server.stop().await;
}
