//! Applying a service to a citizen's request: the service document's fields as received,
//! checked against the specification, become the notice they ask for (a [`Demand`]), or the
//! reason it is refused (a [`Violation`]). A demand becomes a debt position once it has its IUV.

use std::collections::HashSet;
use std::fmt;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::template::Values;
use super::{AccountRule, AmountRule, Service, ServiceId, Share, check_value, trim_xml};
use crate::domain::party::{CountryCode, Email, EntityId, EntityType, Subject};
use crate::domain::position::{
    Account, DebtPosition, Debtor, Iupd, OptionStatus, PaymentOption, StampRequest, Transfer,
    TransferStatus,
};
use crate::domain::{Cents, FiscalCodePA, Iuv, Text, TransferId};

/// Who the debtor is when the request does not say (as PagoPA's own service does).
pub const ANONYMOUS: &str = "ANONIMO";

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

impl Service {
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
            email,
            ..Subject::named(entity_type, entity_id, full_name)
        })
    }
}

fn anonymous() -> Subject {
    Subject::named(
        EntityType::F,
        EntityId::parse(ANONYMOUS).expect("7 characters"),
        Text::new(ANONYMOUS).expect("non-empty"),
    )
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
            send_sync: false,
            status: OptionStatus::Unpaid,
            payment: None,
            transfers: self.transfers,
            metadata: Vec::new(),
            last_updated_date: now,
        };
        let debtor = Debtor {
            subject: self.debtor,
            region: None,
            phone: None,
        };
        let mut position = DebtPosition {
            office_name,
            switch_to_expired: true,
            ..DebtPosition::draft(organization, iupd, company_name, debtor, vec![option], now)
        };
        position.apply_publication(now);
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::PositionStatus;
    use crate::domain::service::ServiceSpec;
    use crate::domain::service::tests::{cents, certificate, donation, org};
    use proptest::prelude::*;

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
