//! Whether the PostgreSQL store can serve: a liveness query, a readiness check that commits a
//! write and compares the schema version, and the end of the pool.

use std::ops::{Deref, DerefMut};

use chrono::NaiveDateTime;
use deadpool_postgres::Object;

use super::statements::Statements;
use super::{PgStore, SCHEMA_VERSION, db_error};
use crate::store::columns::millis;
use crate::store::{Readiness, StoreError};

impl PgStore {
    /// Cheap liveness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.row("SELECT 1", &[]).await?;
        Ok(())
    }

    /// Whether a write commits now and the schema is this binary's; both asked together.
    pub async fn readiness(&self, now: NaiveDateTime) -> Result<Readiness, StoreError> {
        let (writes, schema) = tokio::join!(self.write_probe(now), self.schema_matches());
        Ok(Readiness {
            writes: writes.map_err(|e| e.to_string()),
            schema: schema.unwrap_or_else(|e| Err(e.to_string())),
        })
    }

    /// Rewrites the probe row in a transaction of its own, committed as every other write is.
    /// Instances probing at once: the first insert makes the row, the others wait on it and
    /// update it instead, so none fails on the primary key.
    async fn write_probe(&self, now: NaiveDateTime) -> Result<(), StoreError> {
        let mut client = Checked(Some(self.client().await?));
        let tx = client.transaction().await.map_err(db_error)?;
        tx.exec(
            "INSERT INTO store_probe (id, written_at) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
            &[&millis(now)],
        )
        .await?;
        super::commit(tx).await?;
        client.release();
        Ok(())
    }

    /// Ok(Err(why)) when the database is at another schema version than this binary's.
    async fn schema_matches(&self) -> Result<Result<(), String>, StoreError> {
        let client = Checked(Some(self.client().await?));
        let version: i64 = client
            .value("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await?;
        client.release();
        if version == SCHEMA_VERSION {
            Ok(Ok(()))
        } else {
            Ok(Err(format!(
                "the database is at schema version {version}, this binary needs {SCHEMA_VERSION}"
            )))
        }
    }

    /// Closes the pool: connections in use go when they are given back, and every later call
    /// fails with `Unavailable`. Each write committed before its answer, so nothing is left
    /// to flush.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.pool.close();
        Ok(())
    }
}

/// A pooled connection the readiness check uses: given back to the pool only when the check
/// ended well. Dropped half-way (the caller timed the check out, or a statement failed), it
/// leaves the pool and is closed, since it may still be inside a transaction or waiting on a
/// lock, and the next caller must not inherit that.
struct Checked(Option<Object>);

impl Checked {
    /// The check ended: the connection goes back to the pool.
    fn release(mut self) {
        drop(self.0.take());
    }
}

impl Deref for Checked {
    type Target = Object;

    fn deref(&self) -> &Object {
        self.0.as_ref().expect("held until released")
    }
}

impl DerefMut for Checked {
    fn deref_mut(&mut self) -> &mut Object {
        self.0.as_mut().expect("held until released")
    }
}

impl Drop for Checked {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            drop(Object::take(object));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::position::tests::at;
    use crate::store::Readiness;
    use crate::store::columns::millis;
    use crate::store::postgres::{PgStore, SCHEMA_VERSION, testing};

    #[tokio::test]
    async fn ready_while_writes_commit_and_the_schema_is_this_binary_s() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let store = PgStore::connect(&url, 2).await.unwrap();
        store.ping().await.unwrap();
        let ready = Readiness {
            writes: Ok(()),
            schema: Ok(()),
        };
        assert_eq!(store.readiness(at(2030, 1, 1)).await.unwrap(), ready);
        assert_eq!(store.readiness(at(2030, 1, 2)).await.unwrap(), ready);
        let client = store.pool.get().await.unwrap();
        let written: i64 = client
            .query_one("SELECT written_at FROM store_probe WHERE id = 1", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(written, millis(at(2030, 1, 2)));

        // Migrated further by a newer binary: writes still commit, the schema is not ours.
        client
            .execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(SCHEMA_VERSION + 1)],
            )
            .await
            .unwrap();
        drop(client);
        let readiness = store.readiness(at(2030, 1, 3)).await.unwrap();
        assert_eq!(readiness.writes, Ok(()));
        let schema = readiness.schema.unwrap_err();
        let newer = format!("schema version {}", SCHEMA_VERSION + 1);
        assert!(schema.contains(&newer), "{schema}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_probe_cut_short_does_not_give_its_connection_back_to_the_pool() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let store = PgStore::connect(&url, 2).await.unwrap();
        store.readiness(at(2030, 1, 1)).await.unwrap();
        let pooled = store.pool.status().size;
        assert_eq!(pooled, 2, "the write and the schema check each took one");
        // Another session holds the probe row: the probe's write waits for it.
        let other = PgStore::connect(&url, 1).await.unwrap();
        let mut holder = other.pool.get().await.unwrap();
        let tx = holder.transaction().await.unwrap();
        tx.execute("UPDATE store_probe SET written_at = 0 WHERE id = 1", &[])
            .await
            .unwrap();
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            store.readiness(at(2030, 1, 2)),
        )
        .await;
        assert!(cut.is_err(), "the probe waited on the lock");
        // The schema check's connection went back; the write's, inside its transaction, did not.
        let status = store.pool.status();
        assert_eq!(status.size, pooled - 1, "{status:?}");
        tx.rollback().await.unwrap();
        let ready = store.readiness(at(2030, 1, 3)).await.unwrap();
        assert_eq!(ready.writes, Ok(()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_probing_at_once_all_commit() {
        for _ in 0..5 {
            let Some(url) = testing::fresh_database().await else {
                return;
            };
            let (a, b) = (
                PgStore::connect(&url, 2).await.unwrap(),
                PgStore::connect(&url, 2).await.unwrap(),
            );
            // No probe row yet: both insert it at once.
            let (first, second) =
                tokio::join!(a.readiness(at(2030, 1, 1)), b.readiness(at(2030, 1, 2)));
            for readiness in [first.unwrap(), second.unwrap()] {
                assert_eq!(readiness.writes, Ok(()));
                assert_eq!(readiness.schema, Ok(()));
            }
        }
    }
}
