//! The columns of the reporting tables as both stores read them, and their reading into the
//! records of [`crate::store::reporting`].

use crate::store::columns::Listing;
use chrono::NaiveDate;

use crate::domain::reporting::{AnomalyKind, FlowId, FlowPayment, Outcome, PayStatus};
use crate::domain::{FiscalCodePA, TransferId};
use crate::store::StoreError;
use crate::store::columns::{cents, corrupt, from_millis, opt_millis};
use crate::store::reporting::{AnomalyRecord, FlowPaymentRecord, FlowSummary, RecoveryRecord};

/// The columns of `reporting_flow` read by listings, in [`FLOW_COLUMNS`] order.
pub(in crate::store) const FLOW_COLUMNS: &str = "organization, fdr, psp_id, revision, fdr_date, \
    published, regulation, regulation_date, bic, tot_payments, sum_payments, computed_tot, \
    computed_sum, superseded, received_at";

/// A listing of flows, the newest flow date first.
pub(in crate::store) const FLOW_LISTING: Listing =
    Listing::new(FLOW_COLUMNS, "reporting_flow", "fdr_date DESC, id DESC");

pub(in crate::store) struct FlowColumns {
    pub organization: String,
    pub fdr: String,
    pub psp: String,
    pub revision: i64,
    pub fdr_date: i64,
    pub published: Option<i64>,
    pub regulation: String,
    pub regulation_date: String,
    pub bic: Option<String>,
    pub tot_payments: i64,
    pub sum_payments: i64,
    pub computed_tot: i64,
    pub computed_sum: Option<i64>,
    pub superseded: bool,
    pub received_at: i64,
}

impl FlowColumns {
    pub fn summary(self) -> Result<FlowSummary, StoreError> {
        Ok(FlowSummary {
            organization: FiscalCodePA::parse(&self.organization)
                .map_err(|e| corrupt("reporting_flow.organization", e))?,
            id: flow_id(&self.fdr, &self.psp, self.revision)?,
            fdr_date: from_millis(self.fdr_date, "reporting_flow.fdr_date")?,
            published: opt_millis(self.published, "reporting_flow.published")?,
            regulation: self.regulation,
            regulation_date: NaiveDate::parse_from_str(&self.regulation_date, "%Y-%m-%d")
                .map_err(|e| corrupt("reporting_flow.regulation_date", e))?,
            bic: self.bic,
            tot_payments: self.tot_payments,
            sum_payments: cents(self.sum_payments, "reporting_flow.sum_payments")?,
            computed_tot: self.computed_tot,
            computed_sum: (self.computed_sum)
                .map(|c| cents(c, "reporting_flow.computed_sum"))
                .transpose()?,
            superseded: self.superseded,
            received_at: from_millis(self.received_at, "reporting_flow.received_at")?,
        })
    }
}

pub(in crate::store) fn flow_id(fdr: &str, psp: &str, revision: i64) -> Result<FlowId, StoreError> {
    FlowId::new(fdr, psp, revision).map_err(|e| corrupt("reporting_flow", e))
}

/// The columns of `reporting_payment` read by listings, in [`PaymentColumns`] order.
pub(in crate::store) const PAYMENT_COLUMNS: &str =
    "idx, iuv, iur, transfer_id, amount, pay_status, pay_date, outcome, expected_amount, reports";

/// [`PAYMENT_COLUMNS`] of `reporting_payment` aliased `p`.
pub(in crate::store) const PAYMENT_COLUMNS_OF_P: &str = "p.idx, p.iuv, p.iur, p.transfer_id, \
    p.amount, p.pay_status, p.pay_date, p.outcome, p.expected_amount, p.reports";

/// A listing of a flow's payments, in index order.
pub(in crate::store) const PAYMENT_LISTING: Listing =
    Listing::new(PAYMENT_COLUMNS, "reporting_payment", "idx");

pub(in crate::store) struct PaymentColumns {
    pub index: i64,
    pub iuv: String,
    pub iur: String,
    pub transfer: i64,
    pub amount: i64,
    pub pay_status: String,
    pub pay_date: i64,
    pub outcome: String,
    pub expected: Option<i64>,
    pub reports: bool,
}

impl PaymentColumns {
    pub fn record(self) -> Result<FlowPaymentRecord, StoreError> {
        let expected = (self.expected)
            .map(|c| cents(c, "reporting_payment.expected_amount"))
            .transpose()?;
        Ok(FlowPaymentRecord {
            payment: FlowPayment {
                index: self.index,
                iuv: self.iuv,
                iur: self.iur,
                transfer: TransferId::new(self.transfer)
                    .map_err(|e| corrupt("reporting_payment.transfer_id", e))?,
                amount: cents(self.amount, "reporting_payment.amount")?,
                status: PayStatus::parse(&self.pay_status)
                    .ok_or_else(|| corrupt("reporting_payment.pay_status", &self.pay_status))?,
                pay_date: from_millis(self.pay_date, "reporting_payment.pay_date")?,
            },
            outcome: Outcome::parse(&self.outcome, expected)
                .ok_or_else(|| corrupt("reporting_payment.outcome", &self.outcome))?,
            reports: self.reports,
        })
    }
}

/// The columns of `reporting_anomaly` (joined with its flow as `f`) read by listings.
pub(in crate::store) const ANOMALY_COLUMNS: &str = "a.id, a.kind, f.fdr, f.psp_id, f.revision, \
    a.idx, a.iuv, a.transfer_id, a.expected_amount, a.reported_amount, a.found_at, a.resolved_at, \
    a.recovery_attempts, a.recovery_outcome, a.recovery_detail, a.recovery_at, a.recovery_due";

/// A listing of anomalies with their flows' names, the newest first.
pub(in crate::store) const ANOMALY_LISTING: Listing = Listing::new(
    ANOMALY_COLUMNS,
    "reporting_anomaly a LEFT JOIN reporting_flow f ON f.id = a.flow_id",
    "a.found_at DESC, a.id DESC",
);

/// The condition the `resolved` filter of an anomaly listing adds, if any.
pub(in crate::store) fn resolved_condition(resolved: Option<bool>) -> Option<&'static str> {
    resolved.map(|r| {
        if r {
            "a.resolved_at IS NOT NULL"
        } else {
            "a.resolved_at IS NULL"
        }
    })
}

pub(in crate::store) struct AnomalyColumns {
    pub id: i64,
    pub kind: String,
    pub fdr: Option<String>,
    pub psp: Option<String>,
    pub revision: Option<i64>,
    pub index: Option<i64>,
    pub iuv: Option<String>,
    pub transfer: Option<i64>,
    pub expected: Option<i64>,
    pub reported: Option<i64>,
    pub found_at: i64,
    pub resolved_at: Option<i64>,
    pub recovery_attempts: i64,
    pub recovery_outcome: Option<String>,
    pub recovery_detail: Option<String>,
    pub recovery_at: Option<i64>,
    pub recovery_due: Option<i64>,
}

impl AnomalyColumns {
    pub fn record(self) -> Result<AnomalyRecord, StoreError> {
        let flow = match (self.fdr, self.psp, self.revision) {
            (Some(fdr), Some(psp), Some(revision)) => Some(flow_id(&fdr, &psp, revision)?),
            _ => None,
        };
        Ok(AnomalyRecord {
            id: self.id,
            kind: AnomalyKind::parse(&self.kind)
                .ok_or_else(|| corrupt("reporting_anomaly.kind", &self.kind))?,
            flow,
            index: self.index,
            iuv: self.iuv,
            transfer: (self.transfer)
                .map(|t| {
                    TransferId::new(t).map_err(|e| corrupt("reporting_anomaly.transfer_id", e))
                })
                .transpose()?,
            expected: (self.expected)
                .map(|c| cents(c, "reporting_anomaly.expected_amount"))
                .transpose()?,
            reported: (self.reported)
                .map(|c| cents(c, "reporting_anomaly.reported_amount"))
                .transpose()?,
            found_at: from_millis(self.found_at, "reporting_anomaly.found_at")?,
            resolved_at: opt_millis(self.resolved_at, "reporting_anomaly.resolved_at")?,
            recovery: match (self.recovery_outcome, self.recovery_at) {
                (Some(outcome), Some(at)) => Some(RecoveryRecord {
                    attempts: self.recovery_attempts,
                    outcome,
                    detail: self.recovery_detail,
                    last_at: from_millis(at, "reporting_anomaly.recovery_at")?,
                    next_at: opt_millis(self.recovery_due, "reporting_anomaly.recovery_due")?,
                }),
                _ => None,
            },
        })
    }
}
