//! The access log: one line per request at info, target `access`, with the request id, what
//! answered (route pattern or primitive), method, status, the primitive's outcome and
//! faultCode, the API key's id and the duration in microseconds. Never the path, the query or
//! a body: they carry notice numbers, IUPDs and fiscal codes.
//!
//! In the binary the line is written here, in the log's own text or JSON shape, straight into
//! the log's buffer ([`set_sink`]): through `tracing`'s formatter it cost a verify a tenth of
//! its throughput (docs/performance.md). `RUST_LOG` still decides whether it is written.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::log_writer::BatchWriter;
use super::{Answered, Record};

pub const TARGET: &str = "access";

/// Where the lines go, and in which shape.
struct Sink {
    writer: BatchWriter,
    json: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends the access lines to the process' log writer, as JSON objects or as text lines.
pub fn set_sink(writer: BatchWriter, json: bool) {
    let _ = SINK.set(Sink { writer, json });
}

pub fn write(record: &Record<'_>) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let (outcome, fault) = match record.observed.answered {
        Answered::Primitive { fault: None, .. } => (Some("OK"), None),
        Answered::Primitive { fault: Some(f), .. } => (Some("KO"), Some(f.code())),
        _ => (None, None),
    };
    let key = record.observed.key.as_ref().map(|k| k.as_str());
    let micros = record.elapsed.as_micros() as u64;
    let Some(sink) = SINK.get() else {
        // A server started without the binary's log writer (tests, examples).
        tracing::info!(
            target: TARGET,
            request_id = record.id,
            answered = record.what(),
            method = record.method,
            status = record.status,
            outcome,
            fault_code = fault,
            key,
            micros,
            "request"
        );
        return;
    };
    // The quoted fields, in the order `tracing` writes them; absent ones are left out.
    let quoted = [
        ("request_id", Some(record.id)),
        ("answered", Some(record.what())),
        ("method", Some(record.method)),
        ("outcome", outcome),
        ("fault_code", fault),
        ("key", key),
    ];
    let quoted = quoted.iter().filter_map(|(n, v)| v.map(|v| (*n, v)));
    LINE.with_borrow_mut(|(line, second)| {
        line.clear();
        if sink.json {
            line.push_str(r#"{"timestamp":""#);
        }
        timestamp(line, second);
        format_line(line, sink.json, quoted, record.status, micros);
        let _ = (&sink.writer).write_all(line.as_bytes());
    });
}

thread_local! {
    /// Each thread's line, reused, and the last second it wrote: (unix time, its text).
    static LINE: RefCell<(String, (u64, String))> =
        RefCell::new((String::with_capacity(256), (u64::MAX, String::new())));
}

/// The time as the log's formatter writes it, `2026-12-06T23:21:18.896529Z`; the part down to
/// the second is formatted once a second per thread.
fn timestamp(line: &mut String, (cached, text): &mut (u64, String)) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    if now.as_secs() != *cached {
        *cached = now.as_secs();
        text.clear();
        let at = chrono::DateTime::from_timestamp(now.as_secs() as i64, 0).unwrap_or_default();
        let _ = write!(text, "{}", at.format("%Y-%m-%dT%H:%M:%S"));
    }
    let _ = write!(line, "{text}.{:06}Z", now.subsec_micros());
}

/// The line after its timestamp: the JSON object's fields, or the text line's.
fn format_line<'a>(
    line: &mut String,
    json: bool,
    quoted: impl Iterator<Item = (&'a str, &'a str)>,
    status: u16,
    micros: u64,
) {
    if json {
        line.push_str(r#"","level":"INFO","fields":{"message":"request""#);
        for (name, value) in quoted {
            let _ = write!(line, r#","{name}":""#);
            escaped(line, value);
            line.push('"');
        }
        let _ = writeln!(
            line,
            r#","status":{status},"micros":{micros}}},"target":"{TARGET}"}}"#
        );
    } else {
        let _ = write!(line, "  INFO {TARGET}: request");
        for (name, value) in quoted {
            let _ = write!(line, " {name}=\"");
            escaped(line, value);
            line.push('"');
        }
        let _ = writeln!(line, " status={status} micros={micros}");
    }
}

/// `value` inside double quotes, as JSON and the text format both read it: the values are
/// visible ASCII (a request id is checked to be), where only `"` and `\` need escaping.
fn escaped(line: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                line.push('\\');
                line.push(c);
            }
            c if c.is_ascii_graphic() || c == ' ' => line.push(c),
            c => {
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn quotes_and_backslashes_are_escaped_for_json_and_text() {
        let mut line = String::new();
        escaped(&mut line, r#"a"b\c"#);
        assert_eq!(line, r#"a\"b\\c"#);
        let json: String = serde_json::from_str(&format!("\"{line}\"")).unwrap();
        assert_eq!(json, r#"a"b\c"#);
    }
}
