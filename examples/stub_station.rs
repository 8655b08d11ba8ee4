//! A stand-alone broadcast station for benchmarks and crash tests: it answers every paSendRT with
//! `paSendRTRes` and every paSendRTV2 with `paSendRTV2Response`, outcome OK, after an optional
//! `--delay-ms`, and appends the receiptId of each receipt it acknowledged to `--log` (one per
//! line, written before the answer is sent, so the log holds everything the sender was told OK).
//!
//! It only looks for the wrapper element and `receiptId` by name: a station's job here is to be
//! cheap and predictable, not to validate. A body that is neither wrapper gets HTTP 500 with a
//! SOAP Fault. `--fail-every N` answers every Nth receipt HTTP 503 instead (not logged): a
//! transient failure, which a sender retries (a KO would be a final refusal). `GET` on any path
//! answers the counters as text, with how many receipts came addressed to each
//! `idPA/idBrokerPA/idStation`, so a test can check every recipient was named as itself.
//!
//! ```sh
//! cargo run --release --example stub_station -- --listen 127.0.0.1:18090 --log /tmp/station.log
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

const USAGE: &str =
    "usage: stub_station --listen ADDR [--delay-ms D] [--log FILE] [--fail-every N]";

struct Args {
    listen: SocketAddr,
    delay: Duration,
    log: Option<String>,
    fail_every: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut listen, mut delay, mut log, mut fail_every) = (None, Duration::ZERO, None, 0);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                listen = Some(v.parse().map_err(|e| format!("--listen {v}: {e}"))?);
            }
            "--delay-ms" => {
                let v = value("--delay-ms")?;
                delay =
                    Duration::from_millis(v.parse().map_err(|e| format!("--delay-ms {v}: {e}"))?);
            }
            "--log" => log = Some(value("--log")?),
            "--fail-every" => {
                let v = value("--fail-every")?;
                fail_every = v.parse().map_err(|e| format!("--fail-every {v}: {e}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or(USAGE)?,
        delay,
        log,
        fail_every,
    })
}

struct Station {
    delay: Duration,
    fail_every: u64,
    log: Option<Mutex<File>>,
    received: AtomicU64,
    acknowledged: AtomicU64,
    refused: AtomicU64,
    malformed: AtomicU64,
    /// Receipts per `idPA/idBrokerPA/idStation` they were addressed to.
    addressed: Mutex<BTreeMap<String, u64>>,
}

const ENVELOPE_START: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:paf="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body>"#;
const ENVELOPE_END: &str = "</soapenv:Body></soapenv:Envelope>";

/// The text of the first element whose local name is `name` (any prefix, attributes allowed):
/// what follows its opening tag up to the next `<`.
fn element_text<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = body[from..].find(name) {
        let start = from + i;
        let after = start + name.len();
        let opening = body[..start].ends_with('<') || body[..start].ends_with(':');
        let rest = &body[after..];
        if opening && (rest.starts_with('>') || rest.starts_with(' ')) {
            let text = &rest[rest.find('>')? + 1..];
            return Some(&text[..text.find('<').unwrap_or(text.len())]);
        }
        from = after;
    }
    None
}

fn soap(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

/// The OK answer in `wrapper` (paSendRTRes or paSendRTV2Response).
fn answer(wrapper: &str) -> String {
    format!("{ENVELOPE_START}<paf:{wrapper}><outcome>OK</outcome></paf:{wrapper}>{ENVELOPE_END}")
}

async fn handle(
    station: Arc<Station>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == Method::GET {
        let mut counters = format!(
            "received {}\nacknowledged {}\nrefused {}\nmalformed {}\n",
            station.received.load(Ordering::Relaxed),
            station.acknowledged.load(Ordering::Relaxed),
            station.refused.load(Ordering::Relaxed),
            station.malformed.load(Ordering::Relaxed),
        );
        for (ids, n) in station.addressed.lock().expect("counters").iter() {
            counters.push_str(&format!("addressed {ids} {n}\n"));
        }
        return Ok(Response::new(Full::new(Bytes::from(counters))));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(soap(400, String::new())),
    };
    let text = String::from_utf8_lossy(&body);
    let response_wrapper = if element_text(&text, "paSendRTV2Request").is_some() {
        Some("paSendRTV2Response")
    } else if element_text(&text, "paSendRTReq").is_some() {
        Some("paSendRTRes")
    } else {
        None
    };
    let (Some(wrapper), Some(receipt_id)) = (response_wrapper, element_text(&text, "receiptId"))
    else {
        station.malformed.fetch_add(1, Ordering::Relaxed);
        let fault = "<soapenv:Fault><faultcode>soapenv:Client</faultcode>\
                     <faultstring>not a paSendRT or paSendRTV2 request</faultstring></soapenv:Fault>";
        return Ok(soap(500, format!("{ENVELOPE_START}{fault}{ENVELOPE_END}")));
    };
    let n = station.received.fetch_add(1, Ordering::Relaxed) + 1;
    let ids =
        ["idPA", "idBrokerPA", "idStation"].map(|name| element_text(&text, name).unwrap_or("-"));
    *station
        .addressed
        .lock()
        .expect("counters")
        .entry(ids.join("/"))
        .or_default() += 1;
    if !station.delay.is_zero() {
        tokio::time::sleep(station.delay).await;
    }
    if station.fail_every > 0 && n.is_multiple_of(station.fail_every) {
        station.refused.fetch_add(1, Ordering::Relaxed);
        return Ok(soap(503, String::new()));
    }
    if let Some(log) = &station.log {
        let line = format!("{receipt_id}\n");
        if let Err(e) = log.lock().expect("log").write_all(line.as_bytes()) {
            // Not logged means not acknowledged: the sender must retry.
            eprintln!("stub_station: cannot write the log: {e}");
            return Ok(soap(503, String::new()));
        }
    }
    station.acknowledged.fetch_add(1, Ordering::Relaxed);
    Ok(soap(200, answer(wrapper)))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stub_station: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stub_station: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let log = match &args.log {
        Some(path) => Some(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("--log {path}: {e}"))?,
        )),
        None => None,
    };
    let station = Arc::new(Station {
        delay: args.delay,
        fail_every: args.fail_every,
        log,
        received: AtomicU64::new(0),
        acknowledged: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        malformed: AtomicU64::new(0),
        addressed: Mutex::new(BTreeMap::new()),
    });
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    eprintln!(
        "stub_station: listening on {}, delay {} ms{}",
        args.listen,
        args.delay.as_millis(),
        if args.fail_every > 0 {
            format!(", every {}th receipt answered 503", args.fail_every)
        } else {
            String::new()
        }
    );
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(5));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("SIGTERM handler: {e}"))?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let station = station.clone();
                let service = service_fn(move |req| handle(station.clone(), req));
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    eprintln!(
        "stub_station: received {}, acknowledged {}, refused {}, malformed {}",
        station.received.load(Ordering::Relaxed),
        station.acknowledged.load(Ordering::Relaxed),
        station.refused.load(Ordering::Relaxed),
        station.malformed.load(Ordering::Relaxed),
    );
    Ok(())
}
