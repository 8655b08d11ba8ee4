//! Reporting flows (FdR): what a PSP tells a creditor it transferred to its bank, one payment
//! per transfer (IUV, IUR, transfer index, amount, outcome), and how a flow is reconciled with
//! the creditor's receipts and transfers. [`reconcile`] is the whole rule: given a flow and the
//! facts the store read for it, it says what each flow payment matched, which anomalies it
//! shows, and moves transfers, options and positions between paid and reported. A newer
//! revision of a flow replaces an older one: the transfers only the older one reported go back
//! to unreported.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

use super::position::{
    DebtPosition, OptionStatus, PaymentOption, PositionStatus, Transfer, TransferStatus,
};
use super::{Cents, FiscalCodePA, TransferId};

/// What a flow payment says happened to the money (`payStatus`, the SOAP flows'
/// `codiceEsitoSingoloPagamento` 0, 3, 4, 8, 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayStatus {
    /// 0: paid through pagoPA and transferred.
    Executed,
    /// 3: the payment was revoked: the money is not (or no longer) the creditor's. Not a report.
    Revoked,
    /// 4: paid through the Node's Stand-In and transferred.
    StandIn,
    /// 8: paid in Stand-In without a payment request, transferred.
    StandInNoRpt,
    /// 9: transferred for a payment made without a payment request.
    NoRpt,
}

impl PayStatus {
    pub const ALL: [PayStatus; 5] = [
        PayStatus::Executed,
        PayStatus::Revoked,
        PayStatus::StandIn,
        PayStatus::StandInNoRpt,
        PayStatus::NoRpt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayStatus::Executed => "EXECUTED",
            PayStatus::Revoked => "REVOKED",
            PayStatus::StandIn => "STAND_IN",
            PayStatus::StandInNoRpt => "STAND_IN_NO_RPT",
            PayStatus::NoRpt => "NO_RPT",
        }
    }

    pub fn parse(s: &str) -> Option<PayStatus> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the payment reports money transferred to the creditor.
    pub fn transfers_money(self) -> bool {
        self != PayStatus::Revoked
    }
}

/// A flow's identity: the PSP's flow name, the PSP, and the revision. Flow names are unique
/// per PSP; revisions of one flow replace each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowId {
    pub fdr: String,
    pub psp: String,
    pub revision: i64,
}

impl FlowId {
    /// The flow name and PSP are 1..35 characters without control characters, the revision at
    /// least 1 (the document's bounds).
    pub fn new(fdr: &str, psp: &str, revision: i64) -> Result<FlowId, String> {
        let ok =
            |s: &str| (1..=35).contains(&s.chars().count()) && !s.chars().any(char::is_control);
        if !ok(fdr) {
            return Err("fdr must be 1 to 35 characters".into());
        }
        if !ok(psp) {
            return Err("pspId must be 1 to 35 characters".into());
        }
        if revision < 1 {
            return Err("revision must be at least 1".into());
        }
        Ok(FlowId {
            fdr: fdr.to_owned(),
            psp: psp.to_owned(),
            revision,
        })
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (PSP {}, revision {})",
            self.fdr, self.psp, self.revision
        )
    }
}

/// One payment of a flow: one transfer of one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPayment {
    /// Unique within the flow, from 1.
    pub index: i64,
    pub iuv: String,
    pub iur: String,
    pub transfer: TransferId,
    pub amount: Cents,
    pub status: PayStatus,
    pub pay_date: NaiveDateTime,
}

/// A published flow, its header and its payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportingFlow {
    /// The receiving creditor.
    pub organization: FiscalCodePA,
    pub id: FlowId,
    pub fdr_date: NaiveDateTime,
    pub published: Option<NaiveDateTime>,
    pub regulation: String,
    pub regulation_date: NaiveDate,
    pub bic: Option<String>,
    /// The totals the PSP declared.
    pub tot_payments: i64,
    pub sum_payments: Cents,
    pub payments: Vec<FlowPayment>,
}

impl ReportingFlow {
    /// The number of payments and their sum, as received (None when the sum overflows).
    pub fn computed_totals(&self) -> (i64, Option<Cents>) {
        let sum = (self.payments.iter()).try_fold(Cents::ZERO, |s, p| s.checked_add(p.amount));
        (self.payments.len() as i64, sum)
    }
}

/// A transfer a flow reports: the notice's IUV and the transfer's index.
pub type ReportKey = (String, TransferId);

/// What one flow payment matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The transfer of a paid option, with the amount it has: now reported.
    Reported,
    /// The transfer of a paid option, with another amount: reported, and an anomaly.
    AmountDiffers { expected: Cents },
    /// No receipt for the IUV: an anomaly, nothing changes.
    NoReceipt,
    /// A receipt for the IUV, but no paid option of the creditor with that transfer.
    UnknownTransfer,
    /// A revoked payment: not a report of money, nothing changes.
    Revoked,
    /// An older revision than one already applied: kept, without effects.
    Superseded,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reported => "REPORTED",
            Outcome::AmountDiffers { .. } => "AMOUNT_DIFFERS",
            Outcome::NoReceipt => "NO_RECEIPT",
            Outcome::UnknownTransfer => "UNKNOWN_TRANSFER",
            Outcome::Revoked => "REVOKED",
            Outcome::Superseded => "SUPERSEDED",
        }
    }

    /// The outcome named `s`; `expected` is the transfer's amount of an AMOUNT_DIFFERS.
    pub fn parse(s: &str, expected: Option<Cents>) -> Option<Outcome> {
        Some(match s {
            "REPORTED" => Outcome::Reported,
            "AMOUNT_DIFFERS" => Outcome::AmountDiffers {
                expected: expected?,
            },
            "NO_RECEIPT" => Outcome::NoReceipt,
            "UNKNOWN_TRANSFER" => Outcome::UnknownTransfer,
            "REVOKED" => Outcome::Revoked,
            "SUPERSEDED" => Outcome::Superseded,
            _ => return None,
        })
    }

    /// The transfer's amount, when it differs from the reported one.
    pub fn expected(self) -> Option<Cents> {
        match self {
            Outcome::AmountDiffers { expected } => Some(expected),
            _ => None,
        }
    }

    /// Whether the payment reports its transfer.
    pub fn reports(self) -> bool {
        matches!(self, Outcome::Reported | Outcome::AmountDiffers { .. })
    }
}

/// The kinds of anomaly reconciliation finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// A flow payment for an IUV the creditor has no receipt of.
    NoReceipt,
    /// A flow payment whose amount is not its transfer's.
    AmountDiffers,
    /// A flow payment for a receipt's IUV but no transfer of it that the creditor was paid.
    UnknownTransfer,
    /// A transfer paid more than the configured days ago that no flow has reported.
    Unreported,
    /// A flow whose declared totals are not its payments' count and sum.
    TotalsDiffer,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 5] = [
        AnomalyKind::NoReceipt,
        AnomalyKind::AmountDiffers,
        AnomalyKind::UnknownTransfer,
        AnomalyKind::Unreported,
        AnomalyKind::TotalsDiffer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::NoReceipt => "NO_RECEIPT",
            AnomalyKind::AmountDiffers => "AMOUNT_DIFFERS",
            AnomalyKind::UnknownTransfer => "UNKNOWN_TRANSFER",
            AnomalyKind::Unreported => "UNREPORTED",
            AnomalyKind::TotalsDiffer => "TOTALS_DIFFER",
        }
    }

    pub fn parse(s: &str) -> Option<AnomalyKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An anomaly a flow shows. `index`, `iuv` and `transfer` name the flow payment (none for a
/// flow's totals); `expected` is what we hold, `reported` what the flow says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub index: Option<i64>,
    pub iuv: Option<String>,
    pub transfer: Option<TransferId>,
    pub expected: Option<Cents>,
    pub reported: Option<Cents>,
}

impl Anomaly {
    /// The anomaly a flow payment with this outcome shows, if any.
    pub fn of(p: &FlowPayment, outcome: Outcome) -> Option<Anomaly> {
        let kind = match outcome {
            Outcome::AmountDiffers { .. } => AnomalyKind::AmountDiffers,
            Outcome::NoReceipt => AnomalyKind::NoReceipt,
            Outcome::UnknownTransfer => AnomalyKind::UnknownTransfer,
            _ => return None,
        };
        Some(Anomaly {
            kind,
            index: Some(p.index),
            iuv: Some(p.iuv.clone()),
            transfer: Some(p.transfer),
            expected: outcome.expected(),
            reported: Some(p.amount),
        })
    }
}

/// Attempts at recovering the receipt of a NO_RECEIPT anomaly from the platform before the
/// anomaly is left to a person.
pub const RECOVERY_ATTEMPTS: i64 = 5;

/// When the recovery of a missing receipt is due again after `attempts` attempts (the last one
/// just ended, at `now`): 15 minutes after the first, each wait four times the one before (1 h,
/// 4 h, 16 h); none after [`RECOVERY_ATTEMPTS`].
pub fn next_recovery(attempts: i64, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if attempts >= RECOVERY_ATTEMPTS {
        return None;
    }
    let exponent = u32::try_from(attempts.max(1) - 1).unwrap_or(0);
    Some(now + chrono::Duration::minutes(15 * 4_i64.pow(exponent)))
}

/// What the store read for a flow, inside its transaction.
#[derive(Debug, Clone, Default)]
pub struct FlowFacts {
    /// The positions holding an option with one of the flow's IUVs, or one of `previous`'s:
    /// the creditor's own, and the paid ones of other creditors with a transfer credited to
    /// it; changed in place.
    pub positions: Vec<DebtPosition>,
    /// The flow's IUVs the creditor has a stored receipt of.
    pub receipts: HashSet<String>,
    /// The transfers the revision this one replaces reported (empty for a first revision).
    pub previous: Vec<ReportKey>,
    /// Among the flow's and `previous`'s transfers, those that other flows in force report.
    pub others: HashSet<ReportKey>,
}

/// What a flow does: each payment's outcome (in the flow's order), its anomalies, and which
/// positions of the facts changed (indexes into `positions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub outcomes: Vec<Outcome>,
    pub anomalies: Vec<Anomaly>,
    pub changed: Vec<usize>,
}

/// Reconciles `flow` with `facts`, changing `facts.positions` in place at `now`.
pub fn reconcile(
    flow: &ReportingFlow,
    facts: &mut FlowFacts,
    now: NaiveDateTime,
) -> Reconciliation {
    let mut r = match_payments(&flow.organization, &flow.payments, facts, now);
    let (count, sum) = flow.computed_totals();
    if count != flow.tot_payments || sum != Some(flow.sum_payments) {
        r.anomalies.push(Anomaly {
            kind: AnomalyKind::TotalsDiffer,
            index: None,
            iuv: None,
            transfer: None,
            expected: Some(flow.sum_payments),
            reported: sum,
        });
    }
    r
}

/// Matches again payments of the creditor's flows in force (from one flow or several) once
/// what they lacked may be stored, a receipt recovered from the platform: the same rule as
/// [`reconcile`], for these payments alone (`facts.previous` is empty: no revision changes).
pub fn rematch(
    organization: &FiscalCodePA,
    payments: &[FlowPayment],
    facts: &mut FlowFacts,
    now: NaiveDateTime,
) -> Reconciliation {
    match_payments(organization, payments, facts, now)
}

fn match_payments(
    organization: &FiscalCodePA,
    payments: &[FlowPayment],
    facts: &mut FlowFacts,
    now: NaiveDateTime,
) -> Reconciliation {
    let mut outcomes = Vec::with_capacity(payments.len());
    let mut anomalies = Vec::new();
    let mut reported: HashSet<ReportKey> = HashSet::new();
    for p in payments {
        let outcome = match_payment(organization, p, facts);
        anomalies.extend(Anomaly::of(p, outcome));
        if outcome.reports() {
            reported.insert((p.iuv.clone(), p.transfer));
        }
        outcomes.push(outcome);
    }

    // The transfers whose status may change: those these payments report and those the
    // replaced revision reported. Each is reported when this revision or another flow in
    // force says so.
    let mut affected: Vec<&ReportKey> = reported.iter().chain(&facts.previous).collect();
    affected.sort();
    affected.dedup();
    let mut touched = BTreeSet::new();
    for key in affected {
        let wanted = if reported.contains(key) || facts.others.contains(key) {
            TransferStatus::Reported
        } else {
            TransferStatus::Unreported
        };
        if let Some(at) = locate(&facts.positions, organization, &key.0)
            && set_transfer_status(&mut facts.positions, organization, at, key.1, wanted, now)
        {
            touched.insert(at.0);
        }
    }
    for &i in &touched {
        settle_reported(&mut facts.positions[i], now);
    }
    Reconciliation {
        outcomes,
        anomalies,
        changed: touched.into_iter().collect(),
    }
}

fn match_payment(organization: &FiscalCodePA, p: &FlowPayment, facts: &FlowFacts) -> Outcome {
    if !p.status.transfers_money() {
        return Outcome::Revoked;
    }
    let found = locate(&facts.positions, organization, &p.iuv);
    if found.is_none() && !facts.receipts.contains(&p.iuv) {
        return Outcome::NoReceipt;
    }
    match found.and_then(|at| transfer(&facts.positions, organization, at, p.transfer)) {
        None => Outcome::UnknownTransfer,
        Some(t) if t.amount != p.amount => Outcome::AmountDiffers { expected: t.amount },
        Some(_) => Outcome::Reported,
    }
}

/// The paid option (position and option indexes) that a flow payment of `organization` for
/// `iuv` is about: the creditor's own option with the IUV; or else, on a notice of another
/// creditor served here (a payment with several beneficiaries), the one paid option with the
/// IUV that has a transfer credited to `organization`. Two such options (two creditors issuing
/// the same IUV, each with a transfer to this one) name none: which was paid is not known.
fn locate(
    positions: &[DebtPosition],
    organization: &FiscalCodePA,
    iuv: &str,
) -> Option<(usize, usize)> {
    let paid = |o: &PaymentOption| o.iuv.as_str() == iuv && o.status != OptionStatus::Unpaid;
    let mut own = None;
    let mut others = Vec::new();
    for (pi, p) in positions.iter().enumerate() {
        for (oi, o) in p.options.iter().enumerate().filter(|(_, o)| paid(o)) {
            if &p.organization == organization {
                own = own.or(Some((pi, oi)));
            } else if o.transfers.iter().any(|t| &t.organization == organization) {
                others.push((pi, oi));
            }
        }
    }
    match (own, others.as_slice()) {
        (Some(at), _) => Some(at),
        (None, [one]) => Some(*one),
        _ => None,
    }
}

/// Transfer `id` of the option at `(position, option)`, when it is `organization`'s to report:
/// any transfer of its own notices, only those credited to it on another creditor's.
fn transfer<'a>(
    positions: &'a [DebtPosition],
    organization: &FiscalCodePA,
    (pi, oi): (usize, usize),
    id: TransferId,
) -> Option<&'a Transfer> {
    let own = &positions[pi].organization == organization;
    (positions[pi].options[oi].transfers.iter())
        .find(|t| t.id == id && (own || &t.organization == organization))
}

/// Sets the status of transfer `id` of the option at `(position, option)`, when it is
/// `organization`'s to report; whether it changed.
fn set_transfer_status(
    positions: &mut [DebtPosition],
    organization: &FiscalCodePA,
    at: (usize, usize),
    id: TransferId,
    wanted: TransferStatus,
    now: NaiveDateTime,
) -> bool {
    if transfer(positions, organization, at, id).is_none_or(|t| t.status == wanted) {
        return false;
    }
    let option = &mut positions[at.0].options[at.1];
    for t in option.transfers.iter_mut().filter(|t| t.id == id) {
        t.status = wanted;
    }
    option.last_updated_date = now;
    true
}

/// Moves the paid options between PO_PAID, PO_PARTIALLY_REPORTED and PO_REPORTED by their
/// transfers, and the position between PAID and REPORTED as GPD does: REPORTED when one
/// complete way of paying it (a single option, or every installment of the plan) is reported.
fn settle_reported(position: &mut DebtPosition, now: NaiveDateTime) {
    for option in position.options.iter_mut() {
        if option.status == OptionStatus::Unpaid {
            continue;
        }
        let reported = (option.transfers.iter())
            .filter(|t| t.status == TransferStatus::Reported)
            .count();
        option.status = if reported == 0 {
            OptionStatus::Paid
        } else if reported == option.transfers.len() {
            OptionStatus::Reported
        } else {
            OptionStatus::PartiallyReported
        };
    }
    let is_reported = |o: &&PaymentOption| o.status == OptionStatus::Reported;
    let single = position
        .options
        .iter()
        .filter(|o| !o.is_partial_payment)
        .any(|o| is_reported(&o));
    let plan: Vec<_> = position
        .options
        .iter()
        .filter(|o| o.is_partial_payment)
        .collect();
    let whole_plan = !plan.is_empty() && plan.iter().all(is_reported);
    match position.status {
        PositionStatus::Paid | PositionStatus::Reported => {
            position.status = if single || whole_plan {
                PositionStatus::Reported
            } else {
                PositionStatus::Paid
            };
        }
        _ => {}
    }
    position.last_updated_date = now;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::OptionPayment;
    use crate::domain::position::tests::{at, option, position, transfer};
    use crate::domain::{Iuv, SegregationCode};

    fn cents(c: i64) -> Cents {
        Cents::new(c).unwrap()
    }

    fn iuv(base: u64) -> String {
        Iuv::from_parts(SegregationCode::parse("01").unwrap(), base)
            .unwrap()
            .as_str()
            .to_owned()
    }

    fn tid(n: i64) -> TransferId {
        TransferId::new(n).unwrap()
    }

    /// A paid single option `base` with transfers of these amounts; `plan` makes it installments.
    fn paid(options: &[(u64, &[i64], bool)]) -> DebtPosition {
        let mut p = position(
            options
                .iter()
                .map(|(base, amounts, plan)| {
                    let mut o = option(*base, amounts.iter().sum(), at(2030, 1, 1), *plan);
                    o.transfers = (amounts.iter().enumerate())
                        .map(|(i, a)| transfer(i as i64 + 1, *a))
                        .collect();
                    o
                })
                .collect(),
        );
        p.status = PositionStatus::Valid;
        for i in 0..p.options.len() {
            p.mark_paid(
                i,
                OptionPayment {
                    payment_date: at(2025, 2, 1),
                    payment_method: None,
                    psp_company: None,
                    receipt_id: format!("R{i}"),
                    fee: Cents::ZERO,
                },
                at(2025, 2, 1),
            )
            .unwrap();
        }
        p
    }

    /// A paid notice `base` of creditor 99999999999 with two transfers: 700 cents its own
    /// (in `owners` status, unreported by default), 300 cents credited to the flows' creditor.
    fn shared(base: u64, owners: Option<TransferStatus>) -> DebtPosition {
        let mut p = paid(&[(base, &[700, 300], false)]);
        let owner = FiscalCodePA::parse("99999999999").unwrap();
        p.organization = owner.clone();
        p.options[0].transfers[0].organization = owner;
        if let Some(status) = owners {
            p.options[0].transfers[0].status = status;
            p.options[0].status = OptionStatus::PartiallyReported;
        }
        p
    }

    fn pay(index: i64, base: u64, t: i64, amount: i64, status: PayStatus) -> FlowPayment {
        FlowPayment {
            index,
            iuv: iuv(base),
            iur: format!("IUR{index}"),
            transfer: tid(t),
            amount: cents(amount),
            status,
            pay_date: at(2025, 2, 1),
        }
    }

    fn flow(revision: i64, payments: Vec<FlowPayment>) -> ReportingFlow {
        let sum = payments.iter().map(|p| p.amount.get()).sum();
        ReportingFlow {
            organization: FiscalCodePA::parse("77777777777").unwrap(),
            id: FlowId::new("2025-02-0288888888888-0001", "88888888888", revision).unwrap(),
            fdr_date: at(2025, 2, 2),
            published: Some(at(2025, 2, 2)),
            regulation: "SEPA - Bonifico 1".into(),
            regulation_date: at(2025, 2, 3).date(),
            bic: None,
            tot_payments: payments.len() as i64,
            sum_payments: cents(sum),
            payments,
        }
    }

    /// A position's status, and each option's with its transfers'.
    type Statuses = (PositionStatus, Vec<(OptionStatus, Vec<TransferStatus>)>);

    fn statuses(p: &DebtPosition) -> Statuses {
        (
            p.status,
            p.options
                .iter()
                .map(|o| (o.status, o.transfers.iter().map(|t| t.status).collect()))
                .collect(),
        )
    }

    use OptionStatus as O;
    use PositionStatus as P;
    use TransferStatus::{Reported as TR, Unreported as TU};

    struct Case {
        name: &'static str,
        flow: ReportingFlow,
        positions: Vec<DebtPosition>,
        receipts: &'static [u64],
        previous: Vec<ReportKey>,
        others: Vec<ReportKey>,
        outcomes: Vec<Outcome>,
        anomalies: Vec<(AnomalyKind, Option<i64>)>,
        after: Vec<Statuses>,
    }

    #[test]
    fn flows_against_receipts_and_transfers() {
        use PayStatus::*;
        let cases = vec![
            Case {
                name: "an executed payment of the only transfer reports option and position",
                flow: flow(1, vec![pay(1, 1, 1, 1000, Executed)]),
                positions: vec![paid(&[(1, &[1000], false)])],
                receipts: &[1],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![(P::Reported, vec![(O::Reported, vec![TR])])],
            },
            Case {
                name: "one of two transfers: the option is partially reported, the position paid",
                flow: flow(1, vec![pay(1, 1, 2, 300, StandIn)]),
                positions: vec![paid(&[(1, &[700, 300], false)])],
                receipts: &[1],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![(P::Paid, vec![(O::PartiallyReported, vec![TU, TR])])],
            },
            Case {
                name: "the other transfer already reported by another flow completes it",
                flow: flow(1, vec![pay(1, 1, 2, 300, NoRpt)]),
                positions: vec![{
                    let mut p = paid(&[(1, &[700, 300], false)]);
                    p.options[0].transfers[0].status = TR;
                    p.options[0].status = O::PartiallyReported;
                    p
                }],
                receipts: &[1],
                previous: vec![],
                others: vec![(iuv(1), tid(1))],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![(P::Reported, vec![(O::Reported, vec![TR, TR])])],
            },
            Case {
                name: "a plan is reported when every installment is",
                flow: flow(
                    1,
                    vec![pay(1, 1, 1, 500, Executed), pay(2, 2, 1, 500, StandInNoRpt)],
                ),
                positions: vec![paid(&[(1, &[500], true), (2, &[500], true)])],
                receipts: &[1, 2],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported, Outcome::Reported],
                anomalies: vec![],
                after: vec![(
                    P::Reported,
                    vec![(O::Reported, vec![TR]), (O::Reported, vec![TR])],
                )],
            },
            Case {
                name: "one installment of two: the position stays paid",
                flow: flow(1, vec![pay(1, 1, 1, 500, Executed)]),
                positions: vec![paid(&[(1, &[500], true), (2, &[500], true)])],
                receipts: &[1, 2],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![(P::Paid, vec![(O::Reported, vec![TR]), (O::Paid, vec![TU])])],
            },
            Case {
                name: "a revoked payment is no report of money",
                flow: flow(1, vec![pay(1, 1, 1, 1000, Revoked)]),
                positions: vec![paid(&[(1, &[1000], false)])],
                receipts: &[1],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Revoked],
                anomalies: vec![],
                after: vec![(P::Paid, vec![(O::Paid, vec![TU])])],
            },
            Case {
                name: "no receipt for the IUV",
                flow: flow(1, vec![pay(1, 9, 1, 1000, Executed)]),
                positions: vec![],
                receipts: &[],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::NoReceipt],
                anomalies: vec![(AnomalyKind::NoReceipt, Some(1))],
                after: vec![],
            },
            Case {
                name: "an unpaid option and no receipt: no receipt",
                flow: flow(1, vec![pay(1, 3, 1, 1000, Executed)]),
                positions: vec![position(vec![option(3, 1000, at(2030, 1, 1), false)])],
                receipts: &[],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::NoReceipt],
                anomalies: vec![(AnomalyKind::NoReceipt, Some(1))],
                after: vec![(P::Draft, vec![(O::Unpaid, vec![TU])])],
            },
            Case {
                name: "a receipt without a position (Stand-In on an unknown notice)",
                flow: flow(1, vec![pay(1, 4, 1, 1000, StandIn)]),
                positions: vec![],
                receipts: &[4],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::UnknownTransfer],
                anomalies: vec![(AnomalyKind::UnknownTransfer, Some(1))],
                after: vec![],
            },
            Case {
                name: "a transfer index the option does not have",
                flow: flow(1, vec![pay(1, 1, 3, 1000, Executed)]),
                positions: vec![paid(&[(1, &[1000], false)])],
                receipts: &[1],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::UnknownTransfer],
                anomalies: vec![(AnomalyKind::UnknownTransfer, Some(1))],
                after: vec![(P::Paid, vec![(O::Paid, vec![TU])])],
            },
            Case {
                name: "an amount that differs reports the transfer and is an anomaly",
                flow: flow(1, vec![pay(1, 1, 1, 999, Executed)]),
                positions: vec![paid(&[(1, &[1000], false)])],
                receipts: &[1],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::AmountDiffers {
                    expected: cents(1000),
                }],
                anomalies: vec![(AnomalyKind::AmountDiffers, Some(1))],
                after: vec![(P::Reported, vec![(O::Reported, vec![TR])])],
            },
            Case {
                name: "totals that do not add up",
                flow: {
                    let mut f = flow(1, vec![pay(1, 1, 1, 1000, Executed)]);
                    f.tot_payments = 2;
                    f.sum_payments = cents(2000);
                    f
                },
                positions: vec![paid(&[(1, &[1000], false)])],
                receipts: &[1],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![(AnomalyKind::TotalsDiffer, None)],
                after: vec![(P::Reported, vec![(O::Reported, vec![TR])])],
            },
            Case {
                name: "revision 2 drops a payment: what only revision 1 reported is unreported",
                flow: flow(2, vec![pay(1, 2, 1, 500, Executed)]),
                positions: vec![
                    {
                        let mut p = paid(&[(1, &[1000], false)]);
                        p.options[0].transfers[0].status = TR;
                        p.options[0].status = O::Reported;
                        p.status = P::Reported;
                        p
                    },
                    {
                        let mut p = paid(&[(2, &[500], false)]);
                        p.iupd = crate::domain::position::Iupd::parse("IUPD-2").unwrap();
                        p
                    },
                ],
                receipts: &[1, 2],
                previous: vec![(iuv(1), tid(1))],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![
                    (P::Paid, vec![(O::Paid, vec![TU])]),
                    (P::Reported, vec![(O::Reported, vec![TR])]),
                ],
            },
            Case {
                name: "revision 2 drops a payment another flow also reports: it stays reported",
                flow: flow(2, vec![]),
                positions: vec![{
                    let mut p = paid(&[(1, &[1000], false)]);
                    p.options[0].transfers[0].status = TR;
                    p.options[0].status = O::Reported;
                    p.status = P::Reported;
                    p
                }],
                receipts: &[1],
                previous: vec![(iuv(1), tid(1))],
                others: vec![(iuv(1), tid(1))],
                outcomes: vec![],
                anomalies: vec![],
                after: vec![(P::Reported, vec![(O::Reported, vec![TR])])],
            },
            Case {
                name: "revision 2 revokes what revision 1 reported",
                flow: flow(2, vec![pay(1, 1, 1, 1000, Revoked)]),
                positions: vec![{
                    let mut p = paid(&[(1, &[1000], false)]);
                    p.options[0].transfers[0].status = TR;
                    p.options[0].status = O::Reported;
                    p.status = P::Reported;
                    p
                }],
                receipts: &[1],
                previous: vec![(iuv(1), tid(1))],
                others: vec![],
                outcomes: vec![Outcome::Revoked],
                anomalies: vec![],
                after: vec![(P::Paid, vec![(O::Paid, vec![TU])])],
            },
            Case {
                name: "the flow's creditor's transfer in another creditor's notice is reported",
                flow: flow(1, vec![pay(1, 5, 2, 300, Executed)]),
                positions: vec![shared(5, None)],
                receipts: &[],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![(P::Paid, vec![(O::PartiallyReported, vec![TU, TR])])],
            },
            Case {
                name: "with the owner's transfer reported, the shared notice is reported",
                flow: flow(1, vec![pay(1, 5, 2, 300, StandIn)]),
                positions: vec![shared(5, Some(TR))],
                receipts: &[],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![(P::Reported, vec![(O::Reported, vec![TR, TR])])],
            },
            Case {
                name: "the owner's own transfer is not the flow's creditor's to report",
                flow: flow(1, vec![pay(1, 5, 1, 700, Executed)]),
                positions: vec![shared(5, None)],
                receipts: &[],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::UnknownTransfer],
                anomalies: vec![(AnomalyKind::UnknownTransfer, Some(1))],
                after: vec![(P::Paid, vec![(O::Paid, vec![TU, TU])])],
            },
            Case {
                name: "the creditor's own notice with the same IUV comes first",
                flow: flow(1, vec![pay(1, 5, 1, 1000, Executed)]),
                positions: vec![shared(5, None), paid(&[(5, &[1000], false)])],
                receipts: &[5],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::Reported],
                anomalies: vec![],
                after: vec![
                    (P::Paid, vec![(O::Paid, vec![TU, TU])]),
                    (P::Reported, vec![(O::Reported, vec![TR])]),
                ],
            },
            Case {
                name: "two other creditors' notices with the IUV: which was paid is not known",
                flow: flow(1, vec![pay(1, 5, 2, 300, Executed)]),
                positions: vec![shared(5, None), {
                    let mut p = shared(5, None);
                    p.organization = FiscalCodePA::parse("11111111111").unwrap();
                    p
                }],
                receipts: &[],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::NoReceipt],
                anomalies: vec![(AnomalyKind::NoReceipt, Some(1))],
                after: vec![
                    (P::Paid, vec![(O::Paid, vec![TU, TU])]),
                    (P::Paid, vec![(O::Paid, vec![TU, TU])]),
                ],
            },
            Case {
                name: "another creditor's notice not paid yet: no receipt",
                flow: flow(1, vec![pay(1, 5, 2, 300, Executed)]),
                positions: vec![{
                    let mut p = position(vec![option(5, 1000, at(2030, 1, 1), false)]);
                    p.organization = FiscalCodePA::parse("99999999999").unwrap();
                    p
                }],
                receipts: &[],
                previous: vec![],
                others: vec![],
                outcomes: vec![Outcome::NoReceipt],
                anomalies: vec![(AnomalyKind::NoReceipt, Some(1))],
                after: vec![(P::Draft, vec![(O::Unpaid, vec![TU])])],
            },
            Case {
                name: "revision 2 drops the transfer in another creditor's notice",
                flow: flow(2, vec![]),
                positions: vec![{
                    let mut p = shared(5, Some(TR));
                    p.options[0].transfers[1].status = TR;
                    p.options[0].status = O::Reported;
                    p.status = P::Reported;
                    p
                }],
                receipts: &[],
                previous: vec![(iuv(5), tid(2))],
                others: vec![],
                outcomes: vec![],
                anomalies: vec![],
                after: vec![(P::Paid, vec![(O::PartiallyReported, vec![TR, TU])])],
            },
        ];
        for case in cases {
            let mut facts = FlowFacts {
                positions: case.positions,
                receipts: case.receipts.iter().map(|b| iuv(*b)).collect(),
                previous: case.previous,
                others: case.others.into_iter().collect(),
            };
            let before: Vec<_> = facts.positions.iter().map(statuses).collect();
            let r = reconcile(&case.flow, &mut facts, at(2025, 3, 1));
            assert_eq!(r.outcomes, case.outcomes, "{}", case.name);
            let kinds: Vec<_> = r.anomalies.iter().map(|a| (a.kind, a.index)).collect();
            assert_eq!(kinds, case.anomalies, "{}", case.name);
            let after: Vec<_> = facts.positions.iter().map(statuses).collect();
            assert_eq!(after, case.after, "{}", case.name);
            let changed: Vec<usize> = (0..after.len())
                .filter(|i| before[*i] != after[*i])
                .collect();
            assert_eq!(r.changed, changed, "{}", case.name);
        }
    }

    #[test]
    fn an_amount_anomaly_names_both_amounts() {
        let f = flow(1, vec![pay(1, 1, 1, 999, PayStatus::Executed)]);
        let mut facts = FlowFacts {
            positions: vec![paid(&[(1, &[1000], false)])],
            receipts: [iuv(1)].into(),
            ..FlowFacts::default()
        };
        let r = reconcile(&f, &mut facts, at(2025, 3, 1));
        assert_eq!(r.anomalies[0].expected, Some(cents(1000)));
        assert_eq!(r.anomalies[0].reported, Some(cents(999)));
        assert_eq!(r.anomalies[0].iuv.as_deref(), Some(iuv(1).as_str()));
    }

    #[test]
    fn recoveries_wait_longer_each_time_and_end() {
        let now = at(2025, 3, 1);
        let waits: Vec<_> = (1..=RECOVERY_ATTEMPTS)
            .map(|n| next_recovery(n, now).map(|t| (t - now).num_minutes()))
            .collect();
        assert_eq!(
            waits,
            [Some(15), Some(60), Some(240), Some(960), None],
            "the fifth attempt is the last"
        );
    }

    #[test]
    fn flow_ids_are_bounded() {
        assert!(FlowId::new("f", "p", 1).is_ok());
        assert!(FlowId::new("", "p", 1).is_err());
        assert!(FlowId::new("f", &"p".repeat(36), 1).is_err());
        assert!(FlowId::new("f", "p", 0).is_err());
        for s in PayStatus::ALL {
            assert_eq!(PayStatus::parse(s.as_str()), Some(s));
        }
        for k in AnomalyKind::ALL {
            assert_eq!(AnomalyKind::parse(k.as_str()), Some(k));
        }
    }
}
