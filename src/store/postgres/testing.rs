//! For tests only, the store's own and the end-to-end suite's: a fresh database for each test,
//! in the cluster `GPD_TEST_POSTGRES` names, a libpq connection string without `dbname`
//! (`.ci/postgres.sh start` prints one), and its drop once the test is done with it. Without
//! it the PostgreSQL tests do nothing, unless `GPD_TEST_POSTGRES_REQUIRED` is set, as `.ci/run`
//! sets it: then they fail.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
    Some(create_database(&cluster).await)
}

/// A new, empty database in `cluster`, named to be dropped by [`drop_database`]; its
/// connection string.
pub async fn create_database(cluster: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // The time as well as the process: a cluster kept across runs may see a process id again.
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let name = format!(
        "gpd_test_{}_{started}_{}",
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
    format!("{cluster} dbname={name}")
}

/// Drops the database `url` names (one [`fresh_database`] made), closing the connections
/// still open to it.
pub async fn drop_database(url: &str) {
    let mut config: tokio_postgres::Config = url.parse().expect("a connection string");
    let name = config
        .get_dbname()
        .expect("the connection string names a database")
        .to_owned();
    assert!(name.starts_with("gpd_test_"), "not a test database: {name}");
    let (client, connection) = config
        .dbname("postgres")
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("the cluster of {name}: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap_or_else(|e| panic!("DROP DATABASE {name}: {e}"));
}

/// A store on a new, empty database; None when no cluster is given.
#[cfg(test)]
pub async fn fresh_store() -> Option<super::PgStore> {
    let url = fresh_database().await?;
    Some(super::PgStore::connect(&url, 4).await.unwrap())
}

/// Two stores on one new database, each with its own pool: two gateway instances.
#[cfg(test)]
pub async fn fresh_pair() -> Option<(super::PgStore, super::PgStore)> {
    let url = fresh_database().await?;
    let a = super::PgStore::connect(&url, 4).await.unwrap();
    let b = super::PgStore::connect(&url, 4).await.unwrap();
    Some((a, b))
}

/// A store on a new, empty database, and another instance's on the same database when
/// reopened: for the behaviours every store shares.
#[cfg(test)]
pub async fn fresh_subject() -> Option<crate::store::conformance::Subject> {
    use std::sync::Arc;

    use crate::store::Store;

    let url = fresh_database().await?;
    let store = super::PgStore::connect(&url, 4).await.unwrap();
    let reopen = move || {
        let url = url.clone();
        async move { Arc::new(super::PgStore::connect(&url, 4).await.unwrap()) as Arc<dyn Store> }
    };
    Some(crate::store::conformance::Subject::new(
        Arc::new(store),
        (),
        reopen,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_database_is_gone_even_with_a_store_still_on_it() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let store = super::super::PgStore::connect(&url, 2).await.unwrap();
        store.ping().await.unwrap();
        drop_database(&url).await;
        assert!(super::super::PgStore::connect(&url, 1).await.is_err());
        // One already gone: nothing to do, and no error.
        drop_database(&url).await;
    }
}
