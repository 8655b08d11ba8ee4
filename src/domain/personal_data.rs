//! Personal data of debtors and payers, of which the creditor is the controller: when a
//! position's data ends its retention (its options' `retentionDate`), how long receipts keep
//! their payer and debtor (accounting records), what erasing leaves in their place (the
//! [`ERASED`] marker), and which of a data subject's positions and receipts an erasure request
//! may take and why the others are kept. The store persists these decisions; it makes none.

use chrono::{Duration, NaiveDateTime};

use super::Text;
use super::party::{EntityId, EntityType, Subject};
use super::position::{DebtPosition, Debtor, PositionStatus};

/// What stands where erased identifiers and names were: pagoPA's own value for a subject
/// without a fiscal code, valid wherever a fiscal code or a name is required.
pub const ERASED: &str = "ANONIMO";

/// Receipts keep their payer and debtor ten years by default: the period for which Italian law
/// (art. 2220 of the Civil Code) makes accounting records and their documents be kept.
pub const DEFAULT_RECEIPT_DAYS: u32 = 3650;

impl Debtor {
    /// The debtor of a position whose personal data was erased: the marker as fiscal code and
    /// name, the kind of subject kept (it is not personal), nothing else.
    pub fn erased(entity_type: EntityType) -> Debtor {
        Debtor {
            subject: Subject::named(
                entity_type,
                EntityId::parse(ERASED).expect("a valid identifier"),
                Text::new(ERASED).expect("a valid name"),
            ),
            region: None,
            phone: None,
        }
    }
}

impl DebtPosition {
    /// When the position's personal data reaches the end of its retention: the latest
    /// `retentionDate` of its options, when every option has one (an option without one keeps
    /// the whole position, as its debtor is one).
    pub fn retention_end(&self) -> Option<NaiveDateTime> {
        self.options
            .iter()
            .map(|o| o.retention_date)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    }

    /// Whether the debtor's personal data was erased.
    pub fn is_erased(&self) -> bool {
        self.personal_data_erased.is_some()
    }

    /// Erases the debtor's personal data as of `now`; what accounting needs (amounts, IUV,
    /// notice numbers, statuses, dates, transfers) stays.
    pub fn erase_personal_data(&mut self, now: NaiveDateTime) {
        self.debtor = Debtor::erased(self.debtor.subject.entity_type);
        self.personal_data_erased = Some(now);
    }
}

/// Why a position or receipt keeps the data subject's personal data after an erasure request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// PUBLISHED or VALID: an open debt the creditor is bound to collect.
    OpenDebt(PositionStatus),
    /// Something of it was paid: an accounting record, kept until its retention ends (None:
    /// the creditor set no retention date, so until the creditor deletes it or sets one).
    Paid { until: Option<NaiveDateTime> },
    /// A receipt: an accounting record, its payer and debtor kept until then.
    Receipt { until: NaiveDateTime },
}

impl Kept {
    /// The reason as the answer to the request states it.
    pub fn reason(&self) -> String {
        let date = |d: &NaiveDateTime| d.format("%Y-%m-%d").to_string();
        match self {
            Kept::OpenDebt(status) => {
                format!("{status}: an open debt the creditor is bound to collect")
            }
            Kept::Paid { until: Some(until) } => format!(
                "paid: accounting records kept until {} (the position's retention date)",
                date(until)
            ),
            Kept::Paid { until: None } => "paid: accounting records kept; the position has no \
                 retention date, so until the creditor deletes it or sets one"
                .to_owned(),
            Kept::Receipt { until } => {
                format!("receipt: accounting records kept until {}", date(until))
            }
        }
    }
}

/// What an erasure request does to one of the data subject's positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionErasure {
    Erase,
    Keep(Kept),
}

/// Whether an erasure request takes the position's personal data as of `now`: a position that
/// is not payable and never was paid (DRAFT, INVALID, EXPIRED) has no legal ground left to keep
/// it; an open debt (PUBLISHED, VALID) must still be collected, and anything paid is an
/// accounting record.
pub fn position_erasure(position: &DebtPosition, now: NaiveDateTime) -> PositionErasure {
    let status = position.status_at(now);
    if !position.nothing_paid() {
        return PositionErasure::Keep(Kept::Paid {
            until: position.retention_end(),
        });
    }
    match status {
        PositionStatus::Draft | PositionStatus::Invalid | PositionStatus::Expired => {
            PositionErasure::Erase
        }
        PositionStatus::Published | PositionStatus::Valid => {
            PositionErasure::Keep(Kept::OpenDebt(status))
        }
        PositionStatus::PartiallyPaid | PositionStatus::Paid | PositionStatus::Reported => {
            PositionErasure::Keep(Kept::Paid {
                until: position.retention_end(),
            })
        }
    }
}

/// How long receipts keep their payer and debtor, counted from their receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptRetention {
    days: u32,
}

impl ReceiptRetention {
    /// At least one day: a receipt's data is kept until its broadcast is done.
    pub fn days(days: u32) -> Option<ReceiptRetention> {
        (days >= 1).then_some(ReceiptRetention { days })
    }

    /// Receipts received before this, at `now`, have ended their retention.
    pub fn received_before(&self, now: NaiveDateTime) -> NaiveDateTime {
        now - Duration::days(i64::from(self.days))
    }

    /// Until when a receipt received at `received_at` keeps its personal data.
    pub fn kept_until(&self, received_at: NaiveDateTime) -> NaiveDateTime {
        received_at + Duration::days(i64::from(self.days))
    }
}

impl Default for ReceiptRetention {
    fn default() -> Self {
        ReceiptRetention {
            days: DEFAULT_RECEIPT_DAYS,
        }
    }
}

/// Whether `fiscal_code` names a data subject whose data can be asked for: not the marker,
/// which stands for erased data of anyone.
pub fn is_subject(fiscal_code: &EntityId) -> bool {
    fiscal_code.as_str() != ERASED
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Cents;
    use crate::domain::position::OptionPayment;
    use crate::domain::position::tests::{at, option, position};

    #[test]
    fn retention_ends_with_the_last_option_and_only_when_all_have_one() {
        let mut p = position(vec![
            option(1, 100, at(2025, 7, 1), true),
            option(2, 100, at(2025, 8, 1), true),
        ]);
        assert_eq!(p.retention_end(), None);
        p.options[0].retention_date = Some(at(2026, 1, 1));
        assert_eq!(p.retention_end(), None, "one option has none");
        p.options[1].retention_date = Some(at(2026, 3, 1));
        assert_eq!(p.retention_end(), Some(at(2026, 3, 1)));
    }

    #[test]
    fn erasing_keeps_accounting_and_marks_the_debtor() {
        let mut p = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        p.debtor.phone = Some(Text::new("+39 06 1234").unwrap());
        let before = p.clone();
        p.erase_personal_data(at(2026, 1, 1));
        assert!(p.is_erased());
        assert_eq!(p.debtor.subject.entity_id.as_str(), ERASED);
        assert_eq!(p.debtor.subject.full_name.as_str(), ERASED);
        assert_eq!(
            p.debtor.subject.entity_type,
            before.debtor.subject.entity_type
        );
        assert_eq!(p.debtor.phone, None);
        assert_eq!(p.options, before.options);
        assert_eq!(p.status, before.status);
        assert_eq!(p.iupd, before.iupd);
    }

    #[test]
    fn erasure_requests_take_what_is_neither_open_nor_paid() {
        let now = at(2025, 6, 2);
        let mut p = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        assert_eq!(position_erasure(&p, now), PositionErasure::Erase, "draft");
        p.publish(at(2025, 6, 1)).unwrap();
        assert_eq!(
            position_erasure(&p, now),
            PositionErasure::Keep(Kept::OpenDebt(PositionStatus::Valid))
        );
        let mut invalid = p.clone();
        invalid.invalidate(now).unwrap();
        assert_eq!(position_erasure(&invalid, now), PositionErasure::Erase);

        let mut expiring = p.clone();
        expiring.switch_to_expired = true;
        assert_eq!(
            position_erasure(&expiring, at(2025, 7, 2)),
            PositionErasure::Erase,
            "expired"
        );

        p.options[0].retention_date = Some(at(2035, 1, 1));
        let payment = OptionPayment {
            payment_date: now,
            payment_method: None,
            psp_company: None,
            receipt_id: "r1".into(),
            fee: Cents::ZERO,
        };
        p.mark_paid(0, payment, now).unwrap();
        let kept = position_erasure(&p, now);
        assert_eq!(
            kept,
            PositionErasure::Keep(Kept::Paid {
                until: Some(at(2035, 1, 1))
            })
        );
        let PositionErasure::Keep(kept) = kept else {
            unreachable!()
        };
        assert!(
            kept.reason().contains("until 2035-01-01"),
            "{}",
            kept.reason()
        );
    }

    #[test]
    fn receipts_are_kept_for_their_days() {
        assert_eq!(ReceiptRetention::days(0), None);
        let r = ReceiptRetention::days(10).unwrap();
        assert_eq!(r.received_before(at(2025, 6, 11)), at(2025, 6, 1));
        assert_eq!(r.kept_until(at(2025, 6, 1)), at(2025, 6, 11));
        assert_eq!(
            ReceiptRetention::default().kept_until(at(2025, 1, 1)),
            at(2034, 12, 30)
        );
    }

    #[test]
    fn the_marker_is_no_subject() {
        assert!(!is_subject(&EntityId::parse(ERASED).unwrap()));
        assert!(is_subject(&EntityId::parse("RSSMRA80A01H501U").unwrap()));
    }
}
