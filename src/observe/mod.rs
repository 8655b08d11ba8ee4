//! What the gateway tells about the requests it answers. Each request yields one [`Record`]:
//! its id, what answered it (a route pattern of `ROUTES` or a SOAP primitive, never the raw
//! path), method, status, the primitive's outcome and faultCode, the API key's id when one was
//! checked, and how long it took. The handlers leave what they know in the reply's
//! [`Observed`]; the server builds the record and hands it to the [`metrics`] and the
//! [`access`] log, each skipped entirely when it is off.

pub mod access;
pub mod log_writer;
pub mod metrics;
mod request_id;

use std::sync::OnceLock;
use std::time::Duration;

use crate::domain::FaultCode;
use crate::domain::api_key::KeyId;
use crate::domain::messages::Operation;

pub use self::request_id::{HEADER as REQUEST_ID, request_id};

/// What a request was answered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Answered {
    /// No route matched the path.
    #[default]
    Unmatched,
    /// A route of `ROUTES` (a 405 is its path's first route): its place in the table, its
    /// pattern and method.
    Route {
        index: usize,
        pattern: &'static str,
        method: &'static str,
    },
    /// A SOAP primitive, with its KO's faultCode (None: OK).
    Primitive {
        operation: Operation,
        fault: Option<FaultCode>,
    },
}

/// What the handlers learnt of a request, carried by its reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub answered: Answered,
    /// The API key checked, valid or not for the path.
    pub key: Option<KeyId>,
}

/// One request, as the metrics and the access log see it.
pub struct Record<'a> {
    pub id: &'a str,
    pub method: &'static str,
    pub status: u16,
    pub observed: &'a Observed,
    pub elapsed: Duration,
}

impl Record<'_> {
    /// The route pattern or primitive that answered.
    pub fn what(&self) -> &'static str {
        match self.observed.answered {
            Answered::Unmatched => metrics::UNMATCHED,
            Answered::Route { pattern, .. } => pattern,
            Answered::Primitive { operation, .. } => operation.action(),
        }
    }
}

type DroppedLines = Box<dyn Fn() -> u64 + Send + Sync>;

static DROPPED_LOG_LINES: OnceLock<DroppedLines> = OnceLock::new();

/// Where the count of log lines dropped by a full log buffer comes from (the process' log
/// writer, set up once).
pub fn set_dropped_log_lines(count: impl Fn() -> u64 + Send + Sync + 'static) {
    let _ = DROPPED_LOG_LINES.set(Box::new(count));
}

fn dropped_log_lines() -> Option<u64> {
    DROPPED_LOG_LINES.get().map(|count| count())
}

/// Hands the record to the metrics (when on) and the access log (when on).
pub fn finish(record: &Record<'_>, access_log: bool) {
    if let Some(m) = metrics::metrics() {
        match record.observed.answered {
            Answered::Primitive { operation, fault } => m.soap(operation, fault, record.elapsed),
            Answered::Route { index, method, .. } => m.http(
                Some((index, method)),
                record.what(),
                record.method,
                record.status,
                record.elapsed,
            ),
            Answered::Unmatched => m.http(
                None,
                metrics::UNMATCHED,
                record.method,
                record.status,
                record.elapsed,
            ),
        }
    }
    if access_log {
        access::write(record);
    }
}
