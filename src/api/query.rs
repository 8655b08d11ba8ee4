//! Query strings of the list endpoints: `key=value` pairs, percent-decoded, the paging
//! parameters, date bounds and segregation codes the lists share, and the page they answer.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::reply::{Problem, bad_request};
use crate::domain::SegregationCode;
use crate::domain::api_key::SegregationScope;
use crate::json::convert::parse_datetime;
use crate::store::{Page, PageRequest};

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 100;
const DEFAULT_LIMIT: u32 = 50;

/// The decoded pairs of a query string; a key not in `known` is refused.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>, known: &[&str]) -> Result<Query, Problem> {
        let mut pairs = Vec::new();
        for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            if !known.contains(&k.as_str()) {
                return Err(bad_request(format!(
                    "unknown query parameter '{k}'; this list takes {}",
                    known.join(", ")
                )));
            }
            if pairs.iter().any(|(seen, _): &(String, String)| *seen == k) {
                return Err(bad_request(format!("query parameter '{k}' is given twice")));
            }
            pairs.push((k, v));
        }
        Ok(Query(pairs))
    }

    /// Pairs given otherwise than in a query string (a JSON object's), checked as `parse` does.
    pub fn from_pairs(pairs: Vec<(String, String)>, known: &[&str]) -> Result<Query, Problem> {
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(bad_request(format!(
                "unknown parameter '{k}'; this takes {}",
                known.join(", ")
            )));
        }
        Ok(Query(pairs))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A number from `min` to `max`; `default` when not given.
    pub fn number(&self, key: &str, default: u32, min: u32, max: u32) -> Result<u32, Problem> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    bad_request(format!("{key}: '{v}' must be a number from {min} to {max}"))
                }),
        }
    }

    /// `page` (from 0) and `limit` (1..=100, default 50).
    pub fn page(&self) -> Result<PageRequest, Problem> {
        self.page_within(DEFAULT_LIMIT, MAX_LIMIT)
    }

    /// `page` (from 0) and `limit` (1..=`max`, default `default`).
    pub fn page_within(&self, default: u32, max: u32) -> Result<PageRequest, Problem> {
        let page = self.number("page", 0, 0, u32::MAX / max)?;
        let limit = self.number("limit", default, 0, max)?;
        if limit == 0 {
            return Err(bad_request(format!(
                "limit: must be a number from 1 to {max}"
            )));
        }
        Ok(PageRequest { page, limit })
    }
}

/// A `from` / `to` bound: a date (the whole day) or a date-time.
pub fn bound(q: &Query, key: &str, end_of_day: bool) -> Result<Option<NaiveDateTime>, Problem> {
    let Some(v) = q.get(key) else { return Ok(None) };
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        return Ok(t);
    }
    // gpd-payments also takes a date-time without seconds.
    let minutes = || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").ok();
    parse_datetime(v).or_else(minutes).map(Some).ok_or_else(|| {
        bad_request(format!(
            "{key}: '{v}' must be a date (2025-12-31) or a date-time (2025-12-31T23:59:59)"
        ))
    })
}

/// The segregation codes a list shows: GPD's `segregationCodes` (`01,02`), within the key's.
pub fn segregation_codes(
    q: &Query,
    segregation: &SegregationScope,
) -> Result<Option<BTreeSet<SegregationCode>>, Problem> {
    let asked = match q.get("segregationCodes") {
        None => None,
        Some(list) => Some(
            SegregationScope::parse_list(list)
                .map_err(|e| bad_request(format!("segregationCodes: '{list}' must be {e}")))?,
        ),
    };
    Ok(segregation.within(asked))
}

#[derive(Serialize)]
pub struct PageInfo {
    pub page: u32,
    pub limit: u32,
    pub items_found: u64,
    pub total_pages: u64,
}

impl PageInfo {
    pub fn of<T>(page: &Page<T>) -> PageInfo {
        PageInfo {
            page: page.request.page,
            limit: page.request.limit,
            items_found: page.items_found,
            total_pages: page.total_pages(),
        }
    }
}

#[derive(Serialize)]
pub struct Paged<T> {
    pub results: Vec<T>,
    pub page_info: PageInfo,
}

/// A store page as JSON, each item converted by `f`.
pub fn paged<T, U>(page: Page<T>, f: impl Fn(T) -> U) -> Paged<U> {
    Paged {
        page_info: PageInfo::of(&page),
        results: page.items.into_iter().map(f).collect(),
    }
}

fn decode(s: &str) -> Result<String, Problem> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad_request(format!("query: bad percent-encoding in '{s}'")))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad_request("query: not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_paging_and_errors() {
        let q = Query::parse(
            Some("page=2&limit=10&from=2025-01-01T00%3A00%3A00"),
            &["page", "limit", "from"],
        )
        .ok()
        .unwrap();
        assert_eq!(q.get("from"), Some("2025-01-01T00:00:00"));
        assert_eq!(q.page().ok(), Some(PageRequest { page: 2, limit: 10 }));
        let defaults = Query::parse(None, &[]).ok().unwrap();
        assert_eq!(
            defaults.page().ok(),
            Some(PageRequest { page: 0, limit: 50 })
        );
        assert!(Query::parse(Some("x=1"), &["page"]).is_err());
        assert!(Query::parse(Some("page=1&page=2"), &["page"]).is_err());
        assert!(Query::parse(Some("page=%zz"), &["page"]).is_err());
        for bad in ["limit=0", "limit=101", "page=-1", "limit=ten"] {
            assert!(
                Query::parse(Some(bad), &["page", "limit"])
                    .ok()
                    .unwrap()
                    .page()
                    .is_err(),
                "{bad}"
            );
        }
    }
}
