//! The debt-position tables: inserting a position with its options and transfers, loading it
//! back by IUPD or notice number, and writing back what a mutation may change.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::columns::*;
use super::connection::unavailable;
use crate::domain::notice_view::NoticeView;
use crate::domain::position::{DebtPosition, Iban, Iupd};
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::store::notice_row;
use crate::store::{PositionKey, StoreError};

static INSERT_POSITION: LazyLock<String> = LazyLock::new(|| insert_position_sql('?'));

pub(super) fn insert_position(tx: &Connection, p: &DebtPosition) -> Result<(), StoreError> {
    tx.prepare_cached(&INSERT_POSITION)
        .and_then(|mut st| st.execute(params_from_iter(&new_position_values(p))))
        .map_err(|e| map_unique(e, "iupd", p.iupd.as_str()))?;
    insert_options(tx, tx.last_insert_rowid(), p)?;
    write_notices(tx, p, p.version)
}

/// Writes the read model's row of every option of `p`, as stored at `version`: after the writes
/// to its tables, whose triggers dropped the rows they made stale.
pub(super) fn write_notices(
    tx: &Connection,
    p: &DebtPosition,
    version: i64,
) -> Result<(), StoreError> {
    let mut st = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO notice_view (organization, nav, body) VALUES (?1, ?2, ?3)",
        )
        .map_err(unavailable)?;
    for (i, o) in p.options.iter().enumerate() {
        let body = notice_row::encode(p, i, version);
        st.execute(params![p.organization.as_str(), o.nav.as_str(), body])
            .map_err(unavailable)?;
    }
    Ok(())
}

/// The creditor's option of notice `nav` from its read-model row: one statement, one index
/// descent, outside any transaction. None when the row is absent or unreadable.
pub(super) fn read_notice(
    conn: &Connection,
    organization: &FiscalCodePA,
    nav: &NoticeNumber,
) -> Result<Option<NoticeView>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT body FROM notice_view WHERE organization = ?1 AND nav = ?2")
        .map_err(unavailable)?;
    let mut rows = st
        .query(params![organization.as_str(), nav.as_str()])
        .map_err(unavailable)?;
    let Some(row) = rows.next().map_err(unavailable)? else {
        return Ok(None);
    };
    let body = row.get_ref(0).map_err(unavailable)?;
    Ok(body
        .as_blob()
        .ok()
        .and_then(|b| notice_row::decode(b, organization, nav)))
}

/// Positions read at a time by [`backfill_notices`].
const BACKFILL_BATCH: usize = 1000;

/// Writes the read-model rows of the positions stored before the read model existed, in
/// batches of one transaction each, from where `notice_view_backfill` says; removes that mark
/// once done. Nothing to do when there is no mark.
pub(super) fn backfill_notices(conn: &mut Connection) -> Result<u64, StoreError> {
    let mut written = 0;
    loop {
        let tx = conn.transaction().map_err(unavailable)?;
        let next: Option<i64> = tx
            .query_row("SELECT next_position FROM notice_view_backfill", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(unavailable)?;
        let Some(next) = next else {
            return Ok(written);
        };
        let ids: Vec<i64> = tx
            .prepare("SELECT id FROM debt_position WHERE id >= ?1 ORDER BY id LIMIT ?2")
            .and_then(|mut st| {
                st.query_map(params![next, BACKFILL_BATCH as i64], |r| r.get(0))?
                    .collect()
            })
            .map_err(unavailable)?;
        match ids.last() {
            None => tx.execute("DELETE FROM notice_view_backfill", []),
            Some(last) => {
                for &id in &ids {
                    if let Some((_, p)) = load_position_by_id(&tx, id)? {
                        write_notices(&tx, &p, p.version)?;
                        written += 1;
                    }
                }
                tx.execute(
                    "UPDATE notice_view_backfill SET next_position = ?1",
                    [last + 1],
                )
            }
        }
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
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
    row.map(|row| assemble(conn, row)).transpose()
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
    row.map(|row| assemble(conn, row)).transpose()
}

/// The position of a row, with its options and transfers.
fn assemble(conn: &Connection, row: PositionRow) -> Result<(RowIds, DebtPosition), StoreError> {
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
    {
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
    write_notices(tx, p, p.version + 1)
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
    insert_options(tx, ids.position, p)?;
    write_notices(tx, p, p.version + 1)
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::store::Store;
    use crate::store::conformance::positions::sample;
    use crate::store::receipt_fixtures::valid;

    fn open() -> (tempfile::TempDir, SqliteStore, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = Connection::open(store.path()).unwrap();
        (dir, store, conn)
    }

    /// What the lookup of `nav` must answer: the option as the whole position has it.
    async fn expected(
        store: &SqliteStore,
        p: &DebtPosition,
        nav: &NoticeNumber,
    ) -> Option<NoticeView> {
        let full = store
            .get_position(p.organization.clone(), PositionKey::Notice(nav.clone()))
            .await
            .unwrap();
        full.map(|full| NoticeView::of(&full, full.option_index(nav).unwrap()))
    }

    fn rows(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM notice_view", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_missing_or_unreadable_row_still_answers_from_the_tables() {
        let (_dir, store, conn) = open();
        let p = valid(sample());
        store.create_position(p.clone()).await.unwrap();
        let (org, nav) = (p.organization.clone(), p.options[1].nav.clone());
        let right = Some(NoticeView::of(&p, 1));
        assert_eq!(
            store.get_notice(org.clone(), nav.clone()).await.unwrap(),
            right
        );
        let other: Vec<u8> = conn
            .query_row(
                "SELECT body FROM notice_view WHERE nav = ?1",
                [p.options[0].nav.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        let mut other_format = other.clone();
        other_format[0] = notice_row::FORMAT + 1;
        for body in [vec![], vec![0u8], other_format, other] {
            conn.execute(
                "UPDATE notice_view SET body = ?1 WHERE nav = ?2",
                params![body, nav.as_str()],
            )
            .unwrap();
            assert_eq!(
                store.get_notice(org.clone(), nav.clone()).await.unwrap(),
                right
            );
        }
        conn.execute("DELETE FROM notice_view", []).unwrap();
        assert_eq!(
            store.get_notice(org.clone(), nav.clone()).await.unwrap(),
            right
        );
        let unknown = NoticeNumber::parse("301000000000099999").unwrap();
        assert_eq!(store.get_notice(org, unknown).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_change_made_behind_the_store_drops_the_rows_it_makes_stale() {
        let (_dir, store, conn) = open();
        let p = valid(position(vec![
            option(1, 3000, at(2030, 1, 1), false),
            option(2, 1500, at(2030, 2, 1), true),
            option(3, 1500, at(2030, 3, 1), true),
        ]));
        store.create_position(p.clone()).await.unwrap();
        let nav = |i: usize| p.options[i].nav.as_str().to_owned();
        assert_eq!(rows(&conn), 3);
        // A column the rows do not copy keeps them.
        conn.execute("UPDATE debt_position SET spontaneous = 1", [])
            .unwrap();
        assert_eq!(rows(&conn), 3);
        let option_id = |i: usize| -> i64 {
            conn.query_row(
                "SELECT id FROM payment_option WHERE nav = ?1",
                [nav(i)],
                |r| r.get(0),
            )
            .unwrap()
        };
        // A transfer's change: its option's row only.
        conn.execute(
            "UPDATE transfer SET remittance_information = 'Altro' WHERE option_id = ?1",
            [option_id(2)],
        )
        .unwrap();
        assert_eq!(rows(&conn), 2);
        // An option's change: its siblings' rows too, which summarize it.
        let mut q = valid(position(vec![
            option(11, 1000, at(2030, 1, 1), false),
            option(12, 1000, at(2030, 1, 1), false),
        ]));
        q.iupd = Iupd::parse("IUPD-2").unwrap();
        store.create_position(q.clone()).await.unwrap();
        assert_eq!(rows(&conn), 4);
        conn.execute(
            "UPDATE payment_option SET status = 'PO_PAID', payment_date = 1, receipt_id = 'r' WHERE nav = ?1",
            [nav(1)],
        )
        .unwrap();
        assert_eq!(rows(&conn), 2);
        for o in &p.options {
            let n = o.nav.clone();
            let found = store
                .get_notice(p.organization.clone(), n.clone())
                .await
                .unwrap();
            assert_eq!(found, expected(&store, &p, &n).await);
        }
        // The header's change: every row of the position.
        conn.execute(
            "UPDATE debt_position SET office_name = 'Ufficio' WHERE iupd = 'IUPD-2'",
            [],
        )
        .unwrap();
        assert_eq!(rows(&conn), 0);
        for o in &q.options {
            let n = o.nav.clone();
            let found = store
                .get_notice(q.organization.clone(), n.clone())
                .await
                .unwrap();
            assert_eq!(found, expected(&store, &q, &n).await);
            let office = found.unwrap().position().office_name.clone().unwrap();
            assert_eq!(office.as_str(), "Ufficio");
        }
    }

    #[tokio::test]
    async fn positions_stored_before_the_read_model_get_their_rows_at_open() {
        let (dir, store, conn) = open();
        let positions: Vec<DebtPosition> = (0..(BACKFILL_BATCH as u64 * 2 + 5))
            .map(|i| {
                let mut p = valid(position(vec![option(100 + i, 1000, at(2030, 1, 1), false)]));
                p.iupd = Iupd::parse(&format!("OLD-{i}")).unwrap();
                p
            })
            .collect();
        for r in store.import_positions(positions.clone()).await.unwrap() {
            r.unwrap();
        }
        store.close().await.unwrap();
        // As a data file of the previous schema is after the migration: no rows, the mark.
        conn.execute_batch("DELETE FROM notice_view; INSERT INTO notice_view_backfill VALUES (0);")
            .unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(rows(&conn), positions.len() as i64);
        let marks: i64 = conn
            .query_row("SELECT count(*) FROM notice_view_backfill", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(marks, 0);
        for p in [&positions[0], &positions[1500], positions.last().unwrap()] {
            let nav = &p.options[0].nav;
            let body: Vec<u8> = conn
                .query_row(
                    "SELECT body FROM notice_view WHERE nav = ?1",
                    [nav.as_str()],
                    |r| r.get(0),
                )
                .unwrap();
            let view = notice_row::decode(&body, &p.organization, nav);
            assert_eq!(view, expected(&store, p, nav).await);
        }
    }
}
