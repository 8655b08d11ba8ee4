//! SEND's notification fee on a payment option. The fee is kept apart from the amount the
//! creditor asked for and added on top of it: to the option's amount and to its fee transfer
//! (the lowest-numbered transfer whose beneficiary is the creditor itself), so that the
//! transfers still sum to the amount. Setting a new fee replaces the previous one.

use chrono::NaiveDateTime;

use super::position::{Conflict, DebtPosition, PaymentOption, Refusal};
use super::{Cents, FiscalCodePA, NoticeNumber};

impl PaymentOption {
    /// The index of the transfer that carries the notification fee: the lowest-numbered one
    /// whose beneficiary is `creditor`, never a third party's.
    pub fn fee_transfer(&self, creditor: &FiscalCodePA) -> Option<usize> {
        self.transfers
            .iter()
            .enumerate()
            .filter(|(_, t)| &t.organization == creditor)
            .min_by_key(|(_, t)| t.id)
            .map(|(i, _)| i)
    }

    /// The amount without the notification fee: what the creditor asked for.
    pub fn amount_without_fee(&self) -> Cents {
        let fee = self.notification_fee.unwrap_or(Cents::ZERO);
        self.amount.checked_sub(fee).unwrap_or(self.amount)
    }

    /// Replaces the notification fee with `fee`, moving the option amount and the fee
    /// transfer's amount by the difference. Nothing changes when it is refused.
    pub(crate) fn replace_fee(
        &mut self,
        creditor: &FiscalCodePA,
        fee: Cents,
    ) -> Result<(), Refusal> {
        let index = self.fee_transfer(creditor).ok_or_else(|| {
            Refusal::Unprocessable(format!(
                "payment option {} has no transfer to the creditor {creditor} itself to carry the notification fee",
                self.nav
            ))
        })?;
        let old = self.notification_fee.unwrap_or(Cents::ZERO);
        let shift = |amount: Cents| amount.checked_sub(old).and_then(|a| a.checked_add(fee));
        let too_large = || {
            Refusal::Unprocessable(format!(
                "the notification fee makes the amount of payment option {} too large",
                self.nav
            ))
        };
        let amount = shift(self.amount).ok_or_else(too_large)?;
        let transfer_amount = shift(self.transfers[index].amount).ok_or_else(too_large)?;
        self.amount = amount;
        self.transfers[index].amount = transfer_amount;
        self.notification_fee = Some(fee);
        Ok(())
    }
}

impl DebtPosition {
    /// Sets SEND's notification fee on the option `nav`, replacing any previous fee. Refused
    /// on an option already paid (conflict) and on one without a transfer to the creditor
    /// itself (unprocessable).
    pub fn set_notification_fee(
        &mut self,
        nav: &NoticeNumber,
        fee: Cents,
        now: NaiveDateTime,
    ) -> Result<(), Refusal> {
        let creditor = self.organization.clone();
        let option = self
            .options
            .iter_mut()
            .find(|o| &o.nav == nav)
            .ok_or_else(|| Conflict(format!("no payment option {nav} in this position")))?;
        if !option.is_unpaid() {
            return Err(Conflict(format!(
                "payment option {nav} is {}: its notification fee can no longer change",
                option.status.as_str()
            ))
            .into());
        }
        option.replace_fee(&creditor, fee)?;
        option.last_updated_date = now;
        self.last_updated_date = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::OptionStatus;
    use crate::domain::position::tests::{at, option, position, transfer};

    fn cents(c: i64) -> Cents {
        Cents::new(c).unwrap()
    }

    fn third_party() -> FiscalCodePA {
        FiscalCodePA::parse("88888888888").unwrap()
    }

    /// One option of 1500: transfer 1 (500) to a third party, transfers 3 (600) and 2 (400) ours.
    fn split() -> DebtPosition {
        let mut o = option(1, 1500, at(2030, 1, 1), false);
        o.transfers = vec![transfer(1, 500), transfer(3, 600), transfer(2, 400)];
        o.transfers[0].organization = third_party();
        position(vec![o])
    }

    #[test]
    fn fee_goes_to_the_lowest_own_transfer_and_is_replaced() {
        let mut p = split();
        let nav = p.options[0].nav.clone();
        let now = at(2025, 6, 1);
        p.set_notification_fee(&nav, cents(200), now).unwrap();
        let o = &p.options[0];
        assert_eq!(o.amount, cents(1700));
        assert_eq!(o.notification_fee, Some(cents(200)));
        let amounts: Vec<i64> = o.transfers.iter().map(|t| t.amount.get()).collect();
        assert_eq!(amounts, [500, 600, 600], "transfer 2 carries it");
        assert_eq!(o.amount_without_fee(), cents(1500));
        // A second fee replaces the first rather than adding to it.
        p.set_notification_fee(&nav, cents(50), now).unwrap();
        assert_eq!(p.options[0].amount, cents(1550));
        assert_eq!(p.options[0].transfers[2].amount, cents(450));
        // Zero restores the creditor's amounts, and stays known as zero.
        p.set_notification_fee(&nav, Cents::ZERO, now).unwrap();
        assert_eq!(p.options[0].amount, cents(1500));
        assert_eq!(p.options[0].transfers[2].amount, cents(400));
        assert_eq!(p.options[0].notification_fee, Some(Cents::ZERO));
        assert!(p.check_structure().is_empty());
    }

    #[test]
    fn no_own_transfer_is_unprocessable() {
        let mut p = split();
        p.options[0]
            .transfers
            .retain(|t| t.organization == third_party());
        p.options[0].amount = cents(500);
        let nav = p.options[0].nav.clone();
        let before = p.clone();
        let err = p
            .set_notification_fee(&nav, cents(100), at(2025, 6, 1))
            .unwrap_err();
        assert!(matches!(err, Refusal::Unprocessable(_)), "{err:?}");
        assert_eq!(p, before, "nothing changed");
    }

    #[test]
    fn paid_option_is_a_conflict() {
        let mut p = split();
        p.options[0].status = OptionStatus::Paid;
        let nav = p.options[0].nav.clone();
        let err = p
            .set_notification_fee(&nav, cents(100), at(2025, 6, 1))
            .unwrap_err();
        assert!(matches!(err, Refusal::Conflict(_)), "{err:?}");
        assert_eq!(p.options[0].amount, cents(1500));
    }

    #[test]
    fn overflow_is_refused_without_change() {
        let mut p = split();
        let nav = p.options[0].nav.clone();
        let err = p
            .set_notification_fee(&nav, Cents::MAX, at(2025, 6, 1))
            .unwrap_err();
        assert!(matches!(err, Refusal::Unprocessable(_)), "{err:?}");
        assert_eq!(p.options[0].notification_fee, None);
    }
}
