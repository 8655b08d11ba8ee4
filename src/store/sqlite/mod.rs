//! The embedded store: SQLite (bundled) in WAL mode. Writes go to one writer thread that
//! commits whatever is queued in one transaction (group commit, [`writer`]); reads run on a
//! small pool of read-only connections. The schema is migrated at open from the SQL files
//! embedded in the binary. One module per group of tables.

mod aca;
mod api_keys;
mod broadcast;
mod checkpoint;
mod columns;
mod connection;
mod filter;
mod journal;
mod lifecycle;
mod notice_jobs;
mod personal_data;
mod positions;
mod receipts;
mod reporting;
mod send;
mod sequence;
mod uploads;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::Semaphore;

use chrono::NaiveDateTime;

use super::{AcaMirror, MirrorRecord};
use super::{
    Acquisition, AttemptRecord, Delivery, DeliveryTarget, DeliveryWithoutRequest, DescribeItem,
    Expected, Guard, IuvBuilder, Leadership, Mutation, NewReceipt, NewUpload, Page, PageRequest,
    PositionKey, PositionQuery, Readiness, ReceiptFilter, ReceiptSummary, StationBacklog, Store,
    StoreError, StoreFuture, UploadFile, UploadItem, UploadOutcome, UploadQuery,
};
use super::{ErasureRule, Redact, SubjectReceipt};
use crate::domain::aca::{Archived, MirrorState};
use crate::domain::api_key::{ApiKey, KeyHash, KeyId};
use crate::domain::broadcast::{BroadcastStation, DeliveryState};
use crate::domain::journal::{JournalEntry, JournalFilter};
use crate::domain::notice_view::NoticeView;
use crate::domain::position::{DebtPosition, Iban, Iupd};
use crate::domain::receipt_digest::ReceiptDigest;
use crate::domain::{FiscalCodePA, NoticeNumber, SegregationCode, Text};
pub(crate) use connection::attach_journal;
use connection::{journal_path, open_connection, private_dir, private_files, unavailable};
use positions::{insert_position, load_position, replace_position, taken_key};
use writer::Writer;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_debt_positions.sql"),
    include_str!("../migrations/0002_receipts_broadcast.sql"),
    include_str!("../migrations/0003_api_keys.sql"),
    include_str!("../migrations/0004_position_lifecycle.sql"),
    include_str!("../migrations/0005_iuv_sequence.sql"),
    include_str!("../migrations/0006_receipt_beneficiaries.sql"),
    include_str!("../migrations/0007_receipt_identity.sql"),
    include_str!("../migrations/0008_upload_files.sql"),
    include_str!("../migrations/0009_api_key_segregation_codes.sql"),
    include_str!("../migrations/0010_spontaneous_marker.sql"),
    include_str!("../migrations/0011_delivery_request.sql"),
    include_str!("../migrations/0012_personal_data.sql"),
    include_str!("../migrations/0013_event_journal.sql"),
    include_str!("../migrations/0014_aca_mirror.sql"),
    include_str!("../migrations/0015_reporting_flows.sql"),
    include_str!("../migrations/0016_recovered_receipts.sql"),
    include_str!("../migrations/0017_send_notification.sql"),
    include_str!("../migrations/0018_notice_jobs.sql"),
    include_str!("../migrations/0019_receipt_recovery.sql"),
    include_str!("../migrations/0020_notice_view.sql"),
    include_str!("../migrations/0021_event_journal_file.sql"),
    include_str!("../migrations/0022_notice_view_trigger_plans.sql"),
];

/// The schema version this binary brings a data file to.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Read-only connections, and so concurrent reads: more would only contend for the CPU, and a
/// fixed pool means no connection is ever opened on the request path once warm.
const READERS: usize = 4;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// Set by `close`; checked by reads.
    closed: AtomicBool,
    /// One permit per reader connection: a read waits here, not on the blocking pool.
    read_permits: Semaphore,
}

impl SqliteStore {
    /// The database file's name inside the data directory.
    pub const FILE_NAME: &str = "gpd-gateway.sqlite";

    /// The event journal's file, beside it, attached to every connection as `journal`. A
    /// busy gateway commits journal entries several times a second, and SQLite empties a
    /// reader's page cache whenever the file it reads changed since its last transaction:
    /// in the data file, that cost the Node's lookups their cached pages at every batch
    /// (docs/performance.md).
    pub const JOURNAL_FILE_NAME: &str = connection::JOURNAL_FILE;

    /// Opens (creating if needed) the store in `dir` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        private_dir(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(Self::FILE_NAME);
        private_files(&path)
            .map_err(|e| unavailable(format!("cannot restrict {}: {e}", path.display())))?;
        private_files(&journal_path(&path)).map_err(|e| {
            unavailable(format!(
                "cannot restrict the journal beside {}: {e}",
                path.display()
            ))
        })?;
        let mut conn = Connection::open(&path).map_err(unavailable)?;
        attach_journal(&conn, &path).map_err(unavailable)?;
        for schema in ["main", "journal"] {
            let mode: String = conn
                .query_row(&format!("PRAGMA {schema}.journal_mode = WAL"), [], |r| {
                    r.get(0)
                })
                .map_err(unavailable)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(unavailable(format!(
                    "cannot switch {} ({schema}) to WAL mode",
                    path.display()
                )));
            }
        }
        conn.execute_batch(journal::SCHEMA).map_err(unavailable)?;
        migrate(&mut conn)?;
        positions::backfill_notices(&mut conn)?;
        drop(conn);
        let writer = Writer::start(
            open_connection(&path, false).map_err(unavailable)?,
            open_connection(&path, false).map_err(unavailable)?,
        )?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer,
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
        self.on_reader(move |conn| in_read_transaction(conn, f))
    }

    /// [`SqliteStore::read`] without the transaction: for a read of one statement, which is
    /// its own snapshot, or one that opens a transaction only when it needs more.
    fn on_reader<T, F>(&self, f: F) -> StoreFuture<'_, T>
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
            let result = f(&conn);
            inner.readers.lock().expect("reader pool").push(conn);
            result
        })
    }

    /// Runs `f` in the writer's next transaction; the answer comes once it is committed.
    fn write<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pending = self.inner.writer.submit(f);
        Box::pin(pending)
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
    // A migration may rebuild a table that others refer to, which SQLite allows only with
    // foreign keys off; each one then checks that every reference still holds.
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(unavailable)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let failed = |e: rusqlite::Error| unavailable(format!("migration {}: {e}", i + 1));
        let tx = conn.transaction().map_err(unavailable)?;
        tx.execute_batch(sql).map_err(failed)?;
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()
            .map_err(failed)?;
        if let Some(table) = broken {
            return Err(unavailable(format!(
                "migration {}: a row of {table} refers to a missing row",
                i + 1
            )));
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(unavailable)?;
    Ok(())
}

impl Store for SqliteStore {
    fn create_position(&self, position: DebtPosition) -> StoreFuture<'_, DebtPosition> {
        self.write(move |tx| {
            insert_position(tx, &position)?;
            Ok(position)
        })
    }

    fn import_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        self.write(move |tx| {
            positions
                .iter()
                .map(|p| match taken_key(tx, p)? {
                    Some(duplicate) => Ok(Err(duplicate)),
                    // Checked first, so a failure here is not the position's: the batch fails.
                    None => insert_position(tx, p).map(Ok),
                })
                .collect()
        })
    }

    fn create_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> StoreFuture<'_, Result<(), Vec<(usize, StoreError)>>> {
        self.write(move |tx| positions::create_all(tx, &positions))
    }

    fn positions_paying_iban(
        &self,
        organization: FiscalCodePA,
        iban: Iban,
    ) -> StoreFuture<'_, Vec<Iupd>> {
        self.read(move |conn| positions::paying_iban(conn, &organization, &iban))
    }

    fn create_with_new_iuv(
        &self,
        organization: FiscalCodePA,
        segregation: SegregationCode,
        build: IuvBuilder,
    ) -> StoreFuture<'_, DebtPosition> {
        self.write(move |tx| sequence::create_with_new_iuv(tx, &organization, segregation, build))
    }

    fn count_unpaid_spontaneous(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        self.read(move |conn| sequence::count_unpaid(conn, &organization, now, limit))
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

    fn get_notice(
        &self,
        organization: FiscalCodePA,
        nav: NoticeNumber,
    ) -> StoreFuture<'_, Option<NoticeView>> {
        self.on_reader(move |conn| {
            if let Some(view) = positions::read_notice(conn, &organization, &nav)? {
                return Ok(Some(view));
            }
            let key = PositionKey::Notice(nav.clone());
            let found = in_read_transaction(conn, |conn| load_position(conn, &organization, &key))?;
            Ok(found.and_then(|(_, p)| {
                let index = p.option_index(&nav)?;
                Some(NoticeView::from_position(p, index))
            }))
        })
    }

    fn update_position_if(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        expected: Expected,
        change: Mutation,
    ) -> StoreFuture<'_, DebtPosition> {
        self.write(move |tx| {
            let (ids, mut position) =
                load_position(tx, &organization, &key)?.ok_or(StoreError::NotFound)?;
            if !expected.admits(position.version) {
                return Err(StoreError::VersionMismatch {
                    current: position.version,
                });
            }
            change(&mut position).map_err(lifecycle::refused)?;
            replace_position(tx, &ids, &position)?;
            position.version += 1;
            Ok(position)
        })
    }

    fn delete_position(
        &self,
        organization: FiscalCodePA,
        iupd: Iupd,
        expected: Expected,
        guard: Guard,
    ) -> StoreFuture<'_, DebtPosition> {
        self.write(move |tx| lifecycle::delete(tx, &organization, iupd, &expected, guard))
    }

    fn list_positions(
        &self,
        organization: FiscalCodePA,
        query: PositionQuery,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, Page<DebtPosition>> {
        self.read(move |conn| lifecycle::list(conn, &organization, &query, now))
    }

    fn sweep_statuses(&self, now: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32> {
        self.write(move |tx| lifecycle::sweep(tx, now, limit))
    }

    fn acquire_receipt(&self, receipt: NewReceipt) -> StoreFuture<'_, Acquisition> {
        self.write(move |tx| receipts::acquire(tx, receipt))
    }

    fn receipt_document(
        &self,
        organization: FiscalCodePA,
        iuv: String,
    ) -> StoreFuture<'_, Option<Vec<u8>>> {
        self.read(move |conn| receipts::document(conn, &organization, &iuv))
    }

    fn receipts_missing_digest(&self, limit: u32) -> StoreFuture<'_, Vec<(i64, Vec<u8>)>> {
        self.read(move |conn| receipts::missing_digests(conn, limit))
    }

    fn set_receipt_digests(&self, digests: Vec<(i64, ReceiptDigest)>) -> StoreFuture<'_, ()> {
        self.write(move |tx| receipts::set_digests(tx, &digests))
    }

    fn list_receipts(
        &self,
        organization: FiscalCodePA,
        filter: ReceiptFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<ReceiptSummary>> {
        self.read(move |conn| receipts::list(conn, &organization, &filter, page))
    }

    fn broadcast_stations(
        &self,
        organization: Option<FiscalCodePA>,
    ) -> StoreFuture<'_, Vec<BroadcastStation>> {
        self.read(move |conn| broadcast::stations_of(conn, organization.as_ref(), false))
    }

    fn put_broadcast_station(&self, station: BroadcastStation) -> StoreFuture<'_, bool> {
        let now = chrono::Utc::now().naive_utc();
        self.write(move |tx| broadcast::put_station(tx, &station, now))
    }

    fn delete_broadcast_station(
        &self,
        organization: FiscalCodePA,
        station_id: Text<35>,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| broadcast::delete_station(tx, &organization, &station_id))
    }

    fn claim_deliveries(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryTarget>> {
        self.write(move |tx| broadcast::claim(tx, now, lease_until, limit))
    }

    fn deliveries_missing_request(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryWithoutRequest>> {
        self.read(move |conn| broadcast::missing_requests(conn, after, limit))
    }

    fn set_delivery_requests(
        &self,
        requests: Vec<(i64, Result<Vec<u8>, String>)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| broadcast::set_requests(tx, &requests, now))
    }

    fn end_request_backfill(&self) -> StoreFuture<'_, ()> {
        self.write(broadcast::end_request_backfill)
    }

    fn record_attempts(
        &self,
        records: Vec<(i64, AttemptRecord)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| {
            records
                .iter()
                .try_for_each(|(delivery, record)| broadcast::record(tx, *delivery, record, now))
        })
    }

    fn list_deliveries(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<DeliveryState>,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<Delivery>> {
        self.read(move |conn| broadcast::list(conn, organization.as_ref(), state, page))
    }

    fn station_backlog(&self) -> StoreFuture<'_, Vec<StationBacklog>> {
        self.read(broadcast::backlog)
    }

    fn redeliver(
        &self,
        organization: Option<FiscalCodePA>,
        delivery: i64,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, Delivery> {
        self.write(move |tx| broadcast::redeliver(tx, organization.as_ref(), delivery, now))
    }

    fn create_api_key(&self, key: ApiKey, hash: KeyHash) -> StoreFuture<'_, ()> {
        self.write(move |tx| api_keys::create(tx, &key, &hash))
    }

    fn api_key_by_hash(&self, hash: KeyHash) -> StoreFuture<'_, Option<ApiKey>> {
        self.read(move |conn| api_keys::by_hash(conn, &hash))
    }

    fn list_api_keys(&self) -> StoreFuture<'_, Vec<ApiKey>> {
        self.read(api_keys::list)
    }

    fn revoke_api_key(&self, id: KeyId, now: NaiveDateTime) -> StoreFuture<'_, ApiKey> {
        self.write(move |tx| api_keys::revoke(tx, &id, now))
    }

    fn create_upload(&self, upload: NewUpload) -> StoreFuture<'_, ()> {
        self.write(move |tx| uploads::create(tx, &upload))
    }

    fn upload(
        &self,
        organization: FiscalCodePA,
        id: String,
    ) -> StoreFuture<'_, Option<UploadFile>> {
        self.read(move |conn| uploads::get(conn, &organization, &id))
    }

    fn uploads_in_progress(&self) -> StoreFuture<'_, Vec<UploadFile>> {
        self.read(uploads::in_progress)
    }

    fn upload_content(&self, id: String) -> StoreFuture<'_, Vec<u8>> {
        self.read(move |conn| uploads::content(conn, &id))
    }

    fn apply_upload_items(
        &self,
        id: String,
        first: u32,
        items: Vec<UploadItem>,
        describe: DescribeItem,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| uploads::apply_items(tx, &id, first, items, &describe, now))
    }

    fn upload_outcomes(&self, id: String) -> StoreFuture<'_, Vec<UploadOutcome>> {
        self.read(move |conn| uploads::outcomes(conn, &id))
    }

    fn list_uploads(&self, query: UploadQuery) -> StoreFuture<'_, Vec<UploadFile>> {
        self.read(move |conn| uploads::list(conn, &query))
    }

    fn append_journal(&self, entries: Vec<JournalEntry>) -> StoreFuture<'_, ()> {
        self.write(move |tx| journal::append(tx, &entries))
    }

    fn list_journal(
        &self,
        organization: FiscalCodePA,
        filter: JournalFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<JournalEntry>> {
        self.read(move |conn| journal::list(conn, &organization, &filter, page))
    }

    fn prune_journal(&self, before: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32> {
        self.write(move |tx| journal::prune(tx, before, limit))
    }

    fn create_notice_job(
        &self,
        job: super::NewNoticeJob,
    ) -> StoreFuture<'_, (super::NoticeJob, bool)> {
        self.write(move |tx| notice_jobs::create(tx, &job))
    }

    fn notice_job(
        &self,
        organization: FiscalCodePA,
        id: String,
    ) -> StoreFuture<'_, Option<super::NoticeJob>> {
        self.read(move |conn| notice_jobs::get(conn, &organization, &id))
    }

    fn notice_job_failures(&self, id: String) -> StoreFuture<'_, Vec<super::NoticeFailure>> {
        self.read(move |conn| notice_jobs::failures(conn, &id))
    }

    fn claim_notices(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<super::ClaimedNotice>> {
        self.write(move |tx| notice_jobs::claim(tx, now, lease_until, limit))
    }

    fn record_notices(
        &self,
        results: Vec<(String, u32, crate::domain::notice_job::NoticeResult)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| notice_jobs::record(tx, &results, now))
    }

    fn fail_notice_job(
        &self,
        id: String,
        error: String,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| notice_jobs::fail(tx, &id, &error, now))
    }

    fn made_notices(
        &self,
        id: String,
        after: u32,
        limit: u32,
    ) -> StoreFuture<'_, Vec<(u32, Vec<u8>)>> {
        self.read(move |conn| notice_jobs::made(conn, &id, after, limit))
    }

    fn prune_notice_jobs(&self, before: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32> {
        self.write(move |tx| notice_jobs::prune(tx, before, limit))
    }

    /// Always granted: one process opens a SQLite file, so no other instance runs the job.
    fn erase_positions_past_retention(
        &self,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        self.erase(move |tx| personal_data::erase_past_retention(tx, now, limit))
    }

    fn debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
    ) -> StoreFuture<'_, Vec<DebtPosition>> {
        self.read(move |conn| personal_data::debtor_positions(conn, &organization, &debtor))
    }

    fn erase_debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
        now: NaiveDateTime,
        rule: ErasureRule,
    ) -> StoreFuture<'_, Vec<(DebtPosition, bool)>> {
        self.erase(move |tx| personal_data::erase_debtor(tx, &organization, &debtor, now, &rule))
    }

    fn subject_receipts(
        &self,
        organization: FiscalCodePA,
        subject: String,
    ) -> StoreFuture<'_, Vec<SubjectReceipt>> {
        self.read(move |conn| personal_data::subject_receipts(conn, &organization, &subject))
    }

    fn erase_receipts_received_before(
        &self,
        before: NaiveDateTime,
        now: NaiveDateTime,
        redact: Redact,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        self.erase(move |tx| personal_data::erase_receipts(tx, before, now, &redact, limit))
    }

    fn lead(&self, _job: &'static str) -> StoreFuture<'_, Option<Leadership>> {
        Box::pin(async { Ok(Some(Leadership::sole())) })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
    }

    fn readiness(&self, now: NaiveDateTime) -> StoreFuture<'_, Readiness> {
        let expected = MIGRATIONS.len() as i64;
        let schema = self.read(move |conn| {
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(unavailable)?;
            if version == expected {
                Ok(Ok(()))
            } else {
                Ok(Err(format!(
                    "the data file has schema version {version}, this binary needs {expected}"
                )))
            }
        });
        let write = self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO store_probe (id, written_at) VALUES (1, ?1)",
                [columns::millis(now)],
            )
            .map(|_| ())
            .map_err(unavailable)
        });
        Box::pin(async move {
            let (schema, write) = tokio::join!(schema, write);
            Ok(Readiness {
                writes: write.map_err(|e| e.to_string()),
                schema: schema.unwrap_or_else(|e| Err(e.to_string())),
            })
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            inner.closed.store(true, Ordering::Release);
            inner.readers.lock().expect("reader pool").clear();
            inner.writer.close().await
        })
    }

    // SEND notification costs.
    fn mark_send_sync(&self, items: Vec<(FiscalCodePA, NoticeNumber)>) -> StoreFuture<'_, u32> {
        self.write(move |tx| send::mark(tx, &items))
    }

    // Reporting flows (FdR).

    fn reporting_flow_stored(
        &self,
        organization: FiscalCodePA,
        id: crate::domain::reporting::FlowId,
    ) -> StoreFuture<'_, bool> {
        self.read(move |conn| reporting::stored(conn, &organization, &id))
    }

    fn record_reporting_flow(
        &self,
        flow: crate::domain::reporting::ReportingFlow,
        reconcile: super::Reconcile,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, super::FlowRecorded> {
        self.write(move |tx| reporting::record(tx, flow, reconcile, now))
    }

    fn list_reporting_flows(
        &self,
        organization: FiscalCodePA,
        filter: super::FlowFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<super::FlowSummary>> {
        self.read(move |conn| reporting::list_flows(conn, &organization, &filter, page))
    }

    fn reporting_flow_payments(
        &self,
        organization: FiscalCodePA,
        id: crate::domain::reporting::FlowId,
        page: PageRequest,
    ) -> StoreFuture<'_, Option<(super::FlowSummary, Page<super::FlowPaymentRecord>)>> {
        self.read(move |conn| reporting::flow_payments(conn, &organization, &id, page))
    }

    fn list_reporting_anomalies(
        &self,
        organization: FiscalCodePA,
        filter: super::AnomalyFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<super::AnomalyRecord>> {
        self.read(move |conn| reporting::list_anomalies(conn, &organization, &filter, page))
    }

    fn flag_unreported_transfers(
        &self,
        paid_before: NaiveDateTime,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        self.write(move |tx| reporting::flag_unreported(tx, paid_before, now, limit))
    }

    fn due_receipt_recoveries(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<super::DueRecovery>> {
        self.read(move |conn| reporting::due_recoveries(conn, &organization, now, limit))
    }

    fn settle_receipt_recovery(
        &self,
        organization: FiscalCodePA,
        anomaly: i64,
        attempt: super::RecoveryAttempt,
        rematch: Option<super::Rematch>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, u32> {
        self.write(move |tx| {
            reporting::settle_recovery(tx, &organization, anomaly, &attempt, rematch, now)
        })
    }

    // The mirror of positions to the central notices archive (ACA).

    fn set_aca_creditors(&self, organizations: Vec<FiscalCodePA>) -> StoreFuture<'_, ()> {
        self.write(move |tx| aca::set_creditors(tx, &organizations))
    }

    fn claim_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AcaMirror>> {
        self.write(move |tx| aca::claim(tx, organization.as_ref(), now, lease_until, limit))
    }

    fn record_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        generation: i64,
        record: MirrorRecord,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| aca::record(tx, &organization, &iupd, generation, &record, now))
    }

    fn list_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<MirrorState>,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<AcaMirror>> {
        self.read(move |conn| aca::list(conn, organization.as_ref(), state, page))
    }

    fn retry_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
    ) -> StoreFuture<'_, AcaMirror> {
        self.write(move |tx| aca::retry(tx, &organization, &iupd))
    }

    fn reset_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        archived: Option<Archived>,
    ) -> StoreFuture<'_, ()> {
        self.write(move |tx| aca::reset(tx, &organization, &iupd, &archived))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Iuv;
    use crate::domain::journal::{EventKind, Outcome};
    use crate::domain::position::tests::at;
    use crate::domain::position::{Iupd, PositionStatus};
    use crate::store::conformance::Subject;
    use crate::store::conformance::sequence::with_iuv;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, store)
    }

    /// A store in a directory of its own, opened again from that directory.
    async fn fresh_subject() -> Option<Subject> {
        let (dir, store) = store();
        let path = dir.path().to_owned();
        let reopen = move || {
            let store = SqliteStore::open(&path).unwrap();
            async move { Arc::new(store) as Arc<dyn Store> }
        };
        Some(Subject::new(Arc::new(store), dir, reopen))
    }

    crate::store::conformance::suite!(fresh_subject);

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse("77777777777").unwrap()
    }

    #[test]
    fn writing_connections_zero_what_they_delete() {
        let (dir, _store) = store();
        let path = dir.path().join(SqliteStore::FILE_NAME);
        let secure = |read_only| -> i64 {
            open_connection(&path, read_only)
                .unwrap()
                .query_row("PRAGMA secure_delete", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(secure(false), 1);
    }

    #[cfg(unix)]
    #[test]
    fn directory_and_files_are_the_owner_s_only() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a").join("data");
        let _store = SqliteStore::open(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for name in [
            "gpd-gateway.sqlite",
            "gpd-gateway.sqlite-wal",
            "gpd-gateway.sqlite-shm",
            "gpd-gateway-journal.sqlite",
            "gpd-gateway-journal.sqlite-wal",
            "gpd-gateway-journal.sqlite-shm",
        ] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        // Files left wider by an earlier version are narrowed at the next open.
        let file = dir.join(SqliteStore::FILE_NAME);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_files(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }

    fn seg(s: &str) -> SegregationCode {
        SegregationCode::parse(s).unwrap()
    }

    /// The columns (and the read-model table) of positions that migrations after the spontaneous
    /// mark add, which today's insert writes: made for the inserts into an older schema, then dropped again.
    const LATER_COLUMNS: &str = "ALTER TABLE debt_position ADD COLUMN retained_until INTEGER;
        ALTER TABLE debt_position ADD COLUMN personal_data_erased_at INTEGER;
        ALTER TABLE payment_option ADD COLUMN send_sync INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE notice_view (organization TEXT NOT NULL, nav TEXT NOT NULL,
            body BLOB NOT NULL, PRIMARY KEY (organization, nav)) WITHOUT ROWID;";
    const LATER_COLUMNS_GONE: &str = "ALTER TABLE debt_position DROP COLUMN retained_until;
        ALTER TABLE debt_position DROP COLUMN personal_data_erased_at;
        ALTER TABLE payment_option DROP COLUMN send_sync;
        DROP TABLE notice_view;";

    #[tokio::test]
    async fn the_spontaneous_mark_is_given_to_positions_issued_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SqliteStore::FILE_NAME);
        let before = MIGRATIONS
            .iter()
            .position(|m| m.contains("ADD COLUMN spontaneous"))
            .unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..before] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", before as i64)
                .unwrap();
            conn.execute_batch(LATER_COLUMNS).unwrap();
            let valid = |mut p: DebtPosition, iupd: String| {
                p.status = PositionStatus::Valid;
                p.iupd = Iupd::parse(&iupd).unwrap();
                p
            };
            // Issued by paDemandPaymentNotice: <idServizio>-<IUV>, with a sequence.
            let issued = Iuv::from_parts(seg("02"), 1).unwrap();
            insert_position(
                &conn,
                &valid(with_iuv(issued.clone()), format!("DONAZ-{issued}")),
            )
            .unwrap();
            conn.execute(
                "INSERT INTO iuv_sequence VALUES ('77777777777', '02', 2)",
                [],
            )
            .unwrap();
            // The creditor's own: one with an IUPD of the same shape but another IUV.
            let own = Iuv::from_parts(seg("01"), 5).unwrap();
            insert_position(&conn, &valid(with_iuv(own), format!("TARI1-{issued}"))).unwrap();
            let plain = Iuv::from_parts(seg("01"), 6).unwrap();
            insert_position(&conn, &valid(with_iuv(plain), "IUPD-1".into())).unwrap();
            conn.execute_batch(LATER_COLUMNS_GONE).unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let count = store
            .count_unpaid_spontaneous(org(), at(2026, 1, 1), 100)
            .await
            .unwrap();
        assert_eq!(count, 1);
    }

    /// A data file in `dir` at schema `version` (its first `version` migrations applied),
    /// holding the rows `insert` writes.
    fn data_file_at(dir: &Path, version: usize, insert: &str) {
        let conn = Connection::open(dir.join(SqliteStore::FILE_NAME)).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn.execute_batch(insert).unwrap();
    }

    #[test]
    fn every_read_model_trigger_deletes_by_the_primary_key() {
        let (dir, _store) = store();
        let conn = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
        let triggers: Vec<(String, String)> = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'notice_view%'")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(triggers.len(), 8);
        for (name, sql) in triggers {
            let body = &sql[sql.find("BEGIN").unwrap() + 5..sql.rfind("END").unwrap()];
            for statement in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                // The row's values as constants: the plan is what a trigger's run gets.
                let mut plain = statement.to_owned();
                for row in ["OLD.", "NEW."] {
                    while let Some(at) = plain.find(row) {
                        let end = plain[at + 4..]
                            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .map_or(plain.len(), |n| at + 4 + n);
                        plain.replace_range(at..end, "'0'");
                    }
                }
                let plan: Vec<String> = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {plain}"))
                    .unwrap()
                    .query_map([], |r| r.get(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                let on_rows: Vec<&String> =
                    plan.iter().filter(|d| d.contains("notice_view")).collect();
                assert!(!on_rows.is_empty(), "{name}: {plan:?}");
                for detail in on_rows {
                    assert!(
                        detail.contains("PRIMARY KEY (organization=? AND nav=?)"),
                        "{name}: {statement}: {detail}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn journal_entries_of_the_data_file_move_to_the_journal_s_own() {
        let dir = tempfile::tempdir().unwrap();
        let before = MIGRATIONS
            .iter()
            .position(|m| m.contains("journal.event_journal"))
            .unwrap();
        data_file_at(
            dir.path(),
            before,
            "INSERT INTO event_journal (id, at, kind, organization, outcome, duration_us)
             VALUES (1, 1000, 'REST', '77777777777', 'OK', 5),
                    (2, 2000, 'REST', '77777777777', 'OK', 6)",
        );
        let store = SqliteStore::open(dir.path()).unwrap();
        let page = PageRequest { page: 0, limit: 10 };
        let listed = store
            .list_journal(org(), JournalFilter::default(), page)
            .await
            .unwrap();
        assert_eq!(listed.items_found, 2);
        let conn = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name LIKE 'event_journal%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "the data file keeps no journal table");
    }

    #[tokio::test]
    async fn a_journal_commit_leaves_the_data_file_as_it_is() {
        let (dir, store) = store();
        let reader = open_connection(&dir.path().join(SqliteStore::FILE_NAME), true).unwrap();
        // What SQLite compares to decide whether a reader's page cache still holds.
        let version = |schema: &str| -> i64 {
            reader
                .query_row(&format!("PRAGMA {schema}.data_version"), [], |r| r.get(0))
                .unwrap()
        };
        let (data, journal) = (version("main"), version("journal"));
        let mut entry = JournalEntry::new(EventKind::Rest, at(2026, 1, 1), Outcome::Ok, 1);
        entry.organization = Some(org().to_string());
        store.append_journal(vec![entry]).await.unwrap();
        assert_eq!(version("main"), data);
        assert_ne!(version("journal"), journal);
    }

    #[tokio::test]
    async fn receipts_stored_before_the_beneficiaries_table_keep_their_recipient() {
        let dir = tempfile::tempdir().unwrap();
        // A receipt addressed to a beneficiary.
        data_file_at(
            dir.path(),
            5,
            "INSERT INTO receipt (organization, receipt_id, recipient, broker_id, station_id,
                version, iuv, nav, status, amount, debtor, psp_id, psp_company, received_at, document)
             VALUES ('77777777777', 'R-OLD', '88888888888', '88888888888', '88888888888_01',
                2, '01000000000000144', '301000000000000144', 'FLAGGED', 100, 'X', 'PSP', 'PSP',
                0, x'3c782f3e')",
        );
        let store = SqliteStore::open(dir.path()).unwrap();
        let beneficiary = FiscalCodePA::parse("88888888888").unwrap();
        let listed = store
            .list_receipts(
                beneficiary.clone(),
                ReceiptFilter::default(),
                PageRequest { page: 0, limit: 10 },
            )
            .await
            .unwrap();
        assert_eq!(listed.items_found, 1);
        assert_eq!(listed.items[0].receipt_id, "R-OLD");
        let document = store
            .receipt_document(beneficiary, "01000000000000144".into())
            .await
            .unwrap();
        assert_eq!(document.as_deref(), Some(&b"<x/>"[..]));
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn deliveries_created_before_requests_were_stored_get_theirs_then_are_claimed() {
        let dir = tempfile::tempdir().unwrap();
        // A receipt and its deliveries as they were created before requests were stored.
        data_file_at(
            dir.path(),
            10,
            "INSERT INTO receipt (id, organization, receipt_id, recipient, broker_id, station_id,
                version, iuv, nav, status, amount, debtor, psp_id, psp_company, received_at,
                document, digest)
             VALUES (7, '77777777777', 'R-OLD', '77777777777', '77777777777', '77777777777_01',
                2, '01000000000000144', '301000000000000144', 'APPLIED', 100, 'X', 'PSP', 'PSP',
                0, x'3c782f3e', zeroblob(32));
             INSERT INTO delivery (id, receipt, organization, station_id, broker_id, url,
                primitive_version, timeout_ms, state, next_attempt_at, last_error, created_at,
                updated_at)
             VALUES (1, 7, '88888888888', 'DUE', '88888888888', 'https://s.example.org/', 2,
                    1000, 'PENDING', 0, NULL, 0, 0),
                (2, 7, '88888888888', 'DONE', '88888888888', 'https://s.example.org/', 2,
                    1000, 'DELIVERED', NULL, NULL, 0, 0),
                (3, 7, '88888888888', 'V1', '88888888888', 'https://s.example.org/', 1,
                    1000, 'UNDELIVERABLE', NULL, 'a stamp', 0, 0),
                (4, 7, '88888888888', 'UNREADABLE', '88888888888', 'https://s.example.org/', 2,
                    1000, 'PENDING', 0, NULL, 0, 0);",
        );
        let store = SqliteStore::open(dir.path()).unwrap();
        let now = at(2029, 6, 1);
        let lease = now + chrono::Duration::seconds(60);
        // Until it has a request, a pending delivery is not taken.
        assert!(
            store
                .claim_deliveries(now, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let missing = store.deliveries_missing_request(0, 10).await.unwrap();
        let ids: Vec<i64> = missing.iter().map(|d| d.id).collect();
        assert_eq!(ids, [1, 2, 4]);
        assert_eq!(missing[0].station.station_id.as_str(), "DUE");
        assert_eq!(missing[0].document, b"<x/>");
        assert_eq!(
            store.deliveries_missing_request(2, 10).await.unwrap()[0].id,
            4
        );
        let unreadable = Err("the stored receipt cannot be read".to_owned());
        let requests = vec![
            (1, Ok(b"<due/>".to_vec())),
            (2, Ok(b"<done/>".to_vec())),
            (4, unreadable),
        ];
        store.set_delivery_requests(requests, now).await.unwrap();
        assert_eq!(
            store.deliveries_missing_request(0, 10).await.unwrap()[0].id,
            4
        );
        // Once the pass has ended, no start looks for them again.
        store.end_request_backfill().await.unwrap();
        assert!(
            store
                .deliveries_missing_request(0, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let claimed = store.claim_deliveries(now, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (claimed[0].id, &claimed[0].request[..]),
            (1, &b"<due/>"[..])
        );
        let all = PageRequest { page: 0, limit: 10 };
        let listed = store.list_deliveries(None, None, all).await.unwrap();
        let given_up = listed.items.iter().find(|d| d.id == 4).unwrap();
        assert_eq!(
            (
                given_up.state,
                given_up.attempts,
                given_up.last_error.as_deref()
            ),
            (
                DeliveryState::Failed,
                1,
                Some("the stored receipt cannot be read")
            )
        );
        // A delivered one is re-queued with its request; one without any cannot be.
        let again = store.redeliver(None, 2, lease).await.unwrap();
        assert_eq!(again.state, DeliveryState::Pending);
        let later = lease + chrono::Duration::seconds(1);
        let claimed = store.claim_deliveries(later, later, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(claimed.iter().any(|c| c.request == b"<done/>"));
        assert!(matches!(
            store.redeliver(None, 4, later).await,
            Err(StoreError::Refused(_))
        ));
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn receipts_stored_before_digests_keep_their_rows_and_links() {
        let dir = tempfile::tempdir().unwrap();
        // A receipt, its beneficiary and a delivery.
        data_file_at(
            dir.path(),
            6,
            "INSERT INTO receipt (id, organization, receipt_id, recipient, broker_id, station_id,
                version, iuv, nav, status, amount, debtor, psp_id, psp_company, received_at, document)
             VALUES (7, '77777777777', 'R-OLD', '77777777777', '77777777777', '77777777777_01',
                2, '01000000000000144', '301000000000000144', 'APPLIED', 100, 'X', 'PSP', 'PSP',
                0, x'3c782f3e');
             INSERT INTO receipt_beneficiary (organization, receipt) VALUES ('88888888888', 7);
             INSERT INTO delivery (receipt, organization, station_id, broker_id, url,
                primitive_version, timeout_ms, state, created_at, updated_at)
             VALUES (7, '88888888888', 'S', '88888888888', 'https://s.example.org/', 2, 1000,
                'DELIVERED', 0, 0);",
        );
        let store = SqliteStore::open(dir.path()).unwrap();
        let missing = store.receipts_missing_digest(10).await.unwrap();
        assert_eq!(missing, vec![(7, b"<x/>".to_vec())]);
        let digest = ReceiptDigest([9; 32]);
        store.set_receipt_digests(vec![(7, digest)]).await.unwrap();
        assert!(store.receipts_missing_digest(10).await.unwrap().is_empty());
        let beneficiary = FiscalCodePA::parse("88888888888").unwrap();
        let page = PageRequest { page: 0, limit: 10 };
        let listed = store
            .list_receipts(beneficiary.clone(), ReceiptFilter::default(), page)
            .await
            .unwrap();
        assert_eq!(listed.items[0].receipt_id, "R-OLD");
        let deliveries = store
            .list_deliveries(Some(beneficiary), None, page)
            .await
            .unwrap();
        assert_eq!(deliveries.items[0].receipt_id, "R-OLD");
        store.close().await.unwrap();
    }
}
