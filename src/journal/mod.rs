//! The event journal's writer: entries are handed over without waiting, through a bounded
//! queue, to one task that appends them to the store in batches (one transaction each), each
//! batch gathered for up to [`LINGER`] so that a busy gateway commits a few large batches a
//! second rather than hundreds of small ones. The Node's answer, a REST answer or a delivery
//! never waits for the journal; when the queue is full the entry is dropped and counted
//! (docs/decisions.md), and [`Journal::flush`] at shutdown writes whatever is queued. What each
//! entry holds is built in [`entries`].

pub mod entries;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use self::entries::delivery_entry;
use crate::domain::broadcast::BroadcastStation;
use crate::domain::journal::JournalEntry;
use crate::store::{AttemptRecord, DeliveredReceipt, Store};

pub use entries::{PrimitiveEvent, RestCall};

/// Entries waiting to be written, at most: some seconds of a busy gateway, under 6 MB (the
/// queue takes memory as it fills, not at start).
const QUEUE: usize = 16_384;

/// The most entries written in one transaction.
const MAX_BATCH: usize = 2048;

/// How long a batch may gather entries after its first: the longest an entry waits before it
/// is written, unless a flush asks for it. Each batch is one commit (on PostgreSQL, an fsync)
/// and a wake-up of the store's writer, whatever its size (docs/performance.md).
const LINGER: Duration = Duration::from_millis(200);

// Entries are nearly all of the traffic: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Entry(JournalEntry),
    /// Answered once every entry queued before it is written (or lost).
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    enabled: bool,
    /// How many entries may wait.
    capacity: usize,
    /// Started with the first entry, on the runtime that records it.
    queue: OnceLock<mpsc::Sender<Queued>>,
    /// Entries given up: the queue was full, or the store refused their batch.
    lost: AtomicU64,
}

impl Journal {
    pub fn new(store: Arc<dyn Store>, enabled: bool) -> Journal {
        Journal::with_queue(store, enabled, QUEUE)
    }

    fn with_queue(store: Arc<dyn Store>, enabled: bool, capacity: usize) -> Journal {
        Journal {
            inner: Arc::new(Inner {
                store,
                enabled,
                capacity,
                queue: OnceLock::new(),
                lost: AtomicU64::new(0),
            }),
        }
    }

    /// Whether entries are recorded: callers skip building them when not.
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Hands `entry` to the writer and returns at once; a full queue drops it.
    pub fn record(&self, entry: JournalEntry) {
        if !self.inner.enabled {
            return;
        }
        let queue = self.inner.queue.get_or_init(|| self.start());
        if let Err(e) = queue.try_send(Queued::Entry(entry)) {
            let lost = self.inner.lost.fetch_add(1, Ordering::Relaxed) + 1;
            // The first and then one in a thousand: a full queue must not flood the log too.
            if lost % 1000 == 1 {
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "the journal's queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the journal's writer has stopped",
                };
                tracing::warn!(lost, "event journal entry dropped: {why}");
            }
        }
    }

    /// Entries lost since start: dropped on a full queue or refused by the store.
    pub fn lost(&self) -> u64 {
        self.inner.lost.load(Ordering::Relaxed)
    }

    /// Entries (and flushes) waiting in the queue now: a queue staying near its capacity means
    /// the store cannot keep up, and entries are about to be dropped.
    pub fn queued(&self) -> usize {
        self.inner
            .queue
            .get()
            .map_or(0, |queue| queue.max_capacity() - queue.capacity())
    }

    /// Waits until every entry recorded before this call is written (or lost). At shutdown,
    /// after the server and the workers have stopped; in tests, before reading the journal.
    pub async fn flush(&self) {
        let Some(queue) = self.inner.queue.get() else {
            return;
        };
        let (done, written) = oneshot::channel();
        if queue.send(Queued::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    fn start(&self) -> mpsc::Sender<Queued> {
        let (queue, mut queued) = mpsc::channel::<Queued>(self.inner.capacity);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let mut received = Vec::with_capacity(MAX_BATCH);
            let mut batch = Vec::with_capacity(MAX_BATCH);
            let mut flushes = Vec::new();
            while gather(&mut queued, &mut received, &mut batch, &mut flushes).await {
                if !batch.is_empty() {
                    write(&inner, std::mem::take(&mut batch)).await;
                }
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        queue
    }
}

impl Journal {
    /// A SOAP primitive answered with HTTP `status`, `took` after it arrived.
    pub fn primitive(&self, event: PrimitiveEvent, status: u16, at: NaiveDateTime, took: Duration) {
        if self.enabled() {
            self.record(event.entry(status, at, took));
        }
    }

    /// Attempt number `attempt` (from 1) of a delivery of `receipt` to `station`.
    pub fn delivery(
        &self,
        station: &BroadcastStation,
        receipt: &DeliveredReceipt,
        attempt: u32,
        result: &AttemptRecord,
        at: NaiveDateTime,
        took: Duration,
    ) {
        if self.enabled() {
            self.record(delivery_entry(station, receipt, attempt, result, at, took));
        }
    }

    /// A REST call on a creditor's path, answered with `status`.
    pub fn rest(&self, call: RestCall<'_>, status: u16, at: NaiveDateTime, took: Duration) {
        if self.enabled() {
            self.record(call.entry(status, at, took));
        }
    }
}

/// Waits for the next batch: from its first item, until [`MAX_BATCH`] entries, a flush, or
/// [`LINGER`]. False once the queue is closed and drained.
async fn gather(
    queued: &mut mpsc::Receiver<Queued>,
    received: &mut Vec<Queued>,
    batch: &mut Vec<JournalEntry>,
    flushes: &mut Vec<oneshot::Sender<()>>,
) -> bool {
    if queued.recv_many(received, MAX_BATCH).await == 0 {
        return false;
    }
    let until = tokio::time::Instant::now() + LINGER;
    loop {
        for item in received.drain(..) {
            match item {
                Queued::Entry(entry) => batch.push(entry),
                Queued::Flush(done) => flushes.push(done),
            }
        }
        let room = MAX_BATCH.saturating_sub(batch.len());
        if room == 0 || !flushes.is_empty() {
            return true;
        }
        match tokio::time::timeout_at(until, queued.recv_many(received, room)).await {
            Ok(0) | Err(_) => return true,
            Ok(_) => {}
        }
    }
}

async fn write(inner: &Inner, batch: Vec<JournalEntry>) {
    let count = batch.len() as u64;
    if let Err(e) = inner.store.append_journal(batch).await {
        let lost = inner.lost.fetch_add(count, Ordering::Relaxed) + count;
        tracing::error!(error = %e, entries = count, lost, "event journal entries not written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FiscalCodePA;
    use crate::domain::journal::{EventKind, JournalFilter, Outcome};
    use crate::domain::position::tests::at;
    use crate::store::PageRequest;
    use crate::store::sqlite::SqliteStore;

    fn entry(n: u64) -> JournalEntry {
        let mut e = JournalEntry::new(EventKind::Rest, at(2026, 1, 1), Outcome::Ok, n);
        e.organization = Some("77777777777".into());
        e
    }

    async fn listed(store: &dyn Store) -> u64 {
        let org = FiscalCodePA::parse("77777777777").unwrap();
        let page = PageRequest { page: 0, limit: 1 };
        store
            .list_journal(org, JournalFilter::default(), page)
            .await
            .unwrap()
            .items_found
    }

    #[tokio::test]
    async fn recorded_entries_are_written_by_the_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let journal = Journal::new(store.clone(), true);
        journal.flush().await;
        for n in 0..1500 {
            journal.record(entry(n));
        }
        journal.flush().await;
        assert_eq!(listed(store.as_ref()).await, 1500);
        assert_eq!(journal.lost(), 0);
    }

    #[tokio::test]
    async fn entries_are_written_after_the_linger_without_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let journal = Journal::new(store.clone(), true);
        for n in 0..3 {
            journal.record(entry(n));
            tokio::task::yield_now().await;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while listed(store.as_ref()).await < 3 {
            assert!(std::time::Instant::now() < deadline, "never written");
            tokio::time::sleep(LINGER / 5).await;
        }
        assert_eq!(journal.lost(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let journal = Journal::with_queue(store.clone(), true, 4);
        // On this one-thread runtime the writer cannot run before the next await: four wait
        // in the queue, the other six find it full.
        assert_eq!(journal.queued(), 0);
        for n in 0..10 {
            journal.record(entry(n));
        }
        assert_eq!(journal.lost(), 6);
        assert_eq!(journal.queued(), 4);
        journal.flush().await;
        assert_eq!(listed(store.as_ref()).await, 4);
        assert_eq!(journal.queued(), 0);
    }

    #[tokio::test]
    async fn a_disabled_journal_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let journal = Journal::new(store.clone(), false);
        journal.record(entry(1));
        journal.flush().await;
        assert_eq!(listed(store.as_ref()).await, 0);
    }

    #[tokio::test]
    async fn entries_the_store_refuses_are_counted_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let journal = Journal::new(store.clone(), true);
        store.close().await.unwrap();
        journal.record(entry(1));
        journal.record(entry(2));
        journal.flush().await;
        assert_eq!(journal.lost(), 2);
    }
}
