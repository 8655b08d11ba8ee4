//! `[[creditor.service]]`: a spontaneous-payment service as the file writes it. Each value is
//! made the domain's as it is read; [`RawService::into_service`] fills in what defaults to the
//! creditor's and leaves every rule between the parts to [`Service::new`].

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{FromToml, Refusal, checked, euro, parsed};
use crate::domain::position::Iban;
use crate::domain::rate::Rate;
use crate::domain::service::template::Template;
use crate::domain::service::{
    AccountRule, AmountRule, DebtorFields, FieldKind, FieldSpec, Service, ServiceId, ServiceSpec,
    Share, TransferRule,
};
use crate::domain::{Cents, FiscalCodePA, SegregationCode, Text};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    #[serde(deserialize_with = "parsed")]
    id: ServiceId,
    #[serde(deserialize_with = "parsed")]
    description: Template,
    #[serde(default = "thirty_days")]
    due_in_days: u16,
    #[serde(default, deserialize_with = "parsed")]
    segregation_code: Option<SegregationCode>,
    #[serde(deserialize_with = "parsed")]
    amount: AmountRule,
    #[serde(default, deserialize_with = "parsed")]
    debtor: Option<DebtorFields>,
    #[serde(default, rename = "field", deserialize_with = "parsed")]
    fields: Vec<FieldSpec>,
    #[serde(default, rename = "transfer")]
    transfers: Vec<RawTransfer>,
    #[serde(default = "twenty_a_second")]
    rate_per_second: u32,
    #[serde(default = "burst_of_forty")]
    burst: u32,
}

fn thirty_days() -> u16 {
    30
}

fn twenty_a_second() -> u32 {
    20
}

fn burst_of_forty() -> u32 {
    40
}

impl RawService {
    /// The service of `creditor`, whose IUVs it issues with `segregation_code` unless it names
    /// its own. The error's key is below the service.
    pub(super) fn into_service(
        self,
        creditor: &FiscalCodePA,
        segregation_code: SegregationCode,
    ) -> Result<Service, Refusal> {
        let rate = Rate::new(self.rate_per_second, self.burst).map_err(|p| {
            let key = if self.rate_per_second == 0 {
                "rate_per_second"
            } else {
                "burst"
            };
            Refusal::at(key, p)
        })?;
        let transfers = Refusal::each("transfer", self.transfers, |t| t.into_rule(creditor))?;
        let spec = ServiceSpec {
            id: self.id,
            fields: self.fields,
            amount: self.amount,
            description: self.description,
            due_in_days: self.due_in_days,
            segregation_code: self.segregation_code.unwrap_or(segregation_code),
            debtor: self.debtor,
            transfers,
            rate,
        };
        Ok(Service::new(spec)?)
    }
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

impl FromToml for AmountRule {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |raw: RawAmount| {
            let bound = |s: Option<String>, key: &str, default: Cents| match s {
                Some(s) => euro(&s).map_err(|p| Refusal::at(key, p)),
                None => Ok(default),
            };
            Ok(match raw {
                RawAmount::Fixed(a) => AmountRule::Fixed(euro(&a).map_err(Refusal::new)?),
                RawAmount::Field(f) => AmountRule::Field {
                    field: f.field,
                    min: bound(f.min, "min", Cents::new(1).expect("1 cent"))?,
                    max: bound(f.max, "max", Cents::MAX)?,
                },
            })
        })
    }
}

/// `debtor = { … }`, read straight into the domain's.
#[derive(Deserialize)]
#[serde(remote = "DebtorFields", deny_unknown_fields)]
struct Debtor {
    fiscal_code: String,
    full_name: Option<String>,
    email: Option<String>,
}

impl FromToml for DebtorFields {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Debtor::deserialize(d)
    }
}

/// `[[creditor.service.field]]`, read straight into the domain's.
#[derive(Deserialize)]
#[serde(remote = "FieldSpec", deny_unknown_fields)]
struct Field {
    name: String,
    #[serde(default)]
    required: bool,
    #[serde(default = "text", deserialize_with = "parsed")]
    kind: FieldKind,
    max_length: Option<usize>,
    #[serde(default)]
    values: Vec<String>,
}

fn text() -> FieldKind {
    FieldKind::Text
}

impl FromToml for FieldSpec {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Field::deserialize(d)
    }
}

impl FromToml for FieldKind {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |kind: String| match kind.as_str() {
            "text" => Ok(FieldKind::Text),
            "amount" => Ok(FieldKind::Amount),
            "integer" => Ok(FieldKind::Integer),
            _ => Err(Refusal::new("must be text, amount or integer")),
        })
    }
}

/// A transfer's `amount`: what the fixed shares leave, or a fixed share.
impl FromToml for Share {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |s: String| match s.as_str() {
            "rest" => Ok(Share::Rest),
            s => euro(s)
                .map(Share::Fixed)
                .map_err(|p| Refusal::new(format!("must be \"rest\" or an amount: {p}"))),
        })
    }
}

/// `[[creditor.service.transfer]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransfer {
    #[serde(default, deserialize_with = "parsed")]
    fiscal_code: Option<FiscalCodePA>,
    #[serde(deserialize_with = "parsed")]
    amount: Share,
    #[serde(default, deserialize_with = "parsed")]
    iban: Option<Iban>,
    #[serde(default, deserialize_with = "parsed")]
    postal_iban: Option<Iban>,
    stamp: Option<RawStamp>,
    #[serde(deserialize_with = "parsed")]
    category: Text<140>,
    #[serde(deserialize_with = "parsed")]
    remittance: Template,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStamp {
    hash_field: String,
    province_field: String,
}

impl RawTransfer {
    /// The transfer, to `creditor` unless it names its beneficiary; an iban (with a postal one
    /// or not) or a stamp, never both.
    fn into_rule(self, creditor: &FiscalCodePA) -> Result<TransferRule, Refusal> {
        let account = match (self.iban, self.postal_iban, self.stamp) {
            (Some(iban), postal_iban, None) => AccountRule::Iban { iban, postal_iban },
            (None, None, Some(stamp)) => AccountRule::Stamp {
                hash_field: stamp.hash_field,
                province_field: stamp.province_field,
            },
            (None, Some(_), None) => return Err(Refusal::at("postal_iban", "needs an iban too")),
            (None, None, None) => return Err(Refusal::at("iban", "needs an iban or a stamp")),
            _ => {
                return Err(Refusal::at(
                    "stamp",
                    "a transfer has an iban or a stamp, not both",
                ));
            }
        };
        Ok(TransferRule {
            organization: self.fiscal_code.unwrap_or_else(|| creditor.clone()),
            share: self.amount,
            account,
            category: self.category,
            remittance: self.remittance,
        })
    }
}
