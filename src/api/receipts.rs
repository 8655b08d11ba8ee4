//! Receipts for creditors: `GET /organizations/{fiscalCode}/receipts/{iuv}` returns the
//! receipt exactly as the Node sent it (XML), `GET /organizations/{fiscalCode}/receipts` lists
//! them, flagged and duplicate ones included, with filters and paging.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::query::Query;
use super::{Reply, bad_request, creditor, forbidden_notice, store_failure};
use crate::context::Context;
use crate::domain::api_key::SegregationScope;
use crate::domain::receipt::ReceiptStatus;
use crate::json::convert::{format_datetime, parse_datetime};
use crate::store::{Page, ReceiptFilter, ReceiptSummary};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptOut {
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
}

#[derive(Serialize)]
pub struct PageInfo {
    pub page: u32,
    pub limit: u32,
    pub items_found: u64,
    pub total_pages: u64,
}

#[derive(Serialize)]
pub struct Paged<T> {
    pub results: Vec<T>,
    pub page_info: PageInfo,
}

/// A store page as JSON, each item converted by `f`.
pub fn paged<T, U>(page: Page<T>, f: impl Fn(T) -> U) -> Paged<U> {
    let page_info = PageInfo {
        page: page.request.page,
        limit: page.request.limit,
        items_found: page.items_found,
        total_pages: page.total_pages(),
    };
    Paged {
        results: page.items.into_iter().map(f).collect(),
        page_info,
    }
}

fn receipt_out(r: ReceiptSummary) -> ReceiptOut {
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
    }
}

/// `GET /organizations/{fiscalCode}/receipts/{iuv}`
pub async fn get_receipt(
    ctx: &Context,
    org: &str,
    segregation: &SegregationScope,
    iuv: &str,
) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if iuv.is_empty() || iuv.len() > 35 {
        return bad_request("iuv: must be 1 to 35 characters");
    }
    // As GPD's receipts API: the IUV's code first, whether or not a receipt exists.
    if !segregation.allows_iuv(iuv) {
        return forbidden_notice(org, iuv, segregation);
    }
    match ctx
        .store
        .receipt_document(creditor.fiscal_code.clone(), iuv.to_owned())
        .await
    {
        Ok(Some(document)) => Reply::xml(document),
        Ok(None) => Reply::problem(
            404,
            "Not Found",
            format!("no receipt for IUV {iuv} of organization {org}"),
        ),
        Err(e) => store_failure(e),
    }
}

/// A `from` / `to` bound: a date (the whole day) or a date-time.
pub(super) fn bound(
    q: &Query,
    key: &str,
    end_of_day: bool,
) -> Result<Option<NaiveDateTime>, Reply> {
    let Some(v) = q.get(key) else { return Ok(None) };
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        return Ok(t);
    }
    // gpd-payments also takes a date-time without seconds.
    let minutes = || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").ok();
    parse_datetime(v).or_else(minutes).map(Some).ok_or_else(|| {
        bad_request(format!(
            "{key}: '{v}' must be a date (2025-12-31) or a date-time (2025-12-31T23:59:59)"
        ))
    })
}

/// `GET /organizations/{fiscalCode}/receipts?page&limit&status&debtor&from&to&segregationCodes`
pub async fn list_receipts(
    ctx: &Context,
    org: &str,
    segregation: &SegregationScope,
    query: Option<&str>,
) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let known = [
        "page",
        "limit",
        "status",
        "debtor",
        "from",
        "to",
        "segregationCodes",
    ];
    let parsed = Query::parse(query, &known).and_then(|q| {
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
            segregation_codes: super::lifecycle::segregation_codes(&q, segregation)?,
            ..Default::default()
        };
        Ok((filter, q.page()?))
    });
    let (filter, page) = match parsed {
        Ok(x) => x,
        Err(r) => return r,
    };
    match ctx
        .store
        .list_receipts(creditor.fiscal_code.clone(), filter, page)
        .await
    {
        Ok(page) => Reply::json(200, &paged(page, receipt_out)),
        Err(e) => store_failure(e),
    }
}
