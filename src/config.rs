//! Configuration: a TOML file read once at start into a typed [`Config`]. A bad file is refused
//! with a message naming the key and the problem. Without a file the documented example in
//! `config/example.toml` is the default.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

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
        Ok(Config {
            broker_id,
            stations,
            creditors,
            limits,
        })
    }

    pub fn creditor(&self, fiscal_code: &str) -> Option<&Creditor> {
        FiscalCodePA::parse(fiscal_code)
            .ok()
            .and_then(|fc| self.creditors.get(&fc))
    }
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
    fn duplicate_creditor_is_refused() {
        let twice = format!("{BASE}{}", &BASE[BASE.find("[[creditor]]").unwrap()..]);
        assert_eq!(refuse(&twice).key, "creditor[1].fiscal_code");
    }
}
