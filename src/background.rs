//! A task that works in rounds beside the server until it is stopped: the status sweeper, the
//! upload worker and the delivery retry worker. A round runs at start, then after a pause, or
//! at once when woken or when the last round says more is waiting. Stopping lets the round in
//! progress finish, so that nothing is left half done.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Whether more work is waiting after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Wait for the pause (or a wake-up) before the next round.
    Pause,
    /// A full batch: more may be waiting, so go again without pausing.
    Again,
}

/// The running task; [`Background::stop`] ends it.
pub struct Background {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Background {
    /// Runs `round` now and again after each `pause` (or when `wake` is notified) until
    /// stopped. A round is given the stop signal, to end early between steps of a long round.
    pub fn spawn<F, R>(pause: Duration, wake: Option<Arc<Notify>>, mut round: F) -> Background
    where
        F: FnMut(watch::Receiver<bool>) -> R + Send + 'static,
        R: Future<Output = After> + Send + 'static,
    {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let after = round(stopped.clone()).await;
                // Checked before going again: a backlog must not keep the task from stopping.
                if *stopped.borrow() {
                    break;
                }
                if after == After::Again {
                    continue;
                }
                let woken = async {
                    match &wake {
                        Some(wake) => wake.notified().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = woken => {}
                    _ = tokio::time::sleep(pause) => {}
                    _ = stopped.changed() => break,
                }
                if *stopped.borrow() {
                    break;
                }
            }
        });
        Background { stop, task }
    }

    /// Asks the task to stop and waits for the round in progress, if any, to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn rounds_run_at_start_when_woken_and_again_until_stopped() {
        let rounds = Arc::new(AtomicU32::new(0));
        let wake = Arc::new(Notify::new());
        let counted = rounds.clone();
        let task = Background::spawn(Duration::from_secs(3600), Some(wake.clone()), move |_| {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            // The first two rounds find a full batch: the third follows without a pause.
            async move { if n < 3 { After::Again } else { After::Pause } }
        });
        while rounds.load(Ordering::SeqCst) < 3 {
            tokio::task::yield_now().await;
        }
        wake.notify_one();
        while rounds.load(Ordering::SeqCst) < 4 {
            tokio::task::yield_now().await;
        }
        task.stop().await;
        // Stopped while pausing: no round after the stop.
        assert_eq!(rounds.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_backlog_does_not_keep_it_from_stopping() {
        let task = Background::spawn(Duration::from_secs(3600), None, |_| async {
            tokio::task::yield_now().await;
            After::Again
        });
        tokio::time::timeout(Duration::from_secs(5), task.stop())
            .await
            .expect("stopped");
    }
}
