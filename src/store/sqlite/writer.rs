//! The single writer and its group commit. One thread owns the write connection; callers queue
//! jobs and await their answer. The thread takes everything queued, runs each job in its own
//! savepoint inside one IMMEDIATE transaction and commits once: a commit (an fsync) costs the
//! same for one job or hundreds, so under load the fsync is shared, and nobody is answered
//! before the transaction holding their change is durable.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::connection::unavailable;
use crate::store::StoreError;

/// The most jobs committed together; bounds the latency one transaction adds to its first job.
const MAX_BATCH: usize = 512;

/// Statements kept prepared on the writer's connection.
const WRITER_STATEMENTS: usize = 64;

/// Called after the commit with its result.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A queued write: runs inside the batch's transaction, or is told the batch could not start.
trait Job: Send {
    fn run(self: Box<Self>, conn: &Connection) -> Completion;
    fn fail(self: Box<Self>, error: StoreError);
}

struct Pending<T, F> {
    f: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(self: Box<Self>, conn: &Connection) -> Completion {
        let Pending { f, reply } = *self;
        let result = in_savepoint(conn, f);
        Box::new(move |commit| {
            // The caller may have gone away (request cancelled): the change stands regardless.
            let _ = reply.send(commit.and(result));
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// Runs `f` so that its failure (or panic) undoes only its own changes, not the batch's.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    statement(conn, "SAVEPOINT job")?;
    let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(unavailable("a write failed unexpectedly")));
    match &result {
        Ok(_) => statement(conn, "RELEASE job")?,
        Err(_) => {
            statement(conn, "ROLLBACK TO job")?;
            statement(conn, "RELEASE job")?;
        }
    }
    result
}

fn statement(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(|_| ())
        .map_err(unavailable)
}

enum Command {
    Job(Box<dyn Job>),
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// The handle callers use; the thread stops when it is closed or dropped.
pub(super) struct Writer {
    queue: Mutex<Option<mpsc::Sender<Command>>>,
}

impl Writer {
    /// Starts the writer on `conn`, with WAL checkpoints made by `checkpoints` (a second
    /// connection to the same database) instead of by the writer's commits.
    pub(super) fn start(conn: Connection, checkpoints: Connection) -> Result<Writer, StoreError> {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .map_err(unavailable)?;
        // Every statement the writer runs stays prepared: a receipt with a broadcast station
        // alone cycles through 17 of them (with its deliveries, their results and the journal's
        // rows), more than the default 16, and an evicted statement is prepared again.
        conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        let checkpointer = Checkpointer::start(checkpoints)?;
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, checkpointer, rx))
            .map_err(unavailable)?;
        Ok(Writer {
            queue: Mutex::new(Some(tx)),
        })
    }

    fn send(&self, command: Command) -> Result<(), Command> {
        match self.queue.lock().expect("writer queue").as_ref() {
            Some(queue) => queue.send(command).map_err(|e| e.0),
            None => Err(command),
        }
    }

    /// Queues `f`; the future resolves once the transaction that ran it is committed.
    pub(super) fn submit<T, F>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let queued = self.send(Command::Job(Box::new(Pending { f, reply })));
        async move {
            if queued.is_err() {
                return Err(closed());
            }
            answer.await.unwrap_or_else(|_| Err(closed()))
        }
    }

    /// Lets queued jobs finish, folds the WAL back into the database file and stops the thread.
    pub(super) async fn close(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.lock().expect("writer queue").take();
        let Some(queue) = queue else {
            return Ok(());
        };
        if queue.send(Command::Close(reply)).is_err() {
            return Err(closed());
        }
        answer.await.unwrap_or_else(|_| Err(closed()))
    }
}

fn closed() -> StoreError {
    unavailable("the store is closed")
}

fn run(conn: Connection, checkpointer: Checkpointer, queue: mpsc::Receiver<Command>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queue.recv() {
        let mut close = None;
        match first {
            Command::Job(job) => batch.push(job),
            Command::Close(reply) => close = Some(reply),
        }
        while close.is_none() && batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Command::Job(job)) => batch.push(job),
                Ok(Command::Close(reply)) => close = Some(reply),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&conn, batch.drain(..));
        }
        if let Some(reply) = close {
            checkpointer.stop();
            let _ = reply.send(shutdown(conn));
            return;
        }
        if checkpointer.log_outgrown() {
            checkpointer.checkpoint_now(&conn);
        }
    }
}

fn commit_batch(conn: &Connection, jobs: impl Iterator<Item = Box<dyn Job>>) {
    if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "cannot start a write transaction");
        jobs.for_each(|job| job.fail(e.clone()));
        return;
    }
    let completions: Vec<Completion> = jobs.map(|job| job.run(conn)).collect();
    let started = Instant::now();
    let committed = statement(conn, "COMMIT");
    if let Some(metrics) = crate::observe::metrics::metrics() {
        metrics.commit("sqlite", completions.len(), started.elapsed());
    }
    if let Err(e) = &committed {
        tracing::error!(error = %e, "a write transaction could not be committed");
        let _ = conn.execute_batch("ROLLBACK");
    }
    for done in completions {
        done(committed.clone());
    }
}

fn shutdown(conn: Connection) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(unavailable)?;
    conn.close().map_err(|(_, e)| unavailable(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.sqlite")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY);")
            .unwrap();
        let checkpoints = Connection::open(dir.path().join("w.sqlite")).unwrap();
        (dir, Writer::start(conn, checkpoints).unwrap())
    }

    fn insert(v: i64) -> impl FnOnce(&Connection) -> Result<i64, StoreError> + Send {
        move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(unavailable)?;
            Ok(v)
        }
    }

    fn count(c: &Connection) -> Result<i64, StoreError> {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .map_err(unavailable)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_undoes_only_itself() {
        let (_dir, w) = writer();
        // Queued together, so very likely in one batch; the outcome must not depend on it.
        let a = w.submit(insert(1));
        let dup = w.submit(|c| {
            insert(2)(c)?;
            insert(1)(c) // duplicate key: the insert of 2 must be undone too
        });
        let panics = w.submit(|c| -> Result<(), StoreError> {
            insert(3)(c)?;
            panic!("boom")
        });
        let b = w.submit(insert(4));
        assert_eq!(a.await, Ok(1));
        assert!(matches!(dup.await, Err(StoreError::Unavailable(_))));
        assert!(matches!(panics.await, Err(StoreError::Unavailable(_))));
        assert_eq!(b.await, Ok(4));
        let rows: Vec<i64> = w
            .submit(|c| {
                let mut st = c.prepare("SELECT v FROM t ORDER BY v").unwrap();
                let rows = st.query_map([], |r| r.get(0)).unwrap();
                Ok(rows.map(Result::unwrap).collect())
            })
            .await
            .unwrap();
        assert_eq!(rows, [1, 4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_jobs_all_commit() {
        let (_dir, w) = writer();
        let w = std::sync::Arc::new(w);
        let tasks: Vec<_> = (0..500)
            .map(|v| tokio::spawn(w.submit(insert(v))))
            .collect();
        for (v, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Ok(v as i64));
        }
        assert_eq!(w.submit(count).await, Ok(500));
    }

    #[tokio::test]
    async fn close_finishes_queued_jobs_then_refuses() {
        let (dir, w) = writer();
        let queued = w.submit(insert(7));
        w.close().await.unwrap();
        assert_eq!(queued.await, Ok(7));
        assert!(matches!(
            w.submit(insert(8)).await,
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(w.close().await, Ok(()));
        let conn = Connection::open(dir.path().join("w.sqlite")).unwrap();
        assert_eq!(count(&conn), Ok(1));
    }
}
