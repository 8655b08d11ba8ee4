//! The debt-position tables: inserting a position with its options and transfers, loading it
//! back by IUPD or notice number, and writing back what a mutation may change.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::columns::*;
use super::connection::unavailable;
use crate::domain::FiscalCodePA;
use crate::domain::NoticeNumber;
use crate::domain::position::{DebtPosition, Iban, Iupd};
use crate::store::{PositionKey, StoreError};

static INSERT_POSITION: LazyLock<String> = LazyLock::new(|| insert_position_sql('?'));

pub(super) fn insert_position(tx: &Connection, p: &DebtPosition) -> Result<(), StoreError> {
    tx.prepare_cached(&INSERT_POSITION)
        .and_then(|mut st| st.execute(params_from_iter(&new_position_values(p))))
        .map_err(|e| map_unique(e, "iupd", p.iupd.as_str()))?;
    insert_options(tx, tx.last_insert_rowid(), p)
}

/// Inserts the options of `p`, with their transfers, under the position row `position_id`.
fn insert_options(tx: &Connection, position_id: i64, p: &DebtPosition) -> Result<(), StoreError> {
    for o in &p.options {
        tx.prepare_cached(
            "INSERT INTO payment_option (position_id, organization, iuv, nav, amount, description, is_partial_payment,
                due_date, retention_date, notification_fee, status, payment_date, payment_method, psp_company,
                receipt_id, fee, metadata, last_updated_date, send_sync)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )
        .and_then(|mut st| st.execute(params_from_iter(&option_values(position_id, p, o))))
        .map_err(|e| {
            let err = map_unique(e, "iuv", o.iuv.as_str());
            match err {
                StoreError::Duplicate { field: "nav", .. } => StoreError::Duplicate { field: "nav", value: o.nav.to_string() },
                other => other,
            }
        })?;
        let option_id = tx.last_insert_rowid();
        for tr in &o.transfers {
            tx.prepare_cached(
                "INSERT INTO transfer (option_id, transfer_id, organization, company_name, amount, remittance_information,
                    category, iban, postal_iban, stamp_hash, stamp_type, stamp_province, status, metadata)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut st| st.execute(params_from_iter(&transfer_values(option_id, tr))))
            .map_err(|e| map_unique(e, "idTransfer", &tr.id.to_string()))?;
        }
    }
    Ok(())
}

/// Inserts every position or none: the refused ones (a key taken) are returned with their
/// index, after undoing the inserts of the others.
pub(super) fn create_all(
    tx: &Connection,
    positions: &[DebtPosition],
) -> Result<Result<(), Vec<(usize, StoreError)>>, StoreError> {
    tx.execute_batch("SAVEPOINT create_all")
        .map_err(unavailable)?;
    let mut refused = Vec::new();
    let mut inserted = || -> Result<(), StoreError> {
        for (i, p) in positions.iter().enumerate() {
            match taken_key(tx, p)? {
                Some(duplicate) => refused.push((i, duplicate)),
                None => insert_position(tx, p)?,
            }
        }
        Ok(())
    };
    let outcome = inserted();
    if outcome.is_err() || !refused.is_empty() {
        tx.execute_batch("ROLLBACK TO create_all")
            .map_err(unavailable)?;
    }
    tx.execute_batch("RELEASE create_all")
        .map_err(unavailable)?;
    outcome?;
    Ok(if refused.is_empty() {
        Ok(())
    } else {
        Err(refused)
    })
}

/// The IUPDs of the creditor's positions with an unpaid option paying `iban`.
pub(super) fn paying_iban(
    conn: &Connection,
    organization: &FiscalCodePA,
    iban: &Iban,
) -> Result<Vec<Iupd>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT p.iupd FROM debt_position p WHERE p.id IN (
                SELECT o.position_id FROM payment_option o JOIN transfer t ON t.option_id = o.id
                WHERE o.organization = ?1 AND o.status = 'PO_UNPAID' AND t.iban = ?2)
             ORDER BY p.id",
        )
        .map_err(unavailable)?;
    let rows = st
        .query_map(params![organization.as_str(), iban.as_str()], |r| {
            r.get::<_, String>(0)
        })
        .map_err(unavailable)?;
    let mut iupds = Vec::new();
    for row in rows {
        let value = row.map_err(unavailable)?;
        iupds.push(Iupd::parse(&value).map_err(|e| corrupt("debt_position.iupd", e))?);
    }
    Ok(iupds)
}

/// The uniqueness rule a new position would break, checked the way its insert would fail (IUPD,
/// then each option's IUV and notice number): lets a bulk insert leave a duplicate out without a
/// savepoint per position, whose page journaling was most of the cost of an import.
pub(super) fn taken_key(
    tx: &Connection,
    p: &DebtPosition,
) -> Result<Option<StoreError>, StoreError> {
    let exists = |sql: &str, value: &str| -> Result<bool, StoreError> {
        tx.prepare_cached(sql)
            .and_then(|mut st| st.exists(params![p.organization.as_str(), value]))
            .map_err(unavailable)
    };
    let duplicate = |field: &'static str, value: &str| {
        Some(StoreError::Duplicate {
            field,
            value: value.to_owned(),
        })
    };
    if exists(
        "SELECT 1 FROM debt_position WHERE organization = ?1 AND iupd = ?2",
        p.iupd.as_str(),
    )? {
        return Ok(duplicate("iupd", p.iupd.as_str()));
    }
    for o in &p.options {
        if exists(
            "SELECT 1 FROM payment_option WHERE organization = ?1 AND iuv = ?2",
            o.iuv.as_str(),
        )? {
            return Ok(duplicate("iuv", o.iuv.as_str()));
        }
        if exists(
            "SELECT 1 FROM payment_option WHERE organization = ?1 AND nav = ?2",
            o.nav.as_str(),
        )? {
            return Ok(duplicate("nav", o.nav.as_str()));
        }
    }
    Ok(None)
}

/// Row ids of a loaded position, for writing it back.
pub(super) struct RowIds {
    pub(super) position: i64,
    pub(super) options: Vec<i64>,
}

struct PositionRow {
    id: i64,
    columns: PositionColumns,
}

fn read_row(r: &Row<'_>) -> rusqlite::Result<PositionRow> {
    let (id, columns) = position_row(r)?;
    Ok(PositionRow { id, columns })
}

static BY_IUPD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM debt_position WHERE organization = ?1 AND iupd = ?2",
        *POSITION_COLUMNS
    )
});

static BY_NOTICE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM debt_position WHERE id =
            (SELECT position_id FROM payment_option INDEXED BY payment_option_notice
             WHERE organization = ?1 AND nav = ?2)",
        *POSITION_COLUMNS
    )
});

static BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM debt_position WHERE id = ?1",
        *POSITION_COLUMNS
    )
});

pub(super) fn load_position(
    conn: &Connection,
    organization: &FiscalCodePA,
    key: &PositionKey,
) -> Result<Option<(RowIds, DebtPosition)>, StoreError> {
    let row = match key {
        PositionKey::Iupd(iupd) => conn.prepare_cached(&BY_IUPD).and_then(|mut st| {
            st.query_row(params![organization.as_str(), iupd.as_str()], read_row)
                .optional()
        }),
        PositionKey::Notice(nav) => conn.prepare_cached(&BY_NOTICE).and_then(|mut st| {
            st.query_row(params![organization.as_str(), nav.as_str()], read_row)
                .optional()
        }),
    }
    .map_err(unavailable)?;
    row.map(|row| assemble(conn, row, true)).transpose()
}

/// Loads the position whose option has notice number `nav`, as a payment needs it: its options
/// without their transfers, which settling a receipt neither reads nor writes back
/// ([`write_payment`]); one statement fewer for every receipt.
pub(super) fn load_position_to_pay(
    conn: &Connection,
    organization: &FiscalCodePA,
    nav: &NoticeNumber,
) -> Result<Option<(RowIds, DebtPosition)>, StoreError> {
    let row = conn
        .prepare_cached(&BY_NOTICE)
        .and_then(|mut st| {
            st.query_row(params![organization.as_str(), nav.as_str()], read_row)
                .optional()
        })
        .map_err(unavailable)?;
    row.map(|row| assemble(conn, row, false)).transpose()
}

/// Loads the position stored in row `id`.
pub(super) fn load_position_by_id(
    conn: &Connection,
    id: i64,
) -> Result<Option<(RowIds, DebtPosition)>, StoreError> {
    let row = conn
        .prepare_cached(&BY_ID)
        .and_then(|mut st| st.query_row([id], read_row).optional())
        .map_err(unavailable)?;
    row.map(|row| assemble(conn, row, true)).transpose()
}

/// The position of a row, with its options, and their transfers if `transfers`.
fn assemble(
    conn: &Connection,
    row: PositionRow,
    transfers: bool,
) -> Result<(RowIds, DebtPosition), StoreError> {
    let mut option_ids = Vec::new();
    let mut options = Vec::new();
    {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT id, {OPTION_COLUMNS} FROM payment_option WHERE position_id = ?1 ORDER BY id"
            ))
            .map_err(unavailable)?;
        let mut rows = st.query([row.id]).map_err(unavailable)?;
        while let Some(r) = rows.next().map_err(unavailable)? {
            option_ids.push(r.get::<_, i64>(0).map_err(unavailable)?);
            options.push(payment_option_at(r, 1)?);
        }
    }
    if transfers {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT t.option_id, {TRANSFER_COLUMNS}
                 FROM transfer t JOIN payment_option o ON o.id = t.option_id
                 WHERE o.position_id = ?1 ORDER BY t.option_id, t.transfer_id"
            ))
            .map_err(unavailable)?;
        let mut rows = st.query([row.id]).map_err(unavailable)?;
        while let Some(r) = rows.next().map_err(unavailable)? {
            let option_id: i64 = r.get(0).map_err(unavailable)?;
            let index = option_ids
                .iter()
                .position(|&id| id == option_id)
                .ok_or_else(|| corrupt("transfer.option_id", option_id))?;
            let transfer = transfer_at(r, 1)?;
            options[index].transfers.push(transfer);
        }
    }

    let position = position_from_columns(row.columns, options)?;
    Ok((
        RowIds {
            position: row.id,
            options: option_ids,
        },
        position,
    ))
}

/// Writes back what a payment changes: the position row (status, dates) and the one paid
/// option. Its transfers and the other options are untouched by a payment, and rewriting them
/// would cost a page each in the log.
pub(super) fn write_payment(
    tx: &Connection,
    ids: &RowIds,
    p: &DebtPosition,
    paid: usize,
) -> Result<(), StoreError> {
    let (position, option) = payment_values(ids.position, ids.options[paid], p, paid);
    let changed = tx
        .prepare_cached(
            "UPDATE debt_position SET status = ?1, validity_date = ?2, publish_date = ?3, payment_date = ?4,
                last_updated_date = ?5, expires_after = ?8, version = version + 1
             WHERE id = ?6 AND version = ?7",
        )
        .and_then(|mut st| st.execute(params_from_iter(&position)))
        .map_err(unavailable)?;
    if changed != 1 {
        return Err(unavailable(
            "the position changed while it was being updated",
        ));
    }
    tx.prepare_cached(
        "UPDATE payment_option SET status = ?1, payment_date = ?2, payment_method = ?3, psp_company = ?4,
            receipt_id = ?5, fee = ?6, last_updated_date = ?7
         WHERE id = ?8",
    )
    .and_then(|mut st| st.execute(params_from_iter(&option)))
    .map_err(unavailable)?;
    Ok(())
}

static REPLACE_POSITION: LazyLock<String> = LazyLock::new(|| replace_position_sql('?'));

/// Writes back the whole position (a creditor's update may change anything): the position row
/// in place, if it is still at `p.version` (compare and set), and its options and transfers
/// anew.
pub(super) fn replace_position(
    tx: &Connection,
    ids: &RowIds,
    p: &DebtPosition,
) -> Result<(), StoreError> {
    let values = replaced_position_values(ids.position, p);
    let changed = tx
        .prepare_cached(&REPLACE_POSITION)
        .and_then(|mut st| st.execute(params_from_iter(&values)))
        .map_err(unavailable)?;
    if changed != 1 {
        return Err(unavailable(
            "the position changed while it was being updated",
        ));
    }
    tx.prepare_cached("DELETE FROM payment_option WHERE position_id = ?1")
        .and_then(|mut st| st.execute([ids.position]))
        .map_err(unavailable)?;
    insert_options(tx, ids.position, p)
}
