//! paVerifyPaymentNotice, paGetPayment and paGetPaymentV2 end to end over HTTP: positions are
//! created over REST, the Node's requests are posted to /partner, and every SOAP response is
//! validated with xmllint against the project's schema and the official one.

mod common;
mod harness;

use gpd_gateway::store::PositionKey;
use harness::positions::iuv;
use harness::soap::get_payment_request;
use harness::{TestServer, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";
const BROKER: &str = "77777777777";
const STATION: &str = "77777777777_01";

fn nav(seg: u8, base: u64) -> String {
    format!("3{}", iuv(seg, base))
}

fn transfer(id: &str, amount: i64) -> Value {
    json!({"idTransfer": id, "amount": amount, "remittanceInformation": "TARI 2025 <saldo> & more",
           "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"})
}

fn position(iupd: &str, base: u64, transfers: Vec<Value>) -> Value {
    let amount: i64 = transfers
        .iter()
        .map(|t| t["amount"].as_i64().unwrap())
        .sum();
    json!({
        "iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
        "streetName": "Via Roma", "civicNumber": "1", "postalCode": "00100", "city": "Roma", "province": "RM",
        "country": "IT", "email": "mario.rossi@example.it",
        "companyName": "Comune di Esempio", "officeName": "Ufficio Tributi", "switchToExpired": false,
        "paymentOption": [{
            "iuv": iuv(1, base), "amount": amount, "description": "TARI 2025 - saldo", "isPartialPayment": false,
            "dueDate": "2099-12-31T23:59:59", "retentionDate": "2100-01-31T00:00:00",
            "paymentOptionMetadata": [{"key": "anno", "value": "2025"}],
            "transfer": transfers
        }]
    })
}

async fn create(server: &TestServer, body: &Value, publish: bool) {
    server.create_position(ORG, body, publish).await;
}

fn verify_request(
    id_pa: &str,
    broker: &str,
    station: &str,
    fiscal_code: &str,
    notice: &str,
) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Header/>
  <soapenv:Body>
    <pafn:paVerifyPaymentNoticeReq>
      <idPA>{id_pa}</idPA>
      <idBrokerPA>{broker}</idBrokerPA>
      <idStation>{station}</idStation>
      <qrCode>
        <fiscalCode>{fiscal_code}</fiscalCode>
        <noticeNumber>{notice}</noticeNumber>
      </qrCode>
    </pafn:paVerifyPaymentNoticeReq>
  </soapenv:Body>
</soapenv:Envelope>"#
    )
}

/// Posts a request that must be answered with HTTP 200 and a schema-valid envelope.
async fn call(server: &TestServer, action: Option<&str>, body: &str) -> String {
    let r = server.soap(action, body).await;
    let answer = text(&r);
    assert_eq!(r.status, 200, "{answer}");
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    common::validate_envelope(&r.body)
        .unwrap_or_else(|e| panic!("invalid response: {e}\n{answer}"));
    answer
}

fn fault_code(answer: &str) -> Option<&str> {
    let start = answer.find("<faultCode>")? + "<faultCode>".len();
    Some(&answer[start..start + answer[start..].find('<')?])
}

fn assert_ko(answer: &str, code: &str) {
    assert!(answer.contains("<outcome>KO</outcome>"), "{answer}");
    assert_eq!(fault_code(answer), Some(code), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_ok_answers_one_option() {
    let server = TestServer::start().await;
    let mut t2 = transfer("2", 3000);
    t2["organizationFiscalCode"] = json!(OTHER);
    create(
        &server,
        &position("S-1", 1, vec![transfer("1", 12000), t2]),
        true,
    )
    .await;
    let answer = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(ORG, BROKER, STATION, ORG, &nav(1, 1)),
    )
    .await;
    for expected in [
        "<outcome>OK</outcome>",
        "<paymentList><paymentOptionDescription><amount>150.00</amount><options>EQ</options><dueDate>2099-12-31</dueDate>",
        "<detailDescription>TARI 2025 - saldo</detailDescription><allCCP>false</allCCP>",
        "<paymentDescription>TARI 2025 - saldo</paymentDescription>",
        "<fiscalCodePA>77777777777</fiscalCodePA><companyName>Comune di Esempio</companyName><officeName>Ufficio Tributi</officeName>",
    ] {
        assert!(answer.contains(expected), "{expected}\n{answer}");
    }
    assert_eq!(answer.matches("<paymentOptionDescription>").count(), 1);
    assert!(!answer.contains("<fault>"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn all_ccp_only_when_every_transfer_is_postal() {
    let server = TestServer::start().await;
    let mut t1 = transfer("1", 100);
    t1["postalIban"] = json!("IT21Q0760101600000000654321");
    create(&server, &position("S-2", 2, vec![t1.clone()]), true).await;
    let answer = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(ORG, BROKER, STATION, ORG, &nav(1, 2)),
    )
    .await;
    assert!(answer.contains("<allCCP>true</allCCP>"), "{answer}");
    create(
        &server,
        &position("S-3", 3, vec![t1, transfer("2", 100)]),
        true,
    )
    .await;
    let answer = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(ORG, BROKER, STATION, ORG, &nav(1, 3)),
    )
    .await;
    assert!(answer.contains("<allCCP>false</allCCP>"), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_payment_v1_and_v2_carry_the_data() {
    let server = TestServer::start().await;
    let mut t1 = transfer("1", 12000);
    t1["postalIban"] = json!("IT21Q0760101600000000654321");
    t1["transferMetadata"] = json!([{"key": "capitolo", "value": "1234"}]);
    let mut t2 = transfer("2", 3000);
    t2["organizationFiscalCode"] = json!(OTHER);
    create(&server, &position("G-1", 10, vec![t1, t2]), true).await;

    let v1 = call(
        &server,
        Some("paGetPayment"),
        &get_payment_request(false, &nav(1, 10), ""),
    )
    .await;
    for expected in [
        "<paf:paGetPaymentRes><outcome>OK</outcome><data>",
        &format!(
            "<creditorReferenceId>{}</creditorReferenceId><paymentAmount>150.00</paymentAmount><dueDate>2099-12-31</dueDate><retentionDate>2100-01-31T00:00:00</retentionDate><lastPayment>false</lastPayment>",
            iuv(1, 10)
        ),
        "<description>TARI 2025 - saldo</description><companyName>Comune di Esempio</companyName><officeName>Ufficio Tributi</officeName>",
        "<debtor><uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType><entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier><fullName>Mario Rossi</fullName><streetName>Via Roma</streetName><civicNumber>1</civicNumber><postalCode>00100</postalCode><city>Roma</city><stateProvinceRegion>RM</stateProvinceRegion><country>IT</country><e-mail>mario.rossi@example.it</e-mail></debtor>",
        "<idTransfer>1</idTransfer><transferAmount>120.00</transferAmount><fiscalCodePA>77777777777</fiscalCodePA><IBAN>IT60X0542811101000000123456</IBAN><remittanceInformation>TARI 2025 &lt;saldo&gt; &amp; more</remittanceInformation>",
        "<idTransfer>2</idTransfer><transferAmount>30.00</transferAmount><fiscalCodePA>88888888888</fiscalCodePA><IBAN>",
        "<metadata><mapEntry><key>anno</key><value>2025</value></mapEntry></metadata></data>",
    ] {
        assert!(v1.contains(expected), "{expected}\n{v1}");
    }
    assert!(
        !v1.contains("<companyName>Provincia"),
        "V1 transfers have no companyName\n{v1}"
    );

    let v2 = call(
        &server,
        Some("paGetPaymentV2"),
        &get_payment_request(true, &nav(1, 10), ""),
    )
    .await;
    assert!(
        v2.contains("<paf:paGetPaymentV2Response><outcome>OK</outcome>"),
        "{v2}"
    );
    assert!(v2.contains("<fiscalCodePA>77777777777</fiscalCodePA><companyName>Comune di Esempio</companyName><IBAN>"), "{v2}");
    assert!(v2.contains("<fiscalCodePA>88888888888</fiscalCodePA><companyName>Provincia di Esempio</companyName><IBAN>"), "{v2}");
    assert!(
        v2.contains(
            "<metadata><mapEntry><key>capitolo</key><value>1234</value></mapEntry></metadata>"
        ),
        "{v2}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transfer_type_selects_the_account() {
    let server = TestServer::start().await;
    let mut t1 = transfer("1", 100);
    t1["postalIban"] = json!("IT21Q0760101600000000654321");
    create(&server, &position("G-2", 11, vec![t1]), true).await;
    let postal = call(
        &server,
        Some("paGetPaymentV2"),
        &get_payment_request(true, &nav(1, 11), "<transferType>POSTAL</transferType>"),
    )
    .await;
    assert!(
        postal.contains("<IBAN>IT21Q0760101600000000654321</IBAN>"),
        "{postal}"
    );
    assert!(!postal.contains("IBANAPPOGGIO"));
    let pagopa = call(
        &server,
        Some("paGetPaymentV2"),
        &get_payment_request(true, &nav(1, 11), "<transferType>PAGOPA</transferType>"),
    )
    .await;
    assert!(
        pagopa.contains("<IBAN>IT60X0542811101000000123456</IBAN>"),
        "{pagopa}"
    );
    assert!(
        pagopa.contains(
            "<mapEntry><key>IBANAPPOGGIO</key><value>IT21Q0760101600000000654321</value></mapEntry>"
        ),
        "{pagopa}"
    );
    let none = call(
        &server,
        Some("paGetPayment"),
        &get_payment_request(
            false,
            &nav(1, 11),
            "<amount>1.00</amount><paymentNote>cart 1</paymentNote><dueDate>2099-12-31</dueDate>",
        ),
    )
    .await;
    assert!(
        none.contains("<IBAN>IT60X0542811101000000123456</IBAN>"),
        "{none}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stamps_need_v2() {
    let server = TestServer::start().await;
    let stamp = json!({"idTransfer": "2", "amount": 1600, "remittanceInformation": "Bollo", "category": "9/0201133IM/",
        "stamp": {"hashDocument": "wHpFSLCGZjIvNSXxqtGbxg7275t446DHJZ+Ys6UFTmQ=", "stampType": "01", "provincialResidence": "RM"}});
    create(
        &server,
        &position("G-3", 12, vec![transfer("1", 1000), stamp]),
        true,
    )
    .await;
    let v2 = call(
        &server,
        Some("paGetPaymentV2"),
        &get_payment_request(true, &nav(1, 12), ""),
    )
    .await;
    assert!(
        v2.contains("<richiestaMarcaDaBollo><hashDocumento>wHpFSLCGZjIvNSXxqtGbxg7275t446DHJZ+Ys6UFTmQ=</hashDocumento><tipoBollo>01</tipoBollo><provinciaResidenza>RM</provinciaResidenza></richiestaMarcaDaBollo>"),
        "{v2}"
    );
    let v1 = call(
        &server,
        Some("paGetPayment"),
        &get_payment_request(false, &nav(1, 12), ""),
    )
    .await;
    assert_ko(&v1, "PAA_SEMANTICA");
    let verify = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(ORG, BROKER, STATION, ORG, &nav(1, 12)),
    )
    .await;
    assert!(
        verify.contains("<amount>26.00</amount>") && verify.contains("<allCCP>false</allCCP>"),
        "{verify}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn notification_fee_is_metadata() {
    let server = TestServer::start().await;
    create(
        &server,
        &position("G-4", 13, vec![transfer("1", 1000)]),
        true,
    )
    .await;
    let org = gpd_gateway::domain::FiscalCodePA::parse(ORG).unwrap();
    let key = PositionKey::Iupd(gpd_gateway::domain::position::Iupd::parse("G-4").unwrap());
    server
        .ctx
        .store
        .update_position(
            org,
            key,
            Box::new(|p| {
                p.options[0].notification_fee = Some(gpd_gateway::domain::Cents::new(250).unwrap());
                Ok(())
            }),
        )
        .await
        .unwrap();
    let v2 = call(
        &server,
        Some("paGetPaymentV2"),
        &get_payment_request(true, &nav(1, 13), ""),
    )
    .await;
    assert!(v2.contains("<mapEntry><key>anno</key><value>2025</value></mapEntry><mapEntry><key>NOTIFICATION_FEE</key><value>250</value></mapEntry>"), "{v2}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_faults() {
    let server = TestServer::start().await;
    create(
        &server,
        &position("F-DRAFT", 20, vec![transfer("1", 100)]),
        false,
    )
    .await;
    let mut future = position("F-FUTURE", 21, vec![transfer("1", 100)]);
    future["validityDate"] = json!("2099-01-01T00:00:00");
    create(&server, &future, true).await;
    create(
        &server,
        &position("F-INVALID", 22, vec![transfer("1", 100)]),
        true,
    )
    .await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/F-INVALID/invalidate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    create(
        &server,
        &position("F-PAID", 23, vec![transfer("1", 100)]),
        true,
    )
    .await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{}", nav(1, 23)),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1200)).naive_utc();
    let mut expiring = position("F-EXPIRED", 24, vec![transfer("1", 100)]);
    expiring["switchToExpired"] = json!(true);
    expiring["paymentOption"][0]["dueDate"] =
        json!(soon.format("%Y-%m-%dT%H:%M:%S%.3f").to_string());
    expiring["paymentOption"][0]
        .as_object_mut()
        .unwrap()
        .remove("retentionDate");
    create(&server, &expiring, true).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let cases = [
        (99, "PAA_PAGAMENTO_SCONOSCIUTO"),
        (20, "PAA_PAGAMENTO_SCONOSCIUTO"),
        (21, "PAA_PAGAMENTO_SCONOSCIUTO"),
        (22, "PAA_PAGAMENTO_ANNULLATO"),
        (23, "PAA_PAGAMENTO_DUPLICATO"),
        (24, "PAA_PAGAMENTO_SCADUTO"),
    ];
    for (base, code) in cases {
        let verify = call(
            &server,
            Some("paVerifyPaymentNotice"),
            &verify_request(ORG, BROKER, STATION, ORG, &nav(1, base)),
        )
        .await;
        assert_ko(&verify, code);
        assert!(verify.contains(&format!("<id>{ORG}</id>")), "{verify}");
        assert!(!verify.contains("<paymentList>"));
        for v2 in [false, true] {
            let action = if v2 { "paGetPaymentV2" } else { "paGetPayment" };
            let answer = call(
                &server,
                Some(action),
                &get_payment_request(v2, &nav(1, base), ""),
            )
            .await;
            assert_ko(&answer, code);
            assert!(!answer.contains("<data>"));
        }
    }
    let read = server
        .get(&format!("/organizations/{ORG}/debtpositions/F-EXPIRED"))
        .await;
    assert_eq!(
        harness::json(&read)["status"],
        "EXPIRED",
        "status is computed when read"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn installments_after_the_first_payment() {
    let server = TestServer::start().await;
    let mut body = position("I-1", 30, vec![transfer("1", 200)]);
    let installment = |base: u64| {
        json!({"iuv": iuv(1, base), "amount": 100, "description": "Rata", "isPartialPayment": true,
               "dueDate": "2099-12-31T23:59:59", "transfer": [transfer("1", 100)]})
    };
    body["paymentOption"]
        .as_array_mut()
        .unwrap()
        .extend([installment(31), installment(32)]);
    create(&server, &body, true).await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{}", nav(1, 31)),
            &json!({}),
        )
        .await;
    assert_eq!(harness::json(&r)["status"], "PARTIALLY_PAID");
    let single = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(ORG, BROKER, STATION, ORG, &nav(1, 30)),
    )
    .await;
    assert_ko(&single, "PAA_PAGAMENTO_DUPLICATO");
    let paid = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(ORG, BROKER, STATION, ORG, &nav(1, 31)),
    )
    .await;
    assert_ko(&paid, "PAA_PAGAMENTO_DUPLICATO");
    let next = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(ORG, BROKER, STATION, ORG, &nav(1, 32)),
    )
    .await;
    assert!(
        next.contains(
            "<outcome>OK</outcome><paymentList><paymentOptionDescription><amount>1.00</amount>"
        ),
        "{next}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn id_checks() {
    let server = TestServer::start().await;
    create(
        &server,
        &position("ID-1", 40, vec![transfer("1", 100)]),
        true,
    )
    .await;
    let n = nav(1, 40);
    let cases = [
        (
            verify_request(ORG, "99999999999", STATION, ORG, &n),
            "PAA_ID_INTERMEDIARIO_ERRATO",
        ),
        (
            verify_request(ORG, BROKER, "77777777777_99", ORG, &n),
            "PAA_STAZIONE_INT_ERRATA",
        ),
        (
            verify_request("12345678901", BROKER, STATION, "12345678901", &n),
            "PAA_ID_DOMINIO_ERRATO",
        ),
        (
            verify_request(ORG, BROKER, "77777777777_02", ORG, &n),
            "PAA_ID_DOMINIO_ERRATO",
        ),
        (
            verify_request(ORG, BROKER, STATION, OTHER, &n),
            "PAA_SEMANTICA",
        ),
    ];
    for (request, code) in cases {
        let answer = call(&server, Some("paVerifyPaymentNotice"), &request).await;
        assert_ko(&answer, code);
    }
    // The other creditor is bound to station _02.
    let answer = call(
        &server,
        Some("paVerifyPaymentNotice"),
        &verify_request(OTHER, BROKER, "77777777777_02", OTHER, &nav(47, 1)),
    )
    .await;
    assert_ko(&answer, "PAA_PAGAMENTO_SCONOSCIUTO");
    assert!(answer.contains(&format!("<id>{OTHER}</id>")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn syntax_faults_name_the_field() {
    let server = TestServer::start().await;
    let n = nav(1, 50);
    let cases: Vec<(String, &str)> = vec![
        (
            verify_request(ORG, BROKER, STATION, ORG, "3010"),
            "qrCode/noticeNumber",
        ),
        (
            verify_request(ORG, BROKER, STATION, "7777", &n),
            "qrCode/fiscalCode",
        ),
        (
            verify_request(&"7".repeat(36), BROKER, STATION, ORG, &n),
            "idPA",
        ),
        (
            verify_request(ORG, BROKER, STATION, ORG, &n)
                .replace("<idStation>77777777777_01</idStation>", ""),
            "idStation",
        ),
        (
            verify_request(ORG, BROKER, STATION, ORG, &n).replace(
                "<idPA>77777777777</idPA>",
                "<pafn:idPA>77777777777</pafn:idPA>",
            ),
            "idPA",
        ),
        (
            verify_request(ORG, BROKER, STATION, ORG, &n)
                .replace("</qrCode>", "</qrCode><extra>1</extra>"),
            "extra",
        ),
        (
            get_payment_request(false, &n, "<amount>10.5</amount>"),
            "amount",
        ),
        (
            get_payment_request(true, &n, "<transferType>BANK</transferType>"),
            "transferType",
        ),
        (
            get_payment_request(true, &n, "<dueDate>31/12/2099</dueDate>"),
            "dueDate",
        ),
    ];
    for (request, field) in cases {
        let action = if request.contains("paGetPaymentReq") {
            "paGetPayment"
        } else if request.contains("V2Request") {
            "paGetPaymentV2"
        } else {
            "paVerifyPaymentNotice"
        };
        let answer = call(&server, Some(action), &request).await;
        assert_ko(&answer, "PAA_SINTASSI_XSD");
        let description = answer.split("<description>").nth(1).unwrap_or_default();
        assert!(description.contains(field), "{field}: {answer}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn any_prefix_style_and_soap_action() {
    let server = TestServer::start().await;
    create(
        &server,
        &position("P-1", 60, vec![transfer("1", 100)]),
        true,
    )
    .await;
    let n = nav(1, 60);
    let default_ns = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><paVerifyPaymentNoticeReq xmlns="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA xmlns="">{ORG}</idPA><idBrokerPA xmlns="">{BROKER}</idBrokerPA><idStation xmlns="">{STATION}</idStation><qrCode xmlns=""><fiscalCode>{ORG}</fiscalCode><noticeNumber>{n}</noticeNumber></qrCode></paVerifyPaymentNoticeReq></Body></Envelope>"#
    );
    let pafn = verify_request(ORG, BROKER, STATION, ORG, &n);
    let ns2 = get_payment_request(false, &n, "");
    for (body, action) in [
        (default_ns.as_str(), Some("paVerifyPaymentNotice")),
        (pafn.as_str(), Some("\"paVerifyPaymentNotice\"")),
        (pafn.as_str(), None),
        (ns2.as_str(), Some("paGetPayment")),
        (ns2.as_str(), Some("paVerifyPaymentNotice")),
    ] {
        let answer = call(&server, action, body).await;
        assert!(
            answer.contains("<outcome>OK</outcome>"),
            "{action:?}\n{answer}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_soap_is_400_with_a_soap_fault() {
    let server = TestServer::start().await;
    let n = nav(1, 70);
    let soap12 = verify_request(ORG, BROKER, STATION, ORG, &n).replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let dtd = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>{}",
        verify_request("&lol2;", BROKER, STATION, ORG, &n)
    );
    let unknown_wrapper = verify_request(ORG, BROKER, STATION, ORG, &n)
        .replace("paVerifyPaymentNoticeReq", "paUnknownReq");
    for (body, action) in [
        ("this is not xml".to_owned(), Some("paVerifyPaymentNotice")),
        ("<a><b></a>".to_owned(), Some("paVerifyPaymentNotice")),
        (String::new(), None),
        (soap12, Some("paVerifyPaymentNotice")),
        (dtd, Some("paVerifyPaymentNotice")),
        ("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body/></soapenv:Envelope>".to_owned(), None),
        (unknown_wrapper.clone(), None),
    ] {
        let r = server.soap(action, &body).await;
        assert_eq!(r.status, 400, "{body}\n{}", text(&r));
        let answer = text(&r);
        assert!(answer.contains("<faultcode>soapenv:Client</faultcode>"), "{answer}");
        common::validate_envelope(&r.body).map(|_| ()).unwrap_or_else(|e| panic!("{e}\n{answer}"));
    }
    // An unknown payload with a SOAPAction we know: that operation's KO.
    let answer = call(&server, Some("paVerifyPaymentNotice"), &unknown_wrapper).await;
    assert!(
        answer.contains("<paf:paVerifyPaymentNoticeRes>"),
        "{answer}"
    );
    assert_ko(&answer, "PAA_SINTASSI_XSD");
    assert!(answer.contains(&format!("<id>{ORG}</id>")), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_bodies_never_break_the_server() {
    let server = TestServer::start().await;
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let many_ns = format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" {}><soapenv:Body/></soapenv:Envelope>",
        (0..5000)
            .map(|i| format!("xmlns:p{i}=\"urn:{i}\""))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut bodies = vec![
        deep,
        many_ns,
        "<".repeat(500_000),
        "\u{0}\u{1}\u{2}".to_owned(),
    ];
    let template = verify_request(ORG, BROKER, STATION, ORG, &nav(1, 90)).into_bytes();
    for _ in 0..200 {
        let mut b = template.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % b.len();
            b[i] = (seed >> 32) as u8;
        }
        bodies.push(String::from_utf8_lossy(&b).into_owned());
    }
    for body in &bodies {
        let r = server.soap(Some("paVerifyPaymentNotice"), body).await;
        assert!(r.status == 200 || r.status == 400, "{}", r.status);
    }
    // Still serving.
    let r = server.get("/health").await;
    assert_eq!(r.status, 200);
    server.stop().await;
}
