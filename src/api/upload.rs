//! GPD's upload API (`gpd_massive_v2.json`): a broker uploads a file of positions to create,
//! update or delete for a creditor; the file is stored at once (202, with the status URL in
//! `Location`) and worked through in the background (`import::upload`). Its status, its report
//! (every item's outcome, refused ones with why) and the list of a creditor's files are read
//! here. The http layer has already taken the JSON document out of the multipart body and zip.

use chrono::{Days, NaiveDate, NaiveDateTime};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;

use super::query::Query;
use super::reply::{Problem, bad_request, not_found};
use super::{OnCreditor, Reply};
use crate::context::Context;
use crate::domain::api_key::hex;
use crate::domain::upload::{OperationStatus, UploadOperation};
use crate::json;
use crate::store::{NewUpload, TimeWindow, UploadFile, UploadQuery};

/// How long a client is told to wait before asking for the status (GPD's `Retry-After`).
const RETRY_AFTER_MS: u32 = 500;
/// `size` of the files list: GPD's bounds.
const FILES_DEFAULT: u32 = 100;
const FILES_MIN: u32 = 100;
const FILES_MAX: u32 = 500;
/// The widest window of the files list, in days (GPD's).
const FILES_WINDOW_DAYS: u64 = 7;

/// The broker named in the path, one this gateway serves.
#[derive(Debug, Clone, Copy)]
pub struct Broker<'a>(&'a str);

impl<'a> Broker<'a> {
    /// `broker`, if it is the broker of this gateway; 404 otherwise.
    pub fn served(ctx: &Context, broker: &'a str) -> Result<Broker<'a>, Problem> {
        if broker == ctx.config.broker_id.as_str() {
            Ok(Broker(broker))
        } else {
            Err(not_found(format!(
                "broker {broker} is not served by this gateway"
            )))
        }
    }
}

fn new_id() -> Result<String, Problem> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        Problem::new(
            503,
            "Service Unavailable",
            "no randomness for a file id; retry",
        )
    })?;
    Ok(hex(&bytes))
}

fn status_path(broker: &str, org: &str, id: &str) -> String {
    format!("brokers/{broker}/organizations/{org}/debtpositions/file/{id}/status")
}

/// `POST|PUT|DELETE /brokers/{broker}/organizations/{fiscalCode}/debtpositions/file`: the
/// file's JSON `document` (already out of its zip) is checked for shape and stored; its items
/// are processed in the background.
pub async fn accept(
    on: OnCreditor<'_>,
    Broker(broker): Broker<'_>,
    operation: UploadOperation,
    document: &[u8],
) -> Result<Reply, Problem> {
    let ctx = on.ctx;
    let items = json::upload::count_items(operation, document)
        .map_err(|e| bad_request(format!("file: {e}")))?;
    let id = new_id()?;
    let upload = NewUpload {
        id: id.clone(),
        broker: broker.to_owned(),
        organization: on.creditor.fiscal_code.clone(),
        operation,
        content: document.to_vec(),
        submitted: items as u32,
        started_at: ctx.clock.now(),
    };
    ctx.store.create_upload(upload).await?;
    ctx.uploads.notify_one();
    Ok(Reply::empty(202)
        .with_header("location", status_path(broker, on.org(), &id))
        .with_header("retry-after", format!("{RETRY_AFTER_MS} ms")))
}

async fn file(
    on: OnCreditor<'_>,
    Broker(broker): Broker<'_>,
    id: &str,
) -> Result<UploadFile, Problem> {
    on.ctx
        .store
        .upload(on.creditor.fiscal_code.clone(), id.to_owned())
        .await?
        .filter(|f| f.broker == broker)
        .ok_or_else(|| {
            not_found(format!(
                "no file {id} of broker {broker} for organization {}",
                on.org()
            ))
        })
}

fn operation_status(f: &UploadFile) -> OperationStatus {
    OperationStatus::of(f.submitted, f.processed, f.refused)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadStatusOut {
    #[serde(rename = "uploadID")]
    upload_id: String,
    processed_item: u32,
    submitted_item: u32,
    /// GPD's v2 format: `yyyy-MM-dd HH:mm:ss`.
    start_time: String,
    operation_status: &'static str,
}

/// `GET …/debtpositions/file/{fileId}/status`
pub async fn status(on: OnCreditor<'_>, broker: Broker<'_>, id: &str) -> Result<Reply, Problem> {
    let f = file(on, broker, id).await?;
    Ok(Reply::json(
        200,
        &UploadStatusOut {
            upload_id: f.id.clone(),
            processed_item: f.processed,
            submitted_item: f.submitted,
            start_time: f.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            operation_status: operation_status(&f).as_str(),
        },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseEntry {
    status_code: u16,
    status_message: String,
    iupds: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadReportOut {
    file_id: String,
    processed_item: u32,
    submitted_item: u32,
    responses: Vec<ResponseEntry>,
    start_time: String,
    end_time: String,
}

fn report_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

/// `GET …/debtpositions/file/{fileId}/report`: 425 until every item is processed; then the
/// outcomes, items with the same status and message together, in file order.
pub async fn report(on: OnCreditor<'_>, broker: Broker<'_>, id: &str) -> Result<Reply, Problem> {
    let f = file(on, broker, id).await?;
    let Some(ended_at) = f.ended_at else {
        return Err(Problem::new(
            425,
            "Too Early",
            format!(
                "file {id} is still being processed ({} of {} items); ask again later",
                f.processed, f.submitted
            ),
        ));
    };
    let outcomes = on.ctx.store.upload_outcomes(f.id.clone()).await?;
    let mut responses: Vec<ResponseEntry> = Vec::new();
    for (i, o) in outcomes.into_iter().enumerate() {
        let name = o.iupd.unwrap_or_else(|| format!("item {i}"));
        match responses
            .iter_mut()
            .find(|r| r.status_code == o.status && r.status_message == o.message)
        {
            Some(entry) => entry.iupds.push(name),
            None => responses.push(ResponseEntry {
                status_code: o.status,
                status_message: o.message,
                iupds: vec![name],
            }),
        }
    }
    Ok(Reply::json(
        200,
        &UploadReportOut {
            file_id: f.id,
            processed_item: f.processed,
            submitted_item: f.submitted,
            responses,
            start_time: report_time(f.started_at),
            end_time: report_time(ended_at),
        },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileIdListOut {
    file_ids: Vec<String>,
    size: usize,
    has_more: bool,
}

fn day(q: &Query, key: &str) -> Result<Option<NaiveDate>, Problem> {
    q.get(key)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| bad_request(format!("{key}: '{v}' must be a date such as 2025-09-01")))
        })
        .transpose()
}

/// The continuation token: the start (milliseconds) and id of the last file listed.
fn token(f: &UploadFile) -> String {
    format!("{}.{}", f.started_at.and_utc().timestamp_millis(), f.id)
}

fn parse_token(value: &str) -> Result<(NaiveDateTime, String), Problem> {
    value
        .split_once('.')
        .and_then(|(ms, id)| {
            let t = chrono::DateTime::from_timestamp_millis(ms.parse().ok()?)?;
            Some((t.naive_utc(), id.to_owned()))
        })
        .ok_or_else(|| bad_request("x-continuation-token: not a token this list gave"))
}

/// `GET /brokers/{broker}/organizations/{fiscalCode}/debtpositions/files?from&to&size`, with
/// `x-continuation-token` for the next page: the ids of the files uploaded in the window
/// (dates, 7 days at most; the last 7 days by default), oldest first.
pub async fn list(
    on: OnCreditor<'_>,
    Broker(broker): Broker<'_>,
    query: Option<&str>,
    continuation: Option<&str>,
) -> Result<Reply, Problem> {
    let ctx = on.ctx;
    let q = Query::parse(query, &["from", "to", "size"])?;
    let today = ctx.clock.now().date();
    let window = Days::new(FILES_WINDOW_DAYS - 1);
    let (from, to) = match (day(&q, "from")?, day(&q, "to")?) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f + window),
        (None, Some(t)) => (t - window, t),
        (None, None) => (today - window, today),
    };
    let started = TimeWindow::new(
        from.and_hms_opt(0, 0, 0).expect("midnight"),
        to.and_hms_milli_opt(23, 59, 59, 999).expect("end of day"),
    )
    .filter(|_| (to - from).num_days() < FILES_WINDOW_DAYS as i64)
    .ok_or_else(|| {
        bad_request(format!(
            "from, to: the window must run forward and span at most {FILES_WINDOW_DAYS} days"
        ))
    })?;
    let size = q.number("size", FILES_DEFAULT, FILES_MIN, FILES_MAX)?;
    let after = continuation.map(parse_token).transpose()?;
    // One more than asked: whether there is a next page.
    let mut files = ctx
        .store
        .list_uploads(UploadQuery {
            organization: on.creditor.fiscal_code.clone(),
            broker: broker.to_owned(),
            started,
            after,
            limit: size + 1,
        })
        .await?;
    let has_more = files.len() > size as usize;
    files.truncate(size as usize);
    let mut reply = Reply::json(
        200,
        &FileIdListOut {
            file_ids: files.iter().map(|f| f.id.clone()).collect(),
            size: files.len(),
            has_more,
        },
    );
    if has_more && let Some(last) = files.last() {
        reply = reply.with_header("x-continuation-token", token(last));
    }
    Ok(reply)
}
