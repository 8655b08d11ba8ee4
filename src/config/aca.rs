//! `[aca]`: how positions are mirrored to the central notices archive, for the creditors with
//! a `[creditor.aca]` table: how often the mirror worker looks for changes, how long each call
//! may take, how long a position's mirror is one worker's, and how failures are retried.

use std::time::Duration;

use serde::Deserialize;

use super::value::{at_least_one, millis};
use crate::domain::broadcast::RetryPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawAca")]
pub struct Aca {
    pub poll_interval: Duration,
    /// Each call to the archive, connection included, ends within it.
    pub timeout: Duration,
    /// How long a position's mirror is the worker's that took it; another instance takes it
    /// after that if its result was not recorded.
    pub lease: Duration,
    pub retry: RetryPolicy,
}

impl Default for Aca {
    fn default() -> Self {
        RawAca::default().into()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAca {
    #[serde(rename = "poll_interval_ms", deserialize_with = "millis")]
    poll_interval: Duration,
    #[serde(rename = "timeout_ms", deserialize_with = "millis")]
    timeout: Duration,
    #[serde(rename = "lease_ms", deserialize_with = "millis")]
    lease: Duration,
    #[serde(deserialize_with = "at_least_one")]
    max_attempts: u32,
    #[serde(rename = "backoff_base_ms", deserialize_with = "millis")]
    backoff_base: Duration,
    #[serde(rename = "backoff_max_ms", deserialize_with = "millis")]
    backoff_max: Duration,
}

impl Default for RawAca {
    fn default() -> Self {
        RawAca {
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(300),
            max_attempts: 10,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
        }
    }
}

impl From<RawAca> for Aca {
    fn from(raw: RawAca) -> Self {
        Aca {
            poll_interval: raw.poll_interval,
            timeout: raw.timeout,
            lease: raw.lease,
            retry: RetryPolicy {
                max_attempts: raw.max_attempts,
                base: raw.backoff_base,
                max_delay: raw.backoff_max,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values_as_written() {
        let a: Aca = toml::from_str("").unwrap();
        assert_eq!(a.poll_interval, Duration::from_secs(1));
        assert_eq!(a.retry.max_attempts, 10);
        let a: Aca = toml::from_str(
            "poll_interval_ms = 50\ntimeout_ms = 200\nmax_attempts = 3\nbackoff_base_ms = 100",
        )
        .unwrap();
        assert_eq!(a.poll_interval, Duration::from_millis(50));
        assert_eq!(a.timeout, Duration::from_millis(200));
        assert_eq!(a.retry.base, Duration::from_millis(100));
        assert!(toml::from_str::<Aca>("timeout_ms = 0").is_err());
        assert!(toml::from_str::<Aca>("retries = 1").is_err());
    }
}
