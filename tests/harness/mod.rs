//! Starts the real gateway on a loopback port for end-to-end tests, with a fresh store for a
//! temporary directory (SQLite in it, or a PostgreSQL database it names: [`store`]), and talks
//! to it over HTTP. Each server has an API key that acts for
//! every organization, and `request` (with `get`, `post_json`…) sends it to every path that
//! needs one, unless the caller sends its own key header; `request_as` and
//! `request_without_key` are for the tests of keys themselves.
#![allow(dead_code)]

pub mod aca_stub;
pub mod binary;
pub mod bizevents;
pub mod loopback;
#[path = "../common/openapi.rs"]
pub mod openapi;
pub mod pdf_tools;
pub mod platform_stub;
pub mod positions;
pub mod receipts;
pub mod soap;
pub mod store;
pub mod stub_station;
pub mod tls;

use std::sync::Arc;

use gpd_gateway::background::Background;
use gpd_gateway::client::{self, Response};
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::context::Context;
use gpd_gateway::domain::api_key::{ApiKeySecret, KeyScope, SegregationScope};
use gpd_gateway::domain::{FiscalCodePA, SegregationCode};
use gpd_gateway::store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// `config` with broadcast stations allowed on loopback, over plain http: where the tests'
/// stub stations listen. By default receipts only go to public addresses over https.
pub fn loopback_stations(mut config: Config) -> Config {
    config.broadcast.destinations.allowed_networks =
        vec!["127.0.0.0/8".parse().expect("a network")];
    config
}

pub struct TestServer {
    pub base: String,
    pub ctx: Arc<Context>,
    /// The secret of a key for all organizations, sent by [`TestServer::request`].
    pub key: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    worker: Option<Background>,
    sweeper: Option<Background>,
    uploads: Option<Background>,
    aca: Option<Background>,
    notice_jobs: Option<gpd_gateway::notice_jobs::worker::Workers>,
    dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// The gateway with the built-in example configuration, and stations on loopback allowed.
    pub async fn start() -> TestServer {
        TestServer::start_with(loopback_stations(Config::example()), Clock::system()).await
    }

    pub async fn start_with(config: Config, clock: Clock) -> TestServer {
        TestServer::start_on(tempfile::tempdir().expect("temp dir"), config, clock).await
    }

    /// The gateway on an existing data directory (a restart), with the retry worker and the
    /// status sweeper running.
    pub async fn start_on(dir: tempfile::TempDir, config: Config, clock: Clock) -> TestServer {
        let store = store::open(dir.path()).await;
        let mut server = TestServer::start_with_store(store, config, clock).await;
        server.dir = Some(dir);
        server
    }

    /// The gateway on `store` (a PostgreSQL database, say), as [`TestServer::start_on`].
    pub async fn start_with_store(
        store: Arc<dyn Store>,
        config: Config,
        clock: Clock,
    ) -> TestServer {
        let ctx = Arc::new(Context::new(config, store, clock));
        ctx.broadcaster
            .seed_stations()
            .await
            .expect("seed stations");
        let aca = gpd_gateway::aca::mirror::Mirror::new(&ctx.config, ctx.store.clone(), ctx.clock);
        aca.prepare().await.expect("ACA creditors");
        gpd_gateway::primitives::send_rt::fill_in_digests(ctx.store.as_ref())
            .await
            .expect("receipt digests");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(gpd_gateway::http::serve(listener, ctx.clone(), async {
            let _ = rx.await;
        }));
        let worker = Some(ctx.broadcaster.spawn_worker());
        // For every organization, not just the configured ones, so that a test can still see
        // how an unknown creditor is answered (404) with a key.
        let (_, key) =
            gpd_gateway::keys::issue(ctx.store.as_ref(), KeyScope::All, None, ctx.clock.now())
                .await
                .expect("test API key");
        let sweeper = Some(gpd_gateway::sweeper::spawn(
            ctx.store.clone(),
            ctx.clock,
            ctx.config.lifecycle.sweep_interval,
            ctx.config.retention.receipts,
            ctx.config.journal.retention_months,
        ));
        let uploads = Some(gpd_gateway::import::upload::spawn_worker(ctx.clone()));
        let aca = aca.spawn();
        let notice_jobs = Some(gpd_gateway::notice_jobs::spawn(ctx.clone()));
        TestServer {
            base,
            ctx,
            key: key.reveal().to_owned(),
            shutdown: Some(tx),
            handle: Some(handle),
            worker,
            sweeper,
            uploads,
            aca,
            notice_jobs,
            dir: None,
        }
    }

    /// Sends a request with the server's key, except to public paths and when `headers` already
    /// carry `Authorization` or `Ocp-Apim-Subscription-Key`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let has_key = headers.iter().any(|(name, _)| {
            name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("ocp-apim-subscription-key")
        });
        let route = path.split('?').next().unwrap_or(path);
        if has_key || gpd_gateway::http::routes::is_public(route) {
            return self.request_without_key(method, path, headers, body).await;
        }
        self.request_as(&self.key, method, path, headers, body)
            .await
    }

    /// Sends a request with `key` in `Ocp-Apim-Subscription-Key`.
    pub async fn request_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut with_key = headers.to_vec();
        with_key.push(("Ocp-Apim-Subscription-Key", key));
        self.request_without_key(method, path, &with_key, body)
            .await
    }

    /// Sends a request exactly as given: no key added.
    pub async fn request_without_key(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        client::send(&self.base, method, path, headers, body.to_vec())
            .await
            .expect("request reaches the server")
    }

    /// Creates a position of `organization` (published with `publish`) and checks it is 201.
    pub async fn create_position(
        &self,
        organization: &str,
        body: &serde_json::Value,
        publish: bool,
    ) {
        let path = format!("/organizations/{organization}/debtpositions?toPublish={publish}");
        let r = self.post_json(&path, body).await;
        assert_eq!(r.status, 201, "{}", text(&r));
    }

    /// Adds broadcast station `station` of `organization`, reached at `url` with paSendRTV2,
    /// and checks it is 201.
    pub async fn add_station(&self, organization: &str, station: &str, url: &str) {
        let r = self
            .put_json(
                &format!("/organizations/{organization}/broadcast-stations/{station}"),
                &serde_json::json!({"brokerId": "99999999999", "url": url, "primitiveVersion": 2}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", text(&r));
    }

    /// A new key for these organizations (an empty list: for all of them); returns its secret.
    pub async fn create_key(&self, organizations: &[&str]) -> String {
        let scope = if organizations.is_empty() {
            KeyScope::All
        } else {
            KeyScope::only(
                organizations
                    .iter()
                    .map(|o| FiscalCodePA::parse(o).expect("fiscal code")),
            )
            .expect("scope")
        };
        let (_, secret) =
            gpd_gateway::keys::issue(self.ctx.store.as_ref(), scope, None, self.ctx.clock.now())
                .await
                .expect("API key");
        secret.reveal().to_owned()
    }

    /// A new key for one organization, limited to these segregation codes; returns its secret.
    pub async fn create_segregated_key(&self, organization: &str, codes: &[&str]) -> String {
        let scope = KeyScope::only([FiscalCodePA::parse(organization).expect("fiscal code")])
            .expect("scope");
        let codes = codes
            .iter()
            .map(|c| SegregationCode::parse(c).expect("segregation code"));
        let segregation = SegregationScope::only(codes).expect("codes");
        let (_, secret) = gpd_gateway::keys::issue_limited(
            self.ctx.store.as_ref(),
            scope,
            segregation,
            None,
            self.ctx.clock.now(),
        )
        .await
        .expect("API key");
        secret.reveal().to_owned()
    }

    /// Revokes the key with this secret.
    pub async fn revoke_key(&self, secret: &str) {
        let id = ApiKeySecret::parse(secret).expect("a key").id();
        self.ctx
            .store
            .revoke_api_key(id, self.ctx.clock.now())
            .await
            .expect("revoked");
    }

    pub async fn soap(&self, action: Option<&str>, body: &str) -> Response {
        let mut headers = vec![("Content-Type", "text/xml; charset=utf-8")];
        if let Some(a) = action {
            headers.push(("SOAPAction", a));
        }
        self.request("POST", "/partner", &headers, body.as_bytes())
            .await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }

    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request(
            "PUT",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[], b"").await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"").await
    }

    /// The data directory of the running server's store.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.as_ref().expect("data directory").path()
    }

    /// Stops the server gracefully, closes the store and drops its database if it has one.
    pub async fn stop(mut self) {
        self.shut_down().await;
        if let Some(dir) = self.dir.take() {
            store::drop_database(dir.path()).await;
        }
    }

    /// Stops like [`TestServer::stop`] and hands back the data directory, for a restart.
    pub async fn stop_and_keep_data(mut self) -> tempfile::TempDir {
        self.shut_down().await;
        self.dir.take().expect("data directory")
    }

    async fn shut_down(&mut self) {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
        if let Some(s) = self.sweeper.take() {
            s.stop().await;
        }
        if let Some(u) = self.uploads.take() {
            u.stop().await;
        }
        if let Some(a) = self.aca.take() {
            a.stop().await;
        }
        if let Some(n) = self.notice_jobs.take() {
            n.stop().await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server ends cleanly");
        }
        self.ctx.journal.flush().await;
        gpd_gateway::store::Store::close(self.ctx.store.as_ref())
            .await
            .expect("store closes");
    }
}

impl Drop for TestServer {
    /// A server its test did not stop (it failed, or ended early) leaves no database behind.
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            store::drop_database_now(dir.path());
        }
    }
}

pub fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&response.body)
        );
    })
}

pub fn text(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// Polls until `check` holds, for up to ten seconds.
pub async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
