//! The real binary over TLS: the handshake with certificates made at test time, mutual TLS in
//! its two modes, who may call `/partner` (subjects, networks, on plain HTTP too), and SIGHUP
//! swapping the certificate for new connections while an open one goes on. Checked with `curl`
//! and `openssl s_client`, and a rustls client for the connection kept across the reload.

mod harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gpd_gateway::config::EXAMPLE_TOML;
use harness::binary::{BIN, Process, free_port};
use harness::soap::verify_request;
use harness::store::block_on;
use harness::tls::{Pki, curl, presented_certificate};

/// A notice of the demo data that verify answers OK.
const NOTICE: &str = "301000000000000144";
const PARTNER_SUBJECT: &str = "CN=nodo,O=Test PagoPA,C=IT";

/// A gateway started with `--demo` and the example configuration plus `extra`.
struct Gateway {
    process: Process,
    key: String,
    _data: tempfile::TempDir,
}

impl Gateway {
    fn start(dir: &Path, extra: &str) -> Gateway {
        let data = tempfile::tempdir().unwrap();
        let config = dir.join(format!("gateway-{}.toml", free_port()));
        // A header deadline longer than curl's 10 s: a handshake holding up the accept loop
        // until that deadline would fail the requests behind it.
        let example = EXAMPLE_TOML.replace("header_timeout_ms = 5000", "header_timeout_ms = 20000");
        assert_ne!(example, EXAMPLE_TOML);
        std::fs::write(&config, format!("{example}\n{extra}")).unwrap();
        let mut args = block_on(harness::store::args(data.path()));
        args.extend(["--demo".into(), "--config".into(), path(&config).into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = Process::serve(&args, dir.join(format!("{}.log", free_port())));
        let log = process.log();
        let key = log
            .lines()
            .find_map(|l| l.strip_prefix("demo API key: "))
            .unwrap_or_else(|| panic!("no demo key: {log}"))
            .to_owned();
        Gateway {
            process,
            key,
            _data: data,
        }
    }

    fn https(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.process.port())
    }

    fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.process.port())
    }

    /// A REST call with the demo key.
    fn rest_args(&self) -> [String; 2] {
        [
            "-H".into(),
            format!("Ocp-Apim-Subscription-Key: {}", self.key),
        ]
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `[tls]` with the server certificate, and client CAs in `mode` when given.
fn tls_section(pki: &Pki, client_auth: Option<&str>) -> String {
    let (cert, key) = (pki.dir.join("server.pem"), pki.dir.join("server.key"));
    let mut section = format!("[tls]\ncert = {:?}\nkey = {:?}\n", path(&cert), path(&key));
    if let Some(mode) = client_auth {
        let ca = pki.ca_file("ca");
        section.push_str(&format!(
            "client_ca = {:?}\nclient_auth = {mode:?}\n",
            path(&ca)
        ));
    }
    section
}

/// Our CA with the gateway's certificate and clients: `nodo` (good), `expired`, `intruder`
/// (good, another subject), and `stranger` of another CA.
fn pki(dir: &Path) -> Pki {
    let pki = Pki::new(dir, "ca");
    pki.server("server", "gateway-one", 1);
    pki.client("nodo", "nodo", false);
    pki.client("expired", "nodo", true);
    pki.client("intruder", "intruder", false);
    Pki::new(dir, "other-ca").client("stranger", "nodo", false);
    pki
}

/// curl options for TLS trusting our CA, with the client certificate `client` if given.
fn tls_args(pki: &Pki, client: Option<&str>) -> Vec<String> {
    let mut args = vec!["--cacert".into(), path(&pki.ca_file("ca")).into()];
    if let Some(client) = client {
        for (option, ext) in [("--cert", "pem"), ("--key", "key")] {
            args.push(option.into());
            args.push(path(&pki.dir.join(format!("{client}.{ext}"))).into());
        }
    }
    args
}

fn verify(url: &str, mut args: Vec<String>) -> harness::tls::Curled {
    args.extend([
        "-H".into(),
        "Content-Type: text/xml; charset=utf-8".into(),
        "-H".into(),
        "SOAPAction: paVerifyPaymentNotice".into(),
        "--data-binary".into(),
        verify_request(NOTICE),
        url.into(),
    ]);
    curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn get(url: &str, mut args: Vec<String>) -> harness::tls::Curled {
    args.push(url.into());
    curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn assert_verified(answer: &harness::tls::Curled) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("<outcome>OK</outcome>"), "{answer:?}");
}

fn assert_refused_with_fault(answer: &harness::tls::Curled) {
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.body.contains("faultcode"), "{answer:?}");
    assert!(answer.body.contains("Client"), "{answer:?}");
}

#[test]
fn partner_mode_requires_a_client_certificate_on_partner_only() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let gw = Gateway::start(dir.path(), &tls_section(&pki, Some("partner")));
    let partner = gw.https("/partner");

    // A client that connects and never says hello holds up no one else.
    let _silent = TcpStream::connect(("127.0.0.1", gw.process.port())).unwrap();
    assert_verified(&verify(&partner, tls_args(&pki, Some("nodo"))));
    // Without a certificate the handshake succeeds, /partner does not.
    assert_refused_with_fault(&verify(&partner, tls_args(&pki, None)));
    assert_refused_with_fault(&get(&gw.https("/partner?wsdl"), tls_args(&pki, None)));
    // An expired certificate, or one of another CA, is refused at the handshake.
    for client in ["expired", "stranger"] {
        let answer = verify(&partner, tls_args(&pki, Some(client)));
        assert_eq!(answer.status, 0, "{client}: {answer:?}");
    }
    // The REST API goes by API keys, with or without a certificate.
    let mut args = tls_args(&pki, None);
    args.extend(gw.rest_args());
    let rest = get(&gw.https("/organizations/77777777777/debtpositions"), args);
    assert_eq!(rest.status, 200, "{rest:?}");
    // The WSDL names the https address; the server is not reached over plain HTTP.
    let wsdl = get(&gw.https("/partner?wsdl"), tls_args(&pki, Some("nodo")));
    let address = format!("https://127.0.0.1:{}/partner", gw.process.port());
    assert!(wsdl.body.contains(&address), "{wsdl:?}");
    assert_ne!(get(&gw.http("/health"), vec![]).status, 200);
    // Nothing was refused for want of a certificate that was not asked for: the refusals are
    // logged with the reason.
    let log = gw.process.log();
    assert!(
        log.contains("/partner refused")
            && log.contains("a verified client certificate is required"),
        "{log}"
    );
}

#[test]
fn all_mode_requires_a_client_certificate_at_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let gw = Gateway::start(dir.path(), &tls_section(&pki, Some("all")));
    assert_verified(&verify(&gw.https("/partner"), tls_args(&pki, Some("nodo"))));
    for client in [None, Some("expired"), Some("stranger")] {
        let answer = verify(&gw.https("/partner"), tls_args(&pki, client));
        assert_eq!(answer.status, 0, "{client:?}: {answer:?}");
    }
    let url = gw.https("/organizations/77777777777/debtpositions");
    let mut without = tls_args(&pki, None);
    without.extend(gw.rest_args());
    assert_eq!(get(&url, without).status, 0);
    let mut with = tls_args(&pki, Some("intruder"));
    with.extend(gw.rest_args());
    assert_eq!(get(&url, with).status, 200);
}

#[test]
fn allowed_subjects_refuse_other_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    // Written as an operator might: types in lower case, spaces after the commas.
    let partner = "[partner]\nallowed_subjects = [\"cn=nodo, o=Test PagoPA, c=IT\"]\n";
    let gw = Gateway::start(
        dir.path(),
        &format!("{}{partner}", tls_section(&pki, Some("partner"))),
    );
    assert_verified(&verify(&gw.https("/partner"), tls_args(&pki, Some("nodo"))));
    assert_refused_with_fault(&verify(
        &gw.https("/partner"),
        tls_args(&pki, Some("intruder")),
    ));
    assert_refused_with_fault(&verify(&gw.https("/partner"), tls_args(&pki, None)));
    gw.process
        .wait_for_log("subject=\"CN=intruder,O=Test PagoPA,C=IT\"", 1);
    assert!(
        !gw.process.log().contains(PARTNER_SUBJECT),
        "only refusals are logged"
    );
}

#[test]
fn allowed_networks_apply_on_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = Gateway::start(
        dir.path(),
        "[partner]\nallowed_networks = [\"10.0.0.0/8\", \"fd00::/8\"]\n",
    );
    assert_refused_with_fault(&verify(&elsewhere.http("/partner"), vec![]));
    elsewhere
        .process
        .wait_for_log("the address is not in an allowed network", 1);
    assert!(elsewhere.process.log().contains("peer=127.0.0.1:"));
    // Other paths are not concerned.
    let mut args = elsewhere.rest_args().to_vec();
    args.push(elsewhere.http("/organizations/77777777777/debtpositions"));
    assert_eq!(
        curl(&args.iter().map(String::as_str).collect::<Vec<_>>()).status,
        200
    );

    let loopback = Gateway::start(
        dir.path(),
        "[partner]\nallowed_networks = [\"::1\", \"127.0.0.0/8\"]\n",
    );
    assert_verified(&verify(&loopback.http("/partner"), vec![]));
}

#[test]
fn unreadable_tls_files_stop_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let run = |extra: &str| {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, format!("{EXAMPLE_TOML}\n{extra}")).unwrap();
        let data = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--data", path(data.path()), "--config", path(&config)])
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let missing = dir.path().join("missing.pem");
    let section =
        tls_section(&pki, None).replace(path(&pki.dir.join("server.pem")), path(&missing));
    let stderr = run(&section);
    assert!(
        stderr.contains(&format!("tls.cert {}", path(&missing))),
        "{stderr}"
    );
    // A key file holding a certificate has no key in it.
    let section = tls_section(&pki, None).replace(
        path(&pki.dir.join("server.key")),
        path(&pki.dir.join("nodo.pem")),
    );
    let stderr = run(&section);
    assert!(stderr.contains("tls.key"), "{stderr}");
    assert!(stderr.contains("nodo.pem"), "{stderr}");
    // A CA file that is not PEM.
    let section = tls_section(&pki, Some("partner"))
        .replace(path(&pki.ca_file("ca")), path(&pki.dir.join("server.key")));
    let stderr = run(&section);
    assert!(stderr.contains("tls.client_ca"), "{stderr}");
}

/// A TLS connection to the gateway trusting our CA, kept open across requests.
struct KeptAlive {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl KeptAlive {
    fn open(port: u16, ca: &Path) -> KeptAlive {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = "localhost".try_into().unwrap();
        let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        KeptAlive {
            stream: rustls::StreamOwned::new(connection, tcp),
        }
    }

    /// `GET path` on this connection: the status.
    fn get(&mut self, path: &str) -> u16 {
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .unwrap();
        self.stream.flush().unwrap();
        let mut reader = BufReader::new(&mut self.stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        status_line[9..12].parse().unwrap()
    }

    /// The certificate this connection's handshake got.
    fn server_certificate(&self) -> Vec<u8> {
        self.stream.conn.peer_certificates().unwrap()[0].to_vec()
    }
}

/// The first certificate of a PEM file.
fn certificate_in(file: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(file).unwrap().to_vec()
}

#[test]
fn sighup_swaps_the_certificate_for_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let gw = Gateway::start(dir.path(), &tls_section(&pki, None));
    let ca = pki.ca_file("ca");
    let before = presented_certificate(gw.process.port(), &ca);
    assert!(before.contains("CN=gateway-one"), "{before}");
    assert!(before.contains("serial=01"), "{before}");
    let mut kept = KeptAlive::open(gw.process.port(), &ca);
    assert_eq!(kept.get("/health"), 200);
    let first = certificate_in(&pki.dir.join("server.pem"));
    assert_eq!(kept.server_certificate(), first);

    pki.server("server", "gateway-two", 2);
    gw.process.signal("HUP");
    gw.process
        .wait_for_log("TLS certificate, key and client CAs reloaded", 1);
    let after = presented_certificate(gw.process.port(), &ca);
    assert!(after.contains("CN=gateway-two"), "{after}");
    assert!(after.contains("serial=02"), "{after}");
    // The connection opened before goes on, with the certificate it got.
    assert_eq!(kept.get("/health"), 200);
    assert_eq!(kept.server_certificate(), first);

    // A reload that fails keeps what is in use.
    std::fs::write(pki.dir.join("server.key"), "not a key").unwrap();
    gw.process.signal("HUP");
    gw.process.wait_for_log("TLS reload failed", 1);
    let still = presented_certificate(gw.process.port(), &ca);
    assert!(still.contains("serial=02"), "{still}");
    assert_verified(&verify(&gw.https("/partner"), tls_args(&pki, None)));
}
