//! Writes response envelopes: the OK answers of verify and getPayment (V1 and V2), the KO of
//! any operation, and the SOAP Fault for bodies that are not SOAP at all. Output is compact,
//! children in exact XSD sequence order, unprefixed below the `paf:` wrapper, and validates
//! against the official paForNode XSD given the preconditions noted on each function (the
//! domain types carry the rest: bounded texts, 11-digit fiscal codes, amounts `\d+\.\d{2}`).

use super::writer::{Writer, XsdDate, XsdDateTime};
use crate::domain::messages::{
    DemandResponse, Operation, PaymentData, TransferAccount, TransferData, VerifyResponse,
};
use crate::domain::{Fault, FaultCode, Text};

/// Who is at fault in a SOAP Fault (SOAP 1.1 §4.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapFaultCode {
    /// The request was wrong: not XML, not SOAP.
    Client,
    /// We failed.
    Server,
}

/// paVerifyPaymentNoticeRes: OK with its single payment option, or KO.
///
/// Precondition: a non-zero amount (stAmountNotZero).
pub fn verify_response(result: &Result<VerifyResponse, Fault>) -> Vec<u8> {
    answer(
        Operation::VerifyPaymentNotice,
        result,
        1024,
        write_payment_description,
    )
}

/// paDemandPaymentNoticeResponse: OK with the new notice (qrCode) and, as verify would answer
/// for it, its single payment option; or KO.
///
/// Precondition: a non-zero amount (stAmountNotZero).
pub fn demand_response(result: &Result<DemandResponse, Fault>) -> Vec<u8> {
    answer(Operation::DemandPaymentNotice, result, 1024, |w, r| {
        w.open("qrCode");
        w.leaf("fiscalCode", r.qr_code.fiscal_code.as_str());
        w.leaf("noticeNumber", r.qr_code.notice_number.as_str());
        w.close("qrCode");
        write_payment_description(w, &r.payment);
    })
}

/// paymentList (one option, EQ) to officeName: the tail verify and demand share.
fn write_payment_description(w: &mut Writer, r: &VerifyResponse) {
    debug_assert!(!r.amount.is_zero(), "the amount must not be zero");
    w.open("paymentList");
    w.open("paymentOptionDescription");
    w.value("amount", r.amount);
    w.leaf("options", "EQ");
    w.value("dueDate", XsdDate(r.due_date));
    w.leaf("detailDescription", r.detail_description.as_str());
    w.boolean("allCCP", r.all_ccp);
    w.close("paymentOptionDescription");
    w.close("paymentList");
    w.leaf("paymentDescription", r.payment_description.as_str());
    w.leaf("fiscalCodePA", r.fiscal_code_pa.as_str());
    w.leaf("companyName", r.company_name.as_str());
    w.optional("officeName", r.office_name.as_ref().map(Text::as_str));
}

/// paGetPaymentRes (`op` = GetPayment) or paGetPaymentV2Response (any other `op`, meant to be
/// GetPaymentV2): OK with `data`, or KO.
///
/// Preconditions: 1 to 5 transfers, non-zero amounts, at most 15 metadata entries per block,
/// and, for V1, no transfer paid with a stamp: V1 has no element for it, so the primitive
/// must refuse such a position first. Should one get here anyway, debug builds panic and
/// release builds answer KO PAA_SYSTEM_ERROR rather than an invalid OK.
pub fn get_payment_response(op: Operation, result: &Result<PaymentData, Fault>) -> Vec<u8> {
    debug_assert!(
        matches!(op, Operation::GetPayment | Operation::GetPaymentV2),
        "{op:?} has no payment data"
    );
    let v2 = op != Operation::GetPayment;
    let op = if v2 {
        Operation::GetPaymentV2
    } else {
        Operation::GetPayment
    };
    let v1_stamp = result.as_ref().ok().and_then(|data| {
        data.transfers
            .iter()
            .find(|t| !v2 && matches!(t.account, TransferAccount::Stamp(_)))
    });
    debug_assert!(v1_stamp.is_none(), "paGetPayment (V1) cannot carry a stamp");
    if let Some(transfer) = v1_stamp {
        let fault = Fault::new(
            FaultCode::SystemError,
            transfer.fiscal_code_pa.as_str(),
            format!(
                "transfer {} is a marca da bollo, which paGetPayment (V1) cannot carry",
                transfer.id
            ),
        );
        return ko_response(op, &fault);
    }
    answer(op, result, 4096, |w, data| {
        debug_assert!((1..=5).contains(&data.transfers.len()), "1 to 5 transfers");
        w.open("data");
        w.leaf("creditorReferenceId", data.creditor_reference_id.as_str());
        w.value("paymentAmount", data.payment_amount);
        w.value("dueDate", XsdDate(data.due_date));
        if let Some(retention) = data.retention_date {
            w.value("retentionDate", XsdDateTime(retention));
        }
        w.boolean("lastPayment", data.last_payment);
        w.leaf("description", data.description.as_str());
        w.leaf("companyName", data.company_name.as_str());
        w.optional("officeName", data.office_name.as_ref().map(Text::as_str));
        w.subject("debtor", &data.debtor);
        w.list("transferList", &data.transfers, |w, t| {
            write_transfer(w, t, v2)
        });
        w.metadata(&data.metadata);
        w.close("data");
    })
}

/// paSendRTRes / paSendRTV2Response: just the outcome (and the fault when KO).
pub fn send_rt_response(op: Operation, result: &Result<(), Fault>) -> Vec<u8> {
    answer(op, result, 256, |_, ()| {})
}

/// `op`'s response: outcome OK followed by what `ok` writes of the value (in a writer sized
/// for `capacity` bytes), or the KO of the fault.
fn answer<T>(
    op: Operation,
    result: &Result<T, Fault>,
    capacity: usize,
    ok: impl FnOnce(&mut Writer, &T),
) -> Vec<u8> {
    match result {
        Ok(value) => {
            let mut w = Writer::response(op, capacity);
            w.leaf("outcome", "OK");
            ok(&mut w, value);
            w.finish(op)
        }
        Err(fault) => ko_response(op, fault),
    }
}

/// `op`'s own response wrapper with outcome KO and the fault bean: how every business error
/// is answered, with HTTP 200.
pub fn ko_response(op: Operation, fault: &Fault) -> Vec<u8> {
    let mut w = Writer::response(op, 1024);
    w.leaf("outcome", "KO");
    w.open("fault");
    w.leaf("faultCode", fault.code.code());
    w.leaf("faultString", fault.code.fault_string());
    w.leaf("id", &fault.id);
    if !fault.description.is_empty() {
        w.leaf("description", &fault.description);
    }
    w.close("fault");
    w.finish(op)
}

/// A SOAP 1.1 Fault, for a body that is not a SOAP request (HTTP 400) or a failure before
/// the operation is known (HTTP 500).
pub fn soap_fault(code: SoapFaultCode, message: &str) -> Vec<u8> {
    let mut w = Writer::envelope(512);
    w.open("soapenv:Fault");
    w.leaf(
        "faultcode",
        match code {
            SoapFaultCode::Client => "soapenv:Client",
            SoapFaultCode::Server => "soapenv:Server",
        },
    );
    w.leaf("faultstring", message);
    w.close("soapenv:Fault");
    w.end_envelope()
}

/// ctTransferPA (V1) or ctTransferPAV2; a V1 transfer must have an IBAN.
fn write_transfer(w: &mut Writer, t: &TransferData, v2: bool) {
    debug_assert!(!t.amount.is_zero(), "transfer amount must not be zero");
    w.transfer(t, v2, |w, account| match account {
        TransferAccount::Iban(iban) => w.leaf("IBAN", iban.as_str()),
        TransferAccount::Stamp(stamp) => {
            w.open("richiestaMarcaDaBollo");
            w.leaf("hashDocumento", &stamp.hash_document);
            w.leaf("tipoBollo", &stamp.stamp_type);
            w.leaf("provinciaResidenza", stamp.provincial_residence.as_str());
            w.close("richiestaMarcaDaBollo");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::envelope::{Element, Payload, read_envelope};
    use crate::xml::samples;
    use crate::xml::writer::push_escaped;
    use crate::xml::xsd_check::{Check, Xmllint};
    use crate::xml::{PAFORNODE_NS, SOAP_ENV_NS};

    /// Validates `doc` with xmllint and reads it back.
    fn check(xmllint: &Xmllint, name: &str, doc: &[u8]) -> Payload {
        if let Err(messages) = xmllint.validate(name, doc) {
            panic!(
                "{name} does not validate:\n{messages}\n{}",
                String::from_utf8_lossy(doc)
            );
        }
        read_envelope(doc).unwrap_or_else(|e| panic!("{name} does not read back: {e}"))
    }

    fn child<'a>(element: &'a Element, name: &str) -> &'a Element {
        element
            .children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} in {}", element.name))
    }

    fn names(element: &Element) -> Vec<&str> {
        element.children.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn verify_ok_validates() {
        let xmllint = Xmllint::new();
        let doc = verify_response(&Ok(samples::verify_response()));
        let payload = check(&xmllint, "verify", &doc);
        assert_eq!(payload.namespace.as_deref(), Some(PAFORNODE_NS));
        assert_eq!(payload.name, "paVerifyPaymentNoticeRes");
        let root = &payload.root;
        assert_eq!(
            names(root),
            [
                "outcome",
                "paymentList",
                "paymentDescription",
                "fiscalCodePA",
                "companyName",
                "officeName"
            ]
        );
        let option = child(child(root, "paymentList"), "paymentOptionDescription");
        assert_eq!(
            names(option),
            [
                "amount",
                "options",
                "dueDate",
                "detailDescription",
                "allCCP"
            ]
        );
        assert_eq!(child(option, "amount").text, "116.00");
        assert_eq!(child(option, "dueDate").text, "2030-12-31");
        assert_eq!(
            child(option, "detailDescription").text,
            "TARI 2030 & <rata unica>"
        );
        assert_eq!(child(root, "officeName").text, "Ufficio \"Tributi\"");

        let mut without_office = samples::verify_response();
        without_office.office_name = None;
        let payload = check(
            &xmllint,
            "verify-no-office",
            &verify_response(&Ok(without_office)),
        );
        assert!(!names(&payload.root).contains(&"officeName"));
    }

    #[test]
    fn demand_ok_validates() {
        let xmllint = Xmllint::new();
        let doc = demand_response(&Ok(samples::demand_response()));
        let payload = check(&xmllint, "demand", &doc);
        assert_eq!(payload.name, "paDemandPaymentNoticeResponse");
        let root = &payload.root;
        assert_eq!(
            names(root),
            [
                "outcome",
                "qrCode",
                "paymentList",
                "paymentDescription",
                "fiscalCodePA",
                "companyName",
                "officeName"
            ]
        );
        let qr = child(root, "qrCode");
        assert_eq!(names(qr), ["fiscalCode", "noticeNumber"]);
        assert_eq!(child(qr, "noticeNumber").text, "302000000000000173");
        let option = child(child(root, "paymentList"), "paymentOptionDescription");
        assert_eq!(child(option, "amount").text, "116.00");
        let fault = Fault::new(FaultCode::Semantica, "77777777777", "x");
        assert_eq!(
            demand_response(&Err(fault.clone())),
            ko_response(Operation::DemandPaymentNotice, &fault)
        );
    }

    #[test]
    fn get_payment_v2_validates() {
        let xmllint = Xmllint::new();
        let doc = get_payment_response(Operation::GetPaymentV2, &Ok(samples::payment_data()));
        let payload = check(&xmllint, "get-payment-v2", &doc);
        assert_eq!(payload.name, "paGetPaymentV2Response");
        let data = child(&payload.root, "data");
        assert_eq!(
            names(data),
            [
                "creditorReferenceId",
                "paymentAmount",
                "dueDate",
                "retentionDate",
                "lastPayment",
                "description",
                "companyName",
                "officeName",
                "debtor",
                "transferList",
                "metadata"
            ]
        );
        assert_eq!(child(data, "retentionDate").text, "2031-01-31T23:59:59");
        assert_eq!(child(data, "companyName").text, "Comune di Sant'Angelo");
        let debtor = child(data, "debtor");
        assert_eq!(
            names(debtor),
            [
                "uniqueIdentifier",
                "fullName",
                "streetName",
                "civicNumber",
                "postalCode",
                "city",
                "stateProvinceRegion",
                "country",
                "e-mail"
            ]
        );
        assert_eq!(child(debtor, "streetName").text, "Via <Roma>");
        let transfers = &child(data, "transferList").children;
        assert_eq!(
            names(&transfers[0]),
            [
                "idTransfer",
                "transferAmount",
                "fiscalCodePA",
                "companyName",
                "IBAN",
                "remittanceInformation",
                "transferCategory",
                "metadata"
            ]
        );
        assert_eq!(
            names(&transfers[1]),
            [
                "idTransfer",
                "transferAmount",
                "fiscalCodePA",
                "richiestaMarcaDaBollo",
                "remittanceInformation",
                "transferCategory"
            ]
        );
        let stamp = child(&transfers[1], "richiestaMarcaDaBollo");
        assert_eq!(
            names(stamp),
            ["hashDocumento", "tipoBollo", "provinciaResidenza"]
        );
        let entries = &child(data, "metadata").children;
        assert_eq!(child(&entries[1], "value").text, "<42>");
    }

    #[test]
    fn get_payment_v1_validates() {
        let xmllint = Xmllint::new();
        let doc = get_payment_response(Operation::GetPayment, &Ok(samples::payment_data_v1()));
        let payload = check(&xmllint, "get-payment-v1", &doc);
        assert_eq!(payload.name, "paGetPaymentRes");
        let transfers = &child(child(&payload.root, "data"), "transferList").children;
        assert_eq!(transfers.len(), 2);
        assert_eq!(
            names(&transfers[0]),
            [
                "idTransfer",
                "transferAmount",
                "fiscalCodePA",
                "IBAN",
                "remittanceInformation",
                "transferCategory",
                "metadata"
            ]
        );
    }

    #[test]
    fn minimal_payment_data_validates() {
        let xmllint = Xmllint::new();
        let mut data = samples::payment_data_v1();
        data.retention_date = None;
        data.office_name = None;
        data.metadata.clear();
        data.transfers.truncate(1);
        data.transfers[0].metadata.clear();
        data.transfers[0].company_name = None;
        data.payment_amount = data.transfers[0].amount;
        let debtor = &mut data.debtor;
        (debtor.street_name, debtor.civic_number, debtor.postal_code) = (None, None, None);
        (debtor.city, debtor.state_province_region) = (None, None);
        (debtor.country, debtor.email) = (None, None);
        for op in [Operation::GetPayment, Operation::GetPaymentV2] {
            let doc = get_payment_response(op, &Ok(data.clone()));
            let payload = check(&xmllint, &format!("minimal-{op:?}"), &doc);
            let data = child(&payload.root, "data");
            assert!(!names(data).contains(&"metadata"));
            assert_eq!(
                names(child(data, "debtor")),
                ["uniqueIdentifier", "fullName"]
            );
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "cannot carry a stamp"))]
    fn v1_with_a_stamp_is_refused() {
        let doc = get_payment_response(Operation::GetPayment, &Ok(samples::payment_data()));
        let payload = check(&Xmllint::new(), "v1-stamp", &doc);
        assert_eq!(child(&payload.root, "outcome").text, "KO");
        assert_eq!(
            child(child(&payload.root, "fault"), "faultCode").text,
            "PAA_SYSTEM_ERROR"
        );
    }

    #[test]
    fn ko_validates_for_every_operation() {
        let xmllint = Xmllint::new();
        for op in Operation::ALL {
            for description in ["", "l'avviso <311…> & altro"] {
                let fault = Fault::new(FaultCode::PagamentoSconosciuto, "77777777777", description);
                let doc = ko_response(op, &fault);
                let payload = check(&xmllint, &format!("ko-{op:?}-{}", description.len()), &doc);
                assert_eq!(payload.name, op.response_element());
                assert_eq!(names(&payload.root), ["outcome", "fault"]);
                let fault = child(&payload.root, "fault");
                let expected: &[&str] = if description.is_empty() {
                    &["faultCode", "faultString", "id"]
                } else {
                    &["faultCode", "faultString", "id", "description"]
                };
                assert_eq!(names(fault), expected);
                if !description.is_empty() {
                    assert_eq!(child(fault, "description").text, description);
                }
            }
        }
        let fault = Fault::new(FaultCode::SystemError, "x", "");
        assert_eq!(
            verify_response(&Err(fault.clone())),
            ko_response(Operation::VerifyPaymentNotice, &fault)
        );
        assert_eq!(
            get_payment_response(Operation::GetPayment, &Err(fault.clone())),
            ko_response(Operation::GetPayment, &fault)
        );
    }

    #[test]
    fn ko_is_compact_and_exact() {
        let fault = Fault::new(FaultCode::PagamentoScaduto, "77777777777", "");
        let doc = String::from_utf8(ko_response(Operation::SendRtV2, &fault)).unwrap();
        assert_eq!(
            doc,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" "#,
                r#"xmlns:paf="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Header/><soapenv:Body>"#,
                r#"<paf:paSendRTV2Response><outcome>KO</outcome><fault><faultCode>PAA_PAGAMENTO_SCADUTO</faultCode>"#,
                r#"<faultString>Pagamento scaduto</faultString><id>77777777777</id></fault></paf:paSendRTV2Response>"#,
                r#"</soapenv:Body></soapenv:Envelope>"#
            )
        );
    }

    #[test]
    fn soap_fault_validates() {
        let xmllint = Xmllint::new();
        for (code, text) in [
            (SoapFaultCode::Client, "soapenv:Client"),
            (SoapFaultCode::Server, "soapenv:Server"),
        ] {
            let doc = soap_fault(code, "malformed XML: <a> & 'b'");
            let payload = check(&xmllint, text, &doc);
            assert_eq!(payload.namespace.as_deref(), Some(SOAP_ENV_NS));
            assert_eq!(payload.name, "Fault");
            assert_eq!(child(&payload.root, "faultcode").text, text);
            assert_eq!(
                child(&payload.root, "faultstring").text,
                "malformed XML: <a> & 'b'"
            );
        }
    }

    #[test]
    fn the_schema_check_catches_invalid_responses() {
        let xmllint = Xmllint::new();
        if xmllint.check() != Check::Schema {
            return;
        }
        let valid = String::from_utf8(verify_response(&Ok(samples::verify_response()))).unwrap();
        let broken = [
            (
                "qualified child",
                valid.replace("<outcome>OK</outcome>", "<paf:outcome>OK</paf:outcome>"),
            ),
            ("zero amount", valid.replace("116.00", "0.00")),
            (
                "out of order",
                valid
                    .replace("<options>EQ</options>", "")
                    .replace("</amount>", "</amount><options>EQ</options>")
                    .replace("<allCCP>", "<options>EQ</options><allCCP>"),
            ),
            (
                "SOAP 1.2",
                valid.replace(SOAP_ENV_NS, "http://www.w3.org/2003/05/soap-envelope"),
            ),
        ];
        for (name, doc) in broken {
            assert!(
                xmllint.validate(name, doc.as_bytes()).is_err(),
                "{name} validated"
            );
        }
    }

    #[test]
    fn escapes_markup_and_replaces_what_xml_cannot_carry() {
        let mut out = String::new();
        push_escaped(
            &mut out,
            "a&b<c>d\"e'f\tg\nh\ri\u{1}j\u{FFFF}k\u{FFFE}l\u{FFFD}è",
        );
        assert_eq!(
            out,
            "a&amp;b&lt;c&gt;d&quot;e&apos;f\tg\nh&#13;i\u{FFFD}j\u{FFFD}k\u{FFFD}l\u{FFFD}è"
        );
        let tricky = Text::<140>::new("x\r\n\u{7}y").unwrap();
        let mut verify = samples::verify_response();
        verify.detail_description = tricky;
        let payload = check(&Xmllint::new(), "tricky", &verify_response(&Ok(verify)));
        let option = child(
            child(&payload.root, "paymentList"),
            "paymentOptionDescription",
        );
        assert_eq!(child(option, "detailDescription").text, "x\r\n\u{FFFD}y");
    }
}
