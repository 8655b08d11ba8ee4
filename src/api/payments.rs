//! gpd-payments' receipts API, in its own shapes (`gpd_payments.json`), so that its clients
//! work unchanged: `GET /payments/{organizationfiscalcode}/receipts` pages the creditor's paid
//! receipts as `{currentPageNumber, length, totalPages, results}`, and
//! `GET /payments/{organizationfiscalcode}/receipts/{iuv}` returns one receipt's XML. Built on
//! the same store listing as `/organizations/{fiscalCode}/receipts`.

use serde::Serialize;

use super::query::{Query, bound, segregation_codes};
use super::receipts::{path_iuv, receipt_document};
use super::reply::{Problem, bad_request, forbidden};
use super::{OnCreditor, Reply};
use crate::domain::api_key::SegregationScope;
use crate::domain::receipt::ReceiptStatus;
use crate::store::{PageRequest, ReceiptFilter, ReceiptSummary};

const DEFAULT_PAGE_SIZE: u32 = 20;
const MAX_PAGE_SIZE: u32 = 100;

/// The status gpd-payments shows for a receipt of ours, or `None` for one it would not list.
/// gpd-payments keeps one row per paid notice: a receipt that paid (or that recorded a payment
/// made elsewhere, such as Stand-In) is PAID; a second receipt for a paid notice is not a row.
fn gpd_status(status: ReceiptStatus) -> Option<&'static str> {
    match status {
        ReceiptStatus::Applied | ReceiptStatus::Flagged => Some("PAID"),
        // Not a payment of the notice: a second receipt for it, or a conflicting copy.
        ReceiptStatus::Duplicate | ReceiptStatus::Conflict => None,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptModel {
    organization_fiscal_code: String,
    iuv: String,
    debtor: String,
    payment_date_time: Option<String>,
    status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentsResult {
    current_page_number: u32,
    length: usize,
    total_pages: u64,
    results: Vec<ReceiptModel>,
}

fn receipt_model(r: ReceiptSummary) -> Option<ReceiptModel> {
    Some(ReceiptModel {
        status: gpd_status(r.status)?,
        organization_fiscal_code: r.organization.to_string(),
        iuv: r.iuv,
        debtor: r.debtor,
        payment_date_time: r.payment_date_time,
    })
}

/// A prefix filter: given, it may not be empty.
fn prefix(q: &Query, key: &str) -> Result<Option<String>, Problem> {
    match q.get(key) {
        Some("") => Err(bad_request(format!("{key}: must not be empty"))),
        v => Ok(v.map(str::to_owned)),
    }
}

/// `GET /payments/{organizationfiscalcode}/receipts?pageNum&pageSize&debtor&service&from&to
/// &segregationCodes&debtorOrIuv`
pub async fn list_receipts(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let known = [
        "pageNum",
        "pageSize",
        "debtor",
        "service",
        "from",
        "to",
        "segregationCodes",
        "debtorOrIuv",
    ];
    let q = Query::parse(query, &known)?;
    let page = PageRequest {
        page: q.number("pageNum", 0, 0, u32::MAX / MAX_PAGE_SIZE)?,
        limit: q.number("pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?,
    };
    let (from, to) = (bound(&q, "from", false)?, bound(&q, "to", true)?);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(bad_request("from: must not be after to"));
    }
    let filter = ReceiptFilter {
        statuses: ReceiptStatus::ALL
            .into_iter()
            .filter(|s| gpd_status(*s).is_some())
            .collect(),
        debtor: q.get("debtor").map(str::to_owned),
        iuv_prefix: prefix(&q, "service")?,
        debtor_or_iuv_prefix: prefix(&q, "debtorOrIuv")?,
        segregation_codes: segregation_codes(&q, on.segregation)?,
        paid_from: from,
        paid_to: to,
        ..Default::default()
    };
    let listed = on
        .ctx
        .store
        .list_receipts(on.creditor.fiscal_code.clone(), filter, page)
        .await?;
    let total_pages = listed.total_pages();
    // As gpd-payments: a page past the last is an error, but an empty list is page 0 of none.
    if page.page > 0 && u64::from(page.page) >= total_pages {
        return Err(bad_request(format!(
            "pageNum: {} is past the last page ({total_pages} pages)",
            page.page
        )));
    }
    let results: Vec<ReceiptModel> = listed.items.into_iter().filter_map(receipt_model).collect();
    Ok(Reply::json(
        200,
        &PaymentsResult {
            current_page_number: page.page,
            length: results.len(),
            total_pages,
            results,
        },
    ))
}

/// `GET /payments/{organizationfiscalcode}/receipts/{iuv}[?segregationCodes]`: the receipt's
/// XML, as the Node sent it.
pub async fn get_receipt(
    on: OnCreditor<'_>,
    iuv: &str,
    query: Option<&str>,
) -> Result<Reply, Problem> {
    let iuv = path_iuv(iuv)?;
    // The codes asked for (`segregationCodes`), within the key's.
    let q = Query::parse(query, &["segregationCodes"])?;
    if let Some(codes) = segregation_codes(&q, on.segregation)?.map(SegregationScope::Only)
        && !codes.allows_iuv(iuv)
    {
        return Err(forbidden(format!(
            "IUV {iuv} of organization {} is not of the segregation codes {codes}",
            on.org(),
        )));
    }
    let document = receipt_document(on, iuv).await?;
    // gpd-payments' type for it; the document is the same as our own API's.
    let mut reply = Reply::xml(document);
    reply.content_type = "application/xml";
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api_key::SegregationScope;

    #[test]
    fn every_status_is_shown_or_left_out_on_purpose() {
        let shown: Vec<_> = ReceiptStatus::ALL
            .into_iter()
            .filter_map(gpd_status)
            .collect();
        assert_eq!(shown, ["PAID", "PAID"]);
        assert_eq!(gpd_status(ReceiptStatus::Duplicate), None);
        assert_eq!(gpd_status(ReceiptStatus::Conflict), None);
    }

    #[test]
    fn segregation_code_lists() {
        let q = |v: &str| Query::parse(Some(v), &["segregationCodes"]).ok().unwrap();
        let all = SegregationScope::All;
        let codes = segregation_codes(&q("segregationCodes=01,47"), &all)
            .ok()
            .unwrap()
            .unwrap();
        assert_eq!(codes.iter().map(|c| c.get()).collect::<Vec<_>>(), [1, 47]);
        for bad in [
            "segregationCodes=1",
            "segregationCodes=01,",
            "segregationCodes=ab",
        ] {
            assert_eq!(
                segregation_codes(&q(bad), &all).err().unwrap().status,
                400,
                "{bad}"
            );
        }
    }
}
