//! The mirror worker: takes the positions whose mirror is due (one at a time per position, so
//! that its steps go in order), reads each as the store now holds it, sends the archive the
//! steps from what it holds to that, and records what came of them. A step the archive answers
//! as already done (a 409 on create, publish, invalidate or mark-paid, a 404 on delete) counts
//! as done: a repeat after a lost answer is harmless. Failures the archive may get over (no
//! answer, 5xx, 429, 401/403) are retried with backoff until the policy's last attempt, then
//! FAILED; other refusals are FAILED at once. FAILED mirrors wait for the position's next change,
//! or a retry asked for.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::background::{After, Background};
use crate::clock::Clock;
use crate::config::{Aca, Config};
use crate::domain::FiscalCodePA;
use crate::domain::aca::{Archived, ArchivedStatus, Step, plan};
use crate::domain::position::Iupd;
use crate::platform::aca::{AcaClient, PositionModel};
use crate::platform::api::ApiError;
use crate::store::{AcaMirror, MirrorRecord, PositionKey, Store, StoreError};

/// How many positions a round takes, and mirrors at once.
const BATCH: u32 = 16;

/// What one mirror did, for `aca sync`'s summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Done {
    pub created: bool,
    pub updated: bool,
    pub deleted: bool,
    pub failed: bool,
}

#[derive(Clone)]
pub struct Mirror {
    store: Arc<dyn Store>,
    clock: Clock,
    config: Aca,
    clients: Arc<BTreeMap<FiscalCodePA, AcaClient>>,
}

impl Mirror {
    /// The mirror of the configured creditors with a `[creditor.aca]` table.
    pub fn new(config: &Config, store: Arc<dyn Store>, clock: Clock) -> Mirror {
        let clients = config
            .creditors
            .iter()
            .filter_map(|(org, c)| {
                let access = c.platform.aca.as_ref()?;
                Some((org.clone(), AcaClient::new(access, org, config.aca.timeout)))
            })
            .collect();
        Mirror {
            store,
            clock,
            config: config.aca.clone(),
            clients: Arc::new(clients),
        }
    }

    pub fn organizations(&self) -> Vec<FiscalCodePA> {
        self.clients.keys().cloned().collect()
    }

    pub fn client(&self, organization: &FiscalCodePA) -> Option<&AcaClient> {
        self.clients.get(organization)
    }

    /// Tells the store whose positions' changes to record, before any is written.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        self.store.set_aca_creditors(self.organizations()).await
    }

    /// Runs the worker, on one instance at a time, until the returned handle is stopped; none
    /// when no creditor is mirrored, so that nothing polls the store for nothing.
    pub fn spawn(&self) -> Option<Background> {
        if self.clients.is_empty() {
            return None;
        }
        let this = self.clone();
        Some(Background::spawn_led(
            self.store.clone(),
            "aca-mirror",
            self.config.poll_interval,
            None,
            move |_| {
                let this = this.clone();
                async move {
                    match this.round(None).await {
                        Ok(n) if n == BATCH as usize => After::Again,
                        Ok(_) => After::Pause,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the ACA mirror's changes");
                            After::Pause
                        }
                    }
                }
            },
        ))
    }

    /// Takes the mirrors due now (of one creditor, when given) and mirrors them, different
    /// positions at once; how many it took.
    pub async fn round(&self, organization: Option<FiscalCodePA>) -> Result<usize, StoreError> {
        Ok(self.round_with(organization, |_| {}).await?.len())
    }

    /// [`Mirror::round`], calling `each` with what each mirror did as it ends.
    pub async fn round_with(
        &self,
        organization: Option<FiscalCodePA>,
        mut each: impl FnMut(Done),
    ) -> Result<Vec<Done>, StoreError> {
        let now = self.clock.now();
        let lease = now + chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let claimed = self
            .store
            .claim_aca_mirrors(organization, now, lease, BATCH)
            .await?;
        let mut running = tokio::task::JoinSet::new();
        for m in claimed {
            let this = self.clone();
            running.spawn(async move { this.mirror(m).await });
        }
        let mut done = Vec::new();
        while let Some(result) = running.join_next().await {
            let d = result.unwrap_or(Done {
                failed: true,
                ..Done::default()
            });
            each(d);
            done.push(d);
        }
        Ok(done)
    }

    /// Mirrors one position and records the outcome.
    async fn mirror(&self, m: AcaMirror) -> Done {
        let now = self.clock.now();
        let (record, done) = self.attempt(&m, now).await;
        let org = m.organization.clone();
        if let Err(e) = self
            .store
            .record_aca_mirror(org, m.iupd.clone(), m.generation, record, now)
            .await
        {
            // Still leased: taken again when the lease ends.
            tracing::error!(error = %e, "cannot record an ACA mirror's outcome");
        }
        done
    }

    async fn attempt(&self, m: &AcaMirror, now: NaiveDateTime) -> (MirrorRecord, Done) {
        let mut done = Done::default();
        let fail = |archived: Option<Archived>, error: String, retry: bool, done: Done| {
            let retry_at = if retry {
                self.config
                    .retry
                    .next_delay(m.attempts + 1)
                    .map(|d| now + chrono::Duration::from_std(d).unwrap_or_default())
            } else {
                None
            };
            let record = MirrorRecord::Failed {
                archived,
                error,
                retry_at,
            };
            (
                record,
                Done {
                    failed: true,
                    ..done
                },
            )
        };
        let Some(client) = self.clients.get(&m.organization) else {
            let why = "the creditor has no [creditor.aca] configured".to_owned();
            return fail(m.archived.clone(), why, false, done);
        };
        let position = match Iupd::parse(&m.iupd) {
            Ok(iupd) => {
                let key = PositionKey::Iupd(iupd);
                match self.store.get_position(m.organization.clone(), key).await {
                    Ok(p) => p,
                    Err(e) => return fail(m.archived.clone(), e.to_string(), true, done),
                }
            }
            Err(_) => None,
        };
        let model = position.as_ref().map(|p| PositionModel::of(p, now));
        let digest = model.as_ref().map(PositionModel::digest);
        let current = position.as_ref().zip(digest.as_deref());
        let (steps, target) = plan(m.archived.as_ref(), current, now);
        let mut archived = m.archived.clone();
        for step in steps {
            let sent = match (&step, &model) {
                (Step::Create { publish }, Some(body)) => {
                    match client.create(body, *publish).await {
                        // There already (an earlier attempt whose answer was lost, or made
                        // outside the mirror): its content replaced.
                        Err(e) if e.status() == Some(409) => client.update(body, *publish).await,
                        other => other,
                    }
                }
                (Step::Update { publish }, Some(body)) => {
                    match client.update(body, *publish).await {
                        // The archive lost it: created again.
                        Err(e) if e.status() == Some(404) => client.create(body, *publish).await,
                        other => other,
                    }
                }
                (Step::Publish, _) => tolerate(client.act(&m.iupd, "publish").await, 409),
                (Step::Invalidate, _) => tolerate(client.act(&m.iupd, "invalidate").await, 409),
                (Step::Delete, _) => tolerate(client.delete(&m.iupd).await, 404),
                (Step::MarkPaid { nav, payment_date }, _) => {
                    tolerate(client.mark_paid(nav, *payment_date).await, 409)
                }
                (Step::Create { .. } | Step::Update { .. }, None) => {
                    unreachable!("a plan creates or updates only a position that exists")
                }
            };
            if let Err(e) = sent {
                let retry = retryable(&e);
                // Neither the IUPD nor the archive's answer: either may carry a fiscal code.
                tracing::warn!(
                    organization = %m.organization,
                    step = step.name(),
                    status = e.status(),
                    attempts = m.attempts + 1,
                    retried = retry,
                    "ACA mirror step failed"
                );
                let why = format!("{}: {e}", step.name());
                return fail(archived, why, retry, done);
            }
            archived = after(archived, &step, digest.as_deref());
            match step {
                Step::Create { .. } => done.created = true,
                Step::Delete => done.deleted = true,
                _ => done.updated = true,
            }
        }
        if done.created && done.deleted {
            // Taken out and put back: the archive holds it, changed.
            done = Done {
                updated: true,
                ..Done::default()
            };
        }
        let record = MirrorRecord::Mirrored {
            forget: position.is_none(),
            archived: target,
        };
        (record, done)
    }
}

/// The archive answering `status` means the step was already done.
fn tolerate(result: Result<(), ApiError>, status: u16) -> Result<(), ApiError> {
    match result {
        Err(e) if e.status() == Some(status) => Ok(()),
        other => other,
    }
}

/// Whether trying again later may go through.
fn retryable(e: &ApiError) -> bool {
    match e {
        ApiError::Unreachable(_) | ApiError::Invalid(_) => true,
        ApiError::Status { status, .. } => {
            *status >= 500 || matches!(*status, 401 | 403 | 408 | 429)
        }
    }
}

/// What the archive holds once `step` is done.
fn after(archived: Option<Archived>, step: &Step, digest: Option<&str>) -> Option<Archived> {
    let content = |status| Archived {
        status,
        digest: digest.unwrap_or_default().to_owned(),
        paid: Default::default(),
    };
    let published = |publish: bool| {
        if publish {
            ArchivedStatus::Published
        } else {
            ArchivedStatus::Draft
        }
    };
    match step {
        Step::Create { publish } => Some(content(published(*publish))),
        Step::Update { publish } => Some(Archived {
            paid: archived.map(|a| a.paid).unwrap_or_default(),
            ..content(published(*publish))
        }),
        Step::Delete => None,
        Step::Publish | Step::Invalidate | Step::MarkPaid { .. } => {
            let mut a = archived?;
            match step {
                Step::Publish => a.status = ArchivedStatus::Published,
                Step::Invalidate => a.status = ArchivedStatus::Invalid,
                Step::MarkPaid { nav, .. } => {
                    a.paid.insert(nav.clone());
                }
                _ => {}
            }
            Some(a)
        }
    }
}
