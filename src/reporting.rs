//! Reporting flows as a use case: fetch each creditor's newly published flows from the
//! platform (every page of the list, each new flow's header and every page of its payments),
//! or take one from a file, and store each reconciled by the domain's rule
//! ([`crate::domain::reporting::reconcile`]). A flow revision already stored is not fetched
//! again: the stored flows are the memory of what was fetched. A background task, led by one
//! instance, fetches for every creditor with a `[creditor.fdr]` access at the configured
//! interval and records the paid transfers no flow has reported in time.

use std::fmt;
use std::sync::Arc;

use chrono::Duration as Days;
use serde::Serialize;

use crate::background::{After, Background};
use crate::clock::Clock;
use crate::config::Fdr;
use crate::context::Context;
use crate::domain::FiscalCodePA;
use crate::domain::creditor::Creditor;
use crate::domain::reporting::{AnomalyKind, FlowId, ReportingFlow, reconcile};
use crate::platform::api::ApiError;
use crate::platform::fdr::{FdrClient, FlowDocument};
use crate::store::{FlowRecorded, Store, StoreError};

/// The lead the poller runs under.
pub const JOB: &str = "reporting-flows";

/// Transfers flagged per store transaction.
const BATCH: u32 = 500;

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

/// Stores a flow reconciled at the clock's now. The one place where flow payments without a
/// receipt are noticed (see [`missing_receipt`]).
pub async fn record(
    store: &dyn Store,
    clock: Clock,
    flow: ReportingFlow,
) -> Result<FlowRecorded, StoreError> {
    let now = clock.now();
    let organization = flow.organization.clone();
    let id = flow.id.clone();
    let recorded = store
        .record_reporting_flow(
            flow,
            Box::new(move |f, facts| reconcile(f, facts, now)),
            now,
        )
        .await?;
    if let FlowRecorded::Applied { reconciliation, .. } = &recorded {
        for a in &reconciliation.anomalies {
            if a.kind == AnomalyKind::NoReceipt
                && let Some(iuv) = &a.iuv
            {
                missing_receipt(&organization, &id, iuv);
            }
        }
    }
    Ok(recorded)
}

/// A flow reports money for an IUV the creditor has no receipt of (recorded as a NO_RECEIPT
/// anomaly). Fetching the missing receipt from the platform starts here.
fn missing_receipt(organization: &FiscalCodePA, flow: &FlowId, iuv: &str) {
    tracing::warn!(
        organization = %organization,
        fdr = %flow.fdr,
        psp = %flow.psp,
        revision = flow.revision,
        iuv,
        "a reporting flow reports a payment we have no receipt of"
    );
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

/// One round of the poller: every creditor's new flows, then the unreported transfers.
pub async fn poll(ctx: &Context) {
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
    Background::spawn_led(ctx.store.clone(), JOB, pause, None, move |_stopped| {
        let ctx = ctx.clone();
        async move {
            poll(&ctx).await;
            After::Pause
        }
    })
}
