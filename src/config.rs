//! Configuration: a TOML file read once at start into a typed [`Config`]. A bad file is refused
//! with a message naming the key and the problem. Without a file the documented example in
//! `config/example.toml` is the default.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::broadcast::{BroadcastStation, RetryPolicy, StationUrl, station_timeout};
use crate::domain::receipt::ReceiptVersion;
use crate::domain::{FiscalCodePA, SegregationCode, Text};

/// The documented default configuration, compiled in.
pub const EXAMPLE_TOML: &str = include_str!("../config/example.toml");

#[derive(Debug, Clone)]
pub struct Config {
    /// Our idBrokerPA.
    pub broker_id: Text<35>,
    /// Our idStation values.
    pub stations: BTreeSet<String>,
    pub creditors: BTreeMap<FiscalCodePA, Creditor>,
    pub limits: Limits,
    pub broadcast: Broadcast,
    pub lifecycle: Lifecycle,
}

/// The life of debt positions over time.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// How often the sweeper stores the statuses time has changed (PUBLISHED -> VALID,
    /// -> EXPIRED); reads compute them anyway, so this only bounds how stale the stored ones are.
    pub sweep_interval: Duration,
}

/// How receipts are forwarded to broadcast stations.
#[derive(Debug, Clone)]
pub struct Broadcast {
    /// How long the Node's paSendRT waits for the synchronous deliveries, in all.
    pub budget: Duration,
    pub retry: RetryPolicy,
    /// How often the retry worker looks for due deliveries.
    pub poll_interval: Duration,
    /// Stations written into the routing table at start (replacing a stored one of the same
    /// creditor and id); the REST API manages the table from there.
    pub stations: Vec<BroadcastStation>,
}

#[derive(Debug, Clone)]
pub struct Creditor {
    pub fiscal_code: FiscalCodePA,
    pub company_name: Text<140>,
    pub office_name: Option<Text<140>>,
    pub stations: BTreeSet<String>,
    pub segregation_codes: BTreeSet<SegregationCode>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub header_timeout: Duration,
}

/// A configuration problem: `key` is the dotted path of the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub source: String,
    pub key: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.problem)
        } else {
            write!(f, "{}: {}: {}", self.source, self.key, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    broker: RawBroker,
    #[serde(default, rename = "creditor")]
    creditors: Vec<RawCreditor>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    broadcast: RawBroadcast,
    #[serde(default)]
    lifecycle: RawLifecycle,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLifecycle {
    sweep_interval_ms: u64,
}

impl Default for RawLifecycle {
    fn default() -> Self {
        RawLifecycle {
            sweep_interval_ms: 60_000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBroadcast {
    budget_ms: u64,
    max_attempts: u32,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
    poll_interval_ms: u64,
    #[serde(rename = "station")]
    stations: Vec<RawStation>,
}

impl Default for RawBroadcast {
    fn default() -> Self {
        RawBroadcast {
            budget_ms: 2_000,
            max_attempts: 10,
            backoff_base_ms: 30_000,
            backoff_max_ms: 3_600_000,
            poll_interval_ms: 1_000,
            stations: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    organization: String,
    station_id: String,
    broker_id: String,
    url: String,
    #[serde(default = "default_primitive_version")]
    primitive_version: u8,
    #[serde(default = "default_station_timeout")]
    timeout_ms: u64,
    #[serde(default = "default_enabled")]
    enabled: bool,
}

fn default_primitive_version() -> u8 {
    2
}

fn default_station_timeout() -> u64 {
    1_000
}

fn default_enabled() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBroker {
    id: String,
    stations: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreditor {
    fiscal_code: String,
    company_name: String,
    office_name: Option<String>,
    stations: Vec<String>,
    #[serde(default = "default_aux_digit")]
    aux_digit: u8,
    segregation_codes: Vec<String>,
}

fn default_aux_digit() -> u8 {
    3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    max_body_bytes: usize,
    request_timeout_ms: u64,
    header_timeout_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_body_bytes: 1 << 20,
            request_timeout_ms: 10_000,
            header_timeout_ms: 5_000,
        }
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source: source.clone(),
            key: String::new(),
            problem: e.to_string(),
        })?;
        Config::parse(&text, &source)
    }

    /// The built-in default (`config/example.toml`).
    pub fn example() -> Config {
        Config::parse(EXAMPLE_TOML, "config/example.toml")
            .expect("the example configuration is valid")
    }

    pub fn parse(text: &str, source: &str) -> Result<Config, ConfigError> {
        let err = |key: String, problem: String| ConfigError {
            source: source.to_owned(),
            key,
            problem,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            // toml reports the position and the key; keep its message on one line.
            err(
                String::new(),
                e.to_string()
                    .replace('\n', " ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;

        let broker_id =
            Text::<35>::new(raw.broker.id).map_err(|e| err("broker.id".into(), e.to_string()))?;
        let mut stations = BTreeSet::new();
        for (i, s) in raw.broker.stations.into_iter().enumerate() {
            let key = format!("broker.stations[{i}]");
            Text::<35>::new(s.as_str()).map_err(|e| err(key.clone(), e.to_string()))?;
            if !stations.insert(s.clone()) {
                return Err(err(key, format!("station {s} is listed twice")));
            }
        }
        if stations.is_empty() {
            return Err(err(
                "broker.stations".into(),
                "must list at least one station".into(),
            ));
        }

        let mut creditors = BTreeMap::new();
        for (i, c) in raw.creditors.into_iter().enumerate() {
            let key = |k: &str| format!("creditor[{i}].{k}");
            let fiscal_code = FiscalCodePA::parse(&c.fiscal_code)
                .map_err(|e| err(key("fiscal_code"), format!("must {e}")))?;
            let company_name =
                Text::new(c.company_name).map_err(|e| err(key("company_name"), e.to_string()))?;
            let office_name = c
                .office_name
                .map(Text::new)
                .transpose()
                .map_err(|e| err(key("office_name"), e.to_string()))?;
            if c.aux_digit != 3 {
                return Err(err(
                    key("aux_digit"),
                    "only aux digit 3 is supported".into(),
                ));
            }
            let mut bound = BTreeSet::new();
            for (j, s) in c.stations.into_iter().enumerate() {
                if !stations.contains(&s) {
                    return Err(err(
                        key(&format!("stations[{j}]")),
                        format!("{s} is not one of broker.stations"),
                    ));
                }
                bound.insert(s);
            }
            if bound.is_empty() {
                return Err(err(
                    key("stations"),
                    "must list at least one station".into(),
                ));
            }
            let mut segregation_codes = BTreeSet::new();
            for (j, s) in c.segregation_codes.iter().enumerate() {
                let code = SegregationCode::parse(s).map_err(|e| {
                    err(key(&format!("segregation_codes[{j}]")), format!("must {e}"))
                })?;
                segregation_codes.insert(code);
            }
            if segregation_codes.is_empty() {
                return Err(err(
                    key("segregation_codes"),
                    "must list at least one segregation code".into(),
                ));
            }
            let creditor = Creditor {
                fiscal_code: fiscal_code.clone(),
                company_name,
                office_name,
                stations: bound,
                segregation_codes,
            };
            if creditors.insert(fiscal_code.clone(), creditor).is_some() {
                return Err(err(
                    key("fiscal_code"),
                    format!("creditor {fiscal_code} is configured twice"),
                ));
            }
        }

        let l = raw.limits;
        if l.max_body_bytes < 1024 {
            return Err(err(
                "limits.max_body_bytes".into(),
                "must be at least 1024".into(),
            ));
        }
        if l.request_timeout_ms == 0 || l.header_timeout_ms == 0 {
            let k = if l.request_timeout_ms == 0 {
                "limits.request_timeout_ms"
            } else {
                "limits.header_timeout_ms"
            };
            return Err(err(k.into(), "must be greater than 0".into()));
        }
        let limits = Limits {
            max_body_bytes: l.max_body_bytes,
            request_timeout: Duration::from_millis(l.request_timeout_ms),
            header_timeout: Duration::from_millis(l.header_timeout_ms),
        };
        let broadcast = broadcast(raw.broadcast, &creditors).map_err(|(k, p)| err(k, p))?;
        if raw.lifecycle.sweep_interval_ms == 0 {
            return Err(err(
                "lifecycle.sweep_interval_ms".into(),
                "must be greater than 0".into(),
            ));
        }
        let lifecycle = Lifecycle {
            sweep_interval: Duration::from_millis(raw.lifecycle.sweep_interval_ms),
        };
        Ok(Config {
            broker_id,
            stations,
            creditors,
            limits,
            broadcast,
            lifecycle,
        })
    }

    pub fn creditor(&self, fiscal_code: &str) -> Option<&Creditor> {
        FiscalCodePA::parse(fiscal_code)
            .ok()
            .and_then(|fc| self.creditors.get(&fc))
    }
}

/// A primitive version as configured or sent over the API: 1 (paSendRT) or 2 (paSendRTV2).
pub fn primitive_version(n: u64) -> Result<ReceiptVersion, String> {
    match n {
        1 => Ok(ReceiptVersion::V1),
        2 => Ok(ReceiptVersion::V2),
        _ => Err("must be 1 (paSendRT) or 2 (paSendRTV2)".into()),
    }
}

fn broadcast(
    raw: RawBroadcast,
    creditors: &BTreeMap<FiscalCodePA, Creditor>,
) -> Result<Broadcast, (String, String)> {
    let positive = |v: u64, k: &str| {
        if v == 0 {
            Err((
                format!("broadcast.{k}"),
                "must be greater than 0".to_owned(),
            ))
        } else {
            Ok(Duration::from_millis(v))
        }
    };
    let budget = positive(raw.budget_ms, "budget_ms")?;
    let base = positive(raw.backoff_base_ms, "backoff_base_ms")?;
    let max_delay = positive(raw.backoff_max_ms, "backoff_max_ms")?;
    let poll_interval = positive(raw.poll_interval_ms, "poll_interval_ms")?;
    if raw.max_attempts == 0 {
        return Err(("broadcast.max_attempts".into(), "must be at least 1".into()));
    }
    let mut stations: Vec<BroadcastStation> = Vec::new();
    for (i, s) in raw.stations.into_iter().enumerate() {
        let key = |k: &str| format!("broadcast.station[{i}].{k}");
        let organization = FiscalCodePA::parse(&s.organization)
            .map_err(|e| (key("organization"), format!("must {e}")))?;
        if !creditors.contains_key(&organization) {
            return Err((
                key("organization"),
                format!("{organization} is not a configured creditor"),
            ));
        }
        let station = BroadcastStation {
            organization,
            station_id: Text::new(s.station_id).map_err(|e| (key("station_id"), e.to_string()))?,
            broker_id: Text::new(s.broker_id).map_err(|e| (key("broker_id"), e.to_string()))?,
            url: StationUrl::parse(&s.url).map_err(|e| (key("url"), e.to_owned()))?,
            version: primitive_version(u64::from(s.primitive_version))
                .map_err(|e| (key("primitive_version"), e))?,
            timeout: station_timeout(s.timeout_ms).map_err(|e| (key("timeout_ms"), e))?,
            enabled: s.enabled,
        };
        if stations
            .iter()
            .any(|o| o.organization == station.organization && o.station_id == station.station_id)
        {
            return Err((
                key("station_id"),
                "is listed twice for this creditor".into(),
            ));
        }
        stations.push(station);
    }
    Ok(Broadcast {
        budget,
        retry: RetryPolicy {
            max_attempts: raw.max_attempts,
            base,
            max_delay,
        },
        poll_interval,
        stations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuse(text: &str) -> ConfigError {
        Config::parse(text, "t.toml").unwrap_err()
    }

    const BASE: &str = r#"
[broker]
id = "77777777777"
stations = ["S1"]
[[creditor]]
fiscal_code = "77777777777"
company_name = "C"
stations = ["S1"]
segregation_codes = ["01"]
"#;

    #[test]
    fn example_is_valid() {
        let c = Config::example();
        assert_eq!(c.broker_id.as_str(), "77777777777");
        assert_eq!(c.creditors.len(), 2);
        assert!(
            c.creditor("88888888888")
                .unwrap()
                .stations
                .contains("77777777777_02")
        );
    }

    #[test]
    fn minimal_file_gets_default_limits() {
        let c = Config::parse(BASE, "t").unwrap();
        assert_eq!(c.limits.max_body_bytes, 1 << 20);
        assert_eq!(c.lifecycle.sweep_interval, Duration::from_secs(60));
    }

    #[test]
    fn sweep_interval() {
        let c = Config::parse(
            &format!("{BASE}\n[lifecycle]\nsweep_interval_ms = 500\n"),
            "t",
        )
        .unwrap();
        assert_eq!(c.lifecycle.sweep_interval, Duration::from_millis(500));
        let e = refuse(&format!("{BASE}\n[lifecycle]\nsweep_interval_ms = 0\n"));
        assert_eq!(e.key, "lifecycle.sweep_interval_ms");
        let e = refuse(&format!("{BASE}\n[lifecycle]\nsweep_every = 5\n"));
        assert!(e.problem.contains("sweep_every"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let e = refuse(&BASE.replace("\"77777777777\"\ncompany", "\"7777\"\ncompany"));
        assert_eq!(e.key, "creditor[0].fiscal_code");
        let e = refuse(&BASE.replace("[\"01\"]", "[\"01\", \"1\"]"));
        assert_eq!(e.key, "creditor[0].segregation_codes[1]");
        let e = refuse(&BASE.replace(
            "stations = [\"S1\"]\nsegregation",
            "stations = [\"S9\"]\nsegregation",
        ));
        assert_eq!(e.key, "creditor[0].stations[0]");
        assert!(
            e.to_string()
                .starts_with("t.toml: creditor[0].stations[0]: S9"),
            "{e}"
        );
        let e = refuse(&format!("{BASE}\n[limits]\nmax_body_bytes = 10\n"));
        assert_eq!(e.key, "limits.max_body_bytes");
    }

    #[test]
    fn unknown_keys_and_types_are_refused() {
        let e = refuse(&format!("{BASE}\nunknown = 1\n"));
        assert!(e.problem.contains("unknown"), "{e}");
        let e = refuse(&BASE.replace("id = \"77777777777\"", "id = 7"));
        assert!(e.problem.contains("id"), "{e}");
        assert!(
            refuse("not toml [").problem.contains("TOML")
                || !refuse("not toml [").problem.is_empty()
        );
    }

    #[test]
    fn broadcast_defaults_and_stations() {
        let c = Config::parse(BASE, "t").unwrap();
        assert_eq!(c.broadcast.budget, Duration::from_secs(2));
        assert_eq!(c.broadcast.retry.max_attempts, 10);
        assert!(c.broadcast.stations.is_empty());
        let station = r#"
[broadcast]
budget_ms = 500
[[broadcast.station]]
organization = "77777777777"
station_id = "EC_01"
broker_id = "77777777777"
url = "http://127.0.0.1:9000/ec"
primitive_version = 1
"#;
        let c = Config::parse(&format!("{BASE}{station}"), "t").unwrap();
        let s = &c.broadcast.stations[0];
        assert_eq!(c.broadcast.budget, Duration::from_millis(500));
        assert_eq!(
            (s.version, s.timeout, s.enabled),
            (ReceiptVersion::V1, Duration::from_secs(1), true)
        );
        let bad =
            |from: &str, to: &str| refuse(&format!("{BASE}{}", station.replace(from, to))).key;
        assert_eq!(
            bad("= 1\n", "= 3\n"),
            "broadcast.station[0].primitive_version"
        );
        assert_eq!(bad("http://", "ftp://"), "broadcast.station[0].url");
        assert_eq!(
            bad("\"77777777777\"\nstation", "\"12345678901\"\nstation"),
            "broadcast.station[0].organization"
        );
        assert_eq!(
            bad("budget_ms = 500", "budget_ms = 0"),
            "broadcast.budget_ms"
        );
        let twice = format!("{BASE}{station}{}", &station[station.find("[[").unwrap()..]);
        assert_eq!(refuse(&twice).key, "broadcast.station[1].station_id");
    }

    #[test]
    fn duplicate_creditor_is_refused() {
        let twice = format!("{BASE}{}", &BASE[BASE.find("[[creditor]]").unwrap()..]);
        assert_eq!(refuse(&twice).key, "creditor[1].fiscal_code");
    }
}
