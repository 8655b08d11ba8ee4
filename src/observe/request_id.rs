//! The request id: the caller's `X-Request-Id` when it is fit to log and echo (1 to 64 visible
//! ASCII characters), else one of ours, a per-process random prefix and a counter, unique
//! across instances and restarts with overwhelming likelihood.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::HeaderMap;
use ring::rand::{SecureRandom, SystemRandom};

pub const HEADER: &str = "x-request-id";

/// The longest id taken from a caller.
const MAX_LEN: usize = 64;

static PREFIX: LazyLock<String> = LazyLock::new(|| {
    let mut bytes = [0u8; 6];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
});

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The id of a request with these headers.
pub fn request_id(headers: &HeaderMap) -> String {
    let sent = headers
        .get(HEADER)
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty() && v.len() <= MAX_LEN && v.iter().all(u8::is_ascii_graphic));
    match sent {
        // Visible ASCII: valid UTF-8.
        Some(v) => String::from_utf8_lossy(v).into_owned(),
        None => {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            format!("{}-{n:x}", *PREFIX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HEADER,
            hyper::header::HeaderValue::from_bytes(value).unwrap(),
        );
        h
    }

    #[test]
    fn a_fit_id_is_kept_else_one_is_made() {
        assert_eq!(request_id(&with(b"abc-123")), "abc-123");
        let made = [
            request_id(&HeaderMap::new()),
            request_id(&with(b"has space")),
            request_id(&with(&[b'a'; 65])),
            request_id(&with("é".as_bytes())),
        ];
        for id in &made {
            assert!(id.starts_with(PREFIX.as_str()), "{id}");
        }
        let distinct: std::collections::BTreeSet<_> = made.iter().collect();
        assert_eq!(distinct.len(), made.len());
        assert_eq!(request_id(&with(&[b'a'; 64])).len(), 64);
    }
}
