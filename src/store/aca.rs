//! The ACA mirror's rows as both stores read and write them: a row's columns into an
//! [`AcaMirror`], what the archive holds into its three columns, and the statement that records
//! an attempt. The other statements are each store's (sqlite/aca.rs, postgres/aca.rs).

use crate::store::columns::Listing;
use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::columns::{ColumnValue, corrupt, from_millis, millis, opt_millis};
use super::{AcaMirror, MirrorRecord, StoreError};
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
fn due_millis(at: Option<NaiveDateTime>) -> i64 {
    at.map_or(0, super::columns::millis)
}

/// The statement that records an attempt on the mirror of (`organization`, `iupd`) that
/// mirrored `generation`, in the store's parameter marks (`$` or `?`), and the values it binds.
/// The row's result counts only if no change came since (its generation is still the one
/// mirrored); what the archive now holds is kept either way, and the lease is given up.
pub(in crate::store) fn record_statement<'a>(
    mark: char,
    organization: &'a str,
    iupd: &'a str,
    generation: i64,
    record: &'a MirrorRecord,
    now: NaiveDateTime,
) -> (String, Vec<ColumnValue<'a>>) {
    let m = mark;
    let (archived, result, rest): (_, _, Vec<ColumnValue>) = match record {
        MirrorRecord::Mirrored { archived, .. } => (
            archived,
            format!(
                "mirrored_generation = {m}3, attempts = 0, last_error = NULL, last_attempt_at = {m}7,
                state = CASE WHEN generation = {m}3 THEN 'DONE' ELSE 'PENDING' END,
                due_at = CASE WHEN generation = {m}3 THEN due_at ELSE 0 END"
            ),
            vec![millis(now).into()],
        ),
        MirrorRecord::Failed {
            archived,
            error,
            retry_at,
        } => (
            archived,
            format!(
                "last_error = {m}7, last_attempt_at = {m}8,
                attempts = CASE WHEN generation = {m}3 THEN attempts + 1 ELSE attempts END,
                state = CASE WHEN generation = {m}3 AND CAST({m}9 AS bigint) IS NULL
                    THEN 'FAILED' ELSE 'PENDING' END,
                due_at = CASE WHEN generation = {m}3 THEN coalesce(CAST({m}9 AS bigint), 0)
                    ELSE 0 END"
            ),
            vec![
                error.as_str().into(),
                millis(now).into(),
                retry_at.map(|at| due_millis(Some(at))).into(),
            ],
        ),
    };
    let sql = format!(
        "UPDATE aca_mirror SET archived_status = {m}4, archived_digest = {m}5,
            archived_paid = {m}6, lease_until = 0, {result}
         WHERE organization = {m}1 AND iupd = {m}2"
    );
    let (status, digest, paid) = archived_columns(archived);
    let mut values: Vec<ColumnValue> = vec![
        organization.into(),
        iupd.into(),
        generation.into(),
        status.into(),
        digest.into(),
        paid.into(),
    ];
    values.extend(rest);
    (sql, values)
}
