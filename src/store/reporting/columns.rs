//! The columns of the reporting tables as both stores read them, and their reading into the
//! records of [`crate::store::reporting`].

use crate::store::columns::Listing;
use chrono::NaiveDate;

use crate::domain::reporting::{AnomalyKind, FlowId, FlowPayment, Outcome, PayStatus};
use crate::domain::{FiscalCodePA, TransferId};
use crate::store::StoreError;
use crate::store::columns::{ColumnRow, Columns, cents, corrupt, from_millis, opt_millis};
use crate::store::reporting::{AnomalyRecord, FlowPaymentRecord, FlowSummary, RecoveryRecord};

/// The columns of `reporting_flow` read by listings, in [`FLOW_COLUMNS`] order.
pub(in crate::store) const FLOW_COLUMNS: &str = "organization, fdr, psp_id, revision, fdr_date, \
    published, regulation, regulation_date, bic, tot_payments, sum_payments, computed_tot, \
    computed_sum, superseded, received_at";

/// A listing of flows, the newest flow date first.
pub(in crate::store) const FLOW_LISTING: Listing =
    Listing::new(FLOW_COLUMNS, "reporting_flow", "fdr_date DESC, id DESC");

struct FlowColumns {
    organization: String,
    fdr: String,
    psp: String,
    revision: i64,
    fdr_date: i64,
    published: Option<i64>,
    regulation: String,
    regulation_date: String,
    bic: Option<String>,
    tot_payments: i64,
    sum_payments: i64,
    computed_tot: i64,
    computed_sum: Option<i64>,
    superseded: bool,
    received_at: i64,
}

impl FlowColumns {
    fn summary(self) -> Result<FlowSummary, StoreError> {
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

struct PaymentColumns {
    index: i64,
    iuv: String,
    iur: String,
    transfer: i64,
    amount: i64,
    pay_status: String,
    pay_date: i64,
    outcome: String,
    expected: Option<i64>,
    reports: bool,
}

impl PaymentColumns {
    fn record(self) -> Result<FlowPaymentRecord, StoreError> {
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

struct AnomalyColumns {
    id: i64,
    kind: String,
    fdr: Option<String>,
    psp: Option<String>,
    revision: Option<i64>,
    index: Option<i64>,
    iuv: Option<String>,
    transfer: Option<i64>,
    expected: Option<i64>,
    reported: Option<i64>,
    found_at: i64,
    resolved_at: Option<i64>,
    recovery_attempts: i64,
    recovery_outcome: Option<String>,
    recovery_detail: Option<String>,
    recovery_at: Option<i64>,
    recovery_due: Option<i64>,
}

impl AnomalyColumns {
    fn record(self) -> Result<AnomalyRecord, StoreError> {
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

/// A flow read from a row of [`FLOW_COLUMNS`], by either store.
pub(in crate::store) fn flow_summary<R: ColumnRow>(r: &R) -> Result<FlowSummary, StoreError> {
    let c = Columns::of(r, 0);
    FlowColumns {
        organization: c.string(0)?,
        fdr: c.string(1)?,
        psp: c.string(2)?,
        revision: c.int(3)?,
        fdr_date: c.int(4)?,
        published: c.opt_int(5)?,
        regulation: c.string(6)?,
        regulation_date: c.string(7)?,
        bic: c.opt_string(8)?,
        tot_payments: c.int(9)?,
        sum_payments: c.int(10)?,
        computed_tot: c.int(11)?,
        computed_sum: c.opt_int(12)?,
        superseded: c.boolean(13)?,
        received_at: c.int(14)?,
    }
    .summary()
}

/// A flow payment read from the [`PAYMENT_COLUMNS`] of a row from index `at`, by either store.
pub(in crate::store) fn payment_record<R: ColumnRow>(
    r: &R,
    at: usize,
) -> Result<FlowPaymentRecord, StoreError> {
    let c = Columns::of(r, at);
    PaymentColumns {
        index: c.int(0)?,
        iuv: c.string(1)?,
        iur: c.string(2)?,
        transfer: c.int(3)?,
        amount: c.int(4)?,
        pay_status: c.string(5)?,
        pay_date: c.int(6)?,
        outcome: c.string(7)?,
        expected: c.opt_int(8)?,
        reports: c.boolean(9)?,
    }
    .record()
}

/// An anomaly read from a row of [`ANOMALY_COLUMNS`], by either store.
pub(in crate::store) fn anomaly_record<R: ColumnRow>(r: &R) -> Result<AnomalyRecord, StoreError> {
    let c = Columns::of(r, 0);
    AnomalyColumns {
        id: c.int(0)?,
        kind: c.string(1)?,
        fdr: c.opt_string(2)?,
        psp: c.opt_string(3)?,
        revision: c.opt_int(4)?,
        index: c.opt_int(5)?,
        iuv: c.opt_string(6)?,
        transfer: c.opt_int(7)?,
        expected: c.opt_int(8)?,
        reported: c.opt_int(9)?,
        found_at: c.int(10)?,
        resolved_at: c.opt_int(11)?,
        recovery_attempts: c.int(12)?,
        recovery_outcome: c.opt_string(13)?,
        recovery_detail: c.opt_string(14)?,
        recovery_at: c.opt_int(15)?,
        recovery_due: c.opt_int(16)?,
    }
    .record()
}
