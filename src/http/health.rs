//! Liveness and readiness, for orchestrators and load balancers. `/health` says the process
//! answers and can read its store; `/ready` says it can serve the Node now: the store takes and
//! commits a write, and its schema is this binary's. A gateway that is alive but not ready (a
//! full disk, a lock held by another process, a stopped writer, a data file migrated by a newer
//! binary) answers 503 naming the failing part, so traffic goes elsewhere while it recovers.

use std::time::Duration;

use serde_json::json;

use crate::api::Reply;
use crate::context::Context;

const JSON: &str = "application/json";

/// How long the readiness write may take; a load balancer's check is usually short. Shorter
/// still when the request timeout is, so the check answers DOWN rather than time out.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// `GET /health`
pub async fn health(ctx: &Context) -> Reply {
    match ctx.store.ping().await {
        Ok(()) => Reply::new(200, JSON, &br#"{"status":"UP"}"#[..]),
        Err(_) => Reply::new(503, JSON, &br#"{"status":"DOWN"}"#[..]),
    }
}

/// `GET /ready`: `{"status": "UP"|"DOWN", "checks": {"store": {...}, "schema": {...}}}`.
pub async fn ready(ctx: &Context) -> Reply {
    let within = READY_WITHIN.min(ctx.config.limits.answer_within());
    let (writes, schema) =
        match tokio::time::timeout(within, ctx.store.readiness(ctx.clock.now())).await {
            Ok(Ok(r)) => (r.writes, r.schema),
            Ok(Err(e)) => (Err(e.to_string()), Err(e.to_string())),
            Err(_) => (
                Err(format!(
                    "a write was not committed within {} ms",
                    within.as_millis()
                )),
                Ok(()),
            ),
        };
    let check = |part: &Result<(), String>| match part {
        Ok(()) => json!({"status": "UP"}),
        Err(reason) => json!({"status": "DOWN", "reason": reason}),
    };
    let up = writes.is_ok() && schema.is_ok();
    if let Err(reason) = &writes {
        tracing::warn!(reason = %reason, "not ready: the store takes no writes");
    }
    let body = json!({
        "status": if up { "UP" } else { "DOWN" },
        "checks": {"store": check(&writes), "schema": check(&schema)},
    });
    Reply::new(if up { 200 } else { 503 }, JSON, body.to_string())
}
