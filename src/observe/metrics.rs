//! The gateway's Prometheus metrics: one registry per process, installed at start when
//! `[metrics] enabled` (never otherwise, so that with metrics off every recording site is one
//! check of an empty cell and nothing else). Requests, receipts, deliveries and the store's
//! commits are counted where they happen; what the store holds (the outbox backlog) is read
//! from it at scrape time, so that every instance sharing a database reports the same value.
//!
//! The handles of the primitives and the routes are resolved once, at their first use (so that
//! a series appears once it has something to say): from then on a request costs a few atomic
//! additions, no label lookup.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::NaiveDateTime;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::domain::FaultCode;
use crate::domain::messages::Operation;
use crate::domain::receipt::ReceiptStatus;
use crate::store::StationBacklog;

/// How many routes have their latency histogram resolved once (the table has fewer; any
/// beyond is looked up by its labels at each request).
pub const ROUTE_SLOTS: usize = 64;

/// The event journal's queue at a scrape, this instance's.
#[derive(Debug, Clone, Copy, Default)]
pub struct JournalQueue {
    /// Entries waiting to be written.
    pub queued: usize,
    /// Entries lost since start.
    pub lost: u64,
}

/// The content type of the exposition: Prometheus' text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process' metrics, when they are on.
#[inline]
pub fn metrics() -> Option<&'static Metrics> {
    METRICS.get()
}

/// Turns metrics on for the rest of the process (once; later calls return the same ones).
pub fn install() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

/// Request latencies: from a tenth of a millisecond to ten seconds.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Writes grouped in one commit: 1 to 1024.
fn batch_sizes() -> Histogram {
    Histogram::new([
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SoapLabels {
    operation: &'static str,
    outcome: &'static str,
    fault_code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReceiptLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SendLabels {
    organization: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    organization: String,
    station: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StationLabels {
    organization: String,
    station: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabel {
    store: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// A method as a label: the table's methods by name, any other as `OTHER`, so that a client
/// cannot grow the label set.
pub fn method_label(method: &hyper::Method) -> &'static str {
    use hyper::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// What a receipt's acquisition came to, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStored {
    /// Stored now, with this status.
    Stored(ReceiptStatus),
    /// The same receipt was stored before: nothing changed.
    Repeat,
    /// Not stored: the store failed.
    Failed,
}

impl ReceiptStored {
    fn label(self) -> &'static str {
        match self {
            ReceiptStored::Stored(ReceiptStatus::Applied) => "applied",
            ReceiptStored::Stored(ReceiptStatus::Flagged) => "flagged",
            ReceiptStored::Stored(ReceiptStatus::Duplicate) => "duplicate",
            ReceiptStored::Stored(ReceiptStatus::Conflict) => "conflict",
            ReceiptStored::Repeat => "repeat",
            ReceiptStored::Failed => "failed",
        }
    }

    const ALL: [ReceiptStored; 6] = [
        ReceiptStored::Stored(ReceiptStatus::Applied),
        ReceiptStored::Stored(ReceiptStatus::Flagged),
        ReceiptStored::Stored(ReceiptStatus::Duplicate),
        ReceiptStored::Stored(ReceiptStatus::Conflict),
        ReceiptStored::Repeat,
        ReceiptStored::Failed,
    ];
}

/// The result of one delivery attempt, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered,
    /// The station answered KO.
    Rejected,
    /// Not sent and not to be retried (a destination refused).
    Refused,
    /// No usable answer: retried later, or given up after the last attempt.
    Failed,
}

impl AttemptResult {
    fn label(self) -> &'static str {
        match self {
            AttemptResult::Delivered => "delivered",
            AttemptResult::Rejected => "rejected",
            AttemptResult::Refused => "refused",
            AttemptResult::Failed => "failed",
        }
    }
}

/// What asking SEND for a notification fee came to, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendLookup {
    /// SEND gave the price now.
    Asked,
    /// The price SEND gave a short while ago, used again.
    Cached,
    /// No answer in time, or no connection: the fee last stored was used.
    Unreachable,
    /// SEND answered an error status: the fee last stored was used.
    Refused,
    /// SEND's answer had no usable price: the fee last stored was used.
    Invalid,
    /// The price could not be applied to the option (no transfer of the creditor's own, the
    /// store failing): the fee last stored was used.
    NotApplied,
}

impl SendLookup {
    fn label(self) -> &'static str {
        match self {
            SendLookup::Asked => "asked",
            SendLookup::Cached => "cached",
            SendLookup::Unreachable => "unreachable",
            SendLookup::Refused => "refused",
            SendLookup::Invalid => "invalid",
            SendLookup::NotApplied => "not_applied",
        }
    }
}

/// Every metric of the process, with the handles the hot paths use resolved.
pub struct Metrics {
    registry: Registry,
    soap_family: Family<SoapLabels, Counter>,
    /// By operation (in `Operation::ALL` order), then OK and each fault code (in
    /// `FaultCode::ALL` order).
    soap: Vec<Vec<OnceLock<Counter>>>,
    soap_latency_family: Family<OperationLabel, Histogram, fn() -> Histogram>,
    soap_latency: Vec<OnceLock<Histogram>>,
    http: Family<HttpLabels, Counter>,
    /// By route, at its place in `ROUTES` (the first [`ROUTE_SLOTS`] routes).
    route_latency: Vec<OnceLock<Histogram>>,
    other_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    receipts: Vec<Counter>,
    receipts_station_not_bound: Counter,
    attempts: Family<AttemptLabels, Counter>,
    commit_latency: Family<StoreLabel, Histogram, fn() -> Histogram>,
    commit_batch: Family<StoreLabel, Histogram, fn() -> Histogram>,
    connections_open: Gauge,
    connections_shed: Counter,
    send_lookups: Family<SendLabels, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gpd_gateway");
        let soap_family = Family::<SoapLabels, Counter>::default();
        registry.register(
            "soap_requests",
            "SOAP requests answered, by primitive, outcome and faultCode",
            soap_family.clone(),
        );
        let soap = Operation::ALL
            .iter()
            .map(|_| {
                (0..=FaultCode::ALL.len())
                    .map(|_| OnceLock::new())
                    .collect()
            })
            .collect();
        let soap_latency_family =
            Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        registry.register(
            "soap_request_duration_seconds",
            "Time to answer a SOAP request, by primitive",
            soap_latency_family.clone(),
        );
        let soap_latency = Operation::ALL.iter().map(|_| OnceLock::new()).collect();
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered other than SOAP primitives, by route pattern, method and status",
            http.clone(),
        );
        let other_latency =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request other than a SOAP primitive, by route pattern and method",
            other_latency.clone(),
        );
        let route_latency = (0..ROUTE_SLOTS).map(|_| OnceLock::new()).collect();
        let receipts_family = Family::<ReceiptLabels, Counter>::default();
        registry.register(
            "receipts",
            "Receipts received, by what the store did with them",
            receipts_family.clone(),
        );
        let receipts = ReceiptStored::ALL
            .iter()
            .map(|r| receipts_family.get_or_create_owned(&ReceiptLabels { status: r.label() }))
            .collect();
        let receipts_station_not_bound = Counter::default();
        registry.register(
            "receipts_station_not_bound",
            "Receipts addressed to a station of ours not bound to their creditor, kept and answered OK",
            receipts_station_not_bound.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Receipt delivery attempts to broadcast stations, by result",
            attempts.clone(),
        );
        let commit_latency = Family::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "store_commit_duration_seconds",
            "Time to commit a write transaction",
            commit_latency.clone(),
        );
        let commit_batch = Family::new_with_constructor(batch_sizes as fn() -> Histogram);
        registry.register(
            "store_commit_batch_size",
            "Writes committed together in one transaction",
            commit_batch.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "HTTP connections open",
            connections_open.clone(),
        );
        let connections_shed = Counter::default();
        registry.register(
            "connections_shed",
            "Connections closed at once with 503 because the connection cap was reached",
            connections_shed.clone(),
        );
        let send_lookups = Family::<SendLabels, Counter>::default();
        registry.register(
            "send_price_lookups",
            "Notification fees of options notified through SEND asked on paGetPayment, by creditor and outcome",
            send_lookups.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The gateway's version (always 1)", build);
        Metrics {
            registry,
            soap_family,
            soap,
            soap_latency_family,
            soap_latency,
            http,
            route_latency,
            other_latency,
            receipts,
            receipts_station_not_bound,
            attempts,
            commit_latency,
            commit_batch,
            connections_open,
            connections_shed,
            send_lookups,
        }
    }

    /// A SOAP primitive answered: `fault` is its KO's faultCode, None for OK.
    pub fn soap(&self, operation: Operation, fault: Option<FaultCode>, elapsed: Duration) {
        let op = Operation::ALL
            .iter()
            .position(|o| *o == operation)
            .expect("an operation of ALL");
        let outcome = match fault {
            None => 0,
            Some(f) => {
                1 + FaultCode::ALL
                    .iter()
                    .position(|c| *c == f)
                    .expect("a fault code of ALL")
            }
        };
        let count = self.soap[op][outcome].get_or_init(|| {
            self.soap_family.get_or_create_owned(&SoapLabels {
                operation: operation.action(),
                outcome: if fault.is_some() { "KO" } else { "OK" },
                fault_code: fault.map_or("", FaultCode::code),
            })
        });
        count.inc();
        let latency = self.soap_latency[op].get_or_init(|| {
            self.soap_latency_family
                .get_or_create_owned(&OperationLabel {
                    operation: operation.action(),
                })
        });
        latency.observe(elapsed.as_secs_f64());
    }

    /// Any other request: `route` is the place in `ROUTES` and the method of the route that
    /// matched, None when none did; `pattern` is what the request is counted as.
    pub fn http(
        &self,
        route: Option<(usize, &'static str)>,
        pattern: &'static str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = HttpLabels {
            route: pattern,
            method,
            status,
        };
        self.http.get_or_create(&labels).inc();
        let seconds = elapsed.as_secs_f64();
        let labels = RouteLabels {
            route: pattern,
            method,
        };
        match route {
            // A 405 is observed with its path's first route, of another method.
            Some((i, route_method)) if route_method == method && i < self.route_latency.len() => {
                let latency = self.route_latency[i]
                    .get_or_init(|| self.other_latency.get_or_create_owned(&labels));
                latency.observe(seconds);
            }
            _ => self.other_latency.get_or_create(&labels).observe(seconds),
        }
    }

    pub fn receipt(&self, stored: ReceiptStored) {
        let i = ReceiptStored::ALL
            .iter()
            .position(|r| *r == stored)
            .expect("one of ALL");
        self.receipts[i].inc();
    }

    /// A receipt addressed to a station of ours not bound to its creditor.
    pub fn receipt_station_not_bound(&self) {
        self.receipts_station_not_bound.inc();
    }

    pub fn attempt(&self, organization: &str, station: &str, result: AttemptResult) {
        let labels = AttemptLabels {
            organization: organization.to_owned(),
            station: station.to_owned(),
            result: result.label(),
        };
        self.attempts.get_or_create(&labels).inc();
    }

    /// A commit of `writes` writes on `store` (`sqlite`, `postgres`) that took `elapsed`.
    pub fn commit(&self, store: &'static str, writes: usize, elapsed: Duration) {
        let label = StoreLabel { store };
        self.commit_latency
            .get_or_create(&label)
            .observe(elapsed.as_secs_f64());
        self.commit_batch
            .get_or_create(&label)
            .observe(writes as f64);
    }

    pub fn connection_opened(&self) {
        self.connections_open.inc();
    }

    pub fn connection_closed(&self) {
        self.connections_open.dec();
    }

    pub fn connection_shed(&self) {
        self.connections_shed.inc();
    }

    /// A notification fee asked of SEND for `organization`'s option, and what came of it.
    pub fn send_lookup(&self, organization: &str, outcome: SendLookup) {
        let labels = SendLabels {
            organization: organization.to_owned(),
            outcome: outcome.label(),
        };
        self.send_lookups.get_or_create(&labels).inc();
    }

    /// The exposition: every metric, then the outbox backlog the store reports (read at
    /// `now`), the event journal's queue, then log lines dropped.
    pub fn render(
        &self,
        backlog: &[StationBacklog],
        journal: JournalQueue,
        now: NaiveDateTime,
    ) -> String {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String");
        let mut scraped = Registry::with_prefix("gpd_gateway");
        let pending = Family::<StationLabels, Gauge>::default();
        let age = Family::<StationLabels, Gauge<f64, AtomicU64>>::default();
        for station in backlog {
            let labels = StationLabels {
                organization: station.organization.clone(),
                station: station.station_id.clone(),
            };
            pending
                .get_or_create(&labels)
                .set(i64::try_from(station.pending).unwrap_or(i64::MAX));
            let seconds = station
                .oldest
                .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            age.get_or_create(&labels).set(seconds);
        }
        scraped.register(
            "outbox_pending",
            "Receipt deliveries pending, by broadcast station (the whole store's, not this instance's)",
            pending,
        );
        scraped.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest pending delivery, by broadcast station (0 when none is pending)",
            age,
        );
        let queued: Gauge = Gauge::default();
        queued.set(i64::try_from(journal.queued).unwrap_or(i64::MAX));
        scraped.register(
            "journal_queued_entries",
            "Event journal entries waiting to be written by this instance",
            queued,
        );
        let lost = Counter::<u64>::default();
        lost.inc_by(journal.lost);
        scraped.register(
            "journal_entries_lost",
            "Event journal entries lost: dropped on a full queue, or refused by the store",
            lost,
        );
        if let Some(count) = super::dropped_log_lines() {
            let dropped = Counter::<u64>::default();
            dropped.inc_by(count);
            scraped.register(
                "log_lines_dropped",
                "Log lines dropped because the log writer's buffer was full",
                dropped,
            );
        }
        prometheus_text::encode(&mut out, &scraped).expect("writing to a String");
        out
    }
}
