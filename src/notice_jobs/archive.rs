//! A finished job's result as a zip, written piece by piece as it is read: the made notices'
//! PDFs, a page at a time from the store, named by their place in the job's list
//! ([`file_name`]), then, when some notice was not made, `failures.json` listing each with its
//! IUPD and why, then the zip's directory. What is in flight at once is one page of PDFs and
//! the few pieces the channel holds, whatever the job's size.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::zip::ZipWriter;
use crate::domain::notice_job::file_name;
use crate::store::{NoticeJob, Store};

/// The file listing the notices not made.
pub const FAILURES_FILE: &str = "failures.json";
/// PDFs read from the store at once.
const PAGE: u32 = 8;
/// Pieces written ahead of the reader.
const AHEAD: usize = 4;

/// A piece of the archive, or why it stops short.
pub type Piece = Result<Bytes, std::io::Error>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failure<'a> {
    position: u32,
    iupd: &'a str,
    outcome: &'static str,
    reason: &'a str,
}

/// Starts writing `job`'s archive; its pieces come out of the returned channel, ending with
/// an error if the store fails midway (a reader must then discard what it got).
pub fn stream(store: Arc<dyn Store>, job: NoticeJob) -> mpsc::Receiver<Piece> {
    let (tx, rx) = mpsc::channel(AHEAD);
    tokio::spawn(async move {
        if let Err(e) = write(store.as_ref(), &job, &tx).await {
            tracing::error!(job = %job.id, error = %e, "a notice job's zip stopped short");
            let _ = tx.send(Err(std::io::Error::other(e))).await;
        }
    });
    rx
}

/// Whether the reader went away: nothing more to write.
struct Gone;

async fn send(tx: &mpsc::Sender<Piece>, bytes: Vec<u8>) -> Result<(), Gone> {
    tx.send(Ok(Bytes::from(bytes))).await.map_err(|_| Gone)
}

async fn write(store: &dyn Store, job: &NoticeJob, tx: &mpsc::Sender<Piece>) -> Result<(), String> {
    let mut zip = ZipWriter::new(job.finished_at.unwrap_or(job.created_at));
    let total = job.counts.total();
    let mut after = 0;
    loop {
        let page = store
            .made_notices(job.id.clone(), after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        let full = page.len() == PAGE as usize;
        for (seq, pdf) in page {
            let piece = zip
                .entry(&file_name(seq, total), &pdf)
                .map_err(|e| e.to_string())?;
            if send(tx, piece).await.is_err() {
                return Ok(());
            }
        }
        if !full {
            break;
        }
    }
    if job.counts.refused + job.counts.failed > 0 {
        let failures = store
            .notice_job_failures(job.id.clone())
            .await
            .map_err(|e| e.to_string())?;
        let listed: Vec<Failure<'_>> = failures
            .iter()
            .map(|f| Failure {
                position: f.seq,
                iupd: &f.iupd,
                outcome: f.outcome.as_str(),
                reason: &f.reason,
            })
            .collect();
        let json = serde_json::to_vec_pretty(&listed).expect("serializable");
        let piece = zip.entry(FAILURES_FILE, &json).map_err(|e| e.to_string())?;
        if send(tx, piece).await.is_err() {
            return Ok(());
        }
    }
    let end = zip.finish().map_err(|e| e.to_string())?;
    let _ = send(tx, end).await;
    Ok(())
}
