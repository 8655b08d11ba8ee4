//! Jobs of payment notices in PostgreSQL. A claim takes PENDING notices under row locks other
//! claims skip and writes its lease into them, as the delivery outbox does: two instances
//! never make one notice at once, and the notices an instance held when it stopped are taken
//! again when its lease ends. Recording locks the jobs' rows first, so that the last two
//! records of one job, made by two instances, cannot both miss that the job is done.

use chrono::NaiveDateTime;
use deadpool_postgres::GenericClient;

use super::statements::Statements;
use super::{PgStore, db_error};
use crate::domain::FiscalCodePA;
use crate::domain::notice_job::{JobState, NoticeResult};
use crate::store::columns::millis;
use crate::store::notice_job_columns::{JOB_COLUMNS, JobColumns, claimed, failure};
use crate::store::{ClaimedNotice, NewNoticeJob, NoticeFailure, NoticeJob, StoreError};

async fn job_where(
    client: &impl GenericClient,
    condition: &str,
    a: &str,
    b: &str,
) -> Result<Option<NoticeJob>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM notice_job WHERE {condition}");
    let Some(r) = client.opt_row(&sql, &[&a, &b]).await? else {
        return Ok(None);
    };
    let columns = JobColumns {
        id: r.try_get(0).map_err(db_error)?,
        organization: r.try_get(1).map_err(db_error)?,
        state: r.try_get(2).map_err(db_error)?,
        created_at: r.try_get(3).map_err(db_error)?,
        started_at: r.try_get(4).map_err(db_error)?,
        finished_at: r.try_get(5).map_err(db_error)?,
        error: r.try_get(6).map_err(db_error)?,
    };
    let counts = client
        .rows(
            "SELECT outcome, count(*) FROM notice_job_item WHERE job_id = $1 GROUP BY outcome",
            &[&columns.id],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<Vec<(String, i64)>, tokio_postgres::Error>>()
        .map_err(db_error)?;
    columns.into_job(counts).map(Some)
}

impl PgStore {
    pub async fn create_notice_job(
        &self,
        job: NewNoticeJob,
    ) -> Result<(NoticeJob, bool), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let org = job.organization.as_str();
        // A concurrent insert of the same key waits for the other's commit, then does nothing.
        let inserted = tx
            .exec(
                "INSERT INTO notice_job (id, organization, idempotency_key, state, created_at)
                 VALUES ($1, $2, $3, 'QUEUED', $4)
                 ON CONFLICT (organization, idempotency_key) WHERE idempotency_key IS NOT NULL
                 DO NOTHING",
                &[&job.id, &org, &job.idempotency_key, &millis(job.created_at)],
            )
            .await?;
        if inserted == 0 {
            let key = job.idempotency_key.as_deref().unwrap_or_default();
            let found = job_where(&tx, "organization = $1 AND idempotency_key = $2", org, key)
                .await?
                .ok_or_else(|| StoreError::Unavailable("the job of this key vanished".into()))?;
            super::commit(tx).await?;
            return Ok((found, false));
        }
        let iupds: Vec<&str> = job.iupds.iter().map(|i| i.as_str()).collect();
        tx.exec(
            "INSERT INTO notice_job_item (job_id, seq, iupd, outcome)
             SELECT $1, t.seq, t.iupd, 'PENDING'
             FROM unnest($2::text[]) WITH ORDINALITY AS t(iupd, seq)",
            &[&job.id, &iupds],
        )
        .await?;
        let made = job_where(&tx, "organization = $1 AND id = $2", org, &job.id)
            .await?
            .ok_or_else(|| StoreError::Unavailable("the job just stored cannot be read".into()))?;
        super::commit(tx).await?;
        Ok((made, true))
    }

    pub async fn notice_job(
        &self,
        organization: FiscalCodePA,
        id: String,
    ) -> Result<Option<NoticeJob>, StoreError> {
        let client = self.client().await?;
        job_where(
            &client,
            "organization = $1 AND id = $2",
            organization.as_str(),
            &id,
        )
        .await
    }

    pub async fn notice_job_failures(&self, id: String) -> Result<Vec<NoticeFailure>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .rows(
                "SELECT seq, iupd, outcome, reason FROM notice_job_item
                 WHERE job_id = $1 AND outcome IN ('REFUSED', 'FAILED') ORDER BY seq",
                &[&id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                failure(
                    r.try_get(0).map_err(db_error)?,
                    r.try_get(1).map_err(db_error)?,
                    r.try_get(2).map_err(db_error)?,
                    r.try_get(3).map_err(db_error)?,
                )
            })
            .collect()
    }

    pub async fn claim_notices(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedNotice>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let rows = tx
            .rows(
                "WITH due AS (
                    SELECT i.job_id, i.seq FROM notice_job_item i
                    JOIN notice_job j ON j.id = i.job_id
                    WHERE i.outcome = 'PENDING' AND i.lease_until <= $1
                      AND j.state IN ('QUEUED', 'RUNNING')
                    ORDER BY j.created_at, j.id, i.seq LIMIT $2
                    FOR UPDATE OF i SKIP LOCKED
                 )
                 UPDATE notice_job_item i SET lease_until = $3 FROM due, notice_job j
                 WHERE i.job_id = due.job_id AND i.seq = due.seq AND j.id = i.job_id
                 RETURNING i.job_id, j.organization, i.seq, i.iupd",
                &[&millis(now), &i64::from(limit), &millis(lease_until)],
            )
            .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                claimed(
                    r.try_get(0).map_err(db_error)?,
                    r.try_get(1).map_err(db_error)?,
                    r.try_get(2).map_err(db_error)?,
                    r.try_get(3).map_err(db_error)?,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut jobs: Vec<&str> = out.iter().map(|c| c.job.as_str()).collect();
        jobs.dedup();
        tx.exec(
            "UPDATE notice_job SET state = 'RUNNING', started_at = $2
             WHERE id = ANY($1) AND state = 'QUEUED'",
            &[&jobs, &millis(now)],
        )
        .await?;
        super::commit(tx).await?;
        out.sort_by(|a, b| (&a.job, a.seq).cmp(&(&b.job, b.seq)));
        Ok(out)
    }

    pub async fn record_notices(
        &self,
        results: Vec<(String, u32, NoticeResult)>,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let mut jobs: Vec<&str> = results.iter().map(|(j, _, _)| j.as_str()).collect();
        jobs.sort_unstable();
        jobs.dedup();
        tx.exec(
            "SELECT 1 FROM notice_job WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&jobs],
        )
        .await?;
        for (job, seq, result) in &results {
            let (reason, pdf) = match result {
                NoticeResult::Made(pdf) => (None, Some(pdf.as_slice())),
                NoticeResult::Refused(why) | NoticeResult::Failed(why) => {
                    (Some(why.as_str()), None)
                }
            };
            tx.exec(
                "UPDATE notice_job_item SET outcome = $3, reason = $4, pdf = $5, lease_until = 0
                 WHERE job_id = $1 AND seq = $2 AND outcome = 'PENDING'",
                &[
                    job,
                    &i64::from(*seq),
                    &result.outcome().as_str(),
                    &reason,
                    &pdf,
                ],
            )
            .await?;
        }
        tx.exec(
            "UPDATE notice_job j SET state = 'DONE', finished_at = $2
             WHERE j.id = ANY($1) AND j.state IN ('QUEUED', 'RUNNING') AND NOT EXISTS (
                SELECT 1 FROM notice_job_item i WHERE i.job_id = j.id AND i.outcome = 'PENDING')",
            &[&jobs, &millis(now)],
        )
        .await?;
        super::commit(tx).await
    }

    pub async fn fail_notice_job(
        &self,
        id: String,
        error: String,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .exec(
                "UPDATE notice_job SET state = $2, error = $3, finished_at = $4
                 WHERE id = $1 AND state IN ('QUEUED', 'RUNNING')",
                &[&id, &JobState::Failed.as_str(), &error, &millis(now)],
            )
            .await?;
        Ok(())
    }

    pub async fn made_notices(
        &self,
        id: String,
        after: u32,
        limit: u32,
    ) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .rows(
                "SELECT seq, pdf FROM notice_job_item
                 WHERE job_id = $1 AND seq > $2 AND outcome = 'MADE' ORDER BY seq LIMIT $3",
                &[&id, &i64::from(after), &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get(0).map_err(db_error)?;
                let pdf: Vec<u8> = r.try_get(1).map_err(db_error)?;
                Ok((seq as u32, pdf))
            })
            .collect()
    }

    pub async fn prune_notice_jobs(
        &self,
        before: NaiveDateTime,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let ids: Vec<String> = tx
            .rows(
                "SELECT id FROM notice_job WHERE finished_at IS NOT NULL AND finished_at < $1
                 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&millis(before), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        tx.exec(
            "DELETE FROM notice_job_item WHERE job_id = ANY($1)",
            &[&ids],
        )
        .await?;
        tx.exec("DELETE FROM notice_job WHERE id = ANY($1)", &[&ids])
            .await?;
        super::commit(tx).await?;
        Ok(ids.len() as u32)
    }
}
