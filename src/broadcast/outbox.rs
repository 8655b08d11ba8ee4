//! Delivering receipts from the outbox. A receipt's deliveries are created in its own
//! transaction; [`Broadcaster::deliver_now`] attempts them in parallel while the Node waits,
//! within the configured budget, and the retry worker ([`Broadcaster::spawn_worker`]) takes
//! whatever is still PENDING when it falls due, with exponential backoff, across restarts.
//! Every attempt's result is recorded; a delivery is made at least once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::{AttemptOutcome, StationClient};
use crate::config::Broadcast;
use crate::context::Clock;
use crate::domain::broadcast::MAX_STATION_TIMEOUT;
use crate::domain::receipt::{Receipt, SendRtRequest};
use crate::store::{AttemptRecord, DeliveryTarget, Store};
use crate::xml::broadcast::send_rt_request;
use crate::xml::envelope::read_envelope;
use crate::xml::receipts::{decode_send_rt, decode_send_rt_v2};

/// How many deliveries the worker takes and attempts at once.
const WORKER_BATCH: u32 = 32;

#[derive(Clone)]
pub struct Broadcaster {
    store: Arc<dyn Store>,
    client: StationClient,
    config: Broadcast,
    clock: Clock,
}

impl Broadcaster {
    pub fn new(store: Arc<dyn Store>, config: Broadcast, clock: Clock) -> Broadcaster {
        Broadcaster {
            store,
            client: StationClient::new(),
            config,
            clock,
        }
    }

    /// Writes the configured stations into the routing table.
    pub async fn seed_stations(&self) -> Result<(), String> {
        for station in &self.config.stations {
            self.store
                .put_broadcast_station(station.clone())
                .await
                .map_err(|e| format!("broadcast station {}: {e}", station.station_id))?;
        }
        Ok(())
    }

    /// Attempts a just-acquired receipt's deliveries in parallel and returns when they have all
    /// been answered or the budget is spent; attempts still running then finish in the
    /// background. Results are recorded in the background too: the Node's answer does not wait
    /// for that commit, and a result lost to a crash only means one more (at-least-once) attempt.
    pub async fn deliver_now(&self, receipt: Receipt, deliveries: Vec<DeliveryTarget>) {
        if deliveries.is_empty() {
            return;
        }
        let receipt = Arc::new(receipt);
        let mut attempts = tokio::task::JoinSet::new();
        for target in deliveries {
            let this = self.clone();
            let receipt = receipt.clone();
            attempts.spawn(async move {
                let id = target.id;
                let record = this.call(&receipt, &target).await;
                tokio::spawn(async move { this.record(id, record).await });
            });
        }
        let all_done = async { while attempts.join_next().await.is_some() {} };
        if tokio::time::timeout(self.config.budget, all_done)
            .await
            .is_err()
        {
            tracing::debug!("broadcast budget spent; remaining attempts go on in the background");
            attempts.detach_all();
        }
    }

    /// One attempt of one delivery, with its result recorded.
    async fn attempt(&self, receipt: &Receipt, target: DeliveryTarget) {
        let record = self.call(receipt, &target).await;
        self.record(target.id, record).await;
    }

    /// Sends one delivery to its station; what to record of the answer.
    async fn call(&self, receipt: &Receipt, target: &DeliveryTarget) -> AttemptRecord {
        let station = &target.station;
        let outcome = match send_rt_request(&station.recipient_ids(), receipt, station.version) {
            Ok(body) => {
                self.client
                    .deliver(station.url.as_str(), station.version, body, station.timeout)
                    .await
            }
            // Routing marks these undeliverable before any attempt; a stored station can only
            // disagree if its row was edited by hand.
            Err(e) => AttemptOutcome::Failed(e.to_string()),
        };
        let attempts = target.attempts + 1;
        match outcome {
            AttemptOutcome::Delivered => AttemptRecord::Delivered,
            AttemptOutcome::Rejected {
                fault_code,
                description,
            } => {
                tracing::warn!(station = %station.station_id, fault = %fault_code, "broadcast station rejected a receipt");
                AttemptRecord::Rejected {
                    fault_code,
                    description,
                }
            }
            AttemptOutcome::Failed(error) => {
                tracing::info!(station = %station.station_id, attempts, error = %error, "receipt delivery failed");
                match self.config.retry.next_delay(attempts) {
                    Some(delay) => AttemptRecord::Retry {
                        error,
                        next_attempt_at: self.clock.now() + chrono_duration(delay),
                    },
                    None => AttemptRecord::GiveUp { error },
                }
            }
        }
    }

    async fn record(&self, delivery: i64, record: AttemptRecord) {
        if let Err(e) = self
            .store
            .record_attempt(delivery, record, self.clock.now())
            .await
        {
            // The delivery stays PENDING: it is attempted again once its lease ends.
            tracing::error!(error = %e, delivery, "could not record a delivery attempt");
        }
    }

    /// One round of the retry worker: takes the deliveries due now and attempts them; returns
    /// how many it took.
    pub async fn retry_due(&self) -> usize {
        let now = self.clock.now();
        let lease = now + chrono_duration(MAX_STATION_TIMEOUT + Duration::from_secs(5));
        let claimed = match self.store.claim_deliveries(now, lease, WORKER_BATCH).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the delivery outbox");
                return 0;
            }
        };
        let count = claimed.len();
        let mut attempts = tokio::task::JoinSet::new();
        for c in claimed {
            let this = self.clone();
            attempts.spawn(async move {
                match stored_receipt(&c.document) {
                    Ok(request) => this.attempt(&request.forwarded_receipt(), c.target).await,
                    Err(e) => {
                        tracing::error!(delivery = c.target.id, "stored receipt unreadable: {e}");
                        let record = AttemptRecord::GiveUp {
                            error: format!("the stored receipt cannot be read: {e}"),
                        };
                        let _ = this
                            .store
                            .record_attempt(c.target.id, record, this.clock.now())
                            .await;
                    }
                }
            });
        }
        while attempts.join_next().await.is_some() {}
        count
    }

    /// Runs the retry worker until the returned handle is stopped.
    pub fn spawn_worker(&self) -> Worker {
        let (stop, mut stopped) = watch::channel(false);
        let this = self.clone();
        let task = tokio::spawn(async move {
            loop {
                // A full batch means more may be due: go again without waiting.
                let full = this.retry_due().await == WORKER_BATCH as usize;
                if full {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(this.config.poll_interval) => {}
                    _ = stopped.changed() => break,
                }
                if *stopped.borrow() {
                    break;
                }
            }
        });
        Worker { stop, task }
    }
}

/// The running retry worker.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Stops taking deliveries; attempts in progress are left to finish or to be retried.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The receipt of a stored paSendRT(V2) document, as it was parsed when it arrived.
fn stored_receipt(document: &[u8]) -> Result<SendRtRequest, String> {
    let payload = read_envelope(document).map_err(|e| e.to_string())?;
    let decode = match payload.name.as_str() {
        "paSendRTReq" => decode_send_rt,
        "paSendRTV2Request" => decode_send_rt_v2,
        other => return Err(format!("unexpected element {other}")),
    };
    decode(&payload.root).map_err(|e| e.to_string())
}
