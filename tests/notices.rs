//! Payment notices end to end: the REST routes of the running gateway answer PDFs whose QR codes
//! and Data Matrix decode (zbarimg, dmtxread) to the payloads the position gives; positions that
//! cannot be paid are 409 with the reason, missing ones 404, other creditors' keys 403; and
//! `gpd-gateway notices render` writes the same PDF from the store.

mod harness;

use chrono::Duration;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use harness::binary::BIN;
use harness::pdf_tools::{read_pdf, words};
use harness::positions::{iuv, position};
use harness::{TestServer, json, loopback_stations, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
/// The Poste authorisation of the example configuration, printed on its slips.
const AUTHORISATION: &str = "DB/SSIC/E 1234 del 01/01/2026";

/// A position of `options` (each `(iuv, cents, description, installment)`), due in 2099.
fn position_of(iupd: &str, options: &[(&str, i64, &str, bool)]) -> Value {
    let mut p = position(iupd, options[0].0, options[0].1);
    let template = p["paymentOption"][0].clone();
    p["paymentOption"] = options
        .iter()
        .map(|(iuv, cents, description, partial)| {
            let mut o = template.clone();
            o["iuv"] = json!(iuv);
            o["amount"] = json!(cents);
            o["description"] = json!(description);
            o["isPartialPayment"] = json!(partial);
            o["dueDate"] = json!("2099-12-31T12:00:00");
            o["transfer"][0]["amount"] = json!(cents);
            o
        })
        .collect();
    p
}

fn nav(iuv: &str) -> String {
    format!("3{iuv}")
}

fn qr(iuv: &str, cents: i64) -> String {
    format!("PAGOPA|002|{}|{ORG}|{cents}", nav(iuv))
}

fn notice_path(iupd: &str) -> String {
    format!("/organizations/{ORG}/debtpositions/{iupd}/notice")
}

fn option_notice_path(iupd: &str, nav: &str) -> String {
    format!("/organizations/{ORG}/debtpositions/{iupd}/paymentoptions/{nav}/notice")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn notices_of_payable_positions_carry_their_payment_codes() {
    let server = TestServer::start().await;
    let (single, first, second) = (iuv(1, 9_001), iuv(1, 9_002), iuv(1, 9_003));
    let plan = position_of(
        "NT-PLAN",
        &[
            (&single, 30_000, "IMU 2026 - unica soluzione", false),
            (&first, 15_000, "IMU 2026 - prima rata", true),
            (&second, 15_000, "IMU 2026 - seconda rata", true),
        ],
    );
    server.create_position(ORG, &plan, true).await;

    // The whole position: the single payment and both installments.
    let r = server.get(&notice_path("NT-PLAN")).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(
        r.header("content-disposition").map(str::to_owned),
        Some(format!(
            "attachment; filename=\"avviso-{ORG}-{}.pdf\"",
            nav(&single)
        ))
    );
    let reading = read_pdf(&r.body);
    assert_eq!(
        sorted(reading.qr_codes.clone()),
        sorted(vec![
            qr(&single, 30_000),
            qr(&first, 15_000),
            qr(&second, 15_000)
        ])
    );
    let printed = words(&reading.text);
    // No Poste slip: the options credit no postal account.
    assert!(!printed.contains(AUTHORISATION), "{printed}");
    for expected in [
        "IMU 2026 - unica soluzione",
        "Mario Rossi",
        "RSSMRA80A01H501U",
        "31/12/2099",
    ] {
        assert!(printed.contains(expected), "{expected} not in {printed}");
    }

    // One installment, by its notice number.
    let r = server
        .get(&option_notice_path("NT-PLAN", &nav(&second)))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(read_pdf(&r.body).qr_codes, vec![qr(&second, 15_000)]);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains(&nav(&second))
    );

    // A creditor collecting through Poste: the owner's transfer credits a postal account.
    let postal = iuv(1, 9_004);
    let mut p = position_of("NT-POSTE", &[(&postal, 15_000, "TARI 2026 - saldo", false)]);
    p["paymentOption"][0]["transfer"][0]["postalIban"] = json!("IT21Q0760101600000000654321");
    server.create_position(ORG, &p, true).await;
    let r = server.get(&notice_path("NT-POSTE")).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let reading = read_pdf(&r.body);
    assert_eq!(reading.qr_codes, vec![qr(&postal, 15_000)]);
    let data_matrix = format!(
        "codfase=NBPA;18{}1200000065432110000001500038961P1{ORG}RSSMRA80A01H501U{:<40}{:<110}{}A",
        nav(&postal),
        "Mario Rossi",
        "TARI 2026 - saldo",
        " ".repeat(12)
    );
    assert_eq!(data_matrix.len(), 256);
    let slip = (1..=reading.pages)
        .find(|p| reading.page_text(*p).contains(AUTHORISATION))
        .expect("a page with the Poste slip");
    assert_eq!(reading.data_matrices(slip, 1), vec![data_matrix]);
    server.stop().await;
}

#[tokio::test]
async fn positions_that_cannot_be_paid_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_stations(Config::example());
    let server = TestServer::start_on(dir, config.clone(), Clock::system()).await;
    let [draft, paid, invalid, expiring, valid] =
        [9_101, 9_102, 9_103, 9_104, 9_105].map(|b| iuv(1, b));
    server
        .create_position(
            ORG,
            &position_of("NT-DRAFT", &[(&draft, 100, "A", false)]),
            false,
        )
        .await;
    server
        .create_position(
            ORG,
            &position_of("NT-PAID", &[(&paid, 100, "A", false)]),
            true,
        )
        .await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{}", nav(&paid)),
            &json!({"paymentDate": "2026-01-01T10:00:00"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    server
        .create_position(
            ORG,
            &position_of("NT-INVALID", &[(&invalid, 100, "A", false)]),
            true,
        )
        .await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/NT-INVALID/invalidate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    // Due in a day, expiring with it.
    let mut p = position_of("NT-EXPIRING", &[(&expiring, 100, "A", false)]);
    let due = Clock::system().now() + Duration::days(1);
    p["paymentOption"][0]["dueDate"] = json!(due.format("%Y-%m-%dT%H:%M:%S").to_string());
    p["switchToExpired"] = json!(true);
    server.create_position(ORG, &p, true).await;
    server
        .create_position(
            ORG,
            &position_of("NT-VALID", &[(&valid, 100, "A", false)]),
            true,
        )
        .await;

    // Three days later.
    let dir = server.stop_and_keep_data().await;
    let server = TestServer::start_on(dir, config, Clock::shifted(Duration::days(3))).await;
    let refused = |iupd: &'static str, why: &'static str| (notice_path(iupd), 409, why);
    let cases = [
        refused("NT-DRAFT", "DRAFT"),
        refused("NT-PAID", "PAID"),
        refused("NT-INVALID", "INVALID"),
        refused("NT-EXPIRING", "EXPIRED"),
        (option_notice_path("NT-PAID", &nav(&paid)), 409, "PAID"),
        (notice_path("NT-NONE"), 404, "no debt position NT-NONE"),
        (
            option_notice_path("NT-VALID", &nav(&draft)),
            404,
            "has no payment option",
        ),
        (
            option_notice_path("NT-VALID", "12345"),
            400,
            "must be a notice number",
        ),
        (
            "/organizations/12345678901/debtpositions/NT-VALID/notice".to_owned(),
            404,
            "not served by this gateway",
        ),
    ];
    for (path, status, why) in cases {
        let r = server.get(&path).await;
        assert_eq!(r.status, status, "{path}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let detail = json(&r)["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(why), "{path}: {detail}");
    }
    // The expired position's reason says what happened.
    let r = server.get(&notice_path("NT-EXPIRING")).await;
    assert!(text(&r).contains("can no longer be paid"), "{}", text(&r));
    // Still payable three days on.
    let r = server.get(&notice_path("NT-VALID")).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    server.stop().await;
}

#[tokio::test]
async fn only_keys_that_read_the_position_get_its_notice() {
    let server = TestServer::start().await;
    let option = iuv(1, 9_201);
    server
        .create_position(
            ORG,
            &position_of("NT-KEYS", &[(&option, 100, "A", false)]),
            true,
        )
        .await;
    let path = notice_path("NT-KEYS");
    let r = server.request_without_key("GET", &path, &[], b"").await;
    assert_eq!(r.status, 401, "{}", text(&r));
    let other = server.create_key(&["88888888888"]).await;
    let r = server.request_as(&other, "GET", &path, &[], b"").await;
    assert_eq!(r.status, 403, "{}", text(&r));
    let segregated = server.create_segregated_key(ORG, &["02"]).await;
    for path in [&path, &option_notice_path("NT-KEYS", &nav(&option))] {
        let r = server.request_as(&segregated, "GET", path, &[], b"").await;
        assert_eq!(r.status, 403, "{}", text(&r));
        assert!(text(&r).contains("segregation codes"), "{}", text(&r));
    }
    let own = server.create_segregated_key(ORG, &["01"]).await;
    let r = server.request_as(&own, "GET", &path, &[], b"").await;
    assert_eq!(r.status, 200, "{}", text(&r));
    server.stop().await;
}

#[tokio::test]
async fn the_cli_writes_the_notice_and_refuses_what_cannot_be_paid() {
    let server = TestServer::start_on(
        tempfile::tempdir().unwrap(),
        loopback_stations(Config::example()),
        Clock::system(),
    )
    .await;
    let (payable, draft) = (iuv(1, 9_301), iuv(1, 9_302));
    server
        .create_position(
            ORG,
            &position_of("NT-CLI", &[(&payable, 2_550, "Mensa", false)]),
            true,
        )
        .await;
    server
        .create_position(
            ORG,
            &position_of("NT-CLI-DRAFT", &[(&draft, 100, "A", false)]),
            false,
        )
        .await;
    let dir = server.stop_and_keep_data().await;
    let store = harness::store::args(dir.path()).await;
    let out = dir.path().join("notice.pdf");
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(["notices", "render", "--org", ORG])
            .args(args)
            .args(&store)
            .output()
            .unwrap()
    };

    let o = run(&["--iupd", "NT-CLI", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reading = read_pdf(&std::fs::read(&out).unwrap());
    assert_eq!(reading.qr_codes, vec![qr(&payable, 2_550)]);

    // Without -o, the PDF is the standard output.
    let o = run(&["--iupd", "NT-CLI", "--nav", &nav(&payable)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.starts_with(b"%PDF-"));
    assert_eq!(read_pdf(&o.stdout).qr_codes, vec![qr(&payable, 2_550)]);

    let o = run(&["--iupd", "NT-CLI-DRAFT"]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("DRAFT"), "{stderr}");
    let o = run(&["--iupd", "NT-NONE"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no debt position NT-NONE"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    harness::store::drop_database(dir.path()).await;
}
