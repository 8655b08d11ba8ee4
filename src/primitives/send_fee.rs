//! The notification fee of an option notified through SEND, asked of SEND's price API when the
//! Node asks for the payment (`platform::send`), and applied as `PUT …/notificationfee` applies
//! a fee (`DebtPosition::set_notification_fee`, one store write), so that the amount, the
//! `NOTIFICATION_FEE` metadata and the receipt agree. SEND slow, failing or refusing: the fee
//! last stored stands, with a warning and a count; the primitive never fails because of SEND.

use crate::context::Context;
use crate::domain::position::DebtPosition;
use crate::observe::metrics::{SendLookup, metrics};
use crate::platform::api::ApiError;
use crate::platform::send::Source;
use crate::store::{Mutation, PositionKey};

/// The position with the fee of its option at `index` as SEND gives it now, when the option is
/// notified through SEND and its creditor has `[creditor.send]`; else as it was read.
pub async fn refresh(ctx: &Context, position: DebtPosition, index: usize) -> (DebtPosition, usize) {
    let option = &position.options[index];
    if !option.send_sync {
        return (position, index);
    }
    let (creditor, nav) = (position.organization.clone(), option.nav.clone());
    let Some(asked) = ctx.send.price(&creditor, &nav).await else {
        return (position, index);
    };
    let count = |outcome| {
        if let Some(m) = metrics() {
            m.send_lookup(creditor.as_str(), outcome);
        }
    };
    let price = match asked {
        Ok((price, Source::Asked)) => {
            count(SendLookup::Asked);
            price
        }
        Ok((price, Source::Cached)) => {
            count(SendLookup::Cached);
            price
        }
        Err(e) => {
            let (outcome, why) = match &e {
                ApiError::Unreachable(why) => (SendLookup::Unreachable, why.clone()),
                // SEND's problem body is left out: it may quote the notification.
                ApiError::Status { status, .. } => (SendLookup::Refused, format!("HTTP {status}")),
                ApiError::Invalid(why) => (SendLookup::Invalid, why.clone()),
            };
            count(outcome);
            tracing::warn!(
                organization = %creditor,
                notice = %nav,
                reason = %why,
                "SEND's notification price not obtained: the fee last stored stands"
            );
            return (position, index);
        }
    };
    if option.notification_fee == Some(price) {
        return (position, index);
    }
    let now = ctx.clock.now();
    let target = nav.clone();
    let change: Mutation = Box::new(move |p| p.set_notification_fee(&target, price, now));
    let key = PositionKey::Notice(nav.clone());
    match ctx
        .store
        .update_position(creditor.clone(), key, change)
        .await
    {
        Ok(updated) => match updated.option_index(&nav) {
            Some(i) => (updated, i),
            None => (position, index),
        },
        Err(e) => {
            count(SendLookup::NotApplied);
            tracing::warn!(
                organization = %creditor,
                notice = %nav,
                error = %e,
                "SEND's notification price not applied: the fee last stored stands"
            );
            (position, index)
        }
    }
}
