//! Persistence behind the [`Store`] trait. SQLite (embedded, the default) implements it in
//! [`sqlite`]; a PostgreSQL backend for several instances implements the same trait. Methods
//! return boxed futures so that the trait can be used as `dyn Store` from the async server.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::domain::position::{Conflict, DebtPosition, Iupd};
use crate::domain::{FiscalCodePA, NoticeNumber};

pub mod sqlite;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// How a position is found: by the creditor's IUPD, or by the notice number of one of its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionKey {
    Iupd(Iupd),
    Notice(NoticeNumber),
}

/// A change applied to a position inside one transaction; refusing leaves it untouched.
pub type Mutation = Box<dyn FnOnce(&mut DebtPosition) -> Result<(), Conflict> + Send>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A uniqueness rule: `field` is the JSON name of the clashing value.
    Duplicate {
        field: &'static str,
        value: String,
    },
    NotFound,
    /// The mutation refused the change.
    Refused(Conflict),
    /// The store could not be used (I/O, corruption, closed). Callers answer with a system error.
    Unavailable(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Duplicate { field, value } => {
                write!(f, "{field} {value} already exists for this organization")
            }
            StoreError::NotFound => f.write_str("not found"),
            StoreError::Refused(c) => f.write_str(&c.0),
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub trait Store: Send + Sync + 'static {
    /// Inserts a new position with its options and transfers; IUPD, IUV and notice number are
    /// unique per organization.
    fn create_position(&self, position: DebtPosition) -> StoreFuture<'_, DebtPosition>;

    fn get_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
    ) -> StoreFuture<'_, Option<DebtPosition>>;

    /// Reads, changes and writes back one position atomically; the written position is returned.
    fn update_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        change: Mutation,
    ) -> StoreFuture<'_, DebtPosition>;

    /// Cheap liveness check.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Flushes and closes; later calls fail with `Unavailable`.
    fn close(&self) -> StoreFuture<'_, ()>;
}
