//! Accepts connections and serves HTTP/1.1 on them until shutdown: then it stops accepting,
//! lets in-flight requests finish (bounded by a grace period) and returns. Connections over the
//! cap and bodies over the in-flight budget are refused at once ([`limits`]). With [`Tls`], each
//! connection's handshake runs in its own task, within the header deadline, so that a slow
//! client never holds up the accept loop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::limits::{self, BodyBudget};
use super::routes;
use super::tls::{Peer, Tls};
use crate::api::Reply;
use crate::api::streamed::ReplyBody;
use crate::context::Context;
use crate::domain::subject::DistinguishedName;
use crate::observe;

/// The most a connection reads ahead of its handler (hyper's minimum is 8 KiB).
const READ_BUFFER: usize = 64 * 1024;

/// How long in-flight requests may take to finish once shutdown starts.
const GRACE: Duration = Duration::from_secs(15);

/// Serves plain HTTP on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, ctx, None, shutdown).await
}

/// Serves `listener`, over TLS when `tls` is given, until `shutdown` completes, then drains
/// open connections.
pub async fn serve_with(
    listener: TcpListener,
    ctx: Arc<Context>,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        let _ = ctx.wsdl.set(super::contract::wsdl_document(&ctx, address));
    }
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    // The header deadline also bounds how long a kept-alive connection may sit idle: hyper
    // starts it whenever it waits for a request's head.
    // Read-ahead is bounded too: hyper's default lets a connection buffer ~400 KiB of a body
    // before the handler takes it, per connection, outside the body budget.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.config.limits.header_timeout)
        .max_buf_size(READ_BUFFER);
    let connections = Arc::new(Semaphore::new(connection_cap(&ctx)));
    let budget = BodyBudget::new(ctx.config.limits.max_inflight_body_bytes);
    let mut shedding = Shedding::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, address) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    shedding.shed(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let connection = Connection {
                    ctx: ctx.clone(),
                    budget: budget.clone(),
                    builder: builder.clone(),
                    watcher: graceful.watcher(),
                    permit,
                };
                match &tls {
                    None => {
                        let peer = Peer { address, subject: None };
                        tokio::spawn(connection.serve(stream, peer));
                    }
                    Some(tls) => {
                        tokio::spawn(connection.handshake(stream, address, tls.current()));
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(GRACE) => tracing::warn!("grace period over, closing remaining connections"),
    }
    Ok(())
}

/// What a connection's task needs to serve it; the permit is its place under the cap.
struct Connection {
    ctx: Arc<Context>,
    budget: Arc<BodyBudget>,
    builder: http1::Builder,
    watcher: Watcher,
    permit: OwnedSemaphorePermit,
}

impl Connection {
    /// The TLS handshake, within the header deadline, then the connection over it.
    async fn handshake(self, stream: TcpStream, address: SocketAddr, config: Arc<ServerConfig>) {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let deadline = self.ctx.config.limits.header_timeout;
        let stream = match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(peer = %address, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %address, "TLS handshake not completed in time");
                return;
            }
        };
        let subject = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|der| DistinguishedName::of_certificate(der));
        self.serve(stream, Peer { address, subject }).await;
    }

    async fn serve<IO>(self, io: IO, peer: Peer)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            ctx,
            budget,
            builder,
            watcher,
            permit,
        } = self;
        let peer = Arc::new(peer);
        let service = service_fn(move |req| handle(ctx.clone(), budget.clone(), peer.clone(), req));
        let conn = builder.serve_connection(TokioIo::new(io), service);
        let metrics = observe::metrics::metrics();
        metrics.inspect(|m| m.connection_opened());
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        metrics.inspect(|m| m.connection_closed());
        drop(permit);
    }
}

/// The connection cap: as configured, but below the open-files limit, so that connections are
/// shed by the cap, at once, rather than by a failing `accept` (which also starves the store of
/// descriptors).
fn connection_cap(ctx: &Context) -> usize {
    let configured = ctx.config.limits.max_connections;
    // Descriptors for the store, the listener, outbound connections to stations.
    const RESERVED: u64 = 256;
    match limits::open_files_limit() {
        Some(files) if (configured as u64).saturating_add(RESERVED) > files => {
            let cap = files.saturating_sub(RESERVED).max(1) as usize;
            tracing::warn!(
                configured,
                open_files_limit = files,
                cap,
                "limits.max_connections lowered to fit the open-files limit"
            );
            cap
        }
        _ => configured,
    }
}

/// Connections refused over the cap: answered 503 with what fits in the socket's buffer right
/// away and closed, never waited on. Counted, and logged at most once a second.
#[derive(Default)]
struct Shedding {
    since_logged: u64,
    logged_at: Option<Instant>,
}

/// The whole answer to a connection over the cap.
const SHED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

impl Shedding {
    fn shed(&mut self, stream: TcpStream) {
        let _ = stream.try_write(SHED);
        drop(stream);
        if let Some(m) = observe::metrics::metrics() {
            m.connection_shed();
        }
        self.since_logged += 1;
        if self
            .logged_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(
                shed = self.since_logged,
                "connection cap reached: connections closed with 503"
            );
            self.since_logged = 0;
            self.logged_at = Some(Instant::now());
        }
    }
}

async fn handle(
    ctx: Arc<Context>,
    budget: Arc<BodyBudget>,
    peer: Arc<Peer>,
    req: Request<Incoming>,
) -> Result<Response<ReplyBody>, Infallible> {
    let started = Instant::now();
    let request_id = observe::request_id(req.headers());
    let method = observe::metrics::method_label(req.method());
    // What the debug line needs, kept only when that line will be written.
    let logged = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| (req.method().clone(), masked_path(req.uri().path())));
    let limits = &ctx.config.limits;
    // The Node always gets SOAP: on /partner a timeout is a SOAP Fault, not a problem body.
    let soap = req.uri().path() == routes::SOAP_PATH;
    let answer = match tokio::time::timeout(
        limits.request_timeout,
        answer(&ctx, &budget, &peer, req, soap),
    )
    .await
    {
        Ok(a) => a,
        Err(_) => failure(
            soap,
            503,
            "Service Unavailable",
            "the request was not completed in time",
        ),
    };
    if let Some((method, path)) = logged {
        tracing::debug!(
            method = %method,
            path = %path,
            status = answer.status,
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
    }
    observe::finish(
        &observe::Record {
            id: &request_id,
            method,
            status: answer.status,
            observed: &answer.observed,
            elapsed: started.elapsed(),
        },
        ctx.config.log.access,
    );
    let mut response = Response::builder()
        .status(answer.status)
        .header(header::CONTENT_TYPE, answer.content_type)
        .header(observe::REQUEST_ID, request_id);
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    if answer.status == StatusCode::UNAUTHORIZED.as_u16() {
        // Every 401 names the scheme that would work (RFC 9110 section 11.6.1).
        response = response.header(header::WWW_AUTHENTICATE, r#"Bearer realm="gpd-gateway""#);
    }
    Ok(response
        .body(ReplyBody::of(answer.body, answer.stream))
        .expect("valid response"))
}

async fn answer(
    ctx: &Context,
    budget: &Arc<BodyBudget>,
    peer: &Peer,
    req: Request<Incoming>,
    soap: bool,
) -> Reply {
    let max = ctx.config.limits.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return too_large(max, soap);
    }
    // The declared length is taken from the budget before a byte is read; a body of unknown
    // length takes it as it comes.
    let declared = declared.unwrap_or(0) as usize;
    let Some(mut reservation) = budget.reserve(declared) else {
        return busy(soap);
    };
    let (parts, mut body) = req.into_parts();
    let mut buffer = BytesMut::with_capacity(declared);
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers
            },
            Err(e) => {
                let message = format!("the request body could not be read: {e}");
                return failure(soap, 400, "Bad Request", &message);
            }
        };
        let total = buffer.len() + data.len();
        if total > max {
            return too_large(max, soap);
        }
        if !reservation.grow_to(total) {
            return busy(soap);
        }
        buffer.extend_from_slice(&data);
    }
    let answer = routes::route(ctx, peer, &parts, &buffer.freeze()).await;
    drop(reservation);
    answer
}

/// The body would take more than the in-flight budget has left: 503, to try again shortly.
fn busy(soap: bool) -> Reply {
    let message = "too many request bodies in flight; try again shortly";
    failure(soap, 503, "Service Unavailable", message).with_header("retry-after", "1")
}

/// A request path fit for the logs: the words of our routes and the creditor's fiscal code (a
/// public identifier) as they are, every other segment (IUPDs, which often embed a debtor's
/// fiscal code, notice numbers, ids) reduced to its first and last two characters.
fn masked_path(path: &str) -> String {
    let words = |segment: &str| {
        routes::ROUTES
            .iter()
            .flat_map(|route| route.pattern.split('/'))
            .any(|w| !w.starts_with('{') && w == segment)
    };
    let mut out = String::with_capacity(path.len());
    let mut previous = "";
    for segment in path.split('/').skip(1) {
        out.push('/');
        let creditor = previous == "organizations"
            && segment.len() == 11
            && segment.bytes().all(|b| b.is_ascii_digit());
        if segment.is_empty() || creditor || words(segment) {
            out.push_str(segment);
        } else if segment.chars().count() >= 8 {
            let chars: Vec<char> = segment.chars().collect();
            out.extend(&chars[..2]);
            out.push_str("...");
            out.extend(&chars[chars.len() - 2..]);
        } else {
            out.push_str("***");
        }
        previous = segment;
    }
    out
}

fn too_large(max: usize, soap: bool) -> Reply {
    let message = format!("the request body exceeds the limit of {max} bytes");
    failure(soap, 413, "Payload Too Large", &message)
}

/// A request the server itself cannot take: on `/partner` a SOAP Fault (the client's below
/// 500, ours from 500), elsewhere a problem document.
fn failure(soap: bool, status: u16, title: &str, message: &str) -> Reply {
    match (soap, status < 500) {
        (true, true) => super::soap::client_fault(status, message),
        (true, false) => super::soap::server_fault(status, message),
        (false, _) => Reply::problem(status, title, message),
    }
}

#[cfg(test)]
mod tests {
    use super::masked_path;

    #[test]
    fn logged_paths_hide_what_is_not_a_route_word() {
        assert_eq!(
            masked_path("/organizations/77777777777/debtpositions/IUPD-RSSMRA80A01H501U/publish"),
            "/organizations/77777777777/debtpositions/IU...1U/publish"
        );
        assert_eq!(
            masked_path("/organizations/RSSMRA80A01H501U/receipts/abc"),
            "/organizations/RS...1U/receipts/***"
        );
        assert_eq!(masked_path("/partner"), "/partner");
        assert_eq!(masked_path("/health/"), "/health/");
        assert_eq!(masked_path("/àèìòùàèì"), "/àè...èì");
    }
}
