//! The creditor REST API end to end: create, read, publish, invalidate, mark paid, and the
//! problem bodies of every refusal.

mod harness;

use harness::positions::{iuv, position};
use harness::{TestServer, json};
use serde_json::{Value, json};

const ORG: &str = "77777777777";

fn detail(v: &Value) -> String {
    v["detail"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn create_read_publish_invalidate() {
    let server = TestServer::start().await;
    let body = position("P-1", &iuv(1, 1), 1000);
    let created = server
        .post_json(&format!("/organizations/{ORG}/debtpositions"), &body)
        .await;
    assert_eq!(created.status, 201, "{}", harness::text(&created));
    let created = json(&created);
    assert_eq!(created["status"], "DRAFT");
    assert_eq!(
        created["paymentOption"][0]["nav"],
        format!("3{}", iuv(1, 1))
    );
    assert_eq!(created["fullName"], "Mario Rossi");

    let read = server
        .get(&format!("/organizations/{ORG}/debtpositions/P-1"))
        .await;
    assert_eq!(read.status, 200);
    let read = json(&read);
    assert_eq!(read["status"], "DRAFT");
    assert_eq!(read["paymentOption"][0]["amount"], 1000);
    assert_eq!(read["paymentOption"][0]["status"], "PO_UNPAID");
    assert_eq!(
        read["paymentOption"][0]["transfer"][0]["organizationFiscalCode"],
        ORG
    );
    assert!(
        read.get("fullName").is_none(),
        "GET does not return the debtor's identity"
    );

    let published = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/P-1/publish"),
            &json!({}),
        )
        .await;
    assert_eq!(published.status, 200);
    assert_eq!(json(&published)["status"], "VALID");
    let again = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/P-1/publish"),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(detail(&json(&again)).contains("DRAFT"));

    let invalid = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/P-1/invalidate"),
            &json!({}),
        )
        .await;
    assert_eq!(invalid.status, 200);
    assert_eq!(json(&invalid)["status"], "INVALID");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn to_publish_with_future_validity_is_published() {
    let server = TestServer::start().await;
    let mut body = position("P-2", &iuv(1, 2), 500);
    body["validityDate"] = json!("2099-01-01T00:00:00");
    let created = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions?toPublish=true"),
            &body,
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(json(&created)["status"], "PUBLISHED");
    let body = position("P-3", &iuv(1, 3), 500);
    let created = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions?toPublish=true"),
            &body,
        )
        .await;
    assert_eq!(json(&created)["status"], "VALID");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_problems_name_the_field() {
    let server = TestServer::start().await;
    let path = format!("/organizations/{ORG}/debtpositions");
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut b = position("V-1", &iuv(1, 10), 1000);
                b["paymentOption"][0]["amount"] = json!(900);
                b
            },
            "paymentOption[0].amount",
        ),
        (
            {
                let mut b = position("V-2", &iuv(1, 11), 1000);
                b["paymentOption"][0]["transfer"][0]["idTransfer"] = json!("6");
                b
            },
            "paymentOption[0].transfer[0].idTransfer",
        ),
        (
            {
                let mut b = position("V-3", &iuv(1, 12), 1000);
                b["paymentOption"][0]["transfer"][0]["stamp"] =
                    json!({"hashDocument": "abcd", "stampType": "01", "provincialResidence": "RM"});
                b
            },
            "paymentOption[0].transfer[0].stamp",
        ),
        (
            {
                let mut b = position("V-4", &iuv(1, 13), 1000);
                b["paymentOption"][0]["transfer"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("iban");
                b
            },
            "paymentOption[0].transfer[0]",
        ),
        (
            {
                let mut b = position("V-5", &iuv(1, 14), 1000);
                b["paymentOption"][0]["dueDate"] = json!("2001-01-01T00:00:00");
                b
            },
            "paymentOption[0].dueDate",
        ),
        (
            {
                let mut b = position("V-6", &iuv(1, 15), 1000);
                b["paymentOption"][0]["paymentOptionMetadata"] =
                    json!([{"key": "NOTIFICATION_FEE", "value": "100"}]);
                b
            },
            "paymentOption[0].paymentOptionMetadata[0].key",
        ),
        (
            {
                let mut b = position("V-7", &iuv(47, 16), 1000);
                b["iupd"] = json!("V-7");
                b
            },
            "paymentOption[0].iuv",
        ),
        (
            {
                let mut b = position("V-8", "01000000000000199", 1000);
                b["iupd"] = json!("V-8");
                b
            },
            "paymentOption[0].iuv",
        ),
        (
            {
                let mut b = position("V-9", &iuv(1, 17), 1000);
                b["paymentOption"][0]["amount"] = json!(0);
                b["paymentOption"][0]["transfer"][0]["amount"] = json!(0);
                b
            },
            "paymentOption[0].amount",
        ),
        (
            {
                let mut b = position("V-10", &iuv(1, 18), 1000);
                b["validityDate"] = json!("2001-01-01T00:00:00");
                b
            },
            "validityDate",
        ),
        (
            {
                let mut b = position("V-11", &iuv(1, 19), 1000);
                b["fiscalCode"] = json!("X");
                b
            },
            "fiscalCode",
        ),
        (
            {
                let mut b = position("V-12", &iuv(1, 20), 1000);
                b["country"] = json!("Italy");
                b
            },
            "country",
        ),
        (
            {
                let mut b = position("V 13", &iuv(1, 21), 1000);
                b["type"] = json!("F");
                b
            },
            "iupd",
        ),
        (
            {
                let mut b = position("V-14", &iuv(1, 22), 1000);
                b["paymentOption"][0]["amount"] = json!("ten");
                b
            },
            "paymentOption[0].amount",
        ),
        (
            {
                let mut b = position("V-15", &iuv(1, 23), 1000);
                b.as_object_mut().unwrap().remove("switchToExpired");
                b
            },
            "switchToExpired",
        ),
        (
            {
                let mut b = position("V-16", &iuv(1, 24), 1000);
                b["paymentOption"][0]["transfer"][0]["organizationFiscalCode"] = json!("123");
                b
            },
            "paymentOption[0].transfer[0].organizationFiscalCode",
        ),
    ];
    for (body, field) in cases {
        let r = server.post_json(&path, &body).await;
        assert_eq!(r.status, 400, "{field}: {}", harness::text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let p = json(&r);
        assert_eq!(p["status"], 400);
        assert!(detail(&p).contains(field), "expected {field} in {p}");
    }
    let bad_json = server.request("POST", &path, &[], b"{not json").await;
    assert_eq!(bad_json.status, 400);
    // Nothing of the refused positions was stored.
    assert_eq!(server.get(&format!("{path}/V-1")).await.status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_and_unknown_resources() {
    let server = TestServer::start().await;
    let path = format!("/organizations/{ORG}/debtpositions");
    assert_eq!(
        server
            .post_json(&path, &position("D-1", &iuv(1, 30), 100))
            .await
            .status,
        201
    );
    let same_iupd = server
        .post_json(&path, &position("D-1", &iuv(1, 31), 100))
        .await;
    assert_eq!(same_iupd.status, 409);
    assert!(detail(&json(&same_iupd)).contains("iupd"));
    let same_iuv = server
        .post_json(&path, &position("D-2", &iuv(1, 30), 100))
        .await;
    assert_eq!(same_iuv.status, 409);
    assert!(detail(&json(&same_iuv)).contains(&iuv(1, 30)));
    // The same IUV for another creditor is fine.
    let other = server
        .post_json(
            "/organizations/88888888888/debtpositions",
            &position("D-1", &iuv(47, 30), 100),
        )
        .await;
    assert_eq!(other.status, 201, "{}", harness::text(&other));

    assert_eq!(server.get(&format!("{path}/NOPE")).await.status, 404);
    let unknown_org = server
        .post_json(
            "/organizations/12345678901/debtpositions",
            &position("D-3", &iuv(1, 32), 100),
        )
        .await;
    assert_eq!(unknown_org.status, 404);
    assert_eq!(
        server
            .get("/organizations/1234/debtpositions/X")
            .await
            .status,
        400
    );
    assert_eq!(
        server
            .post_json(&format!("{path}/NOPE/publish"), &json!({}))
            .await
            .status,
        404
    );
    assert_eq!(server.get("/nothing/here").await.status, 404);
    let wrong_method = server
        .request("DELETE", &format!("{path}/D-1/publish"), &[], b"")
        .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    assert_eq!(
        server
            .post_json(
                &format!("{path}?toPublish=maybe"),
                &position("D-4", &iuv(1, 33), 1)
            )
            .await
            .status,
        400
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mark_paid_moves_the_position() {
    let server = TestServer::start().await;
    let path = format!("/organizations/{ORG}/debtpositions");
    assert_eq!(
        server
            .post_json(
                &format!("{path}?toPublish=true"),
                &position("M-1", &iuv(1, 40), 100)
            )
            .await
            .status,
        201
    );
    let nav = format!("3{}", iuv(1, 40));
    let paid = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav}"),
            &json!({"paymentDate": "2025-05-05T10:00:00"}),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", harness::text(&paid));
    let paid = json(&paid);
    assert_eq!(paid["status"], "PAID");
    assert_eq!(paid["paymentOption"][0]["status"], "PO_PAID");
    assert_eq!(paid["paymentDate"], "2025-05-05T10:00:00");
    let again = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav}"),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, 409);
    let unknown = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/301000000000999999"),
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    server.stop().await;
}

/// Sends only the head of a request that declares a body over the limit, and reads the answer:
/// the gateway refuses it from the head, without reading the body.
async fn declared_too_large(server: &TestServer, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_the_limit_is_413() {
    let server = TestServer::start().await;
    let rest = declared_too_large(&server, &format!("/organizations/{ORG}/debtpositions")).await;
    assert!(rest.starts_with("HTTP/1.1 413"), "{rest}");
    assert!(rest.contains("\"status\":413"), "{rest}");
    let soap = declared_too_large(&server, "/partner").await;
    assert!(soap.starts_with("HTTP/1.1 413"), "{soap}");
    assert!(
        soap.contains("<faultcode>soapenv:Client</faultcode>"),
        "{soap}"
    );
    // A body just under the limit is read and judged on its content.
    let r = server
        .request("POST", "/partner", &[], &vec![b' '; (1 << 20) - 1])
        .await;
    assert_eq!(r.status, 400);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health() {
    let server = TestServer::start().await;
    let r = server.get("/health").await;
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["status"], "UP");
    server.stop().await;
}
