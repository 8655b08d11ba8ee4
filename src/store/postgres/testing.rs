//! A fresh database for each test, in the cluster `GPD_TEST_POSTGRES` names: a libpq
//! connection string without `dbname` (`.ci/postgres.sh start` prints one). Without it the
//! PostgreSQL tests do nothing, unless `GPD_TEST_POSTGRES_REQUIRED` is set, as `.ci/run` sets
//! it: then they fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::NoTls;

use super::PgStore;
use crate::store::Store;
use crate::store::conformance::Subject;

/// The connection string of a new, empty database; None when no cluster is given.
pub async fn fresh_database() -> Option<String> {
    let Ok(cluster) = std::env::var("GPD_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("GPD_TEST_POSTGRES_REQUIRED").is_none(),
            "GPD_TEST_POSTGRES is required: start a cluster with .ci/postgres.sh"
        );
        eprintln!("GPD_TEST_POSTGRES is not set: PostgreSQL not tested");
        return None;
    };
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "gpd_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (client, connection) =
        tokio_postgres::connect(&format!("{cluster} dbname=postgres"), NoTls)
            .await
            .unwrap_or_else(|e| panic!("GPD_TEST_POSTGRES={cluster}: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    Some(format!("{cluster} dbname={name}"))
}

/// A store on a new, empty database; None when no cluster is given.
pub async fn fresh_store() -> Option<super::PgStore> {
    let url = fresh_database().await?;
    Some(super::PgStore::connect(&url, 4).await.unwrap())
}

/// Two stores on one new database, each with its own pool: two gateway instances.
pub async fn fresh_pair() -> Option<(super::PgStore, super::PgStore)> {
    let url = fresh_database().await?;
    let a = super::PgStore::connect(&url, 4).await.unwrap();
    let b = super::PgStore::connect(&url, 4).await.unwrap();
    Some((a, b))
}

/// A store on a new, empty database, and another instance's on the same database when
/// reopened: for the behaviours every store shares.
pub async fn fresh_subject() -> Option<Subject> {
    let url = fresh_database().await?;
    let store = PgStore::connect(&url, 4).await.unwrap();
    let reopen = move || {
        let url = url.clone();
        async move { Arc::new(PgStore::connect(&url, 4).await.unwrap()) as Arc<dyn Store> }
    };
    Some(Subject::new(Arc::new(store), (), reopen))
}
