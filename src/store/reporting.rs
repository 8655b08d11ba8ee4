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
    /// When it stopped holding: a newer revision replaced its flow, or a flow reported the
    /// transfer.
    pub resolved_at: Option<NaiveDateTime>,
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
