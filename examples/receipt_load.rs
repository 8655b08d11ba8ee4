//! Load generator for receipts: sends paSendRTV2 (or paSendRT) requests for the positions that
//! examples/seed_positions.rs creates, as the Node would after a payment, and reports the
//! throughput and latency the gateway achieved.
//!
//! Receipt `i` (0-based) of a run is for position `--first + i`: its IUV is segregation code 01 +
//! that base, its receiptId the run id + the position number, so two runs never send the same
//! receiptId (`--run-id` fixes it to resend a run's receipts on purpose). Each of `--concurrency`
//! workers keeps one HTTP/1.1 keep-alive connection, reconnecting after an error; bodies are
//! rendered from a template with three placeholders, so the tool costs a few µs per request.
//!
//! Latency is per receipt, from the send to the answer (retries included). With `--rate R` the
//! receipts are due at R per second; a receipt that no worker was free to take until more than
//! 2 ms after it was due (every connection was waiting on the server) counts as a late start,
//! and the lateness is reported, so a stalled server is not hidden by the schedule. The timer's
//! own millisecond granularity is left out of both: it would add up to 1 ms to every latency. `--ok-log FILE` appends
//! `IUV RECEIPT_ID` for every receipt answered OK, written as it arrives: after a crash it lists
//! exactly what the gateway acknowledged. `--retries R` resends a receipt that got no answer or
//! PAA_SYSTEM_ERROR, as the Node does.
//!
//! `--check FILE` reads such a log instead and checks that each receipt is in the store
//! (`GET /organizations/{org}/receipts/{iuv}`, with the API key of `--key`, answers 200 with the
//! receiptId in the body).
//!
//! ```sh
//! cargo run --release --example receipt_load -- --target http://127.0.0.1:18080 \
//!     --count 50000 --first 1 --concurrency 64 --ok-log /tmp/acked.log
//! cargo run --release --example receipt_load -- --target http://127.0.0.1:18080 \
//!     --check /tmp/acked.log --key "$KEY"
//! ```
//!
//! The last line of the output is machine-readable: `RESULT key=value …` (or `CHECK …`).

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Body;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use gpd_gateway::domain::{Iuv, SegregationCode};
use gpd_gateway::xml::envelope::read_envelope;
use gpd_gateway::xml::receipts::{decode_send_rt, decode_send_rt_v2};

const USAGE: &str = "usage: receipt_load --target URL --count N [--first K] [--concurrency C] \
[--version 1|2] [--duration SECS] [--rate R] [--ok-log FILE] [--retries R] [--timeout-ms MS] \
[--give-up SECS] [--run-id ID] [--threads T] [--org FISCAL_CODE] [--station ID]
       receipt_load --target URL --check FILE --key API_KEY [--concurrency C] [--org FISCAL_CODE]";

struct Args {
    addr: SocketAddr,
    authority: String,
    path: String,
    count: u64,
    first: u64,
    concurrency: usize,
    version: u8,
    duration: Option<Duration>,
    rate: Option<f64>,
    ok_log: Option<String>,
    retries: u32,
    timeout: Duration,
    give_up: Duration,
    run_id: String,
    threads: usize,
    org: String,
    station: String,
    check: Option<String>,
    key: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        authority: String::new(),
        path: String::new(),
        count: 0,
        first: 1,
        concurrency: 64,
        version: 2,
        duration: None,
        rate: None,
        ok_log: None,
        retries: 0,
        timeout: Duration::from_secs(20),
        give_up: Duration::from_secs(30),
        run_id: default_run_id(),
        threads: 1,
        org: "77777777777".into(),
        station: "77777777777_01".into(),
        check: None,
        key: None,
    };
    let mut target = None;
    let mut args = std::env::args().skip(1);
    fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        v.parse().map_err(|e| format!("{name} {v}: {e}"))
    }
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--target" => target = Some(value("--target")?),
            "--count" => a.count = num("--count", value("--count")?)?,
            "--first" => a.first = num("--first", value("--first")?)?,
            "--concurrency" => a.concurrency = num("--concurrency", value("--concurrency")?)?,
            "--version" => a.version = num("--version", value("--version")?)?,
            "--duration" => {
                let s: f64 = num("--duration", value("--duration")?)?;
                a.duration = Some(Duration::from_secs_f64(s));
            }
            "--rate" => a.rate = Some(num("--rate", value("--rate")?)?),
            "--ok-log" => a.ok_log = Some(value("--ok-log")?),
            "--retries" => a.retries = num("--retries", value("--retries")?)?,
            "--timeout-ms" => {
                a.timeout = Duration::from_millis(num("--timeout-ms", value("--timeout-ms")?)?)
            }
            "--give-up" => {
                let s: f64 = num("--give-up", value("--give-up")?)?;
                a.give_up = Duration::from_secs_f64(s);
            }
            "--run-id" => a.run_id = value("--run-id")?,
            "--threads" => a.threads = num("--threads", value("--threads")?)?,
            "--org" => a.org = value("--org")?,
            "--station" => a.station = value("--station")?,
            "--check" => a.check = Some(value("--check")?),
            "--key" => a.key = Some(value("--key")?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let target = target.ok_or(USAGE)?;
    let rest = target
        .strip_prefix("http://")
        .ok_or("--target must be an http:// URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/partner"),
    };
    a.authority = authority.to_owned();
    a.path = path.to_owned();
    a.addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .map_err(|e| format!("--target {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("--target {authority}: no address"))?;
    if a.concurrency == 0 || a.threads == 0 {
        return Err("--concurrency and --threads must be at least 1".into());
    }
    if a.check.is_none() {
        if a.count == 0 {
            return Err(format!("--count is required\n{USAGE}"));
        }
        if a.first == 0 || a.first.saturating_add(a.count) > 10u64.pow(13) {
            return Err("--first must be at least 1 and --first + --count at most 10^13".into());
        }
        if !matches!(a.version, 1 | 2) {
            return Err("--version must be 1 or 2".into());
        }
        if a.rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
            return Err("--rate must be positive".into());
        }
        // receiptId is an stText35: the run id, a dash and up to 13 digits.
        if a.run_id.is_empty() || a.run_id.len() > 20 || a.run_id.contains(['<', '&', ' ']) {
            return Err("--run-id must be 1..20 characters, no spaces, '<' or '&'".into());
        }
    }
    Ok(a)
}

/// Unique enough across runs on one machine: seconds and process id, in hex.
fn default_run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "LT{:x}{:x}",
        secs & 0xffff_ffff,
        std::process::id() & 0xffff
    )
}

// ----------------------------------------------------------------------------------------------
// The request body

/// What a placeholder in the template stands for.
#[derive(Clone, Copy)]
enum Field {
    ReceiptId,
    Notice,
    Iuv,
}

/// The body split at its placeholders: literal text and fields, in order.
struct Template {
    parts: Vec<(String, Option<Field>)>,
    action: &'static str,
}

impl Template {
    fn new(version: u8, org: &str, station: &str) -> Template {
        let text = body_template(version, org, station);
        let mut parts = Vec::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("{{") {
            let end = rest[i..].find("}}").expect("closed placeholder") + i;
            let field = match &rest[i + 2..end] {
                "RECEIPT_ID" => Field::ReceiptId,
                "NOTICE" => Field::Notice,
                "IUV" => Field::Iuv,
                other => panic!("unknown placeholder {other}"),
            };
            parts.push((rest[..i].to_owned(), Some(field)));
            rest = &rest[end + 2..];
        }
        parts.push((rest.to_owned(), None));
        let action = if version == 1 {
            "paSendRT"
        } else {
            "paSendRTV2"
        };
        Template { parts, action }
    }

    fn render(&self, receipt_id: &str, iuv: &str) -> Bytes {
        let size: usize = self.parts.iter().map(|(s, _)| s.len() + 36).sum();
        let mut out = Vec::with_capacity(size);
        for (literal, field) in &self.parts {
            out.extend_from_slice(literal.as_bytes());
            match field {
                Some(Field::ReceiptId) => out.extend_from_slice(receipt_id.as_bytes()),
                Some(Field::Notice) => {
                    out.push(b'3');
                    out.extend_from_slice(iuv.as_bytes());
                }
                Some(Field::Iuv) => out.extend_from_slice(iuv.as_bytes()),
                None => {}
            }
        }
        Bytes::from(out)
    }
}

/// A receipt as the Node sends it for a seeded position: 100.00 EUR, 70.00 to the creditor and
/// 30.00 to 88888888888, with the optional fields a card payment has. V1 (ctReceipt) lacks
/// paymentNote, primaryCiIncurredFee, the bundles and the transfers' companyName.
fn body_template(version: u8, org: &str, station: &str) -> String {
    let v2 = version == 2;
    let (wrapper, transfer_company_1, transfer_company_2) = if v2 {
        (
            "paSendRTV2Request",
            "<companyName>Comune di Esempio</companyName>",
            "<companyName>Provincia di Esempio</companyName>",
        )
    } else {
        ("paSendRTReq", "", "")
    };
    let v2_middle = if v2 {
        "<paymentNote>Pagamento TARI 2025 tramite app</paymentNote>"
    } else {
        ""
    };
    let v2_fee = if v2 {
        "<primaryCiIncurredFee>0.20</primaryCiIncurredFee><idBundle>b7c2a9e4-5d1f-4c3b-9a8e-1f2d3c4b5a69</idBundle>\
         <idCiBundle>c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f</idCiBundle>"
    } else {
        ""
    };
    let now = chrono::Utc::now();
    let date_time = now.format("%Y-%m-%dT%H:%M:%S%.3f");
    let date = now.format("%Y-%m-%d");
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
<soapenv:Header/>
<soapenv:Body>
<pafn:{wrapper}>
<idPA>{org}</idPA>
<idBrokerPA>{broker}</idBrokerPA>
<idStation>{station}</idStation>
<receipt>
<receiptId>{{{{RECEIPT_ID}}}}</receiptId>
<noticeNumber>{{{{NOTICE}}}}</noticeNumber>
<fiscalCode>{org}</fiscalCode>
<outcome>OK</outcome>
<creditorReferenceId>{{{{IUV}}}}</creditorReferenceId>
<paymentAmount>100.00</paymentAmount>
<description>TARI 2025 - saldo</description>
<companyName>Comune di Esempio</companyName>
<officeName>Ufficio Tributi</officeName>
<debtor>
<uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType><entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue></uniqueIdentifier>
<fullName>Mario Rossi</fullName>
<streetName>Via Roma</streetName>
<civicNumber>1</civicNumber>
<postalCode>00100</postalCode>
<city>Roma</city>
<stateProvinceRegion>RM</stateProvinceRegion>
<country>IT</country>
<e-mail>mario.rossi@example.it</e-mail>
</debtor>
<transferList>
<transfer>
<idTransfer>1</idTransfer>
<transferAmount>70.00</transferAmount>
<fiscalCodePA>{org}</fiscalCodePA>
{transfer_company_1}
<IBAN>IT60X0542811101000000123456</IBAN>
<remittanceInformation>TARI 2025 - saldo</remittanceInformation>
<transferCategory>9/0101108TS/</transferCategory>
<metadata><mapEntry><key>IBANAPPOGGIO</key><value>IT21Q0760101600000000654321</value></mapEntry></metadata>
</transfer>
<transfer>
<idTransfer>2</idTransfer>
<transferAmount>30.00</transferAmount>
<fiscalCodePA>88888888888</fiscalCodePA>
{transfer_company_2}
<IBAN>IT02A0301503200000003517230</IBAN>
<remittanceInformation>TARI 2025 - saldo</remittanceInformation>
<transferCategory>9/0101108TS/</transferCategory>
</transfer>
</transferList>
<idPSP>BCITITMM</idPSP>
<pspFiscalCode>00799960158</pspFiscalCode>
<pspPartitaIVA>00799960158</pspPartitaIVA>
<PSPCompanyName>Intesa Sanpaolo S.p.A</PSPCompanyName>
<idChannel>00799960158_01</idChannel>
<channelDescription>app</channelDescription>
<payer>
<uniqueIdentifier><entityUniqueIdentifierType>F</entityUniqueIdentifierType><entityUniqueIdentifierValue>VRDGPP80A01F205X</entityUniqueIdentifierValue></uniqueIdentifier>
<fullName>Giuseppe Verdi</fullName>
<streetName>Corso Buenos Aires</streetName>
<civicNumber>12</civicNumber>
<postalCode>20124</postalCode>
<city>Milano</city>
<stateProvinceRegion>MI</stateProvinceRegion>
<country>IT</country>
<e-mail>giuseppe.verdi@example.it</e-mail>
</payer>
<paymentMethod>creditCard</paymentMethod>
{v2_middle}
<fee>1.50</fee>
{v2_fee}
<paymentDateTime>{date_time}</paymentDateTime>
<applicationDate>{date}</applicationDate>
<transferDate>{date}</transferDate>
<metadata><mapEntry><key>channel</key><value>app</value></mapEntry><mapEntry><key>cart</key><value>single</value></mapEntry></metadata>
</receipt>
</pafn:{wrapper}>
</soapenv:Body>
</soapenv:Envelope>
"#,
        broker = station.split('_').next().unwrap_or(station),
    )
}

fn iuv_of(position: u64) -> String {
    let segregation = SegregationCode::parse("01").expect("segregation code");
    Iuv::from_parts(segregation, position)
        .expect("IUV base in range")
        .as_str()
        .to_owned()
}

/// The first body must decode with the gateway's own decoder: a template mistake would
/// otherwise show up as a run of KO answers.
fn self_check(template: &Template, version: u8) -> Result<(), String> {
    let body = template.render("SELFCHECK-1", &iuv_of(1));
    let payload = read_envelope(&body).map_err(|e| format!("template envelope: {e:?}"))?;
    let decoded = if version == 1 {
        decode_send_rt(&payload.root)
    } else {
        decode_send_rt_v2(&payload.root)
    };
    decoded
        .map(|_| ())
        .map_err(|e| format!("template does not decode: {e}"))
}

// ----------------------------------------------------------------------------------------------
// HTTP

type Sender<B> = SendRequest<B>;

async fn connect<B>(addr: SocketAddr) -> Result<Sender<B>, String>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer: (status, body).
async fn exchange<B>(
    sender: &mut Sender<B>,
    request: Request<B>,
    timeout: Duration,
) -> Result<(u16, Bytes), String>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let work = async {
        sender.ready().await.map_err(|e| format!("ready: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer in {} ms", timeout.as_millis()))?
}

/// The text of the first `<…name>text<` in `body`, whatever the prefix.
fn element_text<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let body = std::str::from_utf8(body).ok()?;
    let mut from = 0;
    while let Some(i) = body[from..].find(name) {
        let start = from + i;
        let after = start + name.len();
        let opening = body[..start].ends_with('<') || body[..start].ends_with(':');
        if opening && body[after..].starts_with('>') {
            let text = &body[after + 1..];
            return Some(&text[..text.find('<').unwrap_or(text.len())]);
        }
        from = after;
    }
    None
}

// ----------------------------------------------------------------------------------------------
// The load run

enum Outcome {
    Ok,
    Ko(String),
}

#[derive(Default)]
struct WorkerStats {
    latencies_us: Vec<u32>,
    ok: u64,
    ko: BTreeMap<String, u64>,
    failed: u64,
    requests: u64,
    transport_errors: u64,
    connect_errors: u64,
    gave_up: bool,
    last_error: Option<String>,
    late_starts: u64,
    max_late_us: u32,
}

/// With `--rate`, a receipt first taken this long after its due time means the schedule was not
/// kept: every worker was busy.
const LATE_START: Duration = Duration::from_millis(2);

struct Shared {
    args: Args,
    template: Template,
    next: AtomicU64,
    stop: AtomicBool,
    start: Instant,
    deadline: Option<Instant>,
    ok_log: Option<Mutex<File>>,
}

impl Shared {
    /// The next receipt index to send, with the time it is due, or None when the run is over.
    fn claim(&self) -> Option<(u64, Option<Instant>)> {
        if self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.args.count {
            return None;
        }
        let due = self
            .args
            .rate
            .map(|r| self.start + Duration::from_secs_f64(i as f64 / r));
        if let (Some(due), Some(deadline)) = (due, self.deadline)
            && due >= deadline
        {
            return None;
        }
        Some((i, due))
    }
}

async fn worker(shared: Arc<Shared>) -> WorkerStats {
    let args = &shared.args;
    let mut stats = WorkerStats::default();
    let mut sender: Option<Sender<Full<Bytes>>> = None;
    let mut receipt_id = String::with_capacity(40);
    'receipts: while let Some((i, due)) = shared.claim() {
        let position = args.first + i;
        let iuv = iuv_of(position);
        receipt_id.clear();
        receipt_id.push_str(&args.run_id);
        receipt_id.push('-');
        receipt_id.push_str(&position.to_string());
        let body = shared.template.render(&receipt_id, &iuv);
        if let Some(due) = due {
            // A worker that was free claimed the receipt before it was due.
            let late = due.elapsed();
            if late > LATE_START {
                stats.late_starts += 1;
                stats.max_late_us = stats.max_late_us.max(micros(late));
            }
            tokio::time::sleep_until(due.into()).await;
        }
        let started = Instant::now();
        let mut attempts = 0;
        let outcome = loop {
            if sender.is_none() {
                let since = Instant::now();
                loop {
                    match connect(args.addr).await {
                        Ok(s) => {
                            sender = Some(s);
                            break;
                        }
                        Err(e) => {
                            stats.connect_errors += 1;
                            stats.last_error = Some(e);
                            if since.elapsed() >= args.give_up
                                || shared.stop.load(Ordering::Relaxed)
                            {
                                stats.failed += 1;
                                stats.gave_up = true;
                                break 'receipts;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
            let request = Request::builder()
                .method(Method::POST)
                .uri(&args.path)
                .header(header::HOST, &args.authority)
                .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
                .header("SOAPAction", shared.template.action)
                .body(Full::new(body.clone()))
                .expect("valid request");
            stats.requests += 1;
            let s = sender.as_mut().expect("connected");
            match exchange(s, request, args.timeout).await {
                Ok((status, answer)) => {
                    let outcome = element_text(&answer, "outcome");
                    let fault = element_text(&answer, "faultCode");
                    let result = match (status, outcome) {
                        (200, Some("OK")) => Outcome::Ok,
                        (_, Some("KO")) => Outcome::Ko(fault.unwrap_or("KO").to_owned()),
                        _ => Outcome::Ko(format!("HTTP_{status}")),
                    };
                    let retry = matches!(&result, Outcome::Ko(c) if c == "PAA_SYSTEM_ERROR");
                    if retry && attempts < args.retries {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    break Some(result);
                }
                Err(e) => {
                    stats.transport_errors += 1;
                    stats.last_error = Some(e);
                    sender = None;
                    if attempts < args.retries && !shared.stop.load(Ordering::Relaxed) {
                        attempts += 1;
                        continue;
                    }
                    break None;
                }
            }
        };
        match outcome {
            Some(Outcome::Ok) => {
                stats.ok += 1;
                stats.latencies_us.push(micros(started.elapsed()));
                if let Some(log) = &shared.ok_log {
                    let line = format!("{iuv} {receipt_id}\n");
                    let mut file = log.lock().expect("ok log");
                    if let Err(e) = file.write_all(line.as_bytes()) {
                        eprintln!("receipt_load: cannot write the ok log: {e}");
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            Some(Outcome::Ko(code)) => {
                stats.latencies_us.push(micros(started.elapsed()));
                *stats.ko.entry(code).or_default() += 1;
            }
            None => stats.failed += 1,
        }
    }
    stats
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run_load(args: Args) -> Result<bool, String> {
    let template = Template::new(args.version, &args.org, &args.station);
    self_check(&template, args.version)?;
    let body_bytes = template.render("X", &iuv_of(args.first)).len();
    let ok_log = match &args.ok_log {
        Some(path) => Some(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("--ok-log {path}: {e}"))?,
        )),
        None => None,
    };
    let start = Instant::now();
    let shared = Arc::new(Shared {
        deadline: args.duration.map(|d| start + d),
        args,
        template,
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        start,
        ok_log,
    });
    let args = &shared.args;
    eprintln!(
        "receipt_load: run {} — {} paSendRT{} receipts for positions {}.., {} connections to {}{}{}, {} B bodies",
        args.run_id,
        args.count,
        if args.version == 2 { "V2" } else { "" },
        args.first,
        args.concurrency,
        args.authority,
        args.path,
        args.rate
            .map(|r| format!(" at {r:.0}/s"))
            .unwrap_or_default(),
        body_bytes,
    );
    {
        // SIGINT / SIGTERM: stop sending, finish what is in flight, print the summary.
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            shared.stop.store(true, Ordering::Relaxed);
        });
    }
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(worker(shared.clone())))
        .collect();
    let mut total = WorkerStats::default();
    for w in workers {
        let s = w.await.map_err(|e| format!("worker: {e}"))?;
        total.latencies_us.extend(s.latencies_us);
        total.ok += s.ok;
        for (code, n) in s.ko {
            *total.ko.entry(code).or_default() += n;
        }
        total.failed += s.failed;
        total.requests += s.requests;
        total.transport_errors += s.transport_errors;
        total.connect_errors += s.connect_errors;
        total.gave_up |= s.gave_up;
        total.late_starts += s.late_starts;
        total.max_late_us = total.max_late_us.max(s.max_late_us);
        if s.last_error.is_some() {
            total.last_error = s.last_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let answered = total.latencies_us.len() as u64;
    let ko: u64 = total.ko.values().sum();
    total.latencies_us.sort_unstable();
    let l = &total.latencies_us;
    let ms = |us: u32| us as f64 / 1000.0;
    let ko_codes = total
        .ko
        .iter()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect::<Vec<_>>()
        .join(",");
    println!(
        "{} receipts in {:.2} s: {} OK, {} KO{}, {} without answer; {:.0} answered/s, {:.0} OK/s",
        answered + total.failed,
        elapsed,
        total.ok,
        ko,
        if ko > 0 {
            format!(" ({ko_codes})")
        } else {
            String::new()
        },
        total.failed,
        answered as f64 / elapsed,
        total.ok as f64 / elapsed,
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        ms(percentile(l, 50.0)),
        ms(percentile(l, 90.0)),
        ms(percentile(l, 99.0)),
        ms(l.last().copied().unwrap_or(0)),
    );
    if total.late_starts > 0 {
        println!(
            "late starts: {} receipts taken over {} ms after they were due, no worker being free (at most {:.2} ms)",
            total.late_starts,
            LATE_START.as_millis(),
            ms(total.max_late_us),
        );
    }
    if total.transport_errors + total.connect_errors > 0 {
        println!(
            "errors: {} transport, {} connect{}; last: {}",
            total.transport_errors,
            total.connect_errors,
            if total.gave_up {
                " (gave up connecting)"
            } else {
                ""
            },
            total.last_error.as_deref().unwrap_or("-"),
        );
    }
    println!(
        "RESULT run_id={} receipts={} ok={} ko={} failed={} requests={} transport_errors={} connect_errors={} \
         elapsed_s={:.3} rps={:.1} ok_rps={:.1} p50_us={} p90_us={} p99_us={} max_us={} late_starts={} max_late_us={} \
         body_bytes={} ko_codes={}",
        args.run_id,
        answered + total.failed,
        total.ok,
        ko,
        total.failed,
        total.requests,
        total.transport_errors,
        total.connect_errors,
        elapsed,
        answered as f64 / elapsed,
        total.ok as f64 / elapsed,
        percentile(l, 50.0),
        percentile(l, 90.0),
        percentile(l, 99.0),
        l.last().copied().unwrap_or(0),
        total.late_starts,
        total.max_late_us,
        body_bytes,
        if ko_codes.is_empty() { "-" } else { &ko_codes },
    );
    Ok(ko == 0 && total.failed == 0)
}

// ----------------------------------------------------------------------------------------------
// The store check

async fn run_check(args: Args) -> Result<bool, String> {
    let path = args.check.clone().expect("check mode");
    let file = File::open(&path).map_err(|e| format!("--check {path}: {e}"))?;
    let mut seen = HashSet::new();
    let mut receipts = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        // A line cut short by a kill has no receiptId: skip it.
        if let Some((iuv, receipt_id)) = line.split_once(' ')
            && iuv.len() == 17
            && !receipt_id.is_empty()
            && seen.insert(line.clone())
        {
            receipts.push((iuv.to_owned(), receipt_id.to_owned()));
        }
    }
    let total = receipts.len();
    let queue = Arc::new(Mutex::new(receipts));
    let args = Arc::new(args);
    let workers: Vec<_> = (0..args.concurrency.min(total.max(1)))
        .map(|_| {
            let queue = queue.clone();
            let args = args.clone();
            tokio::spawn(async move { check_worker(&args, &queue).await })
        })
        .collect();
    let mut missing = Vec::new();
    for w in workers {
        missing.extend(w.await.map_err(|e| format!("worker: {e}"))?);
    }
    missing.sort();
    for (iuv, receipt_id, why) in &missing {
        println!("MISSING {iuv} {receipt_id}: {why}");
    }
    println!(
        "CHECK total={total} found={} missing={}",
        total - missing.len(),
        missing.len()
    );
    Ok(missing.is_empty())
}

/// Checks receipts from the queue; returns those not found, with why.
async fn check_worker(
    args: &Args,
    queue: &Mutex<Vec<(String, String)>>,
) -> Vec<(String, String, String)> {
    let mut missing = Vec::new();
    let mut sender: Option<Sender<Empty<Bytes>>> = None;
    loop {
        let Some((iuv, receipt_id)) = queue.lock().expect("queue").pop() else {
            break;
        };
        let uri = format!("/organizations/{}/receipts/{iuv}", args.org);
        let mut why = String::new();
        let mut found = false;
        for _attempt in 0..5 {
            if sender.is_none() {
                match connect(args.addr).await {
                    Ok(s) => sender = Some(s),
                    Err(e) => {
                        why = e;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            let mut request = Request::builder()
                .method(Method::GET)
                .uri(&uri)
                .header(header::HOST, &args.authority);
            if let Some(key) = &args.key {
                request = request.header("Ocp-Apim-Subscription-Key", key);
            }
            let request = request.body(Empty::new()).expect("valid request");
            match exchange(sender.as_mut().expect("connected"), request, args.timeout).await {
                Ok((200, body)) => {
                    let needle = format!(">{receipt_id}<");
                    found = body.windows(needle.len()).any(|w| w == needle.as_bytes());
                    if !found {
                        why = "HTTP 200 but another receipt".into();
                    }
                    break;
                }
                Ok((status, _)) => {
                    why = format!("HTTP {status}");
                    break;
                }
                Err(e) => {
                    why = e;
                    sender = None;
                }
            }
        }
        if !found {
            missing.push((iuv, receipt_id, why));
        }
    }
    missing
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("receipt_load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    let result = if args.check.is_some() {
        runtime.block_on(run_check(args))
    } else {
        runtime.block_on(run_load(args))
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("receipt_load: {e}");
            ExitCode::from(2)
        }
    }
}
