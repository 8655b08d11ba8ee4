//! The API key tables: a key (id, hash of its secret, label, dates, segregation codes) and the
//! organizations it is bound to. Created and revoked through the writer; looked up by hash on every REST request
//! through the read pool.

use chrono::NaiveDateTime;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use super::columns::*;
use super::connection::unavailable;
use crate::domain::FiscalCodePA;
use crate::domain::api_key::{ApiKey, KeyHash, KeyId, KeyScope};
use crate::store::StoreError;

const COLUMNS: &str = "id, label, all_organizations, created_at, revoked_at, segregation_codes";

/// A key from a row in [`COLUMNS`] order, its organizations read with a second statement.
fn key_at(conn: &Connection, r: &Row<'_>) -> Result<ApiKey, StoreError> {
    let id: String = r.get(0).map_err(unavailable)?;
    let id = KeyId::parse(&id).map_err(|e| corrupt("api_key.id", e))?;
    let all: bool = r.get(2).map_err(unavailable)?;
    let scope = if all {
        KeyScope::All
    } else {
        KeyScope::only(organizations_of(conn, &id)?)
            .map_err(|e| corrupt("api_key_organization", e))?
    };
    let segregation =
        segregation_scope(r.get(5).map_err(unavailable)?, "api_key.segregation_codes")?;
    Ok(ApiKey {
        label: opt_text(r.get(1).map_err(unavailable)?, "api_key.label")?,
        scope,
        segregation,
        created_at: from_millis(r.get(3).map_err(unavailable)?, "api_key.created_at")?,
        revoked_at: opt_millis(r.get(4).map_err(unavailable)?, "api_key.revoked_at")?,
        id,
    })
}

fn organizations_of(conn: &Connection, id: &KeyId) -> Result<Vec<FiscalCodePA>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT organization FROM api_key_organization WHERE key_id = ?1")
        .map_err(unavailable)?;
    let mut rows = st.query([id.as_str()]).map_err(unavailable)?;
    let mut codes = Vec::new();
    while let Some(r) = rows.next().map_err(unavailable)? {
        let code: String = r.get(0).map_err(unavailable)?;
        codes.push(
            FiscalCodePA::parse(&code)
                .map_err(|e| corrupt("api_key_organization.organization", e))?,
        );
    }
    Ok(codes)
}

pub(super) fn create(conn: &Connection, key: &ApiKey, hash: &KeyHash) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO api_key ({COLUMNS}, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .and_then(|mut st| {
            let segregation = segregation_list(&key.segregation);
            st.execute(params![
                key.id.as_str(),
                key.label.as_ref().map(|l| l.as_str()),
                key.scope == KeyScope::All,
                millis(key.created_at),
                key.revoked_at.map(millis),
                segregation,
                &hash.0[..],
            ])
        });
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            return Err(StoreError::Duplicate {
                field: "key id",
                value: key.id.to_string(),
            });
        }
        Err(e) => return Err(unavailable(e)),
    }
    if let KeyScope::Only(codes) = &key.scope {
        for code in codes {
            conn.prepare_cached(
                "INSERT INTO api_key_organization (key_id, organization) VALUES (?1, ?2)",
            )
            .and_then(|mut st| st.execute(params![key.id.as_str(), code.as_str()]))
            .map_err(unavailable)?;
        }
    }
    Ok(())
}

pub(super) fn by_hash(conn: &Connection, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
    // Found through the unique index on the hash: the secret itself is never compared, so a
    // constant-time comparison would protect nothing.
    let mut st = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_key WHERE hash = ?1"))
        .map_err(unavailable)?;
    let mut rows = st.query([&hash.0[..]]).map_err(unavailable)?;
    match rows.next().map_err(unavailable)? {
        Some(r) => key_at(conn, r).map(Some),
        None => Ok(None),
    }
}

pub(super) fn list(conn: &Connection) -> Result<Vec<ApiKey>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM api_key ORDER BY created_at, id"
        ))
        .map_err(unavailable)?;
    let mut rows = st.query([]).map_err(unavailable)?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next().map_err(unavailable)? {
        keys.push(key_at(conn, r)?);
    }
    Ok(keys)
}

pub(super) fn revoke(
    conn: &Connection,
    id: &KeyId,
    now: NaiveDateTime,
) -> Result<ApiKey, StoreError> {
    conn.prepare_cached("UPDATE api_key SET revoked_at = coalesce(revoked_at, ?1) WHERE id = ?2")
        .and_then(|mut st| st.execute(params![millis(now), id.as_str()]))
        .map_err(unavailable)?;
    let mut st = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_key WHERE id = ?1"))
        .map_err(unavailable)?;
    st.query_row([id.as_str()], |r| Ok(key_at(conn, r)))
        .optional()
        .map_err(unavailable)?
        .ok_or(StoreError::NotFound)?
}

#[cfg(test)]
mod tests {
    use crate::domain::api_key::{
        ApiKey, ApiKeySecret, KeyId, KeyScope, SECRET_BYTES, SegregationScope,
    };
    use crate::domain::position::tests::at;
    use crate::domain::{FiscalCodePA, Text};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Store, StoreError};

    fn key(n: u8, scope: KeyScope) -> (ApiKey, ApiKeySecret) {
        let secret = ApiKeySecret::from_random([n; 6], [n; SECRET_BYTES]);
        let key = ApiKey {
            id: secret.id(),
            label: Some(Text::new(format!("key {n}")).unwrap()),
            scope,
            segregation: SegregationScope::All,
            created_at: at(2030, 1, n.into()),
            revoked_at: None,
        };
        (key, secret)
    }

    fn orgs(codes: &[&str]) -> KeyScope {
        KeyScope::only(codes.iter().map(|c| FiscalCodePA::parse(c).unwrap())).unwrap()
    }

    #[tokio::test]
    async fn keys_are_found_by_hash_listed_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let (bound, bound_secret) = key(1, orgs(&["88888888888", "77777777777"]));
        let (all, all_secret) = key(2, KeyScope::All);
        let (mut unlabelled, _) = key(3, orgs(&["77777777777"]));
        unlabelled.label = None;
        unlabelled.segregation =
            SegregationScope::only(SegregationScope::parse_list("02,01").unwrap()).unwrap();
        for (k, s) in [(&bound, &bound_secret), (&all, &all_secret)] {
            store.create_api_key(k.clone(), s.hash()).await.unwrap();
        }
        let third = ApiKeySecret::from_random([3; 6], [3; SECRET_BYTES]);
        store
            .create_api_key(unlabelled.clone(), third.hash())
            .await
            .unwrap();

        let found = store.api_key_by_hash(bound_secret.hash()).await.unwrap();
        assert_eq!(found.as_ref(), Some(&bound));
        assert_eq!(
            store.api_key_by_hash(all_secret.hash()).await.unwrap(),
            Some(all.clone())
        );
        let stranger = ApiKeySecret::from_random([9; 6], [9; SECRET_BYTES]);
        assert_eq!(store.api_key_by_hash(stranger.hash()).await.unwrap(), None);
        assert_eq!(
            store.list_api_keys().await.unwrap(),
            vec![bound.clone(), all.clone(), unlabelled.clone()]
        );

        // Neither the id nor the hash may be reused.
        let (same_id, _) = key(1, KeyScope::All);
        assert!(matches!(
            store.create_api_key(same_id, stranger.hash()).await,
            Err(StoreError::Duplicate { .. })
        ));
        let (other, _) = key(4, KeyScope::All);
        assert!(matches!(
            store.create_api_key(other, bound_secret.hash()).await,
            Err(StoreError::Duplicate { .. })
        ));
        assert_eq!(store.list_api_keys().await.unwrap().len(), 3);

        let revoked = store
            .revoke_api_key(bound.id.clone(), at(2031, 1, 1))
            .await
            .unwrap();
        assert_eq!(revoked.revoked_at, Some(at(2031, 1, 1)));
        assert!(revoked.is_revoked());
        let again = store
            .revoke_api_key(bound.id.clone(), at(2032, 1, 1))
            .await
            .unwrap();
        assert_eq!(again.revoked_at, Some(at(2031, 1, 1)));
        assert_eq!(
            store.api_key_by_hash(bound_secret.hash()).await.unwrap(),
            Some(revoked)
        );
        assert_eq!(
            store
                .revoke_api_key(KeyId::parse("000000000000").unwrap(), at(2031, 1, 1))
                .await,
            Err(StoreError::NotFound)
        );
        // Still there after a restart.
        store.close().await.unwrap();
        let reopened = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(reopened.list_api_keys().await.unwrap().len(), 3);
        assert!(
            reopened
                .api_key_by_hash(all_secret.hash())
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn keys_stored_before_segregation_codes_keep_every_code() {
        use rusqlite::Connection;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SqliteStore::FILE_NAME);
        let (old, secret) = key(5, orgs(&["77777777777"]));
        {
            // A data file at schema version 3, the first with API keys, holding one.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
            for sql in &super::super::MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO api_key (id, hash, label, all_organizations, created_at)
                 VALUES (?1, ?2, 'key 5', 0, ?3)",
                rusqlite::params![
                    old.id.as_str(),
                    &secret.hash().0[..],
                    super::millis(old.created_at)
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO api_key_organization (key_id, organization) VALUES (?1, '77777777777')",
                [old.id.as_str()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let found = store.api_key_by_hash(secret.hash()).await.unwrap();
        assert_eq!(found, Some(old));
        assert_eq!(found.unwrap().segregation, SegregationScope::All);
        store.close().await.unwrap();
    }
}
