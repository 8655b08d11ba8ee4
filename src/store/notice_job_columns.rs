//! A notice job's columns as both stores read them, checked into the records of
//! `notice_jobs.rs`.

use super::columns::{corrupt, from_millis, opt_millis};
use super::error::StoreError;
use super::notice_jobs::{ClaimedNotice, NoticeFailure, NoticeJob};
use crate::domain::FiscalCodePA;
use crate::domain::notice_job::{JobCounts, JobState, NoticeOutcome};

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
