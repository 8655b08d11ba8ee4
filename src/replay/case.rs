//! Fixture cases on disk: finding them under a directory and reading one case's files (after
//! token expansion) into what the runner needs.
//!
//! A case is a directory holding `request.xml`; beside it `response.xml` (required),
//! `positions.json` and `case.toml` (both optional), and any SOAP request a step sends. The
//! directory above a case names the primitive, which is also the default SOAPAction.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::tokens::Tokens;

pub const REQUEST: &str = "request.xml";
pub const RESPONSE: &str = "response.xml";
pub const POSITIONS: &str = "positions.json";
pub const SETTINGS: &str = "case.toml";

pub const DEFAULT_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
pub const DEFAULT_ORGANIZATION: &str = "77777777777";

/// Every directory at or below `dir` holding a `request.xml`, sorted by path. Hidden
/// directories (`.name`) are skipped; a case's own subdirectories are not searched.
pub fn discover(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut cases = Vec::new();
    walk(dir, &mut cases)?;
    cases.sort();
    Ok(cases)
}

fn walk(dir: &Path, cases: &mut Vec<PathBuf>) -> io::Result<()> {
    if dir.join(REQUEST).is_file() {
        cases.push(dir.to_path_buf());
        return Ok(());
    }
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type()?.is_dir() {
            subdirs.push(entry.path());
        }
    }
    subdirs.sort();
    for sub in subdirs {
        walk(&sub, cases)?;
    }
    Ok(())
}

/// `case.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SettingsFile {
    description: Option<String>,
    soap_action: Option<SoapActionSetting>,
    content_type: Option<String>,
    organization: Option<String>,
    publish: Option<bool>,
    status: Option<u16>,
    ignore: Vec<String>,
    capture: BTreeMap<String, String>,
    step: Vec<StepFile>,
    after: Vec<StepFile>,
}

/// Only the `capture` table of `case.toml`, read before anything is expanded.
#[derive(Debug, Default, Deserialize)]
struct CaptureNames {
    #[serde(default)]
    capture: BTreeMap<String, toml::Value>,
}

/// A value of the answer that the server chose (a notice number it issued): the element at
/// `path` below the payload must be there, its text is not compared, and `[[after]]` steps
/// name it `{{NAME}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SoapActionSetting {
    Value(String),
    /// `false`: send no SOAPAction; `true`: the default.
    Send(bool),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    method: Option<String>,
    path: Option<String>,
    body: Option<String>,
    soap: Option<String>,
    soap_action: Option<SoapActionSetting>,
    expect: Option<u16>,
    expect_outcome: Option<String>,
    expect_body_contains: Option<String>,
    sleep_ms: Option<u64>,
}

/// Something to do before the request (`[[step]]`) or after its answer was compared
/// (`[[after]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A REST call.
    Call {
        method: String,
        path: String,
        body: Option<String>,
        check: Check,
    },
    /// A SOAP request POSTed to /partner, read from `file` in the case directory.
    Soap {
        file: String,
        request: String,
        /// Sent verbatim; `None` sends none.
        soap_action: Option<String>,
        check: Check,
        /// `OK` or `KO`: the text the answer's `outcome` must have.
        outcome: Option<String>,
    },
    Sleep {
        ms: u64,
    },
}

impl Step {
    /// The step with each `(token, value)` put in: the values captured from the answer.
    pub fn with_values(&self, values: &[(String, String)]) -> Step {
        let put = |text: &str| {
            values
                .iter()
                .fold(text.to_owned(), |t, (token, value)| t.replace(token, value))
        };
        let check = |c: &Check| Check {
            status: c.status,
            body_contains: c.body_contains.as_deref().map(put),
        };
        match self {
            Step::Call {
                method,
                path,
                body,
                check: c,
            } => Step::Call {
                method: method.clone(),
                path: put(path),
                body: body.as_deref().map(put),
                check: check(c),
            },
            Step::Soap {
                file,
                request,
                soap_action,
                check: c,
                outcome,
            } => Step::Soap {
                file: file.clone(),
                request: put(request),
                soap_action: soap_action.clone(),
                check: check(c),
                outcome: outcome.clone(),
            },
            Step::Sleep { ms } => Step::Sleep { ms: *ms },
        }
    }
}

/// What a step's answer must show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// The HTTP status; any 2xx when unset.
    pub status: Option<u16>,
    /// Text the body must contain.
    pub body_contains: Option<String>,
}

/// A case ready to run: settings with defaults applied, files read and tokens expanded.
#[derive(Debug, Clone)]
pub struct Case {
    pub description: Option<String>,
    /// The SOAPAction header value, sent verbatim; `None` sends none.
    pub soap_action: Option<String>,
    pub content_type: String,
    pub organization: String,
    pub publish: bool,
    pub status: u16,
    pub ignore: Vec<String>,
    pub capture: Vec<Capture>,
    pub steps: Vec<Step>,
    /// Checks run once the answer was compared.
    pub after: Vec<Step>,
    /// Each debt position to create, as JSON.
    pub positions: Vec<serde_json::Value>,
    pub request: String,
    pub response: String,
}

/// The primitive a case belongs to: the name of the directory above it.
pub fn primitive_of(case_dir: &Path) -> Option<String> {
    let full = fs::canonicalize(case_dir).unwrap_or_else(|_| case_dir.to_path_buf());
    full.parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
}

fn read(dir: &Path, name: &str, tokens: &Tokens) -> Result<Option<String>, String> {
    let path = dir.join(name);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    tokens
        .expand(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The names a case captures from its answer, checked: capital letters, digits and `_`,
/// none a built-in token's.
fn capture_names(dir: &Path) -> Result<Vec<String>, String> {
    let file = dir.join(SETTINGS);
    let text = match fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    // A file that does not parse is reported once expanded, with the other settings.
    let Ok(settings) = toml::from_str::<CaptureNames>(&text) else {
        return Ok(Vec::new());
    };
    let names: Vec<String> = settings.capture.into_keys().collect();
    for name in &names {
        let valid = name.starts_with(|c: char| c.is_ascii_uppercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid || Tokens::is_builtin(name) {
            return Err(format!(
                "{}: capture {name}: a name is capital letters, digits and '_', and not RUN, IUV, NAV, NOW or TODAY",
                file.display()
            ));
        }
    }
    Ok(names)
}

/// Reads the case in `dir`; the error says which file is wrong and why.
pub fn load(dir: &Path, tokens: &Tokens) -> Result<Case, String> {
    let names = capture_names(dir)?;
    let tokens = &tokens.deferring(names.clone());
    let request = read(dir, REQUEST, tokens)?
        .ok_or_else(|| format!("{}: missing", dir.join(REQUEST).display()))?;
    let response = read(dir, RESPONSE, tokens)?
        .ok_or_else(|| format!("{}: missing", dir.join(RESPONSE).display()))?;
    let settings: SettingsFile = match read(dir, SETTINGS, tokens)? {
        Some(text) => {
            toml::from_str(&text).map_err(|e| format!("{}: {e}", dir.join(SETTINGS).display()))?
        }
        None => SettingsFile::default(),
    };
    let positions = match read(dir, POSITIONS, tokens)? {
        Some(text) => {
            let file = dir.join(POSITIONS);
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            match value {
                serde_json::Value::Array(items) => items,
                _ => {
                    return Err(format!(
                        "{}: must be a JSON array of debt positions",
                        file.display()
                    ));
                }
            }
        }
        None => Vec::new(),
    };
    let primitive = || {
        primitive_of(dir).ok_or_else(|| {
            format!(
                "{}: no parent directory to take the SOAPAction from",
                dir.display()
            )
        })
    };
    let soap_action = match settings.soap_action {
        Some(SoapActionSetting::Value(v)) => Some(v),
        Some(SoapActionSetting::Send(false)) => None,
        None | Some(SoapActionSetting::Send(true)) => Some(primitive()?),
    };
    let steps_of = |list: Vec<StepFile>, table: &str| {
        list.into_iter()
            .enumerate()
            .map(|(i, s)| {
                step(s, dir, tokens, &soap_action, &primitive).map_err(|e| {
                    format!("{}: {table} {}: {e}", dir.join(SETTINGS).display(), i + 1)
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let steps = steps_of(settings.step, "step")?;
    let after = steps_of(settings.after, "after")?;
    // Captured values exist only once the answer is in.
    let early = [
        (REQUEST, request.clone()),
        (RESPONSE, response.clone()),
        (POSITIONS, serde_json::to_string(&positions).expect("JSON")),
        ("[[step]]", format!("{steps:?}")),
    ];
    for name in &names {
        let token = format!("{{{{{name}}}}}");
        if let Some((file, _)) = early.iter().find(|(_, text)| text.contains(&token)) {
            return Err(format!(
                "{}: {token} is captured from the answer: only [[after]] steps can use it",
                dir.join(file).display()
            ));
        }
    }
    let capture = settings
        .capture
        .into_iter()
        .map(|(name, path)| Capture { name, path })
        .collect();
    Ok(Case {
        description: settings.description,
        soap_action,
        content_type: settings
            .content_type
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        organization: settings
            .organization
            .unwrap_or_else(|| DEFAULT_ORGANIZATION.to_owned()),
        publish: settings.publish.unwrap_or(true),
        status: settings.status.unwrap_or(200),
        ignore: settings.ignore,
        capture,
        steps,
        after,
        positions,
        request,
        response,
    })
}

const STEP_SHAPES: &str = "a step is { method, path, body?, expect?, expect_body_contains? }, \
     { soap, soap_action?, expect?, expect_outcome?, expect_body_contains? } or { sleep_ms }";

fn step(
    s: StepFile,
    dir: &Path,
    tokens: &Tokens,
    case_action: &Option<String>,
    primitive: &dyn Fn() -> Result<String, String>,
) -> Result<Step, String> {
    let StepFile {
        method,
        path,
        body,
        soap,
        soap_action,
        expect,
        expect_outcome,
        expect_body_contains,
        sleep_ms,
    } = s;
    let check = Check {
        status: expect,
        body_contains: expect_body_contains,
    };
    if let Some(ms) = sleep_ms {
        let alone = method.is_none()
            && path.is_none()
            && body.is_none()
            && soap.is_none()
            && soap_action.is_none()
            && expect_outcome.is_none()
            && check == Check::default();
        return if alone {
            Ok(Step::Sleep { ms })
        } else {
            Err("sleep_ms goes alone in its step".to_owned())
        };
    }
    match (method, path, soap) {
        (None, None, Some(file)) if body.is_none() => {
            // Only a file beside request.xml: a case stays one self-contained directory.
            if file.is_empty() || file.contains(['/', '\\']) || file.starts_with('.') {
                return Err(format!(
                    "soap '{file}' must name a file in the case directory"
                ));
            }
            let request = read(dir, &file, tokens)?
                .ok_or_else(|| format!("{}: missing", dir.join(&file).display()))?;
            if let Some(outcome) = &expect_outcome
                && outcome != "OK"
                && outcome != "KO"
            {
                return Err(format!("expect_outcome '{outcome}' must be OK or KO"));
            }
            let soap_action = match soap_action {
                None => case_action.clone(),
                Some(SoapActionSetting::Value(v)) => Some(v),
                Some(SoapActionSetting::Send(false)) => None,
                Some(SoapActionSetting::Send(true)) => Some(primitive()?),
            };
            Ok(Step::Soap {
                file,
                request,
                soap_action,
                check,
                outcome: expect_outcome,
            })
        }
        (Some(method), Some(path), None) if soap_action.is_none() && expect_outcome.is_none() => {
            if !path.starts_with('/') {
                return Err(format!("path '{path}' must start with /"));
            }
            if let Some(body) = &body {
                serde_json::from_str::<serde_json::Value>(body)
                    .map_err(|e| format!("body is not JSON: {e}"))?;
            }
            Ok(Step::Call {
                method: method.to_ascii_uppercase(),
                path,
                body,
                check,
            })
        }
        _ => Err(STEP_SHAPES.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn tokens() -> Tokens {
        let now = NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        Tokens::new(123, 4, now).unwrap()
    }

    fn write(dir: &Path, name: &str, text: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn discovery_finds_every_case_in_order() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(&r.join("paGetPayment/ok"), REQUEST, "<a/>");
        write(&r.join("paGetPayment/ko"), REQUEST, "<a/>");
        write(&r.join("paVerifyPaymentNotice/ok"), REQUEST, "<a/>");
        write(&r.join("paVerifyPaymentNotice/ok/nested"), REQUEST, "<a/>");
        write(
            &r.join("paVerifyPaymentNotice/notes"),
            "README",
            "no request here",
        );
        write(&r.join(".hidden/case"), REQUEST, "<a/>");
        let found = discover(r).unwrap();
        assert_eq!(
            found,
            vec![
                r.join("paGetPayment/ko"),
                r.join("paGetPayment/ok"),
                r.join("paVerifyPaymentNotice/ok"),
            ]
        );
        // A primitive directory or a single case directory works too.
        assert_eq!(discover(&r.join("paGetPayment")).unwrap().len(), 2);
        assert_eq!(
            discover(&r.join("paGetPayment/ok")).unwrap(),
            vec![r.join("paGetPayment/ok")]
        );
        assert_eq!(
            discover(&r.join("paVerifyPaymentNotice/notes")).unwrap(),
            Vec::<PathBuf>::new()
        );
        assert!(discover(&r.join("missing")).is_err());
        assert_eq!(
            primitive_of(&r.join("paGetPayment/ok")).as_deref(),
            Some("paGetPayment")
        );
    }

    #[test]
    fn captured_values_are_left_for_the_after_steps() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("paDemandPaymentNotice/ok");
        write(&dir, REQUEST, "<r>{{RUN}}</r>");
        write(&dir, RESPONSE, "<r/>");
        write(&dir, "verify.xml", "<v>{{NOTICE}} {{RUN}}</v>");
        write(
            &dir,
            SETTINGS,
            r#"
capture = { NOTICE = "qrCode/noticeNumber" }
[[after]]
soap = "verify.xml"
soap_action = "paVerifyPaymentNotice"
expect_body_contains = "<noticeNumber>{{NOTICE}}</noticeNumber>"
"#,
        );
        let case = load(&dir, &tokens()).unwrap();
        assert_eq!(
            case.capture,
            vec![Capture {
                name: "NOTICE".into(),
                path: "qrCode/noticeNumber".into()
            }]
        );
        let values = [("{{NOTICE}}".to_owned(), "301".to_owned())];
        match case.after[0].with_values(&values) {
            Step::Soap { request, check, .. } => {
                assert_eq!(request, "<v>301 000123</v>");
                assert_eq!(
                    check.body_contains.as_deref(),
                    Some("<noticeNumber>301</noticeNumber>")
                );
            }
            other => panic!("{other:?}"),
        }
        // Not before the answer, and not under a built-in token's name.
        write(&dir, REQUEST, "<r>{{NOTICE}}</r>");
        let e = load(&dir, &tokens()).unwrap_err();
        assert!(e.contains("only [[after]] steps"), "{e}");
        write(&dir, REQUEST, "<r/>");
        write(&dir, SETTINGS, "capture = { RUN = \"a\" }");
        assert!(load(&dir, &tokens()).unwrap_err().contains("capture RUN"));
        write(&dir, SETTINGS, "capture = { notice = \"a\" }");
        assert!(
            load(&dir, &tokens())
                .unwrap_err()
                .contains("capture notice")
        );
    }

    #[test]
    fn defaults_apply() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("paGetPaymentV2/ok");
        write(&dir, REQUEST, "<r>{{NAV:01:1}}</r>");
        write(&dir, RESPONSE, "<r>{{IUV:01:1}}</r>");
        let case = load(&dir, &tokens()).unwrap();
        assert_eq!(case.soap_action.as_deref(), Some("paGetPaymentV2"));
        assert_eq!(case.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(case.organization, "77777777777");
        assert!(case.publish);
        assert_eq!(case.status, 200);
        assert!(case.ignore.is_empty() && case.steps.is_empty() && case.positions.is_empty());
        assert!(case.after.is_empty());
        let iuv = tokens().expand("{{IUV:01:1}}").unwrap();
        assert_eq!(case.request, format!("<r>3{iuv}</r>"));
        assert_eq!(case.response, format!("<r>{iuv}</r>"));
    }

    #[test]
    fn settings_are_read_and_expanded() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("paVerifyPaymentNotice/invalid");
        write(&dir, REQUEST, "<r/>");
        write(&dir, RESPONSE, "<r/>");
        write(
            &dir,
            POSITIONS,
            r#"[{"iupd": "i-{{RUN}}", "paymentOption": [{"dueDate": "{{NOW+60s}}"}]}]"#,
        );
        write(
            &dir,
            SETTINGS,
            r#"
description = "an invalidated position"
soap_action = '"paVerifyPaymentNotice"'
content_type = "application/xml"
organization = "88888888888"
publish = false
status = 400
ignore = ["fault/faultString", "fault/description"]

[[step]]
method = "post"
path = "/organizations/88888888888/debtpositions/i-{{RUN}}/invalidate"
expect = 200

[[step]]
sleep_ms = 10

[[step]]
method = "POST"
path = "/organizations/88888888888/paymentoptions/paids/{{NAV:47:1}}"
body = '{"paymentDate": "{{NOW-10s}}"}'
"#,
        );
        let t = tokens();
        let case = load(&dir, &t).unwrap();
        assert_eq!(case.description.as_deref(), Some("an invalidated position"));
        assert_eq!(
            case.soap_action.as_deref(),
            Some("\"paVerifyPaymentNotice\"")
        );
        assert_eq!(case.content_type, "application/xml");
        assert_eq!(case.organization, "88888888888");
        assert!(!case.publish);
        assert_eq!(case.status, 400);
        assert_eq!(case.ignore, vec!["fault/faultString", "fault/description"]);
        assert_eq!(
            case.steps,
            vec![
                Step::Call {
                    method: "POST".into(),
                    path: "/organizations/88888888888/debtpositions/i-000123/invalidate".into(),
                    body: None,
                    check: Check {
                        status: Some(200),
                        body_contains: None,
                    },
                },
                Step::Sleep { ms: 10 },
                Step::Call {
                    method: "POST".into(),
                    path: format!(
                        "/organizations/88888888888/paymentoptions/paids/{}",
                        t.expand("{{NAV:47:1}}").unwrap()
                    ),
                    body: Some("{\"paymentDate\": \"2025-01-01T09:59:50\"}".into()),
                    check: Check::default(),
                },
            ]
        );
        assert_eq!(case.positions.len(), 1);
        assert_eq!(case.positions[0]["iupd"], "i-000123");
        assert_eq!(
            case.positions[0]["paymentOption"][0]["dueDate"],
            "2025-01-01T10:01:00"
        );
    }

    #[test]
    fn soap_steps_and_after_checks_are_read() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("paSendRTV2/again");
        write(&dir, REQUEST, "<r>{{RUN}}</r>");
        write(&dir, RESPONSE, "<r/>");
        write(&dir, "first.xml", "<first>{{NAV:01:1}}</first>");
        write(
            &dir,
            SETTINGS,
            r#"
soap_action = '"paSendRTV2"'

[[step]]
soap = "first.xml"
expect_outcome = "OK"

[[step]]
soap = "request.xml"
soap_action = "paSendRT"
expect = 200
expect_body_contains = "PAA_RECEIPT_DUPLICATA"
expect_outcome = "KO"

[[step]]
soap = "first.xml"
soap_action = false

[[step]]
soap = "first.xml"
soap_action = true

[[after]]
method = "get"
path = "/organizations/77777777777/receipts/{{IUV:01:1}}"
expect_body_contains = "r-{{RUN}}"

[[after]]
sleep_ms = 5
"#,
        );
        let t = tokens();
        let case = load(&dir, &t).unwrap();
        let first = format!("<first>{}</first>", t.expand("{{NAV:01:1}}").unwrap());
        let soap =
            |file: &str, request: &str, action: Option<&str>, check, outcome: Option<&str>| {
                Step::Soap {
                    file: file.into(),
                    request: request.into(),
                    soap_action: action.map(Into::into),
                    check,
                    outcome: outcome.map(Into::into),
                }
            };
        assert_eq!(
            case.steps,
            vec![
                // The case's own SOAPAction unless the step has one.
                soap(
                    "first.xml",
                    &first,
                    Some("\"paSendRTV2\""),
                    Check::default(),
                    Some("OK")
                ),
                soap(
                    "request.xml",
                    "<r>000123</r>",
                    Some("paSendRT"),
                    Check {
                        status: Some(200),
                        body_contains: Some("PAA_RECEIPT_DUPLICATA".into()),
                    },
                    Some("KO")
                ),
                soap("first.xml", &first, None, Check::default(), None),
                soap(
                    "first.xml",
                    &first,
                    Some("paSendRTV2"),
                    Check::default(),
                    None
                ),
            ]
        );
        assert_eq!(
            case.after,
            vec![
                Step::Call {
                    method: "GET".into(),
                    path: format!(
                        "/organizations/77777777777/receipts/{}",
                        t.expand("{{IUV:01:1}}").unwrap()
                    ),
                    body: None,
                    check: Check {
                        status: None,
                        body_contains: Some("r-000123".into()),
                    },
                },
                Step::Sleep { ms: 5 },
            ]
        );

        // A step's file is read with the tokens expanded, so an unknown one names that file.
        write(&dir, "first.xml", "<first>{{NAV:1:1}}</first>");
        let e = load(&dir, &t).unwrap_err();
        assert!(e.contains("first.xml") && e.contains("step 1"), "{e}");
    }

    #[test]
    fn soap_action_can_be_turned_off() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("paGetPayment/no_action");
        write(&dir, REQUEST, "<r/>");
        write(&dir, RESPONSE, "<r/>");
        write(&dir, SETTINGS, "soap_action = false\n");
        assert_eq!(load(&dir, &tokens()).unwrap().soap_action, None);
    }

    #[test]
    fn errors_name_the_file() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("p/c");
        write(&dir, REQUEST, "<r>{{WHAT}}</r>");
        write(&dir, RESPONSE, "<r/>");
        let e = load(&dir, &tokens()).unwrap_err();
        assert!(e.contains("request.xml") && e.contains("{{WHAT}}"), "{e}");

        write(&dir, REQUEST, "<r/>");
        write(&dir, POSITIONS, "{\"iupd\": \"x\"}");
        let e = load(&dir, &tokens()).unwrap_err();
        assert!(e.contains("positions.json") && e.contains("array"), "{e}");

        fs::remove_file(dir.join(POSITIONS)).unwrap();
        for (toml, what) in [
            ("colour = 1", "colour"),
            ("[[step]]\nsleep_ms = 1\nmethod = \"GET\"", "alone"),
            ("[[step]]\nmethod = \"GET\"", "a step is"),
            ("[[step]]\nsleep_ms = 1\nexpect = 200", "alone"),
            (
                "[[step]]\nmethod = \"GET\"\npath = \"/x\"\nexpect_outcome = \"OK\"",
                "a step is",
            ),
            (
                "[[step]]\nsoap = \"first.xml\"\nmethod = \"GET\"\npath = \"/x\"",
                "a step is",
            ),
            ("[[step]]\nsoap = \"first.xml\"\nbody = \"{}\"", "a step is"),
            ("[[step]]\nsoap = \"first.xml\"", "first.xml: missing"),
            (
                "[[step]]\nsoap = \"../c/request.xml\"",
                "in the case directory",
            ),
            (
                "[[step]]\nsoap = \"request.xml\"\nexpect_outcome = \"ok\"",
                "OK or KO",
            ),
            (
                "[[after]]\nmethod = \"GET\"\npath = \"x\"",
                "after 1: path 'x'",
            ),
            (
                "[[after]]\nsleep_ms = 1\n[[after]]\nsoap = \"\"",
                "after 2: soap ''",
            ),
            (
                "[[step]]\nmethod = \"POST\"\npath = \"/x\"\nbody = \"{\"",
                "JSON",
            ),
            ("[[step]]\nmethod = \"POST\"\npath = \"x\"", "start with /"),
            ("status = \"200\"", "status"),
        ] {
            write(&dir, SETTINGS, toml);
            let e = load(&dir, &tokens()).unwrap_err();
            assert!(e.contains("case.toml") && e.contains(what), "{toml}: {e}");
        }

        fs::remove_file(dir.join(SETTINGS)).unwrap();
        fs::remove_file(dir.join(RESPONSE)).unwrap();
        let e = load(&dir, &tokens()).unwrap_err();
        assert!(e.contains("response.xml") && e.contains("missing"), "{e}");
    }
}
