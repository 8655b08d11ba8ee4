//! Conversions between column values and domain values that every store makes the same way:
//! times as milliseconds since the epoch, texts and amounts checked again on the way out,
//! metadata as a JSON list. A stored value that no longer parses is reported as corruption,
//! never silently replaced.

use chrono::{DateTime, NaiveDateTime};
use serde_json::json;

use crate::domain::party::MapEntry;
use crate::domain::receipt::ReceiptVersion;
use crate::domain::{Cents, Text};
use crate::store::StoreError;

pub(in crate::store) fn corrupt(column: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored value of {column} is invalid: {problem}"))
}

pub(in crate::store) fn millis(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

pub(in crate::store) fn from_millis(ms: i64, column: &str) -> Result<NaiveDateTime, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.naive_utc())
        .ok_or_else(|| corrupt(column, ms))
}

pub(in crate::store) fn opt_millis(
    ms: Option<i64>,
    column: &str,
) -> Result<Option<NaiveDateTime>, StoreError> {
    ms.map(|m| from_millis(m, column)).transpose()
}

pub(in crate::store) fn text<const N: usize>(
    s: String,
    column: &str,
) -> Result<Text<N>, StoreError> {
    Text::new(s).map_err(|e| corrupt(column, e))
}

pub(in crate::store) fn opt_text<const N: usize>(
    s: Option<String>,
    column: &str,
) -> Result<Option<Text<N>>, StoreError> {
    s.map(|s| text(s, column)).transpose()
}

pub(in crate::store) fn cents(v: i64, column: &str) -> Result<Cents, StoreError> {
    Cents::new(v).map_err(|e| corrupt(column, e))
}

pub(in crate::store) fn metadata_json(entries: &[MapEntry]) -> String {
    json!(
        entries
            .iter()
            .map(|e| json!({"key": e.key.as_str(), "value": e.value.as_str()}))
            .collect::<Vec<_>>()
    )
    .to_string()
}

pub(in crate::store) fn metadata_from_json(
    s: &str,
    column: &str,
) -> Result<Vec<MapEntry>, StoreError> {
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

#[derive(serde::Deserialize)]
struct StoredEntry {
    key: String,
    value: String,
}

/// A primitive version read from `column`.
pub(in crate::store) fn version_from(n: i64, column: &str) -> Result<ReceiptVersion, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(|n| ReceiptVersion::from_number(n).ok())
        .ok_or_else(|| corrupt(column, n))
}
