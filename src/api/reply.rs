//! The one answer type of the HTTP side: a status, a content type, a body and the few headers
//! a handler adds (`ETag`, `Allow`, `Location`…). REST handlers, the SOAP endpoint, the
//! contract files and the health checks all answer with it; the server writes it out.
//!
//! REST handlers return `Result<Reply, Reply>`: the error side is a problem document, built
//! here (`bad_request`, `forbidden`…) or from the store's error, so that `?` ends a handler
//! with the answer its failure deserves.

use bytes::Bytes;
use serde::Serialize;

use crate::json::model::Problem;
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
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

    /// A status with no body (GPD's 201 to a bulk create).
    pub fn empty(status: u16) -> Reply {
        Reply::new(status, "application/json", Bytes::new())
    }

    pub fn no_content() -> Reply {
        Reply::new(204, "application/json", Bytes::new())
    }

    /// A problem document (RFC 9457 shape, as GPD's `ProblemJson`).
    pub fn problem(status: u16, title: &str, detail: impl Into<String>) -> Reply {
        let p = Problem {
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

/// The entity tag of a position's version: a strong tag, the version in quotes.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

pub fn bad_request(detail: impl Into<String>) -> Reply {
    Reply::problem(400, "Bad Request", detail)
}

pub fn forbidden(detail: impl Into<String>) -> Reply {
    Reply::problem(403, "Forbidden", detail)
}

pub fn not_found(detail: impl Into<String>) -> Reply {
    Reply::problem(404, "Not Found", detail)
}

pub fn conflict(detail: impl Into<String>) -> Reply {
    Reply::problem(409, "Conflict", detail)
}

/// The answer to a store's failure, with `NotFound` answered by `missing` (which names what
/// was looked for).
pub fn not_found_as(missing: impl FnOnce() -> Reply) -> impl FnOnce(StoreError) -> Reply {
    move |e| match e {
        StoreError::NotFound => missing(),
        e => e.into(),
    }
}

/// The answer to a store's failure: the refusals of a change as 403, 409, 412 (with the
/// current `ETag`) or 422, and a store that cannot be used as 503 (logged, not shown).
impl From<StoreError> for Reply {
    fn from(e: StoreError) -> Reply {
        match e {
            StoreError::Duplicate { .. } => conflict(e.to_string()),
            StoreError::NotFound => not_found("not found"),
            StoreError::Refused(refused) => conflict(refused.0),
            StoreError::Unprocessable(detail) => {
                Reply::problem(422, "Unprocessable Entity", detail)
            }
            StoreError::Forbidden(detail) => forbidden(detail),
            StoreError::VersionMismatch { current } => Reply::problem(
                412,
                "Precondition Failed",
                format!(
                    "If-Match: the position has changed; its current version has ETag {}",
                    etag(current)
                ),
            )
            .with_etag(current),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "store unavailable");
                Reply::problem(
                    503,
                    "Service Unavailable",
                    "the store is not available; retry later",
                )
            }
        }
    }
}
