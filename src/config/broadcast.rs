//! `[broadcast]`: how receipts are forwarded to broadcast stations, and the stations written
//! into the routing table at start. Each value is checked as it is read; whether a station's
//! creditor is configured and its URL allowed is checked once the whole file is read.

use std::time::Duration;

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{FromToml, Refusal, at_least_one, millis, parsed, require, station_millis};
use crate::domain::broadcast::{
    ATTEMPT_LEASE, BroadcastStation, MIN_LEASE, RetryPolicy, StationUrl,
};
use crate::domain::destination::DestinationPolicy;
use crate::domain::receipt::ReceiptVersion;
use crate::domain::{FiscalCodePA, Text};

/// How receipts are forwarded to broadcast stations.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawBroadcast")]
pub struct Broadcast {
    /// Attempts started at once to one station, at most; more wait for the retry worker.
    pub max_in_flight_per_station: usize,
    /// Where receipts may be sent beyond https to public addresses.
    pub destinations: DestinationPolicy,
    pub retry: RetryPolicy,
    /// How often the retry worker looks for due deliveries.
    pub poll_interval: Duration,
    /// How long a delivery the retry worker takes is its alone: another instance takes it
    /// after that if its result was not recorded (the instance died). Attempts end before it.
    pub lease: Duration,
    /// Stations written into the routing table at start (replacing a stored one of the same
    /// creditor and id); the REST API manages the table from there.
    pub stations: Vec<BroadcastStation>,
}

impl Default for Broadcast {
    fn default() -> Self {
        RawBroadcast::default().into()
    }
}

impl Broadcast {
    /// A station's URL within the destinations allowed, and one station per creditor and id.
    /// The error's key is below `broadcast`.
    pub(super) fn check(&self) -> Result<(), Refusal> {
        for (i, station) in self.stations.iter().enumerate() {
            let key = |k: &str| format!("station[{i}].{k}");
            self.destinations
                .check_url(&station.url)
                .map_err(|e| Refusal::at(key("url"), e.0))?;
            if self.stations[..i].iter().any(|o| {
                o.organization == station.organization && o.station_id == station.station_id
            }) {
                return Err(Refusal::at(
                    key("station_id"),
                    "is listed twice for this creditor",
                ));
            }
        }
        Ok(())
    }
}

/// The section as written: the retry policy's three keys sit beside the others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBroadcast {
    #[serde(rename = "budget_ms", deserialize_with = "no_longer_used")]
    _budget_ms: (),
    #[serde(deserialize_with = "at_least_one")]
    max_in_flight_per_station: usize,
    #[serde(rename = "allowed_networks", deserialize_with = "parsed")]
    destinations: DestinationPolicy,
    #[serde(deserialize_with = "at_least_one")]
    max_attempts: u32,
    #[serde(rename = "backoff_base_ms", deserialize_with = "millis")]
    backoff_base: Duration,
    #[serde(rename = "backoff_max_ms", deserialize_with = "millis")]
    backoff_max: Duration,
    #[serde(rename = "poll_interval_ms", deserialize_with = "millis")]
    poll_interval: Duration,
    #[serde(rename = "lease_ms", deserialize_with = "lease")]
    lease: Duration,
    #[serde(rename = "station", deserialize_with = "parsed")]
    stations: Vec<BroadcastStation>,
}

impl Default for RawBroadcast {
    fn default() -> Self {
        RawBroadcast {
            _budget_ms: (),
            max_in_flight_per_station: 32,
            destinations: DestinationPolicy::default(),
            max_attempts: 10,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(1),
            lease: ATTEMPT_LEASE,
            stations: Vec::new(),
        }
    }
}

impl From<RawBroadcast> for Broadcast {
    fn from(raw: RawBroadcast) -> Self {
        Broadcast {
            max_in_flight_per_station: raw.max_in_flight_per_station,
            destinations: raw.destinations,
            retry: RetryPolicy {
                max_attempts: raw.max_attempts,
                base: raw.backoff_base,
                max_delay: raw.backoff_max,
            },
            poll_interval: raw.poll_interval,
            lease: raw.lease,
            stations: raw.stations,
        }
    }
}

/// `lease_ms`: at least [`MIN_LEASE`].
fn lease<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let min = MIN_LEASE.as_millis() as u64;
    let problem = format!("must be at least {min}");
    require(u64::deserialize(d)?, |ms| *ms >= min, &problem).map(Duration::from_millis)
}

/// `budget_ms`: refused wherever it is written.
fn no_longer_used<'de, D: Deserializer<'de>>(_: D) -> Result<(), D::Error> {
    Err(Refusal::new(
        "is no longer used: the Node is answered as soon as a receipt is stored, and \
         deliveries run beside the answer; remove the key",
    )
    .into_error())
}

/// `[[broadcast.station]]`, read straight into the domain's station.
#[derive(Deserialize)]
#[serde(remote = "BroadcastStation", deny_unknown_fields)]
struct Station {
    #[serde(deserialize_with = "parsed")]
    organization: FiscalCodePA,
    #[serde(deserialize_with = "parsed")]
    station_id: Text<35>,
    #[serde(deserialize_with = "parsed")]
    broker_id: Text<35>,
    #[serde(deserialize_with = "parsed")]
    url: StationUrl,
    #[serde(
        rename = "primitive_version",
        default = "pasendrt_v2",
        deserialize_with = "parsed"
    )]
    version: ReceiptVersion,
    #[serde(
        rename = "timeout_ms",
        default = "one_second",
        deserialize_with = "station_millis"
    )]
    timeout: Duration,
    #[serde(default = "enabled")]
    enabled: bool,
}

fn pasendrt_v2() -> ReceiptVersion {
    ReceiptVersion::V2
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

fn enabled() -> bool {
    true
}

impl FromToml for BroadcastStation {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Station::deserialize(d)
    }
}
