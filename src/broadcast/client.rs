//! The outbound HTTP client for broadcast stations: one POST of a paSendRT / paSendRTV2 request,
//! the whole exchange bounded by a timeout, the answer classified by `xml::broadcast`. Only an
//! HTTP 200 with outcome OK counts as delivered; whether and when to try again is the caller's
//! business.
//!
//! https goes through rustls with the ring provider and the system's trusted roots; plain
//! http works too. Connections are pooled per station and shared by clones of the client.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::domain::receipt::ReceiptVersion;
use crate::xml::broadcast::{StationAnswer, read_send_rt_answer, send_rt_action};

/// The largest answer read; a paSendRT answer is a few hundred bytes.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// How long an unused pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// HTTP 200 with outcome OK.
    Delivered,
    /// HTTP 200 with outcome KO and a fault: the station answered, and refused.
    Rejected {
        fault_code: String,
        description: String,
    },
    /// No valid answer: timeout, connection error, non-200 status or an invalid body.
    Failed(String),
}

/// A pooled HTTP client for stations; cheap to clone.
#[derive(Clone)]
pub struct StationClient {
    http: reqwest::Client,
}

impl Default for StationClient {
    fn default() -> Self {
        StationClient::new()
    }
}

impl StationClient {
    /// A client trusting the system's root certificates. Without any (a minimal container),
    /// every https station fails its handshake and a warning says why; http still works.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // A SOAP POST is not replayed elsewhere: a redirect is a misconfigured station.
            .redirect(reqwest::redirect::Policy::none())
            // Stations are configured by URL; an ambient HTTP(S)_PROXY must not reroute them.
            .no_proxy()
            .user_agent(concat!("gpd-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's configuration is static and valid");
        StationClient { http }
    }

    /// POSTs `body` (a paSendRT / paSendRTV2 request of `version`) to `url`. Connecting,
    /// sending and reading the whole answer together take at most `timeout`.
    pub async fn deliver(
        &self,
        url: &str,
        version: ReceiptVersion,
        body: Vec<u8>,
        timeout: Duration,
    ) -> AttemptOutcome {
        let (status, answer) =
            match tokio::time::timeout(timeout, self.exchange(url, version, body)).await {
                Err(_) => {
                    return AttemptOutcome::Failed(format!(
                        "timed out after {} ms",
                        timeout.as_millis()
                    ));
                }
                Ok(Err(reason)) => return AttemptOutcome::Failed(reason),
                Ok(Ok(exchange)) => exchange,
            };
        if status != reqwest::StatusCode::OK {
            return AttemptOutcome::Failed(format!("HTTP {}", status.as_u16()));
        }
        match read_send_rt_answer(version, &answer) {
            StationAnswer::Ok => AttemptOutcome::Delivered,
            StationAnswer::Ko {
                fault_code,
                description,
            } => AttemptOutcome::Rejected {
                fault_code,
                description,
            },
            StationAnswer::Invalid(reason) => {
                AttemptOutcome::Failed(format!("invalid answer: {reason}"))
            }
        }
    }

    /// The status and, for a 200, the body (at most `MAX_ANSWER_BYTES`).
    async fn exchange(
        &self,
        url: &str,
        version: ReceiptVersion,
        body: Vec<u8>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
        let mut response = self
            .http
            .post(url)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            )
            .header("SOAPAction", send_rt_action(version))
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Ok((status, Vec::new()));
        }
        let too_large = || format!("answer larger than {MAX_ANSWER_BYTES} bytes");
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            answer.extend_from_slice(&chunk);
        }
        Ok((status, answer))
    }
}

/// rustls with the ring provider, verifying stations against the system's roots.
fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    match rustls_platform_verifier::Verifier::new(provider) {
        // rustls calls any verifier other than its own webpki one "dangerous"; this one is the
        // platform's full chain and name verification.
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier)),
        Err(e) => {
            tracing::warn!(error = %e, "no trusted root certificates: https stations will fail");
            builder.with_root_certificates(rustls::RootCertStore::empty())
        }
    }
    .with_no_client_auth()
}

/// A reqwest error with its causes ("error sending request: ... : Connection refused").
fn describe(error: reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
