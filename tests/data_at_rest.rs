//! The real binary and what it leaves behind: logs without colour codes when they go to a pipe,
//! debug lines that do not show IUPDs (which often embed a fiscal code), a data subject's export
//! on record without its fiscal code, and on SQLite a data directory and files only their owner
//! can read, deleted debtors wiped from the database file.

mod harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::binary::{BIN, free_port, wait_until_up};
use harness::store::block_on;

/// One request on its own connection: (status, body).
fn http(port: u16, method: &str, path: &str, key: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Ocp-Apim-Subscription-Key: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The gateway process, killed if a failing test leaves it running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` on `port` and the store `store` names, with debug logs, its standard error collected
/// as it comes.
fn serve(store: &[String], port: u16) -> (Running, Arc<Mutex<String>>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(store)
        .env("RUST_LOG", "gpd_gateway=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap_or(0) > 0 {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    let child = Running(child);
    wait_until_up(port);
    (child, log)
}

#[cfg(unix)]
#[test]
fn data_stays_private_and_logs_stay_plain() {
    use std::os::unix::fs::PermissionsExt;

    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("gateway-data");
    let store = block_on(harness::store::args(&data));
    let sqlite = !harness::store::on_postgres();
    let key = Command::new(BIN)
        .args(["keys", "create", "--all-organizations"])
        .args(&store)
        .output()
        .unwrap();
    assert!(key.status.success(), "{key:?}");
    let key = String::from_utf8(key.stdout).unwrap().trim().to_owned();

    let port = free_port();
    let (mut child, log) = serve(&store, port);

    // A position whose IUPD embeds a debtor's fiscal code, and a debtor name to look for later.
    let iupd = "TARI-VRDGPP65B12F205X-2025";
    let name = "Zebedeo Quintiliano Sforzacosta";
    let iuv = harness::positions::iuv(1, 123);
    let position = format!(
        r#"{{"iupd":"{iupd}","type":"F","fiscalCode":"VRDGPP65B12F205X","fullName":"{name}",
        "companyName":"Comune di Esempio","switchToExpired":false,
        "paymentOption":[{{"iuv":"{iuv}","amount":1000,"description":"TARI",
        "isPartialPayment":false,"dueDate":"2099-12-31T23:59:59",
        "transfer":[{{"idTransfer":"1","amount":1000,"remittanceInformation":"TARI",
        "category":"9/0101108TS/","iban":"IT60X0542811101000000123456"}}]}}]}}"#
    );
    let base = "/organizations/77777777777/debtpositions";
    let (status, body) = http(port, "POST", base, &key, &position);
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(port, "GET", &format!("{base}/{iupd}"), &key, "");
    assert_eq!(status, 200, "{body}");
    assert!(
        !sqlite || stored(&data, name),
        "the name is stored before the delete"
    );
    // A data subject's export: the fiscal code in the body, the log line without it.
    let subject = r#"{"fiscalCode":"VRDGPP65B12F205X"}"#;
    let export = "/organizations/77777777777/debtors/export";
    let (status, body) = http(port, "POST", export, &key, subject);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(name), "{body}");
    let (status, body) = http(port, "DELETE", &format!("{base}/{iupd}"), &key, "");
    assert_eq!(status, 200, "{body}");

    if sqlite {
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for file in [
            "gpd-gateway.sqlite",
            "gpd-gateway.sqlite-wal",
            "gpd-gateway.sqlite-shm",
            "gpd-gateway-journal.sqlite",
            "gpd-gateway-journal.sqlite-wal",
            "gpd-gateway-journal.sqlite-shm",
        ] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.0.wait().unwrap().success());
    // The reader thread has seen the end of standard error once the process is gone.
    std::thread::sleep(Duration::from_millis(100));
    let log = log.lock().unwrap().clone();

    // The debug lines were written, in plain text, and without the fiscal code.
    assert!(
        log.contains("/organizations/77777777777/debtpositions/TA...25"),
        "{log}"
    );
    assert!(!log.contains("\u{1b}["), "{log}");
    assert!(!log.contains("VRDGPP65B12F205X"), "{log}");
    // The export is on record by the key's id, its kind and its counts.
    let key_id = key.trim_start_matches("gpd_").split('_').next().unwrap();
    let record = log
        .lines()
        .find(|l| l.contains("data subject request answered"))
        .unwrap_or_else(|| panic!("no record of the export: {log}"));
    assert!(record.contains(key_id), "{record}");
    assert!(record.contains("export"), "{record}");
    assert!(record.contains("positions=1"), "{record}");

    if sqlite {
        // Shut down with the WAL checkpointed into the file: the deleted name is not in it.
        assert!(
            !stored(&data, name),
            "the deleted debtor's name is still in the database file"
        );
    } else {
        eprintln!("on PostgreSQL the files of the database are the cluster's: not checked here");
        block_on(harness::store::drop_database(&data));
    }
}

/// Whether `text` is anywhere in the database or its WAL.
fn stored(data: &std::path::Path, text: &str) -> bool {
    let mut bytes = std::fs::read(data.join("gpd-gateway.sqlite")).unwrap();
    if let Ok(wal) = std::fs::read(data.join("gpd-gateway.sqlite-wal")) {
        bytes.extend(wal);
    }
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}
