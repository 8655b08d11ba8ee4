//! What the stores keep of reporting flows: the records they list and the filters of those
//! lists; [`columns`] reads both stores' column values back into them.

use chrono::{NaiveDate, NaiveDateTime};

use crate::domain::reporting::{
    AnomalyKind, FlowFacts, FlowId, FlowPayment, Outcome, Reconciliation, ReportingFlow,
};
use crate::domain::{Cents, FiscalCodePA, TransferId};

pub(super) mod columns;

/// Decides, inside the flow's transaction, what the flow does to the facts the store read for
/// it, changing the positions of the facts in place.
pub type Reconcile = Box<dyn FnOnce(&ReportingFlow, &mut FlowFacts) -> Reconciliation + Send>;

/// Decides, inside the store's transaction, what payments of flows in force (with the facts
/// read for them) do when matched again; see [`crate::domain::reporting::rematch`].
pub type Rematch = Box<dyn FnOnce(&[FlowPayment], &mut FlowFacts) -> Reconciliation + Send>;

/// What storing a flow did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowRecorded {
    /// This revision was stored before: nothing changed.
    AlreadyStored,
    /// A newer revision is in force: kept for the record, without effects.
    Superseded,
    /// Reconciled: its outcome, and how many positions changed.
    Applied {
        reconciliation: Reconciliation,
        positions_changed: usize,
    },
}

/// A stored flow, without its payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    pub organization: FiscalCodePA,
    pub id: FlowId,
    pub fdr_date: NaiveDateTime,
    pub published: Option<NaiveDateTime>,
    pub regulation: String,
    pub regulation_date: NaiveDate,
    pub bic: Option<String>,
    pub tot_payments: i64,
    pub sum_payments: Cents,
    /// What its payments count and add up to (None: the sum overflowed).
    pub computed_tot: i64,
    pub computed_sum: Option<Cents>,
    /// A newer revision of the flow replaced it.
    pub superseded: bool,
    pub received_at: NaiveDateTime,
}

/// A stored flow payment with what it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPaymentRecord {
    pub payment: FlowPayment,
    pub outcome: Outcome,
    /// Whether it reports its transfer now (false once its flow is superseded).
    pub reports: bool,
}

/// A stored anomaly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyRecord {
    pub id: i64,
    pub kind: AnomalyKind,
    /// The flow it was found in (none for a transfer no flow reported).
    pub flow: Option<FlowId>,
    pub index: Option<i64>,
    pub iuv: Option<String>,
    pub transfer: Option<TransferId>,
    pub expected: Option<Cents>,
    pub reported: Option<Cents>,
    pub found_at: NaiveDateTime,
    /// When it stopped holding: a newer revision replaced its flow, a flow reported the
    /// transfer, or the missing receipt was recovered.
    pub resolved_at: Option<NaiveDateTime>,
    /// For a NO_RECEIPT anomaly, the recovery of its receipt, once tried.
    pub recovery: Option<RecoveryRecord>,
}

/// Where the recovery of a NO_RECEIPT anomaly's receipt from the platform stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRecord {
    pub attempts: i64,
    /// What the last attempt came to (`RECOVERED`, `ALREADY_STORED`, `NOT_FOUND`…).
    pub outcome: String,
    /// Why it did not resolve the anomaly, when it did not.
    pub detail: Option<String>,
    pub last_at: NaiveDateTime,
    /// When the next attempt is due; none once it resolved the anomaly or gave up.
    pub next_at: Option<NaiveDateTime>,
}

/// A NO_RECEIPT anomaly whose receipt is due to be asked of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRecovery {
    pub anomaly: i64,
    pub organization: FiscalCodePA,
    pub iuv: String,
    /// The flow payment's IUR: the receipt's id.
    pub iur: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// What one recovery attempt came to, as [`crate::store::Store::settle_receipt_recovery`]
/// records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryAttempt {
    pub outcome: String,
    pub detail: Option<String>,
    /// When to try again if the anomaly stays open; none: give up.
    pub next_at: Option<NaiveDateTime>,
}

/// Filters for listing flows; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowFilter {
    pub psp: Option<String>,
    pub fdr: Option<String>,
    /// The flow's date, inclusive bounds.
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// Filters for listing anomalies; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnomalyFilter {
    pub kind: Option<AnomalyKind>,
    pub resolved: Option<bool>,
    /// When it was found, inclusive bounds.
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}
