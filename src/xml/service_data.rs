//! Reads the document a paDemandPaymentNotice carries in `datiSpecificiServizioRequest`: a
//! `service` element in the GeneralService namespace whose children are the service's fields.
//! The bytes come from the citizen's app through the Node, so they are read as strictly as the
//! envelope: UTF-8 only, no DTD, no entity but the predefined ones, bounded size and depth.
//! Whether the fields suit the service is `domain::service`'s business.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::{is_blank, resolved_reference, strict_reader};
use crate::domain::service::demand::{FieldValue, ServiceData, ServiceField};

/// The namespace of the `service` root (PagoPA's general-service.xsd).
pub const GENERAL_SERVICE_NS: &str = "http://PuntoAccessoPSP.spcoop.gov.it/GeneralService";
/// Largest decoded document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024;
/// Largest `datiSpecificiServizioRequest` text accepted, whitespace included: the base64 of
/// the largest document, with room for line breaks.
pub const MAX_ENCODED_CHARS: usize = MAX_DOCUMENT_BYTES / 3 * 4 + 1024;
/// `service`, a field, and one level inside a field (refused later, with its name).
const MAX_DEPTH: usize = 3;
const MAX_FIELDS: usize = 64;

/// Reads a decoded service document; the error is a reason for PAA_SINTASSI_XSD.
pub fn read_service_data(bytes: &[u8]) -> Result<ServiceData, String> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the service document is larger than {MAX_DOCUMENT_BYTES} bytes"
        ));
    }
    let mut reader = strict_reader(bytes).map_err(|offset| {
        format!("the service document is not UTF-8 (invalid byte at offset {offset})")
    })?;
    let malformed = |e: String| format!("the service document is not well-formed XML: {e}");
    // The open elements: 1 = service, 2 = a field, 3 = inside a field.
    let mut depth = 0;
    let mut seen_root = false;
    let mut first = true;
    let mut fields: Vec<ServiceField> = Vec::new();
    let mut text_of_field = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("{e} (near byte {})", reader.buffer_position())))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                let (ns, local) = reader.resolver().resolve_element(start.name());
                let local = local.into_inner();
                let namespace = match ns {
                    ResolveResult::Bound(ns) => Some(ns.into_inner()),
                    ResolveResult::Unbound => None,
                    ResolveResult::Unknown(p) => {
                        return Err(malformed(format!("unbound namespace prefix '{p}'")));
                    }
                };
                for attribute in start.attributes() {
                    attribute.map_err(|e| malformed(format!("attribute: {e}")))?;
                }
                match depth {
                    0 if seen_root => {
                        return Err(malformed("content after the root element".into()));
                    }
                    0 if namespace == Some(GENERAL_SERVICE_NS) && local == "service" => {
                        seen_root = true;
                    }
                    0 => {
                        let name = match namespace {
                            Some(ns) => format!("{{{ns}}}{local}"),
                            None => local.to_owned(),
                        };
                        return Err(format!(
                            "the service document's root is {name}, expected {{{GENERAL_SERVICE_NS}}}service"
                        ));
                    }
                    1 => {
                        if namespace.is_some_and(|ns| ns != GENERAL_SERVICE_NS) {
                            return Err(format!(
                                "field {local} is in namespace {}, expected {GENERAL_SERVICE_NS} or none",
                                namespace.unwrap_or_default()
                            ));
                        }
                        if fields.len() == MAX_FIELDS {
                            return Err(format!(
                                "the service document has more than {MAX_FIELDS} fields"
                            ));
                        }
                        fields.push(ServiceField {
                            name: local.to_owned(),
                            value: FieldValue::Text(String::new()),
                        });
                        text_of_field.clear();
                    }
                    2 => {
                        fields.last_mut().expect("inside a field").value = FieldValue::Structured;
                    }
                    _ => {
                        return Err(format!(
                            "the service document is nested deeper than {MAX_DEPTH} levels"
                        ));
                    }
                }
                depth += 1;
                if empty {
                    depth -= 1;
                }
            }
            Event::End(_) => {
                if depth == 2
                    && let Some(field) = fields.last_mut()
                    && let FieldValue::Text(value) = &mut field.value
                {
                    *value = std::mem::take(&mut text_of_field);
                }
                depth -= 1;
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                push_text(&t, depth, &mut text_of_field)?;
            }
            Event::CData(t) => {
                let t = t.xml10_content();
                push_text(&t, depth, &mut text_of_field)?;
            }
            Event::GeneralRef(r) => {
                let mut utf8 = [0; 4];
                let resolved = resolved_reference(&r, &mut utf8).map_err(malformed)?;
                push_text(resolved, depth, &mut text_of_field)?;
            }
            Event::Decl(decl) if first => {
                if let Some(enc) = decl.encoding() {
                    let enc = enc.map_err(|e| malformed(e.to_string()))?;
                    if !enc.eq_ignore_ascii_case("UTF-8") {
                        return Err(malformed(format!(
                            "encoding '{enc}' is not supported: only UTF-8"
                        )));
                    }
                }
            }
            Event::Decl(_) => {
                return Err(malformed(
                    "XML declaration allowed only at the start".to_owned(),
                ));
            }
            Event::DocType(_) => {
                return Err("the service document must not have a DTD (DOCTYPE)".to_owned());
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof if depth > 0 => return Err(malformed("unclosed elements".to_owned())),
            Event::Eof if !seen_root => return Err("the service document is empty".to_owned()),
            Event::Eof => break,
        }
        first = false;
    }
    if fields.is_empty() {
        return Err("the service element has no fields".to_owned());
    }
    Ok(ServiceData { fields })
}

/// Character data at `depth`: a field's value, or blanks between elements.
fn push_text(t: &str, depth: usize, field: &mut String) -> Result<(), String> {
    match depth {
        2 => field.push_str(t),
        0 if !is_blank(t) => {
            return Err(
                "the service document is not well-formed XML: text outside the root element"
                    .to_owned(),
            );
        }
        1 if !is_blank(t) => {
            return Err(
                "the service element holds text of its own; it must hold only field elements"
                    .to_owned(),
            );
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(inner: &str) -> String {
        format!(r#"<service xmlns="{GENERAL_SERVICE_NS}">{inner}</service>"#)
    }

    fn text(name: &str, value: &str) -> ServiceField {
        ServiceField {
            name: name.into(),
            value: FieldValue::Text(value.into()),
        }
    }

    #[test]
    fn reads_fields_in_order_with_their_text() {
        let data = read_service_data(
            doc("<importo>10.00</importo>\n <causale>a &amp; b&#233;<![CDATA[<x>]]></causale><vuoto/><!-- c -->")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            data.fields,
            vec![
                text("importo", "10.00"),
                text("causale", "a & bé<x>"),
                text("vuoto", "")
            ]
        );
    }

    #[test]
    fn prefixes_and_unqualified_fields_are_accepted() {
        let prefixed = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><gs:service xmlns:gs="{GENERAL_SERVICE_NS}"><gs:importo>1.00</gs:importo><causale>x</causale></gs:service>"#
        );
        let data = read_service_data(prefixed.as_bytes()).unwrap();
        assert_eq!(
            data.fields,
            vec![text("importo", "1.00"), text("causale", "x")]
        );
    }

    #[test]
    fn a_field_with_elements_is_structured() {
        let data = read_service_data(doc("<a><b>1</b></a><c>2</c>").as_bytes()).unwrap();
        assert_eq!(data.fields[0].value, FieldValue::Structured);
        assert_eq!(data.fields[1], text("c", "2"));
    }

    #[test]
    fn refuses_with_a_reason() {
        let cases = [
            (
                format!(
                    r#"<!DOCTYPE service [<!ENTITY x "y">]>{}"#,
                    doc("<a>&x;</a>")
                ),
                "must not have a DTD",
            ),
            (doc("<a>&x;</a>"), "undeclared entity"),
            (doc("<a>1</b>"), "not well-formed"),
            (doc("<a>1</a>").replace("</service>", ""), "unclosed"),
            (String::new(), "empty"),
            ("   ".to_owned(), "empty"),
            (doc(""), "no fields"),
            (doc("text<a>1</a>"), "text of its own"),
            (
                "<service><a>1</a></service>".to_owned(),
                "root is service, expected",
            ),
            (
                format!(r#"<x xmlns="{GENERAL_SERVICE_NS}"><a>1</a></x>"#),
                "root is {http://PuntoAccessoPSP",
            ),
            (
                doc(r#"<o:a xmlns:o="urn:other">1</o:a>"#),
                "in namespace urn:other",
            ),
            (doc("<p:a>1</p:a>"), "unbound namespace prefix"),
            (doc("<a><b><c>1</c></b></a>"), "nested deeper"),
            (format!("{}{}", doc("<a>1</a>"), "<b/>"), "after the root"),
            (doc(&"<a/>".repeat(65)), "more than 64 fields"),
            (
                format!(
                    r#"<?xml version="1.0" encoding="ISO-8859-1"?>{}"#,
                    doc("<a>1</a>")
                ),
                "only UTF-8",
            ),
            (doc(r#"<a b="1" b="2">1</a>"#), "attribute"),
        ];
        for (document, reason) in cases {
            let err = read_service_data(document.as_bytes()).unwrap_err();
            assert!(err.contains(reason), "{document}: {err}");
        }
        let err = read_service_data(&[b'<', 0xff, b'>']).unwrap_err();
        assert!(err.contains("not UTF-8"), "{err}");
        let big = doc(&format!("<a>{}</a>", "x".repeat(MAX_DOCUMENT_BYTES)));
        assert!(
            read_service_data(big.as_bytes())
                .unwrap_err()
                .contains("larger than")
        );
    }

    #[test]
    fn billion_laughs_is_refused_before_any_expansion() {
        let doc = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService"><a>&lol2;</a></service>"#;
        assert!(
            read_service_data(doc.as_bytes())
                .unwrap_err()
                .contains("DTD")
        );
    }
}
