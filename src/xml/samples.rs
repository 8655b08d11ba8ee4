//! Test fixtures shared by the xml tests: requests in the prefix styles seen in the wild, and
//! representative response values.

use chrono::NaiveDate;

use crate::domain::messages::{
    DemandResponse, PaymentData, QrCode, TransferAccount, TransferData, VerifyResponse,
};
use crate::domain::party::{CountryCode, Email, EntityId, EntityType, MapEntry, Subject};
use crate::domain::position::StampRequest;
use crate::domain::{Cents, FiscalCodePA, NoticeNumber, Text, TransferId};

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
                id: TransferId::new(1).unwrap(),
                amount: Cents::new(10000).unwrap(),
                fiscal_code_pa: fiscal_code(),
                company_name: Some(text("Comune di Sant'Angelo")),
                account: TransferAccount::Iban(text("IT60X0542811101000000123456")),
                remittance_information: text("TARI 2030"),
                transfer_category: text("9/0101108TS/"),
                metadata: vec![entry("IBANAPPOGGIO", "IT60X0760103200000000123456")],
            },
            TransferData {
                id: TransferId::new(2).unwrap(),
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

/// A paSendRTV2Request with every optional child: two transfers (the second a revenue stamp),
/// payer, metadata at both levels, standIn, pretty-printed.
pub const SEND_RT_V2_FULL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Header/>
  <soapenv:Body>
    <pafn:paSendRTV2Request>
      <idPA>88888888888</idPA>
      <idBrokerPA>88888888888</idBrokerPA>
      <idStation>88888888888_01</idStation>
      <receipt>
        <receiptId>c110729279a0456e9b62ed38a6e6a1ba</receiptId>
        <noticeNumber>311111111112222222</noticeNumber>
        <fiscalCode>77777777777</fiscalCode>
        <outcome>OK</outcome>
        <creditorReferenceId>11111111112222222</creditorReferenceId>
        <paymentAmount>116.00</paymentAmount>
        <description>TARI 2030 &amp; bollo</description>
        <companyName>Comune di Sant'Angelo</companyName>
        <officeName>Ufficio Tributi</officeName>
        <debtor>
          <uniqueIdentifier>
            <entityUniqueIdentifierType>F</entityUniqueIdentifierType>
            <entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue>
          </uniqueIdentifier>
          <fullName>Mario Rossi</fullName>
          <streetName>Via Roma</streetName>
          <civicNumber>1/A</civicNumber>
          <postalCode>00100</postalCode>
          <city>Roma</city>
          <stateProvinceRegion>RM</stateProvinceRegion>
          <country>IT</country>
          <e-mail>mario.rossi@example.it</e-mail>
        </debtor>
        <transferList>
          <transfer>
            <idTransfer>1</idTransfer>
            <transferAmount>100.00</transferAmount>
            <fiscalCodePA>77777777777</fiscalCodePA>
            <companyName>Comune di Sant'Angelo</companyName>
            <IBAN>IT60X0542811101000000123456</IBAN>
            <remittanceInformation>TARI 2030</remittanceInformation>
            <transferCategory>9/0101108TS/</transferCategory>
            <metadata>
              <mapEntry><key>IBANAPPOGGIO</key><value>IT60X0760103200000000123456</value></mapEntry>
            </metadata>
          </transfer>
          <transfer>
            <idTransfer>2</idTransfer>
            <transferAmount>16.00</transferAmount>
            <fiscalCodePA>88888888888</fiscalCodePA>
            <MBDAttachment>
              PG1hcmNhRGFCb2xsbz4K
              PC9tYXJjYURhQm9sbG8+
            </MBDAttachment>
            <remittanceInformation>Marca da bollo</remittanceInformation>
            <transferCategory>9/0201133IM/</transferCategory>
          </transfer>
        </transferList>
        <idPSP>BCITITMM</idPSP>
        <pspFiscalCode>00799960158</pspFiscalCode>
        <pspPartitaIVA>00799960158</pspPartitaIVA>
        <PSPCompanyName>Intesa Sanpaolo S.p.A</PSPCompanyName>
        <idChannel>00799960158_01</idChannel>
        <channelDescription>app</channelDescription>
        <payer>
          <uniqueIdentifier>
            <entityUniqueIdentifierType>G</entityUniqueIdentifierType>
            <entityUniqueIdentifierValue>01234567890</entityUniqueIdentifierValue>
          </uniqueIdentifier>
          <fullName>Rossi S.r.l.</fullName>
        </payer>
        <paymentMethod>creditCard</paymentMethod>
        <paymentNote>cart 42</paymentNote>
        <fee>2.00</fee>
        <primaryCiIncurredFee>0.50</primaryCiIncurredFee>
        <idBundle>bundle-1</idBundle>
        <idCiBundle>ci-bundle-1</idCiBundle>
        <paymentDateTime>2030-06-01T10:15:30.250+02:00</paymentDateTime>
        <applicationDate>2030-06-01</applicationDate>
        <transferDate>2030-06-02</transferDate>
        <metadata>
          <mapEntry><key>cart</key><value>42</value></mapEntry>
          <mapEntry><key>channel</key><value>app &lt;io&gt;</value></mapEntry>
        </metadata>
        <standIn>true</standIn>
      </receipt>
    </pafn:paSendRTV2Request>
  </soapenv:Body>
</soapenv:Envelope>
"#;

/// A paSendRTReq with every optional child of ctReceipt, JAX-WS style.
pub const SEND_RT_V1_FULL: &str = concat!(
    r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>"#,
    r#"<ns2:paSendRTReq xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">"#,
    r#"<idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation>"#,
    r#"<receipt><receiptId>token-v1</receiptId><noticeNumber>311111111112222222</noticeNumber>"#,
    r#"<fiscalCode>77777777777</fiscalCode><outcome>OK</outcome>"#,
    r#"<creditorReferenceId>11111111112222222</creditorReferenceId><paymentAmount>100.00</paymentAmount>"#,
    r#"<description>TARI 2030</description><companyName>Comune</companyName><officeName>Tributi</officeName>"#,
    r#"<debtor><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType>"#,
    r#"<entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier>"#,
    r#"<fullName>Mario Rossi</fullName></debtor>"#,
    r#"<transferList><transfer><idTransfer>1</idTransfer><transferAmount>100.00</transferAmount>"#,
    r#"<fiscalCodePA>77777777777</fiscalCodePA><IBAN>IT60X0542811101000000123456</IBAN>"#,
    r#"<remittanceInformation>TARI 2030</remittanceInformation><transferCategory>9/0101108TS/</transferCategory>"#,
    r#"<metadata><mapEntry><key>k</key><value>v</value></mapEntry></metadata></transfer></transferList>"#,
    r#"<idPSP>BCITITMM</idPSP><pspFiscalCode>00799960158</pspFiscalCode><pspPartitaIVA>00799960158</pspPartitaIVA>"#,
    r#"<PSPCompanyName>Intesa</PSPCompanyName><idChannel>00799960158_01</idChannel>"#,
    r#"<channelDescription>app</channelDescription>"#,
    r#"<payer><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType>"#,
    r#"<entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier>"#,
    r#"<fullName>Mario Rossi</fullName></payer><paymentMethod>cash</paymentMethod><fee>0.00</fee>"#,
    r#"<paymentDateTime>2030-06-01T10:15:30</paymentDateTime><applicationDate>2030-06-01</applicationDate>"#,
    r#"<transferDate>2030-06-02Z</transferDate><metadata><mapEntry><key>a</key><value>b</value></mapEntry></metadata>"#,
    r#"<standIn>0</standIn></receipt></ns2:paSendRTReq></S:Body></S:Envelope>"#
);

/// The decoded service document of [`DEMAND_DONATION`].
pub const DONATION_DOCUMENT: &str = r#"<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService"><importo>25.00</importo><causale>restauro della fontana</causale></service>"#;

/// A paDemandPaymentNoticeRequest for the example configuration's donation service, its
/// document as base64 ([`DONATION_DOCUMENT`]).
pub const DEMAND_DONATION: &str = concat!(
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" "#,
    r#"xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body>"#,
    r#"<pafn:paDemandPaymentNoticeRequest><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA>"#,
    r#"<idStation>77777777777_01</idStation><idServizio>DONAZ</idServizio><idSoggettoServizio>00001</idSoggettoServizio>"#,
    r#"<datiSpecificiServizioRequest>PHNlcnZpY2UgeG1sbnM9Imh0dHA6Ly9QdW50b0FjY2Vzc29QU1Auc3Bjb29wLmdvdi5pdC9HZW5lcmFsU2VydmljZSI+"#,
    r#"PGltcG9ydG8+MjUuMDA8L2ltcG9ydG8+PGNhdXNhbGU+cmVzdGF1cm8gZGVsbGEgZm9udGFuYTwvY2F1c2FsZT48L3NlcnZpY2U+</datiSpecificiServizioRequest>"#,
    r#"</pafn:paDemandPaymentNoticeRequest></soapenv:Body></soapenv:Envelope>"#
);

pub fn demand_response() -> DemandResponse {
    DemandResponse {
        qr_code: QrCode {
            fiscal_code: fiscal_code(),
            notice_number: NoticeNumber::parse("302000000000000173").unwrap(),
        },
        payment: verify_response(),
    }
}
