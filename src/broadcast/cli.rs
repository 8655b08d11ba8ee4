//! `gpd-gateway deliveries list|redeliver`: the outbox for operators, read and changed directly
//! in the store (the gateway may be running: the retry worker picks a re-queued delivery up at
//! its next round).

use std::fmt::Write as _;

use chrono::NaiveDateTime;

use crate::domain::FiscalCodePA;
use crate::domain::broadcast::DeliveryState;
use crate::store::{Delivery, PageRequest, Store};

fn line(d: &Delivery) -> String {
    let when = |t: Option<NaiveDateTime>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%dT%H:%M:%S").to_string(),
        )
    };
    format!(
        "{:>8}  {:<13} {:>3}  {}/{}  {}  {}/{}  {}  {}",
        d.id,
        d.state.as_str(),
        d.attempts,
        d.station.organization,
        d.station.station_id,
        d.receipt_id,
        d.notice_organization,
        d.iuv,
        when(d.next_attempt_at.or(d.delivered_at)),
        d.last_error.as_deref().unwrap_or("-"),
    )
}

/// The deliveries (newest first), one per line under a header, and a closing count.
pub async fn list(
    store: &dyn Store,
    organization: Option<FiscalCodePA>,
    state: Option<DeliveryState>,
    page: PageRequest,
) -> Result<String, String> {
    let found = store
        .list_deliveries(organization, state, page)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::from(
        "      ID  STATE         TRY  RECIPIENT/STATION  RECEIPT  CREDITOR/IUV  NEXT-OR-DONE  LAST-ERROR\n",
    );
    for d in &found.items {
        writeln!(out, "{}", line(d)).expect("writing to a String");
    }
    writeln!(
        out,
        "{} of {} deliveries (page {} of {})",
        found.items.len(),
        found.items_found,
        found.request.page + 1,
        found.total_pages().max(1)
    )
    .expect("writing to a String");
    Ok(out)
}

/// Re-queues one delivery; returns its new line.
pub async fn redeliver(store: &dyn Store, id: i64, now: NaiveDateTime) -> Result<String, String> {
    store
        .redeliver(None, id, now)
        .await
        .map(|d| line(&d))
        .map_err(|e| format!("delivery {id}: {e}"))
}
