//! The GPD debt-position model: a position owns payment options (a single option, or the
//! installments of one plan), each option owns 1..5 transfers to beneficiaries. The status
//! machine lives here too; statuses that depend on time (PUBLISHED -> VALID, VALID -> EXPIRED)
//! are computed from the clock given by the caller, never stored by a read.

use std::collections::HashSet;
use std::fmt;

use chrono::NaiveDateTime;

use super::party::{CountryCode, MapEntry, Subject};
use super::text::str_newtype;
use super::{Cents, FiscalCodePA, Iuv, NoticeNumber, Text, TransferId};

/// The reserved metadata key under which SEND's notification fee travels.
pub const NOTIFICATION_FEE_KEY: &str = "NOTIFICATION_FEE";
/// At most this many metadata entries per option and per transfer.
pub const MAX_METADATA: usize = 10;
pub const MAX_TRANSFERS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PositionStatus {
    Draft,
    Published,
    Valid,
    PartiallyPaid,
    Paid,
    Reported,
    Invalid,
    Expired,
}

impl PositionStatus {
    pub const ALL: [PositionStatus; 8] = [
        PositionStatus::Draft,
        PositionStatus::Published,
        PositionStatus::Valid,
        PositionStatus::PartiallyPaid,
        PositionStatus::Paid,
        PositionStatus::Reported,
        PositionStatus::Invalid,
        PositionStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PositionStatus::Draft => "DRAFT",
            PositionStatus::Published => "PUBLISHED",
            PositionStatus::Valid => "VALID",
            PositionStatus::PartiallyPaid => "PARTIALLY_PAID",
            PositionStatus::Paid => "PAID",
            PositionStatus::Reported => "REPORTED",
            PositionStatus::Invalid => "INVALID",
            PositionStatus::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stored statuses of the positions that read as `self` at some instant:
    /// [`DebtPosition::status_at`] only moves PUBLISHED to VALID and (PUBLISHED or) VALID to
    /// EXPIRED.
    pub fn stored_as(self) -> &'static [PositionStatus] {
        use PositionStatus::*;
        match self {
            Valid => &[Published, Valid],
            Expired => &[Published, Valid, Expired],
            Draft => &[Draft],
            Published => &[Published],
            PartiallyPaid => &[PartiallyPaid],
            Paid => &[Paid],
            Reported => &[Reported],
            Invalid => &[Invalid],
        }
    }
}

impl fmt::Display for PositionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionStatus {
    Unpaid,
    Paid,
    PartiallyReported,
    Reported,
}

impl OptionStatus {
    pub const ALL: [OptionStatus; 4] = [
        OptionStatus::Unpaid,
        OptionStatus::Paid,
        OptionStatus::PartiallyReported,
        OptionStatus::Reported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OptionStatus::Unpaid => "PO_UNPAID",
            OptionStatus::Paid => "PO_PAID",
            OptionStatus::PartiallyReported => "PO_PARTIALLY_REPORTED",
            OptionStatus::Reported => "PO_REPORTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferStatus {
    Unreported,
    Reported,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Unreported => "T_UNREPORTED",
            TransferStatus::Reported => "T_REPORTED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "T_UNREPORTED" => Some(TransferStatus::Unreported),
            "T_REPORTED" => Some(TransferStatus::Reported),
            _ => None,
        }
    }
}

/// The creditor's own id of a position (IUPD): 1..100 letters, digits, `_`, `-` or `.`, so that
/// it can stand in a URL path unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iupd(String);

/// Letters, digits, '_', '-' and '.': what creditors' own identifiers (IUPD, service ids) are
/// made of.
pub(crate) fn is_code(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

impl Iupd {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if !s.is_empty() && s.len() <= 100 && is_code(s) {
            Ok(Iupd(s.to_owned()))
        } else {
            Err("must be 1 to 100 letters, digits, '_', '-' or '.'")
        }
    }
}

/// A bank or postal account number: 1..35 letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iban(Text<35>);

impl Iban {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if !s.is_empty() && s.len() <= 35 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Iban(Text::new(s).expect("checked")))
        } else {
            Err("must be 1 to 35 letters and digits")
        }
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    pub fn as_text(&self) -> &Text<35> {
        &self.0
    }
}

/// A digital revenue stamp (marca da bollo) requested in place of an IBAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampRequest {
    /// Base64 digest of the document to stamp, 4..72 characters.
    pub hash_document: String,
    /// Stamp type; the XSD knows only "01".
    pub stamp_type: String,
    pub provincial_residence: CountryCode,
}

/// Where a transfer's money goes: a bank account (optionally with a postal account for
/// payments at the post office), or a digital revenue stamp. Never both, never neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    Iban {
        iban: Iban,
        postal_iban: Option<Iban>,
    },
    Stamp(StampRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    /// The beneficiary creditor.
    pub organization: FiscalCodePA,
    pub company_name: Option<Text<140>>,
    pub amount: Cents,
    pub remittance_information: Text<140>,
    /// pagoPA taxonomy code.
    pub category: Text<140>,
    pub account: Account,
    pub metadata: Vec<MapEntry>,
    pub status: TransferStatus,
}

impl Transfer {
    pub fn postal_iban(&self) -> Option<&Iban> {
        match &self.account {
            Account::Iban { postal_iban, .. } => postal_iban.as_ref(),
            Account::Stamp(_) => None,
        }
    }
}

/// What a receipt (or the creditor, marking an option paid) tells us about the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionPayment {
    pub payment_date: NaiveDateTime,
    pub payment_method: Option<String>,
    pub psp_company: Option<String>,
    pub receipt_id: String,
    pub fee: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOption {
    pub iuv: Iuv,
    pub nav: NoticeNumber,
    /// The amount to pay, notification fee included.
    pub amount: Cents,
    pub description: Text<140>,
    /// An installment of the position's plan, rather than a single option.
    pub is_partial_payment: bool,
    pub due_date: NaiveDateTime,
    pub retention_date: Option<NaiveDateTime>,
    /// SEND's notification fee, once set: already included in `amount`.
    pub notification_fee: Option<Cents>,
    /// Notified through SEND: the fee is asked of SEND's price API when the Node asks for the
    /// payment (`platform::send`). Only ever set; an update keeps it.
    pub send_sync: bool,
    pub status: OptionStatus,
    /// Present exactly when the option is not unpaid.
    pub payment: Option<OptionPayment>,
    pub transfers: Vec<Transfer>,
    pub metadata: Vec<MapEntry>,
    pub last_updated_date: NaiveDateTime,
}

impl PaymentOption {
    /// True when every transfer can be credited to a postal account (allCCP).
    pub fn all_postal(&self) -> bool {
        self.transfers.iter().all(|t| t.postal_iban().is_some())
    }

    pub fn is_unpaid(&self) -> bool {
        self.status == OptionStatus::Unpaid
    }
}

/// The debtor as GPD keeps it: the protocol's subject plus region and phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    pub subject: Subject,
    pub region: Option<Text<35>>,
    pub phone: Option<Text<35>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebtPosition {
    pub organization: FiscalCodePA,
    pub iupd: Iupd,
    pub company_name: Text<140>,
    pub office_name: Option<Text<140>>,
    pub debtor: Debtor,
    /// The options become unpayable once their due date has passed.
    pub switch_to_expired: bool,
    pub pay_stand_in: bool,
    /// From when the position can be paid; set to the publication instant when absent.
    pub validity_date: Option<NaiveDateTime>,
    /// The stored status; read it through [`DebtPosition::status_at`].
    pub status: PositionStatus,
    pub publish_date: Option<NaiveDateTime>,
    pub payment_date: Option<NaiveDateTime>,
    pub inserted_date: NaiveDateTime,
    pub last_updated_date: NaiveDateTime,
    /// Bumped by every write; guards against lost updates.
    pub version: i64,
    pub options: Vec<PaymentOption>,
    /// When the debtor's personal data was erased (see `personal_data`); the debtor then reads
    /// as the marker.
    pub personal_data_erased: Option<NaiveDateTime>,
}

/// A rule a position breaks, with the JSON path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a lifecycle action is refused in the position's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict(pub String);

/// Why a change to a position is refused: its state forbids it (a conflict), its content
/// makes it impossible whatever the state (unprocessable), or the caller may not touch it
/// (forbidden: options of segregation codes its key does not have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Conflict(Conflict),
    Unprocessable(String),
    Forbidden(String),
}

impl From<Conflict> for Refusal {
    fn from(c: Conflict) -> Self {
        Refusal::Conflict(c)
    }
}

/// What the status and payability rules read of a position's options as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionsSummary {
    /// No option is paid.
    pub nothing_paid: bool,
    /// The latest due date of the options.
    pub max_due_date: Option<NaiveDateTime>,
}

/// Why a notice cannot be paid now; each maps to one PAA fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPayable {
    /// DRAFT, PUBLISHED and not yet valid, or not ours.
    Unknown,
    Cancelled,
    Expired,
    AlreadyPaid,
    /// Another option of the position (the other path of single option vs plan) was paid.
    Superseded,
}

/// The amount of an option or of a transfer at `path`: zero is refused.
fn check_amount(amount: Cents, path: &str, errors: &mut Vec<FieldError>) {
    if amount.is_zero() {
        errors.push(FieldError::new(
            format!("{path}.amount"),
            "must be at least 1 cent",
        ));
    }
}

fn check_metadata(entries: &[MapEntry], path: &str, reserved: bool, errors: &mut Vec<FieldError>) {
    if entries.len() > MAX_METADATA {
        errors.push(FieldError::new(
            path,
            format!("must have at most {MAX_METADATA} entries"),
        ));
    }
    let mut keys = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        if !keys.insert(e.key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}[{i}].key"),
                format!("duplicate key '{}'", e.key),
            ));
        }
        if reserved && e.key.as_str() == NOTIFICATION_FEE_KEY {
            errors.push(FieldError::new(
                format!("{path}[{i}].key"),
                "NOTIFICATION_FEE is reserved: the notification fee is set by SEND",
            ));
        }
    }
}

impl DebtPosition {
    /// A new position as it starts: a DRAFT, at version 0, inserted `now`, payable only as its
    /// creditor publishes it, and expiring with its options only when asked
    /// (`switch_to_expired`); what else the creditor says is set on it with `..`.
    pub fn draft(
        organization: FiscalCodePA,
        iupd: Iupd,
        company_name: Text<140>,
        debtor: Debtor,
        options: Vec<PaymentOption>,
        now: NaiveDateTime,
    ) -> DebtPosition {
        DebtPosition {
            organization,
            iupd,
            company_name,
            office_name: None,
            debtor,
            switch_to_expired: false,
            pay_stand_in: true,
            validity_date: None,
            status: PositionStatus::Draft,
            publish_date: None,
            payment_date: None,
            inserted_date: now,
            last_updated_date: now,
            version: 0,
            options,
            personal_data_erased: None,
        }
    }

    /// The rules a position must satisfy whatever its dates: options, transfers, amounts, metadata.
    pub fn check_structure(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.options.is_empty() {
            errors.push(FieldError::new(
                "paymentOption",
                "must have at least one payment option",
            ));
        }
        let mut iuvs = HashSet::new();
        for (i, option) in self.options.iter().enumerate() {
            let path = format!("paymentOption[{i}]");
            if !iuvs.insert(option.iuv.as_str()) {
                errors.push(FieldError::new(
                    format!("{path}.iuv"),
                    format!("duplicate IUV {}", option.iuv),
                ));
            }
            check_amount(option.amount, &path, &mut errors);
            if option.transfers.is_empty() || option.transfers.len() > MAX_TRANSFERS {
                errors.push(FieldError::new(
                    format!("{path}.transfer"),
                    "must have 1 to 5 transfers",
                ));
            }
            let mut ids = HashSet::new();
            let mut sum = Some(Cents::ZERO);
            for (j, t) in option.transfers.iter().enumerate() {
                let tpath = format!("{path}.transfer[{j}]");
                if !ids.insert(t.id) {
                    errors.push(FieldError::new(
                        format!("{tpath}.idTransfer"),
                        format!("duplicate idTransfer {}", t.id),
                    ));
                }
                check_amount(t.amount, &tpath, &mut errors);
                sum = sum.and_then(|s| s.checked_add(t.amount));
                check_metadata(
                    &t.metadata,
                    &format!("{tpath}.transferMetadata"),
                    false,
                    &mut errors,
                );
            }
            if !option.transfers.is_empty() && sum != Some(option.amount) {
                errors.push(FieldError::new(
                    format!("{path}.amount"),
                    format!(
                        "must equal the sum of its transfers ({} cents), is {} cents",
                        sum.map_or("too large".to_owned(), |s| s.get().to_string()),
                        option.amount.get()
                    ),
                ));
            }
            check_metadata(
                &option.metadata,
                &format!("{path}.paymentOptionMetadata"),
                true,
                &mut errors,
            );
        }
        errors
    }

    /// The date rules of a creation (GPD's): validity in the future, due dates not before
    /// validity (or now), retention not before due.
    pub fn check_dates_for_create(&self, now: NaiveDateTime) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.validity_date.is_some_and(|v| v <= now) {
            errors.push(FieldError::new("validityDate", "must be in the future"));
        }
        let earliest = self.validity_date.unwrap_or(now);
        for (i, option) in self.options.iter().enumerate() {
            if option.due_date < earliest {
                let what = if self.validity_date.is_some() {
                    "the validity date"
                } else {
                    "now"
                };
                errors.push(FieldError::new(
                    format!("paymentOption[{i}].dueDate"),
                    format!("must not be before {what}"),
                ));
            }
            if option.retention_date.is_some_and(|r| r < option.due_date) {
                errors.push(FieldError::new(
                    format!("paymentOption[{i}].retentionDate"),
                    "must not be before the due date",
                ));
            }
        }
        errors
    }

    /// The date rules of an update (GPD's, looser than creation's): due dates not before the
    /// validity date, nor before now when the options expire; retention not before due.
    pub fn check_dates_for_update(&self, now: NaiveDateTime) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (i, option) in self.options.iter().enumerate() {
            if self.validity_date.is_some_and(|v| option.due_date < v) {
                errors.push(FieldError::new(
                    format!("paymentOption[{i}].dueDate"),
                    "must not be before the validity date",
                ));
            } else if self.switch_to_expired && option.due_date < now {
                errors.push(FieldError::new(
                    format!("paymentOption[{i}].dueDate"),
                    "must not be before now when switchToExpired is true",
                ));
            }
            if option.retention_date.is_some_and(|r| r < option.due_date) {
                errors.push(FieldError::new(
                    format!("paymentOption[{i}].retentionDate"),
                    "must not be before the due date",
                ));
            }
        }
        errors
    }

    pub fn max_due_date(&self) -> Option<NaiveDateTime> {
        self.options.iter().map(|o| o.due_date).max()
    }

    pub fn min_due_date(&self) -> Option<NaiveDateTime> {
        self.options.iter().map(|o| o.due_date).min()
    }

    pub(crate) fn nothing_paid(&self) -> bool {
        self.options.iter().all(PaymentOption::is_unpaid)
    }

    /// What the status and payability rules read of the options as a whole.
    pub fn options_summary(&self) -> OptionsSummary {
        OptionsSummary {
            nothing_paid: self.nothing_paid(),
            max_due_date: self.max_due_date(),
        }
    }

    /// The instant after which a VALID position is EXPIRED: its last due date, when its options
    /// switch to expired and none is paid; None when it never expires.
    pub fn expires_after(&self) -> Option<NaiveDateTime> {
        self.expires_after_given(self.options_summary())
    }

    /// [`Self::expires_after`] of a position whose options are summed up by `all`: the rules
    /// below read the header, the option asked about and `all`, never `self.options`, so that a
    /// position trimmed to one option (`notice_view`) answers as the whole one.
    pub(crate) fn expires_after_given(&self, all: OptionsSummary) -> Option<NaiveDateTime> {
        if self.switch_to_expired && all.nothing_paid {
            all.max_due_date
        } else {
            None
        }
    }

    /// The status as of `now`: a PUBLISHED position whose validity date has come is VALID, and
    /// a VALID one past [`DebtPosition::expires_after`] is EXPIRED. The one rule for statuses
    /// that change with time: reads, the sweeper and the store's list filters follow it.
    pub fn status_at(&self, now: NaiveDateTime) -> PositionStatus {
        self.status_given(self.options_summary(), now)
    }

    /// [`Self::status_at`] with the options summed up by `all`.
    pub(crate) fn status_given(&self, all: OptionsSummary, now: NaiveDateTime) -> PositionStatus {
        let status = match self.status {
            PositionStatus::Published if self.validity_date.is_none_or(|v| v <= now) => {
                PositionStatus::Valid
            }
            s => s,
        };
        if status == PositionStatus::Valid && self.expires_after_given(all).is_some_and(|d| d < now)
        {
            PositionStatus::Expired
        } else {
            status
        }
    }

    /// DRAFT -> PUBLISHED or VALID, with GPD's publication checks.
    pub fn publish(&mut self, now: NaiveDateTime) -> Result<(), Conflict> {
        self.check_not_erased()?;
        if self.status != PositionStatus::Draft {
            return Err(Conflict(format!(
                "only a DRAFT position can be published; this one is {}",
                self.status_at(now)
            )));
        }
        if let Some(v) = self.validity_date {
            if v < now {
                return Err(Conflict(
                    "the validity date has passed: update the position first".into(),
                ));
            }
            if self.options.iter().any(|o| o.due_date < v) {
                return Err(Conflict("a due date is before the validity date".into()));
            }
        }
        if self.min_due_date().is_some_and(|d| d < now) {
            return Err(Conflict(
                "a due date has passed: update the position first".into(),
            ));
        }
        self.apply_publication(now);
        Ok(())
    }

    /// The publication itself, shared by create/update with toPublish and by publish.
    pub fn apply_publication(&mut self, now: NaiveDateTime) {
        let validity = *self.validity_date.get_or_insert(now);
        self.publish_date = Some(now);
        self.status = if validity <= now {
            PositionStatus::Valid
        } else {
            PositionStatus::Published
        };
        self.touch(now);
    }

    /// PUBLISHED or VALID -> INVALID.
    pub fn invalidate(&mut self, now: NaiveDateTime) -> Result<(), Conflict> {
        match self.status_at(now) {
            PositionStatus::Published | PositionStatus::Valid => {
                self.status = PositionStatus::Invalid;
                self.touch(now);
                Ok(())
            }
            s => Err(Conflict(format!(
                "only a PUBLISHED or VALID position can be invalidated; this one is {s}"
            ))),
        }
    }

    /// A position whose debtor was erased cannot be published or changed: it has no debtor
    /// left to owe it. The creditor creates a new position instead.
    pub fn check_not_erased(&self) -> Result<(), Conflict> {
        match self.personal_data_erased {
            None => Ok(()),
            Some(at) => Err(Conflict(format!(
                "the debtor's personal data was erased on {}: the position can no longer be \
                 published or updated",
                at.format("%Y-%m-%dT%H:%M:%S")
            ))),
        }
    }

    fn touch(&mut self, now: NaiveDateTime) {
        self.last_updated_date = now;
    }

    pub fn option_index(&self, nav: &NoticeNumber) -> Option<usize> {
        self.options.iter().position(|o| &o.nav == nav)
    }

    /// Whether the option at `index` can be paid as of `now`, and if not, why.
    pub fn payability(&self, index: usize, now: NaiveDateTime) -> Result<(), NotPayable> {
        self.position_payability(now)?;
        self.option_payability(index, now)
    }

    /// The checks of [`Self::payability`] on the position as a whole: whether any of its
    /// options could be paid as of `now`.
    pub fn position_payability(&self, now: NaiveDateTime) -> Result<(), NotPayable> {
        self.position_payability_given(self.options_summary(), now)
    }

    /// [`Self::position_payability`] with the options summed up by `all`.
    pub(crate) fn position_payability_given(
        &self,
        all: OptionsSummary,
        now: NaiveDateTime,
    ) -> Result<(), NotPayable> {
        // Erased past its retention date, or on the debtor's request when no longer payable:
        // a notice without its debtor is past its time either way.
        if self.is_erased() {
            return Err(NotPayable::Expired);
        }
        match self.status_given(all, now) {
            PositionStatus::Draft | PositionStatus::Published => Err(NotPayable::Unknown),
            PositionStatus::Invalid => Err(NotPayable::Cancelled),
            PositionStatus::Expired => Err(NotPayable::Expired),
            PositionStatus::Paid | PositionStatus::Reported => Err(NotPayable::AlreadyPaid),
            PositionStatus::Valid | PositionStatus::PartiallyPaid => Ok(()),
        }
    }

    /// The checks of [`Self::payability`] on the option itself and its siblings: paid,
    /// superseded by a paid installment, or expired.
    pub fn option_payability(&self, index: usize, now: NaiveDateTime) -> Result<(), NotPayable> {
        self.option_payability_given(&self.options[index], self.options_summary(), now)
    }

    /// [`Self::option_payability`] of `option` with the options summed up by `all`.
    pub(crate) fn option_payability_given(
        &self,
        option: &PaymentOption,
        all: OptionsSummary,
        now: NaiveDateTime,
    ) -> Result<(), NotPayable> {
        if !option.is_unpaid() {
            return Err(NotPayable::AlreadyPaid);
        }
        // Once an installment is paid the single options are no longer an alternative.
        if !option.is_partial_payment && !all.nothing_paid {
            return Err(NotPayable::Superseded);
        }
        if self.switch_to_expired && option.due_date < now {
            return Err(NotPayable::Expired);
        }
        Ok(())
    }

    /// Marks the option at `index` paid and moves the position: a single option, or the last
    /// installment of the plan, makes it PAID; an earlier installment makes it PARTIALLY_PAID.
    /// As in GPD, a PUBLISHED position (validity date still ahead) can be marked paid: the
    /// creditor was paid outside pagoPA, whenever the notice would have become payable.
    pub fn mark_paid(
        &mut self,
        index: usize,
        payment: OptionPayment,
        now: NaiveDateTime,
    ) -> Result<(), NotPayable> {
        let checked = match self.status_at(now) {
            PositionStatus::Published => self.option_payability(index, now),
            _ => self.payability(index, now),
        };
        match checked {
            Ok(()) | Err(NotPayable::Expired) => {}
            Err(e) => return Err(e),
        }
        let payment_date = payment.payment_date;
        let option = &mut self.options[index];
        option.status = OptionStatus::Paid;
        option.payment = Some(payment);
        option.last_updated_date = now;
        let plan_complete = self
            .options
            .iter()
            .filter(|o| o.is_partial_payment)
            .all(|o| !o.is_unpaid());
        let paid_single = !self.options[index].is_partial_payment;
        if paid_single || plan_complete {
            self.status = PositionStatus::Paid;
            self.payment_date = Some(payment_date);
        } else {
            self.status = PositionStatus::PartiallyPaid;
        }
        self.touch(now);
        Ok(())
    }

    /// Credits `new` instead of `old` in the transfers of every option that can still change
    /// (unpaid, of a position that is neither closed, cancelled nor expired at `now`), at most
    /// `limit` transfers; returns how many changed. Paid and reported money stays where it went.
    pub fn replace_iban(
        &mut self,
        old: &Iban,
        new: &Iban,
        limit: usize,
        now: NaiveDateTime,
    ) -> usize {
        match self.status_at(now) {
            PositionStatus::Draft
            | PositionStatus::Published
            | PositionStatus::Valid
            | PositionStatus::PartiallyPaid => {}
            PositionStatus::Paid
            | PositionStatus::Reported
            | PositionStatus::Invalid
            | PositionStatus::Expired => return 0,
        }
        let mut changed = 0;
        for option in self.options.iter_mut().filter(|o| o.is_unpaid()) {
            let mut touched = false;
            for transfer in &mut option.transfers {
                if changed == limit {
                    break;
                }
                if let Account::Iban { iban, .. } = &mut transfer.account
                    && iban == old
                {
                    *iban = new.clone();
                    changed += 1;
                    touched = true;
                }
            }
            if touched {
                option.last_updated_date = now;
            }
        }
        if changed > 0 {
            self.touch(now);
        }
        changed
    }
}

str_newtype!(Iupd);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::ids::SegregationCode;
    use crate::domain::party::{EntityId, EntityType};
    use chrono::{Duration, NaiveDate};

    pub fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    pub fn transfer(id: i64, cents: i64) -> Transfer {
        Transfer {
            id: TransferId::new(id).unwrap(),
            organization: FiscalCodePA::parse("77777777777").unwrap(),
            company_name: None,
            amount: Cents::new(cents).unwrap(),
            remittance_information: Text::new("TARI 2025").unwrap(),
            category: Text::new("9/0101108TS/").unwrap(),
            account: Account::Iban {
                iban: Iban::parse("IT60X0542811101000000123456").unwrap(),
                postal_iban: None,
            },
            metadata: vec![],
            status: TransferStatus::Unreported,
        }
    }

    pub fn option(base: u64, cents: i64, due: NaiveDateTime, partial: bool) -> PaymentOption {
        let iuv = Iuv::from_parts(SegregationCode::parse("01").unwrap(), base).unwrap();
        PaymentOption {
            nav: iuv.notice_number(),
            iuv,
            amount: Cents::new(cents).unwrap(),
            description: Text::new("Rata").unwrap(),
            is_partial_payment: partial,
            due_date: due,
            retention_date: None,
            notification_fee: None,
            send_sync: false,
            status: OptionStatus::Unpaid,
            payment: None,
            transfers: vec![transfer(1, cents)],
            metadata: vec![],
            last_updated_date: at(2025, 1, 1),
        }
    }

    pub fn position(options: Vec<PaymentOption>) -> DebtPosition {
        let debtor = Debtor {
            subject: Subject::named(
                EntityType::F,
                EntityId::parse("RSSMRA80A01H501U").unwrap(),
                Text::new("Mario Rossi").unwrap(),
            ),
            region: None,
            phone: None,
        };
        DebtPosition::draft(
            FiscalCodePA::parse("77777777777").unwrap(),
            Iupd::parse("IUPD-1").unwrap(),
            Text::new("Comune di Esempio").unwrap(),
            debtor,
            options,
            at(2025, 1, 1),
        )
    }

    fn payment(now: NaiveDateTime) -> OptionPayment {
        OptionPayment {
            payment_date: now,
            payment_method: None,
            psp_company: None,
            receipt_id: "r1".into(),
            fee: Cents::ZERO,
        }
    }

    #[test]
    fn structure_rules_name_the_field() {
        let mut p = position(vec![option(1, 1000, at(2030, 1, 1), false)]);
        p.options[0].transfers.push(transfer(1, 5));
        let errors = p.check_structure();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains(&"paymentOption[0].transfer[1].idTransfer"),
            "{errors:?}"
        );
        assert!(fields.contains(&"paymentOption[0].amount"), "{errors:?}");
    }

    #[test]
    fn reserved_and_duplicate_metadata() {
        let mut p = position(vec![option(1, 1000, at(2030, 1, 1), false)]);
        let entry = |k: &str| MapEntry {
            key: Text::new(k).unwrap(),
            value: Text::new("1").unwrap(),
        };
        p.options[0].metadata = vec![entry("NOTIFICATION_FEE"), entry("a"), entry("a")];
        let errors = p.check_structure();
        assert_eq!(errors.len(), 2, "{errors:?}");
        p.options[0].metadata = (0..11).map(|i| entry(&format!("k{i}"))).collect();
        assert_eq!(p.check_structure().len(), 1);
    }

    #[test]
    fn creation_dates() {
        let now = at(2025, 6, 1);
        let mut p = position(vec![option(1, 1000, at(2025, 5, 1), false)]);
        assert_eq!(
            p.check_dates_for_create(now)[0].field,
            "paymentOption[0].dueDate"
        );
        p.options[0].due_date = at(2025, 7, 1);
        p.validity_date = Some(at(2025, 8, 1));
        assert_eq!(p.check_dates_for_create(now).len(), 1);
        p.validity_date = Some(at(2025, 6, 15));
        assert!(p.check_dates_for_create(now).is_empty());
        p.options[0].retention_date = Some(at(2025, 6, 20));
        assert_eq!(
            p.check_dates_for_create(now)[0].field,
            "paymentOption[0].retentionDate"
        );
    }

    #[test]
    fn publication_without_validity_is_valid_at_once() {
        let now = at(2025, 6, 1);
        let mut p = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        p.publish(now).unwrap();
        assert_eq!(p.status, PositionStatus::Valid);
        assert_eq!(p.validity_date, Some(now));
        assert!(p.publish(now).is_err());
    }

    #[test]
    fn published_becomes_valid_then_expired_with_time() {
        let now = at(2025, 6, 1);
        let mut p = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        p.validity_date = Some(at(2025, 6, 10));
        p.switch_to_expired = true;
        p.publish(now).unwrap();
        assert_eq!(p.status_at(now), PositionStatus::Published);
        assert_eq!(p.payability(0, now), Err(NotPayable::Unknown));
        assert_eq!(p.status_at(at(2025, 6, 10)), PositionStatus::Valid);
        assert_eq!(p.payability(0, at(2025, 6, 10)), Ok(()));
        assert_eq!(p.status_at(at(2025, 7, 2)), PositionStatus::Expired);
        assert_eq!(p.payability(0, at(2025, 7, 2)), Err(NotPayable::Expired));
        p.switch_to_expired = false;
        assert_eq!(p.status_at(at(2025, 7, 2)), PositionStatus::Valid);
    }

    #[test]
    fn a_published_position_can_be_marked_paid_not_a_draft() {
        let now = at(2025, 6, 1);
        let mut draft = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        draft.validity_date = Some(at(2025, 6, 10));
        assert_eq!(
            draft.clone().mark_paid(0, payment(now), now),
            Err(NotPayable::Unknown)
        );
        let mut p = draft;
        p.publish(now).unwrap();
        assert_eq!(p.status_at(now), PositionStatus::Published);
        p.mark_paid(0, payment(now), now).unwrap();
        assert_eq!(p.status_at(now), PositionStatus::Paid);
        assert_eq!(p.options[0].status, OptionStatus::Paid);
        assert_eq!(
            p.mark_paid(0, payment(now), now),
            Err(NotPayable::AlreadyPaid)
        );
    }

    #[test]
    fn invalidated_position_is_cancelled() {
        let now = at(2025, 6, 1);
        let mut p = position(vec![option(1, 1000, at(2025, 7, 1), false)]);
        assert!(p.invalidate(now).is_err());
        p.publish(now).unwrap();
        p.invalidate(now).unwrap();
        assert_eq!(p.payability(0, now), Err(NotPayable::Cancelled));
    }

    #[test]
    fn installments_then_single_option() {
        let now = at(2025, 6, 1);
        let mut p = position(vec![
            option(1, 3000, at(2025, 7, 1), false),
            option(2, 1000, at(2025, 7, 1), true),
            option(3, 2000, at(2025, 8, 1), true),
        ]);
        p.publish(now).unwrap();
        p.mark_paid(1, payment(now), now).unwrap();
        assert_eq!(p.status, PositionStatus::PartiallyPaid);
        assert_eq!(p.payability(0, now), Err(NotPayable::Superseded));
        assert_eq!(p.payability(1, now), Err(NotPayable::AlreadyPaid));
        assert_eq!(p.payability(2, now), Ok(()));
        p.mark_paid(2, payment(now + Duration::days(1)), now)
            .unwrap();
        assert_eq!(p.status, PositionStatus::Paid);
        assert_eq!(p.payment_date, Some(now + Duration::days(1)));
        assert_eq!(p.payability(2, now), Err(NotPayable::AlreadyPaid));
    }

    #[test]
    fn single_option_pays_the_position() {
        let now = at(2025, 6, 1);
        let mut p = position(vec![
            option(1, 3000, at(2025, 7, 1), false),
            option(2, 1000, at(2025, 7, 1), true),
        ]);
        p.publish(now).unwrap();
        p.mark_paid(0, payment(now), now).unwrap();
        assert_eq!(p.status, PositionStatus::Paid);
        assert_eq!(p.payability(1, now), Err(NotPayable::AlreadyPaid));
    }

    #[test]
    fn installment_past_due_expires_alone() {
        let now = at(2025, 7, 15);
        let mut p = position(vec![
            option(1, 1000, at(2025, 7, 1), true),
            option(2, 1000, at(2025, 8, 1), true),
        ]);
        p.switch_to_expired = true;
        p.publish(at(2025, 6, 1)).unwrap();
        assert_eq!(p.status_at(now), PositionStatus::Valid);
        assert_eq!(p.payability(0, now), Err(NotPayable::Expired));
        assert_eq!(p.payability(1, now), Ok(()));
    }

    #[test]
    fn replace_iban_changes_only_what_can_still_change() {
        let old = Iban::parse("IT60X0542811101000000123456").unwrap();
        let new = Iban::parse("IT02A0301503200000003517230").unwrap();
        let now = at(2025, 6, 1);
        let mut p = position(vec![
            option(1, 100, at(2030, 1, 1), true),
            option(2, 100, at(2030, 2, 1), true),
            option(3, 100, at(2030, 3, 1), true),
        ]);
        p.publish(now).unwrap();
        p.mark_paid(0, payment(now), now).unwrap();
        // A limit stops in the middle; the paid installment keeps its IBAN.
        assert_eq!(p.replace_iban(&old, &new, 1, now), 1);
        assert_eq!(p.replace_iban(&old, &new, 10, now), 1);
        assert_eq!(p.replace_iban(&old, &new, 10, now), 0);
        let ibans: Vec<_> = p
            .options
            .iter()
            .map(|o| match &o.transfers[0].account {
                Account::Iban { iban, .. } => iban.as_str().to_owned(),
                Account::Stamp(_) => unreachable!(),
            })
            .collect();
        assert_eq!(ibans, [old.as_str(), new.as_str(), new.as_str()]);
        let mut invalid = position(vec![option(4, 100, at(2030, 1, 1), false)]);
        invalid.publish(now).unwrap();
        invalid.invalidate(now).unwrap();
        assert_eq!(invalid.replace_iban(&old, &new, 10, now), 0);
    }
}
