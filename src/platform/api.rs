//! One platform REST service as the gateway calls it: the creditor's [`PlatformAccess`] (base
//! URL and key), the header the service reads the key from, and a bound on each exchange.
//! Paths are built from segments, each percent-encoded, so that an IUPD or a flow id with
//! reserved characters stays one segment. Answers other than 2xx come back as
//! [`ApiError::Status`] with the service's body, for the caller to read (a 404 or a 409 often
//! means something to it).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::platform::PlatformAccess;

/// The header PagoPA's API gateway reads subscription keys from (`Ocp-Apim-Subscription-Key`).
pub const SUBSCRIPTION_KEY: HeaderName = HeaderName::from_static("ocp-apim-subscription-key");

/// The largest answer read: a page of flow payments is well under it.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// How long an unused pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call did not give a 2xx answer of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No answer within the bound, or no connection.
    Unreachable(String),
    /// An answer with a status other than 2xx, and its body (cut at 1 KiB, for logs).
    Status { status: u16, body: String },
    /// A 2xx answer whose body is not what the document says.
    Invalid(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unreachable(why) => write!(f, "unreachable: {why}"),
            ApiError::Status { status, body } => write!(f, "HTTP {status}: {body}"),
            ApiError::Invalid(why) => write!(f, "invalid answer: {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// A client of one service for one creditor; cheap to clone (connections are pooled).
#[derive(Clone)]
pub struct PlatformApi {
    client: reqwest::Client,
    base: Url,
    key_header: HeaderName,
    key: HeaderValue,
    timeout: Duration,
}

impl PlatformApi {
    /// `key_header` names the header the service reads the key from ([`SUBSCRIPTION_KEY`] for
    /// PagoPA's services); each exchange, connection included, ends within `timeout`.
    pub fn new(access: &PlatformAccess, key_header: HeaderName, timeout: Duration) -> Self {
        let base = Url::parse(access.endpoint()).expect("PlatformAccess checks its endpoint");
        let mut key = HeaderValue::from_str(access.key()).expect("PlatformAccess checks its key");
        key.set_sensitive(true);
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::outbound::tls_config())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gpd-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's configuration is static and valid");
        PlatformApi {
            client,
            base,
            key_header,
            key,
            timeout,
        }
    }

    /// The base URL followed by `segments`, each percent-encoded, and `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// `GET` and the answer's JSON body.
    pub async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let body = self.call(Method::GET, segments, query, None::<&()>).await?;
        json(&body)
    }

    /// A call with an optional JSON body; the 2xx answer's body, as bytes.
    pub async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Bytes, ApiError> {
        let mut request = self
            .client
            .request(method, self.url(segments, query))
            .header(self.key_header.clone(), self.key.clone())
            .header(ACCEPT, "application/json")
            .timeout(self.timeout);
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).expect("request bodies serialize");
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let exchange = async {
            let mut response = request.send().await.map_err(unreachable)?;
            let status = response.status().as_u16();
            let mut answer = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
                if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ApiError::Invalid(format!(
                        "answer over {MAX_ANSWER_BYTES} bytes"
                    )));
                }
                answer.extend_from_slice(&chunk);
            }
            Ok((status, answer))
        };
        // reqwest's timeout covers the body too; this also bounds a slow trickle of chunks.
        let (status, answer) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ApiError::Unreachable(format!("no answer within {:?}", self.timeout)))??;
        if (200..300).contains(&status) {
            Ok(Bytes::from(answer))
        } else {
            Err(ApiError::Status {
                status,
                body: cut(&answer),
            })
        }
    }
}

/// A 2xx body read as `T`.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Invalid(e.to_string()))
}

fn unreachable(e: reqwest::Error) -> ApiError {
    use std::error::Error as _;
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        why = format!("{why}: {cause}");
        source = cause.source();
    }
    ApiError::Unreachable(why)
}

/// At most 1 KiB of an error body, as text.
fn cut(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(endpoint: &str) -> PlatformApi {
        let access = PlatformAccess::new(endpoint, "k").unwrap();
        PlatformApi::new(&access, SUBSCRIPTION_KEY, Duration::from_secs(1))
    }

    #[test]
    fn segments_are_encoded_one_by_one_under_the_base_path() {
        let api = api("https://api.example.it/aca/debt-positions-service/v1/");
        let url = api.url(
            &["organizations", "77777777777", "debtpositions", "IUPD/1 ?x"],
            &[("page", "0".into()), ("q", "a&b".into())],
        );
        assert_eq!(
            url.as_str(),
            "https://api.example.it/aca/debt-positions-service/v1/organizations/77777777777/debtpositions/IUPD%2F1%20%3Fx?page=0&q=a%26b"
        );
        let bare = self::api("http://127.0.0.1:9");
        assert_eq!(bare.url(&["a"], &[]).as_str(), "http://127.0.0.1:9/a");
    }

    #[tokio::test]
    async fn no_server_is_unreachable_not_a_status() {
        // Port 9 (discard) on loopback is closed on test machines.
        let e = api("http://127.0.0.1:9").get::<()>(&["x"], &[]).await;
        assert!(matches!(e, Err(ApiError::Unreachable(_))), "{e:?}");
    }
}
