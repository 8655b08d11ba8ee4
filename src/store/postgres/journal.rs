//! The event journal's table: a batch of entries appended in one transaction, by statements of
//! up to [`ROWS_PER_STATEMENT`] rows (`INSERT … SELECT FROM unnest` of one array per column,
//! prepared once per connection), a creditor's entries listed newest first, old ones pruned in
//! batches.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::errors::db_error;
use super::filter::Where;
use super::statements::Statements;
use super::{PgStore, commit};
use crate::domain::FiscalCodePA;
use crate::domain::journal::{JournalEntry, JournalFilter};
use crate::store::columns::{
    JOURNAL_COLUMNS, JOURNAL_LISTING, journal_entry, journal_texts, millis,
};
use crate::store::{Page, PageRequest, StoreError};

/// Rows per INSERT of a batch. Each statement is encoded into the pooled connection's buffers,
/// which keep their largest size for the connection's life: a whole batch of 2,048 in one
/// statement left every connection of the pool holding buffers that large
/// (docs/performance.md, "The gateway's memory: huge pages and the journal's statements").
const ROWS_PER_STATEMENT: usize = 256;

static INSERT_ENTRIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO event_journal ({JOURNAL_COLUMNS})
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],
                $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                $11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[],
                $16::text[], $17::text[], $18::bigint[], $19::bigint[])"
    )
});

impl PgStore {
    /// The batch in one transaction: stored whole or not at all.
    pub async fn append_journal(&self, entries: Vec<JournalEntry>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        for rows in entries.chunks(ROWS_PER_STATEMENT) {
            insert_entries(&tx, rows).await?;
        }
        commit(tx).await
    }

    pub async fn list_journal(
        &self,
        organization: FiscalCodePA,
        filter: JournalFilter,
        page: PageRequest,
    ) -> Result<Page<JournalEntry>, StoreError> {
        journal_filters(&organization, &filter)
            .page(self, &JOURNAL_LISTING, page, journal_entry)
            .await
    }

    pub async fn prune_journal(
        &self,
        before: NaiveDateTime,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .exec(
                "DELETE FROM event_journal WHERE id IN
                    (SELECT id FROM event_journal WHERE at < $1 ORDER BY at LIMIT $2)",
                &[&millis(before), &i64::from(limit)],
            )
            .await?;
        Ok(deleted as u32)
    }
}

/// The conditions of a listing: the creditor's entries, and each filter given.
fn journal_filters<'a>(organization: &'a FiscalCodePA, filter: &'a JournalFilter) -> Where<'a> {
    let mut filters = Where::default();
    filters
        .equals("organization", Some(organization.as_str()))
        .range("at", filter.from, filter.to);
    let texts = [
        ("kind", filter.kind.map(|k| k.as_str())),
        ("primitive", filter.primitive.as_deref()),
        ("notice_number", filter.notice_number.as_deref()),
        ("iuv", filter.iuv.as_deref()),
        ("iupd_digest", filter.iupd_digest.as_deref()),
        ("receipt_id", filter.receipt_id.as_deref()),
        ("outcome", filter.outcome.map(|o| o.as_str())),
        ("key_id", filter.key_id.as_deref()),
    ];
    for (column, value) in texts {
        filters.equals(column, value);
    }
    filters
}

/// One INSERT of `entries`, one array per column.
async fn insert_entries(tx: &Transaction<'_>, entries: &[JournalEntry]) -> Result<(), StoreError> {
    let n = entries.len();
    let mut at = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut texts: [Vec<Option<&str>>; 11] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut status = Vec::with_capacity(n);
    let mut outcome = Vec::with_capacity(n);
    let mut fault_code = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    let mut attempt = Vec::with_capacity(n);
    let mut duration = Vec::with_capacity(n);
    for e in entries {
        at.push(millis(e.at));
        kind.push(e.kind.as_str());
        for (column, value) in texts.iter_mut().zip(journal_texts(e)) {
            column.push(value);
        }
        status.push(e.status.map(i64::from));
        outcome.push(e.outcome.as_str());
        fault_code.push(e.fault_code.as_deref());
        error.push(e.error.as_deref());
        attempt.push(e.attempt.map(i64::from));
        duration.push(i64::try_from(e.duration_us).unwrap_or(i64::MAX));
    }
    // In the order of the columns: time and kind, the texts, then the rest.
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&at, &kind];
    params.extend(texts.iter().map(|t| t as &(dyn ToSql + Sync)));
    params.extend([
        &status as &(dyn ToSql + Sync),
        &outcome,
        &fault_code,
        &error,
        &attempt,
        &duration,
    ]);
    tx.exec(&INSERT_ENTRIES, &params).await?;
    Ok(())
}
