//! Debt positions, `/organizations/{fiscalCode}/debtpositions[/{iupd}]`: create (optionally
//! published), read, `PUT` to replace its content (GPD's merge, see
//! `DebtPosition::update_from`), publish, invalidate, `DELETE`, and the list of a creditor's
//! positions with GPD's filters, ordering and paging. Writes honour `If-Match` against the
//! position's `ETag` (its version); a key limited to some segregation codes reaches the
//! positions whose options are all of those codes.

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

use super::query::{PageInfo, Query, bound, segregation_codes};
use super::reply::{Problem, bad_request, not_found, not_found_as};
use super::{OnCreditor, Reply, if_match, invalid, parse_json};
use crate::domain::api_key::SegregationScope;
use crate::domain::creditor::Creditor;
use crate::domain::position::{DebtPosition, FieldError, Iupd, PositionStatus, Refusal};
use crate::json::convert;
use crate::json::model::{PositionIn, PositionOut};
use crate::store::{
    Expected, Mutation, PositionFilter, PositionKey, PositionOrder, PositionOrderBy, PositionQuery,
    TimeWindow,
};

fn iupd(value: &str) -> Result<Iupd, Problem> {
    Iupd::parse(value).map_err(|m| bad_request(format!("iupd: {m}")))
}

/// What a write to one position names: its IUPD and the versions it may apply to, read in
/// that order.
fn write_target(
    iupd_value: &str,
    if_match_header: Option<&str>,
) -> Result<(Iupd, Expected), Problem> {
    Ok((iupd(iupd_value)?, if_match(if_match_header)?))
}

fn not_found_position(org: &str, iupd: &Iupd) -> Problem {
    not_found(format!("no debt position {iupd} for organization {org}"))
}

/// A position as answered to a write, with its new `ETag`.
pub(super) fn written(status: u16, p: &DebtPosition, now: NaiveDateTime) -> Reply {
    Reply::json(status, &convert::position_out(p, now, true)).with_etag(p.version)
}

/// A new position of the creditor, published at once with `toPublish`; every field error of
/// its body otherwise.
pub(super) fn new_position(
    creditor: &Creditor,
    input: PositionIn,
    to_publish: bool,
    now: NaiveDateTime,
) -> Result<DebtPosition, Vec<FieldError>> {
    let mut position = convert::new_position(input, creditor, now)?;
    if to_publish {
        position.apply_publication(now);
    }
    Ok(position)
}

/// `POST /organizations/{fiscalCode}/debtpositions[?toPublish=true]`; a key limited to some
/// segregation codes may create options of those only.
pub async fn create_position(
    on: OnCreditor<'_>,
    to_publish: bool,
    body: &[u8],
) -> Result<Reply, Problem> {
    let input: PositionIn = parse_json(body)?;
    let now = on.ctx.clock.now();
    let position = new_position(on.creditor, input, to_publish, now).map_err(invalid)?;
    if !on.segregation.allows_position(&position) {
        return Err(on.forbidden_position(&position.iupd));
    }
    let p = on.ctx.store.create_position(position).await?;
    Ok(written(201, &p, now))
}

/// `GET /organizations/{fiscalCode}/debtpositions/{iupd}`
pub async fn get_position(on: OnCreditor<'_>, iupd_value: &str) -> Result<Reply, Problem> {
    let iupd = iupd(iupd_value)?;
    let p = reachable_position(on, &iupd).await?;
    let now = on.ctx.clock.now();
    Ok(Reply::json(200, &convert::position_out(&p, now, false)).with_etag(p.version))
}

/// The creditor's position `iupd`, if it exists and the key's segregation codes reach it; the
/// answer to give otherwise (404, 403, or the store's failure).
async fn reachable_position(on: OnCreditor<'_>, iupd: &Iupd) -> Result<DebtPosition, Problem> {
    let key = PositionKey::Iupd(iupd.clone());
    match on
        .ctx
        .store
        .get_position(on.creditor.fiscal_code.clone(), key)
        .await?
    {
        Some(p) if !on.segregation.allows_position(&p) => Err(on.forbidden_position(iupd)),
        Some(p) => Ok(p),
        None => Err(not_found_position(on.org(), iupd)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAction {
    Publish,
    Invalidate,
    /// INVALID back to VALID with the same notices (not in GPD: docs/decisions.md).
    Restore,
}

/// `POST …/debtpositions/{iupd}/publish`, `…/invalidate` and `…/restore`, honouring `If-Match`.
pub async fn change_state(
    on: OnCreditor<'_>,
    iupd_value: &str,
    action: StateAction,
    if_match_header: Option<&str>,
) -> Result<Reply, Problem> {
    let (iupd, expected) = write_target(iupd_value, if_match_header)?;
    let now = on.ctx.clock.now();
    let change: Mutation = match action {
        StateAction::Publish => Box::new(move |p| Ok(p.publish(now)?)),
        StateAction::Invalidate => Box::new(move |p| Ok(p.invalidate(now)?)),
        StateAction::Restore => Box::new(move |p| Ok(p.restore(now)?)),
    };
    change_position(on, iupd, expected, change, now).await
}

/// Applies `change` to the creditor's position `iupd` if its version is `expected` and the key
/// reaches it; the answer is the changed position with its new ETag.
async fn change_position(
    on: OnCreditor<'_>,
    iupd: Iupd,
    expected: Expected,
    change: Mutation,
    now: NaiveDateTime,
) -> Result<Reply, Problem> {
    let key = PositionKey::Iupd(iupd.clone());
    let missing = || not_found_position(on.org(), &iupd);
    let p = on
        .change_within_reach(key, expected, change, missing)
        .await?;
    Ok(written(200, &p, now))
}

/// `PUT /organizations/{fiscalCode}/debtpositions/{iupd}[?toPublish=true]`
pub async fn update_position(
    on: OnCreditor<'_>,
    iupd_value: &str,
    to_publish: bool,
    if_match_header: Option<&str>,
    body: &[u8],
) -> Result<Reply, Problem> {
    let (iupd, expected) = write_target(iupd_value, if_match_header)?;
    let now = on.ctx.clock.now();
    let content = parse_json::<PositionIn>(body).and_then(|input| {
        if input.iupd != iupd.as_str() {
            return Err(bad_request(format!(
                "iupd: '{}' must be the IUPD of the path ({iupd})",
                input.iupd
            )));
        }
        convert::updated_position(input, on.creditor, now).map_err(invalid)
    });
    let new = match content {
        Ok(p) => p,
        // GPD finds the position before it looks at the body: an unknown one is 404 whatever
        // was sent. Looked up only when the body is refused, so a valid update reads once.
        Err(refused) => {
            reachable_position(on, &iupd).await?;
            return Err(refused);
        }
    };
    // Both the stored options and the new ones must be within the key's codes, checked once
    // the position is found (an unknown one stays 404): a new option of another code makes the
    // whole update 403.
    let new_in_reach = on.segregation.allows_position(&new);
    let refusal = on.position_out_of_reach(&iupd);
    let change: Mutation = Box::new(move |p| {
        if !new_in_reach {
            return Err(Refusal::Forbidden(refusal));
        }
        p.update_from(new, to_publish, now)
    });
    change_position(on, iupd, expected, change, now).await
}

/// What GPD answers to a deletion.
pub const DELETED: &str = "The debt position was successfully deleted";

/// `DELETE /organizations/{fiscalCode}/debtpositions/{iupd}`
pub async fn delete_position(
    on: OnCreditor<'_>,
    iupd_value: &str,
    if_match_header: Option<&str>,
) -> Result<Reply, Problem> {
    let (iupd, expected) = write_target(iupd_value, if_match_header)?;
    let now = on.ctx.clock.now();
    let reach = on.reach_check();
    on.ctx
        .store
        .delete_position(
            on.creditor.fiscal_code.clone(),
            iupd.clone(),
            expected,
            Box::new(move |p| {
                reach(p)?;
                Ok(p.check_deletable(now)?)
            }),
        )
        .await
        .map_err(not_found_as(|| not_found_position(on.org(), &iupd)))?;
    Ok(Reply::json(200, &DELETED))
}

#[derive(Serialize)]
struct PositionPage {
    payment_position_list: Vec<PositionOut>,
    page_info: PageInfo,
}

/// GPD's page size: 1..=50, 10 when not given.
const MAX_LIMIT: u32 = 50;
const DEFAULT_LIMIT: u32 = 10;
/// The widest date window a list may ask for (GPD's), in days.
const MAX_WINDOW_DAYS: i64 = 30;

const KNOWN: [&str; 12] = [
    "page",
    "limit",
    "due_date_from",
    "due_date_to",
    "payment_date_from",
    "payment_date_to",
    "payment_date_time_from",
    "payment_date_time_to",
    "status",
    "orderby",
    "ordering",
    "segregationCodes",
];

/// The bounds of one date window (`{name}_from`, `{name}_to`): one given bound implies the
/// other 30 days away, and the window may not be inverted nor wider than 30 days.
fn window(q: &Query, name: &str, date_time_only: bool) -> Result<Option<TimeWindow>, Problem> {
    let (from_key, to_key) = (format!("{name}_from"), format!("{name}_to"));
    let read = |key: &str, end_of_day: bool| {
        if date_time_only && let Some(v) = q.get(key) {
            return convert::parse_datetime(v).map(Some).ok_or_else(|| {
                bad_request(format!(
                    "{key}: '{v}' must be a date-time like 2025-12-31T23:59:59"
                ))
            });
        }
        bound(q, key, end_of_day)
    };
    let span = Duration::days(MAX_WINDOW_DAYS);
    let (from, to) = match (read(&from_key, false)?, read(&to_key, true)?) {
        (None, None) => return Ok(None),
        (Some(from), None) => (from, from + span),
        (None, Some(to)) => (to - span, to),
        (Some(from), Some(to)) => (from, to),
    };
    let Some(window) = TimeWindow::new(from, to) else {
        return Err(bad_request(format!(
            "{to_key}: must not be before {from_key}"
        )));
    };
    if (to - from).num_days() > MAX_WINDOW_DAYS {
        return Err(bad_request(format!(
            "{to_key}: the window from {from_key} may span at most {MAX_WINDOW_DAYS} days"
        )));
    }
    Ok(Some(window))
}

/// The keys of [`position_filter`].
pub(super) const FILTER_KEYS: [&str; 8] = [
    "due_date_from",
    "due_date_to",
    "payment_date_from",
    "payment_date_to",
    "payment_date_time_from",
    "payment_date_time_to",
    "status",
    "segregationCodes",
];

/// The filters of the positions list in `q` (its dates, status and segregation codes), within
/// the key's segregation codes; also what a job of payment notices is asked by.
pub(super) fn position_filter(
    q: &Query,
    segregation: &SegregationScope,
) -> Result<PositionFilter, Problem> {
    // As in GPD, the three date filters exclude one another.
    let given: Vec<&str> = ["due_date", "payment_date", "payment_date_time"]
        .into_iter()
        .filter(|g| q.get(&format!("{g}_from")).is_some() || q.get(&format!("{g}_to")).is_some())
        .collect();
    if given.len() > 1 {
        return Err(bad_request(format!(
            "{}: only one of these date filters can be used at a time",
            given.join(", ")
        )));
    }
    let due = window(q, "due_date", false)?;
    let paid = match window(q, "payment_date", false)? {
        Some(w) => Some(w),
        None => window(q, "payment_date_time", true)?,
    };
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(PositionStatus::parse(s).ok_or_else(|| {
            let all: Vec<&str> = PositionStatus::ALL.iter().map(|s| s.as_str()).collect();
            bad_request(format!("status: '{s}' must be one of {}", all.join(", ")))
        })?),
    };
    Ok(PositionFilter {
        status,
        due,
        paid,
        segregation_codes: segregation_codes(q, segregation)?,
    })
}

fn list_request(
    query: Option<&str>,
    segregation: &SegregationScope,
) -> Result<PositionQuery, Problem> {
    let q = Query::parse(query, &KNOWN)?;
    let page = q.page_within(DEFAULT_LIMIT, MAX_LIMIT)?;
    let filter = position_filter(&q, segregation)?;
    let by = match q.get("orderby") {
        None | Some("INSERTED_DATE") => PositionOrderBy::InsertedDate,
        Some("IUPD") => PositionOrderBy::Iupd,
        Some("STATUS") => PositionOrderBy::Status,
        Some("COMPANY_NAME") => PositionOrderBy::CompanyName,
        Some(other) => {
            return Err(bad_request(format!(
                "orderby: '{other}' must be INSERTED_DATE, IUPD, STATUS or COMPANY_NAME"
            )));
        }
    };
    let descending = match q.get("ordering") {
        None | Some("DESC") => true,
        Some("ASC") => false,
        Some(other) => {
            return Err(bad_request(format!(
                "ordering: '{other}' must be ASC or DESC"
            )));
        }
    };
    Ok(PositionQuery {
        filter,
        order: PositionOrder { by, descending },
        page,
    })
}

/// `GET /organizations/{fiscalCode}/debtpositions?page&limit&due_date_from&due_date_to&…`
pub async fn list_positions(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let request = list_request(query, on.segregation)?;
    let now = on.ctx.clock.now();
    let page = on
        .ctx
        .store
        .list_positions(on.creditor.fiscal_code.clone(), request, now)
        .await?;
    Ok(Reply::json(
        200,
        &PositionPage {
            page_info: PageInfo::of(&page),
            payment_position_list: page
                .items
                .iter()
                .map(|p| convert::position_out(p, now, false))
                .collect(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PageRequest;

    fn at(s: &str) -> NaiveDateTime {
        convert::parse_datetime(s).unwrap()
    }

    fn detail(query: &str) -> String {
        let r = list_request(Some(query), &SegregationScope::All).unwrap_err();
        assert_eq!(r.status, 400, "{query}");
        r.detail
    }

    #[test]
    fn defaults_follow_gpd() {
        let r = list_request(None, &SegregationScope::All).ok().unwrap();
        assert_eq!(r.page, PageRequest { page: 0, limit: 10 });
        assert_eq!(r.order, PositionOrder::default());
        assert_eq!(r.filter, PositionFilter::default());
    }

    #[test]
    fn filters_and_windows() {
        let read = |query: &str| {
            list_request(Some(query), &SegregationScope::All)
                .ok()
                .unwrap()
        };
        let r = read(
            "status=VALID&due_date_from=2025-07-01&due_date_to=2025-07-31&orderby=IUPD&ordering=ASC&page=2&limit=50",
        );
        assert_eq!(r.filter.status, Some(PositionStatus::Valid));
        assert_eq!(
            r.filter.due.map(|w| w.from()),
            Some(at("2025-07-01T00:00:00"))
        );
        assert_eq!(
            r.filter.due.map(|w| w.to()),
            Some(at("2025-07-31T23:59:59.999"))
        );
        assert_eq!(
            r.order,
            PositionOrder {
                by: PositionOrderBy::Iupd,
                descending: false
            }
        );
        assert_eq!(r.page, PageRequest { page: 2, limit: 50 });
        // One bound implies the other, 30 days away.
        let r = read("payment_date_to=2025-07-31T10:00:00");
        assert_eq!(
            r.filter.paid.map(|w| w.from()),
            Some(at("2025-07-01T10:00:00"))
        );
        let r = read("payment_date_time_from=2025-07-01T10:00:00");
        assert_eq!(
            r.filter.paid.map(|w| w.to()),
            Some(at("2025-07-31T10:00:00"))
        );
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (query, parameter) in [
            ("status=LOST", "status"),
            ("orderby=AMOUNT", "orderby"),
            ("ordering=UP", "ordering"),
            ("limit=51", "limit"),
            ("limit=0", "limit"),
            ("page=-1", "page"),
            ("due_date_from=yesterday", "due_date_from"),
            (
                "payment_date_time_from=2025-07-01",
                "payment_date_time_from",
            ),
            (
                "due_date_from=2025-07-10&due_date_to=2025-07-01",
                "due_date_to",
            ),
            (
                "due_date_from=2025-07-01&due_date_to=2025-08-15",
                "due_date_to",
            ),
            (
                "due_date_from=2025-07-01&payment_date_to=2025-07-02",
                "due_date, payment_date",
            ),
            ("sort=IUPD", "sort"),
        ] {
            let d = detail(query);
            assert!(d.contains(parameter), "{query}: {d}");
        }
    }
}
