//! The OpenAPI document served at /openapi.json against the running gateway: every documented
//! operation is called, every answer (success and error) must be documented for its status
//! and match its schema, and methods a path does not document get 405.

mod harness;

use std::collections::BTreeSet;

use gpd_gateway::client::Response;
use harness::openapi::OpenApi;
use harness::receipts::{ReceiptRequest, iuv};
use harness::stub_station::{Behaviour, StubStation};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const FORM_TYPE: &str = "multipart/form-data; boundary=walk-boundary";

/// A multipart form with one part, `file`.
fn multipart(filename: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--walk-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--walk-boundary--\r\n");
    body
}

/// Calls operations by their documented template and checks each answer against the document.
struct Walk<'a> {
    server: &'a TestServer,
    api: OpenApi,
    called: BTreeSet<(String, String)>,
}

impl Walk<'_> {
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        values: &[(&str, &str)],
        query: &str,
        body: Option<Value>,
    ) -> Response {
        self.call_with(method, template, values, query, &[], body)
            .await
    }

    async fn call_with(
        &mut self,
        method: &str,
        template: &str,
        values: &[(&str, &str)],
        query: &str,
        extra: &[(&str, &str)],
        body: Option<Value>,
    ) -> Response {
        let mut path = template.to_owned();
        for (name, value) in values {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        assert!(!path.contains('{'), "{template}: a path value is missing");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers = extra.to_vec();
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        self.call_raw(method, template, &path, query, &headers, body.as_bytes())
            .await
    }

    /// Sends `body` as it is, with `headers`, to `path` (the template filled in).
    async fn call_raw(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let r = self
            .server
            .request(method, &format!("{path}{query}"), headers, body)
            .await;
        let content_type = r.header("content-type").unwrap_or("").to_owned();
        let schema = self
            .api
            .response_schema(method, template, r.status, &content_type)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&r)));
        if let Some(schema) = schema
            && content_type.contains("json")
        {
            let errors = self.api.check(schema, &json(&r));
            assert!(
                errors.is_empty(),
                "{method} {path} {}: {errors:#?}\n{}",
                r.status,
                text(&r)
            );
        }
        self.called.insert((method.to_owned(), template.to_owned()));
        r
    }
}

fn position(iupd: &str, base: u64) -> Value {
    json!({"iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
           "companyName": "Comune di Esempio", "switchToExpired": false,
           "paymentOption": [{"iuv": iuv("01", base), "amount": 1000, "description": "TARI", "isPartialPayment": false,
               "dueDate": "2099-12-31T23:59:59",
               "paymentOptionMetadata": [{"key": "k", "value": "v"}],
               "transfer": [{"idTransfer": "1", "amount": 1000, "remittanceInformation": "TARI",
                             "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]}]})
}

/// Every `$ref` in the document points at something.
fn refs_resolve(api: &OpenApi, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                api.resolve(r);
            }
            map.values().for_each(|v| refs_resolve(api, v));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_resolve(api, v)),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let server = TestServer::start().await;
    let r = server.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let api = OpenApi::new(json(&r));
    assert_eq!(api.doc["openapi"], "3.0.3");
    refs_resolve(&api, &api.doc);
    let documented: BTreeSet<(String, String)> = api.operations().into_iter().collect();
    let mut w = Walk {
        server: &server,
        api,
        called: BTreeSet::new(),
    };

    let positions = "/organizations/{fiscalCode}/debtpositions";
    let one = "/organizations/{fiscalCode}/debtpositions/{iupd}";
    let org = [("fiscalCode", ORG)];
    let a = [("fiscalCode", ORG), ("iupd", "OA-1")];
    let b = [("fiscalCode", ORG), ("iupd", "OA-2")];

    let r = w
        .call("POST", positions, &org, "", Some(position("OA-1", 8_001)))
        .await;
    assert_eq!(r.status, 201);
    let nav = json(&r)["paymentOption"][0]["nav"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = w
        .call(
            "POST",
            positions,
            &org,
            "?toPublish=true",
            Some(position("OA-2", 8_002)),
        )
        .await;
    assert_eq!(r.status, 201);
    // The platform's payment-options service on OA-2 (published), an unknown notice and a
    // malformed one.
    let options =
        "/payment-options/organizations/{organization-fiscal-code}/notices/{notice-number}";
    let nav_b = format!("3{}", iuv("01", 8_002));
    let unknown = format!("3{}", iuv("01", 8_099));
    for (notice, status) in [(nav_b.as_str(), 200), (&unknown, 404), ("3x", 400)] {
        let values = [("organization-fiscal-code", ORG), ("notice-number", notice)];
        let r = w.call("POST", options, &values, "", None).await;
        assert_eq!(r.status, status, "{}", text(&r));
    }
    let r = w
        .call("POST", positions, &org, "", Some(position("OA-1", 8_003)))
        .await;
    assert_eq!(r.status, 409);
    let r = w
        .call("POST", positions, &org, "", Some(json!({"iupd": "x"})))
        .await;
    assert_eq!(r.status, 400);
    let r = w
        .call(
            "POST",
            positions,
            &[("fiscalCode", "12345678901")],
            "",
            Some(position("OA-9", 8_009)),
        )
        .await;
    assert_eq!(r.status, 404);

    assert_eq!(w.call("GET", one, &a, "", None).await.status, 200);
    assert_eq!(
        w.call(
            "GET",
            one,
            &[("fiscalCode", ORG), ("iupd", "NONE")],
            "",
            None
        )
        .await
        .status,
        404
    );

    // Payment notices: OA-1 is still a draft, OA-2 published; OA-1's option is not OA-2's.
    let notice = "/organizations/{fiscalCode}/debtpositions/{iupd}/notice";
    let r = w.call("GET", notice, &b, "", None).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(w.call("GET", notice, &a, "", None).await.status, 409);
    let option_notice =
        "/organizations/{fiscalCode}/debtpositions/{iupd}/paymentoptions/{nav}/notice";
    let of = |iupd, nav| [("fiscalCode", ORG), ("iupd", iupd), ("nav", nav)];
    let r = w
        .call("GET", option_notice, &of("OA-1", &nav), "", None)
        .await;
    assert_eq!(r.status, 409);
    let r = w
        .call("GET", option_notice, &of("OA-2", &nav), "", None)
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .call("GET", option_notice, &of("OA-2", "x"), "", None)
        .await;
    assert_eq!(r.status, 400);

    let publish = "/organizations/{fiscalCode}/debtpositions/{iupd}/publish";
    assert_eq!(w.call("POST", publish, &a, "", None).await.status, 200);
    assert_eq!(w.call("POST", publish, &a, "", None).await.status, 409);

    let paid = "/organizations/{fiscalCode}/paymentoptions/paids/{nav}";
    let r = w
        .call(
            "POST",
            paid,
            &[("fiscalCode", ORG), ("nav", &nav)],
            "",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = w
        .call(
            "POST",
            paid,
            &[("fiscalCode", ORG), ("nav", &nav)],
            "",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 409);

    let invalidate = "/organizations/{fiscalCode}/debtpositions/{iupd}/invalidate";
    assert_eq!(w.call("POST", invalidate, &a, "", None).await.status, 409);
    assert_eq!(
        w.call("PUT", one, &a, "", Some(position("OA-1", 8_001)))
            .await
            .status,
        409
    );
    let fee = "/organizations/{fiscalCode}/paymentoptions/{nav}/notificationfee";
    let on_paid = [("fiscalCode", ORG), ("nav", nav.as_str())];
    let r = w
        .call(
            "PUT",
            fee,
            &on_paid,
            "",
            Some(json!({"notificationFee": 100})),
        )
        .await;
    assert_eq!(r.status, 409);

    // A third position: updated (with and without a current ETag), its fee set, then deleted.
    let c = [("fiscalCode", ORG), ("iupd", "OA-3")];
    let r = w
        .call(
            "POST",
            positions,
            &org,
            "?toPublish=true",
            Some(position("OA-3", 8_004)),
        )
        .await;
    let etag = r.header("etag").expect("ETag").to_owned();
    let nav_c = json(&r)["paymentOption"][0]["nav"]
        .as_str()
        .unwrap()
        .to_owned();
    let stale = [("If-Match", "\"999\"")];
    let r = w
        .call_with("PUT", one, &c, "", &stale, Some(position("OA-3", 8_004)))
        .await;
    assert_eq!(r.status, 412);
    let current = [("If-Match", etag.as_str())];
    let r = w
        .call_with(
            "PUT",
            one,
            &c,
            "?toPublish=true",
            &current,
            Some(position("OA-3", 8_004)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(
        w.call("PUT", one, &c, "", Some(json!({"iupd": 1})))
            .await
            .status,
        400
    );
    let on_c = [("fiscalCode", ORG), ("nav", nav_c.as_str())];
    let r = w
        .call("PUT", fee, &on_c, "", Some(json!({"notificationFee": 150})))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["amount"], 1150);
    assert_eq!(
        w.call("PUT", fee, &on_c, "", Some(json!({"fee": 1})))
            .await
            .status,
        400
    );
    let r = w
        .call_with(
            "PUT",
            fee,
            &on_c,
            "",
            &stale,
            Some(json!({"notificationFee": 1})),
        )
        .await;
    assert_eq!(r.status, 412);
    let r = w
        .call(
            "GET",
            positions,
            &org,
            "?status=VALID&orderby=IUPD&ordering=ASC",
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let listed: Vec<Value> = json(&r)["payment_position_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["iupd"].clone())
        .collect();
    assert_eq!(listed, [json!("OA-2"), json!("OA-3")]);
    assert_eq!(
        w.call("GET", positions, &org, "?orderby=AMOUNT", None)
            .await
            .status,
        400
    );
    assert_eq!(
        w.call_with("DELETE", one, &c, "", &stale, None)
            .await
            .status,
        412
    );
    assert_eq!(w.call("DELETE", one, &c, "", None).await.status, 200);
    assert_eq!(w.call("DELETE", one, &a, "", None).await.status, 409);

    let stub = StubStation::start(Behaviour::Ok).await;
    let stations = "/organizations/{fiscalCode}/broadcast-stations";
    let station = "/organizations/{fiscalCode}/broadcast-stations/{stationId}";
    let st = [("fiscalCode", ORG), ("stationId", "OA_STATION")];
    let body = json!({"brokerId": ORG, "url": stub.url(), "timeoutMs": 2000});
    assert_eq!(
        w.call("PUT", station, &st, "", Some(body.clone()))
            .await
            .status,
        201
    );
    assert_eq!(
        w.call("PUT", station, &st, "", Some(body)).await.status,
        200
    );
    let bad = json!({"brokerId": ORG, "url": "ftp://x", "primitiveVersion": 3});
    assert_eq!(w.call("PUT", station, &st, "", Some(bad)).await.status, 400);
    assert_eq!(w.call("GET", stations, &org, "", None).await.status, 200);

    // A receipt for OA-2 (published), over SOAP.
    let receipt = ReceiptRequest::v2("OA-R1", &iuv("01", 8_002), 1000);
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    assert_eq!(w.call("POST", invalidate, &b, "", None).await.status, 409);

    let receipts = "/organizations/{fiscalCode}/receipts";
    let r = w
        .call("GET", receipts, &org, "?status=APPLIED&limit=10", None)
        .await;
    assert_eq!(json(&r)["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        w.call("GET", receipts, &org, "?limit=0", None).await.status,
        400
    );
    let one_receipt = "/organizations/{fiscalCode}/receipts/{iuv}";
    let iuv_b = iuv("01", 8_002);
    let r = w
        .call(
            "GET",
            one_receipt,
            &[("fiscalCode", ORG), ("iuv", &iuv_b)],
            "",
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(text(&r).contains("OA-R1"));
    assert_eq!(
        w.call(
            "GET",
            one_receipt,
            &[("fiscalCode", ORG), ("iuv", "0")],
            "",
            None
        )
        .await
        .status,
        404
    );

    // Recovery from the platform: this creditor has no access to the receipts service.
    let recover = "/organizations/{fiscalCode}/receipts/recover";
    let r = w
        .call("POST", recover, &org, "", Some(json!({"iur": "OA-R9"})))
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    let r = w
        .call("POST", recover, &org, "", Some(json!({"receiptId": "x"})))
        .await;
    assert_eq!(r.status, 400);

    // The same receipt through gpd-payments' API.
    let payments = "/payments/{organizationfiscalcode}/receipts";
    let pay_org = [("organizationfiscalcode", ORG)];
    let r = w.call("GET", payments, &pay_org, "?pageSize=5", None).await;
    assert_eq!(
        json(&r)["results"][0]["iuv"],
        iuv_b.as_str(),
        "{}",
        text(&r)
    );
    assert_eq!(
        w.call("GET", payments, &pay_org, "?pageSize=0", None)
            .await
            .status,
        400
    );
    let pay_one = "/payments/{organizationfiscalcode}/receipts/{iuv}";
    let r = w
        .call(
            "GET",
            pay_one,
            &[("organizationfiscalcode", ORG), ("iuv", &iuv_b)],
            "",
            None,
        )
        .await;
    assert!(text(&r).contains("OA-R1"));
    for (query, status) in [("?segregationCodes=02", 403), ("?segregationCodes=x", 400)] {
        let r = w
            .call(
                "GET",
                pay_one,
                &[("organizationfiscalcode", ORG), ("iuv", &iuv_b)],
                query,
                None,
            )
            .await;
        assert_eq!(r.status, status, "{query}");
    }
    let r = w
        .call(
            "GET",
            pay_one,
            &[("organizationfiscalcode", ORG), ("iuv", "0")],
            "",
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // Bulk create: all or nothing; then an IBAN change that finds nothing to change.
    let bulk = "/organizations/{fiscalCode}/debtpositions/bulk";
    let two = json!({"paymentPositions": [position("OA-B1", 8_101), position("OA-B2", 8_102)]});
    let r = w
        .call("POST", bulk, &org, "?toPublish=true", Some(two.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(w.call("POST", bulk, &org, "", Some(two)).await.status, 409);
    let none = json!({"paymentPositions": []});
    assert_eq!(w.call("POST", bulk, &org, "", Some(none)).await.status, 400);
    let transfers = "/organizations/{fiscalCode}/debtpositions/transfers";
    let new_iban = json!({"newIban": "IT02A0301503200000003517230"});
    let r = w
        .call(
            "PATCH",
            transfers,
            &org,
            "?oldIban=IT00A0000000000000000000000",
            Some(new_iban.clone()),
        )
        .await;
    assert_eq!(json(&r)["updatedTransfers"], 0, "{}", text(&r));
    let r = w.call("PATCH", transfers, &org, "", Some(new_iban)).await;
    assert_eq!(r.status, 400);

    // The upload API: a file of one position, its status until done, its report, the list.
    let file = "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file";
    let file_path = format!("/brokers/{ORG}/organizations/{ORG}/debtpositions/file");
    let document = json!({"paymentPositions": [position("OA-F1", 8_201)]}).to_string();
    let zip = gpd_gateway::http::zip::stored("positions.json", document.as_bytes());
    let form = multipart("positions.zip", &zip);
    let form_type = [("Content-Type", FORM_TYPE)];
    let r = w
        .call_raw("POST", file, &file_path, "", &form_type, &form)
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let location = r.header("location").unwrap().to_owned();
    let file_id = location.split('/').nth_back(1).unwrap().to_owned();
    let ids = [
        ("brokerCode", ORG),
        ("fiscalCode", ORG),
        ("fileId", &file_id),
    ];
    let status =
        "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file/{fileId}/status";
    let report =
        "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file/{fileId}/report";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while json(&w.call("GET", status, &ids, "", None).await)["operationStatus"] == "IN_PROGRESS"
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = w.call("GET", report, &ids, "", None).await;
    assert_eq!(json(&r)["responses"][0]["statusCode"], 201, "{}", text(&r));
    let unknown = [("brokerCode", ORG), ("fiscalCode", ORG), ("fileId", "nope")];
    assert_eq!(w.call("GET", status, &unknown, "", None).await.status, 404);
    assert_eq!(w.call("GET", report, &unknown, "", None).await.status, 404);
    let update = json!({"paymentPositions": [position("OA-F1", 8_201)]}).to_string();
    let form = multipart("positions.json", update.as_bytes());
    let r = w
        .call_raw("PUT", file, &file_path, "", &form_type, &form)
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let delete = json!({"paymentPositionIUPDs": ["OA-F1"]}).to_string();
    let form = multipart(
        "iupds.zip",
        &gpd_gateway::http::zip::stored("d.json", delete.as_bytes()),
    );
    let r = w
        .call_raw("DELETE", file, &file_path, "", &form_type, &form)
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let r = w
        .call_raw("POST", file, &file_path, "", &[], b"not a form")
        .await;
    assert_eq!(r.status, 400);
    let elsewhere = format!("/brokers/99999999999/organizations/{ORG}/debtpositions/file");
    let form = multipart("positions.json", document.as_bytes());
    let r = w
        .call_raw("POST", file, &elsewhere, "", &form_type, &form)
        .await;
    assert_eq!(r.status, 404);
    let files = "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/files";
    let broker_org = [("brokerCode", ORG), ("fiscalCode", ORG)];
    let r = w.call("GET", files, &broker_org, "", None).await;
    assert_eq!(json(&r)["size"], 3, "{}", text(&r));
    assert_eq!(
        w.call("GET", files, &broker_org, "?size=5", None)
            .await
            .status,
        400
    );

    let deliveries = "/organizations/{fiscalCode}/deliveries";
    let redeliver = "/organizations/{fiscalCode}/deliveries/{id}/redeliver";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let id = loop {
        let r = w.call("GET", deliveries, &org, "", None).await;
        let d = &json(&r)["results"][0];
        if d["attempts"].as_u64() >= Some(1) && d["state"] != "PENDING"
            || std::time::Instant::now() > deadline
        {
            break d["id"].to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let r = w
        .call(
            "POST",
            redeliver,
            &[("fiscalCode", ORG), ("id", &id)],
            "",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(
        w.call(
            "POST",
            redeliver,
            &[("fiscalCode", ORG), ("id", &id)],
            "",
            None
        )
        .await
        .status,
        409
    );
    assert_eq!(
        w.call(
            "POST",
            redeliver,
            &[("fiscalCode", ORG), ("id", "x")],
            "",
            None
        )
        .await
        .status,
        400
    );
    assert_eq!(
        w.call("GET", deliveries, &org, "?state=LOST", None)
            .await
            .status,
        400
    );

    // A position invalidated, then restored with its notice; the archive mirror's listing
    // (no creditor is mirrored here) and a retry of what is not there.
    let invalidate = "/organizations/{fiscalCode}/debtpositions/{iupd}/invalidate";
    let restore = "/organizations/{fiscalCode}/debtpositions/{iupd}/restore";
    let r_ = [("fiscalCode", ORG), ("iupd", "OA-R")];
    let r = w
        .call(
            "POST",
            "/organizations/{fiscalCode}/debtpositions",
            &org,
            "?toPublish=true",
            Some(position("OA-R", 8_100)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(w.call("POST", invalidate, &r_, "", None).await.status, 200);
    let r = w.call("POST", restore, &r_, "", None).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["status"], "VALID");
    assert_eq!(w.call("POST", restore, &r_, "", None).await.status, 409);
    let mirrors = "/organizations/{fiscalCode}/aca/mirrors";
    let r = w.call("GET", mirrors, &org, "?state=FAILED", None).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = w.call("GET", mirrors, &org, "?state=LOST", None).await;
    assert_eq!(r.status, 400);
    let retry = "/organizations/{fiscalCode}/aca/mirrors/{iupd}/retry";
    assert_eq!(w.call("POST", retry, &r_, "", None).await.status, 404);

    // A job of payment notices: started, followed, its zip; a second start with the same key.
    let jobs = "/organizations/{fiscalCode}/notices/jobs";
    let one_job = "/organizations/{fiscalCode}/notices/jobs/{jobId}";
    let job_zip = "/organizations/{fiscalCode}/notices/jobs/{jobId}/zip";
    let keyed = [("Idempotency-Key", "openapi-1")];
    let body = json!({"iupds": ["OA-R", "OA-NONE"]});
    let r = w
        .call_with("POST", jobs, &org, "", &keyed, Some(body.clone()))
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let job_id = json(&r)["jobId"].as_str().unwrap().to_owned();
    let r = w
        .call_with("POST", jobs, &org, "", &keyed, Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = w.call("POST", jobs, &org, "", Some(json!({}))).await;
    assert_eq!(r.status, 400);
    let job = [("fiscalCode", ORG), ("jobId", job_id.as_str())];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = w.call("GET", one_job, &job, "", None).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        if json(&r)["status"] == "DONE" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", text(&r));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = w.call("GET", job_zip, &job, "", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/zip"));
    let unknown = [("fiscalCode", ORG), ("jobId", "0000")];
    assert_eq!(w.call("GET", one_job, &unknown, "", None).await.status, 404);
    assert_eq!(w.call("GET", job_zip, &unknown, "", None).await.status, 404);

    // The journal holds the delivery attempts above, among the rest.
    let events = "/organizations/{fiscalCode}/events";
    server.ctx.journal.flush().await;
    let r = w.call("GET", events, &org, "?kind=DELIVERY", None).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_ne!(json(&r)["page_info"]["items_found"], 0, "{}", text(&r));
    assert_eq!(
        w.call("GET", events, &org, "?outcome=maybe", None)
            .await
            .status,
        400
    );

    // Reporting flows: none stored here, and no [creditor.fdr] access to fetch them with.
    let flows = "/organizations/{fiscalCode}/reporting-flows";
    let r = w.call("GET", flows, &org, "?pspId=88888888888", None).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["page_info"]["items_found"], 0);
    assert_eq!(w.call("GET", flows, &org, "?to=x", None).await.status, 400);
    let fetch = "/organizations/{fiscalCode}/reporting-flows/fetch";
    let r = w.call("POST", fetch, &org, "", None).await;
    assert_eq!(r.status, 409, "{}", text(&r));
    let flow_payments = "/organizations/{fiscalCode}/reporting-flows/{fdr}/psps/{pspId}/revisions/{revision}/payments";
    let flow = [
        ("fiscalCode", ORG),
        ("fdr", "FDR-1"),
        ("pspId", "88888888888"),
        ("revision", "1"),
    ];
    assert_eq!(
        w.call("GET", flow_payments, &flow, "", None).await.status,
        404
    );
    let bad_revision = [flow[0], flow[1], flow[2], ("revision", "x")];
    assert_eq!(
        w.call("GET", flow_payments, &bad_revision, "", None)
            .await
            .status,
        400
    );
    let anomalies = "/organizations/{fiscalCode}/reporting-anomalies";
    let r = w
        .call("GET", anomalies, &org, "?resolved=false", None)
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(
        w.call("GET", anomalies, &org, "?kind=ODD", None)
            .await
            .status,
        400
    );

    assert_eq!(w.call("DELETE", station, &st, "", None).await.status, 204);
    assert_eq!(w.call("DELETE", station, &st, "", None).await.status, 404);

    // The debtor of every position here, and a receipt's: exported, then erased where it may.
    let export = "/organizations/{fiscalCode}/debtors/export";
    let erase = "/organizations/{fiscalCode}/debtors/erase";
    let subject = json!({"fiscalCode": "RSSMRA80A01H501U"});
    let r = w
        .call("POST", export, &org, "", Some(subject.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(!json(&r)["debtPositions"].as_array().unwrap().is_empty());
    let r = w
        .call("POST", export, &org, "", Some(json!({"fiscalCode": "X"})))
        .await;
    assert_eq!(r.status, 400);
    let r = w.call("POST", erase, &org, "", Some(subject)).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = w.call("POST", erase, &org, "", Some(json!({}))).await;
    assert_eq!(r.status, 400);
    let r = w
        .call(
            "POST",
            export,
            &[("fiscalCode", "12345678901")],
            "",
            Some(json!({"fiscalCode": "RSSMRA80A01H501U"})),
        )
        .await;
    assert_eq!(r.status, 404);

    // Options marked as notified through SEND, in bulk.
    let send = "/internal/config/send";
    let item = |org: &str| json!({"organizationFiscalCode": org, "nav": nav});
    let r = w
        .call("POST", send, &[], "", Some(json!([item(ORG)])))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(text(&r), "Configuration completed for 1 items");
    assert_eq!(
        w.call("POST", send, &[], "", Some(json!([]))).await.status,
        400
    );

    // A key limited to segregation code 02 (everything above is of code 01): every operation
    // that reads or changes something of code 01 is refused with a documented 403; the lists
    // answer, narrowed to code 02, which has nothing here.
    let limited = server.create_segregated_key(ORG, &["02"]).await;
    let as_limited = [("Ocp-Apim-Subscription-Key", limited.as_str())];
    let values = [
        ("fiscalCode", ORG),
        ("iupd", "OA-1"),
        ("nav", nav.as_str()),
        ("iuv", iuv_b.as_str()),
        ("stationId", "OA_STATION"),
        ("id", id.as_str()),
        ("fdr", "FDR-1"),
        ("pspId", "88888888888"),
        ("revision", "1"),
        ("jobId", job_id.as_str()),
    ];
    for (method, template) in &documented {
        if !template.starts_with("/organizations/") {
            continue;
        }
        let body = match (method.as_str(), template.as_str()) {
            ("POST", t) if t.ends_with("/debtpositions") => Some(position("OA-9", 8_010)),
            ("POST", t) if t.ends_with("/debtpositions/bulk") => {
                Some(json!({"paymentPositions": [position("OA-9", 8_010)]}))
            }
            ("PATCH", t) if t.ends_with("/debtpositions/transfers") => {
                Some(json!({"newIban": "IT60X0542811101000000123456"}))
            }
            ("POST", t) if t.ends_with("/receipts/recover") => {
                Some(json!({"iur": "OA-R9", "iuv": iuv_b}))
            }
            ("PUT", t) if t.ends_with("/{iupd}") => Some(position("OA-1", 8_001)),
            ("PUT", t) if t.ends_with("/notificationfee") => Some(json!({"notificationFee": 1})),
            ("PUT", _) => Some(json!({"brokerId": ORG, "url": stub.url()})),
            ("POST", _) => Some(json!({})),
            _ => None,
        };
        let r = w
            .call_with(method, template, &values, "", &as_limited, body)
            .await;
        let list = method == "GET"
            && (template.ends_with("/debtpositions") || template.ends_with("/receipts"));
        if list {
            assert_eq!(r.status, 200, "{method} {template}: {}", text(&r));
            let v = json(&r);
            let items = v["payment_position_list"]
                .as_array()
                .or(v["results"].as_array());
            assert_eq!(items.map(Vec::len), Some(0), "{method} {template}: {v}");
        } else {
            assert_eq!(r.status, 403, "{method} {template}: {}", text(&r));
        }
    }
    let r = w
        .call_with("POST", send, &[], "", &as_limited, Some(json!([item(ORG)])))
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    // To the payment-options service, a notice of another code is unknown, as in GPD.
    let values = [
        ("organization-fiscal-code", ORG),
        ("notice-number", nav_b.as_str()),
    ];
    let r = w
        .call_with("POST", options, &values, "", &as_limited, None)
        .await;
    assert_eq!(json(&r)["appErrorCode"], "ODP-107", "{}", text(&r));
    let r = w
        .call("GET", positions, &org, "?segregationCodes=01,02", None)
        .await;
    assert_eq!(r.status, 200);
    // OA-2, OA-3, OA-R and the two of the bulk load, all of code 01.
    assert_eq!(json(&r)["page_info"]["items_found"], 5);
    let r = w
        .call("GET", receipts, &org, "?segregationCodes=1", None)
        .await;
    assert_eq!(r.status, 400);

    assert_eq!(w.call("GET", "/health", &[], "", None).await.status, 200);
    assert_eq!(w.call("GET", "/ready", &[], "", None).await.status, 200);
    assert_eq!(w.call("GET", "/metrics", &[], "", None).await.status, 200);
    assert_eq!(w.call("GET", "/info", &[], "", None).await.status, 200);
    assert_eq!(
        w.call("GET", "/openapi.json", &[], "", None).await.status,
        200
    );

    // The router's table and the document name the same operations, both ways; the Node's
    // SOAP endpoint and the schemas it cites are described by the WSDL instead.
    let routed: BTreeSet<(String, String)> = gpd_gateway::http::routes::ROUTES
        .iter()
        .filter(|r| r.pattern != "/partner" && !r.pattern.starts_with("/xsd/"))
        .map(|r| (r.method.to_string(), r.pattern.to_owned()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "answered but not documented: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "documented but not in the router's table: {unrouted:?}"
    );

    let missed: Vec<_> = documented.difference(&w.called).collect();
    assert!(
        missed.is_empty(),
        "documented but not exercised: {missed:?}"
    );

    // A method a path does not document is not answered.
    for (_, template) in &documented {
        let path = template
            .replace("{fiscalCode}", ORG)
            .replace("{organizationfiscalcode}", ORG)
            .replace("{brokerCode}", ORG)
            .replace("{fileId}", &file_id)
            .replace("{iupd}", "OA-1")
            .replace("{nav}", &nav)
            .replace("{iuv}", &iuv_b)
            .replace("{stationId}", "OA_STATION")
            .replace("{id}", &id)
            .replace("{fdr}", "FDR-1")
            .replace("{pspId}", "88888888888")
            .replace("{revision}", "1")
            .replace("{organization-fiscal-code}", ORG)
            .replace("{notice-number}", &nav)
            .replace("{jobId}", &job_id);
        // GPD's fixed names under debtpositions leave other methods to the IUPD routes, and
        // `receipts/recover` to the IUV's.
        let placeholder = if template.ends_with("/debtpositions/bulk")
            || template.ends_with("/debtpositions/transfers")
        {
            Some(one)
        } else if template.ends_with("/receipts/recover") {
            Some(one_receipt)
        } else {
            None
        };
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            if placeholder.is_some_and(|p| documented.contains(&(method.to_owned(), p.to_owned())))
            {
                continue;
            }
            if !documented.contains(&(method.to_owned(), template.clone())) {
                let r = server.request(method, &path, &[], b"").await;
                assert_eq!(r.status, 405, "{method} {path}: {}", text(&r));
            }
        }
    }
    server.stop().await;
    stub.stop().await;
}

/// No object of the document names a key twice: a JSON parser would silently keep one of them
/// (two definitions merged into one file, say), and the other would be documented nowhere.
#[test]
fn no_key_is_written_twice() {
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

    struct Unique;
    struct UniqueVisitor;
    impl<'de> Deserialize<'de> for Unique {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
            d.deserialize_any(UniqueVisitor)
        }
    }
    impl<'de> Visitor<'de> for UniqueVisitor {
        type Value = Unique;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
            let mut seen = BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(A::Error::custom(format!("key {key} written twice")));
                }
                map.next_value::<Unique>()?;
            }
            Ok(Unique)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
            while seq.next_element::<Unique>()?.is_some() {}
            Ok(Unique)
        }
        fn visit_str<E: Error>(self, _: &str) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_bool<E: Error>(self, _: bool) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_i64<E: Error>(self, _: i64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_u64<E: Error>(self, _: u64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_f64<E: Error>(self, _: f64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_unit<E: Error>(self) -> Result<Unique, E> {
            Ok(Unique)
        }
    }
    let document = include_str!("../src/api/openapi.json");
    if let Err(e) = serde_json::from_str::<Unique>(document) {
        panic!("src/api/openapi.json: {e}");
    }
    let twice = r#"{"a": {"b": 1, "b": 2}}"#;
    assert!(
        serde_json::from_str::<Unique>(twice).is_err(),
        "the check finds one"
    );
}
