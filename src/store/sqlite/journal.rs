//! The event journal's table: entries appended in batches (multi-row inserts, in the writer's
//! transaction), a creditor's listed newest first, old ones pruned in batches. The table lives
//! in a file of its own, attached as `journal` (`SqliteStore::JOURNAL_FILE_NAME`).

use chrono::NaiveDateTime;
use rusqlite::{Connection, ToSql, params};

use super::columns::millis;
use super::filter::Where;
use super::unavailable;
use crate::domain::FiscalCodePA;
use crate::domain::journal::{JournalEntry, JournalFilter};
use crate::store::columns::{
    JOURNAL_COLUMNS, JOURNAL_LISTING, JOURNAL_WIDTH, journal_entry, journal_texts,
};
use crate::store::{Page, PageRequest, StoreError};

/// The journal file's table, created at every open when missing. Its columns are those of
/// migration 0013, which created it in the data file before 0021 moved it here.
pub(super) const SCHEMA: &str = include_str!("journal_file.sql");

/// Rows per multi-row INSERT. A batch is written in chunks of this size, then what is left one
/// row at a time: two statements in all, both kept prepared. A statement per remainder size
/// would be prepared anew at nearly every batch and push the receipts' statements out of the
/// writer's cache.
const ROWS_PER_INSERT: usize = 16;

pub(super) fn append(conn: &Connection, entries: &[JournalEntry]) -> Result<(), StoreError> {
    let mut chunks = entries.chunks_exact(ROWS_PER_INSERT);
    for chunk in chunks.by_ref() {
        insert(conn, chunk)?;
    }
    for entry in chunks.remainder() {
        insert(conn, std::slice::from_ref(entry))?;
    }
    Ok(())
}

fn insert(conn: &Connection, rows: &[JournalEntry]) -> Result<(), StoreError> {
    let row = format!("({})", vec!["?"; JOURNAL_WIDTH].join(", "));
    let sql = format!(
        "INSERT INTO event_journal ({JOURNAL_COLUMNS}) VALUES {}",
        vec![row.as_str(); rows.len()].join(", ")
    );
    let values: Vec<RowValues<'_>> = rows.iter().map(RowValues::of).collect();
    let refs: Vec<&dyn ToSql> = values.iter().flat_map(RowValues::refs).collect();
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.execute(refs.as_slice()))
        .map_err(unavailable)?;
    Ok(())
}

/// An entry's values in [`JOURNAL_COLUMNS`] order, its texts borrowed.
struct RowValues<'a> {
    at: i64,
    kind: &'static str,
    texts: [Option<&'a str>; 11],
    status: Option<i64>,
    outcome: &'static str,
    fault_code: Option<&'a str>,
    error: Option<&'a str>,
    attempt: Option<i64>,
    duration: i64,
}

impl<'a> RowValues<'a> {
    fn of(e: &'a JournalEntry) -> RowValues<'a> {
        RowValues {
            at: millis(e.at),
            kind: e.kind.as_str(),
            texts: journal_texts(e),
            status: e.status.map(i64::from),
            outcome: e.outcome.as_str(),
            fault_code: e.fault_code.as_deref(),
            error: e.error.as_deref(),
            attempt: e.attempt.map(i64::from),
            duration: i64::try_from(e.duration_us).unwrap_or(i64::MAX),
        }
    }

    fn refs(&self) -> impl Iterator<Item = &dyn ToSql> {
        let head: [&dyn ToSql; 2] = [&self.at, &self.kind];
        let tail: [&dyn ToSql; 6] = [
            &self.status,
            &self.outcome,
            &self.fault_code,
            &self.error,
            &self.attempt,
            &self.duration,
        ];
        head.into_iter()
            .chain(self.texts.iter().map(|t| t as &dyn ToSql))
            .chain(tail)
    }
}

pub(super) fn list(
    conn: &Connection,
    organization: &FiscalCodePA,
    filter: &JournalFilter,
    page: PageRequest,
) -> Result<Page<JournalEntry>, StoreError> {
    let mut filters = Where::new("organization = :org");
    filters
        .bind(":org", organization.to_string())
        .range("at", [":from", ":to"], filter.from, filter.to)
        .when(
            "kind = :kind",
            ":kind",
            filter.kind.map(|k| k.as_str().to_owned()),
        )
        .when(
            "primitive = :primitive",
            ":primitive",
            filter.primitive.clone(),
        )
        .when("notice_number = :nav", ":nav", filter.notice_number.clone())
        .when("iuv = :iuv", ":iuv", filter.iuv.clone())
        .when("iupd_digest = :iupd", ":iupd", filter.iupd_digest.clone())
        .when(
            "receipt_id = :receipt",
            ":receipt",
            filter.receipt_id.clone(),
        )
        .when(
            "outcome = :outcome",
            ":outcome",
            filter.outcome.map(|o| o.as_str().to_owned()),
        )
        .when("key_id = :key", ":key", filter.key_id.clone());
    filters.page(conn, &JOURNAL_LISTING, page, |r| journal_entry(r))
}

/// Deletes up to `limit` entries from before `before`, oldest first.
pub(super) fn prune(
    conn: &Connection,
    before: NaiveDateTime,
    limit: u32,
) -> Result<u32, StoreError> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM event_journal WHERE id IN
                (SELECT id FROM event_journal WHERE at < ?1 ORDER BY at LIMIT ?2)",
        )
        .and_then(|mut st| st.execute(params![millis(before), limit]))
        .map_err(unavailable)?;
    Ok(deleted as u32)
}
