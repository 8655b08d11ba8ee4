//! WAL checkpoints on their own thread. Left to SQLite, the write connection folds the WAL back
//! into the database file itself (auto-checkpoint), and every queued write waits for that copy
//! and its fsync. Here a second connection copies committed pages in the background (PASSIVE:
//! it never blocks the writer nor waits for readers). Under sustained load such a checkpoint
//! never reaches the last frame, so the log could not start over and would grow without end:
//! the writer checkpoints itself, between two transactions, once the log has outgrown
//! [`MAX_LOG_FRAMES`]; by then most pages are already copied and its pass is short.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use super::connection::unavailable;
use crate::store::StoreError;

/// How often the background pass runs.
const INTERVAL: Duration = Duration::from_millis(100);

/// The log size (in pages, 4 KiB each by default) past which the writer checkpoints itself.
pub(super) const MAX_LOG_FRAMES: i64 = 8192;

/// The running background checkpointer; [`Checkpointer::stop`] ends it.
pub(super) struct Checkpointer {
    /// Frames in the log at the last pass.
    log_frames: Arc<AtomicI64>,
    stop: mpsc::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl Checkpointer {
    pub(super) fn start(conn: Connection) -> Result<Checkpointer, StoreError> {
        let log_frames = Arc::new(AtomicI64::new(0));
        let (stop, stopped) = mpsc::channel();
        let seen = log_frames.clone();
        let thread = thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    match passive(&conn) {
                        Ok(frames) => seen.store(frames, Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                }
            })
            .map_err(unavailable)?;
        Ok(Checkpointer {
            log_frames,
            stop,
            thread,
        })
    }

    /// True when the writer should checkpoint before its next transaction.
    pub(super) fn log_outgrown(&self) -> bool {
        self.log_frames.load(Ordering::Relaxed) > MAX_LOG_FRAMES
    }

    /// The writer's own pass: everything committed is copied, so the next write starts the
    /// log over.
    pub(super) fn checkpoint_now(&self, writer: &Connection) {
        match passive(writer) {
            Ok(_) => self.log_frames.store(0, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }

    pub(super) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// One PASSIVE checkpoint of each attached file (the data file and the journal's); the
/// number of frames in the longest log.
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    let schemas: Vec<String> = conn
        .prepare_cached("SELECT name FROM pragma_database_list WHERE name <> 'temp'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut longest = 0;
    for schema in schemas {
        let sql = format!("PRAGMA \"{schema}\".wal_checkpoint(PASSIVE)");
        longest = longest.max(conn.query_row(&sql, [], |r| r.get(1))?);
    }
    Ok(longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_db(dir: &std::path::Path) -> Connection {
        let conn = Connection::open(dir.join("c.sqlite")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (v BLOB);",
        )
        .unwrap();
        conn
    }

    fn wal_len(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("c.sqlite-wal")).unwrap().len()
    }

    #[test]
    fn the_background_pass_copies_committed_pages_and_the_writer_restarts_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let writer = wal_db(dir.path());
        let checkpointer =
            Checkpointer::start(Connection::open(dir.path().join("c.sqlite")).unwrap()).unwrap();
        for _ in 0..200 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(8000))", [])
                .unwrap();
        }
        let grown = wal_len(dir.path());
        // The background pass has seen the log (and copied it) within a few intervals.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while checkpointer.log_frames.load(Ordering::Relaxed) == 0 {
            assert!(std::time::Instant::now() < deadline, "no background pass");
            thread::sleep(Duration::from_millis(10));
        }
        let (log, copied): (i64, i64) = writer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(log, copied);
        checkpointer.checkpoint_now(&writer);
        assert!(!checkpointer.log_outgrown());
        // A background pass reading the log at the moment of the next write would keep the log
        // from starting over (it would then start over at a later write): stopped, so that
        // what is checked here does not depend on timing.
        checkpointer.stop();
        // With everything copied, the next write starts the log from its beginning: the file
        // keeps its size but no longer grows.
        for _ in 0..200 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(8000))", [])
                .unwrap();
        }
        assert!(wal_len(dir.path()) <= grown + 64 * 1024);
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 400);
    }

    #[test]
    fn only_a_log_past_the_limit_makes_the_writer_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let _writer = wal_db(dir.path());
        let checkpointer =
            Checkpointer::start(Connection::open(dir.path().join("c.sqlite")).unwrap()).unwrap();
        checkpointer
            .log_frames
            .store(MAX_LOG_FRAMES, Ordering::Relaxed);
        assert!(!checkpointer.log_outgrown());
        checkpointer
            .log_frames
            .store(MAX_LOG_FRAMES + 1, Ordering::Relaxed);
        assert!(checkpointer.log_outgrown());
        checkpointer.stop();
    }
}
