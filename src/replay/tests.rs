//! The runner against a small fake gateway, and a load check of the shipped fixtures.

use std::convert::Infallible;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;

/// What the fake gateway saw: method, path and query, SOAPAction, body.
type Seen = Arc<Mutex<Vec<(String, String, Option<String>, String)>>>;

const OK_ANSWER: &str = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:paVerifyPaymentNoticeRes xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><outcome>OK</outcome></ns2:paVerifyPaymentNoticeRes></S:Body></S:Envelope>"#;

/// Creates positions (201, or 400 when the body says "refuse"), answers any other REST call
/// with 200 and its own path as JSON (404 when the path holds "missing"), and /partner with
/// OK_ANSWER, its KO twin when the request holds "answer-ko", or 400 and a text body when it
/// holds "garbage".
async fn fake_gateway() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let log = log.clone();
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let log = log.clone();
                async move {
                    let method = req.method().to_string();
                    let path = req.uri().to_string();
                    let action = req
                        .headers()
                        .get("soapaction")
                        .map(|v| v.to_str().unwrap().to_owned());
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let body = String::from_utf8(body.to_vec()).unwrap();
                    log.lock()
                        .unwrap()
                        .push((method, path.clone(), action, body.clone()));
                    let (status, answer) = if path == "/partner" {
                        if body.contains("garbage") {
                            (400, "no".to_owned())
                        } else if body.contains("answer-ko") {
                            (200, OK_ANSWER.replace(">OK<", ">KO<"))
                        } else {
                            (200, OK_ANSWER.to_owned())
                        }
                    } else if path.contains("/debtpositions?") {
                        if body.contains("refuse") {
                            (
                                400,
                                r#"{"title":"Bad Request","status":400,"detail":"refused"}"#
                                    .to_owned(),
                            )
                        } else {
                            (201, "{}".to_owned())
                        }
                    } else if path.contains("missing") {
                        (404, "{}".to_owned())
                    } else {
                        (200, serde_json::json!({ "path": path }).to_string())
                    };
                    let response = Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::from(answer)))
                        .unwrap();
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    (url, seen)
}

fn write(dir: &Path, name: &str, text: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), text).unwrap();
}

const REQUEST: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><x>{{NAV:01:1}}</x></soapenv:Body></soapenv:Envelope>"#;

fn opts(dir: &Path, target: &str) -> ReplayOptions {
    ReplayOptions {
        dir: dir.to_path_buf(),
        target: target.to_owned(),
        filter: None,
        verbose: false,
        save: None,
        key: None,
    }
}

#[tokio::test]
async fn replays_cases_and_reports_differences() {
    let (url, seen) = fake_gateway().await;
    let root = tempfile::tempdir().unwrap();
    let fixtures = root.path().join("fixtures");
    let verify = fixtures.join("paVerifyPaymentNotice");

    // Passes: a position, a step, a quoted SOAPAction, another prefix style in the answer.
    let ok = verify.join("ok");
    write(&ok, "request.xml", REQUEST);
    write(
        &ok,
        "response.xml",
        &OK_ANSWER
            .replace("S:", "soapenv:")
            .replace(":S=", ":soapenv="),
    );
    write(
        &ok,
        "positions.json",
        r#"[{"iupd": "p-{{RUN}}", "iuv": "{{IUV:01:1}}"}]"#,
    );
    write(
        &ok,
        "case.toml",
        "description = \"the happy path\"\nsoap_action = '\"paVerifyPaymentNotice\"'\n[[step]]\nmethod = \"POST\"\npath = \"/organizations/77777777777/debtpositions/p-{{RUN}}/publish\"\n",
    );
    // Fails on the text of outcome.
    let ko = verify.join("ko_expected");
    write(&ko, "request.xml", REQUEST);
    write(&ko, "response.xml", &OK_ANSWER.replace(">OK<", ">KO<"));
    write(&ko, "case.toml", "soap_action = false\npublish = false\n");
    // Fails on the status and on a body that is not XML.
    let bad = verify.join("not_xml");
    write(&bad, "request.xml", "garbage");
    write(&bad, "response.xml", OK_ANSWER);
    // Fails in setup.
    let refused = verify.join("refused");
    write(&refused, "request.xml", REQUEST);
    write(&refused, "response.xml", OK_ANSWER);
    write(&refused, "positions.json", r#"[{"iupd": "refuse"}]"#);
    // Fails to load.
    let broken = verify.join("broken");
    write(&broken, "request.xml", "{{NOPE}}");
    write(&broken, "response.xml", OK_ANSWER);

    let mut printed = Vec::new();
    let summary = run(&opts(&fixtures, &url), &mut printed).await.unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert_eq!(printed, summary.report);
    assert_eq!((summary.passed, summary.failed), (1, 4), "{printed}");
    assert!(printed.ends_with("\n1 passed, 4 failed\n"), "{printed}");
    assert_eq!(printed.lines().filter(|l| l.contains("passed,")).count(), 1);
    assert!(
        !printed.lines().any(|l| l.starts_with("ok ")),
        "passing cases are listed only when verbose: {printed}"
    );
    assert!(!printed.contains("the happy path"), "{printed}");
    assert!(
        printed.contains(&format!("FAIL {}\n", ko.display())),
        "{printed}"
    );
    assert!(
        printed.contains("/Envelope/Body/paVerifyPaymentNoticeRes/outcome: text differs"),
        "{printed}"
    );
    assert!(printed.contains("expected: \"KO\""), "{printed}");
    assert!(
        printed.contains("expected: 200\n        actual:   400"),
        "{printed}"
    );
    assert!(printed.contains("the answer is not XML"), "{printed}");
    assert!(printed.contains("setup: POST /organizations/77777777777/debtpositions?toPublish=true answered 400 (expected 2xx)"), "{printed}");
    assert!(printed.contains("\"detail\":\"refused\""), "{printed}");
    assert!(
        printed.contains("fixture:") && printed.contains("{{NOPE}}"),
        "{printed}"
    );

    let seen = seen.lock().unwrap().clone();
    // The ok case: position, publish step, SOAP call with the quoted action, tokens expanded.
    let ok_calls: Vec<_> = seen
        .iter()
        .filter(|c| c.3.contains("p-") || c.1.contains("/p-"))
        .collect();
    assert_eq!(ok_calls.len(), 2, "{seen:?}");
    assert_eq!(
        ok_calls[0].1,
        "/organizations/77777777777/debtpositions?toPublish=true"
    );
    let run_id = ok_calls[0].3.split("p-").nth(1).unwrap()[..6].to_owned();
    assert!(run_id.bytes().all(|b| b.is_ascii_digit()), "{run_id}");
    assert_eq!(
        ok_calls[1].1,
        format!("/organizations/77777777777/debtpositions/p-{run_id}/publish")
    );
    let partner: Vec<_> = seen.iter().filter(|c| c.1 == "/partner").collect();
    assert_eq!(
        partner.len(),
        3,
        "setup failures and broken fixtures send nothing: {seen:?}"
    );
    assert_eq!(partner[0].2, None, "ko_expected sends no SOAPAction");
    assert_eq!(
        partner[1].2.as_deref(),
        Some("paVerifyPaymentNotice"),
        "not_xml: the default"
    );
    assert_eq!(
        partner[2].2.as_deref(),
        Some("\"paVerifyPaymentNotice\""),
        "ok: verbatim"
    );
    // Each case has its own IUVs.
    let nav = |body: &str| body.split("<x>").nth(1).unwrap()[..18].to_owned();
    assert_ne!(nav(&partner[0].3), nav(&partner[2].3));
    assert!(
        crate::domain::NoticeNumber::parse(&nav(&partner[2].3))
            .unwrap()
            .iuv()
            .is_some()
    );
}

#[tokio::test]
async fn soap_steps_run_before_and_after_checks_run_after() {
    let (url, seen) = fake_gateway().await;
    let root = tempfile::tempdir().unwrap();
    let send_rt = root.path().join("paSendRT");
    let ok_response = |dir: &Path| write(dir, "response.xml", OK_ANSWER);

    // Passes: an earlier request with its own SOAPAction, the case's request sent twice, and
    // checks after the answer.
    let pass = send_rt.join("a_pass");
    write(&pass, "request.xml", REQUEST);
    ok_response(&pass);
    write(&pass, "first.xml", "<first>{{NAV:01:1}}</first>");
    write(
        &pass,
        "case.toml",
        r#"
[[step]]
soap = "first.xml"
soap_action = "custom"
expect_outcome = "OK"

[[step]]
soap = "request.xml"
expect = 200
expect_body_contains = "<outcome>OK</outcome>"

[[after]]
method = "GET"
path = "/organizations/77777777777/receipts/{{IUV:01:1}}"
expect_body_contains = "{{IUV:01:1}}"

[[after]]
method = "GET"
path = "/a-missing-thing"
expect = 404
"#,
    );
    // An earlier request answered KO where OK was expected: the case's request is not sent.
    let step_ko = send_rt.join("b_step_outcome");
    write(&step_ko, "request.xml", REQUEST);
    ok_response(&step_ko);
    write(&step_ko, "ko.xml", "<answer-ko/>");
    write(
        &step_ko,
        "case.toml",
        "[[step]]\nsoap = \"ko.xml\"\nexpect_outcome = \"OK\"\n",
    );
    // The answer matches, a check after it does not; the checks stop at the first failure.
    let after = send_rt.join("c_after_fails");
    write(&after, "request.xml", REQUEST);
    ok_response(&after);
    write(
        &after,
        "case.toml",
        "[[after]]\nmethod = \"GET\"\npath = \"/status\"\nexpect_body_contains = \"PARTIALLY_PAID\"\n\
         [[after]]\nmethod = \"GET\"\npath = \"/never\"\n",
    );
    // The answer differs and the checks after it still run.
    let differs = send_rt.join("d_answer_differs");
    write(&differs, "request.xml", REQUEST);
    write(&differs, "response.xml", &OK_ANSWER.replace(">OK<", ">KO<"));
    write(
        &differs,
        "case.toml",
        "[[after]]\nmethod = \"GET\"\npath = \"/anyway\"\n",
    );

    let summary = run(&opts(root.path(), &url), &mut Vec::new())
        .await
        .unwrap();
    let printed = &summary.report;
    assert_eq!((summary.passed, summary.failed), (1, 3), "{printed}");
    assert!(!printed.contains("a_pass"), "{printed}");
    assert!(
        printed.contains(
            "setup: POST /partner (ko.xml) answered outcome KO (expected OK): <S:Envelope"
        ),
        "{printed}"
    );
    assert!(
        printed.contains(
            "after: GET /status answered 200 without `PARTIALLY_PAID`: {\"path\":\"/status\"}"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("paVerifyPaymentNoticeRes/outcome: text differs"),
        "{printed}"
    );

    let seen = seen.lock().unwrap().clone();
    let calls: Vec<(&str, &str, Option<&str>)> = seen
        .iter()
        .map(|(method, path, action, _)| (method.as_str(), path.as_str(), action.as_deref()))
        .collect();
    let iuv_path = seen[3].1.clone();
    assert!(iuv_path.starts_with("/organizations/77777777777/receipts/"));
    let partner = |action| ("POST", "/partner", Some(action));
    let get = |path| ("GET", path, None);
    assert_eq!(
        calls,
        vec![
            partner("custom"),
            partner("paSendRT"),
            partner("paSendRT"),
            get(iuv_path.as_str()),
            get("/a-missing-thing"),
            partner("paSendRT"),
            partner("paSendRT"),
            get("/status"),
            partner("paSendRT"),
            get("/anyway"),
        ],
        "{seen:?}"
    );
    // The step's file and the case's request were sent with their tokens expanded.
    let nav = seen[2].3.split("<x>").nth(1).unwrap()[..18].to_owned();
    assert_eq!(seen[0].3, format!("<first>{nav}</first>"));
    assert_eq!(seen[1].3, seen[2].3);
    assert!(iuv_path.ends_with(&nav[1..]), "{iuv_path} {nav}");
}

#[tokio::test]
async fn filter_and_verbose() {
    let (url, _) = fake_gateway().await;
    let root = tempfile::tempdir().unwrap();
    for name in ["a_one", "b_two"] {
        let dir = root.path().join("paVerifyPaymentNotice").join(name);
        write(&dir, "request.xml", REQUEST);
        write(&dir, "response.xml", &OK_ANSWER.replace(">OK<", ">KO<"));
        write(&dir, "case.toml", &format!("description = \"case {name}\""));
    }
    let mut o = opts(root.path(), &url);
    o.filter = Some("b_tw".to_owned());
    o.verbose = true;
    let summary = run(&o, &mut Vec::new()).await.unwrap();
    assert_eq!((summary.passed, summary.failed), (0, 1));
    assert!(summary.report.contains("case b_two"), "{}", summary.report);
    assert!(summary.report.starts_with("FAIL "), "{}", summary.report);
    assert!(!summary.report.contains("a_one"), "{}", summary.report);
    assert!(
        summary.report.contains("request sent:"),
        "{}",
        summary.report
    );
    assert!(
        summary.report.contains("answer received (HTTP 200):"),
        "{}",
        summary.report
    );

    // A passing case is listed only with verbose.
    let pass = root.path().join("paVerifyPaymentNotice/c_pass");
    write(&pass, "request.xml", REQUEST);
    write(&pass, "response.xml", OK_ANSWER);
    write(&pass, "case.toml", "description = \"case c_pass\"");
    o.filter = Some("c_pass".to_owned());
    let summary = run(&o, &mut Vec::new()).await.unwrap();
    let expected = format!(
        "ok   {}\n     case c_pass\n1 passed, 0 failed\n",
        pass.display()
    );
    assert_eq!(summary.report, expected);
    o.verbose = false;
    let summary = run(&o, &mut Vec::new()).await.unwrap();
    assert_eq!(summary.report, "1 passed, 0 failed\n");

    o.filter = Some("zzz".to_owned());
    let e = run(&o, &mut Vec::new()).await.unwrap_err();
    assert!(matches!(e, ReplayError::NoCases { .. }), "{e}");
    assert!(e.to_string().contains("zzz"));

    // A single case directory.
    o.filter = None;
    o.dir = root.path().join("paVerifyPaymentNotice/a_one");
    let summary = run(&o, &mut Vec::new()).await.unwrap();
    assert_eq!((summary.passed, summary.failed), (0, 1));
}

#[tokio::test]
async fn problems_with_dir_or_target_are_errors() {
    let root = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9";
    let missing = run(&opts(&root.path().join("nope"), url), &mut Vec::new()).await;
    assert!(matches!(missing, Err(ReplayError::NotFound(_))));
    let file = root.path().join("file");
    fs::write(&file, "x").unwrap();
    assert!(matches!(
        run(&opts(&file, url), &mut Vec::new()).await,
        Err(ReplayError::NotADirectory(_))
    ));
    let empty = run(&opts(root.path(), url), &mut Vec::new()).await;
    assert!(matches!(empty, Err(ReplayError::NoCases { .. })));
    let case = root.path().join("p/c");
    write(&case, "request.xml", "<a/>");
    write(&case, "response.xml", "<a/>");
    let https = run(&opts(root.path(), "https://127.0.0.1:9"), &mut Vec::new()).await;
    assert!(matches!(https, Err(ReplayError::BadTarget(_))));
    // An unreachable target fails the cases, it is not an error of the run.
    let unreachable = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let summary = run(&opts(root.path(), &unreachable), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!((summary.passed, summary.failed), (0, 1));
    assert!(
        summary.report.contains("cannot connect"),
        "{}",
        summary.report
    );
}

fn shipped_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every shipped fixture loads (tokens, case.toml, positions.json) and both XML files parse;
/// expected SOAP answers are SOAP 1.1 envelopes whose payload is in the paForNode namespace
/// (or a SOAP Fault), and IUV tokens use the segregation codes of the configured creditors.
#[test]
fn shipped_fixtures_load() {
    let dir = shipped_fixtures();
    let cases = case::discover(&dir).unwrap();
    assert!(!cases.is_empty());
    let now = chrono::Utc::now().naive_utc();
    for (i, path) in cases.iter().enumerate() {
        let tokens = Tokens::new(123_456, i as u64 + 1, now).unwrap();
        let c = case::load(path, &tokens).unwrap_or_else(|e| panic!("{e}"));
        let name = path.display();
        assert!(c.description.is_some(), "{name}: no description");
        let response = xmldiff::parse(c.response.as_bytes())
            .unwrap_or_else(|e| panic!("{name}/response.xml: {e}"));
        assert_eq!(response.ns.as_deref(), Some(xmldiff::SOAP11_NS), "{name}");
        let body = response
            .children
            .iter()
            .find(|e| e.name == "Body")
            .unwrap_or_else(|| panic!("{name}: no Body"));
        let payload = &body.children[0];
        let fault = payload.ns.as_deref() == Some(xmldiff::SOAP11_NS) && payload.name == "Fault";
        assert!(
            fault || payload.ns.as_deref() == Some(xmldiff::PAFORNODE_NS),
            "{name}"
        );
        assert_eq!(
            fault,
            c.status == 400,
            "{name}: a SOAP Fault goes with HTTP 400"
        );
        let primitive = case::primitive_of(path).unwrap();
        if !fault {
            let op = crate::domain::messages::Operation::from_soap_action(&primitive).unwrap();
            assert_eq!(payload.name, op.response_element(), "{name}");
            let outcome = &payload.children[0];
            assert_eq!(outcome.name, "outcome", "{name}");
            let has_fault = payload.children.iter().any(|e| e.name == "fault");
            assert_eq!(outcome.text == "KO", has_fault, "{name}: KO iff fault");
        }
        // Only a case expecting HTTP 400 may send something that is not XML.
        if c.status != 400 {
            xmldiff::parse(c.request.as_bytes())
                .unwrap_or_else(|e| panic!("{name}/request.xml: {e}"));
        }
        // Every file of the case, the requests its steps send included.
        for entry in fs::read_dir(path).unwrap() {
            let file = entry.unwrap().path();
            let text = fs::read_to_string(&file).unwrap();
            let file = file.file_name().unwrap().to_string_lossy().into_owned();
            for token in text.split("{{").skip(1) {
                let token = &token[..token.find("}}").unwrap()];
                if let Some(args) = token
                    .strip_prefix("IUV:")
                    .or_else(|| token.strip_prefix("NAV:"))
                {
                    let seg = &args[..2];
                    assert!(
                        ["01", "02", "47"].contains(&seg),
                        "{name}/{file}: segregation code {seg}"
                    );
                }
            }
        }
    }
}
