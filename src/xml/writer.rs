//! The compact XML writer every SOAP document we send is written with: an envelope with
//! `soapenv`/`paf` prefixes, elements in the order the caller writes them, text escaped.
//! It appends straight into a pre-sized `String`: this is on every request's path.

use std::fmt::{self, Write as _};

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::{PAFORNODE_NS, SOAP_ENV_NS};
use crate::domain::Text;
use crate::domain::messages::{Operation, PaTransfer};
use crate::domain::party::{CountryCode, Email, MapEntry, Subject};

/// The Node accepts at most this many metadata entries in a block (ctMetadata).
pub(super) const MAX_METADATA: usize = 15;

/// A compact XML writer: tags are written as given, text is escaped.
pub(super) struct Writer {
    out: String,
}

impl Writer {
    /// The XML declaration and the envelope up to the open Body.
    pub(super) fn envelope(capacity: usize) -> Writer {
        let mut out = String::with_capacity(capacity);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv=""#);
        out.push_str(SOAP_ENV_NS);
        out.push_str(r#"" xmlns:paf=""#);
        out.push_str(PAFORNODE_NS);
        out.push_str(r#""><soapenv:Header/><soapenv:Body>"#);
        Writer { out }
    }

    /// The envelope and `op`'s open response wrapper.
    pub(super) fn response(op: Operation, capacity: usize) -> Writer {
        let mut w = Writer::envelope(capacity);
        w.out.push_str("<paf:");
        w.out.push_str(op.response_element());
        w.out.push('>');
        w
    }

    /// The envelope and `op`'s open request wrapper.
    pub(super) fn request(op: Operation, capacity: usize) -> Writer {
        let mut w = Writer::envelope(capacity);
        w.out.push_str("<paf:");
        w.out.push_str(op.request_element());
        w.out.push('>');
        w
    }

    /// Nothing written yet: a fragment of a document, for [`Writer::finish_request`] to end.
    pub(super) fn fragment(capacity: usize) -> Writer {
        Writer {
            out: String::with_capacity(capacity),
        }
    }

    /// What was written so far, as is (a document's head, to be followed by a fragment).
    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.out.into_bytes()
    }

    /// Closes `op`'s request wrapper and the envelope.
    pub(super) fn finish_request(mut self, op: Operation) -> Vec<u8> {
        self.out.push_str("</paf:");
        self.out.push_str(op.request_element());
        self.out.push('>');
        self.end_envelope()
    }

    /// Closes `op`'s response wrapper and the envelope.
    pub(super) fn finish(mut self, op: Operation) -> Vec<u8> {
        self.out.push_str("</paf:");
        self.out.push_str(op.response_element());
        self.out.push('>');
        self.end_envelope()
    }

    pub(super) fn end_envelope(mut self) -> Vec<u8> {
        self.out.push_str("</soapenv:Body></soapenv:Envelope>");
        self.out.into_bytes()
    }

    pub(super) fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(super) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// An element holding one child written by `item` for each of `items`.
    pub(super) fn list<T>(&mut self, name: &str, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.open(name);
        for each in items {
            item(self, each);
        }
        self.close(name);
    }

    pub(super) fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        push_escaped(&mut self.out, text);
        self.close(name);
    }

    pub(super) fn optional(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    /// xsd:boolean, written as `true` / `false`.
    pub(super) fn boolean(&mut self, name: &str, value: bool) {
        self.leaf(name, if value { "true" } else { "false" });
    }

    /// A leaf whose Display is markup-free: amounts, numbers, dates.
    pub(super) fn value(&mut self, name: &str, value: impl fmt::Display) {
        self.open(name);
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
        self.close(name);
    }

    /// ctSubject.
    pub(super) fn subject(&mut self, name: &str, s: &Subject) {
        self.open(name);
        self.open("uniqueIdentifier");
        self.leaf("entityUniqueIdentifierType", s.entity_type.as_str());
        self.leaf("entityUniqueIdentifierValue", s.entity_id.as_str());
        self.close("uniqueIdentifier");
        self.leaf("fullName", s.full_name.as_str());
        self.optional("streetName", s.street_name.as_ref().map(Text::as_str));
        self.optional("civicNumber", s.civic_number.as_ref().map(Text::as_str));
        self.optional("postalCode", s.postal_code.as_ref().map(Text::as_str));
        self.optional("city", s.city.as_ref().map(Text::as_str));
        self.optional(
            "stateProvinceRegion",
            s.state_province_region.as_ref().map(Text::as_str),
        );
        self.optional("country", s.country.as_ref().map(CountryCode::as_str));
        self.optional("e-mail", s.email.as_ref().map(Email::as_str));
        self.close(name);
    }

    /// A transfer of either message and version, its account written by `account`; the
    /// company name only in V2.
    pub(super) fn transfer<A>(
        &mut self,
        t: &PaTransfer<A>,
        v2: bool,
        account: impl FnOnce(&mut Self, &A),
    ) {
        self.open("transfer");
        self.value("idTransfer", t.id);
        self.value("transferAmount", t.amount);
        self.leaf("fiscalCodePA", t.fiscal_code_pa.as_str());
        if v2 {
            self.optional("companyName", t.company_name.as_ref().map(Text::as_str));
        }
        account(self, &t.account);
        self.leaf("remittanceInformation", t.remittance_information.as_str());
        self.leaf("transferCategory", t.transfer_category.as_str());
        self.metadata(&t.metadata);
        self.close("transfer");
    }

    /// ctMetadata, only when there are entries.
    pub(super) fn metadata(&mut self, entries: &[MapEntry]) {
        debug_assert!(entries.len() <= MAX_METADATA, "at most 15 metadata entries");
        if entries.is_empty() {
            return;
        }
        self.open("metadata");
        for entry in entries {
            self.open("mapEntry");
            self.leaf("key", entry.key.as_str());
            self.leaf("value", entry.value.as_str());
            self.close("mapEntry");
        }
        self.close("metadata");
    }
}

/// Appends `text` escaped for element content. Characters XML cannot carry at all (controls
/// other than tab and newline, U+FFFE, U+FFFF) become U+FFFD, so the output stays well-formed
/// and each text keeps its length; a carriage return is kept as a reference, which parsers
/// would otherwise turn into a newline.
pub(super) fn push_escaped(out: &mut String, text: &str) {
    let mut clean = 0;
    for (i, b) in text.bytes().enumerate() {
        let replacement = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\r' => "&#13;",
            b'\t' | b'\n' => continue,
            0..=0x1f => "\u{FFFD}",
            // The lead byte of U+FFFE and U+FFFF (EF BF BE/BF).
            0xef if matches!(text.as_bytes().get(i + 1..i + 3), Some([0xbf, 0xbe | 0xbf])) => {
                out.push_str(&text[clean..i]);
                out.push('\u{FFFD}');
                clean = i + 3;
                continue;
            }
            _ => continue,
        };
        out.push_str(&text[clean..i]);
        out.push_str(replacement);
        clean = i + 1;
    }
    out.push_str(&text[clean..]);
}

/// xsd:date without time zone.
pub(super) struct XsdDate(pub(super) NaiveDate);

impl fmt::Display for XsdDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

/// xsd:dateTime without time zone, with the fraction of a second when there is one (as the
/// creditor sent it: `.408`).
pub(super) struct XsdDateTime(pub(super) NaiveDateTime);

impl fmt::Display for XsdDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            XsdDate(t.date()),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        // 3, 6 or 9 digits, as the REST answers write them; nothing for a whole second.
        write!(f, "{}", t.format("%.f"))
    }
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn date_times_keep_their_fraction() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
        for (given, written) in [
            ("2030-12-31T23:59:59", "2030-12-31T23:59:59"),
            ("2030-12-31T23:59:59.408", "2030-12-31T23:59:59.408"),
            ("2030-12-31T23:59:59.4", "2030-12-31T23:59:59.400"),
            ("0999-01-02T03:04:05.000001", "0999-01-02T03:04:05.000001"),
        ] {
            assert_eq!(XsdDateTime(at(given)).to_string(), written, "{given}");
        }
    }
}
