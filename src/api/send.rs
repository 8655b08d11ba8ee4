//! `POST /internal/config/send`, as GPD has it: marks payment options as notified through
//! SEND, in bulk, by creditor and notice number, so that paGetPayment(V2) asks SEND's price API
//! for their notification fee (`platform::send`). The body lists 1..100
//! `{organizationFiscalCode, nav}`; the answer is the text `Configuration completed for N
//! items`, N the items that name an option (marked now or before). The key must act for every
//! creditor named and reach each notice's segregation code, else 403 and nothing is marked.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::reply::{Problem, bad_request, forbidden};
use super::{Reply, parse_json};
use crate::context::Context;
use crate::domain::api_key::{KeyScope, SegregationScope};
use crate::domain::{FiscalCodePA, NoticeNumber};

/// GPD's bound on one request.
pub const MAX_ITEMS: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Item {
    organization_fiscal_code: String,
    nav: String,
}

/// `POST /internal/config/send`, for a key acting for `scope`, within `segregation`.
pub async fn configure(
    ctx: &Context,
    scope: &KeyScope,
    segregation: &SegregationScope,
    body: &[u8],
) -> Result<Reply, Problem> {
    let listed: Vec<Item> = parse_json(body)?;
    if listed.is_empty() || listed.len() > MAX_ITEMS {
        return Err(bad_request(format!(
            "the list must hold 1 to {MAX_ITEMS} items, not {}",
            listed.len()
        )));
    }
    let mut items = BTreeSet::new();
    for (i, item) in listed.into_iter().enumerate() {
        let organization = FiscalCodePA::parse(&item.organization_fiscal_code)
            .map_err(|e| bad_request(format!("[{i}].organizationFiscalCode: must {e}")))?;
        let nav = NoticeNumber::parse(&item.nav)
            .map_err(|e| bad_request(format!("[{i}].nav: must {e}")))?;
        if !scope.allows(organization.as_str()) {
            return Err(forbidden(format!(
                "[{i}]: the API key may not act for organization {organization}"
            )));
        }
        if !segregation.allows_notice(&nav) {
            return Err(forbidden(format!(
                "[{i}]: the API key acts for segregation codes {segregation} only; notice {nav} is of another"
            )));
        }
        items.insert((organization, nav));
    }
    let found = ctx
        .store
        .mark_send_sync(items.into_iter().collect())
        .await?;
    Ok(Reply::new(
        200,
        "text/plain; charset=utf-8",
        format!("Configuration completed for {found} items"),
    ))
}
