//! From method and path to the handler. Paths are matched segment by segment; a known path with
//! the wrong method gets 405 with `Allow`, anything else 404, both with a problem body.
//!
//! Every path but the [public](is_public) ones needs an API key, checked before routing: no
//! valid key is 401 and a key bound to other creditors is 403, whatever the path or method, so
//! neither 404 nor 405 tells a caller without the right key what exists. A key limited to some
//! segregation codes is 403 on what concerns all the creditor's notices (broadcast stations,
//! deliveries, the IBAN change across positions, files of positions); elsewhere the handlers
//! refuse what is of other codes.

use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, header};

use super::{contract, health, multipart, soap, zip};
use crate::api::{self, Reply, StateAction};
use crate::context::Context;
use crate::domain::api_key::SegregationScope;
use crate::domain::upload::UploadOperation;

pub const SOAP_PATH: &str = "/partner";

/// The paths answered without an API key: the Node's SOAP endpoint and its contract (the Node
/// is authenticated by the connection, not by our keys), liveness and readiness, what the
/// gateway is (GPD's `/info`), and published documents.
pub fn is_public(path: &str) -> bool {
    matches!(
        segments(path).as_slice(),
        ["partner"] | ["health"] | ["ready"] | ["info"] | ["xsd", _] | ["openapi.json"]
    )
}

/// Every creditor route the router answers, as (method, path pattern): for documentation and
/// for the test that walks them all with every kind of key. A debug build panics on a request
/// answered by a route missing here.
#[rustfmt::skip]
pub const ORGANIZATION_ROUTES: &[(&str, &str)] = &[
    ("POST", "/organizations/{organizationFiscalCode}/debtpositions"),
    ("GET", "/organizations/{organizationFiscalCode}/debtpositions"),
    ("POST", "/organizations/{organizationFiscalCode}/debtpositions/bulk"),
    ("PATCH", "/organizations/{organizationFiscalCode}/debtpositions/transfers"),
    ("GET", "/organizations/{organizationFiscalCode}/debtpositions/{iupd}"),
    ("PUT", "/organizations/{organizationFiscalCode}/debtpositions/{iupd}"),
    ("DELETE", "/organizations/{organizationFiscalCode}/debtpositions/{iupd}"),
    ("POST", "/organizations/{organizationFiscalCode}/debtpositions/{iupd}/publish"),
    ("POST", "/organizations/{organizationFiscalCode}/debtpositions/{iupd}/invalidate"),
    ("POST", "/organizations/{organizationFiscalCode}/paymentoptions/paids/{nav}"),
    ("PUT", "/organizations/{organizationFiscalCode}/paymentoptions/{nav}/notificationfee"),
    ("GET", "/organizations/{organizationFiscalCode}/receipts"),
    ("GET", "/organizations/{organizationFiscalCode}/receipts/{iuv}"),
    ("GET", "/organizations/{organizationFiscalCode}/broadcast-stations"),
    ("PUT", "/organizations/{organizationFiscalCode}/broadcast-stations/{stationId}"),
    ("DELETE", "/organizations/{organizationFiscalCode}/broadcast-stations/{stationId}"),
    ("GET", "/organizations/{organizationFiscalCode}/deliveries"),
    ("POST", "/organizations/{organizationFiscalCode}/deliveries/{id}/redeliver"),
    ("POST", "/brokers/{brokerCode}/organizations/{organizationFiscalCode}/debtpositions/file"),
    ("PUT", "/brokers/{brokerCode}/organizations/{organizationFiscalCode}/debtpositions/file"),
    ("DELETE", "/brokers/{brokerCode}/organizations/{organizationFiscalCode}/debtpositions/file"),
    ("GET", "/brokers/{brokerCode}/organizations/{organizationFiscalCode}/debtpositions/file/{fileId}/status"),
    ("GET", "/brokers/{brokerCode}/organizations/{organizationFiscalCode}/debtpositions/file/{fileId}/report"),
    ("GET", "/brokers/{brokerCode}/organizations/{organizationFiscalCode}/debtpositions/files"),
    ("GET", "/payments/{organizationFiscalCode}/receipts"),
    ("GET", "/payments/{organizationFiscalCode}/receipts/{iuv}"),
];

/// The creditor a path acts for: `/organizations/{fc}/…`, gpd-payments' `/payments/{fc}/…`
/// and the upload API's `/brokers/{broker}/organizations/{fc}/…`.
fn organization_of<'a>(segments: &[&'a str]) -> Option<&'a str> {
    match segments {
        ["organizations", org, ..] | ["payments", org, ..] => Some(*org),
        ["brokers", _, "organizations", org, ..] => Some(*org),
        _ => None,
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// Whether `pattern` (with `{name}` placeholders) matches these path segments.
pub fn pattern_matches(pattern: &str, segments: &[&str]) -> bool {
    let parts = self::segments(pattern);
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(p, s)| p.starts_with('{') || p == s)
}

/// Whether a request to an organization path was answered by a route in
/// [`ORGANIZATION_ROUTES`] (a 405 needs only its path there).
fn listed(method: &Method, segments: &[&str], status: u16) -> bool {
    organization_of(segments).is_none()
        || ORGANIZATION_ROUTES
            .iter()
            .any(|(m, p)| pattern_matches(p, segments) && (status == 405 || *m == method.as_str()))
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
fn if_match(parts: &Parts) -> Result<Option<&str>, Reply> {
    match parts.headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            Reply::problem(
                400,
                "Bad Request",
                "If-Match: must be * or entity tags such as \"3\"",
            )
        }),
    }
}

fn method_not_allowed(allow: &'static str) -> Reply {
    Reply::problem(
        405,
        "Method Not Allowed",
        format!("this resource supports {allow}"),
    )
    .with_header("allow", allow)
}

/// Reads `toPublish` from the query: absent means false; `true` and `false` in any case, as
/// GPD's framework reads booleans.
fn to_publish(query: Option<&str>) -> Result<bool, Reply> {
    let value = query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == "toPublish")
        .map(|(_, v)| v);
    match value {
        None => Ok(false),
        Some(v) => api::parse_bool(v).ok_or_else(|| {
            Reply::problem(
                400,
                "Bad Request",
                format!("toPublish: '{v}' must be true or false"),
            )
        }),
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

pub async fn route(ctx: &Context, parts: &Parts, body: &[u8]) -> Reply {
    let path = parts.uri.path();
    let query = parts.uri.query();
    let method = &parts.method;
    let segments = segments(path);
    // What the key may touch of its creditors; public paths touch none of it.
    let mut seg = SegregationScope::All;
    if !is_public(path) {
        let organization = organization_of(&segments);
        let presented = presented_key(&parts.headers);
        let key = match api::auth::check(ctx, presented, organization).await {
            Ok(key) => key,
            Err(refused) => return refused,
        };
        let whole = match segments.as_slice() {
            ["organizations", _, "broadcast-stations", ..] => Some("broadcast stations"),
            ["organizations", _, "deliveries", ..] => Some("deliveries"),
            ["organizations", _, "debtpositions", "transfers"] if *method == Method::PATCH => {
                Some("IBAN changes across positions")
            }
            ["brokers", ..] => Some("files of positions"),
            _ => None,
        };
        if let Some(what) = whole
            && let Err(refused) = api::auth::whole_creditor(&key, what)
        {
            return refused;
        }
        seg = key.segregation;
    }
    let seg = &seg;
    let answer = match segments.as_slice() {
        ["partner"] => match *method {
            Method::POST => {
                let action = parts
                    .headers
                    .get("soapaction")
                    .and_then(|v| v.to_str().ok());
                soap::partner(ctx, action, body).await
            }
            Method::GET if query.is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) => {
                contract::wsdl(ctx)
            }
            // The Node's endpoint answers SOAP, whatever is asked of it.
            Method::GET => soap::client_fault(
                404,
                "GET /partner?wsdl returns the WSDL; operations are POSTed",
            ),
            _ => soap::client_fault(405, "/partner supports GET (?wsdl) and POST")
                .with_header("allow", "GET, POST"),
        },
        ["openapi.json"] => match *method {
            Method::GET => contract::openapi(),
            _ => method_not_allowed("GET"),
        },
        ["xsd", name] => match *method {
            Method::GET => contract::xsd(name),
            _ => method_not_allowed("GET"),
        },
        ["info"] => match *method {
            Method::GET => contract::info(&ctx.config.instance.environment),
            _ => method_not_allowed("GET"),
        },
        ["health"] => match *method {
            Method::GET => health::health(ctx).await,
            _ => method_not_allowed("GET"),
        },
        ["ready"] => match *method {
            Method::GET => health::ready(ctx).await,
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "debtpositions"] => match *method {
            Method::POST => match to_publish(query) {
                Ok(publish) => api::create_position(ctx, org, seg, publish, body).await,
                Err(a) => a,
            },
            Method::GET => api::lifecycle::list_positions(ctx, org, seg, query).await,
            _ => method_not_allowed("GET, POST"),
        },
        // GPD's fixed names under debtpositions: other methods fall through to the IUPD routes.
        ["organizations", org, "debtpositions", "bulk"] if *method == Method::POST => {
            match to_publish(query) {
                Ok(publish) => api::bulk::create_positions(ctx, org, seg, publish, body).await,
                Err(a) => a,
            }
        }
        ["organizations", org, "debtpositions", "transfers"] if *method == Method::PATCH => {
            api::bulk::update_ibans(ctx, org, query, body).await
        }
        ["organizations", org, "debtpositions", iupd] => match *method {
            Method::GET => api::get_position(ctx, org, seg, iupd).await,
            Method::PUT => match to_publish(query).and_then(|p| Ok((p, if_match(parts)?))) {
                Ok((publish, tag)) => {
                    api::lifecycle::update_position(ctx, org, seg, iupd, publish, tag, body).await
                }
                Err(a) => a,
            },
            Method::DELETE => match if_match(parts) {
                Ok(tag) => api::lifecycle::delete_position(ctx, org, seg, iupd, tag).await,
                Err(a) => a,
            },
            _ => method_not_allowed(match *iupd {
                "bulk" => "GET, POST, PUT, DELETE",
                "transfers" => "GET, PUT, DELETE, PATCH",
                _ => "GET, PUT, DELETE",
            }),
        },
        [
            "organizations",
            org,
            "debtpositions",
            iupd,
            action @ ("publish" | "invalidate"),
        ] => match *method {
            Method::POST => {
                let action = if *action == "publish" {
                    StateAction::Publish
                } else {
                    StateAction::Invalidate
                };
                match if_match(parts) {
                    Ok(tag) => api::change_state(ctx, org, seg, iupd, action, tag).await,
                    Err(a) => a,
                }
            }
            _ => method_not_allowed("POST"),
        },
        ["organizations", org, "paymentoptions", "paids", nav] => match *method {
            Method::POST => api::mark_paid(ctx, org, seg, nav, body).await,
            _ => method_not_allowed("POST"),
        },
        [
            "organizations",
            org,
            "paymentoptions",
            nav,
            "notificationfee",
        ] => match *method {
            Method::PUT => match if_match(parts) {
                Ok(tag) => {
                    api::notification_fee::put_notification_fee(ctx, org, seg, nav, tag, body).await
                }
                Err(a) => a,
            },
            _ => method_not_allowed("PUT"),
        },
        ["organizations", org, "receipts"] => match *method {
            Method::GET => api::receipts::list_receipts(ctx, org, seg, query).await,
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "receipts", iuv] => match *method {
            Method::GET => api::receipts::get_receipt(ctx, org, seg, iuv).await,
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "broadcast-stations"] => match *method {
            Method::GET => api::broadcast::list_stations(ctx, org).await,
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "broadcast-stations", station] => match *method {
            Method::PUT => api::broadcast::put_station(ctx, org, station, body).await,
            Method::DELETE => api::broadcast::delete_station(ctx, org, station).await,
            _ => method_not_allowed("PUT, DELETE"),
        },
        ["organizations", org, "deliveries"] => match *method {
            Method::GET => api::broadcast::list_deliveries(ctx, org, query).await,
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "deliveries", id, "redeliver"] => match *method {
            Method::POST => api::broadcast::redeliver(ctx, org, id).await,
            _ => method_not_allowed("POST"),
        },
        ["payments", org, "receipts"] => match *method {
            Method::GET => api::payments::list_receipts(ctx, org, seg, query).await,
            _ => method_not_allowed("GET"),
        },
        ["payments", org, "receipts", iuv] => match *method {
            Method::GET => api::payments::get_receipt(ctx, org, seg, iuv, query).await,
            _ => method_not_allowed("GET"),
        },
        [
            "brokers",
            broker,
            "organizations",
            org,
            "debtpositions",
            "file",
        ] => {
            let operation = match *method {
                Method::POST => UploadOperation::Create,
                Method::PUT => UploadOperation::Update,
                Method::DELETE => UploadOperation::Delete,
                _ => return method_not_allowed("POST, PUT, DELETE"),
            };
            match uploaded_document(parts, body) {
                Ok(document) => api::upload::accept(ctx, broker, org, operation, &document).await,
                Err(why) => Reply::problem(400, "Bad Request", &why),
            }
        }
        [
            "brokers",
            broker,
            "organizations",
            org,
            "debtpositions",
            "file",
            id,
            what @ ("status" | "report"),
        ] => match *method {
            Method::GET if *what == "status" => api::upload::status(ctx, broker, org, id).await,
            Method::GET => api::upload::report(ctx, broker, org, id).await,
            _ => method_not_allowed("GET"),
        },
        [
            "brokers",
            broker,
            "organizations",
            org,
            "debtpositions",
            "files",
        ] => match *method {
            Method::GET => {
                let token = parts
                    .headers
                    .get("x-continuation-token")
                    .and_then(|v| v.to_str().ok());
                api::upload::list(ctx, broker, org, query, token).await
            }
            _ => method_not_allowed("GET"),
        },
        _ => return Reply::problem(404, "Not Found", format!("no resource at {path}")),
    };
    debug_assert!(
        listed(method, &segments, answer.status),
        "{method} {path} is answered by a route missing from ORGANIZATION_ROUTES"
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            key(&[("Ocp-Apim-Subscription-Key", "K1")]),
            Ok(Some("K1".into()))
        );
        assert_eq!(
            key(&[("ocp-apim-subscription-key", " K1 ")]),
            Ok(Some("K1".into()))
        );
        assert_eq!(
            key(&[("Authorization", "Bearer K1")]),
            Ok(Some("K1".into()))
        );
        assert_eq!(
            key(&[("Authorization", "bearer  K1")]),
            Ok(Some("K1".into()))
        );
        assert_eq!(
            key(&[
                ("Authorization", "Bearer K1"),
                ("Ocp-Apim-Subscription-Key", "K1")
            ]),
            Ok(Some("K1".into()))
        );
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
            "/metrics",
        ] {
            assert!(!is_public(private), "{private}");
        }
    }

    #[test]
    fn route_patterns() {
        let p = "/organizations/{organizationFiscalCode}/debtpositions/{iupd}";
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
        for (method, pattern) in ORGANIZATION_ROUTES {
            assert!(pattern.contains("/{organizationFiscalCode}/"));
            let parts = segments(pattern);
            assert!(organization_of(&parts) == Some("{organizationFiscalCode}"));
            assert!(method.parse::<Method>().is_ok(), "{method}");
        }
        let get = Method::GET;
        assert!(listed(&get, &["organizations", "7", "receipts"], 200));
        assert!(listed(
            &Method::PATCH,
            &["organizations", "7", "receipts"],
            405
        ));
        assert!(!listed(
            &Method::PATCH,
            &["organizations", "7", "receipts"],
            200
        ));
        assert!(!listed(&get, &["organizations", "7", "unlisted"], 200));
        assert!(listed(&get, &["health"], 200));
    }
}
