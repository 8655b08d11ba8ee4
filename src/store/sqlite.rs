//! The embedded store: SQLite (bundled) in WAL mode, one writer connection and a small pool of
//! read-only connections, every call run on tokio's blocking pool. The schema is migrated at
//! open from the SQL files embedded in the binary.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use chrono::{DateTime, NaiveDateTime};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::json;

use super::{Mutation, PositionKey, Store, StoreError, StoreFuture};
use crate::domain::messages::{
    CountryCode, Email, EntityId, EntityType, MapEntry, StampRequest, Subject,
};
use crate::domain::position::{
    Account, DebtPosition, Debtor, Iban, Iupd, OptionPayment, OptionStatus, PaymentOption,
    PositionStatus, Transfer, TransferStatus,
};
use crate::domain::{Cents, FiscalCodePA, Iuv, NoticeNumber, Text, TransferId};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_debt_positions.sql")];
const FILE_NAME: &str = "gpd-gateway.sqlite";
/// Read-only connections, and so concurrent reads: more would only contend for the CPU, and a
/// fixed pool means no connection is ever opened on the request path once warm.
const READERS: usize = 4;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// Set by `close`; checked by reads without touching the writer, which a write holds
    /// for its whole transaction.
    closed: AtomicBool,
    /// One permit per reader connection: a read waits here, not on the blocking pool.
    read_permits: Semaphore,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(column: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored value of {column} is invalid: {problem}"))
}

fn open_connection(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Plans fixed at prepare time: otherwise SQLite marks statements whose plan may depend on a
    // bound value for re-planning, and re-prepares them at every new value (measured: every
    // lookup), which more than doubled the cost of a read.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    if read_only {
        // 8 MiB of page cache per reader keeps the upper levels of every index in memory.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -8192;")?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let mut conn = Connection::open(&path).map_err(unavailable)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(unavailable)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(unavailable(format!(
                "cannot switch {} to WAL mode",
                path.display()
            )));
        }
        migrate(&mut conn)?;
        drop(conn);
        let writer = open_connection(&path, false).map_err(unavailable)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(Some(writer)),
                readers: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                read_permits: Semaphore::new(READERS),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a read-only connection, in one read transaction (a consistent snapshot and
    /// one lock round for all its statements). Reads run on the calling task's thread: they are
    /// index lookups on pages the OS keeps cached, and handing them to the blocking pool cost
    /// more than the lookup itself (docs/decisions.md). The semaphore bounds them to the pool.
    fn read<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        Box::pin(async move {
            let _permit = inner.read_permits.acquire().await.map_err(unavailable)?;
            if inner.closed.load(Ordering::Acquire) {
                return Err(unavailable("the store is closed"));
            }
            let pooled = inner.readers.lock().expect("reader pool").pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&inner.path, true).map_err(unavailable)?,
            };
            let result = in_read_transaction(&conn, f);
            inner.readers.lock().expect("reader pool").push(conn);
            result
        })
    }

    /// Runs `f` inside an immediate transaction on the writer connection, committing on Ok.
    fn write<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.write_blocking(f))
                .await
                .map_err(unavailable)?
        })
    }

    /// Inserts many positions in one transaction (bulk loads); all or nothing.
    pub fn create_positions_blocking(&self, positions: &[DebtPosition]) -> Result<(), StoreError> {
        self.inner
            .write_blocking(|tx| positions.iter().try_for_each(|p| insert_position(tx, p)))
    }
}

impl Inner {
    fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.writer.lock().expect("writer lock");
        let conn = guard
            .as_mut()
            .ok_or_else(|| unavailable("the store is closed"))?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let value = f(&tx)?;
        tx.commit().map_err(unavailable)?;
        Ok(value)
    }
}

fn in_read_transaction<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.prepare_cached("BEGIN")
        .and_then(|mut st| st.execute([]))
        .map_err(unavailable)?;
    let result = f(conn);
    if let Err(e) = conn
        .prepare_cached("COMMIT")
        .and_then(|mut st| st.execute([]))
    {
        // Never hand a connection back with a transaction still open.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(unavailable(e));
    }
    result
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(unavailable)?;
    if applied as usize > MIGRATIONS.len() {
        return Err(unavailable(format!(
            "the data file has schema version {applied}, newer than this binary ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let tx = conn.transaction().map_err(unavailable)?;
        tx.execute_batch(sql)
            .map_err(|e| unavailable(format!("migration {}: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn create_position(&self, position: DebtPosition) -> StoreFuture<'_, DebtPosition> {
        self.write(move |tx| {
            insert_position(tx, &position)?;
            Ok(position)
        })
    }

    fn get_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
    ) -> StoreFuture<'_, Option<DebtPosition>> {
        self.read(move |conn| {
            load_position(conn, &organization, &key).map(|found| found.map(|(_, p)| p))
        })
    }

    fn update_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        change: Mutation,
    ) -> StoreFuture<'_, DebtPosition> {
        self.write(move |tx| {
            let (ids, mut position) =
                load_position(tx, &organization, &key)?.ok_or(StoreError::NotFound)?;
            change(&mut position).map_err(StoreError::Refused)?;
            write_back(tx, &ids, &position)?;
            position.version += 1;
            Ok(position)
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                inner.closed.store(true, Ordering::Release);
                inner.readers.lock().expect("reader pool").clear();
                if let Some(conn) = inner.writer.lock().expect("writer lock").take() {
                    // Folds the WAL back into the database file so the directory is self-contained.
                    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                        .map_err(unavailable)?;
                    conn.close().map_err(|(_, e)| unavailable(e))?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)?
        })
    }
}

fn millis(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

fn from_millis(ms: i64, column: &str) -> Result<NaiveDateTime, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.naive_utc())
        .ok_or_else(|| corrupt(column, ms))
}

fn opt_millis(ms: Option<i64>, column: &str) -> Result<Option<NaiveDateTime>, StoreError> {
    ms.map(|m| from_millis(m, column)).transpose()
}

fn text<const N: usize>(s: String, column: &str) -> Result<Text<N>, StoreError> {
    Text::new(s).map_err(|e| corrupt(column, e))
}

fn opt_text<const N: usize>(
    s: Option<String>,
    column: &str,
) -> Result<Option<Text<N>>, StoreError> {
    s.map(|s| text(s, column)).transpose()
}

fn cents(v: i64, column: &str) -> Result<Cents, StoreError> {
    Cents::new(v).map_err(|e| corrupt(column, e))
}

fn metadata_json(entries: &[MapEntry]) -> String {
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

fn metadata_from_json(s: &str, column: &str) -> Result<Vec<MapEntry>, StoreError> {
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

fn map_unique(e: rusqlite::Error, fallback_field: &'static str, value: &str) -> StoreError {
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

fn insert_position(tx: &Transaction<'_>, p: &DebtPosition) -> Result<(), StoreError> {
    let d = &p.debtor;
    let s = &d.subject;
    tx.prepare_cached(
        "INSERT INTO debt_position (organization, iupd, status, company_name, office_name, debtor_type,
            debtor_fiscal_code, debtor_full_name, street_name, civic_number, postal_code, city, province, region,
            country, email, phone, switch_to_expired, pay_stand_in, validity_date, publish_date, payment_date,
            inserted_date, last_updated_date, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    )
    .and_then(|mut st| {
        st.execute(params![
            p.organization.as_str(),
            p.iupd.as_str(),
            p.status.as_str(),
            p.company_name.as_str(),
            p.office_name.as_ref().map(Text::as_str),
            s.entity_type.as_str(),
            s.entity_id.as_str(),
            s.full_name.as_str(),
            s.street_name.as_ref().map(Text::as_str),
            s.civic_number.as_ref().map(Text::as_str),
            s.postal_code.as_ref().map(Text::as_str),
            s.city.as_ref().map(Text::as_str),
            s.state_province_region.as_ref().map(Text::as_str),
            d.region.as_ref().map(Text::as_str),
            s.country.as_ref().map(CountryCode::as_str),
            s.email.as_ref().map(Email::as_str),
            d.phone.as_ref().map(Text::as_str),
            p.switch_to_expired,
            p.pay_stand_in,
            p.validity_date.map(millis),
            p.publish_date.map(millis),
            p.payment_date.map(millis),
            millis(p.inserted_date),
            millis(p.last_updated_date),
            p.version,
        ])
    })
    .map_err(|e| map_unique(e, "iupd", p.iupd.as_str()))?;
    let position_id = tx.last_insert_rowid();
    for o in &p.options {
        let pay = o.payment.as_ref();
        tx.prepare_cached(
            "INSERT INTO payment_option (position_id, organization, iuv, nav, amount, description, is_partial_payment,
                due_date, retention_date, notification_fee, status, payment_date, payment_method, psp_company,
                receipt_id, fee, metadata, last_updated_date)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        )
        .and_then(|mut st| {
            st.execute(params![
                position_id,
                p.organization.as_str(),
                o.iuv.as_str(),
                o.nav.as_str(),
                o.amount.get(),
                o.description.as_str(),
                o.is_partial_payment,
                millis(o.due_date),
                o.retention_date.map(millis),
                o.notification_fee.map(Cents::get),
                o.status.as_str(),
                pay.map(|x| millis(x.payment_date)),
                pay.and_then(|x| x.payment_method.as_deref()),
                pay.and_then(|x| x.psp_company.as_deref()),
                pay.map(|x| x.receipt_id.as_str()),
                pay.map_or(0, |x| x.fee.get()),
                metadata_json(&o.metadata),
                millis(o.last_updated_date),
            ])
        })
        .map_err(|e| {
            let err = map_unique(e, "iuv", o.iuv.as_str());
            match err {
                StoreError::Duplicate { field: "nav", .. } => StoreError::Duplicate { field: "nav", value: o.nav.to_string() },
                other => other,
            }
        })?;
        let option_id = tx.last_insert_rowid();
        for tr in &o.transfers {
            let (iban, postal, stamp) = match &tr.account {
                Account::Iban { iban, postal_iban } => (
                    Some(iban.as_str()),
                    postal_iban.as_ref().map(Iban::as_str),
                    None,
                ),
                Account::Stamp(s) => (None, None, Some(s)),
            };
            tx.prepare_cached(
                "INSERT INTO transfer (option_id, transfer_id, organization, company_name, amount, remittance_information,
                    category, iban, postal_iban, stamp_hash, stamp_type, stamp_province, status, metadata)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    option_id,
                    tr.id.get(),
                    tr.organization.as_str(),
                    tr.company_name.as_ref().map(Text::as_str),
                    tr.amount.get(),
                    tr.remittance_information.as_str(),
                    tr.category.as_str(),
                    iban,
                    postal,
                    stamp.map(|s| s.hash_document.as_str()),
                    stamp.map(|s| s.stamp_type.as_str()),
                    stamp.map(|s| s.provincial_residence.as_str()),
                    tr.status.as_str(),
                    metadata_json(&tr.metadata),
                ])
            })
            .map_err(|e| map_unique(e, "idTransfer", &tr.id.to_string()))?;
        }
    }
    Ok(())
}

/// Row ids of a loaded position, for writing it back.
struct RowIds {
    position: i64,
    options: Vec<i64>,
}

macro_rules! position_columns {
    () => {
        "id, organization, iupd, status, company_name, office_name, debtor_type,
    debtor_fiscal_code, debtor_full_name, street_name, civic_number, postal_code, city, province, region, country,
    email, phone, switch_to_expired, pay_stand_in, validity_date, publish_date, payment_date, inserted_date,
    last_updated_date, version"
    };
}

struct PositionRow {
    id: i64,
    organization: String,
    iupd: String,
    status: String,
    company_name: String,
    office_name: Option<String>,
    debtor: [Option<String>; 12],
    switch_to_expired: bool,
    pay_stand_in: bool,
    dates: [Option<i64>; 5],
    version: i64,
}

fn position_row(r: &Row<'_>) -> rusqlite::Result<PositionRow> {
    let mut debtor: [Option<String>; 12] = Default::default();
    for (i, slot) in debtor.iter_mut().enumerate() {
        *slot = r.get(6 + i)?;
    }
    Ok(PositionRow {
        id: r.get(0)?,
        organization: r.get(1)?,
        iupd: r.get(2)?,
        status: r.get(3)?,
        company_name: r.get(4)?,
        office_name: r.get(5)?,
        debtor,
        switch_to_expired: r.get(18)?,
        pay_stand_in: r.get(19)?,
        dates: [r.get(20)?, r.get(21)?, r.get(22)?, r.get(23)?, r.get(24)?],
        version: r.get(25)?,
    })
}

fn load_position(
    conn: &Connection,
    organization: &FiscalCodePA,
    key: &PositionKey,
) -> Result<Option<(RowIds, DebtPosition)>, StoreError> {
    let row = match key {
        PositionKey::Iupd(iupd) => conn
            .prepare_cached(concat!(
                "SELECT ",
                position_columns!(),
                " FROM debt_position WHERE organization = ?1 AND iupd = ?2"
            ))
            .and_then(|mut st| {
                st.query_row(params![organization.as_str(), iupd.as_str()], position_row)
                    .optional()
            }),
        PositionKey::Notice(nav) => conn
            .prepare_cached(concat!(
                "SELECT ",
                position_columns!(),
                " FROM debt_position WHERE id =
                    (SELECT position_id FROM payment_option INDEXED BY payment_option_notice
                     WHERE organization = ?1 AND nav = ?2)"
            ))
            .and_then(|mut st| {
                st.query_row(params![organization.as_str(), nav.as_str()], position_row)
                    .optional()
            }),
    }
    .map_err(unavailable)?;
    let Some(row) = row else { return Ok(None) };

    let mut option_ids = Vec::new();
    let mut options = Vec::new();
    {
        let mut st = conn
            .prepare_cached(
                "SELECT id, iuv, nav, amount, description, is_partial_payment, due_date, retention_date, notification_fee,
                    status, payment_date, payment_method, psp_company, receipt_id, fee, metadata, last_updated_date
                 FROM payment_option WHERE position_id = ?1 ORDER BY id",
            )
            .map_err(unavailable)?;
        let mut rows = st.query([row.id]).map_err(unavailable)?;
        while let Some(r) = rows.next().map_err(unavailable)? {
            option_ids.push(r.get::<_, i64>(0).map_err(unavailable)?);
            options.push(option_from_row(r).map_err(|e| match e {
                RowError::Sql(e) => unavailable(e),
                RowError::Invalid(e) => e,
            })?);
        }
    }
    {
        let mut st = conn
            .prepare_cached(
                "SELECT t.option_id, t.transfer_id, t.organization, t.company_name, t.amount, t.remittance_information,
                    t.category, t.iban, t.postal_iban, t.stamp_hash, t.stamp_type, t.stamp_province, t.status, t.metadata
                 FROM transfer t JOIN payment_option o ON o.id = t.option_id
                 WHERE o.position_id = ?1 ORDER BY t.option_id, t.transfer_id",
            )
            .map_err(unavailable)?;
        let mut rows = st.query([row.id]).map_err(unavailable)?;
        while let Some(r) = rows.next().map_err(unavailable)? {
            let option_id: i64 = r.get(0).map_err(unavailable)?;
            let index = option_ids
                .iter()
                .position(|&id| id == option_id)
                .ok_or_else(|| corrupt("transfer.option_id", option_id))?;
            let transfer = transfer_from_row(r).map_err(|e| match e {
                RowError::Sql(e) => unavailable(e),
                RowError::Invalid(e) => e,
            })?;
            options[index].transfers.push(transfer);
        }
    }

    let [
        dtype,
        dcode,
        dname,
        street,
        civic,
        postal,
        city,
        province,
        region,
        country,
        email,
        phone,
    ] = row.debtor;
    let subject = Subject {
        entity_type: dtype
            .as_deref()
            .and_then(EntityType::parse)
            .ok_or_else(|| corrupt("debtor_type", "not F or G"))?,
        entity_id: EntityId::parse(dcode.as_deref().unwrap_or_default())
            .map_err(|e| corrupt("debtor_fiscal_code", e))?,
        full_name: text(dname.unwrap_or_default(), "debtor_full_name")?,
        street_name: opt_text(street, "street_name")?,
        civic_number: opt_text(civic, "civic_number")?,
        postal_code: opt_text(postal, "postal_code")?,
        city: opt_text(city, "city")?,
        state_province_region: opt_text(province, "province")?,
        country: country
            .map(|c| CountryCode::parse(&c))
            .transpose()
            .map_err(|e| corrupt("country", e))?,
        email: email
            .map(|c| Email::parse(&c))
            .transpose()
            .map_err(|e| corrupt("email", e))?,
    };
    let [validity, publish, payment, inserted, updated] = row.dates;
    let position = DebtPosition {
        organization: FiscalCodePA::parse(&row.organization)
            .map_err(|e| corrupt("organization", e))?,
        iupd: Iupd::parse(&row.iupd).map_err(|e| corrupt("iupd", e))?,
        company_name: text(row.company_name, "company_name")?,
        office_name: opt_text(row.office_name, "office_name")?,
        debtor: Debtor {
            subject,
            region: opt_text(region, "region")?,
            phone: opt_text(phone, "phone")?,
        },
        switch_to_expired: row.switch_to_expired,
        pay_stand_in: row.pay_stand_in,
        validity_date: opt_millis(validity, "validity_date")?,
        status: PositionStatus::parse(&row.status).ok_or_else(|| corrupt("status", &row.status))?,
        publish_date: opt_millis(publish, "publish_date")?,
        payment_date: opt_millis(payment, "payment_date")?,
        inserted_date: from_millis(inserted.unwrap_or_default(), "inserted_date")?,
        last_updated_date: from_millis(updated.unwrap_or_default(), "last_updated_date")?,
        version: row.version,
        options,
    };
    Ok(Some((
        RowIds {
            position: row.id,
            options: option_ids,
        },
        position,
    )))
}

enum RowError {
    Sql(rusqlite::Error),
    Invalid(StoreError),
}

impl From<rusqlite::Error> for RowError {
    fn from(e: rusqlite::Error) -> Self {
        RowError::Sql(e)
    }
}

impl From<StoreError> for RowError {
    fn from(e: StoreError) -> Self {
        RowError::Invalid(e)
    }
}

fn option_from_row(r: &Row<'_>) -> Result<PaymentOption, RowError> {
    let status: String = r.get(9)?;
    let status =
        OptionStatus::parse(&status).ok_or_else(|| corrupt("payment_option.status", &status))?;
    let payment_date: Option<i64> = r.get(10)?;
    let payment = match (status, payment_date) {
        (OptionStatus::Unpaid, _) => None,
        (_, date) => Some(OptionPayment {
            payment_date: from_millis(date.unwrap_or_default(), "payment_option.payment_date")?,
            payment_method: r.get(11)?,
            psp_company: r.get(12)?,
            receipt_id: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
            fee: cents(r.get(14)?, "payment_option.fee")?,
        }),
    };
    let iuv: String = r.get(1)?;
    let nav: String = r.get(2)?;
    Ok(PaymentOption {
        iuv: Iuv::parse(&iuv).map_err(|e| corrupt("payment_option.iuv", e))?,
        nav: NoticeNumber::parse(&nav).map_err(|e| corrupt("payment_option.nav", e))?,
        amount: cents(r.get(3)?, "payment_option.amount")?,
        description: text(r.get(4)?, "payment_option.description")?,
        is_partial_payment: r.get(5)?,
        due_date: from_millis(r.get(6)?, "payment_option.due_date")?,
        retention_date: opt_millis(r.get(7)?, "payment_option.retention_date")?,
        notification_fee: r
            .get::<_, Option<i64>>(8)?
            .map(|v| cents(v, "payment_option.notification_fee"))
            .transpose()?,
        status,
        payment,
        transfers: Vec::new(),
        metadata: metadata_from_json(&r.get::<_, String>(15)?, "payment_option.metadata")?,
        last_updated_date: from_millis(r.get(16)?, "payment_option.last_updated_date")?,
    })
}

fn transfer_from_row(r: &Row<'_>) -> Result<Transfer, RowError> {
    let iban: Option<String> = r.get(7)?;
    let postal: Option<String> = r.get(8)?;
    let account = match (iban, r.get::<_, Option<String>>(9)?) {
        (Some(iban), None) => Account::Iban {
            iban: Iban::parse(&iban).map_err(|e| corrupt("transfer.iban", e))?,
            postal_iban: postal
                .map(|p| Iban::parse(&p))
                .transpose()
                .map_err(|e| corrupt("transfer.postal_iban", e))?,
        },
        (None, Some(hash)) => {
            let province: String = r.get::<_, Option<String>>(11)?.unwrap_or_default();
            Account::Stamp(StampRequest {
                hash_document: hash,
                stamp_type: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                provincial_residence: CountryCode::parse(&province)
                    .map_err(|e| corrupt("transfer.stamp_province", e))?,
            })
        }
        _ => return Err(corrupt("transfer.iban", "neither or both of IBAN and stamp").into()),
    };
    let organization: String = r.get(2)?;
    let status: String = r.get(12)?;
    Ok(Transfer {
        id: TransferId::new(r.get(1)?).map_err(|e| corrupt("transfer.transfer_id", e))?,
        organization: FiscalCodePA::parse(&organization)
            .map_err(|e| corrupt("transfer.organization", e))?,
        company_name: opt_text(r.get(3)?, "transfer.company_name")?,
        amount: cents(r.get(4)?, "transfer.amount")?,
        remittance_information: text(r.get(5)?, "transfer.remittance_information")?,
        category: text(r.get(6)?, "transfer.category")?,
        account,
        metadata: metadata_from_json(&r.get::<_, String>(13)?, "transfer.metadata")?,
        status: TransferStatus::parse(&status)
            .ok_or_else(|| corrupt("transfer.status", &status))?,
    })
}

/// Writes back what a mutation may change: statuses, dates, payments and amounts.
fn write_back(tx: &Transaction<'_>, ids: &RowIds, p: &DebtPosition) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE debt_position SET status = ?1, validity_date = ?2, publish_date = ?3, payment_date = ?4,
                last_updated_date = ?5, version = version + 1
             WHERE id = ?6 AND version = ?7",
        )
        .and_then(|mut st| {
            st.execute(params![
                p.status.as_str(),
                p.validity_date.map(millis),
                p.publish_date.map(millis),
                p.payment_date.map(millis),
                millis(p.last_updated_date),
                ids.position,
                p.version,
            ])
        })
        .map_err(unavailable)?;
    if changed != 1 {
        return Err(unavailable(
            "the position changed while it was being updated",
        ));
    }
    for (o, &option_id) in p.options.iter().zip(&ids.options) {
        let pay = o.payment.as_ref();
        tx.prepare_cached(
            "UPDATE payment_option SET amount = ?1, notification_fee = ?2, status = ?3, payment_date = ?4,
                payment_method = ?5, psp_company = ?6, receipt_id = ?7, fee = ?8, last_updated_date = ?9
             WHERE id = ?10",
        )
        .and_then(|mut st| {
            st.execute(params![
                o.amount.get(),
                o.notification_fee.map(Cents::get),
                o.status.as_str(),
                pay.map(|x| millis(x.payment_date)),
                pay.and_then(|x| x.payment_method.as_deref()),
                pay.and_then(|x| x.psp_company.as_deref()),
                pay.map(|x| x.receipt_id.as_str()),
                pay.map_or(0, |x| x.fee.get()),
                millis(o.last_updated_date),
                option_id,
            ])
        })
        .map_err(unavailable)?;
        for t in &o.transfers {
            tx.prepare_cached("UPDATE transfer SET amount = ?1, status = ?2 WHERE option_id = ?3 AND transfer_id = ?4")
                .and_then(|mut st| st.execute(params![t.amount.get(), t.status.as_str(), option_id, t.id.get()]))
                .map_err(unavailable)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::Conflict;
    use crate::domain::position::tests::{at, option, position};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, store)
    }

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse("77777777777").unwrap()
    }

    fn sample() -> DebtPosition {
        let mut p = position(vec![
            option(1, 1500, at(2030, 1, 1), false),
            option(2, 700, at(2030, 2, 1), true),
        ]);
        p.options[0].transfers[0].account = Account::Stamp(StampRequest {
            hash_document: "cXVhbHNpYXNpIGNvc2E=".into(),
            stamp_type: "01".into(),
            provincial_residence: CountryCode::parse("RM").unwrap(),
        });
        p.options[1].metadata = vec![MapEntry {
            key: Text::new("k").unwrap(),
            value: Text::new("v & w").unwrap(),
        }];
        p.debtor.subject.email = Some(Email::parse("a@b.it").unwrap());
        p
    }

    #[tokio::test]
    async fn round_trip_by_iupd_and_by_notice() {
        let (_dir, store) = store();
        let p = sample();
        store.create_position(p.clone()).await.unwrap();
        let by_iupd = store
            .get_position(org(), PositionKey::Iupd(p.iupd.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_iupd, p);
        let nav = p.options[1].nav.clone();
        let by_nav = store
            .get_position(org(), PositionKey::Notice(nav))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_nav, p);
        let other = FiscalCodePA::parse("88888888888").unwrap();
        assert_eq!(
            store
                .get_position(other, PositionKey::Iupd(p.iupd.clone()))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn uniqueness_per_organization() {
        let (_dir, store) = store();
        let p = sample();
        store.create_position(p.clone()).await.unwrap();
        let err = store.create_position(p.clone()).await.unwrap_err();
        assert_eq!(
            err,
            StoreError::Duplicate {
                field: "iupd",
                value: "IUPD-1".into()
            }
        );
        let mut same_iuv = p.clone();
        same_iuv.iupd = Iupd::parse("IUPD-2").unwrap();
        match store.create_position(same_iuv).await.unwrap_err() {
            StoreError::Duplicate { field, .. } => {
                assert!(field == "iuv" || field == "nav", "{field}")
            }
            e => panic!("{e}"),
        }
        // Nothing of the refused positions was kept.
        let gone = store
            .get_position(org(), PositionKey::Iupd(Iupd::parse("IUPD-2").unwrap()))
            .await
            .unwrap();
        assert_eq!(gone, None);
        let mut other_org = p;
        other_org.organization = FiscalCodePA::parse("88888888888").unwrap();
        store.create_position(other_org).await.unwrap();
    }

    #[tokio::test]
    async fn update_is_atomic_and_versioned() {
        let (_dir, store) = store();
        let p = sample();
        store.create_position(p.clone()).await.unwrap();
        let key = PositionKey::Iupd(p.iupd.clone());
        let refused = store
            .update_position(
                org(),
                key.clone(),
                Box::new(|p| {
                    p.status = PositionStatus::Invalid;
                    Err(Conflict("no".into()))
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(refused, StoreError::Refused(Conflict("no".into())));
        let now = at(2029, 1, 1);
        let updated = store
            .update_position(
                org(),
                key.clone(),
                Box::new(move |p| p.publish(now).map(|_| ())),
            )
            .await
            .unwrap();
        assert_eq!(updated.status, PositionStatus::Valid);
        assert_eq!(updated.version, 1);
        let read = store.get_position(org(), key).await.unwrap().unwrap();
        assert_eq!(read, updated);
        let missing = PositionKey::Iupd(Iupd::parse("nope").unwrap());
        assert_eq!(
            store
                .update_position(org(), missing, Box::new(|_| Ok(())))
                .await
                .unwrap_err(),
            StoreError::NotFound
        );
    }

    #[tokio::test]
    async fn survives_reopen_and_refuses_after_close() {
        let (dir, store) = store();
        store.create_position(sample()).await.unwrap();
        store.close().await.unwrap();
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        let reopened = SqliteStore::open(dir.path()).unwrap();
        let key = PositionKey::Iupd(Iupd::parse("IUPD-1").unwrap());
        assert!(reopened.get_position(org(), key).await.unwrap().is_some());
    }
}
