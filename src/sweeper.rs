//! The status sweeper: a background task that stores the statuses time has given positions
//! (PUBLISHED -> VALID, -> EXPIRED) by the domain's one rule (`DebtPosition::settle`). Reads
//! compute those statuses anyway; the sweeper keeps the stored ones close behind, for whatever
//! reads the store directly. It runs at start, then at the configured interval.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

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

/// The running sweeper.
pub struct Sweeper {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Sweeper {
    /// Starts sweeping now and every `interval` until stopped.
    pub fn spawn(store: Arc<dyn Store>, clock: Clock, interval: Duration) -> Sweeper {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                match sweep(store.as_ref(), clock).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(positions = n, "statuses changed by time stored"),
                    Err(e) => tracing::error!(error = %e, "status sweep failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stopped.changed() => break,
                }
                if *stopped.borrow() {
                    break;
                }
            }
        });
        Sweeper { stop, task }
    }

    /// Stops after the sweep in progress, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FiscalCodePA;
    use crate::domain::position::tests::{option, position};
    use crate::domain::position::{Iupd, PositionStatus};
    use crate::store::PositionKey;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn sweeps_more_than_a_batch_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let now = Clock::system().now();
        let published = now - chrono::Duration::days(2);
        let positions = (0..BATCH as u64 + 3)
            .map(|n| {
                let mut p = position(vec![option(
                    n + 1,
                    100,
                    now + chrono::Duration::days(9),
                    false,
                )]);
                p.iupd = Iupd::parse(&format!("S-{n}")).unwrap();
                p.validity_date = Some(now - chrono::Duration::days(1));
                p.apply_publication(published);
                assert_eq!(p.status, PositionStatus::Published);
                p
            })
            .collect();
        store.create_positions(positions).await.unwrap().unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let sweeper = Sweeper::spawn(store.clone(), Clock::system(), Duration::from_secs(3600));
        let org = FiscalCodePA::parse("77777777777").unwrap();
        let last = PositionKey::Iupd(Iupd::parse(&format!("S-{}", BATCH + 2)).unwrap());
        let mut settled = false;
        for _ in 0..100 {
            let p = store
                .get_position(org.clone(), last.clone())
                .await
                .unwrap()
                .unwrap();
            if p.status == PositionStatus::Valid {
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(settled, "the sweeper stored VALID beyond the first batch");
        sweeper.stop().await;
        assert_eq!(sweep(store.as_ref(), Clock::system()).await, Ok(0));
    }
}
