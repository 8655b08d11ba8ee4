//! A data subject's rights, exercised through the creditor (the controller): `POST
//! /organizations/{fiscalCode}/debtors/export` returns everything the gateway holds of one
//! fiscal code for the creditor (the positions it owes, the receipts where it is debtor or
//! payer); `…/debtors/erase` erases it where no legal ground keeps it (the domain's
//! `position_erasure`) and says, for each position and receipt, what was erased and what was
//! kept and why. The fiscal code travels in the JSON body only, never in the path or query,
//! which are logged; each request is logged with the key's id, its kind and its counts, never
//! the fiscal code.

use serde::{Deserialize, Serialize};

use super::receipts::{ReceiptOut, receipt_out};
use super::reply::{Problem, bad_request};
use super::{OnCreditor, Reply, parse_json};
use crate::domain::api_key::KeyId;
use crate::domain::party::{EntityId, Subject};
use crate::domain::personal_data::{ERASED, Kept, PositionErasure, is_subject, position_erasure};
use crate::json::convert::position_out;
use crate::json::model::PositionOut;
use crate::store::SubjectReceipt;
use crate::xml::receipts::decode_stored_send_rt;

/// The body of both requests.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubjectIn {
    fiscal_code: String,
}

/// The data subject's fiscal code (or VAT number) from the body.
fn subject_of(body: &[u8]) -> Result<EntityId, Problem> {
    let input: SubjectIn = parse_json(body)?;
    let id =
        EntityId::parse(&input.fiscal_code).map_err(|e| bad_request(format!("fiscalCode: {e}")))?;
    if !is_subject(&id) {
        return Err(bad_request(format!(
            "fiscalCode: {ERASED} marks erased data, it names no data subject"
        )));
    }
    Ok(id)
}

/// A payer or debtor as a receipt holds it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubjectOut {
    #[serde(rename = "type")]
    entity_type: &'static str,
    fiscal_code: String,
    full_name: String,
    street_name: Option<String>,
    civic_number: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    state_province_region: Option<String>,
    country: Option<String>,
    email: Option<String>,
}

fn subject_out(s: &Subject) -> SubjectOut {
    let text = |t: Option<&str>| t.map(str::to_owned);
    SubjectOut {
        entity_type: s.entity_type.as_str(),
        fiscal_code: s.entity_id.as_str().to_owned(),
        full_name: s.full_name.to_string(),
        street_name: text(s.street_name.as_ref().map(|t| t.as_str())),
        civic_number: text(s.civic_number.as_ref().map(|t| t.as_str())),
        postal_code: text(s.postal_code.as_ref().map(|t| t.as_str())),
        city: text(s.city.as_ref().map(|t| t.as_str())),
        state_province_region: text(s.state_province_region.as_ref().map(|t| t.as_str())),
        country: text(s.country.as_ref().map(|c| c.as_str())),
        email: text(s.email.as_ref().map(|e| e.as_str())),
    }
}

/// A receipt as listed, with its debtor and payer in full, as its document holds them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedReceipt {
    receipt: ReceiptOut,
    debtor: Option<SubjectOut>,
    payer: Option<SubjectOut>,
}

fn exported_receipt(r: SubjectReceipt) -> ExportedReceipt {
    // Every stored document was read when it was received; one that cannot be read now still
    // has its summary exported.
    let parsed = decode_stored_send_rt(&r.document).ok();
    ExportedReceipt {
        receipt: receipt_out(r.summary),
        debtor: parsed.as_ref().map(|p| subject_out(&p.receipt.debtor)),
        payer: parsed
            .as_ref()
            .and_then(|p| p.receipt.payer.as_ref().map(subject_out)),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Export {
    organization_fiscal_code: String,
    fiscal_code: String,
    /// The positions it owes, debtor included.
    debt_positions: Vec<PositionOut>,
    /// The receipts where it is debtor or payer.
    receipts: Vec<ExportedReceipt>,
}

/// `POST /organizations/{fiscalCode}/debtors/export`
pub async fn export(on: OnCreditor<'_>, key: Option<KeyId>, body: &[u8]) -> Result<Reply, Problem> {
    let subject = subject_of(body)?;
    let organization = on.creditor.fiscal_code.clone();
    let store = &on.ctx.store;
    let positions = store
        .debtor_positions(organization.clone(), subject.as_str().to_owned())
        .await?;
    let receipts = store
        .subject_receipts(organization, subject.as_str().to_owned())
        .await?;
    log_request(key, "export", positions.len(), receipts.len(), 0);
    let now = on.ctx.clock.now();
    let export = Export {
        organization_fiscal_code: on.org().to_owned(),
        fiscal_code: subject.as_str().to_owned(),
        debt_positions: positions
            .iter()
            .map(|p| position_out(p, now, true))
            .collect(),
        receipts: receipts.into_iter().map(exported_receipt).collect(),
    };
    Ok(Reply::json(200, &export))
}

/// One position or receipt in the answer to an erasure request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Decided {
    /// `debtPosition` or `receipt`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    iupd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iuv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt_id: Option<String>,
    reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Erasure {
    organization_fiscal_code: String,
    erased: Vec<Decided>,
    kept: Vec<Decided>,
}

/// `POST /organizations/{fiscalCode}/debtors/erase`
pub async fn erase(on: OnCreditor<'_>, key: Option<KeyId>, body: &[u8]) -> Result<Reply, Problem> {
    let subject = subject_of(body)?;
    let organization = on.creditor.fiscal_code.clone();
    let now = on.ctx.clock.now();
    let rule = Box::new(move |p: &_| position_erasure(p, now) == PositionErasure::Erase);
    let decided = on
        .ctx
        .store
        .erase_debtor_positions(organization.clone(), subject.as_str().to_owned(), now, rule)
        .await?;
    let receipts = on
        .ctx
        .store
        .subject_receipts(organization, subject.as_str().to_owned())
        .await?;
    let mut answer = Erasure {
        organization_fiscal_code: on.org().to_owned(),
        erased: Vec::new(),
        kept: Vec::new(),
    };
    for (position, erased) in decided {
        let status = position.status_at(now);
        let iupd = Some(position.iupd.to_string());
        let entry = |reason| Decided {
            kind: "debtPosition",
            iupd: iupd.clone(),
            iuv: None,
            receipt_id: None,
            reason,
        };
        if erased {
            answer.erased.push(entry(format!(
                "{status}: nothing to collect and nothing paid, no ground to keep it"
            )));
        } else {
            let reason = match position_erasure(&position, now) {
                PositionErasure::Keep(kept) => kept.reason(),
                // Decided otherwise in the store's transaction, on the position as it was.
                PositionErasure::Erase => format!("{status}: changed while it was decided"),
            };
            answer.kept.push(entry(reason));
        }
    }
    let retention = on.ctx.config.retention.receipts;
    for r in receipts {
        let until = retention.kept_until(r.summary.received_at);
        answer.kept.push(Decided {
            kind: "receipt",
            iupd: None,
            iuv: Some(r.summary.iuv.clone()),
            receipt_id: Some(r.summary.receipt_id.clone()),
            reason: Kept::Receipt { until }.reason(),
        });
    }
    let receipts_kept = answer.kept.iter().filter(|d| d.kind == "receipt").count();
    let positions_kept = answer.kept.len() - receipts_kept;
    log_request(
        key,
        "erase",
        answer.erased.len() + positions_kept,
        receipts_kept,
        answer.erased.len(),
    );
    Ok(Reply::json(200, &answer))
}

/// The record of a request: who asked, what, and how much it concerned; never whom.
fn log_request(key: Option<KeyId>, kind: &str, positions: usize, receipts: usize, erased: usize) {
    let key = key.map_or_else(|| "-".to_owned(), |k| k.to_string());
    tracing::info!(
        key = %key,
        kind,
        positions,
        receipts,
        erased,
        "data subject request answered"
    );
}
