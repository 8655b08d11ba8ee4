//! Test fixtures shared by the xml tests: requests in the prefix styles seen in the wild, and
//! representative response values.

use chrono::NaiveDate;

use crate::domain::messages::{
    CountryCode, Email, EntityId, EntityType, MapEntry, PaymentData, StampRequest, Subject,
    TransferAccount, TransferData, VerifyResponse,
};
use crate::domain::{Cents, FiscalCodePA, Text, TransferId};

/// SoapUI style: `soapenv`/`pafn` declared on the Envelope, Header, pretty-printed.
pub const VERIFY_SOAPENV_PAFN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Header/>
  <soapenv:Body>
    <pafn:paVerifyPaymentNoticeReq>
      <idPA>77777777777</idPA>
      <idBrokerPA>77777777777</idBrokerPA>
      <idStation>77777777777_01</idStation>
      <qrCode>
        <fiscalCode>77777777777</fiscalCode>
        <noticeNumber>311111111112222222</noticeNumber>
      </qrCode>
    </pafn:paVerifyPaymentNoticeReq>
  </soapenv:Body>
</soapenv:Envelope>
"#;

/// JAX-WS style: `S`, the payload prefix declared on the payload itself, no Header, compact.
pub const VERIFY_JAXWS: &str = concat!(
    r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>"#,
    r#"<ns2:paVerifyPaymentNoticeReq xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">"#,
    r#"<idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation>"#,
    r#"<qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber></qrCode>"#,
    r#"</ns2:paVerifyPaymentNoticeReq></S:Body></S:Envelope>"#
);

/// Default namespaces everywhere, children reset with `xmlns=""`.
pub const VERIFY_DEFAULT_NS: &str = concat!(
    r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>"#,
    r#"<paVerifyPaymentNoticeReq xmlns="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">"#,
    r#"<idPA xmlns="">77777777777</idPA><idBrokerPA xmlns="">77777777777</idBrokerPA>"#,
    r#"<idStation xmlns="">77777777777_01</idStation><qrCode xmlns=""><fiscalCode>77777777777</fiscalCode>"#,
    r#"<noticeNumber>311111111112222222</noticeNumber></qrCode>"#,
    r#"</paVerifyPaymentNoticeReq></Body></Envelope>"#
);

/// A paGetPaymentV2Request with every optional child.
pub const GET_PAYMENT_V2_FULL: &str = concat!(
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" "#,
    r#"xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body>"#,
    r#"<pafn:paGetPaymentV2Request><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA>"#,
    r#"<idStation>77777777777_01</idStation><qrCode><fiscalCode>77777777777</fiscalCode>"#,
    r#"<noticeNumber>311111111112222222</noticeNumber></qrCode><amount> 116.00 </amount>"#,
    r#"<paymentNote>cart 42 &amp; more</paymentNote><transferType>PAGOPA</transferType>"#,
    r#"<dueDate>2030-12-31+01:00</dueDate></pafn:paGetPaymentV2Request></soapenv:Body></soapenv:Envelope>"#
);

fn text<const N: usize>(s: &str) -> Text<N> {
    Text::new(s).unwrap()
}

pub fn fiscal_code() -> FiscalCodePA {
    FiscalCodePA::parse("77777777777").unwrap()
}

pub fn verify_response() -> VerifyResponse {
    VerifyResponse {
        amount: Cents::new(11600).unwrap(),
        due_date: NaiveDate::from_ymd_opt(2030, 12, 31).unwrap(),
        detail_description: text("TARI 2030 & <rata unica>"),
        all_ccp: false,
        payment_description: text("Tassa sull'immondizia"),
        fiscal_code_pa: fiscal_code(),
        company_name: text("Comune di Sant'Angelo"),
        office_name: Some(text("Ufficio \"Tributi\"")),
    }
}

fn entry(key: &str, value: &str) -> MapEntry {
    MapEntry {
        key: text(key),
        value: text(value),
    }
}

/// Two transfers, the second a stamp (V2 only), full debtor, metadata, markup characters.
pub fn payment_data() -> PaymentData {
    PaymentData {
        creditor_reference_id: text("11111111112222222"),
        payment_amount: Cents::new(11600).unwrap(),
        due_date: NaiveDate::from_ymd_opt(2030, 12, 31).unwrap(),
        retention_date: NaiveDate::from_ymd_opt(2031, 1, 31)
            .unwrap()
            .and_hms_opt(23, 59, 59),
        last_payment: false,
        description: text("TARI 2030 & <rata unica>"),
        company_name: text("Comune di Sant'Angelo"),
        office_name: Some(text("Ufficio Tributi")),
        debtor: Subject {
            entity_type: EntityType::F,
            entity_id: EntityId::parse("RSSMRA80A01H501U").unwrap(),
            full_name: text("Mario D'Rossi"),
            street_name: Some(text("Via <Roma>")),
            civic_number: Some(text("1/A")),
            postal_code: Some(text("00100")),
            city: Some(text("Roma")),
            state_province_region: Some(text("RM")),
            country: Some(CountryCode::parse("IT").unwrap()),
            email: Some(Email::parse("mario.rossi@example.it").unwrap()),
        },
        transfers: vec![
            TransferData {
                id_transfer: TransferId::new(1).unwrap(),
                amount: Cents::new(10000).unwrap(),
                fiscal_code_pa: fiscal_code(),
                company_name: Some(text("Comune di Sant'Angelo")),
                account: TransferAccount::Iban(text("IT60X0542811101000000123456")),
                remittance_information: text("TARI 2030"),
                transfer_category: text("9/0101108TS/"),
                metadata: vec![entry("IBANAPPOGGIO", "IT60X0760103200000000123456")],
            },
            TransferData {
                id_transfer: TransferId::new(2).unwrap(),
                amount: Cents::new(1600).unwrap(),
                fiscal_code_pa: FiscalCodePA::parse("88888888888").unwrap(),
                company_name: None,
                account: TransferAccount::Stamp(StampRequest {
                    hash_document: "ZjJhY2E5M2I4MGNhZTY4MTIyMWYwNA==".to_owned(),
                    stamp_type: "01".to_owned(),
                    provincial_residence: CountryCode::parse("RM").unwrap(),
                }),
                remittance_information: text("Marca da bollo"),
                transfer_category: text("9/0201133IM/"),
                metadata: vec![],
            },
        ],
        metadata: vec![entry("key", "a & b"), entry("cart", "<42>")],
    }
}

/// `payment_data` with IBANs only, as paGetPayment (V1) needs.
pub fn payment_data_v1() -> PaymentData {
    let mut data = payment_data();
    data.transfers[1].account = TransferAccount::Iban(text("IT60X0542811101000000654321"));
    data
}
