//! The debt-position tables: a position inserted with its options and transfers, loaded back
//! by IUPD or notice number, written back whole after a creditor's change or in part after a
//! payment, and deleted; each call in one transaction. A write locks the position's row
//! (`FOR UPDATE`) before it reads it: writes from several instances to one position then come
//! one after the other, as SQLite's single writer made them, each on what the last one wrote.
//! The version every write compares and sets stays the guard behind the lock.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::BytesMut;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::{IsNull, ToSql, Type};

use super::statements::Statements;
use super::{PgStore, db_error, unavailable};
use crate::domain::notice_view::NoticeView;
use crate::domain::position::{
    DebtPosition, Iban, Iupd, OptionStatus, OptionsSummary, PaymentOption,
};
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::store::columns::*;
use crate::store::error::refused;
use crate::store::{Expected, Guard, Mutation, PositionKey, StoreError};

pub(super) type Param<'a> = Box<dyn ToSql + Sync + Send + 'a>;

/// Boxed values as a statement takes them.
pub(super) fn refs<'a>(values: &'a [Param<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Values as a statement takes them.
pub(super) fn bound<'a>(values: &'a [ColumnValue<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

static INSERT_POSITION: LazyLock<String> =
    LazyLock::new(|| format!("{} RETURNING id", insert_position_sql('$')));

/// Inserts `p` with its options and transfers; returns its row id. A key taken is a
/// `Duplicate` (the unique constraints decide, whoever inserted first).
pub(super) async fn insert_position(
    tx: &Transaction<'_>,
    p: &DebtPosition,
) -> Result<i64, StoreError> {
    let values = new_position_values(p);
    let st = tx
        .prepare_cached(&INSERT_POSITION)
        .await
        .map_err(db_error)?;
    let id: i64 = tx
        .query_one(&st, &bound(&values))
        .await
        .map_err(db_error)?
        .get(0);
    insert_options(tx, id, p).await?;
    Ok(id)
}

/// Inserts the options of `p`, with their transfers, under the position row `position_id`.
async fn insert_options(
    tx: &Transaction<'_>,
    position_id: i64,
    p: &DebtPosition,
) -> Result<(), StoreError> {
    let option = tx
        .prepare_cached(
            "INSERT INTO payment_option (position_id, organization, iuv, nav, amount, description, is_partial_payment,
                due_date, retention_date, notification_fee, status, payment_date, payment_method, psp_company,
                receipt_id, fee, metadata, last_updated_date, send_sync)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             RETURNING id",
        )
        .await
        .map_err(db_error)?;
    let transfer = tx
        .prepare_cached(
            "INSERT INTO transfer (option_id, transfer_id, organization, company_name, amount, remittance_information,
                category, iban, postal_iban, stamp_hash, stamp_type, stamp_province, status, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .await
        .map_err(db_error)?;
    for o in &p.options {
        let option_id: i64 = tx
            .query_one(&option, &bound(&option_values(position_id, p, o)))
            .await
            .map_err(db_error)?
            .get(0);
        for tr in &o.transfers {
            tx.execute(&transfer, &bound(&transfer_values(option_id, tr)))
                .await
                .map_err(db_error)?;
        }
    }
    Ok(())
}

/// The uniqueness rule a new position would break, checked the way its insert would fail
/// (IUPD, then each option's IUV and notice number), so that a bulk insert leaves a duplicate
/// out without a failed statement. It sees what is committed and what this transaction wrote;
/// a key another instance is inserting meanwhile is found by the insert, and the batch is
/// tried again ([`PgStore::import_positions`]).
pub(super) async fn taken_key(
    tx: &Transaction<'_>,
    p: &DebtPosition,
) -> Result<Option<StoreError>, StoreError> {
    let iupd = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM debt_position WHERE organization = $1 AND iupd = $2)",
        )
        .await
        .map_err(db_error)?;
    let iuv = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM payment_option WHERE organization = $1 AND iuv = $2)",
        )
        .await
        .map_err(db_error)?;
    let nav = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM payment_option WHERE organization = $1 AND nav = $2)",
        )
        .await
        .map_err(db_error)?;
    let organization = p.organization.as_str();
    let exists = async |st, value: &str| -> Result<bool, StoreError> {
        let row = tx.query_one(st, &[&organization, &value]).await;
        Ok(row.map_err(db_error)?.get(0))
    };
    let duplicate = |field: &'static str, value: &str| {
        Some(StoreError::Duplicate {
            field,
            value: value.to_owned(),
        })
    };
    if exists(&iupd, p.iupd.as_str()).await? {
        return Ok(duplicate("iupd", p.iupd.as_str()));
    }
    for o in &p.options {
        if exists(&iuv, o.iuv.as_str()).await? {
            return Ok(duplicate("iuv", o.iuv.as_str()));
        }
        if exists(&nav, o.nav.as_str()).await? {
            return Ok(duplicate("nav", o.nav.as_str()));
        }
    }
    Ok(None)
}

/// How often a batch is tried again after another instance took one of its keys between the
/// check and the insert: once is enough unless a third takes another one meanwhile.
const BATCH_TRIES: usize = 3;

/// Row ids of a loaded position, for writing it back.
pub(super) struct RowIds {
    pub(super) position: i64,
    pub(super) options: Vec<i64>,
}

impl ToSql for ColumnValue<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxedError> {
        match self {
            ColumnValue::Text(v) => v.as_deref().to_sql(ty, out),
            ColumnValue::Int(v) => v.to_sql(ty, out),
            ColumnValue::Bool(v) => v.to_sql(ty, out),
        }
    }

    /// Every variant is checked against the column's type by the value it holds, in
    /// `to_sql_checked`.
    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxedError> {
        match self {
            ColumnValue::Text(v) => v.as_deref().to_sql_checked(ty, out),
            ColumnValue::Int(v) => v.to_sql_checked(ty, out),
            ColumnValue::Bool(v) => v.to_sql_checked(ty, out),
        }
    }
}

/// The error a parameter's conversion gives.
type BoxedError = Box<dyn std::error::Error + Sync + Send>;

impl ColumnRow for Row {
    type Error = tokio_postgres::Error;

    fn string(&self, i: usize) -> Result<String, tokio_postgres::Error> {
        self.try_get(i)
    }

    fn opt_string(&self, i: usize) -> Result<Option<String>, tokio_postgres::Error> {
        self.try_get(i)
    }

    fn int(&self, i: usize) -> Result<i64, tokio_postgres::Error> {
        self.try_get(i)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, tokio_postgres::Error> {
        self.try_get(i)
    }

    fn boolean(&self, i: usize) -> Result<bool, tokio_postgres::Error> {
        self.try_get(i)
    }

    fn opt_boolean(&self, i: usize) -> Result<Option<bool>, tokio_postgres::Error> {
        self.try_get(i)
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>, tokio_postgres::Error> {
        self.try_get(i)
    }

    fn failure(e: tokio_postgres::Error) -> StoreError {
        db_error(e)
    }
}

/// Loads the creditor's position `key` names. `lock`: the row is locked until the transaction
/// ends (`FOR UPDATE`), for a write; another writer of the same position waits for it, then
/// reads what it committed.
pub(super) async fn load_position(
    tx: &Transaction<'_>,
    organization: &FiscalCodePA,
    key: &PositionKey,
    lock: bool,
) -> Result<Option<(RowIds, DebtPosition)>, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let columns = &*POSITION_COLUMNS;
    let (sql, value) = match key {
        PositionKey::Iupd(iupd) => (
            format!(
                "SELECT {columns} FROM debt_position WHERE organization = $1 AND iupd = $2{lock}"
            ),
            iupd.as_str(),
        ),
        PositionKey::Notice(nav) => (
            format!(
                "SELECT {columns} FROM debt_position WHERE id =
                    (SELECT position_id FROM payment_option WHERE organization = $1 AND nav = $2){lock}"
            ),
            nav.as_str(),
        ),
    };
    let st = tx.prepare_cached(&sql).await.map_err(db_error)?;
    for _ in 0..NOTICE_TRIES {
        let row = tx
            .query_opt(&st, &[&organization.as_str(), &value])
            .await
            .map_err(db_error)?;
        let found = assemble(tx, row.into_iter().collect()).await?.pop();
        // The notice number is looked up before the lock is waited for: the write that held
        // it may have taken that option away. The next statement reads what it committed.
        if let (PositionKey::Notice(nav), Some((_, p))) = (key, &found)
            && !p.options.iter().any(|o| &o.nav == nav)
        {
            continue;
        }
        return Ok(found);
    }
    Ok(None)
}

/// The Node's lookup of one notice in one statement, so one round trip and no explicit
/// transaction (one statement reads one snapshot): the position row, the option, what the
/// rules read of all the position's options, then the option's transfers, one row each.
static NOTICE_LOOKUP: LazyLock<String> = LazyLock::new(|| {
    let qualified = |alias: &str, columns: &str| {
        (columns.split(','))
            .map(|c| format!("{alias}.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT {}, {}, s.nothing_paid, s.max_due_date, {TRANSFER_COLUMNS}
         FROM payment_option o
         JOIN debt_position p ON p.id = o.position_id
         CROSS JOIN LATERAL (
             SELECT bool_and(x.status = '{unpaid}') AS nothing_paid,
                    max(x.due_date) AS max_due_date
             FROM payment_option x WHERE x.position_id = o.position_id) s
         LEFT JOIN transfer t ON t.option_id = o.id
         WHERE o.organization = $1 AND o.nav = $2
         ORDER BY t.transfer_id",
        qualified("p", &POSITION_COLUMNS),
        qualified("o", OPTION_COLUMNS),
        unpaid = OptionStatus::Unpaid.as_str(),
    )
});

/// Where the parts of [`NOTICE_LOOKUP`]'s rows start: the option's columns, the summary's two,
/// the transfer's; counted once from the same column lists.
#[derive(Clone, Copy)]
struct NoticeOffsets {
    option: usize,
    summary: usize,
    transfer: usize,
}

static NOTICE_OFFSETS: LazyLock<NoticeOffsets> = LazyLock::new(|| {
    let count = |columns: &str| columns.split(',').count();
    let option = count(&POSITION_COLUMNS);
    let summary = option + count(OPTION_COLUMNS);
    NoticeOffsets {
        option,
        summary,
        transfer: summary + 2,
    }
});

/// The view of [`NOTICE_LOOKUP`]'s rows; None when there are none.
fn notice_view(rows: &[Row]) -> Result<Option<NoticeView>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let NoticeOffsets {
        option: option_at,
        summary: summary_at,
        transfer: transfer_at_,
    } = *NOTICE_OFFSETS;
    let (_, columns) = position_row(first).map_err(db_error)?;
    let mut option = payment_option_at(first, option_at)?;
    for r in rows {
        // No transfer: the LEFT JOIN's one row has none.
        if r.try_get::<_, Option<i64>>(transfer_at_)
            .map_err(db_error)?
            .is_some()
        {
            option.transfers.push(transfer_at(r, transfer_at_)?);
        }
    }
    let summary = OptionsSummary {
        nothing_paid: first.try_get(summary_at).map_err(db_error)?,
        max_due_date: Some(from_millis(
            first.try_get(summary_at + 1).map_err(db_error)?,
            "payment_option.due_date",
        )?),
    };
    let position = position_from_columns(columns, vec![option])?;
    Ok(NoticeView::from_parts(position, summary))
}

/// Lookups by notice number tried while the option keeps moving under them.
const NOTICE_TRIES: usize = 3;

/// Loads the positions of rows `ids`, in that order (those that are gone are left out).
pub(super) async fn load_positions_by_id(
    tx: &Transaction<'_>,
    ids: &[i64],
) -> Result<Vec<(RowIds, DebtPosition)>, StoreError> {
    let st = tx
        .prepare_cached(&format!(
            "SELECT {} FROM debt_position WHERE id = ANY($1)",
            *POSITION_COLUMNS
        ))
        .await
        .map_err(db_error)?;
    let mut rows = tx.query(&st, &[&ids]).await.map_err(db_error)?;
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    rows.sort_by_key(|r| at.get(&r.get::<_, i64>(0)).copied());
    assemble(tx, rows).await
}

/// The positions of rows of `debt_position` ([`POSITION_COLUMNS`]), in their order, with
/// their options and transfers: three statements whatever their number.
async fn assemble(
    tx: &Transaction<'_>,
    rows: Vec<Row>,
) -> Result<Vec<(RowIds, DebtPosition)>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let heads = rows
        .iter()
        .map(position_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    let ids: Vec<i64> = heads.iter().map(|(id, _)| *id).collect();
    let index: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    let mut option_ids: Vec<Vec<i64>> = vec![Vec::new(); ids.len()];
    let mut options: Vec<Vec<PaymentOption>> = vec![Vec::new(); ids.len()];
    // Option row id -> (position, option) indexes.
    let mut option_at: HashMap<i64, (usize, usize)> = HashMap::new();
    let st = tx
        .prepare_cached(&format!(
            "SELECT position_id, id, {OPTION_COLUMNS}
             FROM payment_option WHERE position_id = ANY($1) ORDER BY id"
        ))
        .await
        .map_err(db_error)?;
    for r in tx.query(&st, &[&ids]).await.map_err(db_error)? {
        let position_id: i64 = r.try_get(0).map_err(db_error)?;
        let option_id: i64 = r.try_get(1).map_err(db_error)?;
        let i = *index
            .get(&position_id)
            .ok_or_else(|| corrupt("payment_option.position_id", position_id))?;
        option_at.insert(option_id, (i, options[i].len()));
        option_ids[i].push(option_id);
        options[i].push(payment_option_at(&r, 2)?);
    }
    let st = tx
        .prepare_cached(&format!(
            "SELECT t.option_id, {TRANSFER_COLUMNS}
             FROM transfer t JOIN payment_option o ON o.id = t.option_id
             WHERE o.position_id = ANY($1) ORDER BY t.option_id, t.transfer_id"
        ))
        .await
        .map_err(db_error)?;
    for r in tx.query(&st, &[&ids]).await.map_err(db_error)? {
        let option_id: i64 = r.try_get(0).map_err(db_error)?;
        let (i, j) = *option_at
            .get(&option_id)
            .ok_or_else(|| corrupt("transfer.option_id", option_id))?;
        options[i][j].transfers.push(transfer_at(&r, 1)?);
    }
    heads
        .into_iter()
        .zip(options.into_iter().zip(option_ids))
        .map(|((id, columns), (options, option_ids))| {
            Ok((
                RowIds {
                    position: id,
                    options: option_ids,
                },
                position_from_columns(columns, options)?,
            ))
        })
        .collect()
}

/// Writes back what a payment changes: the position row (status, dates) and the one paid
/// option, if the position is still at `p.version` (compare and set). Its transfers and the
/// other options are untouched by a payment. Both statements are sent together: when the
/// position's changes none, the error rolls the option's back with the transaction.
pub(super) async fn write_payment(
    tx: &Transaction<'_>,
    ids: &RowIds,
    p: &DebtPosition,
    paid: usize,
) -> Result<(), StoreError> {
    let position_st = tx
        .prepare_cached(
            "UPDATE debt_position SET status = $1, validity_date = $2, publish_date = $3, payment_date = $4,
                last_updated_date = $5, expires_after = $8, version = version + 1
             WHERE id = $6 AND version = $7",
        )
        .await
        .map_err(db_error)?;
    let option_st = tx
        .prepare_cached(
            "UPDATE payment_option SET status = $1, payment_date = $2, payment_method = $3, psp_company = $4,
                receipt_id = $5, fee = $6, last_updated_date = $7
             WHERE id = $8",
        )
        .await
        .map_err(db_error)?;
    let (position, option) = payment_values(ids.position, ids.options[paid], p, paid);
    let (position, option) = (bound(&position), bound(&option));
    let (changed, _) = tokio::try_join!(
        biased;
        tx.execute(&position_st, &position),
        tx.execute(&option_st, &option),
    )
    .map_err(db_error)?;
    if changed != 1 {
        return Err(unavailable(
            "the position changed while it was being updated",
        ));
    }
    Ok(())
}

static REPLACE_POSITION: LazyLock<String> = LazyLock::new(|| replace_position_sql('$'));

/// Writes back the whole position (a creditor's update may change anything): the position row
/// in place, if it is still at `p.version` (compare and set), and its options and transfers
/// anew.
pub(super) async fn replace_position(
    tx: &Transaction<'_>,
    ids: &RowIds,
    p: &DebtPosition,
) -> Result<(), StoreError> {
    let values = replaced_position_values(ids.position, p);
    let st = tx
        .prepare_cached(&REPLACE_POSITION)
        .await
        .map_err(db_error)?;
    let changed = tx.execute(&st, &bound(&values)).await.map_err(db_error)?;
    if changed != 1 {
        return Err(unavailable(
            "the position changed while it was being updated",
        ));
    }
    let st = tx
        .prepare_cached("DELETE FROM payment_option WHERE position_id = $1")
        .await
        .map_err(db_error)?;
    tx.execute(&st, &[&ids.position]).await.map_err(db_error)?;
    insert_options(tx, ids.position, p).await
}

impl PgStore {
    pub async fn create_position(
        &self,
        position: DebtPosition,
    ) -> Result<DebtPosition, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        insert_position(&tx, &position).await?;
        super::commit(tx).await?;
        Ok(position)
    }

    pub async fn import_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut tries = 1;
        loop {
            match self.import_once(&positions).await {
                // A key taken by another instance after it was checked: the next try finds it.
                Err(StoreError::Duplicate { .. }) if tries < BATCH_TRIES => tries += 1,
                outcome => return outcome,
            }
        }
    }

    async fn import_once(
        &self,
        positions: &[DebtPosition],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let mut outcomes = Vec::with_capacity(positions.len());
        for p in positions {
            outcomes.push(match taken_key(&tx, p).await? {
                Some(duplicate) => Err(duplicate),
                // Checked first, so a failure here is not the position's: the batch fails.
                None => {
                    insert_position(&tx, p).await?;
                    Ok(())
                }
            });
        }
        super::commit(tx).await?;
        Ok(outcomes)
    }

    pub async fn create_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> Result<Result<(), Vec<(usize, StoreError)>>, StoreError> {
        let mut tries = 1;
        loop {
            match self.create_all_once(&positions).await {
                // A key taken by another instance after it was checked: the next try finds it.
                Err(StoreError::Duplicate { .. }) if tries < BATCH_TRIES => tries += 1,
                outcome => return outcome,
            }
        }
    }

    /// Inserts every position or none: the refused ones (a key taken) are returned with their
    /// index, and nothing is committed.
    async fn create_all_once(
        &self,
        positions: &[DebtPosition],
    ) -> Result<Result<(), Vec<(usize, StoreError)>>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let mut refused = Vec::new();
        for (i, p) in positions.iter().enumerate() {
            match taken_key(&tx, p).await? {
                Some(duplicate) => refused.push((i, duplicate)),
                None => {
                    insert_position(&tx, p).await?;
                }
            }
        }
        if !refused.is_empty() {
            tx.rollback().await.map_err(db_error)?;
            return Ok(Err(refused));
        }
        super::commit(tx).await?;
        Ok(Ok(()))
    }

    pub async fn positions_paying_iban(
        &self,
        organization: FiscalCodePA,
        iban: Iban,
    ) -> Result<Vec<Iupd>, StoreError> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(
                "SELECT p.iupd FROM debt_position p WHERE p.id IN (
                    SELECT o.position_id FROM payment_option o JOIN transfer t ON t.option_id = o.id
                    WHERE o.organization = $1 AND o.status = 'PO_UNPAID' AND t.iban = $2)
                 ORDER BY p.id",
            )
            .await
            .map_err(db_error)?;
        let rows = client
            .query(&st, &[&organization.as_str(), &iban.as_str()])
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let value: String = r.try_get(0).map_err(db_error)?;
                Iupd::parse(&value).map_err(|e| corrupt("debt_position.iupd", e))
            })
            .collect()
    }

    pub async fn get_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
    ) -> Result<Option<DebtPosition>, StoreError> {
        let mut client = self.client().await?;
        let tx = super::read_transaction(&mut client).await?;
        let found = load_position(&tx, &organization, &key, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(found.map(|(_, p)| p))
    }

    pub async fn get_notice(
        &self,
        organization: FiscalCodePA,
        nav: NoticeNumber,
    ) -> Result<Option<NoticeView>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .rows(&NOTICE_LOOKUP, &[&organization.as_str(), &nav.as_str()])
            .await?;
        notice_view(&rows)
    }

    pub async fn update_position_if(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        expected: Expected,
        change: Mutation,
    ) -> Result<DebtPosition, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let (ids, mut position) = load_position(&tx, &organization, &key, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !expected.admits(position.version) {
            return Err(StoreError::VersionMismatch {
                current: position.version,
            });
        }
        change(&mut position).map_err(refused)?;
        replace_position(&tx, &ids, &position).await?;
        super::commit(tx).await?;
        position.version += 1;
        Ok(position)
    }

    pub async fn update_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        change: Mutation,
    ) -> Result<DebtPosition, StoreError> {
        self.update_position_if(organization, key, Expected::Any, change)
            .await
    }

    pub async fn delete_position(
        &self,
        organization: FiscalCodePA,
        iupd: Iupd,
        expected: Expected,
        guard: Guard,
    ) -> Result<DebtPosition, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let position = delete_position(&tx, &organization, iupd, &expected, guard).await?;
        super::commit(tx).await?;
        Ok(position)
    }
}

/// Deletes the creditor's position `iupd` within `tx`, once it is locked, at the version
/// `expected` admits and passing `guard`; returns it as it was.
pub(super) async fn delete_position(
    tx: &Transaction<'_>,
    organization: &FiscalCodePA,
    iupd: Iupd,
    expected: &Expected,
    guard: Guard,
) -> Result<DebtPosition, StoreError> {
    let (ids, position) = load_position(tx, organization, &PositionKey::Iupd(iupd), true)
        .await?
        .ok_or(StoreError::NotFound)?;
    if !expected.admits(position.version) {
        return Err(StoreError::VersionMismatch {
            current: position.version,
        });
    }
    guard(&position).map_err(refused)?;
    // Options and transfers go with it (ON DELETE CASCADE).
    let st = tx
        .prepare_cached("DELETE FROM debt_position WHERE id = $1 AND version = $2")
        .await
        .map_err(db_error)?;
    let deleted = tx
        .execute(&st, &[&ids.position, &position.version])
        .await
        .map_err(db_error)?;
    if deleted != 1 {
        return Err(unavailable(
            "the position changed while it was being deleted",
        ));
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::at;
    use crate::domain::position::{OptionPayment, OptionStatus, PositionStatus};
    use crate::domain::{Cents, Text};
    use crate::store::conformance::org;
    use crate::store::conformance::positions::{duplicate_fields, fresh, sample};
    use crate::store::postgres::testing::{fresh_pair, fresh_store};

    #[tokio::test]
    async fn a_payment_writes_the_position_and_the_paid_option() {
        let Some(store) = fresh_store().await else {
            return;
        };
        let p = sample();
        store.create_position(p.clone()).await.unwrap();
        let mut client = store.client().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let key = PositionKey::Notice(p.options[1].nav.clone());
        let (ids, mut paid) = load_position(&tx, &org(), &key, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids.options.len(), 2);
        paid.status = PositionStatus::Paid;
        paid.payment_date = Some(at(2029, 5, 1));
        paid.options[1].status = OptionStatus::Paid;
        paid.options[1].payment = Some(OptionPayment {
            payment_date: at(2029, 5, 1),
            payment_method: Some("CP".into()),
            psp_company: Some("PSP".into()),
            receipt_id: "R-1".into(),
            fee: Cents::new(150).unwrap(),
        });
        write_payment(&tx, &ids, &paid, 1).await.unwrap();
        tx.commit().await.unwrap();
        paid.version += 1;
        assert_eq!(store.get_position(org(), key).await, Ok(Some(paid)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_updating_one_position_apply_every_change_in_turn() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        let p = sample();
        a.create_position(p.clone()).await.unwrap();
        let key = PositionKey::Iupd(p.iupd.clone());
        async fn append(store: &PgStore, key: &PositionKey, mark: &'static str) {
            for _ in 0..10 {
                store
                    .update_position(
                        org(),
                        key.clone(),
                        Box::new(move |p| {
                            p.company_name =
                                Text::new(format!("{}{mark}", p.company_name)).unwrap();
                            Ok(())
                        }),
                    )
                    .await
                    .unwrap();
            }
        }
        tokio::join!(append(&a, &key, "a"), append(&b, &key, "b"));
        let last = b.get_position(org(), key.clone()).await.unwrap().unwrap();
        assert_eq!(last.version, 20);
        let name = last.company_name.as_str();
        assert_eq!(
            name.matches('a').count() - p.company_name.as_str().matches('a').count(),
            10
        );
        assert_eq!(
            name.matches('b').count() - p.company_name.as_str().matches('b').count(),
            10
        );
        // Two writes expecting the same version: one is applied, the other finds it gone.
        async fn expect_20(store: &PgStore, key: &PositionKey) -> Result<i64, StoreError> {
            let expected = Expected::OneOf(vec![20]);
            let written =
                store.update_position_if(org(), key.clone(), expected, Box::new(|_| Ok(())));
            written.await.map(|p| p.version)
        }
        let (x, y) = tokio::join!(expect_20(&a, &key), expect_20(&b, &key));
        let mut outcomes = [x, y];
        outcomes.sort_by_key(|o| o.is_err());
        assert_eq!(
            outcomes,
            [Ok(21), Err(StoreError::VersionMismatch { current: 21 })]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_creating_one_position_store_it_once() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        let p = sample();
        let (x, y) = tokio::join!(a.create_position(p.clone()), b.create_position(p.clone()));
        let mut outcomes = [x.map(|_| ()), y.map(|_| ())];
        outcomes.sort_by_key(|o| o.is_err());
        assert_eq!(
            outcomes,
            [
                Ok(()),
                Err(StoreError::Duplicate {
                    field: "iupd",
                    value: "IUPD-1".into()
                })
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_importing_one_batch_store_each_position_once() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        let batch: Vec<DebtPosition> = (1..=30).map(|n| fresh(&format!("P-{n}"), n)).collect();
        let (x, y) = tokio::join!(
            a.import_positions(batch.clone()),
            b.import_positions(batch.clone())
        );
        let (x, y) = (duplicate_fields(&x.unwrap()), duplicate_fields(&y.unwrap()));
        for (i, pair) in x.iter().zip(&y).enumerate() {
            // One instance stored it; the other found it taken: by its IUPD, or by its notice
            // number when that unique index was the one the race reached first.
            match pair {
                (None, Some("iupd" | "nav")) | (Some("iupd" | "nav"), None) => {}
                other => panic!("position {i}: {other:?}"),
            }
        }
        let client = a.client().await.unwrap();
        let count: i64 = client
            .query_one("SELECT count(*) FROM debt_position", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 30);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_by_notice_waits_and_finds_where_the_notice_went() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        let p = sample();
        a.create_position(p.clone()).await.unwrap();
        let nav = p.options[1].nav.clone();
        // Instance a holds the position and moves the option to another position.
        let mut client = a.client().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let key = PositionKey::Iupd(p.iupd.clone());
        let (ids, mut held) = load_position(&tx, &org(), &key, true)
            .await
            .unwrap()
            .unwrap();
        let moved = held.options.remove(1);
        replace_position(&tx, &ids, &held).await.unwrap();
        let mut other = fresh("OTHER", 40);
        other.options = vec![moved];
        insert_position(&tx, &other).await.unwrap();
        // Instance b writes by that notice number meanwhile: it waits for a's lock.
        let waiting = tokio::spawn(async move {
            b.update_position(
                org(),
                PositionKey::Notice(nav),
                Box::new(|p| {
                    p.company_name = Text::new("Moved").unwrap();
                    Ok(())
                }),
            )
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        tx.commit().await.unwrap();
        let written = waiting.await.unwrap().unwrap();
        assert_eq!(written.iupd.as_str(), "OTHER");
        let first = a.get_position(org(), key).await.unwrap().unwrap();
        assert_eq!(first.company_name, p.company_name);
    }
}
