//! The ACA mirror's rows as both stores read and write them: a row's columns into an
//! [`AcaMirror`], and what the archive holds into its three columns. The statements are each
//! store's (sqlite/aca.rs, postgres/aca.rs).

use crate::store::columns::Listing;
use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::columns::{corrupt, from_millis, opt_millis};
use super::{AcaMirror, StoreError};
use crate::domain::FiscalCodePA;
use crate::domain::aca::{Archived, ArchivedStatus, MirrorState};

/// The columns every statement that reads a mirror selects, in [`MirrorColumns`]' order.
pub(in crate::store) const MIRROR_COLUMNS: &str = "organization, iupd, generation, state, \
    attempts, due_at, last_attempt_at, last_error, archived_status, archived_digest, archived_paid";

/// A listing of mirror operations, the latest change first.
pub(in crate::store) const MIRROR_LISTING: Listing =
    Listing::new(MIRROR_COLUMNS, "aca_mirror", "change_seq DESC");

/// A row as read, before its values are checked.
pub(in crate::store) struct MirrorColumns {
    pub organization: String,
    pub iupd: String,
    pub generation: i64,
    pub state: String,
    pub attempts: i64,
    pub due_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub archived_status: Option<String>,
    pub archived_digest: Option<String>,
    pub archived_paid: String,
}

impl MirrorColumns {
    pub(in crate::store) fn into_mirror(self) -> Result<AcaMirror, StoreError> {
        let archived = match self.archived_status {
            None => None,
            Some(s) => Some(Archived {
                status: ArchivedStatus::parse(&s)
                    .ok_or_else(|| corrupt("aca_mirror.archived_status", &s))?,
                digest: self.archived_digest.unwrap_or_default(),
                paid: self
                    .archived_paid
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<BTreeSet<_>>(),
            }),
        };
        Ok(AcaMirror {
            organization: FiscalCodePA::parse(&self.organization)
                .map_err(|e| corrupt("aca_mirror.organization", e))?,
            iupd: self.iupd,
            generation: self.generation,
            state: MirrorState::parse(&self.state)
                .ok_or_else(|| corrupt("aca_mirror.state", &self.state))?,
            attempts: u32::try_from(self.attempts)
                .map_err(|e| corrupt("aca_mirror.attempts", e))?,
            due_at: match self.due_at {
                0 => None,
                ms => Some(from_millis(ms, "aca_mirror.due_at")?),
            },
            last_attempt_at: opt_millis(self.last_attempt_at, "aca_mirror.last_attempt_at")?,
            last_error: self.last_error,
            archived,
        })
    }
}

/// What the archive holds, as its three columns: status (NULL: nothing), digest, paid notices.
pub(in crate::store) fn archived_columns(
    archived: &Option<Archived>,
) -> (Option<&'static str>, Option<String>, String) {
    match archived {
        None => (None, None, String::new()),
        Some(a) => (
            Some(a.status.as_str()),
            Some(a.digest.clone()),
            a.paid
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

/// `retry_at` in milliseconds, 0 (at once) when there is none.
pub(in crate::store) fn due_millis(at: Option<NaiveDateTime>) -> i64 {
    at.map_or(0, super::columns::millis)
}
