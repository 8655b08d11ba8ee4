//! One value of the file made the domain's, refused where it is written. serde reads each field
//! through [`parsed`] (or one of the checks below) and `serde_path_to_error` adds the key; a
//! [`Refusal`] found above a value (a service whose parts disagree) carries the key below it.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::domain::broadcast::{StationUrl, station_timeout};
use crate::domain::destination::{DestinationPolicy, IpNetwork};
use crate::domain::position::Iban;
use crate::domain::receipt::ReceiptVersion;
use crate::domain::service::template::Template;
use crate::domain::service::{ServiceId, SpecError};
use crate::domain::{Cents, FiscalCodePA, SegregationCode, Text};

/// Why a value is refused, and the key below the one being read that it concerns (empty: that
/// key itself). It crosses serde as the text of the error, after a mark no TOML message starts
/// with, so that [`located`] gets the key and the words back apart.
#[derive(Debug)]
pub(super) struct Refusal {
    below: String,
    problem: String,
}

const MARK: char = '\u{0}';

impl Refusal {
    pub(super) fn new(problem: impl Into<String>) -> Refusal {
        Refusal::at("", problem)
    }

    pub(super) fn at(below: impl Into<String>, problem: impl Into<String>) -> Refusal {
        Refusal {
            below: below.into(),
            problem: problem.into(),
        }
    }

    /// The same refusal seen from one key up: `amount.min` under `service[0]`.
    pub(super) fn under(self, key: &str) -> Refusal {
        Refusal {
            below: join(key, &self.below),
            problem: self.problem,
        }
    }

    /// Turns each of the array `key`'s `items` with `turn`; a refusal is put under `key[i]`.
    pub(super) fn each<T, U, C: FromIterator<U>>(
        key: &str,
        items: Vec<T>,
        mut turn: impl FnMut(T) -> Result<U, Refusal>,
    ) -> Result<C, Refusal> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| turn(item).map_err(|r| r.under(&format!("{key}[{i}]"))))
            .collect()
    }

    pub(super) fn into_error<E: de::Error>(self) -> E {
        E::custom(self)
    }

    /// The key (below the one read) and the problem.
    pub(super) fn into_parts(self) -> (String, String) {
        (self.below, self.problem)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MARK}{}{MARK}{}", self.below, self.problem)
    }
}

impl From<SpecError> for Refusal {
    fn from(e: SpecError) -> Refusal {
        Refusal::at(e.key, e.problem)
    }
}

/// `a.b`, `a[0]`, or whichever is not empty.
fn join(key: &str, below: &str) -> String {
    match (key, below) {
        ("", k) | (k, "") => k.to_owned(),
        (k, b) if b.starts_with('[') => format!("{k}{b}"),
        (k, b) => format!("{k}.{b}"),
    }
}

/// The key and the problem of an error of the file. A refusal keeps its own words; TOML's own
/// errors (syntax, types, unknown keys) their whole text, on one line, which shows the line.
pub(super) fn located(e: serde_path_to_error::Error<toml::de::Error>) -> (String, String) {
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = e.into_inner();
    match inner
        .message()
        .strip_prefix(MARK)
        .and_then(|m| m.split_once(MARK))
    {
        Some((below, problem)) => (join(&path, below), problem.to_owned()),
        None => (path, one_line(&inner)),
    }
}

/// A TOML error's text (position, the line, the message) on one line.
pub(super) fn one_line(e: &toml::de::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A domain value as the file writes it, read by the domain's own check of it.
pub(super) trait FromToml: Sized {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// For `#[serde(deserialize_with = "parsed")]`: the field's value, made the domain's.
pub(super) fn parsed<'de, D: Deserializer<'de>, T: FromToml>(d: D) -> Result<T, D::Error> {
    T::read(d)
}

/// What TOML holds, made a domain value by `check`.
pub(super) fn checked<'de, D, R, T>(
    d: D,
    check: impl FnOnce(R) -> Result<T, Refusal>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    R: Deserialize<'de>,
{
    check(R::deserialize(d)?).map_err(Refusal::into_error)
}

/// A value read through [`FromToml`], so that each item of a list is refused with its index.
struct Parsed<T>(T);

impl<'de, T: FromToml> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::read(d).map(Parsed)
    }
}

impl<T: FromToml> FromToml for Vec<T> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<Parsed<T>>::deserialize(d)?;
        Ok(items.into_iter().map(|p| p.0).collect())
    }
}

impl<T: FromToml> FromToml for Option<T> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<Parsed<T>>::deserialize(d)?.map(|p| p.0))
    }
}

/// `value` when `ok` says so, else refused with `problem`.
pub(super) fn require<T, E: de::Error>(
    value: T,
    ok: impl FnOnce(&T) -> bool,
    problem: &str,
) -> Result<T, E> {
    if ok(&value) {
        Ok(value)
    } else {
        Err(Refusal::new(problem).into_error())
    }
}

/// A count of at least one.
pub(super) fn at_least_one<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + From<u8>,
{
    require(
        T::deserialize(d)?,
        |n| *n >= T::from(1),
        "must be at least 1",
    )
}

/// A period written in milliseconds (`…_ms`), not zero.
pub(super) fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    require(u64::deserialize(d)?, |ms| *ms > 0, "must be greater than 0").map(Duration::from_millis)
}

/// A broadcast station's `timeout_ms`.
pub(super) fn station_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    station_timeout(u64::deserialize(d)?).map_err(|p| Refusal::new(p).into_error())
}

/// An amount as written in the configuration: euro with two decimals, as on the wire.
pub(super) fn euro(s: &str) -> Result<Cents, String> {
    Cents::parse_xsd(s).map_err(|e| format!("{e} (euro, e.g. \"16.00\")"))
}

/// Values written as one TOML string, each with the domain's parser.
macro_rules! from_string {
    ($($t:ty => $parse:expr;)*) => {$(
        impl FromToml for $t {
            fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                checked(d, |s: String| ($parse)(s.as_str()).map_err(Refusal::new))
            }
        }
    )*};
}

from_string! {
    FiscalCodePA => |s| FiscalCodePA::parse(s).map_err(|e| format!("must {e}"));
    SegregationCode => |s| SegregationCode::parse(s).map_err(|e| format!("must {e}"));
    ServiceId => ServiceId::parse;
    Template => Template::parse;
    Iban => Iban::parse;
    StationUrl => StationUrl::parse;
    IpNetwork => str::parse::<IpNetwork>;
    Cents => euro;
}

impl<const N: usize> FromToml for Text<N> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |s: String| {
            Text::new(s).map_err(|e| Refusal::new(e.to_string()))
        })
    }
}

/// `primitive_version`: 1 (paSendRT) or 2 (paSendRTV2).
impl FromToml for ReceiptVersion {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |n: u8| {
            ReceiptVersion::from_number(u64::from(n)).map_err(Refusal::new)
        })
    }
}

/// `allowed_networks`: the networks a station may be in beyond the public internet.
impl FromToml for DestinationPolicy {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let allowed_networks = Vec::read(d)?;
        Ok(DestinationPolicy { allowed_networks })
    }
}
