//! Receipts for creditors: `GET /organizations/{fiscalCode}/receipts/{iuv}` returns the
//! receipt exactly as the Node sent it (XML), `GET /organizations/{fiscalCode}/receipts` lists
//! them, flagged and duplicate ones included, with filters and paging.

use serde::Serialize;

use super::query::{Query, bound, paged, segregation_codes};
use super::reply::{Problem, bad_request, not_found};
use super::{OnCreditor, Reply};
use crate::domain::receipt::ReceiptStatus;
use crate::json::convert::format_datetime;
use crate::store::{ReceiptFilter, ReceiptSummary};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReceiptOut {
    organization_fiscal_code: String,
    receipt_id: String,
    iuv: String,
    notice_number: String,
    /// idPA the Node addressed it to (the notice's creditor or a beneficiary).
    recipient: String,
    primitive_version: u8,
    status: &'static str,
    flag: Option<String>,
    flag_description: Option<String>,
    /// Euro cents.
    payment_amount: i64,
    debtor: String,
    payer: Option<String>,
    #[serde(rename = "idPSP")]
    id_psp: String,
    psp_company_name: String,
    payment_date_time: Option<String>,
    stand_in: Option<bool>,
    received_at: String,
    /// NODE, or PLATFORM for a receipt recovered from the platform's receipts service.
    origin: &'static str,
    /// The station, ours but not bound to the creditor, the Node addressed it to.
    station_not_bound: Option<String>,
}

pub(super) fn receipt_out(r: ReceiptSummary) -> ReceiptOut {
    ReceiptOut {
        organization_fiscal_code: r.organization.to_string(),
        receipt_id: r.receipt_id,
        iuv: r.iuv,
        notice_number: r.notice_number,
        recipient: r.recipient,
        primitive_version: r.version.number(),
        status: r.status.as_str(),
        flag: r.flag,
        flag_description: r.flag_description,
        payment_amount: r.amount.get(),
        debtor: r.debtor,
        payer: r.payer,
        id_psp: r.psp_id,
        psp_company_name: r.psp_company,
        payment_date_time: r.payment_date_time,
        stand_in: r.stand_in,
        received_at: format_datetime(r.received_at),
        origin: r.origin.as_str(),
        station_not_bound: r.unbound_station,
    }
}

/// The IUV of a path: 1 to 35 characters.
pub(super) fn path_iuv(iuv: &str) -> Result<&str, Problem> {
    if iuv.is_empty() || iuv.len() > 35 {
        return Err(bad_request("iuv: must be 1 to 35 characters"));
    }
    Ok(iuv)
}

/// The creditor's receipt for `iuv`, exactly as the Node sent it.
pub(super) async fn receipt_document(on: OnCreditor<'_>, iuv: &str) -> Result<Vec<u8>, Problem> {
    let org = on.org();
    on.ctx
        .store
        .receipt_document(on.creditor.fiscal_code.clone(), iuv.to_owned())
        .await?
        .ok_or_else(|| not_found(format!("no receipt for IUV {iuv} of organization {org}")))
}

/// `GET /organizations/{fiscalCode}/receipts/{iuv}`
pub async fn get_receipt(on: OnCreditor<'_>, iuv: &str) -> Result<Reply, Problem> {
    let iuv = path_iuv(iuv)?;
    // As GPD's receipts API: the IUV's code first, whether or not a receipt exists.
    if !on.segregation.allows_iuv(iuv) {
        return Err(on.forbidden_notice(iuv));
    }
    Ok(Reply::xml(receipt_document(on, iuv).await?))
}

/// `GET /organizations/{fiscalCode}/receipts?page&limit&status&debtor&from&to&segregationCodes`
pub async fn list_receipts(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let known = [
        "page",
        "limit",
        "status",
        "debtor",
        "from",
        "to",
        "segregationCodes",
    ];
    let q = Query::parse(query, &known)?;
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(ReceiptStatus::parse(s).ok_or_else(|| {
            bad_request(format!(
                "status: '{s}' must be APPLIED, FLAGGED, DUPLICATE or CONFLICT"
            ))
        })?),
    };
    let filter = ReceiptFilter {
        status,
        debtor: q.get("debtor").map(str::to_owned),
        paid_from: bound(&q, "from", false)?,
        paid_to: bound(&q, "to", true)?,
        segregation_codes: segregation_codes(&q, on.segregation)?,
        ..Default::default()
    };
    let page = q.page()?;
    let listed = on
        .ctx
        .store
        .list_receipts(on.creditor.fiscal_code.clone(), filter, page)
        .await?;
    Ok(Reply::json(200, &paged(listed, receipt_out)))
}
