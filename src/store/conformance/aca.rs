//! The mirror to the central notices archive: every write of a position of a mirrored creditor
//! records, in its own transaction, that the position changed (coalesced per position); the
//! worker claims, records and lets go; failures are retried, given up and retried on demand.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::{org, other_org};
use crate::domain::aca::{Archived, ArchivedStatus, MirrorState};
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{DebtPosition, Iupd};
use crate::store::{
    AcaMirror, Expected, MirrorRecord, PageRequest, PositionKey, Store, StoreError,
};

fn page() -> PageRequest {
    PageRequest { page: 0, limit: 50 }
}

fn shown() -> Option<Archived> {
    Some(Archived {
        status: ArchivedStatus::Published,
        digest: "d1".into(),
        paid: BTreeSet::from(["n1".to_owned(), "n2".to_owned()]),
    })
}

fn numbered(iupd: &str, base: u64) -> DebtPosition {
    let mut p = position(vec![option(base, 1000, at(2030, 1, 1), false)]);
    p.iupd = Iupd::parse(iupd).unwrap();
    p
}

/// The mirrors of every creditor due at `now`, held until `until`.
async fn claim(store: &dyn Store, now: NaiveDateTime, until: NaiveDateTime) -> Vec<AcaMirror> {
    store.claim_aca_mirrors(None, now, until, 10).await.unwrap()
}

/// Records `what` came of mirroring `generation` of the creditor's position `iupd`.
async fn record(
    store: &dyn Store,
    iupd: &str,
    generation: i64,
    what: MirrorRecord,
    now: NaiveDateTime,
) {
    store
        .record_aca_mirror(org(), iupd.into(), generation, what, now)
        .await
        .unwrap();
}

pub async fn changes_of_mirrored_creditors_are_recorded_coalesced_and_let_go(store: &dyn Store) {
    store.set_aca_creditors(vec![org()]).await.unwrap();
    let now = at(2025, 6, 1);
    store.create_position(numbered("A", 1)).await.unwrap();
    let mut other = numbered("B", 2);
    other.organization = other_org();
    store.create_position(other).await.unwrap();
    let listed = store.list_aca_mirrors(None, None, page()).await.unwrap();
    assert_eq!(listed.items_found, 1, "only the mirrored creditor's");
    let m = &listed.items[0];
    assert_eq!((m.iupd.as_str(), m.generation), ("A", 1));
    assert_eq!(
        (m.state, m.attempts, m.archived.clone()),
        (MirrorState::Pending, 0, None)
    );

    let key = PositionKey::Iupd(Iupd::parse("A").unwrap());
    store
        .update_position(org(), key.clone(), Box::new(move |p| Ok(p.publish(now)?)))
        .await
        .unwrap();
    let claimed = claim(store, now, at(2025, 6, 2)).await;
    assert_eq!(claimed.len(), 1, "one row per position");
    assert_eq!(claimed[0].generation, 2);
    assert!(
        claim(store, now, at(2025, 6, 2)).await.is_empty(),
        "held until the lease ends"
    );
    // A change made while it is held waits for the record, then is due at once.
    store
        .update_position(org(), key.clone(), Box::new(|_| Ok(())))
        .await
        .unwrap();
    assert!(claim(store, now, at(2025, 6, 2)).await.is_empty());
    let mirrored = MirrorRecord::Mirrored {
        archived: shown(),
        forget: false,
    };
    record(store, "A", 2, mirrored, now).await;
    let again = store
        .claim_aca_mirrors(Some(org()), now, at(2025, 6, 2), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].generation, 3);
    assert_eq!(again[0].archived, shown(), "what the archive holds is kept");
    let done = MirrorRecord::Mirrored {
        archived: shown(),
        forget: false,
    };
    record(store, "A", 3, done, now).await;
    let m = &store
        .list_aca_mirrors(Some(org()), None, page())
        .await
        .unwrap()
        .items[0];
    assert_eq!((m.state, m.last_attempt_at), (MirrorState::Done, Some(now)));

    // A deleted position's row goes once the archive lost it too.
    store
        .delete_position(
            org(),
            Iupd::parse("A").unwrap(),
            Expected::Any,
            Box::new(|_| Ok(())),
        )
        .await
        .unwrap();
    let claimed = claim(store, now, at(2025, 6, 2)).await;
    assert_eq!(claimed[0].generation, 4);
    let gone = MirrorRecord::Mirrored {
        archived: None,
        forget: true,
    };
    record(store, "A", 4, gone, now).await;
    let listed = store.list_aca_mirrors(None, None, page()).await.unwrap();
    assert_eq!(listed.items_found, 0);

    // A creditor no longer mirrored records nothing more.
    store.set_aca_creditors(vec![]).await.unwrap();
    store.create_position(numbered("C", 3)).await.unwrap();
    let listed = store.list_aca_mirrors(None, None, page()).await.unwrap();
    assert_eq!(listed.items_found, 0);
}

pub async fn failures_are_retried_given_up_and_retried_on_demand(store: &dyn Store) {
    store.set_aca_creditors(vec![org()]).await.unwrap();
    let now = at(2025, 6, 1);
    store.create_position(numbered("A", 1)).await.unwrap();
    let claimed = claim(store, now, at(2025, 6, 2)).await;
    assert_eq!(claimed.len(), 1);
    let failed = MirrorRecord::Failed {
        archived: None,
        error: "HTTP 500".into(),
        retry_at: Some(at(2025, 6, 3)),
    };
    record(store, "A", 1, failed, now).await;
    let m = store
        .list_aca_mirrors(None, Some(MirrorState::Pending), page())
        .await
        .unwrap();
    let m = &m.items[0];
    assert_eq!((m.attempts, m.due_at), (1, Some(at(2025, 6, 3))));
    assert_eq!(m.last_error.as_deref(), Some("HTTP 500"));
    assert!(
        claim(store, at(2025, 6, 2), at(2025, 6, 4))
            .await
            .is_empty(),
        "not before its backoff ends"
    );
    let claimed = claim(store, at(2025, 6, 3), at(2025, 6, 4)).await;
    assert_eq!(claimed[0].attempts, 1);
    let given_up = MirrorRecord::Failed {
        archived: shown(),
        error: "HTTP 400".into(),
        retry_at: None,
    };
    record(store, "A", 1, given_up, now).await;
    let failed = store
        .list_aca_mirrors(Some(org()), Some(MirrorState::Failed), page())
        .await
        .unwrap();
    assert_eq!(failed.items_found, 1);
    assert_eq!(failed.items[0].attempts, 2);
    assert_eq!(failed.items[0].archived, shown());
    assert!(
        claim(store, at(2026, 1, 1), at(2026, 1, 2))
            .await
            .is_empty()
    );
    let retried = store.retry_aca_mirror(org(), "A".into()).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (MirrorState::Pending, 0));
    assert!(matches!(
        store.retry_aca_mirror(org(), "A".into()).await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(
        store.retry_aca_mirror(org(), "Z".into()).await,
        Err(StoreError::NotFound)
    );
}

pub async fn a_sync_sets_what_the_archive_holds_and_listings_page(store: &dyn Store) {
    store.set_aca_creditors(vec![org()]).await.unwrap();
    for (i, iupd) in ["A", "B", "C"].into_iter().enumerate() {
        store
            .create_position(numbered(iupd, i as u64 + 1))
            .await
            .unwrap();
    }
    let now = at(2025, 6, 1);
    for iupd in ["A", "B", "C"] {
        let claimed = store
            .claim_aca_mirrors(None, now, at(2025, 6, 2), 1)
            .await
            .unwrap();
        assert_eq!(claimed[0].iupd, iupd, "oldest change first");
        let done = MirrorRecord::Mirrored {
            archived: None,
            forget: false,
        };
        record(store, iupd, 1, done, now).await;
    }
    // Known to the archive only: a row is made for it.
    store
        .reset_aca_mirror(org(), "GONE".into(), shown())
        .await
        .unwrap();
    store
        .reset_aca_mirror(org(), "B".into(), shown())
        .await
        .unwrap();
    let pending = store
        .list_aca_mirrors(Some(org()), Some(MirrorState::Pending), page())
        .await
        .unwrap();
    let listed: Vec<_> = pending.items.iter().map(|m| m.iupd.as_str()).collect();
    assert_eq!(listed, ["B", "GONE"]);
    assert!(pending.items.iter().all(|m| m.archived == shown()));
    let second = store
        .list_aca_mirrors(None, None, PageRequest { page: 1, limit: 3 })
        .await
        .unwrap();
    assert_eq!(second.items_found, 4);
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].iupd, "A", "newest change first");
}

pub async fn every_writing_path_records_a_change(store: &dyn Store) {
    store.set_aca_creditors(vec![org()]).await.unwrap();
    let generation = |iupd: &'static str| async move {
        let listed = store.list_aca_mirrors(None, None, page()).await.unwrap();
        listed
            .items
            .iter()
            .find(|m| m.iupd == iupd)
            .map(|m| m.generation)
    };
    let mut expiring = numbered("EXP", 1);
    expiring.switch_to_expired = true;
    expiring.publish(at(2025, 6, 1)).unwrap();
    store.create_position(expiring).await.unwrap();
    assert_eq!(generation("EXP").await, Some(1));
    let imported = store
        .import_positions(vec![numbered("IMP", 2)])
        .await
        .unwrap();
    assert!(imported[0].is_ok());
    assert_eq!(generation("IMP").await, Some(1));
    let all = store.create_positions(vec![numbered("ALL", 3)]).await;
    assert_eq!(all, Ok(Ok(())));
    assert_eq!(generation("ALL").await, Some(1));
    let spontaneous = store
        .create_with_new_iuv(
            org(),
            crate::domain::SegregationCode::parse("01").unwrap(),
            Box::new(|iuv| {
                let mut p = super::sequence::with_iuv(iuv);
                p.iupd = Iupd::parse("SPONT").unwrap();
                p
            }),
        )
        .await;
    assert!(spontaneous.is_ok(), "{spontaneous:?}");
    assert!(generation("SPONT").await.is_some());
    // Time moves it to EXPIRED: the sweeper's write is a change too.
    assert_eq!(store.sweep_statuses(at(2031, 1, 1), 10).await.unwrap(), 1);
    assert_eq!(generation("EXP").await, Some(2));
}
