//! The WHERE clause of a listing, built from its optional filters: each value is bound as the
//! next numbered parameter, so that the statement's text depends only on which filters are
//! given (one prepared statement per set of them), never on the caller's values.

use chrono::NaiveDateTime;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::positions::{Param, refs};
use super::statements::Statements;
use super::{PgStore, db_error, read_transaction};
use crate::store::columns::{Listing, millis};
use crate::store::{Page, PageRequest, StoreError, TimeWindow};

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

    /// Adds `column = value` when the filter has a value.
    pub(super) fn equals(
        &mut self,
        column: &str,
        value: Option<impl ToSql + Sync + Send + 'a>,
    ) -> &mut Where<'a> {
        if let Some(value) = value {
            let at = self.bind(value);
            self.and(format!("{column} = {at}"));
        }
        self
    }

    /// `column` from `from` and up to `to` (instants, in milliseconds), for the bounds given.
    pub(super) fn range(
        &mut self,
        column: &str,
        from: Option<NaiveDateTime>,
        to: Option<NaiveDateTime>,
    ) -> &mut Where<'a> {
        if let Some(from) = from {
            let at = self.bind(millis(from));
            self.and(format!("{column} >= {at}"));
        }
        if let Some(to) = to {
            let at = self.bind(millis(to));
            self.and(format!("{column} <= {at}"));
        }
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

    /// The conditions, joined with AND; `true` when there are none.
    pub(super) fn sql(&self) -> String {
        if self.conditions.is_empty() {
            return "true".to_owned();
        }
        self.conditions.join(" AND ")
    }

    /// The bound values, in their parameters' order (more may be pushed after them).
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        refs(&self.values)
    }

    /// How many rows of `from` (a FROM clause) the conditions keep: a listing's count, read in
    /// the transaction that reads its page.
    pub(super) async fn count(&self, tx: &Transaction<'_>, from: &str) -> Result<u64, StoreError> {
        let sql = format!("SELECT count(*) FROM {from} WHERE {}", self.sql());
        let n: i64 = tx.value(&sql, &self.params()).await?;
        Ok(n as u64)
    }

    /// A page of `listing`: the rows it reads that the conditions keep, each read by `row`,
    /// with the page's LIMIT and OFFSET, and how many rows of what it counts the conditions
    /// keep. Both come from one snapshot, so that rows written meanwhile by any instance are
    /// in both or in neither.
    pub(super) async fn page<T>(
        &self,
        store: &PgStore,
        listing: &Listing,
        page: PageRequest,
        row: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let bounds = Bounds::of(page);
        let mut params = self.params();
        let limit = bounds.bind(&mut params);
        let mut client = store.client().await?;
        let tx = read_transaction(&mut client).await?;
        let items_found = self.count(&tx, listing.counted).await?;
        let rows = tx
            .rows(&listing.select_sql(&self.sql(), &limit), &params)
            .await?;
        let items = rows.iter().map(row).collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(db_error)?;
        Ok(Page {
            items,
            request: page,
            items_found,
        })
    }
}

/// A page's LIMIT and OFFSET, bound after a listing's other values.
pub(super) struct Bounds {
    limit: i64,
    offset: i64,
}

impl Bounds {
    pub(super) fn of(page: PageRequest) -> Bounds {
        let limit = i64::from(page.limit);
        Bounds {
            limit,
            offset: i64::from(page.page) * limit,
        }
    }

    /// Pushes the limit and the offset after `params`; returns the clause that names them.
    pub(super) fn bind<'a>(&'a self, params: &mut Vec<&'a (dyn ToSql + Sync)>) -> String {
        params.push(&self.limit);
        let limit_at = params.len();
        params.push(&self.offset);
        format!("LIMIT ${limit_at} OFFSET ${}", params.len())
    }
}
