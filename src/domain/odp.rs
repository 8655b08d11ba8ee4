//! The payment-options service ("opzioni di pagamento", OdP) the platform asks a creditor for
//! a notice number (`orgs_payment_options.json`): what the debtor can pay, as groups of
//! installments (each single option a group of one, the position's plan one group), each with
//! a status word, or the one app error (ODP-1xx) that says why nothing can be paid.
//!
//! The rules are the SOAP primitives': the position as a whole answers as the Node's verify
//! would (unknown, cancelled, expired, already paid), and each option's status comes from
//! [`DebtPosition::option_payability`], as paGetPayment would judge that option.

use chrono::NaiveDateTime;

use super::Cents;
use super::position::{DebtPosition, NotPayable, PaymentOption};

/// The service's app errors: the ODP code, its HTTP status and the PAA code written at the
/// start of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OdpError {
    Syntax,
    Semantic,
    System,
    WrongDomain,
    WrongBroker,
    WrongStation,
    UnknownPayment,
    DuplicatePayment,
    PaymentInProgress,
    ExpiredPayment,
    CancelledPayment,
}

impl OdpError {
    pub const ALL: [OdpError; 11] = [
        OdpError::Syntax,
        OdpError::Semantic,
        OdpError::System,
        OdpError::WrongDomain,
        OdpError::WrongBroker,
        OdpError::WrongStation,
        OdpError::UnknownPayment,
        OdpError::DuplicatePayment,
        OdpError::PaymentInProgress,
        OdpError::ExpiredPayment,
        OdpError::CancelledPayment,
    ];

    /// `appErrorCode`, HTTP status and PAA code, as the document's table pairs them (the
    /// platform turns any other pairing into PAA_SYSTEM_ERROR).
    fn row(self) -> (&'static str, u16, &'static str) {
        match self {
            OdpError::Syntax => ("ODP-101", 400, "PAA_SINTASSI"),
            OdpError::Semantic => ("ODP-102", 422, "PAA_SEMANTICA"),
            OdpError::System => ("ODP-103", 500, "PAA_SYSTEM_ERROR"),
            OdpError::WrongDomain => ("ODP-104", 400, "PAA_ID_DOMINIO_ERRATO"),
            OdpError::WrongBroker => ("ODP-105", 400, "PAA_ID_INTERMEDIARIO_ERRATO"),
            OdpError::WrongStation => ("ODP-106", 400, "PAA_STAZIONE_INT_ERRATA"),
            OdpError::UnknownPayment => ("ODP-107", 404, "PAA_PAGAMENTO_SCONOSCIUTO"),
            OdpError::DuplicatePayment => ("ODP-108", 409, "PAA_PAGAMENTO_DUPLICATO"),
            OdpError::PaymentInProgress => ("ODP-109", 409, "PAA_PAGAMENTO_IN_CORSO"),
            OdpError::ExpiredPayment => ("ODP-110", 422, "PAA_PAGAMENTO_SCADUTO"),
            OdpError::CancelledPayment => ("ODP-111", 422, "PAA_PAGAMENTO_ANNULLATO"),
        }
    }

    pub fn app_code(self) -> &'static str {
        self.row().0
    }

    pub fn http_status(self) -> u16 {
        self.row().1
    }

    pub fn paa_code(self) -> &'static str {
        self.row().2
    }
}

/// An app error with what it is about, for the message after the PAA code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub error: OdpError,
    pub detail: String,
}

impl Refused {
    pub fn new(error: OdpError, detail: impl Into<String>) -> Refused {
        Refused {
            error,
            detail: detail.into(),
        }
    }

    /// Why no option of the position of `notice` can be paid, as the Node's verify says it.
    fn not_payable(reason: NotPayable, notice: &str) -> Refused {
        let (error, why) = match reason {
            NotPayable::Unknown => (OdpError::UnknownPayment, "is unknown"),
            NotPayable::Cancelled => (OdpError::CancelledPayment, "was cancelled by the creditor"),
            NotPayable::Expired => (OdpError::ExpiredPayment, "has expired"),
            NotPayable::AlreadyPaid | NotPayable::Superseded => {
                (OdpError::DuplicatePayment, "is already paid")
            }
        };
        Refused::new(error, format!("notice {notice} {why}"))
    }
}

/// An option's status (`EnumInstallment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallmentStatus {
    Unpaid,
    Paid,
    /// Past its due date and no longer payable (the position's options switch to expired).
    ExpiredNotPayable,
    /// Past its due date, still payable.
    ExpiredUnpaid,
    /// Not payable because another option was chosen: an installment of the plan was paid.
    Invalid,
}

impl InstallmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallmentStatus::Unpaid => "POI_UNPAID",
            InstallmentStatus::Paid => "POI_PAID",
            InstallmentStatus::ExpiredNotPayable => "POI_EXPIRED_NOT_PAYABLE",
            InstallmentStatus::ExpiredUnpaid => "POI_EXPIRED_UNPAID",
            InstallmentStatus::Invalid => "POI_INVALID",
        }
    }

    /// `statusReason`, where the word alone does not say it.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            InstallmentStatus::Unpaid | InstallmentStatus::Paid => None,
            InstallmentStatus::ExpiredNotPayable => Some("past its due date, no longer payable"),
            InstallmentStatus::ExpiredUnpaid => Some("past its due date, still payable"),
            InstallmentStatus::Invalid => Some("an installment of the plan has been paid instead"),
        }
    }

    /// The option at `index` of `position` as of `now`, by the rules of paGetPayment.
    fn of(position: &DebtPosition, index: usize, now: NaiveDateTime) -> InstallmentStatus {
        match position.option_payability(index, now) {
            Ok(()) if position.options[index].due_date < now => InstallmentStatus::ExpiredUnpaid,
            Ok(()) => InstallmentStatus::Unpaid,
            Err(NotPayable::AlreadyPaid) => InstallmentStatus::Paid,
            Err(NotPayable::Expired) => InstallmentStatus::ExpiredNotPayable,
            Err(NotPayable::Superseded | NotPayable::Unknown | NotPayable::Cancelled) => {
                InstallmentStatus::Invalid
            }
        }
    }
}

/// A group's status (`EnumPo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStatus {
    Unpaid,
    Paid,
    PartiallyPaid,
    ExpiredNotPayable,
    ExpiredUnpaid,
    Invalid,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Unpaid => "PO_UNPAID",
            GroupStatus::Paid => "PO_PAID",
            GroupStatus::PartiallyPaid => "PO_PARTIALLY_PAID",
            GroupStatus::ExpiredNotPayable => "PO_EXPIRED_NOT_PAYABLE",
            GroupStatus::ExpiredUnpaid => "PO_EXPIRED_UNPAID",
            GroupStatus::Invalid => "PO_INVALID",
        }
    }

    pub fn reason(self) -> Option<&'static str> {
        match self {
            GroupStatus::Unpaid | GroupStatus::Paid => None,
            GroupStatus::PartiallyPaid => Some("some installments have been paid"),
            GroupStatus::ExpiredNotPayable => Some("past its due date, no longer payable"),
            GroupStatus::ExpiredUnpaid => Some("past its due date, still payable"),
            GroupStatus::Invalid => Some("an installment of the plan has been paid instead"),
        }
    }

    /// A group's status from its installments': invalid, paid or partly paid first, then
    /// expired when all are, else unpaid (GPD's order).
    fn of(installments: &[InstallmentStatus]) -> GroupStatus {
        use InstallmentStatus as I;
        let all = |f: fn(&I) -> bool| installments.iter().all(f);
        let any = |f: fn(&I) -> bool| installments.iter().any(f);
        if all(|s| *s == I::Invalid) {
            GroupStatus::Invalid
        } else if all(|s| *s == I::Paid) {
            GroupStatus::Paid
        } else if any(|s| *s == I::Paid) {
            GroupStatus::PartiallyPaid
        } else if all(|s| matches!(s, I::ExpiredNotPayable | I::ExpiredUnpaid)) {
            if any(|s| *s == I::ExpiredNotPayable) {
                GroupStatus::ExpiredNotPayable
            } else {
                GroupStatus::ExpiredUnpaid
            }
        } else {
            GroupStatus::Unpaid
        }
    }
}

/// One way of paying the position: a single option, or the plan's installments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionGroup<'a> {
    /// The options, by due date, with their statuses.
    pub installments: Vec<(&'a PaymentOption, InstallmentStatus)>,
    pub status: GroupStatus,
    /// The plan of installments, rather than a single option.
    pub is_plan: bool,
}

impl OptionGroup<'_> {
    pub fn amount(&self) -> Cents {
        let sum = self.installments.iter().map(|(o, _)| o.amount.get()).sum();
        Cents::new(sum).expect("at most five transfers of bounded amounts per option")
    }

    /// The last installment's due date.
    pub fn due_date(&self) -> NaiveDateTime {
        let dates = self.installments.iter().map(|(o, _)| o.due_date);
        dates.max().expect("a group has an option")
    }

    /// Whether every transfer of every installment can go to a postal account (`allCCP`).
    pub fn all_postal(&self) -> bool {
        self.installments.iter().all(|(o, _)| o.all_postal())
    }
}

/// What the service answers for a notice: its position, and the ways of paying it by due
/// date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeOptions<'a> {
    pub position: &'a DebtPosition,
    pub groups: Vec<OptionGroup<'a>>,
}

/// The options of the position holding `notice` (found by it, among the creditor's), as of
/// `now`; or why none can be paid. Every option of the position is listed, each single option
/// its own group and the installments one group, whichever of them the notice names: the
/// debtor chooses among them.
pub fn options_of_notice<'a>(
    position: &'a DebtPosition,
    notice: &str,
    now: NaiveDateTime,
) -> Result<NoticeOptions<'a>, Refused> {
    if !position.options.iter().any(|o| o.nav.as_str() == notice) {
        return Err(Refused::not_payable(NotPayable::Unknown, notice));
    }
    position
        .position_payability(now)
        .map_err(|reason| Refused::not_payable(reason, notice))?;
    let status = |i: usize| {
        (
            &position.options[i],
            InstallmentStatus::of(position, i, now),
        )
    };
    let (plan, singles): (Vec<usize>, Vec<usize>) =
        (0..position.options.len()).partition(|&i| position.options[i].is_partial_payment);
    let mut groups: Vec<OptionGroup<'a>> = singles
        .into_iter()
        .map(|i| group(vec![status(i)], false))
        .collect();
    if !plan.is_empty() {
        groups.push(group(plan.into_iter().map(status).collect(), true));
    }
    groups.sort_by_key(OptionGroup::due_date);
    Ok(NoticeOptions { position, groups })
}

fn group(
    mut installments: Vec<(&PaymentOption, InstallmentStatus)>,
    is_plan: bool,
) -> OptionGroup<'_> {
    installments.sort_by_key(|(o, _)| o.due_date);
    let statuses: Vec<InstallmentStatus> = installments.iter().map(|(_, s)| *s).collect();
    OptionGroup {
        status: GroupStatus::of(&statuses),
        installments,
        is_plan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{Account, Iban, OptionPayment, PositionStatus};

    const NOW: (i32, u32, u32) = (2026, 3, 1);

    fn now() -> NaiveDateTime {
        at(NOW.0, NOW.1, NOW.2)
    }

    /// A published position: a single option (base 1) due in April, and, when `plan`, two
    /// installments (bases 2 and 3) due in March and May.
    fn published(single: bool, plan: bool) -> DebtPosition {
        let mut options = Vec::new();
        if single {
            options.push(option(1, 9000, at(2026, 4, 30), false));
        }
        if plan {
            options.push(option(3, 5000, at(2026, 5, 31), true));
            options.push(option(2, 4000, at(2026, 3, 31), true));
        }
        let mut p = position(options);
        p.publish(at(2026, 1, 1)).unwrap();
        p
    }

    /// The notice of option `base`, told apart by its amount.
    fn nav(p: &DebtPosition, base: usize) -> String {
        p.options[base_index(p, base)].nav.to_string()
    }

    fn base_index(p: &DebtPosition, base: usize) -> usize {
        let amount = match base {
            1 => 9000,
            2 => 4000,
            3 => 5000,
            _ => unreachable!("options 1 to 3"),
        };
        let index = p.options.iter().position(|o| o.amount.get() == amount);
        index.expect("the option")
    }

    fn paid(p: &mut DebtPosition, base: usize, when: NaiveDateTime) {
        let index = base_index(p, base);
        let payment = OptionPayment {
            payment_date: when,
            payment_method: None,
            psp_company: None,
            receipt_id: format!("r{base}"),
            fee: Cents::ZERO,
        };
        p.mark_paid(index, payment, when).unwrap();
    }

    /// (group status, [installment statuses], amount) of each group, by due date.
    fn summary(
        p: &DebtPosition,
        base: usize,
        now: NaiveDateTime,
    ) -> Vec<(&'static str, Vec<&'static str>, i64)> {
        let options = options_of_notice(p, &nav(p, base), now).expect("options");
        options
            .groups
            .iter()
            .map(|g| {
                let statuses = g.installments.iter().map(|(_, s)| s.as_str()).collect();
                (g.status.as_str(), statuses, g.amount().get())
            })
            .collect()
    }

    fn refused(p: &DebtPosition, notice: &str, now: NaiveDateTime) -> OdpError {
        options_of_notice(p, notice, now)
            .expect_err("refused")
            .error
    }

    #[test]
    fn the_table_matches_the_document() {
        let codes: Vec<_> = OdpError::ALL
            .iter()
            .map(|e| (e.app_code(), e.http_status(), e.paa_code()))
            .collect();
        assert_eq!(codes[0], ("ODP-101", 400, "PAA_SINTASSI"));
        assert_eq!(codes[10], ("ODP-111", 422, "PAA_PAGAMENTO_ANNULLATO"));
        for (i, (code, _, _)) in codes.iter().enumerate() {
            assert_eq!(*code, format!("ODP-{}", 101 + i));
        }
    }

    #[test]
    fn a_single_option() {
        let p = published(true, false);
        assert_eq!(
            summary(&p, 1, now()),
            [("PO_UNPAID", vec!["POI_UNPAID"], 9000)]
        );
        let options = options_of_notice(&p, &nav(&p, 1), now()).unwrap();
        let group = &options.groups[0];
        assert!(!group.is_plan && !group.all_postal());
        assert_eq!(group.due_date(), at(2026, 4, 30));
        assert_eq!(group.status.reason(), None);
    }

    #[test]
    fn a_plan_alone_is_one_group_by_due_date() {
        let p = published(false, true);
        let options = options_of_notice(&p, &nav(&p, 3), now()).unwrap();
        assert_eq!(options.groups.len(), 1);
        let group = &options.groups[0];
        assert!(group.is_plan);
        assert_eq!(group.amount().get(), 9000);
        assert_eq!(group.due_date(), at(2026, 5, 31));
        let dues: Vec<_> = group.installments.iter().map(|(o, _)| o.due_date).collect();
        assert_eq!(dues, [at(2026, 3, 31), at(2026, 5, 31)]);
    }

    #[test]
    fn a_plan_and_a_single_option_whichever_notice_is_asked() {
        let p = published(true, true);
        for base in [1, 2, 3] {
            assert_eq!(
                summary(&p, base, now()),
                [
                    ("PO_UNPAID", vec!["POI_UNPAID"], 9000),
                    ("PO_UNPAID", vec!["POI_UNPAID", "POI_UNPAID"], 9000),
                ],
                "notice of option {base}"
            );
        }
    }

    #[test]
    fn a_partly_paid_plan_supersedes_the_single_option() {
        let mut p = published(true, true);
        paid(&mut p, 2, at(2026, 2, 1));
        assert_eq!(p.status, PositionStatus::PartiallyPaid);
        let expected = [
            ("PO_INVALID", vec!["POI_INVALID"], 9000),
            ("PO_PARTIALLY_PAID", vec!["POI_PAID", "POI_UNPAID"], 9000),
        ];
        // Asked by the paid installment, the other one or the superseded single option.
        for base in [1, 2, 3] {
            assert_eq!(
                summary(&p, base, now()),
                expected,
                "notice of option {base}"
            );
        }
        let options = options_of_notice(&p, &nav(&p, 2), now()).unwrap();
        assert_eq!(
            options.groups[0].status.reason(),
            Some("an installment of the plan has been paid instead")
        );
    }

    #[test]
    fn a_paid_position_is_a_duplicate() {
        let mut p = published(true, true);
        paid(&mut p, 1, at(2026, 2, 1));
        for base in [1, 2] {
            assert_eq!(
                refused(&p, &nav(&p, base), now()),
                OdpError::DuplicatePayment
            );
        }
        let mut p = published(false, true);
        paid(&mut p, 2, at(2026, 2, 1));
        paid(&mut p, 3, at(2026, 2, 2));
        assert_eq!(refused(&p, &nav(&p, 3), now()), OdpError::DuplicatePayment);
    }

    #[test]
    fn past_due_options_expire_or_stay_payable() {
        // April: the first installment is past due, the rest not.
        let april = at(2026, 4, 15);
        let p = published(true, true);
        assert_eq!(
            summary(&p, 1, april),
            [
                ("PO_UNPAID", vec!["POI_UNPAID"], 9000),
                ("PO_UNPAID", vec!["POI_EXPIRED_UNPAID", "POI_UNPAID"], 9000),
            ]
        );
        let mut expiring = p.clone();
        expiring.switch_to_expired = true;
        assert_eq!(
            summary(&expiring, 1, april)[1].1,
            ["POI_EXPIRED_NOT_PAYABLE", "POI_UNPAID"]
        );
        // May: the single option is past due too.
        let may = at(2026, 5, 15);
        assert_eq!(summary(&p, 1, may)[0].0, "PO_EXPIRED_UNPAID");
        assert_eq!(summary(&expiring, 1, may)[0].0, "PO_EXPIRED_NOT_PAYABLE");
        // June: all past due; the expiring position has expired as a whole.
        let june = at(2026, 6, 15);
        assert_eq!(summary(&p, 2, june)[1].0, "PO_EXPIRED_UNPAID");
        assert_eq!(
            refused(&expiring, &nav(&expiring, 2), june),
            OdpError::ExpiredPayment
        );
    }

    #[test]
    fn invalid_draft_and_unknown_notices() {
        let mut p = published(true, false);
        p.invalidate(now()).unwrap();
        assert_eq!(refused(&p, &nav(&p, 1), now()), OdpError::CancelledPayment);

        let draft = position(vec![option(1, 9000, at(2026, 4, 30), false)]);
        assert_eq!(
            refused(&draft, &nav(&draft, 1), now()),
            OdpError::UnknownPayment
        );

        let mut later = published(true, false);
        later.status = PositionStatus::Published;
        later.validity_date = Some(at(2026, 3, 15));
        assert_eq!(
            refused(&later, &nav(&later, 1), now()),
            OdpError::UnknownPayment
        );

        // A notice that is not one of the position's (another creditor's, of the same number).
        let p = published(true, false);
        let refusal = options_of_notice(&p, "301000000000000999", now()).unwrap_err();
        assert_eq!(refusal.error, OdpError::UnknownPayment);
        assert_eq!(refusal.detail, "notice 301000000000000999 is unknown");
    }

    #[test]
    fn all_ccp_needs_every_transfer_postal() {
        let mut p = published(false, true);
        let postal = Iban::parse("IT60X0760111101000000123456").unwrap();
        for option in &mut p.options {
            if let Account::Iban { postal_iban, .. } = &mut option.transfers[0].account {
                *postal_iban = Some(postal.clone());
            }
        }
        let all = |p: &DebtPosition| {
            options_of_notice(p, &nav(p, 2), now()).unwrap().groups[0].all_postal()
        };
        assert!(all(&p));
        if let Account::Iban { postal_iban, .. } = &mut p.options[0].transfers[0].account {
            *postal_iban = None;
        }
        assert!(!all(&p));
    }
}
