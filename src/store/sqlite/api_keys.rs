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
    use crate::domain::api_key::SegregationScope;
    use crate::store::Store;
    use crate::store::conformance::api_keys::{key, orgs};
    use crate::store::sqlite::SqliteStore;

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
