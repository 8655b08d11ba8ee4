//! Where log lines go: into a shared buffer, which a thread of its own writes to standard error
//! every [`FLUSH_EVERY`]. A request's thread only formats its line and copies it in: it never
//! waits on standard error, and no line wakes another thread (a channel to a writer thread,
//! woken at every line, cost a request more than the line itself). When the buffer holds
//! [`LIMIT`] bytes, standard error not being drained, further lines are dropped and counted
//! (docs/decisions.md). [`Flush`], dropped, writes out what is left.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often the buffer is written out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The most the buffer holds.
pub const LIMIT: usize = 16 * 1024 * 1024;

struct Shared {
    buffer: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    stop: AtomicBool,
}

/// The writer the log's formatter is given.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Writes what is buffered when dropped, and stops the writing thread.
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer to `out` through a buffer, and the guard that flushes it.
pub fn batch_writer(mut out: impl Write + Send + 'static) -> (BatchWriter, Flush) {
    let shared = Arc::new(Shared {
        buffer: Mutex::new(Vec::with_capacity(64 * 1024)),
        dropped: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let writing = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let mut taken = Vec::with_capacity(64 * 1024);
            loop {
                let stopping = writing.stop.load(Ordering::Acquire);
                std::mem::swap(&mut *lock(&writing.buffer), &mut taken);
                if !taken.is_empty() {
                    // Nowhere to report a failure to write the log.
                    let _ = out.write_all(&taken).and_then(|()| out.flush());
                    taken.clear();
                }
                if stopping {
                    return;
                }
                std::thread::park_timeout(FLUSH_EVERY);
            }
        })
        .expect("the log writer's thread");
    let writer = BatchWriter {
        shared: shared.clone(),
    };
    (
        writer,
        Flush {
            shared,
            thread: Some(thread),
        },
    )
}

fn lock(buffer: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    // A panic while copying bytes leaves them whole enough to write.
    buffer.lock().unwrap_or_else(|e| e.into_inner())
}

impl BatchWriter {
    /// Lines dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Write for &BatchWriter {
    /// The formatter writes each line at once: a line fits whole or is dropped.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut buffer = lock(&self.shared.buffer);
        if buffer.len() + line.len() > LIMIT {
            drop(buffer);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            buffer.extend_from_slice(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = &'a BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read while the writer holds it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_in_order_and_all_of_them_at_the_end() {
        let sink = Sink::default();
        let (writer, flush) = batch_writer(sink.clone());
        let mut expected = Vec::new();
        for i in 0..1000 {
            let line = format!("line {i}\n");
            (&writer).write_all(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        drop(flush);
        assert_eq!(*sink.0.lock().unwrap(), expected);
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn lines_past_the_limit_are_dropped_and_counted() {
        // A sink that never takes anything: the buffer fills.
        struct Stuck;
        impl Write for Stuck {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_secs(3600));
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (writer, flush) = batch_writer(Stuck);
        std::mem::forget(flush);
        let line = vec![b'x'; 1024 * 1024];
        // The thread may have taken the first lines before it got stuck: at most one buffer's.
        for _ in 0..(3 * LIMIT / line.len() + 1) {
            (&writer).write_all(&line).unwrap();
        }
        assert!(
            writer.dropped() >= (LIMIT / line.len()) as u64,
            "{}",
            writer.dropped()
        );
        assert!(lock(&writer.shared.buffer).len() <= LIMIT);
    }
}
