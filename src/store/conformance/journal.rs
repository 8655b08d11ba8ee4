//! The event journal: a batch appended whole, a creditor's entries listed newest first by each
//! filter and paged, old entries pruned in batches.

use chrono::Duration;

use super::{org, other_org};
use crate::domain::journal::{EventKind, JournalEntry, JournalFilter, Outcome};
use crate::domain::position::tests::at;
use crate::store::{PageRequest, Store};

fn entry(kind: EventKind, minute: i64, outcome: Outcome) -> JournalEntry {
    let mut e = JournalEntry::new(
        kind,
        at(2026, 3, 1) + Duration::minutes(minute),
        outcome,
        minute as u64,
    );
    e.organization = Some(org().to_string());
    e
}

/// A primitive, a delivery attempt and a REST call of the creditor, and one of another.
fn entries() -> Vec<JournalEntry> {
    let mut verify = entry(EventKind::Primitive, 0, Outcome::Ok);
    verify.primitive = Some("paVerifyPaymentNotice".into());
    verify.broker_id = Some("77777777777".into());
    verify.station_id = Some("77777777777_01".into());
    verify.notice_number = Some("311111111112222222".into());
    verify.status = Some(200);
    let mut delivery = entry(EventKind::Delivery, 1, Outcome::Failed);
    delivery.primitive = Some("paSendRTV2".into());
    delivery.station_id = Some("S1".into());
    delivery.notice_number = Some("311111111112222222".into());
    delivery.receipt_id = Some("R-1".into());
    delivery.status = Some(503);
    delivery.error = Some("HTTP_STATUS".into());
    delivery.attempt = Some(1);
    let mut rest = entry(EventKind::Rest, 2, Outcome::Ko);
    rest.key_id = Some("ab00010203ff".into());
    rest.method = Some("DELETE".into());
    rest.route = Some("/organizations/{fiscalCode}/debtpositions/{iupd}".into());
    rest.iupd_digest = Some("d".repeat(64));
    rest.iuv = Some("11111111112222222".into());
    rest.status = Some(404);
    rest.fault_code = Some("PAA_X".into());
    let mut others = entry(EventKind::Rest, 3, Outcome::Ok);
    others.organization = Some(other_org().to_string());
    let mut anonymous = entry(EventKind::Primitive, 4, Outcome::Ko);
    anonymous.organization = None;
    vec![verify, delivery, rest, others, anonymous]
}

async fn list(
    store: &dyn Store,
    filter: JournalFilter,
    page: u32,
    limit: u32,
) -> Vec<JournalEntry> {
    store
        .list_journal(org(), filter, PageRequest { page, limit })
        .await
        .unwrap()
        .items
}

pub async fn entries_are_appended_whole_and_listed_by_each_filter(store: &dyn Store) {
    let all = entries();
    store.append_journal(all.clone()).await.unwrap();
    store.append_journal(Vec::new()).await.unwrap();
    // Newest first, every field read back as written; none of another creditor or of none.
    let listed = store
        .list_journal(
            org(),
            JournalFilter::default(),
            PageRequest { page: 0, limit: 10 },
        )
        .await
        .unwrap();
    assert_eq!(listed.items_found, 3);
    assert_eq!(
        listed.items,
        vec![all[2].clone(), all[1].clone(), all[0].clone()]
    );
    // Paged.
    assert_eq!(
        list(store, JournalFilter::default(), 1, 2).await,
        vec![all[0].clone()]
    );

    let by = |f: fn(&mut JournalFilter)| {
        let mut filter = JournalFilter::default();
        f(&mut filter);
        filter
    };
    let cases: Vec<(JournalFilter, Vec<usize>)> = vec![
        (by(|f| f.kind = Some(EventKind::Delivery)), vec![1]),
        (
            by(|f| f.primitive = Some("paVerifyPaymentNotice".into())),
            vec![0],
        ),
        (
            by(|f| f.notice_number = Some("311111111112222222".into())),
            vec![1, 0],
        ),
        (by(|f| f.receipt_id = Some("R-1".into())), vec![1]),
        (by(|f| f.outcome = Some(Outcome::Ko)), vec![2]),
        (by(|f| f.key_id = Some("ab00010203ff".into())), vec![2]),
        (by(|f| f.iuv = Some("11111111112222222".into())), vec![2]),
        (by(|f| f.iupd_digest = Some("d".repeat(64))), vec![2]),
        (
            by(|f| f.from = Some(at(2026, 3, 1) + Duration::minutes(1))),
            vec![2, 1],
        ),
        (
            by(|f| f.to = Some(at(2026, 3, 1) + Duration::minutes(1))),
            vec![1, 0],
        ),
        (
            by(|f| {
                f.kind = Some(EventKind::Primitive);
                f.outcome = Some(Outcome::Ko);
            }),
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let want: Vec<JournalEntry> = expected.iter().map(|&i| all[i].clone()).collect();
        assert_eq!(list(store, filter.clone(), 0, 10).await, want, "{filter:?}");
    }
    let other = store
        .list_journal(
            other_org(),
            JournalFilter::default(),
            PageRequest { page: 0, limit: 10 },
        )
        .await
        .unwrap();
    assert_eq!(other.items, vec![all[3].clone()]);
}

/// More entries than one statement takes on PostgreSQL (256): every one stored, in order.
pub async fn a_batch_of_several_statements_is_stored_whole(store: &dyn Store) {
    let batch: Vec<JournalEntry> = (0..700)
        .map(|minute| {
            let mut e = entry(EventKind::Primitive, minute, Outcome::Ok);
            e.notice_number = Some(format!("3{minute:017}"));
            e
        })
        .collect();
    store.append_journal(batch.clone()).await.unwrap();
    let page = PageRequest {
        page: 0,
        limit: 100,
    };
    let listed = store
        .list_journal(org(), JournalFilter::default(), page)
        .await
        .unwrap();
    assert_eq!(listed.items_found, 700);
    assert_eq!(listed.items.first(), batch.last());
    let last = store
        .list_journal(
            org(),
            JournalFilter::default(),
            PageRequest {
                page: 6,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(last.items.last(), batch.first());
    assert_eq!(last.items.len(), 100);
}

pub async fn old_entries_are_pruned_in_batches(store: &dyn Store) {
    let batch: Vec<JournalEntry> = (0..7)
        .map(|day| {
            let mut e = entry(EventKind::Rest, day * 24 * 60, Outcome::Ok);
            e.status = Some(200);
            e
        })
        .collect();
    store.append_journal(batch.clone()).await.unwrap();
    // Before the fifth day: four entries, two at a time, the oldest first.
    let cutoff = at(2026, 3, 5);
    assert_eq!(store.prune_journal(cutoff, 2).await.unwrap(), 2);
    let left = list(store, JournalFilter::default(), 0, 10).await;
    assert_eq!(left.len(), 5);
    assert_eq!(left.last(), Some(&batch[2]));
    assert_eq!(store.prune_journal(cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.prune_journal(cutoff, 2).await.unwrap(), 0);
    let left = list(store, JournalFilter::default(), 0, 10).await;
    assert_eq!(
        left,
        vec![batch[6].clone(), batch[5].clone(), batch[4].clone()]
    );
}
