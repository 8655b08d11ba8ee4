//! `PUT /organizations/{fiscalCode}/paymentoptions/{nav}/notificationfee`: SEND's notification
//! fee for one payment option, `{"notificationFee": cents}`. It replaces the previous fee; the
//! amounts move as `DebtPosition::set_notification_fee` says. The answer is the option.

use serde::Deserialize;

use super::{Reply, bad_request, convert, creditor, not_found_option, parse_json, store_failure};
use crate::context::Context;
use crate::domain::{Cents, NoticeNumber};
use crate::store::{PositionKey, StoreError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationFeeIn {
    notification_fee: i64,
}

pub async fn put_notification_fee(ctx: &Context, org: &str, nav_value: &str, body: &[u8]) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(nav) = NoticeNumber::parse(nav_value) else {
        return bad_request(format!("nav: '{nav_value}' must be exactly 18 digits"));
    };
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
    match ctx
        .store
        .update_position(
            creditor.fiscal_code.clone(),
            PositionKey::Notice(nav.clone()),
            change,
        )
        .await
    {
        Ok(p) => {
            let option = &p.options[p.option_index(&nav).expect("found by this notice")];
            Reply::json(200, &convert::option_out(&p, option))
        }
        Err(StoreError::NotFound) => not_found_option(org, &nav),
        Err(e) => store_failure(e),
    }
}
