//! The broadcast tables: the creditors' stations and the delivery outbox (created with the
//! receipt and the request each delivery sends, claimed by the retry worker, updated after each
//! attempt, listed and re-queued).

use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params, params_from_iter};

use super::columns::*;
use super::filter::Where;
use super::unavailable;
use crate::domain::broadcast::{BroadcastStation, DeliveryState};
use crate::domain::position::Conflict;
use crate::domain::{FiscalCodePA, Text};
use crate::store::{
    AttemptRecord, DeliveredReceipt, Delivery, DeliveryTarget, DeliveryWithoutRequest, NewDelivery,
    Page, PageRequest, StationBacklog, StoreError,
};

/// Runs `sql`, whose first six parameters are the station's columns in [`STATION_COLUMNS`]
/// order (the station table and every delivery, which copies them, write them alike), with
/// `rest` after them.
fn execute_with_station(
    conn: &Connection,
    sql: &str,
    s: &BroadcastStation,
    rest: &[&dyn ToSql],
) -> Result<usize, StoreError> {
    let station = station_values(s);
    let mut values: Vec<&dyn ToSql> = station.iter().map(|v| v as &dyn ToSql).collect();
    values.extend_from_slice(rest);
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute(values.as_slice()))
        .map_err(unavailable)
}

pub(super) fn stations_of(
    conn: &Connection,
    organization: Option<&FiscalCodePA>,
    enabled_only: bool,
) -> Result<Vec<BroadcastStation>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {STATION_COLUMNS} FROM broadcast_station
             WHERE (?1 IS NULL OR organization = ?1) AND (?2 = 0 OR enabled = 1)
             ORDER BY organization, station_id"
        ))
        .map_err(unavailable)?;
    let mut rows = st
        .query(params![
            organization.map(FiscalCodePA::as_str),
            enabled_only
        ])
        .map_err(unavailable)?;
    let mut stations = Vec::new();
    while let Some(r) = rows.next().map_err(unavailable)? {
        stations.push(station_at(r, 0)?);
    }
    Ok(stations)
}

pub(super) fn put_station(
    conn: &Connection,
    s: &BroadcastStation,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let existed = conn
        .prepare_cached(
            "SELECT 1 FROM broadcast_station WHERE organization = ?1 AND station_id = ?2",
        )
        .and_then(|mut st| {
            st.query_row(
                params![s.organization.as_str(), s.station_id.as_str()],
                |_| Ok(()),
            )
            .optional()
        })
        .map_err(unavailable)?
        .is_some();
    execute_with_station(
        conn,
        &format!(
            "INSERT OR REPLACE INTO broadcast_station ({STATION_COLUMNS}, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        s,
        params![s.enabled, millis(now)],
    )?;
    Ok(!existed)
}

pub(super) fn delete_station(
    conn: &Connection,
    organization: &FiscalCodePA,
    station_id: &Text<35>,
) -> Result<(), StoreError> {
    let deleted = conn
        .prepare_cached("DELETE FROM broadcast_station WHERE organization = ?1 AND station_id = ?2")
        .and_then(|mut st| st.execute(params![organization.as_str(), station_id.as_str()]))
        .map_err(unavailable)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Creates the deliveries with their requests: PENDING (first retry at `first_retry_at`), or
/// UNDELIVERABLE when there is no request. Returns the pending ones, to attempt now.
pub(super) fn insert_deliveries(
    conn: &Connection,
    receipt_row: i64,
    receipt: &DeliveredReceipt,
    deliveries: Vec<NewDelivery<'_>>,
    now: NaiveDateTime,
) -> Result<Vec<DeliveryTarget>, StoreError> {
    let mut pending = Vec::new();
    for delivery in deliveries {
        conn.prepare_cached(
            "INSERT INTO delivery (organization, station_id, broker_id, url, primitive_version,
                timeout_ms, receipt, state, next_attempt_at, last_error, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        )
        .and_then(|mut st| {
            st.execute(params_from_iter(&new_delivery_values(
                receipt_row,
                &delivery,
                now,
            )))
        })
        .map_err(unavailable)?;
        let id = conn.last_insert_rowid();
        if let Some(target) = delivery.into_target(id, receipt) {
            insert_request(conn, id, &target.request)?;
            pending.push(target);
        }
    }
    Ok(pending)
}

/// The delivery columns read back, station columns in [`STATION_COLUMNS`] order from index 1.
const DELIVERY_COLUMNS: &str = "d.id, d.organization, d.station_id, d.broker_id, d.url, \
    d.primitive_version, d.timeout_ms, 1, d.attempts";

/// A delivery's id and station, from [`DELIVERY_COLUMNS`].
fn id_and_station(r: &Row<'_>) -> Result<(i64, BroadcastStation), StoreError> {
    Ok((r.get(0).map_err(unavailable)?, station_at(r, 1)?))
}

/// A delivery from [`DELIVERY_COLUMNS`], its request, its receipt's id and notice number.
fn target(r: &Row<'_>) -> Result<DeliveryTarget, StoreError> {
    let (id, station) = id_and_station(r)?;
    Ok(DeliveryTarget {
        id,
        station,
        attempts: r.get(8).map_err(unavailable)?,
        request: r.get(9).map_err(unavailable)?,
        receipt: DeliveredReceipt {
            receipt_id: r.get(10).map_err(unavailable)?,
            notice_number: r.get(11).map_err(unavailable)?,
        },
    })
}

pub(super) fn claim(
    conn: &Connection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: u32,
) -> Result<Vec<DeliveryTarget>, StoreError> {
    let mut claimed = Vec::new();
    {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS}, q.request, r.receipt_id, r.nav
                 FROM delivery d JOIN delivery_request q ON q.delivery = d.id
                    JOIN receipt r ON r.id = d.receipt
                 WHERE d.state = 'PENDING' AND d.next_attempt_at <= ?1
                 ORDER BY d.next_attempt_at LIMIT ?2"
            ))
            .map_err(unavailable)?;
        let mut rows = st.query(params![millis(now), limit]).map_err(unavailable)?;
        while let Some(r) = rows.next().map_err(unavailable)? {
            claimed.push(target(r)?);
        }
    }
    for c in &claimed {
        conn.prepare_cached("UPDATE delivery SET next_attempt_at = ?1 WHERE id = ?2")
            .and_then(|mut st| st.execute(params![millis(lease_until), c.id]))
            .map_err(unavailable)?;
    }
    Ok(claimed)
}

/// Up to `limit` deliveries after row `after` that have no request and could have one, with
/// their receipts' documents.
pub(super) fn missing_requests(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> Result<Vec<DeliveryWithoutRequest>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS}, r.document FROM delivery d JOIN receipt r ON r.id = d.receipt
             WHERE d.id > ?1 AND d.id <= (SELECT upto FROM delivery_request_backfill)
               AND d.state <> 'UNDELIVERABLE'
               AND NOT EXISTS (SELECT 1 FROM delivery_request q WHERE q.delivery = d.id)
             ORDER BY d.id LIMIT ?2"
        ))
        .map_err(unavailable)?;
    let mut rows = st.query(params![after, limit]).map_err(unavailable)?;
    let mut missing = Vec::new();
    while let Some(r) = rows.next().map_err(unavailable)? {
        let (id, station) = id_and_station(r)?;
        missing.push(DeliveryWithoutRequest {
            id,
            station,
            document: r.get(9).map_err(unavailable)?,
        });
    }
    Ok(missing)
}

pub(super) fn set_requests(
    conn: &Connection,
    requests: &[(i64, Result<Vec<u8>, String>)],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    for (id, request) in requests {
        match request {
            Ok(request) => insert_request(conn, *id, request)?,
            Err(error) => {
                let error = error.clone();
                record(conn, *id, &AttemptRecord::GiveUp { error }, now)?;
            }
        }
    }
    Ok(())
}

/// Stores the request of delivery `id`; one it already has is kept.
fn insert_request(conn: &Connection, id: i64, request: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO delivery_request (delivery, request) VALUES (?1, ?2)
         ON CONFLICT (delivery) DO NOTHING",
    )
    .and_then(|mut st| st.execute(params![id, request]))
    .map_err(unavailable)?;
    Ok(())
}

pub(super) fn end_request_backfill(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("DELETE FROM delivery_request_backfill")
        .map_err(unavailable)
}

pub(super) fn record(
    conn: &Connection,
    id: i64,
    record: &AttemptRecord,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let columns = attempt_columns(record, now);
    // Only a PENDING delivery takes a result: an attempt that ends after an operator acted, or
    // after another attempt already succeeded, changes nothing.
    conn.prepare_cached(
        "UPDATE delivery SET state = ?1, next_attempt_at = ?2, last_error = ?3, fault_code = ?4,
            delivered_at = ?5, attempts = attempts + 1, updated_at = ?6
         WHERE id = ?7 AND state = 'PENDING'",
    )
    .and_then(|mut st| {
        st.execute(params![
            columns.state.as_str(),
            columns.next_attempt_at,
            columns.last_error,
            columns.fault_code,
            columns.delivered_at,
            millis(now),
            id
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

pub(super) fn backlog(conn: &Connection) -> Result<Vec<StationBacklog>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT organization, station_id, count(*), min(created_at) FROM delivery
             WHERE state = 'PENDING' GROUP BY organization, station_id
             ORDER BY organization, station_id",
        )
        .map_err(unavailable)?;
    let mut rows = st.query([]).map_err(unavailable)?;
    let mut backlog = Vec::new();
    while let Some(r) = rows.next().map_err(unavailable)? {
        let pending: i64 = r.get(2).map_err(unavailable)?;
        let oldest: Option<i64> = r.get(3).map_err(unavailable)?;
        backlog.push(StationBacklog {
            organization: r.get(0).map_err(unavailable)?,
            station_id: r.get(1).map_err(unavailable)?,
            pending: pending.max(0) as u64,
            oldest: oldest
                .map(|ms| from_millis(ms, "delivery.created_at"))
                .transpose()?,
        });
    }
    Ok(backlog)
}

pub(super) fn list(
    conn: &Connection,
    organization: Option<&FiscalCodePA>,
    state: Option<DeliveryState>,
    page: PageRequest,
) -> Result<Page<Delivery>, StoreError> {
    let mut filters = Where::new("(:org IS NULL OR d.organization = :org)");
    filters
        .bind(":org", organization.map(FiscalCodePA::to_string))
        .and("(:state IS NULL OR d.state = :state)")
        .bind(":state", state.map(|s| s.as_str().to_owned()));
    filters.page(conn, &DELIVERY_LISTING, page, |r| listed_delivery(r))
}

fn one(
    conn: &Connection,
    organization: Option<&FiscalCodePA>,
    id: i64,
) -> Result<Delivery, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {LISTED_DELIVERY_COLUMNS} FROM delivery d JOIN receipt r ON r.id = d.receipt
             WHERE d.id = ?1 AND (?2 IS NULL OR d.organization = ?2)"
        ))
        .map_err(unavailable)?;
    let mut rows = st
        .query(params![id, organization.map(FiscalCodePA::as_str)])
        .map_err(unavailable)?;
    match rows.next().map_err(unavailable)? {
        Some(r) => listed_delivery(r),
        None => Err(StoreError::NotFound),
    }
}

pub(super) fn redeliver(
    conn: &Connection,
    organization: Option<&FiscalCodePA>,
    id: i64,
    now: NaiveDateTime,
) -> Result<Delivery, StoreError> {
    let current = one(conn, organization, id)?;
    current
        .state
        .may_redeliver(current.last_error.as_deref())
        .map_err(StoreError::Refused)?;
    let requeued = conn
        .prepare_cached(
            "UPDATE delivery SET state = 'PENDING', next_attempt_at = ?1, attempts = 0, updated_at = ?1
             WHERE id = ?2 AND EXISTS (SELECT 1 FROM delivery_request WHERE delivery = ?2)",
        )
        .and_then(|mut st| st.execute(params![millis(now), id]))
        .map_err(unavailable)?;
    if requeued == 0 {
        return Err(StoreError::Refused(Conflict(
            "the delivery has no request to send: its receipt's stored document cannot be read"
                .into(),
        )));
    }
    one(conn, organization, id)
}
