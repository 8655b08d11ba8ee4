//! Starts the real gateway on a loopback port for end-to-end tests, with a fresh store in a
//! temporary directory, and talks to it over HTTP.
#![allow(dead_code)]

pub mod receipts;
pub mod stub_station;

use std::sync::Arc;

use gpd_gateway::broadcast::outbox::Worker;
use gpd_gateway::client::{self, Response};
use gpd_gateway::config::Config;
use gpd_gateway::context::{Clock, Context};
use gpd_gateway::store::sqlite::SqliteStore;
use gpd_gateway::sweeper::Sweeper;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub base: String,
    pub ctx: Arc<Context>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    worker: Option<Worker>,
    sweeper: Option<Sweeper>,
    dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// The gateway with the built-in example configuration.
    pub async fn start() -> TestServer {
        TestServer::start_with(Config::example(), Clock::system()).await
    }

    pub async fn start_with(config: Config, clock: Clock) -> TestServer {
        TestServer::start_on(tempfile::tempdir().expect("temp dir"), config, clock).await
    }

    /// The gateway on an existing data directory (a restart), with the retry worker and the
    /// status sweeper running.
    pub async fn start_on(dir: tempfile::TempDir, config: Config, clock: Clock) -> TestServer {
        let store = SqliteStore::open(dir.path()).expect("store");
        let ctx = Arc::new(Context::new(config, Arc::new(store), clock));
        ctx.broadcaster
            .seed_stations()
            .await
            .expect("seed stations");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(gpd_gateway::http::serve(listener, ctx.clone(), async {
            let _ = rx.await;
        }));
        let worker = Some(ctx.broadcaster.spawn_worker());
        let sweeper = Some(Sweeper::spawn(
            ctx.store.clone(),
            ctx.clock,
            ctx.config.lifecycle.sweep_interval,
        ));
        TestServer {
            base,
            ctx,
            shutdown: Some(tx),
            handle: Some(handle),
            worker,
            sweeper,
            dir: Some(dir),
        }
    }

    pub async fn request(
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

    /// Stops the server gracefully and closes the store.
    pub async fn stop(self) {
        self.stop_and_keep_data().await;
    }

    /// Stops like [`TestServer::stop`] and hands back the data directory, for a restart.
    pub async fn stop_and_keep_data(mut self) -> tempfile::TempDir {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
        if let Some(s) = self.sweeper.take() {
            s.stop().await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server ends cleanly");
        }
        gpd_gateway::store::Store::close(self.ctx.store.as_ref())
            .await
            .expect("store closes");
        self.dir.take().expect("data directory")
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
