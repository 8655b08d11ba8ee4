//! IUVs the gateway issues itself: the next base of a per-creditor, per-segregation-code
//! sequence that no option or receipt of the creditor uses yet, taken in the same transaction
//! as the position that gets it, so that two requests never get the same IUV and a refused
//! insert leaves the sequence where it was. The positions made so are marked spontaneous, and
//! counted here for the creditor's cap.

use rusqlite::{Connection, OptionalExtension, params};

use chrono::NaiveDateTime;

use super::columns::millis;
use super::connection::unavailable;
use super::positions::insert_position;
use crate::domain::position::DebtPosition;
use crate::domain::{FiscalCodePA, Iuv, SegregationCode};
use crate::store::{IuvBuilder, StoreError};

/// Bases tried before giving up: a run of this many taken IUVs means the creditor issues
/// IUVs of this segregation code elsewhere too, which the configuration should not allow.
const MAX_TRIES: u32 = 1000;

pub(super) fn create_with_new_iuv(
    tx: &Connection,
    organization: &FiscalCodePA,
    segregation: SegregationCode,
    build: IuvBuilder,
) -> Result<DebtPosition, StoreError> {
    let code = segregation.to_string();
    let stored: Option<i64> = tx
        .prepare_cached(
            "SELECT next_base FROM iuv_sequence WHERE organization = ?1 AND segregation_code = ?2",
        )
        .and_then(|mut st| {
            st.query_row(params![organization.as_str(), code], |r| r.get(0))
                .optional()
        })
        .map_err(unavailable)?;
    let first = stored.map_or(1, |b| b.max(1) as u64);
    for base in first..first + u64::from(MAX_TRIES) {
        let iuv = Iuv::from_parts(segregation, base).map_err(|_| {
            unavailable(format!(
                "every IUV of segregation code {code} has been issued for {organization}"
            ))
        })?;
        if !taken(tx, organization, &iuv)? {
            let position = build(iuv);
            debug_assert_eq!(&position.organization, organization);
            let insert = |tx: &Connection| {
                insert_position(tx, &position)?;
                tx.prepare_cached(
                    "UPDATE debt_position SET spontaneous = 1 WHERE organization = ?1 AND iupd = ?2",
                )
                .and_then(|mut st| st.execute(params![organization.as_str(), position.iupd.as_str()]))
                .map_err(unavailable)
                .map(|_| ())
            };
            match in_savepoint(tx, insert) {
                Ok(()) => {
                    tx.prepare_cached(
                        "INSERT INTO iuv_sequence (organization, segregation_code, next_base) VALUES (?1, ?2, ?3)
                         ON CONFLICT (organization, segregation_code) DO UPDATE SET next_base = excluded.next_base",
                    )
                    .and_then(|mut st| st.execute(params![organization.as_str(), code, (base + 1) as i64]))
                    .map_err(unavailable)?;
                    return Ok(position);
                }
                // Taken after all (an IUPD the creditor chose, say): the next one.
                Err(StoreError::Duplicate { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Err(unavailable(format!(
        "no free IUV of segregation code {code} for {organization} in {MAX_TRIES} tries"
    )))
}

/// The creditor's spontaneous positions still payable at `now`, up to `limit`.
pub(super) fn count_unpaid(
    conn: &Connection,
    organization: &FiscalCodePA,
    now: NaiveDateTime,
    limit: u32,
) -> Result<u32, StoreError> {
    // The status and spontaneous terms are the partial index's own, so that it is used.
    conn.prepare_cached(
        "SELECT count(*) FROM (SELECT 1 FROM debt_position
            WHERE organization = ?1 AND spontaneous = 1 AND status IN ('PUBLISHED', 'VALID')
              AND (expires_after IS NULL OR expires_after >= ?2)
            LIMIT ?3)",
    )
    .and_then(|mut st| {
        st.query_row(params![organization.as_str(), millis(now), limit], |r| {
            r.get(0)
        })
    })
    .map_err(unavailable)
}

/// Whether an option or a receipt of the creditor already has this IUV (or its notice number).
fn taken(tx: &Connection, organization: &FiscalCodePA, iuv: &Iuv) -> Result<bool, StoreError> {
    tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM payment_option WHERE organization = ?1 AND iuv = ?2)
             OR EXISTS (SELECT 1 FROM payment_option WHERE organization = ?1 AND nav = ?3)
             OR EXISTS (SELECT 1 FROM receipt WHERE organization = ?1 AND iuv = ?2)",
    )
    .and_then(|mut st| {
        st.query_row(
            params![
                organization.as_str(),
                iuv.as_str(),
                iuv.notice_number().as_str()
            ],
            |r| r.get(0),
        )
    })
    .map_err(unavailable)
}

/// Runs `f` so that its failure undoes only what it wrote.
fn in_savepoint(
    tx: &Connection,
    f: impl FnOnce(&Connection) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    tx.execute_batch("SAVEPOINT new_iuv").map_err(unavailable)?;
    let result = f(tx);
    let end = if result.is_ok() {
        "RELEASE new_iuv"
    } else {
        "ROLLBACK TO new_iuv; RELEASE new_iuv"
    };
    tx.execute_batch(end).map_err(unavailable)?;
    result
}
