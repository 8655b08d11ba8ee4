//! Reporting flows stored with what they matched: transfers reported, a newer revision
//! replacing an older one's effects, anomalies listed and resolved, transfers no flow reported,
//! a creditor's transfers in another creditor's notices, and the recovery of missing receipts
//! matching payments again.

use super::org;
use crate::domain::position::tests::{at, option, position, transfer};
use crate::domain::position::{
    DebtPosition, Iupd, OptionPayment, OptionStatus, PositionStatus, TransferStatus,
};
use crate::domain::reporting::{
    AnomalyKind, FlowId, FlowPayment, Outcome, PayStatus, ReportingFlow, reconcile,
};
use crate::domain::{Cents, FiscalCodePA, TransferId};
use crate::store::receipt_fixtures::{ORG, new_receipt, valid};
use crate::store::{
    AnomalyFilter, FlowFilter, FlowRecorded, PageRequest, PositionKey, Reconcile, RecoveryAttempt,
    Rematch, Store,
};

const ALL: PageRequest = PageRequest { page: 0, limit: 50 };

fn reconciler() -> Reconcile {
    Box::new(|flow, facts| reconcile(flow, facts, at(2025, 3, 1)))
}

/// A paid position `iupd` with one option `base` of 300 cents.
async fn paid(store: &dyn Store, iupd: &str, base: u64) -> String {
    let mut p: DebtPosition = valid(position(vec![option(base, 300, at(2030, 1, 1), false)]));
    p.iupd = Iupd::parse(iupd).unwrap();
    let nav = p.options[0].nav.clone();
    let iuv = p.options[0].iuv.as_str().to_owned();
    store.create_position(p).await.unwrap();
    store
        .acquire_receipt(new_receipt(&format!("R-{iupd}"), &nav, &[ORG]))
        .await
        .unwrap();
    iuv
}

fn flow(fdr: &str, revision: i64, payments: &[(&str, i64)]) -> ReportingFlow {
    let payments: Vec<(&str, i64, i64)> = payments.iter().map(|(iuv, c)| (*iuv, 1, *c)).collect();
    flow_of(org(), fdr, revision, &payments)
}

/// A flow of `organization` with payments (IUV, transfer index, cents).
fn flow_of(
    organization: FiscalCodePA,
    fdr: &str,
    revision: i64,
    payments: &[(&str, i64, i64)],
) -> ReportingFlow {
    let payments: Vec<FlowPayment> = (payments.iter().enumerate())
        .map(|(i, (iuv, transfer, cents))| FlowPayment {
            index: i as i64 + 1,
            iuv: (*iuv).to_owned(),
            iur: format!("IUR{i}"),
            transfer: TransferId::new(*transfer).unwrap(),
            amount: Cents::new(*cents).unwrap(),
            status: PayStatus::Executed,
            pay_date: at(2025, 2, 1),
        })
        .collect();
    ReportingFlow {
        organization,
        id: FlowId::new(fdr, "88888888888", revision).unwrap(),
        fdr_date: at(2025, 2, revision as u32),
        published: Some(at(2025, 2, 2)),
        regulation: "SEPA - Bonifico 1".into(),
        regulation_date: at(2025, 2, 3).date(),
        bic: Some("UNCRITMMXXX".into()),
        tot_payments: payments.len() as i64,
        sum_payments: Cents::new(payments.iter().map(|p| p.amount.get()).sum()).unwrap(),
        payments,
    }
}

async fn status_of(
    store: &dyn Store,
    iupd: &str,
) -> (PositionStatus, OptionStatus, TransferStatus) {
    let (position, option, transfers) = statuses_of(store, org(), iupd).await;
    (position, option, transfers[0])
}

/// The position's status, its first option's and that option's transfers'.
async fn statuses_of(
    store: &dyn Store,
    organization: FiscalCodePA,
    iupd: &str,
) -> (PositionStatus, OptionStatus, Vec<TransferStatus>) {
    let p = store
        .get_position(organization, PositionKey::Iupd(Iupd::parse(iupd).unwrap()))
        .await
        .unwrap()
        .unwrap();
    let o = &p.options[0];
    (
        p.status,
        o.status,
        o.transfers.iter().map(|t| t.status).collect(),
    )
}

pub async fn a_flow_reports_transfers_and_a_newer_revision_replaces_it(store: &dyn Store) {
    let first = paid(store, "IUPD-1", 1).await;
    let second = paid(store, "IUPD-2", 2).await;
    let stranger = "01000000000000999";
    let f1 = flow("FDR-A", 1, &[(&first, 300), (stranger, 100)]);
    assert!(
        !store
            .reporting_flow_stored(org(), f1.id.clone())
            .await
            .unwrap()
    );
    let recorded = store
        .record_reporting_flow(f1.clone(), reconciler(), at(2025, 3, 1))
        .await
        .unwrap();
    let FlowRecorded::Applied {
        reconciliation,
        positions_changed,
    } = recorded
    else {
        panic!("{recorded:?}");
    };
    assert_eq!(positions_changed, 1);
    assert_eq!(
        reconciliation.outcomes,
        vec![Outcome::Reported, Outcome::NoReceipt]
    );
    assert!(
        store
            .reporting_flow_stored(org(), f1.id.clone())
            .await
            .unwrap()
    );
    let reported = (
        PositionStatus::Reported,
        OptionStatus::Reported,
        TransferStatus::Reported,
    );
    let unreported = (
        PositionStatus::Paid,
        OptionStatus::Paid,
        TransferStatus::Unreported,
    );
    assert_eq!(status_of(store, "IUPD-1").await, reported);
    assert_eq!(status_of(store, "IUPD-2").await, unreported);
    let again = store
        .record_reporting_flow(f1.clone(), reconciler(), at(2025, 3, 1))
        .await
        .unwrap();
    assert_eq!(again, FlowRecorded::AlreadyStored);
    let anomalies = store
        .list_reporting_anomalies(org(), AnomalyFilter::default(), ALL)
        .await
        .unwrap();
    assert_eq!(anomalies.items_found, 1);
    assert_eq!(anomalies.items[0].kind, AnomalyKind::NoReceipt);
    assert_eq!(anomalies.items[0].flow, Some(f1.id.clone()));
    assert_eq!(anomalies.items[0].iuv.as_deref(), Some(stranger));

    // Revision 2 reports the second position instead of the first.
    let f2 = flow("FDR-A", 2, &[(&second, 300)]);
    store
        .record_reporting_flow(f2.clone(), reconciler(), at(2025, 3, 2))
        .await
        .unwrap();
    assert_eq!(status_of(store, "IUPD-1").await, unreported);
    assert_eq!(status_of(store, "IUPD-2").await, reported);
    let open = AnomalyFilter {
        resolved: Some(false),
        ..AnomalyFilter::default()
    };
    let still = store
        .list_reporting_anomalies(org(), open, ALL)
        .await
        .unwrap();
    assert_eq!(still.items_found, 0, "revision 1's anomaly is resolved");

    // Revision 1 again, late: kept without effects.
    let late = store
        .record_reporting_flow(flow("FDR-A", 1, &[]), reconciler(), at(2025, 3, 3))
        .await
        .unwrap();
    assert_eq!(late, FlowRecorded::AlreadyStored);
    let b2 = flow("FDR-B", 2, &[]);
    store
        .record_reporting_flow(b2, reconciler(), at(2025, 3, 3))
        .await
        .unwrap();
    let b1 = flow("FDR-B", 1, &[(&first, 300)]);
    let late = store
        .record_reporting_flow(b1.clone(), reconciler(), at(2025, 3, 3))
        .await
        .unwrap();
    assert_eq!(late, FlowRecorded::Superseded);
    assert_eq!(status_of(store, "IUPD-1").await, unreported);

    let flows = store
        .list_reporting_flows(org(), FlowFilter::default(), ALL)
        .await
        .unwrap();
    assert_eq!(flows.items_found, 4);
    let a: Vec<(i64, bool)> = (flows.items.iter())
        .filter(|f| f.id.fdr == "FDR-A")
        .map(|f| (f.id.revision, f.superseded))
        .collect();
    assert_eq!(a, vec![(2, false), (1, true)], "newest flow date first");
    let by_name = FlowFilter {
        fdr: Some("FDR-B".into()),
        ..FlowFilter::default()
    };
    let b = store
        .list_reporting_flows(org(), by_name, ALL)
        .await
        .unwrap();
    assert_eq!(b.items_found, 2);
    let other_psp = FlowFilter {
        psp: Some("99999999999".into()),
        ..FlowFilter::default()
    };
    let none = store
        .list_reporting_flows(org(), other_psp, ALL)
        .await
        .unwrap();
    assert_eq!(none.items_found, 0);

    let (summary, payments) = store
        .reporting_flow_payments(org(), f1.id.clone(), PageRequest { page: 1, limit: 1 })
        .await
        .unwrap()
        .unwrap();
    assert!(summary.superseded);
    assert_eq!(summary.sum_payments, Cents::new(400).unwrap());
    assert_eq!(payments.items_found, 2);
    assert_eq!(payments.items[0].payment.index, 2);
    assert_eq!(payments.items[0].outcome, Outcome::NoReceipt);
    let (_, b1_payments) = store
        .reporting_flow_payments(org(), b1.id, ALL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b1_payments.items[0].outcome, Outcome::Superseded);
    assert!(!b1_payments.items[0].reports);
    let unknown = FlowId::new("FDR-Z", "88888888888", 1).unwrap();
    assert!(
        store
            .reporting_flow_payments(org(), unknown, ALL)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn transfers_no_flow_reports_are_flagged_once_and_resolved_by_a_flow(store: &dyn Store) {
    let iuv = paid(store, "IUPD-1", 1).await;
    let later = at(2100, 1, 1);
    assert_eq!(
        store
            .flag_unreported_transfers(at(2000, 1, 1), at(2025, 3, 1), 10)
            .await
            .unwrap(),
        0,
        "paid after the bound"
    );
    assert_eq!(
        store
            .flag_unreported_transfers(later, at(2025, 3, 1), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .flag_unreported_transfers(later, at(2025, 3, 2), 10)
            .await
            .unwrap(),
        0,
        "one open anomaly per transfer"
    );
    let unreported = AnomalyFilter {
        kind: Some(AnomalyKind::Unreported),
        resolved: Some(false),
        ..AnomalyFilter::default()
    };
    let open = store
        .list_reporting_anomalies(org(), unreported.clone(), ALL)
        .await
        .unwrap();
    assert_eq!(open.items_found, 1);
    assert_eq!(open.items[0].iuv.as_deref(), Some(iuv.as_str()));
    assert_eq!(open.items[0].expected, Some(Cents::new(300).unwrap()));
    assert_eq!(open.items[0].flow, None);

    store
        .record_reporting_flow(
            flow("FDR-A", 1, &[(&iuv, 300)]),
            reconciler(),
            at(2025, 3, 3),
        )
        .await
        .unwrap();
    let open = store
        .list_reporting_anomalies(org(), unreported, ALL)
        .await
        .unwrap();
    assert_eq!(open.items_found, 0);
    let resolved = AnomalyFilter {
        resolved: Some(true),
        from: Some(at(2025, 3, 1)),
        to: Some(at(2025, 3, 1)),
        ..AnomalyFilter::default()
    };
    let resolved = store
        .list_reporting_anomalies(org(), resolved, ALL)
        .await
        .unwrap();
    assert_eq!(resolved.items_found, 1);
    assert!(resolved.items[0].resolved_at.is_some());
    assert_eq!(
        store
            .flag_unreported_transfers(later, at(2025, 3, 4), 10)
            .await
            .unwrap(),
        0,
        "reported now"
    );
}

pub async fn missing_receipts_recovered_resolve_their_anomalies_and_attempts_are_counted(
    store: &dyn Store,
) {
    // Two notices not paid yet: the flow reports both, one with another amount.
    let mut ids = Vec::new();
    for (iupd, base) in [("IUPD-1", 1), ("IUPD-2", 2)] {
        let mut p: DebtPosition = valid(position(vec![option(base, 300, at(2030, 1, 1), false)]));
        p.iupd = Iupd::parse(iupd).unwrap();
        ids.push((
            p.options[0].iuv.as_str().to_owned(),
            p.options[0].nav.clone(),
        ));
        store.create_position(p).await.unwrap();
    }
    let (first, second) = (ids[0].0.clone(), ids[1].0.clone());
    let found = at(2025, 3, 1);
    let f = flow("FDR-R", 1, &[(&first, 299), (&second, 300)]);
    store
        .record_reporting_flow(f.clone(), reconciler(), found)
        .await
        .unwrap();
    let due = store
        .due_receipt_recoveries(org(), found, 10)
        .await
        .unwrap();
    let asked: Vec<(&str, &str, i64)> = (due.iter())
        .map(|d| (d.iuv.as_str(), d.iur.as_str(), d.attempts))
        .collect();
    assert_eq!(
        asked,
        [(first.as_str(), "IUR0", 0), (second.as_str(), "IUR1", 0)]
    );
    let before = found - chrono::Duration::seconds(1);
    assert!(
        store
            .due_receipt_recoveries(org(), before, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let other = FiscalCodePA::parse("88888888888").unwrap();
    assert!(
        store
            .due_receipt_recoveries(other, found, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .due_receipt_recoveries(org(), found, 1)
            .await
            .unwrap()
            .len(),
        1
    );

    // The second's receipt is not at the platform: counted, kept, due later.
    let later = at(2025, 3, 2);
    let not_found = RecoveryAttempt {
        outcome: "NOT_FOUND".into(),
        detail: Some("no such receipt".into()),
        next_at: Some(later),
    };
    let resolved = store
        .settle_receipt_recovery(org(), due[1].anomaly, not_found, None, found)
        .await
        .unwrap();
    assert_eq!(resolved, 0);
    let now_due = store
        .due_receipt_recoveries(org(), found, 10)
        .await
        .unwrap();
    assert_eq!(now_due.len(), 1);
    assert_eq!(now_due[0].anomaly, due[0].anomaly);
    assert_eq!(
        store
            .due_receipt_recoveries(org(), later, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // The first's receipt recovered (stored meanwhile): its payment matches again.
    store
        .acquire_receipt(new_receipt("R-IUPD-1", &ids[0].1, &[ORG]))
        .await
        .unwrap();
    let recovered = RecoveryAttempt {
        outcome: "RECOVERED".into(),
        detail: Some("still no match".into()),
        next_at: Some(later),
    };
    let rematch: Rematch = Box::new(move |payments, facts| {
        crate::domain::reporting::rematch(&org(), payments, facts, found)
    });
    let resolved = store
        .settle_receipt_recovery(org(), due[0].anomaly, recovered, Some(rematch), found)
        .await
        .unwrap();
    assert_eq!(resolved, 1);
    let reported = (
        PositionStatus::Reported,
        OptionStatus::Reported,
        TransferStatus::Reported,
    );
    assert_eq!(status_of(store, "IUPD-1").await, reported);
    let (_, payments) = store
        .reporting_flow_payments(org(), f.id.clone(), ALL)
        .await
        .unwrap()
        .unwrap();
    let outcomes: Vec<(Outcome, bool)> = payments
        .items
        .iter()
        .map(|p| (p.outcome, p.reports))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                Outcome::AmountDiffers {
                    expected: Cents::new(300).unwrap()
                },
                true
            ),
            (Outcome::NoReceipt, false)
        ]
    );
    let all = store
        .list_reporting_anomalies(org(), AnomalyFilter::default(), ALL)
        .await
        .unwrap();
    let mut seen: Vec<_> = (all.items.iter())
        .map(|a| {
            (
                a.kind,
                a.iuv.as_deref(),
                a.resolved_at.is_some(),
                (a.recovery.as_ref()).map(|r| (r.attempts, r.outcome.as_str(), r.next_at)),
            )
        })
        .collect();
    seen.sort_by_key(|s| (s.1, s.0.as_str()));
    assert_eq!(
        seen,
        [
            (
                AnomalyKind::AmountDiffers,
                Some(first.as_str()),
                false,
                None
            ),
            (
                AnomalyKind::NoReceipt,
                Some(first.as_str()),
                true,
                Some((1, "RECOVERED", None))
            ),
            (
                AnomalyKind::NoReceipt,
                Some(second.as_str()),
                false,
                Some((1, "NOT_FOUND", Some(later)))
            ),
        ]
    );
    assert!(all.items.iter().all(|a| a.flow == Some(f.id.clone())));

    // The last attempt gives up: nothing is due any more.
    let last = RecoveryAttempt {
        outcome: "NOT_FOUND".into(),
        detail: None,
        next_at: None,
    };
    store
        .settle_receipt_recovery(org(), due[1].anomaly, last, None, later)
        .await
        .unwrap();
    assert!(
        store
            .due_receipt_recoveries(org(), at(2100, 1, 1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_flow_reports_its_creditor_s_transfer_in_another_creditor_s_notice(
    store: &dyn Store,
) {
    // Creditor A's notice pays 700 cents to A and 300 to this flows' creditor.
    let owner = FiscalCodePA::parse("88888888888").unwrap();
    let mut p: DebtPosition = valid(position(vec![option(7, 1000, at(2030, 1, 1), false)]));
    p.organization = owner.clone();
    p.iupd = Iupd::parse("IUPD-SHARED").unwrap();
    let mut owners = transfer(1, 700);
    owners.organization = owner.clone();
    p.options[0].transfers = vec![owners, transfer(2, 300)];
    let payment = OptionPayment {
        payment_date: at(2025, 2, 1),
        payment_method: None,
        psp_company: None,
        receipt_id: "R-SHARED".into(),
        fee: Cents::ZERO,
    };
    p.mark_paid(0, payment, at(2025, 2, 1)).unwrap();
    let iuv = p.options[0].iuv.as_str().to_owned();
    store.create_position(p).await.unwrap();

    let ours = flow_of(org(), "FDR-B", 1, &[(&iuv, 2, 300)]);
    let recorded = store
        .record_reporting_flow(ours, reconciler(), at(2025, 3, 1))
        .await
        .unwrap();
    let FlowRecorded::Applied { reconciliation, .. } = recorded else {
        panic!("{recorded:?}");
    };
    assert_eq!(reconciliation.outcomes, [Outcome::Reported]);
    use TransferStatus::{Reported as TR, Unreported as TU};
    assert_eq!(
        statuses_of(store, owner.clone(), "IUPD-SHARED").await,
        (
            PositionStatus::Paid,
            OptionStatus::PartiallyReported,
            vec![TU, TR]
        )
    );
    // The owner's flow reports its own transfer: the notice is reported.
    let theirs = flow_of(owner.clone(), "FDR-A", 1, &[(&iuv, 1, 700)]);
    store
        .record_reporting_flow(theirs, reconciler(), at(2025, 3, 1))
        .await
        .unwrap();
    assert_eq!(
        statuses_of(store, owner.clone(), "IUPD-SHARED").await,
        (
            PositionStatus::Reported,
            OptionStatus::Reported,
            vec![TR, TR]
        )
    );
    // A revision of ours that drops it takes back only our transfer.
    store
        .record_reporting_flow(
            flow_of(org(), "FDR-B", 2, &[]),
            reconciler(),
            at(2025, 3, 2),
        )
        .await
        .unwrap();
    assert_eq!(
        statuses_of(store, owner, "IUPD-SHARED").await,
        (
            PositionStatus::Paid,
            OptionStatus::PartiallyReported,
            vec![TR, TU]
        )
    );
}
