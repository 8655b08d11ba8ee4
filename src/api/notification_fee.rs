//! `PUT /organizations/{fiscalCode}/paymentoptions/{nav}/notificationfee`: SEND's notification
//! fee for one payment option (named by its notice number or its IUV, as GPD takes either),
//! `{"notificationFee": cents}`. It replaces the previous fee; the
//! amounts move as `DebtPosition::set_notification_fee` says. The answer is the option, with
//! its position's new `ETag`; `If-Match` (the position's ETag) makes the change conditional.

use serde::Deserialize;

use super::{
    Reply, bad_request, creditor, forbidden_notice, if_match, not_found_option, option_notice,
    parse_json, store_failure, within_reach,
};
use crate::context::Context;
use crate::domain::Cents;
use crate::domain::api_key::SegregationScope;
use crate::json::convert;
use crate::store::{PositionKey, StoreError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationFeeIn {
    notification_fee: i64,
}

pub async fn put_notification_fee(
    ctx: &Context,
    org: &str,
    segregation: &SegregationScope,
    nav_value: &str,
    if_match_header: Option<&str>,
    body: &[u8],
) -> Reply {
    let checked = creditor(ctx, org).and_then(|c| Ok((c, if_match(if_match_header)?)));
    let (creditor, expected) = match checked {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(nav) = option_notice(nav_value) else {
        return not_found_option(org, nav_value);
    };
    if !segregation.allows_notice(&nav) {
        return forbidden_notice(org, nav_value, segregation);
    }
    let input: NotificationFeeIn = match parse_json(body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let fee = match Cents::new(input.notification_fee) {
        Ok(f) => f,
        Err(e) => return bad_request(format!("notificationFee: {e}")),
    };
    let now = ctx.clock.now();
    let target = nav.clone();
    let change: crate::store::Mutation =
        Box::new(move |p| p.set_notification_fee(&target, fee, now));
    let change = within_reach(org, segregation, change);
    match ctx
        .store
        .update_position_if(
            creditor.fiscal_code.clone(),
            PositionKey::Notice(nav.clone()),
            expected,
            change,
        )
        .await
    {
        Ok(p) => {
            let option = &p.options[p.option_index(&nav).expect("found by this notice")];
            Reply::json(200, &convert::option_out(&p, option)).with_etag(p.version)
        }
        Err(StoreError::NotFound) => not_found_option(org, nav_value),
        Err(e) => store_failure(e),
    }
}
