//! The access log: one line per request at info, target `access`, with the request id, what
//! answered (route pattern or primitive), method, status, the primitive's outcome and
//! faultCode, the API key's id and the duration in microseconds. Never the path, the query or
//! a body: they carry notice numbers, IUPDs and fiscal codes.

use super::{Answered, Record};

pub const TARGET: &str = "access";

pub fn write(record: &Record<'_>) {
    let (outcome, fault) = match record.observed.answered {
        Answered::Primitive { fault: None, .. } => (Some("OK"), None),
        Answered::Primitive { fault: Some(f), .. } => (Some("KO"), Some(f.code())),
        _ => (None, None),
    };
    tracing::info!(
        target: TARGET,
        request_id = record.id,
        answered = record.what(),
        method = record.method,
        status = record.status,
        outcome,
        fault_code = fault,
        key = record.observed.key.as_ref().map(|k| k.as_str()),
        micros = record.elapsed.as_micros() as u64,
        "request"
    );
}
