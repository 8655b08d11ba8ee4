//! The PostgreSQL store, for several gateway instances on one database. Every instance reads
//! and writes the same rows, so nothing that decides an answer is kept in one instance's
//! memory: uniqueness, sequences, claims and optimistic versions are the database's to keep.
//! Connections come from a pool; the schema is migrated at start ([`migrate`]).

use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
use tokio_postgres::{IsolationLevel, NoTls};

use crate::store::StoreError;

use errors::{db_error, unavailable};

mod aca;
mod api_keys;
mod broadcast;
mod deliveries;
pub(in crate::store) mod errors;
mod filter;
mod health;
mod journal;
mod leadership;
mod lifecycle;
mod migrate;
mod notice_jobs;
mod personal_data;
mod pipeline;
mod positions;
mod receipts;
mod reporting;
mod send;
mod sequence;
mod statements;
mod store;
pub mod testing;
mod uploads;

pub use migrate::VERSION as SCHEMA_VERSION;

/// The longest a caller waits for a connection (a free one of the pool, or a new one to a
/// database that does not answer): then it fails, `Unavailable`. Below the default deadline of
/// a SOAP answer (8 s), so that a request gets its KO from the store rather than from its own
/// timer, and a background round fails and tries again later instead of hanging.
const WAIT: Duration = Duration::from_secs(5);

pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects to the database at `url` (a libpq connection string or `postgres://` URL),
    /// brings its schema up to this binary's, and keeps up to `max_connections` connections.
    pub async fn connect(url: &str, max_connections: usize) -> Result<PgStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("the store URL does not read: {e}")))?;
        PgStore::open(config, max_connections).await
    }

    /// [`PgStore::connect`] with the connection settings already read.
    pub async fn open(
        mut config: tokio_postgres::Config,
        max_connections: usize,
    ) -> Result<PgStore, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(WAIT);
        }
        // A connection the server ended (restarted, or terminated its backend) is closed on
        // our side as soon as the server says so, and never handed out again; a query on one
        // that dies in use fails, and its request is answered as a failure.
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(WAIT))
            .recycle_timeout(Some(WAIT))
            .build()
            .map_err(unavailable)?;
        let mut client = pool.get().await.map_err(unavailable)?;
        migrate::migrate(&mut client).await?;
        drop(client);
        Ok(PgStore { pool })
    }

    /// A connection of the pool.
    pub(in crate::store) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }
}

/// Commits a write transaction, its time counted in the metrics: here each write is its own
/// transaction, so every commit is a batch of one.
async fn commit(tx: Transaction<'_>) -> Result<(), StoreError> {
    let Some(metrics) = crate::observe::metrics::metrics() else {
        return tx.commit().await.map_err(db_error);
    };
    let started = std::time::Instant::now();
    let committed = tx.commit().await.map_err(db_error);
    metrics.commit("postgres", 1, started.elapsed());
    committed
}

/// A transaction for reads that take several statements: they all see one snapshot (a
/// position, its options and its transfers as one write left them).
async fn read_transaction(client: &mut Object) -> Result<Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testing::fresh_subject;

    crate::store::conformance::suite!(fresh_subject);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_starting_together_migrate_once() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let (a, b) = tokio::join!(PgStore::connect(&url, 2), PgStore::connect(&url, 2));
        let (a, _b) = (a.unwrap(), b.unwrap());
        let client = a.pool.get().await.unwrap();
        let versions: Vec<i64> = client
            .query("SELECT version FROM schema_version ORDER BY version", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
        // A later start finds nothing to do.
        PgStore::connect(&url, 1).await.unwrap();
    }

    #[tokio::test]
    async fn a_database_migrated_by_a_newer_binary_is_refused() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let store = PgStore::connect(&url, 1).await.unwrap();
        let client = store.pool.get().await.unwrap();
        client
            .execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(SCHEMA_VERSION + 1)],
            )
            .await
            .unwrap();
        let refused = PgStore::connect(&url, 1).await.err().unwrap().to_string();
        assert!(refused.contains("newer than this binary's"), "{refused}");
    }

    #[tokio::test]
    async fn an_unreadable_url_is_refused_without_echoing_it() {
        let refused = PgStore::connect("postgres://u:secret@[::1", 1)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(refused.contains("store URL"), "{refused}");
        assert!(!refused.contains("secret"), "{refused}");
    }
}
