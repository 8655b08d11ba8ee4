//! A certificate subject's distinguished name, as RFC 4514 writes it (`CN=nodo,O=PagoPA,C=IT`,
//! the most specific part first): read from a certificate's DER, or from the configuration's
//! list of subjects allowed on `/partner`. Two names are equal when their attributes are, in
//! order: types by their short name or OID whatever their case, values exactly.
//!
//! Only the subject is read out of the certificate; the certificate itself has been verified
//! by the TLS handshake already. A few lines of DER walking, instead of an X.509 crate.

use std::fmt;

/// One attribute of a name: its type's short name (`CN`, `O`) or dotted OID, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attribute {
    kind: String,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName {
    /// The relative distinguished names, most specific first (RFC 4514 order), each one or
    /// more attributes.
    rdns: Vec<Vec<Attribute>>,
}

/// The attribute types RFC 4514 names, and the usual others, by OID.
const NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.97", "ORGANIZATIONIDENTIFIER"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "EMAILADDRESS"),
];

fn short_name(kind: &str) -> String {
    let upper = kind.to_ascii_uppercase();
    let oid = upper.strip_prefix("OID.").unwrap_or(&upper);
    match NAMES.iter().find(|(o, name)| *o == oid || *name == oid) {
        Some((_, name)) => (*name).to_owned(),
        None => oid.to_owned(),
    }
}

impl DistinguishedName {
    /// The subject of a DER certificate; None when it cannot be read.
    pub fn of_certificate(der: &[u8]) -> Option<DistinguishedName> {
        let (certificate, _) = element(der, SEQUENCE)?;
        let (mut tbs, _) = element(certificate, SEQUENCE)?;
        // version [0] (optional), serialNumber, signature, issuer, validity, subject
        if tbs.first() == Some(&0xa0) {
            tbs = element(tbs, 0xa0)?.1;
        }
        for tag in [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE] {
            tbs = element(tbs, tag)?.1;
        }
        let (mut name, _) = element(tbs, SEQUENCE)?;
        let mut rdns = Vec::new();
        while !name.is_empty() {
            let (mut set, rest) = element(name, SET)?;
            name = rest;
            let mut rdn = Vec::new();
            while !set.is_empty() {
                let (pair, rest) = element(set, SEQUENCE)?;
                set = rest;
                let (oid, value) = element(pair, OID)?;
                let kind = short_name(&dotted(oid)?);
                rdn.push(Attribute {
                    kind,
                    value: string_value(value)?,
                });
            }
            rdns.push(rdn);
        }
        // DER lists the least specific first; RFC 4514 writes the most specific first.
        rdns.reverse();
        Some(DistinguishedName { rdns })
    }

    /// A name written as RFC 4514 does: `,` between names, `+` between the attributes of one,
    /// `\` escaping a special character or writing a byte in hex. Spaces around `,` and `+`
    /// are allowed.
    pub fn parse(s: &str) -> Result<DistinguishedName, String> {
        let mut rdns = Vec::new();
        for rdn in split_unescaped(s, ',') {
            let mut attributes = Vec::new();
            for attribute in split_unescaped(rdn, '+') {
                let (kind, value) = attribute
                    .split_once('=')
                    .ok_or_else(|| format!("{s}: {attribute:?} is not TYPE=value"))?;
                let kind = kind.trim();
                let valid_kind = !kind.is_empty()
                    && kind
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if !valid_kind {
                    return Err(format!("{s}: {kind:?} is not an attribute type"));
                }
                attributes.push(Attribute {
                    kind: short_name(kind),
                    value: unescape(value.trim_start()).map_err(|e| format!("{s}: {e}"))?,
                });
            }
            if attributes.is_empty() {
                return Err(format!("{s}: an empty name between commas"));
            }
            rdns.push(attributes);
        }
        if rdns.is_empty() {
            return Err("a distinguished name must not be empty".into());
        }
        Ok(DistinguishedName { rdns })
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, a) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}=", a.kind)?;
                escape(&a.value, f)?;
            }
        }
        Ok(())
    }
}

/// The parts of `s` between unescaped `sep`s, each trimmed at its end (a trailing space is
/// written escaped). Nothing for an empty string.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    if s.trim().is_empty() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == sep => {
                parts.push(trim_end_unescaped(&s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(trim_end_unescaped(&s[start..]));
    parts
}

/// `s` without its trailing spaces, but an escaped one (`\ `) kept.
fn trim_end_unescaped(s: &str) -> &str {
    let mut end = s.len();
    while end > 0 && s.as_bytes()[end - 1] == b' ' {
        let backslashes = s.as_bytes()[..end - 1]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            break;
        }
        end -= 1;
    }
    &s[..end]
}

fn unescape(s: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match rest {
            [h, l, tail @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&[*h, *l]).expect("ASCII").to_owned();
                bytes.push(u8::from_str_radix(&hex, 16).expect("hex digits"));
                rest = tail;
            }
            [c, tail @ ..] if b" \"#+,;<=>\\".contains(c) => {
                bytes.push(*c);
                rest = tail;
            }
            _ => {
                return Err("a backslash must escape a special character or two hex digits".into());
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| "the value is not UTF-8".to_owned())
}

/// RFC 4514 section 2.4: the special characters escaped, a leading `#` or space and a trailing
/// space too, control characters in hex.
fn escape(value: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            write!(f, "\\{c}")?;
        } else if c.is_control() {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                write!(f, "\\{b:02X}")?;
            }
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// The content of the DER element at the start of `der`, if it has tag `tag`, and what follows.
fn element(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (content, rest, found) = any_element(der)?;
    (found == tag).then_some((content, rest))
}

fn any_element(der: &[u8]) -> Option<(&[u8], &[u8], u8)> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (&rest[..len], &rest[len..], tag))
}

/// An OID's content octets in dotted form.
fn dotted(oid: &[u8]) -> Option<String> {
    let (&first, rest) = oid.split_first()?;
    let mut arcs = vec![u64::from(first / 40).min(2), 0];
    arcs[1] = u64::from(first) - arcs[0] * 40;
    let mut arc = 0u64;
    for &b in rest {
        arc = arc.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(arc);
            arc = 0;
        }
    }
    let text: Vec<String> = arcs.iter().map(u64::to_string).collect();
    Some(text.join("."))
}

/// A directory string's text: UTF8String, PrintableString, IA5String, TeletexString (read as
/// Latin-1) or BMPString; any other type as RFC 4514's `#` and the element's hex.
fn string_value(der: &[u8]) -> Option<String> {
    let (content, _, tag) = any_element(der)?;
    match tag {
        0x0c | 0x13 | 0x16 => String::from_utf8(content.to_vec()).ok(),
        0x14 => Some(content.iter().map(|b| char::from(*b)).collect()),
        0x1e => {
            let units: Vec<u16> = content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => {
            let whole = &der[..der.len() - any_element(der)?.1.len()];
            Some(
                std::iter::once("#".to_owned())
                    .chain(whole.iter().map(|b| format!("{b:02x}")))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_names_compare_by_attribute() {
        let a = DistinguishedName::parse("CN=nodo.pagopa.it,O=PagoPA S.p.A.,C=IT").unwrap();
        let b =
            DistinguishedName::parse("cn=nodo.pagopa.it, o=PagoPA S.p.A. , 2.5.4.6=IT").unwrap();
        assert_eq!(a, b);
        assert_eq!(b.to_string(), "CN=nodo.pagopa.it,O=PagoPA S.p.A.,C=IT");
        assert_ne!(
            a,
            DistinguishedName::parse("CN=nodo.pagopa.it,O=PagoPA S.p.A.").unwrap()
        );
        assert_ne!(
            a,
            DistinguishedName::parse("CN=Nodo.pagopa.it,O=PagoPA S.p.A.,C=IT").unwrap()
        );
    }

    #[test]
    fn escapes_round_trip() {
        let dn = DistinguishedName::parse(r"CN=Rossi\, Mario\2B,O=a+OU=b\ ,C=\#IT").unwrap();
        assert_eq!(dn.rdns[0][0].value, "Rossi, Mario+");
        assert_eq!(dn.rdns[1].len(), 2);
        assert_eq!(dn.rdns[1][1].value, "b ");
        assert_eq!(dn.rdns[2][0].value, "#IT");
        assert_eq!(dn.to_string(), r"CN=Rossi\, Mario\+,O=a+OU=b\ ,C=\#IT");
        assert_eq!(DistinguishedName::parse(&dn.to_string()).unwrap(), dn);
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", " ", "CN", "CN=a,,O=b", "C N=a", r"CN=a\q", r"CN=\"] {
            assert!(DistinguishedName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subject_of_a_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CountryName, "IT");
        name.push(rcgen::DnType::OrganizationName, "PagoPA, S.p.A.");
        name.push(rcgen::DnType::CommonName, "nodo-dei-pagamenti");
        params.distinguished_name = name;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dn = DistinguishedName::of_certificate(cert.der()).unwrap();
        assert_eq!(
            dn.to_string(),
            r"CN=nodo-dei-pagamenti,O=PagoPA\, S.p.A.,C=IT"
        );
        assert_eq!(
            dn,
            DistinguishedName::parse(r"CN=nodo-dei-pagamenti, O=PagoPA\, S.p.A., C=IT").unwrap()
        );
        // Truncated or not a certificate: no subject, no panic.
        for end in 0..cert.der().len() {
            let _ = DistinguishedName::of_certificate(&cert.der()[..end]);
        }
        assert!(DistinguishedName::of_certificate(b"\x30\x03\x02\x01\x00").is_none());
    }

    #[test]
    fn oids_in_dotted_form() {
        assert_eq!(dotted(&[0x55, 0x04, 0x03]).unwrap(), "2.5.4.3");
        assert_eq!(
            dotted(&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19]).unwrap(),
            "0.9.2342.19200300.100.1.25"
        );
    }
}
