//! The WHERE clause of a listing, built from its optional filters: each filter given adds a
//! condition whose values are bound by name. The statement's text depends only on which
//! filters are given (one cached statement per set of them), never on the caller's values.

use chrono::NaiveDateTime;
use rusqlite::ToSql;
use rusqlite::types::Value;

use super::columns::millis;
use crate::store::TimeWindow;

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

    /// The bound values, for a statement's named parameters (more may be pushed after them).
    pub(super) fn params(&self) -> Vec<(&'static str, &dyn ToSql)> {
        self.bound
            .iter()
            .map(|(k, v)| (*k, v as &dyn ToSql))
            .collect()
    }
}
