//! Broadcast stations and deliveries for creditors: the routing table
//! (`/organizations/{fiscalCode}/broadcast-stations[/{stationId}]`) and the outbox
//! (`/organizations/{fiscalCode}/deliveries`, with redelivery on request).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::query::{Query, paged};
use super::reply::{Problem, bad_request, not_found, not_found_as};
use super::{OnCreditor, Reply, parse_json};
use crate::domain::Text;
use crate::domain::broadcast::{BroadcastStation, DeliveryState, StationUrl, station_timeout};
use crate::domain::receipt::ReceiptVersion;
use crate::json::convert::format_datetime;
use crate::store::Delivery;

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
pub async fn list_stations(on: OnCreditor<'_>) -> Result<Reply, Problem> {
    let stations = on
        .ctx
        .store
        .broadcast_stations(Some(on.creditor.fiscal_code.clone()))
        .await?;
    let out: Vec<_> = stations.iter().map(station_out).collect();
    Ok(Reply::json(200, &out))
}

fn station_id(value: &str) -> Result<Text<35>, Problem> {
    Text::new(value).map_err(|e| bad_request(format!("stationId: {e}")))
}

/// `PUT /organizations/{fiscalCode}/broadcast-stations/{stationId}`: creates (201) or
/// replaces (200) the station.
pub async fn put_station(on: OnCreditor<'_>, id: &str, body: &[u8]) -> Result<Reply, Problem> {
    let station_id = station_id(id)?;
    let input: StationIn = parse_json(body)?;
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
        return Err(bad_request(errors.join("; ")));
    };
    if let Err(refused) = on.ctx.broadcaster.vet_url(&url).await {
        return Err(bad_request(format!(
            "url: receipts may not be sent there: {refused}"
        )));
    }
    let station = BroadcastStation {
        organization: on.creditor.fiscal_code.clone(),
        station_id,
        broker_id,
        url,
        version,
        timeout,
        enabled: input.enabled,
    };
    let out = station_out(&station);
    let created = on.ctx.store.put_broadcast_station(station).await?;
    Ok(Reply::json(if created { 201 } else { 200 }, &out))
}

/// `DELETE /organizations/{fiscalCode}/broadcast-stations/{stationId}`. Deliveries already
/// created for the station keep their copy of it.
pub async fn delete_station(on: OnCreditor<'_>, id: &str) -> Result<Reply, Problem> {
    let station_id = station_id(id)?;
    let org = on.org();
    on.ctx
        .store
        .delete_broadcast_station(on.creditor.fiscal_code.clone(), station_id)
        .await
        .map_err(not_found_as(|| {
            not_found(format!("organization {org} has no broadcast station {id}"))
        }))?;
    Ok(Reply::empty(204))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryOut {
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

fn delivery_out(d: Delivery) -> DeliveryOut {
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
pub async fn list_deliveries(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let q = Query::parse(query, &["state", "page", "limit"])?;
    let state = delivery_state(q.get("state")).map_err(bad_request)?;
    let page = q.page()?;
    let listed = on
        .ctx
        .store
        .list_deliveries(Some(on.creditor.fiscal_code.clone()), state, page)
        .await?;
    Ok(Reply::json(200, &paged(listed, delivery_out)))
}

/// `POST /organizations/{fiscalCode}/deliveries/{id}/redeliver`: the delivery becomes PENDING
/// again and is attempted by the retry worker at its next round, with a fresh attempt count.
pub async fn redeliver(on: OnCreditor<'_>, id: &str) -> Result<Reply, Problem> {
    let (ctx, org) = (on.ctx, on.org());
    let Ok(id) = id.parse::<i64>() else {
        return Err(bad_request(format!("id: '{id}' must be a delivery number")));
    };
    let delivery = ctx
        .store
        .redeliver(Some(on.creditor.fiscal_code.clone()), id, ctx.clock.now())
        .await
        .map_err(not_found_as(|| {
            not_found(format!(
                "no delivery {id} to a station of organization {org}"
            ))
        }))?;
    Ok(Reply::json(200, &delivery_out(delivery)))
}
