//! The read model's row: one payment option with its position's header and the summary of the
//! sibling options ([`NoticeView`]), as one byte string that both stores keep keyed by
//! (organization, notice number). The values are those of the normalized tables' columns, in
//! the same order, and are read back by the same functions that read those tables
//! ([`crate::store::columns`]): a row can only say what the tables would.
//!
//! Encoding: a format byte, the number of transfers, then each value as a tag and its content
//! (integers zigzag LEB128, texts length-prefixed). An undecodable row, or one of another
//! format, reads as absent and the lookup falls back to the tables.

use crate::domain::notice_view::NoticeView;
use crate::domain::position::{DebtPosition, OptionsSummary};
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::store::StoreError;
use crate::store::columns::{
    ColumnRow, ColumnValue, corrupt, millis, opt_millis, option_values, payment_option_at,
    position_content, position_from_columns, position_row, transfer_at, transfer_values,
};

/// Bumped whenever the layout changes: rows of another format are ignored, then rewritten.
pub(in crate::store) const FORMAT: u8 = 1;

const NULL: u8 = 0;
const INT: u8 = 1;
const TEXT: u8 = 2;
const FALSE: u8 = 3;
const TRUE: u8 = 4;

/// Values before the option's: the position's row as `position_row` reads it (id, organization,
/// IUPD, insertion date, version, content), then the summary (nothing paid, last due date).
const POSITION_VALUES: usize = 5 + 24;
const SUMMARY_VALUES: usize = 2;
/// The option's as `option_values` lists them (row id and organization first).
const OPTION_VALUES: usize = 19;
const TRANSFER_VALUES: usize = 14;

/// The row of option `index` of `p`, whose stored version is `version`.
pub(in crate::store) fn encode(p: &DebtPosition, index: usize, version: i64) -> Vec<u8> {
    let option = &p.options[index];
    let summary = p.options_summary();
    let mut out = Vec::with_capacity(512);
    out.push(FORMAT);
    out.push(option.transfers.len() as u8);
    let head: [ColumnValue<'_>; 5] = [
        0i64.into(),
        p.organization.as_str().into(),
        p.iupd.as_str().into(),
        millis(p.inserted_date).into(),
        version.into(),
    ];
    let summary: [ColumnValue<'_>; 2] = [
        summary.nothing_paid.into(),
        summary.max_due_date.map(millis).into(),
    ];
    let values = head
        .into_iter()
        .chain(position_content(p))
        .chain(summary)
        .chain(option_values(0, p, option));
    for v in values {
        put_value(&mut out, &v);
    }
    for t in &option.transfers {
        for v in &transfer_values(0, t) {
            put_value(&mut out, v);
        }
    }
    out
}

/// The view a row holds, if it decodes and is the one of `organization`'s notice `nav`.
pub(in crate::store) fn decode(
    bytes: &[u8],
    organization: &FiscalCodePA,
    nav: &NoticeNumber,
) -> Option<NoticeView> {
    let view = decode_checked(bytes).ok()?;
    (&view.position().organization == organization && &view.option().nav == nav).then_some(view)
}

fn decode_checked(bytes: &[u8]) -> Result<NoticeView, StoreError> {
    let bad = |why: &str| corrupt("notice_view.body", why);
    let (&format, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
    if format != FORMAT {
        return Err(bad("another format"));
    }
    let (&transfers, mut rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    let count =
        POSITION_VALUES + SUMMARY_VALUES + OPTION_VALUES + TRANSFER_VALUES * usize::from(transfers);
    let mut values = Vec::with_capacity(count);
    while !rest.is_empty() {
        values.push(take_value(&mut rest).ok_or_else(|| bad("truncated"))?);
    }
    if values.len() != count {
        return Err(bad("wrong number of values"));
    }
    let row = |from: usize, n: usize| Values(&values[from..from + n]);
    let (_, header) = position_row(&row(0, POSITION_VALUES)).map_err(Values::failure)?;
    let summary = row(POSITION_VALUES, SUMMARY_VALUES);
    let summary = OptionsSummary {
        nothing_paid: summary.boolean(0).map_err(Values::failure)?,
        max_due_date: opt_millis(
            summary.opt_int(1).map_err(Values::failure)?,
            "notice_view.max_due_date",
        )?,
    };
    let at = POSITION_VALUES + SUMMARY_VALUES;
    let mut option = payment_option_at(&row(at, OPTION_VALUES), 2)?;
    for i in 0..usize::from(transfers) {
        let from = at + OPTION_VALUES + i * TRANSFER_VALUES;
        option
            .transfers
            .push(transfer_at(&row(from, TRANSFER_VALUES), 1)?);
    }
    let position = position_from_columns(header, vec![option])?;
    NoticeView::from_parts(position, summary).ok_or_else(|| bad("not one option"))
}

fn put_value(out: &mut Vec<u8>, v: &ColumnValue<'_>) {
    match v {
        ColumnValue::Text(None) | ColumnValue::Int(None) => out.push(NULL),
        ColumnValue::Int(Some(n)) => {
            out.push(INT);
            put_varint(out, ((n << 1) ^ (n >> 63)) as u64);
        }
        ColumnValue::Text(Some(s)) => {
            out.push(TEXT);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        ColumnValue::Bool(b) => out.push(if *b { TRUE } else { FALSE }),
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(n);
        }
    }
    None
}

/// A value as decoded, its text borrowed from the row.
#[derive(Debug)]
enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bool(bool),
}

fn take_value<'a>(bytes: &mut &'a [u8]) -> Option<Value<'a>> {
    let (&tag, rest) = bytes.split_first()?;
    *bytes = rest;
    Some(match tag {
        NULL => Value::Null,
        FALSE => Value::Bool(false),
        TRUE => Value::Bool(true),
        INT => {
            let z = take_varint(bytes)?;
            Value::Int((z >> 1) as i64 ^ -((z & 1) as i64))
        }
        TEXT => {
            let len = usize::try_from(take_varint(bytes)?).ok()?;
            if len > bytes.len() {
                return None;
            }
            let (text, rest) = bytes.split_at(len);
            *bytes = rest;
            Value::Text(std::str::from_utf8(text).ok()?)
        }
        _ => return None,
    })
}

/// A run of decoded values read by index, as the tables' rows are.
struct Values<'v, 'a>(&'v [Value<'a>]);

impl Values<'_, '_> {
    fn at(&self, i: usize) -> Result<&Value<'_>, &'static str> {
        self.0.get(i).ok_or("missing value")
    }
}

impl ColumnRow for Values<'_, '_> {
    type Error = &'static str;

    fn string(&self, i: usize) -> Result<String, Self::Error> {
        self.opt_string(i)?.ok_or("null text")
    }

    fn opt_string(&self, i: usize) -> Result<Option<String>, Self::Error> {
        match self.at(i)? {
            Value::Text(s) => Ok(Some((*s).to_owned())),
            Value::Null => Ok(None),
            _ => Err("not a text"),
        }
    }

    fn int(&self, i: usize) -> Result<i64, Self::Error> {
        self.opt_int(i)?.ok_or("null integer")
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error> {
        match self.at(i)? {
            Value::Int(n) => Ok(Some(*n)),
            Value::Null => Ok(None),
            _ => Err("not an integer"),
        }
    }

    fn boolean(&self, i: usize) -> Result<bool, Self::Error> {
        self.opt_boolean(i)?.ok_or("null boolean")
    }

    fn opt_boolean(&self, i: usize) -> Result<Option<bool>, Self::Error> {
        match self.at(i)? {
            Value::Bool(b) => Ok(Some(*b)),
            Value::Null => Ok(None),
            _ => Err("not a boolean"),
        }
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>, Self::Error> {
        match self.at(i)? {
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            _ => Err("not bytes"),
        }
    }

    fn failure(e: Self::Error) -> StoreError {
        corrupt("notice_view.body", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::VerifyResponse;
    use crate::domain::party::{CountryCode, Email, MapEntry};
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{
        Account, Debtor, Iban, OptionPayment, OptionStatus, PositionStatus, StampRequest,
        TransferStatus,
    };
    use crate::domain::{Cents, Text};

    fn entry(k: &str, v: &str) -> MapEntry {
        MapEntry {
            key: Text::new(k).unwrap(),
            value: Text::new(v).unwrap(),
        }
    }

    fn paid(status: OptionStatus) -> impl Fn(&mut crate::domain::position::PaymentOption) {
        move |o| {
            o.status = status;
            o.payment = Some(OptionPayment {
                payment_date: at(2029, 8, 1),
                payment_method: Some("CP".into()),
                psp_company: Some("PSP".into()),
                receipt_id: "r-1".into(),
                fee: Cents::new(150).unwrap(),
            });
        }
    }

    /// A single option and a plan of two installments, with every kind of column filled
    /// somewhere: a stamp, metadata, a postal account, a fee, a retention date.
    fn base(switch_to_expired: bool, extras: bool) -> DebtPosition {
        let mut p = position(vec![
            option(1, 3000, at(2030, 1, 1), false),
            option(2, 1500, at(2030, 2, 1), true),
            option(3, 1500, at(2030, 3, 1), true),
        ]);
        p.switch_to_expired = switch_to_expired;
        p.version = 4;
        if extras {
            p.office_name = Some(Text::new("Ufficio tributi").unwrap());
            p.debtor.subject.email = Some(Email::parse("a@b.it").unwrap());
            p.debtor.region = Some(Text::new("Lazio").unwrap());
            p.options[0].transfers[0].account = Account::Stamp(StampRequest {
                hash_document: "cXVhbHNpYXNpIGNvc2E=".into(),
                stamp_type: "01".into(),
                provincial_residence: CountryCode::parse("RM").unwrap(),
            });
            let mut second = crate::domain::position::tests::transfer(2, 500);
            second.account = Account::Iban {
                iban: Iban::parse("IT60X0542811101000000123456").unwrap(),
                postal_iban: Some(Iban::parse("IT12A0760103200000012345678").unwrap()),
            };
            second.company_name = Some(Text::new("Altro ente").unwrap());
            second.metadata = vec![entry("capitolo", "12 & \"13\"")];
            second.status = TransferStatus::Reported;
            p.options[1].transfers[0].amount = Cents::new(1000).unwrap();
            p.options[1].transfers.push(second);
            p.options[1].metadata = vec![entry("k", "v"), entry("é", "ü")];
            p.options[1].notification_fee = Some(Cents::new(200).unwrap());
            p.options[1].send_sync = true;
            p.options[2].retention_date = Some(at(2031, 3, 1));
        }
        p
    }

    /// Every state a position can be stored in, by name.
    fn states() -> Vec<(String, DebtPosition)> {
        let mut all = Vec::new();
        for switch in [false, true] {
            for extras in [false, true] {
                let named = |name: &str, p: DebtPosition| {
                    (format!("{name} switch={switch} extras={extras}"), p)
                };
                let draft = base(switch, extras);
                let mut published = draft.clone();
                published.status = PositionStatus::Published;
                published.publish_date = Some(at(2025, 1, 1));
                published.validity_date = Some(at(2029, 6, 1));
                let mut published_now = published.clone();
                published_now.validity_date = None;
                let mut valid = published.clone();
                valid.status = PositionStatus::Valid;
                valid.validity_date = Some(at(2025, 1, 1));
                let mut invalid = valid.clone();
                invalid.status = PositionStatus::Invalid;
                let mut expired = valid.clone();
                expired.status = PositionStatus::Expired;
                let mut partly = valid.clone();
                partly.status = PositionStatus::PartiallyPaid;
                paid(OptionStatus::Paid)(&mut partly.options[1]);
                let mut paid_single = valid.clone();
                paid_single.status = PositionStatus::Paid;
                paid_single.payment_date = Some(at(2029, 8, 1));
                paid(OptionStatus::Paid)(&mut paid_single.options[0]);
                let mut paid_plan = partly.clone();
                paid_plan.status = PositionStatus::Paid;
                paid(OptionStatus::Paid)(&mut paid_plan.options[2]);
                let mut reported = paid_single.clone();
                reported.status = PositionStatus::Reported;
                paid(OptionStatus::Reported)(&mut reported.options[0]);
                let mut partly_reported = partly.clone();
                paid(OptionStatus::PartiallyReported)(&mut partly_reported.options[1]);
                let mut erased = valid.clone();
                erased.debtor = Debtor::erased(erased.debtor.subject.entity_type);
                erased.personal_data_erased = Some(at(2029, 9, 1));
                all.extend([
                    named("draft", draft),
                    named("published, valid later", published),
                    named("published without validity date", published_now),
                    named("valid", valid),
                    named("invalid", invalid),
                    named("expired", expired),
                    named("partially paid", partly),
                    named("partially reported", partly_reported),
                    named("single paid", paid_single),
                    named("plan paid", paid_plan),
                    named("reported", reported),
                    named("erased", erased),
                ]);
            }
        }
        all
    }

    #[test]
    fn the_row_answers_as_the_whole_position_in_every_state_and_at_every_instant() {
        let nows = [
            at(2025, 6, 1),
            at(2029, 7, 1),
            at(2030, 1, 15),
            at(2030, 2, 15),
            at(2030, 3, 15),
            at(2031, 1, 1),
        ];
        let mut checked = 0;
        for (name, p) in states() {
            for (i, o) in p.options.iter().enumerate() {
                let body = encode(&p, i, p.version);
                let view = decode(&body, &p.organization, &o.nav)
                    .unwrap_or_else(|| panic!("{name}, option {i}: the row does not decode"));
                assert_eq!(view, NoticeView::of(&p, i), "{name}, option {i}");
                assert_eq!(
                    VerifyResponse::of_option(view.position(), 0),
                    VerifyResponse::of_option(&p, i),
                    "{name}, option {i}"
                );
                for now in nows {
                    assert_eq!(
                        view.payability(now),
                        p.payability(i, now),
                        "{name}, option {i}, at {now}"
                    );
                    checked += 1;
                }
            }
        }
        // 12 states, each with and without expiry and extras, of three options.
        assert_eq!(checked, 12 * 4 * 3 * nows.len());
    }

    #[test]
    fn the_answers_cover_every_reason_and_payable() {
        let mut seen = std::collections::HashSet::new();
        for (_, p) in states() {
            for i in 0..p.options.len() {
                for now in [at(2029, 7, 1), at(2031, 1, 1)] {
                    seen.insert(format!("{:?}", p.payability(i, now)));
                }
            }
        }
        for reason in [
            "Ok(())",
            "Unknown",
            "Cancelled",
            "Expired",
            "AlreadyPaid",
            "Superseded",
        ] {
            assert!(
                seen.iter().any(|s| s.contains(reason)),
                "no state answers {reason}: {seen:?}"
            );
        }
    }

    #[test]
    fn a_row_of_another_format_or_notice_or_cut_short_reads_as_absent() {
        let p = base(true, true);
        let nav = &p.options[1].nav;
        let body = encode(&p, 1, 1);
        assert!(decode(&body, &p.organization, nav).is_some());
        let mut other_format = body.clone();
        other_format[0] = FORMAT + 1;
        assert_eq!(decode(&other_format, &p.organization, nav), None);
        assert_eq!(decode(&body, &p.organization, &p.options[0].nav), None);
        let other_org = FiscalCodePA::parse("00000000001").unwrap();
        assert_eq!(decode(&body, &other_org, nav), None);
        for len in 0..body.len() {
            assert_eq!(decode(&body[..len], &p.organization, nav), None, "{len}");
        }
        let mut longer = body.clone();
        longer.push(NULL);
        assert_eq!(decode(&longer, &p.organization, nav), None);
    }

    #[test]
    fn the_row_keeps_the_version_it_is_written_at() {
        let p = base(false, false);
        let view = decode(&encode(&p, 0, 9), &p.organization, &p.options[0].nav).unwrap();
        assert_eq!(view.position().version, 9);
    }
}
