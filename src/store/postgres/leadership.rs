//! The lead of a periodic job among the instances sharing the database: a session advisory
//! lock, taken on a connection that then leaves the pool and is kept for the lock alone. The
//! lock lives as long as that session does: dropped, closed, or its instance dead, the database
//! releases it and another instance takes the job at its next round.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Object};

use super::PgStore;
use super::statements::Statements;
use crate::store::{LeadLock, Leadership, StoreError};

/// The first key of the jobs' advisory locks ("gpdl"); the second is the job's name hashed.
const LEAD_LOCKS: i32 = 0x6770_646c;

/// How long the check that the lock's connection is alive may take before the lead is given
/// up: a database that does not answer may have ended the session.
const CHECK_WITHIN: Duration = Duration::from_secs(5);

/// A job's lock key: its name's FNV-1a hash, the same in every instance and every build.
fn job_key(job: &str) -> i32 {
    let hash = job.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    // The bits as they are: PostgreSQL's keys are signed.
    hash as i32
}

/// The connection holding a job's lock.
struct SessionLock {
    client: ClientWrapper,
}

impl LeadLock for SessionLock {
    fn holds(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            // A session lock goes only with its session: the connection answering is enough.
            !self.client.is_closed()
                && matches!(
                    tokio::time::timeout(CHECK_WITHIN, self.client.simple_query("")).await,
                    Ok(Ok(_))
                )
        })
    }
}

impl PgStore {
    /// Takes `job`'s lock if no session holds it; the connection that took it leaves the pool
    /// (which may open another in its place) and holds it until dropped.
    pub async fn lead(&self, job: &'static str) -> Result<Option<Leadership>, StoreError> {
        let client = self.client().await?;
        let taken: bool = client
            .value(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&LEAD_LOCKS, &job_key(job)],
            )
            .await?;
        if !taken {
            return Ok(None);
        }
        let client = Object::take(client);
        Ok(Some(Leadership::locked(Box::new(SessionLock { client }))))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::store::postgres::testing;

    /// Polls `b` for the lead until it gets it: the database releases a lock once it has seen
    /// its session end, a moment after the client does.
    async fn taken_over(b: &PgStore, job: &'static str) -> Leadership {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(lead) = b.lead(job).await.unwrap() {
                return lead;
            }
            assert!(Instant::now() < deadline, "the lead was never released");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_instance_leads_a_job_until_it_lets_go() {
        let Some((a, b)) = testing::fresh_pair().await else {
            return;
        };
        let lead = a.lead("sweeper").await.unwrap().expect("free: taken");
        assert!(lead.holds().await);
        assert!(b.lead("sweeper").await.unwrap().is_none());
        // Not even the holder's own pool takes it twice, and other jobs are free.
        assert!(a.lead("sweeper").await.unwrap().is_none());
        let uploads = b.lead("uploads").await.unwrap().expect("another job");
        // Its connection left the pool: the pool's others still serve.
        a.ping().await.unwrap();

        drop(lead);
        let lead = taken_over(&b, "sweeper").await;
        assert!(lead.holds().await);
        assert!(a.lead("sweeper").await.unwrap().is_none());
        drop(uploads);
        taken_over(&a, "uploads").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lead_whose_session_ends_is_lost_and_taken_over() {
        let Some((a, b)) = testing::fresh_pair().await else {
            return;
        };
        let lead = a.lead("sweeper").await.unwrap().expect("free: taken");
        // The database ends the holder's session, as when its instance's connection dies.
        let client = b.client().await.unwrap();
        let ended: i64 = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks
                 WHERE locktype = 'advisory' AND classid = $1::bigint::oid
                   AND objid = $2::bigint::oid AND granted",
                &[
                    &i64::from(LEAD_LOCKS),
                    &i64::from(job_key("sweeper") as u32),
                ],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(ended, 1);
        drop(client);
        let deadline = Instant::now() + Duration::from_secs(10);
        while lead.holds().await {
            assert!(Instant::now() < deadline, "the holder never noticed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        taken_over(&b, "sweeper").await;
    }

    #[test]
    fn job_keys_are_fixed_and_distinct() {
        assert_eq!(job_key(""), 0x811c_9dc5_u32 as i32);
        assert_ne!(job_key("sweeper"), job_key("uploads"));
    }
}
