//! Attempt results, written in batches. Under load, receipts' first attempts end within moments
//! of one another; written one by one, each result would be a job of its own on the store's one
//! writer, which every receipt passes through. Results that arrive while a batch is being
//! written go together in the next one. Whoever records still waits until its result is
//! stored, as if it had written it alone.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::store::{AttemptRecord, Store, StoreError};

/// The most results written in one batch.
const MAX_BATCH: usize = 256;

type Queued = (i64, AttemptRecord, oneshot::Sender<Result<(), StoreError>>);

#[derive(Clone)]
pub struct Recorder {
    store: Arc<dyn Store>,
    clock: Clock,
    /// Started with the first result, on the runtime that records it.
    queue: Arc<OnceLock<mpsc::UnboundedSender<Queued>>>,
}

impl Recorder {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Recorder {
        Recorder {
            store,
            clock,
            queue: Arc::new(OnceLock::new()),
        }
    }

    /// Records the result of an attempt of `delivery`, once it is stored.
    pub async fn record(&self, delivery: i64, record: AttemptRecord) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| self.start());
        let (stored, answer) = oneshot::channel();
        match queue.send((delivery, record, stored)) {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "the attempt's result was not written: the gateway is stopping".into(),
                ))
            }),
            // The runtime that ran the batches is gone: written alone.
            Err(mpsc::error::SendError((delivery, record, _))) => {
                self.store
                    .record_attempts(vec![(delivery, record)], self.clock.now())
                    .await
            }
        }
    }

    fn start(&self) -> mpsc::UnboundedSender<Queued> {
        let (queue, mut queued) = mpsc::unbounded_channel::<Queued>();
        let (store, clock) = (self.store.clone(), self.clock);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while queued.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (records, waiting): (Vec<_>, Vec<_>) = batch
                    .drain(..)
                    .map(|(delivery, record, stored)| ((delivery, record), stored))
                    .unzip();
                let written = store.record_attempts(records, clock.now()).await;
                for stored in waiting {
                    let _ = stored.send(written.clone());
                }
            }
        });
        queue
    }
}
