//! Receipts acquired: applied to their option once, kept as duplicates, conflicts or flagged,
//! read back as documents and listed by each filter.

use super::{Subject, org};
use crate::domain::SegregationCode;
use crate::domain::position::tests::{at, option, position, transfer};
use crate::domain::position::{DebtPosition, PositionStatus};
use crate::domain::receipt::{ReceiptStatus, Settlement};
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::store::receipt_fixtures::{ORG, new_receipt, new_receipt_paying, station, valid};
use crate::store::{
    Acquisition, DeliveryTarget, NewReceipt, PageRequest, PositionKey, ReceiptFilter, Store,
};

pub fn status(a: &Acquisition) -> ReceiptStatus {
    match a {
        Acquisition::Stored { settlement, .. } => settlement.status,
        Acquisition::AlreadyStored(s) => *s,
        Acquisition::Conflict { .. } => ReceiptStatus::Conflict,
    }
}

/// A receipt for notice `nav` (of no position: FLAGGED), received `second`s after the
/// first, paid at `paid`.
pub fn flagged(
    id: &str,
    nav: &str,
    second: i64,
    paid: Option<chrono::NaiveDateTime>,
    concerned: &[&str],
) -> NewReceipt {
    let nav = NoticeNumber::parse(nav).unwrap();
    let mut r = new_receipt(id, &nav, concerned);
    r.received_at += chrono::Duration::seconds(second);
    r.request.receipt.payment_date_time = paid.map(|time| crate::domain::receipt::IsoDateTime {
        lexical: time.format("%Y-%m-%dT%H:%M:%S").to_string(),
        time,
        zoned: false,
    });
    r
}

/// What a receipt stored by `a` settled and the deliveries it created.
fn stored(a: &Acquisition) -> (&Settlement, &[DeliveryTarget]) {
    match a {
        Acquisition::Stored {
            settlement,
            deliveries,
        } => (settlement, deliveries),
        _ => panic!("not stored: {a:?}"),
    }
}

/// A position of one option of 3.00, created: its notice.
async fn one_option(store: &dyn Store) -> NoticeNumber {
    let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
    let nav = p.options[0].nav.clone();
    store.create_position(p).await.unwrap();
    nav
}

/// A position of two installments of 3.00, created: their notices.
async fn two_installments(store: &dyn Store) -> (NoticeNumber, NoticeNumber) {
    let p = valid(position(vec![
        option(1, 300, at(2030, 1, 1), true),
        option(2, 300, at(2030, 1, 1), true),
    ]));
    let navs = (p.options[0].nav.clone(), p.options[1].nav.clone());
    store.create_position(p).await.unwrap();
    navs
}

async fn acquire(store: &dyn Store, receipt: NewReceipt) -> Acquisition {
    store.acquire_receipt(receipt).await.unwrap()
}

/// The creditor's position of notice `nav`.
async fn position_of(store: &dyn Store, nav: &NoticeNumber) -> DebtPosition {
    store
        .get_position(org(), PositionKey::Notice(nav.clone()))
        .await
        .unwrap()
        .unwrap()
}

pub async fn applied_once_then_idempotent_then_duplicate_then_conflict(store: &dyn Store) {
    let nav = one_option(store).await;
    let first = acquire(store, new_receipt("t1", &nav, &[ORG])).await;
    assert_eq!(status(&first), ReceiptStatus::Applied);
    let paid = position_of(store, &nav).await;
    assert_eq!(paid.status, PositionStatus::Paid);
    assert_eq!(paid.options[0].payment.as_ref().unwrap().receipt_id, "t1");

    let again = acquire(store, new_receipt("t1", &nav, &[ORG])).await;
    assert_eq!(again, Acquisition::AlreadyStored(ReceiptStatus::Applied));
    let dup = acquire(store, new_receipt("t2", &nav, &[ORG])).await;
    assert_eq!(status(&dup), ReceiptStatus::Duplicate);
    assert_eq!(position_of(store, &nav).await, paid);

    let iuv = nav.as_str()[1..].to_owned();
    let doc = store
        .receipt_document(org(), iuv.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc, b"<doc>t1</doc>");
    let all = PageRequest { page: 0, limit: 10 };
    let listed = store
        .list_receipts(org(), ReceiptFilter::default(), all)
        .await
        .unwrap();
    assert_eq!(listed.items_found, 2);
    let only_dup = ReceiptFilter {
        status: Some(ReceiptStatus::Duplicate),
        ..Default::default()
    };
    let listed = store.list_receipts(org(), only_dup, all).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].receipt_id, "t2");
    let other = ReceiptFilter {
        debtor: Some("NOBODY".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_receipts(org(), other, all)
            .await
            .unwrap()
            .items_found,
        0
    );

    let other_content = acquire(store, new_receipt_paying("t1", &nav, &[ORG], 301)).await;
    let Acquisition::Conflict { earlier } = other_content else {
        panic!("{other_content:?}")
    };
    assert_eq!(earlier.amount, "3.00");
}

/// A plan of two installments beside a single option, each option with its transfers: paying
/// the installments settles on the whole position (siblings included) and leaves every
/// option's transfers as they were; the single option is then refused.
pub async fn installments_paid_keep_every_option_and_its_transfers(store: &dyn Store) {
    let mut p = valid(position(vec![
        option(11, 500, at(2030, 1, 1), false),
        option(12, 200, at(2030, 1, 1), true),
        option(13, 300, at(2030, 2, 1), true),
    ]));
    p.options[1].transfers = vec![transfer(1, 150), transfer(2, 50)];
    let navs: Vec<NoticeNumber> = p.options.iter().map(|o| o.nav.clone()).collect();
    store.create_position(p).await.unwrap();
    let created = position_of(store, &navs[1]).await;

    let first = acquire(store, new_receipt_paying("i1", &navs[1], &[ORG], 200)).await;
    assert_eq!(status(&first), ReceiptStatus::Applied);
    let partly = position_of(store, &navs[1]).await;
    assert_eq!(partly.status, PositionStatus::PartiallyPaid);
    let single = acquire(store, new_receipt_paying("s1", &navs[0], &[ORG], 500)).await;
    assert_eq!(status(&single), ReceiptStatus::Flagged);
    let second = acquire(store, new_receipt_paying("i2", &navs[2], &[ORG], 300)).await;
    assert_eq!(status(&second), ReceiptStatus::Applied);

    let paid = position_of(store, &navs[1]).await;
    assert_eq!(paid.status, PositionStatus::Paid);
    assert_eq!(paid.options.len(), 3);
    for (now, before) in paid.options.iter().zip(&created.options) {
        assert_eq!(now.transfers, before.transfers, "option {}", before.nav);
    }
    assert!(paid.options[0].is_unpaid());
    let receipts: Vec<_> = paid.options[1..]
        .iter()
        .map(|o| o.payment.as_ref().unwrap().receipt_id.as_str())
        .collect();
    assert_eq!(receipts, ["i1", "i2"]);
}

pub async fn a_receipt_is_its_creditor_notice_and_id_and_its_content(store: &dyn Store) {
    let (first, second) = two_installments(store).await;
    let paid = acquire(store, new_receipt("same", &first, &[ORG])).await;
    assert_eq!(status(&paid), ReceiptStatus::Applied);
    // The same id on another notice is another receipt.
    let other = acquire(store, new_receipt("same", &second, &[ORG])).await;
    assert_eq!(status(&other), ReceiptStatus::Applied);
    // Same identity, same content, another serialisation: nothing changes.
    let mut again = new_receipt("same", &first, &[ORG]);
    again.document = b"<other-bytes/>".to_vec();
    assert_eq!(
        store.acquire_receipt(again).await.unwrap(),
        Acquisition::AlreadyStored(ReceiptStatus::Applied)
    );
    // Same identity, other content: kept beside the first as CONFLICT.
    let changed = || new_receipt_paying("same", &first, &[ORG], 100);
    let Acquisition::Conflict { earlier } = store.acquire_receipt(changed()).await.unwrap() else {
        panic!("a conflict")
    };
    assert_eq!(earlier.amount, "3.00");
    assert_eq!(
        store.acquire_receipt(changed()).await.unwrap(),
        Acquisition::AlreadyStored(ReceiptStatus::Conflict)
    );
    let all = PageRequest { page: 0, limit: 10 };
    let conflicts = ReceiptFilter {
        status: Some(ReceiptStatus::Conflict),
        ..Default::default()
    };
    let listed = store.list_receipts(org(), conflicts, all).await.unwrap();
    assert_eq!(listed.items_found, 1);
    assert_eq!(listed.items[0].amount.get(), 100);
    let everything = store
        .list_receipts(org(), ReceiptFilter::default(), all)
        .await
        .unwrap();
    assert_eq!(everything.items_found, 3);
    // The position kept the first receipt's payment.
    let position = position_of(store, &first).await;
    assert_eq!(
        position.options[0].payment.as_ref().unwrap().receipt_id,
        "same"
    );
}

pub async fn a_receipt_for_an_unknown_notice_is_stored_flagged_and_forwarded(store: &dyn Store) {
    let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
    store.create_position(p).await.unwrap();
    store
        .put_broadcast_station(station("88888888888", "S1"))
        .await
        .unwrap();
    let stranger = NoticeNumber::parse("301999999999999999").unwrap();
    let a = acquire(store, new_receipt("x", &stranger, &[ORG, "88888888888"])).await;
    let (settlement, deliveries) = stored(&a);
    assert_eq!(settlement.status, ReceiptStatus::Flagged);
    assert_eq!(settlement.flag.as_ref().unwrap().code, "UNKNOWN_NOTICE");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].station.station_id.as_str(), "S1");
    assert!(!deliveries[0].request.is_empty());
    let doc = store
        .receipt_document(org(), "01999999999999999".into())
        .await
        .unwrap();
    assert!(doc.is_some());
}

pub async fn concurrent_receipts_for_one_option_apply_exactly_once(subject: &Subject) {
    let nav = one_option(&**subject).await;
    let got = at_once(subject, 8, |i| new_receipt(&format!("c{i}"), &nav, &[ORG])).await;
    let mut applied = 0;
    for a in &got {
        match status(a) {
            ReceiptStatus::Applied => applied += 1,
            ReceiptStatus::Duplicate => {}
            s => panic!("{s:?}"),
        }
    }
    assert_eq!(applied, 1);
}

/// Acquisitions of `receipt()` from `n` tasks at once, each with the store to itself.
async fn at_once(
    subject: &Subject,
    n: usize,
    receipt: impl Fn(usize) -> NewReceipt,
) -> Vec<Acquisition> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = subject.shared();
            let r = receipt(i);
            tokio::spawn(async move { store.acquire_receipt(r).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    got
}

pub async fn copies_of_one_receipt_sent_at_once_store_it_once_with_its_deliveries(
    subject: &Subject,
) {
    let nav = one_option(&**subject).await;
    for (creditor, id) in [("88888888888", "S3"), (ORG, "S1"), ("88888888888", "S2")] {
        subject
            .put_broadcast_station(station(creditor, id))
            .await
            .unwrap();
    }
    let got = at_once(subject, 8, |_| {
        new_receipt("same", &nav, &[ORG, "88888888888"])
    })
    .await;
    let stored: Vec<_> = got
        .iter()
        .filter_map(|a| match a {
            Acquisition::Stored {
                settlement,
                deliveries,
            } => Some((settlement, deliveries)),
            _ => None,
        })
        .collect();
    assert_eq!(stored.len(), 1, "{got:?}");
    let (settlement, deliveries) = stored[0];
    assert_eq!(settlement.status, ReceiptStatus::Applied);
    // The notice's creditor's stations first, then the beneficiary's, each by station id.
    let to: Vec<_> = deliveries
        .iter()
        .map(|d| {
            (
                d.station.organization.as_str(),
                d.station.station_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        to,
        [(ORG, "S1"), ("88888888888", "S2"), ("88888888888", "S3")]
    );
    assert!(deliveries.iter().all(|d| !d.request.is_empty()));
    let repeats = got
        .iter()
        .filter(|a| **a == Acquisition::AlreadyStored(ReceiptStatus::Applied))
        .count();
    assert_eq!(repeats, 7, "{got:?}");
    let all = PageRequest { page: 0, limit: 10 };
    let created = subject.list_deliveries(None, None, all).await.unwrap();
    assert_eq!(created.items_found, 3);
    let mut ids: Vec<_> = created.items.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    let mut returned: Vec<_> = deliveries.iter().map(|d| d.id).collect();
    returned.sort_unstable();
    assert_eq!(ids, returned);
    for creditor in [org(), FiscalCodePA::parse("88888888888").unwrap()] {
        let listed = subject
            .list_receipts(creditor, ReceiptFilter::default(), all)
            .await
            .unwrap();
        assert_eq!(listed.items_found, 1);
    }
    let position = position_of(&**subject, &nav).await;
    assert_eq!(position.status, PositionStatus::Paid);
}

pub async fn receipts_for_one_notice_sent_at_once_apply_one_and_forward_only_it(subject: &Subject) {
    let (first, second) = two_installments(&**subject).await;
    subject
        .put_broadcast_station(station(ORG, "S1"))
        .await
        .unwrap();
    // Receipts for both installments at once: each installment is paid by one of them.
    let got = at_once(subject, 8, |i| {
        let nav = if i % 2 == 0 { &first } else { &second };
        new_receipt(&format!("r{i}"), nav, &[ORG])
    })
    .await;
    let mut forwarded = 0;
    for a in &got {
        let (settlement, deliveries) = stored(a);
        match settlement.status {
            ReceiptStatus::Applied => {
                assert_eq!(deliveries.len(), 1);
                forwarded += 1;
            }
            ReceiptStatus::Duplicate => assert!(deliveries.is_empty()),
            s => panic!("{s:?}"),
        }
    }
    assert_eq!(forwarded, 2, "{got:?}");
    let all = PageRequest { page: 0, limit: 20 };
    let created = subject.list_deliveries(None, None, all).await.unwrap();
    assert_eq!(created.items_found, 2);
    let position = position_of(&**subject, &first).await;
    assert_eq!(position.status, PositionStatus::Paid);
    assert!(position.options.iter().all(|o| o.payment.is_some()));
}

pub async fn receipts_are_listed_newest_first_by_each_filter_and_paged(store: &dyn Store) {
    let receipts = [
        flagged(
            "r1",
            "301000000000000001",
            0,
            Some(at(2030, 1, 1)),
            &[ORG, "88888888888"],
        ),
        flagged("r2", "302000000000000002", 1, Some(at(2030, 2, 1)), &[ORG]),
        flagged("r3", "303000000000000003", 2, None, &[ORG]),
    ];
    for r in receipts {
        store.acquire_receipt(r).await.unwrap();
    }
    let all = PageRequest { page: 0, limit: 10 };
    let ids = |filter: ReceiptFilter| {
        let store = &store;
        async move {
            let listed = store.list_receipts(org(), filter, all).await.unwrap();
            assert_eq!(listed.items_found as usize, listed.items.len());
            listed
                .items
                .into_iter()
                .map(|r| r.receipt_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(ReceiptFilter::default()).await, ["r3", "r2", "r1"]);
    let second = store
        .list_receipts(
            org(),
            ReceiptFilter::default(),
            PageRequest { page: 1, limit: 2 },
        )
        .await
        .unwrap();
    assert_eq!((second.items_found, second.items.len()), (3, 1));
    assert_eq!(second.items[0].receipt_id, "r1");
    let summary = &second.items[0];
    assert_eq!(summary.iuv, "01000000000000001");
    assert_eq!(summary.notice_number, "301000000000000001");
    assert_eq!(summary.status, ReceiptStatus::Flagged);
    assert_eq!(
        summary.payment_date_time.as_deref(),
        Some("2030-01-01T12:00:00")
    );
    assert_eq!(summary.received_at, at(2029, 6, 1));

    let iuv = |prefix: &str| ReceiptFilter {
        iuv_prefix: Some(prefix.into()),
        ..Default::default()
    };
    let debtor_or_iuv = |prefix: &str| ReceiptFilter {
        debtor_or_iuv_prefix: Some(prefix.into()),
        ..Default::default()
    };
    assert_eq!(ids(iuv("02")).await, ["r2"]);
    assert_eq!(ids(iuv("0300")).await, ["r3"]);
    assert_eq!(ids(debtor_or_iuv("RSS")).await, ["r3", "r2", "r1"]);
    assert!(ids(debtor_or_iuv("rss")).await.is_empty());
    assert_eq!(ids(debtor_or_iuv("01")).await, ["r1"]);
    assert!(ids(debtor_or_iuv("%")).await.is_empty());
    let codes = |c: &[&str]| {
        Some(
            c.iter()
                .map(|c| SegregationCode::parse(c).unwrap())
                .collect(),
        )
    };
    let mut by_codes = ReceiptFilter {
        segregation_codes: codes(&["01", "03"]),
        ..Default::default()
    };
    assert_eq!(ids(by_codes.clone()).await, ["r3", "r1"]);
    by_codes.segregation_codes = codes(&[]);
    assert!(ids(by_codes).await.is_empty());
    let paid_from = ReceiptFilter {
        paid_from: Some(at(2030, 1, 15)),
        ..Default::default()
    };
    assert_eq!(ids(paid_from).await, ["r2"]);
    let paid_to = ReceiptFilter {
        paid_to: Some(at(2030, 1, 1)),
        ..Default::default()
    };
    assert_eq!(ids(paid_to).await, ["r1"]);
    let statuses = |s: Vec<ReceiptStatus>| ReceiptFilter {
        statuses: s,
        ..Default::default()
    };
    assert!(
        ids(statuses(vec![
            ReceiptStatus::Applied,
            ReceiptStatus::Duplicate
        ]))
        .await
        .is_empty()
    );
    assert_eq!(ids(statuses(vec![ReceiptStatus::Flagged])).await.len(), 3);
    let debtor = ReceiptFilter {
        debtor: Some("RSSMRA80A01H501U".into()),
        iuv_prefix: Some("03".into()),
        ..Default::default()
    };
    assert_eq!(ids(debtor).await, ["r3"]);

    // The beneficiary sees the receipt of its transfer, and only it.
    let beneficiary = FiscalCodePA::parse("88888888888").unwrap();
    let listed = store
        .list_receipts(beneficiary.clone(), ReceiptFilter::default(), all)
        .await
        .unwrap();
    assert_eq!(listed.items_found, 1);
    assert_eq!(listed.items[0].receipt_id, "r1");
    let doc = store
        .receipt_document(beneficiary.clone(), "01000000000000001".into())
        .await
        .unwrap();
    assert_eq!(doc.as_deref(), Some(&b"<doc>r1</doc>"[..]));
    let not_its = store
        .receipt_document(beneficiary, "02000000000000002".into())
        .await
        .unwrap();
    assert_eq!(not_its, None);
}

/// Receipt recovery: a copy recovered from the platform and the Node's copy of the same
/// payment are one receipt whichever comes first, though their contents differ; a copy of
/// another payment is a conflict. Where a receipt came from, and the unbound station it was
/// addressed to, are listed with it.
pub async fn a_recovered_receipt_and_the_nodes_copy_of_one_payment_are_one_receipt(
    store: &dyn Store,
) {
    use crate::domain::receipt::ReceiptOrigin;
    use crate::domain::text::Text;
    let (first, second) = two_installments(store).await;
    let recovered = |id: &str, nav: &NoticeNumber, cents: i64| {
        let mut r = new_receipt_paying(id, nav, &[ORG], cents);
        r.origin = ReceiptOrigin::Platform;
        r
    };
    // The Node's copy, with a payment note the platform does not keep.
    let from_node = |id: &str, nav: &NoticeNumber| {
        let mut r = new_receipt(id, nav, &[ORG]);
        r.request.receipt.payment_note = Some(Text::new("nota").unwrap());
        r.digest = r.request.receipt.content_digest();
        r.unbound_station = Some("77777777777_02".into());
        r
    };
    let a = acquire(store, recovered("r1", &first, 300)).await;
    assert_eq!(status(&a), ReceiptStatus::Applied);
    let again = acquire(store, from_node("r1", &first)).await;
    assert_eq!(again, Acquisition::AlreadyStored(ReceiptStatus::Applied));
    let b = acquire(store, from_node("r2", &second)).await;
    assert_eq!(status(&b), ReceiptStatus::Applied);
    let again = acquire(store, recovered("r2", &second, 300)).await;
    assert_eq!(again, Acquisition::AlreadyStored(ReceiptStatus::Applied));
    let other = acquire(store, recovered("r2", &second, 250)).await;
    assert!(matches!(other, Acquisition::Conflict { .. }), "{other:?}");
    // Two Node copies that differ are still a conflict, as before.
    let mut changed = from_node("r2", &second);
    changed.request.receipt.payment_note = Some(Text::new("altra").unwrap());
    changed.digest = changed.request.receipt.content_digest();
    let conflict = store.acquire_receipt(changed).await.unwrap();
    assert!(
        matches!(conflict, Acquisition::Conflict { .. }),
        "{conflict:?}"
    );

    let all = PageRequest { page: 0, limit: 10 };
    let listed = store
        .list_receipts(org(), ReceiptFilter::default(), all)
        .await
        .unwrap();
    let seen: Vec<_> = listed
        .items
        .iter()
        .map(|r| {
            (
                r.receipt_id.as_str(),
                r.status,
                r.origin,
                r.unbound_station.as_deref(),
            )
        })
        .collect();
    let unbound = Some("77777777777_02");
    assert_eq!(
        seen,
        [
            ("r2", ReceiptStatus::Conflict, ReceiptOrigin::Node, unbound),
            ("r2", ReceiptStatus::Conflict, ReceiptOrigin::Platform, None),
            ("r2", ReceiptStatus::Applied, ReceiptOrigin::Node, unbound),
            ("r1", ReceiptStatus::Applied, ReceiptOrigin::Platform, None),
        ]
    );
}
