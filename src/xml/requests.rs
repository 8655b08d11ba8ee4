//! Decodes the payloads of paVerifyPaymentNotice, paGetPayment(V2) and
//! paDemandPaymentNotice into domain requests, checking what the official XSD checks: the
//! children of each complex element in sequence order with their occurrence bounds, no
//! qualified or unknown elements, no foreign attributes, and every simple type's facets.
//! A failure names the offending element by its path below the wrapper and becomes a KO
//! PAA_SINTASSI_XSD upstream. Built from the `sequence` toolkit, as `receipts` is.

use super::envelope::Element;
use super::sequence::{
    Child, SyntaxError, decode, leaf_value, one, optional, optional_leaf, request_ids, required,
    sequence, st_amount, st_code5, st_fiscal_code_pa, st_iso_date, st_notice_number, st_text,
    st_transfer_type, within,
};
use super::service_data::{MAX_ENCODED_CHARS, read_service_data};
use crate::domain::messages::{DemandRequest, GetPaymentRequest, QrCode, VerifyRequest};

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

fn qr_code(element: &Element) -> Result<QrCode, SyntaxError> {
    within(element, |element| {
        let [fiscal_code, notice_number] = sequence(element, &QR_CODE)?;
        Ok(QrCode {
            fiscal_code: leaf_value(one(fiscal_code), st_fiscal_code_pa)?,
            notice_number: leaf_value(one(notice_number), st_notice_number)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use chrono::NaiveDate;

    use super::*;
    use crate::domain::messages::{Operation, RequestIds, TransferType};
    use crate::domain::{Cents, FiscalCodePA, NoticeNumber, Text};
    use crate::xml::envelope::read_envelope;
    use crate::xml::sequence::id_pa_hint;
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

    /// XML-escapes a test value (`>` too: a value holding `]]>` is not well-formed text).
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
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
