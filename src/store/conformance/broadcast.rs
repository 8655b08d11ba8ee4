//! Broadcast stations kept per creditor, and the deliveries of receipts to them: claimed when
//! due, leased, their attempts recorded, listed and queued again.

use std::time::Duration;

use super::{Subject, org};
use crate::domain::broadcast::{BroadcastStation, DeliveryState, StationUrl};
use crate::domain::position::tests::{at, option, position};
use crate::domain::receipt::ReceiptAccount;
use crate::domain::receipt::ReceiptVersion;
use crate::domain::receipt::tests::transfer;
use crate::domain::{FiscalCodePA, NoticeNumber, Text};
use crate::store::receipt_fixtures::{ORG, new_receipt, new_receipt_of, station, valid};
use crate::store::{Acquisition, AttemptRecord, PageRequest, Store, StoreError};

/// A station of `organization` as an operator configures one.
pub fn configured(organization: &str, id: &str) -> BroadcastStation {
    BroadcastStation {
        organization: FiscalCodePA::parse(organization).unwrap(),
        station_id: Text::new(id).unwrap(),
        broker_id: Text::new("77777777777").unwrap(),
        url: StationUrl::parse("https://creditor.example/rt").unwrap(),
        version: ReceiptVersion::V2,
        timeout: Duration::from_secs(5),
        enabled: true,
    }
}

fn creditor(code: &str) -> FiscalCodePA {
    FiscalCodePA::parse(code).unwrap()
}

/// Puts S1 (created, then put again unchanged) and OFF (disabled) of creditor 88888888888 and
/// NOT_CONCERNED of 99999999999, each as `make` makes a station; returns OFF.
async fn three_stations(
    store: &dyn Store,
    make: fn(&str, &str) -> BroadcastStation,
) -> BroadcastStation {
    assert!(
        store
            .put_broadcast_station(make("88888888888", "S1"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_broadcast_station(make("88888888888", "S1"))
            .await
            .unwrap()
    );
    let mut off = make("88888888888", "OFF");
    off.enabled = false;
    store.put_broadcast_station(off.clone()).await.unwrap();
    store
        .put_broadcast_station(make("99999999999", "NOT_CONCERNED"))
        .await
        .unwrap();
    assert_eq!(store.broadcast_stations(None).await.unwrap().len(), 3);
    off
}

/// Deletes station S1 of 88888888888: once, then NotFound.
async fn delete_s1(store: &dyn Store) {
    let (s1, id) = (creditor("88888888888"), Text::new("S1").unwrap());
    store
        .delete_broadcast_station(s1.clone(), id.clone())
        .await
        .unwrap();
    assert_eq!(
        store.delete_broadcast_station(s1, id).await,
        Err(StoreError::NotFound)
    );
}

pub async fn stations_are_created_replaced_listed_and_deleted(store: &dyn Store) {
    let off = three_stations(store, configured).await;

    // Ordered by creditor, then station id bytewise (upper case before lower).
    let mut replaced = configured("88888888888", "S1");
    replaced.version = ReceiptVersion::V1;
    replaced.timeout = Duration::from_millis(1500);
    replaced.url = StationUrl::parse("https://creditor.example/v1").unwrap();
    assert!(!store.put_broadcast_station(replaced.clone()).await.unwrap());
    let lower = configured("88888888888", "a");
    store.put_broadcast_station(lower.clone()).await.unwrap();
    assert_eq!(
        store
            .broadcast_stations(Some(creditor("88888888888")))
            .await
            .unwrap(),
        vec![off, replaced, lower]
    );
    let all = store.broadcast_stations(None).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.station_id.as_str()).collect();
    assert_eq!(ids, ["OFF", "S1", "a", "NOT_CONCERNED"]);
    assert!(
        store
            .broadcast_stations(Some(creditor("11111111111")))
            .await
            .unwrap()
            .is_empty()
    );

    delete_s1(store).await;
    assert_eq!(store.broadcast_stations(None).await.unwrap().len(), 3);
}

pub async fn deliveries_are_created_claimed_recorded_and_requeued(store: &dyn Store) {
    let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
    let nav = p.options[0].nav.clone();
    store.create_position(p).await.unwrap();
    three_stations(store, station).await;

    let a = store
        .acquire_receipt(new_receipt("d1", &nav, &[ORG, "88888888888"]))
        .await
        .unwrap();
    let Acquisition::Stored { deliveries, .. } = a else {
        panic!()
    };
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].station.station_id.as_str(), "S1");
    let id = deliveries[0].id;

    let t0 = at(2029, 6, 1);
    let lease = t0 + chrono::Duration::seconds(60);
    // Not due before its first retry time.
    assert!(
        store
            .claim_deliveries(t0, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = t0 + chrono::Duration::seconds(10);
    let claimed = store.claim_deliveries(due, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // With the request the delivery was created with: a retry sends the first attempt's bytes.
    assert_eq!(claimed[0].request, deliveries[0].request);
    let request = String::from_utf8(claimed[0].request.clone()).unwrap();
    assert!(request.contains("<idStation>S1</idStation><receipt><receiptId>d1</receiptId>"));
    assert_eq!(claimed[0].station, station("88888888888", "S1"));
    // Leased: a second claim finds nothing.
    assert!(
        store
            .claim_deliveries(due, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let retry = AttemptRecord::Retry {
        error: "HTTP 500".into(),
        next_attempt_at: due,
    };
    store.record_attempts(vec![(id, retry)], due).await.unwrap();
    store
        .record_attempts(vec![(id, AttemptRecord::Delivered)], due)
        .await
        .unwrap();
    // A late result after success changes nothing.
    let late = AttemptRecord::GiveUp {
        error: "late".into(),
    };
    store.record_attempts(vec![(id, late)], due).await.unwrap();
    let all = PageRequest { page: 0, limit: 10 };
    let s1 = FiscalCodePA::parse("88888888888").unwrap();
    let listed = store
        .list_deliveries(Some(s1.clone()), None, all)
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let d = &listed.items[0];
    assert_eq!(
        (d.state, d.attempts, d.receipt_id.as_str()),
        (DeliveryState::Delivered, 2, "d1")
    );
    assert_eq!(
        (d.notice_organization.as_str(), d.iuv.as_str()),
        (ORG, &nav.as_str()[1..])
    );
    assert_eq!((d.delivered_at, d.next_attempt_at), (Some(due), None));
    assert_eq!(d.created_at, t0);
    assert!(
        store
            .list_deliveries(Some(org()), None, all)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let again = store.redeliver(Some(s1.clone()), id, due).await.unwrap();
    assert_eq!(
        (again.state, again.attempts, again.next_attempt_at),
        (DeliveryState::Pending, 0, Some(due))
    );
    assert!(matches!(
        store.redeliver(Some(s1.clone()), id, due).await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(
        store.redeliver(Some(org()), id, due).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.redeliver(None, id + 100, due).await,
        Err(StoreError::NotFound)
    );
    delete_s1(store).await;
}

pub async fn a_receipt_a_station_cannot_take_is_undeliverable_and_never_requeued(
    store: &dyn Store,
) {
    let s1 = creditor("88888888888");
    let mut v1 = station("88888888888", "V1");
    v1.version = ReceiptVersion::V1;
    store.put_broadcast_station(v1).await.unwrap();
    store
        .put_broadcast_station(station("88888888888", "S1"))
        .await
        .unwrap();
    // A stamp bought with the payment: paSendRT (V1) has no place for it.
    let iban = ReceiptAccount::Iban(Text::new("IT60X0542811101000000123456").unwrap());
    let stamp = ReceiptAccount::MbdAttachment("AA==".into());
    let transfers = vec![transfer(1, ORG, iban), transfer(2, "88888888888", stamp)];
    let nav = NoticeNumber::parse("301999999999999999").unwrap();
    let a = store
        .acquire_receipt(new_receipt_of("m1", &nav, transfers, 200))
        .await
        .unwrap();
    let Acquisition::Stored { deliveries, .. } = a else {
        panic!("{a:?}")
    };
    // Only the one to attempt is returned.
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].station.station_id.as_str(), "S1");
    let all = PageRequest { page: 0, limit: 10 };
    let listed = store.list_deliveries(Some(s1), None, all).await.unwrap();
    assert_eq!(listed.items.len(), 2);
    let undeliverable = listed
        .items
        .iter()
        .find(|d| d.station.station_id.as_str() == "V1")
        .unwrap();
    assert_eq!(undeliverable.state, DeliveryState::Undeliverable);
    assert!(undeliverable.last_error.is_some());
    assert!(matches!(
        store
            .redeliver(None, undeliverable.id, at(2029, 6, 2))
            .await,
        Err(StoreError::Refused(_))
    ));
    // Never claimed.
    let later = at(2029, 6, 2);
    let claimed = store.claim_deliveries(later, later, 10).await.unwrap();
    let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
    assert_eq!(ids, [deliveries[0].id]);
}

pub async fn results_recorded_together_are_each_stored_before_their_caller_hears(
    subject: &Subject,
) {
    let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
    let store = subject.shared();
    store.create_position(p).await.unwrap();
    store
        .put_broadcast_station(station("88888888888", "S1"))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..40 {
        let nav = NoticeNumber::parse(&format!("3111111111222222{n:02}")).unwrap();
        let a = store
            .acquire_receipt(new_receipt(&format!("r{n}"), &nav, &[ORG, "88888888888"]))
            .await
            .unwrap();
        let Acquisition::Stored { deliveries, .. } = a else {
            panic!()
        };
        ids.push(deliveries[0].id);
    }
    let recorder =
        crate::broadcast::recorder::Recorder::new(store.clone(), crate::clock::Clock::system());
    let mut recording = tokio::task::JoinSet::new();
    for (n, id) in ids.iter().enumerate() {
        let (recorder, id) = (recorder.clone(), *id);
        let record = if n % 2 == 0 {
            AttemptRecord::Delivered
        } else {
            AttemptRecord::GiveUp {
                error: format!("HTTP 4{n:02}"),
            }
        };
        recording.spawn(async move { recorder.record(id, record).await });
    }
    while let Some(stored) = recording.join_next().await {
        stored.unwrap().unwrap();
    }
    let all = PageRequest {
        page: 0,
        limit: 100,
    };
    let listed = store.list_deliveries(None, None, all).await.unwrap();
    assert_eq!(listed.items.len(), 40);
    for d in listed.items {
        let n = ids.iter().position(|id| *id == d.id).unwrap();
        assert_eq!(d.attempts, 1, "{d:?}");
        if n % 2 == 0 {
            assert_eq!(d.state, DeliveryState::Delivered);
        } else {
            assert_eq!(d.state, DeliveryState::Failed);
            assert_eq!(d.last_error, Some(format!("HTTP 4{n:02}")));
        }
    }
}

pub async fn the_backlog_counts_pending_deliveries_per_station_with_the_oldest(store: &dyn Store) {
    assert!(store.station_backlog().await.unwrap().is_empty());
    let p = valid(position(vec![
        option(1, 300, at(2030, 1, 1), false),
        option(2, 300, at(2030, 1, 1), false),
    ]));
    let navs: Vec<_> = p.options.iter().map(|o| o.nav.clone()).collect();
    store.create_position(p).await.unwrap();
    for id in ["S1", "S2"] {
        store
            .put_broadcast_station(station("88888888888", id))
            .await
            .unwrap();
    }
    let (first, second) = (at(2029, 6, 1), at(2029, 6, 2));
    let mut deliveries = Vec::new();
    for (id, nav, received_at) in [("b1", &navs[0], first), ("b2", &navs[1], second)] {
        let mut receipt = new_receipt(id, nav, &[ORG, "88888888888"]);
        receipt.received_at = received_at;
        let Acquisition::Stored { deliveries: d, .. } =
            store.acquire_receipt(receipt).await.unwrap()
        else {
            panic!("stored")
        };
        deliveries.extend(d);
    }
    assert_eq!(deliveries.len(), 4);
    // S2's first delivery done: S2 has the second receipt's left, S1 both.
    let done = deliveries
        .iter()
        .find(|d| {
            let request = String::from_utf8_lossy(&d.request);
            d.station.station_id.as_str() == "S2" && request.contains("<receiptId>b1</receiptId>")
        })
        .expect("S2's delivery of b1");
    store
        .record_attempts(vec![(done.id, AttemptRecord::Delivered)], second)
        .await
        .unwrap();
    let backlog = store.station_backlog().await.unwrap();
    let of = |id: &str| {
        backlog
            .iter()
            .find(|b| b.station_id == id)
            .map(|b| (b.organization.as_str(), b.pending, b.oldest))
    };
    assert_eq!(backlog.len(), 2, "{backlog:?}");
    assert_eq!(of("S1"), Some(("88888888888", 2, Some(first))));
    assert_eq!(of("S2"), Some(("88888888888", 1, Some(second))));
}
