//! A platform service for end-to-end tests (the notices archive, reporting flows, receipts,
//! SEND), on a loopback port under the base path its official document gives. The test's
//! handler answers each call; the stub records every call and, when `../shared/reference` is
//! present, checks each request against the official document (path, method, parameters,
//! the key header, the body's schema) and each answer the handler gives against the documented
//! responses. A stub that saw a violation fails the test when it is dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

use super::loopback::Loopback;
use super::openapi::{OpenApi, parameter_value};

/// One request as the stub received it. `path` is below the base path.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Option<Value>,
}

impl Call {
    /// The path's parameters when the call is `method` on `template`
    /// (`/organizations/{organizationfiscalcode}/debtpositions/{iupd}`), percent-decoded.
    pub fn matches(&self, method: &str, template: &str) -> Option<BTreeMap<String, String>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        match_template(template, &self.path)
    }

    /// The first value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the handler answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    /// None: the one the document gives for this status.
    pub content_type: Option<String>,
    /// Waited before answering: a slow service, or one that never answers in time.
    pub delay: Duration,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body: Some(body),
            content_type: None,
            delay: Duration::ZERO,
        }
    }

    /// A status without a body.
    pub fn empty(status: u16) -> Answer {
        Answer {
            status,
            body: None,
            content_type: None,
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Call) -> Answer + Send + Sync;

struct State {
    api: Option<OpenApi>,
    base_path: String,
    handler: Box<Handler>,
    calls: Mutex<Vec<Call>>,
    violations: Mutex<Vec<String>>,
}

pub struct PlatformStub {
    url: String,
    state: Arc<State>,
    server: Option<Loopback>,
}

impl PlatformStub {
    /// A stub of the service `document` describes (a path under `../shared/reference`, e.g.
    /// `pagopa-api/openapi/gpd-4-aca.json`), serving under `base_path` (the path of the
    /// document's server URL, e.g. `/aca/debt-positions-service/v1`; checked against it).
    pub async fn start(
        document: &str,
        base_path: &str,
        handler: impl Fn(&Call) -> Answer + Send + Sync + 'static,
    ) -> PlatformStub {
        let api = OpenApi::reference(document);
        if let Some(api) = &api {
            let servers: Vec<&str> = api.doc["servers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["url"].as_str())
                .collect();
            assert!(
                servers.iter().any(|s| server_path(s) == base_path),
                "{document} serves under {servers:?}, not {base_path}"
            );
        }
        let state = Arc::new(State {
            api,
            base_path: base_path.to_owned(),
            handler: Box::new(handler),
            calls: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let server = Loopback::start(move |request| answer(shared.clone(), request)).await;
        PlatformStub {
            url: format!("http://{}{base_path}", server.address),
            state,
            server: Some(server),
        }
    }

    /// The base URL to configure as the service's `endpoint`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Whether requests are checked against the official document.
    pub fn checks_document(&self) -> bool {
        self.state.api.is_some()
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// What the document refused so far, of the requests and of the handler's answers.
    pub fn violations(&self) -> Vec<String> {
        self.state.violations.lock().unwrap().clone()
    }

    /// The violations so far, cleared: for a test that makes them on purpose.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.state.violations.lock().unwrap())
    }

    /// Waits until `done` holds for the calls so far; panics with them after `within`.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let calls = self.calls();
            if done(&calls) {
                return calls;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{}: not done within {within:?}; calls: {calls:#?}",
                    self.url
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

impl Drop for PlatformStub {
    fn drop(&mut self) {
        let violations = self.violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "{}: requests or answers the document refuses:\n{}",
                self.url,
                violations.join("\n")
            );
        }
    }
}

/// The path of a server URL (`https://host/a/b` → `/a/b`).
fn server_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("", |i| rest[i..].trim_end_matches('/'))
}

/// The template's parameters in `path`, percent-decoded, when the two match.
fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let want: Vec<&str> = template.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (w, g) in want.iter().zip(&got) {
        match w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_owned(), decode(g));
            }
            None if w == g => {}
            None => return None,
        }
    }
    Some(params)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                match u8::from_str_radix(std::str::from_utf8(hex).unwrap_or(""), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

async fn answer(state: Arc<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let full_path = parts.uri.path();
    let Some(path) = full_path.strip_prefix(state.base_path.as_str()) else {
        state
            .violations
            .lock()
            .unwrap()
            .push(format!("{full_path} is not under {}", state.base_path));
        return reply(404, None, "application/json");
    };
    let mut violations = Vec::new();
    let json_body = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => Some(v),
            Err(e) => {
                violations.push(format!(
                    "{} {path}: the body is not JSON: {e}",
                    parts.method
                ));
                None
            }
        }
    };
    let call = Call {
        method: parts.method.to_string(),
        path: path.to_owned(),
        query: query_pairs(parts.uri.query()),
        headers: parts.headers.clone(),
        body: json_body,
    };
    let operation = state
        .api
        .as_ref()
        .and_then(|api| match operation(api, &call) {
            Ok((template, op)) => Some((api, template, op)),
            Err(mut refused) => {
                violations.append(&mut refused);
                None
            }
        });
    if let Some((api, template, op)) = &operation {
        violations.extend(check_request(api, template, op, &call));
    }
    state.calls.lock().unwrap().push(call.clone());
    let answer = (state.handler)(&call);
    let mut content_type = answer
        .content_type
        .clone()
        .unwrap_or_else(|| "application/json".to_owned());
    if let Some((api, template, _)) = &operation {
        if answer.content_type.is_none()
            && let Some(documented) = documented_type(api, &call.method, template, answer.status)
        {
            content_type = documented;
        }
        let schema = api.response_schema(&call.method, template, answer.status, &content_type);
        match (schema, &answer.body) {
            (Err(e), _) => violations.push(format!("answer: {e}")),
            (Ok(Some(schema)), Some(body)) => violations.extend(
                api.check(schema, body)
                    .into_iter()
                    .map(|e| format!("answer {} {template} {}: {e}", call.method, answer.status)),
            ),
            _ => {}
        }
    }
    if !violations.is_empty() {
        state.violations.lock().unwrap().extend(violations);
    }
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    reply(answer.status, answer.body.as_ref(), &content_type)
}

fn reply(status: u16, body: Option<&Value>, content_type: &str) -> Response<Full<Bytes>> {
    let bytes = body
        .map(|b| serde_json::to_vec(b).expect("JSON"))
        .unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    if body.is_some() {
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("a content type"),
        );
    }
    response
}

/// The documented template and operation object of `call`, or why there is none.
fn operation<'a>(api: &'a OpenApi, call: &Call) -> Result<(String, &'a Value), Vec<String>> {
    let paths = api.doc["paths"].as_object().expect("paths");
    let Some((template, item)) = paths
        .iter()
        .find(|(t, _)| match_template(t, &call.path).is_some())
    else {
        return Err(vec![format!(
            "{} {}: no documented path",
            call.method, call.path
        )]);
    };
    match item.get(call.method.to_lowercase()) {
        Some(op) => Ok((template.clone(), op)),
        None => Err(vec![format!(
            "{} {template}: method not documented",
            call.method
        )]),
    }
}

/// The content type documented for `status`, when there is exactly one.
fn documented_type(api: &OpenApi, method: &str, template: &str, status: u16) -> Option<String> {
    let content = api.doc["paths"][template][method.to_lowercase()]["responses"]
        [status.to_string()]
    .get("content")?
    .as_object()?;
    match content.keys().collect::<Vec<_>>()[..] {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// A parameter object, with a `$ref` to `components/parameters` followed.
fn parameter<'a>(api: &'a OpenApi, p: &'a Value) -> &'a Value {
    match p.get("$ref").and_then(Value::as_str) {
        Some(r) => api.resolve(r),
        None => p,
    }
}

/// What the document refuses in the call: parameters (path, query, header), the key, the body.
fn check_request(api: &OpenApi, template: &str, op: &Value, call: &Call) -> Vec<String> {
    let at = format!("{} {template}", call.method);
    let mut errors = Vec::new();
    let path_params = match_template(template, &call.path).expect("matched");
    let declared: Vec<&Value> = api.doc["paths"][template]["parameters"]
        .as_array()
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten()
        .map(|p| parameter(api, p))
        .collect();
    let mut known_query: Vec<&str> = Vec::new();
    for p in &declared {
        let name = p["name"].as_str().expect("a parameter's name");
        let required = p["required"] == Value::Bool(true);
        let value = match p["in"].as_str() {
            Some("path") => path_params.get(name).cloned(),
            Some("query") => {
                known_query.push(name);
                call.query(name).map(str::to_owned)
            }
            Some("header") => call.header(name).map(str::to_owned),
            _ => continue,
        };
        match value {
            None if required => errors.push(format!("{at}: required parameter {name} is missing")),
            None => {}
            Some(text) => {
                let schema = &p["schema"];
                let value = parameter_value(api.resolve_schema(schema), &text);
                errors.extend(
                    api.check(schema, &value)
                        .into_iter()
                        .map(|e| format!("{at}: parameter {name}: {e}")),
                );
            }
        }
    }
    let (key_ok, key_query) = security(api, op, call);
    if !key_ok {
        errors.push(format!(
            "{at}: no key where the document's security wants one"
        ));
    }
    known_query.extend(key_query);
    for (name, _) in &call.query {
        if !known_query.contains(&name.as_str()) {
            errors.push(format!("{at}: query parameter {name} is not documented"));
        }
    }
    let request_body = op.get("requestBody").map(|b| parameter(api, b));
    match (request_body, &call.body) {
        (None, Some(_)) => errors.push(format!("{at}: a body where none is documented")),
        (Some(doc), None) if doc["required"] == Value::Bool(true) => {
            errors.push(format!("{at}: the required body is missing"))
        }
        (Some(doc), Some(body)) => {
            let media = call
                .header("content-type")
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim();
            match doc["content"].get(media) {
                None => errors.push(format!("{at}: content type '{media}' is not documented")),
                Some(entry) => errors.extend(
                    api.check(&entry["schema"], body)
                        .into_iter()
                        .map(|e| format!("{at}: body: {e}")),
                ),
            }
        }
        _ => {}
    }
    errors
}

/// Whether the call carries a key one of the security alternatives accepts, and the query
/// parameter names the schemes use (documented, though not in `parameters`).
fn security<'a>(api: &'a OpenApi, op: &'a Value, call: &Call) -> (bool, Vec<&'a str>) {
    let alternatives = op
        .get("security")
        .or_else(|| api.doc.get("security"))
        .and_then(Value::as_array);
    let Some(alternatives) = alternatives.filter(|a| !a.is_empty()) else {
        return (true, Vec::new());
    };
    let schemes = &api.doc["components"]["securitySchemes"];
    let mut query_names = Vec::new();
    let mut ok = false;
    for alternative in alternatives {
        let all = alternative
            .as_object()
            .expect("a security requirement")
            .keys()
            .all(|scheme| {
                let s = &schemes[scheme];
                let name = s["name"].as_str().unwrap_or("");
                match s["in"].as_str() {
                    Some("header") => call.header(name).is_some_and(|v| !v.is_empty()),
                    Some("query") => {
                        query_names.push(name);
                        call.query(name).is_some_and(|v| !v.is_empty())
                    }
                    _ => false,
                }
            });
        ok |= all;
    }
    (ok, query_names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_segments_and_decode_them() {
        let p = match_template("/a/{x}/b/{y}", "/a/IUPD%2F1/b/2").unwrap();
        assert_eq!(p["x"], "IUPD/1");
        assert_eq!(p["y"], "2");
        assert!(match_template("/a/{x}", "/a/1/b").is_none());
        assert!(match_template("/a/{x}", "/c/1").is_none());
        assert_eq!(server_path("https://api.example.it/aca/v1/"), "/aca/v1");
        assert_eq!(server_path("https://api.example.it"), "");
    }
}
