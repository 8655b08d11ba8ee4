//! One payment option as the Node's lookups (verify, getPayment) read it: the option with its
//! position's header, and what the rules read of the sibling options ([`OptionsSummary`]).
//! Stores keep one per notice, so that a lookup is one read; it answers exactly as the whole
//! position does, because payability goes through the same rules with the same facts.

use chrono::NaiveDateTime;

use super::position::{DebtPosition, NotPayable, OptionsSummary, PaymentOption};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeView {
    /// The position with only the option looked up.
    position: DebtPosition,
    /// Of all the position's options.
    summary: OptionsSummary,
}

impl NoticeView {
    /// The view of option `index` of `position`.
    pub fn of(position: &DebtPosition, index: usize) -> NoticeView {
        NoticeView::from_position(position.clone(), index)
    }

    /// [`NoticeView::of`], taking the position.
    pub fn from_position(mut position: DebtPosition, index: usize) -> NoticeView {
        let summary = position.options_summary();
        let option = position.options.swap_remove(index);
        position.options = vec![option];
        NoticeView { position, summary }
    }

    /// A view from a stored copy: the position trimmed to one option, and the summary of all
    /// of them. None when the position does not have exactly one option.
    pub fn from_parts(position: DebtPosition, summary: OptionsSummary) -> Option<NoticeView> {
        (position.options.len() == 1).then_some(NoticeView { position, summary })
    }

    /// The position with only the option looked up, at index 0.
    pub fn position(&self) -> &DebtPosition {
        &self.position
    }

    pub fn into_position(self) -> DebtPosition {
        self.position
    }

    pub fn option(&self) -> &PaymentOption {
        &self.position.options[0]
    }

    pub fn summary(&self) -> OptionsSummary {
        self.summary
    }

    /// [`DebtPosition::payability`] of the option, as the whole position would answer it.
    pub fn payability(&self, now: NaiveDateTime) -> Result<(), NotPayable> {
        let p = &self.position;
        p.position_payability_given(self.summary, now)?;
        p.option_payability_given(self.option(), self.summary, now)
    }
}
