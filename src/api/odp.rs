//! The payment-options service the platform calls for a notice,
//! `POST /payment-options/organizations/{organization-fiscal-code}/notices/{notice-number}`,
//! answered to `orgs_payment_options.json`: `PaymentOptionsResponse`, or an `ErrorResponse`
//! with its ODP code (never a problem document, once the API key is accepted). The path is
//! read here, the position found in the store; `domain::odp` decides.

use super::Reply;
use crate::context::Context;
use crate::domain::api_key::SegregationScope;
use crate::domain::odp::{OdpError, Refused, options_of_notice};
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::json::odp as wire;
use crate::store::PositionKey;

/// The options of `notice` of creditor `organization` (both as written in the path), within
/// the segregation codes of the caller's key.
pub async fn payment_options(
    ctx: &Context,
    organization: &str,
    notice: &str,
    segregation: &SegregationScope,
) -> Reply {
    let now = ctx.clock.now();
    match answer(ctx, organization, notice, segregation, now).await {
        Ok(reply) => reply,
        Err(refused) => {
            let body = wire::error(&refused, now);
            Reply::json(refused.error.http_status(), &body)
        }
    }
}

async fn answer(
    ctx: &Context,
    organization: &str,
    notice: &str,
    segregation: &SegregationScope,
    now: chrono::NaiveDateTime,
) -> Result<Reply, Refused> {
    let fiscal_code = FiscalCodePA::parse(organization).map_err(|_| {
        Refused::new(
            OdpError::Syntax,
            format!("organization-fiscal-code '{organization}' must be 11 digits"),
        )
    })?;
    let nav = NoticeNumber::parse(notice).map_err(|_| {
        Refused::new(
            OdpError::Syntax,
            format!("notice-number '{notice}' must be 18 digits"),
        )
    })?;
    let creditor = ctx.config.creditors.get(&fiscal_code).ok_or_else(|| {
        Refused::new(
            OdpError::WrongDomain,
            format!("organization {organization} is not a creditor served by this gateway"),
        )
    })?;
    let unknown = || {
        Refused::new(
            OdpError::UnknownPayment,
            format!("notice {notice} is unknown"),
        )
    };
    // A notice of a code the key does not act for is unknown to it, as in GPD.
    if !segregation.allows_notice(&nav) {
        return Err(unknown());
    }
    let found = ctx
        .store
        .get_position(creditor.fiscal_code.clone(), PositionKey::Notice(nav))
        .await;
    let position = match found {
        Ok(Some(position)) => position,
        Ok(None) => return Err(unknown()),
        Err(e) => {
            tracing::error!(error = %e, "store failure while looking up a notice's options");
            return Err(Refused::new(
                OdpError::System,
                "the debt-position store is not available",
            ));
        }
    };
    let options = options_of_notice(&position, notice, now)?;
    Ok(Reply::json(200, &wire::response(&options)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn a_store_that_cannot_be_read_is_a_system_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let ctx = Context::new(Config::example(), Arc::new(store), Clock::system());
        ctx.store.close().await.unwrap();
        let all = SegregationScope::All;
        let reply = payment_options(&ctx, "77777777777", "301000000000000144", &all).await;
        assert_eq!(reply.status, 500);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["appErrorCode"], "ODP-103");
        assert_eq!(
            body["errorMessage"],
            "PAA_SYSTEM_ERROR the debt-position store is not available"
        );
    }
}
