//! paDemandPaymentNotice end to end over HTTP, with the example configuration's services
//! (DONAZ: a donation of a chosen amount; CERTA: a certificate with a digital stamp). Every
//! answer is validated with xmllint; an OK notice is then verified, activated and read back
//! over REST like any other.

mod common;
mod harness;

use gpd_gateway::domain::{Iuv, NoticeNumber, SegregationCode};
use gpd_gateway::xml::base64;
use harness::{TestServer, json, text};

const ORG: &str = "77777777777";
const GS: &str = "http://PuntoAccessoPSP.spcoop.gov.it/GeneralService";

fn service_document(fields: &str) -> String {
    format!(r#"<service xmlns="{GS}">{fields}</service>"#)
}

/// A demand with explicit ids, service and (already encoded) service data.
fn demand_with(id_pa: &str, broker: &str, station: &str, service: &str, data: &str) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Body>
    <pafn:paDemandPaymentNoticeRequest>
      <idPA>{id_pa}</idPA>
      <idBrokerPA>{broker}</idBrokerPA>
      <idStation>{station}</idStation>
      <idServizio>{service}</idServizio>
      <idSoggettoServizio>00001</idSoggettoServizio>
      <datiSpecificiServizioRequest>{data}</datiSpecificiServizioRequest>
    </pafn:paDemandPaymentNoticeRequest>
  </soapenv:Body>
</soapenv:Envelope>"#
    )
}

/// A demand of creditor 77777777777 on its station for `service` with these fields.
fn demand(service: &str, fields: &str) -> String {
    let data = base64::encode(service_document(fields).as_bytes());
    demand_with(ORG, ORG, "77777777777_01", service, &data)
}

/// Posts a request that must be answered with HTTP 200 and a schema-valid envelope.
async fn call(server: &TestServer, action: &str, body: &str) -> String {
    let r = server.soap(Some(action), body).await;
    let answer = text(&r);
    assert_eq!(r.status, 200, "{answer}");
    common::validate_envelope(&r.body)
        .unwrap_or_else(|e| panic!("invalid response: {e}\n{answer}"));
    answer
}

fn element<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let start = answer.find(&format!("<{name}>"))? + name.len() + 2;
    Some(&answer[start..start + answer[start..].find('<')?])
}

fn assert_ko(answer: &str, code: &str, description: &str) {
    assert!(answer.contains("<outcome>KO</outcome>"), "{answer}");
    assert_eq!(element(answer, "faultCode"), Some(code), "{answer}");
    assert_eq!(element(answer, "id"), Some(ORG), "{answer}");
    let found = element(answer, "description")
        .unwrap_or_default()
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    assert!(
        found.contains(description),
        "{description:?} not in {answer}"
    );
}

fn notice_of(answer: &str) -> NoticeNumber {
    assert!(answer.contains("<outcome>OK</outcome>"), "{answer}");
    NoticeNumber::parse(element(answer, "noticeNumber").expect("a noticeNumber")).unwrap()
}

fn verify(notice: &NoticeNumber) -> String {
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:paVerifyPaymentNoticeReq xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>{ORG}</idPA><idBrokerPA>{ORG}</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{ORG}</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode></ns2:paVerifyPaymentNoticeReq></S:Body></S:Envelope>"#
    )
}

fn get_payment(wrapper: &str, notice: &NoticeNumber) -> String {
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:{wrapper} xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>{ORG}</idPA><idBrokerPA>{ORG}</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{ORG}</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode></ns2:{wrapper}></S:Body></S:Envelope>"#
    )
}

fn iuv(base: u64) -> Iuv {
    Iuv::from_parts(SegregationCode::parse("02").unwrap(), base).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_has_its_fault_and_issues_nothing() {
    let server = TestServer::start().await;
    let ok_data = base64::encode(service_document("<importo>10.00</importo>").as_bytes());
    let encoded = |doc: &str| base64::encode(doc.as_bytes());
    let cases: Vec<(String, &str, &str)> = vec![
        (
            demand("XXXXX", "<importo>10.00</importo>"),
            "PAA_PAGAMENTO_SCONOSCIUTO",
            "idServizio XXXXX is not a service of creditor 77777777777",
        ),
        (
            demand_with(ORG, ORG, "77777777777_01", "DONAZ", "bm90IGJhc2U2NA=="),
            "PAA_SINTASSI_XSD",
            "datiSpecificiServizioRequest: the service document is not well-formed XML: text outside",
        ),
        (
            demand_with(ORG, ORG, "77777777777_01", "DONAZ", "Zm9v!"),
            "PAA_SINTASSI_XSD",
            "datiSpecificiServizioRequest: must be base64",
        ),
        (
            demand_with(
                ORG,
                ORG,
                "77777777777_01",
                "DONAZ",
                &encoded(&format!(
                    r#"<!DOCTYPE service [<!ENTITY x "10.00">]><service xmlns="{GS}"><importo>&x;</importo></service>"#
                )),
            ),
            "PAA_SINTASSI_XSD",
            "must not have a DTD",
        ),
        (
            demand_with(
                ORG,
                ORG,
                "77777777777_01",
                "DONAZ",
                &encoded(&format!(
                    r#"<service xmlns="{GS}"><importo>10.00</service>"#
                )),
            ),
            "PAA_SINTASSI_XSD",
            "not well-formed XML",
        ),
        (
            demand("DONAZ", "<causale>x</causale>"),
            "PAA_SEMANTICA",
            "field 'importo' is required by service DONAZ",
        ),
        (
            demand("DONAZ", "<importo>0.99</importo>"),
            "PAA_SEMANTICA",
            "field 'importo' must be between 1.00 and 5000.00, is 0.99",
        ),
        (
            demand("DONAZ", "<importo>10</importo>"),
            "PAA_SEMANTICA",
            "field 'importo' must be an amount in euro",
        ),
        (
            demand("DONAZ", "<importo>10.00</importo><iban>IT00</iban>"),
            "PAA_SEMANTICA",
            "unexpected field 'iban'",
        ),
        (
            demand("DONAZ", "<importo><euro>10</euro></importo>"),
            "PAA_SEMANTICA",
            "field 'importo' must be a value, not contain elements",
        ),
        (
            demand(
                "CERTA",
                "<tipo>MORTE</tipo><hashDocumento>cXVhbHNpYXNpIGNvc2E=</hashDocumento><provincia>RM</provincia>",
            ),
            "PAA_SEMANTICA",
            "field 'tipo' must be one of: NASCITA, RESIDENZA, STATO_CIVILE",
        ),
        (
            demand_with(ORG, "99999999999", "77777777777_01", "DONAZ", &ok_data),
            "PAA_ID_INTERMEDIARIO_ERRATO",
            "idBrokerPA 99999999999",
        ),
        (
            demand_with(ORG, ORG, "77777777777_09", "DONAZ", &ok_data),
            "PAA_STAZIONE_INT_ERRATA",
            "idStation 77777777777_09",
        ),
        (
            demand_with(ORG, ORG, "77777777777_01", "DONA", &ok_data),
            "PAA_SINTASSI_XSD",
            "idServizio: must be exactly 5 characters",
        ),
    ];
    for (request, code, description) in &cases {
        let answer = call(&server, "paDemandPaymentNotice", request).await;
        assert_ko(&answer, code, description);
    }
    // Another creditor's service, and a creditor we do not serve.
    let answer = call(
        &server,
        "paDemandPaymentNotice",
        &demand_with("88888888888", ORG, "77777777777_02", "DONAZ", &ok_data),
    )
    .await;
    assert_eq!(
        element(&answer, "faultCode"),
        Some("PAA_PAGAMENTO_SCONOSCIUTO")
    );
    let answer = call(
        &server,
        "paDemandPaymentNotice",
        &demand_with("12345678901", ORG, "77777777777_01", "DONAZ", &ok_data),
    )
    .await;
    assert_eq!(element(&answer, "faultCode"), Some("PAA_ID_DOMINIO_ERRATO"));
    // None of them used an IUV: the first notice issued has the first of the sequence.
    let answer = call(
        &server,
        "paDemandPaymentNotice",
        &demand("DONAZ", "<importo>10.00</importo>"),
    )
    .await;
    assert_eq!(notice_of(&answer), iuv(1).notice_number());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_donation_becomes_a_payable_notice() {
    let server = TestServer::start().await;
    let answer = call(
        &server,
        "paDemandPaymentNotice",
        &demand(
            "DONAZ",
            "<importo> 25.00 </importo><causale>restauro &amp; pulizia</causale>\
             <codiceFiscale>RSSMRA80A01H501U</codiceFiscale><nominativo>Mario Rossi</nominativo>",
        ),
    )
    .await;
    let notice = notice_of(&answer);
    let iuv = notice.iuv().expect("aux digit 3, valid check digits");
    assert_eq!(iuv.segregation_code().to_string(), "02");
    assert_eq!(element(&answer, "fiscalCode"), Some(ORG));
    assert_eq!(element(&answer, "amount"), Some("25.00"));
    assert_eq!(element(&answer, "options"), Some("EQ"));
    assert_eq!(element(&answer, "allCCP"), Some("false"));
    assert_eq!(
        element(&answer, "paymentDescription"),
        Some("Donazione restauro &amp; pulizia")
    );
    assert_eq!(element(&answer, "companyName"), Some("Comune di Esempio"));
    let due = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    assert_eq!(
        element(&answer, "dueDate"),
        Some(due.format("%Y-%m-%d").to_string().as_str())
    );

    let verified = call(&server, "paVerifyPaymentNotice", &verify(&notice)).await;
    assert!(verified.contains("<outcome>OK</outcome>"), "{verified}");
    assert_eq!(element(&verified, "amount"), Some("25.00"));
    let activated = call(
        &server,
        "paGetPaymentV2",
        &get_payment("paGetPaymentV2Request", &notice),
    )
    .await;
    assert!(activated.contains("<outcome>OK</outcome>"), "{activated}");
    assert_eq!(
        element(&activated, "creditorReferenceId"),
        Some(iuv.as_str())
    );
    assert_eq!(
        element(&activated, "entityUniqueIdentifierValue"),
        Some("RSSMRA80A01H501U")
    );
    assert_eq!(element(&activated, "fullName"), Some("Mario Rossi"));
    assert_eq!(
        element(&activated, "IBAN"),
        Some("IT60X0542811101000000123456")
    );

    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/DONAZ-{iuv}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let position = json(&r);
    assert_eq!(position["status"], "VALID");
    assert_eq!(position["paymentOption"][0]["amount"], 2500);

    // Without a debtor in the request the debtor is anonymous.
    let answer = call(
        &server,
        "paDemandPaymentNotice",
        &demand("DONAZ", "<importo>5.00</importo>"),
    )
    .await;
    let second = notice_of(&answer);
    assert_ne!(second, notice);
    let activated = call(
        &server,
        "paGetPaymentV2",
        &get_payment("paGetPaymentV2Request", &second),
    )
    .await;
    assert_eq!(
        element(&activated, "entityUniqueIdentifierValue"),
        Some("ANONIMO")
    );
    assert_eq!(element(&activated, "fullName"), Some("ANONIMO"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_carries_its_stamp_through_v2_only() {
    let server = TestServer::start().await;
    let answer = call(
        &server,
        "paDemandPaymentNotice",
        &demand(
            "CERTA",
            "<tipo>NASCITA</tipo><hashDocumento>cXVhbHNpYXNpIGNvc2E=</hashDocumento><provincia>RM</provincia>",
        ),
    )
    .await;
    assert_eq!(element(&answer, "amount"), Some("26.00"));
    let notice = notice_of(&answer);
    let v2 = call(
        &server,
        "paGetPaymentV2",
        &get_payment("paGetPaymentV2Request", &notice),
    )
    .await;
    assert!(v2.contains("<richiestaMarcaDaBollo>"), "{v2}");
    assert_eq!(element(&v2, "provinciaResidenza"), Some("RM"));
    let v1 = call(
        &server,
        "paGetPayment",
        &get_payment("paGetPaymentReq", &notice),
    )
    .await;
    assert_eq!(element(&v1, "faultCode"), Some("PAA_SEMANTICA"), "{v1}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_demands_get_distinct_notices() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let request = demand("DONAZ", &format!("<importo>{}.00</importo>", i + 1));
                notice_of(&call(&server, "paDemandPaymentNotice", &request).await)
            })
        })
        .collect();
    let mut notices = std::collections::BTreeSet::new();
    for t in tasks {
        assert!(notices.insert(t.await.unwrap()));
    }
    let expected: std::collections::BTreeSet<_> =
        (1..=12).map(|b| iuv(b).notice_number()).collect();
    assert_eq!(notices, expected);
    std::sync::Arc::into_inner(server)
        .expect("tasks done")
        .stop()
        .await;
}
