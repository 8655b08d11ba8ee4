//! The benchmark's reference point: a bare hyper server with the gateway's HTTP plumbing and no
//! application work. It reads every request body in full and answers HTTP 200
//! `text/xml; charset=utf-8` with a fixed body loaded from a file (bench/run.sh feeds it a real
//! gateway response, so both servers send the same bytes).
//!
//! The connection setup copies the gateway's (src/http/server.rs): hyper 1 `http1::Builder` with
//! a `TokioTimer` and a header read timeout, `TokioIo`, `TCP_NODELAY`, every connection watched
//! by a `GracefulShutdown`, a default tokio multi-thread runtime. What the gateway adds on top —
//! routing, the request timeout, SOAP parsing, the store, the response writer — is what the
//! benchmark measures.
//!
//! ```sh
//! cargo run --release --example bare_server -- --listen 127.0.0.1:18081 --body response.xml
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

const USAGE: &str = "usage: bare_server --listen ADDR --body FILE";

struct Args {
    listen: SocketAddr,
    body: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut body = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                listen = Some(v.parse().map_err(|e| format!("--listen {v}: {e}"))?);
            }
            "--body" => body = Some(PathBuf::from(value("--body")?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or(USAGE)?,
        body: body.ok_or(USAGE)?,
    })
}

async fn handle(body: Bytes, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the request in full, as the gateway does, then drop it.
    let _ = req.into_body().collect().await;
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(Full::new(body))
        .expect("valid response"))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bare_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let body = match std::fs::read(&args.body) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            eprintln!("bare_server: cannot read {}: {e}", args.body.display());
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(serve(args.listen, body)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bare_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(listen: SocketAddr, body: Bytes) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!(
        "bare_server: listening on {listen}, {} byte body",
        body.len()
    );
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(5));
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let body = body.clone();
                let service = service_fn(move |req| handle(body.clone(), req));
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = watched.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(Duration::from_secs(5)) => {},
    }
    Ok(())
}
