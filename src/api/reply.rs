//! The one answer type of the HTTP side: a status, a content type, a body and the few headers
//! a handler adds (`ETag`, `Allow`, `Location`…). REST handlers, the SOAP endpoint, the
//! contract files and the health checks all answer with it; the server writes it out.
//!
//! REST handlers return `Result<Reply, Problem>`: the error side is a problem document, built
//! here (`bad_request`, `forbidden`…) or from the store's error, so that `?` ends a handler
//! with the answer its failure deserves, and no success can be returned as a failure.

use bytes::Bytes;
use serde::Serialize;

use crate::json::model::ProblemJson;
use crate::observe::Observed;
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: Vec<(&'static str, String)>,
    /// What the handlers learnt of the request, for the metrics and the access log.
    pub observed: Observed,
    /// A body written as it is produced, instead of `body`.
    pub stream: Option<super::streamed::Streamed>,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
            observed: Observed::default(),
            stream: None,
        }
    }

    pub fn json(status: u16, value: &impl Serialize) -> Reply {
        let body = serde_json::to_vec(value).expect("serializable");
        Reply::new(status, "application/json", body)
    }

    /// A stored SOAP document, as it was received.
    pub fn xml(body: Vec<u8>) -> Reply {
        Reply::new(200, "text/xml; charset=utf-8", body)
    }

    /// A status with no body (GPD's 201 to a bulk create, a 204).
    pub fn empty(status: u16) -> Reply {
        Reply::new(status, "application/json", Bytes::new())
    }

    /// A problem document (RFC 9457 shape, as GPD's `ProblemJson`).
    pub fn problem(status: u16, title: &str, detail: impl Into<String>) -> Reply {
        let p = ProblemJson {
            title: title.to_owned(),
            status,
            detail: detail.into(),
        };
        let body = serde_json::to_vec(&p).expect("serializable");
        Reply::new(status, "application/problem+json", body)
    }

    /// Adds the `ETag` of a position at `version`.
    pub fn with_etag(self, version: i64) -> Reply {
        self.with_header("etag", etag(version))
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// A refused call, answered with a problem document (RFC 9457 shape, as GPD's `ProblemJson`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    pub title: &'static str,
    pub detail: String,
    /// The version a position is at, sent as its `ETag` (with a 412).
    pub current: Option<i64>,
}

impl Problem {
    pub fn new(status: u16, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            detail: detail.into(),
            current: None,
        }
    }
}

impl From<Problem> for Reply {
    fn from(p: Problem) -> Reply {
        let reply = Reply::problem(p.status, p.title, p.detail);
        match p.current {
            Some(version) => reply.with_etag(version),
            None => reply,
        }
    }
}

/// The entity tag of a position's version: a strong tag, the version in quotes.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

pub fn bad_request(detail: impl Into<String>) -> Problem {
    Problem::new(400, "Bad Request", detail)
}

pub fn forbidden(detail: impl Into<String>) -> Problem {
    Problem::new(403, "Forbidden", detail)
}

pub fn not_found(detail: impl Into<String>) -> Problem {
    Problem::new(404, "Not Found", detail)
}

pub fn conflict(detail: impl Into<String>) -> Problem {
    Problem::new(409, "Conflict", detail)
}

/// The answer to a store's failure, with `NotFound` answered by `missing` (which names what
/// was looked for).
pub fn not_found_as(missing: impl FnOnce() -> Problem) -> impl FnOnce(StoreError) -> Problem {
    move |e| match e {
        StoreError::NotFound => missing(),
        e => e.into(),
    }
}

/// The answer to a store's failure: the refusals of a change as 403, 409, 412 (with the
/// current `ETag`) or 422, and a store that cannot be used as 503 (logged, not shown).
impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::Duplicate { .. } => conflict(e.to_string()),
            StoreError::NotFound => not_found("not found"),
            StoreError::Refused(refused) => conflict(refused.0),
            StoreError::Unprocessable(detail) => Problem::new(422, "Unprocessable Entity", detail),
            StoreError::Forbidden(detail) => forbidden(detail),
            StoreError::VersionMismatch { current } => Problem {
                current: Some(current),
                ..Problem::new(
                    412,
                    "Precondition Failed",
                    format!(
                        "If-Match: the position has changed; its current version has ETag {}",
                        etag(current)
                    ),
                )
            },
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "store unavailable");
                Problem::new(
                    503,
                    "Service Unavailable",
                    "the store is not available; retry later",
                )
            }
        }
    }
}
