//! `[fdr]`: how the gateway reads the reporting flows published to its creditors (each
//! creditor's access is its own `[creditor.fdr]` table): how often, how many per page, how
//! long an answer may take, and after how many days a paid transfer no flow has reported is
//! an anomaly.

use std::time::Duration;

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{millis, require};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fdr {
    /// Pause between two rounds of fetching every creditor's new flows.
    #[serde(rename = "poll_interval_ms", deserialize_with = "millis")]
    pub poll_interval: Duration,
    /// Flows and payments asked per page (the service takes 1 to 1000).
    #[serde(deserialize_with = "page_size")]
    pub page_size: u32,
    /// Bound on each call to the service.
    #[serde(rename = "timeout_ms", deserialize_with = "millis")]
    pub timeout: Duration,
    /// Days after its payment a transfer no flow has reported becomes an anomaly.
    #[serde(deserialize_with = "days")]
    pub unreported_after_days: u32,
}

impl Default for Fdr {
    fn default() -> Self {
        Fdr {
            poll_interval: Duration::from_secs(3600),
            page_size: 1000,
            timeout: Duration::from_secs(30),
            unreported_after_days: 10,
        }
    }
}

fn page_size<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    require(
        u32::deserialize(d)?,
        |n| (1..=1000).contains(n),
        "must be from 1 to 1000",
    )
}

fn days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    require(u32::deserialize(d)?, |n| *n >= 1, "must be at least 1")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Config;

    const BASE: &str = "[broker]\nid = \"77777777777\"\nstations = [\"77777777777_01\"]\n";

    #[test]
    fn defaults_and_checked_values() {
        let c = Config::parse(BASE, "t").unwrap();
        assert_eq!(c.fdr.poll_interval, Duration::from_secs(3600));
        assert_eq!(c.fdr.page_size, 1000);
        assert_eq!(c.fdr.unreported_after_days, 10);
        let text = format!(
            "{BASE}[fdr]\npoll_interval_ms = 500\npage_size = 2\ntimeout_ms = 100\nunreported_after_days = 3\n"
        );
        let c = Config::parse(&text, "t").unwrap();
        assert_eq!(c.fdr.poll_interval, Duration::from_millis(500));
        assert_eq!(c.fdr.page_size, 2);
        assert_eq!(c.fdr.timeout, Duration::from_millis(100));
        assert_eq!(c.fdr.unreported_after_days, 3);
        for (key, bad) in [
            ("page_size", "0"),
            ("page_size", "1001"),
            ("unreported_after_days", "0"),
            ("poll_interval_ms", "0"),
        ] {
            let e = Config::parse(&format!("{BASE}[fdr]\n{key} = {bad}\n"), "t").unwrap_err();
            assert_eq!(e.key, format!("fdr.{key}"), "{key} = {bad}: {e}");
        }
    }
}
