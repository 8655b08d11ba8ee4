//! Jobs of payment notices (`crate::domain::notice_job`) as both stores keep them: a job row
//! and one row per notice, with its outcome and, once made, its PDF. The statements are each
//! store's (sqlite/notice_jobs.rs, postgres/notice_jobs.rs); the records and the conversion of
//! a job's columns are shared here.

use chrono::NaiveDateTime;

use super::StoreError;
use super::columns::{corrupt, from_millis, opt_millis};
use crate::domain::FiscalCodePA;
use crate::domain::notice_job::{JobCounts, JobState, NoticeOutcome};
use crate::domain::position::Iupd;

/// A job to make, its positions already chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNoticeJob {
    pub id: String,
    pub organization: FiscalCodePA,
    /// The caller's key for this request: the same key of the same creditor is the same job.
    pub idempotency_key: Option<String>,
    /// The positions, in the order asked; a notice's place in it (from 1) is its `seq`.
    pub iupds: Vec<Iupd>,
    pub created_at: NaiveDateTime,
}

/// A job as stored, with how far it has gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeJob {
    pub id: String,
    pub organization: FiscalCodePA,
    pub state: JobState,
    pub counts: JobCounts,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    /// Why a FAILED job could not run.
    pub error: Option<String>,
}

/// A notice of a job that was not made, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFailure {
    pub seq: u32,
    pub iupd: String,
    pub outcome: NoticeOutcome,
    pub reason: String,
}

/// A notice a worker took to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedNotice {
    pub job: String,
    pub organization: FiscalCodePA,
    pub seq: u32,
    pub iupd: String,
}

/// The columns every statement that reads a job selects, in [`JobColumns`]' order.
pub(in crate::store) const JOB_COLUMNS: &str =
    "id, organization, state, created_at, started_at, finished_at, error";

/// A job's row as read, before its values are checked; its counts come from its notices.
pub(in crate::store) struct JobColumns {
    pub id: String,
    pub organization: String,
    pub state: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

impl JobColumns {
    pub(in crate::store) fn into_job(
        self,
        counts: Vec<(String, i64)>,
    ) -> Result<NoticeJob, StoreError> {
        let mut total = JobCounts::default();
        for (outcome, n) in counts {
            let outcome = NoticeOutcome::parse(&outcome)
                .ok_or_else(|| corrupt("notice_job_item.outcome", &outcome))?;
            total.add(
                outcome,
                u32::try_from(n).map_err(|e| corrupt("notice_job_item", e))?,
            );
        }
        Ok(NoticeJob {
            organization: FiscalCodePA::parse(&self.organization)
                .map_err(|e| corrupt("notice_job.organization", e))?,
            state: JobState::parse(&self.state)
                .ok_or_else(|| corrupt("notice_job.state", &self.state))?,
            counts: total,
            created_at: from_millis(self.created_at, "notice_job.created_at")?,
            started_at: opt_millis(self.started_at, "notice_job.started_at")?,
            finished_at: opt_millis(self.finished_at, "notice_job.finished_at")?,
            error: self.error,
            id: self.id,
        })
    }
}

pub(in crate::store) fn failure(
    seq: i64,
    iupd: String,
    outcome: String,
    reason: Option<String>,
) -> Result<NoticeFailure, StoreError> {
    Ok(NoticeFailure {
        seq: u32::try_from(seq).map_err(|e| corrupt("notice_job_item.seq", e))?,
        iupd,
        outcome: NoticeOutcome::parse(&outcome)
            .ok_or_else(|| corrupt("notice_job_item.outcome", &outcome))?,
        reason: reason.unwrap_or_default(),
    })
}

pub(in crate::store) fn claimed(
    job: String,
    organization: String,
    seq: i64,
    iupd: String,
) -> Result<ClaimedNotice, StoreError> {
    Ok(ClaimedNotice {
        job,
        organization: FiscalCodePA::parse(&organization)
            .map_err(|e| corrupt("notice_job.organization", e))?,
        seq: u32::try_from(seq).map_err(|e| corrupt("notice_job_item.seq", e))?,
        iupd,
    })
}
