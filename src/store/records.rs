//! What the store takes and gives for receipts, broadcast stations and deliveries: plain
//! records shared by every backend, built on the domain's types.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::error::StoreError;
use crate::domain::broadcast::{BroadcastStation, DeliveryState};
use crate::domain::position::{DebtPosition, Iupd, PositionStatus, Refusal};
use crate::domain::receipt::{
    ReceiptOrigin, ReceiptStatus, ReceiptVersion, SendRtRequest, Settlement,
};
use crate::domain::receipt_digest::{ReceiptDigest, ReceiptFacts};
use crate::domain::{Cents, FiscalCodePA, SegregationCode};

/// A change applied to a position inside one transaction; refusing leaves it untouched.
pub type Mutation = Box<dyn FnOnce(&mut DebtPosition) -> Result<(), Refusal> + Send>;

/// A check a position must pass, inside the transaction, before it is deleted.
pub type Guard = Box<dyn FnOnce(&DebtPosition) -> Result<(), Refusal> + Send>;

/// Decides, inside the receipt's transaction, what the receipt does to the position its notice
/// names (None: no such notice here), changing the position in place when it pays.
pub type Settle = Box<dyn FnOnce(Option<&mut DebtPosition>) -> Settlement + Send>;

/// Decides, inside the transaction, which deliveries the receipt makes, from its settlement and
/// the enabled stations of the creditors it concerns.
pub type Routing =
    Box<dyn for<'a> FnOnce(&Settlement, &'a [BroadcastStation]) -> Vec<NewDelivery<'a>> + Send>;

/// A delivery a receipt makes: to `station`, with the request that every attempt sends it, or
/// why none can be written (recorded UNDELIVERABLE, never attempted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery<'a> {
    pub station: &'a BroadcastStation,
    pub request: Result<Vec<u8>, String>,
}

impl NewDelivery<'_> {
    /// The delivery to attempt at once that this one, created as row `id`, is when it has a
    /// request (PENDING); None when it has none (UNDELIVERABLE).
    pub(super) fn into_target(self, id: i64, receipt: &DeliveredReceipt) -> Option<DeliveryTarget> {
        Some(DeliveryTarget {
            id,
            station: self.station.clone(),
            attempts: 0,
            request: self.request.ok()?,
            receipt: receipt.clone(),
        })
    }
}

/// A receipt to acquire: the request as parsed and exactly as received, with the decisions of
/// the receipt use case, which the store applies and persists in one transaction.
pub struct NewReceipt {
    pub request: SendRtRequest,
    pub document: Vec<u8>,
    /// The digest of the receipt's content, which tells a repeat from a conflicting copy.
    pub digest: ReceiptDigest,
    pub received_at: NaiveDateTime,
    /// The creditors the receipt concerns, the notice's own first and each once: all see it
    /// among theirs, and `route` chooses from their broadcast stations.
    pub concerned: Vec<FiscalCodePA>,
    pub settle: Settle,
    pub route: Routing,
    /// Where it came from. A copy recovered from the platform and one from the Node are the
    /// same receipt when they record the same payment ([`ReceiptFacts::same_payment`]).
    pub origin: ReceiptOrigin,
    /// The station the Node addressed it to, when that station is ours but not bound to the
    /// creditor: kept with the receipt, which is otherwise acquired as any other.
    pub unbound_station: Option<String>,
}

/// The outcome of acquiring a receipt; in both cases the receipt is durably stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquisition {
    /// Stored now, with the deliveries it created (PENDING ones, to attempt right away).
    Stored {
        settlement: Settlement,
        deliveries: Vec<DeliveryTarget>,
    },
    /// The same receipt (creditor, notice, receipt id and content) was stored before, with
    /// this status: nothing changed.
    AlreadyStored(ReceiptStatus),
    /// A receipt with the same creditor, notice and receipt id but other content was stored
    /// before: this one is stored now as CONFLICT, applied to nothing and delivered nowhere.
    Conflict { earlier: ReceiptFacts },
}

/// The pending deliveries to one broadcast station: how many, and when the oldest was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationBacklog {
    pub organization: String,
    pub station_id: String,
    pub pending: u64,
    pub oldest: Option<NaiveDateTime>,
}

/// A delivery to attempt: its row, the station (as copied when the delivery was created), the
/// attempts already made, the request stored with it, sent as is at every attempt, and its
/// receipt's identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    pub id: i64,
    pub station: BroadcastStation,
    pub attempts: u32,
    pub request: Vec<u8>,
    pub receipt: DeliveredReceipt,
}

/// Which receipt a delivery carries: its receipt id and notice number, as the event journal
/// names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveredReceipt {
    pub receipt_id: String,
    pub notice_number: String,
}

/// A delivery created before requests were stored with deliveries: its row, its station as
/// copied then, and its receipt's stored document, to write the request from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryWithoutRequest {
    pub id: i64,
    pub station: BroadcastStation,
    pub document: Vec<u8>,
}

/// The result of one attempt, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptRecord {
    Delivered,
    Rejected {
        fault_code: String,
        description: String,
    },
    /// Failed; try again at the given time.
    Retry {
        error: String,
        next_attempt_at: NaiveDateTime,
    },
    /// Failed and no attempt is left.
    GiveUp {
        error: String,
    },
}

/// A delivery as listed to creditors and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub receipt_id: String,
    /// The notice's creditor and IUV.
    pub notice_organization: FiscalCodePA,
    pub iuv: String,
    pub station: BroadcastStation,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub fault_code: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

/// A stored receipt as listed (the document itself is fetched on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSummary {
    pub organization: FiscalCodePA,
    pub receipt_id: String,
    pub recipient: String,
    pub iuv: String,
    pub notice_number: String,
    pub version: ReceiptVersion,
    pub status: ReceiptStatus,
    pub flag: Option<String>,
    pub flag_description: Option<String>,
    pub amount: Cents,
    pub debtor: String,
    pub payer: Option<String>,
    pub psp_id: String,
    pub psp_company: String,
    pub payment_date_time: Option<String>,
    pub stand_in: Option<bool>,
    pub received_at: NaiveDateTime,
    pub origin: ReceiptOrigin,
    /// The station, ours but not bound to the creditor, the Node addressed it to.
    pub unbound_station: Option<String>,
}

/// An inclusive window of time whose start is never after its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    from: NaiveDateTime,
    to: NaiveDateTime,
}

impl TimeWindow {
    /// None when `from` is after `to`.
    pub fn new(from: NaiveDateTime, to: NaiveDateTime) -> Option<TimeWindow> {
        (from <= to).then_some(TimeWindow { from, to })
    }

    pub fn from(&self) -> NaiveDateTime {
        self.from
    }

    pub fn to(&self) -> NaiveDateTime {
        self.to
    }
}

/// Filters for listing receipts; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptFilter {
    pub status: Option<ReceiptStatus>,
    /// Only receipts in one of these statuses, when not empty.
    pub statuses: Vec<ReceiptStatus>,
    /// Debtor's unique identifier (fiscal code or VAT number).
    pub debtor: Option<String>,
    /// The IUV starts with this.
    pub iuv_prefix: Option<String>,
    /// The IUV or the debtor's identifier starts with this.
    pub debtor_or_iuv_prefix: Option<String>,
    /// Payment date-time, inclusive bounds.
    pub paid_from: Option<NaiveDateTime>,
    pub paid_to: Option<NaiveDateTime>,
    /// Only the receipts whose IUV starts with one of these segregation codes (none: nothing).
    pub segregation_codes: Option<BTreeSet<SegregationCode>>,
}

/// Filters for listing debt positions; all optional, combined with AND. Bounds are inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PositionFilter {
    /// The status in force at the time of the listing.
    pub status: Option<PositionStatus>,
    /// A position matches when one of its options falls due in the window.
    pub due: Option<TimeWindow>,
    /// The position's payment date (set when it becomes PAID).
    pub paid: Option<TimeWindow>,
    /// Only the positions whose every option has one of these segregation codes (none:
    /// nothing).
    pub segregation_codes: Option<BTreeSet<SegregationCode>>,
}

/// What positions are listed by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PositionOrderBy {
    #[default]
    InsertedDate,
    Iupd,
    Status,
    CompanyName,
}

/// The order of a list of positions; ties are broken by creation order, in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionOrder {
    pub by: PositionOrderBy,
    pub descending: bool,
}

impl Default for PositionOrder {
    /// GPD's default: newest first.
    fn default() -> Self {
        PositionOrder {
            by: PositionOrderBy::InsertedDate,
            descending: true,
        }
    }
}

/// Which of a creditor's positions to list: those matching `filter`, in `order`, one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionQuery {
    pub filter: PositionFilter,
    pub order: PositionOrder,
    pub page: PageRequest,
}

/// Which page of a list: `page` counts from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
}

/// One page of a list, with how many items match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub request: PageRequest,
    pub items_found: u64,
}

impl<T> Page<T> {
    pub fn total_pages(&self) -> u64 {
        self.items_found
            .div_ceil(u64::from(self.request.limit.max(1)))
    }
}

/// Whether the store can serve: each part is Ok, or the reason it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// A write went through and was committed.
    pub writes: Result<(), String>,
    /// The schema is the one this binary's migrations make.
    pub schema: Result<(), String>,
}

/// A file of positions to process, as uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub id: String,
    pub broker: String,
    pub organization: FiscalCodePA,
    pub operation: crate::domain::upload::UploadOperation,
    /// The JSON document, taken out of its zip.
    pub content: Vec<u8>,
    pub submitted: u32,
    pub started_at: NaiveDateTime,
}

/// Which of a creditor's uploaded files to list: those `broker` started within `started`,
/// oldest first, from after `after` (the start and id of the last one seen), at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadQuery {
    pub organization: FiscalCodePA,
    pub broker: String,
    pub started: TimeWindow,
    pub after: Option<(NaiveDateTime, String)>,
    pub limit: u32,
}

/// An uploaded file and how far its processing is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    pub id: String,
    pub broker: String,
    pub organization: FiscalCodePA,
    pub operation: crate::domain::upload::UploadOperation,
    pub submitted: u32,
    pub processed: u32,
    /// How many of the processed items were refused.
    pub refused: u32,
    pub started_at: NaiveDateTime,
    /// Set once every item is processed.
    pub ended_at: Option<NaiveDateTime>,
}

/// One item of a file, ready for the store: a change to apply, or one refused before it.
pub enum UploadItem {
    Create(Box<DebtPosition>),
    Update { iupd: Iupd, change: Mutation },
    Delete { iupd: Iupd, guard: Guard },
    Refused(UploadOutcome),
}

/// What became of one item of a file: the status and detail the REST API would answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOutcome {
    pub iupd: Option<String>,
    pub status: u16,
    pub message: String,
}

/// Turns the store's result of applying an item (by its index in the chunk) into its outcome.
pub type DescribeItem = Box<dyn Fn(usize, Result<(), StoreError>) -> UploadOutcome + Send>;

/// Rewrites a stored receipt document or delivery request without the personal data in it.
pub type Redact = Box<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// Whether an erasure request takes a position's personal data, decided on it as stored.
pub type ErasureRule = Box<dyn Fn(&DebtPosition) -> bool + Send>;

/// A receipt of a data subject (its debtor or payer) with what it holds of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectReceipt {
    pub summary: ReceiptSummary,
    /// The document as stored (rewritten once its personal data was erased).
    pub document: Vec<u8>,
    /// When its payer and debtor were erased.
    pub personal_data_erased: Option<NaiveDateTime>,
}

/// One position's mirror in the central notices archive ([`crate::domain::aca`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcaMirror {
    pub organization: FiscalCodePA,
    /// As the position had it; kept as text, since a deleted position's row outlives it.
    pub iupd: String,
    /// Bumped by every change of the position; a record names the one it mirrored.
    pub generation: i64,
    pub state: crate::domain::aca::MirrorState,
    /// Failed attempts since the latest change.
    pub attempts: u32,
    /// When a PENDING one is next attempted; None: at once.
    pub due_at: Option<NaiveDateTime>,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    /// What the archive holds of the position; None: nothing.
    pub archived: Option<crate::domain::aca::Archived>,
}

/// What came of mirroring one generation of a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorRecord {
    /// The archive holds what the store held: DONE, unless the position changed meanwhile
    /// (then PENDING again, due at once). With `forget`, the position is gone from both and
    /// its row is deleted (unless it changed meanwhile).
    Mirrored {
        archived: Option<crate::domain::aca::Archived>,
        forget: bool,
    },
    /// A step failed after the earlier ones left the archive holding `archived`: attempted
    /// again at `retry_at`, or FAILED when None (one attempt more either way).
    Failed {
        archived: Option<crate::domain::aca::Archived>,
        error: String,
        retry_at: Option<NaiveDateTime>,
    },
}
