//! The WHERE clause of a listing, built from its optional filters: each value is bound as the
//! next numbered parameter, so that the statement's text depends only on which filters are
//! given (one prepared statement per set of them), never on the caller's values.

use tokio_postgres::types::ToSql;

use super::positions::{Param, refs};
use crate::store::TimeWindow;
use crate::store::columns::millis;

#[derive(Default)]
pub(super) struct Where<'a> {
    conditions: Vec<String>,
    values: Vec<Param<'a>>,
}

impl<'a> Where<'a> {
    /// Binds `value` as the next parameter; returns its placeholder (`$n`).
    pub(super) fn bind(&mut self, value: impl ToSql + Sync + Send + 'a) -> String {
        self.values.push(Box::new(value));
        format!("${}", self.values.len())
    }

    /// Adds a condition, whose values are bound already.
    pub(super) fn and(&mut self, condition: impl Into<String>) -> &mut Where<'a> {
        self.conditions.push(condition.into());
        self
    }

    /// `column` within the window (instants in milliseconds, bounds included), when there is
    /// one; for a condition written elsewhere (a subquery), returned rather than added.
    pub(super) fn window(&mut self, column: &str, window: Option<TimeWindow>) -> Option<String> {
        let w = window?;
        let from = self.bind(millis(w.from()));
        let to = self.bind(millis(w.to()));
        Some(format!("{column} >= {from} AND {column} <= {to}"))
    }

    /// The conditions, joined with AND.
    pub(super) fn sql(&self) -> String {
        self.conditions.join(" AND ")
    }

    /// The bound values, in their parameters' order (more may be pushed after them).
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        refs(&self.values)
    }
}
