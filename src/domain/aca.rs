//! The mirror of a creditor's positions in the platform's central notices archive (ACA): what
//! the archive should hold of a position, and the steps that take it from what it holds (as
//! far as the gateway knows) to that. The archive is GPD's API: it has create, update, publish,
//! invalidate, delete and mark-paid, no restore; statuses that time moves (PUBLISHED to VALID,
//! VALID to EXPIRED) it moves itself from the same dates.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDateTime;

use super::position::{Conflict, DebtPosition, PositionStatus};

/// A position's status in the archive, as far as the mirror tells it apart: the time-driven
/// statuses are PUBLISHED here, and payments are the options marked paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchivedStatus {
    Draft,
    Published,
    Invalid,
}

impl ArchivedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArchivedStatus::Draft => "DRAFT",
            ArchivedStatus::Published => "PUBLISHED",
            ArchivedStatus::Invalid => "INVALID",
        }
    }

    pub fn parse(s: &str) -> Option<ArchivedStatus> {
        [Self::Draft, Self::Published, Self::Invalid]
            .into_iter()
            .find(|a| a.as_str() == s)
    }

    /// How the archive's own status (GPD's) reads here.
    pub fn of_platform(status: &str) -> Option<ArchivedStatus> {
        match status {
            "DRAFT" => Some(ArchivedStatus::Draft),
            "PUBLISHED" | "VALID" | "EXPIRED" | "PARTIALLY_PAID" | "PAID" | "REPORTED" => {
                Some(ArchivedStatus::Published)
            }
            "INVALID" => Some(ArchivedStatus::Invalid),
            _ => None,
        }
    }
}

/// What the archive holds of one position: its status, the digest of the content last sent
/// (empty when unknown: the next mirror sends it again) and the notice numbers marked paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub status: ArchivedStatus,
    pub digest: String,
    pub paid: BTreeSet<String>,
}

/// Where a position's mirror stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MirrorState {
    /// A change not yet in the archive: due now, or after a failed attempt when its backoff ends.
    Pending,
    /// Attempts given up after the retry policy's last one (or a refusal no retry mends); it
    /// waits for the next change of the position, or for a retry asked for.
    Failed,
    /// The archive holds the position as the store does.
    Done,
}

impl MirrorState {
    pub const ALL: [MirrorState; 3] =
        [MirrorState::Pending, MirrorState::Failed, MirrorState::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            MirrorState::Pending => "PENDING",
            MirrorState::Failed => "FAILED",
            MirrorState::Done => "DONE",
        }
    }

    pub fn parse(s: &str) -> Option<MirrorState> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether an operator may ask for a mirror in this state to be tried again: only one
    /// whose attempts were given up.
    pub fn may_retry(self) -> Result<(), Conflict> {
        if self == MirrorState::Failed {
            return Ok(());
        }
        Err(Conflict(format!(
            "only a FAILED mirror can be retried; this one is {self}"
        )))
    }
}

impl fmt::Display for MirrorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One call to the archive, in the order a plan lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `POST …/debtpositions[?toPublish=true]`
    Create {
        publish: bool,
    },
    /// `PUT …/debtpositions/{iupd}[?toPublish=true]`
    Update {
        publish: bool,
    },
    Publish,
    Invalidate,
    Delete,
    /// `POST …/paymentoptions/paids/{nav}`
    MarkPaid {
        nav: String,
        payment_date: NaiveDateTime,
    },
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::Create { .. } => "create",
            Step::Update { .. } => "update",
            Step::Publish => "publish",
            Step::Invalidate => "invalidate",
            Step::Delete => "delete",
            Step::MarkPaid { .. } => "mark paid",
        }
    }
}

/// The steps from `archived` to what the archive should hold of `current` (None: the position
/// was deleted), whose content digest is `digest`, as of `now`; and what the archive holds once
/// they are all done.
///
/// A position not in the archive yet is created only while it can still be paid or become
/// payable (DRAFT, PUBLISHED, VALID, PARTIALLY_PAID): an expired, invalid or paid one has no
/// notice left to show. An invalidated position restored to valid is deleted and created again
/// published, with its same notice numbers: the archive has no way back from INVALID.
pub fn plan(
    archived: Option<&Archived>,
    current: Option<(&DebtPosition, &str)>,
    now: NaiveDateTime,
) -> (Vec<Step>, Option<Archived>) {
    let Some((p, digest)) = current else {
        let steps = archived.map(|_| vec![Step::Delete]).unwrap_or_default();
        return (steps, None);
    };
    let status = p.status_at(now);
    let wanted = match status {
        PositionStatus::Draft => ArchivedStatus::Draft,
        PositionStatus::Invalid => ArchivedStatus::Invalid,
        _ => ArchivedStatus::Published,
    };
    let paid: Vec<(String, NaiveDateTime)> = p
        .options
        .iter()
        .filter_map(|o| Some((o.nav.to_string(), o.payment.as_ref()?.payment_date)))
        .collect();
    let mark = |known: &BTreeSet<String>| -> Vec<Step> {
        paid.iter()
            .filter(|(nav, _)| !known.contains(nav))
            .map(|(nav, at)| Step::MarkPaid {
                nav: nav.clone(),
                payment_date: *at,
            })
            .collect()
    };
    let publish = wanted != ArchivedStatus::Draft;
    let mut steps = Vec::new();
    match archived {
        None
        | Some(Archived {
            status: ArchivedStatus::Invalid,
            ..
        }) if wanted != ArchivedStatus::Invalid => {
            let creatable = matches!(
                status,
                PositionStatus::Draft
                    | PositionStatus::Published
                    | PositionStatus::Valid
                    | PositionStatus::PartiallyPaid
            );
            if !creatable {
                // Nothing payable to show; what the archive had stays as it was.
                return (Vec::new(), archived.cloned());
            }
            if archived.is_some() {
                steps.push(Step::Delete);
            }
            steps.push(Step::Create { publish });
            steps.extend(mark(&BTreeSet::new()));
        }
        None => return (Vec::new(), None),
        Some(a) => {
            let content_changed = a.digest != digest;
            let back_to_draft =
                a.status == ArchivedStatus::Published && wanted == ArchivedStatus::Draft;
            if a.status != ArchivedStatus::Invalid && (content_changed || back_to_draft) {
                steps.push(Step::Update { publish });
            } else if a.status == ArchivedStatus::Draft && publish {
                steps.push(Step::Publish);
            }
            if wanted == ArchivedStatus::Invalid && a.status != ArchivedStatus::Invalid {
                steps.push(Step::Invalidate);
            }
            steps.extend(mark(&a.paid));
        }
    }
    let done = Archived {
        status: wanted,
        digest: digest.to_owned(),
        paid: paid.into_iter().map(|(nav, _)| nav).collect(),
    };
    (steps, Some(done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Cents;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{OptionPayment, OptionStatus};

    fn archived(status: ArchivedStatus, digest: &str) -> Archived {
        Archived {
            status,
            digest: digest.into(),
            paid: BTreeSet::new(),
        }
    }

    fn published() -> DebtPosition {
        let mut p = position(vec![
            option(1, 1000, at(2025, 7, 1), false),
            option(2, 400, at(2025, 8, 1), true),
            option(3, 600, at(2025, 9, 1), true),
        ]);
        p.publish(at(2025, 6, 1)).unwrap();
        p
    }

    fn pay(p: &mut DebtPosition, i: usize) {
        let payment = OptionPayment {
            payment_date: at(2025, 6, 3),
            payment_method: None,
            psp_company: None,
            receipt_id: "r".into(),
            fee: Cents::ZERO,
        };
        p.mark_paid(i, payment, at(2025, 6, 3)).unwrap();
    }

    #[test]
    fn a_new_position_is_created_as_it_stands() {
        let now = at(2025, 6, 2);
        let draft = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        let (steps, done) = plan(None, Some((&draft, "d1")), now);
        assert_eq!(steps, vec![Step::Create { publish: false }]);
        assert_eq!(done.unwrap().status, ArchivedStatus::Draft);
        let (steps, _) = plan(None, Some((&published(), "d1")), now);
        assert_eq!(steps, vec![Step::Create { publish: true }]);
    }

    #[test]
    fn changes_become_update_publish_invalidate_and_paid_in_that_order() {
        let now = at(2025, 6, 2);
        let mut p = published();
        let draft = archived(ArchivedStatus::Draft, "d1");
        let (steps, _) = plan(Some(&draft), Some((&p, "d1")), now);
        assert_eq!(steps, vec![Step::Publish]);
        let (steps, _) = plan(Some(&draft), Some((&p, "d2")), now);
        assert_eq!(steps, vec![Step::Update { publish: true }]);
        p.invalidate(now).unwrap();
        let (steps, done) = plan(Some(&draft), Some((&p, "d2")), now);
        assert_eq!(
            steps,
            vec![Step::Update { publish: true }, Step::Invalidate]
        );
        assert_eq!(done.unwrap().status, ArchivedStatus::Invalid);
        let mut p = published();
        pay(&mut p, 1);
        let shown = archived(ArchivedStatus::Published, "d1");
        let (steps, done) = plan(Some(&shown), Some((&p, "d1")), now);
        let nav = p.options[1].nav.to_string();
        assert_eq!(
            steps,
            vec![Step::MarkPaid {
                nav: nav.clone(),
                payment_date: at(2025, 6, 3)
            }]
        );
        let done = done.unwrap();
        assert!(done.paid.contains(&nav));
        // Once recorded, nothing more to send.
        let (steps, _) = plan(Some(&done), Some((&p, "d1")), now);
        assert!(steps.is_empty());
    }

    #[test]
    fn an_update_without_publication_takes_the_archive_back_to_draft() {
        let now = at(2025, 6, 2);
        let draft = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        let shown = archived(ArchivedStatus::Published, "d1");
        let (steps, _) = plan(Some(&shown), Some((&draft, "d1")), now);
        assert_eq!(steps, vec![Step::Update { publish: false }]);
    }

    #[test]
    fn a_deleted_position_is_deleted_and_a_restored_one_created_again() {
        let now = at(2025, 6, 2);
        let shown = archived(ArchivedStatus::Published, "d1");
        assert_eq!(plan(Some(&shown), None, now), (vec![Step::Delete], None));
        assert_eq!(plan(None, None, now), (vec![], None));
        let invalid = archived(ArchivedStatus::Invalid, "d1");
        let (steps, done) = plan(Some(&invalid), Some((&published(), "d1")), now);
        assert_eq!(steps, vec![Step::Delete, Step::Create { publish: true }]);
        assert_eq!(done.unwrap().status, ArchivedStatus::Published);
    }

    #[test]
    fn what_can_no_longer_be_paid_is_not_created() {
        let mut p = published();
        p.invalidate(at(2025, 6, 2)).unwrap();
        assert_eq!(plan(None, Some((&p, "d")), at(2025, 6, 2)), (vec![], None));
        let mut p = published();
        p.switch_to_expired = true;
        assert_eq!(plan(None, Some((&p, "d")), at(2026, 1, 1)), (vec![], None));
        let mut p = published();
        pay(&mut p, 0);
        assert_eq!(p.options[0].status, OptionStatus::Paid);
        assert_eq!(plan(None, Some((&p, "d")), at(2025, 6, 4)), (vec![], None));
    }

    #[test]
    fn statuses_read_in_both_directions() {
        for s in [
            ArchivedStatus::Draft,
            ArchivedStatus::Published,
            ArchivedStatus::Invalid,
        ] {
            assert_eq!(ArchivedStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            ArchivedStatus::of_platform("EXPIRED"),
            Some(ArchivedStatus::Published)
        );
        for m in MirrorState::ALL {
            assert_eq!(MirrorState::parse(m.as_str()), Some(m));
        }
    }
}
