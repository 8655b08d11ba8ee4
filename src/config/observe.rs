//! `[metrics]` (whether `/metrics` is served, and to which networks) and `[log]` (whether the
//! access log is written), read by serde with their defaults.

use serde::Deserialize;

use super::value::parsed;
use crate::domain::destination::IpNetwork;

/// `[metrics]`: the Prometheus endpoint. Off, nothing is recorded at all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    pub enabled: bool,
    /// The networks a scrape may come from; any other peer gets 403.
    #[serde(deserialize_with = "parsed")]
    pub allow: Vec<IpNetwork>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enabled: true,
            allow: vec![
                "127.0.0.1/32".parse().expect("a network"),
                "::1/128".parse().expect("a network"),
            ],
        }
    }
}

/// `[log]`: what is logged besides the events themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// One line per request at info, target `access`.
    pub access: bool,
}

impl Default for Log {
    fn default() -> Self {
        Log { access: true }
    }
}
