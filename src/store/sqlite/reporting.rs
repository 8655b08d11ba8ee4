//! Reporting flows on SQLite: a flow stored with its payments, anomalies and the positions it
//! changes in the writer's transaction; the listings; the sweep for transfers no flow reported.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::columns::millis;
use super::filter::Where;
use super::positions::{RowIds, load_position_by_id, replace_position};
use super::unavailable;
use crate::domain::reporting::{
    Anomaly, AnomalyKind, FlowFacts, FlowId, FlowPayment, Outcome, ReportKey, ReportingFlow,
};
use crate::domain::{FiscalCodePA, TransferId};
use crate::store::reporting::columns::{
    ANOMALY_LISTING, FLOW_COLUMNS, FLOW_LISTING, PAYMENT_COLUMNS, PAYMENT_LISTING, anomaly_record,
    flow_summary, payment_record, resolved_condition,
};
use crate::store::{
    AnomalyFilter, AnomalyRecord, DueRecovery, FlowFilter, FlowPaymentRecord, FlowRecorded,
    FlowSummary, Page, PageRequest, Reconcile, RecoveryAttempt, Rematch, StoreError,
};

pub(super) fn stored(
    conn: &Connection,
    organization: &FiscalCodePA,
    id: &FlowId,
) -> Result<bool, StoreError> {
    flow_row(conn, organization, id).map(|row| row.is_some())
}

fn flow_row(
    conn: &Connection,
    organization: &FiscalCodePA,
    id: &FlowId,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT id FROM reporting_flow
         WHERE organization = ?1 AND fdr = ?2 AND psp_id = ?3 AND revision = ?4",
    )
    .and_then(|mut st| {
        st.query_row(
            params![organization.as_str(), id.fdr, id.psp, id.revision],
            |r| r.get(0),
        )
        .optional()
    })
    .map_err(unavailable)
}

pub(super) fn record(
    tx: &Connection,
    flow: ReportingFlow,
    reconcile: Reconcile,
    now: NaiveDateTime,
) -> Result<FlowRecorded, StoreError> {
    let org = flow.organization.as_str();
    if flow_row(tx, &flow.organization, &flow.id)?.is_some() {
        return Ok(FlowRecorded::AlreadyStored);
    }
    // The revision in force of this flow, if any.
    let in_force: Option<(i64, i64)> = tx
        .prepare_cached(
            "SELECT id, revision FROM reporting_flow
             WHERE organization = ?1 AND fdr = ?2 AND psp_id = ?3 AND superseded = 0",
        )
        .and_then(|mut st| {
            st.query_row(params![org, flow.id.fdr, flow.id.psp], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(unavailable)?;
    if let Some((_, revision)) = in_force
        && revision > flow.id.revision
    {
        let outcomes = vec![Outcome::Superseded; flow.payments.len()];
        insert_flow(tx, &flow, &outcomes, true, now)?;
        return Ok(FlowRecorded::Superseded);
    }
    let mut previous = Vec::new();
    if let Some((old, _)) = in_force {
        let mut st = tx
            .prepare_cached(
                "SELECT iuv, transfer_id FROM reporting_payment WHERE flow_id = ?1 AND reports = 1",
            )
            .map_err(unavailable)?;
        let rows = st.query_map([old], key).map_err(unavailable)?;
        for row in rows {
            previous.push(row.map_err(unavailable)??);
        }
        for sql in [
            "UPDATE reporting_flow SET superseded = 1 WHERE id = ?1",
            "UPDATE reporting_payment SET reports = 0 WHERE flow_id = ?1",
        ] {
            tx.prepare_cached(sql)
                .and_then(|mut st| st.execute([old]))
                .map_err(unavailable)?;
        }
        tx.prepare_cached(
            "UPDATE reporting_anomaly SET resolved_at = ?2 WHERE flow_id = ?1 AND resolved_at IS NULL",
        )
        .and_then(|mut st| st.execute(params![old, millis(now)]))
        .map_err(unavailable)?;
    }

    let iuvs: BTreeSet<&str> = (flow.payments.iter().map(|p| p.iuv.as_str()))
        .chain(previous.iter().map(|(iuv, _)| iuv.as_str()))
        .collect();
    let (ids, mut facts) = facts(tx, org, &iuvs)?;
    facts.previous = previous;
    let reconciliation = reconcile(&flow, &mut facts);
    for &i in &reconciliation.changed {
        replace_position(tx, &ids[i], &facts.positions[i])?;
    }
    let flow_id = insert_flow(tx, &flow, &reconciliation.outcomes, false, now)?;
    insert_anomalies(tx, org, flow_id, reconciliation.anomalies.iter(), now)?;
    for (p, outcome) in flow.payments.iter().zip(&reconciliation.outcomes) {
        if outcome.reports() {
            resolve_unreported(tx, org, p, now)?;
        }
    }
    let positions_changed = reconciliation.changed.len();
    Ok(FlowRecorded::Applied {
        reconciliation,
        positions_changed,
    })
}

/// What reconciling payments for `iuvs` needs to know, read in the writer's transaction: the
/// positions concerned (the creditor's own, and other creditors' paid ones with a transfer
/// credited to it) with their row ids, the IUVs with a receipt, and the transfers flows in
/// force report. `previous` is left empty.
fn facts(
    tx: &Connection,
    org: &str,
    iuvs: &BTreeSet<&str>,
) -> Result<(Vec<RowIds>, FlowFacts), StoreError> {
    let mut position_rows = BTreeSet::new();
    let mut receipts = HashSet::new();
    let mut others = HashSet::new();
    for iuv in iuvs {
        let mut st = tx
            .prepare_cached(
                "SELECT position_id FROM payment_option WHERE organization = ?1 AND iuv = ?2
                 UNION
                 SELECT o.position_id FROM payment_option o
                 WHERE o.iuv = ?2 AND o.status <> 'PO_UNPAID' AND o.organization <> ?1
                   AND EXISTS (SELECT 1 FROM transfer t
                       WHERE t.option_id = o.id AND t.organization = ?1)",
            )
            .map_err(unavailable)?;
        let rows = st
            .query_map(params![org, iuv], |r| r.get::<_, i64>(0))
            .map_err(unavailable)?;
        for row in rows {
            position_rows.insert(row.map_err(unavailable)?);
        }
        let receipt: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM receipt WHERE organization = ?1 AND iuv = ?2 LIMIT 1")
            .and_then(|mut st| st.query_row(params![org, iuv], |r| r.get(0)).optional())
            .map_err(unavailable)?;
        if receipt.is_some() {
            receipts.insert((*iuv).to_owned());
        }
        let mut st = tx
            .prepare_cached(
                "SELECT iuv, transfer_id FROM reporting_payment
                 WHERE organization = ?1 AND iuv = ?2 AND reports = 1",
            )
            .map_err(unavailable)?;
        let rows = st.query_map(params![org, iuv], key).map_err(unavailable)?;
        for row in rows {
            others.insert(row.map_err(unavailable)??);
        }
    }
    let mut ids = Vec::new();
    let mut positions = Vec::new();
    for row in position_rows {
        if let Some((row_ids, position)) = load_position_by_id(tx, row)? {
            ids.push(row_ids);
            positions.push(position);
        }
    }
    let facts = FlowFacts {
        positions,
        receipts,
        previous: Vec::new(),
        others,
    };
    Ok((ids, facts))
}

/// Inserts a flow's anomalies, found at `now`; the NO_RECEIPT ones have their receipt's
/// recovery due at once.
fn insert_anomalies<'a>(
    tx: &Connection,
    org: &str,
    flow_id: i64,
    anomalies: impl Iterator<Item = &'a Anomaly>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO reporting_anomaly (organization, kind, flow_id, idx, iuv, transfer_id,
                expected_amount, reported_amount, found_at, recovery_due)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(unavailable)?;
    for a in anomalies {
        st.execute(params![
            org,
            a.kind.as_str(),
            flow_id,
            a.index,
            a.iuv,
            a.transfer.map(|t| i64::from(t.get())),
            a.expected.map(|c| c.get()),
            a.reported.map(|c| c.get()),
            millis(now),
            (a.kind == AnomalyKind::NoReceipt).then(|| millis(now)),
        ])
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Resolves the open UNREPORTED anomaly of the transfer `p` reports, if any.
fn resolve_unreported(
    tx: &Connection,
    org: &str,
    p: &FlowPayment,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE reporting_anomaly SET resolved_at = ?4
         WHERE organization = ?1 AND iuv = ?2 AND transfer_id = ?3
           AND kind = 'UNREPORTED' AND resolved_at IS NULL",
    )
    .and_then(|mut st| {
        st.execute(params![
            org,
            p.iuv,
            i64::from(p.transfer.get()),
            millis(now)
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

pub(super) fn due_recoveries(
    conn: &Connection,
    organization: &FiscalCodePA,
    now: NaiveDateTime,
    limit: u32,
) -> Result<Vec<DueRecovery>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT a.id, a.iuv, p.iur, a.recovery_attempts
             FROM reporting_anomaly a
             JOIN reporting_payment p ON p.flow_id = a.flow_id AND p.idx = a.idx
             WHERE a.organization = ?1 AND a.recovery_due IS NOT NULL AND a.resolved_at IS NULL
               AND a.recovery_due <= ?2
             ORDER BY a.recovery_due, a.id LIMIT ?3",
        )
        .map_err(unavailable)?;
    let rows = st
        .query_map(params![organization.as_str(), millis(now), limit], |r| {
            Ok(DueRecovery {
                anomaly: r.get(0)?,
                organization: organization.clone(),
                iuv: r.get(1)?,
                iur: r.get(2)?,
                attempts: r.get(3)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

pub(super) fn settle_recovery(
    tx: &Connection,
    organization: &FiscalCodePA,
    anomaly: i64,
    attempt: &RecoveryAttempt,
    rematch: Option<Rematch>,
    now: NaiveDateTime,
) -> Result<u32, StoreError> {
    let org = organization.as_str();
    let mut resolved = 0;
    if let Some(rematch) = rematch {
        // The open NO_RECEIPT anomalies of the attempted one's IUV, with their payments.
        let mut st = tx
            .prepare_cached(
                "SELECT id, flow_id, idx FROM reporting_anomaly
                 WHERE organization = ?1 AND kind = 'NO_RECEIPT' AND resolved_at IS NULL
                   AND iuv = (SELECT iuv FROM reporting_anomaly WHERE id = ?2)
                 ORDER BY id",
            )
            .map_err(unavailable)?;
        let rows = st
            .query_map(params![org, anomaly], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(unavailable)?;
        let mut open = Vec::new();
        for row in rows {
            let (id, flow, index) = row.map_err(unavailable)?;
            let payment = tx
                .prepare_cached(&format!(
                    "SELECT {PAYMENT_COLUMNS} FROM reporting_payment WHERE flow_id = ?1 AND idx = ?2"
                ))
                .and_then(|mut st| st.query_row([flow, index], |r| Ok(payment_record(r, 0))))
                .map_err(unavailable)??
                .payment;
            open.push((id, flow, payment));
        }
        let payments: Vec<FlowPayment> = open.iter().map(|(_, _, p)| p.clone()).collect();
        let iuvs: BTreeSet<&str> = payments.iter().map(|p| p.iuv.as_str()).collect();
        let (ids, mut facts) = facts(tx, org, &iuvs)?;
        let reconciliation = rematch(&payments, &mut facts);
        for &i in &reconciliation.changed {
            replace_position(tx, &ids[i], &facts.positions[i])?;
        }
        for ((id, flow, p), outcome) in open.iter().zip(&reconciliation.outcomes) {
            if *outcome == Outcome::NoReceipt {
                continue;
            }
            tx.prepare_cached(
                "UPDATE reporting_payment SET outcome = ?3, expected_amount = ?4, reports = ?5
                 WHERE flow_id = ?1 AND idx = ?2",
            )
            .and_then(|mut st| {
                st.execute(params![
                    flow,
                    p.index,
                    outcome.as_str(),
                    outcome.expected().map(|c| c.get()),
                    outcome.reports(),
                ])
            })
            .map_err(unavailable)?;
            tx.prepare_cached(
                "UPDATE reporting_anomaly SET resolved_at = ?2, recovery_due = NULL,
                    recovery_outcome = ?3, recovery_detail = NULL, recovery_at = ?2
                 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![id, millis(now), attempt.outcome]))
            .map_err(unavailable)?;
            insert_anomalies(tx, org, *flow, Anomaly::of(p, *outcome).iter(), now)?;
            if outcome.reports() {
                resolve_unreported(tx, org, p, now)?;
            }
            resolved += 1;
        }
    }
    tx.prepare_cached(
        "UPDATE reporting_anomaly SET recovery_attempts = recovery_attempts + 1,
            recovery_outcome = ?3, recovery_at = ?4,
            recovery_detail = CASE WHEN resolved_at IS NULL THEN ?5 END,
            recovery_due = CASE WHEN resolved_at IS NULL THEN ?6 END
         WHERE id = ?1 AND organization = ?2",
    )
    .and_then(|mut st| {
        st.execute(params![
            anomaly,
            org,
            attempt.outcome,
            millis(now),
            attempt.detail,
            attempt.next_at.map(millis),
        ])
    })
    .map_err(unavailable)?;
    Ok(resolved)
}

fn key(r: &Row<'_>) -> rusqlite::Result<Result<ReportKey, StoreError>> {
    let iuv: String = r.get(0)?;
    let transfer: i64 = r.get(1)?;
    Ok(TransferId::new(transfer)
        .map(|t| (iuv, t))
        .map_err(|e| crate::store::columns::corrupt("reporting_payment.transfer_id", e)))
}

/// Inserts the flow row and its payments with their outcomes; the flow's row id.
fn insert_flow(
    tx: &Connection,
    flow: &ReportingFlow,
    outcomes: &[Outcome],
    superseded: bool,
    now: NaiveDateTime,
) -> Result<i64, StoreError> {
    let (computed_tot, computed_sum) = flow.computed_totals();
    let org = flow.organization.as_str();
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO reporting_flow (organization, fdr, psp_id, revision, fdr_date, published,
                regulation, regulation_date, bic, tot_payments, sum_payments, computed_tot,
                computed_sum, superseded, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             RETURNING id",
        )
        .and_then(|mut st| {
            st.query_row(
                params![
                    org,
                    flow.id.fdr,
                    flow.id.psp,
                    flow.id.revision,
                    millis(flow.fdr_date),
                    flow.published.map(millis),
                    flow.regulation,
                    flow.regulation_date.format("%Y-%m-%d").to_string(),
                    flow.bic,
                    flow.tot_payments,
                    flow.sum_payments.get(),
                    computed_tot,
                    computed_sum.map(|c| c.get()),
                    superseded,
                    millis(now),
                ],
                |r| r.get(0),
            )
        })
        .map_err(unavailable)?;
    let mut st = tx
        .prepare_cached(
            "INSERT INTO reporting_payment (flow_id, idx, organization, iuv, iur, transfer_id,
                amount, pay_status, pay_date, outcome, expected_amount, reports)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(unavailable)?;
    for (p, outcome) in flow.payments.iter().zip(outcomes) {
        st.execute(params![
            id,
            p.index,
            org,
            p.iuv,
            p.iur,
            i64::from(p.transfer.get()),
            p.amount.get(),
            p.status.as_str(),
            millis(p.pay_date),
            outcome.as_str(),
            outcome.expected().map(|c| c.get()),
            outcome.reports(),
        ])
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Duplicate {
                    field: "index",
                    value: p.index.to_string(),
                }
            }
            e => unavailable(e),
        })?;
    }
    Ok(id)
}

pub(super) fn list_flows(
    conn: &Connection,
    organization: &FiscalCodePA,
    filter: &FlowFilter,
    request: PageRequest,
) -> Result<Page<FlowSummary>, StoreError> {
    let mut filters = Where::new("organization = :org");
    filters
        .bind(":org", organization.to_string())
        .when("psp_id = :psp", ":psp", filter.psp.clone())
        .when("fdr = :fdr", ":fdr", filter.fdr.clone())
        .range("fdr_date", [":from", ":to"], filter.from, filter.to);
    filters.page(conn, &FLOW_LISTING, request, |r| flow_summary(r))
}

pub(super) fn flow_payments(
    conn: &Connection,
    organization: &FiscalCodePA,
    id: &FlowId,
    request: PageRequest,
) -> Result<Option<(FlowSummary, Page<FlowPaymentRecord>)>, StoreError> {
    let Some(row) = flow_row(conn, organization, id)? else {
        return Ok(None);
    };
    let summary = conn
        .prepare_cached(&format!(
            "SELECT {FLOW_COLUMNS} FROM reporting_flow WHERE id = ?1"
        ))
        .and_then(|mut st| st.query_row([row], |r| Ok(flow_summary(r))))
        .map_err(unavailable)??;
    let mut filters = Where::new("flow_id = :flow");
    filters.bind(":flow", row);
    let payments = filters.page(conn, &PAYMENT_LISTING, request, |r| payment_record(r, 0))?;
    Ok(Some((summary, payments)))
}

pub(super) fn list_anomalies(
    conn: &Connection,
    organization: &FiscalCodePA,
    filter: &AnomalyFilter,
    request: PageRequest,
) -> Result<Page<AnomalyRecord>, StoreError> {
    let mut filters = Where::new("a.organization = :org");
    filters
        .bind(":org", organization.to_string())
        .when(
            "a.kind = :kind",
            ":kind",
            filter.kind.map(|k| k.as_str().to_owned()),
        )
        .range("a.found_at", [":from", ":to"], filter.from, filter.to);
    if let Some(resolved) = resolved_condition(filter.resolved) {
        filters.and(resolved);
    }
    filters.page(conn, &ANOMALY_LISTING, request, |r| anomaly_record(r))
}

pub(super) fn flag_unreported(
    tx: &Connection,
    paid_before: NaiveDateTime,
    now: NaiveDateTime,
    limit: u32,
) -> Result<u32, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT INTO reporting_anomaly (organization, kind, iuv, transfer_id, expected_amount, found_at)
             SELECT o.organization, 'UNREPORTED', o.iuv, t.transfer_id, t.amount, ?2
             FROM payment_option o JOIN transfer t ON t.option_id = o.id
             WHERE o.status IN ('PO_PAID', 'PO_PARTIALLY_REPORTED') AND o.payment_date < ?1
               AND t.status = 'T_UNREPORTED' AND t.organization = o.organization
               AND NOT EXISTS (SELECT 1 FROM reporting_anomaly a
                   WHERE a.organization = o.organization AND a.iuv = o.iuv
                     AND a.transfer_id = t.transfer_id AND a.kind = 'UNREPORTED'
                     AND a.resolved_at IS NULL)
             LIMIT ?3",
        )
        .and_then(|mut st| st.execute(params![millis(paid_before), millis(now), limit]))
        .map_err(unavailable)?;
    Ok(n as u32)
}
