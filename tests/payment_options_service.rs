//! The payment-options service the platform calls, on the real server and the store of
//! `GPD_TEST_STORE`: a notice's options as groups with their statuses, and every app error,
//! each answer checked against the platform's own document (`orgs_payment_options.json`, with
//! no field it does not name) and its table of app error codes, HTTP statuses and PAA codes.

mod harness;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime, Utc};
use gpd_gateway::client::Response;
use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use harness::openapi::OpenApi;
use harness::positions::{iuv, position};
use harness::{TestServer, json, text};
use regex::Regex;
use serde_json::{Value, json};

const DOCUMENT: &str = "pagopa-api/openapi/orgs_payment_options.json";
const TEMPLATE: &str =
    "/payment-options/organizations/{organization-fiscal-code}/notices/{notice-number}";
const ORG: &str = "77777777777";
const OTHER: &str = "88888888888";

/// The platform's document, and its table of app errors: code -> (HTTP status, PAA code).
struct Contract {
    api: OpenApi,
    errors: BTreeMap<String, (u16, String)>,
}

impl Contract {
    fn load() -> Option<Contract> {
        let api = OpenApi::reference(DOCUMENT)?.closed();
        let description = api.doc["info"]["description"]
            .as_str()
            .expect("description");
        let row = Regex::new(r"\*\*(ODP-\d+)\*\* \| \*(\d{3}) [^*]*\* \| (PAA_[A-Z_]+)").unwrap();
        let errors: BTreeMap<_, _> = row
            .captures_iter(description)
            .map(|c| (c[1].to_owned(), (c[2].parse().unwrap(), c[3].to_owned())))
            .collect();
        assert_eq!(errors.len(), 11, "{description}");
        Some(Contract { api, errors })
    }

    /// Checks an answer against the document; returns its body.
    fn check(&self, r: &Response) -> Value {
        let content_type = r.header("content-type").unwrap_or("");
        let schema = self
            .api
            .response_schema("POST", TEMPLATE, r.status, content_type)
            .unwrap_or_else(|e| panic!("{e}: {}", text(r)))
            .expect("a documented body");
        let body = json(r);
        let errors = self.api.check(schema, &body);
        assert!(errors.is_empty(), "{errors:#?}\n{body:#}");
        if r.status == 200 {
            for group in body["paymentOptions"].as_array().expect("options") {
                dates_are_utc(group);
                group["installments"]
                    .as_array()
                    .expect("installments")
                    .iter()
                    .for_each(dates_are_utc);
            }
        } else {
            let code = body["appErrorCode"].as_str().expect("appErrorCode");
            let (status, paa) = &self.errors[code];
            assert_eq!(
                (r.status, body["httpStatusCode"].as_u64()),
                (*status, Some(*status as u64))
            );
            let message = body["errorMessage"].as_str().unwrap();
            assert!(message.starts_with(&format!("{paa} ")), "{message}");
            dates_are_utc(&body);
        }
        body
    }
}

/// `dueDate`, `validFrom` and `dateTime`, where present, are RFC 3339 instants in UTC.
fn dates_are_utc(value: &Value) {
    for field in ["dueDate", "validFrom", "dateTime"] {
        if let Some(date) = value.get(field) {
            let date = date.as_str().expect("a string");
            let parsed = chrono::DateTime::parse_from_rfc3339(date)
                .unwrap_or_else(|e| panic!("{field} {date}: {e}"));
            assert_eq!(parsed.offset().local_minus_utc(), 0, "{date}");
        }
    }
}

/// A position of `iupd` with these options of segregation code `seg`: (IUV base, cents, due
/// in days, installment).
fn with_options(iupd: &str, seg: u8, options: &[(u64, i64, i64, bool)], expiring: bool) -> Value {
    let mut p = position(iupd, &iuv(seg, options[0].0), options[0].1);
    let template = p["paymentOption"][0].clone();
    let now = Utc::now().naive_utc();
    let listed: Vec<Value> = options
        .iter()
        .map(|&(base, cents, days, partial)| {
            let mut o = template.clone();
            o["iuv"] = json!(iuv(seg, base));
            o["amount"] = json!(cents);
            o["transfer"][0]["amount"] = json!(cents);
            o["isPartialPayment"] = json!(partial);
            o["description"] = json!(format!("option {base}"));
            o["dueDate"] = json!(day(now, days));
            o
        })
        .collect();
    p["paymentOption"] = json!(listed);
    p["switchToExpired"] = json!(expiring);
    p
}

fn day(now: NaiveDateTime, days: i64) -> String {
    (now + Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The notice of an option of code 01, ours.
fn nav(base: u64) -> String {
    format!("3{}", iuv(1, base))
}

/// The notice of the other creditor's option (its code is 47).
fn other_nav() -> String {
    format!("3{}", iuv(47, 9))
}

async fn ask(server: &TestServer, org: &str, notice: &str) -> Response {
    let path = format!("/payment-options/organizations/{org}/notices/{notice}");
    server.request("POST", &path, &[], b"").await
}

/// Each group's status, its installments' statuses and its amount.
fn groups(body: &Value) -> Vec<(String, Vec<String>, i64)> {
    let word = |v: &Value| v["status"].as_str().unwrap().to_owned();
    body["paymentOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let installments = g["installments"].as_array().unwrap();
            (
                word(g),
                installments.iter().map(word).collect(),
                g["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn every_answer_is_the_platform_s() {
    let Some(contract) = Contract::load() else {
        eprintln!("skipped: {DOCUMENT} is not beside the repository");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config::example();
    let server = TestServer::start_on(dir, config.clone(), Clock::system()).await;

    // (IUPD, creditor, segregation code, options, switch to expired, published)
    let single = |base| vec![(base, 1000, 30, false)];
    let plan = |first| {
        let (a, b, c) = (first, first + 1, first + 2);
        vec![
            (a, 9000, 30, false),
            (b, 4000, 10, true),
            (c, 5000, 50, true),
        ]
    };
    let positions = [
        ("PO-SINGLE", ORG, 1, single(1), false, true),
        ("PO-PLAN", ORG, 1, plan(2), false, true),
        ("PO-PAID", ORG, 1, single(5), false, true),
        ("PO-INVALID", ORG, 1, single(6), false, true),
        ("PO-DRAFT", ORG, 1, single(7), false, false),
        (
            "PO-EXPIRING",
            ORG,
            1,
            vec![(8, 1000, 10, false)],
            true,
            true,
        ),
        ("PO-OTHER", OTHER, 47, single(9), false, true),
        ("PO-PARTLY", ORG, 1, plan(10), false, true),
    ];
    for (iupd, org, seg, options, expiring, published) in &positions {
        let body = with_options(iupd, *seg, options, *expiring);
        server.create_position(org, &body, *published).await;
    }
    for path in [
        format!("/organizations/{ORG}/paymentoptions/paids/{}", nav(5)),
        format!("/organizations/{ORG}/debtpositions/PO-INVALID/invalidate"),
        format!("/organizations/{ORG}/paymentoptions/paids/{}", nav(11)),
    ] {
        let r = server.post_json(&path, &json!({})).await;
        assert_eq!(r.status, 200, "{path}: {}", text(&r));
    }

    // A single option.
    let body = contract.check(&ask(&server, ORG, &nav(1)).await);
    assert_eq!(body["organizationFiscalCode"], ORG);
    assert_eq!(body["companyName"], "Comune di Esempio");
    assert_eq!(body["standin"], true);
    let single = &body["paymentOptions"][0];
    assert_eq!(single["numberOfInstallments"], 1);
    assert_eq!(single["description"], "option 1");
    assert_eq!(single["allCCP"], false);
    assert_eq!(single["installments"][0]["nav"], nav(1));
    assert_eq!(single["installments"][0]["iuv"], iuv(1, 1));
    assert_eq!(
        groups(&body),
        [("PO_UNPAID".into(), strings(&["POI_UNPAID"]), 1000)]
    );

    // A plan and a single option, by due date, asked by any of the three notices.
    for base in [2, 3, 4] {
        let body = contract.check(&ask(&server, ORG, &nav(base)).await);
        let expected = [
            ("PO_UNPAID".into(), strings(&["POI_UNPAID"]), 9000),
            (
                "PO_UNPAID".into(),
                strings(&["POI_UNPAID", "POI_UNPAID"]),
                9000,
            ),
        ];
        assert_eq!(groups(&body), expected, "asked by option {base}");
        let plan = &body["paymentOptions"][1];
        assert_eq!(plan["numberOfInstallments"], 2);
        assert!(plan.get("description").is_none(), "{plan}");
        assert_eq!(plan["installments"][0]["nav"], nav(3));
    }

    // A partly paid plan: the single option is no longer an alternative.
    let body = contract.check(&ask(&server, ORG, &nav(10)).await);
    let expected = [
        ("PO_INVALID".into(), strings(&["POI_INVALID"]), 9000),
        (
            "PO_PARTIALLY_PAID".into(),
            strings(&["POI_PAID", "POI_UNPAID"]),
            9000,
        ),
    ];
    assert_eq!(groups(&body), expected);

    // The other creditor's notice is its own, not this one's.
    let body = contract.check(&ask(&server, OTHER, &other_nav()).await);
    assert_eq!(body["organizationFiscalCode"], OTHER);

    // Every app error the gateway gives, but the store's failure (in the unit tests).
    let unconfigured = "12345678901";
    let refused = [
        (ORG, nav(5), "ODP-108"),
        (ORG, nav(6), "ODP-111"),
        (ORG, nav(7), "ODP-107"),
        (ORG, nav(99), "ODP-107"),
        (ORG, other_nav(), "ODP-107"),
        (ORG, "31".to_owned(), "ODP-101"),
        ("7777", nav(1), "ODP-101"),
        (unconfigured, nav(1), "ODP-104"),
    ];
    for (org, notice, code) in &refused {
        let body = contract.check(&ask(&server, org, notice).await);
        assert_eq!(body["appErrorCode"], *code, "{org} {notice}: {body}");
    }

    // A key of the creditor is enough; another creditor's is refused before anything else.
    let path = format!("/payment-options/organizations/{ORG}/notices/{}", nav(1));
    let own = server.create_key(&[ORG]).await;
    let r = server.request_as(&own, "POST", &path, &[], b"").await;
    contract.check(&r);
    let other = server.create_key(&[OTHER]).await;
    let r = server.request_as(&other, "POST", &path, &[], b"").await;
    assert_eq!(r.status, 403, "{}", text(&r));
    let r = server.request_without_key("POST", &path, &[], b"").await;
    assert_eq!(r.status, 401, "{}", text(&r));

    // Twenty days on: the first installment and the expiring position are past due.
    let dir = server.stop_and_keep_data().await;
    let later = Clock::shifted(Duration::days(20));
    let server = TestServer::start_on(dir, config, later).await;
    let body = contract.check(&ask(&server, ORG, &nav(2)).await);
    let expected = [
        ("PO_UNPAID".into(), strings(&["POI_UNPAID"]), 9000),
        (
            "PO_UNPAID".into(),
            strings(&["POI_EXPIRED_UNPAID", "POI_UNPAID"]),
            9000,
        ),
    ];
    assert_eq!(groups(&body), expected);
    let installment = &body["paymentOptions"][1]["installments"][0];
    assert_eq!(
        installment["statusReason"],
        "past its due date, still payable"
    );
    let body = contract.check(&ask(&server, ORG, &nav(8)).await);
    assert_eq!(body["appErrorCode"], "ODP-110");
    server.stop().await;
}
