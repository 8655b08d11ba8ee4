//! The creditor's reporting flows: the flows stored, one flow's payments with what each
//! matched, the anomalies reconciliation found, and a fetch of newly published flows on demand.

use serde_json::{Value, json};

use super::query::{PageInfo, Query, bound, paged};
use super::reply::{Problem, Reply, bad_request};
use super::{OnCreditor, reply};
use crate::domain::Cents;
use crate::domain::reporting::{AnomalyKind, FlowId};
use crate::reporting::{self, FetchError};
use crate::store::{AnomalyFilter, AnomalyRecord, FlowFilter, FlowRecorded, FlowSummary};

fn euro(c: Cents) -> String {
    c.to_string()
}

fn at(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn flow_json(f: FlowSummary) -> Value {
    json!({
        "fdr": f.id.fdr,
        "pspId": f.id.psp,
        "revision": f.id.revision,
        "fdrDate": at(f.fdr_date),
        "published": f.published.map(at),
        "regulation": f.regulation,
        "regulationDate": f.regulation_date.to_string(),
        "bicCodePouringBank": f.bic,
        "totPayments": f.tot_payments,
        "sumPayments": euro(f.sum_payments),
        "computedTotPayments": f.computed_tot,
        "computedSumPayments": f.computed_sum.map(euro),
        "superseded": f.superseded,
        "receivedAt": at(f.received_at),
    })
}

fn anomaly_json(a: AnomalyRecord) -> Value {
    json!({
        "id": a.id,
        "kind": a.kind.as_str(),
        "fdr": a.flow.as_ref().map(|f| f.fdr.clone()),
        "pspId": a.flow.as_ref().map(|f| f.psp.clone()),
        "revision": a.flow.as_ref().map(|f| f.revision),
        "index": a.index,
        "iuv": a.iuv,
        "idTransfer": a.transfer.map(|t| t.get()),
        "expectedAmount": a.expected.map(euro),
        "reportedAmount": a.reported.map(euro),
        "foundAt": at(a.found_at),
        "resolvedAt": a.resolved_at.map(at),
        "receiptRecovery": a.recovery.map(|r| json!({
            "attempts": r.attempts,
            "outcome": r.outcome,
            "detail": r.detail,
            "lastAttemptAt": at(r.last_at),
            "nextAttemptAt": r.next_at.map(at),
        })),
    })
}

/// What storing a flow did, as `fdr import` prints it.
pub fn recorded_json(r: &FlowRecorded) -> Value {
    match r {
        FlowRecorded::AlreadyStored => json!({"outcome": "ALREADY_STORED"}),
        FlowRecorded::Superseded => json!({"outcome": "SUPERSEDED"}),
        FlowRecorded::Applied {
            reconciliation,
            positions_changed,
        } => {
            let count = |o: &str| {
                (reconciliation.outcomes.iter())
                    .filter(|x| x.as_str() == o)
                    .count()
            };
            json!({
                "outcome": "APPLIED",
                "payments": reconciliation.outcomes.len(),
                "reported": count("REPORTED") + count("AMOUNT_DIFFERS"),
                "anomalies": reconciliation.anomalies.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
                "positionsChanged": positions_changed,
            })
        }
    }
}

/// `GET /organizations/{fiscalCode}/reporting-flows?page&limit&pspId&fdr&from&to`
pub async fn list_flows(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let q = Query::parse(query, &["page", "limit", "pspId", "fdr", "from", "to"])?;
    let filter = FlowFilter {
        psp: q.get("pspId").map(str::to_owned),
        fdr: q.get("fdr").map(str::to_owned),
        from: bound(&q, "from", false)?,
        to: bound(&q, "to", true)?,
    };
    let listed = on
        .ctx
        .store
        .list_reporting_flows(on.creditor.fiscal_code.clone(), filter, q.page()?)
        .await?;
    Ok(Reply::json(200, &paged(listed, flow_json)))
}

/// `GET /organizations/{fiscalCode}/reporting-flows/{fdr}/psps/{pspId}/revisions/{revision}/payments?page&limit`
pub async fn flow_payments(
    on: OnCreditor<'_>,
    fdr: &str,
    psp: &str,
    revision: &str,
    query: Option<&str>,
) -> Result<Reply, Problem> {
    let q = Query::parse(query, &["page", "limit"])?;
    let revision: i64 = revision
        .parse()
        .map_err(|_| bad_request(format!("revision: '{revision}' must be a number")))?;
    let id = FlowId::new(fdr, psp, revision).map_err(bad_request)?;
    let found = on
        .ctx
        .store
        .reporting_flow_payments(on.creditor.fiscal_code.clone(), id.clone(), q.page()?)
        .await?;
    let (flow, payments) = found.ok_or_else(|| reply::not_found(format!("no flow {id}")))?;
    let page_info = PageInfo::of(&payments);
    let results: Vec<Value> = (payments.items.into_iter())
        .map(|p| {
            json!({
                "index": p.payment.index,
                "iuv": p.payment.iuv,
                "iur": p.payment.iur,
                "idTransfer": p.payment.transfer.get(),
                "pay": euro(p.payment.amount),
                "payStatus": p.payment.status.as_str(),
                "payDate": at(p.payment.pay_date),
                "match": p.outcome.as_str(),
                "expectedAmount": p.outcome.expected().map(euro),
                "reports": p.reports,
            })
        })
        .collect();
    Ok(Reply::json(
        200,
        &json!({"flow": flow_json(flow), "results": results, "page_info": page_info}),
    ))
}

/// `GET /organizations/{fiscalCode}/reporting-anomalies?page&limit&kind&resolved&from&to`
pub async fn list_anomalies(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let q = Query::parse(query, &["page", "limit", "kind", "resolved", "from", "to"])?;
    let kind = match q.get("kind") {
        None => None,
        Some(k) => Some(AnomalyKind::parse(k).ok_or_else(|| {
            let kinds: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
            bad_request(format!("kind: '{k}' must be one of {}", kinds.join(", ")))
        })?),
    };
    let resolved = match q.get("resolved") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(bad_request(format!(
                "resolved: '{v}' must be true or false"
            )));
        }
    };
    let filter = AnomalyFilter {
        kind,
        resolved,
        from: bound(&q, "from", false)?,
        to: bound(&q, "to", true)?,
    };
    let listed = on
        .ctx
        .store
        .list_reporting_anomalies(on.creditor.fiscal_code.clone(), filter, q.page()?)
        .await?;
    Ok(Reply::json(200, &paged(listed, anomaly_json)))
}

/// `POST /organizations/{fiscalCode}/reporting-flows/fetch`: the creditor's newly published
/// flows fetched and reconciled now; what was done.
pub async fn fetch(on: OnCreditor<'_>) -> Result<Reply, Problem> {
    let ctx = on.ctx;
    match reporting::fetch(ctx.store.as_ref(), ctx.clock, &ctx.config.fdr, on.creditor).await {
        Ok(report) => Ok(Reply::json(200, &report)),
        Err(FetchError::NotConfigured) => Err(Problem::new(
            409,
            "Conflict",
            format!(
                "organization {} has no reporting flows access ([creditor.fdr])",
                on.org()
            ),
        )),
        Err(FetchError::Service(e)) => Err(Problem::new(
            502,
            "Bad Gateway",
            format!("the reporting flows service did not answer the list: {e}"),
        )),
        Err(FetchError::Store(e)) => Err(e.into()),
    }
}
