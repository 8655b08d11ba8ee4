//! What a creditor configures for its payment notices (`[creditor.notice]`): what GPD's
//! positions do not carry (logo, CBILL code, contact line, channels, the Poste slip's holder
//! and authorisation, a second language) and, when its names are longer than a notice prints,
//! the shorter ones to print. Each value is checked here once; [`NoticeSettings::check_names`]
//! ties them to the creditor's names.

use std::sync::Arc;

use super::{Channels, ImageFormat, Language, Logo};
use crate::domain::Text;

/// Longest creditor name and office a notice prints.
pub const NAME_LIMIT: usize = 50;

/// A creditor's notice configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeSettings {
    pub logo: Option<Logo>,
    pub cbill: Cbill,
    /// The contact line, items separated by "·".
    pub info: Option<Text<100>>,
    pub channels: Channels,
    /// A place where the creditor takes payments itself.
    pub physical_channel: Option<Text<50>>,
    /// The Poste slip's holder and authorisation: with them, a notice whose options credit the
    /// creditor's postal account gets a slip with a Data Matrix.
    pub poste: Option<PosteSettings>,
    pub second_language: Option<Language>,
    /// The creditor's name as printed, when `company_name` is longer than [`NAME_LIMIT`].
    pub name: Option<Text<50>>,
    /// The office as printed, when `office_name` is longer than [`NAME_LIMIT`].
    pub office: Option<Text<50>>,
}

/// The Poste slip's fixed data; the account number comes from each position's transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosteSettings {
    pub holder: Text<50>,
    /// Poste's authorisation to print the slip ("AUT. …" on the slip).
    pub authorisation: Text<70>,
}

/// A CBILL code: the creditor's 5-character code in the CBILL (home banking) circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cbill(String);

impl Cbill {
    pub fn parse(s: &str) -> Result<Cbill, &'static str> {
        if s.len() == 5
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            Ok(Cbill(s.to_owned()))
        } else {
            Err("must be 5 capital letters or digits")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl NoticeSettings {
    /// The creditor's name and office as a notice prints them: the configured short ones, or
    /// `company_name` and `office_name` when they fit. An error names the key to set.
    pub fn check_names(
        &self,
        company_name: &str,
        office_name: Option<&str>,
    ) -> Result<(), (&'static str, String)> {
        let missing = |what: &str, n: usize| {
            format!(
                "{what} has {n} characters, more than a notice prints ({NAME_LIMIT}): \
                 give the shorter one to print"
            )
        };
        let n = company_name.chars().count();
        if n > NAME_LIMIT && self.name.is_none() {
            return Err(("name", missing("company_name", n)));
        }
        if let Some(office) = office_name {
            let n = office.chars().count();
            if n > NAME_LIMIT && self.office.is_none() {
                return Err(("office", missing("office_name", n)));
            }
        }
        Ok(())
    }
}

/// Largest logo file accepted: a 30 mm logo at 300 dpi is far smaller.
pub const LOGO_MAX_BYTES: usize = 2 * 1024 * 1024;

impl Logo {
    /// A PNG or JPEG image, recognised by its signature and its header (the image's size must
    /// be readable and not zero), at most [`LOGO_MAX_BYTES`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Logo, String> {
        if bytes.len() > LOGO_MAX_BYTES {
            return Err(format!(
                "is {} bytes, more than {LOGO_MAX_BYTES}",
                bytes.len()
            ));
        }
        let (format, size) = if bytes.starts_with(PNG_SIGNATURE) {
            (ImageFormat::Png, png_size(&bytes))
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            (ImageFormat::Jpeg, jpeg_size(&bytes))
        } else {
            return Err("is neither a PNG nor a JPEG image".into());
        };
        match size {
            Some((w, h)) if w > 0 && h > 0 => Ok(Logo {
                format,
                bytes: Arc::from(bytes),
            }),
            _ => Err(format!(
                "is not a readable {} image",
                match format {
                    ImageFormat::Png => "PNG",
                    ImageFormat::Jpeg => "JPEG",
                }
            )),
        }
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Width and height from the IHDR chunk, which must come first.
fn png_size(b: &[u8]) -> Option<(u32, u32)> {
    let ihdr = b.get(8..29)?;
    if &ihdr[4..8] != b"IHDR" || ihdr[..4] != [0, 0, 0, 13] {
        return None;
    }
    let be = |s: &[u8]| u32::from_be_bytes(s.try_into().expect("4 bytes"));
    Some((be(&ihdr[8..12]), be(&ihdr[12..16])))
}

/// Width and height from the first start-of-frame segment, walking the segments after SOI.
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        // Fill bytes before a marker.
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([*b.get(i + 2)?, *b.get(i + 3)?]));
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let h = u16::from_be_bytes([*b.get(i + 5)?, *b.get(i + 6)?]);
            let w = u16::from_be_bytes([*b.get(i + 7)?, *b.get(i + 8)?]);
            return Some((u32::from(w), u32::from(h)));
        }
        if len < 2 || marker == 0xDA {
            return None;
        }
        i += 2 + len;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 1×1 PNG (header only: what the check reads).
    pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
        let mut b = PNG_SIGNATURE.to_vec();
        b.extend_from_slice(&[0, 0, 0, 13]);
        b.extend_from_slice(b"IHDR");
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        // An APP0 segment, then SOF0.
        b.extend_from_slice(&[0xFF, 0xE0, 0, 4, 0, 0]);
        b.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8]);
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&[1, 1, 0x11, 0]);
        b
    }

    #[test]
    fn logos_are_png_or_jpeg_with_a_size() {
        assert_eq!(
            Logo::from_bytes(png(354, 354)).unwrap().format,
            ImageFormat::Png
        );
        assert_eq!(
            Logo::from_bytes(jpeg(300, 200)).unwrap().format,
            ImageFormat::Jpeg
        );
        let refused = |b: Vec<u8>| Logo::from_bytes(b).unwrap_err();
        assert_eq!(refused(png(0, 10)), "is not a readable PNG image");
        assert_eq!(
            refused(png(1, 1)[..20].to_vec()),
            "is not a readable PNG image"
        );
        assert_eq!(refused(jpeg(0, 1)), "is not a readable JPEG image");
        assert_eq!(
            refused(b"GIF89a....".to_vec()),
            "is neither a PNG nor a JPEG image"
        );
        assert!(refused(vec![0xFF; LOGO_MAX_BYTES + 1]).contains("more than"));
    }

    #[test]
    fn cbill_is_five_capitals_or_digits() {
        assert!(Cbill::parse("A0EDT").is_ok());
        for bad in ["A0ED", "a0edt", "A0EDT1", "A0-DT"] {
            assert!(Cbill::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_names_need_short_ones() {
        let mut s = NoticeSettings {
            logo: None,
            cbill: Cbill::parse("A0EDT").unwrap(),
            info: None,
            channels: Channels::default(),
            physical_channel: None,
            poste: None,
            second_language: None,
            name: None,
            office: None,
        };
        let long = "x".repeat(51);
        assert!(
            s.check_names(&"x".repeat(50), Some(&"y".repeat(50)))
                .is_ok()
        );
        assert_eq!(s.check_names(&long, None).unwrap_err().0, "name");
        assert_eq!(
            s.check_names("Comune", Some(&long)).unwrap_err().0,
            "office"
        );
        s.name = Some(Text::new("Comune").unwrap());
        s.office = Some(Text::new("Tributi").unwrap());
        assert!(s.check_names(&long, Some(&long)).is_ok());
    }
}
