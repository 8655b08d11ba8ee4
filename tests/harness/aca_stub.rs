//! A fake central notices archive (GPD-for-ACA) behind [`PlatformStub`]: positions kept in
//! memory by IUPD, with GPD's statuses and answers (409 for a duplicate or a state that forbids
//! the step, 404 for what is not there), its paged list, and what a test makes of it: the next
//! calls failing, every answer slowed down, positions put in or taken out behind the mirror's
//! back. Every call that changed something is kept in order, as `(step, iupd or nav)`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::platform_stub::{Answer, Call, PlatformStub};

pub const DOCUMENT: &str = "pagopa-api/openapi/gpd-4-aca.json";
pub const BASE: &str = "/aca/debt-positions-service/v1";

const POSITIONS: &str = "/organizations/{organizationfiscalcode}/debtpositions";
const POSITION: &str = "/organizations/{organizationfiscalcode}/debtpositions/{iupd}";
const PUBLISH: &str = "/organizations/{organizationfiscalcode}/debtpositions/{iupd}/publish";
const INVALIDATE: &str = "/organizations/{organizationfiscalcode}/debtpositions/{iupd}/invalidate";
const PAID: &str = "/organizations/{organizationfiscalcode}/paymentoptions/paids/{nav}";

/// One position as the archive holds it: what was sent, its status, its options paid.
#[derive(Debug, Clone)]
pub struct Held {
    pub body: Value,
    pub status: String,
    pub paid: Vec<String>,
}

#[derive(Default)]
pub struct State {
    pub positions: BTreeMap<String, Held>,
    /// The statuses the next calls answer instead (of any kind), in order.
    pub failures: VecDeque<u16>,
    pub delay: Duration,
    /// The changes made, in order: ("create", iupd), ("update", iupd), ("publish", iupd),
    /// ("invalidate", iupd), ("delete", iupd), ("paid", nav).
    pub log: Vec<(String, String)>,
    /// List calls answered.
    pub lists: usize,
}

pub struct FakeArchive {
    pub stub: PlatformStub,
    pub state: Arc<Mutex<State>>,
}

fn problem(status: u16, detail: &str) -> Answer {
    let title = match status {
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        _ => "Internal Server Error",
    };
    Answer::json(
        status,
        json!({"title": title, "status": status, "detail": detail}),
    )
}

fn shown(h: &Held) -> Value {
    let mut body = h.body.clone();
    body["status"] = json!(h.status);
    body
}

impl FakeArchive {
    pub async fn start() -> FakeArchive {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let stub = PlatformStub::start(DOCUMENT, BASE, move |call| {
            let mut s = shared.lock().unwrap();
            let delay = s.delay;
            let answer = match s.failures.pop_front() {
                Some(401) => Answer::empty(401),
                Some(status) => problem(status, "made to fail"),
                None => answer(&mut s, call),
            };
            answer.after(delay)
        })
        .await;
        FakeArchive { stub, state }
    }

    pub fn url(&self) -> String {
        self.stub.url()
    }

    pub fn log(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().log.clone()
    }

    /// The steps logged for one IUPD (or notice number), in order.
    pub fn steps_of(&self, key: &str) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|(_, k)| k == key)
            .map(|(step, _)| step)
            .collect()
    }

    pub fn held(&self, iupd: &str) -> Option<Held> {
        self.state.lock().unwrap().positions.get(iupd).cloned()
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().failures.extend(statuses);
    }

    pub fn slow_down(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Waits until `done` holds for the archive; panics with its log after `within`.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            {
                let s = self.state.lock().unwrap();
                if done(&s) {
                    return;
                }
                if tokio::time::Instant::now() >= deadline {
                    panic!("the archive is not as expected; log: {:?}", s.log);
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn answer(s: &mut State, call: &Call) -> Answer {
    let publish = call.query("toPublish") == Some("true");
    let published = if publish { "VALID" } else { "DRAFT" };
    if call.matches("GET", POSITIONS).is_some() {
        s.lists += 1;
        let limit: usize = call
            .query("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(10);
        let page: usize = call.query("page").and_then(|p| p.parse().ok()).unwrap_or(0);
        let all: Vec<&Held> = s.positions.values().collect();
        let items: Vec<Value> = all
            .iter()
            .skip(page * limit)
            .take(limit)
            .map(|h| {
                let options: Vec<Value> = h.body["paymentOption"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        let nav = o["nav"].as_str().unwrap_or_default().to_owned();
                        let paid = h.paid.contains(&nav);
                        json!({
                            "nav": nav, "iuv": o["iuv"], "amount": o["amount"],
                            "dueDate": o["dueDate"],
                            "status": if paid { "PO_PAID" } else { "PO_UNPAID" },
                        })
                    })
                    .collect();
                json!({
                    "iupd": h.body["iupd"], "companyName": h.body["companyName"],
                    "status": h.status, "paymentOption": options,
                })
            })
            .collect();
        let found = all.len();
        return Answer::json(
            200,
            json!({
                "payment_position_list": items,
                "page_info": {
                    "page": page, "limit": limit, "items_found": found,
                    "total_pages": found.div_ceil(limit.max(1)).max(1),
                },
            }),
        );
    }
    if call.matches("POST", POSITIONS).is_some() {
        let body = call.body.clone().unwrap_or_default();
        let iupd = body["iupd"].as_str().unwrap_or_default().to_owned();
        if s.positions.contains_key(&iupd) {
            return problem(409, "duplicate debt position");
        }
        let held = Held {
            body,
            status: published.into(),
            paid: Vec::new(),
        };
        let answer = Answer::json(201, shown(&held));
        s.positions.insert(iupd.clone(), held);
        s.log.push(("create".into(), iupd));
        return answer;
    }
    if let Some(p) = call.matches("PUT", POSITION) {
        let iupd = &p["iupd"];
        let Some(held) = s.positions.get_mut(iupd) else {
            return problem(404, "no such position");
        };
        if held.status == "INVALID" || !held.paid.is_empty() {
            return problem(409, "not in an updatable state");
        }
        held.body = call.body.clone().unwrap_or_default();
        held.status = published.into();
        let answer = Answer::json(200, shown(held));
        s.log.push(("update".into(), iupd.clone()));
        return answer;
    }
    if let Some(p) = call.matches("DELETE", POSITION) {
        let iupd = &p["iupd"];
        match s.positions.get(iupd) {
            None => return problem(404, "no such position"),
            Some(h) if !h.paid.is_empty() => return problem(409, "not deletable"),
            Some(_) => {}
        }
        s.positions.remove(iupd);
        s.log.push(("delete".into(), iupd.clone()));
        return Answer::json(200, json!("OK"));
    }
    for (template, from, to, step) in [
        (PUBLISH, &["DRAFT"][..], "VALID", "publish"),
        (
            INVALIDATE,
            &["VALID", "PUBLISHED"][..],
            "INVALID",
            "invalidate",
        ),
    ] {
        if let Some(p) = call.matches("POST", template) {
            let iupd = &p["iupd"];
            let Some(held) = s.positions.get_mut(iupd) else {
                return problem(404, "no such position");
            };
            if !from.contains(&held.status.as_str()) {
                return problem(409, "not in a state for this");
            }
            held.status = to.into();
            let answer = Answer::json(200, shown(held));
            s.log.push((step.into(), iupd.clone()));
            return answer;
        }
    }
    if let Some(p) = call.matches("POST", PAID) {
        let nav = &p["nav"];
        let Some(held) = s.positions.values_mut().find(|h| {
            h.body["paymentOption"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|o| o["nav"].as_str() == Some(nav.as_str()))
        }) else {
            return problem(404, "no payment option");
        };
        if held.paid.contains(nav) {
            return problem(409, "already paid");
        }
        held.paid.push(nav.clone());
        held.status = "PAID".into();
        s.log.push(("paid".into(), nav.clone()));
        return Answer::json(200, json!({"nav": nav, "status": "PO_PAID"}));
    }
    problem(404, "not a route of the fake archive")
}
