//! `POST /organizations/{fiscalCode}/receipts/recover`: a receipt the Node never delivered,
//! asked for by IUR (and IUV or notice number), recovered from the platform's receipts service
//! by the recovery use case. The answer says what was done: 201 recovered (and applied,
//! flagged or kept as a duplicate, as its status says), 200 already stored, 409 kept as a
//! conflict; 404 when the platform has no such receipt, 504 when it does not answer, 502 when
//! it fails or answers with no usable receipt, 409 when the creditor has no access to it.

use serde::{Deserialize, Serialize};

use super::reply::{Problem, bad_request, conflict, not_found};
use super::{OnCreditor, Reply, parse_json};
use crate::domain::{NoticeNumber, Text};
use crate::primitives::recover::{Missing, Outcome, Recovered, RecoveryError, recover};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecoverIn {
    iur: String,
    iuv: Option<String>,
    notice_number: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecoveredOut {
    outcome: &'static str,
    receipt_id: String,
    notice_number: String,
    iuv: String,
    status: &'static str,
    flag: Option<&'static str>,
    flag_description: Option<String>,
    detail: String,
}

/// `POST /organizations/{fiscalCode}/receipts/recover`
pub async fn recover_receipt(on: OnCreditor<'_>, body: &[u8]) -> Result<Reply, Problem> {
    let asked: RecoverIn = parse_json(body)?;
    Text::<35>::new(asked.iur.as_str()).map_err(|e| bad_request(format!("iur: {e}")))?;
    let iuv = match (asked.iuv, asked.notice_number) {
        (Some(_), Some(_)) => {
            return Err(bad_request("iuv, noticeNumber: give one or neither"));
        }
        (Some(iuv), None) => {
            Text::<35>::new(iuv.as_str()).map_err(|e| bad_request(format!("iuv: {e}")))?;
            Some(iuv)
        }
        (None, Some(nav)) => {
            let nav = NoticeNumber::parse(&nav)
                .map_err(|e| bad_request(format!("noticeNumber: must {e}")))?;
            let iuv = nav
                .iuv()
                .ok_or_else(|| bad_request("noticeNumber: names no IUV"))?;
            Some(iuv.to_string())
        }
        (None, None) => None,
    };
    if let Some(iuv) = &iuv
        && !on.segregation.allows_iuv(iuv)
    {
        return Err(on.forbidden_notice(iuv));
    }
    let missing = Missing {
        organization: on.creditor.fiscal_code.clone(),
        iur: asked.iur,
        iuv,
    };
    let recovered = recover(on.ctx, &missing, true)
        .await
        .map_err(|e| refusal(&missing, e))?;
    if !on.segregation.allows_iuv(&recovered.iuv) {
        // Recovered all the same: the receipt is the creditor's; the key only may not see it.
        return Err(on.forbidden_notice(&recovered.iuv));
    }
    let status = match recovered.outcome {
        Outcome::Stored { .. } => 201,
        Outcome::AlreadyStored(_) => 200,
        Outcome::Conflict(_) => 409,
    };
    Ok(Reply::json(status, &recovered_out(recovered)))
}

fn recovered_out(r: Recovered) -> RecoveredOut {
    let (outcome, status) = (r.outcome.label(), r.outcome.status().as_str());
    let (flag, flag_description, detail) = match r.outcome {
        Outcome::Stored { flag, status } => (
            flag.as_ref().map(|f| f.code),
            flag.as_ref().map(|f| f.description.clone()),
            format!(
                "recovered from the platform and stored as {}",
                status.as_str()
            ),
        ),
        Outcome::AlreadyStored(status) => (
            None,
            None,
            format!("already stored as {}: nothing changed", status.as_str()),
        ),
        Outcome::Conflict(why) => (
            None,
            None,
            format!(
                "a receipt with this id was stored with other content ({why}); the platform's copy was kept as CONFLICT and not applied"
            ),
        ),
    };
    RecoveredOut {
        outcome,
        receipt_id: r.receipt_id,
        notice_number: r.notice_number,
        iuv: r.iuv,
        status,
        flag,
        flag_description,
        detail,
    }
}

fn refusal(missing: &Missing, e: RecoveryError) -> Problem {
    let iur = &missing.iur;
    match e {
        RecoveryError::NotFound => not_found(format!(
            "receipt {iur} of organization {}: {e}",
            missing.organization
        )),
        RecoveryError::NotConfigured => conflict(e.to_string()),
        RecoveryError::Unreachable(_) => Problem::new(504, "Gateway Timeout", e.to_string()),
        RecoveryError::Refused { .. } | RecoveryError::Invalid(_) => {
            Problem::new(502, "Bad Gateway", e.to_string())
        }
        RecoveryError::Store(e) => e.into(),
    }
}
