//! Base64 as xsd:base64Binary defines it (RFC 4648 alphabet, `=` padding, whitespace allowed
//! anywhere): a strict decoder for untrusted input and the encoder tests and tools use. Small
//! enough not to warrant a dependency (docs/decisions.md).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Why a text is not base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Error;

impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("must be base64 (groups of four characters, '=' padding)")
    }
}

/// Decodes `s`, ignoring XML whitespace. After whitespace collapse a single space may follow
/// any character, so all whitespace is ignored; what remains is groups of four, the last
/// padded with `=` only when its unused bits are zero, as the XSD 1.0 grammar says. (libxml2
/// also ignores stray characters such as `!`; the XSD does not.)
pub fn decode(s: &str) -> Result<Vec<u8>, Base64Error> {
    let chars: Vec<u8> = s
        .bytes()
        .filter(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .collect();
    if !chars.len().is_multiple_of(4) {
        return Err(Base64Error);
    }
    let padding = chars.iter().rev().take_while(|&&c| c == b'=').count();
    if padding > 2 {
        return Err(Base64Error);
    }
    let data = &chars[..chars.len() - padding];
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for group in data.chunks(4) {
        let mut bits = 0u32;
        for &c in group {
            bits = bits << 6 | sextet(c).ok_or(Base64Error)?;
        }
        match group.len() {
            4 => out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]),
            // Two characters carry one byte and four unused bits, three carry two and two.
            3 if bits & 0b11 == 0 => {
                out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8])
            }
            2 if bits & 0b1111 == 0 => out.push((bits >> 4) as u8),
            _ => return Err(Base64Error),
        }
    }
    Ok(out)
}

/// Encodes `bytes` with padding and no line breaks.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let bits = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn whitespace_is_ignored_anywhere() {
        assert_eq!(decode(" Zm9v\r\n YmFy\t").unwrap(), b"foobar");
        assert_eq!(decode("Z m 9 v Y g = =").unwrap(), b"foob");
    }

    #[test]
    fn refuses_what_the_xsd_refuses() {
        for bad in [
            "Zm9",
            "Zm9vY",
            "Zg=",
            "Z===",
            "Zm9v====",
            "Zm9!",
            "Zm=v",
            "=Zm9",
            "Zh==",
            "Zm9=",
            "Zm-v",
            "Zm_v",
            "Zm9vYg==Zm9v",
        ] {
            assert_eq!(decode(bad), Err(Base64Error), "{bad}");
        }
        // Unused bits must be zero: "Zh==" differs from "Zg==" only there.
        assert_eq!(decode("Zg==").unwrap(), b"f");
    }

    proptest! {
        #[test]
        fn round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let encoded = encode(&bytes);
            prop_assert_eq!(encoded.len() % 4, 0);
            prop_assert_eq!(decode(&encoded).unwrap(), bytes);
        }

        #[test]
        fn never_panics(s in "[A-Za-z0-9+/= \n!]{0,40}") {
            let _ = decode(&s);
        }
    }
}
