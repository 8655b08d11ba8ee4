//! A drop-in for GPD's clients, end to end: where they rely on how GPD answers (booleans in
//! any case, identifiers that match nothing, the order of the checks, date-times to the
//! fraction of a second, `/info`), the gateway answers the same.

mod common;
mod harness;

use harness::positions::{iuv, position};
use harness::soap::get_payment_request;
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";

fn detail(v: &Value) -> String {
    v["detail"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn boolean_query_parameters_in_any_case() {
    let server = TestServer::start().await;
    let create = |iupd: &str, base: u64, query: &str| {
        let body = position(iupd, &iuv(1, base), 1000);
        let path = format!("/organizations/{ORG}/debtpositions{query}");
        let server = &server;
        async move { server.post_json(&path, &body).await }
    };
    for (i, (value, status)) in [
        ("true", "VALID"),
        ("True", "VALID"),
        ("TRUE", "VALID"),
        ("false", "DRAFT"),
        ("False", "DRAFT"),
        ("FALSE", "DRAFT"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = create(
            &format!("B-{i}"),
            100 + i as u64,
            &format!("?toPublish={value}"),
        )
        .await;
        assert_eq!(r.status, 201, "{value}: {}", text(&r));
        assert_eq!(json(&r)["status"], status, "{value}");
    }
    for value in ["yes", "1", "", "truee", "t"] {
        let r = create("B-X", 199, &format!("?toPublish={value}")).await;
        assert_eq!(r.status, 400, "{value}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(detail(&json(&r)).contains("toPublish"), "{}", text(&r));
    }
    // The update takes the same parameter.
    let path = format!("/organizations/{ORG}/debtpositions/B-3?toPublish=TrUe");
    let r = server
        .put_json(&path, &position("B-3", &iuv(1, 103), 1000))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["status"], "VALID");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn info_says_name_version_and_environment_without_a_key() {
    let server = TestServer::start().await;
    let r = server.request_without_key("GET", "/info", &[], b"").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        json(&r),
        json!({"name": "gpd-gateway", "version": env!("CARGO_PKG_VERSION"), "environment": "local"})
    );
    let r = server.request_without_key("POST", "/info", &[], b"").await;
    assert_eq!(r.status, 405);
    server.stop().await;

    let toml = format!(
        "{}\n[instance]\nenvironment = \"uat\"\n",
        gpd_gateway::config::EXAMPLE_TOML.replace("[instance]\nenvironment = \"local\"", "")
    );
    let config = gpd_gateway::config::Config::parse(&toml, "test").unwrap();
    let server = TestServer::start_with(config, gpd_gateway::clock::Clock::system()).await;
    let r = server.request_without_key("GET", "/info", &[], b"").await;
    assert_eq!(json(&r)["environment"], "uat");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_option_is_found_by_notice_number_or_iuv_anything_else_is_404() {
    let server = TestServer::start().await;
    let positions = format!("/organizations/{ORG}/debtpositions?toPublish=true");
    for (i, base) in [(1, 201), (2, 202)] {
        let r = server
            .post_json(
                &positions,
                &position(&format!("N-{i}"), &iuv(1, base), 1000),
            )
            .await;
        assert_eq!(r.status, 201, "{}", text(&r));
    }
    let fee = |id: &str| format!("/organizations/{ORG}/paymentoptions/{id}/notificationfee");
    let paid = |id: &str| format!("/organizations/{ORG}/paymentoptions/paids/{id}");

    // By IUV, then by notice number: the same option, the fee replaced.
    let r = server
        .put_json(&fee(&iuv(1, 201)), &json!({"notificationFee": 100}))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["nav"], format!("3{}", iuv(1, 201)));
    assert_eq!(json(&r)["amount"], 1100);
    let r = server
        .put_json(
            &fee(&format!("3{}", iuv(1, 201))),
            &json!({"notificationFee": 250}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["amount"], 1250);

    // Mark-paid takes the IUV too.
    let r = server.post_json(&paid(&iuv(1, 202)), &json!({})).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["status"], "PAID");

    // Whatever does not name an option of the creditor is not found: malformed, another aux
    // digit, an IUV whose check digits are wrong, an unknown one.
    let wrong_check = format!(
        "{}{}",
        &iuv(1, 203)[..15],
        if iuv(1, 203).ends_with("00") {
            "01"
        } else {
            "00"
        }
    );
    for id in [
        "123",
        "not-a-notice",
        "001000000000000201",
        wrong_check.as_str(),
        &iuv(1, 299),
        &format!("3{}", iuv(1, 299)),
        "3010000000000002011",
    ] {
        let r = server
            .put_json(&fee(id), &json!({"notificationFee": 1}))
            .await;
        assert_eq!(r.status, 404, "fee {id}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(detail(&json(&r)).contains(id), "{}", text(&r));
        let r = server.post_json(&paid(id), &json!({})).await;
        assert_eq!(r.status, 404, "paid {id}: {}", text(&r));
    }
    // The stored fee is untouched by the refusals.
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/N-1"))
        .await;
    assert_eq!(json(&r)["paymentOption"][0]["amount"], 1250);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_published_position_not_yet_valid_can_be_marked_paid() {
    let server = TestServer::start().await;
    let mut body = position("MP-1", &iuv(1, 301), 1000);
    body["validityDate"] = json!("2098-01-01T00:00:00");
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions?toPublish=true"),
            &body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(json(&r)["status"], "PUBLISHED");
    let path = format!("/organizations/{ORG}/paymentoptions/paids/3{}", iuv(1, 301));
    let r = server
        .post_json(&path, &json!({"paymentDate": "2026-01-02T03:04:05.678"}))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["status"], "PAID");
    let option = &json(&r)["paymentOption"][0];
    assert_eq!(option["status"], "PO_PAID");
    assert_eq!(option["paymentDate"], "2026-01-02T03:04:05.678");
    let r = server.post_json(&path, &json!({})).await;
    assert_eq!(r.status, 409, "{}", text(&r));

    // A draft is still not payable: it has not been published.
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions"),
            &position("MP-2", &iuv(1, 302), 1000),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/3{}", iuv(1, 302)),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_come_in_gpds_order() {
    let server = TestServer::start().await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions"),
            &position("O-1", &iuv(1, 401), 1000),
        )
        .await;
    assert_eq!(r.status, 201);
    let one = |iupd: &str| format!("/organizations/{ORG}/debtpositions/{iupd}");
    let mut invalid = position("O-1", &iuv(1, 401), 1000);
    invalid["paymentOption"][0]["amount"] = json!(-5);
    // An unknown IUPD is 404 whatever the body: not JSON, invalid, another IUPD, valid.
    for body in [
        &b"not json"[..],
        b"{}",
        invalid.to_string().as_bytes(),
        position("O-1", &iuv(1, 402), 1000).to_string().as_bytes(),
        position("O-9", &iuv(1, 402), 1000).to_string().as_bytes(),
    ] {
        let r = server
            .request(
                "PUT",
                &one("O-9"),
                &[("Content-Type", "application/json")],
                body,
            )
            .await;
        assert_eq!(r.status, 404, "{}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    // The same bodies on a known position are 400.
    for body in [&b"not json"[..], b"{}", invalid.to_string().as_bytes()] {
        let r = server
            .request(
                "PUT",
                &one("O-1"),
                &[("Content-Type", "application/json")],
                body,
            )
            .await;
        assert_eq!(r.status, 400, "{}", text(&r));
    }

    // A blank postal IBAN is refused, not read as absent.
    for blank in ["", "   "] {
        let mut body = position("O-2", &iuv(1, 403), 1000);
        body["paymentOption"][0]["transfer"][0]["postalIban"] = json!(blank);
        let r = server
            .post_json(&format!("/organizations/{ORG}/debtpositions"), &body)
            .await;
        assert_eq!(r.status, 400, "{blank:?}: {}", text(&r));
        assert!(
            detail(&json(&r)).contains("paymentOption[0].transfer[0].postalIban"),
            "{}",
            text(&r)
        );
        body["iupd"] = json!("O-1");
        body["paymentOption"][0]["iuv"] = json!(iuv(1, 401));
        let r = server.put_json(&one("O-1"), &body).await;
        assert_eq!(r.status, 400, "{blank:?}: {}", text(&r));
    }
    let r = server.get(&one("O-2")).await;
    assert_eq!(r.status, 404);
    // null is still "no postal IBAN".
    let mut body = position("O-2", &iuv(1, 403), 1000);
    body["paymentOption"][0]["transfer"][0]["postalIban"] = Value::Null;
    let r = server
        .post_json(&format!("/organizations/{ORG}/debtpositions"), &body)
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn date_times_keep_the_fraction_of_a_second() {
    let server = TestServer::start().await;
    let mut body = position("D-1", &iuv(1, 501), 1000);
    body["validityDate"] = json!("2030-01-01T00:00:00.125");
    body["paymentOption"][0]["dueDate"] = json!("2099-12-31T23:59:59.250");
    body["paymentOption"][0]["retentionDate"] = json!("2100-12-31T23:59:59.408");
    let r = server
        .post_json(&format!("/organizations/{ORG}/debtpositions"), &body)
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let check = |v: &Value| {
        assert_eq!(v["validityDate"], "2030-01-01T00:00:00.125");
        assert_eq!(v["paymentOption"][0]["dueDate"], "2099-12-31T23:59:59.250");
        assert_eq!(
            v["paymentOption"][0]["retentionDate"],
            "2100-12-31T23:59:59.408"
        );
    };
    check(&json(&r));
    let path = format!("/organizations/{ORG}/debtpositions/D-1");
    check(&json(&server.get(&path).await));

    // Published now (validity moved to the past) so that the Node can read it.
    body["validityDate"] = Value::Null;
    let r = server
        .put_json(&format!("{path}?toPublish=true"), &body)
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let nav = format!("3{}", iuv(1, 501));
    for (v2, action) in [(false, "paGetPayment"), (true, "paGetPaymentV2")] {
        let r = server
            .soap(Some(action), &get_payment_request(v2, &nav, ""))
            .await;
        let answer = text(&r);
        assert!(answer.contains("<outcome>OK</outcome>"), "{answer}");
        // retentionDate is an xs:dateTime: its fraction is kept; dueDate is an xs:date.
        assert!(
            answer.contains("<retentionDate>2100-12-31T23:59:59.408</retentionDate>"),
            "{answer}"
        );
        assert!(answer.contains("<dueDate>2099-12-31</dueDate>"), "{answer}");
        common::validate_envelope(&r.body).unwrap_or_else(|e| panic!("{e}\n{answer}"));
    }
    server.stop().await;
}
