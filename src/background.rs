//! A task that works in rounds beside the server until it is stopped: the status sweeper, the
//! upload worker and the delivery retry worker. A round runs at start, then after a pause, or
//! at once when woken or when the last round says more is waiting. Stopping lets the round in
//! progress finish, so that nothing is left half done. A job that one instance at a time is to
//! run ([`Background::spawn_led`]) runs its rounds only while it holds the store's lead.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify, watch};
use tokio::task::JoinHandle;

use crate::store::{Leadership, Store};

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

    /// [`Background::spawn`] for a job that one instance at a time runs: each round first makes
    /// sure this instance leads `job` (keeping the lead it has, or taking it when free), and is
    /// skipped when another instance does. When the leader dies, another takes over at its
    /// next round.
    pub fn spawn_led<F, R>(
        store: Arc<dyn Store>,
        job: &'static str,
        pause: Duration,
        wake: Option<Arc<Notify>>,
        round: F,
    ) -> Background
    where
        F: FnMut(watch::Receiver<bool>) -> R + Send + 'static,
        R: Future<Output = After> + Send + 'static,
    {
        // The lead and the round together: a round is made only when the lead is held.
        let led = Arc::new(Mutex::new((
            Leader {
                store,
                job,
                lead: None,
            },
            round,
        )));
        Background::spawn(pause, wake, move |stopped| {
            let led = led.clone();
            async move {
                let work = {
                    let (leader, round) = &mut *led.lock().await;
                    if !leader.leads().await {
                        return After::Pause;
                    }
                    round(stopped)
                };
                work.await
            }
        })
    }

    /// Asks the task to stop and waits for the round in progress, if any, to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// A job's lead as one instance holds it, across rounds.
struct Leader {
    store: Arc<dyn Store>,
    job: &'static str,
    lead: Option<Leadership>,
}

impl Leader {
    /// Whether this instance leads the job now.
    async fn leads(&mut self) -> bool {
        let job = self.job;
        if let Some(lead) = &self.lead {
            if lead.holds().await {
                return true;
            }
            tracing::warn!(job, "lead of the job lost: another instance may take it");
            self.lead = None;
        }
        match self.store.lead(job).await {
            Ok(Some(lead)) => {
                tracing::info!(job, "this instance runs the job");
                self.lead = Some(lead);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(job, error = %e, "cannot ask for the lead of the job");
                false
            }
        }
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

    /// Waits until `count` reaches `n`.
    async fn reaches(count: &AtomicU32, n: u32) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while count.load(Ordering::SeqCst) < n {
            assert!(tokio::time::Instant::now() < deadline, "stuck at {count:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_led_job_runs_on_one_instance_and_passes_on_when_it_stops() {
        let Some((a, b)) = crate::store::postgres::testing::fresh_pair().await else {
            return;
        };
        let counted = |store: Arc<dyn Store>| {
            let rounds = Arc::new(AtomicU32::new(0));
            let count = rounds.clone();
            let task =
                Background::spawn_led(store, "job", Duration::from_millis(5), None, move |_| {
                    count.fetch_add(1, Ordering::SeqCst);
                    async { After::Pause }
                });
            (task, rounds)
        };
        let (first, first_rounds) = counted(Arc::new(a));
        reaches(&first_rounds, 1).await;
        let (second, second_rounds) = counted(Arc::new(b));
        // Many rounds of each, and only the leader's ran.
        let now = first_rounds.load(Ordering::SeqCst);
        reaches(&first_rounds, now + 20).await;
        assert_eq!(second_rounds.load(Ordering::SeqCst), 0);
        // Stopped, the leader lets go of its lead: the other takes the job over.
        first.stop().await;
        reaches(&second_rounds, 3).await;
        second.stop().await;
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
