//! `gpd-gateway deliveries list|redeliver`: the outbox for operators, read and changed directly
//! in the store (the gateway may be running: the retry worker picks a re-queued delivery up at
//! its next round).

use chrono::NaiveDateTime;

use crate::domain::FiscalCodePA;
use crate::domain::broadcast::DeliveryState;
use crate::listing::{table, when};
use crate::store::{Delivery, PageRequest, Store};

fn line(d: &Delivery) -> String {
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
    let header = "      ID  STATE         TRY  RECIPIENT/STATION  RECEIPT  CREDITOR/IUV  NEXT-OR-DONE  LAST-ERROR";
    Ok(table(header, &found, line, "deliveries"))
}

/// Re-queues one delivery; returns its new line.
pub async fn redeliver(store: &dyn Store, id: i64, now: NaiveDateTime) -> Result<String, String> {
    store
        .redeliver(None, id, now)
        .await
        .map(|d| line(&d))
        .map_err(|e| format!("delivery {id}: {e}"))
}
