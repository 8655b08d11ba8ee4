//! Persistence behind the [`Store`] trait. SQLite (embedded, the default) implements it in
//! [`sqlite`]; a PostgreSQL backend for several instances implements the same trait. Methods
//! return boxed futures so that the trait can be used as `dyn Store` from the async server.

use std::future::Future;
use std::pin::Pin;

use chrono::NaiveDateTime;

use crate::domain::aca::{Archived, MirrorState};
use crate::domain::api_key::{ApiKey, KeyHash, KeyId};
use crate::domain::broadcast::{BroadcastStation, DeliveryState};
use crate::domain::journal::{JournalEntry, JournalFilter};
use crate::domain::notice_job::NoticeResult;
use crate::domain::notice_view::NoticeView;
use crate::domain::position::{DebtPosition, Iban, Iupd};
use crate::domain::receipt_digest::ReceiptDigest;
use crate::domain::reporting::{FlowId, ReportingFlow};
use crate::domain::{FiscalCodePA, Iuv, NoticeNumber, SegregationCode, Text};

mod aca;
mod columns;
#[cfg(test)]
pub mod conformance;
pub mod copy;
mod error;
mod notice_job_columns;
pub mod notice_jobs;
mod notice_row;
pub mod postgres;
#[cfg(test)]
pub mod receipt_fixtures;
pub mod records;
pub mod reporting;
pub mod sqlite;

pub use error::StoreError;
pub use notice_jobs::{ClaimedNotice, NewNoticeJob, NoticeFailure, NoticeJob};
pub use records::*;
pub use reporting::*;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// How a position is found: by the creditor's IUPD, or by the notice number of one of its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionKey {
    Iupd(Iupd),
    Notice(NoticeNumber),
}

/// Builds the position that gets a newly issued IUV; called again with the next IUV when the
/// first clashes with a stored one.
pub type IuvBuilder = Box<dyn Fn(Iuv) -> DebtPosition + Send>;

/// Which versions of a position a write may apply to (an `If-Match` precondition).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Expected {
    /// Whatever the latest version is.
    #[default]
    Any,
    /// Only one of these; an empty list matches none.
    OneOf(Vec<i64>),
}

impl Expected {
    pub fn admits(&self, version: i64) -> bool {
        match self {
            Expected::Any => true,
            Expected::OneOf(versions) => versions.contains(&version),
        }
    }
}

/// The lead of a periodic job ([`Store::lead`]), released when dropped.
pub struct Leadership(Option<Box<dyn LeadLock>>);

/// What holds a [`Leadership`] in a store shared by several instances.
pub trait LeadLock: Send + Sync {
    /// Whether the lock is still held: false once the store has lost it (its connection to
    /// the database ended), and then another instance may have taken it.
    fn holds(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

impl Leadership {
    /// The lead of a store only one process opens: nobody else to share it with.
    pub fn sole() -> Leadership {
        Leadership(None)
    }

    /// The lead as long as `lock` holds.
    pub fn locked(lock: Box<dyn LeadLock>) -> Leadership {
        Leadership(Some(lock))
    }

    /// Whether it is still held.
    pub async fn holds(&self) -> bool {
        match &self.0 {
            None => true,
            Some(lock) => lock.holds().await,
        }
    }
}

pub trait Store: Send + Sync + 'static {
    /// Inserts a new position with its options and transfers; IUPD, IUV and notice number are
    /// unique per organization.
    fn create_position(&self, position: DebtPosition) -> StoreFuture<'_, DebtPosition>;

    /// Inserts a batch of new positions in one transaction: a position whose IUPD, IUV or
    /// notice number is taken (also by an earlier one of the same batch) is left out and its
    /// error returned in its place, while the others are committed together. Any other failure
    /// refuses the whole batch. The answer comes once the batch is durable.
    fn import_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> StoreFuture<'_, Vec<Result<(), StoreError>>>;

    /// Inserts several new positions in one transaction, all or nothing: when any of them has
    /// an IUPD, IUV or notice number that is taken (in the store or by an earlier one of the
    /// list), none is stored and each refused one is returned with its index and why.
    fn create_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> StoreFuture<'_, Result<(), Vec<(usize, StoreError)>>>;

    /// The IUPDs of the creditor's positions with an unpaid option that has a transfer credited
    /// to `iban`, oldest first.
    fn positions_paying_iban(
        &self,
        organization: FiscalCodePA,
        iban: Iban,
    ) -> StoreFuture<'_, Vec<Iupd>>;

    /// Issues a new IUV of `segregation` for the organization and inserts the position `build`
    /// makes with it, in one transaction. The IUV is the next of the creditor's sequence that
    /// no option (IUV or notice number) or receipt of the creditor has: never one issued before.
    /// The position is recorded as spontaneous (see [`Store::count_unpaid_spontaneous`]).
    fn create_with_new_iuv(
        &self,
        organization: FiscalCodePA,
        segregation: SegregationCode,
        build: IuvBuilder,
    ) -> StoreFuture<'_, DebtPosition>;

    /// How many positions made by [`Store::create_with_new_iuv`] the organization has still
    /// payable at `now` (PUBLISHED or VALID, not past their expiry), counted up to `limit`.
    fn count_unpaid_spontaneous(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32>;

    fn get_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
    ) -> StoreFuture<'_, Option<DebtPosition>>;

    /// The creditor's option of notice number `nav`, with what the payability rules read of its
    /// position: the Node's lookups. Read from the per-notice read model when its row is there
    /// (one index descent), else from the position as [`Store::get_position`] loads it.
    fn get_notice(
        &self,
        organization: FiscalCodePA,
        nav: NoticeNumber,
    ) -> StoreFuture<'_, Option<NoticeView>>;

    /// Reads, changes and writes back one position atomically, if its version is one
    /// `expected` admits (else `VersionMismatch`); the written position is returned, its
    /// version one higher. The write compares and sets the version: no other write in between
    /// is ever overwritten.
    fn update_position_if(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        expected: Expected,
        change: Mutation,
    ) -> StoreFuture<'_, DebtPosition>;

    /// [`Store::update_position_if`] on whatever version is the latest.
    fn update_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        change: Mutation,
    ) -> StoreFuture<'_, DebtPosition> {
        self.update_position_if(organization, key, Expected::Any, change)
    }

    /// Deletes a position with its options and transfers, if its version is one `expected`
    /// admits and `guard` lets it go, atomically; the deleted position is returned.
    fn delete_position(
        &self,
        organization: FiscalCodePA,
        iupd: Iupd,
        expected: Expected,
        guard: Guard,
    ) -> StoreFuture<'_, DebtPosition>;

    /// The page of the creditor's positions that `query` asks for. Statuses are those in
    /// force at `now` ([`DebtPosition::status_at`]), for the filter and the ordering alike;
    /// filtering, ordering and paging happen in the store, on indexes.
    fn list_positions(
        &self,
        organization: FiscalCodePA,
        query: PositionQuery,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, Page<DebtPosition>>;

    /// Writes into up to `limit` positions the status that time gave them as of `now`
    /// ([`DebtPosition::settle`]); returns how many changed. Versions are left alone: every
    /// read already showed that status. Call again while it returns `limit`.
    fn sweep_statuses(&self, now: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32>;

    /// Stores a receipt, applies it to its payment option and creates its deliveries, in one
    /// transaction: when this returns Ok the receipt is durable.
    fn acquire_receipt(&self, receipt: NewReceipt) -> StoreFuture<'_, Acquisition>;

    /// The stored document of the receipt for an IUV of the creditor (as notice owner, as the
    /// recipient the Node addressed, or as beneficiary of a transfer): the applied one first,
    /// else the earliest received.
    fn receipt_document(
        &self,
        organization: FiscalCodePA,
        iuv: String,
    ) -> StoreFuture<'_, Option<Vec<u8>>>;

    /// Up to `limit` receipts stored before content digests were kept, as (row, document),
    /// oldest first; for [`Store::set_receipt_digests`] to fill in.
    fn receipts_missing_digest(&self, limit: u32) -> StoreFuture<'_, Vec<(i64, Vec<u8>)>>;

    /// Records the content digests of receipts that had none.
    fn set_receipt_digests(&self, digests: Vec<(i64, ReceiptDigest)>) -> StoreFuture<'_, ()>;

    /// The creditor's receipts (as notice owner, recipient or beneficiary), newest first.
    fn list_receipts(
        &self,
        organization: FiscalCodePA,
        filter: ReceiptFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<ReceiptSummary>>;

    /// The broadcast stations of one creditor, or of all.
    fn broadcast_stations(
        &self,
        organization: Option<FiscalCodePA>,
    ) -> StoreFuture<'_, Vec<BroadcastStation>>;

    /// Creates or replaces a station; true when it was created.
    fn put_broadcast_station(&self, station: BroadcastStation) -> StoreFuture<'_, bool>;

    fn delete_broadcast_station(
        &self,
        organization: FiscalCodePA,
        station_id: Text<35>,
    ) -> StoreFuture<'_, ()>;

    /// Takes up to `limit` PENDING deliveries due at `now`, with their stored requests, pushing
    /// their next attempt to `lease_until` so that no one else takes them while they are
    /// attempted. A delivery without a request yet (see
    /// [`Store::deliveries_missing_request`]) is not taken.
    fn claim_deliveries(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryTarget>>;

    /// Up to `limit` deliveries, not UNDELIVERABLE, created before requests were stored with
    /// them, of rows after `after`, in row order; for [`Store::set_delivery_requests`] to fill
    /// in.
    fn deliveries_missing_request(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryWithoutRequest>>;

    /// Stores the requests of deliveries that had none. A delivery whose request cannot be
    /// written (`Err`: why) keeps none and, if PENDING, is given up: FAILED with that error, one
    /// attempt more.
    fn set_delivery_requests(
        &self,
        requests: Vec<(i64, Result<Vec<u8>, String>)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()>;

    /// Ends the filling in of older deliveries' requests: [`Store::deliveries_missing_request`]
    /// finds none from then on (those whose documents could not be read included).
    fn end_request_backfill(&self) -> StoreFuture<'_, ()>;

    /// Records attempts' results (one more attempt made on each delivery), all or none.
    fn record_attempts(
        &self,
        records: Vec<(i64, AttemptRecord)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()>;

    /// Deliveries to one creditor's stations, or to all, optionally in one state; newest first.
    fn list_deliveries(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<DeliveryState>,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<Delivery>>;

    /// The PENDING deliveries of each station that has any (by organization and station id),
    /// whichever instance created them: for the metrics, read at each scrape.
    fn station_backlog(&self) -> StoreFuture<'_, Vec<StationBacklog>>;

    /// Makes a delivery PENDING again, due at `now`, with its attempts counted from zero.
    /// Refused for UNDELIVERABLE (no form the station can take), for PENDING ones and for one
    /// without a request (its receipt's document could not be read).
    fn redeliver(
        &self,
        organization: Option<FiscalCodePA>,
        delivery: i64,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, Delivery>;

    /// Stores a new API key: its public part and the hash of its secret, never the secret.
    /// `Duplicate` when its id or its hash is already taken.
    fn create_api_key(&self, key: ApiKey, hash: KeyHash) -> StoreFuture<'_, ()>;

    /// The key whose secret hashes to `hash`, revoked or not. Every REST request asks: it is one
    /// indexed read and never a write, and it sees keys created or revoked by another process
    /// (the `keys` command) at once.
    fn api_key_by_hash(&self, hash: KeyHash) -> StoreFuture<'_, Option<ApiKey>>;

    /// Every API key, revoked ones included, oldest first.
    fn list_api_keys(&self) -> StoreFuture<'_, Vec<ApiKey>>;

    /// Revokes a key from `now` on and returns it; `NotFound` for an unknown id. Revoking a
    /// revoked key keeps its first revocation time.
    fn revoke_api_key(&self, id: KeyId, now: NaiveDateTime) -> StoreFuture<'_, ApiKey>;

    /// Keeps an uploaded file, to be processed from its first item.
    fn create_upload(&self, upload: NewUpload) -> StoreFuture<'_, ()>;

    /// The creditor's uploaded file `id`, with its progress.
    fn upload(&self, organization: FiscalCodePA, id: String)
    -> StoreFuture<'_, Option<UploadFile>>;

    /// The files not yet processed to the end, oldest first.
    fn uploads_in_progress(&self) -> StoreFuture<'_, Vec<UploadFile>>;

    /// The JSON document of file `id`; empty once every item is processed (it holds debtors'
    /// personal data, and the outcomes are what is read of the file from then on).
    fn upload_content(&self, id: String) -> StoreFuture<'_, Vec<u8>>;

    /// Applies `items`, the file's items from index `first` on, each in its own savepoint, and
    /// records their outcomes (`describe` names each result) and the file's progress, all in
    /// one transaction. Refused (`VersionMismatch`) when the file's progress is no longer
    /// `first`: someone else applied these items, and nothing is applied twice.
    fn apply_upload_items(
        &self,
        id: String,
        first: u32,
        items: Vec<UploadItem>,
        describe: DescribeItem,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()>;

    /// The outcomes of file `id`'s items, in file order.
    fn upload_outcomes(&self, id: String) -> StoreFuture<'_, Vec<UploadOutcome>>;

    /// The creditor's uploaded files that `query` asks for.
    fn list_uploads(&self, query: UploadQuery) -> StoreFuture<'_, Vec<UploadFile>>;

    /// Erases the debtor of up to `limit` positions whose retention ended before `now` (their
    /// [`DebtPosition::retention_end`]) and not yet erased, as
    /// [`DebtPosition::erase_personal_data`] does, each at its next version; how many. On
    /// SQLite the erased bytes are also gone from the files when this returns (see
    /// docs/decisions.md for PostgreSQL).
    fn erase_positions_past_retention(
        &self,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32>;

    /// The creditor's positions whose debtor has this fiscal code, by IUPD.
    fn debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
    ) -> StoreFuture<'_, Vec<DebtPosition>>;

    /// Erases, in one transaction, the debtor of each of the creditor's positions of this
    /// debtor that `rule` takes, at `now`; returns every position of the debtor as it was, with
    /// whether it was erased.
    fn erase_debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
        now: NaiveDateTime,
        rule: ErasureRule,
    ) -> StoreFuture<'_, Vec<(DebtPosition, bool)>>;

    /// The creditor's receipts (as notice owner, recipient or beneficiary) whose debtor or
    /// payer has this fiscal code, oldest first.
    fn subject_receipts(
        &self,
        organization: FiscalCodePA,
        subject: String,
    ) -> StoreFuture<'_, Vec<SubjectReceipt>>;

    /// Erases the payer and debtor of up to `limit` receipts received before `before` and not
    /// yet erased: the marker as debtor, no payer, their documents and their deliveries'
    /// requests rewritten by `redact`, at `now`; how many. As with positions, on SQLite the files no longer hold them.
    fn erase_receipts_received_before(
        &self,
        before: NaiveDateTime,
        now: NaiveDateTime,
        redact: Redact,
        limit: u32,
    ) -> StoreFuture<'_, u32>;
    /// Appends entries to the event journal, all in one transaction. Entries are never
    /// changed once appended; only [`Store::prune_journal`] deletes them.
    fn append_journal(&self, entries: Vec<JournalEntry>) -> StoreFuture<'_, ()>;

    /// The creditor's journal entries that `filter` keeps, newest first, one page.
    fn list_journal(
        &self,
        organization: FiscalCodePA,
        filter: JournalFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<JournalEntry>>;

    /// Deletes up to `limit` journal entries from before `before`, oldest first; returns how
    /// many. Call again while it returns `limit`.
    fn prune_journal(&self, before: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32>;

    // Jobs of payment notices (`crate::notice_jobs`).

    /// Stores a new job, QUEUED, with one PENDING notice per IUPD; true when it was made. A job
    /// of the same creditor with the same idempotency key is returned instead, unchanged.
    fn create_notice_job(&self, job: NewNoticeJob) -> StoreFuture<'_, (NoticeJob, bool)>;

    /// The creditor's job `id`, with its counts.
    fn notice_job(
        &self,
        organization: FiscalCodePA,
        id: String,
    ) -> StoreFuture<'_, Option<NoticeJob>>;

    /// The notices of job `id` refused or failed, in list order.
    fn notice_job_failures(&self, id: String) -> StoreFuture<'_, Vec<NoticeFailure>>;

    /// Takes up to `limit` PENDING notices of QUEUED or RUNNING jobs that no one holds at
    /// `now`, oldest job first and in list order, holding them until `lease_until`; their jobs
    /// are RUNNING from then on. No one else takes a notice while it is held.
    fn claim_notices(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<ClaimedNotice>>;

    /// Records the results of notices (job, seq), all in one transaction; a notice that already
    /// has an outcome keeps it. A job none of whose notices is left PENDING is DONE at `now`.
    fn record_notices(
        &self,
        results: Vec<(String, u32, NoticeResult)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()>;

    /// Ends a job that cannot run: FAILED at `now` with `error`, unless already finished.
    fn fail_notice_job(&self, id: String, error: String, now: NaiveDateTime)
    -> StoreFuture<'_, ()>;

    /// Up to `limit` made notices of job `id` after place `after`, in list order, with their
    /// PDFs.
    fn made_notices(
        &self,
        id: String,
        after: u32,
        limit: u32,
    ) -> StoreFuture<'_, Vec<(u32, Vec<u8>)>>;

    /// Deletes up to `limit` jobs finished before `before`, with their notices; how many.
    fn prune_notice_jobs(&self, before: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32>;

    /// Takes the lead of periodic job `job` among the instances sharing the store, if no one
    /// holds it: None when another instance does. The lead is held as long as the returned
    /// value lives and [`Leadership::holds`]; an instance that dies loses it.
    fn lead(&self, job: &'static str) -> StoreFuture<'_, Option<Leadership>>;

    /// Cheap liveness check.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Whether the store can take writes now (one small write committed through the path every
    /// other write takes) and its schema is the one this binary expects.
    fn readiness(&self, now: NaiveDateTime) -> StoreFuture<'_, Readiness>;

    /// Flushes and closes; later calls fail with `Unavailable`.
    fn close(&self) -> StoreFuture<'_, ()>;

    // SEND notification costs.
    /// Marks the options these (creditor, notice number) pairs name as notified through SEND
    /// (GPD's `send_sync`), in one transaction, bumping the version of each position whose
    /// option was not marked yet. Pairs naming no option are passed over. Returns how many
    /// pairs name an option, marked now or before.
    fn mark_send_sync(&self, items: Vec<(FiscalCodePA, NoticeNumber)>) -> StoreFuture<'_, u32>;

    // Reporting flows (FdR).

    /// Whether this revision of the creditor's flow is stored.
    fn reporting_flow_stored(
        &self,
        organization: FiscalCodePA,
        id: FlowId,
    ) -> StoreFuture<'_, bool>;

    /// Stores a flow, its payments with what each matched, its anomalies and the positions it
    /// changes, in one transaction. The revision in force of the same flow (creditor, name,
    /// PSP), if older, is superseded: its payments no longer report, its anomalies are
    /// resolved, and `reconcile` is given the transfers it reported. A revision older than
    /// the one in force is kept without effects. Open UNREPORTED anomalies of the transfers
    /// the flow reports are resolved.
    fn record_reporting_flow(
        &self,
        flow: ReportingFlow,
        reconcile: Reconcile,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, FlowRecorded>;

    /// The creditor's flows, newest flow date first.
    fn list_reporting_flows(
        &self,
        organization: FiscalCodePA,
        filter: FlowFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<FlowSummary>>;

    /// One stored flow revision and a page of its payments, in index order; None when unknown.
    fn reporting_flow_payments(
        &self,
        organization: FiscalCodePA,
        id: FlowId,
        page: PageRequest,
    ) -> StoreFuture<'_, Option<(FlowSummary, Page<FlowPaymentRecord>)>>;

    /// The creditor's anomalies, newest first.
    fn list_reporting_anomalies(
        &self,
        organization: FiscalCodePA,
        filter: AnomalyFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<AnomalyRecord>>;

    /// Records an UNREPORTED anomaly, found at `now`, for up to `limit` transfers still
    /// unreported of options paid before `paid_before`, credited to the option's own creditor,
    /// that have no open one; how many. Call again while it returns `limit`.
    fn flag_unreported_transfers(
        &self,
        paid_before: NaiveDateTime,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32>;

    /// Up to `limit` of the creditor's open NO_RECEIPT anomalies whose receipt recovery is due
    /// at `now`, soonest first.
    fn due_receipt_recoveries(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DueRecovery>>;

    /// Records an attempt to recover the receipt of NO_RECEIPT anomaly `anomaly`, in one
    /// transaction. With `rematch` (a receipt was stored), every open NO_RECEIPT anomaly of the
    /// creditor for the same IUV has its flow payment matched again: the positions change as
    /// `rematch` decides, each payment's outcome is rewritten, and each anomaly whose payment
    /// now finds its receipt is resolved (with the anomalies the new outcome shows recorded
    /// in its place). The attempt is then counted on `anomaly`, its outcome kept, and its next
    /// attempt set to `attempt.next_at` if it is still open. Returns how many were resolved.
    fn settle_receipt_recovery(
        &self,
        organization: FiscalCodePA,
        anomaly: i64,
        attempt: RecoveryAttempt,
        rematch: Option<Rematch>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, u32>;

    // The mirror of positions to the central notices archive (ACA, `crate::aca`).

    /// Replaces the creditors whose positions are mirrored: from then on every write of one of
    /// their positions records, in its own transaction, that the position changed (a PENDING
    /// mirror, its generation bumped).
    fn set_aca_creditors(&self, organizations: Vec<FiscalCodePA>) -> StoreFuture<'_, ()>;

    /// Takes up to `limit` PENDING mirrors due at `now` (of `organization` only, when given)
    /// that no one holds, oldest change first, holding them until `lease_until`: no one else
    /// takes a position's mirror meanwhile, so that its steps go in order.
    fn claim_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AcaMirror>>;

    /// Records what came of mirroring `generation` of a position, at `now`, and lets it go.
    fn record_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        generation: i64,
        record: MirrorRecord,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()>;

    /// The mirrors of one creditor, or of all, optionally in one state; latest change first.
    fn list_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<MirrorState>,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<AcaMirror>>;

    /// Makes a FAILED mirror PENDING again, due at once, its attempts counted from zero.
    /// `NotFound` without one; refused when it is not FAILED.
    fn retry_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
    ) -> StoreFuture<'_, AcaMirror>;

    /// Sets what the archive holds of a position (as read from it) and makes its mirror
    /// PENDING, due at once, as a change would; the row is made when there is none.
    fn reset_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        archived: Option<Archived>,
    ) -> StoreFuture<'_, ()>;
}
