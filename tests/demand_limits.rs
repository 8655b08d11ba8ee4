//! paDemandPaymentNotice within its limits, end to end over HTTP: a service asked more often
//! than its rate, and a creditor with as many unpaid spontaneous notices as it may have, are
//! answered PAA_SYSTEM_ERROR (the KO the Node retries) naming the limit; positions created over
//! REST do not count, and a paid notice makes room again.

mod common;
mod harness;

use std::time::Duration;

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::xml::base64;
use harness::positions::{iuv, position};
use harness::{TestServer, text};

const ORG: &str = "77777777777";

/// The example configuration with these replacements made, each of which must apply.
fn config(changes: &[(&str, &str)]) -> Config {
    let mut toml = gpd_gateway::config::EXAMPLE_TOML.to_owned();
    for (from, to) in changes {
        assert!(toml.contains(from), "{from} is not in the example");
        toml = toml.replacen(from, to, 1);
    }
    Config::parse(&toml, "t").unwrap()
}

fn demand(service: &str, fields: &str) -> String {
    let document = format!(
        r#"<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService">{fields}</service>"#
    );
    let data = base64::encode(document.as_bytes());
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body><pafn:paDemandPaymentNoticeRequest><idPA>{ORG}</idPA><idBrokerPA>{ORG}</idBrokerPA><idStation>77777777777_01</idStation><idServizio>{service}</idServizio><idSoggettoServizio>00001</idSoggettoServizio><datiSpecificiServizioRequest>{data}</datiSpecificiServizioRequest></pafn:paDemandPaymentNoticeRequest></soapenv:Body></soapenv:Envelope>"#
    )
}

const DONATION: &str = "<importo>5.00</importo>";
const CERTIFICATE: &str =
    "<tipo>NASCITA</tipo><hashDocumento>cXVhbHNpYXNp</hashDocumento><provincia>RM</provincia>";

fn element<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let start = answer.find(&format!("<{name}>"))? + name.len() + 2;
    Some(&answer[start..start + answer[start..].find('<')?])
}

/// Posts a demand; the answer must be HTTP 200 and schema-valid.
async fn ask(server: &TestServer, service: &str, fields: &str) -> String {
    let r = server
        .soap(Some("paDemandPaymentNotice"), &demand(service, fields))
        .await;
    let answer = text(&r);
    assert_eq!(r.status, 200, "{answer}");
    common::validate_envelope(&r.body)
        .unwrap_or_else(|e| panic!("invalid response: {e}\n{answer}"));
    answer
}

fn ok_notice(answer: &str) -> String {
    assert!(answer.contains("<outcome>OK</outcome>"), "{answer}");
    element(answer, "noticeNumber").unwrap().to_owned()
}

fn assert_limited(answer: &str, description: &str) {
    assert!(answer.contains("<outcome>KO</outcome>"), "{answer}");
    assert_eq!(
        element(answer, "faultCode"),
        Some("PAA_SYSTEM_ERROR"),
        "{answer}"
    );
    assert_eq!(element(answer, "id"), Some(ORG), "{answer}");
    let found = element(answer, "description").unwrap_or_default();
    assert!(
        found.contains(description),
        "{description:?} not in {answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_over_its_rate_is_told_to_come_back() {
    let server = TestServer::start_with(
        config(&[
            ("rate_per_second = 20", "rate_per_second = 1"),
            ("burst = 40", "burst = 3"),
        ]),
        Clock::system(),
    )
    .await;
    for _ in 0..3 {
        ok_notice(&ask(&server, "DONAZ", DONATION).await);
    }
    let refused = ask(&server, "DONAZ", DONATION).await;
    assert_limited(&refused, "limit of 1 a second (burst 3)");
    assert!(refused.contains("DONAZ"), "{refused}");
    // Another service has its own rate.
    ok_notice(&ask(&server, "CERTA", CERTIFICATE).await);
    // A second later there is a token again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ok_notice(&ask(&server, "DONAZ", DONATION).await);
    assert_limited(
        &ask(&server, "DONAZ", DONATION).await,
        "limit of 1 a second",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_creditor_at_its_unpaid_cap_gets_a_temporary_ko() {
    let server = TestServer::start_with(
        config(&[(
            "max_unpaid_spontaneous = 10000",
            "max_unpaid_spontaneous = 2",
        )]),
        Clock::system(),
    )
    .await;
    // A position the creditor made over REST is not a spontaneous one.
    let path = format!("/organizations/{ORG}/debtpositions?toPublish=true");
    let r = server
        .post_json(&path, &position("REST-1", &iuv(1, 5), 1000))
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));

    let first = ok_notice(&ask(&server, "DONAZ", DONATION).await);
    ok_notice(&ask(&server, "CERTA", CERTIFICATE).await);
    let refused = ask(&server, "DONAZ", DONATION).await;
    assert_limited(
        &refused,
        "has 2 unpaid spontaneous payment notices, its limit",
    );
    // Refused before anything was created: the store still has two.
    let count = server
        .ctx
        .store
        .count_unpaid_spontaneous(
            gpd_gateway::domain::FiscalCodePA::parse(ORG).unwrap(),
            server.ctx.clock.now(),
            100,
        )
        .await
        .unwrap();
    assert_eq!(count, 2);

    // One is paid: there is room for one more.
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{first}"),
            &serde_json::json!({"paymentDate": "2026-01-01T10:00:00"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    ok_notice(&ask(&server, "DONAZ", DONATION).await);
    assert_limited(&ask(&server, "DONAZ", DONATION).await, "its limit");
    server.stop().await;
}
