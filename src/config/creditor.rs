//! `[[creditor]]`: a creditor served by the gateway and its spontaneous-payment services, made
//! the domain's [`Creditor`] as it is read. Whether its stations are the broker's is checked
//! once the whole file is read.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::Deserializer;

use super::service::RawService;
use super::value::{FromToml, Refusal, at_least_one, checked, parsed, require};
use crate::domain::creditor::{Creditor, PlatformServices};
use crate::domain::notice::settings::NoticeSettings;
use crate::domain::platform::PlatformAccess;
use crate::domain::{FiscalCodePA, SegregationCode, Text};

/// A creditor read, with its stations in the order written, so that a station the broker does
/// not have is named by its place.
pub(super) struct CreditorEntry {
    pub(super) creditor: Creditor,
    pub(super) stations: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreditor {
    #[serde(deserialize_with = "parsed")]
    fiscal_code: FiscalCodePA,
    #[serde(deserialize_with = "parsed")]
    company_name: Text<140>,
    #[serde(default, deserialize_with = "parsed")]
    office_name: Option<Text<140>>,
    #[serde(deserialize_with = "stations")]
    stations: Vec<String>,
    #[serde(default, rename = "aux_digit", deserialize_with = "aux_digit")]
    _aux_digit: (),
    #[serde(deserialize_with = "segregation_codes")]
    segregation_codes: BTreeSet<SegregationCode>,
    #[serde(default = "ten_thousand", deserialize_with = "at_least_one")]
    max_unpaid_spontaneous: u32,
    #[serde(default, rename = "service")]
    services: Vec<RawService>,
    #[serde(default, deserialize_with = "parsed")]
    aca: Option<PlatformAccess>,
    #[serde(default, deserialize_with = "parsed")]
    fdr: Option<PlatformAccess>,
    #[serde(default, deserialize_with = "parsed")]
    bizevents: Option<PlatformAccess>,
    #[serde(default, deserialize_with = "parsed")]
    send: Option<PlatformAccess>,
    #[serde(default, deserialize_with = "parsed")]
    notice: Option<NoticeSettings>,
}

fn ten_thousand() -> u32 {
    10_000
}

fn stations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    require(
        Vec::deserialize(d)?,
        |s| !s.is_empty(),
        "must list at least one station",
    )
}

/// Notice numbers are the aux digit and the IUV; 3 is the only one supported.
fn aux_digit<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    require(
        u8::deserialize(d)?,
        |n| *n == 3,
        "only aux digit 3 is supported",
    )
    .map(|_| ())
}

fn segregation_codes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeSet<SegregationCode>, D::Error> {
    let codes: Vec<SegregationCode> = parsed(d)?;
    require(
        codes.into_iter().collect(),
        |c: &BTreeSet<_>| !c.is_empty(),
        "must list at least one segregation code",
    )
}

impl FromToml for CreditorEntry {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, CreditorEntry::new)
    }
}

impl CreditorEntry {
    fn new(raw: RawCreditor) -> Result<Self, Refusal> {
        // A service's IUVs have the creditor's first segregation code unless it names one.
        let first = *raw.segregation_codes.first().expect("checked non-empty");
        if let Some(notice) = &raw.notice {
            let office = raw.office_name.as_ref().map(|o| o.as_str());
            notice
                .check_names(raw.company_name.as_str(), office)
                .map_err(|(key, problem)| Refusal::at(format!("notice.{key}"), problem))?;
        }
        let services = Refusal::each("service", raw.services, |s| {
            s.into_service(&raw.fiscal_code, first)
        })?;
        let creditor = Creditor {
            fiscal_code: raw.fiscal_code,
            company_name: raw.company_name,
            office_name: raw.office_name,
            stations: raw.stations.iter().cloned().collect(),
            segregation_codes: raw.segregation_codes,
            services: Vec::new(),
            max_unpaid_spontaneous: raw.max_unpaid_spontaneous,
            platform: PlatformServices {
                aca: raw.aca,
                fdr: raw.fdr,
                bizevents: raw.bizevents,
                send: raw.send,
            },
            notice: raw.notice,
        }
        .with_services(services)?;
        Ok(CreditorEntry {
            creditor,
            stations: raw.stations,
        })
    }
}
