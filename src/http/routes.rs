//! From method and path to the handler. Paths are matched segment by segment; a known path with
//! the wrong method gets 405 with `Allow`, anything else 404, both with a problem body.
//!
//! Every path but the [public](is_public) ones needs an API key, checked before routing: no
//! valid key is 401 and a key bound to other creditors is 403, whatever the path or method, so
//! neither 404 nor 405 tells a caller without the right key what exists.

use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, header};

use super::server::Answer;
use super::{contract, soap};
use crate::api::{self, Reply, StateAction};
use crate::context::Context;

pub const SOAP_PATH: &str = "/partner";

/// The paths answered without an API key: the Node's SOAP endpoint and its contract (the Node
/// is authenticated by the connection, not by our keys), liveness, and published documents.
pub fn is_public(path: &str) -> bool {
    matches!(
        segments(path).as_slice(),
        ["partner"] | ["health"] | ["xsd", _] | ["openapi.json"]
    )
}

/// Every creditor route the router answers, as (method, path pattern): for documentation and
/// for the test that walks them all with every kind of key. A debug build panics on a request
/// answered by a route missing here.
#[rustfmt::skip]
pub const ORGANIZATION_ROUTES: &[(&str, &str)] = &[
    ("POST", "/organizations/{organizationFiscalCode}/debtpositions"),
    ("GET", "/organizations/{organizationFiscalCode}/debtpositions"),
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
];

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
    segments.first() != Some(&"organizations")
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

fn json(reply: Reply) -> Answer {
    let mut answer = Answer::new(reply.status, reply.content_type, reply.body);
    answer.headers = reply.headers;
    answer
}

/// The `If-Match` header as text; one that is not visible ASCII is refused.
fn if_match(parts: &Parts) -> Result<Option<&str>, Answer> {
    match parts.headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            Answer::problem(
                400,
                "Bad Request",
                "If-Match: must be * or entity tags such as \"3\"",
            )
        }),
    }
}

fn method_not_allowed(allow: &'static str) -> Answer {
    let mut a = Answer::problem(
        405,
        "Method Not Allowed",
        &format!("this resource supports {allow}"),
    );
    a.allow = Some(allow);
    a
}

/// Reads `toPublish` from the query: absent means false.
fn to_publish(query: Option<&str>) -> Result<bool, Answer> {
    let value = query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == "toPublish")
        .map(|(_, v)| v);
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Answer::problem(
            400,
            "Bad Request",
            &format!("toPublish: '{other}' must be true or false"),
        )),
    }
}

pub async fn route(ctx: &Context, parts: &Parts, body: &[u8]) -> Answer {
    let path = parts.uri.path();
    let query = parts.uri.query();
    let method = &parts.method;
    let segments = segments(path);
    if !is_public(path) {
        let organization = match segments.as_slice() {
            ["organizations", org, ..] => Some(*org),
            _ => None,
        };
        let presented = presented_key(&parts.headers);
        if let Err(refused) = api::auth::check(ctx, presented, organization).await {
            return json(refused);
        }
    }
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
            Method::GET => Answer::problem(
                404,
                "Not Found",
                "GET /partner?wsdl returns the WSDL; operations are POSTed",
            ),
            _ => method_not_allowed("GET, POST"),
        },
        ["openapi.json"] => match *method {
            Method::GET => contract::openapi(),
            _ => method_not_allowed("GET"),
        },
        ["xsd", name] => match *method {
            Method::GET => contract::xsd(name),
            _ => method_not_allowed("GET"),
        },
        ["health"] => match *method {
            Method::GET => match ctx.store.ping().await {
                Ok(()) => Answer::new(200, "application/json", &br#"{"status":"UP"}"#[..]),
                Err(_) => Answer::new(503, "application/json", &br#"{"status":"DOWN"}"#[..]),
            },
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "debtpositions"] => match *method {
            Method::POST => match to_publish(query) {
                Ok(publish) => json(api::create_position(ctx, org, publish, body).await),
                Err(a) => a,
            },
            Method::GET => json(api::lifecycle::list_positions(ctx, org, query).await),
            _ => method_not_allowed("GET, POST"),
        },
        ["organizations", org, "debtpositions", iupd] => match *method {
            Method::GET => json(api::get_position(ctx, org, iupd).await),
            Method::PUT => match to_publish(query).and_then(|p| Ok((p, if_match(parts)?))) {
                Ok((publish, tag)) => {
                    json(api::lifecycle::update_position(ctx, org, iupd, publish, tag, body).await)
                }
                Err(a) => a,
            },
            Method::DELETE => match if_match(parts) {
                Ok(tag) => json(api::lifecycle::delete_position(ctx, org, iupd, tag).await),
                Err(a) => a,
            },
            _ => method_not_allowed("GET, PUT, DELETE"),
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
                    Ok(tag) => json(api::change_state(ctx, org, iupd, action, tag).await),
                    Err(a) => a,
                }
            }
            _ => method_not_allowed("POST"),
        },
        ["organizations", org, "paymentoptions", "paids", nav] => match *method {
            Method::POST => json(api::mark_paid(ctx, org, nav, body).await),
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
                Ok(tag) => json(
                    api::notification_fee::put_notification_fee(ctx, org, nav, tag, body).await,
                ),
                Err(a) => a,
            },
            _ => method_not_allowed("PUT"),
        },
        ["organizations", org, "receipts"] => match *method {
            Method::GET => json(api::receipts::list_receipts(ctx, org, query).await),
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "receipts", iuv] => match *method {
            Method::GET => json(api::receipts::get_receipt(ctx, org, iuv).await),
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "broadcast-stations"] => match *method {
            Method::GET => json(api::broadcast::list_stations(ctx, org).await),
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "broadcast-stations", station] => match *method {
            Method::PUT => json(api::broadcast::put_station(ctx, org, station, body).await),
            Method::DELETE => json(api::broadcast::delete_station(ctx, org, station).await),
            _ => method_not_allowed("PUT, DELETE"),
        },
        ["organizations", org, "deliveries"] => match *method {
            Method::GET => json(api::broadcast::list_deliveries(ctx, org, query).await),
            _ => method_not_allowed("GET"),
        },
        ["organizations", org, "deliveries", id, "redeliver"] => match *method {
            Method::POST => json(api::broadcast::redeliver(ctx, org, id).await),
            _ => method_not_allowed("POST"),
        },
        _ => return Answer::problem(404, "Not Found", &format!("no resource at {path}")),
    };
    debug_assert!(
        listed(method, &segments, answer.status.as_u16()),
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
            assert!(pattern.starts_with("/organizations/{organizationFiscalCode}/"));
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
