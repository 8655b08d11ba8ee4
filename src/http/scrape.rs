//! `GET /metrics`: the Prometheus exposition, to the networks `[metrics] allow` lists (403 to
//! any other peer, whatever it presents), 404 when metrics are off. The outbox backlog is read
//! from the store at each scrape; when the store does not answer, the rest is served without it.
//! The event journal's queue is this instance's, read at each scrape too.

use crate::api::Reply;
use crate::context::Context;
use crate::observe::metrics::{self, CONTENT_TYPE, JournalQueue};

use super::tls::Peer;

pub async fn metrics(ctx: &Context, peer: &Peer) -> Reply {
    let config = &ctx.config.metrics;
    let Some(metrics) = metrics::metrics().filter(|_| config.enabled) else {
        return Reply::problem(
            404,
            "Not Found",
            "metrics are not enabled ([metrics] enabled)",
        );
    };
    let peer = peer.address.ip();
    if !config.allow.iter().any(|net| net.contains(peer)) {
        tracing::warn!(peer = %peer, "metrics scrape refused: not from a network of [metrics] allow");
        return Reply::problem(
            403,
            "Forbidden",
            "metrics are served to the networks of [metrics] allow only",
        );
    }
    let backlog = match ctx.store.station_backlog().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the outbox backlog could not be read");
            Vec::new()
        }
    };
    let journal = JournalQueue {
        queued: ctx.journal.queued(),
        lost: ctx.journal.lost(),
    };
    Reply::new(
        200,
        CONTENT_TYPE,
        metrics.render(&backlog, journal, ctx.clock.now()),
    )
}
