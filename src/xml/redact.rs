//! A stored receipt (paSendRT / paSendRTV2 request, or the request a station is sent) rewritten
//! without its personal data, once its retention has ended: the debtor becomes the erased
//! marker (the XSD requires one), the payer and the payer's note go. Everything else is copied
//! event by event, so amounts, identifiers and transfers read as before and the document still
//! validates.

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

use crate::domain::personal_data::ERASED;

/// What becomes of an element of the receipt that holds personal data.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Personal {
    /// Replaced by the marker subject.
    Debtor,
    /// Left out.
    Dropped,
}

fn personal(local_name: &str) -> Option<Personal> {
    match local_name {
        "debtor" => Some(Personal::Debtor),
        "payer" | "paymentNote" => Some(Personal::Dropped),
        _ => None,
    }
}

/// `document` without the debtor's and payer's personal data; an error when it is not
/// well-formed XML.
pub fn erase_subjects(document: &[u8]) -> Result<Vec<u8>, String> {
    let mut reader = Reader::from_reader(document);
    let mut writer = Writer::new(Vec::with_capacity(document.len()));
    let fail = |e: &dyn std::fmt::Display| format!("the receipt cannot be read: {e}");
    loop {
        let event = reader.read_event().map_err(|e| fail(&e))?;
        match event {
            Event::Eof => break,
            Event::Start(start) => match personal(start.local_name().into_inner()) {
                None => writer
                    .write_event(Event::Start(start))
                    .map_err(|e| fail(&e))?,
                Some(kind) => {
                    let entity_type = skip_subject(&mut reader).map_err(|e| fail(&e))?;
                    if kind == Personal::Debtor {
                        write_marker(&mut writer, &start, &entity_type).map_err(|e| fail(&e))?;
                    }
                }
            },
            Event::Empty(empty) => match personal(empty.local_name().into_inner()) {
                None => writer
                    .write_event(Event::Empty(empty))
                    .map_err(|e| fail(&e))?,
                Some(Personal::Debtor) => {
                    write_marker(&mut writer, &empty, "F").map_err(|e| fail(&e))?
                }
                Some(Personal::Dropped) => {}
            },
            other => writer.write_event(other).map_err(|e| fail(&e))?,
        }
    }
    Ok(writer.into_inner())
}

/// Reads past the rest of the element just started; the subject's entity type (F or G) if it
/// has one.
fn skip_subject(reader: &mut Reader<&[u8]>) -> Result<String, quick_xml::Error> {
    let mut depth = 0usize;
    let mut in_type = false;
    let mut entity_type = String::from("F");
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                depth += 1;
                in_type = e.local_name().into_inner() == "entityUniqueIdentifierType";
            }
            Event::End(_) if depth == 0 => return Ok(entity_type),
            Event::End(_) => {
                depth -= 1;
                in_type = false;
            }
            Event::Text(t) if in_type => {
                let text = t.into_inner().trim().to_owned();
                if text == "F" || text == "G" {
                    entity_type = text;
                }
            }
            Event::Eof => {
                return Err(quick_xml::Error::Syntax(
                    quick_xml::errors::SyntaxError::UnclosedTag,
                ));
            }
            _ => {}
        }
    }
}

/// The marker subject, under the element name (and prefix) the document used.
fn write_marker(
    writer: &mut Writer<Vec<u8>>,
    start: &BytesStart<'_>,
    entity_type: &str,
) -> std::io::Result<()> {
    let name = start.name().into_inner().to_owned();
    let element = |writer: &mut Writer<Vec<u8>>, name: &str, text: &str| -> std::io::Result<()> {
        writer.write_event(Event::Start(BytesStart::new(name)))?;
        writer.write_event(Event::Text(BytesText::new(text)))?;
        writer.write_event(Event::End(BytesEnd::new(name)))
    };
    writer.write_event(Event::Start(BytesStart::new(name.as_str())))?;
    writer.write_event(Event::Start(BytesStart::new("uniqueIdentifier")))?;
    element(writer, "entityUniqueIdentifierType", entity_type)?;
    element(writer, "entityUniqueIdentifierValue", ERASED)?;
    writer.write_event(Event::End(BytesEnd::new("uniqueIdentifier")))?;
    element(writer, "fullName", ERASED)?;
    writer.write_event(Event::End(BytesEnd::new(name.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::party::EntityType;
    use crate::xml::receipts::decode_stored_send_rt;
    use crate::xml::samples::SEND_RT_V2_FULL;

    #[test]
    fn the_debtor_becomes_the_marker_and_the_payer_goes() {
        let before = decode_stored_send_rt(SEND_RT_V2_FULL.as_bytes()).unwrap();
        assert!(before.receipt.payer.is_some());
        let erased = erase_subjects(SEND_RT_V2_FULL.as_bytes()).unwrap();
        let text = String::from_utf8(erased.clone()).unwrap();
        let debtor = &before.receipt.debtor;
        assert!(!text.contains(debtor.entity_id.as_str()), "{text}");
        assert!(!text.contains(debtor.full_name.as_str()), "{text}");
        assert!(!text.contains("paymentNote"), "{text}");
        assert!(!text.contains("<payer>"), "{text}");

        let after = decode_stored_send_rt(&erased).unwrap();
        assert_eq!(after.receipt.debtor.entity_id.as_str(), ERASED);
        assert_eq!(after.receipt.debtor.full_name.as_str(), ERASED);
        assert_eq!(after.receipt.debtor.entity_type, debtor.entity_type);
        assert_eq!(after.receipt.debtor.email, None);
        assert_eq!(after.receipt.payer, None);
        // What accounting needs reads as before.
        assert_eq!(after.receipt.payment_amount, before.receipt.payment_amount);
        assert_eq!(after.receipt.receipt_id, before.receipt.receipt_id);
        assert_eq!(after.receipt.notice_number, before.receipt.notice_number);
        assert_eq!(after.receipt.transfers, before.receipt.transfers);
        assert_eq!(after.ids, before.ids);
    }

    #[test]
    fn a_legal_person_stays_one_and_erasing_twice_changes_nothing() {
        let g = SEND_RT_V2_FULL.replacen(
            "<entityUniqueIdentifierType>F</entityUniqueIdentifierType>",
            "<entityUniqueIdentifierType>G</entityUniqueIdentifierType>",
            1,
        );
        let once = erase_subjects(g.as_bytes()).unwrap();
        let after = decode_stored_send_rt(&once).unwrap();
        assert_eq!(after.receipt.debtor.entity_type, EntityType::G);
        assert_eq!(erase_subjects(&once).unwrap(), once);
    }

    #[test]
    fn what_is_not_xml_is_refused() {
        assert!(erase_subjects(b"<a><debtor><b></a>").is_err());
    }
}
