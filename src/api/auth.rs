//! Who may call the REST API. A request presents an API key; a key that is missing, not shaped
//! like one of ours, unknown or revoked gets 401; a valid key bound to other creditors than the
//! one in the path gets 403. Both come before anything that would tell whether the resource
//! exists (404) or what methods it takes (405).
//!
//! The key is looked up by the hash of what was presented, one indexed read per request, so a
//! key created or revoked by the `keys` command (another process) counts at once. Logs name a
//! key by its id, never by its secret.

use super::reply::{Problem, forbidden};
use crate::context::Context;
use crate::domain::api_key::{ApiKey, ApiKeySecret, SegregationScope};

const INVALID: &str = "the API key is not valid (unknown or revoked)";

fn unauthorized(detail: &str) -> Problem {
    Problem::new(401, "Unauthorized", detail)
}

/// Checks the key the request presented (`Err` when its headers could not carry one, with why)
/// and, when the path names one, the organization it acts for. Returns the key, whose
/// segregation codes the handlers apply to what they touch.
pub async fn check(
    ctx: &Context,
    presented: Result<Option<&str>, &'static str>,
    organization: Option<&str>,
) -> Result<ApiKey, Problem> {
    let presented = match presented {
        Ok(Some(value)) => value,
        Ok(None) => {
            return Err(unauthorized(
                "an API key is required, in Ocp-Apim-Subscription-Key or Authorization: Bearer",
            ));
        }
        Err(why) => return Err(unauthorized(why)),
    };
    // Not shaped like a key: no need to ask the store.
    let Some(secret) = ApiKeySecret::parse(presented) else {
        return Err(unauthorized(INVALID));
    };
    let key = ctx
        .store
        .api_key_by_hash(secret.hash())
        .await?
        .ok_or_else(|| unauthorized(INVALID))?;
    if key.is_revoked() {
        tracing::debug!(key = %key.id, "revoked API key presented");
        return Err(unauthorized(INVALID));
    }
    if let Some(org) = organization
        && !key.scope.allows(org)
    {
        tracing::warn!(key = %key.id, organization = org, "API key used for another organization");
        return Err(forbidden(format!(
            "API key {} may not act for organization {org}",
            key.id
        )));
    }
    Ok(key)
}

/// Refuses a key limited to some segregation codes on what concerns every notice of the
/// creditor (`what`: its broadcast stations, its deliveries): those carry receipts of any code.
pub fn whole_creditor(key: &ApiKey, what: &str) -> Result<(), Problem> {
    match key.segregation {
        SegregationScope::All => Ok(()),
        SegregationScope::Only(_) => {
            tracing::warn!(key = %key.id, what, "segregation-limited API key used for the whole creditor");
            Err(forbidden(format!(
                "API key {} acts for segregation codes {} only; {what} concern every notice of the organization",
                key.id, key.segregation
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::domain::FiscalCodePA;
    use crate::domain::api_key::KeyScope;
    use crate::store::sqlite::SqliteStore;

    fn detail(problem: &Problem) -> String {
        problem.detail.clone()
    }

    #[tokio::test]
    async fn every_rule() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let ctx = Context::new(Config::example(), Arc::new(store), Clock::system());
        let now = ctx.clock.now();
        let scope = KeyScope::only([FiscalCodePA::parse("77777777777").unwrap()]);
        let (bound, secret) = crate::keys::issue(ctx.store.as_ref(), scope.unwrap(), None, now)
            .await
            .unwrap();
        let (_, all) = crate::keys::issue(ctx.store.as_ref(), KeyScope::All, None, now)
            .await
            .unwrap();
        let own = Some("77777777777");

        assert_eq!(
            check(&ctx, Ok(Some(secret.reveal())), own).await.unwrap(),
            bound
        );
        // Paths that name no organization need a valid key only.
        assert!(check(&ctx, Ok(Some(secret.reveal())), None).await.is_ok());
        assert!(
            check(&ctx, Ok(Some(all.reveal())), Some("99999999999"))
                .await
                .is_ok()
        );

        let refused = |r: Result<ApiKey, Problem>| r.expect_err("refused");
        let none = refused(check(&ctx, Ok(None), own).await);
        assert_eq!(none.status, 401);
        assert!(detail(&none).contains("Ocp-Apim-Subscription-Key"));
        let header = refused(check(&ctx, Err("two different API keys were sent"), own).await);
        assert_eq!(
            (header.status, detail(&header).as_str()),
            (401, "two different API keys were sent")
        );
        let garbage = refused(check(&ctx, Ok(Some("let-me-in")), own).await);
        assert_eq!((garbage.status, detail(&garbage).as_str()), (401, INVALID));
        // Well formed but never issued.
        let unknown = ApiKeySecret::from_random([1; 6], [2; 20]);
        let unknown = refused(check(&ctx, Ok(Some(unknown.reveal())), own).await);
        assert_eq!((unknown.status, detail(&unknown).as_str()), (401, INVALID));

        let other = refused(check(&ctx, Ok(Some(secret.reveal())), Some("88888888888")).await);
        assert_eq!(other.status, 403);
        assert_eq!(
            detail(&other),
            format!(
                "API key {} may not act for organization 88888888888",
                bound.id
            )
        );
        assert!(!detail(&other).contains(secret.reveal()));

        ctx.store
            .revoke_api_key(bound.id.clone(), now)
            .await
            .unwrap();
        let revoked = refused(check(&ctx, Ok(Some(secret.reveal())), own).await);
        assert_eq!((revoked.status, detail(&revoked).as_str()), (401, INVALID));
        // A revoked key is refused before its organizations are looked at.
        let revoked = refused(check(&ctx, Ok(Some(secret.reveal())), Some("88888888888")).await);
        assert_eq!(revoked.status, 401);

        ctx.store.close().await.unwrap();
        let down = refused(check(&ctx, Ok(Some(all.reveal())), own).await);
        assert_eq!(down.status, 503);
    }
}
