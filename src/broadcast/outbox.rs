//! Delivering receipts from the outbox. A receipt's deliveries are created in its own
//! transaction, each with the request it sends ([`super::forms`]); once it is committed,
//! [`Broadcaster::start`] attempts them in the background, beside the Node's answer and never
//! before it, and the retry worker ([`Broadcaster::spawn_worker`]) takes whatever is still
//! PENDING when it falls due, with exponential backoff, across restarts. Every attempt sends the
//! stored request as is: the receipt is not read again. Stations that are down are left to the
//! worker (see [`super::health`]). Every attempt's result is recorded; a delivery is made at
//! least once.

use crate::observe::metrics::{AttemptResult, metrics};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::client::{AttemptOutcome, StationClient};
use super::forms::{FormGuess, ReceiptForms};
use super::health::{StationHealth, StationKey};
use super::recorder::Recorder;
use crate::background::{After, Background};
use crate::clock::Clock;
use crate::config::Broadcast;
use crate::domain::FiscalCodePA;
use crate::domain::broadcast::{BroadcastStation, StationUrl, attempt_limit};
use crate::domain::destination::RefusedDestination;
use crate::domain::receipt::Receipt;
use crate::journal::Journal;
use crate::store::{AttemptRecord, DeliveryTarget, Store, StoreError};
use crate::xml::receipts::decode_stored_send_rt;

/// How many deliveries the worker takes and attempts at once.
const WORKER_BATCH: u32 = 32;

/// How many deliveries one round of [`Broadcaster::fill_in_requests`] reads.
const FILL_BATCH: u32 = 500;

#[derive(Clone)]
pub struct Broadcaster {
    store: Arc<dyn Store>,
    client: StationClient,
    config: Broadcast,
    clock: Clock,
    health: StationHealth,
    guess: FormGuess,
    recorder: Recorder,
    journal: Journal,
}

impl Broadcaster {
    pub fn new(
        store: Arc<dyn Store>,
        config: Broadcast,
        clock: Clock,
        journal: Journal,
    ) -> Broadcaster {
        Broadcaster {
            journal,
            recorder: Recorder::new(store.clone(), clock),
            store,
            client: StationClient::new(config.destinations.clone()),
            health: StationHealth::new(config.max_in_flight_per_station),
            config,
            clock,
            guess: FormGuess::default(),
        }
    }

    /// Whether receipts may be sent to a station at `url` (see [`StationClient::vet`]).
    pub async fn vet_url(&self, url: &StationUrl) -> Result<(), RefusedDestination> {
        self.client.vet(url).await
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

    /// `receipt`'s forms, with those its deliveries are expected to send already written.
    pub fn forms(&self, receipt: Arc<Receipt>) -> ReceiptForms {
        self.guess.forms(receipt)
    }

    /// Starts a just-acquired receipt's deliveries in the background and returns at once: the
    /// Node's answer never waits for a station. A delivery to a station that is down, or that
    /// has too many attempts running already, is left to the retry worker; so is one whose
    /// attempt is lost to a crash (at least once).
    pub fn start(&self, creditor: &FiscalCodePA, deliveries: Vec<DeliveryTarget>) {
        self.guess.remember(creditor, &deliveries);
        for target in deliveries {
            let station = StationKey::of(&target.station);
            let Some(permit) = self.health.try_start(&station) else {
                tracing::debug!(station = %target.station.station_id, "station down or busy: delivery left to the retry worker");
                continue;
            };
            let this = self.clone();
            tokio::spawn(async move {
                this.attempt(target).await;
                drop(permit);
            });
        }
    }

    /// One attempt of one delivery, with its result recorded and the station's health updated.
    async fn attempt(&self, target: DeliveryTarget) {
        let DeliveryTarget {
            id: delivery,
            station,
            attempts,
            request,
            receipt,
        } = target;
        let started = std::time::Instant::now();
        let (record, answered) = self.call(&station, attempts, request).await;
        if let Some(m) = metrics() {
            let result = match (&record, answered) {
                (AttemptRecord::Delivered, _) => AttemptResult::Delivered,
                (AttemptRecord::Rejected { .. }, _) => AttemptResult::Rejected,
                (_, None) => AttemptResult::Refused,
                _ => AttemptResult::Failed,
            };
            m.attempt(
                station.organization.as_str(),
                station.station_id.as_str(),
                result,
            );
        }
        let (now, took) = (self.clock.now(), started.elapsed());
        self.journal
            .delivery(&station, &receipt, attempts + 1, &record, now, took);
        if let Some(answered) = answered
            && self.health.record(&StationKey::of(&station), answered)
        {
            let id = &station.station_id;
            if answered {
                tracing::info!(station = %id, "broadcast station answers again");
            } else {
                tracing::warn!(station = %id, "broadcast station down: its deliveries go to the retry worker until it answers");
            }
        }
        self.record(delivery, record).await;
    }

    /// Sends a delivery's request to its station, after `attempts` made; what to record of the
    /// result, and whether the station answered (None: nothing learnt of its health).
    async fn call(
        &self,
        station: &BroadcastStation,
        attempts: u32,
        request: Vec<u8>,
    ) -> (AttemptRecord, Option<bool>) {
        let within = attempt_limit(station, self.config.lease);
        let outcome = self
            .client
            .deliver(&station.url, station.version, request, within)
            .await;
        let attempts = attempts + 1;
        match outcome {
            AttemptOutcome::Delivered => (AttemptRecord::Delivered, Some(true)),
            AttemptOutcome::Rejected {
                fault_code,
                description,
            } => {
                tracing::warn!(station = %station.station_id, fault = %fault_code, "broadcast station rejected a receipt");
                let record = AttemptRecord::Rejected {
                    fault_code,
                    description,
                };
                (record, Some(true))
            }
            AttemptOutcome::Refused(error) => {
                tracing::warn!(station = %station.station_id, error = %error, "receipt delivery refused, not retried");
                (AttemptRecord::GiveUp { error }, None)
            }
            AttemptOutcome::Failed(error) => {
                tracing::info!(station = %station.station_id, attempts, error = %error, "receipt delivery failed");
                let record = match self.config.retry.next_delay(attempts) {
                    Some(delay) => AttemptRecord::Retry {
                        error,
                        next_attempt_at: self.clock.now() + chrono_duration(delay),
                    },
                    None => AttemptRecord::GiveUp { error },
                };
                (record, Some(false))
            }
        }
    }

    async fn record(&self, delivery: i64, record: AttemptRecord) {
        if let Err(e) = self.recorder.record(delivery, record).await {
            // The delivery stays PENDING: it is attempted again once its lease ends.
            tracing::error!(error = %e, delivery, "could not record a delivery attempt");
        }
    }

    /// One round of the retry worker: takes the deliveries due now and attempts them; returns
    /// how many it took. Of a station that is down, one delivery is attempted (a probe); the
    /// others it took stay leased, so they come back when the lease ends, no attempt counted.
    pub async fn retry_due(&self) -> usize {
        let now = self.clock.now();
        let lease = now + chrono_duration(self.config.lease);
        let claimed = match self.store.claim_deliveries(now, lease, WORKER_BATCH).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the delivery outbox");
                return 0;
            }
        };
        let count = claimed.len();
        let mut probed = HashSet::new();
        let mut attempts = tokio::task::JoinSet::new();
        for target in claimed {
            let station = StationKey::of(&target.station);
            if self.health.is_down(&station) && !probed.insert(station) {
                continue;
            }
            let this = self.clone();
            attempts.spawn(async move { this.attempt(target).await });
        }
        while attempts.join_next().await.is_some() {}
        count
    }

    /// Gives deliveries created before requests were stored with them the request their
    /// station is sent, written from their receipts' documents; a pending one whose document no
    /// longer reads is given up. Returns how many deliveries it read.
    pub async fn fill_in_requests(&self) -> Result<usize, StoreError> {
        let (mut after, mut read) = (0, 0);
        loop {
            let missing = self
                .store
                .deliveries_missing_request(after, FILL_BATCH)
                .await?;
            let Some(last) = missing.last() else {
                self.store.end_request_backfill().await?;
                return Ok(read);
            };
            after = last.id;
            read += missing.len();
            let requests = missing
                .into_iter()
                .map(|d| {
                    let request = decode_stored_send_rt(&d.document)
                        .map_err(|e| format!("the stored receipt cannot be read: {e}"))
                        .and_then(|sent| {
                            ReceiptForms::new(Arc::new(sent.forwarded_receipt()))
                                .request(&d.station)
                        });
                    if let Err(e) = &request {
                        tracing::error!(delivery = d.id, "no request for the delivery: {e}");
                    }
                    (d.id, request)
                })
                .collect();
            self.store
                .set_delivery_requests(requests, self.clock.now())
                .await?;
        }
    }

    /// Runs the retry worker until the returned handle is stopped.
    pub fn spawn_worker(&self) -> Background {
        let this = self.clone();
        // Deliveries of a store written before requests were kept get theirs first: until then
        // they are not taken.
        let filled = Arc::new(AtomicBool::new(false));
        Background::spawn(self.config.poll_interval, None, move |_| {
            let this = this.clone();
            let filled = filled.clone();
            async move {
                if !filled.load(Ordering::Relaxed) && this.fill_in_older_requests().await {
                    filled.store(true, Ordering::Relaxed);
                }
                // A full batch means more may be due.
                if this.retry_due().await == WORKER_BATCH as usize {
                    After::Again
                } else {
                    After::Pause
                }
            }
        })
    }

    /// [`Broadcaster::fill_in_requests`], logged; false when it has to be tried again.
    async fn fill_in_older_requests(&self) -> bool {
        match self.fill_in_requests().await {
            Ok(0) => true,
            Ok(read) => {
                tracing::info!(
                    deliveries = read,
                    "requests written for deliveries created before they were stored"
                );
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot write the requests of older deliveries");
                false
            }
        }
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
