//! The store the end-to-end tests run on: SQLite in the test's data directory by default, or
//! with `GPD_TEST_STORE=postgres` a fresh database of the cluster `GPD_TEST_POSTGRES` names, one
//! per data directory. The database's connection string is kept in a file of that directory,
//! so a gateway restarted on the directory, or the binary given it, reopens the same database.
//! Also what a test does to the store behind the gateway's back, as another process would:
//! a statement, a held write lock, a schema version.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gpd_gateway::store::Store;
use gpd_gateway::store::postgres::{PgStore, testing};
use gpd_gateway::store::sqlite::SqliteStore;
use tokio_postgres::NoTls;

/// The file of a data directory that names its PostgreSQL database.
const DATABASE_FILE: &str = "postgres-database";

/// Connections of a test gateway's pool: few requests are in flight at once in a test, but
/// the background writers (deliveries, sweeper, uploads, journal, their leadership) each hold one
/// while a test keeps every table locked.
const CONNECTIONS: usize = 16;

/// Whether the tests run on PostgreSQL (`GPD_TEST_STORE=postgres`) rather than SQLite.
pub fn on_postgres() -> bool {
    match std::env::var("GPD_TEST_STORE").as_deref() {
        Err(_) | Ok("" | "sqlite") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("GPD_TEST_STORE={other}: sqlite or postgres"),
    }
}

/// True, with the reason printed, when a test of SQLite's own file is skipped on PostgreSQL.
pub fn sqlite_only(why: &str) -> bool {
    let skip = on_postgres();
    if skip {
        eprintln!("skipped on PostgreSQL: {why}");
    }
    skip
}

/// The connection string of `dir`'s database, made on first use; None on SQLite.
pub async fn database(dir: &Path) -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let file = dir.join(DATABASE_FILE);
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Some(url);
    }
    std::fs::create_dir_all(dir).expect("the data directory");
    let url = testing::fresh_database().await.expect(
        "GPD_TEST_STORE=postgres needs GPD_TEST_POSTGRES: start a cluster with .ci/postgres.sh",
    );
    std::fs::write(&file, &url).expect("the database's file");
    Some(url)
}

/// The store of `dir`: its SQLite file, or its database.
pub async fn open(dir: &Path) -> Arc<dyn Store> {
    match database(dir).await {
        Some(url) => Arc::new(PgStore::connect(&url, CONNECTIONS).await.expect("store")),
        None => Arc::new(SqliteStore::open(dir).expect("store")),
    }
}

/// The binary's arguments for `dir`'s store: `--data DIR`, or `--store URL` on PostgreSQL.
pub async fn args(dir: &Path) -> Vec<String> {
    match database(dir).await {
        Some(url) => vec!["--store".into(), url],
        None => vec!["--data".into(), dir.to_str().expect("a UTF-8 path").into()],
    }
}

/// Drops `dir`'s database, if it has one, so that databases do not pile up in the cluster.
pub async fn drop_database(dir: &Path) {
    if let Ok(url) = std::fs::read_to_string(dir.join(DATABASE_FILE)) {
        testing::drop_database(&url).await;
        let _ = std::fs::remove_file(dir.join(DATABASE_FILE));
    }
}

/// [`drop_database`] where no runtime can be awaited in (a `Drop`): on a thread of its own, and
/// never panicking, as a panic while a failed test unwinds would abort the run.
pub fn drop_database_now(dir: &Path) {
    if !dir.join(DATABASE_FILE).exists() {
        return;
    }
    let dir = dir.to_owned();
    let dropped = std::thread::spawn(move || block_on(drop_database(&dir))).join();
    if dropped.is_err() {
        eprintln!("a test database was left in the cluster");
    }
}

/// Runs `future` to its end, for the tests that are not async themselves.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// Runs `sql` on `dir`'s store from a connection of its own; returns the rows it changed.
pub async fn execute(dir: &Path, sql: &str) -> u64 {
    match database(dir).await {
        Some(url) => connect(&url).await.execute(sql, &[]).await.unwrap(),
        None => sqlite(dir).execute(sql, []).unwrap() as u64,
    }
}

/// The schema version the store records (SQLite's `user_version`, PostgreSQL's
/// `schema_version`).
pub async fn schema_version(dir: &Path) -> i64 {
    match database(dir).await {
        Some(url) => connect(&url)
            .await
            .query_one("SELECT max(version) FROM schema_version", &[])
            .await
            .unwrap()
            .get(0),
        None => sqlite(dir)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
    }
}

/// Records `version` as the store's schema version, as a binary that migrated it there would;
/// a version below the recorded one takes back what a previous call recorded.
pub async fn set_schema_version(dir: &Path, version: i64) {
    match database(dir).await {
        Some(url) => connect(&url)
            .await
            .batch_execute(&format!(
                "DELETE FROM schema_version WHERE version > {version};
                 INSERT INTO schema_version (version) VALUES ({version}) ON CONFLICT DO NOTHING"
            ))
            .await
            .unwrap(),
        None => sqlite(dir)
            .pragma_update(None, "user_version", version)
            .unwrap(),
    }
}

/// Another process holding the store's write lock until [`WriteLock::release`]: SQLite's
/// single write lock, or on PostgreSQL every table locked against writes (reads still go on).
pub enum WriteLock {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl WriteLock {
    pub async fn take(dir: &Path) -> WriteLock {
        match database(dir).await {
            Some(url) => {
                let client = connect(&url).await;
                let tables: Vec<String> = client
                    .query(
                        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'",
                        &[],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                client
                    .batch_execute(&format!(
                        "BEGIN; LOCK TABLE {} IN EXCLUSIVE MODE",
                        tables.join(", ")
                    ))
                    .await
                    .unwrap();
                WriteLock::Postgres(client)
            }
            None => {
                let conn = sqlite(dir);
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                WriteLock::Sqlite(conn)
            }
        }
    }

    pub async fn release(self) {
        match self {
            WriteLock::Sqlite(conn) => conn.execute_batch("ROLLBACK").unwrap(),
            WriteLock::Postgres(client) => client.batch_execute("ROLLBACK").await.unwrap(),
        }
    }
}

fn sqlite(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join(SqliteStore::FILE_NAME)).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

/// A connection of its own to the database `url` names.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}
