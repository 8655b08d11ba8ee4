//! The published contract: `GET /partner?wsdl` and the schemas it imports, resolvable over HTTP.

mod harness;

use harness::{TestServer, text};

/// The values of every `schemaLocation="…"` in a document.
fn schema_locations(doc: &str) -> Vec<String> {
    doc.split("schemaLocation=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// Resolves a relative reference against a base path the way a URL resolver does.
fn resolve(base: &str, reference: &str) -> String {
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for segment in reference.split('/') {
        match segment {
            ".." => {
                if parts.len() > 1 {
                    parts.pop();
                }
            }
            "." => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[tokio::test(flavor = "multi_thread")]
async fn wsdl_and_its_imports_resolve() {
    let server = TestServer::start().await;
    let wsdl = server.get("/partner?wsdl").await;
    assert_eq!(wsdl.status, 200);
    let wsdl = text(&wsdl);
    for op in [
        "paVerifyPaymentNotice",
        "paGetPayment",
        "paGetPaymentV2",
        "paSendRT",
        "paSendRTV2",
        "paDemandPaymentNotice",
    ] {
        assert!(wsdl.contains(&format!("soapAction=\"{op}\"")), "{op}");
    }
    let host = server.base.trim_start_matches("http://");
    assert!(
        wsdl.contains(&format!("http://{host}/partner")),
        "the address names the host asked"
    );

    // Follow every import, transitively, as a WSDL client would.
    let mut pending: Vec<String> = schema_locations(&wsdl)
        .into_iter()
        .map(|l| resolve("/partner", &l))
        .collect();
    let mut fetched = Vec::new();
    while let Some(path) = pending.pop() {
        if fetched.contains(&path) {
            continue;
        }
        let r = server.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        let doc = text(&r);
        assert!(
            doc.contains("<xs:schema") || doc.contains("<xsd:schema") || doc.contains(":schema"),
            "{path}"
        );
        pending.extend(
            schema_locations(&doc)
                .into_iter()
                .map(|l| resolve(&path, &l)),
        );
        fetched.push(path);
    }
    assert!(
        fetched.len() >= 2,
        "the WSDL imports paForNode.xsd, which imports the common types: {fetched:?}"
    );
    assert_eq!(server.get("/xsd/nothing.xsd").await.status, 404);
    server.stop().await;
}

#[test]
fn relative_resolution() {
    assert_eq!(
        resolve("/partner", "../xsd/paForNode.xsd"),
        "/xsd/paForNode.xsd"
    );
    assert_eq!(
        resolve("/xsd/paForNode.xsd", "pagopa-common-types.xsd"),
        "/xsd/pagopa-common-types.xsd"
    );
}
