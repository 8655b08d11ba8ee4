//! A fresh PostgreSQL database for an end-to-end test, in the cluster `GPD_TEST_POSTGRES`
//! names (a libpq connection string without `dbname`, as `.ci/postgres.sh start` prints). Without
//! it the test does nothing, unless `GPD_TEST_POSTGRES_REQUIRED` is set: then it fails.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::NoTls;

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
        "gpd_e2e_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let client = connect(&format!("{cluster} dbname=postgres")).await;
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    Some(format!("{cluster} dbname={name}"))
}

/// A connection to the database `url` names.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    tokio::spawn(connection);
    client
}
