//! The creditor REST API (GPD v1 shapes): handlers take the path parameters and the raw body,
//! apply the domain rules through the store and return a JSON [`Reply`]. Errors are problem
//! bodies (`title`, `status`, `detail`) that name the offending field.

use serde::Serialize;

pub mod broadcast;
pub mod convert;
pub mod model;
mod query;
pub mod receipts;

use crate::config::Creditor;
use crate::context::Context;
use crate::domain::position::{Conflict, FieldError, Iupd, NotPayable, OptionPayment};
use crate::domain::{Cents, NoticeNumber};
use crate::store::{PositionKey, StoreError};
use model::{MarkPaidIn, PositionIn, Problem};

/// A JSON answer: status code and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(value).expect("serializable"),
            content_type: "application/json",
        }
    }

    /// A stored SOAP document, as it was received.
    pub fn xml(body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            body,
            content_type: "text/xml; charset=utf-8",
        }
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: Vec::new(),
            content_type: "application/json",
        }
    }

    pub fn problem(status: u16, title: &str, detail: impl Into<String>) -> Reply {
        let p = Problem {
            title: title.to_owned(),
            status,
            detail: detail.into(),
        };
        Reply {
            status,
            body: serde_json::to_vec(&p).expect("serializable"),
            content_type: "application/problem+json",
        }
    }
}

pub(crate) fn bad_request(detail: impl Into<String>) -> Reply {
    Reply::problem(400, "Bad Request", detail)
}

fn invalid(errors: &[FieldError]) -> Reply {
    bad_request(
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn conflict(detail: impl Into<String>) -> Reply {
    Reply::problem(409, "Conflict", detail)
}

pub(crate) fn store_failure(e: StoreError) -> Reply {
    match e {
        StoreError::Duplicate { .. } => conflict(e.to_string()),
        StoreError::NotFound => Reply::problem(404, "Not Found", "not found"),
        StoreError::Refused(Conflict(detail)) => conflict(detail),
        StoreError::Unavailable(m) => {
            tracing::error!(error = %m, "store unavailable");
            Reply::problem(
                503,
                "Service Unavailable",
                "the store is not available; retry later",
            )
        }
    }
}

/// The creditor named in the path, if we serve it.
pub(crate) fn creditor<'a>(ctx: &'a Context, fiscal_code: &str) -> Result<&'a Creditor, Reply> {
    let Ok(parsed) = crate::domain::FiscalCodePA::parse(fiscal_code) else {
        return Err(bad_request(format!(
            "organizationFiscalCode: '{fiscal_code}' must be exactly 11 digits"
        )));
    };
    ctx.config.creditors.get(&parsed).ok_or_else(|| {
        Reply::problem(
            404,
            "Not Found",
            format!("organization {fiscal_code} is not served by this gateway"),
        )
    })
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    decode_json(body).map_err(bad_request)
}

/// Reads a JSON document; the error names the JSON path of the problem (`body` for the whole),
/// as the API's 400 answers do. Shared with the bulk import, so a file gets the same messages.
pub fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            format!("body: {inner}")
        } else {
            format!("{path}: {inner}")
        }
    })
}

fn iupd(value: &str) -> Result<Iupd, Reply> {
    Iupd::parse(value).map_err(|m| bad_request(format!("iupd: {m}")))
}

fn not_found_position(org: &str, iupd: &Iupd) -> Reply {
    Reply::problem(
        404,
        "Not Found",
        format!("no debt position {iupd} for organization {org}"),
    )
}

/// `POST /organizations/{fiscalCode}/debtpositions[?toPublish=true]`
pub async fn create_position(ctx: &Context, org: &str, to_publish: bool, body: &[u8]) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let input: PositionIn = match parse_json(body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let now = ctx.clock.now();
    let mut position = match convert::new_position(input, creditor, now) {
        Ok(p) => p,
        Err(errors) => return invalid(&errors),
    };
    if to_publish {
        position.apply_publication(now);
    }
    match ctx.store.create_position(position).await {
        Ok(p) => Reply::json(201, &convert::position_out(&p, now, true)),
        Err(e) => store_failure(e),
    }
}

/// `GET /organizations/{fiscalCode}/debtpositions/{iupd}`
pub async fn get_position(ctx: &Context, org: &str, iupd_value: &str) -> Reply {
    let (creditor, iupd) = match creditor(ctx, org).and_then(|c| Ok((c, iupd(iupd_value)?))) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match ctx
        .store
        .get_position(
            creditor.fiscal_code.clone(),
            PositionKey::Iupd(iupd.clone()),
        )
        .await
    {
        Ok(Some(p)) => Reply::json(200, &convert::position_out(&p, ctx.clock.now(), false)),
        Ok(None) => not_found_position(org, &iupd),
        Err(e) => store_failure(e),
    }
}

/// `POST …/debtpositions/{iupd}/publish` and `…/invalidate`.
pub async fn change_state(
    ctx: &Context,
    org: &str,
    iupd_value: &str,
    action: StateAction,
) -> Reply {
    let (creditor, iupd) = match creditor(ctx, org).and_then(|c| Ok((c, iupd(iupd_value)?))) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = ctx.clock.now();
    let change: crate::store::Mutation = match action {
        StateAction::Publish => Box::new(move |p| p.publish(now)),
        StateAction::Invalidate => Box::new(move |p| p.invalidate(now)),
    };
    match ctx
        .store
        .update_position(
            creditor.fiscal_code.clone(),
            PositionKey::Iupd(iupd.clone()),
            change,
        )
        .await
    {
        Ok(p) => Reply::json(200, &convert::position_out(&p, now, true)),
        Err(StoreError::NotFound) => not_found_position(org, &iupd),
        Err(e) => store_failure(e),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAction {
    Publish,
    Invalidate,
}

/// `POST /organizations/{fiscalCode}/paymentoptions/paids/{nav}`: the creditor records that an
/// option was paid outside pagoPA. Body `{"paymentDate": "…"}` (optional, default now).
pub async fn mark_paid(ctx: &Context, org: &str, nav_value: &str, body: &[u8]) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(nav) = NoticeNumber::parse(nav_value) else {
        return bad_request(format!("nav: '{nav_value}' must be exactly 18 digits"));
    };
    let input: MarkPaidIn = if body.iter().all(u8::is_ascii_whitespace) {
        MarkPaidIn { payment_date: None }
    } else {
        match parse_json(body) {
            Ok(i) => i,
            Err(r) => return r,
        }
    };
    let now = ctx.clock.now();
    let payment_date = match input.payment_date.as_deref().map(convert::parse_datetime) {
        None => now,
        Some(Some(d)) => d,
        Some(None) => {
            return bad_request("paymentDate: must be a date-time like 2025-12-31T23:59:59");
        }
    };
    let target = nav.clone();
    let change: crate::store::Mutation = Box::new(move |p| {
        let index = p.option_index(&target).expect("found by this notice");
        let payment = OptionPayment {
            payment_date,
            payment_method: None,
            psp_company: Some("CLOSED_AS_ALREADY_PAID_BY_EC".into()),
            receipt_id: "CLOSED_AS_ALREADY_PAID_BY_EC".into(),
            fee: Cents::ZERO,
        };
        p.mark_paid(index, payment, now)
            .map_err(|reason| Conflict(not_payable(reason).into()))
    });
    match ctx
        .store
        .update_position(
            creditor.fiscal_code.clone(),
            PositionKey::Notice(nav.clone()),
            change,
        )
        .await
    {
        Ok(p) => Reply::json(200, &convert::position_out(&p, now, true)),
        Err(StoreError::NotFound) => Reply::problem(
            404,
            "Not Found",
            format!("no payment option {nav} for organization {org}"),
        ),
        Err(e) => store_failure(e),
    }
}

fn not_payable(reason: NotPayable) -> &'static str {
    match reason {
        NotPayable::Unknown => "the position is not published or not yet valid",
        NotPayable::Cancelled => "the position is invalid",
        NotPayable::Expired => "the payment option has expired",
        NotPayable::AlreadyPaid => "the payment option is already paid",
        NotPayable::Superseded => "another payment option of this position was paid",
    }
}
