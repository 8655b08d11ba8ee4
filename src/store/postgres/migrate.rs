//! The schema, brought up to this binary's at start. Several instances may start together, so
//! the migrations run under a session advisory lock: one instance applies them, the others wait
//! and then find nothing left to do. Each migration commits with its version recorded, so a
//! start that dies halfway resumes where it stopped.

use tokio_postgres::Client;

use super::errors::{describe, unavailable};
use crate::store::StoreError;

/// The migrations, in order; a version is its place in this list, from 1.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_schema.sql")];

/// The advisory lock the migrations run under (any number, the same in every instance).
const MIGRATION_LOCK: i64 = 0x0067_7064_5f6d_6967; // "gpd_mig"

/// The schema version this binary needs.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the migrations `client`'s database lacks; refuses one migrated by a newer binary.
pub async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(unavailable)?;
    let applied = apply(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(unavailable);
    applied.and(unlocked.map(|_| ()))
}

async fn apply(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                version bigint PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(unavailable)?;
    let current: i64 = client
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .map_err(unavailable)?
        .get(0);
    if current > VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database is at schema version {current}, newer than this binary's {VERSION}: run a newer gpd-gateway"
        )));
    }
    for (version, sql) in (1_i64..).zip(MIGRATIONS).skip(current as usize) {
        let tx = client.transaction().await.map_err(unavailable)?;
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Unavailable(format!("migration {version}: {}", describe(&e)))
        })?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}
