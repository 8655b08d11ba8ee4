//! GPD's operations on many positions at once: `POST …/debtpositions/bulk` creates a list of
//! positions all or nothing, and `PATCH …/debtpositions/transfers` moves the transfers still to
//! be paid from one IBAN to another.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::positions::new_position;
use super::query::Query;
use super::reply::{Problem, bad_request, conflict};
use super::{OnCreditor, Reply, invalid, parse_json};
use crate::domain::position::{Conflict, FieldError, Iban, Refusal};
use crate::json::model::PositionIn;
use crate::store::{PositionKey, StoreError};

/// The most positions one bulk request may carry (GPD's `MAX_DEBT_POSITIONS`).
const MAX_POSITIONS: usize = 100;
/// The most transfers one IBAN change touches (GPD's `limit`, its default too).
pub const MAX_TRANSFERS: u32 = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MultiplePositionsIn {
    payment_positions: Vec<PositionIn>,
}

/// `POST /organizations/{fiscalCode}/debtpositions/bulk[?toPublish=true]`: body
/// `{"paymentPositions": [...]}`, 1 to 100 positions, each validated as a single create. Any
/// invalid or clashing position and nothing is stored; the answer names each, by index.
pub async fn create_positions(
    on: OnCreditor<'_>,
    to_publish: bool,
    body: &[u8],
) -> Result<Reply, Problem> {
    let input: MultiplePositionsIn = parse_json(body)?;
    let count = input.payment_positions.len();
    if !(1..=MAX_POSITIONS).contains(&count) {
        return Err(bad_request(format!(
            "paymentPositions: must hold 1 to {MAX_POSITIONS} positions, holds {count}"
        )));
    }
    let now = on.ctx.clock.now();
    let mut positions = Vec::with_capacity(count);
    let mut errors: Vec<FieldError> = Vec::new();
    for (i, p) in input.payment_positions.into_iter().enumerate() {
        match new_position(on.creditor, p, to_publish, now) {
            Ok(p) => positions.push(p),
            Err(found) => {
                errors.extend(found.into_iter().map(|e| {
                    FieldError::new(format!("paymentPositions[{i}].{}", e.field), e.message)
                }))
            }
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    // All or nothing here too: one position of a code the key does not act for refuses all.
    if let Some(p) = positions
        .iter()
        .find(|p| !on.segregation.allows_position(p))
    {
        return Err(on.forbidden_position(&p.iupd));
    }
    on.ctx
        .store
        .create_positions(positions)
        .await?
        .map_err(|refused| {
            conflict(
                refused
                    .iter()
                    .map(|(i, e)| format!("paymentPositions[{i}]: {e}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    Ok(Reply::empty(201))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewIbanIn {
    new_iban: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IbanChangeOut {
    description: String,
    updated_transfers: usize,
}

fn iban(field: &str, value: Option<&str>) -> Result<Iban, Problem> {
    let value = value.ok_or_else(|| bad_request(format!("{field}: is required")))?;
    Iban::parse(value).map_err(|m| bad_request(format!("{field}: '{value}' {m}")))
}

/// `PATCH /organizations/{fiscalCode}/debtpositions/transfers?oldIban=…[&limit=…]`, body
/// `{"newIban": "…"}`: credits `newIban` instead of `oldIban` in the transfers of every option
/// still to be paid, at most `limit` (default and most 1000) transfers. Each position changed
/// gets a new version; the caller repeats until `updatedTransfers` is 0.
pub async fn update_ibans(
    on: OnCreditor<'_>,
    query: Option<&str>,
    body: &[u8],
) -> Result<Reply, Problem> {
    let ctx = on.ctx;
    let q = Query::parse(query, &["oldIban", "limit"])?;
    let old = iban("oldIban", q.get("oldIban"))?;
    let limit = q.number("limit", MAX_TRANSFERS, 1, MAX_TRANSFERS)? as usize;
    let input: NewIbanIn = parse_json(body)?;
    let new = iban("newIban", Some(&input.new_iban))?;
    let organization = on.creditor.fiscal_code.clone();
    let iupds = ctx
        .store
        .positions_paying_iban(organization.clone(), old.clone())
        .await?;
    let updated = Arc::new(AtomicUsize::new(0));
    for iupd in iupds {
        let left = limit - updated.load(Ordering::Relaxed);
        if left == 0 {
            break;
        }
        let (old, new, counter) = (old.clone(), new.clone(), updated.clone());
        let now = ctx.clock.now();
        let change: crate::store::Mutation = Box::new(move |p| {
            match p.replace_iban(&old, &new, left, now) {
                // Nothing to change: refused, so that the version stays.
                0 => Err(Refusal::Conflict(Conflict("no transfer to change".into()))),
                n => {
                    counter.fetch_add(n, Ordering::Relaxed);
                    Ok(())
                }
            }
        });
        match ctx
            .store
            .update_position(organization.clone(), PositionKey::Iupd(iupd), change)
            .await
        {
            // Paid, closed or deleted in the meantime: nothing of it to change.
            Ok(_) | Err(StoreError::Refused(_)) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let updated = updated.load(Ordering::Relaxed);
    Ok(Reply::json(
        200,
        &IbanChangeOut {
            description: format!("Updated IBAN on {updated} Transfers"),
            updated_transfers: updated,
        },
    ))
}
