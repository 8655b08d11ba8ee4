//! A [`Notice`] from a stored debt position and its creditor's notice settings, as of an
//! instant: only what can be paid then is printed, and a position with nothing to pay is
//! refused with the reason ([`Unprintable`]). The rules, beyond the guidelines' mapping:
//!
//! - The single-payment block is the payable single option due first (then the cheaper one);
//!   the other single options, alternatives of it, get a notice each when asked by notice
//!   number. The installments are the plan's payable ones, in due-date order.
//! - One payable installment alone is printed as the single block (a plan needs two); next to
//!   a single option it is left out, the single option paying the same debt.
//! - The subject is the description of the first block printed.
//! - The creditor's name is the configured one (`notice.name`, else `company_name`); the office
//!   is the position's `officeName` when it fits, else the configured one.
//! - The Poste slip's account is the postal IBAN (last 12 digits) of the creditor's own
//!   transfer, when every printed option has one and they agree, and the creditor configures a
//!   Poste holder and authorisation.
//! - Due dates are calendar dates in Europe/Rome (positions keep UTC instants).

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

use super::settings::{NAME_LIMIT, NoticeSettings};
use super::{Notice, NoticeCreditor, NoticeDebtor, Payable, PosteAccount};
use crate::domain::NoticeNumber;
use crate::domain::creditor::Creditor;
use crate::domain::party::Subject;
use crate::domain::position::{DebtPosition, NotPayable, PaymentOption, PositionStatus};

/// Longest subject a notice prints.
pub const SUBJECT_LIMIT: usize = 90;
/// Longest address a notice prints.
pub const ADDRESS_LIMIT: usize = 140;

/// Why no notice is made. [`Unprintable::UnknownOption`] is a missing resource; every other
/// reason is a state of the position (or of the configuration) that forbids it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unprintable {
    /// The position has no option with this notice number.
    UnknownOption(NoticeNumber),
    /// The creditor has no `[creditor.notice]` settings.
    NotConfigured,
    Draft,
    /// Published, payable from this date.
    NotYetValid(NaiveDate),
    Invalid,
    Expired,
    Paid,
    Reported,
    /// The debtor's personal data was erased: no one to address the notice to.
    Erased,
    /// The option asked for was paid.
    OptionPaid(NoticeNumber),
    /// The single option asked for is no longer an alternative: an installment was paid.
    OptionSuperseded(NoticeNumber),
    /// The option asked for is past its due date and its position expires options.
    OptionExpired(NoticeNumber, NaiveDate),
    /// Nothing left to pay: every option is paid, expired or superseded.
    NothingPayable,
}

impl Unprintable {
    /// Whether the refusal means "not found" rather than "not in a state to print".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Unprintable::UnknownOption(_))
    }
}

impl fmt::Display for Unprintable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |date: &NaiveDate| date.format("%d/%m/%Y").to_string();
        match self {
            Unprintable::UnknownOption(nav) => {
                write!(f, "the debt position has no payment option {nav}")
            }
            Unprintable::NotConfigured => f.write_str(
                "the organization has no [creditor.notice] configuration: no notices are printed for it",
            ),
            Unprintable::Draft => {
                f.write_str("the debt position is a DRAFT: it cannot be paid until it is published")
            }
            Unprintable::NotYetValid(from) => write!(
                f,
                "the debt position is PUBLISHED but cannot be paid before its validity date, {}",
                d(from)
            ),
            Unprintable::Invalid => {
                f.write_str("the debt position is INVALID: it was cancelled by the organization")
            }
            Unprintable::Expired => f.write_str(
                "the debt position is EXPIRED: its due dates have passed and it can no longer be paid",
            ),
            Unprintable::Paid => f.write_str("the debt position is PAID: nothing is left to pay"),
            Unprintable::Reported => {
                f.write_str("the debt position is REPORTED: it was paid and the payment reported")
            }
            Unprintable::Erased => f.write_str(
                "the debtor's personal data was erased: the debt position can no longer be paid",
            ),
            Unprintable::OptionPaid(nav) => write!(f, "payment option {nav} is already paid"),
            Unprintable::OptionSuperseded(nav) => write!(
                f,
                "payment option {nav} can no longer be paid: an installment of the plan was paid"
            ),
            Unprintable::OptionExpired(nav, due) => write!(
                f,
                "payment option {nav} expired: its due date was {}",
                d(due)
            ),
            Unprintable::NothingPayable => f.write_str(
                "no payment option of the debt position can be paid: each is paid, expired or \
                 superseded by a paid installment",
            ),
        }
    }
}

/// The notice of `position` (of `creditor`) as of `now`: of its option `nav` when given, else
/// of every option that can be paid.
pub fn build(
    position: &DebtPosition,
    creditor: &Creditor,
    nav: Option<&NoticeNumber>,
    now: NaiveDateTime,
) -> Result<Notice, Unprintable> {
    let settings = creditor.notice.as_ref().ok_or(Unprintable::NotConfigured)?;
    let index = nav
        .map(|n| {
            position
                .option_index(n)
                .ok_or(Unprintable::UnknownOption(n.clone()))
        })
        .transpose()?;
    payable_position(position, now)?;
    let (single, installments) = match index {
        Some(i) => {
            let option = &position.options[i];
            position
                .payability(i, now)
                .map_err(|e| option_refusal(e, option))?;
            (Some(option), Vec::new())
        }
        None => blocks(position, now)?,
    };
    let printed: Vec<&PaymentOption> = single.iter().chain(&installments).copied().collect();
    let subject = cut(printed[0].description.as_str(), SUBJECT_LIMIT);
    Ok(Notice {
        subject,
        creditor: notice_creditor(position, creditor, settings),
        debtor: notice_debtor(&position.debtor.subject),
        single: single.map(payable),
        installments: installments.into_iter().map(payable).collect(),
        poste: poste_account(position, &printed, settings),
        second_language: settings.second_language,
    })
}

/// The refusal of a position that cannot be paid whatever its options.
fn payable_position(position: &DebtPosition, now: NaiveDateTime) -> Result<(), Unprintable> {
    if position.is_erased() {
        return Err(Unprintable::Erased);
    }
    match position.status_at(now) {
        PositionStatus::Valid | PositionStatus::PartiallyPaid => Ok(()),
        PositionStatus::Draft => Err(Unprintable::Draft),
        PositionStatus::Published => Err(Unprintable::NotYetValid(rome_date(
            position.validity_date.unwrap_or(now),
        ))),
        PositionStatus::Invalid => Err(Unprintable::Invalid),
        PositionStatus::Expired => Err(Unprintable::Expired),
        PositionStatus::Paid => Err(Unprintable::Paid),
        PositionStatus::Reported => Err(Unprintable::Reported),
    }
}

fn option_refusal(e: NotPayable, option: &PaymentOption) -> Unprintable {
    let nav = option.nav.clone();
    match e {
        NotPayable::AlreadyPaid => Unprintable::OptionPaid(nav),
        NotPayable::Superseded => Unprintable::OptionSuperseded(nav),
        NotPayable::Expired => Unprintable::OptionExpired(nav, rome_date(option.due_date)),
        // The position's own state was checked first; these are only its restatement.
        NotPayable::Unknown | NotPayable::Cancelled => Unprintable::NothingPayable,
    }
}

/// The single-payment option and the installments a whole-position notice prints.
fn blocks(
    position: &DebtPosition,
    now: NaiveDateTime,
) -> Result<(Option<&PaymentOption>, Vec<&PaymentOption>), Unprintable> {
    let payable: Vec<&PaymentOption> = position
        .options
        .iter()
        .enumerate()
        .filter(|(i, _)| position.payability(*i, now).is_ok())
        .map(|(_, o)| o)
        .collect();
    let single = payable
        .iter()
        .filter(|o| !o.is_partial_payment)
        .min_by_key(|o| (o.due_date, o.amount, o.nav.as_str()))
        .copied();
    let mut installments: Vec<&PaymentOption> = payable
        .iter()
        .filter(|o| o.is_partial_payment)
        .copied()
        .collect();
    installments.sort_by_key(|o| (o.due_date, o.nav.as_str()));
    match (single, installments.len()) {
        (None, 0) => Err(Unprintable::NothingPayable),
        (None, 1) => Ok((installments.pop(), Vec::new())),
        (Some(s), 1) => Ok((Some(s), Vec::new())),
        (s, _) => Ok((s, installments)),
    }
}

fn payable(option: &PaymentOption) -> Payable {
    Payable {
        notice_number: option.nav.clone(),
        amount: option.amount,
        due_date: rome_date(option.due_date),
    }
}

fn notice_creditor(
    position: &DebtPosition,
    creditor: &Creditor,
    settings: &NoticeSettings,
) -> NoticeCreditor {
    let name = match &settings.name {
        Some(n) => n.to_string(),
        None => cut(creditor.company_name.as_str(), NAME_LIMIT),
    };
    let fits = |s: &str| s.chars().count() <= NAME_LIMIT;
    let office = match &position.office_name {
        Some(o) if fits(o.as_str()) => Some(o.to_string()),
        _ => match (&settings.office, &creditor.office_name) {
            (Some(o), _) => Some(o.to_string()),
            (None, Some(o)) => Some(cut(o.as_str(), NAME_LIMIT)),
            (None, None) => None,
        },
    };
    NoticeCreditor {
        fiscal_code: position.organization.clone(),
        name,
        office,
        info: settings.info.as_ref().map(ToString::to_string),
        cbill: Some(settings.cbill.as_str().to_owned()),
        channels: settings.channels,
        physical_channel: settings.physical_channel.as_ref().map(ToString::to_string),
        logo: settings.logo.clone(),
    }
}

/// Identifiers that stand for "unknown" in GPD (`NA`) and for an anonymous payer (`ANONIMO`).
const NO_FISCAL_CODE: [&str; 2] = ["NA", "ANONIMO"];

fn notice_debtor(subject: &Subject) -> NoticeDebtor {
    let id = subject.entity_id.as_str().trim();
    let fiscal_code =
        (!NO_FISCAL_CODE.iter().any(|n| id.eq_ignore_ascii_case(n))).then(|| id.to_uppercase());
    NoticeDebtor {
        fiscal_code,
        full_name: subject.full_name.to_string(),
        address: address(subject),
    }
}

/// `street civic, postal code city (province)`, with what the debtor has of it.
fn address(s: &Subject) -> Option<String> {
    let join = |parts: &[Option<&str>]| {
        let words: Vec<&str> = parts.iter().flatten().map(|p| p.trim()).collect();
        (!words.is_empty()).then(|| words.join(" "))
    };
    let street = join(&[
        s.street_name.as_ref().map(|t| t.as_str()),
        s.civic_number.as_ref().map(|t| t.as_str()),
    ]);
    let province = s
        .state_province_region
        .as_ref()
        .map(|p| format!("({})", p.as_str().trim()));
    let place = join(&[
        s.postal_code.as_ref().map(|t| t.as_str()),
        s.city.as_ref().map(|t| t.as_str()),
        province.as_deref(),
    ]);
    let lines: Vec<String> = [street, place].into_iter().flatten().collect();
    (!lines.is_empty()).then(|| cut(&lines.join(", "), ADDRESS_LIMIT))
}

/// The postal account of the creditor's own transfer, when every printed option has the same.
fn poste_account(
    position: &DebtPosition,
    printed: &[&PaymentOption],
    settings: &NoticeSettings,
) -> Option<PosteAccount> {
    let poste = settings.poste.as_ref()?;
    let account_of = |o: &PaymentOption| -> Option<String> {
        o.transfers
            .iter()
            .filter(|t| t.organization == position.organization)
            .find_map(|t| t.postal_iban())
            .and_then(|iban| {
                let s = iban.as_str();
                let number = &s[s.len().saturating_sub(12)..];
                number
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| number.to_owned())
            })
    };
    let first = account_of(printed[0])?;
    if printed
        .iter()
        .any(|o| account_of(o).as_ref() != Some(&first))
    {
        return None;
    }
    Some(PosteAccount {
        account_number: first,
        holder: poste.holder.to_string(),
        authorisation: poste.authorisation.to_string(),
    })
}

/// `s`, or its first `max - 1` characters and "…" when it is longer than `max`.
fn cut(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s
            .chars()
            .take(max - 1)
            .collect::<String>()
            .trim_end()
            .to_owned();
        out.push('…');
        out
    }
}

/// The calendar date in Europe/Rome of a UTC instant: UTC+1, and UTC+2 from 01:00 UTC of the
/// last Sunday of March to 01:00 UTC of the last Sunday of October (the EU's rule since 1996).
pub fn rome_date(utc: NaiveDateTime) -> NaiveDate {
    let year = utc.year();
    let switch = |month| {
        last_sunday(year, month)
            .and_hms_opt(1, 0, 0)
            .expect("01:00 exists")
    };
    let summer = utc >= switch(3) && utc < switch(10);
    let offset = if summer { 2 } else { 1 };
    (utc + Duration::hours(offset)).date()
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("a valid month");
    let last = next.pred_opt().expect("not the first day ever");
    let back = last.weekday().num_days_from_sunday();
    debug_assert_eq!(
        (last - Duration::days(i64::from(back))).weekday(),
        Weekday::Sun
    );
    last - Duration::days(i64::from(back))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notice::Channels;
    use crate::domain::notice::settings::{Cbill, PosteSettings};
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{Account, Iban, OptionPayment};
    use crate::domain::{Cents, FiscalCodePA, Text};
    use std::collections::BTreeSet;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn settings() -> NoticeSettings {
        NoticeSettings {
            logo: None,
            cbill: Cbill::parse("A0EDT").unwrap(),
            info: Some(Text::new("Tel. 06 1234 · tributi@comune.it").unwrap()),
            channels: Channels {
                web: true,
                app: false,
            },
            physical_channel: None,
            poste: Some(PosteSettings {
                holder: Text::new("Comune di Esempio").unwrap(),
                authorisation: Text::new("DB/SSIC/E 1234").unwrap(),
            }),
            second_language: None,
            name: None,
            office: None,
        }
    }

    fn creditor() -> Creditor {
        Creditor {
            fiscal_code: FiscalCodePA::parse("77777777777").unwrap(),
            company_name: Text::new("Comune di Esempio").unwrap(),
            office_name: Some(Text::new("Ufficio Tributi").unwrap()),
            stations: BTreeSet::new(),
            segregation_codes: BTreeSet::new(),
            services: vec![],
            max_unpaid_spontaneous: 1,
            platform: Default::default(),
            notice: Some(settings()),
        }
    }

    const NOW: (i32, u32, u32) = (2026, 6, 1);

    fn now() -> NaiveDateTime {
        at(NOW.0, NOW.1, NOW.2)
    }

    fn paid(p: &mut DebtPosition, i: usize) {
        p.mark_paid(
            i,
            OptionPayment {
                payment_date: now(),
                payment_method: None,
                psp_company: None,
                receipt_id: format!("r{i}"),
                fee: Cents::ZERO,
            },
            now(),
        )
        .unwrap();
    }

    fn published(options: Vec<PaymentOption>) -> DebtPosition {
        let mut p = position(options);
        p.publish(at(2026, 5, 1)).unwrap();
        p
    }

    /// The notice numbers of the single block and of the installments.
    fn shape(n: &Notice) -> (Option<String>, Vec<String>) {
        (
            n.single.as_ref().map(|s| s.notice_number.to_string()),
            n.installments
                .iter()
                .map(|s| s.notice_number.to_string())
                .collect(),
        )
    }

    fn nav(base: u64) -> String {
        option(base, 1, now(), false).nav.to_string()
    }

    #[test]
    fn what_is_printed_and_what_is_refused() {
        let (jul, aug, sep) = (at(2026, 7, 1), at(2026, 8, 1), at(2026, 9, 1));
        type Case = (
            &'static str,
            Box<dyn Fn() -> DebtPosition>,
            Option<u64>,
            Result<(Option<u64>, Vec<u64>), Unprintable>,
        );
        let s = |b, due| option(b, 3000, due, false);
        let i = |b, due| option(b, 1000, due, true);
        let cases: Vec<Case> = vec![
            (
                "one single option",
                Box::new(move || published(vec![s(1, jul)])),
                None,
                Ok((Some(1), vec![])),
            ),
            (
                "single option and a plan, installments by due date",
                Box::new(move || published(vec![s(1, jul), i(3, sep), i(2, aug)])),
                None,
                Ok((Some(1), vec![2, 3])),
            ),
            (
                "plan only",
                Box::new(move || published(vec![i(2, jul), i(3, aug), i(4, sep)])),
                None,
                Ok((None, vec![2, 3, 4])),
            ),
            (
                "several single options: the one due first",
                Box::new(move || published(vec![s(1, sep), s(2, jul), s(3, aug)])),
                None,
                Ok((Some(2), vec![])),
            ),
            (
                "one installment paid: the single option is superseded",
                Box::new(move || {
                    let mut p = published(vec![s(1, jul), i(2, jul), i(3, aug), i(4, sep)]);
                    paid(&mut p, 1);
                    p
                }),
                None,
                Ok((None, vec![3, 4])),
            ),
            (
                "the last installment left is the single block",
                Box::new(move || {
                    let mut p = published(vec![i(2, jul), i(3, aug)]);
                    paid(&mut p, 0);
                    p
                }),
                None,
                Ok((Some(3), vec![])),
            ),
            (
                "a lone installment next to a single option is left out",
                Box::new(move || published(vec![s(1, jul), i(2, aug)])),
                None,
                Ok((Some(1), vec![])),
            ),
            (
                "expired installments are left out",
                Box::new(move || {
                    let mut p = published(vec![i(2, at(2026, 5, 15)), i(3, jul), i(4, aug)]);
                    p.switch_to_expired = true;
                    p
                }),
                None,
                Ok((None, vec![3, 4])),
            ),
            (
                "one option by its notice number",
                Box::new(move || published(vec![s(1, jul), i(2, aug), i(3, sep)])),
                Some(3),
                Ok((Some(3), vec![])),
            ),
            (
                "an unknown notice number",
                Box::new(move || published(vec![s(1, jul)])),
                Some(9),
                Err(Unprintable::UnknownOption(
                    NoticeNumber::parse(&nav(9)).unwrap(),
                )),
            ),
            (
                "a paid option asked for",
                Box::new(move || {
                    let mut p = published(vec![i(2, jul), i(3, aug)]);
                    paid(&mut p, 0);
                    p
                }),
                Some(2),
                Err(Unprintable::OptionPaid(
                    NoticeNumber::parse(&nav(2)).unwrap(),
                )),
            ),
            (
                "a superseded single option asked for",
                Box::new(move || {
                    let mut p = published(vec![s(1, jul), i(2, jul), i(3, aug)]);
                    paid(&mut p, 1);
                    p
                }),
                Some(1),
                Err(Unprintable::OptionSuperseded(
                    NoticeNumber::parse(&nav(1)).unwrap(),
                )),
            ),
            (
                "an expired installment asked for",
                Box::new(move || {
                    let mut p = published(vec![i(2, at(2026, 5, 15)), i(3, jul)]);
                    p.switch_to_expired = true;
                    p
                }),
                Some(2),
                Err(Unprintable::OptionExpired(
                    NoticeNumber::parse(&nav(2)).unwrap(),
                    day(2026, 5, 15),
                )),
            ),
            (
                "a draft",
                Box::new(move || position(vec![s(1, jul)])),
                None,
                Err(Unprintable::Draft),
            ),
            (
                "published, not yet valid",
                Box::new(move || {
                    let mut p = position(vec![s(1, jul)]);
                    p.validity_date = Some(at(2026, 6, 20));
                    p.publish(at(2026, 5, 1)).unwrap();
                    p
                }),
                None,
                Err(Unprintable::NotYetValid(day(2026, 6, 20))),
            ),
            (
                "invalid",
                Box::new(move || {
                    let mut p = published(vec![s(1, jul)]);
                    p.invalidate(at(2026, 5, 2)).unwrap();
                    p
                }),
                None,
                Err(Unprintable::Invalid),
            ),
            (
                "expired",
                Box::new(move || {
                    let mut p = published(vec![s(1, at(2026, 5, 20))]);
                    p.switch_to_expired = true;
                    p
                }),
                None,
                Err(Unprintable::Expired),
            ),
            (
                "paid",
                Box::new(move || {
                    let mut p = published(vec![s(1, jul)]);
                    paid(&mut p, 0);
                    p
                }),
                Some(1),
                Err(Unprintable::Paid),
            ),
            (
                "reported",
                Box::new(move || {
                    let mut p = published(vec![s(1, jul)]);
                    paid(&mut p, 0);
                    p.status = PositionStatus::Reported;
                    p
                }),
                None,
                Err(Unprintable::Reported),
            ),
            (
                "erased",
                Box::new(move || {
                    let mut p = published(vec![s(1, jul)]);
                    p.erase_personal_data(at(2026, 5, 2));
                    p
                }),
                None,
                Err(Unprintable::Erased),
            ),
            (
                "partially paid, the rest expired",
                Box::new(move || {
                    let mut p = published(vec![i(2, jul), i(3, at(2026, 5, 20))]);
                    paid(&mut p, 0);
                    p.switch_to_expired = true;
                    p
                }),
                None,
                Err(Unprintable::NothingPayable),
            ),
        ];
        let navs = |bases: &[u64]| bases.iter().map(|b| nav(*b)).collect::<Vec<_>>();
        for (name, make, asked, expected) in cases {
            let p = make();
            let asked = asked.map(|b| NoticeNumber::parse(&nav(b)).unwrap());
            let got = build(&p, &creditor(), asked.as_ref(), now()).map(|n| shape(&n));
            let expected = expected.map(|(s, i)| (s.map(nav), navs(&i)));
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn the_notice_is_filled_from_the_position() {
        let mut o = option(1, 12345, at(2026, 12, 31), false);
        o.description = Text::new("TARI 2026 — saldo").unwrap();
        o.transfers[0].account = Account::Iban {
            iban: Iban::parse("IT60X0542811101000000123456").unwrap(),
            postal_iban: Some(Iban::parse("IT21Q0760101600000000654321").unwrap()),
        };
        let mut p = published(vec![o]);
        p.office_name = Some(Text::new("Servizio Rifiuti").unwrap());
        let s = &mut p.debtor.subject;
        s.street_name = Some(Text::new("Via Roma").unwrap());
        s.civic_number = Some(Text::new("1").unwrap());
        s.postal_code = Some(Text::new("00100").unwrap());
        s.city = Some(Text::new("Roma").unwrap());
        s.state_province_region = Some(Text::new("RM").unwrap());
        let n = build(&p, &creditor(), None, now()).unwrap();
        assert_eq!(n.subject, "TARI 2026 — saldo");
        assert_eq!(n.creditor.name, "Comune di Esempio");
        assert_eq!(n.creditor.office.as_deref(), Some("Servizio Rifiuti"));
        assert_eq!(n.creditor.cbill.as_deref(), Some("A0EDT"));
        assert_eq!(n.debtor.fiscal_code.as_deref(), Some("RSSMRA80A01H501U"));
        assert_eq!(
            n.debtor.address.as_deref(),
            Some("Via Roma 1, 00100 Roma (RM)")
        );
        let single = n.single.as_ref().unwrap();
        assert_eq!(single.amount.get(), 12345);
        // 2026-12-31T12:00 UTC is the same day in Rome.
        assert_eq!(single.due_date, day(2026, 12, 31));
        let poste = n.poste.as_ref().unwrap();
        assert_eq!(poste.account_number, "000000654321");
        assert_eq!(poste.holder, "Comune di Esempio");
        assert_eq!(&n.poste_payload(single).unwrap()[33..47], "12000000654321");
    }

    #[test]
    fn names_debtors_and_poste_accounts() {
        let postal = |o: &mut PaymentOption, iban: &str| {
            o.transfers[0].account = Account::Iban {
                iban: Iban::parse("IT60X0542811101000000123456").unwrap(),
                postal_iban: Some(Iban::parse(iban).unwrap()),
            };
        };
        let mut a = option(2, 1000, at(2026, 7, 1), true);
        let mut b = option(3, 1000, at(2026, 8, 1), true);
        postal(&mut a, "IT21Q0760101600000000654321");
        postal(&mut b, "IT21Q0760101600000000999999");
        let mut p = published(vec![a, b]);
        // Two accounts: no slip can be right for both.
        assert_eq!(build(&p, &creditor(), None, now()).unwrap().poste, None);
        postal(&mut p.options[1], "IT21Q0760101600000000654321");
        assert!(build(&p, &creditor(), None, now()).unwrap().poste.is_some());
        // Another beneficiary's postal account is not the creditor's.
        p.options[1].transfers[0].organization = FiscalCodePA::parse("88888888888").unwrap();
        assert_eq!(build(&p, &creditor(), None, now()).unwrap().poste, None);
        // Without Poste settings, no slip.
        let mut c = creditor();
        c.notice.as_mut().unwrap().poste = None;
        assert!(
            build(&p, &c, Some(&p.options[0].nav.clone()), now())
                .unwrap()
                .poste
                .is_none()
        );
        // Configured short names; an office too long on the position.
        c.company_name = Text::new("x".repeat(60)).unwrap();
        let n = c.notice.as_mut().unwrap();
        n.name = Some(Text::new("Comune").unwrap());
        n.office = Some(Text::new("Tributi").unwrap());
        p.office_name = Some(Text::new("y".repeat(60)).unwrap());
        p.debtor.subject.entity_id = crate::domain::party::EntityId::parse("NA").unwrap();
        let n = build(&p, &c, None, now()).unwrap();
        assert_eq!(n.creditor.name, "Comune");
        assert_eq!(n.creditor.office.as_deref(), Some("Tributi"));
        assert_eq!(n.debtor.fiscal_code, None);
        assert_eq!(n.debtor.address, None);
        c.notice = None;
        assert_eq!(
            build(&p, &c, None, now()).unwrap_err(),
            Unprintable::NotConfigured
        );
    }

    #[test]
    fn long_subjects_are_cut() {
        let mut o = option(1, 1000, at(2026, 7, 1), false);
        o.description = Text::new("a".repeat(140)).unwrap();
        let p = published(vec![o]);
        let n = build(&p, &creditor(), None, now()).unwrap();
        assert_eq!(n.subject.chars().count(), SUBJECT_LIMIT);
        assert!(n.subject.ends_with('…'));
        assert_eq!(cut("  short  ", 5), "short");
    }

    #[test]
    fn dates_are_romes() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        let cases = [
            // Winter: UTC+1.
            ("2025-12-31T22:59:59", day(2025, 12, 31)),
            ("2025-12-31T23:00:00", day(2026, 1, 1)),
            // Summer: UTC+2.
            ("2026-07-31T21:59:59", day(2026, 7, 31)),
            ("2026-07-31T22:00:00", day(2026, 8, 1)),
            // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
            ("2026-03-28T22:30:00", day(2026, 3, 28)),
            ("2026-03-28T23:30:00", day(2026, 3, 29)),
            ("2026-10-24T21:59:59", day(2026, 10, 24)),
            ("2026-10-24T22:00:00", day(2026, 10, 25)),
            ("2026-10-25T22:59:59", day(2026, 10, 25)),
            ("2026-10-25T23:00:00", day(2026, 10, 26)),
        ];
        for (utc, rome) in cases {
            assert_eq!(rome_date(t(utc)), rome, "{utc}");
        }
        assert_eq!(last_sunday(2026, 3), day(2026, 3, 29));
        assert_eq!(last_sunday(2026, 10), day(2026, 10, 25));
        assert_eq!(last_sunday(2027, 3), day(2027, 3, 28));
    }

    #[test]
    fn every_reason_says_why() {
        let n = NoticeNumber::parse("301000000000000144").unwrap();
        assert!(Unprintable::UnknownOption(n.clone()).is_not_found());
        assert!(!Unprintable::Paid.is_not_found());
        assert_eq!(
            Unprintable::OptionExpired(n, day(2026, 5, 15)).to_string(),
            "payment option 301000000000000144 expired: its due date was 15/05/2026"
        );
        assert!(
            Unprintable::NotYetValid(day(2026, 6, 20))
                .to_string()
                .contains("20/06/2026")
        );
    }
}
