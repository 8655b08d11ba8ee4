//! `POST /partner`: reads the envelope, dispatches on the payload element (namespace + local
//! name), lets the primitive answer and writes the response. Business errors are HTTP 200 with
//! the operation's own KO; only a body that is not a SOAP 1.1 envelope gets HTTP 400 and a
//! SOAP Fault.

use std::time::Instant;

use crate::api::Reply;
use crate::context::Context;
use crate::domain::messages::Operation;
use crate::domain::{Fault, FaultCode};
use crate::journal::PrimitiveEvent;
use crate::observe::Answered;
use crate::primitives;
use crate::xml::PAFORNODE_NS;
use crate::xml::envelope::{Element, read_envelope};
use crate::xml::plain::{self, PlainRequest};
use crate::xml::receipts;
use crate::xml::requests;
use crate::xml::responses::{self, SoapFaultCode};
use crate::xml::sequence::{self, SyntaxError};

const XML: &str = "text/xml; charset=utf-8";

/// An HTTP error with a SOAP 1.1 Fault body (the client's fault).
pub fn client_fault(status: u16, message: &str) -> Reply {
    Reply::new(
        status,
        XML,
        responses::soap_fault(SoapFaultCode::Client, message),
    )
}

/// Answers a request on `/partner`, journals it and leaves its outcome to the metrics and the
/// access log.
pub async fn partner(ctx: &Context, soap_action: Option<&str>, body: &[u8]) -> Reply {
    let started = Instant::now();
    let mut event = if ctx.journal.enabled() {
        PrimitiveEvent::default()
    } else {
        PrimitiveEvent::operation_only()
    };
    let mut reply = answer(ctx, soap_action, body, &mut event).await;
    if let Some((operation, fault)) = event.outcome() {
        reply.observed.answered = Answered::Primitive { operation, fault };
    }
    let (now, took) = (ctx.clock.now(), started.elapsed());
    ctx.journal.primitive(event, reply.status, now, took);
    reply
}

async fn answer(
    ctx: &Context,
    soap_action: Option<&str>,
    body: &[u8],
    event: &mut PrimitiveEvent,
) -> Reply {
    if let Some(request) = plain::read(body) {
        return answer_plain(ctx, &request, event).await;
    }
    let payload = match read_envelope(body) {
        Ok(p) => p,
        Err(e) => return client_fault(400, &e.to_string()),
    };
    let Some(op) = payload.operation() else {
        // Not one of our request elements: answer as the SOAPAction's KO when it names one.
        let name = match &payload.namespace {
            Some(ns) => format!("{{{ns}}}{}", payload.name),
            None => payload.name.clone(),
        };
        return match soap_action.and_then(Operation::from_soap_action) {
            Some(op) => {
                event.read(op, &payload.root);
                event.ko(FaultCode::SintassiXsd);
                let id = fault_id(ctx, sequence::id_pa_hint(&payload.root));
                let description = format!(
                    "the body holds {name}, expected {{{PAFORNODE_NS}}}{}",
                    op.request_element()
                );
                ok(responses::ko_response(
                    op,
                    &Fault::new(FaultCode::SintassiXsd, id, description),
                ))
            }
            None => client_fault(
                400,
                &format!(
                    "unknown operation: the body holds {name} and SOAPAction names no paForNode operation"
                ),
            ),
        };
    };
    event.read(op, &payload.root);
    let answered = respond(ctx, op, &payload.root, body, event);
    match in_time(ctx, answered).await {
        Some(answer) => ok(answer),
        None => too_late(ctx, op, sequence::id_pa_hint(&payload.root), event),
    }
}

/// A plain verify or getPayment(V2), decoded without an element tree (`xml::plain`).
async fn answer_plain(ctx: &Context, request: &PlainRequest, event: &mut PrimitiveEvent) -> Reply {
    let op = request.operation();
    event.read_decoded(op, request.ids(), &request.qr_code().notice_number);
    let answered = async {
        match request {
            PlainRequest::Verify(req) => {
                let answer = primitives::verify::answer(ctx, req).await;
                responses::verify_response(&logged(op, answer, event))
            }
            PlainRequest::GetPayment(op, req) => {
                let answer = primitives::get_payment::answer(ctx, *op, req).await;
                responses::get_payment_response(*op, &logged(*op, answer, event))
            }
        }
    };
    match in_time(ctx, answered).await {
        Some(answer) => ok(answer),
        None => {
            let id_pa = request.ids().id_pa.as_str().to_owned();
            too_late(ctx, op, Some(id_pa), event)
        }
    }
}

/// The answer, or None when it is not ready within the configured time. Answered then with
/// the operation's own KO ([`too_late`]), so that the Node gets a SOAP answer it can act on
/// (a KO PAA_SYSTEM_ERROR is retried), never the server's generic timeout.
async fn in_time(ctx: &Context, answered: impl Future<Output = Vec<u8>>) -> Option<Vec<u8>> {
    tokio::time::timeout(ctx.config.limits.answer_within(), answered)
        .await
        .ok()
}

/// KO PAA_SYSTEM_ERROR for `op`, not answered in time.
fn too_late(
    ctx: &Context,
    op: Operation,
    id_pa: Option<String>,
    event: &mut PrimitiveEvent,
) -> Reply {
    event.ko(FaultCode::SystemError);
    tracing::warn!(
        operation = op.action(),
        "not answered within {} ms: KO PAA_SYSTEM_ERROR",
        ctx.config.limits.answer_within().as_millis()
    );
    let fault = Fault::new(
        FaultCode::SystemError,
        fault_id(ctx, id_pa),
        "the request could not be completed in time; send it again",
    );
    ok(responses::ko_response(op, &fault))
}

/// An HTTP error with a SOAP 1.1 Fault body (our fault), for what no operation's KO can say.
pub fn server_fault(status: u16, message: &str) -> Reply {
    Reply::new(
        status,
        XML,
        responses::soap_fault(SoapFaultCode::Server, message),
    )
}

fn ok(body: Vec<u8>) -> Reply {
    Reply::new(200, XML, body)
}

/// The id of a fault: the request's idPA when it could be read, else our broker's.
fn fault_id(ctx: &Context, id_pa: Option<String>) -> String {
    id_pa.unwrap_or_else(|| ctx.config.broker_id.to_string())
}

fn syntax_fault(ctx: &Context, e: SyntaxError) -> Fault {
    let id = fault_id(ctx, e.id_pa.clone());
    Fault::new(FaultCode::SintassiXsd, id, e.to_string())
}

async fn respond(
    ctx: &Context,
    op: Operation,
    root: &Element,
    body: &[u8],
    event: &mut PrimitiveEvent,
) -> Vec<u8> {
    let fault = |e| syntax_fault(ctx, e);
    match op {
        Operation::VerifyPaymentNotice => {
            let answer = async {
                let req = requests::decode_verify(root).map_err(fault)?;
                primitives::verify::answer(ctx, &req).await
            };
            responses::verify_response(&logged(op, answer.await, event))
        }
        Operation::GetPayment | Operation::GetPaymentV2 => {
            let answer = async {
                let req = requests::decode_get_payment(root).map_err(fault)?;
                primitives::get_payment::answer(ctx, op, &req).await
            };
            responses::get_payment_response(op, &logged(op, answer.await, event))
        }
        Operation::SendRt | Operation::SendRtV2 => {
            let answer = async {
                let request = if op == Operation::SendRt {
                    receipts::decode_send_rt(root)
                } else {
                    receipts::decode_send_rt_v2(root)
                };
                primitives::send_rt::answer(ctx, request.map_err(fault)?, body).await
            };
            responses::send_rt_response(op, &logged(op, answer.await, event))
        }
        Operation::DemandPaymentNotice => {
            let answer = async {
                let req = requests::decode_demand(root).map_err(fault)?;
                primitives::demand::answer(ctx, &req).await
            };
            responses::demand_response(&logged(op, answer.await, event))
        }
    }
}

/// The answer to `op`, its outcome logged and told to the journal's event.
fn logged<T>(
    op: Operation,
    answer: Result<T, Fault>,
    event: &mut PrimitiveEvent,
) -> Result<T, Fault> {
    match &answer {
        Ok(_) => tracing::debug!(operation = op.action(), outcome = "OK", "primitive"),
        Err(f) => {
            event.ko(f.code);
            tracing::debug!(
                operation = op.action(),
                outcome = "KO",
                fault = f.code.code(),
                "primitive"
            )
        }
    }
    answer
}
