//! Jobs of payment notices (`crate::domain::notice_job`) as both stores keep them: a job row
//! and one row per notice, with its outcome and, once made, its PDF. The statements are each
//! store's (sqlite/notice_jobs.rs, postgres/notice_jobs.rs); the records are shared here, the
//! conversion of their columns in notice_job_columns.rs.

use chrono::NaiveDateTime;

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
