//! What one entry of each kind holds, read from what the hooks already have: the SOAP request's
//! element tree and the fault answered, a delivery's station, receipt and attempt result, a REST
//! call's key, route and path. Only identifiers are kept, each checked for its shape first (an
//! idPA that is not a creditor's fiscal code is not kept), so no free text of a request ever
//! reaches the journal.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::domain::api_key::KeyId;
use crate::domain::broadcast::BroadcastStation;
use crate::domain::journal::{EventKind, JournalEntry, Outcome, iupd_digest};
use crate::domain::messages::{Operation, RequestIds};
use crate::domain::receipt::ReceiptVersion;
use crate::domain::{FaultCode, FiscalCodePA, Iuv, NoticeNumber, Text};
use crate::store::{AttemptRecord, DeliveredReceipt};
use crate::xml::envelope::Element;

/// What a SOAP request on `/partner` told, gathered while it is answered.
#[derive(Debug, Default)]
pub struct PrimitiveEvent {
    operation: Option<Operation>,
    organization: Option<String>,
    broker_id: Option<String>,
    station_id: Option<String>,
    notice_number: Option<String>,
    receipt_id: Option<String>,
    fault: Option<FaultCode>,
    /// Whether the identifiers are left unread: no journal will take them.
    operation_only: bool,
}

impl PrimitiveEvent {
    /// An event that keeps the operation and its outcome only (for the metrics and the access
    /// log), when the journal is off.
    pub fn operation_only() -> PrimitiveEvent {
        PrimitiveEvent {
            operation_only: true,
            ..PrimitiveEvent::default()
        }
    }

    /// The operation answered and the identifiers its request element carries.
    pub fn read(&mut self, operation: Operation, root: &Element) {
        self.operation = Some(operation);
        if self.operation_only {
            return;
        }
        self.organization = text(root, "idPA").filter(|s| FiscalCodePA::parse(s).is_ok());
        self.broker_id = identifier(root, "idBrokerPA");
        self.station_id = identifier(root, "idStation");
        let notice = child(root, "qrCode").or_else(|| child(root, "receipt"));
        self.notice_number = notice
            .and_then(|n| text(n, "noticeNumber"))
            .filter(|s| NoticeNumber::parse(s).is_ok());
        self.receipt_id = child(root, "receipt").and_then(|r| identifier(r, "receiptId"));
    }

    /// What [`read`](Self::read) keeps, from a request already decoded (by the plain reader):
    /// its ids and notice number.
    pub fn read_decoded(&mut self, operation: Operation, ids: &RequestIds, notice: &NoticeNumber) {
        self.operation = Some(operation);
        if self.operation_only {
            return;
        }
        let id_pa = ids.id_pa.as_str().trim();
        self.organization = FiscalCodePA::parse(id_pa).is_ok().then(|| id_pa.to_owned());
        self.broker_id = identifier_text(ids.id_broker_pa.as_str().trim());
        self.station_id = identifier_text(ids.id_station.as_str().trim());
        self.notice_number = Some(notice.as_str().to_owned());
    }

    /// The operation the request named, if any, and its KO's fault (None: OK).
    pub fn outcome(&self) -> Option<(Operation, Option<FaultCode>)> {
        self.operation.map(|operation| (operation, self.fault))
    }

    /// The answer was the operation's KO with this fault.
    pub fn ko(&mut self, code: FaultCode) {
        self.fault = Some(code);
    }

    pub(super) fn entry(self, status: u16, at: NaiveDateTime, took: Duration) -> JournalEntry {
        let outcome = if status == 200 && self.operation.is_some() && self.fault.is_none() {
            Outcome::Ok
        } else {
            Outcome::Ko
        };
        let mut e = JournalEntry::new(EventKind::Primitive, at, outcome, micros(took));
        e.organization = self.organization;
        e.primitive = self.operation.map(|op| op.action().to_owned());
        e.broker_id = self.broker_id;
        e.station_id = self.station_id;
        e.notice_number = self.notice_number;
        e.receipt_id = self.receipt_id;
        e.status = Some(status);
        e.fault_code = self.fault.map(|f| f.code().to_owned());
        e
    }
}

pub(super) fn delivery_entry(
    station: &BroadcastStation,
    receipt: &DeliveredReceipt,
    attempt: u32,
    result: &AttemptRecord,
    at: NaiveDateTime,
    took: Duration,
) -> JournalEntry {
    let (outcome, status, fault_code, error) = match result {
        AttemptRecord::Delivered => (Outcome::Delivered, Some(200), None, None),
        AttemptRecord::Rejected { fault_code, .. } => {
            (Outcome::Rejected, Some(200), Some(fault_code.clone()), None)
        }
        AttemptRecord::Retry { error, .. } | AttemptRecord::GiveUp { error } => {
            let (status, kind) = failure(error);
            (Outcome::Failed, status, None, Some(kind.to_owned()))
        }
    };
    let mut e = JournalEntry::new(EventKind::Delivery, at, outcome, micros(took));
    e.organization = Some(station.organization.to_string());
    let sent = match station.version {
        ReceiptVersion::V1 => Operation::SendRt,
        ReceiptVersion::V2 => Operation::SendRtV2,
    };
    e.primitive = Some(sent.action().to_owned());
    e.broker_id = Some(station.broker_id.to_string());
    e.station_id = Some(station.station_id.to_string());
    e.notice_number = Some(receipt.notice_number.clone());
    e.receipt_id = Some(receipt.receipt_id.clone());
    e.status = status;
    e.fault_code = fault_code;
    e.error = error;
    e.attempt = Some(attempt);
    e
}

/// The HTTP status and the kind of a failed attempt, from the description the station client
/// gives it (`broadcast::client`): the description itself is not kept.
fn failure(error: &str) -> (Option<u16>, &'static str) {
    if let Some(status) = error.strip_prefix("HTTP ") {
        return (status.trim().parse().ok(), "HTTP_STATUS");
    }
    if error.starts_with("timed out") {
        (None, "TIMEOUT")
    } else if error.starts_with("invalid answer") {
        (Some(200), "INVALID_ANSWER")
    } else if error.starts_with("answer larger") {
        (None, "ANSWER_TOO_LARGE")
    } else if error.contains("allowed network") {
        (None, "DESTINATION_REFUSED")
    } else {
        (None, "CONNECTION")
    }
}

/// A REST call by `key` on route `method pattern` (as the route table names it), on the path
/// of these segments.
pub struct RestCall<'a> {
    pub key: &'a KeyId,
    pub method: &'a str,
    pub pattern: &'a str,
    pub segments: &'a [&'a str],
}

impl RestCall<'_> {
    /// Its entry, answered with HTTP `status`, `took` after it arrived.
    pub fn entry(&self, status: u16, at: NaiveDateTime, took: Duration) -> JournalEntry {
        let mut e = JournalEntry::new(
            EventKind::Rest,
            at,
            Outcome::of_status(status),
            micros(took),
        );
        e.key_id = Some(self.key.to_string());
        e.method = Some(self.method.to_owned());
        e.route = Some(self.pattern.to_owned());
        e.status = Some(status);
        let params = self.pattern.trim_matches('/').split('/').zip(self.segments);
        for (part, value) in params {
            match part {
                "{fiscalCode}" | "{organizationfiscalcode}" => {
                    e.organization = Some((*value).into())
                }
                "{iupd}" => e.iupd_digest = Some(iupd_digest(value)),
                "{iuv}" => e.iuv = Iuv::parse(value).ok().map(|i| i.to_string()),
                "{nav}" => e.notice_number = NoticeNumber::parse(value).ok().map(|n| n.to_string()),
                "{stationId}" => e.station_id = identifier_text(value),
                _ => {}
            }
        }
        e
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn child<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.children.iter().find(|c| c.name == name && !c.qualified)
}

fn text(el: &Element, name: &str) -> Option<String> {
    child(el, name).map(|c| c.text.trim().to_owned())
}

/// A child's text if it is an identifier (1 to 35 characters).
fn identifier(el: &Element, name: &str) -> Option<String> {
    text(el, name).and_then(|s| identifier_text(&s))
}

fn identifier_text(s: &str) -> Option<String> {
    Text::<35>::parse_xsd(s).ok().map(Text::into_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::at;
    use crate::xml::envelope::read_envelope;

    #[test]
    fn a_verify_gives_its_ids_and_notice() {
        let body = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
            xmlns:nod="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body>
            <nod:paVerifyPaymentNoticeReq><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA>
            <idStation>77777777777_01</idStation><qrCode><fiscalCode>77777777777</fiscalCode>
            <noticeNumber>311111111112222222</noticeNumber></qrCode></nod:paVerifyPaymentNoticeReq>
            </soapenv:Body></soapenv:Envelope>"#;
        let payload = read_envelope(body).unwrap();
        let mut event = PrimitiveEvent::default();
        event.read(payload.operation().unwrap(), &payload.root);
        let e = event.entry(200, at(2026, 1, 1), Duration::from_micros(7));
        assert_eq!(e.outcome, Outcome::Ok);
        assert_eq!(e.primitive.as_deref(), Some("paVerifyPaymentNotice"));
        assert_eq!(e.organization.as_deref(), Some("77777777777"));
        assert_eq!(e.station_id.as_deref(), Some("77777777777_01"));
        assert_eq!(e.notice_number.as_deref(), Some("311111111112222222"));
        assert_eq!(e.receipt_id, None);
        assert_eq!(e.duration_us, 7);
    }

    #[test]
    fn a_request_read_plainly_gives_what_its_tree_gives() {
        let body = |id_pa: &str, broker: &str, station: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
                <p:paGetPaymentV2Request xmlns:p="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
                <idPA>{id_pa}</idPA><idBrokerPA>{broker}</idBrokerPA><idStation>{station}</idStation>
                <qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber>
                </qrCode></p:paGetPaymentV2Request></s:Body></s:Envelope>"#
            )
        };
        for (id_pa, broker, station) in [
            ("77777777777", "77777777777", "77777777777_01"),
            (" 77777777777\n", "\t1 ", " 2 "),
            ("Mario Rossi", "x", "y"),
            ("7777777777", " ", "  "),
        ] {
            let body = body(id_pa, broker, station);
            let payload = read_envelope(body.as_bytes()).unwrap();
            let op = payload.operation().unwrap();
            let mut from_tree = PrimitiveEvent::default();
            from_tree.read(op, &payload.root);
            let request = crate::xml::plain::read(body.as_bytes()).expect("a plain request");
            let mut decoded = PrimitiveEvent::default();
            decoded.read_decoded(op, request.ids(), &request.qr_code().notice_number);
            let entry =
                |e: PrimitiveEvent| format!("{:?}", e.entry(200, at(2026, 1, 1), Duration::ZERO));
            assert_eq!(entry(decoded), entry(from_tree), "{body}");
        }
    }

    #[test]
    fn identifiers_of_the_wrong_shape_are_not_kept() {
        let body = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
            xmlns:nod="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body>
            <nod:paVerifyPaymentNoticeReq><idPA>Mario Rossi</idPA>
            <qrCode><noticeNumber>RSSMRA80A01H501U</noticeNumber></qrCode>
            </nod:paVerifyPaymentNoticeReq></soapenv:Body></soapenv:Envelope>"#;
        let payload = read_envelope(body).unwrap();
        let mut event = PrimitiveEvent::default();
        event.read(payload.operation().unwrap(), &payload.root);
        event.ko(FaultCode::SintassiXsd);
        let e = event.entry(200, at(2026, 1, 1), Duration::ZERO);
        assert_eq!((e.organization, e.notice_number), (None, None));
        assert_eq!(e.outcome, Outcome::Ko);
        assert_eq!(e.fault_code.as_deref(), Some("PAA_SINTASSI_XSD"));
        // Not even an envelope: a KO with nothing else known.
        let e = PrimitiveEvent::default().entry(400, at(2026, 1, 1), Duration::ZERO);
        assert_eq!(
            (e.outcome, e.primitive, e.status),
            (Outcome::Ko, None, Some(400))
        );
    }

    #[test]
    fn failures_are_kept_as_kinds() {
        assert_eq!(failure("HTTP 503"), (Some(503), "HTTP_STATUS"));
        assert_eq!(failure("timed out after 1000 ms"), (None, "TIMEOUT"));
        assert_eq!(
            failure("invalid answer: no outcome"),
            (Some(200), "INVALID_ANSWER")
        );
        assert_eq!(failure("error sending request"), (None, "CONNECTION"));
        let refused = "plain http to 10.0.0.1: receipts go over https, except to the configured allowed networks";
        assert_eq!(failure(refused), (None, "DESTINATION_REFUSED"));
    }

    #[test]
    fn a_rest_call_keeps_the_path_s_identifiers_and_a_digest_of_the_iupd() {
        let key = KeyId::parse("ab00010203ff").unwrap();
        let pattern = "/organizations/{fiscalCode}/debtpositions/{iupd}";
        let segments = [
            "organizations",
            "77777777777",
            "debtpositions",
            "RSSMRA80A01H501U-1",
        ];
        let call = RestCall {
            key: &key,
            method: "GET",
            pattern,
            segments: &segments,
        };
        let e = call.entry(404, at(2026, 1, 1), Duration::ZERO);
        assert_eq!(e.organization.as_deref(), Some("77777777777"));
        assert_eq!(e.iupd_digest, Some(iupd_digest("RSSMRA80A01H501U-1")));
        assert_eq!(e.iupd_digest.as_ref().unwrap().len(), 64);
        assert_eq!(e.outcome, Outcome::Ko);
        assert_eq!(e.key_id.as_deref(), Some("ab00010203ff"));
        let pattern = "/organizations/{fiscalCode}/paymentoptions/paids/{nav}";
        let segments = [
            "organizations",
            "77777777777",
            "paymentoptions",
            "paids",
            "311111111112222222",
        ];
        let call = RestCall {
            key: &key,
            method: "POST",
            pattern,
            segments: &segments,
        };
        let e = call.entry(200, at(2026, 1, 1), Duration::ZERO);
        assert_eq!(e.notice_number.as_deref(), Some("311111111112222222"));
        assert_eq!(e.outcome, Outcome::Ok);
    }
}
