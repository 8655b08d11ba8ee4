//! Payment options, `/organizations/{fiscalCode}/paymentoptions/…`, named by their notice
//! number or their IUV, as GPD takes either:
//!
//! - `POST …/paids/{nav}`: the creditor records that the option was paid outside pagoPA,
//!   body `{"paymentDate": "…"}` (optional, default now); the answer is the position.
//! - `PUT …/{nav}/notificationfee`: SEND's notification fee, `{"notificationFee": cents}`. It
//!   replaces the previous fee; the amounts move as `DebtPosition::set_notification_fee` says.
//!   The answer is the option; `If-Match` (the position's ETag) makes the change conditional.
//!
//! Both answer with the position's new `ETag`.

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::positions::written;
use super::reply::{Problem, bad_request, not_found};
use super::{OnCreditor, Reply, if_match, parse_json};
use crate::domain::position::{Conflict, DebtPosition, NotPayable, OptionPayment, Refusal};
use crate::domain::{Cents, Iuv, NoticeNumber};
use crate::json::convert;
use crate::json::model::MarkPaidIn;
use crate::store::{Expected, Mutation, PositionKey};

fn not_found_option(org: &str, identifier: &str) -> Problem {
    not_found(format!(
        "no payment option {identifier} for organization {org}"
    ))
}

/// The notice number a path's option identifier stands for: a notice number, or an IUV (the
/// notice number is always 3 + IUV here), as GPD finds an option by either. `None` when it can
/// be neither, which can match no option (404, as in GPD, not 400).
fn option_notice(identifier: &str) -> Option<NoticeNumber> {
    NoticeNumber::parse(identifier)
        .ok()
        .or_else(|| Iuv::parse(identifier).ok().map(|iuv| iuv.notice_number()))
}

/// The notice the path names, if the key's codes reach it. As GPD: the notice's own code is
/// checked first, whether or not the option exists.
fn reachable_notice(on: OnCreditor<'_>, identifier: &str) -> Result<NoticeNumber, Problem> {
    let nav = option_notice(identifier).ok_or_else(|| not_found_option(on.org(), identifier))?;
    if !on.segregation.allows_notice(&nav) {
        return Err(on.forbidden_notice(identifier));
    }
    Ok(nav)
}

/// Applies `change` to the position holding the option `nav` (`identifier` in the path), if
/// its version is `expected` and the key reaches the position.
async fn change_option(
    on: OnCreditor<'_>,
    identifier: &str,
    nav: &NoticeNumber,
    expected: Expected,
    change: Mutation,
) -> Result<DebtPosition, Problem> {
    let key = PositionKey::Notice(nav.clone());
    let missing = || not_found_option(on.org(), identifier);
    on.change_within_reach(key, expected, change, missing).await
}

/// `POST /organizations/{fiscalCode}/paymentoptions/paids/{nav}`
pub async fn mark_paid(on: OnCreditor<'_>, nav_value: &str, body: &[u8]) -> Result<Reply, Problem> {
    let nav = reachable_notice(on, nav_value)?;
    let input: MarkPaidIn = if body.iter().all(u8::is_ascii_whitespace) {
        MarkPaidIn { payment_date: None }
    } else {
        parse_json(body)?
    };
    let now = on.ctx.clock.now();
    let payment_date: NaiveDateTime = match input.payment_date.as_deref() {
        None => now,
        Some(d) => convert::parse_datetime(d).ok_or_else(|| {
            bad_request("paymentDate: must be a date-time like 2025-12-31T23:59:59")
        })?,
    };
    let target = nav.clone();
    let change: Mutation = Box::new(move |p| {
        let index = p.option_index(&target).expect("found by this notice");
        let payment = OptionPayment {
            payment_date,
            payment_method: None,
            psp_company: Some("CLOSED_AS_ALREADY_PAID_BY_EC".into()),
            receipt_id: "CLOSED_AS_ALREADY_PAID_BY_EC".into(),
            fee: Cents::ZERO,
        };
        p.mark_paid(index, payment, now)
            .map_err(|reason| Refusal::Conflict(Conflict(not_payable(reason).into())))
    });
    let p = change_option(on, nav_value, &nav, Expected::Any, change).await?;
    Ok(written(200, &p, now))
}

fn not_payable(reason: NotPayable) -> &'static str {
    match reason {
        NotPayable::Unknown => "the position is not published or not yet valid",
        NotPayable::Cancelled => "the position is invalid",
        NotPayable::Expired => "the payment option has expired",
        NotPayable::AlreadyPaid => "the payment option is already paid",
        NotPayable::Superseded => "another payment option of this position was paid",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationFeeIn {
    notification_fee: i64,
}

/// `PUT /organizations/{fiscalCode}/paymentoptions/{nav}/notificationfee`
pub async fn put_notification_fee(
    on: OnCreditor<'_>,
    nav_value: &str,
    if_match_header: Option<&str>,
    body: &[u8],
) -> Result<Reply, Problem> {
    let expected = if_match(if_match_header)?;
    let nav = reachable_notice(on, nav_value)?;
    let input: NotificationFeeIn = parse_json(body)?;
    let fee = Cents::new(input.notification_fee)
        .map_err(|e| bad_request(format!("notificationFee: {e}")))?;
    let now = on.ctx.clock.now();
    let target = nav.clone();
    let change: Mutation = Box::new(move |p| p.set_notification_fee(&target, fee, now));
    let p = change_option(on, nav_value, &nav, expected, change).await?;
    let option = &p.options[p.option_index(&nav).expect("found by this notice")];
    Ok(Reply::json(200, &convert::option_out(&p, option)).with_etag(p.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_is_named_by_its_notice_number_or_its_iuv() {
        let nav = "301000000000000144";
        assert_eq!(option_notice(nav).unwrap().as_str(), nav);
        assert_eq!(option_notice(&nav[1..]).unwrap().as_str(), nav);
        // Other aux digits are notice numbers too; they simply match nothing here.
        assert!(option_notice("001000000000000144").is_some());
        for nothing in [
            "",
            "3010",
            "01000000000000145",
            "30100000000000014x",
            "3010000000000001440",
        ] {
            assert_eq!(option_notice(nothing), None, "{nothing}");
        }
    }
}
