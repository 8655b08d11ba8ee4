//! The service contract, compiled in: `GET /partner?wsdl` serves the WSDL with its address set
//! to the host that was asked, and `GET /xsd/{name}` the schemas it imports (relative imports
//! resolve against those URLs). `GET /openapi.json` serves the OpenAPI 3 description of the
//! creditor REST API, and `GET /info` what this gateway is, in GPD's `AppInfo` shape.

use hyper::header::HeaderValue;

use super::server::Answer;

const WSDL: &str = include_str!("../../wsdl/paForNode.wsdl");
/// The address written in the WSDL file, replaced by the requested host when served.
const WSDL_ADDRESS: &str = "http://localhost:8080/partner";

/// The schema files, by the name they are served under.
pub const SCHEMAS: &[(&str, &str)] = &[
    ("paForNode.xsd", include_str!("../../xsd/paForNode.xsd")),
    (
        "pagopa-common-types.xsd",
        include_str!("../../xsd/pagopa-common-types.xsd"),
    ),
];

const XML: &str = "text/xml; charset=utf-8";

/// The REST API's description, kept next to the handlers it describes.
const OPENAPI: &str = include_str!("../api/openapi.json");

pub fn openapi() -> Answer {
    Answer::new(200, "application/json", OPENAPI.as_bytes())
}

/// GPD's `AppInfo`: the application's name and version, and the configured environment.
pub fn info(environment: &str) -> Answer {
    let body = serde_json::json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "environment": environment,
    });
    Answer::new(200, "application/json", body.to_string())
}

pub fn wsdl(host: Option<&HeaderValue>) -> Answer {
    let host = host
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()));
    let body = match host {
        Some(h) => WSDL.replace(WSDL_ADDRESS, &format!("http://{h}/partner")),
        None => WSDL.to_owned(),
    };
    Answer::new(200, XML, body)
}

pub fn xsd(name: &str) -> Answer {
    match SCHEMAS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Answer::new(200, XML, *text),
        None => Answer::problem(404, "Not Found", &format!("no schema named {name}")),
    }
}
