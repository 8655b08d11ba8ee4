//! paSendRT / paSendRTV2 requests as the Node sends them, for end-to-end tests.

use gpd_gateway::domain::{Iuv, SegregationCode};

/// One transfer of a receipt: beneficiary, amount in cents, and a stamp instead of an IBAN.
#[derive(Debug, Clone)]
pub struct ReceiptTransfer {
    pub fiscal_code: String,
    pub cents: i64,
    pub stamp: bool,
}

pub fn to(fiscal_code: &str, cents: i64) -> ReceiptTransfer {
    ReceiptTransfer {
        fiscal_code: fiscal_code.to_owned(),
        cents,
        stamp: false,
    }
}

#[derive(Debug, Clone)]
pub struct ReceiptRequest {
    pub v2: bool,
    pub id_pa: String,
    pub id_broker_pa: String,
    pub id_station: String,
    pub receipt_id: String,
    /// receipt/fiscalCode: the notice's creditor.
    pub fiscal_code: String,
    pub iuv: String,
    pub transfers: Vec<ReceiptTransfer>,
}

pub fn iuv(segregation: &str, base: u64) -> String {
    Iuv::from_parts(SegregationCode::parse(segregation).unwrap(), base)
        .unwrap()
        .to_string()
}

impl ReceiptRequest {
    /// A V2 receipt of creditor 77777777777 on its station, one transfer to itself.
    pub fn v2(receipt_id: &str, iuv: &str, cents: i64) -> ReceiptRequest {
        ReceiptRequest {
            v2: true,
            id_pa: "77777777777".into(),
            id_broker_pa: "77777777777".into(),
            id_station: "77777777777_01".into(),
            receipt_id: receipt_id.into(),
            fiscal_code: "77777777777".into(),
            iuv: iuv.into(),
            transfers: vec![to("77777777777", cents)],
        }
    }

    /// [`ReceiptRequest::xml`] owed by `debtor` and paid by `payer` (fiscal code, full name)
    /// rather than by the default debtor with no payer.
    pub fn xml_of(&self, debtor: (&str, &str), payer: Option<(&str, &str)>) -> String {
        let subject = |element: &str, (code, name): (&str, &str)| {
            format!(
                "<{element}><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType>\
                 <entityUniqueIdentifierValue>{code}</entityUniqueIdentifierValue></uniqueIdentifier>\
                 <fullName>{name}</fullName><city>Roma</city><e-mail>{}@example.it</e-mail></{element}>",
                code.to_lowercase()
            )
        };
        let xml = self.xml();
        let start = xml.find("<debtor>").expect("a debtor");
        let end = xml.find("</debtor>").expect("a debtor") + "</debtor>".len();
        let mut xml = format!(
            "{}{}{}",
            &xml[..start],
            subject("debtor", debtor),
            &xml[end..]
        );
        if let Some(payer) = payer {
            let at = xml.find("<paymentMethod>").expect("a payment method");
            xml.insert_str(at, &subject("payer", payer));
        }
        xml
    }

    pub fn action(&self) -> &'static str {
        if self.v2 { "paSendRTV2" } else { "paSendRT" }
    }

    pub fn xml(&self) -> String {
        let wrapper = if self.v2 {
            "paSendRTV2Request"
        } else {
            "paSendRTReq"
        };
        let amount: i64 = self.transfers.iter().map(|t| t.cents).sum();
        let money = |c: i64| format!("{}.{:02}", c / 100, c % 100);
        let mut transfers = String::new();
        for (i, t) in self.transfers.iter().enumerate() {
            let account = if t.stamp {
                "<MBDAttachment>PG1hcmNhRGFCb2xsbz48L21hcmNhRGFCb2xsbz4=</MBDAttachment>".to_owned()
            } else {
                "<IBAN>IT60X0542811101000000123456</IBAN>".to_owned()
            };
            let company = if self.v2 {
                "<companyName>Beneficiario</companyName>"
            } else {
                ""
            };
            transfers.push_str(&format!(
                "<transfer><idTransfer>{}</idTransfer><transferAmount>{}</transferAmount>\
                 <fiscalCodePA>{}</fiscalCodePA>{company}{account}<remittanceInformation>TARI 2025</remittanceInformation>\
                 <transferCategory>9/0101108TS/</transferCategory></transfer>",
                i + 1,
                money(t.cents),
                t.fiscal_code
            ));
        }
        let v2_only = if self.v2 {
            "<paymentNote>nota</paymentNote><fee>1.00</fee><primaryCiIncurredFee>0.50</primaryCiIncurredFee>\
             <idBundle>bundle-1</idBundle><idCiBundle>ci-bundle-1</idCiBundle>"
        } else {
            "<fee>1.00</fee>"
        };
        let payment_method = "<paymentMethod>creditCard</paymentMethod>";
        format!(
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Header/>
  <soapenv:Body>
    <pafn:{wrapper}>
      <idPA>{id_pa}</idPA>
      <idBrokerPA>{broker}</idBrokerPA>
      <idStation>{station}</idStation>
      <receipt>
        <receiptId>{receipt_id}</receiptId>
        <noticeNumber>3{iuv}</noticeNumber>
        <fiscalCode>{fiscal_code}</fiscalCode>
        <outcome>OK</outcome>
        <creditorReferenceId>{iuv}</creditorReferenceId>
        <paymentAmount>{amount}</paymentAmount>
        <description>TARI 2025 - saldo</description>
        <companyName>Comune di Esempio</companyName>
        <officeName>Ufficio Tributi</officeName>
        <debtor><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType><entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier><fullName>Mario Rossi</fullName></debtor>
        <transferList>{transfers}</transferList>
        <idPSP>BCITITMM</idPSP>
        <PSPCompanyName>Banca Esempio</PSPCompanyName>
        <idChannel>BCITITMM_01</idChannel>
        <channelDescription>app</channelDescription>
        {payment_method}{v2_only}
        <paymentDateTime>2025-06-01T10:15:30</paymentDateTime>
        <applicationDate>2025-06-01</applicationDate>
        <transferDate>2025-06-02</transferDate>
      </receipt>
    </pafn:{wrapper}>
  </soapenv:Body>
</soapenv:Envelope>"#,
            id_pa = self.id_pa,
            broker = self.id_broker_pa,
            station = self.id_station,
            receipt_id = self.receipt_id,
            iuv = self.iuv,
            fiscal_code = self.fiscal_code,
            amount = money(amount),
        )
    }
}
