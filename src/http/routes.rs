//! From method and path to the handler, through one table: [`ROUTES`] lists every route as
//! (method, path pattern, who may call it, handler). A request walks the table once: the first
//! route whose pattern and method match answers; a path some route matches with another
//! method gets 405 with `Allow` (the methods of every route matching it), anything else 404,
//! both with a problem body (a SOAP fault on `/partner`). A literal segment is listed before
//! the placeholder it would also match (GPD's `bulk` and `transfers` under `debtpositions`),
//! whose other methods it leaves to the placeholder's routes, as GPD's framework does.
//!
//! Every path but the [public](Scope::Public) ones needs an API key, checked before anything
//! is answered: no valid key is 401 and a key bound to other creditors is 403, whatever the
//! path or method, so neither 404 nor 405 tells a caller without the right key what exists. A
//! key limited to some segregation codes is 403 on the [routes of the whole
//! creditor](Scope::WholeCreditor); elsewhere the handlers refuse what is of other codes.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::Instant;

use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, header};

use super::tls::Peer;
use super::{contract, health, multipart, scrape, soap, zip};
use crate::api::positions::{self, StateAction};
use crate::api::upload::{self, Broker};
use crate::api::{
    self, OnCreditor, Problem, Reply, broadcast, bulk, debtors, events, odp, payment_options,
    payments, receipts, recovery, reporting, send,
};
use crate::context::Context;
use crate::domain::api_key::{ApiKeySecret, KeyId, KeyScope, SegregationScope};
use crate::domain::upload::UploadOperation;
use crate::journal::RestCall;
use crate::observe::Answered;
use crate::observe::metrics::method_label;

pub const SOAP_PATH: &str = "/partner";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No API key: the Node's SOAP endpoint and its contract (the Node is authenticated by the
    /// connection, not by our keys), liveness and readiness, what the gateway is (GPD's
    /// `/info`), published documents, and the metrics (to the networks of `[metrics] allow`).
    Public,
    /// A key for the creditor of the path; the handler refuses what lies outside its
    /// segregation codes.
    Creditor,
    /// A key for the creditor of the path and all its segregation codes: what it names
    /// concerns every notice of the creditor.
    WholeCreditor(&'static str),
    /// A valid key, on a path that names no creditor: the body lists them (GPD's
    /// `/internal/config/send`), and the handler refuses any the key may not act for.
    Listed,
}

type Handled<'a> = Pin<Box<dyn Future<Output = Result<Reply, Problem>> + Send + 'a>>;

/// One route: a request with this method and a path matching this pattern (`{name}` matches
/// any one segment) is answered by `handler`, if `scope` lets the caller in.
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub scope: Scope,
    handler: for<'a> fn(Call<'a>) -> Handled<'a>,
}

/// A request as a handler sees it.
#[derive(Clone, Copy)]
struct Call<'a> {
    ctx: &'a Context,
    peer: &'a Peer,
    parts: &'a Parts,
    body: &'a [u8],
    pattern: &'static str,
    segments: &'a [&'a str],
    /// What the key may touch of its creditors; all of it on public paths, which touch none.
    segregation: &'a SegregationScope,
    /// The creditors the key acts for, for a route naming them in its body; all on public
    /// paths, which touch none.
    scope: &'a KeyScope,
}

impl<'a> Call<'a> {
    /// The path segment at the pattern's `{name}`.
    fn param(&self, name: &str) -> &'a str {
        self.pattern
            .trim_matches('/')
            .split('/')
            .zip(self.segments)
            .find(|(p, _)| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) == Some(name))
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("{} has no {{{name}}}", self.pattern))
    }

    /// The call on the creditor of the path, whatever the placeholder's name. A route asks for
    /// it after what it checks before the creditor (`toPublish`, `If-Match`, an upload's file).
    fn on_creditor(&self) -> Result<OnCreditor<'a>, Problem> {
        let org = organization_of(self.segments).expect("a creditor route");
        OnCreditor::new(self.ctx, org, self.segregation)
    }

    /// The broker of an upload path, then the call on its creditor, in that order.
    fn on_broker_creditor(&self) -> Result<(OnCreditor<'a>, Broker<'a>), Problem> {
        let broker = Broker::served(self.ctx, self.param("brokerCode"))?;
        Ok((self.on_creditor()?, broker))
    }

    /// The id of the API key presented (already checked), for the record of what it did.
    fn key_id(&self) -> Option<KeyId> {
        let presented = presented_key(&self.parts.headers).ok().flatten()?;
        ApiKeySecret::parse(presented).map(|k| k.id())
    }

    fn query(&self) -> Option<&'a str> {
        self.parts.uri.query()
    }

    fn header(&self, name: impl header::AsHeaderName) -> Option<&'a str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The table's rows: `METHOD "pattern" Scope => |call| body`, the body an expression of type
/// `Result<Reply, Problem>` that may await and use `?`.
macro_rules! routes {
    ($($method:ident $pattern:literal $scope:expr => |$c:ident| $body:expr;)*) => {
        &[$(Route {
            method: Method::$method,
            pattern: $pattern,
            scope: $scope,
            handler: {
                fn handle($c: Call<'_>) -> Handled<'_> {
                    Box::pin(async move { $body })
                }
                handle
            },
        },)*]
    };
}

use Scope::{Creditor, Listed, Public, WholeCreditor};

/// What concerns every notice of the creditor, named as a refusal names it.
const STATIONS: Scope = WholeCreditor("broadcast stations");
const REPORTING: Scope = WholeCreditor("reporting flows");
const DELIVERIES: Scope = WholeCreditor("deliveries");
const IBAN_CHANGES: Scope = WholeCreditor("IBAN changes across positions");
const FILES: Scope = WholeCreditor("files of positions");
const DEBTORS: Scope = WholeCreditor("debtors' personal data");
const JOURNAL: Scope = WholeCreditor("the event journal's entries");
const ACA_MIRRORS: Scope = WholeCreditor("the archive mirror of the creditor's positions");
const NOTICE_JOBS: Scope = WholeCreditor("batches of payment notices");

/// Every route the gateway answers, in the order a request tries them.
#[rustfmt::skip]
pub static ROUTES: &[Route] = routes! {
    POST "/partner" Public => |c| Ok(soap::partner(c.ctx, c.header("soapaction"), c.body).await);
    GET "/partner" Public => |c| Ok(partner_get(c));
    GET "/xsd/{name}" Public => |c| Ok(contract::xsd(c.param("name")));
    GET "/openapi.json" Public => |_c| Ok(contract::openapi());
    GET "/info" Public => |c| Ok(contract::info(&c.ctx.config.instance.environment));
    GET "/health" Public => |c| Ok(health::health(c.ctx).await);
    GET "/ready" Public => |c| Ok(health::ready(c.ctx).await);
    GET "/metrics" Public => |c| Ok(scrape::metrics(c.ctx, c.peer).await);

    POST "/organizations/{fiscalCode}/debtpositions" Creditor => |c| {
        let publish = to_publish(c.query())?;
        positions::create_position(c.on_creditor()?, publish, c.body).await
    };
    GET "/organizations/{fiscalCode}/debtpositions" Creditor => |c| {
        positions::list_positions(c.on_creditor()?, c.query()).await
    };
    POST "/organizations/{fiscalCode}/debtpositions/bulk" Creditor => |c| {
        let publish = to_publish(c.query())?;
        bulk::create_positions(c.on_creditor()?, publish, c.body).await
    };
    PATCH "/organizations/{fiscalCode}/debtpositions/transfers" IBAN_CHANGES => |c| {
        bulk::update_ibans(c.on_creditor()?, c.query(), c.body).await
    };
    GET "/organizations/{fiscalCode}/debtpositions/{iupd}" Creditor => |c| {
        positions::get_position(c.on_creditor()?, c.param("iupd")).await
    };
    PUT "/organizations/{fiscalCode}/debtpositions/{iupd}" Creditor => |c| {
        let publish = to_publish(c.query())?;
        let (iupd, tag) = (c.param("iupd"), if_match(c.parts)?);
        positions::update_position(c.on_creditor()?, iupd, publish, tag, c.body).await
    };
    DELETE "/organizations/{fiscalCode}/debtpositions/{iupd}" Creditor => |c| {
        let (iupd, tag) = (c.param("iupd"), if_match(c.parts)?);
        positions::delete_position(c.on_creditor()?, iupd, tag).await
    };
    POST "/organizations/{fiscalCode}/debtpositions/{iupd}/publish" Creditor => |c| {
        change_state(c, StateAction::Publish).await
    };
    POST "/organizations/{fiscalCode}/debtpositions/{iupd}/invalidate" Creditor => |c| {
        change_state(c, StateAction::Invalidate).await
    };
    POST "/organizations/{fiscalCode}/debtpositions/{iupd}/restore" Creditor => |c| {
        change_state(c, StateAction::Restore).await
    };
    GET "/organizations/{fiscalCode}/debtpositions/{iupd}/notice" Creditor => |c| {
        crate::api::notices::position_notice(c.on_creditor()?, c.param("iupd"), None).await
    };
    GET "/organizations/{fiscalCode}/debtpositions/{iupd}/paymentoptions/{nav}/notice" Creditor => |c| {
        let (iupd, nav) = (c.param("iupd"), c.param("nav"));
        crate::api::notices::position_notice(c.on_creditor()?, iupd, Some(nav)).await
    };
    POST "/organizations/{fiscalCode}/paymentoptions/paids/{nav}" Creditor => |c| {
        payment_options::mark_paid(c.on_creditor()?, c.param("nav"), c.body).await
    };
    PUT "/organizations/{fiscalCode}/paymentoptions/{nav}/notificationfee" Creditor => |c| {
        let (nav, tag) = (c.param("nav"), if_match(c.parts)?);
        payment_options::put_notification_fee(c.on_creditor()?, nav, tag, c.body).await
    };
    GET "/organizations/{fiscalCode}/receipts" Creditor => |c| {
        receipts::list_receipts(c.on_creditor()?, c.query()).await
    };
    POST "/organizations/{fiscalCode}/receipts/recover" Creditor => |c| {
        recovery::recover_receipt(c.on_creditor()?, c.body).await
    };
    GET "/organizations/{fiscalCode}/receipts/{iuv}" Creditor => |c| {
        receipts::get_receipt(c.on_creditor()?, c.param("iuv")).await
    };
    GET "/organizations/{fiscalCode}/reporting-flows" REPORTING => |c| {
        reporting::list_flows(c.on_creditor()?, c.query()).await
    };
    POST "/organizations/{fiscalCode}/reporting-flows/fetch" REPORTING => |c| {
        reporting::fetch(c.on_creditor()?).await
    };
    GET "/organizations/{fiscalCode}/reporting-flows/{fdr}/psps/{pspId}/revisions/{revision}/payments" REPORTING => |c| {
        let (fdr, psp, revision) = (c.param("fdr"), c.param("pspId"), c.param("revision"));
        reporting::flow_payments(c.on_creditor()?, fdr, psp, revision, c.query()).await
    };
    GET "/organizations/{fiscalCode}/reporting-anomalies" REPORTING => |c| {
        reporting::list_anomalies(c.on_creditor()?, c.query()).await
    };
    GET "/organizations/{fiscalCode}/broadcast-stations" STATIONS => |c| {
        broadcast::list_stations(c.on_creditor()?).await
    };
    PUT "/organizations/{fiscalCode}/broadcast-stations/{stationId}" STATIONS => |c| {
        broadcast::put_station(c.on_creditor()?, c.param("stationId"), c.body).await
    };
    DELETE "/organizations/{fiscalCode}/broadcast-stations/{stationId}" STATIONS => |c| {
        broadcast::delete_station(c.on_creditor()?, c.param("stationId")).await
    };
    GET "/organizations/{fiscalCode}/deliveries" DELIVERIES => |c| {
        broadcast::list_deliveries(c.on_creditor()?, c.query()).await
    };
    POST "/organizations/{fiscalCode}/deliveries/{id}/redeliver" DELIVERIES => |c| {
        broadcast::redeliver(c.on_creditor()?, c.param("id")).await
    };
    GET "/organizations/{fiscalCode}/aca/mirrors" ACA_MIRRORS => |c| {
        crate::api::aca::list_mirrors(c.on_creditor()?, c.query()).await
    };
    POST "/organizations/{fiscalCode}/aca/mirrors/{iupd}/retry" ACA_MIRRORS => |c| {
        crate::api::aca::retry_mirror(c.on_creditor()?, c.param("iupd")).await
    };
    POST "/organizations/{fiscalCode}/debtors/export" DEBTORS => |c| {
        debtors::export(c.on_creditor()?, c.key_id(), c.body).await
    };
    POST "/organizations/{fiscalCode}/debtors/erase" DEBTORS => |c| {
        debtors::erase(c.on_creditor()?, c.key_id(), c.body).await
    };
    GET "/organizations/{fiscalCode}/events" JOURNAL => |c| {
        events::list_events(c.on_creditor()?, c.query()).await
    };
    POST "/organizations/{fiscalCode}/notices/jobs" NOTICE_JOBS => |c| {
        let key = c.header("idempotency-key");
        crate::api::notice_jobs::start(c.on_creditor()?, key, c.body).await
    };
    GET "/organizations/{fiscalCode}/notices/jobs/{jobId}" NOTICE_JOBS => |c| {
        crate::api::notice_jobs::status(c.on_creditor()?, c.param("jobId")).await
    };
    GET "/organizations/{fiscalCode}/notices/jobs/{jobId}/zip" NOTICE_JOBS => |c| {
        crate::api::notice_jobs::zip(c.on_creditor()?, c.param("jobId")).await
    };
    GET "/payments/{organizationfiscalcode}/receipts" Creditor => |c| {
        payments::list_receipts(c.on_creditor()?, c.query()).await
    };
    GET "/payments/{organizationfiscalcode}/receipts/{iuv}" Creditor => |c| {
        payments::get_receipt(c.on_creditor()?, c.param("iuv"), c.query()).await
    };
    POST "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file"
        FILES => |c| upload_file(c, UploadOperation::Create).await;
    PUT "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file"
        FILES => |c| upload_file(c, UploadOperation::Update).await;
    DELETE "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file"
        FILES => |c| upload_file(c, UploadOperation::Delete).await;
    GET "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file/{fileId}/status"
        FILES => |c| {
        let (on, broker) = c.on_broker_creditor()?;
        upload::status(on, broker, c.param("fileId")).await
    };
    GET "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/file/{fileId}/report"
        FILES => |c| {
        let (on, broker) = c.on_broker_creditor()?;
        upload::report(on, broker, c.param("fileId")).await
    };
    GET "/brokers/{brokerCode}/organizations/{fiscalCode}/debtpositions/files" FILES => |c| {
        let (on, broker) = c.on_broker_creditor()?;
        upload::list(on, broker, c.query(), c.header("x-continuation-token")).await
    };
    POST "/payment-options/organizations/{organization-fiscal-code}/notices/{notice-number}"
        Creditor => |c| {
        let (org, notice) = (c.param("organization-fiscal-code"), c.param("notice-number"));
        Ok(odp::payment_options(c.ctx, org, notice, c.segregation).await)
    };
    POST "/internal/config/send" Listed => |c| {
        send::configure(c.ctx, c.scope, c.segregation, c.body).await
    };
};

/// `GET /partner?wsdl` is the contract; the Node's endpoint answers SOAP whatever else is
/// asked of it.
fn partner_get(c: Call<'_>) -> Reply {
    if c.query().is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        contract::wsdl(c.ctx)
    } else {
        soap::client_fault(
            404,
            "GET /partner?wsdl returns the WSDL; operations are POSTed",
        )
    }
}

async fn change_state(c: Call<'_>, action: StateAction) -> Result<Reply, Problem> {
    let (iupd, tag) = (c.param("iupd"), if_match(c.parts)?);
    positions::change_state(c.on_creditor()?, iupd, action, tag).await
}

async fn upload_file(c: Call<'_>, operation: UploadOperation) -> Result<Reply, Problem> {
    let document = uploaded_document(c.parts, c.body).map_err(api::bad_request)?;
    let (on, broker) = c.on_broker_creditor()?;
    upload::accept(on, broker, operation, &document).await
}

/// Whether the path is answered without an API key.
pub fn is_public(path: &str) -> bool {
    find(&Method::GET, &segments(path)).is_public()
}

/// The creditor a path acts for: `/organizations/{fc}/…`, gpd-payments' `/payments/{fc}/…`,
/// the upload API's `/brokers/{broker}/organizations/{fc}/…` and the payment-options service's
/// `/payment-options/organizations/{fc}/…`.
fn organization_of<'a>(segments: &[&'a str]) -> Option<&'a str> {
    match segments {
        ["organizations", org, ..] | ["payments", org, ..] => Some(*org),
        ["payment-options", "organizations", org, ..] => Some(*org),
        ["brokers", _, "organizations", org, ..] => Some(*org),
        _ => None,
    }
}

/// Splits `path` into `stack`, returning how many segments it has; None when they do not fit.
fn split_onto<'a>(path: &'a str, stack: &mut [&'a str; STACKED_SEGMENTS]) -> Option<usize> {
    let mut n = 0;
    for segment in path.trim_matches('/').split('/') {
        *stack.get_mut(n)? = segment;
        n += 1;
    }
    Some(n)
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// Whether `pattern` (with `{name}` placeholders) matches these path segments.
pub fn pattern_matches(pattern: &str, segments: &[&str]) -> bool {
    parts_match(&self::segments(pattern), segments)
}

fn parts_match(parts: &[&str], segments: &[&str]) -> bool {
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(p, s)| p.starts_with('{') || p == s)
}

/// The routes of [`ROUTES`] with their patterns split once, grouped by segment count and first
/// segment (in table order within a group): a request compares the segments of a handful of
/// patterns only.
struct Group {
    len: usize,
    first: &'static str,
    routes: Vec<(&'static Route, Vec<&'static str>)>,
}

static GROUPS: LazyLock<Vec<Group>> = LazyLock::new(|| {
    let mut groups: Vec<Group> = Vec::new();
    for route in ROUTES {
        let parts = segments(route.pattern);
        let (len, first) = (parts.len(), parts[0]);
        match groups.iter_mut().find(|g| g.len == len && g.first == first) {
            Some(group) => group.routes.push((route, parts)),
            None => groups.push(Group {
                len,
                first,
                routes: vec![(route, parts)],
            }),
        }
    }
    groups
});

/// A path's segments, on the stack when there are few (every route has fewer).
const STACKED_SEGMENTS: usize = 10;

/// The methods of the table, in the order `Allow` lists them.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

/// What the table says of a path: the route for the method, if any, and every route matching
/// the path.
struct Found {
    route: Option<&'static Route>,
    /// A route matching the path with any method: the first one.
    first: Option<&'static Route>,
    /// The methods of the routes matching the path, as bits in [`METHODS`] order.
    allowed: u8,
    /// Whether every route matching the path concerns the whole creditor.
    all_whole: bool,
}

impl Found {
    /// Whether the path is answered without an API key (whatever the method).
    fn is_public(&self) -> bool {
        self.first.is_some_and(|r| r.scope == Scope::Public)
    }
}

fn find(method: &Method, segments: &[&str]) -> Found {
    let mut found = Found {
        route: None,
        first: None,
        allowed: 0,
        all_whole: true,
    };
    let group = GROUPS
        .iter()
        .find(|g| g.len == segments.len() && Some(&g.first) == segments.first());
    let matching = group.into_iter().flat_map(|g| &g.routes);
    for (route, _) in matching.filter(|(_, parts)| parts_match(&parts[1..], &segments[1..])) {
        found.first.get_or_insert(route);
        if found.route.is_none() && route.method == *method {
            found.route = Some(route);
        }
        let bit = METHODS.iter().position(|m| *m == route.method);
        found.allowed |= 1 << bit.expect("a method of METHODS");
        found.all_whole &= matches!(route.scope, Scope::WholeCreditor(_));
    }
    found
}

fn allow(bits: u8) -> String {
    let listed: Vec<&str> = METHODS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, m)| m.as_str())
        .collect();
    listed.join(", ")
}

/// The API key the request presents: `Ocp-Apim-Subscription-Key` (the header of PagoPA's API
/// gateway, which GPD clients already send) or `Authorization: Bearer`. Two different keys, or
/// a header that cannot carry one, are refused rather than guessed between.
fn presented_key(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut keys = Vec::new();
    for value in headers.get_all("ocp-apim-subscription-key") {
        let value = value
            .to_str()
            .map_err(|_| "Ocp-Apim-Subscription-Key must be plain text")?;
        keys.push(value.trim());
    }
    for value in headers.get_all(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| "Authorization must be plain text")?;
        match value.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                keys.push(token.trim())
            }
            _ => return Err("Authorization must be 'Bearer' followed by the API key"),
        }
    }
    if keys.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err("two different API keys were sent");
    }
    Ok(keys.first().copied())
}

/// The `If-Match` header as text; one that is not visible ASCII is refused.
fn if_match(parts: &Parts) -> Result<Option<&str>, Problem> {
    match parts.headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| api::bad_request("If-Match: must be * or entity tags such as \"3\"")),
    }
}

/// Reads `toPublish` from the query: absent means false; `true` and `false` in any case, as
/// GPD's framework reads booleans.
fn to_publish(query: Option<&str>) -> Result<bool, Problem> {
    let value = query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == "toPublish")
        .map(|(_, v)| v);
    match value {
        None => Ok(false),
        Some(v) => parse_bool(v)
            .ok_or_else(|| api::bad_request(format!("toPublish: '{v}' must be true or false"))),
    }
}

/// The JSON document of an upload: the multipart part named `file`, a zip holding a `.json`
/// file (GPD's form) or the JSON itself.
fn uploaded_document(parts: &Parts, body: &[u8]) -> Result<Vec<u8>, String> {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = multipart::parts(content_type, body)?;
    let file = form
        .iter()
        .find(|p| p.name == "file")
        .ok_or("multipart body: no part named file")?;
    if zip::is_zip(file.body) {
        return zip::first_json(file.body).map(|(_, content)| content);
    }
    if file.body.trim_ascii_start().starts_with(b"{") {
        return Ok(file.body.to_vec());
    }
    Err(format!(
        "file: {} must be a zip holding a .json file, or the JSON itself",
        file.filename.as_deref().unwrap_or("the part")
    ))
}

/// A boolean query parameter: `true` or `false` in any case (Spring's reading, which GPD's
/// clients rely on), nothing else.
fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn method_not_allowed(allow: String) -> Reply {
    Reply::problem(
        405,
        "Method Not Allowed",
        format!("this resource supports {allow}"),
    )
    .with_header("allow", allow)
}

/// The answer to a request through [`ROUTES`], with what answered it and the key it presented
/// observed; a call with a key on a creditor's route goes to the journal.
pub async fn route(ctx: &Context, peer: &Peer, parts: &Parts, body: &[u8]) -> Reply {
    let started = Instant::now();
    let (mut key, mut caller) = (None, None);
    let (route, mut reply) = answer(ctx, peer, parts, body, &mut key, &mut caller).await;
    if let (Some(key), Some((route, segments))) = (&key, caller) {
        let (now, took) = (ctx.clock.now(), started.elapsed());
        let call = RestCall {
            key,
            method: route.method.as_str(),
            pattern: route.pattern,
            segments: &segments,
        };
        ctx.journal.rest(call, reply.status, now, took);
    }
    // A primitive's answer says more than its route.
    if reply.observed.answered == Answered::Unmatched
        && let Some(route) = route
    {
        let index = ROUTES.iter().position(|r| std::ptr::eq(r, route));
        reply.observed.answered = Answered::Route {
            index: index.expect("a route of ROUTES"),
            pattern: route.pattern,
            method: method_label(&route.method),
        };
    }
    reply.observed.key = key;
    reply
}

/// Which route a key's call reached, on which path: what the journal records of it.
type Caller<'a> = Option<(&'static Route, Vec<&'a str>)>;

/// The answer, and the route that gave it (for a 405, the path's first route).
async fn answer<'a>(
    ctx: &Context,
    peer: &Peer,
    parts: &'a Parts,
    body: &[u8],
    checked: &mut Option<KeyId>,
    caller: &mut Caller<'a>,
) -> (Option<&'static Route>, Reply) {
    let path = parts.uri.path();
    let mut stacked = [""; STACKED_SEGMENTS];
    let spilled: Vec<&str>;
    let segments: &[&str] = match split_onto(path, &mut stacked) {
        Some(n) => &stacked[..n],
        None => {
            spilled = segments(path);
            &spilled
        }
    };
    let found = find(&parts.method, segments);
    if path == SOAP_PATH
        && let Some(reason) = peer.partner_refusal(&ctx.config)
    {
        let subject = peer.subject.as_ref().map(ToString::to_string);
        tracing::warn!(peer = %peer.address, subject, reason, "/partner refused");
        return (found.route.or(found.first), soap::client_fault(403, reason));
    }
    let public = found.is_public();
    let mut segregation = SegregationScope::All;
    let mut scope = KeyScope::All;
    if !public {
        let organization = organization_of(segments);
        let presented = presented_key(&parts.headers);
        let key = match api::auth::check(ctx, presented, organization).await {
            Ok(key) => key,
            Err(refused) => return (found.route.or(found.first), refused.into()),
        };
        *checked = Some(key.id.clone());
        // What concerns the whole creditor: the route's, or, for a method no route of the
        // path takes, every route's of the path.
        let whole = match (found.route, found.first) {
            (Some(route), _) => route.scope,
            (None, Some(first)) if found.all_whole => first.scope,
            _ => Scope::Creditor,
        };
        if let Scope::WholeCreditor(what) = whole
            && let Err(refused) = api::auth::whole_creditor(&key, what)
        {
            return (found.route, refused.into());
        }
        segregation = key.segregation;
        scope = key.scope;
    }
    let Some(route) = found.route else {
        let reply = match found.first {
            None => Reply::problem(404, "Not Found", format!("no resource at {path}")),
            Some(first) if first.pattern == SOAP_PATH => {
                soap::client_fault(405, "/partner supports GET (?wsdl) and POST")
                    .with_header("allow", allow(found.allowed))
            }
            Some(_) => method_not_allowed(allow(found.allowed)),
        };
        return (found.first, reply);
    };
    if checked.is_some() && ctx.journal.enabled() {
        *caller = Some((route, segments.to_vec()));
    }
    let call = Call {
        ctx,
        peer,
        parts,
        body,
        pattern: route.pattern,
        segments,
        segregation: &segregation,
        scope: &scope,
    };
    let reply = (route.handler)(call).await.unwrap_or_else(Reply::from);
    (Some(route), reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_latency_resolved_once() {
        assert!(ROUTES.len() <= crate::observe::metrics::ROUTE_SLOTS);
    }

    #[test]
    fn to_publish_values() {
        assert_eq!(to_publish(None).ok(), Some(false));
        assert_eq!(to_publish(Some("toPublish=true")).ok(), Some(true));
        assert_eq!(to_publish(Some("a=1&toPublish=false")).ok(), Some(false));
        assert_eq!(to_publish(Some("toPublish=TRUE")).ok(), Some(true));
        assert_eq!(to_publish(Some("toPublish=True")).ok(), Some(true));
        assert_eq!(to_publish(Some("toPublish=fAlSe")).ok(), Some(false));
        assert!(to_publish(Some("toPublish=1")).is_err());
        assert!(to_publish(Some("toPublish=truee")).is_err());
        assert!(to_publish(Some("toPublish=yes")).is_err());
        assert!(to_publish(Some("toPublish")).is_err());
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_key_comes_from_either_header() {
        let key =
            |pairs: &[(&str, &str)]| presented_key(&headers(pairs)).map(|k| k.map(str::to_owned));
        assert_eq!(key(&[]), Ok(None));
        for accepted in [
            &[("Ocp-Apim-Subscription-Key", "K1")][..],
            &[("ocp-apim-subscription-key", " K1 ")],
            &[("Authorization", "Bearer K1")],
            &[("Authorization", "bearer  K1")],
            &[
                ("Authorization", "Bearer K1"),
                ("Ocp-Apim-Subscription-Key", "K1"),
            ],
        ] {
            assert_eq!(key(accepted), Ok(Some("K1".into())), "{accepted:?}");
        }
        for refused in [
            &[
                ("Authorization", "Bearer K1"),
                ("Ocp-Apim-Subscription-Key", "K2"),
            ][..],
            &[
                ("Ocp-Apim-Subscription-Key", "K1"),
                ("Ocp-Apim-Subscription-Key", "K2"),
            ],
            &[("Authorization", "Basic dXNlcjpwdw==")],
            &[("Authorization", "K1")],
        ] {
            assert!(key(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn public_paths() {
        for public in [
            "/partner",
            "/health",
            "/ready",
            "/info",
            "/xsd/paForNode.xsd",
            "/openapi.json",
            "/partner/",
            "/metrics",
        ] {
            assert!(is_public(public), "{public}");
        }
        for private in [
            "/",
            "/organizations/77777777777/receipts",
            "/organizations",
            "/partner/x",
            "/xsd",
            "/healthz",
            "/info/x",
        ] {
            assert!(!is_public(private), "{private}");
        }
    }

    #[test]
    fn paths_split_on_the_stack_unless_long() {
        let mut stack = [""; STACKED_SEGMENTS];
        assert_eq!(split_onto("/organizations/7/receipts", &mut stack), Some(3));
        assert_eq!(&stack[..3], ["organizations", "7", "receipts"]);
        assert_eq!(split_onto("/1/2/3/4/5/6/7/8/9/10/11", &mut stack), None);
        let long = segments("/organizations/7/debtpositions/a/b/c/d/e/f/g/h");
        assert!(find(&Method::GET, &long).first.is_none());
    }

    #[test]
    fn route_patterns() {
        let p = "/organizations/{fiscalCode}/debtpositions/{iupd}";
        assert!(pattern_matches(
            p,
            &["organizations", "7", "debtpositions", "X"]
        ));
        assert!(!pattern_matches(
            p,
            &["organizations", "7", "debtpositions"]
        ));
        assert!(!pattern_matches(
            p,
            &["organizations", "7", "receipts", "X"]
        ));
        for route in ROUTES {
            let parts = segments(route.pattern);
            let creditor = organization_of(&parts);
            if matches!(route.scope, Scope::Public | Scope::Listed) {
                assert_eq!(creditor, None, "{}", route.pattern);
            } else {
                assert!(
                    creditor.is_some_and(|c| c.starts_with('{')),
                    "{}",
                    route.pattern
                );
            }
            assert!(METHODS.contains(&route.method), "{}", route.pattern);
            assert!(parts.len() <= STACKED_SEGMENTS, "{}", route.pattern);
            let twice = ROUTES
                .iter()
                .filter(|r| r.method == route.method && r.pattern == route.pattern);
            assert_eq!(twice.count(), 1, "{} {}", route.method, route.pattern);
        }
    }

    #[test]
    fn a_path_finds_its_route_or_its_methods() {
        let org = |rest: &[&'static str]| [&["organizations", "7"][..], rest].concat();
        let found = find(&Method::GET, &org(&["debtpositions", "bulk"]));
        assert_eq!(
            found.route.unwrap().pattern,
            "/organizations/{fiscalCode}/debtpositions/{iupd}"
        );
        let found = find(&Method::POST, &org(&["debtpositions", "bulk"]));
        assert_eq!(
            found.route.unwrap().pattern,
            "/organizations/{fiscalCode}/debtpositions/bulk"
        );
        let found = find(&Method::PATCH, &org(&["debtpositions", "bulk"]));
        assert!(found.route.is_none());
        assert_eq!(allow(found.allowed), "GET, POST, PUT, DELETE");
        assert!(!found.all_whole);
        let found = find(&Method::POST, &org(&["debtpositions", "transfers"]));
        assert_eq!(allow(found.allowed), "GET, PUT, DELETE, PATCH");
        let found = find(&Method::GET, &org(&["broadcast-stations", "S"]));
        assert_eq!(allow(found.allowed), "PUT, DELETE");
        assert!(found.all_whole && found.route.is_none());
        let found = find(&Method::GET, &org(&["unlisted"]));
        assert!(found.first.is_none() && found.allowed == 0);
        assert_eq!(allow(find(&Method::PUT, &["partner"]).allowed), "GET, POST");
    }
}
