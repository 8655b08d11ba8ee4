//! The status sweeper: a background task that stores the statuses time has given positions
//! (PUBLISHED -> VALID, -> EXPIRED) by the domain's one rule (`DebtPosition::settle`). Reads
//! compute those statuses anyway; the sweeper keeps the stored ones close behind, for whatever
//! reads the store directly. It also erases the personal data whose retention has ended:
//! debtors of positions past their retention date, payers and debtors of receipts older than
//! the configured period; and it prunes the event journal of entries older than its retention.
//! It runs at start, then at the configured interval.

use std::sync::Arc;
use std::time::Duration;

use crate::background::{After, Background};
use crate::clock::Clock;
use crate::domain::journal::retention_cutoff;
use crate::domain::personal_data::ReceiptRetention;
use crate::store::{Store, StoreError};
use crate::xml::redact::erase_subjects;

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

/// Erases the personal data whose retention has ended as of now, a batch at a time: debtors of
/// positions, then payers and debtors of receipts; returns how many of each.
pub async fn erase_expired(
    store: &dyn Store,
    clock: Clock,
    receipts: ReceiptRetention,
) -> Result<(u64, u64), StoreError> {
    let mut positions = 0;
    loop {
        let erased = store
            .erase_positions_past_retention(clock.now(), BATCH)
            .await?;
        positions += u64::from(erased);
        if erased < BATCH {
            break;
        }
    }
    let mut erased_receipts = 0;
    loop {
        let now = clock.now();
        // A document that cannot be read (it was read when received) is dropped whole.
        let redact = Box::new(|document: &[u8]| erase_subjects(document).unwrap_or_default());
        let erased = store
            .erase_receipts_received_before(receipts.received_before(now), now, redact, BATCH)
            .await?;
        erased_receipts += u64::from(erased);
        if erased < BATCH {
            return Ok((positions, erased_receipts));
        }
    }
}

/// Deletes the journal entries older than `months` calendar months, a batch per transaction;
/// returns how many.
pub async fn prune_journal(
    store: &dyn Store,
    clock: Clock,
    months: u32,
) -> Result<u64, StoreError> {
    let before = retention_cutoff(clock.now(), months);
    let mut total = 0;
    loop {
        let deleted = store.prune_journal(before, BATCH).await?;
        total += u64::from(deleted);
        if deleted < BATCH {
            return Ok(total);
        }
    }
}

/// Starts sweeping now and every `interval` until the returned task is stopped, on one instance
/// of those sharing the store at a time; stopping waits for the sweep in progress, if any.
/// Journal entries are kept `journal_months` months.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Clock,
    interval: Duration,
    receipts: ReceiptRetention,
    journal_months: u32,
) -> Background {
    Background::spawn_led(store.clone(), "sweeper", interval, None, move |_| {
        let store = store.clone();
        async move {
            match sweep(store.as_ref(), clock).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(positions = n, "statuses changed by time stored"),
                Err(e) => tracing::error!(error = %e, "status sweep failed"),
            }
            match erase_expired(store.as_ref(), clock, receipts).await {
                Ok((0, 0)) => {}
                Ok((positions, receipts)) => tracing::info!(
                    positions,
                    receipts,
                    "personal data past its retention erased"
                ),
                Err(e) => tracing::error!(error = %e, "erasure of personal data failed"),
            }
            match prune_journal(store.as_ref(), clock, journal_months).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(entries = n, "event journal entries past retention deleted")
                }
                Err(e) => tracing::error!(error = %e, "event journal pruning failed"),
            }
            After::Pause
        }
    })
}
