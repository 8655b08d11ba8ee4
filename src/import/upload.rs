//! The background side of the upload API: files stored by `api::upload` are worked through here,
//! a chunk of items per store transaction. Each item is validated exactly as the REST API
//! validates the same change (positions as `POST`/`PUT …/debtpositions`, IUPDs as `DELETE`),
//! and its outcome is recorded with the status and detail the REST API would have answered.
//! A chunk's changes, outcomes and the file's progress commit together, so a restart resumes at
//! the first item not done and nothing is applied twice. Positions created or updated by a file
//! are published at once: the upload API has no `toPublish`, and a file is how a broker puts
//! positions up for payment.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::background::{After, Background};
use crate::context::Context;
use crate::domain::creditor::Creditor;
use crate::domain::position::{FieldError, Iupd};
use crate::domain::upload::UploadOperation;
use crate::json::model::PositionIn;
use crate::json::upload::{item_name, read_items};
use crate::json::{self, convert};
use crate::store::{DescribeItem, StoreError, UploadFile, UploadItem, UploadOutcome};

/// Items per transaction.
pub const CHUNK: usize = 100;
/// How often files left in progress are looked for without a wake-up (another instance's).
const POLL: Duration = Duration::from_secs(5);

fn refused(name: String, status: u16, message: impl Into<String>) -> UploadItem {
    UploadItem::Refused(UploadOutcome {
        iupd: Some(name),
        status,
        message: message.into(),
    })
}

fn listed(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The change one item asks for, or why it cannot be made.
fn item(
    operation: UploadOperation,
    name: String,
    value: Value,
    creditor: &Creditor,
    now: chrono::NaiveDateTime,
) -> UploadItem {
    match operation {
        UploadOperation::Create => {
            let input = match json::decode_value::<PositionIn>(value) {
                Ok(i) => i,
                Err(m) => return refused(name, 400, m),
            };
            match convert::new_position(input, creditor, now) {
                Ok(mut p) => {
                    p.apply_publication(now);
                    UploadItem::Create(Box::new(p))
                }
                Err(errors) => refused(name, 400, listed(&errors)),
            }
        }
        UploadOperation::Update => {
            let input = match json::decode_value::<PositionIn>(value) {
                Ok(i) => i,
                Err(m) => return refused(name, 400, m),
            };
            let iupd = match Iupd::parse(&input.iupd) {
                Ok(i) => i,
                Err(m) => return refused(name, 400, format!("iupd: {m}")),
            };
            match convert::updated_position(input, creditor, now) {
                Ok(new) => UploadItem::Update {
                    iupd,
                    change: Box::new(move |p| p.update_from(new, true, now)),
                },
                Err(errors) => refused(name, 400, listed(&errors)),
            }
        }
        UploadOperation::Delete => {
            let Some(iupd) = value.as_str().and_then(|v| Iupd::parse(v).ok()) else {
                return refused(name, 400, format!("'{value}' is not an IUPD"));
            };
            UploadItem::Delete {
                iupd,
                guard: Box::new(move |p| Ok(p.check_deletable(now)?)),
            }
        }
    }
}

/// The outcome of an item the store applied: what the REST API answers for the same change.
fn outcome(
    operation: UploadOperation,
    name: String,
    result: Result<(), StoreError>,
) -> UploadOutcome {
    let (status, message) = match result {
        Ok(()) => match operation {
            UploadOperation::Create => (201, "Debt position CREATED".to_owned()),
            UploadOperation::Update => (200, "Debt position UPDATED".to_owned()),
            UploadOperation::Delete => (200, "Debt position DELETED".to_owned()),
        },
        Err(e) => match e {
            StoreError::NotFound => (
                404,
                format!("no debt position {name} for this organization"),
            ),
            StoreError::Duplicate { .. } => (409, e.to_string()),
            StoreError::Refused(c) => (409, c.0),
            StoreError::Unprocessable(m) => (422, m),
            StoreError::VersionMismatch { .. } => (409, e.to_string()),
            StoreError::Forbidden(m) => (403, m),
            StoreError::Unavailable(m) => (503, m),
        },
    };
    UploadOutcome {
        iupd: Some(name),
        status,
        message,
    }
}

/// Works file `file` through from its first unprocessed item, a chunk at a time while
/// `go_on(chunks done so far)` says so, to its end at most. Returns how many items were
/// processed. A file another worker advanced in the meantime is left to it.
pub async fn process(
    ctx: &Context,
    file: &UploadFile,
    go_on: impl Fn(usize) -> bool,
) -> Result<u32, StoreError> {
    let content = ctx.store.upload_content(file.id.clone()).await?;
    let creditor = ctx.config.creditors.get(&file.organization);
    // Checked at upload; a file can only fail here if the configuration changed since.
    let mut items = read_items(file.operation, &content).map_err(|e| e.to_string());
    let operation = file.operation;
    let mut first = file.processed as usize;
    let mut done = 0;
    let total = file.submitted as usize;
    while first < total && go_on(done) {
        let end = (first + CHUNK).min(total);
        let now = ctx.clock.now();
        let mut names = Vec::with_capacity(end - first);
        let mut batch = Vec::with_capacity(end - first);
        for index in first..end {
            // Each item is taken once, as its chunk is made.
            let value = items
                .as_mut()
                .ok()
                .and_then(|i| i.get_mut(index))
                .map(std::mem::take)
                .unwrap_or(Value::Null);
            let name = item_name(operation, index, &value);
            names.push(name.clone());
            batch.push(match (&items, creditor) {
                (Err(e), _) => refused(name, 400, e.clone()),
                (Ok(_), None) => refused(
                    name,
                    404,
                    format!(
                        "organization {} is not served by this gateway",
                        file.organization
                    ),
                ),
                (Ok(_), Some(c)) => item(operation, name, value, c, now),
            });
        }
        let describe: DescribeItem =
            Box::new(move |i, result| outcome(operation, names[i].clone(), result));
        match ctx
            .store
            .apply_upload_items(file.id.clone(), first as u32, batch, describe, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::VersionMismatch { .. }) => break,
            Err(e) => return Err(e),
        }
        first = end;
        done += 1;
    }
    Ok((first - file.processed as usize) as u32)
}

/// Works every file in progress through to its end, a chunk at a time, until `stop` is set.
pub async fn process_all(ctx: &Context, stop: &watch::Receiver<bool>) -> Result<u32, StoreError> {
    let mut total = 0;
    for file in ctx.store.uploads_in_progress().await? {
        if *stop.borrow() {
            break;
        }
        let n = process(ctx, &file, |_| !*stop.borrow()).await?;
        tracing::info!(file = %file.id, items = n, "uploaded file items processed");
        total += n;
    }
    Ok(total)
}

/// Starts the upload worker: at start it resumes the files left in progress, then it wakes up
/// for each new file (and every few seconds). Stopping waits for the chunk in progress, if any;
/// the file resumes at the next start. Of the instances sharing a store, one at a time works
/// files through: one received by another is taken within [`POLL`].
pub fn spawn_worker(ctx: Arc<Context>) -> Background {
    let store = ctx.store.clone();
    Background::spawn_led(
        store,
        "uploads",
        POLL,
        Some(ctx.uploads.clone()),
        move |stopped| {
            let ctx = ctx.clone();
            async move {
                if let Err(e) = process_all(&ctx, &stopped).await {
                    tracing::error!(error = %e, "uploaded files not processed; retrying");
                }
                After::Pause
            }
        },
    )
}
