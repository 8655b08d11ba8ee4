//! A creditor's broadcast station for end-to-end tests: an in-process HTTP server on a loopback
//! port that records every request and answers paSendRT / paSendRTV2 as told (OK, KO, a 500,
//! garbage, late, or never), switchable while the test runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gpd_gateway::domain::messages::Operation;
use gpd_gateway::domain::{Fault, FaultCode};
use gpd_gateway::xml::envelope::read_envelope;
use gpd_gateway::xml::responses::ko_response;
use gpd_gateway::xml::{PAFORNODE_NS, SOAP_ENV_NS};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::loopback::Loopback;

/// How the station answers the next requests.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// HTTP 200, outcome OK.
    Ok,
    /// HTTP 200, outcome KO with fault PAA_SYSTEM_ERROR.
    Ko,
    /// HTTP 500 with a SOAP Fault.
    Status500,
    /// HTTP 200 with a body that is not XML.
    Garbage,
    /// Answers OK after the delay.
    Slow(Duration),
    /// Accepts the connection, reads the request, never answers.
    Silent,
}

/// One request as the station received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub soap_action: Option<String>,
    pub body: String,
    /// Answered (or to be answered) HTTP 200 with outcome OK: the receipt was delivered.
    pub delivered: bool,
}

#[derive(Debug)]
struct State {
    behaviour: Mutex<Behaviour>,
    received: Mutex<Vec<Received>>,
}

pub struct StubStation {
    url: String,
    state: Arc<State>,
    server: Loopback,
}

impl StubStation {
    pub async fn start(behaviour: Behaviour) -> StubStation {
        let state = Arc::new(State {
            behaviour: Mutex::new(behaviour),
            received: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let server = Loopback::start(move |request| answer(shared.clone(), request)).await;
        StubStation {
            url: format!("http://{}/station", server.address),
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT/station`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Changes how the next requests are answered (one already waiting keeps its behaviour).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// For each receipt (by receiptId), the requests it has had so far and how many of them
    /// delivered it.
    pub fn per_receipt(&self) -> HashMap<String, (usize, usize)> {
        let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
        for r in self.state.received.lock().unwrap().iter() {
            let count = counts.entry(receipt_id(&r.body).to_owned()).or_default();
            count.0 += 1;
            count.1 += usize::from(r.delivered);
        }
        counts
    }

    /// Waits until at least `n` requests have arrived; panics with what did after `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "station {} expected {n} requests within {within:?}, got {}: {received:#?}",
                    self.url,
                    received.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Closes the listener and drops every open connection, answered or not.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

async fn answer(state: Arc<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let soap_action = request
        .headers()
        .get("soapaction")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = match request.into_body().collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let operation = operation(&body);
    // The behaviour is read when the request has arrived, and recorded with it.
    let behaviour = {
        let behaviour = state.behaviour.lock().unwrap().clone();
        let delivered = matches!(behaviour, Behaviour::Ok | Behaviour::Slow(_));
        state.received.lock().unwrap().push(Received {
            soap_action,
            body,
            delivered,
        });
        behaviour
    };
    let (status, body) = match behaviour {
        Behaviour::Ok => (StatusCode::OK, ok_answer(operation)),
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, ok_answer(operation))
        }
        Behaviour::Ko => {
            let fault = Fault::new(FaultCode::SystemError, "00000000000", "station unavailable");
            (StatusCode::OK, ko_response(operation, &fault))
        }
        Behaviour::Status500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                r#"<S:Envelope xmlns:S="{SOAP_ENV_NS}"><S:Body><S:Fault><faultcode>S:Server</faultcode><faultstring>internal error</faultstring></S:Fault></S:Body></S:Envelope>"#
            )
            .into_bytes(),
        ),
        Behaviour::Garbage => (StatusCode::OK, b"garbage, not a SOAP answer".to_vec()),
        Behaviour::Silent => std::future::pending().await,
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

/// The receiptId a request carries; empty when none.
pub fn receipt_id(body: &str) -> &str {
    body.split_once("<receiptId>")
        .and_then(|(_, rest)| rest.split_once("</receiptId>"))
        .map_or("", |(id, _)| id)
}

/// paSendRT for a paSendRTReq payload, paSendRTV2 for anything else.
fn operation(body: &str) -> Operation {
    match read_envelope(body.as_bytes()) {
        Ok(payload) if payload.name == "paSendRTReq" => Operation::SendRt,
        _ => Operation::SendRtV2,
    }
}

/// An OK answer as a JAX-WS station writes it (`ns2:` prefix).
fn ok_answer(operation: Operation) -> Vec<u8> {
    let element = operation.response_element();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{SOAP_ENV_NS}"><S:Body><ns2:{element} xmlns:ns2="{PAFORNODE_NS}"><outcome>OK</outcome></ns2:{element}></S:Body></S:Envelope>"#
    )
    .into_bytes()
}
