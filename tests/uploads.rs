//! GPD's upload API over HTTP: files of positions uploaded as multipart zips (or JSON), worked
//! through in the background, with their status, report and list; and a file left half done
//! by a stopped gateway, finished after a restart without applying anything twice.

mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gpd_gateway::api::OnCreditor;
use gpd_gateway::api::upload::Broker;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::context::Context;
use gpd_gateway::domain::api_key::SegregationScope;
use gpd_gateway::domain::upload::UploadOperation;
use gpd_gateway::http::zip;
use harness::positions::{iuv, position};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const BROKER: &str = "77777777777";
const BOUNDARY: &str = "----upload-test-7MA4YWxkTrZu0gW";

fn form(filename: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn base() -> String {
    format!("/brokers/{BROKER}/organizations/{ORG}/debtpositions")
}

/// Uploads `content` as the file part; returns the answer.
async fn upload(
    server: &TestServer,
    method: &str,
    filename: &str,
    content: &[u8],
) -> (u16, String) {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let r = server
        .request(
            method,
            &format!("{}/file", base()),
            &[("Content-Type", &content_type)],
            &form(filename, content),
        )
        .await;
    if r.status == 202 {
        assert!(r.header("retry-after").is_some());
        let location = r.header("location").unwrap().to_owned();
        assert!(location.starts_with(&format!(
            "brokers/{BROKER}/organizations/{ORG}/debtpositions/file/"
        )));
        assert!(location.ends_with("/status"));
        let id = location.split('/').nth_back(1).unwrap().to_owned();
        (202, id)
    } else {
        (r.status, text(&r))
    }
}

/// Waits until the file is processed; returns its final status.
async fn finished(server: &TestServer, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = server.get(&format!("{}/file/{id}/status", base())).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let status = json(&r);
        if status["operationStatus"] != "IN_PROGRESS" {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "file {id} never finished: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn report(server: &TestServer, id: &str) -> Value {
    let r = server.get(&format!("{}/file/{id}/report", base())).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)
}

/// The report's entries as (status, message, iupds), sorted by status.
fn entries(report: &Value) -> Vec<(u64, String, Vec<String>)> {
    let mut out: Vec<_> = report["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let iupds = e["iupds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect();
            (
                e["statusCode"].as_u64().unwrap(),
                e["statusMessage"].as_str().unwrap().to_owned(),
                iupds,
            )
        })
        .collect();
    out.sort();
    out
}

async fn position_status(server: &TestServer, iupd: &str) -> (u16, Value) {
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/{iupd}"))
        .await;
    let body = if r.status == 200 {
        json(&r)
    } else {
        Value::Null
    };
    (r.status, body)
}

#[tokio::test]
async fn files_create_update_and_delete_positions() {
    let server = TestServer::start().await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions"),
            &position("U-TAKEN", &iuv(1, 4_000), 1000),
        )
        .await;
    assert_eq!(r.status, 201);

    // Create: one good, one invalid, one clashing with the store, one unreadable.
    let mut bad = position("U-BAD", &iuv(1, 4_002), 1000);
    bad["paymentOption"][0]["amount"] = json!(999);
    let document = json!({"paymentPositions": [
        position("U-1", &iuv(1, 4_001), 1000),
        bad,
        position("U-TAKEN", &iuv(1, 4_003), 1000),
        {"iupd": 7},
    ]});
    let zipped = zip::stored("positions.json", document.to_string().as_bytes());
    let (status, created) = upload(&server, "POST", "positions.zip", &zipped).await;
    assert_eq!(status, 202, "{created}");
    let done = finished(&server, &created).await;
    assert_eq!(
        (
            &done["uploadID"],
            &done["processedItem"],
            &done["submittedItem"]
        ),
        (&json!(created), &json!(4), &json!(4))
    );
    assert_eq!(done["operationStatus"], "COMPLETED_WITH_WARNINGS");
    let rep = report(&server, &created).await;
    assert_eq!(rep["fileId"], created.as_str());
    assert!(rep["endTime"].as_str().unwrap() >= rep["startTime"].as_str().unwrap());
    let e = entries(&rep);
    assert_eq!(e.len(), 4, "{rep}");
    assert_eq!(
        (e[0].0, e[0].1.as_str(), e[0].2.clone()),
        (201, "Debt position CREATED", vec!["U-1".to_owned()])
    );
    assert_eq!(e[1].0, 400);
    assert_eq!(e[2].0, 400);
    let bad_one = e.iter().find(|x| x.2 == ["U-BAD"]).expect("U-BAD reported");
    assert!(
        bad_one.1.starts_with("paymentOption[0].amount:"),
        "{}",
        bad_one.1
    );
    let unreadable = e
        .iter()
        .find(|x| x.2 == ["paymentPositions[3]"])
        .expect("item 3 reported");
    assert!(unreadable.1.contains("iupd"), "{}", unreadable.1);
    assert_eq!(e[3].0, 409);
    assert_eq!(e[3].2, ["U-TAKEN"]);
    assert!(e[3].1.contains("iupd U-TAKEN already exists"), "{}", e[3].1);
    // Created published; the refused ones are not there.
    assert_eq!(position_status(&server, "U-1").await.1["status"], "VALID");
    assert_eq!(position_status(&server, "U-BAD").await.0, 404);

    // A zip made by a common zip tool: deflated, in a folder.
    let (status, deflated) = upload(
        &server,
        "POST",
        "positions.zip",
        include_bytes!("files/positions-deflated.zip"),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        finished(&server, &deflated).await["operationStatus"],
        "COMPLETED"
    );
    assert_eq!(position_status(&server, "ZIP-2").await.0, 200);

    // Update, as plain JSON: a known position and an unknown one.
    let mut changed = position("U-1", &iuv(1, 4_001), 1000);
    changed["companyName"] = json!("Comune di Altrove");
    let document = json!({"paymentPositions": [changed, position("U-NONE", &iuv(1, 4_009), 1000)]});
    let (status, updated) = upload(
        &server,
        "PUT",
        "positions.json",
        document.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        finished(&server, &updated).await["operationStatus"],
        "COMPLETED_WITH_WARNINGS"
    );
    let e = entries(&report(&server, &updated).await);
    assert_eq!((e[0].0, e[0].2.clone()), (200, vec!["U-1".to_owned()]));
    assert_eq!((e[1].0, e[1].2.clone()), (404, vec!["U-NONE".to_owned()]));
    assert_eq!(
        position_status(&server, "U-1").await.1["companyName"],
        "Comune di Altrove"
    );

    // Delete: every one refused or done, each named.
    let document = json!({"paymentPositionIUPDs": ["U-1", "U-NONE", "ZIP-1"]});
    let zipped = zip::stored("delete.json", document.to_string().as_bytes());
    let (status, deleted) = upload(&server, "DELETE", "delete.zip", &zipped).await;
    assert_eq!(status, 202);
    finished(&server, &deleted).await;
    let e = entries(&report(&server, &deleted).await);
    assert_eq!(
        (e[0].0, e[0].2.clone()),
        (200, vec!["U-1".to_owned(), "ZIP-1".to_owned()])
    );
    assert_eq!((e[1].0, e[1].2.clone()), (404, vec!["U-NONE".to_owned()]));
    assert_eq!(position_status(&server, "U-1").await.0, 404);

    // Every file of the creditor, oldest first; a window and a page size GPD refuses.
    let r = server.get(&format!("{}/files", base())).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let list = json(&r);
    assert_eq!(
        list["fileIds"],
        json!([created, deflated, updated, deleted])
    );
    assert_eq!(
        (&list["size"], &list["hasMore"]),
        (&json!(4), &json!(false))
    );
    assert_eq!(r.header("x-continuation-token"), None);
    let r = server
        .get(&format!("{}/files?from=2001-01-01&to=2001-01-07", base()))
        .await;
    assert_eq!(json(&r)["fileIds"], json!([]));
    for bad in [
        "?from=2025-01-01&to=2025-01-08",
        "?from=2025-01-02&to=2025-01-01",
        "?size=99",
        "?size=501",
        "?from=soon",
    ] {
        let r = server.get(&format!("{}/files{bad}", base())).await;
        assert_eq!(r.status, 400, "{bad}: {}", text(&r));
    }

    // Uploads refused whole, nothing stored.
    let not_json = zip::stored("notes.txt", b"hello");
    for (filename, content, why) in [
        ("notes.zip", &not_json[..], "must be a .json file"),
        ("x.zip", b"PK\x03\x04broken", "damaged"),
        ("x.json", br#"{"paymentPositions": 3}"#, "paymentPositions"),
        ("x.json", br#"{"positions": []}"#, "positions"),
        ("x.csv", b"a,b,c", "must be a zip"),
    ] {
        let (status, answer) = upload(&server, "POST", filename, content).await;
        assert_eq!(status, 400, "{filename}: {answer}");
        assert!(answer.contains(why), "{filename}: {answer}");
    }
    let r = server
        .request(
            "POST",
            &format!("{}/file", base()),
            &[("Content-Type", "application/json")],
            b"{}",
        )
        .await;
    assert_eq!(r.status, 400);
    let r = server
        .request(
            "POST",
            &format!("/brokers/99999999999/organizations/{ORG}/debtpositions/file"),
            &[(
                "Content-Type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )],
            &form("x.json", br#"{"paymentPositions": []}"#),
        )
        .await;
    assert_eq!(r.status, 404, "{}", text(&r));
    let r = server.get(&format!("{}/file/unknown/status", base())).await;
    assert_eq!(r.status, 404);
    let r = server
        .get(&format!(
            "/brokers/99999999999/organizations/{ORG}/debtpositions/file/{created}/report"
        ))
        .await;
    assert_eq!(r.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn a_file_left_half_done_is_finished_after_a_restart() {
    const ITEMS: u64 = 250;
    let dir = tempfile::tempdir().unwrap();
    let positions: Vec<Value> = (0..ITEMS)
        .map(|i| position(&format!("R-{i}"), &iuv(2, 3_000 + i), 100))
        .collect();
    let document = json!({ "paymentPositions": positions }).to_string();

    // A gateway takes the file and gets through its first chunk, then stops.
    let id = {
        let store = harness::store::open(dir.path()).await;
        let ctx = Arc::new(Context::new(Config::example(), store, Clock::system()));
        let all = SegregationScope::All;
        let on = OnCreditor::new(&ctx, ORG, &all).unwrap();
        let broker = Broker::served(&ctx, BROKER).unwrap();
        let r = gpd_gateway::api::upload::accept(
            on,
            broker,
            UploadOperation::Create,
            document.as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 202);
        let file = ctx.store.uploads_in_progress().await.unwrap().remove(0);
        let done = gpd_gateway::import::upload::process(&ctx, &file, |done| done < 1)
            .await
            .unwrap();
        assert_eq!(u64::from(done), gpd_gateway::import::upload::CHUNK as u64);
        let early = gpd_gateway::api::upload::report(on, broker, &file.id)
            .await
            .unwrap_err();
        assert_eq!(early.status, 425);
        ctx.store.close().await.unwrap();
        file.id
    };

    // Restarted on the same data, the gateway finishes the file from where it stopped.
    let server = TestServer::start_on(dir, Config::example(), Clock::system()).await;
    let status = finished(&server, &id).await;
    assert_eq!(status["operationStatus"], "COMPLETED", "{status}");
    assert_eq!(
        (&status["processedItem"], &status["submittedItem"]),
        (&json!(ITEMS), &json!(ITEMS))
    );
    let e = entries(&report(&server, &id).await);
    assert_eq!(e.len(), 1, "no item refused, none twice: {e:?}");
    assert_eq!(e[0].0, 201);
    let expected: Vec<String> = (0..ITEMS).map(|i| format!("R-{i}")).collect();
    assert_eq!(e[0].2, expected);
    let r = server
        .get(&format!(
            "/organizations/{ORG}/debtpositions?limit=50&status=VALID"
        ))
        .await;
    assert_eq!(json(&r)["page_info"]["items_found"], ITEMS, "{}", text(&r));
    server.stop().await;
}

#[tokio::test]
async fn the_files_list_pages_with_a_continuation_token() {
    let server = TestServer::start().await;
    let mut ids = Vec::new();
    for _ in 0..101 {
        let (status, id) = upload(
            &server,
            "POST",
            "empty.json",
            br#"{"paymentPositions": []}"#,
        )
        .await;
        assert_eq!(status, 202, "{id}");
        ids.push(id);
    }
    // A file without items is done at once, with nothing to report.
    assert_eq!(
        finished(&server, &ids[0]).await["operationStatus"],
        "COMPLETED"
    );
    assert_eq!(report(&server, &ids[0]).await["responses"], json!([]));

    let r = server.get(&format!("{}/files?size=100", base())).await;
    let first = json(&r);
    assert_eq!(
        (&first["size"], &first["hasMore"]),
        (&json!(100), &json!(true))
    );
    let token = r
        .header("x-continuation-token")
        .expect("a token")
        .to_owned();
    let r = server
        .request(
            "GET",
            &format!("{}/files", base()),
            &[("x-continuation-token", &token)],
            b"",
        )
        .await;
    let second = json(&r);
    assert_eq!(
        (&second["size"], &second["hasMore"]),
        (&json!(1), &json!(false))
    );
    let mut listed: Vec<String> = first["fileIds"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["fileIds"].as_array().unwrap())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    let r = server
        .request(
            "GET",
            &format!("{}/files", base()),
            &[("x-continuation-token", "garbage")],
            b"",
        )
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));
    server.stop().await;
}
