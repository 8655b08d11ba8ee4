//! Two gateway processes on one PostgreSQL database, as behind a load balancer: what one
//! writes the other answers from at once; races on one notice and on the outbox are settled by
//! the database; an instance killed, the database stopped or a connection cut loses nothing
//! that was acknowledged. Each test has a fresh database in the cluster GPD_TEST_POSTGRES
//! names (`.ci/postgres.sh start DIR` prints one), or a cluster of its own; without it they do
//! nothing, unless GPD_TEST_POSTGRES_REQUIRED is set: then they fail.

mod harness;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gpd_gateway::client::{self, Response};
use gpd_gateway::domain::api_key::ApiKeySecret;
use gpd_gateway::store::postgres::testing::create_database;
use harness::binary::{BIN, Process};
use harness::positions::position;
use harness::receipts::{ReceiptRequest, iuv};
use harness::soap::verify_request;
use harness::store::connect;
use harness::stub_station::{Behaviour, StubStation, receipt_id};
use tokio::sync::watch;

const ORG: &str = "77777777777";
/// The creditor's broadcast station in these tests: not the one receipts arrive on.
const STATION: &str = "77777777777_09";

/// The cluster the tests use, or None (and a note) when none is given.
fn cluster() -> Option<String> {
    match std::env::var("GPD_TEST_POSTGRES") {
        Ok(cluster) => Some(cluster),
        Err(_) => {
            assert!(
                std::env::var_os("GPD_TEST_POSTGRES_REQUIRED").is_none(),
                "GPD_TEST_POSTGRES is required: start a cluster with .ci/postgres.sh"
            );
            eprintln!("GPD_TEST_POSTGRES is not set: several instances not tested");
            None
        }
    }
}

/// The example configuration, with loopback stations allowed, retries after 100 ms, the retry
/// worker looking every 50 ms and a delivery's lease as short as allowed (3 s).
fn config_file(dir: &Path) -> PathBuf {
    let example = include_str!("../config/example.toml");
    let mut text = example.to_owned();
    for (from, to) in [
        (
            "allowed_networks = []",
            "allowed_networks = [\"127.0.0.0/8\"]",
        ),
        ("backoff_base_ms = 30000", "backoff_base_ms = 100"),
        ("poll_interval_ms = 1000", "poll_interval_ms = 50"),
        ("lease_ms = 17000", "lease_ms = 3000"),
    ] {
        assert!(text.contains(from), "the example configuration has {from}");
        text = text.replace(from, to);
    }
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a gpd-gateway command to its end; its standard output.
fn command(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Two instances on one database, and what the tests need around them.
struct Pair {
    dir: tempfile::TempDir,
    url: String,
    config: PathBuf,
    instances: Vec<Process>,
    /// A key for every organization, made before the instances started.
    key: String,
    db: tokio_postgres::Client,
}

impl Pair {
    /// Two instances on a fresh database of `cluster`.
    async fn start(cluster: &str) -> Pair {
        let url = create_database(cluster).await;
        Pair::start_on(url).await
    }

    async fn start_on(url: String) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let config = config_file(dir.path());
        // The key is made (and the schema migrated) by a third process.
        let key = command(&["keys", "create", "--all-organizations", "--store", &url])
            .trim()
            .to_owned();
        let mut pair = Pair {
            db: connect(&url).await,
            dir,
            url,
            config,
            instances: Vec::new(),
            key,
        };
        for name in ["a", "b"] {
            let process = pair.serve(name);
            pair.instances.push(process);
        }
        pair
    }

    fn serve(&self, name: &str) -> Process {
        let config = self.config.to_str().unwrap();
        let log = self.dir.path().join(format!("{name}.log"));
        Process::serve(&["--store", &self.url, "--config", config], log)
    }

    fn a(&self) -> &str {
        &self.instances[0].base
    }

    fn b(&self) -> &str {
        &self.instances[1].base
    }

    /// A REST call with the pair's key.
    async fn rest(&self, base: &str, method: &str, path: &str, body: Option<&str>) -> Response {
        rest_as(base, &self.key, method, path, &[], body).await
    }

    /// Registers the creditor's station at `url` through instance `base`.
    async fn put_station(&self, base: &str, url: &str, timeout_ms: u32) {
        let body = format!(
            r#"{{"brokerId": "{ORG}", "url": "{url}", "primitiveVersion": 2, "timeoutMs": {timeout_ms}}}"#
        );
        let path = format!("/organizations/{ORG}/broadcast-stations/{STATION}");
        let r = self.rest(base, "PUT", &path, Some(&body)).await;
        assert!(r.status == 201 || r.status == 200, "{}", r.body_text());
    }

    /// Creates and publishes a position with one option of `iuv` through instance `base`.
    async fn publish(&self, base: &str, iupd: &str, iuv: &str, cents: i64) {
        let path = format!("/organizations/{ORG}/debtpositions?toPublish=true");
        let body = position(iupd, iuv, cents).to_string();
        let r = self.rest(base, "POST", &path, Some(&body)).await;
        assert_eq!(r.status, 201, "{}", r.body_text());
    }

    /// The receipt ids stored, and how many rows each has.
    async fn stored_receipts(&self) -> HashMap<String, i64> {
        receipts_in(&self.db).await
    }

    /// Waits until every delivery is DELIVERED (and there are `n`), or panics after `within`
    /// with the states and the logs.
    async fn all_delivered(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let states: Vec<(String, i64)> = self
                .db
                .query(
                    "SELECT state, count(*) FROM delivery GROUP BY state ORDER BY state",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            if states == [("DELIVERED".to_owned(), n as i64)] {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "deliveries {states:?}, {n} expected\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn logs(&self) -> String {
        self.instances
            .iter()
            .map(|i| format!("--- {}\n{}", i.base, i.log()))
            .collect()
    }
}

async fn receipts_in(db: &tokio_postgres::Client) -> HashMap<String, i64> {
    db.query(
        "SELECT receipt_id, count(*) FROM receipt GROUP BY receipt_id",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

async fn rest_as(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    let mut all = vec![
        ("Ocp-Apim-Subscription-Key", key),
        ("Content-Type", "application/json"),
    ];
    all.extend_from_slice(headers);
    let body = body.unwrap_or_default().as_bytes().to_vec();
    client::send(base, method, path, &all, body)
        .await
        .expect("the instance answers")
}

async fn soap(base: &str, action: &str, body: &str) -> Result<Response, client::ClientError> {
    let headers = [
        ("Content-Type", "text/xml; charset=utf-8"),
        ("SOAPAction", action),
    ];
    client::send(base, "POST", "/partner", &headers, body.as_bytes().to_vec()).await
}

/// What the Node got for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Ok,
    /// KO with this fault code.
    Ko(String),
    /// No SOAP answer: the instance was gone, or answered something else.
    None(String),
}

fn answer(response: Result<Response, client::ClientError>) -> Answer {
    let response = match response {
        Ok(r) => r,
        Err(e) => return Answer::None(e.to_string()),
    };
    let body = response.body_text();
    if response.status == 200 && body.contains("<outcome>OK</outcome>") {
        return Answer::Ok;
    }
    match body
        .split_once("<faultCode>")
        .and_then(|(_, rest)| rest.split_once("</faultCode>"))
    {
        Some((code, _)) if response.status == 200 => Answer::Ko(code.to_owned()),
        _ => Answer::None(format!("{}: {body}", response.status)),
    }
}

/// A receipt of the creditor for a notice of nobody's (kept FLAGGED and forwarded), unique by
/// `n`.
fn receipt(prefix: &str, n: u64) -> ReceiptRequest {
    ReceiptRequest::v2(&format!("{prefix}-{n}"), &iuv("02", n), 1000 + n as i64)
}

async fn send_receipt(base: &str, receipt: &ReceiptRequest) -> Answer {
    answer(soap(base, receipt.action(), &receipt.xml()).await)
}

async fn verify(base: &str, notice: &str) -> Answer {
    answer(soap(base, "paVerifyPaymentNotice", &verify_request(notice)).await)
}

async fn ready(base: &str) -> Option<u16> {
    client::send(base, "GET", "/ready", &[], Vec::new())
        .await
        .ok()
        .map(|r| r.status)
}

/// Polls `check` every 20 ms until it holds; panics with `what` after `within`.
async fn until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One receipt sent under load, and what came back.
#[derive(Debug, Clone)]
struct Sent {
    base: String,
    receipt: ReceiptRequest,
    sent: Instant,
    answered: Instant,
    answer: Answer,
}

/// New receipts kept in flight on each instance until stopped, each answer recorded as it
/// comes.
struct Load {
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: watch::Sender<bool>,
    senders: tokio::task::JoinSet<()>,
}

impl Load {
    /// `per_instance` receipts in flight on each of `bases` at every moment.
    fn start(bases: &[&str], per_instance: usize, prefix: &'static str) -> Load {
        let (stop, stopped) = watch::channel(false);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let next = Arc::new(AtomicU64::new(0));
        let mut senders = tokio::task::JoinSet::new();
        for base in bases {
            for _ in 0..per_instance {
                let base = base.to_string();
                let (next, stopped, sent) = (next.clone(), stopped.clone(), sent.clone());
                senders.spawn(async move {
                    while !*stopped.borrow() {
                        let receipt = receipt(prefix, next.fetch_add(1, Ordering::Relaxed));
                        let at = Instant::now();
                        let answer = send_receipt(&base, &receipt).await;
                        let gone = matches!(answer, Answer::None(_));
                        sent.lock().unwrap().push(Sent {
                            base: base.clone(),
                            receipt,
                            sent: at,
                            answered: Instant::now(),
                            answer,
                        });
                        if gone {
                            // The instance is gone or not answering: do not spin on it.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                });
            }
        }
        Load {
            sent,
            stop,
            senders,
        }
    }

    /// How many answers so far `which` counts.
    fn count(&self, which: impl Fn(&Sent) -> bool) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|s| which(s))
            .count()
    }

    /// Waits until `which` counts `n` answers; panics with what came after `within`.
    async fn until(&self, what: &str, n: usize, which: impl Fn(&Sent) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count(&which) < n {
            assert!(
                Instant::now() < deadline,
                "{what}: {}",
                summary(&self.sent.lock().unwrap())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops sending; every receipt sent and its answer.
    async fn stop(mut self) -> Vec<Sent> {
        self.stop.send(true).unwrap();
        while let Some(done) = self.senders.join_next().await {
            done.unwrap();
        }
        let sent = std::mem::take(&mut *self.sent.lock().unwrap());
        eprintln!("{}", summary(&sent));
        sent
    }
}

/// Every receipt answered OK is stored.
fn none_lost(sent: &[Sent], stored: &HashMap<String, i64>) {
    let lost: Vec<&str> = sent
        .iter()
        .filter(|s| s.answer == Answer::Ok && !stored.contains_key(&s.receipt.receipt_id))
        .map(|s| s.receipt.receipt_id.as_str())
        .collect();
    assert!(lost.is_empty(), "acknowledged and not stored: {lost:?}");
}

/// How the receipts sent were answered, for the test's output.
fn summary(sent: &[Sent]) -> String {
    let mut by: HashMap<String, usize> = HashMap::new();
    for s in sent {
        let key = match &s.answer {
            Answer::Ok => "OK".to_owned(),
            Answer::Ko(code) => code.clone(),
            Answer::None(_) => "no answer".to_owned(),
        };
        *by.entry(key).or_default() += 1;
    }
    format!("{} receipts sent: {by:?}", sent.len())
}

fn count(sent: &[Sent], which: impl Fn(&Answer) -> bool) -> usize {
    sent.iter().filter(|s| which(&s.answer)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_instance_writes_the_other_answers_from_at_once() {
    let Some(cluster) = cluster() else {
        return;
    };
    let pair = Pair::start(&cluster).await;
    let (a, b) = (pair.a(), pair.b());

    // Created and published on A, verified on B at once.
    let iuv = iuv("01", 4242);
    pair.publish(a, "IUPD-CROSS", &iuv, 12_000).await;
    let notice = format!("3{iuv}");
    let verified = soap(b, "paVerifyPaymentNotice", &verify_request(&notice))
        .await
        .unwrap()
        .body_text();
    assert!(verified.contains("<outcome>OK</outcome>"), "{verified}");
    assert!(verified.contains("120.00"), "{verified}");

    // An ETag from A is stale on B once A has updated the position.
    let path = format!("/organizations/{ORG}/debtpositions/IUPD-CROSS");
    let read = pair.rest(a, "GET", &path, None).await;
    let tag = read.header("etag").expect("an ETag").to_owned();
    let body = position("IUPD-CROSS", &iuv, 13_000).to_string();
    let headers = [("If-Match", tag.as_str())];
    let updated = rest_as(a, &pair.key, "PUT", &path, &headers, Some(&body)).await;
    assert_eq!(updated.status, 200, "{}", updated.body_text());
    let body = position("IUPD-CROSS", &iuv, 14_000).to_string();
    let stale = rest_as(b, &pair.key, "PUT", &path, &headers, Some(&body)).await;
    assert_eq!(stale.status, 412, "{}", stale.body_text());
    let fresh = updated.header("etag").unwrap();
    let on_b = pair.rest(b, "GET", &path, None).await;
    assert_eq!(on_b.header("etag"), Some(fresh));
    assert!(on_b.body_text().contains("13000"), "{}", on_b.body_text());
    // The update made it a draft: published again on B, A verifies the new amount.
    let publish = format!("{path}/publish");
    let r = pair.rest(b, "POST", &publish, None).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let verified = soap(a, "paVerifyPaymentNotice", &verify_request(&notice))
        .await
        .unwrap()
        .body_text();
    assert!(verified.contains("130.00"), "{verified}");

    // A key made while both run works on both from the next request; revoked, on neither.
    let secret = command(&["keys", "create", "--org", ORG, "--store", &pair.url])
        .trim()
        .to_owned();
    for base in [a, b] {
        let r = rest_as(base, &secret, "GET", &path, &[], None).await;
        assert_eq!(r.status, 200, "{}", r.body_text());
    }
    let id = ApiKeySecret::parse(&secret).unwrap().id().to_string();
    command(&["keys", "revoke", &id, "--store", &pair.url]);
    for base in [a, b] {
        let r = rest_as(base, &secret, "GET", &path, &[], None).await;
        assert_eq!(r.status, 401, "{}", r.body_text());
    }

    // A station registered on A gets the receipts B takes.
    let station = StubStation::start(Behaviour::Ok).await;
    pair.put_station(a, &station.url(), 1000).await;
    let paid = ReceiptRequest::v2("R-CROSS", &iuv, 13_000);
    assert_eq!(send_receipt(b, &paid).await, Answer::Ok);
    let received = station.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(receipt_id(&received[0].body), "R-CROSS");
    // And A answers from the payment B stored.
    let on_a = pair.rest(a, "GET", &path, None).await;
    assert!(
        on_a.body_text().contains("\"PAID\""),
        "{}",
        on_a.body_text()
    );
    pair.all_delivered(1, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_sent_to_both_instances_at_once_is_applied_once() {
    let Some(cluster) = cluster() else {
        return;
    };
    let pair = Pair::start(&cluster).await;
    let (a, b) = (pair.a(), pair.b());
    const NOTICES: u64 = 24;
    for n in 0..NOTICES {
        pair.publish(a, &format!("IUPD-RACE-{n}"), &iuv("01", 100 + n), 5000)
            .await;
    }
    for n in 0..NOTICES {
        let iuv = iuv("01", 100 + n);
        // Even notices: the same receipt twice, as the Node repeats one. Odd: two receipts.
        let first = ReceiptRequest::v2(&format!("R-RACE-{n}"), &iuv, 5000);
        let mut second = first.clone();
        if n % 2 == 1 {
            second.receipt_id = format!("R-RACE-{n}-OTHER");
        }
        let (on_a, on_b) = tokio::join!(send_receipt(a, &first), send_receipt(b, &second));
        if n % 2 == 0 {
            assert_eq!((&on_a, &on_b), (&Answer::Ok, &Answer::Ok), "notice {n}");
        } else {
            // One applied, the other a duplicate: PAA_RECEIPT_DUPLICATA, as one instance says.
            let mut answers = [on_a, on_b];
            answers.sort_by_key(|a| format!("{a:?}"));
            let duplicate = Answer::Ko("PAA_RECEIPT_DUPLICATA".into());
            assert_eq!(answers, [duplicate, Answer::Ok], "notice {n}");
        }
    }
    let rows = pair
        .db
        .query(
            "SELECT iuv, status, count(*) FROM receipt GROUP BY iuv, status ORDER BY iuv, status",
            &[],
        )
        .await
        .unwrap();
    let mut by_notice: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for row in rows {
        by_notice
            .entry(row.get(0))
            .or_default()
            .push((row.get(1), row.get(2)));
    }
    assert_eq!(by_notice.len(), NOTICES as usize);
    for n in 0..NOTICES {
        let expected: Vec<(String, i64)> = if n % 2 == 0 {
            vec![("APPLIED".into(), 1)]
        } else {
            vec![("APPLIED".into(), 1), ("DUPLICATE".into(), 1)]
        };
        assert_eq!(by_notice[&iuv("01", 100 + n)], expected, "notice {n}");
    }
    // Each position is paid once.
    let path = format!("/organizations/{ORG}/debtpositions/IUPD-RACE-0");
    let read = pair.rest(b, "GET", &path, None).await.body_text();
    assert!(read.contains("\"PAID\""), "{read}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_delivery_is_sent_by_one_instance_at_a_time() {
    let Some(cluster) = cluster() else {
        return;
    };
    let pair = Pair::start(&cluster).await;
    // The station fails the first attempts (those beside the Node's answer): the deliveries
    // are left to the retry workers of both instances.
    let station = StubStation::start(Behaviour::Status500).await;
    pair.put_station(pair.a(), &station.url(), 200).await;
    const RECEIPTS: u64 = 40;
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..RECEIPTS {
        let base = pair.instances[(n % 2) as usize].base.clone();
        sends.spawn(async move { send_receipt(&base, &receipt("R-CLAIM", n)).await });
    }
    while let Some(answer) = sends.join_next().await {
        assert_eq!(answer.unwrap(), Answer::Ok);
    }
    station.wait_for(2, Duration::from_secs(10)).await;
    station.set_behaviour(Behaviour::Ok);
    pair.all_delivered(RECEIPTS as usize, Duration::from_secs(30))
        .await;
    // Each receipt delivered once, and each request the station got was one recorded attempt
    // of its delivery: none was sent twice at once, by two instances or by one.
    let counts = station.per_receipt();
    let attempts: HashMap<String, i64> = pair
        .db
        .query(
            "SELECT r.receipt_id, d.attempts FROM delivery d JOIN receipt r ON r.id = d.receipt",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(counts.len(), RECEIPTS as usize, "{counts:?}");
    for (receipt, (requests, delivered)) in &counts {
        assert_eq!(*delivered, 1, "{receipt} delivered {delivered} times");
        assert_eq!(attempts[receipt], *requests as i64, "{receipt}");
    }
    let retried = counts
        .values()
        .filter(|(requests, _)| *requests > 1)
        .count();
    assert!(retried > 0, "some deliveries failed first: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_payment_notice_of_a_job_is_made_by_one_instance_once() {
    let Some(cluster) = cluster() else {
        return;
    };
    let pair = Pair::start(&cluster).await;
    const NOTICES: u64 = 24;
    let mut iupds = Vec::new();
    for n in 0..NOTICES {
        let iupd = format!("NJ-{n:02}");
        pair.publish(pair.a(), &iupd, &iuv("01", 600 + n), 1000)
            .await;
        iupds.push(iupd);
    }
    let body = serde_json::json!({"iupds": iupds}).to_string();
    let path = format!("/organizations/{ORG}/notices/jobs");
    let r = pair.rest(pair.a(), "POST", &path, Some(&body)).await;
    assert_eq!(r.status, 202, "{}", r.body_text());
    let location = r.header("location").unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = pair.rest(pair.b(), "GET", &location, None).await;
        let job: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        if job["status"] == "DONE" {
            assert_eq!(job["counts"]["made"], NOTICES, "{job}");
            break;
        }
        assert!(Instant::now() < deadline, "{job}\n{}", pair.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each notice made by one instance: what the two workers say they made (their logs are
    // written a moment after the records) adds up to the job.
    let made = || -> u64 {
        pair.instances
            .iter()
            .flat_map(|i| {
                i.log()
                    .lines()
                    .filter(|l| l.contains("payment notices made"))
                    .filter_map(|l| {
                        let at = l.find("made=")? + "made=".len();
                        l[at..]
                            .split(|c: char| !c.is_ascii_digit())
                            .next()?
                            .parse::<u64>()
                            .ok()
                    })
                    .collect::<Vec<_>>()
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while made() < NOTICES {
        assert!(Instant::now() < deadline, "{}", pair.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(made(), NOTICES, "{}", pair.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_under_load_loses_nothing_and_its_claims_pass_on() {
    let Some(cluster) = cluster() else {
        return;
    };
    let mut pair = Pair::start(&cluster).await;
    // A station that answers nothing for now: deliveries stay in flight or leased.
    let station = StubStation::start(Behaviour::Silent).await;
    pair.put_station(pair.a(), &station.url(), 500).await;
    let load = Load::start(&[pair.a(), pair.b()], 4, "R-KILL");
    // Receipts OK on both, and the station taking attempts, before A dies.
    for base in [pair.a(), pair.b()] {
        load.until("receipts acknowledged", 20, |s| {
            s.base == base && s.answer == Answer::Ok
        })
        .await;
    }
    station.wait_for(10, Duration::from_secs(10)).await;
    pair.instances[0].kill();
    let killed = Instant::now();
    let pending: i64 = pair
        .db
        .query_one("SELECT count(*) FROM delivery WHERE state = 'PENDING'", &[])
        .await
        .unwrap()
        .get(0);
    eprintln!("A killed with {pending} deliveries pending");
    // B alone goes on taking receipts.
    load.until("receipts after the kill", 20, |s| {
        s.sent > killed && s.answer == Answer::Ok
    })
    .await;
    let sent = load.stop().await;
    // A receipt is stored and OK, or its connection is lost with the instance: never a KO.
    assert!(
        count(&sent, |a| matches!(a, Answer::Ko(_))) == 0,
        "{}",
        summary(&sent)
    );
    let stored = pair.stored_receipts().await;
    none_lost(&sent, &stored);
    // The station answers again: B delivers every stored receipt, those A had started or
    // claimed once their time is up, each once.
    station.set_behaviour(Behaviour::Ok);
    pair.instances.remove(0);
    pair.all_delivered(stored.len(), Duration::from_secs(30))
        .await;
    let counts = station.per_receipt();
    for receipt in stored.keys() {
        let delivered = counts.get(receipt).map_or(0, |c| c.1);
        assert_eq!(delivered, 1, "{receipt}");
    }
}

/// The script that makes, starts and stops the tests' clusters.
const POSTGRES_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres.sh");

/// A cluster of the test's own, which it may stop and start; stopped when dropped.
struct OwnCluster {
    dir: tempfile::TempDir,
}

impl OwnCluster {
    /// Started, or None where PostgreSQL is not installed (and not required).
    fn start() -> Option<OwnCluster> {
        let installed =
            std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|mut d| d.next().is_some());
        if !installed {
            assert!(
                std::env::var_os("GPD_TEST_POSTGRES_REQUIRED").is_none(),
                "PostgreSQL (initdb) is required"
            );
            eprintln!("PostgreSQL is not installed: not tested");
            return None;
        }
        let cluster = OwnCluster {
            dir: tempfile::tempdir().unwrap(),
        };
        cluster.run("start");
        Some(cluster)
    }

    /// `.ci/postgres.sh ACTION DIR`: start (made the first time) or stop.
    fn run(&self, action: &str) {
        let out = Command::new(POSTGRES_SH)
            .arg(action)
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "postgres.sh {action}: {out:?}");
    }

    fn url(&self) -> String {
        format!("host={} user=postgres", self.dir.path().display())
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new(POSTGRES_SH)
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stopped_and_started_under_load() {
    if cluster().is_none() {
        return;
    }
    let Some(own) = OwnCluster::start() else {
        return;
    };
    let url = create_database(&own.url()).await;
    let pair = Pair::start_on(url).await;
    let (a, b) = (pair.a(), pair.b());
    let iuv = iuv("01", 777);
    pair.publish(a, "IUPD-DOWN", &iuv, 3000).await;
    let notice = format!("3{iuv}");
    let load = Load::start(&[a, b], 3, "R-DOWN");
    load.until("receipts acknowledged", 20, |s| s.answer == Answer::Ok)
        .await;

    let t0 = Instant::now();
    own.run("stop");
    let down = Instant::now();
    eprintln!("stopped in {:?}", down - t0);
    let system_error = Answer::Ko("PAA_SYSTEM_ERROR".into());
    for base in [a, b] {
        until("/ready DOWN", Duration::from_secs(10), || async {
            ready(base).await == Some(503)
        })
        .await;
        assert_eq!(verify(base, &notice).await, system_error);
        // Receipts keep coming while it is down: each is answered PAA_SYSTEM_ERROR.
        load.until("receipts refused while down", 10, |s| {
            s.sent > down && s.base == base && s.answer == system_error
        })
        .await;
    }
    let up = Instant::now();
    own.run("start");
    let back = Instant::now();
    eprintln!("down for {:?}, started in {:?}", up - down, back - up);
    for base in [a, b] {
        until("/ready UP", Duration::from_secs(20), || async {
            ready(base).await == Some(200)
        })
        .await;
        assert_eq!(verify(base, &notice).await, Answer::Ok);
        eprintln!("{base} ready {:?} after the start", back.elapsed());
        // Receipts OK again on both, with no restart.
        load.until("receipts after the restart", 10, |s| {
            s.sent > back && s.base == base && s.answer == Answer::Ok
        })
        .await;
    }
    let sent = load.stop().await;
    let while_down: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.sent > down && s.answered < up)
        .collect();
    eprintln!(
        "{} receipts sent and answered while it was down",
        while_down.len()
    );
    for s in &while_down {
        assert_eq!(s.answer, system_error, "{s:?}");
    }
    // The pair's own connection ended with the database: a new one.
    none_lost(&sent, &receipts_in(&connect(&pair.url).await).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_transaction_lose_nothing_acknowledged() {
    let Some(cluster) = cluster() else {
        return;
    };
    let pair = Pair::start(&cluster).await;
    let load = Load::start(&[pair.a(), pair.b()], 4, "R-CUT");
    load.until("receipts acknowledged", 20, |s| s.answer == Answer::Ok)
        .await;
    // Every gateway backend of the database ended, again and again, while receipts commit.
    let killer = connect(&pair.url).await;
    let mut cut = 0;
    for _ in 0..30 {
        let ended: i64 = killer
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        cut += ended;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    eprintln!("{cut} backends ended");
    assert!(cut > 30, "{cut} backends ended");
    // Both recover on their own.
    let recovered = Instant::now();
    for base in [pair.a(), pair.b()] {
        load.until("receipts after the cuts", 10, |s| {
            s.sent > recovered && s.base == base && s.answer == Answer::Ok
        })
        .await;
    }
    let sent = load.stop().await;
    let stored = receipts_in(&killer).await;
    none_lost(&sent, &stored);
    // What was refused was never half stored: sent again, each is taken now, once.
    for s in sent.iter().filter(|s| s.answer != Answer::Ok) {
        assert_eq!(send_receipt(pair.b(), &s.receipt).await, Answer::Ok);
    }
    let stored = receipts_in(&killer).await;
    assert!(stored.values().all(|rows| *rows == 1), "{stored:?}");
    assert_eq!(stored.len(), sent.len());
}
