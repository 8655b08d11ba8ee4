//! Spontaneous payments (paDemandPaymentNotice): the services a creditor offers, each saying
//! which fields the citizen's request carries and how a notice is derived from them — amount,
//! description, due date, debtor and transfers. A [`Service`] can only be built consistent
//! (every field it uses declared, transfers that always add up), so that applying it to a
//! request fails only for what the request got wrong. Pure: the caller gives the fields and
//! the date.

use std::collections::HashSet;
use std::fmt;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::party::{CountryCode, Email, EntityId, EntityType, Subject};
use super::position::{
    Account, DebtPosition, Debtor, Iban, Iupd, MAX_TRANSFERS, OptionStatus, PaymentOption,
    PositionStatus, StampRequest, Transfer, TransferStatus, is_code,
};
use super::{Cents, FiscalCodePA, Iuv, SegregationCode, Text, TransferId};

/// Who the debtor is when the request does not say (as PagoPA's own service does).
pub const ANONYMOUS: &str = "ANONIMO";

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
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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

/// A text with `{field}` placeholders, replaced by the field's value (nothing when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Field(String),
}

impl Template {
    /// Parses `text`; `{{` and `}}` stand for literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let closed = loop {
                        match chars.next() {
                            Some('}') => break true,
                            Some(c) => name.push(c),
                            None => break false,
                        }
                    };
                    if !closed || name.is_empty() || name.contains('{') {
                        return Err(format!("'{{{name}' is not a {{field}} placeholder"));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(name));
                }
                '}' => return Err("'}' without '{' (write '}}' for a brace)".to_owned()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        let template = Template(pieces);
        if template.literal_text().trim().is_empty() {
            return Err("must have some text besides {field} placeholders".to_owned());
        }
        Ok(template)
    }

    fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(f.as_str()),
            Piece::Literal(_) => None,
        })
    }

    fn literal_text(&self) -> String {
        self.0
            .iter()
            .filter_map(|p| match p {
                Piece::Literal(l) => Some(l.as_str()),
                Piece::Field(_) => None,
            })
            .collect()
    }

    /// The text with the values in, trimmed and cut to N characters.
    fn render<const N: usize>(&self, values: &Values) -> Text<N> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Field(f) => out.push_str(values.get(f).unwrap_or("")),
            }
        }
        let cut: String = out.trim().chars().take(N).collect();
        Text::new(cut.trim_end()).expect("a template has non-blank literal text")
    }
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

/// A request the service refuses, with the reason (a PAA_SEMANTICA description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The service document's fields, in document order, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceData {
    pub fields: Vec<ServiceField>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceField {
    pub name: String,
    pub value: FieldValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    /// The field holds elements rather than a value.
    Structured,
}

/// The notice a request asks for, before it has an IUV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    pub service: ServiceId,
    pub amount: Cents,
    pub description: Text<140>,
    pub due_date: NaiveDateTime,
    pub debtor: Subject,
    pub transfers: Vec<Transfer>,
}

/// The checked values of one request, by field name.
struct Values<'a>(Vec<(&'a str, &'a str)>);

impl Values<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
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

    /// Applies the service to a request's fields: the notice they ask for, or why not.
    pub fn demand(&self, data: &ServiceData, today: NaiveDate) -> Result<Demand, Violation> {
        let spec = &self.0;
        let values = self.check_fields(data)?;
        let amount = match &spec.amount {
            AmountRule::Fixed(c) => *c,
            AmountRule::Field { field, min, max } => {
                let value = values.get(field).expect("a required field");
                let amount = Cents::parse_xsd(value).expect("checked as an amount");
                if amount < *min || amount > *max {
                    return Err(Violation(format!(
                        "field '{field}' must be between {min} and {max}, is {amount}"
                    )));
                }
                amount
            }
        };
        let fixed = spec
            .transfers
            .iter()
            .fold(Cents::ZERO, |sum, t| match t.share {
                Share::Fixed(c) => sum.checked_add(c).expect("checked at construction"),
                Share::Rest => sum,
            });
        let mut transfers = Vec::with_capacity(spec.transfers.len());
        for (i, t) in spec.transfers.iter().enumerate() {
            let share = match t.share {
                Share::Fixed(c) => c,
                Share::Rest => {
                    Cents::new(amount.get() - fixed.get()).expect("the rest is positive")
                }
            };
            let account = match &t.account {
                AccountRule::Iban { iban, postal_iban } => Account::Iban {
                    iban: iban.clone(),
                    postal_iban: postal_iban.clone(),
                },
                AccountRule::Stamp {
                    hash_field,
                    province_field,
                } => Account::Stamp(stamp(&values, hash_field, province_field)?),
            };
            transfers.push(Transfer {
                id: TransferId::new(i as i64 + 1).expect("at most 5 transfers"),
                organization: t.organization.clone(),
                company_name: None,
                amount: share,
                remittance_information: t.remittance.render(&values),
                category: t.category.clone(),
                account,
                metadata: Vec::new(),
                status: TransferStatus::Unreported,
            });
        }
        let due = today + Duration::days(i64::from(spec.due_in_days));
        Ok(Demand {
            service: spec.id.clone(),
            amount,
            description: spec.description.render(&values),
            due_date: due.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("a time")),
            debtor: self.debtor(&values)?,
            transfers,
        })
    }

    /// Checks every field of the request against its spec and returns the present values.
    fn check_fields<'a>(&self, data: &'a ServiceData) -> Result<Values<'a>, Violation> {
        let spec = &self.0;
        let mut values = Vec::with_capacity(data.fields.len());
        let mut seen = HashSet::new();
        for field in &data.fields {
            let name = field.name.as_str();
            let Some(f) = spec.fields.iter().find(|f| f.name == name) else {
                let expected: Vec<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(Violation(format!(
                    "unexpected field '{name}' (service {} takes: {})",
                    spec.id,
                    expected.join(", ")
                )));
            };
            if !seen.insert(name) {
                return Err(Violation(format!("field '{name}' appears more than once")));
            }
            let value = match &field.value {
                FieldValue::Text(t) => trim_xml(t),
                FieldValue::Structured => {
                    return Err(Violation(format!(
                        "field '{name}' must be a value, not contain elements"
                    )));
                }
            };
            if value.is_empty() {
                continue;
            }
            check_value(f, value)
                .map_err(|reason| Violation(format!("field '{name}' {reason}")))?;
            values.push((name, value));
        }
        if let Some(missing) = spec
            .fields
            .iter()
            .find(|f| f.required && !values.iter().any(|(n, _)| *n == f.name))
        {
            return Err(Violation(format!(
                "field '{}' is required by service {}",
                missing.name, spec.id
            )));
        }
        Ok(Values(values))
    }

    fn debtor(&self, values: &Values) -> Result<Subject, Violation> {
        let fields = self.0.debtor.as_ref();
        let code = fields.and_then(|d| values.get(&d.fiscal_code));
        let Some(code) = code else {
            return Ok(anonymous());
        };
        let d = fields.expect("a code comes from the debtor fields");
        let bad = |field: &str, what: &str| Violation(format!("field '{field}' {what}"));
        let entity_id =
            EntityId::parse(code).map_err(|e| bad(&d.fiscal_code, &format!("must {e}")))?;
        // A legal person's fiscal code is its 11-digit VAT number.
        let entity_type = if code.len() == 11 && code.bytes().all(|b| b.is_ascii_digit()) {
            EntityType::G
        } else {
            EntityType::F
        };
        let full_name = match d
            .full_name
            .as_ref()
            .and_then(|f| values.get(f).map(|v| (f, v)))
        {
            Some((field, name)) => {
                Text::new(name).map_err(|e| bad(field, &format!("(the debtor's name) {e}")))?
            }
            None => Text::new(ANONYMOUS).expect("non-empty"),
        };
        let email = match d.email.as_ref().and_then(|f| values.get(f).map(|v| (f, v))) {
            Some((field, email)) => {
                Some(Email::parse(email).map_err(|e| bad(field, &format!("must {e}")))?)
            }
            None => None,
        };
        Ok(Subject {
            entity_type,
            entity_id,
            full_name,
            street_name: None,
            civic_number: None,
            postal_code: None,
            city: None,
            state_province_region: None,
            country: None,
            email,
        })
    }
}

fn anonymous() -> Subject {
    Subject {
        entity_type: EntityType::F,
        entity_id: EntityId::parse(ANONYMOUS).expect("7 characters"),
        full_name: Text::new(ANONYMOUS).expect("non-empty"),
        street_name: None,
        civic_number: None,
        postal_code: None,
        city: None,
        state_province_region: None,
        country: None,
        email: None,
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

fn stamp(
    values: &Values,
    hash_field: &str,
    province_field: &str,
) -> Result<StampRequest, Violation> {
    let hash = values.get(hash_field).expect("a required field");
    let base64 = hash.len().is_multiple_of(4)
        && hash.trim_end_matches('=').len() + 2 >= hash.len()
        && hash
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !(4..=72).contains(&hash.len()) || !base64 {
        return Err(Violation(format!(
            "field '{hash_field}' must be the base64 digest of the document, 4 to 72 characters"
        )));
    }
    let province = values.get(province_field).expect("a required field");
    let provincial_residence = CountryCode::parse(province).map_err(|_| {
        Violation(format!(
            "field '{province_field}' must be a province code of two capital letters"
        ))
    })?;
    Ok(StampRequest {
        hash_document: hash.to_owned(),
        stamp_type: "01".to_owned(),
        provincial_residence,
    })
}

impl Demand {
    /// The position this demand becomes once it has its IUV: one payment option, published
    /// now and valid at once, unpayable after its due date.
    pub fn into_position(
        self,
        iuv: Iuv,
        organization: FiscalCodePA,
        company_name: Text<140>,
        office_name: Option<Text<140>>,
        now: NaiveDateTime,
    ) -> DebtPosition {
        let iupd =
            Iupd::parse(&format!("{}-{iuv}", self.service)).expect("service ids are IUPD-safe");
        let option = PaymentOption {
            nav: iuv.notice_number(),
            iuv,
            amount: self.amount,
            description: self.description,
            is_partial_payment: false,
            due_date: self.due_date,
            retention_date: None,
            notification_fee: None,
            status: OptionStatus::Unpaid,
            payment: None,
            transfers: self.transfers,
            metadata: Vec::new(),
            last_updated_date: now,
        };
        let mut position = DebtPosition {
            organization,
            iupd,
            company_name,
            office_name,
            debtor: Debtor {
                subject: self.debtor,
                region: None,
                phone: None,
            },
            switch_to_expired: true,
            pay_stand_in: true,
            validity_date: None,
            status: PositionStatus::Draft,
            publish_date: None,
            payment_date: None,
            inserted_date: now,
            last_updated_date: now,
            version: 0,
            options: vec![option],
        };
        position.apply_publication(now);
        position
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn field(name: &str, required: bool, kind: FieldKind) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            required,
            kind,
            max_length: None,
            values: vec![],
        }
    }

    fn cents(c: i64) -> Cents {
        Cents::new(c).unwrap()
    }

    fn org() -> FiscalCodePA {
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
    pub fn donation() -> ServiceSpec {
        let mut causale = field("causale", false, FieldKind::Text);
        causale.max_length = Some(20);
        let mut other = iban_transfer(Share::Fixed(cents(200)), "Quota fissa");
        other.organization = FiscalCodePA::parse("88888888888").unwrap();
        ServiceSpec {
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
    fn certificate() -> ServiceSpec {
        let mut tipo = field("tipo", true, FieldKind::Text);
        tipo.values = vec!["NASCITA".into(), "RESIDENZA".into()];
        ServiceSpec {
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

    fn data(fields: &[(&str, &str)]) -> ServiceData {
        ServiceData {
            fields: fields
                .iter()
                .map(|(n, v)| ServiceField {
                    name: (*n).into(),
                    value: FieldValue::Text((*v).into()),
                })
                .collect(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2030, 1, 31).unwrap()
    }

    fn refuse(spec: ServiceSpec, fields: &[(&str, &str)]) -> String {
        Service::new(spec)
            .unwrap()
            .demand(&data(fields), today())
            .unwrap_err()
            .0
    }

    #[test]
    fn donation_takes_amount_debtor_and_texts_from_the_fields() {
        let service = Service::new(donation()).unwrap();
        let demand = service
            .demand(
                &data(&[
                    ("importo", " 25.50\n"),
                    ("causale", "restauro"),
                    ("codiceFiscale", "RSSMRA80A01H501U"),
                    ("nominativo", "Mario Rossi"),
                ]),
                today(),
            )
            .unwrap();
        assert_eq!(demand.amount, cents(2550));
        assert_eq!(demand.description.as_str(), "Donazione restauro");
        assert_eq!(
            demand.due_date,
            NaiveDate::from_ymd_opt(2030, 3, 2)
                .unwrap()
                .and_hms_opt(23, 59, 59)
                .unwrap()
        );
        let shares: Vec<i64> = demand.transfers.iter().map(|t| t.amount.get()).collect();
        assert_eq!(shares, [2350, 200]);
        assert_eq!(demand.transfers[1].organization.as_str(), "88888888888");
        assert_eq!(demand.transfers[1].id.get(), 2);
        assert_eq!(demand.debtor.entity_type, EntityType::F);
        assert_eq!(demand.debtor.full_name.as_str(), "Mario Rossi");
        assert_eq!(demand.debtor.email, None);
    }

    #[test]
    fn absent_optional_fields_leave_placeholders_empty_and_the_debtor_anonymous() {
        let service = Service::new(donation()).unwrap();
        let demand = service
            .demand(&data(&[("importo", "3.00"), ("causale", "  ")]), today())
            .unwrap();
        assert_eq!(demand.description.as_str(), "Donazione");
        assert_eq!(demand.debtor.entity_id.as_str(), ANONYMOUS);
        assert_eq!(demand.transfers[0].amount, cents(100));
        let legal = service
            .demand(
                &data(&[("importo", "3.00"), ("codiceFiscale", "01234567890")]),
                today(),
            )
            .unwrap();
        assert_eq!(legal.debtor.entity_type, EntityType::G);
        assert_eq!(legal.debtor.full_name.as_str(), ANONYMOUS);
    }

    #[test]
    fn certificate_has_a_stamp() {
        let service = Service::new(certificate()).unwrap();
        let demand = service
            .demand(
                &data(&[
                    ("tipo", "NASCITA"),
                    ("hashDocumento", "cXVhbHNpYXNpIGNvc2E="),
                    ("provincia", "RM"),
                ]),
                today(),
            )
            .unwrap();
        assert_eq!(demand.amount, cents(2600));
        assert_eq!(demand.due_date.date(), today());
        match &demand.transfers[1].account {
            Account::Stamp(s) => assert_eq!(s.provincial_residence.as_str(), "RM"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_rule_has_its_reason() {
        let ok_cert = [
            ("tipo", "NASCITA"),
            ("hashDocumento", "cXVhbHNpYXNpIGNvc2E="),
            ("provincia", "RM"),
        ];
        let with = |name: &str, value: &str| {
            let mut fields: Vec<(&str, &str)> = ok_cert
                .iter()
                .copied()
                .filter(|(n, _)| *n != name)
                .collect();
            fields.push((name, value));
            refuse(certificate(), &fields)
        };
        assert_eq!(
            refuse(donation(), &[("causale", "x")]),
            "field 'importo' is required by service DONAZ"
        );
        assert_eq!(
            refuse(donation(), &[("importo", "2.99")]),
            "field 'importo' must be between 3.00 and 500.00, is 2.99"
        );
        assert_eq!(
            refuse(donation(), &[("importo", "500.01")]),
            "field 'importo' must be between 3.00 and 500.00, is 500.01"
        );
        assert_eq!(
            refuse(donation(), &[("importo", "10")]),
            "field 'importo' must be an amount in euro: must be digits, a dot and two decimals (e.g. 10.50)"
        );
        assert_eq!(
            refuse(
                donation(),
                &[("importo", "10.00"), ("causale", &"x".repeat(21))]
            ),
            "field 'causale' must be at most 20 characters"
        );
        assert_eq!(
            refuse(donation(), &[("importo", "10.00"), ("iban", "IT00")]),
            "unexpected field 'iban' (service DONAZ takes: importo, causale, codiceFiscale, nominativo, email)"
        );
        assert_eq!(
            refuse(donation(), &[("importo", "10.00"), ("importo", "11.00")]),
            "field 'importo' appears more than once"
        );
        assert_eq!(
            refuse(donation(), &[("importo", "10.00"), ("codiceFiscale", "X")]),
            "field 'codiceFiscale' must be 2 to 16 characters"
        );
        assert_eq!(
            refuse(
                donation(),
                &[
                    ("importo", "10.00"),
                    ("codiceFiscale", "RSSMRA80A01H501U"),
                    ("email", "no")
                ]
            ),
            "field 'email' must be an e-mail address (name@domain) of at most 256 characters"
        );
        assert_eq!(
            with("tipo", "MORTE"),
            "field 'tipo' must be one of: NASCITA, RESIDENZA"
        );
        assert_eq!(
            with("provincia", "Roma"),
            "field 'provincia' must be a province code of two capital letters"
        );
        assert_eq!(
            with("hashDocumento", "not base64!"),
            "field 'hashDocumento' must be the base64 digest of the document, 4 to 72 characters"
        );
        assert_eq!(
            with("copie", "2x"),
            "field 'copie' must be a whole number (at most 18 digits)"
        );
        let structured = ServiceData {
            fields: vec![ServiceField {
                name: "importo".into(),
                value: FieldValue::Structured,
            }],
        };
        let err = Service::new(donation())
            .unwrap()
            .demand(&structured, today())
            .unwrap_err();
        assert_eq!(
            err.0,
            "field 'importo' must be a value, not contain elements"
        );
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

    #[test]
    fn templates() {
        assert_eq!(
            Template::parse("a {x} {{b}}").unwrap().0,
            vec![
                Piece::Literal("a ".into()),
                Piece::Field("x".into()),
                Piece::Literal(" {b}".into())
            ]
        );
        for bad in ["{x}", "a {x", "a }", "a {}", " {x} "] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let long = Template::parse(&format!("{} {{x}}", "a".repeat(139))).unwrap();
        let values = Values(vec![("x", "yyy")]);
        assert_eq!(long.render::<140>(&values).as_str(), "a".repeat(139));
    }

    #[test]
    fn a_demand_becomes_a_valid_published_position() {
        let service = Service::new(donation()).unwrap();
        let demand = service
            .demand(&data(&[("importo", "25.50")]), today())
            .unwrap();
        let iuv = Iuv::from_parts(service.segregation_code(), 42).unwrap();
        let now = today().and_hms_opt(10, 0, 0).unwrap();
        let p = demand.into_position(iuv.clone(), org(), Text::new("Comune").unwrap(), None, now);
        assert_eq!(p.iupd.as_str(), format!("DONAZ-{iuv}"));
        assert_eq!(p.status, PositionStatus::Valid);
        assert!(p.check_structure().is_empty(), "{:?}", p.check_structure());
        assert!(p.options[0].due_date > now);
        assert_eq!(p.payability(0, now), Ok(()));
        assert_eq!(p.options[0].nav, iuv.notice_number());
    }

    proptest! {
        /// Whatever amount is accepted, the transfers add up to it and none is zero.
        #[test]
        fn accepted_amounts_split_exactly(c in 0i64..100_000) {
            let service = Service::new(donation()).unwrap();
            let amount = Cents::new(c).unwrap().to_string();
            match service.demand(&data(&[("importo", &amount)]), today()) {
                Ok(d) => {
                    prop_assert!((300..=50_000).contains(&c));
                    let sum: i64 = d.transfers.iter().map(|t| t.amount.get()).sum();
                    prop_assert_eq!(sum, c);
                    prop_assert!(d.transfers.iter().all(|t| !t.amount.is_zero()));
                }
                Err(v) => {
                    prop_assert!(!(300..=50_000).contains(&c));
                    prop_assert!(v.0.contains("between"));
                }
            }
        }

        #[test]
        fn any_fields_never_panic(fields in prop::collection::vec(("[a-zA-Z]{1,8}", ".{0,30}"), 0..8)) {
            let service = Service::new(donation()).unwrap();
            let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let _ = service.demand(&data(&fields), today());
        }
    }
}
