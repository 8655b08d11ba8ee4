//! The ACA mirror's rows on SQLite: the triggers of migration 0014 make them; these read,
//! claim and record them. Claims need no lock: the one writer thread runs them one at a time.

use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::columns::millis;
use super::unavailable;
use crate::domain::FiscalCodePA;
use crate::domain::aca::{Archived, MirrorState};
use crate::store::aca::{MIRROR_COLUMNS, MirrorColumns, archived_columns, record_statement};
use crate::store::{AcaMirror, MirrorRecord, Page, PageRequest, StoreError};

fn mirror(r: &Row<'_>) -> rusqlite::Result<MirrorColumns> {
    Ok(MirrorColumns {
        organization: r.get(0)?,
        iupd: r.get(1)?,
        generation: r.get(2)?,
        state: r.get(3)?,
        attempts: r.get(4)?,
        due_at: r.get(5)?,
        last_attempt_at: r.get(6)?,
        last_error: r.get(7)?,
        archived_status: r.get(8)?,
        archived_digest: r.get(9)?,
        archived_paid: r.get(10)?,
    })
}

pub(super) fn set_creditors(
    tx: &Connection,
    organizations: &[FiscalCodePA],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM aca_creditor", [])
        .map_err(unavailable)?;
    for org in organizations {
        tx.prepare_cached("INSERT OR IGNORE INTO aca_creditor (organization) VALUES (?1)")
            .and_then(|mut st| st.execute([org.as_str()]))
            .map_err(unavailable)?;
    }
    Ok(())
}

pub(super) fn claim(
    tx: &Connection,
    organization: Option<&FiscalCodePA>,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: u32,
) -> Result<Vec<AcaMirror>, StoreError> {
    let claimed = {
        let mut st = tx
            .prepare_cached(&format!(
                "SELECT {MIRROR_COLUMNS} FROM aca_mirror
                 WHERE state = 'PENDING' AND due_at <= ?1 AND lease_until <= ?1
                   AND (?2 IS NULL OR organization = ?2)
                 ORDER BY due_at, change_seq LIMIT ?3"
            ))
            .map_err(unavailable)?;
        let rows = st
            .query_map(
                params![millis(now), organization.map(FiscalCodePA::as_str), limit],
                mirror,
            )
            .map_err(unavailable)?;
        let mut claimed = Vec::new();
        for row in rows {
            claimed.push(row.map_err(unavailable)?.into_mirror()?);
        }
        claimed
    };
    for m in &claimed {
        tx.prepare_cached(
            "UPDATE aca_mirror SET lease_until = ?1 WHERE organization = ?2 AND iupd = ?3",
        )
        .and_then(|mut st| {
            st.execute(params![
                millis(lease_until),
                m.organization.as_str(),
                m.iupd
            ])
        })
        .map_err(unavailable)?;
    }
    Ok(claimed)
}

pub(super) fn record(
    tx: &Connection,
    organization: &FiscalCodePA,
    iupd: &str,
    generation: i64,
    record: &MirrorRecord,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let org = organization.as_str();
    if let MirrorRecord::Mirrored { forget: true, .. } = record {
        let gone = tx
            .prepare_cached(
                "DELETE FROM aca_mirror WHERE organization = ?1 AND iupd = ?2 AND generation = ?3",
            )
            .and_then(|mut st| st.execute(params![org, iupd, generation]))
            .map_err(unavailable)?;
        if gone == 1 {
            return Ok(());
        }
    }
    let (sql, values) = record_statement('?', org, iupd, generation, record, now);
    tx.prepare_cached(&sql)
        .and_then(|mut st| st.execute(params_from_iter(&values)))
        .map_err(unavailable)?;
    Ok(())
}

pub(super) fn list(
    conn: &Connection,
    organization: Option<&FiscalCodePA>,
    state: Option<MirrorState>,
    page: PageRequest,
) -> Result<Page<AcaMirror>, StoreError> {
    let condition = "(?1 IS NULL OR organization = ?1) AND (?2 IS NULL OR state = ?2)";
    let org = organization.map(FiscalCodePA::as_str);
    let state = state.map(MirrorState::as_str);
    let items_found: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM aca_mirror WHERE {condition}"
        ))
        .and_then(|mut st| st.query_row(params![org, state], |r| r.get(0)))
        .map_err(unavailable)?;
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {MIRROR_COLUMNS} FROM aca_mirror WHERE {condition}
             ORDER BY change_seq DESC LIMIT ?3 OFFSET ?4"
        ))
        .map_err(unavailable)?;
    let offset = i64::from(page.page) * i64::from(page.limit);
    let rows = st
        .query_map(params![org, state, page.limit, offset], mirror)
        .map_err(unavailable)?;
    let mut items = Vec::new();
    for row in rows {
        items.push(row.map_err(unavailable)?.into_mirror()?);
    }
    Ok(Page {
        items,
        request: page,
        items_found: items_found as u64,
    })
}

fn one(
    conn: &Connection,
    organization: &FiscalCodePA,
    iupd: &str,
) -> Result<AcaMirror, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {MIRROR_COLUMNS} FROM aca_mirror WHERE organization = ?1 AND iupd = ?2"
    ))
    .and_then(|mut st| {
        st.query_row(params![organization.as_str(), iupd], mirror)
            .optional()
    })
    .map_err(unavailable)?
    .ok_or(StoreError::NotFound)?
    .into_mirror()
}

pub(super) fn retry(
    tx: &Connection,
    organization: &FiscalCodePA,
    iupd: &str,
) -> Result<AcaMirror, StoreError> {
    one(tx, organization, iupd)?
        .state
        .may_retry()
        .map_err(StoreError::Refused)?;
    tx.prepare_cached(
        "UPDATE aca_mirror SET state = 'PENDING', due_at = 0, attempts = 0
         WHERE organization = ?1 AND iupd = ?2",
    )
    .and_then(|mut st| st.execute(params![organization.as_str(), iupd]))
    .map_err(unavailable)?;
    one(tx, organization, iupd)
}

pub(super) fn reset(
    tx: &Connection,
    organization: &FiscalCodePA,
    iupd: &str,
    archived: &Option<Archived>,
) -> Result<(), StoreError> {
    let (status, digest, paid) = archived_columns(archived);
    tx.prepare_cached(
        "INSERT INTO aca_mirror (organization, iupd, generation, change_seq, state,
            archived_status, archived_digest, archived_paid)
         VALUES (?1, ?2, 1, (SELECT coalesce(max(change_seq), 0) + 1 FROM aca_mirror), 'PENDING',
            ?3, ?4, ?5)
         ON CONFLICT (organization, iupd) DO UPDATE SET generation = generation + 1,
            change_seq = excluded.change_seq, state = 'PENDING', due_at = 0, attempts = 0,
            archived_status = excluded.archived_status,
            archived_digest = excluded.archived_digest, archived_paid = excluded.archived_paid",
    )
    .and_then(|mut st| st.execute(params![organization.as_str(), iupd, status, digest, paid]))
    .map_err(unavailable)?;
    Ok(())
}
