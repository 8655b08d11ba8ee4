//! The creditor's changes to a whole position after creation: updating it (GPD's merge by
//! natural key, back to DRAFT unless published again), deleting it, and settling the statuses
//! that change with time into the stored status (what the background sweeper writes).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::position::{Conflict, DebtPosition, PositionStatus, Refusal};
use super::{Cents, Iuv};

impl DebtPosition {
    /// Replaces the creditor's content with `new` (already validated), as GPD's update does:
    /// options are matched by IUV, and an option kept keeps its notification fee, added again
    /// on top of the new amounts, and its mark of notified through SEND; transfers (by id) and metadata (by key) are as sent. The
    /// position goes back to DRAFT, or is published again when `to_publish`. Refused once
    /// anything is paid or the position is invalid.
    pub fn update_from(
        &mut self,
        new: DebtPosition,
        to_publish: bool,
        now: NaiveDateTime,
    ) -> Result<(), Refusal> {
        self.check_not_erased()?;
        let current = self.status_at(now);
        if matches!(
            current,
            PositionStatus::Invalid
                | PositionStatus::PartiallyPaid
                | PositionStatus::Paid
                | PositionStatus::Reported
        ) || !self.nothing_paid()
        {
            return Err(Conflict(format!("a {current} position cannot be updated")).into());
        }
        let fees: HashMap<&Iuv, Cents> = self
            .options
            .iter()
            .filter_map(|o| Some((&o.iuv, o.notification_fee?)))
            .collect();
        let marked: HashSet<&Iuv> = self
            .options
            .iter()
            .filter(|o| o.send_sync)
            .map(|o| &o.iuv)
            .collect();
        let mut options = new.options;
        for (i, option) in options.iter_mut().enumerate() {
            // Notified through SEND stays so, as in GPD, whether or not the update says it.
            option.send_sync |= marked.contains(&option.iuv);
            match fees.get(&option.iuv) {
                None => {}
                // Nothing to carry: no transfer needed.
                Some(fee) if fee.is_zero() => option.notification_fee = Some(Cents::ZERO),
                Some(&fee) => option
                    .replace_fee(&self.organization, fee)
                    .map_err(|e| match e {
                        Refusal::Unprocessable(m) => {
                            Refusal::Unprocessable(format!("paymentOption[{i}].transfer: {m}"))
                        }
                        other => other,
                    })?,
            }
            option.last_updated_date = now;
        }
        // A position published before, re-published without a validity date, keeps the one
        // it had once it has passed (GPD), rather than becoming valid from now.
        let validity_date = match (new.validity_date, self.validity_date) {
            (None, Some(old)) if to_publish && current == PositionStatus::Valid && old <= now => {
                Some(old)
            }
            (given, _) => given,
        };
        *self = DebtPosition {
            organization: self.organization.clone(),
            iupd: self.iupd.clone(),
            inserted_date: self.inserted_date,
            version: self.version,
            validity_date,
            status: PositionStatus::Draft,
            publish_date: None,
            payment_date: None,
            last_updated_date: now,
            options,
            ..new
        };
        if to_publish {
            self.apply_publication(now);
        }
        Ok(())
    }

    /// INVALID -> VALID (or PUBLISHED, while its validity date is ahead), with its same options
    /// and notice numbers: an invalidation taken back. Only while nothing of it is paid, and
    /// not once its debtor was erased. GPD has no such action (docs/decisions.md).
    pub fn restore(&mut self, now: NaiveDateTime) -> Result<(), Conflict> {
        self.check_not_erased()?;
        if self.status != PositionStatus::Invalid {
            return Err(Conflict(format!(
                "only an INVALID position can be restored; this one is {}",
                self.status_at(now)
            )));
        }
        if !self.nothing_paid() {
            return Err(Conflict(
                "the position cannot be restored: a payment was recorded".into(),
            ));
        }
        self.status = match self.validity_date {
            Some(v) if v > now => PositionStatus::Published,
            _ => PositionStatus::Valid,
        };
        self.last_updated_date = now;
        Ok(())
    }

    /// A position can be deleted until something of it is paid.
    pub fn check_deletable(&self, now: NaiveDateTime) -> Result<(), Conflict> {
        let status = self.status_at(now);
        if matches!(
            status,
            PositionStatus::PartiallyPaid | PositionStatus::Paid | PositionStatus::Reported
        ) || !self.nothing_paid()
        {
            return Err(Conflict(format!(
                "a {status} position cannot be deleted: a payment was recorded"
            )));
        }
        Ok(())
    }

    /// Stores the status in force at `now` ([`DebtPosition::status_at`]) as the status, and
    /// returns it when it differs from the one stored. Every read already shows it, so the
    /// position is otherwise left as it is.
    pub fn settle(&mut self, now: NaiveDateTime) -> Option<PositionStatus> {
        let status = self.status_at(now);
        (status != self.status).then(|| {
            self.status = status;
            status
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::{at, option, position, transfer};
    use crate::domain::position::{OptionPayment, OptionStatus};
    use crate::domain::{FiscalCodePA, Text};

    fn cents(c: i64) -> Cents {
        Cents::new(c).unwrap()
    }

    fn published() -> DebtPosition {
        let mut p = position(vec![
            option(1, 1000, at(2025, 7, 1), false),
            option(2, 400, at(2025, 8, 1), true),
        ]);
        p.publish(at(2025, 6, 1)).unwrap();
        p
    }

    #[test]
    fn an_invalidated_position_is_restored_with_its_notices_until_something_is_paid() {
        let now = at(2025, 6, 2);
        let mut p = published();
        let navs: Vec<_> = p.options.iter().map(|o| o.nav.clone()).collect();
        assert!(p.restore(now).is_err(), "only an invalid one");
        p.invalidate(now).unwrap();
        p.restore(at(2025, 6, 3)).unwrap();
        assert_eq!(p.status_at(at(2025, 6, 3)), PositionStatus::Valid);
        assert_eq!(p.last_updated_date, at(2025, 6, 3));
        assert_eq!(
            p.options.iter().map(|o| o.nav.clone()).collect::<Vec<_>>(),
            navs
        );
        // A payment recorded while invalid (the creditor marked it paid elsewhere) forbids it.
        p.invalidate(now).unwrap();
        p.options[0].status = OptionStatus::Paid;
        let refused = p.restore(now).unwrap_err();
        assert!(refused.0.contains("payment"), "{refused:?}");
    }

    #[test]
    fn update_replaces_content_and_goes_back_to_draft() {
        let now = at(2025, 6, 2);
        let mut p = published();
        p.version = 4;
        let mut new = position(vec![option(1, 1200, at(2025, 9, 1), false)]);
        new.company_name = Text::new("Comune Nuovo").unwrap();
        new.options[0].metadata = vec![crate::domain::party::MapEntry {
            key: Text::new("k").unwrap(),
            value: Text::new("v2").unwrap(),
        }];
        p.update_from(new, false, now).unwrap();
        assert_eq!(p.status, PositionStatus::Draft);
        assert_eq!(p.publish_date, None);
        assert_eq!(p.company_name.as_str(), "Comune Nuovo");
        assert_eq!(p.options.len(), 1, "the option not sent is gone");
        assert_eq!(p.options[0].amount, cents(1200));
        assert_eq!(p.options[0].metadata[0].value.as_str(), "v2");
        assert_eq!(
            (p.inserted_date, p.version, p.last_updated_date),
            (at(2025, 1, 1), 4, now)
        );
    }

    #[test]
    fn update_with_publication_keeps_a_past_validity() {
        let mut p = published();
        let old_validity = p.validity_date;
        let new = position(vec![option(1, 1000, at(2025, 9, 1), false)]);
        p.update_from(new, true, at(2025, 6, 2)).unwrap();
        assert_eq!(p.status, PositionStatus::Valid);
        assert_eq!(p.validity_date, old_validity);
        assert_eq!(p.publish_date, Some(at(2025, 6, 2)));
        let mut future = position(vec![option(1, 1000, at(2025, 9, 1), false)]);
        future.validity_date = Some(at(2025, 8, 1));
        p.update_from(future, true, at(2025, 6, 3)).unwrap();
        assert_eq!(p.status, PositionStatus::Published);
    }

    #[test]
    fn update_keeps_the_notification_fee_of_a_kept_option() {
        let now = at(2025, 6, 2);
        let mut p = published();
        let nav = p.options[0].nav.clone();
        p.set_notification_fee(&nav, cents(250), now).unwrap();
        let mut new = position(vec![
            option(1, 2000, at(2025, 9, 1), false),
            option(3, 300, at(2025, 9, 1), false),
        ]);
        new.options[0].transfers = vec![transfer(1, 1500), transfer(2, 500)];
        p.update_from(new, false, now).unwrap();
        let kept = &p.options[0];
        assert_eq!(kept.amount, cents(2250));
        assert_eq!(kept.notification_fee, Some(cents(250)));
        assert_eq!(kept.transfers[0].amount, cents(1750));
        assert_eq!(kept.transfers[1].amount, cents(500));
        assert_eq!(p.options[1].notification_fee, None, "a new option has none");
        assert!(p.check_structure().is_empty());
    }

    #[test]
    fn update_keeps_the_send_mark_and_may_add_one() {
        let now = at(2025, 6, 2);
        let mut p = published();
        p.options[0].send_sync = true;
        let mut new = position(vec![
            option(1, 1000, at(2025, 9, 1), false),
            option(3, 300, at(2025, 9, 1), false),
            option(4, 400, at(2025, 9, 1), false),
        ]);
        new.options[2].send_sync = true;
        p.update_from(new, false, now).unwrap();
        let marks: Vec<bool> = p.options.iter().map(|o| o.send_sync).collect();
        assert_eq!(marks, [true, false, true], "kept, new unmarked, new marked");
    }

    #[test]
    fn fee_without_own_transfer_refuses_the_update() {
        let now = at(2025, 6, 2);
        let mut p = published();
        let nav = p.options[0].nav.clone();
        p.set_notification_fee(&nav, cents(250), now).unwrap();
        let before = p.clone();
        let mut new = position(vec![option(1, 1000, at(2025, 9, 1), false)]);
        new.options[0].transfers[0].organization = FiscalCodePA::parse("88888888888").unwrap();
        match p.update_from(new, false, now) {
            Err(Refusal::Unprocessable(m)) => assert!(m.starts_with("paymentOption[0]"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(p, before);
    }

    #[test]
    fn paid_or_invalid_positions_are_not_updated_nor_paid_ones_deleted() {
        let now = at(2025, 6, 2);
        let new = || position(vec![option(1, 1000, at(2025, 9, 1), false)]);
        let mut invalid = published();
        invalid.invalidate(now).unwrap();
        assert!(matches!(
            invalid.update_from(new(), false, now),
            Err(Refusal::Conflict(_))
        ));
        assert!(invalid.check_deletable(now).is_ok());
        let mut paid = published();
        let payment = OptionPayment {
            payment_date: now,
            payment_method: None,
            psp_company: None,
            receipt_id: "r".into(),
            fee: Cents::ZERO,
        };
        paid.mark_paid(1, payment, now).unwrap();
        assert_eq!(paid.status, PositionStatus::Paid);
        assert!(paid.update_from(new(), false, now).is_err());
        assert!(paid.check_deletable(now).is_err());
        // Even a stored status that disagrees cannot hide a paid option.
        paid.status = PositionStatus::Valid;
        assert!(paid.check_deletable(now).is_err());
        assert!(paid.options[1].status == OptionStatus::Paid);
    }

    #[test]
    fn expired_positions_can_be_updated() {
        let mut p = published();
        p.switch_to_expired = true;
        let later = at(2025, 9, 1);
        assert_eq!(p.status_at(later), PositionStatus::Expired);
        let new = position(vec![option(1, 1000, at(2025, 12, 1), false)]);
        p.update_from(new, true, later).unwrap();
        assert_eq!(p.status_at(later), PositionStatus::Valid);
    }

    #[test]
    fn statuses_read_only_from_the_stored_ones_they_list() {
        for stored in PositionStatus::ALL {
            for validity in [None, Some(at(2025, 6, 10))] {
                for expires in [false, true] {
                    let mut p = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
                    p.status = stored;
                    p.validity_date = validity;
                    p.switch_to_expired = expires;
                    for now in [at(2025, 6, 1), at(2025, 6, 20), at(2025, 8, 1)] {
                        let read = p.status_at(now);
                        assert!(
                            read.stored_as().contains(&stored),
                            "{stored} read as {read}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn settle_stores_what_reads_show() {
        let mut p = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        p.validity_date = Some(at(2025, 6, 10));
        p.switch_to_expired = true;
        p.publish(at(2025, 6, 1)).unwrap();
        assert_eq!(p.settle(at(2025, 6, 5)), None);
        assert_eq!(p.settle(at(2025, 6, 10)), Some(PositionStatus::Valid));
        assert_eq!(p.status, PositionStatus::Valid);
        let mut skipped = p.clone();
        assert_eq!(p.settle(at(2025, 7, 2)), Some(PositionStatus::Expired));
        assert_eq!(p.settle(at(2025, 7, 3)), None);
        // From PUBLISHED straight to EXPIRED when the sweeper missed VALID.
        skipped.status = PositionStatus::Published;
        assert_eq!(
            skipped.settle(at(2025, 7, 2)),
            Some(PositionStatus::Expired)
        );
        // For every instant, what is settled is what was read.
        for day in 1..=60 {
            let now = at(2025, 6, 1) + chrono::Duration::days(day);
            let mut q = published();
            q.switch_to_expired = day % 2 == 0;
            let read = q.status_at(now);
            q.settle(now);
            assert_eq!(q.status, read);
            assert_eq!(q.status_at(now), read);
        }
    }
}
