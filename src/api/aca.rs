//! The mirror to the central notices archive for creditors:
//! `/organizations/{fiscalCode}/aca/mirrors` lists the mirror of each of the creditor's
//! positions (PENDING, FAILED or DONE), and `…/aca/mirrors/{iupd}/retry` makes a FAILED one
//! due again.

use serde::Serialize;

use super::query::{Query, paged};
use super::reply::{Problem, bad_request, not_found, not_found_as};
use super::{OnCreditor, Reply};
use crate::domain::aca::MirrorState;
use crate::json::convert::format_datetime;
use crate::store::AcaMirror;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MirrorOut {
    iupd: String,
    state: &'static str,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// The position's status in the archive, as far as the gateway knows; absent: not there.
    #[serde(skip_serializing_if = "Option::is_none")]
    archived_status: Option<&'static str>,
}

fn mirror_out(m: AcaMirror) -> MirrorOut {
    let pending = m.state == MirrorState::Pending;
    MirrorOut {
        iupd: m.iupd,
        state: m.state.as_str(),
        attempts: m.attempts,
        next_attempt_at: m.due_at.filter(|_| pending).map(format_datetime),
        last_attempt_at: m.last_attempt_at.map(format_datetime),
        last_error: m.last_error,
        archived_status: m.archived.map(|a| a.status.as_str()),
    }
}

/// `GET /organizations/{fiscalCode}/aca/mirrors?state&page&limit`: latest change first.
pub async fn list_mirrors(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let q = Query::parse(query, &["state", "page", "limit"])?;
    let state = q
        .get("state")
        .map(|s| {
            MirrorState::parse(s).ok_or_else(|| {
                bad_request(format!("state: '{s}' must be one of PENDING, FAILED, DONE"))
            })
        })
        .transpose()?;
    let page = q.page()?;
    let listed = on
        .ctx
        .store
        .list_aca_mirrors(Some(on.creditor.fiscal_code.clone()), state, page)
        .await?;
    Ok(Reply::json(200, &paged(listed, mirror_out)))
}

/// `POST /organizations/{fiscalCode}/aca/mirrors/{iupd}/retry`: a FAILED mirror becomes
/// PENDING, due at once, with a fresh attempt count; 409 when it is not FAILED.
pub async fn retry_mirror(on: OnCreditor<'_>, iupd: &str) -> Result<Reply, Problem> {
    let org = on.org();
    let mirror = on
        .ctx
        .store
        .retry_aca_mirror(on.creditor.fiscal_code.clone(), iupd.to_owned())
        .await
        .map_err(not_found_as(|| {
            not_found(format!(
                "no mirror of position {iupd} of organization {org}"
            ))
        }))?;
    Ok(Reply::json(200, &mirror_out(mirror)))
}
