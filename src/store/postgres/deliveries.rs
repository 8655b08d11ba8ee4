//! The delivery outbox in PostgreSQL: deliveries created with their receipt and the request
//! each sends, claimed by the retry workers of every instance, updated after each attempt,
//! listed and re-queued. A claim is a lease written in the row (`next_attempt_at` pushed to its
//! end), taken under row locks that other claims skip: two instances never take the same
//! delivery, and the deliveries of an instance that stopped are due again when its lease ends.

use chrono::NaiveDateTime;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::filter::Where;
use super::pipeline::{Pending, in_order};
use super::positions::bound;
use super::statements::Statements;
use super::uploads::count;
use super::{PgStore, db_error};
use crate::domain::FiscalCodePA;
use crate::domain::broadcast::DeliveryState;
use crate::domain::position::Conflict;
use crate::store::columns::*;
use crate::store::{
    AttemptRecord, DeliveredReceipt, Delivery, DeliveryTarget, DeliveryWithoutRequest, NewDelivery,
    Page, PageRequest, StationBacklog, StoreError,
};

/// Creates a delivery with its request, when it has one; its row id comes back.
const INSERT_DELIVERY: &str = "WITH d AS (
        INSERT INTO delivery (organization, station_id, broker_id, url, primitive_version,
            timeout_ms, receipt, state, next_attempt_at, last_error, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
        RETURNING id),
    r AS (INSERT INTO delivery_request (delivery, request)
          SELECT id, $12 FROM d WHERE $12::bytea IS NOT NULL)
    SELECT id FROM d";

/// Creates the deliveries with their requests: PENDING (first retry at `first_retry_at`), or
/// UNDELIVERABLE when there is no request. One statement each, all sent together. Returns the
/// pending ones, to attempt now.
pub(super) async fn insert_deliveries(
    tx: &Transaction<'_>,
    receipt_row: i64,
    receipt: &DeliveredReceipt,
    deliveries: Vec<NewDelivery<'_>>,
    now: NaiveDateTime,
) -> Result<Vec<DeliveryTarget>, StoreError> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let insert = tx.prepare_cached(INSERT_DELIVERY).await.map_err(db_error)?;
    let ids = {
        let values: Vec<_> = (deliveries.iter())
            .map(|d| new_delivery_values(receipt_row, d, now))
            .collect();
        let requests: Vec<Option<&[u8]>> = (deliveries.iter())
            .map(|d| d.request.as_deref().ok())
            .collect();
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = (values.iter().zip(&requests))
            .map(|(values, request)| {
                let mut params = bound(values);
                params.push(request);
                params
            })
            .collect();
        let statements: Vec<Pending<'_>> = (params.iter())
            .map(|params| Box::pin(tx.query(&insert, params)) as Pending<'_>)
            .collect();
        let answers = in_order(statements).await.map_err(db_error)?;
        answers
            .iter()
            .map(|rows| match rows.first() {
                Some(row) => row.try_get::<_, i64>(0).map_err(db_error),
                None => Err(StoreError::Unavailable("a delivery was not created".into())),
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok((deliveries.into_iter().zip(ids))
        .filter_map(|(delivery, id)| delivery.into_target(id, receipt))
        .collect())
}

/// Stores the request of delivery `id`; one it already has is kept.
async fn insert_request(
    client: &impl GenericClient,
    id: i64,
    request: &[u8],
) -> Result<(), StoreError> {
    client
        .exec(
            "INSERT INTO delivery_request (delivery, request) VALUES ($1, $2)
             ON CONFLICT (delivery) DO NOTHING",
            &[&id, &request],
        )
        .await?;
    Ok(())
}

/// Records one attempt's result. Only a PENDING delivery takes a result: an attempt that ends
/// after an operator acted, or after another attempt already succeeded, changes nothing. The
/// update waits for any other writer of the row and tests the state it committed.
async fn record(
    client: &impl GenericClient,
    id: i64,
    record: &AttemptRecord,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let columns = attempt_columns(record, now);
    client
        .exec(
            "UPDATE delivery SET state = $1, next_attempt_at = $2, last_error = $3,
                fault_code = $4, delivered_at = $5, attempts = attempts + 1, updated_at = $6
             WHERE id = $7 AND state = 'PENDING'",
            &[
                &columns.state.as_str(),
                &columns.next_attempt_at,
                &columns.last_error,
                &columns.fault_code,
                &columns.delivered_at,
                &millis(now),
                &id,
            ],
        )
        .await?;
    Ok(())
}

/// The delivery columns read back, station columns in `STATION_COLUMNS` order from index 1.
const DELIVERY_COLUMNS: &str = "d.id, d.organization, d.station_id, d.broker_id, d.url, \
    d.primitive_version, d.timeout_ms, true, d.attempts";

/// A delivery from [`DELIVERY_COLUMNS`], its request, its receipt's id and notice number.
fn target(r: &Row) -> Result<DeliveryTarget, StoreError> {
    Ok(DeliveryTarget {
        id: r.try_get(0).map_err(db_error)?,
        station: station_at(r, 1)?,
        attempts: count(r, 8, "delivery.attempts")?,
        request: r.try_get(9).map_err(db_error)?,
        receipt: DeliveredReceipt {
            receipt_id: r.try_get(10).map_err(db_error)?,
            notice_number: r.try_get(11).map_err(db_error)?,
        },
    })
}

/// Delivery `id`, of the creditor's stations when one is given; locked until the end of the
/// transaction when `lock`.
async fn one(
    client: &impl GenericClient,
    organization: Option<&FiscalCodePA>,
    id: i64,
    lock: bool,
) -> Result<Delivery, StoreError> {
    let mut filters = Where::default();
    filters
        .equals("d.id", Some(id))
        .equals("d.organization", organization.map(FiscalCodePA::as_str));
    let lock = if lock { "FOR UPDATE OF d" } else { "" };
    let sql = format!(
        "SELECT {LISTED_DELIVERY_COLUMNS} FROM delivery d JOIN receipt r ON r.id = d.receipt
         WHERE {} {lock}",
        filters.sql()
    );
    match client.opt_row(&sql, &filters.params()).await? {
        Some(r) => listed_delivery(&r),
        None => Err(StoreError::NotFound),
    }
}

impl PgStore {
    /// Takes up to `limit` due deliveries that have their request, earliest due first, and
    /// pushes their next attempt to `lease_until`, in one statement. Rows another claim holds
    /// locked are skipped, not waited for; one it has just leased is seen again with its new
    /// due time and left out. So two instances claiming at once take disjoint sets.
    pub async fn claim_deliveries(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> Result<Vec<DeliveryTarget>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let sql = format!(
            "WITH due AS (
                    SELECT d.id, d.next_attempt_at AS due_at FROM delivery d
                    WHERE d.state = 'PENDING' AND d.next_attempt_at <= $1
                      AND EXISTS (SELECT 1 FROM delivery_request q WHERE q.delivery = d.id)
                    ORDER BY d.next_attempt_at, d.id LIMIT $2
                    FOR UPDATE OF d SKIP LOCKED
                 ), leased AS (
                    UPDATE delivery d SET next_attempt_at = $3 FROM due WHERE d.id = due.id
                    RETURNING d.*
                 )
                 SELECT {DELIVERY_COLUMNS}, q.request, r.receipt_id, r.nav
                 FROM leased d JOIN due ON due.id = d.id
                    JOIN delivery_request q ON q.delivery = d.id
                    JOIN receipt r ON r.id = d.receipt
                 ORDER BY due.due_at, d.id"
        );
        let rows = tx
            .rows(
                &sql,
                &[&millis(now), &i64::from(limit), &millis(lease_until)],
            )
            .await?;
        let claimed = rows.iter().map(target).collect::<Result<Vec<_>, _>>()?;
        super::commit(tx).await?;
        Ok(claimed)
    }

    /// None: a database created with this schema stores every delivery's request with it, and
    /// a copied store must have ended its backfill before the copy.
    pub async fn deliveries_missing_request(
        &self,
        _after: i64,
        _limit: u32,
    ) -> Result<Vec<DeliveryWithoutRequest>, StoreError> {
        Ok(Vec::new())
    }

    /// As SQLite's: a request is stored unless the delivery has one; a delivery whose request
    /// cannot be written is given up if PENDING. All in one transaction.
    pub async fn set_delivery_requests(
        &self,
        requests: Vec<(i64, Result<Vec<u8>, String>)>,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        for (id, request) in requests {
            match request {
                Ok(request) => insert_request(&tx, id, &request).await?,
                Err(error) => record(&tx, id, &AttemptRecord::GiveUp { error }, now).await?,
            }
        }
        super::commit(tx).await
    }

    /// Nothing to end: this schema has no backfill marker (see
    /// [`PgStore::deliveries_missing_request`]).
    pub async fn end_request_backfill(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// All or none, in one transaction. The rows are updated in id order (a delivery's own
    /// results in the order given), so that two instances recording overlapping batches wait
    /// for each other rather than deadlock.
    pub async fn record_attempts(
        &self,
        mut records: Vec<(i64, AttemptRecord)>,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        records.sort_by_key(|(id, _)| *id);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        for (id, r) in &records {
            record(&tx, *id, r, now).await?;
        }
        super::commit(tx).await
    }

    /// Newest first. The conditions are only those given, so that the statement can use
    /// `delivery_by_organization`.
    pub async fn station_backlog(&self) -> Result<Vec<StationBacklog>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .rows(
                "SELECT organization, station_id, count(*), min(created_at) FROM delivery
                 WHERE state = 'PENDING' GROUP BY organization, station_id
                 ORDER BY organization, station_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let pending: i64 = r.get(2);
                let oldest: Option<i64> = r.get(3);
                Ok(StationBacklog {
                    organization: r.get(0),
                    station_id: r.get(1),
                    pending: pending.max(0) as u64,
                    oldest: oldest
                        .map(|ms| from_millis(ms, "delivery.created_at"))
                        .transpose()?,
                })
            })
            .collect()
    }

    pub async fn list_deliveries(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<DeliveryState>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut filters = Where::default();
        filters
            .equals(
                "d.organization",
                organization.as_ref().map(FiscalCodePA::as_str),
            )
            .equals("d.state", state.map(DeliveryState::as_str));
        filters
            .page(self, &DELIVERY_LISTING, page, listed_delivery)
            .await
    }

    /// The delivery is locked (`FOR UPDATE`) while its state is checked and changed: of two
    /// instances re-queuing it at once, the second sees it PENDING and is refused, and a
    /// result recorded meanwhile is either before (and re-queued over) or after (and taken).
    pub async fn redeliver(
        &self,
        organization: Option<FiscalCodePA>,
        delivery: i64,
        now: NaiveDateTime,
    ) -> Result<Delivery, StoreError> {
        let organization = organization.as_ref();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let current = one(&tx, organization, delivery, true).await?;
        current
            .state
            .may_redeliver(current.last_error.as_deref())
            .map_err(StoreError::Refused)?;
        let requeued = tx
            .exec(
                "UPDATE delivery SET state = 'PENDING', next_attempt_at = $1, attempts = 0,
                    updated_at = $1
                 WHERE id = $2 AND EXISTS (SELECT 1 FROM delivery_request WHERE delivery = $2)",
                &[&millis(now), &delivery],
            )
            .await?;
        if requeued == 0 {
            return Err(StoreError::Refused(Conflict(
                "the delivery has no request to send: its receipt's stored document cannot be read"
                    .into(),
            )));
        }
        let again = one(&tx, organization, delivery, false).await?;
        super::commit(tx).await?;
        Ok(again)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use chrono::NaiveDateTime;

    use super::insert_deliveries;
    use crate::domain::FiscalCodePA;
    use crate::domain::broadcast::DeliveryState;
    use crate::domain::position::tests::at;
    use crate::store::postgres::{PgStore, testing};
    use crate::store::receipt_fixtures::station;
    use crate::store::{
        AttemptRecord, DeliveredReceipt, DeliveryTarget, NewDelivery, PageRequest, StoreError,
    };

    const ORG: &str = "77777777777";

    fn org(code: &str) -> FiscalCodePA {
        FiscalCodePA::parse(code).unwrap()
    }

    /// A receipt row of the creditor [`ORG`], as the receipts' acquisition would store it;
    /// returns its row id.
    async fn receipt(store: &PgStore, receipt_id: &str) -> i64 {
        let client = store.client().await.unwrap();
        client
            .query_one(
                "INSERT INTO receipt (organization, receipt_id, recipient, broker_id, station_id,
                    version, iuv, nav, status, amount, debtor, psp_id, psp_company, received_at,
                    document)
                 VALUES ($1, $2, $1, $1, '77777777777_01', 2, '01000000000000144',
                    '301000000000000144', 'APPLIED', 100, 'X', 'PSP', 'PSP', 0, '\\x3c782f3e')
                 RETURNING id",
                &[&ORG, &receipt_id],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// The deliveries of a receipt, created as the receipts' acquisition creates them.
    async fn deliveries(
        store: &PgStore,
        receipt_row: i64,
        deliveries: Vec<NewDelivery<'_>>,
        now: NaiveDateTime,
    ) -> Vec<DeliveryTarget> {
        let mut client = store.client().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let receipt = DeliveredReceipt::default();
        let pending = insert_deliveries(&tx, receipt_row, &receipt, deliveries, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        pending
    }

    /// `n` deliveries to one station, each of its own receipt, due at `created + 10 s`.
    async fn due_deliveries(store: &PgStore, n: usize, created: NaiveDateTime) -> Vec<i64> {
        // Receipt ids unique across calls.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let s = station("88888888888", "S1");
        let mut ids = Vec::new();
        for i in 0..n {
            let row = receipt(store, &format!("r{}", NEXT.fetch_add(1, Ordering::Relaxed))).await;
            let request = Ok(format!("<r{i}/>").into_bytes());
            let made = deliveries(
                store,
                row,
                vec![NewDelivery {
                    station: &s,
                    request,
                }],
                created,
            );
            ids.push(made.await[0].id);
        }
        ids
    }

    const ALL: PageRequest = PageRequest {
        page: 0,
        limit: 100,
    };

    #[tokio::test]
    async fn deliveries_listed_newest_first_by_creditor_and_state_in_pages() {
        let Some(store) = testing::fresh_store().await else {
            return;
        };
        let now = at(2029, 6, 1);
        let ids = due_deliveries(&store, 5, now).await;
        let other = station("99999999999", "S9");
        let row = receipt(&store, "other").await;
        let request = Ok(b"<o/>".to_vec());
        let other_id = deliveries(
            &store,
            row,
            vec![NewDelivery {
                station: &other,
                request,
            }],
            now,
        )
        .await[0]
            .id;
        store
            .record_attempts(vec![(ids[1], AttemptRecord::Delivered)], now)
            .await
            .unwrap();

        let all = store.list_deliveries(None, None, ALL).await.unwrap();
        let listed: Vec<i64> = all.items.iter().map(|d| d.id).collect();
        assert_eq!(listed, [other_id, ids[4], ids[3], ids[2], ids[1], ids[0]]);
        assert_eq!(all.items_found, 6);

        let page = PageRequest { page: 1, limit: 2 };
        let second = store
            .list_deliveries(Some(org("88888888888")), None, page)
            .await
            .unwrap();
        let listed: Vec<i64> = second.items.iter().map(|d| d.id).collect();
        assert_eq!(listed, [ids[2], ids[1]]);
        assert_eq!((second.items_found, second.total_pages()), (5, 3));

        let pending = store
            .list_deliveries(Some(org("88888888888")), Some(DeliveryState::Pending), ALL)
            .await
            .unwrap();
        assert_eq!(pending.items_found, 4);
        let delivered = store
            .list_deliveries(None, Some(DeliveryState::Delivered), ALL)
            .await
            .unwrap();
        let listed: Vec<i64> = delivered.items.iter().map(|d| d.id).collect();
        assert_eq!(listed, [ids[1]]);
    }

    #[tokio::test]
    async fn results_recorded_together_are_stored_all_or_none() {
        let Some(store) = testing::fresh_store().await else {
            return;
        };
        let now = at(2029, 6, 1);
        let ids = due_deliveries(&store, 40, now).await;
        let records = |n: usize, id: i64| {
            let record = if n.is_multiple_of(2) {
                AttemptRecord::Delivered
            } else {
                AttemptRecord::GiveUp {
                    error: format!("HTTP 4{n:02}"),
                }
            };
            (id, record)
        };
        // One that cannot be written (text with a NUL) undoes the whole batch.
        let mut refused: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| records(n, *id))
            .collect();
        refused.push((ids[0], AttemptRecord::GiveUp { error: "\0".into() }));
        assert!(matches!(
            store.record_attempts(refused, now).await,
            Err(StoreError::Unavailable(_))
        ));
        let listed = store.list_deliveries(None, None, ALL).await.unwrap();
        assert!(
            listed
                .items
                .iter()
                .all(|d| (d.state, d.attempts) == (DeliveryState::Pending, 0))
        );

        let batch = ids
            .iter()
            .enumerate()
            .map(|(n, id)| records(n, *id))
            .collect();
        store.record_attempts(batch, now).await.unwrap();
        let listed = store.list_deliveries(None, None, ALL).await.unwrap();
        assert_eq!(listed.items.len(), 40);
        for d in listed.items {
            let n = ids.iter().position(|id| *id == d.id).unwrap();
            assert_eq!(d.attempts, 1, "{d:?}");
            if n.is_multiple_of(2) {
                assert_eq!(d.state, DeliveryState::Delivered);
            } else {
                assert_eq!(d.state, DeliveryState::Failed);
                assert_eq!(d.last_error, Some(format!("HTTP 4{n:02}")));
            }
        }
    }

    #[tokio::test]
    async fn requests_set_on_copied_deliveries_as_sqlite_sets_them() {
        let Some(store) = testing::fresh_store().await else {
            return;
        };
        // Deliveries as a copy of a SQLite store could bring them, before their requests.
        let row = receipt(&store, "R-OLD").await;
        store
            .client()
            .await
            .unwrap()
            .execute(
                "INSERT INTO delivery (id, receipt, organization, station_id, broker_id, url,
                    primitive_version, timeout_ms, state, next_attempt_at, last_error,
                    created_at, updated_at)
                 VALUES (1, $1, '88888888888', 'DUE', '88888888888', 'https://s.example.org/', 2,
                        1000, 'PENDING', 0, NULL, 0, 0),
                    (2, $1, '88888888888', 'DONE', '88888888888', 'https://s.example.org/', 2,
                        1000, 'DELIVERED', NULL, NULL, 0, 0),
                    (3, $1, '88888888888', 'V1', '88888888888', 'https://s.example.org/', 1,
                        1000, 'UNDELIVERABLE', NULL, 'a stamp', 0, 0),
                    (4, $1, '88888888888', 'UNREADABLE', '88888888888', 'https://s.example.org/',
                        2, 1000, 'PENDING', 0, NULL, 0, 0),
                    (5, $1, '88888888888', 'GONE', '88888888888', 'https://s.example.org/',
                        2, 1000, 'DELIVERED', NULL, NULL, 0, 0)",
                &[&row],
            )
            .await
            .unwrap();
        let now = at(2029, 6, 1);
        let lease = now + chrono::Duration::seconds(60);
        // Until it has a request, a pending delivery is not taken.
        assert!(
            store
                .claim_deliveries(now, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // This schema keeps no backfill to do.
        assert!(
            store
                .deliveries_missing_request(0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let unreadable = Err("the stored receipt cannot be read".to_owned());
        let requests = vec![
            (1, Ok(b"<due/>".to_vec())),
            (2, Ok(b"<done/>".to_vec())),
            (4, unreadable.clone()),
            // Given up only if pending.
            (5, unreadable),
        ];
        store.set_delivery_requests(requests, now).await.unwrap();
        // One it has already is kept.
        store
            .set_delivery_requests(vec![(1, Ok(b"<other/>".to_vec()))], now)
            .await
            .unwrap();
        store.end_request_backfill().await.unwrap();

        let claimed = store.claim_deliveries(now, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (claimed[0].id, &claimed[0].request[..]),
            (1, &b"<due/>"[..])
        );
        let listed = store.list_deliveries(None, None, ALL).await.unwrap();
        let given_up = listed.items.iter().find(|d| d.id == 4).unwrap();
        assert_eq!(
            (
                given_up.state,
                given_up.attempts,
                given_up.last_error.as_deref()
            ),
            (
                DeliveryState::Failed,
                1,
                Some("the stored receipt cannot be read")
            )
        );
        let kept = listed.items.iter().find(|d| d.id == 5).unwrap();
        assert_eq!((kept.state, kept.attempts), (DeliveryState::Delivered, 0));
        // A delivered one is re-queued with its request; one without any cannot be.
        let again = store.redeliver(None, 2, lease).await.unwrap();
        assert_eq!(again.state, DeliveryState::Pending);
        let later = lease + chrono::Duration::seconds(1);
        let claimed = store.claim_deliveries(later, later, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(claimed.iter().any(|c| c.request == b"<done/>"));
        for gone in [4, 5] {
            assert!(matches!(
                store.redeliver(None, gone, later).await,
                Err(StoreError::Refused(_))
            ));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_claiming_at_once_take_each_due_delivery_once() {
        let Some((a, b)) = testing::fresh_pair().await else {
            return;
        };
        let created = at(2029, 6, 1);
        let mut now = created + chrono::Duration::seconds(10);
        let mut ids = due_deliveries(&a, 60, created).await;
        ids.sort_unstable();
        for round in 0..10 {
            let lease = now + chrono::Duration::seconds(60);
            let (first, second) = tokio::join!(
                a.claim_deliveries(now, lease, 40),
                b.claim_deliveries(now, lease, 40)
            );
            let (first, second) = (first.unwrap(), second.unwrap());
            let mut taken: Vec<i64> = first.iter().chain(&second).map(|c| c.id).collect();
            taken.sort_unstable();
            assert_eq!(
                taken,
                ids,
                "round {round}: {} + {}",
                first.len(),
                second.len()
            );
            // Held until the lease ends: an instance that stopped holding them loses them then.
            assert!(
                a.claim_deliveries(now, lease, 100)
                    .await
                    .unwrap()
                    .is_empty()
            );
            now = lease;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_recorded_by_two_instances_at_once_are_taken_once() {
        let Some((a, b)) = testing::fresh_pair().await else {
            return;
        };
        let now = at(2029, 6, 1);
        let ids = due_deliveries(&a, 20, now).await;
        for id in &ids {
            let give_up = AttemptRecord::GiveUp {
                error: "late".into(),
            };
            let (first, second) = tokio::join!(
                a.record_attempts(vec![(*id, AttemptRecord::Delivered)], now),
                b.record_attempts(vec![(*id, give_up)], now)
            );
            first.unwrap();
            second.unwrap();
        }
        let listed = a.list_deliveries(None, None, ALL).await.unwrap();
        for d in listed.items {
            assert_eq!(d.attempts, 1, "{d:?}");
            assert_ne!(d.state, DeliveryState::Pending);
        }

        // Overlapping batches, in opposite orders: both are recorded, neither deadlocks.
        let ids = due_deliveries(&a, 10, now).await;
        let retry = || AttemptRecord::Retry {
            error: "HTTP 500".into(),
            next_attempt_at: now,
        };
        for _ in 0..10 {
            let forward = ids.iter().map(|id| (*id, retry())).collect();
            let backward = ids.iter().rev().map(|id| (*id, retry())).collect();
            let (first, second) = tokio::join!(
                a.record_attempts(forward, now),
                b.record_attempts(backward, now)
            );
            first.unwrap();
            second.unwrap();
        }
        let pending = a
            .list_deliveries(None, Some(DeliveryState::Pending), ALL)
            .await
            .unwrap();
        assert_eq!(pending.items.len(), 10);
        assert!(pending.items.iter().all(|d| d.attempts == 20));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_requeued_by_two_instances_at_once_is_requeued_once() {
        let Some((a, b)) = testing::fresh_pair().await else {
            return;
        };
        let now = at(2029, 6, 1);
        let ids = due_deliveries(&a, 20, now).await;
        let failed = ids
            .iter()
            .map(|id| {
                let error = "HTTP 404".to_owned();
                (*id, AttemptRecord::GiveUp { error })
            })
            .collect();
        a.record_attempts(failed, now).await.unwrap();
        for id in ids {
            let (first, second) =
                tokio::join!(a.redeliver(None, id, now), b.redeliver(None, id, now));
            let mut results = [first, second];
            results.sort_by_key(Result::is_err);
            assert_eq!(results[0].as_ref().unwrap().state, DeliveryState::Pending);
            assert!(
                matches!(results[1], Err(StoreError::Refused(_))),
                "{results:?}"
            );
        }
    }
}
