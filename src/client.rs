//! The HTTP client of the replay tool and of the tests: one request per TCP connection, plain
//! `http://` only, the whole exchange bounded by a timeout, the answer read whole into a
//! [`Response`]. It sends through reqwest (the client the broadcast stations already use) set
//! up to change nothing on the way: no pooling, no redirects, no proxy. The one header it adds
//! is reqwest's `Accept: */*` when the caller gives no `Accept`, which means the same as none.

use std::error::Error as _;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Method;

/// How long one exchange (connect, send, read the whole answer) may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A complete HTTP response: status, headers (names in lower case, in arrival order) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header, the name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug)]
pub enum ClientError {
    /// The base URL is not an `http://host[:port][/prefix]` URL.
    Url(String),
    /// The request could not be built (bad method, path or header).
    Request(String),
    /// No TCP connection to the target.
    Connect(String, std::io::Error),
    /// The HTTP exchange failed after connecting.
    Http(reqwest::Error),
    /// The exchange did not complete within [`TIMEOUT`].
    Timeout,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(m) => write!(f, "bad target URL: {m}"),
            ClientError::Request(m) => write!(f, "bad request: {m}"),
            ClientError::Connect(addr, e) => write!(f, "cannot connect to {addr}: {e}"),
            ClientError::Http(e) => write!(f, "HTTP exchange failed: {}", Described(e)),
            ClientError::Timeout => write!(f, "no complete answer within {} s", TIMEOUT.as_secs()),
        }
    }
}

/// A reqwest error with its causes: its own text is only "error sending request" and the
/// like; the causes say what.
struct Described<'a>(&'a reqwest::Error);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        causes(self.0).try_for_each(|cause| write!(f, ": {cause}"))
    }
}

/// What lies under a reqwest error, outermost first.
fn causes(e: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |c| (*c).source())
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Connect(_, e) => Some(e),
            ClientError::Http(e) => Some(e),
            _ => None,
        }
    }
}

/// The parts of a base URL this client understands.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// `host[:port]` as written, for the Host header.
    authority: String,
    /// `host:port` to connect to (port 80 when none was given).
    address: String,
    /// A path prefix without trailing slash ("" for none), put before every path.
    prefix: String,
}

fn parse_base_url(base_url: &str) -> Result<Target, ClientError> {
    let Some(rest) = base_url.strip_prefix("http://") else {
        return Err(ClientError::Url(format!(
            "'{base_url}': only http:// URLs are supported (no TLS), e.g. http://127.0.0.1:8080"
        )));
    };
    let (authority, prefix) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(ClientError::Url(format!(
            "'{base_url}': expected http://host[:port][/prefix]"
        )));
    }
    if prefix.contains(['?', '#']) {
        return Err(ClientError::Url(format!(
            "'{base_url}': a base URL has no query or fragment"
        )));
    }
    // The text after the last colon is a port unless it belongs to an IPv6 literal ("[::1]").
    let port = authority
        .rfind(':')
        .map(|i| &authority[i + 1..])
        .filter(|p| !p.contains(']'));
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(ClientError::Url(format!("'{base_url}': bad port '{port}'")));
    }
    let address = match port {
        Some(_) => authority.to_owned(),
        None => format!("{authority}:80"),
    };
    Ok(Target {
        authority: authority.to_owned(),
        address,
        prefix: prefix.trim_end_matches('/').to_owned(),
    })
}

/// Checks that `base_url` is one this client can send to (`http://host[:port][/prefix]`).
pub fn check_base_url(base_url: &str) -> Result<(), ClientError> {
    parse_base_url(base_url).map(|_| ())
}

/// Sends one request and reads the whole answer. `path_and_query` starts with `/` and is put
/// after the base URL's own path, if any. Host is set from the base URL and Content-Length from
/// the body; `headers` are added as given.
pub async fn send(
    base_url: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Response, ClientError> {
    let target = parse_base_url(base_url)?;
    if !path_and_query.starts_with('/') {
        return Err(ClientError::Request(format!(
            "path '{path_and_query}' must start with /"
        )));
    }
    let uri = format!("{}{}", target.prefix, path_and_query);
    let bad = |e: &dyn fmt::Display| ClientError::Request(format!("{method} {uri}: {e}"));
    let verb = Method::from_bytes(method.as_bytes()).map_err(|e| bad(&e))?;
    let mut request = client().request(verb, format!("http://{}{uri}", target.authority));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    // A GET, HEAD, DELETE or OPTIONS without a body says no Content-Length at all.
    let sends_length = !body.is_empty() || !matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS");
    if sends_length {
        // Said even when 0: reqwest leaves it out for an empty body.
        request = request
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(body);
    }
    // An invalid header name or value shows here, with the cause under reqwest's "builder error".
    let request = request.build().map_err(|e| bad(&Described(&e)))?;
    match tokio::time::timeout(TIMEOUT, exchange(&target.address, request)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout),
    }
}

/// The one client of the process. It keeps no idle connection, so that each exchange has its
/// own, and none outlives the runtime that opened it (each test has its own).
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // Only http:// is sent, but reqwest wants a TLS configuration all the same.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .pool_max_idle_per_host(0)
            .http1_title_case_headers()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("the HTTP client's configuration is static and valid")
    })
}

async fn exchange(address: &str, request: reqwest::Request) -> Result<Response, ClientError> {
    let response = client().execute(request).await.map_err(|e| {
        let io = causes(&e).find_map(|c| c.downcast_ref::<std::io::Error>());
        match io {
            Some(io) if e.is_connect() => ClientError::Connect(
                address.to_owned(),
                std::io::Error::new(io.kind(), io.to_string()),
            ),
            _ => ClientError::Http(e),
        }
    })?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response.bytes().await.map_err(ClientError::Http)?;
    Ok(Response {
        status,
        headers,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use tokio::net::TcpListener;

    #[test]
    fn base_urls() {
        let t = parse_base_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.address, "127.0.0.1:8080");
        assert_eq!(t.prefix, "");
        let t = parse_base_url("http://gw.example/base/").unwrap();
        assert_eq!(t.authority, "gw.example");
        assert_eq!(t.address, "gw.example:80");
        assert_eq!(t.prefix, "/base");
        let t = parse_base_url("http://[::1]:9000").unwrap();
        assert_eq!(t.address, "[::1]:9000");
        let t = parse_base_url("http://[::1]").unwrap();
        assert_eq!(t.address, "[::1]:80");
        for bad in [
            "https://127.0.0.1:8080",
            "127.0.0.1:8080",
            "http://",
            "http://host:port",
            "http://host:99999",
            "http://u@host",
            "http://host/?q",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
        let e = parse_base_url("https://x").unwrap_err().to_string();
        assert!(e.contains("only http://"), "{e}");
    }

    /// Answers one request with a fixed response and hands back what it received. A plain
    /// thread with std sockets keeps the test independent of the code under test.
    fn one_shot_server(answer: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            let mut buf = [0u8; 4096];
            // Read until the headers and the announced body are in.
            loop {
                let n = socket.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&received).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if received.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            socket.write_all(answer).unwrap();
            String::from_utf8(received).unwrap()
        });
        (url, handle)
    }

    #[tokio::test]
    async fn sends_and_reads_a_request() {
        let (url, server) = one_shot_server(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        );
        let response = send(
            &url,
            "POST",
            "/organizations/77777777777/debtpositions?toPublish=true",
            &[
                ("Content-Type", "application/json"),
                ("SOAPAction", "\"x\""),
            ],
            b"{\"a\":1}".to_vec(),
        )
        .await
        .unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert_eq!(response.body, b"{}");
        let received = server.join().unwrap();
        assert!(
            received.starts_with(
                "POST /organizations/77777777777/debtpositions?toPublish=true HTTP/1.1\r\n"
            ),
            "{received}"
        );
        let host = url.trim_start_matches("http://");
        assert!(
            received.contains(&format!("Host: {host}\r\n")),
            "{received}"
        );
        assert!(received.contains("Content-Length: 7\r\n"), "{received}");
        assert!(received.contains("Soapaction: \"x\"\r\n"), "{received}");
        assert!(received.ends_with("{\"a\":1}"), "{received}");
    }

    #[tokio::test]
    async fn content_length_only_where_a_body_is_expected() {
        let answer: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
        let (url, server) = one_shot_server(answer);
        let response = send(&url, "POST", "/x", &[], Vec::new()).await.unwrap();
        assert_eq!(response.status, 204);
        let received = server.join().unwrap();
        assert!(received.contains("Content-Length: 0\r\n"), "{received}");
        assert_eq!(received.matches("Content-Length").count(), 1, "{received}");
        let (url, server) = one_shot_server(answer);
        send(&url, "GET", "/x", &[], Vec::new()).await.unwrap();
        let received = server.join().unwrap();
        assert!(
            !received.to_ascii_lowercase().contains("content-length"),
            "{received}"
        );
    }

    #[tokio::test]
    async fn a_bad_header_is_refused_before_sending() {
        let e = send(
            "http://127.0.0.1:9",
            "GET",
            "/",
            &[("bad name", "v")],
            Vec::new(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, ClientError::Request(_)), "{e}");
        assert!(e.to_string().contains("GET /"), "{e}");
    }

    #[tokio::test]
    async fn connection_refused_is_an_error() {
        // Bind then drop to get a port nobody listens on.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let e = send(&url, "GET", "/health", &[], Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Connect(..)), "{e}");
    }
}
