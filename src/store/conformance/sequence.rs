//! IUVs the store issues: a sequence per creditor and segregation code that skips those taken,
//! never gives one twice, and survives a restart; the spontaneous positions it made, counted.

use std::collections::HashSet;

use super::{Subject, org, other_org};
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{DebtPosition, Iupd, PositionStatus};
use crate::domain::{FiscalCodePA, Iuv, SegregationCode};
use crate::store::{PositionKey, Store};

/// A position whose single option takes the given IUV.
pub fn with_iuv(iuv: Iuv) -> DebtPosition {
    let mut p = position(vec![option(1, 1500, at(2030, 1, 1), false)]);
    p.iupd = Iupd::parse(&format!("D-{iuv}")).unwrap();
    p.options[0].nav = iuv.notice_number();
    p.options[0].iuv = iuv;
    p
}

pub fn seg(s: &str) -> SegregationCode {
    SegregationCode::parse(s).unwrap()
}

pub async fn issue(store: &dyn Store, organization: FiscalCodePA, code: &str) -> Iuv {
    let p = store
        .create_with_new_iuv(
            organization.clone(),
            seg(code),
            Box::new(move |iuv| {
                let mut p = with_iuv(iuv);
                p.organization = organization.clone();
                p
            }),
        )
        .await
        .unwrap();
    p.options[0].iuv.clone()
}

pub async fn issued_iuvs_follow_a_sequence_per_creditor_and_segregation_code(store: &dyn Store) {
    let other = other_org();
    assert_eq!(
        issue(store, org(), "02").await,
        Iuv::from_parts(seg("02"), 1).unwrap()
    );
    assert_eq!(
        issue(store, org(), "02").await,
        Iuv::from_parts(seg("02"), 2).unwrap()
    );
    assert_eq!(
        issue(store, org(), "01").await,
        Iuv::from_parts(seg("01"), 1).unwrap()
    );
    assert_eq!(
        issue(store, other, "02").await,
        Iuv::from_parts(seg("02"), 1).unwrap()
    );
    let stored = store
        .get_position(
            org(),
            PositionKey::Notice(Iuv::from_parts(seg("02"), 2).unwrap().notice_number()),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.iupd.as_str(),
        format!("D-{}", Iuv::from_parts(seg("02"), 2).unwrap())
    );
}

pub async fn issued_iuvs_skip_those_taken_and_survive_a_restart(subject: &Subject) {
    let store: &dyn Store = subject.into();
    // The creditor chose IUVs 3 and 4 itself, and an IUPD that clashes with the one for 5.
    for base in [3, 4] {
        store
            .create_position(with_iuv(Iuv::from_parts(seg("02"), base).unwrap()))
            .await
            .unwrap();
    }
    let mut clash = with_iuv(Iuv::from_parts(seg("01"), 9).unwrap());
    clash.iupd = Iupd::parse(&format!("D-{}", Iuv::from_parts(seg("02"), 5).unwrap())).unwrap();
    store.create_position(clash).await.unwrap();
    let issued: Vec<Iuv> = [
        issue(store, org(), "02").await,
        issue(store, org(), "02").await,
        issue(store, org(), "02").await,
    ]
    .into();
    let bases = [1, 2, 6].map(|b| Iuv::from_parts(seg("02"), b).unwrap());
    assert_eq!(issued, bases);
    store.close().await.unwrap();
    let reopened = subject.reopen().await;
    assert_eq!(
        issue(&*reopened, org(), "02").await,
        Iuv::from_parts(seg("02"), 7).unwrap()
    );
}

pub async fn concurrent_requests_never_share_an_iuv(subject: &Subject) {
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = subject.shared();
            tokio::spawn(async move { issue(&*store, org(), "02").await })
        })
        .collect();
    let mut issued = HashSet::new();
    for t in tasks {
        assert!(issued.insert(t.await.unwrap()));
    }
    assert_eq!(issued.len(), 40);
    assert!(issued.contains(&Iuv::from_parts(seg("02"), 40).unwrap()));
}

pub async fn unpaid_spontaneous_positions_are_counted_up_to_a_limit(store: &dyn Store) {
    let valid = |mut p: DebtPosition| {
        p.status = PositionStatus::Valid;
        p.switch_to_expired = true;
        p
    };
    for _ in 0..2 {
        store
            .create_with_new_iuv(org(), seg("02"), Box::new(move |iuv| valid(with_iuv(iuv))))
            .await
            .unwrap();
    }
    // Made by the creditor itself: not counted.
    store
        .create_position(valid(with_iuv(Iuv::from_parts(seg("01"), 7).unwrap())))
        .await
        .unwrap();
    let count = |now, limit| store.count_unpaid_spontaneous(org(), now, limit);
    assert_eq!(count(at(2026, 1, 1), 100).await.unwrap(), 2);
    assert_eq!(count(at(2026, 1, 1), 1).await.unwrap(), 1);
    // Past their due date (2030-01-01) they are no longer payable.
    assert_eq!(count(at(2030, 1, 2), 100).await.unwrap(), 0);
    let other = other_org();
    assert_eq!(
        store
            .count_unpaid_spontaneous(other, at(2026, 1, 1), 100)
            .await
            .unwrap(),
        0
    );
}
