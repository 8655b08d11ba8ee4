//! Reporting flows on PostgreSQL, as on SQLite (src/store/sqlite/reporting.rs): a flow stored
//! with its payments, anomalies and the positions it changes in one transaction, the positions
//! locked (`FOR UPDATE`) before they are read; the listings; the sweep for transfers no flow
//! reported. Two instances storing one revision at once: the flow's unique key keeps one.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDateTime;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

use super::filter::Where;
use super::positions::{RowIds, load_positions_by_id, replace_position};
use super::statements::Statements;
use super::{PgStore, db_error};
use crate::domain::reporting::{
    Anomaly, AnomalyKind, FlowFacts, FlowId, FlowPayment, Outcome, ReportKey, ReportingFlow,
};
use crate::domain::{FiscalCodePA, TransferId};
use crate::store::columns::{corrupt, millis};
use crate::store::reporting::columns::{
    ANOMALY_LISTING, FLOW_COLUMNS, FLOW_LISTING, PAYMENT_COLUMNS_OF_P, PAYMENT_LISTING,
    anomaly_record, flow_summary, payment_record, resolved_condition,
};
use crate::store::{
    AnomalyFilter, AnomalyRecord, DueRecovery, FlowFilter, FlowPaymentRecord, FlowRecorded,
    FlowSummary, Page, PageRequest, Reconcile, RecoveryAttempt, Rematch, StoreError,
};

impl PgStore {
    pub async fn reporting_flow_stored(
        &self,
        organization: FiscalCodePA,
        id: FlowId,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(flow_row(&client, &organization, &id).await?.is_some())
    }

    pub async fn record_reporting_flow(
        &self,
        flow: ReportingFlow,
        reconcile: Reconcile,
        now: NaiveDateTime,
    ) -> Result<FlowRecorded, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let recorded = record(&tx, flow, reconcile, now).await?;
        super::commit(tx).await?;
        Ok(recorded)
    }

    pub async fn list_reporting_flows(
        &self,
        organization: FiscalCodePA,
        filter: FlowFilter,
        page: PageRequest,
    ) -> Result<Page<FlowSummary>, StoreError> {
        let mut filters = Where::default();
        filters
            .equals("organization", Some(organization.as_str().to_owned()))
            .equals("psp_id", filter.psp)
            .equals("fdr", filter.fdr)
            .range("fdr_date", filter.from, filter.to);
        filters.page(self, &FLOW_LISTING, page, flow_summary).await
    }

    pub async fn reporting_flow_payments(
        &self,
        organization: FiscalCodePA,
        id: FlowId,
        page: PageRequest,
    ) -> Result<Option<(FlowSummary, Page<FlowPaymentRecord>)>, StoreError> {
        let client = self.client().await?;
        let Some(row) = flow_row(&client, &organization, &id).await? else {
            return Ok(None);
        };
        let sql = format!("SELECT {FLOW_COLUMNS} FROM reporting_flow WHERE id = $1");
        let summary = flow_summary(&client.row(&sql, &[&row]).await?)?;
        // The page takes a connection of its own.
        drop(client);
        let mut filters = Where::default();
        filters.equals("flow_id", Some(row));
        let payments = filters
            .page(self, &PAYMENT_LISTING, page, |r| payment_record(r, 0))
            .await?;
        Ok(Some((summary, payments)))
    }

    pub async fn list_reporting_anomalies(
        &self,
        organization: FiscalCodePA,
        filter: AnomalyFilter,
        page: PageRequest,
    ) -> Result<Page<AnomalyRecord>, StoreError> {
        let mut filters = Where::default();
        filters
            .equals("a.organization", Some(organization.as_str().to_owned()))
            .equals("a.kind", filter.kind.map(|k| k.as_str()))
            .range("a.found_at", filter.from, filter.to);
        if let Some(resolved) = resolved_condition(filter.resolved) {
            filters.and(resolved);
        }
        filters
            .page(self, &ANOMALY_LISTING, page, anomaly_record)
            .await
    }

    pub async fn due_receipt_recoveries(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> Result<Vec<DueRecovery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .rows(
                "SELECT a.id, a.iuv, p.iur, a.recovery_attempts
                 FROM reporting_anomaly a
                 JOIN reporting_payment p ON p.flow_id = a.flow_id AND p.idx = a.idx
                 WHERE a.organization = $1 AND a.recovery_due IS NOT NULL
                   AND a.resolved_at IS NULL AND a.recovery_due <= $2
                 ORDER BY a.recovery_due, a.id LIMIT $3",
                &[&organization.as_str(), &millis(now), &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DueRecovery {
                    anomaly: r.try_get(0).map_err(db_error)?,
                    organization: organization.clone(),
                    iuv: r.try_get(1).map_err(db_error)?,
                    iur: r.try_get(2).map_err(db_error)?,
                    attempts: r.try_get(3).map_err(db_error)?,
                })
            })
            .collect()
    }

    pub async fn settle_receipt_recovery(
        &self,
        organization: FiscalCodePA,
        anomaly: i64,
        attempt: RecoveryAttempt,
        rematch: Option<Rematch>,
        now: NaiveDateTime,
    ) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let org = organization.as_str();
        let resolved = settle_recovery(&tx, org, anomaly, &attempt, rematch, now).await?;
        super::commit(tx).await?;
        Ok(resolved)
    }

    pub async fn flag_unreported_transfers(
        &self,
        paid_before: NaiveDateTime,
        now: NaiveDateTime,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let client = self.client().await?;
        // The unique partial index keeps one open anomaly per transfer when two instances
        // sweep at once; the loser's rows are skipped.
        let n = client
            .exec(
                "INSERT INTO reporting_anomaly (organization, kind, iuv, transfer_id, expected_amount, found_at)
                 SELECT o.organization, 'UNREPORTED', o.iuv, t.transfer_id, t.amount, $2
                 FROM payment_option o JOIN transfer t ON t.option_id = o.id
                 WHERE o.status IN ('PO_PAID', 'PO_PARTIALLY_REPORTED') AND o.payment_date < $1
                   AND t.status = 'T_UNREPORTED' AND t.organization = o.organization
                   AND NOT EXISTS (SELECT 1 FROM reporting_anomaly a
                       WHERE a.organization = o.organization AND a.iuv = o.iuv
                         AND a.transfer_id = t.transfer_id AND a.kind = 'UNREPORTED'
                         AND a.resolved_at IS NULL)
                 LIMIT $3
                 ON CONFLICT DO NOTHING",
                &[&millis(paid_before), &millis(now), &i64::from(limit)],
            )
            .await?;
        Ok(n as u32)
    }
}

async fn flow_row(
    client: &impl GenericClient,
    organization: &FiscalCodePA,
    id: &FlowId,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .opt_row(
            "SELECT id FROM reporting_flow
             WHERE organization = $1 AND fdr = $2 AND psp_id = $3 AND revision = $4",
            &[&organization.as_str(), &id.fdr, &id.psp, &id.revision],
        )
        .await?;
    row.map(|r| r.try_get(0).map_err(db_error)).transpose()
}

fn keys(rows: Vec<Row>) -> Result<Vec<ReportKey>, StoreError> {
    rows.iter()
        .map(|r| {
            let iuv: String = r.try_get(0).map_err(db_error)?;
            let t: i64 = r.try_get(1).map_err(db_error)?;
            let t = TransferId::new(t).map_err(|e| corrupt("reporting_payment.transfer_id", e))?;
            Ok((iuv, t))
        })
        .collect()
}

async fn record(
    tx: &Transaction<'_>,
    flow: ReportingFlow,
    reconcile: Reconcile,
    now: NaiveDateTime,
) -> Result<FlowRecorded, StoreError> {
    let org = flow.organization.as_str();
    // One flow's revisions are stored one at a time: the in-force row is locked.
    let in_force: Option<(i64, i64)> = tx
        .opt_row(
            "SELECT id, revision FROM reporting_flow
             WHERE organization = $1 AND fdr = $2 AND psp_id = $3 AND NOT superseded FOR UPDATE",
            &[&org, &flow.id.fdr, &flow.id.psp],
        )
        .await?
        .map(|r| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
        .map_err(db_error)?;
    if flow_row(tx, &flow.organization, &flow.id).await?.is_some() {
        return Ok(FlowRecorded::AlreadyStored);
    }
    if let Some((_, revision)) = in_force
        && revision > flow.id.revision
    {
        let outcomes = vec![Outcome::Superseded; flow.payments.len()];
        return match insert_flow(tx, &flow, &outcomes, true, now).await? {
            Some(_) => Ok(FlowRecorded::Superseded),
            None => Ok(FlowRecorded::AlreadyStored),
        };
    }
    let mut previous = Vec::new();
    if let Some((old, _)) = in_force {
        previous = keys(
            tx.rows(
                "SELECT iuv, transfer_id FROM reporting_payment WHERE flow_id = $1 AND reports",
                &[&old],
            )
            .await?,
        )?;
        for sql in [
            "UPDATE reporting_flow SET superseded = true WHERE id = $1",
            "UPDATE reporting_payment SET reports = false WHERE flow_id = $1",
        ] {
            tx.exec(sql, &[&old]).await?;
        }
        tx.exec(
            "UPDATE reporting_anomaly SET resolved_at = $2 WHERE flow_id = $1 AND resolved_at IS NULL",
            &[&old, &millis(now)],
        )
        .await?;
    }

    let iuvs: Vec<String> = (flow.payments.iter().map(|p| p.iuv.clone()))
        .chain(previous.iter().map(|(iuv, _)| iuv.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (row_ids, mut facts) = facts(tx, org, &iuvs).await?;
    facts.previous = previous;
    let reconciliation = reconcile(&flow, &mut facts);
    for &i in &reconciliation.changed {
        replace_position(tx, &row_ids[i], &facts.positions[i]).await?;
    }
    let Some(flow_id) = insert_flow(tx, &flow, &reconciliation.outcomes, false, now).await? else {
        return Ok(FlowRecorded::AlreadyStored);
    };
    insert_anomalies(tx, org, flow_id, reconciliation.anomalies.iter(), now).await?;
    for (p, outcome) in flow.payments.iter().zip(&reconciliation.outcomes) {
        if outcome.reports() {
            resolve_unreported(tx, org, p, now).await?;
        }
    }
    let positions_changed = reconciliation.changed.len();
    Ok(FlowRecorded::Applied {
        reconciliation,
        positions_changed,
    })
}

/// What reconciling payments for `iuvs` needs to know, read in the transaction with the
/// positions locked: the positions concerned (the creditor's own, and other creditors' paid
/// ones with a transfer credited to it) with their row ids, the IUVs with a receipt, and the
/// transfers flows in force report. `previous` is left empty.
async fn facts(
    tx: &Transaction<'_>,
    org: &str,
    iuvs: &[String],
) -> Result<(Vec<RowIds>, FlowFacts), StoreError> {
    let ids: Vec<i64> = tx
        .rows(
            "SELECT id FROM debt_position WHERE id IN
                (SELECT position_id FROM payment_option WHERE organization = $1 AND iuv = ANY($2)
                 UNION
                 SELECT o.position_id FROM payment_option o
                 WHERE o.iuv = ANY($2) AND o.status <> 'PO_UNPAID' AND o.organization <> $1
                   AND EXISTS (SELECT 1 FROM transfer t
                       WHERE t.option_id = o.id AND t.organization = $1))
             ORDER BY id FOR UPDATE",
            &[&org, &iuvs],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    let receipts: HashSet<String> = tx
        .rows(
            "SELECT DISTINCT iuv FROM receipt WHERE organization = $1 AND iuv = ANY($2)",
            &[&org, &iuvs],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    let others: HashSet<ReportKey> = keys(
        tx.rows(
            "SELECT iuv, transfer_id FROM reporting_payment
             WHERE organization = $1 AND iuv = ANY($2) AND reports",
            &[&org, &iuvs],
        )
        .await?,
    )?
    .into_iter()
    .collect();
    let loaded = load_positions_by_id(tx, &ids).await?;
    let (row_ids, positions): (Vec<_>, Vec<_>) = loaded.into_iter().unzip();
    let facts = FlowFacts {
        positions,
        receipts,
        previous: Vec::new(),
        others,
    };
    Ok((row_ids, facts))
}

/// Inserts a flow's anomalies, found at `now`; the NO_RECEIPT ones have their receipt's
/// recovery due at once.
async fn insert_anomalies<'a>(
    tx: &Transaction<'_>,
    org: &str,
    flow_id: i64,
    anomalies: impl Iterator<Item = &'a Anomaly>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    for a in anomalies {
        tx.exec(
            "INSERT INTO reporting_anomaly (organization, kind, flow_id, idx, iuv, transfer_id,
                expected_amount, reported_amount, found_at, recovery_due)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &org,
                &a.kind.as_str(),
                &flow_id,
                &a.index,
                &a.iuv,
                &a.transfer.map(|t| i64::from(t.get())),
                &a.expected.map(|c| c.get()),
                &a.reported.map(|c| c.get()),
                &millis(now),
                &(a.kind == AnomalyKind::NoReceipt).then(|| millis(now)),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Resolves the open UNREPORTED anomaly of the transfer `p` reports, if any.
async fn resolve_unreported(
    tx: &Transaction<'_>,
    org: &str,
    p: &FlowPayment,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE reporting_anomaly SET resolved_at = $4
         WHERE organization = $1 AND iuv = $2 AND transfer_id = $3
           AND kind = 'UNREPORTED' AND resolved_at IS NULL",
        &[&org, &p.iuv, &i64::from(p.transfer.get()), &millis(now)],
    )
    .await?;
    Ok(())
}

/// [`crate::store::Store::settle_receipt_recovery`] inside its transaction. The anomalies are
/// locked first: a flow storing a newer revision meanwhile, on another instance, resolves
/// them before or after, never half-way.
async fn settle_recovery(
    tx: &Transaction<'_>,
    org: &str,
    anomaly: i64,
    attempt: &RecoveryAttempt,
    rematch: Option<Rematch>,
    now: NaiveDateTime,
) -> Result<u32, StoreError> {
    let mut resolved = 0;
    if let Some(rematch) = rematch {
        let sql = format!(
            "SELECT a.id, a.flow_id, {PAYMENT_COLUMNS_OF_P}
                 FROM reporting_anomaly a
                 JOIN reporting_payment p ON p.flow_id = a.flow_id AND p.idx = a.idx
                 WHERE a.organization = $1 AND a.kind = 'NO_RECEIPT' AND a.resolved_at IS NULL
                   AND a.iuv = (SELECT iuv FROM reporting_anomaly WHERE id = $2)
                 ORDER BY a.id FOR UPDATE OF a"
        );
        let mut open = Vec::new();
        for r in tx.rows(&sql, &[&org, &anomaly]).await? {
            let id: i64 = r.try_get(0).map_err(db_error)?;
            let flow: i64 = r.try_get(1).map_err(db_error)?;
            open.push((id, flow, payment_record(&r, 2)?.payment));
        }
        let payments: Vec<FlowPayment> = open.iter().map(|(_, _, p)| p.clone()).collect();
        let iuvs: Vec<String> = (payments.iter().map(|p| p.iuv.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (row_ids, mut facts) = facts(tx, org, &iuvs).await?;
        let reconciliation = rematch(&payments, &mut facts);
        for &i in &reconciliation.changed {
            replace_position(tx, &row_ids[i], &facts.positions[i]).await?;
        }
        let payment =
            "UPDATE reporting_payment SET outcome = $3, expected_amount = $4, reports = $5
             WHERE flow_id = $1 AND idx = $2";
        let resolve = "UPDATE reporting_anomaly SET resolved_at = $2, recovery_due = NULL,
                recovery_outcome = $3, recovery_detail = NULL, recovery_at = $2
             WHERE id = $1";
        for ((id, flow, p), outcome) in open.iter().zip(&reconciliation.outcomes) {
            if *outcome == Outcome::NoReceipt {
                continue;
            }
            let expected = outcome.expected().map(|c| c.get());
            tx.exec(
                payment,
                &[
                    flow,
                    &p.index,
                    &outcome.as_str(),
                    &expected,
                    &outcome.reports(),
                ],
            )
            .await?;
            tx.exec(resolve, &[id, &millis(now), &attempt.outcome])
                .await?;
            insert_anomalies(tx, org, *flow, Anomaly::of(p, *outcome).iter(), now).await?;
            if outcome.reports() {
                resolve_unreported(tx, org, p, now).await?;
            }
            resolved += 1;
        }
    }
    tx.exec(
        "UPDATE reporting_anomaly SET recovery_attempts = recovery_attempts + 1,
                recovery_outcome = $3, recovery_at = $4,
                recovery_detail = CASE WHEN resolved_at IS NULL THEN $5 END,
                recovery_due = CASE WHEN resolved_at IS NULL THEN $6::bigint END
         WHERE id = $1 AND organization = $2",
        &[
            &anomaly,
            &org,
            &attempt.outcome,
            &millis(now),
            &attempt.detail,
            &attempt.next_at.map(millis),
        ],
    )
    .await?;
    Ok(resolved)
}

/// Inserts the flow row and its payments; the flow's row id, or None when another instance
/// stored this revision meanwhile.
async fn insert_flow(
    tx: &Transaction<'_>,
    flow: &ReportingFlow,
    outcomes: &[Outcome],
    superseded: bool,
    now: NaiveDateTime,
) -> Result<Option<i64>, StoreError> {
    let (computed_tot, computed_sum) = flow.computed_totals();
    let org = flow.organization.as_str();
    let row = tx
        .opt_row(
            "INSERT INTO reporting_flow (organization, fdr, psp_id, revision, fdr_date, published,
                regulation, regulation_date, bic, tot_payments, sum_payments, computed_tot,
                computed_sum, superseded, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT DO NOTHING RETURNING id",
            &[
                &org,
                &flow.id.fdr,
                &flow.id.psp,
                &flow.id.revision,
                &millis(flow.fdr_date),
                &flow.published.map(millis),
                &flow.regulation,
                &flow.regulation_date.format("%Y-%m-%d").to_string(),
                &flow.bic,
                &flow.tot_payments,
                &flow.sum_payments.get(),
                &computed_tot,
                &computed_sum.map(|c| c.get()),
                &superseded,
                &millis(now),
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.try_get(0).map_err(db_error)?;
    let mut seen = HashSet::new();
    for (p, outcome) in flow.payments.iter().zip(outcomes) {
        if !seen.insert(p.index) {
            return Err(StoreError::Duplicate {
                field: "index",
                value: p.index.to_string(),
            });
        }
        tx.exec(
            "INSERT INTO reporting_payment (flow_id, idx, organization, iuv, iur, transfer_id,
                amount, pay_status, pay_date, outcome, expected_amount, reports)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &id,
                &p.index,
                &org,
                &p.iuv,
                &p.iur,
                &i64::from(p.transfer.get()),
                &p.amount.get(),
                &p.status.as_str(),
                &millis(p.pay_date),
                &outcome.as_str(),
                &outcome.expected().map(|c| c.get()),
                &outcome.reports(),
            ],
        )
        .await?;
    }
    Ok(Some(id))
}
