//! Conversions between column values and domain values, shared by the table modules. A stored
//! value that no longer parses is reported as corruption, never silently replaced.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDateTime};
use serde_json::json;

use super::connection::unavailable;
use crate::domain::party::MapEntry;
use crate::domain::receipt::ReceiptVersion;
use crate::domain::{Cents, SegregationCode, Text};
use crate::store::StoreError;

pub(super) fn corrupt(column: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored value of {column} is invalid: {problem}"))
}

pub(super) fn millis(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

pub(super) fn from_millis(ms: i64, column: &str) -> Result<NaiveDateTime, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.naive_utc())
        .ok_or_else(|| corrupt(column, ms))
}

pub(super) fn opt_millis(
    ms: Option<i64>,
    column: &str,
) -> Result<Option<NaiveDateTime>, StoreError> {
    ms.map(|m| from_millis(m, column)).transpose()
}

pub(super) fn text<const N: usize>(s: String, column: &str) -> Result<Text<N>, StoreError> {
    Text::new(s).map_err(|e| corrupt(column, e))
}

pub(super) fn opt_text<const N: usize>(
    s: Option<String>,
    column: &str,
) -> Result<Option<Text<N>>, StoreError> {
    s.map(|s| text(s, column)).transpose()
}

pub(super) fn cents(v: i64, column: &str) -> Result<Cents, StoreError> {
    Cents::new(v).map_err(|e| corrupt(column, e))
}

pub(super) fn metadata_json(entries: &[MapEntry]) -> String {
    json!(
        entries
            .iter()
            .map(|e| json!({"key": e.key.as_str(), "value": e.value.as_str()}))
            .collect::<Vec<_>>()
    )
    .to_string()
}

#[derive(serde::Deserialize)]
struct StoredEntry {
    key: String,
    value: String,
}

pub(super) fn metadata_from_json(s: &str, column: &str) -> Result<Vec<MapEntry>, StoreError> {
    let entries: Vec<StoredEntry> = serde_json::from_str(s).map_err(|e| corrupt(column, e))?;
    entries
        .into_iter()
        .map(|e| {
            Ok(MapEntry {
                key: text(e.key, column)?,
                value: text(e.value, column)?,
            })
        })
        .collect()
}

pub(super) fn map_unique(
    e: rusqlite::Error,
    fallback_field: &'static str,
    value: &str,
) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
        && msg.contains("UNIQUE")
    {
        let field = [".iupd", ".nav", ".iuv"]
            .into_iter()
            .find(|column| msg.contains(column))
            .map_or(fallback_field, |column| &column[1..]);
        return StoreError::Duplicate {
            field,
            value: value.to_owned(),
        };
    }
    unavailable(e)
}

/// A primitive version read from `column`.
pub(super) fn version_from(n: i64, column: &str) -> Result<ReceiptVersion, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(|n| ReceiptVersion::from_number(n).ok())
        .ok_or_else(|| corrupt(column, n))
}

/// Segregation codes as the list statements bind them: `,01,02,`, so that a code is found
/// with `instr` whatever the number of codes, in one cached statement.
pub(super) fn codes_pattern(codes: &BTreeSet<SegregationCode>) -> String {
    let mut pattern = String::from(",");
    for code in codes {
        pattern.push_str(&format!("{code},"));
    }
    pattern
}
