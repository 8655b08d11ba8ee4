//! Accepts connections and serves HTTP/1.1 on them until shutdown: then it stops accepting,
//! lets in-flight requests finish (bounded by a grace period) and returns.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::routes;
use crate::context::Context;

/// How long in-flight requests may take to finish once shutdown starts.
const GRACE: Duration = Duration::from_secs(15);

/// Serves `listener` until `shutdown` completes, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        let _ = ctx.wsdl.set(super::contract::wsdl_document(&ctx, address));
    }
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.config.limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let ctx = ctx.clone();
                let service = service_fn(move |req| handle(ctx.clone(), req));
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = watched.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
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

/// A finished answer: status, content type, body, extra headers.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    pub allow: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("valid status"),
            content_type,
            body: body.into(),
            allow: None,
            headers: Vec::new(),
        }
    }

    pub fn problem(status: u16, title: &str, detail: &str) -> Answer {
        let reply = crate::api::Reply::problem(status, title, detail);
        Answer::new(reply.status, reply.content_type, reply.body)
    }
}

async fn handle(
    ctx: Arc<Context>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    // What the debug line needs, kept only when that line will be written.
    let logged = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| (req.method().clone(), masked_path(req.uri().path())));
    let limits = &ctx.config.limits;
    let answer = match tokio::time::timeout(limits.request_timeout, answer(&ctx, req)).await {
        Ok(a) => a,
        Err(_) => Answer::problem(
            503,
            "Service Unavailable",
            "the request was not completed in time",
        ),
    };
    if let Some((method, path)) = logged {
        tracing::debug!(
            method = %method,
            path = %path,
            status = answer.status.as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
    }
    let mut response = Response::builder()
        .status(answer.status)
        .header(header::CONTENT_TYPE, answer.content_type);
    if let Some(allow) = answer.allow {
        response = response.header(header::ALLOW, allow);
    }
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    if answer.status == StatusCode::UNAUTHORIZED {
        // Every 401 names the scheme that would work (RFC 9110 section 11.6.1).
        response = response.header(header::WWW_AUTHENTICATE, r#"Bearer realm="gpd-gateway""#);
    }
    Ok(response
        .body(Full::new(answer.body))
        .expect("valid response"))
}

async fn answer(ctx: &Context, req: Request<Incoming>) -> Answer {
    let max = ctx.config.limits.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let soap = req.uri().path() == routes::SOAP_PATH;
    if declared.is_some_and(|len| len > max as u64) {
        return too_large(max, soap);
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large(max, soap);
        }
        Err(e) => {
            return Answer::problem(
                400,
                "Bad Request",
                &format!("the request body could not be read: {e}"),
            );
        }
    };
    routes::route(ctx, &parts, &body).await
}

/// A request path fit for the logs: the words of our routes and the creditor's fiscal code (a
/// public identifier) as they are, every other segment (IUPDs, which often embed a debtor's
/// fiscal code, notice numbers, ids) reduced to its first and last two characters.
fn masked_path(path: &str) -> String {
    let words = |segment: &str| {
        routes::ORGANIZATION_ROUTES
            .iter()
            .flat_map(|(_, pattern)| pattern.split('/'))
            .chain(["partner", "health", "xsd", "openapi.json"])
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

fn too_large(max: usize, soap: bool) -> Answer {
    let message = format!("the request body exceeds the limit of {max} bytes");
    if soap {
        super::soap::client_fault(413, &message)
    } else {
        Answer::problem(413, "Payload Too Large", &message)
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
