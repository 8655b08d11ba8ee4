//! The WHERE clause of a listing, built from its optional filters: each filter given adds a
//! condition whose values are bound by name. The statement's text depends only on which
//! filters are given (one cached statement per set of them), never on the caller's values.

use chrono::NaiveDateTime;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, ToSql};

use super::columns::{Listing, millis};
use super::connection::unavailable;
use crate::store::{Page, PageRequest, StoreError, TimeWindow};

pub(super) struct Where {
    conditions: Vec<String>,
    bound: Vec<(&'static str, Value)>,
}

impl Where {
    pub(super) fn new(condition: impl Into<String>) -> Where {
        Where {
            conditions: vec![condition.into()],
            bound: Vec::new(),
        }
    }

    /// Binds `name`, used by a condition, to `value`.
    pub(super) fn bind(&mut self, name: &'static str, value: impl Into<Value>) -> &mut Where {
        self.bound.push((name, value.into()));
        self
    }

    /// Adds a condition that binds nothing (built from our own constants).
    pub(super) fn and(&mut self, condition: impl Into<String>) -> &mut Where {
        self.conditions.push(condition.into());
        self
    }

    /// Adds `condition`, which uses `name`, when the filter has a value.
    pub(super) fn when<T: Into<Value>>(
        &mut self,
        condition: &str,
        name: &'static str,
        value: Option<T>,
    ) -> &mut Where {
        if let Some(value) = value {
            self.and(condition).bind(name, value);
        }
        self
    }

    /// `column` from `from` and up to `to` (instants, in milliseconds), for the bounds given;
    /// `names` are the parameters of the two bounds.
    pub(super) fn range(
        &mut self,
        column: &str,
        names: [&'static str; 2],
        from: Option<NaiveDateTime>,
        to: Option<NaiveDateTime>,
    ) -> &mut Where {
        let [from_name, to_name] = names;
        self.when(
            &format!("{column} >= {from_name}"),
            from_name,
            from.map(millis),
        )
        .when(&format!("{column} <= {to_name}"), to_name, to.map(millis))
    }

    /// [`Where::range`] over a window, when there is one.
    pub(super) fn window(
        &mut self,
        column: &str,
        names: [&'static str; 2],
        window: Option<TimeWindow>,
    ) -> &mut Where {
        self.range(
            column,
            names,
            window.map(|w| w.from()),
            window.map(|w| w.to()),
        )
    }

    /// Adds the conditions of `inner` as one, written by `wrap` (a subquery), with its values.
    pub(super) fn nested(&mut self, inner: Where, wrap: impl FnOnce(&str) -> String) {
        self.conditions.push(wrap(&inner.sql()));
        self.bound.extend(inner.bound);
    }

    /// The conditions, joined with AND.
    pub(super) fn sql(&self) -> String {
        self.conditions.join(" AND ")
    }

    /// A page of `listing`: the rows it reads that the conditions keep, each read by `row`,
    /// with the page's LIMIT and OFFSET, and how many rows of what it counts the conditions
    /// keep.
    pub(super) fn page<T>(
        &self,
        conn: &Connection,
        listing: &Listing,
        page: PageRequest,
        row: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let condition = self.sql();
        let mut refs = self.params();
        let items_found: i64 = conn
            .prepare_cached(&listing.count_sql(&condition))
            .and_then(|mut st| st.query_row(refs.as_slice(), |r| r.get(0)))
            .map_err(unavailable)?;
        let limit = Value::from(i64::from(page.limit));
        let offset = Value::from(i64::from(page.page) * i64::from(page.limit));
        refs.push((":limit", &limit));
        refs.push((":offset", &offset));
        let mut st = conn
            .prepare_cached(&listing.select_sql(&condition, "LIMIT :limit OFFSET :offset"))
            .map_err(unavailable)?;
        let mut rows = st.query(refs.as_slice()).map_err(unavailable)?;
        let mut items = Vec::new();
        while let Some(r) = rows.next().map_err(unavailable)? {
            items.push(row(r)?);
        }
        Ok(Page {
            items,
            request: page,
            items_found: items_found as u64,
        })
    }

    /// The bound values, for a statement's named parameters (more may be pushed after them).
    pub(super) fn params(&self) -> Vec<(&'static str, &dyn ToSql)> {
        self.bound
            .iter()
            .map(|(k, v)| (*k, v as &dyn ToSql))
            .collect()
    }
}
