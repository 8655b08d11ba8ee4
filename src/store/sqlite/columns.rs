//! Conversions between column values and domain values, shared by the table modules: those
//! every store makes ([`crate::store::columns`]) and SQLite's own.

use std::collections::BTreeSet;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};

use super::connection::unavailable;
use crate::domain::SegregationCode;
use crate::store::StoreError;
pub(super) use crate::store::columns::*;

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

/// Segregation codes as the list statements bind them: `,01,02,`, so that a code is found
/// with `instr` whatever the number of codes, in one cached statement.
pub(super) fn codes_pattern(codes: &BTreeSet<SegregationCode>) -> String {
    let mut pattern = String::from(",");
    for code in codes {
        pattern.push_str(&format!("{code},"));
    }
    pattern
}

impl rusqlite::ToSql for ColumnValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            ColumnValue::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            ColumnValue::Int(Some(v)) => ToSqlOutput::Owned(Value::Integer(*v)),
            ColumnValue::Bool(v) => ToSqlOutput::Owned(Value::Integer(i64::from(*v))),
            ColumnValue::Text(None) | ColumnValue::Int(None) => ToSqlOutput::Owned(Value::Null),
        })
    }
}

impl ColumnRow for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn string(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }

    fn opt_string(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }

    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }

    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }

    fn boolean(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }

    fn opt_boolean(&self, i: usize) -> rusqlite::Result<Option<bool>> {
        self.get(i)
    }

    fn bytes(&self, i: usize) -> rusqlite::Result<Vec<u8>> {
        self.get(i)
    }

    fn failure(e: rusqlite::Error) -> StoreError {
        unavailable(e)
    }
}
