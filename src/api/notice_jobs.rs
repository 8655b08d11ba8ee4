//! Batches of payment notices, `/organizations/{fiscalCode}/notices/jobs`: `POST` starts a job
//! of the positions named by IUPD (`{"iupds": […]}`) or by the positions list's filters
//! (`{"filter": {"status": "VALID", "due_date_from": …}}`), answered 202 with the job and its
//! `Location` (an `Idempotency-Key` already used by the creditor answers its job, 200); `GET
//! …/{jobId}` is its state, counts and the notices not made with why; `GET …/{jobId}/zip` is
//! the result once the job is done (409 before), one PDF per made notice, streamed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::positions::{FILTER_KEYS, position_filter};
use super::query::Query;
use super::reply::{Problem, bad_request, conflict, not_found};
use super::streamed::Streamed;
use super::{OnCreditor, Reply, parse_json};
use crate::domain::notice_job::JobState;
use crate::domain::position::Iupd;
use crate::json::convert::format_datetime;
use crate::notice_jobs::{self, Refused, Selection, archive};
use crate::store::{NoticeFailure, NoticeJob};

/// The longest idempotency key taken.
const MAX_KEY: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobIn {
    iupds: Option<Vec<String>>,
    filter: Option<serde_json::Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Counts {
    total: u32,
    made: u32,
    refused: u32,
    failed: u32,
    pending: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotMade {
    /// The notice's place in the job's list, from 1.
    position: u32,
    iupd: String,
    outcome: &'static str,
    reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobOut {
    job_id: String,
    organization_fiscal_code: String,
    status: &'static str,
    counts: Counts,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    not_made: Vec<NotMade>,
}

fn job_out(job: NoticeJob, failures: Vec<NoticeFailure>) -> JobOut {
    let c = job.counts;
    JobOut {
        organization_fiscal_code: job.organization.to_string(),
        status: job.state.as_str(),
        counts: Counts {
            total: c.total(),
            made: c.made,
            refused: c.refused,
            failed: c.failed,
            pending: c.pending,
        },
        created: format_datetime(job.created_at),
        started: job.started_at.map(format_datetime),
        finished: job.finished_at.map(format_datetime),
        error: job.error,
        not_made: failures
            .into_iter()
            .map(|f| NotMade {
                position: f.seq,
                iupd: f.iupd,
                outcome: f.outcome.as_str(),
                reason: f.reason,
            })
            .collect(),
        job_id: job.id,
    }
}

fn job_path(org: &str, id: &str) -> String {
    format!("/organizations/{org}/notices/jobs/{id}")
}

/// What the body asks for: exactly one of `iupds` and `filter`.
fn selection(on: &OnCreditor<'_>, body: &[u8]) -> Result<Selection, Problem> {
    let input: JobIn = parse_json(body)?;
    match (input.iupds, input.filter) {
        (Some(iupds), None) => iupds
            .iter()
            .enumerate()
            .map(|(i, v)| Iupd::parse(v).map_err(|m| bad_request(format!("iupds[{i}]: {m}"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Selection::Iupds),
        (None, Some(filter)) => {
            let mut pairs = Vec::with_capacity(filter.len());
            for (k, v) in filter {
                let Value::String(v) = v else {
                    return Err(bad_request(format!("filter.{k}: must be a string")));
                };
                pairs.push((k, v));
            }
            let q = Query::from_pairs(pairs, &FILTER_KEYS)
                .map_err(|p| bad_request(format!("filter: {}", p.detail)))?;
            Ok(Selection::Filter(position_filter(&q, on.segregation)?))
        }
        _ => Err(bad_request(
            "the body must name the positions by exactly one of 'iupds' and 'filter'",
        )),
    }
}

fn idempotency_key(header: Option<&str>) -> Result<Option<String>, Problem> {
    match header.map(str::trim) {
        None => Ok(None),
        Some(k)
            if !k.is_empty() && k.len() <= MAX_KEY && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(k.to_owned()))
        }
        Some(_) => Err(bad_request(format!(
            "Idempotency-Key: must be 1 to {MAX_KEY} visible ASCII characters"
        ))),
    }
}

/// `POST /organizations/{fiscalCode}/notices/jobs`
pub async fn start(
    on: OnCreditor<'_>,
    idempotency_header: Option<&str>,
    body: &[u8],
) -> Result<Reply, Problem> {
    let key = idempotency_key(idempotency_header)?;
    let selection = selection(&on, body)?;
    let ctx = on.ctx;
    let org = &on.creditor.fiscal_code;
    let max = ctx.config.notice_jobs.max_notices;
    let (job, created) = match notice_jobs::start(
        ctx.store.as_ref(),
        org,
        selection,
        key,
        max,
        ctx.clock.now(),
    )
    .await
    {
        Ok(made) => made,
        Err(Refused::Invalid(why)) => return Err(bad_request(why)),
        Err(Refused::Store(e)) => return Err(e.into()),
    };
    if created {
        ctx.notice_jobs.notify_one();
    }
    let location = job_path(on.org(), &job.id);
    let status = if created { 202 } else { 200 };
    let failures = if created {
        Vec::new()
    } else {
        ctx.store.notice_job_failures(job.id.clone()).await?
    };
    Ok(Reply::json(status, &job_out(job, failures)).with_header("location", location))
}

async fn find(on: &OnCreditor<'_>, id: &str) -> Result<NoticeJob, Problem> {
    on.ctx
        .store
        .notice_job(on.creditor.fiscal_code.clone(), id.to_owned())
        .await?
        .ok_or_else(|| not_found(format!("no notice job {id} for organization {}", on.org())))
}

/// `GET /organizations/{fiscalCode}/notices/jobs/{jobId}`
pub async fn status(on: OnCreditor<'_>, id: &str) -> Result<Reply, Problem> {
    let job = find(&on, id).await?;
    let failures = on.ctx.store.notice_job_failures(job.id.clone()).await?;
    Ok(Reply::json(200, &job_out(job, failures)))
}

/// `GET /organizations/{fiscalCode}/notices/jobs/{jobId}/zip`
pub async fn zip(on: OnCreditor<'_>, id: &str) -> Result<Reply, Problem> {
    let job = find(&on, id).await?;
    match job.state {
        JobState::Done => {}
        JobState::Failed => {
            return Err(conflict(format!(
                "the job failed: {}",
                job.error.as_deref().unwrap_or("no reason recorded")
            )));
        }
        state => {
            return Err(conflict(format!(
                "the job is {state}: {} of {} notices still to make",
                job.counts.pending,
                job.counts.total()
            )));
        }
    }
    let name = format!("notices-{}.zip", job.id);
    let pieces = archive::stream(on.ctx.store.clone(), job);
    let mut reply = Reply::new(200, "application/zip", bytes::Bytes::new()).with_header(
        "content-disposition",
        format!("attachment; filename=\"{name}\""),
    );
    reply.stream = Some(Streamed::new(pieces));
    Ok(reply)
}

/// The positions list's filters from `(name, value)` pairs named as its query parameters, for
/// every segregation code: what `notices batch`'s filter flags ask for.
pub fn filter_of(pairs: Vec<(String, String)>) -> Result<crate::store::PositionFilter, String> {
    let q = Query::from_pairs(pairs, &FILTER_KEYS).map_err(|p| p.detail)?;
    position_filter(&q, &crate::domain::api_key::SegregationScope::All).map_err(|p| p.detail)
}
