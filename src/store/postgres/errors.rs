//! Database errors in the store's terms, for every area: a unique violation is a `Duplicate`
//! of the field its constraint guards; anything else is `Unavailable`, with its code and
//! message.

use std::fmt;

use tokio_postgres::error::SqlState;

use crate::store::StoreError;

pub(super) fn unavailable(e: impl fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The store's form of a database error, for every area: a unique violation is a `Duplicate`
/// of the field its constraint guards, with the value the database reports; anything else is
/// `Unavailable`, with its code and message.
pub(super) fn db_error(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error()
        && *db.code() == SqlState::UNIQUE_VIOLATION
        && let Some(field) = db.constraint().and_then(duplicate_field)
    {
        return StoreError::Duplicate {
            field,
            value: key_value(db.detail()).unwrap_or_default(),
        };
    }
    StoreError::Unavailable(describe(&e))
}

/// The JSON name of what each unique constraint keeps unique.
fn duplicate_field(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "unique_iupd" => "iupd",
        "unique_iuv" => "iuv",
        "unique_nav" => "nav",
        "transfer_pkey" => "idTransfer",
        // A clash of hashes too is told as one of key ids, as SQLite tells it: a new key's
        // secret is random, so that clash is a key made twice.
        "api_key_pkey" | "api_key_hash_key" => "key id",
        _ => return None,
    })
}

/// The last value of a unique violation's key, from its detail:
/// `Key (organization, iupd)=(77777777777, A, B) already exists.` gives `A, B` (the values
/// before it, organizations and ids, have no comma).
fn key_value(detail: Option<&str>) -> Option<String> {
    let (columns, values) = detail?.strip_prefix("Key (")?.split_once(")=(")?;
    let values = values.strip_suffix(") already exists.")?;
    let n = columns.split(", ").count();
    values.splitn(n, ", ").last().map(str::to_owned)
}

/// A database error with its message, not only its kind.
pub(in crate::store) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
