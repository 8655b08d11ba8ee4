//! Batches of payment notices end to end, on the store the harness selects: jobs by IUPD and by
//! the positions list's filter, started over REST and worked through by the gateway's worker;
//! a position with no notice to give is listed with why; the zip passes `unzip -t` and holds one
//! valid PDF (`qpdf --check`) per made notice, named without personal data. A job interrupted
//! by a restart of the real binary completes with every notice exactly once; and the CLI makes
//! a job and its zip through the real binary.

mod harness;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gpd_gateway::client;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use harness::binary::{BIN, Process};
use harness::positions::{iuv, position};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";

fn jobs_path() -> String {
    format!("/organizations/{ORG}/notices/jobs")
}

/// The example configuration, with the worker looking for jobs often.
fn config() -> Config {
    let mut config = Config::example();
    config.notice_jobs.poll_interval = Duration::from_millis(50);
    config
}

async fn published(server: &TestServer, iupd: &str, base: u64) {
    server
        .create_position(
            ORG,
            &position(iupd, &iuv(1, base), 1000 + base as i64),
            true,
        )
        .await;
}

/// Polls the job at `location` until it is finished; the last status.
async fn finished(server: &TestServer, location: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = server.get(location).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let job = json(&r);
        if job["status"] == "DONE" || job["status"] == "FAILED" {
            return job;
        }
        assert!(Instant::now() < deadline, "the job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks a zip with `unzip -t`, then unpacks it into `dir`; its file names, sorted.
fn unpacked(zip: &[u8], dir: &Path) -> Vec<String> {
    let file = dir.join("notices.zip");
    std::fs::write(&file, zip).unwrap();
    let test = Command::new("unzip").arg("-t").arg(&file).output().unwrap();
    assert!(test.status.success(), "unzip -t: {test:?}");
    let out = dir.join("out");
    let unpack = Command::new("unzip")
        .arg("-q")
        .arg(&file)
        .arg("-d")
        .arg(&out)
        .output()
        .unwrap();
    assert!(unpack.status.success(), "unzip: {unpack:?}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `qpdf --check` passes on the file.
fn valid_pdf(path: &Path) {
    let check = Command::new("qpdf")
        .arg("--check")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "qpdf --check {}: {check:?}",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_by_iupd_and_by_filter_list_refusals_and_zip_one_pdf_per_notice() {
    let server = TestServer::start_with(config(), Clock::system()).await;
    for (i, iupd) in ["NJ-1", "NJ-2", "NJ-3"].iter().enumerate() {
        published(&server, iupd, 700 + i as u64).await;
    }
    // Not payable: invalidated.
    published(&server, "NJ-INV", 710).await;
    let r = server
        .post_json(
            &format!("/organizations/{ORG}/debtpositions/NJ-INV/invalidate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));

    let r = server
        .post_json(
            &jobs_path(),
            &json!({"iupds": ["NJ-1", "NJ-INV", "NJ-3", "NJ-NONE"]}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let started = json(&r);
    let id = started["jobId"].as_str().unwrap().to_owned();
    let location = r.header("location").unwrap().to_owned();
    assert_eq!(location, format!("{}/{id}", jobs_path()));
    assert_eq!(started["counts"]["total"], 4);

    let job = finished(&server, &location).await;
    assert_eq!(job["status"], "DONE", "{job}");
    assert_eq!(
        job["counts"],
        json!({"total": 4, "made": 2, "refused": 2, "failed": 0, "pending": 0})
    );
    let not_made = job["notMade"].as_array().unwrap();
    assert_eq!(not_made.len(), 2, "{job}");
    assert_eq!(
        (
            &not_made[0]["position"],
            &not_made[0]["iupd"],
            &not_made[0]["outcome"]
        ),
        (&json!(2), &json!("NJ-INV"), &json!("REFUSED"))
    );
    assert!(
        not_made[0]["reason"].as_str().unwrap().contains("INVALID"),
        "{job}"
    );
    assert_eq!(
        (&not_made[1]["position"], &not_made[1]["iupd"]),
        (&json!(4), &json!("NJ-NONE"))
    );
    assert!(!not_made[1]["reason"].as_str().unwrap().is_empty());

    let r = server.get(&format!("{location}/zip")).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.header("content-type"), Some("application/zip"));
    let dir = tempfile::tempdir().unwrap();
    let names = unpacked(&r.body, dir.path());
    assert_eq!(
        names,
        ["failures.json", "notice-0001.pdf", "notice-0003.pdf"],
        "named by place, never by IUPD"
    );
    for pdf in ["notice-0001.pdf", "notice-0003.pdf"] {
        valid_pdf(&dir.path().join("out").join(pdf));
    }
    let failures: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/failures.json")).unwrap())
            .unwrap();
    assert_eq!(failures.as_array().unwrap().len(), 2);
    assert_eq!(failures[0]["iupd"], "NJ-INV");

    // By the list's filter: the three VALID positions, oldest first.
    let r = server
        .post_json(&jobs_path(), &json!({"filter": {"status": "VALID"}}))
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let location = r.header("location").unwrap().to_owned();
    let job = finished(&server, &location).await;
    assert_eq!(job["counts"]["made"], 3, "{job}");
    let r = server.get(&format!("{location}/zip")).await;
    let dir = tempfile::tempdir().unwrap();
    let names = unpacked(&r.body, dir.path());
    assert_eq!(
        names,
        ["notice-0001.pdf", "notice-0002.pdf", "notice-0003.pdf"]
    );

    // The same idempotency key: the same job.
    let keyed = |body: Value| {
        let server = &server;
        async move {
            let body = body.to_string();
            server
                .request(
                    "POST",
                    &jobs_path(),
                    &[
                        ("Content-Type", "application/json"),
                        ("Idempotency-Key", "run-42"),
                    ],
                    body.as_bytes(),
                )
                .await
        }
    };
    let first = keyed(json!({"iupds": ["NJ-2"]})).await;
    assert_eq!(first.status, 202, "{}", text(&first));
    let again = keyed(json!({"iupds": ["NJ-3"]})).await;
    assert_eq!(again.status, 200, "{}", text(&again));
    assert_eq!(json(&again)["jobId"], json(&first)["jobId"]);

    // What cannot be a job.
    for body in [
        json!({}),
        json!({"iupds": []}),
        json!({"iupds": ["NJ-1", "NJ-1"]}),
        json!({"iupds": ["NJ-1"], "filter": {"status": "VALID"}}),
        json!({"filter": {"status": "SOMEWHERE"}}),
        json!({"filter": {"page": "2"}}),
        json!({"filter": {"status": "PAID"}}),
    ] {
        let r = server.post_json(&jobs_path(), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
        assert!(!json(&r)["detail"].as_str().unwrap().is_empty());
    }
    let r = server
        .get(&format!("{}/0123456789abcdef", jobs_path()))
        .await;
    assert_eq!(r.status, 404);
    let r = server
        .get(&format!("{}/0123456789abcdef/zip", jobs_path()))
        .await;
    assert_eq!(r.status, 404);
    server.stop().await;
}

/// The example configuration as a file, with short leases and one notice at a time, so that
/// a job of a few dozen notices is still running when the gateway is stopped.
fn config_file(dir: &Path) -> std::path::PathBuf {
    let mut text = include_str!("../config/example.toml").to_owned();
    for (from, to) in [
        ("lease_ms = 60000", "lease_ms = 1000\nconcurrency = 1"),
        ("poll_interval_ms = 2000", "poll_interval_ms = 50"),
    ] {
        assert!(text.contains(from), "the example configuration has {from}");
        text = text.replacen(from, to, 1);
    }
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn command(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

async fn rest(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> client::Response {
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    client::send(
        base,
        method,
        path,
        &[
            ("Ocp-Apim-Subscription-Key", key),
            ("Content-Type", "application/json"),
        ],
        body,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_a_restart_completes_with_every_notice_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let config = config.to_str().unwrap();
    let store: Vec<String> = harness::store::args(&dir.path().join("data")).await;
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let mut args = vec!["keys", "create", "--all-organizations"];
    args.extend(&store);
    let out = command(&args);
    assert!(out.status.success(), "{out:?}");
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut serve: Vec<&str> = store.clone();
    serve.extend(["--config", config]);

    let first = Process::serve(&serve, dir.path().join("first.log"));
    const N: u64 = 40;
    for i in 0..N {
        let p = position(&format!("RS-{i:02}"), &iuv(1, 800 + i), 1000);
        let r = rest(
            &first.base,
            &key,
            "POST",
            &format!("/organizations/{ORG}/debtpositions?toPublish=true"),
            Some(&p),
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let iupds: Vec<String> = (0..N).map(|i| format!("RS-{i:02}")).collect();
    let r = rest(
        &first.base,
        &key,
        "POST",
        &jobs_path(),
        Some(&json!({"iupds": iupds})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let location = r.header("location").unwrap().to_owned();
    // Stopped (SIGTERM) once some notices are made, and not all.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = rest(&first.base, &key, "GET", &location, None).await;
        let job: Value = serde_json::from_slice(&r.body).unwrap();
        let made = job["counts"]["made"].as_u64().unwrap();
        assert!(made < N, "the job ended before the stop: {job}");
        if made >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no notice made: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.signal("TERM");
    first.wait_for_log("store closed", 1);
    let made_before = made_in(&first.log());
    assert!(made_before > 0 && made_before < N, "{}", first.log());
    drop(first);

    let second = Process::serve(&serve, dir.path().join("second.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let r = rest(&second.base, &key, "GET", &location, None).await;
        let job: Value = serde_json::from_slice(&r.body).unwrap();
        if job["status"] == "DONE" {
            break job;
        }
        assert!(Instant::now() < deadline, "the job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(job["counts"]["made"], N, "{job}");
    // Each notice made by one process only: those made before the stop were not made again.
    // (The log says so a moment after the record.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while made_before + made_in(&second.log()) < N {
        assert!(Instant::now() < deadline, "{}\n{job}", second.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        made_before + made_in(&second.log()),
        N,
        "{}\n{job}",
        second.log()
    );
    let r = rest(&second.base, &key, "GET", &format!("{location}/zip"), None).await;
    assert_eq!(r.status, 200);
    let names = unpacked(&r.body, dir.path());
    let expected: Vec<String> = (1..=N).map(|i| format!("notice-{i:04}.pdf")).collect();
    assert_eq!(names, expected);
    drop(second);
    harness::store::drop_database(&dir.path().join("data")).await;
}

/// The notices a gateway's log says its worker made.
fn made_in(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("payment notices made"))
        .filter_map(|l| {
            let at = l.find("made=")? + "made=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_a_job_and_writes_its_zip() {
    let server = TestServer::start_with(config(), Clock::system()).await;
    for (i, iupd) in ["CLI-1", "CLI-2"].iter().enumerate() {
        published(&server, iupd, 900 + i as u64).await;
    }
    let data = server.stop_and_keep_data().await;
    let store = harness::store::args(data.path()).await;
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let list = data.path().join("iupds.txt");
    std::fs::write(&list, "CLI-2\n\nCLI-1\nCLI-NONE\n").unwrap();
    let zip = data.path().join("out.zip");
    let mut args = vec![
        "notices",
        "batch",
        "--org",
        ORG,
        "--iupds-file",
        list.to_str().unwrap(),
    ];
    args.extend(["-o", zip.to_str().unwrap()]);
    args.extend(&store);
    let out = command(&args);
    assert!(out.status.success(), "{out:?}");
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(
        summary.contains("3 notices, 2 made, 1 refused, 0 failed"),
        "{summary}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("CLI-"),
        "no IUPD in the progress"
    );
    let names = unpacked(&std::fs::read(&zip).unwrap(), data.path());
    assert_eq!(
        names,
        ["failures.json", "notice-0001.pdf", "notice-0002.pdf"]
    );
    valid_pdf(&data.path().join("out/notice-0001.pdf"));

    // By filter flags; and a request that cannot be a job is refused before anything is made.
    let zip = data.path().join("valid.zip");
    let mut args = vec!["notices", "batch", "--org", ORG, "--status", "VALID"];
    args.extend(["-o", zip.to_str().unwrap()]);
    args.extend(&store);
    let out = command(&args);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 notices, 2 made"));
    let mut args = vec![
        "notices", "batch", "--org", ORG, "--iupd", "A", "--iupd", "A", "-o",
    ];
    args.push(zip.to_str().unwrap());
    args.extend(&store);
    let out = command(&args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listed twice"),
        "{out:?}"
    );
    harness::store::drop_database(data.path()).await;
}
