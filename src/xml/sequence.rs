//! The XSD-sequence toolkit every payload decoder is built from. Each complex type is a table
//! of `Child` entries (name, minOccurs, maxOccurs) matched once by `sequence`, which checks the
//! children's order, counts, namespace and attributes; each simple type is an `st_*` function
//! from the element's text to a domain value with the reason it is not one. A failure is a
//! `SyntaxError` naming the offending element by its path below the wrapper; a repeatable
//! element is named with its 1-based position, as in XPath: `transferList/transfer[2]/IBAN`.
//! The complex types several payloads share (the request ids, ctSubject, ctMetadata) are here
//! too; `requests` and `receipts` hold the decoders of the primitives.

use std::fmt;

use chrono::{NaiveDate, NaiveTime, TimeDelta};

use super::envelope::Element;
use super::{is_blank, is_xml_space};
use crate::domain::ids::IdError;
use crate::domain::messages::{Code5, RequestIds, TransferType};
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
pub(super) fn st_code5(s: &str) -> Result<Code5, String> {
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
pub(super) fn st_entity_type(s: &str) -> Result<EntityType, String> {
    EntityType::parse(s).ok_or_else(|| "must be F or G".to_owned())
}

/// stEntityUniqueIdentifierValue: 2 to 16 characters, whitespace included.
pub(super) fn st_entity_id(s: &str) -> Result<EntityId, String> {
    EntityId::parse_xsd(s).map_err(must)
}

/// stNazioneProvincia: `[A-Z]{2}`.
pub(super) fn st_country(s: &str) -> Result<CountryCode, String> {
    CountryCode::parse(s).map_err(must)
}

/// stEMail.
pub(super) fn st_email(s: &str) -> Result<Email, String> {
    Email::parse(s).map_err(must)
}

/// xsd:base64Binary, kept as received (see `base64::decode` for the rules).
pub(super) fn st_base64_binary(s: &str) -> Result<String, String> {
    super::base64::decode(s)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

/// stTransferType.
pub(super) fn st_transfer_type(s: &str) -> Result<TransferType, String> {
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
}
