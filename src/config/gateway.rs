//! The gateway's own sections: `[server]` (how clients reach it), `[limits]` (what it holds at
//! once), `[lifecycle]` and `[instance]`, read by serde straight into their typed form with
//! their defaults.

use std::time::Duration;

use serde::Deserialize;
use serde::de::Deserializer;

use crate::domain::broadcast::after_http_scheme;

use super::value::{FromToml, Refusal, at_least_one, checked, millis, parsed, require};

/// What this deployment says of itself (`GET /info`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    /// The environment's name (`local`, `dev`, `uat`, `prod`…), as GPD's `AppInfo` has it.
    #[serde(deserialize_with = "environment")]
    pub environment: String,
}

impl Default for Instance {
    fn default() -> Self {
        Instance {
            environment: "local".into(),
        }
    }
}

fn environment<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    require(
        String::deserialize(d)?,
        |e| !e.is_empty() && e.chars().count() <= 50 && e.chars().all(|c| c.is_ascii_graphic()),
        "must be 1 to 50 visible ASCII characters, without spaces",
    )
}

/// How the gateway is reached from outside.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The base URL clients use (through a proxy, say); the WSDL's address is this plus
    /// `/partner`. Without it, the address the gateway listens on.
    #[serde(default, deserialize_with = "parsed")]
    pub public_url: Option<PublicUrl>,
}

/// An absolute http(s) URL without query or fragment, kept without its trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(s: &str) -> Result<PublicUrl, &'static str> {
        let rest = after_http_scheme(s).ok_or("must be an absolute http:// or https:// URL")?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err("must name a host (and no user)");
        }
        if s.len() > 2048 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be at most 2048 visible ASCII characters");
        }
        if s.contains(['?', '#']) {
            return Err("must have no query or fragment");
        }
        // Not allowed unescaped in a URL (RFC 3986), and markup in the WSDL.
        if s.contains(['"', '<', '>', '\\', '^', '`', '{', '|', '}']) {
            return Err("must not contain \" < > \\ ^ ` { | }");
        }
        Ok(PublicUrl(s.trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromToml for PublicUrl {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |s: String| PublicUrl::parse(&s).map_err(Refusal::new))
    }
}

/// The life of debt positions over time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifecycle {
    /// How often the sweeper stores the statuses time has changed (PUBLISHED -> VALID,
    /// -> EXPIRED); reads compute them anyway, so this only bounds how stale the stored ones are.
    #[serde(rename = "sweep_interval_ms", deserialize_with = "millis")]
    pub sweep_interval: Duration,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            sweep_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    #[serde(deserialize_with = "body_size")]
    pub max_body_bytes: usize,
    /// Connections open at once; more are answered 503 and closed.
    #[serde(deserialize_with = "at_least_one")]
    pub max_connections: usize,
    /// Request body bytes held at once over all requests; a body that does not fit gets 503.
    /// Bodies over 64 KiB may only take three quarters of it.
    pub max_inflight_body_bytes: usize,
    #[serde(rename = "request_timeout_ms", deserialize_with = "millis")]
    pub request_timeout: Duration,
    #[serde(rename = "header_timeout_ms", deserialize_with = "millis")]
    pub header_timeout: Duration,
}

impl Limits {
    /// How long a handler may work before it answers on its own terms (a KO, a DOWN check):
    /// enough below the server's timeout that its own 503 never wins the race.
    pub fn answer_within(&self) -> Duration {
        self.request_timeout.mul_f32(0.8)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_connections: 2048,
            max_inflight_body_bytes: 32 << 20,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(5),
        }
    }
}

fn body_size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    require(
        usize::deserialize(d)?,
        |n| *n >= 1024,
        "must be at least 1024",
    )
}

impl Limits {
    /// The budget must admit the largest body beside the quarter kept for small ones.
    pub(super) fn check(&self) -> Result<(), Refusal> {
        if large_body_budget(self.max_inflight_body_bytes) < self.max_body_bytes {
            return Err(Refusal::at(
                "max_inflight_body_bytes",
                format!(
                    "must be at least 4/3 of limits.max_body_bytes ({}): a quarter is kept for \
                     bodies of at most 64 KiB",
                    self.max_body_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// Bodies up to this size (every request of the Node but the largest receipts) may use the
/// whole in-flight budget; larger ones only [`large_body_budget`] of it.
pub const SMALL_BODY: usize = 64 * 1024;

/// The part of the in-flight budget bodies over [`SMALL_BODY`] may hold: three quarters, so
/// that however many large uploads stall, small requests such as the Node's verifies still
/// find room.
pub fn large_body_budget(max_inflight_body_bytes: usize) -> usize {
    max_inflight_body_bytes - max_inflight_body_bytes / 4
}
