//! The service contract, compiled in: `GET /partner?wsdl` serves the WSDL with its address set
//! from the configuration (`server.public_url`, else the address listened on), never from the
//! request's Host header, which a client chooses; and `GET /xsd/{name}` the schemas it imports (relative imports
//! resolve against those URLs). `GET /openapi.json` serves the OpenAPI 3 description of the
//! creditor REST API, and `GET /info` what this gateway is, in GPD's `AppInfo` shape.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::api::Reply;
use crate::context::Context;

const WSDL: &str = include_str!("../../wsdl/paForNode.wsdl");
/// The address written in the WSDL file, replaced when served.
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

pub fn openapi() -> Reply {
    Reply::new(200, "application/json", OPENAPI.as_bytes())
}

/// GPD's `AppInfo`: the application's name and version, and the configured environment.
pub fn info(environment: &str) -> Reply {
    let body = serde_json::json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "environment": environment,
    });
    Reply::new(200, "application/json", body.to_string())
}

/// The WSDL with its SOAP address: `{public_url}/partner`, or `http(s)://{listening}/partner`,
/// https when the listener has TLS.
pub fn wsdl_document(ctx: &Context, listening: SocketAddr) -> Bytes {
    let scheme = if ctx.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let address = match &ctx.config.server.public_url {
        Some(url) => format!("{}/partner", url.as_str()),
        None => format!("{scheme}://{listening}/partner"),
    };
    // Checked at load already; escaped all the same, as everything written into markup.
    let escaped = quick_xml::escape::escape(address.as_str());
    Bytes::from(WSDL.replace(WSDL_ADDRESS, &escaped))
}

pub fn wsdl(ctx: &Context) -> Reply {
    let body = match ctx.wsdl.get() {
        Some(doc) => doc.clone(),
        None => Bytes::from_static(WSDL.as_bytes()),
    };
    Reply::new(200, XML, body)
}

pub fn xsd(name: &str) -> Reply {
    match SCHEMAS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Reply::new(200, XML, *text),
        None => Reply::problem(404, "Not Found", format!("no schema named {name}")),
    }
}
