//! The creditor's event journal: `GET /organizations/{fiscalCode}/events` lists the entries of
//! its primitives, deliveries and REST calls (see `crate::journal`), newest first, with filters
//! and paging as the other lists. An IUPD is looked for through its digest, which is all the
//! journal keeps of it.

use serde::Serialize;

use super::query::{Query, bound, paged};
use super::reply::{Problem, bad_request};
use super::{OnCreditor, Reply};
use crate::domain::api_key::KeyId;
use crate::domain::journal::{EventKind, JournalEntry, JournalFilter, Outcome, iupd_digest};
use crate::domain::messages::Operation;
use crate::domain::position::Iupd;
use crate::domain::{Iuv, NoticeNumber, Text};
use crate::json::convert::format_datetime;

const PARAMETERS: &[&str] = &[
    "from",
    "to",
    "kind",
    "primitive",
    "noticeNumber",
    "iuv",
    "iupd",
    "receiptId",
    "outcome",
    "keyId",
    "page",
    "limit",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventOut {
    at: String,
    kind: &'static str,
    organization_fiscal_code: Option<String>,
    primitive: Option<String>,
    #[serde(rename = "idBrokerPA")]
    id_broker_pa: Option<String>,
    station_id: Option<String>,
    notice_number: Option<String>,
    iuv: Option<String>,
    iupd_digest: Option<String>,
    receipt_id: Option<String>,
    key_id: Option<String>,
    method: Option<String>,
    route: Option<String>,
    status: Option<u16>,
    outcome: &'static str,
    fault_code: Option<String>,
    error: Option<String>,
    attempt: Option<u32>,
    duration_us: u64,
}

fn event_out(e: JournalEntry) -> EventOut {
    EventOut {
        at: format_datetime(e.at),
        kind: e.kind.as_str(),
        organization_fiscal_code: e.organization,
        primitive: e.primitive,
        id_broker_pa: e.broker_id,
        station_id: e.station_id,
        notice_number: e.notice_number,
        iuv: e.iuv,
        iupd_digest: e.iupd_digest,
        receipt_id: e.receipt_id,
        key_id: e.key_id,
        method: e.method,
        route: e.route,
        status: e.status,
        outcome: e.outcome.as_str(),
        fault_code: e.fault_code,
        error: e.error,
        attempt: e.attempt,
        duration_us: e.duration_us,
    }
}

/// `GET /organizations/{fiscalCode}/events?from&to&kind&primitive&noticeNumber&iuv&iupd&receiptId&outcome&keyId&page&limit`
pub async fn list_events(on: OnCreditor<'_>, query: Option<&str>) -> Result<Reply, Problem> {
    let q = Query::parse(query, PARAMETERS)?;
    let filter = filter(&q)?;
    let page = q.page()?;
    let listed = on
        .ctx
        .store
        .list_journal(on.creditor.fiscal_code.clone(), filter, page)
        .await?;
    Ok(Reply::json(200, &paged(listed, event_out)))
}

/// The filters of the query, each checked for its shape.
fn filter(q: &Query) -> Result<JournalFilter, Problem> {
    let from = bound(q, "from", false)?;
    let to = bound(q, "to", true)?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(bad_request("from: must not be after to"));
    }
    let listed = |names: Vec<&str>| names.join(", ");
    let kind = checked(
        q,
        "kind",
        |v| EventKind::parse(v).ok_or(()),
        || {
            format!(
                "one of {}",
                listed(EventKind::ALL.iter().map(|k| k.as_str()).collect())
            )
        },
    )?;
    let outcome = checked(
        q,
        "outcome",
        |v| Outcome::parse(v).ok_or(()),
        || {
            format!(
                "one of {}",
                listed(Outcome::ALL.iter().map(|o| o.as_str()).collect())
            )
        },
    )?;
    let primitive = checked(
        q,
        "primitive",
        |v| {
            Operation::from_soap_action(v)
                .map(|op| op.action().to_owned())
                .ok_or(())
        },
        || {
            format!(
                "one of {}",
                listed(Operation::ALL.iter().map(|op| op.action()).collect())
            )
        },
    )?;
    let notice_number = checked(
        q,
        "noticeNumber",
        |v| NoticeNumber::parse(v).map(|n| n.to_string()).map_err(drop),
        || "a notice number of 18 digits".to_owned(),
    )?;
    let iuv = checked(
        q,
        "iuv",
        |v| Iuv::parse(v).map(|i| i.to_string()).map_err(drop),
        || "an IUV of 17 digits, check digits included".to_owned(),
    )?;
    let iupd = checked(
        q,
        "iupd",
        |v| {
            Iupd::parse(v)
                .map(|i| iupd_digest(i.as_str()))
                .map_err(drop)
        },
        || "an IUPD of 1 to 100 letters, digits, '_', '-' or '.'".to_owned(),
    )?;
    let receipt_id = checked(
        q,
        "receiptId",
        |v| {
            Text::<35>::parse_xsd(v)
                .map(Text::into_string)
                .map_err(drop)
        },
        || "1 to 35 characters".to_owned(),
    )?;
    let key_id = checked(
        q,
        "keyId",
        |v| KeyId::parse(v).map(|k| k.to_string()).map_err(drop),
        || "a key id of 12 lowercase hexadecimal digits".to_owned(),
    )?;
    Ok(JournalFilter {
        from,
        to,
        kind,
        primitive,
        notice_number,
        iuv,
        iupd_digest: iupd,
        receipt_id,
        outcome,
        key_id,
    })
}

/// The value of `key` read by `read`; a value it refuses is a 400 saying it must be `what`.
fn checked<T>(
    q: &Query,
    key: &str,
    read: impl FnOnce(&str) -> Result<T, ()>,
    what: impl FnOnce() -> String,
) -> Result<Option<T>, Problem> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => read(v)
            .map(Some)
            .map_err(|()| bad_request(format!("{key}: '{v}' must be {}", what()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::at;

    /// The filter of `query`, its page checked too.
    fn parsed(query: &str) -> Result<JournalFilter, u16> {
        let q = Query::parse(Some(query), PARAMETERS).map_err(|p| p.status)?;
        q.page().map_err(|p| p.status)?;
        filter(&q).map_err(|p| p.status)
    }

    fn an_iuv() -> String {
        let code = crate::domain::SegregationCode::parse("01").unwrap();
        Iuv::from_parts(code, 4_242).unwrap().to_string()
    }

    #[test]
    fn every_filter_reads_its_value() {
        let f = parsed(&format!(
            "from=2026-01-01&to=2026-01-31T12:00:00&kind=DELIVERY&primitive=paSendRTV2\
             &noticeNumber=311111111112222222&receiptId=R-1&outcome=FAILED&keyId=ab00010203ff\
             &iuv={}&iupd=IUPD-1",
            an_iuv()
        ))
        .unwrap();
        assert_eq!(f.from, Some(at(2026, 1, 1) - chrono::Duration::hours(12)));
        assert_eq!(
            f.to,
            Some(at(2026, 1, 31)),
            "a date-time bound is kept as given"
        );
        assert_eq!(f.kind, Some(EventKind::Delivery));
        assert_eq!(f.primitive.as_deref(), Some("paSendRTV2"));
        assert_eq!(f.notice_number.as_deref(), Some("311111111112222222"));
        assert_eq!(f.receipt_id.as_deref(), Some("R-1"));
        assert_eq!(f.outcome, Some(Outcome::Failed));
        assert_eq!(f.key_id.as_deref(), Some("ab00010203ff"));
        assert_eq!(f.iuv, Some(an_iuv()));
        assert_eq!(f.iupd_digest, Some(iupd_digest("IUPD-1")));
        assert_eq!(parsed(""), Ok(JournalFilter::default()));
        // A date as `to` is the whole day.
        let f = parsed("to=2026-01-31").unwrap();
        assert_eq!(f.to.unwrap().format("%H:%M:%S").to_string(), "23:59:59");
    }

    #[test]
    fn bad_filters_are_400() {
        for bad in [
            "kind=rest",
            "outcome=MAYBE",
            "primitive=paFoo",
            "noticeNumber=12",
            "iuv=abc",
            "iuv=01000000000424200",
            "iupd=a b",
            "receiptId=",
            "keyId=XYZ",
            "from=yesterday",
            "from=2026-02-01&to=2026-01-01",
            "unknown=1",
            "kind=REST&kind=REST",
            "limit=0",
        ] {
            assert_eq!(parsed(bad), Err(400), "{bad}");
        }
    }
}
