//! Decodes request payloads into domain requests, checking what the official XSD checks: the
//! children of each complex element in sequence order with their occurrence bounds, no
//! qualified or unknown elements, no foreign attributes, and every simple type's facets.
//! A failure names the offending element by its path below the wrapper and becomes a KO
//! PAA_SINTASSI_XSD upstream.
//!
//! Each complex type is a table of `Child` entries (name, minOccurs, maxOccurs) matched once
//! by `sequence`; each simple type is an `st_*` function from the element's text to a domain
//! value with the reason it is not one. A repeatable element is named with its 1-based
//! position, as in XPath: `transferList/transfer[2]/IBAN`. `receipts` builds the paSendRT
//! decoders from the same pieces.

use std::fmt;

use chrono::{NaiveDate, NaiveTime, TimeDelta};

use super::envelope::Element;
use super::service_data::{MAX_ENCODED_CHARS, read_service_data};
use super::{is_blank, is_xml_space};
use crate::domain::ids::IdError;
use crate::domain::messages::{
    Code5, DemandRequest, GetPaymentRequest, QrCode, RequestIds, TransferType, VerifyRequest,
};
use crate::domain::party::{CountryCode, Email, EntityId, EntityType, MapEntry, Subject};
use crate::domain::receipt::IsoDateTime;
use crate::domain::{Cents, FiscalCodePA, NoticeNumber, Text, TransferId};

/// Why a payload does not follow the XSD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Slash path of the offending or missing element below the wrapper, e.g.
    /// `qrCode/noticeNumber`; the wrapper's own name when the wrapper itself is at fault.
    pub field: String,
    pub reason: String,
    /// The request's idPA, when present and a valid stText35: the fault's id.
    pub id_pa: Option<String>,
}

impl SyntaxError {
    pub(super) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SyntaxError {
            field: field.into(),
            reason: reason.into(),
            id_pa: None,
        }
    }

    /// Puts the path below `parent`; an empty field meant the parent itself.
    pub(super) fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}/{}", self.field)
        };
        self
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for SyntaxError {}

/// One element of an XSD sequence, with its minOccurs and maxOccurs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Child {
    name: &'static str,
    min: usize,
    max: usize,
}

pub(super) const fn required(name: &'static str) -> Child {
    Child {
        name,
        min: 1,
        max: 1,
    }
}

pub(super) const fn optional(name: &'static str) -> Child {
    Child {
        name,
        min: 0,
        max: 1,
    }
}

pub(super) const fn repeated(name: &'static str, min: usize, max: usize) -> Child {
    Child { name, min, max }
}

const VERIFY: [Child; 4] = [
    required("idPA"),
    required("idBrokerPA"),
    required("idStation"),
    required("qrCode"),
];

/// paGetPaymentReq and paGetPaymentV2Request: the verify children, then four optional ones.
const GET_PAYMENT: [Child; 8] = [
    VERIFY[0],
    VERIFY[1],
    VERIFY[2],
    VERIFY[3],
    optional("amount"),
    optional("paymentNote"),
    optional("transferType"),
    optional("dueDate"),
];

const DEMAND: [Child; 6] = [
    VERIFY[0],
    VERIFY[1],
    VERIFY[2],
    required("idServizio"),
    required("idSoggettoServizio"),
    required("datiSpecificiServizioRequest"),
];

const QR_CODE: [Child; 2] = [required("fiscalCode"), required("noticeNumber")];

/// ctSubject: a debtor or payer.
const SUBJECT: [Child; 9] = [
    required("uniqueIdentifier"),
    required("fullName"),
    optional("streetName"),
    optional("civicNumber"),
    optional("postalCode"),
    optional("city"),
    optional("stateProvinceRegion"),
    optional("country"),
    optional("e-mail"),
];

const UNIQUE_IDENTIFIER: [Child; 2] = [
    required("entityUniqueIdentifierType"),
    required("entityUniqueIdentifierValue"),
];

/// ctMetadata.
const METADATA: [Child; 1] = [repeated("mapEntry", 1, 15)];

const MAP_ENTRY: [Child; 2] = [required("key"), required("value")];

/// Decodes a paVerifyPaymentNoticeReq.
pub fn decode_verify(root: &Element) -> Result<VerifyRequest, SyntaxError> {
    decode(root, |root| {
        let [id_pa, id_broker_pa, id_station, qr] = sequence(root, &VERIFY)?;
        Ok(VerifyRequest {
            ids: request_ids(id_pa, id_broker_pa, id_station)?,
            qr_code: qr_code(one(qr))?,
        })
    })
}

/// Decodes a paGetPaymentReq or a paGetPaymentV2Request, which have the same children.
pub fn decode_get_payment(root: &Element) -> Result<GetPaymentRequest, SyntaxError> {
    decode(root, |root| {
        let [
            id_pa,
            id_broker_pa,
            id_station,
            qr,
            amount,
            note,
            transfer_type,
            due_date,
        ] = sequence(root, &GET_PAYMENT)?;
        Ok(GetPaymentRequest {
            ids: request_ids(id_pa, id_broker_pa, id_station)?,
            qr_code: qr_code(one(qr))?,
            amount: optional_leaf(amount, st_amount)?,
            payment_note: optional_leaf(note, st_text::<210>)?,
            transfer_type: optional_leaf(transfer_type, st_transfer_type)?,
            due_date: optional_leaf(due_date, st_iso_date)?,
        })
    })
}

/// Decodes a paDemandPaymentNoticeRequest, and the service document it carries: a document
/// that is not base64, too large or not a `service` element of well-formed XML is a syntax
/// error of `datiSpecificiServizioRequest`.
pub fn decode_demand(root: &Element) -> Result<DemandRequest, SyntaxError> {
    decode(root, |root| {
        let [id_pa, id_broker_pa, id_station, service, subject, data] = sequence(root, &DEMAND)?;
        let ids = request_ids(id_pa, id_broker_pa, id_station)?;
        let service_id = leaf_value(one(service), st_code5)?;
        let service_subject = leaf_value(one(subject), st_code5)?;
        let data = one(data);
        let service_data = leaf_value(data, |s| {
            if s.chars().count() > MAX_ENCODED_CHARS {
                return Err(format!("must be at most {MAX_ENCODED_CHARS} characters"));
            }
            let bytes = super::base64::decode(s).map_err(|e| e.to_string())?;
            read_service_data(&bytes)
        })?;
        Ok(DemandRequest {
            ids,
            service_id,
            service_subject,
            service_data,
        })
    })
}

/// The idPA of any payload, when present and a valid stText35, for a fault's id when the
/// payload cannot be decoded.
pub fn id_pa_hint(root: &Element) -> Option<String> {
    let id_pa = root
        .children
        .iter()
        .find(|c| c.name == "idPA" && !c.qualified)?;
    let value = leaf(id_pa).ok()?;
    Text::<35>::parse_xsd(value).ok().map(Text::into_string)
}

/// Runs a wrapper's decoder and completes its error: the wrapper's name for a fault in the
/// wrapper itself, and the idPA hint.
pub(super) fn decode<T>(
    root: &Element,
    decoder: impl FnOnce(&Element) -> Result<T, SyntaxError>,
) -> Result<T, SyntaxError> {
    let result = if root.foreign_attributes {
        Err(SyntaxError::new("", "unexpected attribute"))
    } else {
        decoder(root)
    };
    result.map_err(|mut e| {
        if e.field.is_empty() {
            e.field.clone_from(&root.name);
        }
        e.id_pa = id_pa_hint(root);
        e
    })
}

/// Matches `parent`'s children against an XSD sequence and returns, for each entry of `spec`,
/// the run of children that matched it (children of one entry are adjacent, as the order is
/// fixed). Checks every child's name, order, count, namespace and attributes, and that the
/// parent has no text of its own; errors name the child, relative to `parent`.
pub(super) fn sequence<'a, const N: usize>(
    parent: &'a Element,
    spec: &[Child; N],
) -> Result<[&'a [Element]; N], SyntaxError> {
    if !is_blank(&parent.text) {
        return Err(SyntaxError::new("", "unexpected text"));
    }
    let children = &parent.children;
    // How errors name a child: a repeatable one with its position among its namesakes.
    let label = |i: usize, child: &Element| {
        if spec.iter().any(|e| e.name == child.name && e.max > 1) {
            let n = children[..i]
                .iter()
                .filter(|c| c.name == child.name)
                .count();
            format!("{}[{}]", child.name, n + 1)
        } else {
            child.name.clone()
        }
    };
    let mut runs = [(0, 0); N];
    let mut k = 0;
    for (i, child) in children.iter().enumerate() {
        if child.qualified {
            return Err(SyntaxError::new(
                label(i, child),
                "must not be namespace-qualified",
            ));
        }
        if child.foreign_attributes {
            return Err(SyntaxError::new(label(i, child), "unexpected attribute"));
        }
        // Move along the sequence to the entry this child can be, without skipping one
        // that still needs an occurrence.
        loop {
            let Some(entry) = spec.get(k) else {
                return Err(SyntaxError::new(
                    label(i, child),
                    format!("unexpected element '{}'", child.name),
                ));
            };
            let (start, end) = &mut runs[k];
            let count = *end - *start;
            if entry.name == child.name && count < entry.max {
                if count == 0 {
                    *start = i;
                }
                *end = i + 1;
                break;
            }
            if entry.name == child.name && entry.max > 1 {
                return Err(SyntaxError::new(
                    label(i, child),
                    format!(
                        "unexpected element '{}' (at most {})",
                        child.name, entry.max
                    ),
                ));
            }
            if count < entry.min {
                // A later sibling in its place means this one is missing; anything else is
                // out of place.
                return Err(if spec[k + 1..].iter().any(|e| e.name == child.name) {
                    SyntaxError::new(
                        entry.name,
                        format!("missing (found '{}' in its place)", child.name),
                    )
                } else {
                    SyntaxError::new(
                        label(i, child),
                        format!(
                            "unexpected element '{}' (expected '{}')",
                            child.name, entry.name
                        ),
                    )
                });
            }
            k += 1;
        }
    }
    if let Some((entry, _)) = spec
        .iter()
        .zip(&runs)
        .skip(k)
        .find(|(entry, (start, end))| end - start < entry.min)
    {
        return Err(SyntaxError::new(entry.name, "missing"));
    }
    Ok(runs.map(|(start, end)| &children[start..end]))
}

/// The single occurrence of a required entry (`sequence` guarantees it).
pub(super) fn one(run: &[Element]) -> &Element {
    &run[0]
}

/// Decodes a nested complex element, putting its errors' paths below its name.
pub(super) fn within<T>(
    element: &Element,
    decoder: impl FnOnce(&Element) -> Result<T, SyntaxError>,
) -> Result<T, SyntaxError> {
    decoder(element).map_err(|e| e.under(&element.name))
}

/// Decodes every occurrence of a repeatable element, naming the i-th `name[i]` in errors.
pub(super) fn each<T>(
    run: &[Element],
    decoder: impl Fn(&Element) -> Result<T, SyntaxError>,
) -> Result<Vec<T>, SyntaxError> {
    run.iter()
        .enumerate()
        .map(|(i, element)| {
            decoder(element).map_err(|e| e.under(&format!("{}[{}]", element.name, i + 1)))
        })
        .collect()
}

/// The text of a simple-typed element, which must not contain elements.
pub(super) fn leaf(element: &Element) -> Result<&str, SyntaxError> {
    if element.children.is_empty() {
        Ok(&element.text)
    } else {
        Err(SyntaxError::new(&element.name, "must not contain elements"))
    }
}

/// Reads a simple-typed element with `parse`, whose error is the reason.
pub(super) fn leaf_value<T>(
    element: &Element,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, SyntaxError> {
    parse(leaf(element)?).map_err(|reason| SyntaxError::new(&element.name, reason))
}

pub(super) fn optional_leaf<T>(
    run: &[Element],
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, SyntaxError> {
    run.first().map(|e| leaf_value(e, parse)).transpose()
}

pub(super) fn request_ids(
    id_pa: &[Element],
    id_broker_pa: &[Element],
    id_station: &[Element],
) -> Result<RequestIds, SyntaxError> {
    Ok(RequestIds {
        id_pa: leaf_value(one(id_pa), st_text::<35>)?,
        id_broker_pa: leaf_value(one(id_broker_pa), st_text::<35>)?,
        id_station: leaf_value(one(id_station), st_text::<35>)?,
    })
}

fn qr_code(element: &Element) -> Result<QrCode, SyntaxError> {
    within(element, |element| {
        let [fiscal_code, notice_number] = sequence(element, &QR_CODE)?;
        Ok(QrCode {
            fiscal_code: leaf_value(one(fiscal_code), st_fiscal_code_pa)?,
            notice_number: leaf_value(one(notice_number), st_notice_number)?,
        })
    })
}

/// A ctSubject (debtor, payer).
pub(super) fn subject(element: &Element) -> Result<Subject, SyntaxError> {
    within(element, |element| {
        let [
            unique_identifier,
            full_name,
            street_name,
            civic_number,
            postal_code,
            city,
            state_province_region,
            country,
            email,
        ] = sequence(element, &SUBJECT)?;
        let (entity_type, entity_id) = within(one(unique_identifier), |element| {
            let [entity_type, entity_id] = sequence(element, &UNIQUE_IDENTIFIER)?;
            Ok((
                leaf_value(one(entity_type), st_entity_type)?,
                leaf_value(one(entity_id), st_entity_id)?,
            ))
        })?;
        Ok(Subject {
            entity_type,
            entity_id,
            full_name: leaf_value(one(full_name), st_text::<70>)?,
            street_name: optional_leaf(street_name, st_text::<70>)?,
            civic_number: optional_leaf(civic_number, st_text::<16>)?,
            postal_code: optional_leaf(postal_code, st_text::<16>)?,
            city: optional_leaf(city, st_text::<35>)?,
            state_province_region: optional_leaf(state_province_region, st_text::<35>)?,
            country: optional_leaf(country, st_country)?,
            email: optional_leaf(email, st_email)?,
        })
    })
}

/// An optional ctMetadata: its entries, none when absent.
pub(super) fn metadata(run: &[Element]) -> Result<Vec<MapEntry>, SyntaxError> {
    let Some(element) = run.first() else {
        return Ok(Vec::new());
    };
    within(element, |element| {
        let [entries] = sequence(element, &METADATA)?;
        each(entries, |entry| {
            let [key, value] = sequence(entry, &MAP_ENTRY)?;
            Ok(MapEntry {
                key: leaf_value(one(key), st_text::<140>)?,
                value: leaf_value(one(value), st_text::<140>)?,
            })
        })
    })
}

// Simple types. String types keep whitespace; decimal, int, boolean, base64Binary and date
// types collapse it first.

/// Completes an `IdError`, which says what the value must be.
pub(super) fn must(e: IdError) -> String {
    format!("must {e}")
}

/// stText16/35/70/140/210: 1 to N characters, whitespace included.
pub(super) fn st_text<const N: usize>(s: &str) -> Result<Text<N>, String> {
    Text::parse_xsd(s).map_err(|_| format!("must be 1 to {N} characters"))
}

/// stIdentificativoServizio, stIdentificativoSoggettoServizio: exactly 5 characters.
fn st_code5(s: &str) -> Result<Code5, String> {
    Code5::parse(s).map_err(must)
}

/// stFiscalCodePA: 11 digits.
pub(super) fn st_fiscal_code_pa(s: &str) -> Result<FiscalCodePA, String> {
    FiscalCodePA::parse(s).map_err(must)
}

/// stNoticeNumber: 18 digits.
pub(super) fn st_notice_number(s: &str) -> Result<NoticeNumber, String> {
    NoticeNumber::parse(s).map_err(must)
}

/// stAmount: `\d+\.\d{2}`, at most 999999999.99.
pub(super) fn st_amount(s: &str) -> Result<Cents, String> {
    Cents::parse_xsd(collapse(s)).map_err(|e| e.to_string())
}

/// stAmountNotZero: stAmount of at least 0.01.
pub(super) fn st_amount_not_zero(s: &str) -> Result<Cents, String> {
    match st_amount(s)? {
        zero if zero.is_zero() => Err("must not be zero".to_owned()),
        amount => Ok(amount),
    }
}

/// stIdTransfer: an xsd:int enumerated 1..5, so compared by value: ` +01 ` is 1.
pub(super) fn st_id_transfer(s: &str) -> Result<TransferId, String> {
    let unsigned = collapse(s).strip_prefix('+').unwrap_or(collapse(s));
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        TransferId::parse(unsigned.trim_start_matches('0')).map_err(must)
    } else {
        Err("must be 1, 2, 3, 4 or 5".to_owned())
    }
}

/// xsd:boolean.
pub(super) fn st_boolean(s: &str) -> Result<bool, String> {
    match collapse(s) {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("must be true, false, 1 or 0".to_owned()),
    }
}

/// stEntityUniqueIdentifierType.
fn st_entity_type(s: &str) -> Result<EntityType, String> {
    EntityType::parse(s).ok_or_else(|| "must be F or G".to_owned())
}

/// stEntityUniqueIdentifierValue: 2 to 16 characters, whitespace included.
fn st_entity_id(s: &str) -> Result<EntityId, String> {
    EntityId::parse_xsd(s).map_err(must)
}

/// stNazioneProvincia: `[A-Z]{2}`.
fn st_country(s: &str) -> Result<CountryCode, String> {
    CountryCode::parse(s).map_err(must)
}

/// stEMail.
fn st_email(s: &str) -> Result<Email, String> {
    Email::parse(s).map_err(must)
}

/// xsd:base64Binary, kept as received (see `base64::decode` for the rules).
pub(super) fn st_base64_binary(s: &str) -> Result<String, String> {
    super::base64::decode(s)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

/// stTransferType.
fn st_transfer_type(s: &str) -> Result<TransferType, String> {
    match s {
        "POSTAL" => Ok(TransferType::Postal),
        "PAGOPA" => Ok(TransferType::PagoPa),
        _ => Err("must be POSTAL or PAGOPA".to_owned()),
    }
}

/// stISODate (xsd:date) with a four-digit year: `YYYY-MM-DD`, optionally followed by a time
/// zone (`Z` or `±hh:mm`, at most 14:00), which does not change the date.
pub(super) fn st_iso_date(s: &str) -> Result<NaiveDate, String> {
    let invalid = || "must be a date YYYY-MM-DD, optionally with a time zone".to_owned();
    let b = collapse(s).as_bytes();
    if b.len() < 10 || zone(&b[10..]).is_none() {
        return Err(invalid());
    }
    date_fields(&b[..10])
        .ok_or_else(invalid)?
        .ok_or_else(|| "must be a calendar date".to_owned())
}

/// stISODateTime (xsd:dateTime) with a four-digit year, as for dates:
/// `YYYY-MM-DDThh:mm:ss`, optional fraction of a second, optional time zone. `24:00:00` is
/// the first instant of the next day (XSD 1.0).
pub(super) fn st_date_time(s: &str) -> Result<IsoDateTime, String> {
    let invalid =
        || "must be a date-time YYYY-MM-DDThh:mm:ss[.sss], optionally with a time zone".to_owned();
    let not_real = || "must be a calendar date and a time of day".to_owned();
    let lexical = collapse(s);
    let b = lexical.as_bytes();
    if b.len() < 19 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(invalid());
    }
    let date = date_fields(&b[..10]).ok_or_else(invalid)?;
    let (Some(hour), Some(minute), Some(second)) =
        (number(&b[11..13]), number(&b[14..16]), number(&b[17..19]))
    else {
        return Err(invalid());
    };
    // An optional fraction of a second, then an optional time zone.
    let (fraction, zone_part) = match b[19..].split_first() {
        Some((b'.', after)) => {
            let digits = after.iter().take_while(|d| d.is_ascii_digit()).count();
            if digits == 0 {
                return Err(invalid());
            }
            after.split_at(digits)
        }
        _ => (&b[19..19], &b[19..]),
    };
    let offset = zone(zone_part).ok_or_else(invalid)?;
    // Nanoseconds: the first nine digits, the rest cannot be represented and are dropped.
    let nanos = fraction
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(9)
        .fold(0, |n, d| n * 10 + u32::from(d - b'0'));
    let date = date.ok_or_else(not_real)?;
    let end_of_day =
        hour == 24 && minute == 0 && second == 0 && fraction.iter().all(|&d| d == b'0');
    let naive = if end_of_day {
        date.succ_opt()
            .ok_or_else(not_real)?
            .and_time(NaiveTime::MIN)
    } else {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
            .map(|time| date.and_time(time))
            .ok_or_else(not_real)?
    };
    let time = match offset {
        Some(minutes) => naive - TimeDelta::minutes(minutes.into()),
        None => naive,
    };
    Ok(IsoDateTime {
        lexical: lexical.to_owned(),
        time,
        zoned: offset.is_some(),
    })
}

/// `YYYY-MM-DD`: None if not of that shape, Some(None) if not a date of the calendar.
fn date_fields(b: &[u8]) -> Option<Option<NaiveDate>> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(&b[0..4])?, number(&b[5..7])?, number(&b[8..10])?);
    // Year 0000 does not exist in XSD 1.0.
    Some(
        (year > 0)
            .then(|| NaiveDate::from_ymd_opt(year as i32, month, day))
            .flatten(),
    )
}

/// A time zone: nothing (Some(None)), `Z`, or `+hh:mm` / `-hh:mm` between -14:00 and +14:00,
/// as its offset from UTC in minutes; None when not one.
fn zone(b: &[u8]) -> Option<Option<i32>> {
    match b {
        [] => Some(None),
        [b'Z'] => Some(Some(0)),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (number(&[*h1, *h2])?, number(&[*m1, *m2])?);
            let minutes = (h * 60 + m) as i32;
            (m < 60 && minutes <= 14 * 60).then_some(Some(if *sign == b'-' {
                -minutes
            } else {
                minutes
            }))
        }
        _ => None,
    }
}

/// The value of a run of ASCII digits.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// XSD whiteSpace="collapse" for types whose lexical form has no inner spaces.
fn collapse(s: &str) -> &str {
    s.trim_matches(is_xml_space)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::Operation;
    use crate::xml::envelope::read_envelope;
    use crate::xml::xsd_check::{Check, Xmllint};
    use crate::xml::{PAFORNODE_NS, SOAP_ENV_NS, samples};
    use proptest::prelude::*;

    const IDS: &str = "<idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation>";
    const QR: &str = "<qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber></qrCode>";

    /// A request envelope: `wrapper` with `children`.
    fn document(wrapper: &str, children: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Body><p:{wrapper} xmlns:p="{PAFORNODE_NS}">{children}</p:{wrapper}></s:Body></s:Envelope>"#
        )
    }

    /// The payload of `wrapper` with `children`, read through the envelope.
    fn payload(wrapper: &str, children: &str) -> Element {
        read_envelope(document(wrapper, children).as_bytes())
            .unwrap()
            .root
    }

    fn verify(children: &str) -> Result<VerifyRequest, SyntaxError> {
        decode_verify(&payload("paVerifyPaymentNoticeReq", children))
    }

    fn get_payment(extra: &str) -> Result<GetPaymentRequest, SyntaxError> {
        decode_get_payment(&payload(
            "paGetPaymentV2Request",
            &format!("{IDS}{QR}{extra}"),
        ))
    }

    /// The error as "field: reason".
    fn error<T: fmt::Debug>(result: Result<T, SyntaxError>) -> String {
        result.unwrap_err().to_string()
    }

    fn expected_verify() -> VerifyRequest {
        VerifyRequest {
            ids: RequestIds {
                id_pa: Text::new("77777777777").unwrap(),
                id_broker_pa: Text::new("77777777777").unwrap(),
                id_station: Text::new("77777777777_01").unwrap(),
            },
            qr_code: QrCode {
                fiscal_code: FiscalCodePA::parse("77777777777").unwrap(),
                notice_number: NoticeNumber::parse("311111111112222222").unwrap(),
            },
        }
    }

    #[test]
    fn decodes_verify_in_every_prefix_style() {
        for doc in [
            samples::VERIFY_SOAPENV_PAFN,
            samples::VERIFY_JAXWS,
            samples::VERIFY_DEFAULT_NS,
        ] {
            let payload = read_envelope(doc.as_bytes()).unwrap();
            assert_eq!(decode_verify(&payload.root), Ok(expected_verify()));
        }
    }

    #[test]
    fn decodes_get_payment_with_and_without_optionals() {
        let full = read_envelope(samples::GET_PAYMENT_V2_FULL.as_bytes()).unwrap();
        assert_eq!(full.operation(), Some(Operation::GetPaymentV2));
        let request = decode_get_payment(&full.root).unwrap();
        let expected = expected_verify();
        assert_eq!(
            (&request.ids, &request.qr_code),
            (&expected.ids, &expected.qr_code)
        );
        assert_eq!(request.amount, Some(Cents::new(11600).unwrap()));
        assert_eq!(request.payment_note.unwrap().as_str(), "cart 42 & more");
        assert_eq!(request.transfer_type, Some(TransferType::PagoPa));
        assert_eq!(request.due_date, NaiveDate::from_ymd_opt(2030, 12, 31));

        let v1 = payload(
            "paGetPaymentReq",
            &format!("{IDS}{QR}<transferType>POSTAL</transferType>"),
        );
        let request = decode_get_payment(&v1).unwrap();
        assert_eq!(request.transfer_type, Some(TransferType::Postal));
        assert_eq!(
            (request.amount, request.payment_note, request.due_date),
            (None, None, None)
        );
    }

    #[test]
    fn structure_violations_name_the_element() {
        let cases = [
            (
                "<idBrokerPA>1</idBrokerPA><idStation>1</idStation>",
                "idPA: missing (found 'idBrokerPA' in its place)",
            ),
            (
                "<idPA>1</idPA><idStation>1</idStation><idBrokerPA>1</idBrokerPA>",
                "idBrokerPA: missing (found 'idStation' in its place)",
            ),
            (
                "<idPA>1</idPA><idBrokerPA>1</idBrokerPA><foo/><idStation>1</idStation>",
                "foo: unexpected element 'foo' (expected 'idStation')",
            ),
            (
                "<idPA>1</idPA><idPA>1</idPA>",
                "idPA: unexpected element 'idPA' (expected 'idBrokerPA')",
            ),
            (IDS, "qrCode: missing"),
            ("", "idPA: missing"),
            (
                &format!("{IDS}{QR}<amount>1.00</amount>"),
                "amount: unexpected element 'amount'",
            ),
            (
                &format!("{IDS}{QR}{QR}"),
                "qrCode: unexpected element 'qrCode'",
            ),
            (
                &format!("{IDS}<qrCode><fiscalCode>77777777777</fiscalCode></qrCode>"),
                "qrCode/noticeNumber: missing",
            ),
            (
                &format!("{IDS}<qrCode><noticeNumber>311111111112222222</noticeNumber></qrCode>"),
                "qrCode/fiscalCode: missing (found 'noticeNumber' in its place)",
            ),
            (
                &format!(
                    "{IDS}<qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber><x/></qrCode>"
                ),
                "qrCode/x: unexpected element 'x'",
            ),
            (
                &format!("<p:idPA>1</p:idPA>{QR}"),
                "idPA: must not be namespace-qualified",
            ),
            (
                &format!("{IDS}<qrCode xmlns=\"urn:x\"/>"),
                "qrCode: must not be namespace-qualified",
            ),
            (
                &format!("<idPA a=\"1\">1</idPA>{QR}"),
                "idPA: unexpected attribute",
            ),
            (
                &format!("<idPA><b/></idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}"),
                "idPA: must not contain elements",
            ),
            (
                &format!("{IDS}<qrCode>text<fiscalCode>77777777777</fiscalCode></qrCode>"),
                "qrCode: unexpected text",
            ),
            (
                &format!("{IDS}{QR}text"),
                "paVerifyPaymentNoticeReq: unexpected text",
            ),
        ];
        for (children, expected) in cases {
            assert_eq!(error(verify(children)), expected, "{children}");
        }
        let with_attribute = payload("paVerifyPaymentNoticeReq", &format!("{IDS}{QR}"));
        let with_attribute = Element {
            foreign_attributes: true,
            ..with_attribute
        };
        assert_eq!(
            error(decode_verify(&with_attribute)),
            "paVerifyPaymentNoticeReq: unexpected attribute"
        );
    }

    #[test]
    fn sequence_handles_repeated_entries() {
        const SPEC: [Child; 3] = [required("a"), repeated("b", 1, 3), optional("c")];
        let parent = |names: &[&str]| Element {
            name: "p".to_owned(),
            children: names
                .iter()
                .map(|n| Element {
                    name: (*n).to_owned(),
                    ..Element::default()
                })
                .collect(),
            ..Element::default()
        };
        let runs =
            |names: &[&str]| sequence(&parent(names), &SPEC).map(|runs| runs.map(<[Element]>::len));
        assert_eq!(runs(&["a", "b"]), Ok([1, 1, 0]));
        assert_eq!(runs(&["a", "b", "b", "b", "c"]), Ok([1, 3, 1]));
        let error = |names: &[&str]| runs(names).unwrap_err().to_string();
        assert_eq!(error(&["a"]), "b: missing");
        assert_eq!(error(&["a", "c"]), "b: missing (found 'c' in its place)");
        // A repeatable element is named with its position among its namesakes.
        assert_eq!(
            error(&["a", "b", "b", "b", "b"]),
            "b[4]: unexpected element 'b' (at most 3)"
        );
        assert_eq!(error(&["a", "b", "c", "b"]), "b[2]: unexpected element 'b'");
        assert_eq!(
            error(&["a", "x"]),
            "x: unexpected element 'x' (expected 'b')"
        );
    }

    #[test]
    fn string_types_keep_whitespace() {
        let ids = |id_pa: &str| {
            verify(&format!(
                "<idPA>{id_pa}</idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}"
            ))
        };
        assert_eq!(ids(" ").unwrap().ids.id_pa.as_str(), " ");
        assert_eq!(ids(" 7 ").unwrap().ids.id_pa.as_str(), " 7 ");
        assert_eq!(
            ids(&"è".repeat(35)).unwrap().ids.id_pa.as_str(),
            "è".repeat(35)
        );
        assert_eq!(error(ids("")), "idPA: must be 1 to 35 characters");
        assert_eq!(
            error(ids(&"7".repeat(36))),
            "idPA: must be 1 to 35 characters"
        );
        let station = format!("<idPA>1</idPA><idBrokerPA>1</idBrokerPA><idStation/>{QR}");
        assert_eq!(
            error(verify(&station)),
            "idStation: must be 1 to 35 characters"
        );

        let qr = |fiscal_code: &str, notice: &str| {
            verify(&format!(
                "{IDS}<qrCode><fiscalCode>{fiscal_code}</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode>"
            ))
        };
        for bad in [
            "7777777777",
            " 77777777777",
            "77777777777 ",
            "7777777777a",
            "７7777777777",
        ] {
            assert_eq!(
                error(qr(bad, "311111111112222222")),
                "qrCode/fiscalCode: must be exactly 11 digits"
            );
        }
        for bad in ["31111111111222222", "311111111112222222\n", ""] {
            assert_eq!(
                error(qr("77777777777", bad)),
                "qrCode/noticeNumber: must be exactly 18 digits"
            );
        }

        let note = |note: &str| get_payment(&format!("<paymentNote>{note}</paymentNote>"));
        assert_eq!(
            note(&"a".repeat(210))
                .unwrap()
                .payment_note
                .unwrap()
                .as_str()
                .len(),
            210
        );
        assert_eq!(
            error(note(&"a".repeat(211))),
            "paymentNote: must be 1 to 210 characters"
        );
        assert_eq!(error(note("")), "paymentNote: must be 1 to 210 characters");

        for bad in [" POSTAL", "postal", "POSTAL\n", "BANK", ""] {
            let result = get_payment(&format!("<transferType>{bad}</transferType>"));
            assert_eq!(
                error(result),
                "transferType: must be POSTAL or PAGOPA",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn amounts_collapse_whitespace() {
        let amount = |a: &str| {
            get_payment(&format!("<amount>{a}</amount>")).map(|r| r.amount.unwrap().get())
        };
        assert_eq!(amount("0.00"), Ok(0));
        assert_eq!(amount("\n\t 10.50 \r\n"), Ok(1050));
        assert_eq!(amount("999999999.99"), Ok(99_999_999_999));
        for bad in ["10.5", "1,00", "10", "-1.00", "1 0.00", "", " "] {
            assert_eq!(
                error(amount(bad)),
                "amount: must be digits, a dot and two decimals (e.g. 10.50)",
                "{bad:?}"
            );
        }
        assert_eq!(
            error(amount("1000000000.00")),
            "amount: must be at most 999999999.99 euro"
        );
    }

    #[test]
    fn due_dates_are_xsd_dates() {
        let date =
            |d: &str| get_payment(&format!("<dueDate>{d}</dueDate>")).map(|r| r.due_date.unwrap());
        let expected = NaiveDate::from_ymd_opt(2030, 12, 31).unwrap();
        for good in [
            "2030-12-31",
            "2030-12-31Z",
            "2030-12-31+14:00",
            "2030-12-31-05:30",
            " 2030-12-31\n",
        ] {
            assert_eq!(date(good), Ok(expected), "{good:?}");
        }
        assert_eq!(
            date("2024-02-29"),
            Ok(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
        );
        for bad in [
            "2030-2-01",
            "20301231",
            "2030-12-31T00:00:00",
            "2030-12-31+14:01",
            "2030-12-31+1:00",
            "2030-12-31 Z",
            "+2030-12-31",
            "2030-12-3a",
            "2030/12/31",
            "",
        ] {
            assert_eq!(
                error(date(bad)),
                "dueDate: must be a date YYYY-MM-DD, optionally with a time zone",
                "{bad:?}"
            );
        }
        for bad in ["2030-02-30", "2023-02-29", "2030-13-01", "0000-01-01"] {
            assert_eq!(
                error(date(bad)),
                "dueDate: must be a calendar date",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn errors_carry_a_valid_id_pa() {
        let bad_notice =
            "<qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>1</noticeNumber></qrCode>";
        let err = verify(&format!("{IDS}{bad_notice}")).unwrap_err();
        assert_eq!(err.id_pa.as_deref(), Some("77777777777"));
        assert_eq!(err.field, "qrCode/noticeNumber");
        let too_long = "7".repeat(36);
        let err = verify(&format!("<idPA>{too_long}</idPA>")).unwrap_err();
        assert_eq!(err.id_pa, None);
        assert_eq!(verify("").unwrap_err().id_pa, None);
        let err = get_payment("<amount>1</amount>").unwrap_err();
        assert_eq!(err.id_pa.as_deref(), Some("77777777777"));
    }

    fn demand_children(service: &str, subject: &str, data: &str) -> String {
        format!(
            "{IDS}<idServizio>{service}</idServizio><idSoggettoServizio>{subject}</idSoggettoServizio>\
             <datiSpecificiServizioRequest>{data}</datiSpecificiServizioRequest>"
        )
    }

    fn demand(children: &str) -> Result<DemandRequest, SyntaxError> {
        decode_demand(&payload("paDemandPaymentNoticeRequest", children))
    }

    fn encoded(document: &str) -> String {
        crate::xml::base64::encode(document.as_bytes())
    }

    #[test]
    fn demand_decodes_the_service_document() {
        let doc = r#"<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService"><importo>10.00</importo></service>"#;
        // Line-wrapped base64, as some clients send it.
        let wrapped = encoded(doc)
            .as_bytes()
            .chunks(20)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let req = demand(&demand_children("DONAZ", "00001", &wrapped)).unwrap();
        assert_eq!(req.service_id.as_str(), "DONAZ");
        assert_eq!(req.service_subject.as_str(), "00001");
        assert_eq!(req.service_data.fields.len(), 1);
        assert_eq!(req.service_data.fields[0].name, "importo");
        assert_eq!(req.ids.id_pa.as_str(), "77777777777");
    }

    #[test]
    fn the_demand_sample_carries_its_document() {
        let root = read_envelope(samples::DEMAND_DONATION.as_bytes())
            .unwrap()
            .root;
        let data = root
            .children
            .iter()
            .find(|c| c.name == "datiSpecificiServizioRequest")
            .unwrap();
        let bytes = crate::xml::base64::decode(&data.text).unwrap();
        assert_eq!(bytes, samples::DONATION_DOCUMENT.as_bytes());
        assert_eq!(decode_demand(&root).unwrap().service_data.fields.len(), 2);
    }

    #[test]
    fn demand_syntax_errors_name_the_field_and_the_reason() {
        let ok = encoded(
            r#"<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService"><a>1</a></service>"#,
        );
        let cases = [
            (
                demand_children("DONA", "00001", &ok),
                "idServizio: must be exactly 5 characters",
            ),
            (
                demand_children("DONAZ", "000001", &ok),
                "idSoggettoServizio: must be exactly 5 characters",
            ),
            (
                format!(
                    "{IDS}<idServizio>DONAZ</idServizio><datiSpecificiServizioRequest>{ok}</datiSpecificiServizioRequest>"
                ),
                "idSoggettoServizio: missing (found 'datiSpecificiServizioRequest' in its place)",
            ),
            (
                demand_children("DONAZ", "00001", "bm90IGJhc2U2NA=!"),
                "datiSpecificiServizioRequest: must be base64 (groups of four characters, '=' padding)",
            ),
            (
                demand_children(
                    "DONAZ",
                    "00001",
                    &encoded(
                        r#"<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService"><a>1</a>"#,
                    ),
                ),
                "datiSpecificiServizioRequest: the service document is not well-formed XML",
            ),
            (
                demand_children(
                    "DONAZ",
                    "00001",
                    &encoded(r#"<!DOCTYPE service SYSTEM "http://x/y.dtd"><service/>"#),
                ),
                "datiSpecificiServizioRequest: the service document must not have a DTD (DOCTYPE)",
            ),
            (
                demand_children("DONAZ", "00001", ""),
                "datiSpecificiServizioRequest: the service document is empty",
            ),
            (
                demand_children("DONAZ", "00001", &"QUFB".repeat(MAX_ENCODED_CHARS / 4 + 1)),
                "datiSpecificiServizioRequest: must be at most",
            ),
        ];
        for (children, expected) in cases {
            let err = demand(&children).unwrap_err();
            assert!(err.to_string().starts_with(expected), "{err}");
            assert_eq!(err.id_pa.as_deref(), Some("77777777777"));
        }
    }

    #[test]
    fn demand_agrees_with_the_xsd() {
        let xmllint = Xmllint::new();
        if xmllint.check() != Check::Schema {
            return;
        }
        let ok = encoded(
            r#"<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService"><a>1</a></service>"#,
        );
        let cases = [
            demand_children("DONAZ", "00001", &ok),
            demand_children("è è ", "    .", &ok),
            demand_children("DONA", "00001", &ok),
            demand_children("DONAZ", "", &ok),
            demand_children("DONAZ", "00001", &format!(" {} ", &ok)),
            // Not "Zm9v!": libxml2 skips characters outside the alphabet, the XSD does not.
            demand_children("DONAZ", "00001", "Zm9"),
            demand_children("DONAZ", "00001", "Zh=="),
            format!(
                "{IDS}<idServizio>DONAZ</idServizio><datiSpecificiServizioRequest>{ok}</datiSpecificiServizioRequest>"
            ),
            format!("{}<x/>", demand_children("DONAZ", "00001", &ok)),
        ];
        for (i, children) in cases.iter().enumerate() {
            let doc = document("paDemandPaymentNoticeRequest", children);
            let ours = decode_demand(&read_envelope(doc.as_bytes()).unwrap().root).map(drop);
            let xsd = xmllint.validate(&format!("demand-{i}"), doc.as_bytes());
            assert_eq!(
                ours.is_ok(),
                xsd.is_ok(),
                "{children}\nours: {ours:?}\nxmllint: {xsd:?}"
            );
        }
    }

    #[test]
    fn id_pa_hint_reads_any_payload() {
        let receipt = payload(
            "paSendRTV2Request",
            &format!("{IDS}<receipt><x/></receipt>"),
        );
        assert_eq!(id_pa_hint(&receipt).as_deref(), Some("77777777777"));
        assert_eq!(id_pa_hint(&payload("x", "<idPA></idPA>")), None);
        assert_eq!(id_pa_hint(&payload("x", "<idPA><a/></idPA>")), None);
        assert_eq!(id_pa_hint(&payload("x", "<p:idPA>1</p:idPA>")), None);
        assert_eq!(
            id_pa_hint(&payload("x", "<a/><idPA>1</idPA>")).as_deref(),
            Some("1")
        );
    }

    #[test]
    fn agrees_with_the_xsd() {
        let xmllint = Xmllint::new();
        if xmllint.check() != Check::Schema {
            return;
        }
        let verify_cases = [
            format!("{IDS}{QR}"),
            format!(
                "<idPA> </idPA><idBrokerPA>\t1 </idBrokerPA><idStation>{}</idStation>{QR}",
                "è".repeat(35)
            ),
            format!("<idPA></idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}"),
            format!(
                "<idPA>{}</idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}",
                "7".repeat(36)
            ),
            "<idBrokerPA>1</idBrokerPA><idStation>1</idStation>".to_owned(),
            "<idPA>1</idPA><idStation>1</idStation><idBrokerPA>1</idBrokerPA>".to_owned(),
            format!("<idPA>1</idPA><idBrokerPA>1</idBrokerPA><foo/><idStation>1</idStation>{QR}"),
            format!("<idPA>1</idPA>{IDS}{QR}"),
            IDS.to_owned(),
            format!("{IDS}{QR}{QR}"),
            format!("{IDS}{QR}<amount>1.00</amount>"),
            format!("{IDS}<qrCode><fiscalCode>77777777777</fiscalCode></qrCode>"),
            format!(
                "{IDS}<qrCode><fiscalCode> 77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber></qrCode>"
            ),
            format!(
                "{IDS}<qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>3111111111122222222</noticeNumber></qrCode>"
            ),
            format!("<p:idPA>1</p:idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}"),
            format!("<idPA a=\"1\">1</idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}"),
            format!("<idPA><b/></idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}"),
            format!(
                "{IDS}<qrCode>text<fiscalCode>77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber></qrCode>"
            ),
            format!("{IDS}{QR}text"),
        ];
        let get_payment_extras = [
            "<amount>0.00</amount><paymentNote> </paymentNote><transferType>POSTAL</transferType><dueDate>2030-12-31</dueDate>",
            "<amount> 999999999.99\n</amount>",
            "<amount>1000000000.00</amount>",
            "<amount>10.5</amount>",
            "<amount>1,00</amount>",
            "<amount>-1.00</amount>",
            "<amount>+1.00</amount>",
            "<paymentNote></paymentNote>",
            "<transferType> POSTAL</transferType>",
            "<transferType>postal</transferType>",
            "<dueDate>2030-12-31Z</dueDate>",
            // Not " 2030-12-31 ": libxml2 does not collapse whitespace around dates, as the
            // XSD says (and Xerces does); due_dates_are_xsd_dates covers it.
            "<dueDate>2030-12-31+14:00</dueDate>",
            "<dueDate>2030-12-31-05:30</dueDate>",
            "<dueDate>2030-12-31+14:01</dueDate>",
            "<dueDate>2030-02-30</dueDate>",
            "<dueDate>2024-02-29</dueDate>",
            "<dueDate>2030-12-31T00:00:00</dueDate>",
            "<dueDate>2030-1-01</dueDate>",
            "<dueDate>0000-01-01</dueDate>",
            "<dueDate>2030-12-31</dueDate><amount>1.00</amount>",
            "<transferType>PAGOPA</transferType><transferType>PAGOPA</transferType>",
        ];
        let cases = verify_cases
            .iter()
            .map(|c| ("paVerifyPaymentNoticeReq", c.clone()))
            .chain(
                get_payment_extras
                    .iter()
                    .map(|e| ("paGetPaymentReq", format!("{IDS}{QR}{e}"))),
            );
        for (i, (wrapper, children)) in cases.enumerate() {
            let doc = document(wrapper, &children);
            let root = read_envelope(doc.as_bytes()).unwrap().root;
            let ours = if wrapper == "paVerifyPaymentNoticeReq" {
                decode_verify(&root).map(drop)
            } else {
                decode_get_payment(&root).map(drop)
            };
            let xsd = xmllint.validate(&format!("request-{i}"), doc.as_bytes());
            assert_eq!(
                ours.is_ok(),
                xsd.is_ok(),
                "{children}\nours: {ours:?}\nxmllint: {xsd:?}"
            );
        }
    }

    /// XML-escapes a test value.
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;")
    }

    /// Valid paGetPaymentV2Request values, written in one of the three prefix styles.
    fn valid_request() -> impl Strategy<Value = (GetPaymentRequest, String)> {
        let text =
            |max: usize| proptest::string::string_regex(&format!("[ -~àé€]{{1,{max}}}")).unwrap();
        let date = (1i32..=9999, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap());
        (
            (text(35), text(35), text(35), "[0-9]{11}", "[0-9]{18}"),
            (
                proptest::option::of(0..=Cents::MAX.get()),
                proptest::option::of(text(210)),
                proptest::option::of(prop::sample::select(vec![TransferType::Postal, TransferType::PagoPa])),
                proptest::option::of(date),
            ),
            0..3usize,
        )
            .prop_map(|((id_pa, broker, station, fiscal_code, notice), (amount, note, transfer_type, due_date), style)| {
                let request = GetPaymentRequest {
                    ids: RequestIds {
                        id_pa: Text::parse_xsd(&id_pa).unwrap(),
                        id_broker_pa: Text::parse_xsd(&broker).unwrap(),
                        id_station: Text::parse_xsd(&station).unwrap(),
                    },
                    qr_code: QrCode {
                        fiscal_code: FiscalCodePA::parse(&fiscal_code).unwrap(),
                        notice_number: NoticeNumber::parse(&notice).unwrap(),
                    },
                    amount: amount.map(|c| Cents::new(c).unwrap()),
                    payment_note: note.map(|n| Text::parse_xsd(&n).unwrap()),
                    transfer_type,
                    due_date,
                };
                let reset = if style == 2 { r#" xmlns="""# } else { "" };
                let mut children = format!(
                    "<idPA{reset}>{}</idPA><idBrokerPA{reset}>{}</idBrokerPA><idStation{reset}>{}</idStation>\
                     <qrCode{reset}><fiscalCode>{fiscal_code}</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode>",
                    esc(&id_pa), esc(&broker), esc(&station)
                );
                if let Some(a) = request.amount {
                    children += &format!("<amount{reset}> {a}\n</amount>");
                }
                if let Some(n) = &request.payment_note {
                    children += &format!("<paymentNote{reset}>{}</paymentNote>", esc(n.as_str()));
                }
                if let Some(t) = request.transfer_type {
                    let t = if t == TransferType::Postal { "POSTAL" } else { "PAGOPA" };
                    children += &format!("<transferType{reset}>{t}</transferType>");
                }
                if let Some(d) = request.due_date {
                    children += &format!("<dueDate{reset}>{}Z</dueDate>", d.format("%Y-%m-%d"));
                }
                let wrapper = match style {
                    0 => format!(r#"<p:paGetPaymentV2Request>{children}</p:paGetPaymentV2Request>"#),
                    1 => format!(r#"<ns2:paGetPaymentV2Request xmlns:ns2="{PAFORNODE_NS}">{children}</ns2:paGetPaymentV2Request>"#),
                    _ => format!(r#"<paGetPaymentV2Request xmlns="{PAFORNODE_NS}">{children}</paGetPaymentV2Request>"#),
                };
                let doc = format!(
                    r#"<S:Envelope xmlns:S="{SOAP_ENV_NS}" xmlns:p="{PAFORNODE_NS}"><S:Header/><S:Body>{wrapper}</S:Body></S:Envelope>"#
                );
                (request, doc)
            })
    }

    /// A small edit to a valid payload tree, at the wrapper or inside qrCode.
    #[derive(Debug, Clone)]
    enum Edit {
        Remove(prop::sample::Index),
        Duplicate(prop::sample::Index),
        Swap(prop::sample::Index, prop::sample::Index),
        Text(prop::sample::Index, String),
        Qualify(prop::sample::Index),
        Attribute(prop::sample::Index),
        Add(prop::sample::Index, String),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        use prop::sample::Index;
        let name = prop::sample::select(vec![
            "idPA",
            "qrCode",
            "amount",
            "dueDate",
            "noticeNumber",
            "x",
        ])
        .prop_map(String::from);
        prop_oneof![
            any::<Index>().prop_map(Edit::Remove),
            any::<Index>().prop_map(Edit::Duplicate),
            (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
            (any::<Index>(), ".{0,40}").prop_map(|(i, t)| Edit::Text(i, t)),
            any::<Index>().prop_map(Edit::Qualify),
            any::<Index>().prop_map(Edit::Attribute),
            (any::<Index>(), name).prop_map(|(i, n)| Edit::Add(i, n)),
        ]
    }

    fn apply(element: &mut Element, edit: &Edit) {
        let children = &mut element.children;
        if children.is_empty() {
            if let Edit::Text(_, text) = edit {
                element.text = text.clone();
            }
            return;
        }
        let len = children.len();
        match edit {
            Edit::Remove(i) => {
                children.remove(i.index(len));
            }
            Edit::Duplicate(i) => {
                let child = children[i.index(len)].clone();
                children.insert(i.index(len), child);
            }
            Edit::Swap(a, b) => children.swap(a.index(len), b.index(len)),
            Edit::Text(i, text) => children[i.index(len)].text = text.clone(),
            Edit::Qualify(i) => children[i.index(len)].qualified = true,
            Edit::Attribute(i) => children[i.index(len)].foreign_attributes = true,
            Edit::Add(i, name) => children.insert(
                i.index(len + 1),
                Element {
                    name: name.clone(),
                    ..Element::default()
                },
            ),
        }
    }

    proptest! {
        #[test]
        fn decodes_what_the_xsd_accepts((request, doc) in valid_request()) {
            let payload = read_envelope(doc.as_bytes()).unwrap();
            prop_assert_eq!(decode_get_payment(&payload.root), Ok(request));
        }

        #[test]
        fn never_panics_on_edited_payloads(edits in prop::collection::vec((any::<bool>(), edit()), 1..6)) {
            let mut root = read_envelope(samples::GET_PAYMENT_V2_FULL.as_bytes()).unwrap().root;
            for (in_qr_code, edit) in &edits {
                match root.children.iter_mut().find(|c| c.name == "qrCode") {
                    Some(qr_code) if *in_qr_code => apply(qr_code, edit),
                    _ => apply(&mut root, edit),
                }
            }
            let _ = decode_verify(&root);
            if let Err(e) = decode_get_payment(&root) {
                prop_assert!(!e.field.is_empty() && !e.reason.is_empty());
            }
        }
    }
}
