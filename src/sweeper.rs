//! The status sweeper: a background task that stores the statuses time has given positions
//! (PUBLISHED -> VALID, -> EXPIRED) by the domain's one rule (`DebtPosition::settle`). Reads
//! compute those statuses anyway; the sweeper keeps the stored ones close behind, for whatever
//! reads the store directly. It runs at start, then at the configured interval.

use std::sync::Arc;
use std::time::Duration;

use crate::background::{After, Background};
use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// Positions settled per store transaction.
const BATCH: u32 = 500;

/// Settles every position time has moved as of now, a batch at a time; returns how many.
pub async fn sweep(store: &dyn Store, clock: Clock) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let changed = store.sweep_statuses(clock.now(), BATCH).await?;
        total += u64::from(changed);
        // A full batch means more may be waiting.
        if changed < BATCH {
            return Ok(total);
        }
    }
}

/// Starts sweeping now and every `interval` until the returned task is stopped, on one instance
/// of those sharing the store at a time; stopping waits for the sweep in progress, if any.
pub fn spawn(store: Arc<dyn Store>, clock: Clock, interval: Duration) -> Background {
    Background::spawn_led(store.clone(), "sweeper", interval, None, move |_| {
        let store = store.clone();
        async move {
            match sweep(store.as_ref(), clock).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(positions = n, "statuses changed by time stored"),
                Err(e) => tracing::error!(error = %e, "status sweep failed"),
            }
            After::Pause
        }
    })
}
