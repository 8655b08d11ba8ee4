//! Broadcast stations and deliveries for creditors: the routing table
//! (`/organizations/{fiscalCode}/broadcast-stations[/{stationId}]`) and the outbox
//! (`/organizations/{fiscalCode}/deliveries`, with redelivery on request).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::query::Query;
use super::receipts::paged;
use super::{Reply, bad_request, creditor, parse_json, store_failure};
use crate::context::Context;
use crate::domain::Text;
use crate::domain::broadcast::{BroadcastStation, DeliveryState, StationUrl, station_timeout};
use crate::domain::receipt::ReceiptVersion;
use crate::json::convert::format_datetime;
use crate::store::{Delivery, StoreError};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StationOut {
    station_id: String,
    broker_id: String,
    url: String,
    primitive_version: u8,
    timeout_ms: u64,
    enabled: bool,
}

fn station_out(s: &BroadcastStation) -> StationOut {
    StationOut {
        station_id: s.station_id.to_string(),
        broker_id: s.broker_id.to_string(),
        url: s.url.to_string(),
        primitive_version: s.version.number(),
        timeout_ms: s.timeout.as_millis() as u64,
        enabled: s.enabled,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StationIn {
    broker_id: String,
    url: String,
    #[serde(default = "two")]
    primitive_version: u64,
    #[serde(default = "one_second")]
    timeout_ms: u64,
    #[serde(default = "yes")]
    enabled: bool,
}

fn two() -> u64 {
    2
}

fn one_second() -> u64 {
    1_000
}

fn yes() -> bool {
    true
}

/// `GET /organizations/{fiscalCode}/broadcast-stations`
pub async fn list_stations(ctx: &Context, org: &str) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match ctx
        .store
        .broadcast_stations(Some(creditor.fiscal_code.clone()))
        .await
    {
        Ok(stations) => Reply::json(200, &stations.iter().map(station_out).collect::<Vec<_>>()),
        Err(e) => store_failure(e),
    }
}

fn station_id(value: &str) -> Result<Text<35>, Reply> {
    Text::new(value).map_err(|e| bad_request(format!("stationId: {e}")))
}

/// `PUT /organizations/{fiscalCode}/broadcast-stations/{stationId}`: creates (201) or
/// replaces (200) the station.
pub async fn put_station(ctx: &Context, org: &str, id: &str, body: &[u8]) -> Reply {
    let (creditor, station_id) = match creditor(ctx, org).and_then(|c| Ok((c, station_id(id)?))) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let input: StationIn = match parse_json(body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut errors = Vec::new();
    let broker_id = Text::new(input.broker_id)
        .map_err(|e| errors.push(format!("brokerId: {e}")))
        .ok();
    let url = StationUrl::parse(&input.url)
        .map_err(|e| errors.push(format!("url: {e}")))
        .ok();
    let version = ReceiptVersion::from_number(input.primitive_version)
        .map_err(|e| errors.push(format!("primitiveVersion: {e}")))
        .ok();
    let timeout: Option<Duration> = station_timeout(input.timeout_ms)
        .map_err(|e| errors.push(format!("timeoutMs: {e}")))
        .ok();
    let (Some(broker_id), Some(url), Some(version), Some(timeout)) =
        (broker_id, url, version, timeout)
    else {
        return bad_request(errors.join("; "));
    };
    if let Err(refused) = ctx.broadcaster.vet_url(&url).await {
        return bad_request(format!("url: receipts may not be sent there: {refused}"));
    }
    let station = BroadcastStation {
        organization: creditor.fiscal_code.clone(),
        station_id,
        broker_id,
        url,
        version,
        timeout,
        enabled: input.enabled,
    };
    let out = station_out(&station);
    match ctx.store.put_broadcast_station(station).await {
        Ok(created) => Reply::json(if created { 201 } else { 200 }, &out),
        Err(e) => store_failure(e),
    }
}

/// `DELETE /organizations/{fiscalCode}/broadcast-stations/{stationId}`. Deliveries already
/// created for the station keep their copy of it.
pub async fn delete_station(ctx: &Context, org: &str, id: &str) -> Reply {
    let (creditor, station_id) = match creditor(ctx, org).and_then(|c| Ok((c, station_id(id)?))) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match ctx
        .store
        .delete_broadcast_station(creditor.fiscal_code.clone(), station_id)
        .await
    {
        Ok(()) => Reply::no_content(),
        Err(StoreError::NotFound) => Reply::problem(
            404,
            "Not Found",
            format!("organization {org} has no broadcast station {id}"),
        ),
        Err(e) => store_failure(e),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    id: i64,
    receipt_id: String,
    /// The notice's creditor and IUV.
    organization_fiscal_code: String,
    iuv: String,
    /// The recipient: the creditor owning the station, and the station as copied when the
    /// delivery was created.
    recipient: String,
    station_id: String,
    broker_id: String,
    url: String,
    primitive_version: u8,
    state: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_error: Option<String>,
    fault_code: Option<String>,
    created_at: String,
    updated_at: String,
    delivered_at: Option<String>,
}

pub fn delivery_out(d: Delivery) -> DeliveryOut {
    DeliveryOut {
        id: d.id,
        receipt_id: d.receipt_id,
        organization_fiscal_code: d.notice_organization.to_string(),
        iuv: d.iuv,
        recipient: d.station.organization.to_string(),
        station_id: d.station.station_id.to_string(),
        broker_id: d.station.broker_id.to_string(),
        url: d.station.url.to_string(),
        primitive_version: d.station.version.number(),
        state: d.state.as_str(),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at.map(format_datetime),
        last_error: d.last_error,
        fault_code: d.fault_code,
        created_at: format_datetime(d.created_at),
        updated_at: format_datetime(d.updated_at),
        delivered_at: d.delivered_at.map(format_datetime),
    }
}

/// The `state` filter of a delivery list.
pub fn delivery_state(value: Option<&str>) -> Result<Option<DeliveryState>, String> {
    value
        .map(|s| {
            DeliveryState::parse(s).ok_or_else(|| {
                let names: Vec<_> = DeliveryState::ALL.iter().map(|s| s.as_str()).collect();
                format!("state: '{s}' must be one of {}", names.join(", "))
            })
        })
        .transpose()
}

/// `GET /organizations/{fiscalCode}/deliveries?state&page&limit`: deliveries to the
/// creditor's stations, newest first.
pub async fn list_deliveries(ctx: &Context, org: &str, query: Option<&str>) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let parsed = Query::parse(query, &["state", "page", "limit"]).and_then(|q| {
        Ok((
            delivery_state(q.get("state")).map_err(bad_request)?,
            q.page()?,
        ))
    });
    let (state, page) = match parsed {
        Ok(x) => x,
        Err(r) => return r,
    };
    match ctx
        .store
        .list_deliveries(Some(creditor.fiscal_code.clone()), state, page)
        .await
    {
        Ok(page) => Reply::json(200, &paged(page, delivery_out)),
        Err(e) => store_failure(e),
    }
}

/// `POST /organizations/{fiscalCode}/deliveries/{id}/redeliver`: the delivery becomes PENDING
/// again and is attempted by the retry worker at its next round, with a fresh attempt count.
pub async fn redeliver(ctx: &Context, org: &str, id: &str) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<i64>() else {
        return bad_request(format!("id: '{id}' must be a delivery number"));
    };
    match ctx
        .store
        .redeliver(Some(creditor.fiscal_code.clone()), id, ctx.clock.now())
        .await
    {
        Ok(d) => Reply::json(200, &delivery_out(d)),
        Err(StoreError::NotFound) => Reply::problem(
            404,
            "Not Found",
            format!("no delivery {id} to a station of organization {org}"),
        ),
        Err(e) => store_failure(e),
    }
}
