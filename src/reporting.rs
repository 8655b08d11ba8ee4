//! Reporting flows as a use case: fetch each creditor's newly published flows from the
//! platform (every page of the list, each new flow's header and every page of its payments),
//! or take one from a file, and store each reconciled by the domain's rule
//! ([`crate::domain::reporting::reconcile`]). A flow revision already stored is not fetched
//! again: the stored flows are the memory of what was fetched. A background task, led by one
//! instance, fetches for every creditor with a `[creditor.fdr]` access at the configured
//! interval, recovers from the platform the receipts its flows' payments lack (for creditors
//! with a `[creditor.bizevents]` access) and records the paid transfers no flow has reported
//! in time.

use std::fmt;
use std::sync::Arc;

use chrono::Duration as Days;
use serde::Serialize;
use tokio::sync::watch;

use crate::background::{After, Background};
use crate::clock::Clock;
use crate::config::Fdr;
use crate::context::Context;
use crate::domain::FiscalCodePA;
use crate::domain::creditor::Creditor;
use crate::domain::reporting::{FlowId, ReportingFlow, next_recovery, reconcile, rematch};
use crate::platform::api::ApiError;
use crate::platform::fdr::{FdrClient, FlowDocument};
use crate::primitives::recover::{self, Missing, RecoveryError};
use crate::store::{FlowRecorded, RecoveryAttempt, Rematch, Store, StoreError};

/// The lead the poller runs under.
pub const JOB: &str = "reporting-flows";

/// Transfers flagged per store transaction.
const BATCH: u32 = 500;

/// Receipts asked of the platform per creditor in one round: with each call bounded at 5 s,
/// a bound on the round's time and on what the service is asked at once. More wait for the
/// next round.
pub const RECOVERIES_PER_ROUND: u32 = 50;

/// How much of why an attempt failed is kept on its anomaly, in characters.
const DETAIL: usize = 300;

/// What one fetch did for a creditor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FetchReport {
    /// Flows the service listed.
    pub listed: u64,
    /// Of those, revisions not stored before, fetched and stored.
    pub stored: u64,
    /// Of the stored ones, those a newer revision already replaced.
    pub superseded: u64,
    /// Anomalies the stored flows showed.
    pub anomalies: u64,
    /// Flows that could not be fetched or read, with why; tried again at the next fetch.
    pub failed: Vec<String>,
}

/// Why a fetch stopped before the end of the list.
#[derive(Debug)]
pub enum FetchError {
    /// The creditor has no `[creditor.fdr]` access.
    NotConfigured,
    /// The list of flows could not be read.
    Service(ApiError),
    Store(StoreError),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NotConfigured => f.write_str("no [creditor.fdr] access is configured"),
            FetchError::Service(e) => write!(f, "reporting flows service: {e}"),
            FetchError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl From<StoreError> for FetchError {
    fn from(e: StoreError) -> Self {
        FetchError::Store(e)
    }
}

/// Stores a flow reconciled at the clock's now. Its payments without a receipt are left as
/// NO_RECEIPT anomalies whose receipt the poller recovers ([`recover_missing`]).
pub async fn record(
    store: &dyn Store,
    clock: Clock,
    flow: ReportingFlow,
) -> Result<FlowRecorded, StoreError> {
    let now = clock.now();
    store
        .record_reporting_flow(
            flow,
            Box::new(move |f, facts| reconcile(f, facts, now)),
            now,
        )
        .await
}

/// Fetches the creditor's newly published flows and stores each.
pub async fn fetch(
    store: &dyn Store,
    clock: Clock,
    settings: &Fdr,
    creditor: &Creditor,
) -> Result<FetchReport, FetchError> {
    let access = creditor
        .platform
        .fdr
        .as_ref()
        .ok_or(FetchError::NotConfigured)?;
    let org = creditor.fiscal_code.clone();
    let client = FdrClient::new(access, org.clone(), settings.timeout);
    let mut report = FetchReport::default();
    let mut page = 1;
    loop {
        let listed = client
            .flows(page, settings.page_size)
            .await
            .map_err(FetchError::Service)?;
        for item in &listed.data {
            report.listed += 1;
            let id = match FlowId::new(&item.fdr, &item.psp_id, item.revision) {
                Ok(id) => id,
                Err(e) => {
                    report.failed.push(format!("{}: {e}", item.fdr));
                    continue;
                }
            };
            if store.reporting_flow_stored(org.clone(), id.clone()).await? {
                continue;
            }
            match fetch_flow(&client, settings, &org, &id).await {
                Ok(flow) => match record(store, clock, flow).await? {
                    FlowRecorded::Applied { reconciliation, .. } => {
                        report.stored += 1;
                        report.anomalies += reconciliation.anomalies.len() as u64;
                    }
                    FlowRecorded::Superseded => {
                        report.stored += 1;
                        report.superseded += 1;
                    }
                    FlowRecorded::AlreadyStored => {}
                },
                Err(why) => report.failed.push(format!("{id}: {why}")),
            }
        }
        let pages = listed.metadata.tot_page.unwrap_or(1);
        if page >= pages || listed.data.is_empty() {
            break;
        }
        page += 1;
    }
    if !report.failed.is_empty() {
        tracing::warn!(organization = %org, failed = ?report.failed, "reporting flows not fetched");
    }
    Ok(report)
}

/// One flow's header and every page of its payments.
async fn fetch_flow(
    client: &FdrClient,
    settings: &Fdr,
    org: &FiscalCodePA,
    id: &FlowId,
) -> Result<ReportingFlow, String> {
    let header = (client.flow(&id.fdr, id.revision, &id.psp).await).map_err(|e| e.to_string())?;
    let mut payments = Vec::new();
    let mut page = 1;
    loop {
        let got = client
            .payments(&id.fdr, id.revision, &id.psp, page, settings.page_size)
            .await
            .map_err(|e| e.to_string())?;
        let empty = got.data.is_empty();
        payments.extend(got.data);
        if page >= got.metadata.tot_page.unwrap_or(1) || empty {
            break;
        }
        page += 1;
    }
    if header.fdr != id.fdr || header.revision != id.revision || header.sender.psp_id != id.psp {
        return Err("the service answered with another flow".into());
    }
    header.into_domain(org.clone(), payments)
}

/// Reads a flow from a file (a [`FlowDocument`]) for `organization` and stores it.
pub async fn import(
    store: &dyn Store,
    clock: Clock,
    organization: FiscalCodePA,
    document: &[u8],
) -> Result<FlowRecorded, String> {
    let doc: FlowDocument =
        serde_json::from_slice(document).map_err(|e| format!("not a reporting flow: {e}"))?;
    let flow = doc.flow.into_domain(organization, doc.payments)?;
    record(store, clock, flow).await.map_err(|e| e.to_string())
}

/// Records the paid transfers no flow reported within `days` of their payment; how many.
pub async fn flag_unreported(
    store: &dyn Store,
    clock: Clock,
    days: u32,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let now = clock.now();
        let flagged = store
            .flag_unreported_transfers(now - Days::days(i64::from(days)), now, BATCH)
            .await?;
        total += u64::from(flagged);
        if flagged < BATCH {
            return Ok(total);
        }
    }
}

/// What recovering a creditor's missing receipts did in one round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Receipts asked of the platform.
    pub tried: u32,
    /// NO_RECEIPT anomalies resolved by what was recovered.
    pub resolved: u32,
    /// Attempts that did not resolve their anomaly.
    pub unresolved: u32,
}

/// Asks the platform's receipts service for the receipts of the creditor's NO_RECEIPT
/// anomalies that are due, up to [`RECOVERIES_PER_ROUND`]; each receipt found is acquired as
/// any other (stored as recovered, applied, forwarded), and the flow payments of its IUV are
/// matched again. An attempt that resolves nothing is counted on its anomaly and tried again
/// later ([`next_recovery`]), until the last. The service unreachable ends the creditor's
/// round at once, as does `stopped`.
pub async fn recover_missing(
    ctx: &Context,
    creditor: &Creditor,
    stopped: &watch::Receiver<bool>,
) -> Result<RecoveryReport, StoreError> {
    let mut report = RecoveryReport::default();
    if creditor.platform.bizevents.is_none() {
        return Ok(report);
    }
    let org = creditor.fiscal_code.clone();
    let due = ctx
        .store
        .due_receipt_recoveries(org.clone(), ctx.clock.now(), RECOVERIES_PER_ROUND)
        .await?;
    for d in due {
        if *stopped.borrow() {
            break;
        }
        let missing = Missing {
            organization: org.clone(),
            iur: d.iur.clone(),
            iuv: Some(d.iuv.clone()),
        };
        let result = recover::recover(ctx, &missing, true).await;
        let now = ctx.clock.now();
        let next_at = next_recovery(d.attempts + 1, now);
        let (attempt, rematch): (_, Option<Rematch>) = match &result {
            Ok(recovered) => (
                RecoveryAttempt {
                    outcome: recovered.outcome.label().to_owned(),
                    detail: Some(format!(
                        "receipt {} is stored ({}), yet the flow payment still matches none",
                        recovered.receipt_id,
                        recovered.outcome.status().as_str()
                    )),
                    next_at,
                },
                Some(Box::new(move |payments, facts| {
                    rematch(&missing.organization, payments, facts, now)
                })),
            ),
            Err(e) => {
                let attempt = RecoveryAttempt {
                    outcome: e.label().to_owned(),
                    detail: Some(e.to_string().chars().take(DETAIL).collect()),
                    next_at,
                };
                (attempt, None)
            }
        };
        let resolved = ctx
            .store
            .settle_receipt_recovery(org.clone(), d.anomaly, attempt, rematch, now)
            .await?;
        report.tried += 1;
        report.resolved += resolved;
        if resolved == 0 {
            report.unresolved += 1;
        }
        if matches!(result, Err(RecoveryError::Unreachable(_))) {
            break;
        }
    }
    Ok(report)
}

/// One round of the poller: every creditor's new flows, then the receipts missing for them,
/// then the unreported transfers. The flows come first, so that recoveries (each a call to
/// another service) never delay them.
pub async fn poll(ctx: &Context, stopped: &watch::Receiver<bool>) {
    for creditor in ctx.config.creditors.values() {
        if creditor.platform.fdr.is_none() {
            continue;
        }
        match fetch(ctx.store.as_ref(), ctx.clock, &ctx.config.fdr, creditor).await {
            Ok(report) if report.stored > 0 => tracing::info!(
                organization = %creditor.fiscal_code,
                stored = report.stored,
                anomalies = report.anomalies,
                "reporting flows stored"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(organization = %creditor.fiscal_code, "reporting flows: {e}"),
        }
    }
    for creditor in ctx.config.creditors.values() {
        if *stopped.borrow() {
            return;
        }
        match recover_missing(ctx, creditor, stopped).await {
            Ok(r) if r.tried > 0 => tracing::info!(
                organization = %creditor.fiscal_code,
                tried = r.tried,
                resolved = r.resolved,
                unresolved = r.unresolved,
                "receipts missing from reporting flows asked of the platform"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(organization = %creditor.fiscal_code, "receipt recovery: {e}"),
        }
    }
    let days = ctx.config.fdr.unreported_after_days;
    match flag_unreported(ctx.store.as_ref(), ctx.clock, days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(transfers = n, days, "paid transfers no flow has reported"),
        Err(e) => tracing::warn!("unreported transfers not checked: {e}"),
    }
}

/// The poller, on one instance at a time, every `[fdr] poll_interval`.
pub fn spawn(ctx: Arc<Context>) -> Background {
    let pause = ctx.config.fdr.poll_interval;
    Background::spawn_led(ctx.store.clone(), JOB, pause, None, move |stopped| {
        let ctx = ctx.clone();
        async move {
            poll(&ctx, &stopped).await;
            After::Pause
        }
    })
}
