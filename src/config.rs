//! Configuration: a TOML file read once at start into a typed [`Config`]. A bad file is refused
//! with a message naming the key and the problem. Without a file the documented example in
//! `config/example.toml` is the default.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::broadcast::{BroadcastStation, RetryPolicy, StationUrl, station_timeout};
use crate::domain::creditor::Creditor;
use crate::domain::destination::DestinationPolicy;
use crate::domain::position::Iban;
use crate::domain::rate::Rate;
use crate::domain::receipt::ReceiptVersion;
use crate::domain::service::template::Template;
use crate::domain::service::{
    AccountRule, AmountRule, DebtorFields, FieldKind, FieldSpec, Service, ServiceId, ServiceSpec,
    Share, TransferRule,
};
use crate::domain::{Cents, FiscalCodePA, SegregationCode, Text};

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
    pub instance: Instance,
    pub server: Server,
}

/// What this deployment says of itself (`GET /info`).
#[derive(Debug, Clone)]
pub struct Instance {
    /// The environment's name (`local`, `dev`, `uat`, `prod`…), as GPD's `AppInfo` has it.
    pub environment: String,
}

/// How the gateway is reached from outside.
#[derive(Debug, Clone, Default)]
pub struct Server {
    /// The base URL clients use (through a proxy, say); the WSDL's address is this plus
    /// `/partner`. Without it, the address the gateway listens on.
    pub public_url: Option<PublicUrl>,
}

/// An absolute http(s) URL without query or fragment, kept without its trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(s: &str) -> Result<PublicUrl, &'static str> {
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or("must be an absolute http:// or https:// URL")?;
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
    /// Attempts started at once to one station, at most; more wait for the retry worker.
    pub max_in_flight_per_station: usize,
    /// Where receipts may be sent beyond https to public addresses.
    pub destinations: DestinationPolicy,
    pub retry: RetryPolicy,
    /// How often the retry worker looks for due deliveries.
    pub poll_interval: Duration,
    /// Stations written into the routing table at start (replacing a stored one of the same
    /// creditor and id); the REST API manages the table from there.
    pub stations: Vec<BroadcastStation>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Request body bytes held at once over all requests; a body that does not fit gets 503.
    /// Bodies over 64 KiB may only take three quarters of it.
    pub max_inflight_body_bytes: usize,
    pub request_timeout: Duration,
    pub header_timeout: Duration,
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
    #[serde(default)]
    instance: RawInstance,
    #[serde(default)]
    server: RawServer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawInstance {
    environment: String,
}

impl Default for RawInstance {
    fn default() -> Self {
        RawInstance {
            environment: "local".into(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    public_url: Option<String>,
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
    /// Read only to say it is gone: the Node's answer no longer waits for deliveries.
    budget_ms: Option<u64>,
    max_in_flight_per_station: usize,
    allowed_networks: Vec<String>,
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
            budget_ms: None,
            max_in_flight_per_station: 32,
            allowed_networks: Vec::new(),
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
    #[serde(default = "default_max_unpaid_spontaneous")]
    max_unpaid_spontaneous: u32,
    #[serde(default, rename = "service")]
    services: Vec<RawService>,
}

fn default_max_unpaid_spontaneous() -> u32 {
    10_000
}

/// `[[creditor.service]]`: a spontaneous-payment service.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: String,
    description: String,
    #[serde(default = "default_due_in_days")]
    due_in_days: u16,
    segregation_code: Option<String>,
    amount: RawAmount,
    debtor: Option<RawDebtor>,
    #[serde(default, rename = "field")]
    fields: Vec<RawField>,
    #[serde(default, rename = "transfer")]
    transfers: Vec<RawTransfer>,
    #[serde(default = "default_rate_per_second")]
    rate_per_second: u32,
    #[serde(default = "default_burst")]
    burst: u32,
}

fn default_due_in_days() -> u16 {
    30
}

fn default_rate_per_second() -> u32 {
    20
}

fn default_burst() -> u32 {
    40
}

/// `amount = "16.00"` or `amount = { field = "importo", min = "1.00", max = "500.00" }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawAmount {
    Fixed(String),
    Field(RawAmountField),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmountField {
    field: String,
    min: Option<String>,
    max: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDebtor {
    fiscal_code: String,
    full_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    #[serde(default)]
    required: bool,
    #[serde(default = "default_kind")]
    kind: String,
    max_length: Option<usize>,
    #[serde(default)]
    values: Vec<String>,
}

fn default_kind() -> String {
    "text".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransfer {
    fiscal_code: Option<String>,
    amount: String,
    iban: Option<String>,
    postal_iban: Option<String>,
    stamp: Option<RawStamp>,
    category: String,
    remittance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStamp {
    hash_field: String,
    province_field: String,
}

fn default_aux_digit() -> u8 {
    3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    max_body_bytes: usize,
    max_connections: usize,
    max_inflight_body_bytes: usize,
    request_timeout_ms: u64,
    header_timeout_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_body_bytes: 1 << 20,
            max_connections: 2048,
            max_inflight_body_bytes: 32 << 20,
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
            if c.max_unpaid_spontaneous == 0 {
                return Err(err(
                    key("max_unpaid_spontaneous"),
                    "must be at least 1".into(),
                ));
            }
            let mut services: Vec<Service> = Vec::new();
            for (j, raw) in c.services.into_iter().enumerate() {
                let service = service(raw, &fiscal_code, &segregation_codes)
                    .map_err(|(k, p)| err(key(&format!("service[{j}].{k}")), p))?;
                if services.iter().any(|s| s.id() == service.id()) {
                    return Err(err(
                        key(&format!("service[{j}].id")),
                        format!("service {} is configured twice", service.id()),
                    ));
                }
                services.push(service);
            }
            let creditor = Creditor {
                fiscal_code: fiscal_code.clone(),
                company_name,
                office_name,
                stations: bound,
                segregation_codes,
                services,
                max_unpaid_spontaneous: c.max_unpaid_spontaneous,
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
        if l.max_connections == 0 {
            return Err(err(
                "limits.max_connections".into(),
                "must be at least 1".into(),
            ));
        }
        // A quarter of the budget is kept for small bodies: the rest must admit the largest.
        if large_body_budget(l.max_inflight_body_bytes) < l.max_body_bytes {
            return Err(err(
                "limits.max_inflight_body_bytes".into(),
                format!(
                    "must be at least 4/3 of limits.max_body_bytes ({}): a quarter is kept for \
                     bodies of at most 64 KiB",
                    l.max_body_bytes
                ),
            ));
        }
        let limits = Limits {
            max_body_bytes: l.max_body_bytes,
            max_connections: l.max_connections,
            max_inflight_body_bytes: l.max_inflight_body_bytes,
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
        let environment = raw.instance.environment;
        if environment.is_empty()
            || environment.chars().count() > 50
            || !environment.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(err(
                "instance.environment".into(),
                "must be 1 to 50 visible ASCII characters, without spaces".into(),
            ));
        }
        let server = Server {
            public_url: raw
                .server
                .public_url
                .map(|u| PublicUrl::parse(&u))
                .transpose()
                .map_err(|e| err("server.public_url".into(), e.into()))?,
        };
        Ok(Config {
            broker_id,
            stations,
            creditors,
            limits,
            broadcast,
            lifecycle,
            instance: Instance { environment },
            server,
        })
    }

    pub fn creditor(&self, fiscal_code: &str) -> Option<&Creditor> {
        FiscalCodePA::parse(fiscal_code)
            .ok()
            .and_then(|fc| self.creditors.get(&fc))
    }
}

/// A primitive version as configured or sent over the API: 1 (paSendRT) or 2 (paSendRTV2).
/// An amount as written in the configuration: euro with two decimals, as on the wire.
fn euro(s: &str) -> Result<Cents, String> {
    Cents::parse_xsd(s).map_err(|e| format!("{e} (euro, e.g. \"16.00\")"))
}

/// A `[[creditor.service]]`; errors are (key below the service, problem).
fn service(
    raw: RawService,
    creditor: &FiscalCodePA,
    segregation_codes: &BTreeSet<SegregationCode>,
) -> Result<Service, (String, String)> {
    let e = |k: &str, p: String| (k.to_owned(), p);
    let id = ServiceId::parse(&raw.id).map_err(|p| e("id", p.to_owned()))?;
    let rate = Rate::new(raw.rate_per_second, raw.burst).map_err(|p| {
        let k = if raw.rate_per_second == 0 {
            "rate_per_second"
        } else {
            "burst"
        };
        e(k, p.to_owned())
    })?;
    let segregation_code = match raw.segregation_code {
        Some(s) => {
            let code = SegregationCode::parse(&s)
                .map_err(|x| e("segregation_code", format!("must {x}")))?;
            if !segregation_codes.contains(&code) {
                return Err(e(
                    "segregation_code",
                    format!("{code} is not one of the creditor's segregation_codes"),
                ));
            }
            code
        }
        None => *segregation_codes.first().expect("checked non-empty"),
    };
    let amount = match raw.amount {
        RawAmount::Fixed(a) => AmountRule::Fixed(euro(&a).map_err(|p| e("amount", p))?),
        RawAmount::Field(f) => AmountRule::Field {
            field: f.field,
            min: match f.min {
                Some(m) => euro(&m).map_err(|p| e("amount.min", p))?,
                None => Cents::new(1).expect("1 cent"),
            },
            max: match f.max {
                Some(m) => euro(&m).map_err(|p| e("amount.max", p))?,
                None => Cents::MAX,
            },
        },
    };
    let mut fields = Vec::with_capacity(raw.fields.len());
    for (i, f) in raw.fields.into_iter().enumerate() {
        let kind = match f.kind.as_str() {
            "text" => FieldKind::Text,
            "amount" => FieldKind::Amount,
            "integer" => FieldKind::Integer,
            _ => {
                return Err(e(
                    &format!("field[{i}].kind"),
                    "must be text, amount or integer".to_owned(),
                ));
            }
        };
        fields.push(FieldSpec {
            name: f.name,
            required: f.required,
            kind,
            max_length: f.max_length,
            values: f.values,
        });
    }
    let mut transfers = Vec::with_capacity(raw.transfers.len());
    for (i, t) in raw.transfers.into_iter().enumerate() {
        let k = |x: &str| format!("transfer[{i}].{x}");
        let organization = match t.fiscal_code {
            Some(fc) => {
                FiscalCodePA::parse(&fc).map_err(|x| e(&k("fiscal_code"), format!("must {x}")))?
            }
            None => creditor.clone(),
        };
        let share = if t.amount == "rest" {
            Share::Rest
        } else {
            Share::Fixed(
                euro(&t.amount)
                    .map_err(|p| e(&k("amount"), format!("must be \"rest\" or an amount: {p}")))?,
            )
        };
        let iban = |s: String, key: &str| Iban::parse(&s).map_err(|p| e(&k(key), p.to_owned()));
        let account = match (t.iban, t.postal_iban, t.stamp) {
            (Some(i), postal, None) => AccountRule::Iban {
                iban: iban(i, "iban")?,
                postal_iban: postal.map(|p| iban(p, "postal_iban")).transpose()?,
            },
            (None, None, Some(stamp)) => AccountRule::Stamp {
                hash_field: stamp.hash_field,
                province_field: stamp.province_field,
            },
            (None, Some(_), None) => {
                return Err(e(&k("postal_iban"), "needs an iban too".to_owned()));
            }
            (None, None, None) => return Err(e(&k("iban"), "needs an iban or a stamp".to_owned())),
            _ => {
                return Err(e(
                    &k("stamp"),
                    "a transfer has an iban or a stamp, not both".to_owned(),
                ));
            }
        };
        transfers.push(TransferRule {
            organization,
            share,
            account,
            category: Text::new(t.category).map_err(|p| e(&k("category"), p.to_string()))?,
            remittance: Template::parse(&t.remittance).map_err(|p| e(&k("remittance"), p))?,
        });
    }
    let spec = ServiceSpec {
        id,
        fields,
        amount,
        description: Template::parse(&raw.description).map_err(|p| e("description", p))?,
        due_in_days: raw.due_in_days,
        segregation_code,
        debtor: raw.debtor.map(|d| DebtorFields {
            fiscal_code: d.fiscal_code,
            full_name: d.full_name,
            email: d.email,
        }),
        transfers,
        rate,
    };
    Service::new(spec).map_err(|x| (x.key, x.problem))
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
    if raw.budget_ms.is_some() {
        return Err((
            "broadcast.budget_ms".into(),
            "is no longer used: the Node is answered as soon as a receipt is stored, and \
             deliveries run beside the answer; remove the key"
                .into(),
        ));
    }
    if raw.max_in_flight_per_station == 0 {
        return Err((
            "broadcast.max_in_flight_per_station".into(),
            "must be at least 1".into(),
        ));
    }
    let mut destinations = DestinationPolicy::default();
    for (i, network) in raw.allowed_networks.iter().enumerate() {
        let net = network
            .parse()
            .map_err(|e| (format!("broadcast.allowed_networks[{i}]"), e))?;
        destinations.allowed_networks.push(net);
    }
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
            url: StationUrl::parse(&s.url)
                .map_err(|e| e.to_owned())
                .and_then(|u| destinations.check_url(&u).map(|()| u).map_err(|e| e.0))
                .map_err(|e| (key("url"), e))?,
            version: ReceiptVersion::from_number(u64::from(s.primitive_version))
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
        max_in_flight_per_station: raw.max_in_flight_per_station,
        destinations,
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
        assert!(c.broadcast.stations.is_empty());
        let station = r#"
[broadcast]
max_in_flight_per_station = 4
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
