//! `gpd-gateway notices batch`: makes a job in the store, then either makes its notices in
//! this process (the worker's rounds, which take whatever notices are due, under the same
//! leases a running gateway's workers take them) or, with `--wait`, waits for a running
//! gateway's worker; on standard error, a progress bar on a terminal (plain lines every few
//! seconds otherwise); at the end the zip, written beside its destination and renamed into
//! place only when whole, and a summary.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::worker::{Render, Worker};
use super::{Refused, Selection, archive};
use crate::context::Context;
use crate::domain::FiscalCodePA;
use crate::store::NoticeJob;

const REDRAW: Duration = Duration::from_millis(100);
const PLAIN_EVERY: Duration = Duration::from_secs(5);
const BAR: usize = 30;
/// How often `--wait` reads the job's progress.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// What `batch` is asked to do.
pub struct Batch {
    pub organization: FiscalCodePA,
    pub selection: Selection,
    pub idempotency_key: Option<String>,
    /// Wait for a running gateway's worker rather than make the notices here.
    pub wait: bool,
}

struct Progress {
    terminal: bool,
    shown: Option<Instant>,
    started: Instant,
}

impl Progress {
    fn show(&mut self, job: &NoticeJob, last: bool) {
        let every = if self.terminal { REDRAW } else { PLAIN_EVERY };
        if !last && self.shown.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        if !self.terminal && !last && self.shown.is_none() {
            self.shown = Some(Instant::now());
            return;
        }
        self.shown = Some(Instant::now());
        let c = job.counts;
        let total = c.total().max(1) as usize;
        let done = (c.total() - c.pending) as usize;
        let filled = done * BAR / total;
        let line = format!(
            "[{}{}] {done}/{} notices, {} made, {} refused, {} failed, {:.1} s",
            "#".repeat(filled),
            ".".repeat(BAR - filled),
            c.total(),
            c.made,
            c.refused,
            c.failed,
            self.started.elapsed().as_secs_f64()
        );
        let mut err = io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r{line}");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
}

/// Runs the batch and writes its zip to `out`; the summary to print.
pub async fn batch(
    ctx: Arc<Context>,
    render: Render,
    request: Batch,
    out: &Path,
) -> Result<String, String> {
    let store = ctx.store.clone();
    let max = ctx.config.notice_jobs.max_notices;
    let (job, _) = super::start(
        store.as_ref(),
        &request.organization,
        request.selection,
        request.idempotency_key,
        max,
        ctx.clock.now(),
    )
    .await
    .map_err(|e| match e {
        Refused::Invalid(why) => why,
        Refused::Store(e) => format!("the job cannot be stored: {e}"),
    })?;
    let mut progress = Progress {
        terminal: io::stderr().is_terminal(),
        shown: None,
        started: Instant::now(),
    };
    let read = || async {
        store
            .notice_job(request.organization.clone(), job.id.clone())
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("job {} is gone", job.id))
    };
    let mut current = read().await?;
    while !current.state.finished() {
        progress.show(&current, false);
        if request.wait {
            tokio::time::sleep(WAIT_POLL).await;
        } else {
            let worker = Worker::new(ctx.clone(), render.clone());
            let round = worker.round().await.map_err(|e| e.to_string())?;
            if round.taken == 0 {
                // Held by a worker elsewhere, until it records them or its lease ends.
                tokio::time::sleep(WAIT_POLL).await;
            }
        }
        current = read().await?;
    }
    progress.show(&current, true);
    if let Some(error) = &current.error {
        return Err(format!("job {} failed: {error}", current.id));
    }
    let bytes = write_zip(store, current.clone(), out).await?;
    let c = current.counts;
    Ok(format!(
        "job {}: {} notices, {} made, {} refused, {} failed{}; {} ({bytes} bytes)\n",
        current.id,
        c.total(),
        c.made,
        c.refused,
        c.failed,
        if c.refused + c.failed > 0 {
            format!(" (why: {} in the zip)", archive::FAILURES_FILE)
        } else {
            String::new()
        },
        out.display(),
    ))
}

/// Writes the job's zip to `out` through a temporary file beside it; its size. The writes
/// block: this is a command's own process, not the server's.
async fn write_zip(
    store: Arc<dyn crate::store::Store>,
    job: NoticeJob,
    out: &Path,
) -> Result<u64, String> {
    let partial = out.with_extension("zip.partial");
    let result = async {
        let failed = |e: io::Error| format!("{}: {e}", partial.display());
        let mut file = std::fs::File::create(&partial).map_err(failed)?;
        let mut pieces = archive::stream(store, job);
        let mut size = 0u64;
        while let Some(piece) = pieces.recv().await {
            let piece = piece.map_err(|e| format!("the zip stopped short: {e}"))?;
            file.write_all(&piece).map_err(failed)?;
            size += piece.len() as u64;
        }
        file.sync_all().map_err(failed)?;
        std::fs::rename(&partial, out).map_err(|e| format!("{}: {e}", out.display()))?;
        Ok(size)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}
