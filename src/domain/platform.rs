//! How the gateway reaches one of the platform's services on a creditor's behalf (the central
//! notices archive, the reporting flows, the receipts service, SEND): the service's base URL
//! and the key the platform issued for it. The key is a credential: it never shows in `Debug`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct PlatformAccess {
    endpoint: String,
    key: String,
}

impl PlatformAccess {
    /// `endpoint` is the service's base URL as its document's `servers` gives it (http or
    /// https, no query); a trailing `/` is dropped. `key` is sent as the service's key header,
    /// so it must be a visible ASCII header value.
    pub fn new(endpoint: &str, key: &str) -> Result<PlatformAccess, AccessError> {
        let refused = |problem| Err(AccessError::Endpoint(problem));
        let Some(rest) = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"))
        else {
            return refused("must be an http:// or https:// URL");
        };
        if rest.is_empty() || rest.starts_with('/') {
            return refused("must name a host");
        }
        if rest.contains(['?', '#', ' ']) {
            return refused("must be a base URL, without query, fragment or spaces");
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AccessError::Key("must be visible ASCII, not empty"));
        }
        Ok(PlatformAccess {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Which of the two values is refused, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    Endpoint(&'static str),
    Key(&'static str),
}

impl fmt::Debug for PlatformAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformAccess")
            .field("endpoint", &self.endpoint)
            .field("key", &"…")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_is_a_base_url_and_a_visible_key() {
        let a = PlatformAccess::new("https://api.platform.pagopa.it/aca/v1/", "k1").unwrap();
        assert_eq!(a.endpoint(), "https://api.platform.pagopa.it/aca/v1");
        assert_eq!(a.key(), "k1");
        assert!(!format!("{a:?}").contains("k1"));
        assert!(PlatformAccess::new("http://127.0.0.1:8080", "k").is_ok());
        for bad in ["ftp://x", "https://", "https:///x", "https://x?a=1", "x"] {
            assert!(PlatformAccess::new(bad, "k").is_err(), "{bad}");
        }
        for bad in ["", "a b", "é"] {
            assert!(PlatformAccess::new("https://x", bad).is_err(), "{bad:?}");
        }
    }
}
