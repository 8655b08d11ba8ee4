//! What every request handler needs: the configuration, the store, the clock and the
//! broadcaster that forwards receipts.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::broadcast::outbox::Broadcaster;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::rate::Buckets;
use crate::journal::Journal;
use crate::platform::send::SendClient;
use crate::store::Store;

pub struct Context {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    pub broadcaster: Broadcaster,
    /// The event journal every primitive, delivery attempt and creditor's REST call goes to.
    pub journal: Journal,
    /// Wakes the upload worker when a file arrives.
    pub uploads: Arc<tokio::sync::Notify>,
    /// Wakes the payment notices' job worker when a job is made.
    pub notice_jobs: Arc<tokio::sync::Notify>,
    /// The WSDL as served, its address filled in once the listening address is known.
    pub wsdl: OnceLock<Bytes>,
    /// What is left of each spontaneous-payment service's rate: (creditor, idServizio).
    pub demand_rates: Buckets<(String, String)>,
    /// SEND's price API of the creditors that have it, for options notified through SEND.
    pub send: SendClient,
}

impl Context {
    /// The context of a gateway; with `[metrics] enabled`, metrics are on for the process.
    pub fn new(config: Config, store: Arc<dyn Store>, clock: Clock) -> Context {
        if config.metrics.enabled {
            crate::observe::metrics::install();
        }
        let journal = Journal::new(store.clone(), config.journal.enabled);
        let broadcaster = Broadcaster::new(
            store.clone(),
            config.broadcast.clone(),
            clock,
            journal.clone(),
        );
        Context {
            store,
            clock,
            broadcaster,
            journal,
            uploads: Arc::new(tokio::sync::Notify::new()),
            notice_jobs: Arc::new(tokio::sync::Notify::new()),
            wsdl: OnceLock::new(),
            demand_rates: Buckets::default(),
            send: SendClient::new(&config.send, config.creditors.values()),
            config,
        }
    }
}
