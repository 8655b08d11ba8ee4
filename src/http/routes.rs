//! From method and path to the handler. Paths are matched segment by segment; a known path with
//! the wrong method gets 405 with `Allow`, anything else 404, both with a problem body.

use hyper::http::request::Parts;
use hyper::{Method, header};

use super::server::Answer;
use super::{contract, soap};
use crate::api::{self, Reply, StateAction};
use crate::context::Context;

pub const SOAP_PATH: &str = "/partner";

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
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["partner"] => match *method {
            Method::POST => {
                let action = parts
                    .headers
                    .get("soapaction")
                    .and_then(|v| v.to_str().ok());
                soap::partner(ctx, action, body).await
            }
            Method::GET if query.is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) => {
                contract::wsdl(parts.headers.get(header::HOST))
            }
            Method::GET => Answer::problem(
                404,
                "Not Found",
                "GET /partner?wsdl returns the WSDL; operations are POSTed",
            ),
            _ => method_not_allowed("GET, POST"),
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
            Method::PUT => {
                json(api::notification_fee::put_notification_fee(ctx, org, nav, body).await)
            }
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
        _ => Answer::problem(404, "Not Found", &format!("no resource at {path}")),
    }
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
}
