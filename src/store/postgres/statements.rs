//! How the PostgreSQL store runs a statement: prepared once per connection (the pool keeps
//! each connection's prepared statements by their text), run with its values, and any error
//! told in the store's terms ([`db_error`]). On a pooled connection or a transaction alike.

use std::future::Future;

use deadpool_postgres::GenericClient;
use tokio_postgres::types::{FromSqlOwned, ToSql};
use tokio_postgres::{Row, Statement};

use super::errors::db_error;
use crate::store::StoreError;

/// The values of a statement's parameters, `$1` first.
pub(super) type Params<'a> = [&'a (dyn ToSql + Sync)];

pub(super) trait Statements: GenericClient {
    /// `sql` prepared on this connection, once.
    fn statement(&self, sql: &str) -> impl Future<Output = Result<Statement, StoreError>> + Send {
        async move { self.prepare_cached(sql).await.map_err(db_error) }
    }

    /// Runs `sql`; how many rows it wrote.
    fn exec(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move {
            self.execute(&self.statement(sql).await?, params)
                .await
                .map_err(db_error)
        }
    }

    /// The rows `sql` returns.
    fn rows(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send {
        async move {
            self.query(&self.statement(sql).await?, params)
                .await
                .map_err(db_error)
        }
    }

    /// The one row `sql` returns; none or several is an error.
    fn row(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Row, StoreError>> + Send {
        async move {
            self.query_one(&self.statement(sql).await?, params)
                .await
                .map_err(db_error)
        }
    }

    /// The row `sql` returns, if any; several is an error.
    fn opt_row(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send {
        async move {
            self.query_opt(&self.statement(sql).await?, params)
                .await
                .map_err(db_error)
        }
    }

    /// The first column of the one row `sql` returns (a count, an id, a flag).
    fn value<T: FromSqlOwned>(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<T, StoreError>> + Send {
        async move { self.row(sql, params).await?.try_get(0).map_err(db_error) }
    }
}

impl<C: GenericClient> Statements for C {}
