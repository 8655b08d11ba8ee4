//! Jobs of payment notices on SQLite. Claims need no lock: the one writer thread runs them one
//! at a time, and the lease written with a claim keeps the notice from the next.

use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, params};

use super::columns::millis;
use super::unavailable;
use crate::domain::FiscalCodePA;
use crate::domain::notice_job::{JobState, NoticeResult};
use crate::store::notice_job_columns::{JOB_COLUMNS, JobColumns, claimed, failure};
use crate::store::{ClaimedNotice, NewNoticeJob, NoticeFailure, NoticeJob, StoreError};

fn job_row(
    conn: &Connection,
    sql: &str,
    key: &[&dyn rusqlite::ToSql],
) -> Result<Option<NoticeJob>, StoreError> {
    let columns = conn
        .prepare_cached(sql)
        .and_then(|mut st| {
            st.query_row(key, |r| {
                Ok(JobColumns {
                    id: r.get(0)?,
                    organization: r.get(1)?,
                    state: r.get(2)?,
                    created_at: r.get(3)?,
                    started_at: r.get(4)?,
                    finished_at: r.get(5)?,
                    error: r.get(6)?,
                })
            })
            .optional()
        })
        .map_err(unavailable)?;
    let Some(columns) = columns else {
        return Ok(None);
    };
    let counts = conn
        .prepare_cached(
            "SELECT outcome, count(*) FROM notice_job_item WHERE job_id = ?1 GROUP BY outcome",
        )
        .and_then(|mut st| {
            st.query_map([&columns.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(String, i64)>>>()
        })
        .map_err(unavailable)?;
    columns.into_job(counts).map(Some)
}

pub(super) fn create(tx: &Connection, job: &NewNoticeJob) -> Result<(NoticeJob, bool), StoreError> {
    let org = job.organization.as_str();
    if let Some(key) = &job.idempotency_key {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM notice_job WHERE organization = ?1 AND idempotency_key = ?2"
        );
        if let Some(found) = job_row(tx, &sql, &[&org, key])? {
            return Ok((found, false));
        }
    }
    tx.prepare_cached(
        "INSERT INTO notice_job (id, organization, idempotency_key, state, created_at)
         VALUES (?1, ?2, ?3, 'QUEUED', ?4)",
    )
    .and_then(|mut st| {
        st.execute(params![
            job.id,
            org,
            job.idempotency_key,
            millis(job.created_at)
        ])
    })
    .map_err(unavailable)?;
    {
        let mut st = tx
            .prepare_cached(
                "INSERT INTO notice_job_item (job_id, seq, iupd, outcome)
                 VALUES (?1, ?2, ?3, 'PENDING')",
            )
            .map_err(unavailable)?;
        for (i, iupd) in job.iupds.iter().enumerate() {
            st.execute(params![job.id, i as i64 + 1, iupd.as_str()])
                .map_err(unavailable)?;
        }
    }
    let made = get(tx, &job.organization, &job.id)?
        .ok_or_else(|| unavailable("the job just stored cannot be read"))?;
    Ok((made, true))
}

pub(super) fn get(
    conn: &Connection,
    organization: &FiscalCodePA,
    id: &str,
) -> Result<Option<NoticeJob>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM notice_job WHERE organization = ?1 AND id = ?2");
    job_row(conn, &sql, &[&organization.as_str(), &id])
}

pub(super) fn failures(conn: &Connection, id: &str) -> Result<Vec<NoticeFailure>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT seq, iupd, outcome, reason FROM notice_job_item
             WHERE job_id = ?1 AND outcome IN ('REFUSED', 'FAILED') ORDER BY seq",
        )
        .and_then(|mut st| {
            st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<(i64, String, String, Option<String>)>>>()
        })
        .map_err(unavailable)?;
    rows.into_iter()
        .map(|(seq, iupd, outcome, reason)| failure(seq, iupd, outcome, reason))
        .collect()
}

pub(super) fn claim(
    tx: &Connection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: u32,
) -> Result<Vec<ClaimedNotice>, StoreError> {
    let rows = tx
        .prepare_cached(
            "SELECT i.job_id, j.organization, i.seq, i.iupd
             FROM notice_job j JOIN notice_job_item i INDEXED BY notice_job_item_pending
               ON i.job_id = j.id AND i.outcome = 'PENDING'
             WHERE j.state IN ('QUEUED', 'RUNNING') AND i.lease_until <= ?1
             ORDER BY j.created_at, j.id, i.seq LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![millis(now), limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<(String, String, i64, String)>>>()
        })
        .map_err(unavailable)?;
    let mut out = Vec::with_capacity(rows.len());
    for (job, org, seq, iupd) in rows {
        tx.prepare_cached(
            "UPDATE notice_job_item SET lease_until = ?3 WHERE job_id = ?1 AND seq = ?2",
        )
        .and_then(|mut st| st.execute(params![job, seq, millis(lease_until)]))
        .map_err(unavailable)?;
        tx.prepare_cached(
            "UPDATE notice_job SET state = 'RUNNING', started_at = ?2
             WHERE id = ?1 AND state = 'QUEUED'",
        )
        .and_then(|mut st| st.execute(params![job, millis(now)]))
        .map_err(unavailable)?;
        out.push(claimed(job, org, seq, iupd)?);
    }
    Ok(out)
}

pub(super) fn record(
    tx: &Connection,
    results: &[(String, u32, NoticeResult)],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let mut jobs: Vec<&str> = Vec::new();
    for (job, seq, result) in results {
        let (reason, pdf) = match result {
            NoticeResult::Made(pdf) => (None, Some(pdf.as_slice())),
            NoticeResult::Refused(why) | NoticeResult::Failed(why) => (Some(why.as_str()), None),
        };
        tx.prepare_cached(
            "UPDATE notice_job_item SET outcome = ?3, reason = ?4, pdf = ?5, lease_until = 0
             WHERE job_id = ?1 AND seq = ?2 AND outcome = 'PENDING'",
        )
        .and_then(|mut st| st.execute(params![job, seq, result.outcome().as_str(), reason, pdf]))
        .map_err(unavailable)?;
        if !jobs.contains(&job.as_str()) {
            jobs.push(job);
        }
    }
    for job in jobs {
        tx.prepare_cached(
            "UPDATE notice_job SET state = 'DONE', finished_at = ?2
             WHERE id = ?1 AND state IN ('QUEUED', 'RUNNING') AND NOT EXISTS (
                SELECT 1 FROM notice_job_item INDEXED BY notice_job_item_pending
                WHERE job_id = ?1 AND outcome = 'PENDING')",
        )
        .and_then(|mut st| st.execute(params![job, millis(now)]))
        .map_err(unavailable)?;
    }
    Ok(())
}

pub(super) fn fail(
    tx: &Connection,
    id: &str,
    error: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE notice_job SET state = ?2, error = ?3, finished_at = ?4
         WHERE id = ?1 AND state IN ('QUEUED', 'RUNNING')",
    )
    .and_then(|mut st| st.execute(params![id, JobState::Failed.as_str(), error, millis(now)]))
    .map_err(unavailable)?;
    Ok(())
}

pub(super) fn made(
    conn: &Connection,
    id: &str,
    after: u32,
    limit: u32,
) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT seq, pdf FROM notice_job_item
             WHERE job_id = ?1 AND seq > ?2 AND outcome = 'MADE' ORDER BY seq LIMIT ?3",
        )
        .and_then(|mut st| {
            st.query_map(params![id, after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(u32, Vec<u8>)>>>()
        })
        .map_err(unavailable)?;
    Ok(rows)
}

pub(super) fn prune(tx: &Connection, before: NaiveDateTime, limit: u32) -> Result<u32, StoreError> {
    let ids = tx
        .prepare_cached(
            "SELECT id FROM notice_job INDEXED BY notice_job_finished
             WHERE finished_at IS NOT NULL AND finished_at < ?1 ORDER BY finished_at LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![millis(before), limit], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(unavailable)?;
    for id in &ids {
        tx.prepare_cached("DELETE FROM notice_job_item WHERE job_id = ?1")
            .and_then(|mut st| st.execute([id]))
            .map_err(unavailable)?;
        tx.prepare_cached("DELETE FROM notice_job WHERE id = ?1")
            .and_then(|mut st| st.execute([id]))
            .map_err(unavailable)?;
    }
    Ok(ids.len() as u32)
}
