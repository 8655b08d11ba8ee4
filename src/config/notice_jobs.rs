//! `[notice_jobs]`: how batches of payment notices are worked through: how many notices a job
//! may ask for, how many are rendered at once, how long a notice taken is one worker's, how
//! often the worker looks for jobs made elsewhere (another instance, the CLI), and how long a
//! finished job and its PDFs are kept.

use std::time::Duration;

use serde::Deserialize;

use super::value::{at_least_one, millis, require};

/// The most notices a job may be configured to take: the result's zip stays within the
/// 65,535 files a zip without ZIP64 holds, and its PDFs well within its 4 GiB.
pub const MAX_NOTICES_LIMIT: u32 = 20_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoticeJobs {
    /// Notices one job may ask for (PagoPA's massive generation takes 1,000).
    #[serde(deserialize_with = "max_notices")]
    pub max_notices: u32,
    /// Notices rendered at once by one instance; the renderer is CPU work.
    #[serde(deserialize_with = "at_least_one")]
    pub concurrency: usize,
    #[serde(rename = "lease_ms", deserialize_with = "millis")]
    pub lease: Duration,
    #[serde(rename = "poll_interval_ms", deserialize_with = "millis")]
    pub poll_interval: Duration,
    /// Days a finished job (its PDFs included) is kept.
    #[serde(deserialize_with = "at_least_one")]
    pub retention_days: u32,
}

fn max_notices<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    require(
        u32::deserialize(d)?,
        |n| (1..=MAX_NOTICES_LIMIT).contains(n),
        "must be from 1 to 20000",
    )
}

impl Default for NoticeJobs {
    fn default() -> Self {
        NoticeJobs {
            max_notices: 1000,
            concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(2),
            retention_days: 7,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values_as_written() {
        let j: NoticeJobs = toml::from_str("").unwrap();
        assert_eq!((j.max_notices, j.retention_days), (1000, 7));
        assert_eq!(j.lease, Duration::from_secs(60));
        assert!(j.concurrency >= 1);
        let j: NoticeJobs = toml::from_str(
            "max_notices = 5000\nconcurrency = 3\nlease_ms = 500\npoll_interval_ms = 100\nretention_days = 1",
        )
        .unwrap();
        assert_eq!(
            (j.max_notices, j.concurrency, j.retention_days),
            (5000, 3, 1)
        );
        assert_eq!(j.lease, Duration::from_millis(500));
        assert_eq!(j.poll_interval, Duration::from_millis(100));
        for bad in [
            "max_notices = 0",
            "max_notices = 20001",
            "concurrency = 0",
            "lease_ms = 0",
            "retention_days = 0",
            "workers = 2",
        ] {
            assert!(toml::from_str::<NoticeJobs>(bad).is_err(), "{bad}");
        }
    }
}
