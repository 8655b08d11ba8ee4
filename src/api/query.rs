//! Query strings of the list endpoints: `key=value` pairs, percent-decoded, and the paging
//! parameters every list shares.

use super::{Reply, bad_request};
use crate::store::PageRequest;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 100;
const DEFAULT_LIMIT: u32 = 50;

/// The decoded pairs of a query string; a key not in `known` is refused.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>, known: &[&str]) -> Result<Query, Reply> {
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

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str, default: u32, max: u32) -> Result<u32, Reply> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| {
                bad_request(format!("{key}: '{v}' must be a number from 0 to {max}"))
            }),
        }
    }

    /// `page` (from 0) and `limit` (1..=100, default 50).
    pub fn page(&self) -> Result<PageRequest, Reply> {
        self.page_within(DEFAULT_LIMIT, MAX_LIMIT)
    }

    /// `page` (from 0) and `limit` (1..=`max`, default `default`).
    pub fn page_within(&self, default: u32, max: u32) -> Result<PageRequest, Reply> {
        let page = self.number("page", 0, u32::MAX / max)?;
        let limit = self.number("limit", default, max)?;
        if limit == 0 {
            return Err(bad_request(format!(
                "limit: must be a number from 1 to {max}"
            )));
        }
        Ok(PageRequest { page, limit })
    }
}

fn decode(s: &str) -> Result<String, Reply> {
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
