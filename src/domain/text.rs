//! Bounded texts (stText16/35/70/140/210): non-empty strings with a maximum length in
//! characters, so that every response we write fits its XSD facet.

use std::fmt;

/// A string of 1..=MAX characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text<const MAX: usize>(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong { max: usize },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::Empty => f.write_str("must not be empty"),
            TextError::TooLong { max } => write!(f, "must be at most {max} characters"),
        }
    }
}

impl<const MAX: usize> Text<MAX> {
    /// Accepts a non-blank string of at most MAX characters.
    pub fn new(s: impl Into<String>) -> Result<Self, TextError> {
        let s = s.into();
        if s.trim().is_empty() {
            Err(TextError::Empty)
        } else if s.chars().count() > MAX {
            Err(TextError::TooLong { max: MAX })
        } else {
            Ok(Text(s))
        }
    }

    /// Accepts what the XSD facet accepts (1..=MAX characters). Unlike `new`, a whitespace-only
    /// string is valid: XSD string types keep whitespace, so the wire decoders must take it.
    pub fn parse_xsd(s: &str) -> Result<Self, TextError> {
        if s.is_empty() {
            Err(TextError::Empty)
        } else if s.chars().count() > MAX {
            Err(TextError::TooLong { max: MAX })
        } else {
            Ok(Text(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// For newtypes over a checked `String`: `as_str`, and `Display` writing it as it is. Their
/// constructors differ (each checks its own rule); reading them back does not.
macro_rules! str_newtype {
    ($($name:ident),+ $(,)?) => {$(
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}
pub(crate) use str_newtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_in_characters() {
        assert!(Text::<3>::new("àèì").is_ok());
        assert_eq!(Text::<3>::new("abcd"), Err(TextError::TooLong { max: 3 }));
        assert_eq!(Text::<3>::new("  "), Err(TextError::Empty));
        assert_eq!(Text::<3>::new(""), Err(TextError::Empty));
    }

    #[test]
    fn xsd_form_keeps_whitespace() {
        assert_eq!(Text::<3>::parse_xsd(" ").unwrap().as_str(), " ");
        assert_eq!(Text::<3>::parse_xsd(""), Err(TextError::Empty));
        assert_eq!(
            Text::<3>::parse_xsd("abcd"),
            Err(TextError::TooLong { max: 3 })
        );
    }
}
