//! The schema, brought up to this binary's at start. Several instances may start together, so
//! the migrations run under a session advisory lock: one instance applies them, the others wait
//! and then find nothing left to do. Each migration commits with its version recorded, so a
//! start that dies halfway resumes where it stopped.

use tokio_postgres::Client;

use super::errors::{describe, unavailable};
use crate::store::StoreError;

/// The migrations, in order; a version is its place in this list, from 1.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_personal_data.sql"),
    include_str!("migrations/0003_event_journal.sql"),
    include_str!("migrations/0004_aca_mirror.sql"),
    include_str!("migrations/0005_reporting_flows.sql"),
    include_str!("migrations/0006_recovered_receipts.sql"),
    include_str!("migrations/0007_send_notification.sql"),
    include_str!("migrations/0008_notice_jobs.sql"),
    include_str!("migrations/0009_receipt_recovery.sql"),
    include_str!("migrations/0010_payment_in_place.sql"),
];

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
    // Looked for rather than `CREATE TABLE IF NOT EXISTS`, whose notice on every later start
    // the driver logs, into the output of every command that opens the store.
    let created: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await
        .map_err(unavailable)?
        .get(0);
    if !created {
        client
            .batch_execute(
                "CREATE TABLE schema_version (
                    version bigint PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(unavailable)?;
    }
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio_postgres::{AsyncMessage, NoTls};

    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{DebtPosition, Iupd};
    use crate::store::PositionKey;
    use crate::store::conformance::org;
    use crate::store::postgres::PgStore;
    use crate::store::postgres::testing;
    use crate::store::receipt_fixtures::{ORG, new_receipt, valid};

    /// Position `n` of the creditor, payable, with one option.
    fn payable(n: u64) -> DebtPosition {
        DebtPosition {
            iupd: Iupd::parse(&format!("IUPD-{n}")).unwrap(),
            ..valid(position(vec![option(n, 300, at(2030, 1, 1), false)]))
        }
    }

    #[tokio::test]
    async fn the_payment_in_place_applies_to_a_database_with_positions() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let store = PgStore::connect(&url, 1).await.unwrap();
        let positions: Vec<DebtPosition> = (1..=3).map(payable).collect();
        for p in &positions {
            store.create_position(p.clone()).await.unwrap();
        }
        // The schema as migration 9 left it.
        store
            .client()
            .await
            .unwrap()
            .batch_execute(
                "DROP INDEX payment_option_iuv;
                 CREATE INDEX payment_option_paid_iuv ON payment_option (iuv)
                     WHERE status <> 'PO_UNPAID';
                 ALTER TABLE payment_option RESET (fillfactor);
                 DELETE FROM schema_version WHERE version > 9;",
            )
            .await
            .unwrap();
        drop(store);

        // Two connections: one for the checks, one for the store's own writes.
        let store = PgStore::connect(&url, 2).await.unwrap();
        let client = store.client().await.unwrap();
        let indexes: Vec<String> = client
            .query(
                "SELECT indexname::text FROM pg_indexes WHERE tablename = 'payment_option'
                 AND indexname LIKE 'payment_option%iuv' ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(indexes, ["payment_option_iuv"]);
        let options: Vec<String> = client
            .query_one(
                "SELECT reloptions FROM pg_class WHERE relname = 'payment_option'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(options, ["fillfactor=85"]);
        for p in &positions {
            let key = PositionKey::Iupd(p.iupd.clone());
            assert_eq!(store.get_position(org(), key).await, Ok(Some(p.clone())));
        }

        // A payment now rewrites its option row in place.
        let nav = positions[1].options[0].nav.clone();
        store
            .acquire_receipt(new_receipt("after", &nav, &[ORG]))
            .await
            .unwrap();
        // Each backend reports its counts within a second or so of its last transaction.
        let deadline = Instant::now() + Duration::from_secs(20);
        let (updates, hot) = loop {
            let row = client
                .query_one(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
                     WHERE relname = 'payment_option'",
                    &[],
                )
                .await
                .unwrap();
            let counts: (i64, i64) = (row.get(0), row.get(1));
            if counts.0 > 0 || Instant::now() > deadline {
                break counts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!((updates, hot), (1, 1));
    }

    #[tokio::test]
    async fn migrations_and_later_starts_send_no_notices() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let (mut client, mut connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        let (tx, mut notices) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                if let Ok(AsyncMessage::Notice(notice)) = message {
                    let _ = tx.send(notice.message().to_owned());
                }
            }
        });
        migrate(&mut client).await.unwrap();
        migrate(&mut client).await.unwrap();
        // A round trip after the migrations: any notice they caused has arrived by its end.
        client.simple_query("SELECT 1").await.unwrap();
        drop(client);
        let mut seen = Vec::new();
        while let Some(notice) = notices.recv().await {
            seen.push(notice);
        }
        assert!(seen.is_empty(), "{seen:?}");
    }
}
