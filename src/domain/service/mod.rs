//! Spontaneous payments (paDemandPaymentNotice): the services a creditor offers, each saying
//! which fields the citizen's request carries and how a notice is derived from them — amount,
//! description, due date, debtor and transfers. This file is the specification: a [`Service`]
//! can only be built consistent (every field it uses declared, transfers that always add up),
//! so that applying it to a request (`demand`) fails only for what the request got wrong.
//! `template` fills the texts from the fields. Pure: the caller gives the fields and the date.

pub mod demand;
pub mod template;

use std::collections::HashSet;

use self::template::Template;
use super::position::{Iban, MAX_TRANSFERS, is_code};
use super::rate::Rate;
use super::{Cents, FiscalCodePA, SegregationCode, Text};
use crate::domain::text::str_newtype;

/// An idServizio (stIdentificativoServizio): exactly 5 characters. Ours are also letters,
/// digits, `_`, `-` or `.`, so that they can stand in the IUPD of the positions they create.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceId(String);

impl ServiceId {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.len() == 5 && is_code(s) {
            Ok(ServiceId(s.to_owned()))
        } else {
            Err("must be exactly 5 letters, digits, '_', '-' or '.'")
        }
    }
}

/// What a field's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Euro with a dot and two decimals, as amounts travel on the wire (`10.50`).
    Amount,
    /// A whole number: digits only.
    Integer,
}

/// One field the service document may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    pub required: bool,
    pub kind: FieldKind,
    /// At most this many characters.
    pub max_length: Option<usize>,
    /// When not empty, the only values allowed.
    pub values: Vec<String>,
}

/// How the notice's amount is derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountRule {
    Fixed(Cents),
    /// Read from an amount field, within inclusive bounds.
    Field {
        field: String,
        min: Cents,
        max: Cents,
    },
}

/// Which fields name the debtor; without them (or when the request leaves them out) the debtor
/// is anonymous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebtorFields {
    pub fiscal_code: String,
    pub full_name: Option<String>,
    pub email: Option<String>,
}

/// A transfer's share of the amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    Fixed(Cents),
    /// The amount less the fixed shares.
    Rest,
}

/// Where a transfer's money goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRule {
    Iban {
        iban: Iban,
        postal_iban: Option<Iban>,
    },
    /// A digital revenue stamp, for the document whose digest and the province of residence
    /// the request carries.
    Stamp {
        hash_field: String,
        province_field: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRule {
    /// The beneficiary.
    pub organization: FiscalCodePA,
    pub share: Share,
    pub account: AccountRule,
    /// pagoPA taxonomy code.
    pub category: Text<140>,
    pub remittance: Template,
}

/// Everything a service is configured with; [`Service::new`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub id: ServiceId,
    pub fields: Vec<FieldSpec>,
    pub amount: AmountRule,
    pub description: Template,
    /// The notice is due this many days after the request, at the end of that day (UTC).
    pub due_in_days: u16,
    /// The segregation code of the IUVs issued for this service.
    pub segregation_code: SegregationCode,
    pub debtor: Option<DebtorFields>,
    pub transfers: Vec<TransferRule>,
    /// How often the service may be asked for a notice, on each instance.
    pub rate: Rate,
}

/// A consistent service; see [`ServiceSpec`] for its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service(ServiceSpec);

/// Why a spec is not a consistent service: `key` names the part (`field[1].name`,
/// `transfer[0].amount`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub key: String,
    pub problem: String,
}

fn spec_error(key: impl Into<String>, problem: impl Into<String>) -> SpecError {
    SpecError {
        key: key.into(),
        problem: problem.into(),
    }
}

fn trim_xml(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
}

impl Service {
    pub fn new(spec: ServiceSpec) -> Result<Service, SpecError> {
        let mut names = HashSet::new();
        for (i, f) in spec.fields.iter().enumerate() {
            let valid_name = f
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && f.name.len() <= 64
                && f.name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_-.".contains(c));
            if !valid_name {
                return Err(spec_error(
                    format!("field[{i}].name"),
                    "must be an XML element name (a letter or '_', then letters, digits, '_', '-' or '.'), at most 64 characters",
                ));
            }
            if !names.insert(f.name.as_str()) {
                return Err(spec_error(
                    format!("field[{i}].name"),
                    format!("field '{}' is declared twice", f.name),
                ));
            }
            if f.max_length == Some(0) {
                return Err(spec_error(
                    format!("field[{i}].max_length"),
                    "must be at least 1",
                ));
            }
            for (j, v) in f.values.iter().enumerate() {
                let key = format!("field[{i}].values[{j}]");
                if trim_xml(v) != v || v.is_empty() {
                    return Err(spec_error(
                        key,
                        "must be non-empty, without surrounding spaces",
                    ));
                }
                if let Err(reason) = check_value(f, v) {
                    return Err(spec_error(key, reason));
                }
            }
        }
        let field = |name: &str, key: &str, required: bool| -> Result<&FieldSpec, SpecError> {
            let f = spec
                .fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| spec_error(key, format!("'{name}' is not a declared field")))?;
            if required && !f.required {
                return Err(spec_error(key, format!("field '{name}' must be required")));
            }
            Ok(f)
        };
        for name in spec.description.fields() {
            field(name, "description", false)?;
        }
        if let Some(d) = &spec.debtor {
            field(&d.fiscal_code, "debtor.fiscal_code", false)?;
            if let Some(name) = &d.full_name {
                field(name, "debtor.full_name", false)?;
            }
            if let Some(email) = &d.email {
                field(email, "debtor.email", false)?;
            }
        }
        if spec.due_in_days > 3660 {
            return Err(spec_error(
                "due_in_days",
                "must be at most 3660 (ten years)",
            ));
        }
        let n = spec.transfers.len();
        if n == 0 || n > MAX_TRANSFERS {
            return Err(spec_error("transfer", "must list 1 to 5 transfers"));
        }
        let mut fixed = Cents::ZERO;
        let mut rest = None;
        for (i, t) in spec.transfers.iter().enumerate() {
            let key = |k: &str| format!("transfer[{i}].{k}");
            match t.share {
                Share::Fixed(c) if c.is_zero() => {
                    return Err(spec_error(key("amount"), "must be at least 0.01"));
                }
                Share::Fixed(c) => {
                    fixed = fixed.checked_add(c).ok_or_else(|| {
                        spec_error(key("amount"), "the fixed shares are too large")
                    })?;
                }
                Share::Rest if rest.is_some() => {
                    return Err(spec_error(
                        key("amount"),
                        "only one transfer can take the rest",
                    ));
                }
                Share::Rest => rest = Some(i),
            }
            for name in t.remittance.fields() {
                field(name, &key("remittance"), false)?;
            }
            if let AccountRule::Stamp {
                hash_field,
                province_field,
            } = &t.account
            {
                field(hash_field, &key("stamp.hash_field"), true)?;
                field(province_field, &key("stamp.province_field"), true)?;
            }
        }
        match &spec.amount {
            AmountRule::Fixed(amount) => {
                if amount.is_zero() {
                    return Err(spec_error("amount", "must be at least 0.01"));
                }
                match rest {
                    Some(i) if *amount <= fixed => {
                        return Err(spec_error(
                            format!("transfer[{i}].amount"),
                            format!(
                                "the rest of {amount} after the fixed shares ({fixed}) is nothing"
                            ),
                        ));
                    }
                    None if *amount != fixed => {
                        return Err(spec_error(
                            "amount",
                            format!(
                                "must equal the sum of the transfers ({fixed}), or one transfer must take the rest"
                            ),
                        ));
                    }
                    _ => {}
                }
            }
            AmountRule::Field {
                field: name,
                min,
                max,
            } => {
                let f = field(name, "amount.field", true)?;
                if f.kind != FieldKind::Amount {
                    return Err(spec_error(
                        "amount.field",
                        format!("field '{name}' must be of kind amount"),
                    ));
                }
                if min > max {
                    return Err(spec_error("amount.min", "must not be more than amount.max"));
                }
                if rest.is_none() {
                    return Err(spec_error(
                        "transfer",
                        "one transfer must take the rest when the amount comes from a field",
                    ));
                }
                if *min <= fixed {
                    return Err(spec_error(
                        "amount.min",
                        format!("must be more than the fixed shares of the transfers ({fixed})"),
                    ));
                }
            }
        }
        Ok(Service(spec))
    }

    pub fn id(&self) -> &ServiceId {
        &self.0.id
    }

    pub fn segregation_code(&self) -> SegregationCode {
        self.0.segregation_code
    }

    pub fn spec(&self) -> &ServiceSpec {
        &self.0
    }

    /// How often the service may be asked for a notice, on each instance.
    pub fn rate(&self) -> Rate {
        self.0.rate
    }
}

/// A present value against its field's rules; the error completes "field 'x' …".
fn check_value(f: &FieldSpec, value: &str) -> Result<(), String> {
    if let Some(max) = f.max_length
        && value.chars().count() > max
    {
        return Err(format!("must be at most {max} characters"));
    }
    match f.kind {
        FieldKind::Text => {}
        FieldKind::Amount => {
            Cents::parse_xsd(value).map_err(|e| format!("must be an amount in euro: {e}"))?;
        }
        FieldKind::Integer => {
            if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err("must be a whole number (at most 18 digits)".to_owned());
            }
        }
    }
    if !f.values.is_empty() && !f.values.iter().any(|v| v == value) {
        return Err(format!("must be one of: {}", f.values.join(", ")));
    }
    Ok(())
}

str_newtype!(ServiceId);

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, required: bool, kind: FieldKind) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            required,
            kind,
            max_length: None,
            values: vec![],
        }
    }

    pub(super) fn cents(c: i64) -> Cents {
        Cents::new(c).unwrap()
    }

    pub(super) fn org() -> FiscalCodePA {
        FiscalCodePA::parse("77777777777").unwrap()
    }

    fn iban_transfer(share: Share, remittance: &str) -> TransferRule {
        TransferRule {
            organization: org(),
            share,
            account: AccountRule::Iban {
                iban: Iban::parse("IT60X0542811101000000123456").unwrap(),
                postal_iban: None,
            },
            category: Text::new("9/0101108TS/").unwrap(),
            remittance: Template::parse(remittance).unwrap(),
        }
    }

    /// A donation: amount from `importo` (1.00..=500.00), 2.00 to a second beneficiary.
    pub(super) fn donation() -> ServiceSpec {
        let mut causale = field("causale", false, FieldKind::Text);
        causale.max_length = Some(20);
        let mut other = iban_transfer(Share::Fixed(cents(200)), "Quota fissa");
        other.organization = FiscalCodePA::parse("88888888888").unwrap();
        ServiceSpec {
            rate: Rate::new(20, 40).unwrap(),
            id: ServiceId::parse("DONAZ").unwrap(),
            fields: vec![
                field("importo", true, FieldKind::Amount),
                causale,
                field("codiceFiscale", false, FieldKind::Text),
                field("nominativo", false, FieldKind::Text),
                field("email", false, FieldKind::Text),
            ],
            amount: AmountRule::Field {
                field: "importo".into(),
                min: cents(300),
                max: cents(50_000),
            },
            description: Template::parse("Donazione {causale}").unwrap(),
            due_in_days: 30,
            segregation_code: SegregationCode::parse("02").unwrap(),
            debtor: Some(DebtorFields {
                fiscal_code: "codiceFiscale".into(),
                full_name: Some("nominativo".into()),
                email: Some("email".into()),
            }),
            transfers: vec![iban_transfer(Share::Rest, "Donazione {causale}"), other],
        }
    }

    /// A certificate: 10.00 to the creditor and a 16.00 stamp.
    pub(super) fn certificate() -> ServiceSpec {
        let mut tipo = field("tipo", true, FieldKind::Text);
        tipo.values = vec!["NASCITA".into(), "RESIDENZA".into()];
        ServiceSpec {
            rate: Rate::new(20, 40).unwrap(),
            id: ServiceId::parse("CERTA").unwrap(),
            fields: vec![
                tipo,
                field("hashDocumento", true, FieldKind::Text),
                field("provincia", true, FieldKind::Text),
                field("copie", false, FieldKind::Integer),
            ],
            amount: AmountRule::Fixed(cents(2600)),
            description: Template::parse("Certificato di {tipo}").unwrap(),
            due_in_days: 0,
            segregation_code: SegregationCode::parse("02").unwrap(),
            debtor: None,
            transfers: vec![
                iban_transfer(Share::Fixed(cents(1000)), "Diritti di segreteria"),
                TransferRule {
                    share: Share::Fixed(cents(1600)),
                    account: AccountRule::Stamp {
                        hash_field: "hashDocumento".into(),
                        province_field: "provincia".into(),
                    },
                    ..iban_transfer(Share::Rest, "Marca da bollo")
                },
            ],
        }
    }

    #[test]
    fn inconsistent_specs_are_refused_with_the_key() {
        let key = |spec: ServiceSpec| Service::new(spec).unwrap_err().key;
        let mut s = donation();
        s.fields.push(field("importo", false, FieldKind::Text));
        assert_eq!(key(s), "field[5].name");
        let mut s = donation();
        s.fields[0].required = false;
        assert_eq!(key(s), "amount.field");
        let mut s = donation();
        s.fields[0].kind = FieldKind::Text;
        assert_eq!(key(s), "amount.field");
        let mut s = donation();
        s.amount = AmountRule::Field {
            field: "importo".into(),
            min: cents(200),
            max: cents(1000),
        };
        assert_eq!(key(s), "amount.min", "the rest could be nothing");
        let mut s = donation();
        s.transfers[0].share = Share::Fixed(cents(100));
        assert_eq!(key(s), "transfer");
        let mut s = donation();
        s.transfers[1].share = Share::Rest;
        assert_eq!(key(s), "transfer[1].amount");
        let mut s = donation();
        s.description = Template::parse("Donazione {motivo}").unwrap();
        assert_eq!(key(s), "description");
        let mut s = donation();
        s.transfers[0].remittance = Template::parse("{nope} x").unwrap();
        assert_eq!(key(s), "transfer[0].remittance");
        let mut s = certificate();
        s.amount = AmountRule::Fixed(cents(2500));
        assert_eq!(key(s), "amount");
        let mut s = certificate();
        s.fields[1].required = false;
        assert_eq!(key(s), "transfer[1].stamp.hash_field");
        let mut s = certificate();
        s.fields[0].values.push("12".into());
        s.fields[0].kind = FieldKind::Integer;
        assert_eq!(key(s), "field[0].values[0]");
        let mut s = certificate();
        s.fields[0].name = "1tipo".into();
        assert_eq!(key(s), "field[0].name");
        let mut s = certificate();
        s.transfers = vec![];
        assert_eq!(key(s), "transfer");
        let mut s = donation();
        s.debtor.as_mut().unwrap().email = Some("mail".into());
        assert_eq!(key(s), "debtor.email");
    }
}
