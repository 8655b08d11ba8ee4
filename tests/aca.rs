//! The mirror of positions to the central notices archive, end to end: the gateway with a
//! creditor mirrored to a fake archive (tests/harness/aca_stub.rs, checked against the official
//! document) on loopback. Every kind of change arrives in order, failures are retried, listed
//! and retried on demand, a slow archive never slows the creditor's call, a restart resumes what
//! was pending, `aca sync` mends a diverged archive, and an invalidated position is restored.

mod harness;

use std::time::{Duration, Instant};

use gpd_gateway::aca::mirror::Mirror;
use gpd_gateway::aca::sync;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use gpd_gateway::domain::FiscalCodePA;
use gpd_gateway::domain::broadcast::RetryPolicy;
use gpd_gateway::domain::platform::PlatformAccess;
use gpd_gateway::store::copy::Progress;
use harness::aca_stub::{FakeArchive, Held};
use harness::positions::{iuv, position};
use harness::receipts::ReceiptRequest;
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const WAIT: Duration = Duration::from_secs(20);

/// The example configuration with the creditor mirrored to `archive`, polled often, retried
/// soon, at most `attempts` times.
fn config(archive: &FakeArchive, attempts: u32) -> Config {
    let mut config = Config::example();
    let org = FiscalCodePA::parse(ORG).unwrap();
    let creditor = config.creditors.get_mut(&org).unwrap();
    creditor.platform.aca = Some(PlatformAccess::new(&archive.url(), "aca-key").unwrap());
    config.aca.poll_interval = Duration::from_millis(20);
    config.aca.timeout = Duration::from_secs(5);
    config.aca.retry = RetryPolicy {
        max_attempts: attempts,
        base: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
    };
    config
}

fn positions() -> String {
    format!("/organizations/{ORG}/debtpositions")
}

fn path(iupd: &str) -> String {
    format!("{}/{iupd}", positions())
}

async fn create(server: &TestServer, body: &Value, publish: bool) {
    let query = if publish { "?toPublish=true" } else { "" };
    let r = server
        .post_json(&format!("{}{query}", positions()), body)
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
}

async fn post(server: &TestServer, path: &str) -> gpd_gateway::client::Response {
    server.post_json(path, &json!({})).await
}

/// Waits until the archive logged `steps` for `key`, and nothing else for it.
async fn steps(archive: &FakeArchive, key: &str, expected: &[&str]) {
    let key = key.to_owned();
    let n = expected.len();
    let keyed = key.clone();
    archive
        .wait_for(WAIT, move |s| {
            s.log.iter().filter(|(_, k)| *k == keyed).count() >= n
        })
        .await;
    assert_eq!(archive.steps_of(&key), expected, "{key}");
}

async fn mirrors(server: &TestServer, query: &str) -> Value {
    let r = server
        .get(&format!("/organizations/{ORG}/aca/mirrors{query}"))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    json(&r)
}

/// Waits until the creditor's mirror of `iupd` reads `state`; its listing then.
async fn mirror_in(server: &TestServer, iupd: &str, state: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let listed = mirrors(server, "?limit=100").await;
        let found = listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["iupd"] == iupd)
            .cloned();
        if let Some(m) = found.filter(|m| m["state"] == state) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{iupd} never {state}: {listed:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn amount_of(held: &Held) -> i64 {
    held.body["paymentOption"][0]["amount"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_change_arrives_in_order() {
    let archive = FakeArchive::start().await;
    let server = TestServer::start_with(config(&archive, 5), Clock::system()).await;

    // A draft, updated, published, invalidated, restored.
    create(&server, &position("A", &iuv(1, 1), 1000), false).await;
    steps(&archive, "A", &["create"]).await;
    assert_eq!(archive.held("A").unwrap().status, "DRAFT");
    let r = server
        .put_json(&path("A"), &position("A", &iuv(1, 1), 1200))
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    steps(&archive, "A", &["create", "update"]).await;
    assert_eq!(amount_of(&archive.held("A").unwrap()), 1200);
    assert_eq!(
        post(&server, &format!("{}/publish", path("A")))
            .await
            .status,
        200
    );
    steps(&archive, "A", &["create", "update", "publish"]).await;
    let r = post(&server, &format!("{}/invalidate", path("A"))).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    steps(
        &archive,
        "A",
        &["create", "update", "publish", "invalidate"],
    )
    .await;
    let r = post(&server, &format!("{}/restore", path("A"))).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["status"], "VALID");
    assert_eq!(
        json(&r)["paymentOption"][0]["nav"],
        format!("3{}", iuv(1, 1)),
        "the same notice"
    );
    let restored = [
        "create",
        "update",
        "publish",
        "invalidate",
        "delete",
        "create",
    ];
    steps(&archive, "A", &restored).await;
    assert_eq!(archive.held("A").unwrap().status, "VALID");

    // Published at once, then paid by the creditor's call; another paid by a receipt.
    create(&server, &position("B", &iuv(1, 2), 500), true).await;
    steps(&archive, "B", &["create"]).await;
    let nav_b = format!("3{}", iuv(1, 2));
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav_b}"),
            &json!({"paymentDate": "2025-06-01T10:00:00"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    steps(&archive, &nav_b, &["paid"]).await;
    create(&server, &position("C", &iuv(1, 3), 1000), true).await;
    steps(&archive, "C", &["create"]).await;
    let receipt = ReceiptRequest::v2("R-C", &iuv(1, 3), 1000);
    let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
    assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    let nav_c = format!("3{}", iuv(1, 3));
    steps(&archive, &nav_c, &["paid"]).await;
    assert_eq!(archive.held("C").unwrap().status, "PAID");

    // Deleted; and two made in bulk.
    create(&server, &position("D", &iuv(1, 4), 300), false).await;
    steps(&archive, "D", &["create"]).await;
    assert_eq!(server.delete(&path("D")).await.status, 200);
    steps(&archive, "D", &["create", "delete"]).await;
    assert!(archive.held("D").is_none());
    let bulk = json!({"paymentPositions": [
        position("E1", &iuv(1, 5), 100), position("E2", &iuv(1, 6), 200)
    ]});
    let r = server
        .post_json(&format!("{}/bulk?toPublish=true", positions()), &bulk)
        .await;
    assert!(r.status < 300, "{}", text(&r));
    steps(&archive, "E1", &["create"]).await;
    steps(&archive, "E2", &["create"]).await;

    // Everything mirrored; nothing pending or failed; a deleted position leaves no row.
    for iupd in ["A", "B", "C", "E1", "E2"] {
        let m = mirror_in(&server, iupd, "DONE").await;
        assert!(m.get("lastError").is_none(), "{m}");
    }
    let listed = mirrors(&server, "?state=PENDING").await;
    assert_eq!(listed["page_info"]["items_found"], 0, "{listed}");
    let all = mirrors(&server, "").await;
    assert!(
        all["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["iupd"] != "D"),
        "{all}"
    );
    // The key is sent, and nothing the document does not allow.
    let calls = archive.stub.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.header("ocp-apim-subscription-key") == Some("aca-key"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_listed_and_retried_on_demand() {
    let archive = FakeArchive::start().await;
    let server = TestServer::start_with(config(&archive, 3), Clock::system()).await;

    // One failure, then the archive recovers: the next attempt goes through.
    archive.fail_next(&[500]);
    create(&server, &position("R", &iuv(1, 10), 1000), true).await;
    steps(&archive, "R", &["create"]).await;
    let m = mirror_in(&server, "R", "DONE").await;
    assert_eq!(m["attempts"], 0);

    // Failing at every attempt: pending while retried, then given up and listed with why.
    archive.fail_next(&[500; 3]);
    create(&server, &position("F", &iuv(1, 11), 1000), true).await;
    let failed = mirror_in(&server, "F", "FAILED").await;
    assert_eq!(failed["attempts"], 3, "{failed}");
    let why = failed["lastError"].as_str().unwrap();
    assert!(why.starts_with("create: HTTP 500"), "{why}");
    let listed = mirrors(&server, "?state=FAILED").await;
    assert_eq!(listed["page_info"]["items_found"], 1);
    assert_eq!(listed["results"][0]["iupd"], "F");
    assert!(archive.held("F").is_none());

    // Retried on demand once the archive is back.
    let retry = format!("/organizations/{ORG}/aca/mirrors/F/retry");
    let r = post(&server, &retry).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    steps(&archive, "F", &["create"]).await;
    mirror_in(&server, "F", "DONE").await;
    let again = post(&server, &retry).await;
    assert_eq!(again.status, 409, "only a failed one: {}", text(&again));
    let unknown = post(
        &server,
        &format!("/organizations/{ORG}/aca/mirrors/NOPE/retry"),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let bad = server
        .get(&format!("/organizations/{ORG}/aca/mirrors?state=LOST"))
        .await;
    assert_eq!(bad.status, 400);

    // A refusal no retry mends is given up at once.
    archive.fail_next(&[400]);
    create(&server, &position("X", &iuv(1, 12), 1000), true).await;
    let refused = mirror_in(&server, "X", "FAILED").await;
    assert_eq!(refused["attempts"], 1, "{refused}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_archive_never_slows_the_creditor() {
    let archive = FakeArchive::start().await;
    archive.slow_down(Duration::from_millis(1500));
    let server = TestServer::start_with(config(&archive, 5), Clock::system()).await;
    let started = Instant::now();
    for i in 0..3 {
        create(
            &server,
            &position(&format!("S{i}"), &iuv(1, 20 + i), 1000),
            true,
        )
        .await;
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "three creations took {took:?}"
    );
    for i in 0..3 {
        steps(&archive, &format!("S{i}"), &["create"]).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_resumes_what_was_pending() {
    let archive = FakeArchive::start().await;
    // An archive out of reach while the first server runs, and a worker that, however late
    // its first round comes, does not come round again: the change stays pending.
    let mut idle = config(&archive, 5);
    let org = FiscalCodePA::parse(ORG).unwrap();
    idle.creditors.get_mut(&org).unwrap().platform.aca =
        Some(PlatformAccess::new("http://127.0.0.1:9", "aca-key").unwrap());
    idle.aca.poll_interval = Duration::from_secs(3600);
    let server = TestServer::start_with(idle, Clock::system()).await;
    create(&server, &position("P", &iuv(1, 30), 1000), true).await;
    let pending = mirror_in(&server, "P", "PENDING").await;
    assert!(pending["attempts"].as_u64().unwrap() <= 1, "{pending}");
    let dir = server.stop_and_keep_data().await;
    assert!(archive.log().is_empty());

    let server = TestServer::start_on(dir, config(&archive, 5), Clock::system()).await;
    steps(&archive, "P", &["create"]).await;
    mirror_in(&server, "P", "DONE").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_mends_a_diverged_archive() {
    let archive = FakeArchive::start().await;
    let config = config(&archive, 3);
    let server = TestServer::start_with(config.clone(), Clock::system()).await;
    for (i, iupd) in ["K1", "K2", "K3"].into_iter().enumerate() {
        create(&server, &position(iupd, &iuv(1, 40 + i as u64), 1000), true).await;
        steps(&archive, iupd, &["create"]).await;
    }
    let dir = server.stop_and_keep_data().await;

    // Behind the mirror's back: one lost, one changed, many the store does not have (two
    // pages of the archive's list).
    {
        let mut s = archive.state.lock().unwrap();
        s.positions.remove("K1");
        s.positions.get_mut("K2").unwrap().body["paymentOption"][0]["amount"] = json!(7);
        for i in 0..55 {
            let extra = position(&format!("Z{i:02}"), &iuv(2, 100 + i), 100);
            let held = Held {
                body: extra,
                status: "VALID".into(),
                paid: Vec::new(),
            };
            s.positions.insert(format!("Z{i:02}"), held);
        }
        s.log.clear();
    }
    let store = harness::store::open(dir.path()).await;
    let clock = Clock::system();
    let mirror = Mirror::new(&config, store.clone(), clock);
    mirror.prepare().await.unwrap();
    let org = FiscalCodePA::parse(ORG).unwrap();
    let mut progress = Progress::new(false);
    let dry = sync::sync(&mirror, store.as_ref(), clock, &org, true, &mut progress)
        .await
        .unwrap();
    assert_eq!(
        (
            dry.in_archive,
            dry.in_store,
            dry.to_create,
            dry.to_update,
            dry.to_delete
        ),
        (57, 3, 1, 1, 55),
        "{dry}"
    );
    assert!(archive.log().is_empty(), "a dry run sends nothing");
    assert_eq!(archive.state.lock().unwrap().lists, 2, "two pages");

    let done = sync::sync(&mirror, store.as_ref(), clock, &org, false, &mut progress)
        .await
        .unwrap();
    assert_eq!(
        (done.created, done.updated, done.deleted, done.failed),
        (1, 1, 55, 0),
        "{done}"
    );
    let held: Vec<String> = archive
        .state
        .lock()
        .unwrap()
        .positions
        .keys()
        .cloned()
        .collect();
    assert_eq!(held, ["K1", "K2", "K3"]);
    assert_eq!(amount_of(&archive.held("K2").unwrap()), 1000);
    assert_eq!(
        archive.steps_of("K3"),
        Vec::<String>::new(),
        "the same: untouched"
    );
    // A second sync finds nothing to mend.
    let again = sync::sync(&mirror, store.as_ref(), clock, &org, false, &mut progress)
        .await
        .unwrap();
    assert_eq!(
        (again.to_create, again.to_update, again.to_delete),
        (0, 0, 0),
        "{again}"
    );
    store.close().await.unwrap();
    harness::store::drop_database(dir.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_is_refused_unless_invalid_and_unpaid() {
    let archive = FakeArchive::start().await;
    let server = TestServer::start_with(config(&archive, 3), Clock::system()).await;
    create(&server, &position("V", &iuv(1, 50), 1000), true).await;
    steps(&archive, "V", &["create"]).await;
    let r = post(&server, &format!("{}/restore", path("V"))).await;
    assert_eq!(r.status, 409, "a valid one: {}", text(&r));
    let nav = format!("3{}", iuv(1, 50));
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/paymentoptions/paids/{nav}"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = post(&server, &format!("{}/restore", path("V"))).await;
    assert_eq!(r.status, 409, "a paid one: {}", text(&r));
    assert_eq!(json(&r)["status"], 409);
    assert!(json(&r)["detail"].as_str().unwrap().contains("INVALID"));
    let r = post(&server, &format!("{}/restore", path("NONE"))).await;
    assert_eq!(r.status, 404);
    steps(&archive, &nav, &["paid"]).await;
    server.stop().await;
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gpd-gateway"))
        .args(args)
        .output()
        .expect("the binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_list_retry_and_sync_from_the_command_line() {
    let archive = FakeArchive::start().await;
    let server = TestServer::start_with(config(&archive, 1), Clock::system()).await;
    archive.fail_next(&[500]);
    create(&server, &position("CLI-1", &iuv(1, 60), 1000), true).await;
    mirror_in(&server, "CLI-1", "FAILED").await;
    let store = harness::store::args(server.data_dir()).await;
    let store: Vec<&str> = store.iter().map(String::as_str).collect();

    let (ok, out) = cli(&[&["aca", "failed", "--org", ORG], &store[..]].concat());
    assert!(ok, "{out}");
    assert!(out.contains("FAILED") && out.contains("CLI-1"), "{out}");
    assert!(out.contains("create: HTTP 500"), "{out}");
    assert!(out.contains("1 of 1 mirrored positions"), "{out}");
    let (ok, out) = cli(&[&["aca", "pending", "--org", ORG], &store[..]].concat());
    assert!(ok && out.contains("0 of 0"), "{out}");
    let (ok, out) = cli(&[&["aca", "list", "--state", "lost"], &store[..]].concat());
    assert!(!ok && out.contains("--state"), "{out}");
    let (ok, out) = cli(&[&["aca", "retry", "CLI-1", "--org", ORG], &store[..]].concat());
    assert!(ok && out.contains("PENDING"), "{out}");
    steps(&archive, "CLI-1", &["create"]).await;
    mirror_in(&server, "CLI-1", "DONE").await;

    // A sync with the configuration file, the gateway stopped: nothing differs.
    let dir = server.stop_and_keep_data().await;
    let file = dir.path().join("gateway.toml");
    // The table goes within the first creditor's, before the second one starts.
    let second = "[[creditor]]\nfiscal_code = \"88888888888\"";
    let aca = format!(
        "[creditor.aca]\nendpoint = \"{}\"\nsubscription_key = \"aca-key\"\n\n{second}",
        archive.url()
    );
    let toml = gpd_gateway::config::EXAMPLE_TOML.replacen(second, &aca, 1);
    std::fs::write(&file, toml).unwrap();
    let args = harness::store::args(dir.path()).await;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let config = file.to_str().unwrap();
    let sync = ["aca", "sync", "--org", ORG, "--config", config, "--dry-run"];
    let (ok, out) = cli(&[&sync[..], &args[..]].concat());
    assert!(ok, "{out}");
    assert!(
        out.contains("1 positions in the archive, 1 in the store; to create 0, to update 0, to delete 0 (dry run"),
        "{out}"
    );
    harness::store::drop_database(dir.path()).await;
}
