//! The outbound HTTP client for broadcast stations: one POST of a paSendRT / paSendRTV2 request,
//! the whole exchange bounded by a timeout, the answer classified by `xml::broadcast`. Only an
//! HTTP 200 with outcome OK counts as delivered; whether and when to try again is the caller's
//! business.
//!
//! https goes through rustls with the ring provider and the system's trusted roots. Where a
//! receipt may go is the destination policy's decision, applied to the URL and to each address
//! its host resolves to; plain http only towards the networks the operator allows.
//! Connections are pooled per station and shared by clones of the client.

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::domain::broadcast::StationUrl;
use crate::domain::destination::{DestinationPolicy, RefusedDestination};
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
    /// Not attempted: the destination is not one receipts may go to (see
    /// [`crate::domain::destination`]), or no request could be written for it.
    Refused(String),
}

/// A pooled HTTP client for stations; cheap to clone.
#[derive(Clone)]
pub struct StationClient {
    policy: Arc<DestinationPolicy>,
    /// For https URLs: public addresses and the allowed networks.
    https: reqwest::Client,
    /// For http URLs: the allowed networks only.
    http: reqwest::Client,
}

impl StationClient {
    /// A client trusting the system's root certificates (without any, in a minimal container,
    /// every https station fails its handshake and a warning says why), that connects only
    /// where `policy` lets receipts go.
    pub fn new(policy: DestinationPolicy) -> Self {
        let policy = Arc::new(policy);
        let tls = crate::outbound::tls_config();
        let client = |plain_http| {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls.clone())
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                // A SOAP POST is not replayed elsewhere: a redirect is a misconfigured station.
                .redirect(reqwest::redirect::Policy::none())
                // Stations are configured by URL; an ambient HTTP(S)_PROXY must not reroute them.
                .no_proxy()
                .dns_resolver(Arc::new(VettedResolver {
                    policy: policy.clone(),
                    plain_http,
                }))
                .user_agent(concat!("gpd-gateway/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the HTTP client's configuration is static and valid")
        };
        StationClient {
            https: client(false),
            http: client(true),
            policy,
        }
    }

    /// Whether a station at `url` may be registered: the URL's own check, and, for a host name
    /// that resolves now, at least one resolved address allowed. A name that does not resolve
    /// now is accepted: every connection checks it again.
    pub async fn vet(&self, url: &StationUrl) -> Result<(), RefusedDestination> {
        self.policy.check_url(url)?;
        if url.host().parse::<std::net::IpAddr>().is_ok() {
            return Ok(());
        }
        match vetted_addresses(&self.policy, url.host(), !url.is_https()).await {
            Err(Resolution::Refused(refused)) => Err(refused),
            Ok(_) | Err(Resolution::Failed(_)) => Ok(()),
        }
    }

    /// POSTs `body` (a paSendRT / paSendRTV2 request of `version`) to `url`. Connecting,
    /// sending and reading the whole answer together take at most `timeout`.
    pub async fn deliver(
        &self,
        url: &StationUrl,
        version: ReceiptVersion,
        body: Vec<u8>,
        timeout: Duration,
    ) -> AttemptOutcome {
        // A URL holding an address never reaches the resolver: it is checked here.
        if let Err(refused) = self.policy.check_url(url) {
            return AttemptOutcome::Refused(refused.0);
        }
        let (status, answer) =
            match tokio::time::timeout(timeout, self.exchange(url, version, body)).await {
                Err(_) => {
                    return AttemptOutcome::Failed(format!(
                        "timed out after {} ms",
                        timeout.as_millis()
                    ));
                }
                Ok(Err(Exchange::Refused(reason))) => return AttemptOutcome::Refused(reason),
                Ok(Err(Exchange::Failed(reason))) => return AttemptOutcome::Failed(reason),
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
        url: &StationUrl,
        version: ReceiptVersion,
        body: Vec<u8>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), Exchange> {
        let client = if url.is_https() {
            &self.https
        } else {
            &self.http
        };
        let mut response = client
            .post(url.as_str())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            )
            .header("SOAPAction", send_rt_action(version))
            .body(body)
            .send()
            .await
            .map_err(|e| match refusal(&e) {
                Some(refused) => Exchange::Refused(refused.0.clone()),
                None => Exchange::Failed(describe(&e)),
            })?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Ok((status, Vec::new()));
        }
        let too_large = || Exchange::Failed(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Exchange::Failed(describe(&e)))?
        {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            answer.extend_from_slice(&chunk);
        }
        Ok((status, answer))
    }
}

/// Why an exchange got no answer.
enum Exchange {
    /// The destination is not one receipts may go to: trying again will not help.
    Refused(String),
    Failed(String),
}

/// The refusal of the resolver below, if that is what stopped the request.
fn refusal(error: &reqwest::Error) -> Option<&RefusedDestination> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedDestination>() {
            return Some(refused);
        }
        source = cause.source();
    }
    None
}

/// Resolves a station's host name and keeps only the addresses the policy allows, so that the
/// check is made on what the connection will use, at the time it is made.
struct VettedResolver {
    policy: Arc<DestinationPolicy>,
    plain_http: bool,
}

impl Resolve for VettedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, plain_http) = (self.policy.clone(), self.plain_http);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match vetted_addresses(&policy, &host, plain_http).await {
                Ok(allowed) => Ok(Box::new(allowed.into_iter()) as Addrs),
                Err(Resolution::Refused(e)) => Err(Box::new(e) as BoxError),
                Err(Resolution::Failed(e)) => Err(Box::new(e) as BoxError),
            }
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

enum Resolution {
    /// Every address the name resolves to is refused.
    Refused(RefusedDestination),
    Failed(std::io::Error),
}

/// The addresses `host` resolves to that the policy allows.
async fn vetted_addresses(
    policy: &DestinationPolicy,
    host: &str,
    plain_http: bool,
) -> Result<Vec<SocketAddr>, Resolution> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(Resolution::Failed)?
        .collect();
    let mut refused = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| match policy.check_address(a.ip(), plain_http) {
            Ok(()) => true,
            Err(e) => {
                refused.get_or_insert(e);
                false
            }
        })
        .collect();
    match refused {
        Some(e) if allowed.is_empty() => Err(Resolution::Refused(RefusedDestination(format!(
            "{host} resolves to {}",
            e.0
        )))),
        _ => Ok(allowed),
    }
}

/// A reqwest error with its causes ("error sending request: ... : Connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
