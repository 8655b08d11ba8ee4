//! Configuration: a TOML file read once at start into a typed [`Config`]. A bad file is refused
//! with a message naming the key and the problem. Without a file the documented example in
//! `config/example.toml` is the default.
//!
//! Two steps: serde reads each section straight into its typed form, every value checked where
//! it is declared (`value` turns a value into the domain's, `serde_path_to_error` names its key);
//! then [`Config::parse`] checks what ties the sections together.

mod aca;
mod broadcast;
mod creditor;
mod fdr;
mod gateway;
mod journal;
mod notice;
mod notice_jobs;
mod observe;
mod platform;
mod retention;
mod send;
mod service;
mod store;
mod tls;
mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::Deserializer;

pub use self::aca::Aca;
pub use self::broadcast::Broadcast;
use self::creditor::CreditorEntry;
pub use self::fdr::Fdr;
pub use self::gateway::{
    Instance, Lifecycle, Limits, PublicUrl, SMALL_BODY, Server, large_body_budget,
};
pub use self::journal::Journal;
pub use self::notice_jobs::NoticeJobs;
pub use self::observe::{Log, Metrics};
pub use self::retention::Retention;
pub use self::send::SendPrices;
use self::store::RawStore;
pub use self::store::{DEFAULT_CONNECTIONS, PostgresUrl, StoreSection};
pub use self::tls::{ClientAuth, Partner, Tls};
use self::value::{Refusal, located, one_line, parsed, require};
use crate::domain::creditor::Creditor;
use crate::domain::{FiscalCodePA, Text};

/// The documented default configuration, compiled in.
pub const EXAMPLE_TOML: &str = include_str!("../../config/example.toml");

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
    pub journal: Journal,
    pub instance: Instance,
    pub server: Server,
    pub store: StoreSection,
    /// The listener's TLS; plain HTTP without it.
    pub tls: Option<Tls>,
    pub partner: Partner,
    pub metrics: Metrics,
    pub log: Log,
    pub retention: Retention,
    /// `[notice_jobs]`: batches of payment notices.
    pub notice_jobs: NoticeJobs,
    /// SEND's price API, for options notified through SEND.
    pub send: SendPrices,
    /// `[fdr]`: reading the creditors' reporting flows.
    pub fdr: Fdr,
    pub aca: Aca,
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

/// The file as serde reads it: each value checked, the sections not yet against each other.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    broker: Broker,
    #[serde(default, rename = "creditor", deserialize_with = "parsed")]
    creditors: Vec<CreditorEntry>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    broadcast: Broadcast,
    #[serde(default)]
    lifecycle: Lifecycle,
    #[serde(default)]
    journal: Journal,
    #[serde(default)]
    instance: Instance,
    #[serde(default)]
    server: Server,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    tls: Option<Tls>,
    #[serde(default)]
    partner: Partner,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    log: Log,
    #[serde(default)]
    retention: Retention,
    #[serde(default)]
    notice_jobs: NoticeJobs,
    #[serde(default)]
    send: SendPrices,
    #[serde(default)]
    fdr: Fdr,
    #[serde(default)]
    aca: Aca,
}

/// `[broker]`: the intermediary this gateway answers for, and its stations at the Node.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Broker {
    #[serde(deserialize_with = "parsed")]
    id: Text<35>,
    #[serde(deserialize_with = "broker_stations")]
    stations: BTreeSet<String>,
}

fn broker_stations<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    let listed: Vec<Text<35>> = parsed(d)?;
    let mut stations = BTreeSet::new();
    for (i, s) in listed.into_iter().enumerate() {
        let s = s.into_string();
        if stations.contains(&s) {
            let problem = format!("station {s} is listed twice");
            return Err(Refusal::at(format!("[{i}]"), problem).into_error());
        }
        stations.insert(s);
    }
    require(
        stations,
        |s| !s.is_empty(),
        "must list at least one station",
    )
}

impl File {
    /// What ties the sections together: the creditors' stations are the broker's, each
    /// creditor configured once, the limits agree, and a broadcast station is a configured
    /// creditor's, at an allowed address.
    fn into_config(self) -> Result<Config, Refusal> {
        let mut creditors = BTreeMap::new();
        for (i, entry) in self.creditors.into_iter().enumerate() {
            let key = |k: &str| format!("creditor[{i}].{k}");
            for (j, s) in entry.stations.iter().enumerate() {
                if !self.broker.stations.contains(s) {
                    return Err(Refusal::at(
                        key(&format!("stations[{j}]")),
                        format!("{s} is not one of broker.stations"),
                    ));
                }
            }
            let fiscal_code = entry.creditor.fiscal_code.clone();
            if creditors
                .insert(fiscal_code.clone(), entry.creditor)
                .is_some()
            {
                return Err(Refusal::at(
                    key("fiscal_code"),
                    format!("creditor {fiscal_code} is configured twice"),
                ));
            }
        }
        self.limits.check().map_err(|r| r.under("limits"))?;
        for (i, station) in self.broadcast.stations.iter().enumerate() {
            if !creditors.contains_key(&station.organization) {
                return Err(Refusal::at(
                    format!("broadcast.station[{i}].organization"),
                    format!("{} is not a configured creditor", station.organization),
                ));
            }
        }
        self.broadcast.check().map_err(|r| r.under("broadcast"))?;
        tls::check(self.tls.as_ref(), &self.partner)?;
        let answer_within = self.limits.answer_within();
        self.send
            .check(answer_within)
            .map_err(|r| r.under("send"))?;
        Ok(Config {
            broker_id: self.broker.id,
            stations: self.broker.stations,
            creditors,
            limits: self.limits,
            broadcast: self.broadcast,
            lifecycle: self.lifecycle,
            journal: self.journal,
            instance: self.instance,
            server: self.server,
            store: self.store.check()?,
            tls: self.tls,
            partner: self.partner,
            metrics: self.metrics,
            log: self.log,
            retention: self.retention,
            notice_jobs: self.notice_jobs,
            send: self.send,
            fdr: self.fdr,
            aca: self.aca,
        })
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
        let refused = |(key, problem): (String, String)| ConfigError {
            source: source.to_owned(),
            key,
            problem,
        };
        let document =
            toml::Deserializer::parse(text).map_err(|e| refused((String::new(), one_line(&e))))?;
        let file: File =
            serde_path_to_error::deserialize(document).map_err(|e| refused(located(e)))?;
        file.into_config().map_err(|r| refused(r.into_parts()))
    }

    pub fn creditor(&self, fiscal_code: &str) -> Option<&Creditor> {
        FiscalCodePA::parse(fiscal_code)
            .ok()
            .and_then(|fc| self.creditors.get(&fc))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::Cents;
    use crate::domain::rate::Rate;
    use crate::domain::receipt::ReceiptVersion;
    use crate::domain::service::{AmountRule, FieldKind, Service};

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
    fn a_creditors_platform_services_are_read_from_its_tables() {
        let text = format!(
            "{BASE}[creditor.aca]\nendpoint = \"https://api.example.it/aca/v1/\"\nsubscription_key = \"k1\"\n[creditor.send]\nendpoint = \"http://127.0.0.1:9\"\nsubscription_key = \"k2\"\n"
        );
        let c = Config::parse(&text, "t").unwrap();
        let platform = &c.creditor("77777777777").unwrap().platform;
        let aca = platform.aca.as_ref().unwrap();
        assert_eq!(
            (aca.endpoint(), aca.key()),
            ("https://api.example.it/aca/v1", "k1")
        );
        assert_eq!(platform.send.as_ref().unwrap().key(), "k2");
        assert!(platform.fdr.is_none() && platform.bizevents.is_none());
        let e = refuse(&format!(
            "{BASE}[creditor.fdr]\nendpoint = \"ftp://x\"\nsubscription_key = \"k\"\n"
        ));
        assert_eq!(e.key, "creditor[0].fdr.endpoint");
        let e = refuse(&format!(
            "{BASE}[creditor.bizevents]\nendpoint = \"https://x\"\nsubscription_key = \"\"\n"
        ));
        assert_eq!(e.key, "creditor[0].bizevents.subscription_key");
    }

    #[test]
    fn the_store_is_sqlite_unless_a_postgres_url_is_given() {
        let c = Config::parse(BASE, "t").unwrap();
        assert!(c.store.url.is_none());
        let text =
            format!("{BASE}[store]\nurl = \"postgres://gpd:pw@db/gateway\"\nmax_connections = 4\n");
        let c = Config::parse(&text, "t").unwrap();
        assert_eq!(
            c.store.url.unwrap().to_string(),
            "postgres://gpd@db:5432/gateway"
        );
        assert_eq!(c.store.max_connections, Some(4));
        let e = refuse(&format!("{BASE}[store]\nurl = \"mysql://u:pw@db/x\"\n"));
        assert_eq!(e.key, "store.url");
        assert!(!e.to_string().contains("pw@"), "{e}");
        assert_eq!(
            refuse(&format!("{BASE}[store]\nmax_connections = 0\n")).key,
            "store.max_connections"
        );
    }

    #[test]
    fn minimal_file_gets_default_limits() {
        let c = Config::parse(BASE, "t").unwrap();
        assert_eq!(c.limits.max_body_bytes, 1 << 20);
        assert_eq!(c.limits.max_connections, 2048);
        assert_eq!(c.limits.max_inflight_body_bytes, 32 << 20);
        assert_eq!(c.lifecycle.sweep_interval, Duration::from_secs(60));
    }

    #[test]
    fn environment() {
        assert_eq!(
            Config::parse(BASE, "t").unwrap().instance.environment,
            "local"
        );
        let c = Config::parse(&format!("{BASE}\n[instance]\nenvironment = \"uat\"\n"), "t");
        assert_eq!(c.unwrap().instance.environment, "uat");
        for bad in ["\"\"", "\"u a t\"", "\"è\""] {
            let e = refuse(&format!("{BASE}\n[instance]\nenvironment = {bad}\n"));
            assert_eq!(e.key, "instance.environment", "{bad}");
        }
    }

    #[test]
    fn sweep_interval() {
        let c = Config::parse(
            &format!("{BASE}\n[lifecycle]\nsweep_interval_ms = 500\n"),
            "t",
        )
        .unwrap();
        assert_eq!(c.lifecycle.sweep_interval, Duration::from_millis(500));
        assert!(c.journal.enabled);
        assert_eq!(c.journal.retention_months, 24);
        let c = Config::parse(
            &format!("{BASE}\n[journal]\nenabled = false\nretention_months = 6\n"),
            "t",
        )
        .unwrap();
        assert!(!c.journal.enabled);
        assert_eq!(c.journal.retention_months, 6);
        let e = refuse(&format!("{BASE}\n[journal]\nretention_months = 0\n"));
        assert_eq!(e.key, "journal.retention_months");
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
        let e = refuse(&format!("{BASE}\n[limits]\nmax_connections = 0\n"));
        assert_eq!(e.key, "limits.max_connections");
        let e = refuse(&format!(
            "{BASE}\n[limits]\nmax_body_bytes = 4096\nmax_inflight_body_bytes = 2048\n"
        ));
        assert_eq!(e.key, "limits.max_inflight_body_bytes");
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
        assert_eq!(c.broadcast.max_in_flight_per_station, 32);
        assert!(c.broadcast.destinations.allowed_networks.is_empty());
        assert_eq!(c.broadcast.retry.max_attempts, 10);
        assert_eq!(c.broadcast.lease, Duration::from_secs(17));
        assert!(c.broadcast.stations.is_empty());
        let station = r#"
[broadcast]
max_in_flight_per_station = 4
lease_ms = 5000
allowed_networks = ["127.0.0.0/8"]
[[broadcast.station]]
organization = "77777777777"
station_id = "EC_01"
broker_id = "77777777777"
url = "http://127.0.0.1:9000/ec"
primitive_version = 1
"#;
        let c = Config::parse(&format!("{BASE}{station}"), "t").unwrap();
        let s = &c.broadcast.stations[0];
        assert_eq!(c.broadcast.max_in_flight_per_station, 4);
        assert_eq!(c.broadcast.lease, Duration::from_secs(5));
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
            bad("max_in_flight_per_station = 4", "budget_ms = 2000"),
            "broadcast.budget_ms"
        );
        assert_eq!(
            bad(
                "max_in_flight_per_station = 4",
                "max_in_flight_per_station = 0"
            ),
            "broadcast.max_in_flight_per_station"
        );
        // Shorter, an attempt could not end and be recorded before another instance takes it.
        assert_eq!(
            bad("lease_ms = 5000", "lease_ms = 2999"),
            "broadcast.lease_ms"
        );
        assert_eq!(
            bad("[\"127.0.0.0/8\"]", "[\"127.0.0.0/40\"]"),
            "broadcast.allowed_networks[0]"
        );
        // Loopback over http only because its network is allowed.
        assert_eq!(
            bad("allowed_networks = [\"127.0.0.0/8\"]", ""),
            "broadcast.station[0].url"
        );
        let twice = format!("{BASE}{station}{}", &station[station.find("[[").unwrap()..]);
        assert_eq!(refuse(&twice).key, "broadcast.station[1].station_id");
    }

    const SERVICE: &str = r#"
[[creditor.service]]
id = "DONAZ"
description = "Donazione {causale}"
amount = { field = "importo", min = "1.00" }
[[creditor.service.field]]
name = "importo"
required = true
kind = "amount"
[[creditor.service.field]]
name = "causale"
[[creditor.service.transfer]]
amount = "rest"
iban = "IT60X0542811101000000123456"
category = "9/0101108TS/"
remittance = "Donazione"
"#;

    #[test]
    fn services_are_read_with_defaults() {
        let c = Config::example();
        let creditor = c.creditor("77777777777").unwrap();
        let donation = creditor.service("DONAZ").unwrap();
        assert_eq!(donation.segregation_code().to_string(), "02");
        assert!(creditor.service("CERTA").is_some());
        assert!(creditor.service("NOPE!").is_none());
        let c = Config::parse(&format!("{BASE}{SERVICE}"), "t").unwrap();
        let service = c.creditor("77777777777").unwrap().service("DONAZ").unwrap();
        let spec = service.spec();
        assert_eq!(spec.due_in_days, 30);
        assert_eq!(service.segregation_code().to_string(), "01");
        assert_eq!(
            spec.amount,
            AmountRule::Field {
                field: "importo".into(),
                min: Cents::new(100).unwrap(),
                max: Cents::MAX
            }
        );
        assert_eq!(spec.transfers[0].organization.as_str(), "77777777777");
        assert_eq!(spec.fields[1].kind, FieldKind::Text);
        assert!(!spec.fields[1].required);
    }

    #[test]
    fn spontaneous_limits() {
        let c = Config::parse(&format!("{BASE}{SERVICE}"), "t").unwrap();
        let creditor = c.creditor("77777777777").unwrap();
        assert_eq!(creditor.max_unpaid_spontaneous, 10_000);
        assert_eq!(
            creditor.service("DONAZ").map(Service::rate),
            Some(Rate::new(20, 40).unwrap())
        );
        let text = format!("{BASE}{SERVICE}")
            .replace("\"01\"]\n", "\"01\"]\nmax_unpaid_spontaneous = 5\n")
            .replace(
                "id = \"DONAZ\"\n",
                "id = \"DONAZ\"\nrate_per_second = 2\nburst = 3\n",
            );
        let c = Config::parse(&text, "t").unwrap();
        let creditor = c.creditor("77777777777").unwrap();
        assert_eq!(creditor.max_unpaid_spontaneous, 5);
        assert_eq!(
            creditor.service("DONAZ").map(Service::rate),
            Some(Rate::new(2, 3).unwrap())
        );
        let bad = |from: &str, to: &str| refuse(&text.replace(from, to)).key;
        assert_eq!(
            bad("max_unpaid_spontaneous = 5", "max_unpaid_spontaneous = 0"),
            "creditor[0].max_unpaid_spontaneous"
        );
        assert_eq!(
            bad("rate_per_second = 2", "rate_per_second = 0"),
            "creditor[0].service[0].rate_per_second"
        );
        assert_eq!(
            bad("burst = 3", "burst = 0"),
            "creditor[0].service[0].burst"
        );
    }

    #[test]
    fn service_errors_name_the_key() {
        let bad = |from: &str, to: &str| {
            let text = format!("{BASE}{}", SERVICE.replacen(from, to, 1));
            let e = refuse(&text);
            (e.key, e.problem)
        };
        let key = |from: &str, to: &str| bad(from, to).0;
        assert_eq!(key("\"DONAZ\"", "\"DON\""), "creditor[0].service[0].id");
        assert_eq!(
            key("min = \"1.00\"", "min = \"1\""),
            "creditor[0].service[0].amount.min"
        );
        assert_eq!(
            key("kind = \"amount\"", "kind = \"money\""),
            "creditor[0].service[0].field[0].kind"
        );
        assert_eq!(
            key("amount = \"rest\"", "amount = \"1.00\""),
            "creditor[0].service[0].transfer"
        );
        assert_eq!(
            key("iban = \"IT60X0542811101000000123456\"", "iban = \"IT 60\""),
            "creditor[0].service[0].transfer[0].iban"
        );
        assert_eq!(
            key("iban = \"IT60X0542811101000000123456\"", ""),
            "creditor[0].service[0].transfer[0].iban"
        );
        assert_eq!(
            key("{causale}", "{motivo}"),
            "creditor[0].service[0].description"
        );
        assert_eq!(
            key(
                "id = \"DONAZ\"",
                "id = \"DONAZ\"\nsegregation_code = \"02\""
            ),
            "creditor[0].service[0].segregation_code"
        );
        let (k, p) = bad("required = true\n", "");
        assert_eq!(k, "creditor[0].service[0].amount.field");
        assert_eq!(p, "field 'importo' must be required");
        let twice = format!("{BASE}{SERVICE}{SERVICE}");
        assert_eq!(refuse(&twice).key, "creditor[0].service[1].id");
        assert!(
            refuse(&format!(
                "{BASE}{}",
                SERVICE.replace("category", "categoria")
            ))
            .problem
            .contains("categoria")
        );
    }

    #[test]
    fn public_url_is_an_absolute_http_url() {
        assert!(
            Config::parse(BASE, "t")
                .unwrap()
                .server
                .public_url
                .is_none()
        );
        let with = |url: &str| format!("{BASE}\n[server]\npublic_url = \"{url}\"\n");
        let c = Config::parse(&with("https://gw.example.it/pagopa/"), "t").unwrap();
        assert_eq!(
            c.server.public_url.unwrap().as_str(),
            "https://gw.example.it/pagopa"
        );
        for bad in [
            "gw.example.it",
            "ftp://gw.example.it",
            "https://",
            "https://a b",
            "https://gw/<x>?a=1",
            "https://u@gw",
            "/partner",
        ] {
            assert_eq!(refuse(&with(bad)).key, "server.public_url", "{bad}");
        }
    }

    #[test]
    fn duplicate_creditor_is_refused() {
        let twice = format!("{BASE}{}", &BASE[BASE.find("[[creditor]]").unwrap()..]);
        assert_eq!(refuse(&twice).key, "creditor[1].fiscal_code");
    }
}
