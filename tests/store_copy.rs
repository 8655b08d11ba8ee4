//! `gpd-gateway store copy` end to end: a data directory with every kind of record, made through
//! the real gateway, copied by the real binary into a PostgreSQL database; then every table's
//! rows read from both databases and compared value by value, and the gateway started on the
//! copy to serve what it holds. Also: a database with data and a missing data file are
//! refused. Skipped without GPD_TEST_POSTGRES (see tests/harness/postgres.rs).

mod harness;

use std::sync::Arc;
use std::time::Duration;

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::broadcast::RetryPolicy;
use gpd_gateway::http::zip;
use gpd_gateway::store::postgres::PgStore;
use gpd_gateway::store::sqlite::SqliteStore;
use harness::positions::{iuv, position};
use harness::receipts::{ReceiptRequest, to};
use harness::store::{connect, sqlite_only};
use harness::stub_station::{Behaviour, StubStation};
use harness::{TestServer, eventually, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";

/// Retries slow enough that a delivery to a failing station stays PENDING through the test.
fn config() -> Config {
    let mut config = harness::loopback_stations(Config::example());
    config.broadcast.retry = RetryPolicy {
        max_attempts: 20,
        base: Duration::from_millis(300),
        max_delay: Duration::from_millis(600),
    };
    config.broadcast.poll_interval = Duration::from_millis(50);
    config
}

async fn deliveries(server: &TestServer, org: &str) -> Vec<Value> {
    let r = server
        .get(&format!("/organizations/{org}/deliveries"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)["results"].as_array().unwrap().clone()
}

async fn send_receipt(server: &TestServer, receipt: &ReceiptRequest) -> String {
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    text(&r)
}

async fn register(server: &TestServer, org: &str, id: &str, station: &StubStation) {
    let r = server
        .put_json(
            &format!("/organizations/{org}/broadcast-stations/{id}"),
            &json!({"brokerId": "99999999999", "url": station.url(), "primitiveVersion": 2, "timeoutMs": 500}),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", text(&r));
}

/// The notice number of an OK paDemandPaymentNotice answer.
fn notice_of(answer: &str) -> String {
    assert!(answer.contains("<outcome>OK</outcome>"), "{answer}");
    let start = answer.find("<noticeNumber>").expect("a noticeNumber") + "<noticeNumber>".len();
    answer[start..start + 18].to_owned()
}

async fn demand(server: &TestServer) -> String {
    let request = harness::soap::demand_request("DONAZ", "<importo>25.00</importo>");
    let r = server.soap(Some("paDemandPaymentNotice"), &request).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    notice_of(&text(&r))
}

/// A position with a single option and a plan of two installments; transfers to an IBAN and
/// a stamp, metadata on options and transfers, the debtor's address.
fn rich_position() -> Value {
    let transfer = |id: &str, amount: i64| {
        json!({"idTransfer": id, "amount": amount, "remittanceInformation": "TARI", "category": "9/0101108TS/",
               "iban": "IT60X0542811101000000123456",
               "transferMetadata": [{"key": "capitolo", "value": "1234"}]})
    };
    json!({
        "iupd": "RICH-1", "type": "G", "fiscalCode": "01234567890", "fullName": "Esempio S.r.l.",
        "streetName": "Via Roma", "civicNumber": "1", "postalCode": "00100", "city": "Roma",
        "province": "RM", "region": "Lazio", "country": "IT", "email": "a@example.org",
        "phone": "061234567", "companyName": "Comune di Esempio", "officeName": "Tributi",
        "switchToExpired": true,
        "paymentOption": [
            {"iuv": iuv(1, 101), "amount": 3000, "description": "Unica soluzione", "isPartialPayment": false,
             "dueDate": "2099-12-31T23:59:59", "retentionDate": "2100-03-31T23:59:59",
             "paymentOptionMetadata": [{"key": "anno", "value": "2026"}],
             "transfer": [
                transfer("1", 2984),
                {"idTransfer": "2", "amount": 16, "remittanceInformation": "Bollo", "category": "9/0101108TS/",
                 "stamp": {"hashDocument": "cXVhbHNpYXNpIGNvc2EgY2hlIHNpYSBsdW5nYSAzMg==", "stampType": "01", "provincialResidence": "RM"}}
             ]},
            {"iuv": iuv(1, 102), "amount": 1500, "description": "Rata 1", "isPartialPayment": true,
             "dueDate": "2099-06-30T23:59:59", "transfer": [transfer("1", 1500)]},
            {"iuv": iuv(1, 103), "amount": 1500, "description": "Rata 2", "isPartialPayment": true,
             "dueDate": "2099-12-31T23:59:59", "transfer": [transfer("1", 1500)]}
        ]
    })
}

/// Uploads a file of one position and waits until it is worked through.
async fn upload(server: &TestServer) {
    let base = format!("/brokers/{ORG}/organizations/{ORG}/debtpositions");
    let document = json!({"paymentPositions": [position("UP-1", &iuv(1, 301), 1000), {"iupd": 7}]});
    let zipped = zip::stored("positions.json", document.to_string().as_bytes());
    let boundary = "----copy-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.zip\"\r\n\
         Content-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&zipped);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let r = server
        .request(
            "POST",
            &format!("{base}/file"),
            &[("Content-Type", &content_type)],
            &body,
        )
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let location = r.header("location").unwrap().to_owned();
    let id = location.split('/').nth_back(1).unwrap().to_owned();
    eventually("the upload is worked through", async || {
        let r = server.get(&format!("{base}/file/{id}/status")).await;
        json(&r)["operationStatus"] != "IN_PROGRESS"
    })
    .await;
}

/// What the gateway made, for the checks on the copy.
struct Made {
    data: tempfile::TempDir,
    stations: (StubStation, StubStation),
    paid_iuv: String,
    demanded: String,
    limited_key: String,
    revoked_key: String,
}

/// A data directory with a row in every table, made over HTTP and SOAP.
async fn data_with_every_kind_of_record() -> Made {
    let server = TestServer::start_with(config(), Clock::system()).await;
    let path = |iupd: &str| format!("/organizations/{ORG}/debtpositions/{iupd}");
    // The creditor's changes recorded for the archive mirror (none is sent: it has no
    // [creditor.aca], so they end FAILED).
    let org = gpd_gateway::domain::FiscalCodePA::parse(ORG).unwrap();
    server
        .ctx
        .store
        .set_aca_creditors(vec![org.clone()])
        .await
        .unwrap();

    server.create_position(ORG, &rich_position(), false).await;
    server
        .create_position(ORG, &position("PUB-1", &iuv(1, 201), 1000), true)
        .await;
    server
        .create_position(ORG, &position("INV-1", &iuv(1, 202), 1000), true)
        .await;
    let r = server
        .post_json(&format!("{}/invalidate", path("INV-1")), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));

    // Stations: one of the notice's creditor that answers, one of a beneficiary that does not.
    let up = StubStation::start(Behaviour::Ok).await;
    let down = StubStation::start(Behaviour::Status500).await;
    register(&server, ORG, "UP", &up).await;
    register(&server, OTHER, "DOWN", &down).await;

    // Paid by a receipt; a second receipt for the same notice is kept as DUPLICATE.
    let paid_iuv = iuv(1, 203);
    server
        .create_position(ORG, &position("PAID-1", &paid_iuv, 1000), true)
        .await;
    let mut receipt = ReceiptRequest::v2("RCPT-PAID", &paid_iuv, 0);
    receipt.transfers = vec![to(ORG, 700), to(OTHER, 300)];
    assert!(
        send_receipt(&server, &receipt)
            .await
            .contains("<outcome>OK</outcome>")
    );
    let mut again = receipt.clone();
    again.receipt_id = "RCPT-AGAIN".into();
    assert!(
        send_receipt(&server, &again)
            .await
            .contains("PAA_RECEIPT_DUPLICATA")
    );
    let r = server.get(&path("PAID-1")).await;
    assert_eq!(json(&r)["status"], "PAID", "{}", text(&r));

    // A reporting flow whose payments have no receipt here (anomalies).
    let flow = json!({
        "status": "PUBLISHED", "revision": 1, "fdr": "2025-02-0188888888888-0001",
        "created": "2025-02-01T10:00:00Z", "updated": "2025-02-01T10:00:00Z",
        "fdrDate": "2025-02-01T10:00:00Z", "published": "2025-02-02T10:00:00Z",
        "regulation": "SEPA - Bonifico 1", "regulationDate": "2025-02-03",
        "bicCodePouringBank": "UNCRITMMXXX",
        "sender": {"type": "LEGAL_PERSON", "id": "SELBIT2B", "pspId": "88888888888",
                   "pspName": "PSP Uno", "pspBrokerId": "88888888888", "channelId": "88888888888_01"},
        "receiver": {"id": "APPBIT2B", "organizationId": ORG, "organizationName": "Comune di Esempio"},
        "computedTotPayments": 2, "computedSumPayments": 12.0, "totPayments": 2, "sumPayments": 12.0,
        "payments": [
            {"index": 1, "iuv": iuv(1, 201), "iur": "IUR-UNPAID", "idTransfer": 1, "pay": 7.0,
             "payStatus": "EXECUTED", "payDate": "2025-02-01T09:00:00Z"},
            {"index": 2, "iuv": iuv(1, 299), "iur": "IUR-LOST", "idTransfer": 1, "pay": 5.0,
             "payStatus": "EXECUTED", "payDate": "2025-02-01T09:00:00Z"},
        ],
    });
    let recorded = gpd_gateway::reporting::import(
        server.ctx.store.as_ref(),
        server.ctx.clock,
        org.clone(),
        &serde_json::to_vec(&flow).unwrap(),
    )
    .await;
    assert!(recorded.is_ok(), "{recorded:?}");

    // The IUV sequence, used by a demanded notice.
    let demanded = demand(&server).await;

    // Keys: one per creditor and segregation code, one revoked (and the server's own).
    let limited_key = server.create_segregated_key(ORG, &["01"]).await;
    let revoked_key = server.create_key(&[ORG, OTHER]).await;
    server.revoke_key(&revoked_key).await;

    upload(&server).await;

    // A job of payment notices: one made (its PDF kept), one refused (invalidated).
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/notices/jobs"),
            &json!({"iupds": ["PUB-1", "INV-1"]}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let job = r.header("location").unwrap().to_owned();
    eventually("the notice job done", async || {
        json(&server.get(&job).await)["status"] == "DONE"
    })
    .await;

    // One delivery delivered, the beneficiary's pending after an attempt.
    eventually("a delivery delivered and one attempted", async || {
        let mine = deliveries(&server, ORG).await;
        let theirs = deliveries(&server, OTHER).await;
        mine.iter().any(|d| d["state"] == "DELIVERED")
            && theirs
                .iter()
                .any(|d| d["state"] == "PENDING" && d["attempts"].as_u64() >= Some(1))
    })
    .await;
    let data = server.stop_and_keep_data().await;
    Made {
        data,
        stations: (up, down),
        paid_iuv,
        demanded,
        limited_key,
        revoked_key,
    }
}

/// `gpd-gateway store copy --from DIR --to URL`: success, standard output, standard error.
fn store_copy(from: &std::path::Path, to: &str) -> (bool, String, String) {
    let out = std::process::Command::new(harness::binary::BIN)
        .args(["store", "copy", "--from"])
        .arg(from)
        .args(["--to", to])
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One value as both databases can give it: flags as 0/1, as SQLite keeps them.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// The tables of the data file other than the readiness probe and the backfill marker, each with
/// its columns and its primary key.
fn sqlite_tables(conn: &rusqlite::Connection) -> Vec<(String, Vec<String>, Vec<String>)> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM (SELECT name, type FROM main.sqlite_master
                               UNION ALL SELECT name, type FROM journal.sqlite_master)
             WHERE type = 'table'
             AND name NOT IN ('store_probe', 'delivery_request_backfill', 'aca_creditor',
                              'notice_view', 'notice_view_backfill')
             ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names
        .into_iter()
        .map(|name| {
            let info: Vec<(String, i64)> = conn
                .prepare(&format!("PRAGMA table_info({name})"))
                .unwrap()
                .query_map([], |r| Ok((r.get(1)?, r.get(5)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let mut key: Vec<&(String, i64)> = info.iter().filter(|c| c.1 > 0).collect();
            key.sort_by_key(|c| c.1);
            let key = key.into_iter().map(|c| c.0.clone()).collect();
            (name, info.into_iter().map(|c| c.0).collect(), key)
        })
        .collect()
}

fn sqlite_rows(
    conn: &rusqlite::Connection,
    table: &str,
    columns: &[String],
    key: &[String],
) -> Vec<Vec<Cell>> {
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {}",
        columns.join(", "),
        key.join(", ")
    );
    let mut statement = conn.prepare(&sql).unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        out.push(
            (0..columns.len())
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => Cell::Null,
                    rusqlite::types::ValueRef::Integer(v) => Cell::Int(v),
                    rusqlite::types::ValueRef::Text(t) => {
                        Cell::Text(String::from_utf8(t.to_vec()).unwrap())
                    }
                    rusqlite::types::ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                    other => panic!("{table}: unexpected {other:?}"),
                })
                .collect(),
        );
    }
    out
}

async fn postgres_rows(
    client: &tokio_postgres::Client,
    table: &str,
    columns: &[String],
    key: &[String],
) -> Vec<Vec<Cell>> {
    let types: Vec<(String, String)> = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let type_of = |c: &str| {
        types
            .iter()
            .find(|t| t.0 == c)
            .unwrap_or_else(|| panic!("{table}.{c} missing"))
            .1
            .clone()
    };
    let order: Vec<String> = key
        .iter()
        .map(|k| {
            if type_of(k) == "text" {
                format!("{k} COLLATE \"C\"")
            } else {
                k.clone()
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {}",
        columns.join(", "),
        order.join(", ")
    );
    client
        .query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let cell = match type_of(c).as_str() {
                        "bigint" => row.get::<_, Option<i64>>(i).map(Cell::Int),
                        "boolean" => row.get::<_, Option<bool>>(i).map(|b| Cell::Int(b.into())),
                        "text" => row.get::<_, Option<String>>(i).map(Cell::Text),
                        "bytea" => row.get::<_, Option<Vec<u8>>>(i).map(Cell::Blob),
                        other => panic!("{table}.{c}: unexpected type {other}"),
                    };
                    cell.unwrap_or(Cell::Null)
                })
                .collect()
        })
        .collect()
}

/// Every table of the data file, row by row and value by value, in the database; every one of
/// them with rows.
async fn assert_same_rows(data: &std::path::Path, url: &str) {
    let conn = rusqlite::Connection::open(data.join(SqliteStore::FILE_NAME)).unwrap();
    let journal = data.join(SqliteStore::JOURNAL_FILE_NAME);
    conn.execute("ATTACH DATABASE ?1 AS journal", [journal.to_str().unwrap()])
        .unwrap();
    let client = connect(url).await;
    let tables = sqlite_tables(&conn);
    assert_eq!(tables.len(), 20, "{tables:?}");
    for (table, columns, key) in &tables {
        let from = sqlite_rows(&conn, table, columns, key);
        let copied = postgres_rows(&client, table, columns, key).await;
        assert!(!from.is_empty(), "no row of {table} in the data file");
        assert_eq!(from.len(), copied.len(), "{table}");
        for (a, b) in from.iter().zip(&copied) {
            for ((column, x), y) in columns.iter().zip(a).zip(b) {
                assert_eq!(x, y, "{table}.{column} of the row {a:?}");
            }
        }
    }
}

/// An empty database to copy into; None where the test does not run: without a cluster, and
/// in the run on PostgreSQL, where the gateway that makes the SQLite source would not be on
/// SQLite.
async fn target_database() -> Option<String> {
    if sqlite_only("the source of a copy is a SQLite data directory") {
        return None;
    }
    gpd_gateway::store::postgres::testing::fresh_database().await
}

#[tokio::test]
async fn a_data_file_with_every_kind_of_record_is_copied_field_by_field() {
    let Some(url) = target_database().await else {
        return;
    };
    let made = data_with_every_kind_of_record().await;
    let (ok, out, err) = store_copy(made.data.path(), &url);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("committed") && !out.contains("DIFFERENT"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("receipt ") && l.ends_with("same")),
        "{out}"
    );
    assert!(err.contains("copying debt_position"), "{err}");
    assert_same_rows(made.data.path(), &url).await;

    // The gateway on the copy.
    let sqlite = TestServer::start_on(made.data, config(), Clock::system()).await;
    let document = sqlite
        .get(&format!("/payments/{ORG}/receipts/{}", made.paid_iuv))
        .await;
    sqlite.stop().await;
    assert_eq!(document.status, 200);
    let (up, down) = made.stations;
    down.set_behaviour(Behaviour::Ok);
    let store = PgStore::connect(&url, 4).await.unwrap();
    let server = TestServer::start_with_store(Arc::new(store), config(), Clock::system()).await;

    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/RICH-1"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let rich = json(&r);
    assert_eq!(rich["paymentOption"].as_array().unwrap().len(), 3);
    assert_eq!(
        rich["paymentOption"][0]["transfer"][1]["stamp"]["provincialResidence"],
        "RM"
    );
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/PAID-1"))
        .await;
    assert_eq!(json(&r)["status"], "PAID");
    let r = server
        .get(&format!("/payments/{ORG}/receipts/{}", made.paid_iuv))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body, document.body,
        "the receipt's document, byte for byte"
    );

    let pub_1 = format!("/organizations/{ORG}/debtpositions/PUB-1");
    let r = server
        .request_as(&made.limited_key, "GET", &pub_1, &[], b"")
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = server
        .request_as(&made.revoked_key, "GET", &pub_1, &[], b"")
        .await;
    assert_eq!(r.status, 401, "{}", text(&r));

    eventually("the pending delivery is delivered", async || {
        let theirs = deliveries(&server, OTHER).await;
        !theirs.is_empty() && theirs.iter().all(|d| d["state"] == "DELIVERED")
    })
    .await;
    assert!(down.received().iter().any(|r| r.body.contains("RCPT-PAID")));
    let delivered_before = up.received().len();

    let demanded = demand(&server).await;
    assert_ne!(demanded, made.demanded);
    // New rows take ids after the copied ones: a new receipt is stored and delivered.
    let r = ReceiptRequest::v2("RCPT-NEW", &iuv(1, 201), 1000);
    assert!(
        send_receipt(&server, &r)
            .await
            .contains("<outcome>OK</outcome>")
    );
    up.wait_for(delivered_before + 1, Duration::from_secs(10))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn a_database_with_data_is_refused_and_left_as_it_was() {
    let Some(url) = target_database().await else {
        return;
    };
    let server = TestServer::start().await;
    server
        .create_position(ORG, &position("ONE", &iuv(1, 1), 1000), false)
        .await;
    let data = server.stop_and_keep_data().await;
    let (ok, out, err) = store_copy(data.path(), &url);
    assert!(ok, "{out}\n{err}");

    let server = TestServer::start_on(data, Config::example(), Clock::system()).await;
    server
        .create_position(ORG, &position("TWO", &iuv(1, 2), 1000), false)
        .await;
    let data = server.stop_and_keep_data().await;
    let (ok, out, err) = store_copy(data.path(), &url);
    assert!(!ok, "{out}");
    assert!(
        err.contains("the target database is not empty: table debt_position has rows"),
        "{err}"
    );
    let client = connect(&url).await;
    let iupds: Vec<String> = client
        .query("SELECT iupd FROM debt_position", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(iupds, ["ONE"]);
}

#[tokio::test]
async fn a_missing_data_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = store_copy(dir.path(), "postgres://gpd:s3cret@127.0.0.1:1/gateway");
    assert!(!ok, "{out}");
    assert!(
        err.contains("no data file") && err.contains("gpd-gateway.sqlite"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    // Nothing was made where the data file was looked for.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
