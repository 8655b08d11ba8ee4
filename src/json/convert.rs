//! From request JSON to validated domain values (collecting every problem with its JSON path),
//! and from domain values back to response JSON.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDateTime};

use super::model::{
    MetadataEntry, OptionIn, OptionOut, PositionIn, PositionOut, Stamp, TransferIn, TransferOut,
};
use crate::domain::creditor::Creditor;
use crate::domain::party::{CountryCode, Email, EntityId, EntityType, MapEntry, Subject};
use crate::domain::position::{
    Account, DebtPosition, Debtor, FieldError, Iban, Iupd, OptionStatus, PaymentOption,
    StampRequest, Transfer, TransferStatus,
};
use crate::domain::{Cents, FiscalCodePA, Iuv, SegregationCode, Text, TransferId};

/// Reads `YYYY-MM-DDTHH:MM:SS[.fff]` as UTC, with an optional `Z` or offset (converted to UTC).
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.naive_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

pub fn format_datetime(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

/// Collects field errors while converting.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl std::fmt::Display) {
        self.0.push(FieldError::new(field, message.to_string()));
    }

    fn text<const N: usize>(&mut self, field: &str, value: String) -> Option<Text<N>> {
        Text::new(value).map_err(|e| self.push(field, e)).ok()
    }

    /// An optional text: absent, null and "" all mean "not given".
    fn opt_text<const N: usize>(&mut self, field: &str, value: Option<String>) -> Option<Text<N>> {
        value
            .filter(|v| !v.is_empty())
            .and_then(|v| self.text(field, v))
    }

    fn datetime(&mut self, field: &str, value: &str) -> Option<NaiveDateTime> {
        let parsed = parse_datetime(value);
        if parsed.is_none() {
            self.push(field, "must be a date-time like 2025-12-31T23:59:59");
        }
        parsed
    }

    fn cents(&mut self, field: &str, value: i64) -> Option<Cents> {
        match Cents::new(value) {
            Ok(c) if c.is_zero() => {
                self.push(field, "must be at least 1 cent");
                None
            }
            Ok(c) => Some(c),
            Err(e) => {
                self.push(field, e);
                None
            }
        }
    }

    fn metadata(&mut self, path: &str, entries: Option<Vec<MetadataEntry>>) -> Vec<MapEntry> {
        entries
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let key = self.text(&format!("{path}[{i}].key"), e.key);
                let value = self.text(&format!("{path}[{i}].value"), e.value);
                Some(MapEntry {
                    key: key?,
                    value: value?,
                })
            })
            .collect()
    }
}

fn valid_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len().is_multiple_of(4)
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// A position as validated: every field error of its body otherwise.
pub type Checked = Result<DebtPosition, Vec<FieldError>>;

/// Validates a new position of `creditor`, whose IUVs carry one of its segregation codes;
/// `now` is the creation instant.
pub fn new_position(input: PositionIn, creditor: &Creditor, now: NaiveDateTime) -> Checked {
    checked(input, creditor, now, DebtPosition::check_dates_for_create)
}

/// Validates the new content of an existing position of `creditor` (an update at `now`), as
/// `new_position` does.
pub fn updated_position(input: PositionIn, creditor: &Creditor, now: NaiveDateTime) -> Checked {
    checked(input, creditor, now, DebtPosition::check_dates_for_update)
}

/// The position of `input`, its structure checked, then its dates by `dates` (which differ
/// between a create and an update).
fn checked(
    input: PositionIn,
    creditor: &Creditor,
    now: NaiveDateTime,
    dates: fn(&DebtPosition, NaiveDateTime) -> Vec<FieldError>,
) -> Checked {
    let position = position_from(input, creditor, now)?;
    unless(dates(&position, now), position)
}

/// A position as the creditor describes it, checked against every rule but the dates'.
fn position_from(
    input: PositionIn,
    creditor: &Creditor,
    now: NaiveDateTime,
) -> Result<DebtPosition, Vec<FieldError>> {
    let owner = &creditor.fiscal_code;
    let mut e = Errors::default();
    let iupd = Iupd::parse(&input.iupd).map_err(|m| e.push("iupd", m)).ok();
    let entity_type = EntityType::parse(&input.debtor_type);
    if entity_type.is_none() {
        e.push("type", "must be F (natural person) or G (legal person)");
    }
    let entity_id = EntityId::parse(&input.fiscal_code)
        .map_err(|m| e.push("fiscalCode", format!("must {m}")))
        .ok();
    let full_name = e.text::<70>("fullName", input.full_name);
    let country = input.country.filter(|c| !c.is_empty()).and_then(|c| {
        CountryCode::parse(&c)
            .map_err(|m| e.push("country", format!("must {m}")))
            .ok()
    });
    let email = input.email.filter(|c| !c.is_empty()).and_then(|c| {
        Email::parse(&c)
            .map_err(|m| e.push("email", format!("must {m}")))
            .ok()
    });
    let subject_rest = (
        e.opt_text("streetName", input.street_name),
        e.opt_text("civicNumber", input.civic_number),
        e.opt_text("postalCode", input.postal_code),
        e.opt_text("city", input.city),
        e.opt_text("province", input.province),
    );
    let region = e.opt_text("region", input.region);
    let phone = e.opt_text("phone", input.phone);
    let company_name = e.text("companyName", input.company_name);
    let office_name = e.opt_text("officeName", input.office_name);
    let validity_date = input
        .validity_date
        .as_deref()
        .and_then(|v| e.datetime("validityDate", v));

    let options: Vec<PaymentOption> = input
        .payment_option
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let path = format!("paymentOption[{i}]");
            payment_option(&mut e, &path, o, owner, &creditor.segregation_codes, now)
        })
        .collect();

    let (Some(iupd), Some(entity_type), Some(entity_id), Some(full_name), Some(company_name)) =
        (iupd, entity_type, entity_id, full_name, company_name)
    else {
        return Err(e.0);
    };
    if !e.0.is_empty() {
        return Err(e.0);
    }
    let (street_name, civic_number, postal_code, city, state_province_region) = subject_rest;
    let debtor = Debtor {
        subject: Subject {
            entity_type,
            entity_id,
            full_name,
            street_name,
            civic_number,
            postal_code,
            city,
            state_province_region,
            country,
            email,
        },
        region,
        phone,
    };
    let position = DebtPosition {
        office_name,
        switch_to_expired: input.switch_to_expired,
        pay_stand_in: input.pay_stand_in.unwrap_or(true),
        validity_date,
        ..DebtPosition::draft(owner.clone(), iupd, company_name, debtor, options, now)
    };
    let problems = position.check_structure();
    unless(problems, position)
}

/// The position, unless a check found problems.
fn unless(problems: Vec<FieldError>, position: DebtPosition) -> Checked {
    if problems.is_empty() {
        Ok(position)
    } else {
        Err(problems)
    }
}

fn payment_option(
    e: &mut Errors,
    path: &str,
    o: OptionIn,
    owner: &FiscalCodePA,
    segregation_codes: &BTreeSet<SegregationCode>,
    now: NaiveDateTime,
) -> Option<PaymentOption> {
    let iuv = match Iuv::parse(&o.iuv) {
        Ok(iuv) if !segregation_codes.contains(&iuv.segregation_code()) => {
            let codes: Vec<String> = segregation_codes.iter().map(|c| c.to_string()).collect();
            e.push(
                format!("{path}.iuv"),
                format!(
                    "segregation code {} is not one of this creditor's ({})",
                    iuv.segregation_code(),
                    codes.join(", ")
                ),
            );
            None
        }
        Ok(iuv) => Some(iuv),
        Err(m) => {
            e.push(format!("{path}.iuv"), format!("must {m}"));
            None
        }
    };
    if let (Some(nav), Some(iuv)) = (o.nav.as_deref().filter(|n| !n.is_empty()), &iuv)
        && nav != iuv.notice_number().as_str()
    {
        e.push(
            format!("{path}.nav"),
            format!(
                "must be the aux digit 3 followed by the IUV ({})",
                iuv.notice_number()
            ),
        );
    }
    let amount = e.cents(&format!("{path}.amount"), o.amount);
    let description = e.text(&format!("{path}.description"), o.description);
    let due_date = e.datetime(&format!("{path}.dueDate"), &o.due_date);
    let retention_date = o
        .retention_date
        .as_deref()
        .and_then(|r| e.datetime(&format!("{path}.retentionDate"), r));
    let metadata = e.metadata(
        &format!("{path}.paymentOptionMetadata"),
        o.payment_option_metadata,
    );
    let transfers: Vec<Transfer> = o
        .transfer
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(j, t)| transfer(e, &format!("{path}.transfer[{j}]"), t, owner))
        .collect();
    let iuv = iuv?;
    Some(PaymentOption {
        nav: iuv.notice_number(),
        iuv,
        amount: amount?,
        description: description?,
        is_partial_payment: o.is_partial_payment,
        due_date: due_date?,
        retention_date,
        notification_fee: None,
        send_sync: o.send_sync.unwrap_or(false),
        status: OptionStatus::Unpaid,
        payment: None,
        transfers,
        metadata,
        last_updated_date: now,
    })
}

fn transfer(e: &mut Errors, path: &str, t: TransferIn, owner: &FiscalCodePA) -> Option<Transfer> {
    let id = TransferId::parse(&t.id_transfer)
        .map_err(|m| e.push(format!("{path}.idTransfer"), format!("must {m}")))
        .ok();
    let amount = e.cents(&format!("{path}.amount"), t.amount);
    let organization = match t.organization_fiscal_code.filter(|o| !o.is_empty()) {
        None => Some(owner.clone()),
        Some(o) => FiscalCodePA::parse(&o)
            .map_err(|m| {
                e.push(
                    format!("{path}.organizationFiscalCode"),
                    format!("must {m}"),
                )
            })
            .ok(),
    };
    let company_name = e.opt_text(&format!("{path}.companyName"), t.company_name);
    let remittance_information = e.text(
        &format!("{path}.remittanceInformation"),
        t.remittance_information,
    );
    let category = e.text(&format!("{path}.category"), t.category);
    let metadata = e.metadata(&format!("{path}.transferMetadata"), t.transfer_metadata);
    let iban_of = |e: &mut Errors, field: &str, v: String| {
        Iban::parse(&v)
            .map_err(|m| e.push(format!("{path}.{field}"), m))
            .ok()
    };
    let iban = t.iban.filter(|v| !v.is_empty());
    // GPD refuses a blank postal IBAN rather than reading it as absent.
    if t.postal_iban
        .as_deref()
        .is_some_and(|v| v.trim().is_empty())
    {
        e.push(format!("{path}.postalIban"), "must not be blank");
        return None;
    }
    let postal = t.postal_iban;
    let account = match (iban, postal, t.stamp) {
        (Some(iban), postal, None) => {
            let iban = iban_of(e, "iban", iban);
            let postal_iban = postal.map(|p| iban_of(e, "postalIban", p));
            match (iban, postal_iban) {
                (Some(iban), None) => Some(Account::Iban {
                    iban,
                    postal_iban: None,
                }),
                (Some(iban), Some(Some(p))) => Some(Account::Iban {
                    iban,
                    postal_iban: Some(p),
                }),
                _ => None,
            }
        }
        (None, None, Some(stamp)) => stamp_request(e, path, stamp).map(Account::Stamp),
        (None, None, None) => {
            e.push(path, "needs an iban or a stamp");
            None
        }
        (None, Some(_), None) => {
            e.push(
                format!("{path}.postalIban"),
                "is allowed only together with an iban",
            );
            None
        }
        (_, _, Some(_)) => {
            e.push(
                format!("{path}.stamp"),
                "is allowed only without iban and postalIban",
            );
            None
        }
    };
    Some(Transfer {
        id: id?,
        organization: organization?,
        company_name,
        amount: amount?,
        remittance_information: remittance_information?,
        category: category?,
        account: account?,
        metadata,
        status: TransferStatus::Unreported,
    })
}

fn stamp_request(e: &mut Errors, path: &str, s: Stamp) -> Option<StampRequest> {
    let hash_ok = (4..=72).contains(&s.hash_document.len()) && valid_base64(&s.hash_document);
    if !hash_ok {
        e.push(
            format!("{path}.stamp.hashDocument"),
            "must be base64 of 4 to 72 characters",
        );
    }
    if s.stamp_type != "01" {
        e.push(format!("{path}.stamp.stampType"), "must be 01");
    }
    let province = CountryCode::parse(&s.provincial_residence)
        .map_err(|m| {
            e.push(
                format!("{path}.stamp.provincialResidence"),
                format!("must {m}"),
            )
        })
        .ok();
    (hash_ok && s.stamp_type == "01").then_some(())?;
    Some(StampRequest {
        hash_document: s.hash_document,
        stamp_type: s.stamp_type,
        provincial_residence: province?,
    })
}

fn entries(m: &[MapEntry]) -> Vec<MetadataEntry> {
    m.iter()
        .map(|e| MetadataEntry {
            key: e.key.to_string(),
            value: e.value.to_string(),
        })
        .collect()
}

fn opt<const N: usize>(t: &Option<Text<N>>) -> Option<String> {
    t.as_ref().map(Text::to_string)
}

/// The response JSON; the debtor's identity and address are included when `with_debtor` (GPD
/// returns them from writes, not from reads). The status is the one in force at `now`.
pub fn position_out(p: &DebtPosition, now: NaiveDateTime, with_debtor: bool) -> PositionOut {
    let s = &p.debtor.subject;
    let when = |b: bool, v: Option<String>| if b { v } else { None };
    PositionOut {
        iupd: p.iupd.to_string(),
        organization_fiscal_code: p.organization.to_string(),
        debtor_type: s.entity_type.as_str(),
        pay_stand_in: p.pay_stand_in,
        fiscal_code: when(with_debtor, Some(s.entity_id.as_str().to_owned())),
        full_name: when(with_debtor, Some(s.full_name.to_string())),
        street_name: when(with_debtor, opt(&s.street_name)),
        civic_number: when(with_debtor, opt(&s.civic_number)),
        postal_code: when(with_debtor, opt(&s.postal_code)),
        city: when(with_debtor, opt(&s.city)),
        province: when(with_debtor, opt(&s.state_province_region)),
        region: when(with_debtor, opt(&p.debtor.region)),
        country: when(
            with_debtor,
            s.country.as_ref().map(|c| c.as_str().to_owned()),
        ),
        email: when(with_debtor, s.email.as_ref().map(|c| c.as_str().to_owned())),
        phone: when(with_debtor, opt(&p.debtor.phone)),
        switch_to_expired: p.switch_to_expired,
        company_name: p.company_name.to_string(),
        office_name: opt(&p.office_name),
        inserted_date: Some(format_datetime(p.inserted_date)),
        publish_date: p.publish_date.map(format_datetime),
        validity_date: p.validity_date.map(format_datetime),
        payment_date: p.payment_date.map(format_datetime),
        status: p.status_at(now).as_str(),
        last_updated_date: Some(format_datetime(p.last_updated_date)),
        payment_option: p.options.iter().map(|o| option_out(p, o)).collect(),
    }
}

/// The request that makes the position as it stands (GPD's PaymentPositionModel, as sent):
/// its content without what the service sets (statuses, dates of record, payments, fees).
pub fn position_in(p: &DebtPosition, now: NaiveDateTime) -> PositionIn {
    let out = position_out(p, now, true);
    PositionIn {
        iupd: out.iupd,
        debtor_type: out.debtor_type.to_owned(),
        pay_stand_in: Some(out.pay_stand_in),
        fiscal_code: out.fiscal_code.unwrap_or_default(),
        full_name: out.full_name.unwrap_or_default(),
        street_name: out.street_name,
        civic_number: out.civic_number,
        postal_code: out.postal_code,
        city: out.city,
        province: out.province,
        region: out.region,
        country: out.country,
        email: out.email,
        phone: out.phone,
        switch_to_expired: out.switch_to_expired,
        company_name: out.company_name,
        office_name: out.office_name,
        validity_date: out.validity_date,
        payment_option: Some(out.payment_option.into_iter().map(option_in).collect()),
    }
}

fn option_in(o: OptionOut) -> OptionIn {
    OptionIn {
        nav: Some(o.nav),
        iuv: o.iuv,
        amount: o.amount,
        description: o.description,
        is_partial_payment: o.is_partial_payment,
        due_date: o.due_date,
        retention_date: o.retention_date,
        transfer: Some(o.transfer.into_iter().map(transfer_in).collect()),
        payment_option_metadata: Some(o.payment_option_metadata),
        send_sync: None,
    }
}

fn transfer_in(t: TransferOut) -> TransferIn {
    TransferIn {
        id_transfer: t.id_transfer,
        amount: t.amount,
        organization_fiscal_code: Some(t.organization_fiscal_code),
        remittance_information: t.remittance_information,
        category: t.category,
        iban: t.iban,
        postal_iban: t.postal_iban,
        stamp: t.stamp,
        company_name: t.company_name,
        transfer_metadata: Some(t.transfer_metadata),
    }
}

/// One option as JSON (GPD's PaymentOptionModelResponse).
pub fn option_out(p: &DebtPosition, o: &PaymentOption) -> OptionOut {
    let pay = o.payment.as_ref();
    OptionOut {
        nav: o.nav.to_string(),
        iuv: o.iuv.to_string(),
        organization_fiscal_code: p.organization.to_string(),
        amount: o.amount.get(),
        description: o.description.to_string(),
        is_partial_payment: o.is_partial_payment,
        due_date: format_datetime(o.due_date),
        retention_date: o.retention_date.map(format_datetime),
        payment_date: pay.map(|x| format_datetime(x.payment_date)),
        payment_method: pay.and_then(|x| x.payment_method.clone()),
        psp_company: pay.and_then(|x| x.psp_company.clone()),
        id_receipt: pay.map(|x| x.receipt_id.clone()),
        fee: pay.map_or(0, |x| x.fee.get()),
        notification_fee: o.notification_fee.map_or(0, Cents::get),
        send_sync: o.send_sync,
        status: o.status.as_str(),
        last_updated_date: format_datetime(o.last_updated_date),
        payment_option_metadata: entries(&o.metadata),
        transfer: o.transfers.iter().map(transfer_out).collect(),
    }
}

fn transfer_out(t: &Transfer) -> TransferOut {
    let (iban, postal_iban, stamp) = match &t.account {
        Account::Iban { iban, postal_iban } => (
            Some(iban.as_str().to_owned()),
            postal_iban.as_ref().map(|p| p.as_str().to_owned()),
            None,
        ),
        Account::Stamp(s) => (
            None,
            None,
            Some(Stamp {
                hash_document: s.hash_document.clone(),
                stamp_type: s.stamp_type.clone(),
                provincial_residence: s.provincial_residence.as_str().to_owned(),
            }),
        ),
    };
    TransferOut {
        organization_fiscal_code: t.organization.to_string(),
        company_name: opt(&t.company_name),
        id_transfer: t.id.to_string(),
        amount: t.amount.get(),
        remittance_information: t.remittance_information.to_string(),
        category: t.category.to_string(),
        iban,
        postal_iban,
        stamp,
        status: t.status.as_str(),
        transfer_metadata: entries(&t.metadata),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_utc() {
        let plain = parse_datetime("2025-12-31T23:59:59").unwrap();
        assert_eq!(parse_datetime("2025-12-31T23:59:59Z"), Some(plain));
        assert_eq!(parse_datetime("2026-01-01T00:59:59+01:00"), Some(plain));
        assert_eq!(
            format_datetime(parse_datetime("2025-12-31T23:59:59.250").unwrap()),
            "2025-12-31T23:59:59.250"
        );
        assert_eq!(format_datetime(plain), "2025-12-31T23:59:59");
        for bad in ["2025-12-31", "31/12/2025 10:00", "2025-13-01T00:00:00", ""] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn stamp_hashes_are_base64() {
        assert!(valid_base64("wHpFSLCGZjIvNSXxqtGbxg7275t446DHJZ+Ys6UFTmQ="));
        assert!(valid_base64("abcd"));
        for bad in ["abc", "ab=d", "a===", "ab c", "ab-_"] {
            assert!(!valid_base64(bad), "{bad}");
        }
    }
}
