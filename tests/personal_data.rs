//! Personal data end to end: the sweeper erases debtors of positions past their retention date
//! and payers and debtors of receipts past the configured period, and on SQLite the files no
//! longer hold them; a creditor exports what is held of one fiscal code and has it erased where
//! no legal ground keeps it, with the reasons; bad bodies and wrong keys are refused.

mod harness;

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::FiscalCodePA;
use gpd_gateway::domain::personal_data::{ERASED, ReceiptRetention};
use gpd_gateway::domain::position::Iupd;
use gpd_gateway::store::PositionKey;
use harness::positions::{iuv, position};
use harness::receipts::ReceiptRequest;
use harness::soap::verify_request;
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";
const POSITIONS: &str = "/organizations/77777777777/debtpositions";
const EXPORT: &str = "/organizations/77777777777/debtors/export";
const ERASE: &str = "/organizations/77777777777/debtors/erase";

/// The debtor of a position whose retention date comes.
const GONE: (&str, &str) = ("VRDGPP65B12F205X", "Zebedeo Quintiliano Sforzacosta");
/// The debtor of a position whose retention date is still ahead.
const LATER: (&str, &str) = ("LTRMRC81D04H501L", "Marcantonio Lateranense Poggi");
/// The debtor a position is given after the restart, so that it is in the WAL when erased.
const WAL: (&str, &str) = ("WLLMRC82E05H501W", "Walfredo Ilario Montegrossi");
/// The debtor and payer of a receipt.
const RECEIPT_DEBTOR: (&str, &str) = ("BRBLGU80A01H501B", "Ludovica Barbagianni Ottavi");
const PAYER: (&str, &str) = ("PLLNTN75C03F205Z", "Pellegrino Antonello Nespoli");
/// The debtor of a position with no retention date.
const KEPT: (&str, &str) = ("CSTFNC70B02L219K", "Ermenegilda Costanzo Fiorini");

fn at(now: NaiveDateTime, hours: i64) -> String {
    (now + chrono::Duration::hours(hours))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Position `iupd` of option `base`, owed by `debtor`, with these option fields set.
fn owed(iupd: &str, base: u64, debtor: (&str, &str), option: Value) -> Value {
    let mut p = position(iupd, &iuv(1, base), 1000);
    p["fiscalCode"] = json!(debtor.0);
    p["fullName"] = json!(debtor.1);
    p["city"] = json!("Roma");
    p["email"] = json!("debtor@example.it");
    p["phone"] = json!("+39 06 1234567");
    for (key, value) in option.as_object().unwrap() {
        p["paymentOption"][0][key] = value.clone();
    }
    p
}

fn subject(code: &str) -> Value {
    json!({"fiscalCode": code})
}

async fn erased(server: &TestServer, iupd: &str) -> bool {
    let key = PositionKey::Iupd(Iupd::parse(iupd).unwrap());
    let p = server
        .ctx
        .store
        .get_position(FiscalCodePA::parse(ORG).unwrap(), key)
        .await
        .unwrap()
        .unwrap();
    p.personal_data_erased.is_some()
}

/// Polls `condition` for up to ten seconds.
async fn eventually<F: std::future::Future<Output = bool>>(
    mut condition: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Whether `text` is anywhere in the SQLite database, its WAL or its shared memory.
fn in_files(data: &std::path::Path, text: &str) -> bool {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = data.join(format!("gpd-gateway.sqlite{suffix}"));
        if let Ok(b) = std::fs::read(file) {
            bytes.extend(b);
        }
    }
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

fn with_receipt_days(days: u32) -> Config {
    let mut config = Config::example();
    config.retention.receipts = ReceiptRetention::days(days).unwrap();
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sweeper_erases_what_is_past_its_retention_and_the_files_forget_it() {
    let mut config = with_receipt_days(1);
    config.lifecycle.sweep_interval = Duration::from_millis(100);
    let server = TestServer::start_with(config.clone(), Clock::system()).await;
    let now = server.ctx.clock.now();
    // Payable, its retention date tomorrow.
    let gone = owed(
        "RET-GONE",
        7_001,
        GONE,
        json!({"dueDate": at(now, 2), "retentionDate": at(now, 24)}),
    );
    server.create_position(ORG, &gone, true).await;
    let later = owed(
        "RET-LATER",
        7_002,
        LATER,
        json!({"dueDate": at(now, 2), "retentionDate": at(now, 24 * 30)}),
    );
    server.create_position(ORG, &later, true).await;
    // No retention date; paid by a receipt of another debtor and a payer.
    let kept = owed("RET-KEPT", 7_003, KEPT, json!({}));
    server.create_position(ORG, &kept, true).await;
    let draft = owed("RET-WAL", 7_004, KEPT, json!({}));
    server.create_position(ORG, &draft, false).await;
    let receipt = ReceiptRequest::v2("ret-r1", &iuv(1, 7_003), 1000);
    let r = server
        .soap(
            Some(receipt.action()),
            &receipt.xml_of(RECEIPT_DEBTOR, Some(PAYER)),
        )
        .await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    let r = server.post_json(EXPORT, &subject(PAYER.0)).await;
    assert_eq!(json(&r)["receipts"].as_array().unwrap().len(), 1);
    assert!(!erased(&server, "RET-GONE").await, "not before its time");

    // Two days later: the same data, a clock two days ahead; the sweeper runs at start.
    let dir = server.stop_and_keep_data().await;
    let clock = Clock::shifted(chrono::Duration::days(2));
    let server = TestServer::start_on(dir, config, clock).await;
    assert!(eventually(|| erased(&server, "RET-GONE")).await);
    assert!(!erased(&server, "RET-LATER").await);
    assert!(!erased(&server, "RET-KEPT").await);
    // A debtor written now, its retention already over (an update may set past dates): the
    // next sweep erases it while its first writing is still in the WAL.
    let now = server.ctx.clock.now();
    let wal = owed(
        "RET-WAL",
        7_004,
        WAL,
        json!({"dueDate": at(now, -48), "retentionDate": at(now, -24)}),
    );
    let r = server.put_json(&format!("{POSITIONS}/RET-WAL"), &wal).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(eventually(|| erased(&server, "RET-WAL")).await);

    // Read through the API: no debtor left, the accounting as it was.
    let r = server.post_json(EXPORT, &subject(GONE.0)).await;
    let export = json(&r);
    let iupds: Vec<&str> = export["debtPositions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["iupd"].as_str().unwrap())
        .collect();
    assert!(
        iupds.is_empty(),
        "the erased one is no longer theirs: {iupds:?}"
    );
    let r = server.post_json(EXPORT, &subject(LATER.0)).await;
    assert_eq!(json(&r)["debtPositions"][0]["fullName"], LATER.1);
    let r = server.get(&format!("{POSITIONS}/RET-GONE")).await;
    assert_eq!(r.status, 200);
    let read = json(&r);
    assert_eq!(read["paymentOption"][0]["amount"], 1000);
    assert_eq!(read["paymentOption"][0]["iuv"], iuv(1, 7_001));
    // It can no longer be paid nor updated.
    let nav = format!("3{}", iuv(1, 7_001));
    let answer = text(
        &server
            .soap(Some("paVerifyPaymentNotice"), &verify_request(&nav))
            .await,
    );
    assert!(answer.contains("PAA_PAGAMENTO_SCADUTO"), "{answer}");
    let r = server
        .put_json(&format!("{POSITIONS}/RET-GONE"), &gone)
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    assert!(text(&r).contains("erased"), "{}", text(&r));

    // The receipt: erased in its columns and its document, which still reads.
    let r = server.post_json(EXPORT, &subject(PAYER.0)).await;
    assert_eq!(json(&r)["receipts"], json!([]));
    let r = server.post_json(EXPORT, &subject(RECEIPT_DEBTOR.0)).await;
    assert_eq!(json(&r)["receipts"], json!([]));
    let r = server
        .get(&format!("/organizations/{ORG}/receipts/{}", iuv(1, 7_003)))
        .await;
    assert_eq!(r.status, 200);
    let document = text(&r);
    for gone in [RECEIPT_DEBTOR.0, RECEIPT_DEBTOR.1, PAYER.0, PAYER.1] {
        assert!(!document.contains(gone), "{document}");
    }
    assert!(document.contains(ERASED), "{document}");
    assert!(
        document.contains("<receiptId>ret-r1</receiptId>"),
        "{document}"
    );
    let r = server
        .get(&format!("/organizations/{ORG}/receipts?limit=10"))
        .await;
    let listed = &json(&r)["results"][0];
    assert_eq!(listed["debtor"], ERASED);
    assert_eq!(listed["payer"], Value::Null);
    assert_eq!(listed["paymentAmount"], 1000);

    if !harness::store::sqlite_only("the files of a PostgreSQL database are the cluster's") {
        let data = server.data_dir().to_owned();
        assert!(in_files(&data, KEPT.1), "the grep finds what is kept");
        assert!(in_files(&data, LATER.1), "the grep finds what is kept");
        let forgotten = [GONE, WAL, RECEIPT_DEBTOR, PAYER]
            .iter()
            .flat_map(|(code, name)| [*code, *name])
            .collect::<Vec<_>>();
        // The erasure's checkpoint ends just after its commit.
        let gone_from_files =
            eventually(|| async { forgotten.iter().all(|t| !in_files(&data, t)) }).await;
        let left: Vec<_> = forgotten.iter().filter(|t| in_files(&data, t)).collect();
        assert!(gone_from_files, "still in the files: {left:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_creditor_exports_and_erases_one_debtor_s_data_with_reasons() {
    let server = TestServer::start().await;
    let debtor = ("RSSMRA80A01H501U", "Mario Rossi");
    // A draft, an open debt, one invalidated, one paid (retention date 2099), all of one debtor.
    server
        .create_position(ORG, &owed("X-DRAFT", 8_001, debtor, json!({})), false)
        .await;
    server
        .create_position(ORG, &owed("X-OPEN", 8_002, debtor, json!({})), true)
        .await;
    server
        .create_position(ORG, &owed("X-INVALID", 8_003, debtor, json!({})), true)
        .await;
    let r = server
        .post_json(&format!("{POSITIONS}/X-INVALID/invalidate"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let paid = owed(
        "X-PAID",
        8_004,
        debtor,
        json!({"retentionDate": "2099-12-31T23:59:59"}),
    );
    server.create_position(ORG, &paid, true).await;
    let receipt = ReceiptRequest::v2("x-paid", &iuv(1, 8_004), 1000);
    let r = server
        .soap(Some(receipt.action()), &receipt.xml_of(debtor, None))
        .await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    // Another debtor of the creditor, and the same debtor at another creditor.
    server
        .create_position(ORG, &owed("Y-DRAFT", 8_005, KEPT, json!({})), false)
        .await;
    let mut elsewhere = owed("X-ELSEWHERE", 8_006, debtor, json!({}));
    // That creditor's IUVs are of segregation code 47.
    elsewhere["paymentOption"][0]["iuv"] = json!(iuv(47, 8_006));
    server.create_position(OTHER, &elsewhere, false).await;

    let r = server.post_json(EXPORT, &subject(debtor.0)).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let export = json(&r);
    let iupds: Vec<&str> = export["debtPositions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["iupd"].as_str().unwrap())
        .collect();
    assert_eq!(iupds, ["X-DRAFT", "X-INVALID", "X-OPEN", "X-PAID"]);
    let first = &export["debtPositions"][0];
    assert_eq!(first["fullName"], debtor.1);
    assert_eq!(first["phone"], "+39 06 1234567");
    let receipts = export["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["receipt"]["receiptId"], "x-paid");
    assert_eq!(receipts[0]["debtor"]["fullName"], debtor.1);
    assert_eq!(
        receipts[0]["debtor"]["email"],
        "rssmra80a01h501u@example.it"
    );
    assert_eq!(receipts[0]["payer"], Value::Null);
    assert!(!r.body.windows(KEPT.0.len()).any(|w| w == KEPT.0.as_bytes()));

    let r = server.post_json(ERASE, &subject(debtor.0)).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let answer = json(&r);
    let listed = |list: &str| -> Vec<(String, String)> {
        answer[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let id = d["iupd"].as_str().or(d["receiptId"].as_str()).unwrap();
                (id.to_owned(), d["reason"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let erased_ids: Vec<String> = listed("erased").into_iter().map(|(id, _)| id).collect();
    assert_eq!(erased_ids, ["X-DRAFT", "X-INVALID"]);
    let kept = listed("kept");
    let kept_ids: Vec<&str> = kept.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(kept_ids, ["X-OPEN", "X-PAID", "x-paid"]);
    assert!(kept[0].1.contains("open debt"), "{kept:?}");
    assert!(
        kept[1].1.contains("paid") && kept[1].1.contains("2099-12-31"),
        "{kept:?}"
    );
    assert!(
        kept[2].1.contains("receipt") && kept[2].1.contains("until"),
        "{kept:?}"
    );

    // What was kept is still exported; what was erased is not, and cannot be published.
    let r = server.post_json(EXPORT, &subject(debtor.0)).await;
    let left: Vec<String> = json(&r)["debtPositions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["iupd"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, ["X-OPEN", "X-PAID"]);
    let r = server
        .post_json(&format!("{POSITIONS}/X-DRAFT/publish"), &json!({}))
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    let r = server.get(&format!("{POSITIONS}/X-DRAFT")).await;
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["paymentOption"][0]["amount"], 1000);
    // Nothing of the other debtor nor of the other creditor was touched.
    let r = server.post_json(EXPORT, &subject(KEPT.0)).await;
    assert_eq!(json(&r)["debtPositions"].as_array().unwrap().len(), 1);
    let r = server
        .post_json(
            &format!("/organizations/{OTHER}/debtors/export"),
            &subject(debtor.0),
        )
        .await;
    assert_eq!(json(&r)["debtPositions"][0]["iupd"], "X-ELSEWHERE");
    assert_eq!(json(&r)["debtPositions"][0]["fullName"], debtor.1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_and_wrong_keys_are_refused() {
    let server = TestServer::start().await;
    for path in [EXPORT, ERASE] {
        for (body, names) in [
            (&b"not json"[..], ""),
            (br#"{}"#, "fiscalCode"),
            (br#"{"fiscalCode": "A"}"#, "fiscalCode"),
            (br#"{"fiscalCode": 42}"#, "fiscalCode"),
            (br#"{"fiscalCode": "ANONIMO"}"#, "ANONIMO"),
            (
                br#"{"fiscalCode": "RSSMRA80A01H501U", "name": "x"}"#,
                "name",
            ),
        ] {
            let r = server
                .request("POST", path, &[("Content-Type", "application/json")], body)
                .await;
            assert_eq!(r.status, 400, "{path} {}", String::from_utf8_lossy(body));
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            assert!(text(&r).contains(names), "{}", text(&r));
        }
        let body = subject("RSSMRA80A01H501U").to_string();
        let r = server
            .request_without_key("POST", path, &[], body.as_bytes())
            .await;
        assert_eq!(r.status, 401);
        let other = server.create_key(&[OTHER]).await;
        let r = server
            .request_as(&other, "POST", path, &[], body.as_bytes())
            .await;
        assert_eq!(r.status, 403);
        let segregated = server.create_segregated_key(ORG, &["01"]).await;
        let r = server
            .request_as(&segregated, "POST", path, &[], body.as_bytes())
            .await;
        assert_eq!(r.status, 403, "{}", text(&r));
        let own = server.create_key(&[ORG]).await;
        let r = server
            .request_as(&own, "POST", path, &[], body.as_bytes())
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
    }
    server.stop().await;
}
