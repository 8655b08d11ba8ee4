//! API keys in PostgreSQL: a key (id, hash of its secret, label, dates, segregation codes) and
//! the organizations it is bound to. Every REST request looks its key up by hash, in one
//! statement; keys created or revoked by any instance, or by the `keys` command, count at once.

use chrono::NaiveDateTime;
use tokio_postgres::Row;

use super::statements::Statements;
use super::{PgStore, db_error};
use crate::domain::FiscalCodePA;
use crate::domain::api_key::{ApiKey, KeyHash, KeyId, KeyScope};
use crate::store::StoreError;
use crate::store::columns::*;

/// A key's columns and its organizations as an array, read in one statement (one snapshot,
/// one round trip). [`key_at`] reads them in this order.
const KEY_COLUMNS: &str = "id, label, all_organizations, created_at, revoked_at, \
    segregation_codes, \
    ARRAY(SELECT organization FROM api_key_organization o WHERE o.key_id = api_key.id)";

fn key_at(r: &Row) -> Result<ApiKey, StoreError> {
    let id: String = r.try_get(0).map_err(db_error)?;
    let id = KeyId::parse(&id).map_err(|e| corrupt("api_key.id", e))?;
    let all: bool = r.try_get(2).map_err(db_error)?;
    let scope = if all {
        KeyScope::All
    } else {
        let codes: Vec<String> = r.try_get(6).map_err(db_error)?;
        let codes = codes
            .iter()
            .map(|c| {
                FiscalCodePA::parse(c).map_err(|e| corrupt("api_key_organization.organization", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        KeyScope::only(codes).map_err(|e| corrupt("api_key_organization", e))?
    };
    Ok(ApiKey {
        label: opt_text(r.try_get(1).map_err(db_error)?, "api_key.label")?,
        scope,
        segregation: segregation_scope(
            r.try_get(5).map_err(db_error)?,
            "api_key.segregation_codes",
        )?,
        created_at: from_millis(r.try_get(3).map_err(db_error)?, "api_key.created_at")?,
        revoked_at: opt_millis(r.try_get(4).map_err(db_error)?, "api_key.revoked_at")?,
        id,
    })
}

impl PgStore {
    /// Two instances storing the same id (or hash) at once: the primary key (or the unique
    /// hash) lets the first in, and the other waits for it and is refused as a duplicate.
    pub async fn create_api_key(&self, key: ApiKey, hash: KeyHash) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.exec(
            "INSERT INTO api_key (id, label, all_organizations, created_at, revoked_at,
                segregation_codes, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &key.id.as_str(),
                &key.label.as_ref().map(|l| l.as_str()),
                &(key.scope == KeyScope::All),
                &millis(key.created_at),
                &key.revoked_at.map(millis),
                &segregation_list(&key.segregation),
                &&hash.0[..],
            ],
        )
        .await
        .map_err(|e| match e {
            // The key is named by its id, whichever of its id or hash clashed.
            StoreError::Duplicate { field, .. } => StoreError::Duplicate {
                field,
                value: key.id.to_string(),
            },
            other => other,
        })?;
        if let KeyScope::Only(codes) = &key.scope {
            for code in codes {
                tx.exec(
                    "INSERT INTO api_key_organization (key_id, organization) VALUES ($1, $2)",
                    &[&key.id.as_str(), &code.as_str()],
                )
                .await?;
            }
        }
        super::commit(tx).await
    }

    /// Found through the unique index on the hash: the secret itself is never compared, so a
    /// constant-time comparison would protect nothing.
    pub async fn api_key_by_hash(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError> {
        let client = self.client().await?;
        let row = client
            .opt_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_key WHERE hash = $1"),
                &[&&hash.0[..]],
            )
            .await?;
        row.as_ref().map(key_at).transpose()
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .rows(
                &format!("SELECT {KEY_COLUMNS} FROM api_key ORDER BY created_at, id"),
                &[],
            )
            .await?;
        rows.iter().map(key_at).collect()
    }

    /// Two revocations at once: the second waits on the first's row lock, then reads the
    /// revoked row again (READ COMMITTED) and keeps its time.
    pub async fn revoke_api_key(
        &self,
        id: KeyId,
        now: NaiveDateTime,
    ) -> Result<ApiKey, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let sql = format!(
            "UPDATE api_key SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2
             RETURNING {KEY_COLUMNS}"
        );
        let row = tx
            .opt_row(&sql, &[&millis(now), &id.as_str()])
            .await?
            .ok_or(StoreError::NotFound)?;
        let key = key_at(&row)?;
        super::commit(tx).await?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::api_key::KeyScope;
    use crate::domain::position::tests::at;
    use crate::store::StoreError;
    use crate::store::conformance::api_keys::{key, orgs};
    use crate::store::postgres::{PgStore, testing};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_created_by_two_instances_at_once_is_stored_once() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let (a, b) = (
            PgStore::connect(&url, 1).await.unwrap(),
            PgStore::connect(&url, 1).await.unwrap(),
        );
        for n in 1..=10 {
            let (k, secret) = key(n, orgs(&["77777777777"]));
            let (first, second) = tokio::join!(
                a.create_api_key(k.clone(), secret.hash()),
                b.create_api_key(k.clone(), secret.hash())
            );
            let mut results = [first, second];
            results.sort_by_key(Result::is_err);
            assert_eq!(results[0], Ok(()));
            assert_eq!(
                results[1],
                Err(StoreError::Duplicate {
                    field: "key id",
                    value: k.id.to_string()
                })
            );
            assert_eq!(a.api_key_by_hash(secret.hash()).await.unwrap(), Some(k));
        }
        assert_eq!(b.list_api_keys().await.unwrap().len(), 10);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_revoked_by_two_instances_at_once_keeps_one_time() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let (a, b) = (
            PgStore::connect(&url, 1).await.unwrap(),
            PgStore::connect(&url, 1).await.unwrap(),
        );
        for n in 1..=10 {
            let (k, secret) = key(n, KeyScope::All);
            a.create_api_key(k.clone(), secret.hash()).await.unwrap();
            let (first, second) = tokio::join!(
                a.revoke_api_key(k.id.clone(), at(2031, 1, 1)),
                b.revoke_api_key(k.id.clone(), at(2032, 1, 1))
            );
            let (first, second) = (first.unwrap(), second.unwrap());
            assert_eq!(first.revoked_at, second.revoked_at);
            let stored = a.api_key_by_hash(secret.hash()).await.unwrap().unwrap();
            assert_eq!(stored.revoked_at, first.revoked_at);
        }
    }
}
