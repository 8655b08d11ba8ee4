//! The one answer type of the HTTP side: a status, a content type, a body and the few headers
//! a handler adds (`ETag`, `Allow`, `Location`…). REST handlers, the SOAP endpoint, the
//! contract files and the health checks all answer with it; the server writes it out.

use bytes::Bytes;
use serde::Serialize;

use crate::json::model::Problem;

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
        self.with_header("etag", super::etag(version))
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}
