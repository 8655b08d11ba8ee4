//! Identifiers of the protocol, each parsed once: creditor fiscal codes, notice numbers (NAV),
//! IUVs, segregation codes and transfer ids.

use std::fmt;

use super::text::str_newtype;

/// Why a value is not a valid identifier; the text completes "must …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError(pub &'static str);

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// `s`, owned, when it passed its check (`valid`); else what it must be.
pub(super) fn kept(s: &str, valid: bool, must: &'static str) -> Result<String, IdError> {
    if valid {
        Ok(s.to_owned())
    } else {
        Err(IdError(must))
    }
}

fn all_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// A creditor's fiscal code as pagoPA writes it (stFiscalCodePA): exactly 11 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiscalCodePA(String);

impl FiscalCodePA {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        kept(s, all_digits(s, 11), "be exactly 11 digits").map(FiscalCodePA)
    }
}

/// A two-digit segregation code: the slice of a creditor's IUVs one intermediary generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegregationCode(u8);

impl SegregationCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if all_digits(s, 2) {
            Ok(SegregationCode(s.parse().expect("two digits")))
        } else {
            Err(IdError("be exactly two digits"))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for SegregationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// The two check digits of an aux-digit-3 notice number: the remainder modulo 93 of the number
/// formed by the aux digit, the segregation code and the 13-digit IUV base.
pub fn check_digits(aux_digit: u8, segregation: SegregationCode, iuv_base: &str) -> u8 {
    let digits = std::iter::once(b'0' + aux_digit)
        .chain(segregation.to_string().into_bytes())
        .chain(iuv_base.bytes());
    // Horner's rule keeps every step below 93 * 10 + 9.
    digits.fold(0u32, |r, d| (r * 10 + u32::from(d - b'0')) % 93) as u8
}

/// An IUV (creditorReferenceId) for aux digit 3: segregation code (2) + IUV base (13) + check
/// digits (2), 17 digits in all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iuv(String);

impl Iuv {
    /// The largest IUV base: 13 digits.
    pub const MAX_BASE: u64 = 9_999_999_999_999;

    /// Parses and checks the mod-93 check digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if !all_digits(s, 17) {
            return Err(IdError(
                "be exactly 17 digits (segregation code, IUV base, check digits)",
            ));
        }
        let iuv = Iuv(s.to_owned());
        if check_digits(3, iuv.segregation_code(), &s[2..15])
            != s[15..].parse::<u8>().expect("digits")
        {
            return Err(IdError(
                "end with the mod-93 check digits of aux digit 3 + its first 15 digits",
            ));
        }
        Ok(iuv)
    }

    /// Builds an IUV from its parts, computing the check digits.
    pub fn from_parts(segregation: SegregationCode, base: u64) -> Result<Self, IdError> {
        if base > Self::MAX_BASE {
            return Err(IdError("have an IUV base of at most 13 digits"));
        }
        let base = format!("{base:013}");
        let check = check_digits(3, segregation, &base);
        Ok(Iuv(format!("{segregation}{base}{check:02}")))
    }

    pub fn segregation_code(&self) -> SegregationCode {
        SegregationCode::parse(&self.0[..2]).expect("validated")
    }

    /// The notice number (NAV) of this IUV: aux digit 3 followed by the IUV.
    pub fn notice_number(&self) -> NoticeNumber {
        NoticeNumber(format!("3{}", self.0))
    }
}

/// A notice number (NAV, stNoticeNumber): 18 digits, the first being the aux digit. Parsing
/// checks only the shape, as the Node does: a notice we never issued is simply not found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoticeNumber(String);

impl NoticeNumber {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        kept(s, all_digits(s, 18), "be exactly 18 digits").map(NoticeNumber)
    }

    pub fn aux_digit(&self) -> u8 {
        self.0.as_bytes()[0] - b'0'
    }

    /// The IUV this notice number carries, when it is an aux-digit-3 number with valid check digits.
    pub fn iuv(&self) -> Option<Iuv> {
        if self.aux_digit() == 3 {
            Iuv::parse(&self.0[1..]).ok()
        } else {
            None
        }
    }
}

/// A transfer's position in its payment option (stIdTransfer): 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(u8);

impl TransferId {
    pub fn new(n: i64) -> Result<Self, IdError> {
        if (1..=5).contains(&n) {
            Ok(TransferId(n as u8))
        } else {
            Err(IdError("be 1, 2, 3, 4 or 5"))
        }
    }
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s {
            "1" | "2" | "3" | "4" | "5" => Ok(TransferId(s.as_bytes()[0] - b'0')),
            _ => Err(IdError("be 1, 2, 3, 4 or 5")),
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

str_newtype!(FiscalCodePA, Iuv, NoticeNumber);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fiscal_code_is_eleven_digits() {
        assert!(FiscalCodePA::parse("77777777777").is_ok());
        for bad in [
            "7777777777",
            "777777777777",
            "7777777777a",
            "",
            "RSSMRA80A01H501U",
        ] {
            assert!(FiscalCodePA::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn check_digits_follow_mod_93() {
        // 3 01 0000000000001 -> 3010000000000001 % 93
        let expected = (3010000000000001u64 % 93) as u8;
        assert_eq!(
            check_digits(3, SegregationCode(1), "0000000000001"),
            expected
        );
        let iuv = Iuv::from_parts(SegregationCode(1), 1).unwrap();
        assert_eq!(iuv.as_str(), format!("010000000000001{expected:02}"));
        assert_eq!(Iuv::parse(iuv.as_str()), Ok(iuv.clone()));
        assert_eq!(iuv.notice_number().as_str(), format!("3{iuv}"));
    }

    #[test]
    fn iuv_with_wrong_check_digits_is_refused() {
        let iuv = Iuv::from_parts(SegregationCode(12), 4242).unwrap();
        let mut wrong = iuv.as_str().to_owned();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '9' {
            '0'
        } else {
            (last as u8 + 1) as char
        });
        assert!(Iuv::parse(&wrong).is_err());
    }

    #[test]
    fn notice_number_shape() {
        assert!(NoticeNumber::parse("301000000000000112").is_ok());
        for bad in [
            "30100000000000011",
            "3010000000000001123",
            "30100000000000011a",
            "",
        ] {
            assert!(NoticeNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            NoticeNumber::parse("012345678901234567")
                .unwrap()
                .aux_digit(),
            0
        );
        assert!(
            NoticeNumber::parse("012345678901234567")
                .unwrap()
                .iuv()
                .is_none()
        );
    }

    #[test]
    fn transfer_ids() {
        assert!(TransferId::parse("0").is_err());
        assert!(TransferId::parse("6").is_err());
        assert!(TransferId::parse("01").is_err());
        assert_eq!(TransferId::parse("5").unwrap().get(), 5);
        assert!(TransferId::new(6).is_err());
    }

    proptest! {
        #[test]
        fn notice_numbers_round_trip(seg in 0u8..100, base in 0u64..10_000_000_000_000) {
            let iuv = Iuv::from_parts(SegregationCode(seg), base).unwrap();
            let nav = NoticeNumber::parse(iuv.notice_number().as_str()).unwrap();
            prop_assert_eq!(nav.aux_digit(), 3);
            prop_assert_eq!(nav.iuv(), Some(iuv.clone()));
            prop_assert_eq!(iuv.segregation_code(), SegregationCode(seg));
        }

        /// The check digits are the remainder of the whole 16-digit number, computed directly.
        #[test]
        fn check_digits_are_the_remainder_mod_93(seg in 0u8..100, base in 0u64..10_000_000_000_000) {
            let number = 3 * 10u64.pow(15) + u64::from(seg) * 10u64.pow(13) + base;
            let iuv = Iuv::from_parts(SegregationCode(seg), base).unwrap();
            prop_assert_eq!(iuv.as_str()[15..].parse::<u64>().unwrap(), number % 93);
            prop_assert_eq!(&iuv.as_str()[..2], format!("{seg:02}"));
            prop_assert_eq!(&iuv.as_str()[2..15], format!("{base:013}"));
        }

        /// Changing any one digit of an IUV is detected.
        #[test]
        fn a_changed_digit_is_detected(seg in 0u8..100, base in 0u64..10_000_000_000_000, at in 0usize..17, d in 1u8..10) {
            let iuv = Iuv::from_parts(SegregationCode(seg), base).unwrap();
            let mut digits = iuv.as_str().as_bytes().to_vec();
            digits[at] = b'0' + (digits[at] - b'0' + d) % 10;
            let changed = String::from_utf8(digits).unwrap();
            prop_assert!(Iuv::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn notice_parse_accepts_exactly_18_digits(s in "[0-9]{0,20}") {
            prop_assert_eq!(NoticeNumber::parse(&s).is_ok(), s.len() == 18);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,30}") {
            let _ = NoticeNumber::parse(&s).map(|n| n.iuv());
            let _ = Iuv::parse(&s);
            let _ = FiscalCodePA::parse(&s);
            let _ = TransferId::parse(&s);
        }
    }
}
