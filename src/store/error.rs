//! How a store call fails, the same for every backend: the callers (the primitives, the REST
//! API) turn each kind into their own answer.

use std::fmt;

use crate::domain::position::{Conflict, Refusal};

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
    /// The mutation found the change impossible on this content.
    Unprocessable(String),
    /// The mutation found the position out of the caller's reach.
    Forbidden(String),
    /// The position is no longer at the version the write expected.
    VersionMismatch {
        current: i64,
    },
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
            StoreError::Unprocessable(m) | StoreError::Forbidden(m) => f.write_str(m),
            StoreError::VersionMismatch { current } => {
                write!(
                    f,
                    "the position has changed: it is now at version {current}"
                )
            }
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The store's form of a domain refusal.
pub(super) fn refused(r: Refusal) -> StoreError {
    match r {
        Refusal::Conflict(c) => StoreError::Refused(c),
        Refusal::Unprocessable(m) => StoreError::Unprocessable(m),
        Refusal::Forbidden(m) => StoreError::Forbidden(m),
    }
}
