//! Personal data on SQLite: erasing debtors of positions past their retention or on request,
//! payers and debtors of receipts past theirs, and finding what the store holds of one data
//! subject. `secure_delete` zeroes what an update frees in the database file; the WAL still
//! holds earlier images of the pages until it starts over, so every erasure that changed
//! something ends with a TRUNCATE checkpoint, which empties it.

use std::path::Path;

use chrono::NaiveDateTime;
use rusqlite::{Connection, params, params_from_iter};

use super::SqliteStore;
use super::columns::*;
use super::connection::{open_connection, unavailable};
use super::positions::load_position_by_id;
use crate::domain::FiscalCodePA;
use crate::domain::personal_data::ERASED;
use crate::domain::position::DebtPosition;
use crate::store::{ErasureRule, Redact, StoreError, StoreFuture, SubjectReceipt};

/// What an erasure gives back, which tells whether it erased anything.
pub(super) trait Erasure: Send + 'static {
    fn erased_any(&self) -> bool;
}

/// How many rows were erased.
impl Erasure for u32 {
    fn erased_any(&self) -> bool {
        *self > 0
    }
}

/// Positions, each with whether it was erased.
impl Erasure for Vec<(DebtPosition, bool)> {
    fn erased_any(&self) -> bool {
        self.iter().any(|(_, erased)| *erased)
    }
}

impl SqliteStore {
    /// Runs `erase` as a write, then, when it erased something, empties the log.
    pub(super) fn erase<T: Erasure>(
        &self,
        erase: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let written = self.write(erase);
        let path = self.inner.path.clone();
        Box::pin(async move {
            let result = written.await?;
            if result.erased_any() {
                tokio::task::spawn_blocking(move || wipe_log(&path))
                    .await
                    .map_err(unavailable)??;
            }
            Ok(result)
        })
    }
}

/// The creditor's positions whose debtor has this fiscal code, by IUPD.
pub(super) fn debtor_positions(
    conn: &Connection,
    organization: &FiscalCodePA,
    debtor: &str,
) -> Result<Vec<DebtPosition>, StoreError> {
    let ids = debtor_position_ids(conn, organization, debtor)?;
    Ok(load_all(conn, ids)?.into_iter().map(|(_, p)| p).collect())
}

/// Erases the debtor of each of the creditor's positions of `debtor` that `rule` takes; every
/// position of the debtor as it was, with whether it was erased.
pub(super) fn erase_debtor(
    tx: &Connection,
    organization: &FiscalCodePA,
    debtor: &str,
    now: NaiveDateTime,
    rule: &ErasureRule,
) -> Result<Vec<(DebtPosition, bool)>, StoreError> {
    let ids = debtor_position_ids(tx, organization, debtor)?;
    let mut answer = Vec::new();
    for (id, position) in load_all(tx, ids)? {
        let take = !position.is_erased() && rule(&position);
        if take {
            erase_position(tx, id, position.clone(), now)?;
        }
        answer.push((position, take));
    }
    Ok(answer)
}

/// The creditor's receipts whose debtor or payer has this fiscal code, oldest first.
pub(super) fn subject_receipts(
    conn: &Connection,
    organization: &FiscalCodePA,
    subject: &str,
) -> Result<Vec<SubjectReceipt>, StoreError> {
    let sql = format!(
        "SELECT {} FROM receipt WHERE id IN (
            SELECT id FROM receipt WHERE organization = ?1 AND (debtor = ?2 OR payer = ?2)
            UNION SELECT r.id FROM receipt_beneficiary b JOIN receipt r ON r.id = b.receipt
                  WHERE b.organization = ?1 AND (r.debtor = ?2 OR r.payer = ?2))
         ORDER BY received_at, id",
        *SUBJECT_RECEIPT_COLUMNS
    );
    let mut st = conn.prepare_cached(&sql).map_err(unavailable)?;
    let rows = st
        .query_map(params![organization.as_str(), subject], |r| {
            Ok(subject_receipt(r))
        })
        .map_err(unavailable)?;
    let mut found = Vec::new();
    for row in rows {
        found.push(row.map_err(unavailable)??);
    }
    Ok(found)
}

/// Copies the whole log into the database file and truncates it, so that no earlier image of
/// an erased row stays in it. Readers in the middle of a transaction make it wait (up to the
/// busy timeout); if they outlast it, the log is emptied by a later checkpoint.
fn wipe_log(path: &Path) -> Result<(), StoreError> {
    let conn = open_connection(path, false).map_err(unavailable)?;
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .map_err(unavailable)?;
    if busy != 0 {
        tracing::warn!("the WAL could not be emptied after an erasure: readers held it");
    }
    Ok(())
}

pub(super) fn erase_past_retention(
    tx: &Connection,
    now: NaiveDateTime,
    limit: u32,
) -> Result<u32, StoreError> {
    let ids: Vec<i64> = tx
        .prepare_cached(
            "SELECT id FROM debt_position
             WHERE retained_until < ?1 AND personal_data_erased_at IS NULL LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![millis(now), i64::from(limit)], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()
        })
        .map_err(unavailable)?;
    let mut erased = 0;
    for (id, position) in load_all(tx, ids)? {
        erased += erase_position(tx, id, position, now)?;
    }
    Ok(erased)
}

/// Writes `position` with its debtor erased at `now` (the domain's erasure), if its row is
/// still at the version read; 1 when written.
fn erase_position(
    tx: &Connection,
    id: i64,
    position: DebtPosition,
    now: NaiveDateTime,
) -> Result<u32, StoreError> {
    let values = erased_debtor_values(id, position, now);
    let written = tx
        .prepare_cached(&erase_debtor_sql('?'))
        .and_then(|mut st| st.execute(params_from_iter(&values)))
        .map_err(unavailable)?;
    Ok(written as u32)
}

fn debtor_position_ids(
    conn: &Connection,
    organization: &FiscalCodePA,
    debtor: &str,
) -> Result<Vec<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT id FROM debt_position WHERE organization = ?1 AND debtor_fiscal_code = ?2
         ORDER BY iupd",
    )
    .and_then(|mut st| {
        st.query_map(params![organization.as_str(), debtor], |r| r.get(0))?
            .collect()
    })
    .map_err(unavailable)
}

/// The positions of rows `ids`, with their row ids, in that order.
fn load_all(conn: &Connection, ids: Vec<i64>) -> Result<Vec<(i64, DebtPosition)>, StoreError> {
    let mut positions = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some((_, p)) = load_position_by_id(conn, id)? {
            positions.push((id, p));
        }
    }
    Ok(positions)
}

pub(super) fn erase_receipts(
    tx: &Connection,
    before: NaiveDateTime,
    now: NaiveDateTime,
    redact: &Redact,
    limit: u32,
) -> Result<u32, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT id, document FROM receipt
             WHERE received_at < ?1 AND personal_data_erased_at IS NULL
             ORDER BY received_at LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![millis(before), i64::from(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
        })
        .map_err(unavailable)?;
    for (id, document) in &rows {
        tx.prepare_cached(
            "UPDATE receipt SET debtor = ?2, payer = NULL, document = ?3,
                personal_data_erased_at = ?4 WHERE id = ?1",
        )
        .and_then(|mut st| st.execute(params![id, ERASED, redact(document), millis(now)]))
        .map_err(unavailable)?;
        let requests: Vec<(i64, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT r.delivery, r.request FROM delivery_request r
                 JOIN delivery d ON d.id = r.delivery WHERE d.receipt = ?1",
            )
            .and_then(|mut st| {
                st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(unavailable)?;
        for (delivery, request) in requests {
            tx.prepare_cached("UPDATE delivery_request SET request = ?2 WHERE delivery = ?1")
                .and_then(|mut st| st.execute(params![delivery, redact(&request)]))
                .map_err(unavailable)?;
        }
    }
    Ok(rows.len() as u32)
}
