//! `gpd-gateway replay DIR --target URL`: replays recorded request/expected-response pairs
//! against a running gateway (or any endpoint speaking the same protocol) and prints a diff for
//! every answer that differs.
//!
//! For each case (see [`case`] for the layout): the debt positions of `positions.json` are
//! created over the REST API (with the API key of `--key`), the `[[step]]`s of `case.toml` run
//! (REST calls, earlier SOAP requests, pauses), `request.xml` is POSTed to `{target}/partner`,
//! the answer is compared with `response.xml` element by element ([`xmldiff`]) together with
//! the HTTP status, and the `[[after]]` steps check the effect, using values captured from the
//! answer (a notice number the server issued) where the case says so. Identifiers come from `{{…}}` tokens
//! ([`tokens`]) so that the same fixtures can be replayed again and again against one server.

pub mod case;
pub mod tokens;
pub mod xmldiff;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::client;
use case::{Case, Check, Step};
use tokens::Tokens;

/// What to replay and where: the `replay` command's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayOptions {
    /// A fixtures directory, a primitive directory or a single case directory.
    #[arg(help = "Fixture directory: all cases below it are run")]
    pub dir: PathBuf,
    /// Base URL of the gateway, e.g. `http://127.0.0.1:8080`.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080",
        help = "Base URL of the gateway"
    )]
    pub target: String,
    /// Only cases whose path contains this text.
    #[arg(long, help = "Run only the cases whose path contains this text")]
    pub filter: Option<String>,
    /// Also list the cases that pass (with their description), and for a failed case the
    /// request sent and the whole answer received. Without it only failures are printed.
    #[arg(long, help = "Print every case, not only the failures")]
    pub verbose: bool,
    /// Keep every answer received, as `<primitive>__<case>.xml` in this directory.
    #[arg(long, help = "Keep every answer received in this directory")]
    pub save: Option<PathBuf>,
    /// API key sent with the REST calls (`Ocp-Apim-Subscription-Key`); SOAP requests need none.
    #[arg(long, help = "API key for the REST calls that set cases up")]
    pub key: Option<String>,
}

/// The outcome of a replay: how many cases passed and failed, and everything printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    pub passed: usize,
    pub failed: usize,
    pub report: String,
}

/// A replay that could not start: the problem is with DIR (or the target URL), not a case.
#[derive(Debug)]
pub enum ReplayError {
    NotFound(PathBuf),
    NotADirectory(PathBuf),
    Unreadable(PathBuf, std::io::Error),
    NoCases {
        dir: PathBuf,
        filter: Option<String>,
    },
    BadTarget(String),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::NotFound(p) => write!(f, "{}: no such directory", p.display()),
            ReplayError::NotADirectory(p) => write!(f, "{}: not a directory", p.display()),
            ReplayError::Unreadable(p, e) => write!(f, "{}: {e}", p.display()),
            ReplayError::NoCases { dir, filter: None } => write!(
                f,
                "{}: no cases (a case is a directory holding {})",
                dir.display(),
                case::REQUEST
            ),
            ReplayError::NoCases {
                dir,
                filter: Some(filter),
            } => {
                write!(f, "{}: no case path contains '{filter}'", dir.display())
            }
            ReplayError::BadTarget(m) => write!(f, "--target: {m}"),
        }
    }
}

impl std::error::Error for ReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplayError::Unreadable(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Replays every case under `opts.dir`, printing each failed case with its differences (every
/// case with `verbose`) and a last line `N passed, N failed`.
pub async fn run(opts: &ReplayOptions, out: &mut dyn Write) -> Result<ReplaySummary, ReplayError> {
    let cases = select_cases(opts)?;
    check_target(&opts.target)?;
    if let Some(save) = &opts.save {
        std::fs::create_dir_all(save).map_err(|e| ReplayError::Unreadable(save.clone(), e))?;
    }
    let run_id = tokens::next_run_id();
    let mut report = Report {
        out,
        text: String::new(),
    };
    let (mut passed, mut failed) = (0, 0);
    for (index, dir) in cases.iter().enumerate() {
        let now = chrono::Utc::now().naive_utc();
        let name = dir.display().to_string();
        let loaded =
            Tokens::new(run_id, index as u64 + 1, now).and_then(|tokens| case::load(dir, &tokens));
        let (verdict, description) = match loaded {
            Ok(case) => (replay_case(opts, &case).await, case.description),
            Err(e) => (Verdict::failed(format!("fixture: {e}")), None),
        };
        if let (Some(save), Some(response)) = (&opts.save, &verdict.response) {
            let relative = dir.strip_prefix(&opts.dir).unwrap_or(dir);
            let file = relative.to_string_lossy().replace(['/', '\\'], "__");
            let file = save.join(format!(
                "{}.xml",
                if file.is_empty() { "case" } else { &file }
            ));
            std::fs::write(&file, &response.body).map_err(|e| ReplayError::Unreadable(file, e))?;
        }
        let mut block = String::new();
        if verdict.problems.is_empty() {
            passed += 1;
            if opts.verbose {
                block.push_str(&format!("ok   {name}\n"));
                push_description(&mut block, description.as_deref());
            }
        } else {
            failed += 1;
            block.push_str(&format!("FAIL {name}\n"));
            push_description(&mut block, description.as_deref());
            for problem in &verdict.problems {
                for line in problem.lines() {
                    block.push_str(&format!("    {line}\n"));
                }
            }
            if opts.verbose {
                if let Some(request) = &verdict.request {
                    block.push_str("    request sent:\n");
                    push_indented(&mut block, request);
                }
                if let Some(response) = &verdict.response {
                    block.push_str(&format!(
                        "    answer received (HTTP {}):\n",
                        response.status
                    ));
                    push_indented(&mut block, &response.body_text());
                }
            }
        }
        report.print(&block);
    }
    report.print(&format!("{passed} passed, {failed} failed\n"));
    Ok(ReplaySummary {
        passed,
        failed,
        report: report.text,
    })
}

fn push_description(block: &mut String, description: Option<&str>) {
    if let Some(d) = description {
        block.push_str(&format!("     {d}\n"));
    }
}

fn push_indented(block: &mut String, text: &str) {
    for line in text.lines() {
        block.push_str(&format!("      | {line}\n"));
    }
}

/// Prints to the caller's writer and keeps a copy. A writer that fails (a closed pipe) does not
/// stop the replay: the copy still holds everything.
struct Report<'a> {
    out: &'a mut dyn Write,
    text: String,
}

impl Report<'_> {
    fn print(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
        self.text.push_str(s);
    }
}

fn select_cases(opts: &ReplayOptions) -> Result<Vec<PathBuf>, ReplayError> {
    let dir = &opts.dir;
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReplayError::NotFound(dir.clone()));
        }
        Err(e) => return Err(ReplayError::Unreadable(dir.clone(), e)),
        Ok(m) if !m.is_dir() => return Err(ReplayError::NotADirectory(dir.clone())),
        Ok(_) => {}
    }
    let all = case::discover(dir).map_err(|e| ReplayError::Unreadable(dir.clone(), e))?;
    let selected: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| {
            opts.filter
                .as_deref()
                .is_none_or(|f| p.to_string_lossy().contains(f))
        })
        .collect();
    if selected.is_empty() {
        return Err(ReplayError::NoCases {
            dir: dir.clone(),
            filter: opts.filter.clone(),
        });
    }
    Ok(selected)
}

fn check_target(target: &str) -> Result<(), ReplayError> {
    client::check_base_url(target).map_err(|e| match e {
        client::ClientError::Url(m) => ReplayError::BadTarget(m),
        other => ReplayError::BadTarget(other.to_string()),
    })
}

/// What happened to one case.
#[derive(Debug, Default)]
struct Verdict {
    /// Empty when the case passed.
    problems: Vec<String>,
    request: Option<String>,
    response: Option<client::Response>,
}

impl Verdict {
    fn failed(problem: String) -> Verdict {
        Verdict {
            problems: vec![problem],
            ..Verdict::default()
        }
    }
}

async fn replay_case(opts: &ReplayOptions, case: &Case) -> Verdict {
    if let Err(problem) = set_up(opts, case).await {
        return Verdict::failed(format!("setup: {problem}"));
    }
    let sent = post_soap(
        &opts.target,
        &case.content_type,
        case.soap_action.as_deref(),
        &case.request,
    )
    .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            return Verdict {
                problems: vec![format!("POST /partner: {e}")],
                request: Some(case.request.clone()),
                response: None,
            };
        }
    };
    let mut problems = check_answer(case, &response);
    match captured(case, &response) {
        // Run whatever the answer was: the effect on the server tells more about a difference.
        Ok(values) => {
            let after: Vec<Step> = case.after.iter().map(|s| s.with_values(&values)).collect();
            if let Err(problem) = run_steps(opts, case, &after).await {
                problems.push(format!("after: {problem}"));
            }
        }
        Err(problem) => problems.push(problem),
    }
    Verdict {
        problems,
        request: Some(case.request.clone()),
        response: Some(response),
    }
}

async fn post_soap(
    target: &str,
    content_type: &str,
    soap_action: Option<&str>,
    request: &str,
) -> Result<client::Response, client::ClientError> {
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(action) = soap_action {
        headers.push(("SOAPAction", action));
    }
    client::send(
        target,
        "POST",
        "/partner",
        &headers,
        request.as_bytes().to_vec(),
    )
    .await
}

/// Compares an answer with the case's expectations: HTTP status and body.
fn check_answer(case: &Case, response: &client::Response) -> Vec<String> {
    let mut problems = Vec::new();
    if response.status != case.status {
        problems.push(format!(
            "HTTP status differs\n    expected: {}\n    actual:   {}",
            case.status, response.status
        ));
    }
    let expected = match xmldiff::parse(case.response.as_bytes()) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("fixture: {} is not XML: {e}", case::RESPONSE));
            return problems;
        }
    };
    let mut ignore = case.ignore.clone();
    ignore.extend(case.capture.iter().map(|c| c.path.clone()));
    match xmldiff::parse(&response.body) {
        Ok(actual) => problems.extend(
            xmldiff::compare(&expected, &actual, &ignore)
                .iter()
                .map(ToString::to_string),
        ),
        Err(e) => problems.push(format!(
            "the answer is not XML ({e}); it begins:\n    {}",
            excerpt(&response.body_text(), 300)
        )),
    }
    problems
}

fn excerpt(text: &str, max: usize) -> String {
    let mut s: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        s.push('…');
    }
    s.replace('\n', "\n    ")
}

/// Creates the case's positions and runs its steps; the error says which call failed and why.
async fn set_up(opts: &ReplayOptions, case: &Case) -> Result<(), String> {
    let path = format!(
        "/organizations/{}/debtpositions?toPublish={}",
        case.organization, case.publish
    );
    let created = Check::default();
    for position in &case.positions {
        let body = serde_json::to_vec(position).expect("a JSON value serialises");
        call(opts, "POST", &path, Some(body), &created).await?;
    }
    run_steps(opts, case, &case.steps).await
}

/// Runs steps in order, stopping at the first that fails.
async fn run_steps(opts: &ReplayOptions, case: &Case, steps: &[Step]) -> Result<(), String> {
    for step in steps {
        match step {
            Step::Sleep { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Step::Call {
                method,
                path,
                body,
                check,
            } => {
                let body = body.as_ref().map(|b| b.clone().into_bytes());
                call(opts, method, path, body, check).await?;
            }
            Step::Soap {
                file,
                request,
                soap_action,
                check,
                outcome,
            } => {
                let what = format!("POST /partner ({file})");
                let response = post_soap(
                    &opts.target,
                    &case.content_type,
                    soap_action.as_deref(),
                    request,
                )
                .await
                .map_err(|e| format!("{what}: {e}"))?;
                check_step(&what, &response, check)?;
                if let Some(wanted) = outcome {
                    let actual = outcome_of(&response.body);
                    if actual.as_deref() != Some(wanted.as_str()) {
                        return Err(format!(
                            "{what} answered outcome {} (expected {wanted}): {}",
                            actual.as_deref().unwrap_or("(none)"),
                            excerpt(response.body_text().trim(), 500)
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The values the case captures from the answer, as (`{{NAME}}`, text).
fn captured(case: &Case, response: &client::Response) -> Result<Vec<(String, String)>, String> {
    if case.capture.is_empty() {
        return Ok(Vec::new());
    }
    let payload = xmldiff::parse(&response.body).ok().and_then(|envelope| {
        envelope
            .children
            .into_iter()
            .find(|e| e.name == "Body")?
            .children
            .into_iter()
            .next()
    });
    case.capture
        .iter()
        .map(|c| {
            let mut element = payload.as_ref();
            for name in c.path.trim_matches('/').split('/') {
                element = element.and_then(|e| e.children.iter().find(|x| x.name == name));
            }
            match element.map(|e| e.text.trim()) {
                Some(text) if !text.is_empty() => {
                    Ok((format!("{{{{{}}}}}", c.name), text.to_owned()))
                }
                _ => Err(format!(
                    "capture {}: the answer has no text at {}",
                    c.name, c.path
                )),
            }
        })
        .collect()
}

/// The text of `outcome` in the SOAP Body's payload, if the answer has one.
fn outcome_of(body: &[u8]) -> Option<String> {
    let envelope = xmldiff::parse(body).ok()?;
    let payload = envelope
        .children
        .iter()
        .find(|e| e.name == "Body")?
        .children
        .first()?;
    payload
        .children
        .iter()
        .find(|e| e.name == "outcome")
        .map(|e| e.text.clone())
}

/// One REST call, checked against `check`.
async fn call(
    opts: &ReplayOptions,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    check: &Check,
) -> Result<(), String> {
    let mut headers = vec![("Accept", "application/json")];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    if let Some(key) = &opts.key {
        headers.push(("Ocp-Apim-Subscription-Key", key));
    }
    let what = format!("{method} {path}");
    let response = client::send(
        &opts.target,
        method,
        path,
        &headers,
        body.unwrap_or_default(),
    )
    .await
    .map_err(|e| format!("{what}: {e}"))?;
    check_step(&what, &response, check)
}

/// A step's answer must have the status of `check` (any 2xx when unset) and contain its text.
fn check_step(what: &str, response: &client::Response, check: &Check) -> Result<(), String> {
    let status_ok = match check.status {
        Some(status) => response.status == status,
        None => (200..300).contains(&response.status),
    };
    if !status_ok {
        let wanted = check.status.map_or("2xx".to_owned(), |s| s.to_string());
        return Err(format!(
            "{what} answered {} (expected {wanted}): {}",
            response.status,
            excerpt(response.body_text().trim(), 500)
        ));
    }
    if let Some(text) = &check.body_contains
        && !response.body_text().contains(text.as_str())
    {
        return Err(format!(
            "{what} answered {} without `{text}`: {}",
            response.status,
            excerpt(response.body_text().trim(), 500)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
