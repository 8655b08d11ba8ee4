//! The creditor REST API (GPD v1 shapes): handlers take the path parameters and the raw body,
//! apply the domain rules through the store and return a JSON [`Reply`]. Errors are problem
//! bodies (`title`, `status`, `detail`) that name the offending field.

pub mod auth;
pub mod broadcast;
pub mod bulk;
pub mod lifecycle;
pub mod notification_fee;
pub mod payments;
mod query;
pub mod receipts;
mod reply;
pub mod upload;

pub use reply::Reply;

use crate::context::Context;
use crate::domain::api_key::SegregationScope;
use crate::domain::creditor::Creditor;
use crate::domain::position::{
    Conflict, DebtPosition, FieldError, Iupd, NotPayable, OptionPayment, Refusal,
};
use crate::domain::{Cents, Iuv, NoticeNumber};
use crate::json::model::{MarkPaidIn, PositionIn};
use crate::json::{self, convert};
use crate::store::{Expected, Mutation, PositionKey, StoreError};

/// The entity tag of a position's version: a strong tag, the version in quotes.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Reads an `If-Match` header into the versions a write may apply to: `*` (or no header)
/// admits any; otherwise the versions of the strong tags listed (a weak or foreign tag never
/// matches, as RFC 9110 wants).
pub fn if_match(header: Option<&str>) -> Result<Expected, Reply> {
    let Some(value) = header else {
        return Ok(Expected::Any);
    };
    let mut versions = Vec::new();
    for tag in value.split(',').map(str::trim) {
        if tag == "*" {
            return Ok(Expected::Any);
        }
        let opaque = tag.strip_prefix("W/").unwrap_or(tag);
        let Some(inner) = opaque
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|t| !t.contains('"'))
        else {
            return Err(bad_request(format!(
                "If-Match: '{value}' must be * or entity tags such as \"3\""
            )));
        };
        if !tag.starts_with("W/")
            && let Ok(v) = inner.parse::<i64>()
        {
            versions.push(v);
        }
    }
    Ok(Expected::OneOf(versions))
}

/// A boolean query parameter: `true` or `false` in any case (Spring's reading, which GPD's
/// clients rely on), nothing else.
pub fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
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

pub(crate) fn forbidden(detail: impl Into<String>) -> Reply {
    Reply::problem(403, "Forbidden", detail)
}

/// The refusal of a notice (IUV or notice number, as written) outside the key's codes.
fn forbidden_notice(org: &str, identifier: &str, segregation: &SegregationScope) -> Reply {
    forbidden(format!(
        "the API key acts for segregation codes {segregation} of organization {org} only; \
         {identifier} is of another"
    ))
}

/// The refusal of a position with options outside the key's codes.
pub(super) fn forbidden_position(org: &str, iupd: &Iupd, segregation: &SegregationScope) -> Reply {
    forbidden(position_out_of_reach(org, iupd, segregation))
}

fn position_out_of_reach(org: &str, iupd: &Iupd, segregation: &SegregationScope) -> String {
    format!(
        "the API key acts for segregation codes {segregation} of organization {org} only; \
         debt position {iupd} has payment options of another"
    )
}

/// Wraps a change so that it refuses a position the key may not touch, inside the same
/// transaction as the change: the check sees the options the change would apply to.
fn within_reach(org: &str, segregation: &SegregationScope, change: Mutation) -> Mutation {
    let (org, segregation) = (org.to_owned(), segregation.clone());
    Box::new(move |p| {
        if !segregation.allows_position(p) {
            return Err(Refusal::Forbidden(position_out_of_reach(
                &org,
                &p.iupd,
                &segregation,
            )));
        }
        change(p)
    })
}

fn conflict(detail: impl Into<String>) -> Reply {
    Reply::problem(409, "Conflict", detail)
}

pub(crate) fn store_failure(e: StoreError) -> Reply {
    match e {
        StoreError::Duplicate { .. } => conflict(e.to_string()),
        StoreError::NotFound => Reply::problem(404, "Not Found", "not found"),
        StoreError::Refused(Conflict(detail)) => conflict(detail),
        StoreError::Unprocessable(detail) => Reply::problem(422, "Unprocessable Entity", detail),
        StoreError::Forbidden(detail) => forbidden(detail),
        StoreError::VersionMismatch { current } => Reply::problem(
            412,
            "Precondition Failed",
            format!(
                "If-Match: the position has changed; its current version has ETag {}",
                etag(current)
            ),
        )
        .with_etag(current),
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
    json::decode(body).map_err(bad_request)
}

fn iupd(value: &str) -> Result<Iupd, Reply> {
    Iupd::parse(value).map_err(|m| bad_request(format!("iupd: {m}")))
}

fn not_found_option(org: &str, identifier: &str) -> Reply {
    Reply::problem(
        404,
        "Not Found",
        format!("no payment option {identifier} for organization {org}"),
    )
}

/// The notice number a path's option identifier stands for: a notice number, or an IUV (the
/// notice number is always 3 + IUV here), as GPD finds an option by either. `None` when it can
/// be neither, which can match no option (404, as in GPD, not 400).
fn option_notice(identifier: &str) -> Option<NoticeNumber> {
    NoticeNumber::parse(identifier)
        .ok()
        .or_else(|| Iuv::parse(identifier).ok().map(|iuv| iuv.notice_number()))
}

fn not_found_position(org: &str, iupd: &Iupd) -> Reply {
    Reply::problem(
        404,
        "Not Found",
        format!("no debt position {iupd} for organization {org}"),
    )
}

/// `POST /organizations/{fiscalCode}/debtpositions[?toPublish=true]`; a key limited to some
/// segregation codes may create options of those only.
pub async fn create_position(
    ctx: &Context,
    org: &str,
    segregation: &SegregationScope,
    to_publish: bool,
    body: &[u8],
) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let input: PositionIn = match parse_json(body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let now = ctx.clock.now();
    let mut position = match convert::new_position(
        input,
        &creditor.fiscal_code,
        &creditor.segregation_codes,
        now,
    ) {
        Ok(p) => p,
        Err(errors) => return invalid(&errors),
    };
    if !segregation.allows_position(&position) {
        return forbidden_position(org, &position.iupd, segregation);
    }
    if to_publish {
        position.apply_publication(now);
    }
    match ctx.store.create_position(position).await {
        Ok(p) => Reply::json(201, &convert::position_out(&p, now, true)).with_etag(p.version),
        Err(e) => store_failure(e),
    }
}

/// `GET /organizations/{fiscalCode}/debtpositions/{iupd}`
pub async fn get_position(
    ctx: &Context,
    org: &str,
    segregation: &SegregationScope,
    iupd_value: &str,
) -> Reply {
    let (creditor, iupd) = match creditor(ctx, org).and_then(|c| Ok((c, iupd(iupd_value)?))) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match reachable_position(ctx, creditor, org, &iupd, segregation).await {
        Ok(p) => Reply::json(200, &convert::position_out(&p, ctx.clock.now(), false))
            .with_etag(p.version),
        Err(r) => r,
    }
}

/// The creditor's position `iupd`, if it exists and the key's segregation codes reach it; the
/// answer to give otherwise (404, 403, or the store's failure).
pub(super) async fn reachable_position(
    ctx: &Context,
    creditor: &Creditor,
    org: &str,
    iupd: &Iupd,
    segregation: &SegregationScope,
) -> Result<DebtPosition, Reply> {
    let key = PositionKey::Iupd(iupd.clone());
    match ctx
        .store
        .get_position(creditor.fiscal_code.clone(), key)
        .await
    {
        Ok(Some(p)) if !segregation.allows_position(&p) => {
            Err(forbidden_position(org, iupd, segregation))
        }
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(not_found_position(org, iupd)),
        Err(e) => Err(store_failure(e)),
    }
}

/// `POST …/debtpositions/{iupd}/publish` and `…/invalidate`, honouring `If-Match`.
pub async fn change_state(
    ctx: &Context,
    org: &str,
    segregation: &SegregationScope,
    iupd_value: &str,
    action: StateAction,
    if_match_header: Option<&str>,
) -> Reply {
    let checked =
        creditor(ctx, org).and_then(|c| Ok((c, iupd(iupd_value)?, if_match(if_match_header)?)));
    let (creditor, iupd, expected) = match checked {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = ctx.clock.now();
    let change: crate::store::Mutation = match action {
        StateAction::Publish => Box::new(move |p| Ok(p.publish(now)?)),
        StateAction::Invalidate => Box::new(move |p| Ok(p.invalidate(now)?)),
    };
    let change = within_reach(org, segregation, change);
    change_position(ctx, creditor, iupd, expected, change, now).await
}

/// Applies `change` to the creditor's position `iupd` if its version is `expected`; the answer
/// is the changed position with its new ETag.
pub(crate) async fn change_position(
    ctx: &Context,
    creditor: &Creditor,
    iupd: Iupd,
    expected: Expected,
    change: Mutation,
    now: chrono::NaiveDateTime,
) -> Reply {
    let organization = creditor.fiscal_code.clone();
    match ctx
        .store
        .update_position_if(
            organization.clone(),
            PositionKey::Iupd(iupd.clone()),
            expected,
            change,
        )
        .await
    {
        Ok(p) => Reply::json(200, &convert::position_out(&p, now, true)).with_etag(p.version),
        Err(StoreError::NotFound) => not_found_position(organization.as_str(), &iupd),
        Err(e) => store_failure(e),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAction {
    Publish,
    Invalidate,
}

/// `POST /organizations/{fiscalCode}/paymentoptions/paids/{nav}`: the creditor records that an
/// option (by notice number or IUV) was paid outside pagoPA. Body `{"paymentDate": "…"}`
/// (optional, default now).
pub async fn mark_paid(
    ctx: &Context,
    org: &str,
    segregation: &SegregationScope,
    nav_value: &str,
    body: &[u8],
) -> Reply {
    let creditor = match creditor(ctx, org) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(nav) = option_notice(nav_value) else {
        return not_found_option(org, nav_value);
    };
    // As GPD: the notice's own code first, whether or not it exists.
    if !segregation.allows_notice(&nav) {
        return forbidden_notice(org, nav_value, segregation);
    }
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
            .map_err(|reason| Refusal::Conflict(Conflict(not_payable(reason).into())))
    });
    let change = within_reach(org, segregation, change);
    match ctx
        .store
        .update_position(
            creditor.fiscal_code.clone(),
            PositionKey::Notice(nav.clone()),
            change,
        )
        .await
    {
        Ok(p) => Reply::json(200, &convert::position_out(&p, now, true)).with_etag(p.version),
        Err(StoreError::NotFound) => not_found_option(org, nav_value),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_is_named_by_its_notice_number_or_its_iuv() {
        let nav = "301000000000000144";
        assert_eq!(option_notice(nav).unwrap().as_str(), nav);
        assert_eq!(option_notice(&nav[1..]).unwrap().as_str(), nav);
        // Other aux digits are notice numbers too; they simply match nothing here.
        assert!(option_notice("001000000000000144").is_some());
        for nothing in [
            "",
            "3010",
            "01000000000000145",
            "30100000000000014x",
            "3010000000000001440",
        ] {
            assert_eq!(option_notice(nothing), None, "{nothing}");
        }
    }

    #[test]
    fn if_match_values() {
        let ok = |h: Option<&str>| if_match(h).ok().unwrap();
        assert_eq!(ok(None), Expected::Any);
        assert_eq!(ok(Some("*")), Expected::Any);
        assert_eq!(ok(Some("\"3\"")), Expected::OneOf(vec![3]));
        assert_eq!(ok(Some("\"3\", \"5\"")), Expected::OneOf(vec![3, 5]));
        // Weak and foreign tags are well-formed but match nothing.
        assert_eq!(ok(Some("W/\"3\"")), Expected::OneOf(vec![]));
        assert_eq!(ok(Some("\"abc\"")), Expected::OneOf(vec![]));
        for bad in ["3", "\"3", "\"3\"x", ""] {
            let r = if_match(Some(bad)).unwrap_err();
            assert_eq!(r.status, 400, "{bad}");
        }
        assert_eq!(etag(7), "\"7\"");
    }
}
