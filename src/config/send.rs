//! `[send]`: how the gateway asks SEND's price API for the notification fee of an option
//! notified through SEND, on the Node's paGetPayment(V2) (`platform::send`). Each creditor's
//! endpoint and key are its own `[creditor.send]`.

use std::time::Duration;

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{Refusal, millis, require};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendPrices {
    /// How long a lookup may take, connection included; past it the Node is answered with the
    /// fee last stored. At most half the time a primitive has to answer (`[limits]`).
    #[serde(rename = "timeout_ms", deserialize_with = "millis")]
    pub timeout: Duration,
    /// How long a price SEND gave is used again for the same notice without asking; 0 asks
    /// every time.
    #[serde(rename = "cache_seconds", deserialize_with = "cache_seconds")]
    pub cache_for: Duration,
}

impl Default for SendPrices {
    fn default() -> Self {
        SendPrices {
            timeout: Duration::from_millis(400),
            cache_for: Duration::from_secs(60),
        }
    }
}

/// The longest a price is kept: SEND's cost of a notice changes as its notification proceeds.
const MAX_CACHE_SECONDS: u64 = 3600;

fn cache_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    require(
        u64::deserialize(d)?,
        |s| *s <= MAX_CACHE_SECONDS,
        "must be at most 3600",
    )
    .map(Duration::from_secs)
}

impl SendPrices {
    /// The lookup leaves at least half of `answer_within` (what a primitive has) to the rest.
    pub(super) fn check(&self, answer_within: Duration) -> Result<(), Refusal> {
        if self.timeout > answer_within / 2 {
            return Err(Refusal::at(
                "timeout_ms",
                format!(
                    "must be at most half the time a primitive has to answer ({} ms, from limits.request_timeout_ms)",
                    answer_within.as_millis()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Config;

    const BASE: &str = "[broker]\nid = \"77777777777\"\nstations = [\"77777777777_01\"]\n";

    #[test]
    fn short_by_default_and_bounded_by_the_primitives_budget() {
        let c = Config::parse(BASE, "t").unwrap();
        assert_eq!(c.send.timeout, Duration::from_millis(400));
        assert_eq!(c.send.cache_for, Duration::from_secs(60));
        let text = format!("{BASE}[send]\ntimeout_ms = 250\ncache_seconds = 0\n");
        let c = Config::parse(&text, "t").unwrap();
        assert_eq!(c.send.timeout, Duration::from_millis(250));
        assert_eq!(c.send.cache_for, Duration::ZERO);
        for (bad, key) in [
            ("timeout_ms = 0", "send.timeout_ms"),
            ("cache_seconds = 3601", "send.cache_seconds"),
            ("cache_seconds = -1", "send.cache_seconds"),
        ] {
            let e = Config::parse(&format!("{BASE}[send]\n{bad}\n"), "t").unwrap_err();
            assert_eq!(e.key, key, "{bad}: {e}");
        }
        // 10 s for a request, 8 s to answer: at most 4 s.
        let e = Config::parse(&format!("{BASE}[send]\ntimeout_ms = 4001\n"), "t").unwrap_err();
        assert_eq!(e.key, "send.timeout_ms", "{e}");
        let text = format!("{BASE}[limits]\nrequest_timeout_ms = 500\n[send]\ntimeout_ms = 300\n");
        let e = Config::parse(&text, "t").unwrap_err();
        assert!(e.problem.contains("400 ms"), "{e}");
    }
}
