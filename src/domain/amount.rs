//! Amounts in integer euro cents, and their XSD lexical form `\d+\.\d{2}`.

use std::fmt;

/// A non-negative amount in euro cents, at most 999,999,999.99 euro (the XSD bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cents(i64);

/// Why a value is not an amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    Negative,
    TooLarge,
    /// Not of the form `\d+\.\d{2}`.
    Syntax,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AmountError::Negative => "must not be negative",
            AmountError::TooLarge => "must be at most 999999999.99 euro",
            AmountError::Syntax => "must be digits, a dot and two decimals (e.g. 10.50)",
        })
    }
}

impl Cents {
    pub const ZERO: Cents = Cents(0);
    pub const MAX: Cents = Cents(99_999_999_999);

    pub fn new(cents: i64) -> Result<Cents, AmountError> {
        if cents < 0 {
            Err(AmountError::Negative)
        } else if cents > Self::MAX.0 {
            Err(AmountError::TooLarge)
        } else {
            Ok(Cents(cents))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        Cents::new(self.0.checked_add(other.0)?).ok()
    }

    /// `self - other`, or None when it would be negative.
    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        Cents::new(self.0 - other.0).ok()
    }

    /// Parses the XSD lexical form `\d+\.\d{2}` (stAmount); no sign, no exponent, no spaces.
    pub fn parse_xsd(s: &str) -> Result<Cents, AmountError> {
        let (int, frac) = s.split_once('.').ok_or(AmountError::Syntax)?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.len() != 2 || !digits(frac) {
            return Err(AmountError::Syntax);
        }
        let int = int.trim_start_matches('0');
        if int.len() > 9 {
            return Err(AmountError::TooLarge);
        }
        let euros: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| AmountError::Syntax)?
        };
        let cents: i64 = frac.parse().map_err(|_| AmountError::Syntax)?;
        Cents::new(euros * 100 + cents)
    }
}

/// Writes the XSD lexical form: at least one integer digit, exactly two decimals.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_two_decimals() {
        assert_eq!(Cents::new(0).unwrap().to_string(), "0.00");
        assert_eq!(Cents::new(5).unwrap().to_string(), "0.05");
        assert_eq!(Cents::new(1055).unwrap().to_string(), "10.55");
        assert_eq!(Cents::MAX.to_string(), "999999999.99");
    }

    #[test]
    fn parses_only_the_xsd_form() {
        assert_eq!(Cents::parse_xsd("10.55"), Ok(Cents(1055)));
        assert_eq!(Cents::parse_xsd("000.01"), Ok(Cents(1)));
        for bad in [
            "10", "10.5", "10.555", ".50", "1,00", "-1.00", "+1.00", " 1.00", "1e2.00", "",
        ] {
            assert_eq!(Cents::parse_xsd(bad), Err(AmountError::Syntax), "{bad}");
        }
        assert_eq!(
            Cents::parse_xsd("1000000000.00"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            Cents::parse_xsd("99999999999999999999.00"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn subtraction_stays_non_negative() {
        let (five, two) = (Cents(5), Cents(2));
        assert_eq!(five.checked_sub(two), Some(Cents(3)));
        assert_eq!(two.checked_sub(five), None);
        assert_eq!(two.checked_sub(two), Some(Cents::ZERO));
    }

    #[test]
    fn refuses_out_of_range_cents() {
        assert_eq!(Cents::new(-1), Err(AmountError::Negative));
        assert_eq!(Cents::new(Cents::MAX.0 + 1), Err(AmountError::TooLarge));
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(c in 0i64..=99_999_999_999) {
            let amount = Cents::new(c).unwrap();
            let text = amount.to_string();
            prop_assert!(text.split_once('.').map(|(_, d)| d.len() == 2).unwrap());
            prop_assert_eq!(Cents::parse_xsd(&text), Ok(amount));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = Cents::parse_xsd(&s);
        }

        #[test]
        fn parse_agrees_with_decimal_reading(int in 0u64..1_000_000_000, frac in 0u64..100) {
            let text = format!("{int}.{frac:02}");
            prop_assert_eq!(Cents::parse_xsd(&text).unwrap().get() as u64, int * 100 + frac);
        }
    }
}
