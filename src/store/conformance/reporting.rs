//! Reporting flows stored with what they matched: transfers reported, a newer revision
//! replacing an older one's effects, anomalies listed and resolved, transfers no flow reported.

use super::org;
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{DebtPosition, Iupd, OptionStatus, PositionStatus, TransferStatus};
use crate::domain::reporting::{
    AnomalyKind, FlowId, FlowPayment, Outcome, PayStatus, ReportingFlow, reconcile,
};
use crate::domain::{Cents, TransferId};
use crate::store::receipt_fixtures::{ORG, new_receipt, valid};
use crate::store::{
    AnomalyFilter, FlowFilter, FlowRecorded, PageRequest, PositionKey, Reconcile, Store,
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
    let payments: Vec<FlowPayment> = (payments.iter().enumerate())
        .map(|(i, (iuv, cents))| FlowPayment {
            index: i as i64 + 1,
            iuv: (*iuv).to_owned(),
            iur: format!("IUR{i}"),
            transfer: TransferId::new(1).unwrap(),
            amount: Cents::new(*cents).unwrap(),
            status: PayStatus::Executed,
            pay_date: at(2025, 2, 1),
        })
        .collect();
    ReportingFlow {
        organization: org(),
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
    let p = store
        .get_position(org(), PositionKey::Iupd(Iupd::parse(iupd).unwrap()))
        .await
        .unwrap()
        .unwrap();
    (
        p.status,
        p.options[0].status,
        p.options[0].transfers[0].status,
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
