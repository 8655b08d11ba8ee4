//! The real binary: starts, serves, and on SIGTERM lets an in-flight request finish before it
//! exits cleanly with the store closed, on SQLite or on the PostgreSQL database `--store` names.

mod harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use gpd_gateway::domain::position::OptionStatus;
use gpd_gateway::domain::{FiscalCodePA, NoticeNumber};
use gpd_gateway::store::PositionKey;
use harness::binary::{BIN, free_port, wait_until_up};
use harness::store::block_on;

#[test]
fn sigterm_drains_in_flight_requests() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let store = block_on(harness::store::args(data.path()));
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .args(&store)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `--demo` prints its API key before it listens.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let key = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no demo key: {log}"
        );
        log.push_str(&line);
        if let Some(key) = line.trim_end().strip_prefix("demo API key: ") {
            break key.to_owned();
        }
    };
    wait_until_up(port);

    // A request whose body is still on its way when the signal arrives.
    let body = "{\"paymentDate\": \"2025-01-01T10:00:00\"}";
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /organizations/77777777777/paymentoptions/paids/301000000000000144 HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(&body.as_bytes()[5..]).unwrap();
    let mut answer = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"PAID\""), "{answer}");

    let exit = child.wait().unwrap();
    stderr.read_to_string(&mut log).unwrap();
    assert!(exit.success(), "{log}");
    assert!(log.contains("store closed"), "{log}");
    // The key is shown once, on its own line, and never logged.
    assert_eq!(log.matches(key.as_str()).count(), 1, "{log}");
    // New connections are refused once it has stopped, and the payment is in the store.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    if !harness::store::on_postgres() {
        // Each WAL checkpointed into its file on the way out: the data's and the journal's.
        for file in ["gpd-gateway.sqlite", "gpd-gateway-journal.sqlite"] {
            let wal = data.path().join(format!("{file}-wal"));
            assert!(data.path().join(file).exists(), "{file}");
            assert!(
                !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
                "{file}"
            );
        }
    }
    block_on(async {
        let store = harness::store::open(data.path()).await;
        let notice = NoticeNumber::parse("301000000000000144").unwrap();
        let position = store
            .get_position(
                FiscalCodePA::parse("77777777777").unwrap(),
                PositionKey::Notice(notice.clone()),
            )
            .await
            .unwrap()
            .expect("the demo position");
        let option = position.options.iter().find(|o| o.nav == notice).unwrap();
        assert_eq!(option.status, OptionStatus::Paid);
        store.close().await.unwrap();
        harness::store::drop_database(data.path()).await;
    });
}

#[test]
fn bad_config_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[broker]\nid = \"77777777777\"\nstations = [\"S1\"]\n[[creditor]]\nfiscal_code = \"123\"\ncompany_name = \"C\"\nstations = [\"S1\"]\nsegregation_codes = [\"01\"]\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("creditor[0].fiscal_code"), "{stderr}");
}
