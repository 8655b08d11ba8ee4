//! The job worker: on every instance, takes PENDING notices of running jobs under a lease,
//! renders them a few at a time (the renderer draws on a blocking thread: it is CPU work), and
//! records what came of each in one transaction per round. A notice recorded is never made again; one
//! taken by an instance that stopped before recording it is taken again when its lease ends,
//! by whichever instance comes first. A second task, on one instance at a time, deletes jobs
//! finished longer ago than the retention.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::background::{After, Background};
use crate::context::Context;
use crate::domain::creditor::Creditor;
use crate::domain::notice_job::NoticeResult;
use crate::domain::position::Iupd;
use crate::store::{ClaimedNotice, StoreError};

/// Renders one notice: the PDF, or why the position gets none; `Err` when it could not be
/// known now (the store failed), and the notice is left for a later round.
pub type Render = Arc<
    dyn Fn(Arc<Context>, Creditor, Iupd) -> Pin<Box<dyn Future<Output = Rendered> + Send>>
        + Send
        + Sync,
>;

/// What [`Render`] gives.
pub type Rendered = Result<NoticeResult, String>;

/// Finished jobs deleted per transaction.
const PRUNE_BATCH: u32 = 100;
/// How often finished jobs past their retention are looked for.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub taken: usize,
    pub made: u32,
    pub refused: u32,
    pub failed: u32,
}

#[derive(Clone)]
pub struct Worker {
    ctx: Arc<Context>,
    render: Render,
}

impl Worker {
    pub fn new(ctx: Arc<Context>, render: Render) -> Worker {
        Worker { ctx, render }
    }

    /// Notices taken per round: enough to keep every renderer busy, few enough that a stop
    /// waits for little.
    fn batch(&self) -> u32 {
        (self.ctx.config.notice_jobs.concurrency * 4).min(256) as u32
    }

    /// Takes the notices due now and makes them; what it did.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let config = &self.ctx.config.notice_jobs;
        let now = self.ctx.clock.now();
        let lease = now + chrono::Duration::from_std(config.lease).unwrap_or_default();
        let claimed = self
            .ctx
            .store
            .claim_notices(now, lease, self.batch())
            .await?;
        let mut round = Round {
            taken: claimed.len(),
            ..Round::default()
        };
        if claimed.is_empty() {
            return Ok(round);
        }
        let mut results = Vec::with_capacity(claimed.len());
        let mut unserved = Vec::new();
        let mut work = JoinSet::new();
        let mut queue = claimed.into_iter();
        loop {
            while work.len() < config.concurrency {
                let Some(notice) = queue.next() else { break };
                match self.ctx.config.creditors.get(&notice.organization) {
                    Some(creditor) => {
                        work.spawn(self.make(notice, creditor.clone()));
                    }
                    None => {
                        if !unserved.contains(&notice.job) {
                            unserved.push(notice.job.clone());
                        }
                    }
                }
            }
            match work.join_next().await {
                Some(Ok((job, seq, Ok(result)))) => {
                    match &result {
                        NoticeResult::Made(_) => round.made += 1,
                        NoticeResult::Refused(_) => round.refused += 1,
                        NoticeResult::Failed(_) => round.failed += 1,
                    }
                    results.push((job, seq, result));
                }
                // Left PENDING: taken again when its lease ends.
                Some(Ok((_, _, Err(e)))) => {
                    tracing::warn!(error = %e, "a payment notice not made now; retried later");
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "a payment notice's rendering ended abnormally");
                }
                None => break,
            }
        }
        if !results.is_empty() {
            let now = self.ctx.clock.now();
            self.ctx.store.record_notices(results, now).await?;
        }
        for job in unserved {
            let error = "the job's creditor is no longer served by this gateway".to_owned();
            tracing::warn!(job = %job, "{error}");
            let now = self.ctx.clock.now();
            self.ctx.store.fail_notice_job(job, error, now).await?;
        }
        Ok(round)
    }

    /// One notice: what to record for it.
    fn make(
        &self,
        notice: ClaimedNotice,
        creditor: Creditor,
    ) -> impl Future<Output = (String, u32, Rendered)> + Send + 'static {
        let ctx = self.ctx.clone();
        let render = self.render.clone();
        async move {
            let ClaimedNotice { job, seq, iupd, .. } = notice;
            let result = match Iupd::parse(&iupd) {
                Err(m) => Ok(NoticeResult::Refused(format!("iupd: {m}"))),
                Ok(iupd) => render(ctx, creditor, iupd).await,
            };
            (job, seq, result)
        }
    }

    /// Runs rounds until none is left, calling `each` after each round; for the CLI, which
    /// makes a job's notices in its own process.
    pub async fn run_until_idle(&self, mut each: impl FnMut(Round)) -> Result<(), StoreError> {
        loop {
            let round = self.round().await?;
            if round.taken == 0 {
                return Ok(());
            }
            each(round);
        }
    }

    /// Runs the worker beside the server until stopped, woken when a job is made; and the
    /// deletion of old jobs, on one instance at a time.
    pub fn spawn(&self) -> Workers {
        let this = self.clone();
        let full = self.batch() as usize;
        let rounds = Background::spawn(
            self.ctx.config.notice_jobs.poll_interval,
            Some(self.ctx.notice_jobs.clone()),
            move |_| {
                let this = this.clone();
                async move {
                    match this.round().await {
                        Ok(r) if r.taken == 0 => After::Pause,
                        Ok(r) => {
                            tracing::info!(
                                made = r.made,
                                refused = r.refused,
                                failed = r.failed,
                                "payment notices made"
                            );
                            if r.taken == full {
                                After::Again
                            } else {
                                After::Pause
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "payment notice jobs not worked on");
                            After::Pause
                        }
                    }
                }
            },
        );
        let ctx = self.ctx.clone();
        let pruning = Background::spawn_led(
            ctx.store.clone(),
            "notice-jobs-retention",
            PRUNE_EVERY,
            None,
            move |_| {
                let ctx = ctx.clone();
                async move {
                    match prune(&ctx).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(jobs = n, "payment notice jobs past retention deleted")
                        }
                        Err(e) => tracing::error!(error = %e, "payment notice jobs not pruned"),
                    }
                    After::Pause
                }
            },
        );
        Workers { rounds, pruning }
    }
}

/// Deletes the jobs finished before the retention's start, a batch per transaction; how many.
pub async fn prune(ctx: &Context) -> Result<u64, StoreError> {
    let days = i64::from(ctx.config.notice_jobs.retention_days);
    let before = ctx.clock.now() - chrono::Duration::days(days);
    let mut total = 0;
    loop {
        let deleted = ctx.store.prune_notice_jobs(before, PRUNE_BATCH).await?;
        total += u64::from(deleted);
        if deleted < PRUNE_BATCH {
            return Ok(total);
        }
    }
}

/// The worker's two tasks.
pub struct Workers {
    rounds: Background,
    pruning: Background,
}

impl Workers {
    /// Lets the round in progress end (its notices recorded), then stops.
    pub async fn stop(self) {
        self.rounds.stop().await;
        self.pruning.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::domain::FiscalCodePA;
    use crate::domain::notice_job::JobState;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{NewNoticeJob, Store};

    /// Renders what the test says of each IUPD, and counts the renders per IUPD.
    fn recording(rendered: Arc<Mutex<Vec<String>>>) -> Render {
        Arc::new(move |_ctx, _creditor, iupd: Iupd| {
            rendered.lock().unwrap().push(iupd.as_str().to_owned());
            Box::pin(async move {
                Ok(match iupd.as_str() {
                    i if i.starts_with("PAID") => NoticeResult::Refused("not payable: PAID".into()),
                    i if i.starts_with("BAD") => NoticeResult::Failed("no font".into()),
                    i => NoticeResult::Made(format!("%PDF {i}").into_bytes()),
                })
            })
        })
    }

    async fn context(dir: &std::path::Path, config: Config) -> Arc<Context> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).unwrap());
        Arc::new(Context::new(config, store, Clock::system()))
    }

    async fn job(ctx: &Context, org: &str, id: &str, iupds: &[&str]) {
        ctx.store
            .create_notice_job(NewNoticeJob {
                id: id.into(),
                organization: FiscalCodePA::parse(org).unwrap(),
                idempotency_key: None,
                iupds: iupds.iter().map(|i| Iupd::parse(i).unwrap()).collect(),
                created_at: ctx.clock.now(),
            })
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_notice_gets_its_outcome_once_and_a_restart_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::example();
        config.notice_jobs.concurrency = 2;
        let ctx = context(dir.path(), config.clone()).await;
        let iupds: Vec<String> = (0..20)
            .map(|i| match i {
                3 => "PAID-3".to_owned(),
                7 => "BAD-7".to_owned(),
                i => format!("P-{i}"),
            })
            .collect();
        let names: Vec<&str> = iupds.iter().map(String::as_str).collect();
        job(&ctx, "77777777777", "j", &names).await;
        let rendered = Arc::new(Mutex::new(Vec::new()));
        let worker = Worker::new(ctx.clone(), recording(rendered.clone()));
        let first = worker.round().await.unwrap();
        assert_eq!(first.taken, 8, "concurrency x 4");
        assert_eq!((first.made, first.refused, first.failed), (6, 1, 1));
        // Stopped here; a new process on the same data makes only what is left.
        ctx.store.close().await.unwrap();
        let ctx = context(dir.path(), config).await;
        let worker = Worker::new(ctx.clone(), recording(rendered.clone()));
        let mut rounds = 0;
        worker.run_until_idle(|_| rounds += 1).await.unwrap();
        assert_eq!(rounds, 2);
        let mut seen = rendered.lock().unwrap().clone();
        seen.sort();
        let mut expected = iupds.clone();
        expected.sort();
        assert_eq!(seen, expected, "each rendered once");
        let org = FiscalCodePA::parse("77777777777").unwrap();
        let done = ctx
            .store
            .notice_job(org, "j".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.state, JobState::Done);
        assert_eq!(
            (done.counts.made, done.counts.refused, done.counts.failed),
            (18, 1, 1)
        );
        let made = ctx.store.made_notices("j".into(), 0, 100).await.unwrap();
        assert_eq!(made.len(), 18);
        assert_eq!(made[0], (1, b"%PDF P-0".to_vec()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_of_a_creditor_no_longer_served_fails() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), Config::example()).await;
        job(&ctx, "12345678901", "gone", &["A", "B"]).await;
        job(&ctx, "77777777777", "kept", &["C"]).await;
        let rendered = Arc::new(Mutex::new(Vec::new()));
        let worker = Worker::new(ctx.clone(), recording(rendered.clone()));
        worker.run_until_idle(|_| {}).await.unwrap();
        assert_eq!(*rendered.lock().unwrap(), ["C"]);
        let org = FiscalCodePA::parse("12345678901").unwrap();
        let gone = ctx
            .store
            .notice_job(org, "gone".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(gone.state, JobState::Failed);
        assert!(gone.error.unwrap().contains("no longer served"));
        assert_eq!(gone.counts.pending, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_jobs_are_deleted_after_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), Config::example()).await;
        job(&ctx, "77777777777", "old", &["A"]).await;
        let worker = Worker::new(ctx.clone(), recording(Arc::default()));
        worker.run_until_idle(|_| {}).await.unwrap();
        assert_eq!(prune(&ctx).await.unwrap(), 0, "kept 7 days");
        let later = Clock::shifted(chrono::Duration::days(7) + chrono::Duration::seconds(1));
        let later = Context::new(Config::example(), ctx.store.clone(), later);
        assert_eq!(prune(&later).await.unwrap(), 1);
        let org = FiscalCodePA::parse("77777777777").unwrap();
        assert_eq!(ctx.store.notice_job(org, "old".into()).await.unwrap(), None);
    }
}
