//! API keys over HTTP: every creditor route walked with no key, bad keys, a revoked key, another
//! creditor's key, keys limited to segregation codes and the creditor's own keys in both
//! headers; the order of 401/403 against 404/405; the public paths; and no secret in the logs.

mod harness;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use gpd_gateway::client::Response;
use gpd_gateway::domain::api_key::ApiKeySecret;
use gpd_gateway::http::routes::{ROUTES, Scope, pattern_matches};
use harness::positions::position;
use harness::receipts::{ReceiptRequest, iuv};
use harness::{TestServer, json, text};
use serde_json::{Value, json};

const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";

/// Every creditor route of the router's table, as (method, path pattern); a new route needs
/// its placeholders' values in `sample`.
fn creditor_routes() -> Vec<(&'static str, &'static str)> {
    ROUTES
        .iter()
        .filter(|r| !matches!(r.scope, Scope::Public | Scope::Listed))
        .map(|r| (r.method.as_str(), r.pattern))
        .collect()
}

/// A value for each path placeholder (any value will do: the keys are checked first).
fn sample(placeholder: &str, org: &str) -> String {
    match placeholder {
        "fiscalCode" | "organizationfiscalcode" | "organization-fiscal-code" => org.to_owned(),
        "iupd" => "DEMO-TARI-2025".to_owned(),
        "nav" | "notice-number" => "301000000000000144".to_owned(),
        "iuv" => "01000000000000144".to_owned(),
        "stationId" => format!("{org}_01"),
        "id" => "1".to_owned(),
        "brokerCode" => "77777777777".to_owned(),
        "fileId" | "jobId" => "0123456789abcdef".to_owned(),
        "fdr" => "2025-01-0188888888888-0001".to_owned(),
        "pspId" => "88888888888".to_owned(),
        "revision" => "1".to_owned(),
        other => panic!("no sample value for {{{other}}}: add one"),
    }
}

fn path(pattern: &str, org: &str) -> String {
    pattern
        .split('/')
        .map(|part| match part.strip_prefix('{') {
            Some(name) => sample(name.trim_end_matches('}'), org),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// What the caller sends: the key header(s), and a JSON body for the methods that take one.
async fn send(server: &TestServer, method: &str, path: &str, auth: &[(&str, &str)]) -> Response {
    let mut headers = auth.to_vec();
    let body: &[u8] = if matches!(method, "POST" | "PUT" | "PATCH") {
        headers.push(("Content-Type", "application/json"));
        b"{}"
    } else {
        b""
    };
    server
        .request_without_key(method, path, &headers, body)
        .await
}

fn problem(r: &Response, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body_text());
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(json(r)["status"], status, "{what}");
    let challenge = r.header("www-authenticate");
    if status == 401 {
        assert!(
            challenge.is_some_and(|c| c.starts_with("Bearer")),
            "{what}: {challenge:?}"
        );
    } else {
        assert_eq!(challenge, None, "{what}");
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

struct Keys {
    own: String,
    other: String,
    both: String,
    revoked: String,
}

async fn keys(server: &TestServer) -> Keys {
    let revoked = server.create_key(&[ORG]).await;
    server.revoke_key(&revoked).await;
    Keys {
        own: server.create_key(&[ORG]).await,
        other: server.create_key(&[OTHER]).await,
        both: server.create_key(&[OTHER, ORG]).await,
        revoked,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_creditor_route_needs_the_creditors_key() {
    let routes = creditor_routes();
    let server = TestServer::start().await;
    let keys = keys(&server).await;
    // Shaped like a key, never issued.
    let stranger = ApiKeySecret::from_random([1; 6], [2; 20]);
    let stranger = stranger.reveal();
    let everything = server.key.clone();
    for (method, pattern) in &routes {
        let path = path(pattern, ORG);
        let what = |who: &str| format!("{method} {path} {who}");
        let refused = [
            (vec![], "without a key"),
            (
                vec![("Ocp-Apim-Subscription-Key", "garbage")],
                "with garbage",
            ),
            (
                vec![("Authorization", "Bearer garbage")],
                "with a garbage bearer",
            ),
            (
                vec![("Authorization", "Basic dXNlcjpwYXNz")],
                "with basic auth",
            ),
            (
                vec![("Ocp-Apim-Subscription-Key", stranger)],
                "with an unknown key",
            ),
            (
                vec![("Ocp-Apim-Subscription-Key", keys.revoked.as_str())],
                "with a revoked key",
            ),
        ];
        for (auth, who) in &refused {
            problem(&send(&server, method, &path, auth).await, 401, &what(who));
        }
        let revoked = bearer(&keys.revoked);
        let r = send(&server, method, &path, &[("Authorization", &revoked)]).await;
        problem(&r, 401, &what("with a revoked bearer key"));

        let r = send(
            &server,
            method,
            &path,
            &[("Ocp-Apim-Subscription-Key", &keys.other)],
        )
        .await;
        problem(&r, 403, &what("with another creditor's key"));
        assert!(
            json(&r)["detail"].as_str().unwrap().contains(ORG),
            "{}",
            r.body_text()
        );
        let other = bearer(&keys.other);
        let r = send(&server, method, &path, &[("Authorization", &other)]).await;
        problem(&r, 403, &what("with another creditor's bearer key"));

        // The creditor's keys get through to the handler, in either header.
        let own = bearer(&keys.own);
        let mut statuses = Vec::new();
        for auth in [
            ("Ocp-Apim-Subscription-Key", keys.own.as_str()),
            ("Authorization", own.as_str()),
            ("Ocp-Apim-Subscription-Key", keys.both.as_str()),
            ("Ocp-Apim-Subscription-Key", everything.as_str()),
        ] {
            let r = send(&server, method, &path, &[auth]).await;
            assert!(
                ![401, 403, 405].contains(&r.status),
                "{}: {} {}",
                what(auth.0),
                r.status,
                r.body_text()
            );
            assert!(
                !r.body_text().contains("no resource at"),
                "{}",
                what(auth.0)
            );
            statuses.push(r.status);
        }
        assert!(
            statuses.windows(2).all(|s| s[0] == s[1]),
            "{}: {statuses:?}",
            what("")
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_checked_before_methods_and_paths() {
    let server = TestServer::start().await;
    let keys = keys(&server).await;
    let own = [("Ocp-Apim-Subscription-Key", keys.own.as_str())];
    let other = [("Ocp-Apim-Subscription-Key", keys.other.as_str())];
    // A method no route takes: 401 and 403 first, then 405 naming every method of the path,
    // which must be the methods the table lists for it.
    let routes = creditor_routes();
    let patterns: BTreeSet<&str> = routes.iter().map(|(_, p)| *p).collect();
    for pattern in patterns {
        let path = path(pattern, ORG);
        problem(&send(&server, "OPTIONS", &path, &[]).await, 401, &path);
        problem(&send(&server, "OPTIONS", &path, &other).await, 403, &path);
        let r = send(&server, "OPTIONS", &path, &own).await;
        problem(&r, 405, &path);
        let allowed: BTreeSet<&str> = r.header("allow").unwrap().split(", ").collect();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let listed: BTreeSet<&str> = routes
            .iter()
            .filter(|(_, p)| pattern_matches(p, &segments))
            .map(|(m, _)| *m)
            .collect();
        assert_eq!(allowed, listed, "{path}: the table must list every method");
    }
    // Nothing at these paths: still 401 without a key, 403 with another creditor's.
    for path in [
        format!("/organizations/{ORG}/nothing"),
        format!("/organizations/{ORG}"),
        format!("/organizations/{ORG}/debtpositions/X/Y/Z"),
    ] {
        problem(&send(&server, "GET", &path, &[]).await, 401, &path);
        problem(&send(&server, "GET", &path, &other).await, 403, &path);
        problem(&send(&server, "GET", &path, &own).await, 404, &path);
    }
    for path in ["/", "/nothing/here", "/organizations"] {
        problem(&send(&server, "GET", path, &[]).await, 401, path);
        problem(&send(&server, "GET", path, &own).await, 404, path);
    }
    // An organization this key is not for, even a malformed or unserved one: 403, not 400/404.
    for org in ["99999999999", "1234", "7777777777a"] {
        let path = format!("/organizations/{org}/receipts");
        problem(&send(&server, "GET", &path, &own).await, 403, &path);
    }
    // Two different keys at once are refused, whichever they are.
    let both = bearer(&keys.other);
    let r = send(
        &server,
        "GET",
        &format!("/organizations/{ORG}/receipts"),
        &[own[0], ("Authorization", &both)],
    )
    .await;
    problem(&r, 401, "two keys");
    assert!(
        json(&r)["detail"]
            .as_str()
            .unwrap()
            .contains("two different")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn public_paths_need_no_key() {
    let server = TestServer::start().await;
    for (method, path) in [
        ("GET", "/health"),
        ("GET", "/info"),
        ("GET", "/partner?wsdl"),
        ("GET", "/xsd/paForNode.xsd"),
        ("GET", "/openapi.json"),
    ] {
        let r = server.request_without_key(method, path, &[], b"").await;
        assert_eq!(r.status, 200, "{method} {path}: {}", r.body_text());
    }
    let r = server
        .request_without_key("GET", "/xsd/unknown.xsd", &[], b"")
        .await;
    assert_eq!(r.status, 404);
    // The Node's SOAP endpoint: answered as SOAP whatever key comes with it.
    let envelope = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>"#;
    for headers in [
        &[("Content-Type", "text/xml")][..],
        &[
            ("Content-Type", "text/xml"),
            ("Authorization", "Bearer garbage"),
        ],
    ] {
        let r = server
            .request_without_key("POST", "/partner", headers, envelope)
            .await;
        assert!(![401, 403].contains(&r.status), "{}", r.body_text());
        assert!(r.body_text().contains("Envelope"), "{}", r.body_text());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_revoked_while_serving_stops_at_once() {
    let server = TestServer::start().await;
    let key = server.create_key(&[ORG]).await;
    let path = format!("/organizations/{ORG}/broadcast-stations");
    let r = server.request_as(&key, "GET", &path, &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    server.revoke_key(&key).await;
    let r = server.request_as(&key, "GET", &path, &[], b"").await;
    problem(&r, 401, "revoked");
    // The harness's own key still works, and is what `get` sends.
    assert_eq!(server.get(&path).await.status, 200);
    server.stop().await;
}

/// Everything logged by this test binary, at debug level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("gpd_gateway=debug")
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .init();
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_name_keys_by_id_never_by_secret() {
    let logs = captured_logs();
    let server = TestServer::start().await;
    let keys = keys(&server).await;
    let everything = server.key.clone();
    let path = format!("/organizations/{ORG}/receipts");
    for key in [&keys.own, &keys.other, &keys.revoked, &everything] {
        server.request_as(key, "GET", &path, &[], b"").await;
    }
    server.stop().await;
    let logged = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let other_id = ApiKeySecret::parse(&keys.other).unwrap().id();
    assert!(
        logged.contains(&format!("key={other_id}")),
        "the refused key is named: {logged}"
    );
    for secret in [&keys.own, &keys.other, &keys.revoked, &everything] {
        // The id is public; what follows it is the secret.
        let hidden = &secret[secret.rfind('_').unwrap()..];
        assert!(!logged.contains(hidden), "a secret was logged: {logged}");
    }
}

/// The IUV of the sample notice (`sample("iuv")`, code 01) and a notice of code 02.
const SAMPLE_IUV: &str = "01000000000000144";

/// What a key limited to some codes gets on each route, with the sample position (code 01)
/// and a position of code 02 stored, and a receipt for each.
#[tokio::test(flavor = "multi_thread")]
async fn keys_limited_to_segregation_codes_reach_those_only() {
    let server = TestServer::start().await;
    assert_eq!(iuv("01", 1), SAMPLE_IUV);
    let other_iuv = iuv("02", 1);
    let create = format!("/organizations/{ORG}/debtpositions?toPublish=true");
    for (iupd, iuv) in [
        ("DEMO-TARI-2025", SAMPLE_IUV),
        ("SEG-02", other_iuv.as_str()),
    ] {
        let r = server.post_json(&create, &position(iupd, iuv, 1000)).await;
        assert_eq!(r.status, 201, "{}", text(&r));
    }
    for (id, iuv) in [("R-01", iuv("01", 9)), ("R-02", iuv("02", 9))] {
        let receipt = ReceiptRequest::v2(id, &iuv, 1000);
        let r = server.soap(Some(receipt.action()), &receipt.xml()).await;
        assert!(text(&r).contains("<outcome>OK</outcome>"), "{}", text(&r));
    }
    let only_02 = server.create_segregated_key(ORG, &["02"]).await;
    let only_01 = server.create_segregated_key(ORG, &["01"]).await;
    let both = server.create_segregated_key(ORG, &["02", "01"]).await;
    // Another creditor's codes do not open this one.
    let elsewhere = server.create_segregated_key(OTHER, &["01"]).await;
    let listed = |r: &Response, key: &str| -> Vec<String> {
        let v = json(r);
        let items = v["payment_position_list"]
            .as_array()
            .or(v["results"].as_array())
            .unwrap_or_else(|| panic!("a list: {v}"));
        items
            .iter()
            .map(|i| {
                let iuv = i["iuv"].as_str().or(i["paymentOption"][0]["iuv"].as_str());
                iuv.unwrap_or_else(|| panic!("{key}: {i}"))[..2].to_owned()
            })
            .collect()
    };

    let sample_path = format!("/organizations/{ORG}/debtpositions/DEMO-TARI-2025");
    for (method, pattern) in &creditor_routes() {
        let path = path(pattern, ORG);
        let what = |who: &str| format!("{method} {path} {who}");
        // The sample position again, if a route walked before deleted it.
        let r = server
            .post_json(&create, &position("DEMO-TARI-2025", SAMPLE_IUV, 1000))
            .await;
        assert!([201, 409].contains(&r.status), "{}", text(&r));
        // A body that names the sample's code, for the routes that take one.
        let body: Vec<u8> = match (*method, *pattern) {
            ("POST", p) if p.ends_with("/debtpositions") => {
                position("SEG-NEW", &iuv("01", 77), 1000)
                    .to_string()
                    .into_bytes()
            }
            ("POST", p) if p.ends_with("/debtpositions/bulk") => {
                json!({"paymentPositions": [position("SEG-NEW", &iuv("01", 77), 1000)]})
                    .to_string()
                    .into_bytes()
            }
            ("POST", p) if p.ends_with("/receipts/recover") => {
                format!(r#"{{"iur": "SEG-R", "iuv": "{SAMPLE_IUV}"}}"#).into_bytes()
            }
            ("PUT", p) if p.ends_with("/{iupd}") => position("DEMO-TARI-2025", SAMPLE_IUV, 2000)
                .to_string()
                .into_bytes(),
            ("PUT", p) if p.ends_with("/notificationfee") => {
                br#"{"notificationFee": 100}"#.to_vec()
            }
            ("PUT", p) if p.contains("broadcast-stations") => {
                format!(r#"{{"brokerId": "{ORG}", "url": "http://127.0.0.1:9/x"}}"#).into_bytes()
            }
            ("POST" | "PUT", _) => b"{}".to_vec(),
            _ => Vec::new(),
        };
        let send = |key: String| {
            let (server, path, body) = (&server, path.clone(), body.clone());
            async move {
                let headers = [
                    ("Content-Type", "application/json"),
                    ("Ocp-Apim-Subscription-Key", key.as_str()),
                ];
                server
                    .request_without_key(method, &path, &headers, &body)
                    .await
            }
        };
        let list = *method == "GET"
            && (pattern.ends_with("/debtpositions") || pattern.ends_with("/receipts"));
        // What the table says concerns every notice of the creditor.
        let whole_creditor = ROUTES.iter().any(|r| {
            r.method.as_str() == *method
                && r.pattern == *pattern
                && matches!(r.scope, Scope::WholeCreditor(_))
        });

        let r = send(elsewhere.clone()).await;
        problem(&r, 403, &what("with another creditor's limited key"));

        server
            .delete(&format!("/organizations/{ORG}/debtpositions/SEG-NEW"))
            .await;
        let before = text(&server.get(&sample_path).await);
        let r = send(only_02.clone()).await;
        if list {
            // Lists are filtered, never refused: what the key sees is of its codes only.
            assert_eq!(r.status, 200, "{}: {}", what("02"), text(&r));
            assert_eq!(listed(&r, "02"), ["02"], "{}", what("02"));
            for (query, seen) in [
                ("segregationCodes=02,03", vec!["02"]),
                ("segregationCodes=01", vec![]),
            ] {
                let r = server
                    .request_as(&only_02, "GET", &format!("{path}?{query}"), &[], b"")
                    .await;
                assert_eq!(r.status, 200, "{}", text(&r));
                assert_eq!(listed(&r, query), seen, "{} {query}", what("02"));
            }
            let r = server
                .request_as(
                    &only_02,
                    "GET",
                    &format!("{path}?segregationCodes=2"),
                    &[],
                    b"",
                )
                .await;
            problem(&r, 400, &what("with a malformed segregationCodes"));
        } else if pattern.starts_with("/payment-options/") {
            // The platform's service tells the notice unknown, as GPD does.
            assert_eq!(r.status, 404, "{}: {}", what("02"), text(&r));
            assert_eq!(json(&r)["appErrorCode"], "ODP-107", "{}", what("02"));
        } else {
            problem(&r, 403, &what("with a key for code 02"));
            let detail = json(&r)["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains("02"), "{}: {detail}", what("02"));
            // Nothing of code 01 was written by the refused request.
            assert_eq!(
                text(&server.get(&sample_path).await),
                before,
                "{}",
                what("02")
            );
            let created = server
                .get(&format!("/organizations/{ORG}/debtpositions/SEG-NEW"))
                .await;
            assert_eq!(created.status, 404, "{}", what("02"));
        }

        // Keys with the sample's code get through to the handler, as the unlimited key does,
        // except on what concerns every code of the creditor.
        for key in [&only_01, &both] {
            let r = send(key.clone()).await;
            if whole_creditor {
                problem(&r, 403, &what("with a limited key"));
            } else {
                assert!(
                    ![401, 403, 405].contains(&r.status),
                    "{}: {} {}",
                    what("01"),
                    r.status,
                    text(&r)
                );
            }
        }
    }

    // Lists of a key for both codes, or of an unlimited key narrowed by the parameter.
    let positions = format!("/organizations/{ORG}/debtpositions");
    let r = server.request_as(&both, "GET", &positions, &[], b"").await;
    let mut codes = listed(&r, "both");
    codes.sort();
    codes.dedup();
    assert_eq!(codes, ["01", "02"]);
    let r = server
        .get(&format!("{positions}?segregationCodes=02"))
        .await;
    assert_eq!(listed(&r, "all"), ["02"]);
    let receipts = format!("/organizations/{ORG}/receipts?segregationCodes=01,02");
    assert_eq!(
        json(&server.get(&receipts).await)["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limited_key_cannot_reach_other_codes_through_a_position() {
    let server = TestServer::start().await;
    let mixed: Value = {
        let mut p = position("MIX", &iuv("01", 5), 1000);
        let mut second = p["paymentOption"][0].clone();
        second["iuv"] = iuv("02", 5).into();
        p["paymentOption"][0]["isPartialPayment"] = true.into();
        second["isPartialPayment"] = true.into();
        p["paymentOption"].as_array_mut().unwrap().push(second);
        p
    };
    let create = format!("/organizations/{ORG}/debtpositions");
    let key = server.create_segregated_key(ORG, &["01"]).await;
    // Creating a position with an option of another code: 403, and nothing stored.
    let r = server
        .request_as(
            &key,
            "POST",
            &create,
            &[("Content-Type", "application/json")],
            mixed.to_string().as_bytes(),
        )
        .await;
    problem(&r, 403, "create with an option of code 02");
    assert_eq!(server.get(&format!("{create}/MIX")).await.status, 404);

    let r = server.post_json(&create, &mixed).await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let one = format!("{create}/MIX");
    // Every option of the position must be within the key's codes, even when the path names an
    // option of its own code.
    let nav_01 = format!("3{}", iuv("01", 5));
    for (method, path, body) in [
        ("GET", one.clone(), String::new()),
        ("PUT", one.clone(), mixed.to_string()),
        ("DELETE", one.clone(), String::new()),
        ("POST", format!("{one}/publish"), String::new()),
        (
            "POST",
            format!("/organizations/{ORG}/paymentoptions/paids/{nav_01}"),
            "{}".into(),
        ),
        (
            "PUT",
            format!("/organizations/{ORG}/paymentoptions/{nav_01}/notificationfee"),
            r#"{"notificationFee": 10}"#.into(),
        ),
    ] {
        let r = server
            .request_as(
                &key,
                method,
                &path,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .await;
        problem(&r, 403, &format!("{method} {path}"));
    }
    let r = server.request_as(&key, "GET", &create, &[], b"").await;
    assert_eq!(json(&r)["payment_position_list"], serde_json::json!([]));
    // An update that would add an option of another code to a position of the key's own: 403.
    let r = server
        .post_json(&create, &position("OWN", &iuv("01", 6), 1000))
        .await;
    assert_eq!(r.status, 201);
    let mut grown = mixed.clone();
    grown["iupd"] = "OWN".into();
    grown["paymentOption"][0]["iuv"] = iuv("01", 6).into();
    grown["paymentOption"][1]["iuv"] = iuv("02", 6).into();
    let r = server
        .request_as(
            &key,
            "PUT",
            &format!("{create}/OWN"),
            &[("Content-Type", "application/json")],
            grown.to_string().as_bytes(),
        )
        .await;
    problem(&r, 403, "update adding code 02");
    // Of an unknown position, the same update is 404, as any other.
    grown["iupd"] = "NONE".into();
    let r = server
        .request_as(
            &key,
            "PUT",
            &format!("{create}/NONE"),
            &[("Content-Type", "application/json")],
            grown.to_string().as_bytes(),
        )
        .await;
    problem(&r, 404, "update of an unknown position");
    // The stored position is untouched and still the key's.
    let r = server
        .request_as(&key, "GET", &format!("{create}/OWN"), &[], b"")
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json(&r)["paymentOption"].as_array().unwrap().len(), 1);
    assert_eq!(json(&r)["status"], "DRAFT");
    server.stop().await;
}
