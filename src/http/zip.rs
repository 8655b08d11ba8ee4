//! Reads the JSON file out of an uploaded zip, as GPD's upload service does: the first entry
//! that is not a folder, which must be a `.json` file. Only what such uploads use is supported:
//! entries stored or deflated (RFC 1951, through `miniz_oxide`), not encrypted, not ZIP64. The
//! central directory is trusted for names and sizes; the CRC-32 of what comes out is checked.

/// The most bytes one entry may unpack to: a small zip must not become a huge document.
pub const MAX_UNPACKED: usize = 64 << 20;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_DIRECTORY: u32 = 0x0605_4b50;

/// Whether `bytes` start like a zip archive.
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && u32le(bytes, 0) == Some(LOCAL_HEADER)
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The name and content of the archive's first file, which must end in `.json`.
pub fn first_json(zip: &[u8]) -> Result<(String, Vec<u8>), String> {
    let broken = || "the zip file is damaged or incomplete".to_owned();
    // The end-of-directory record is last, followed by a comment of up to 65535 bytes.
    let lowest = zip.len().saturating_sub(22 + 65_535);
    let end = (lowest..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| u32le(zip, i) == Some(END_OF_DIRECTORY))
        .ok_or_else(broken)?;
    let entries = u16le(zip, end + 10).ok_or_else(broken)?;
    let mut at = u32le(zip, end + 16).ok_or_else(broken)? as usize;
    for _ in 0..entries {
        if u32le(zip, at) != Some(CENTRAL_HEADER) {
            return Err(broken());
        }
        let flags = u16le(zip, at + 8).ok_or_else(broken)?;
        let method = u16le(zip, at + 10).ok_or_else(broken)?;
        let crc = u32le(zip, at + 16).ok_or_else(broken)?;
        let packed = u32le(zip, at + 20).ok_or_else(broken)?;
        let size = u32le(zip, at + 24).ok_or_else(broken)?;
        let name_len = usize::from(u16le(zip, at + 28).ok_or_else(broken)?);
        let extra_len = usize::from(u16le(zip, at + 30).ok_or_else(broken)?);
        let comment_len = usize::from(u16le(zip, at + 32).ok_or_else(broken)?);
        let local = u32le(zip, at + 42).ok_or_else(broken)? as usize;
        let name = zip.get(at + 46..at + 46 + name_len).ok_or_else(broken)?;
        let name = String::from_utf8_lossy(name).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if name.ends_with('/') {
            continue;
        }
        if !name.to_ascii_lowercase().ends_with(".json") {
            return Err(format!(
                "the zip's first file is {name}: it must be a .json file"
            ));
        }
        if flags & 1 != 0 {
            return Err(format!("{name} is encrypted"));
        }
        if packed == u32::MAX || size == u32::MAX {
            return Err(format!("{name}: ZIP64 archives are not supported"));
        }
        if size as usize > MAX_UNPACKED {
            return Err(format!("{name} unpacks to more than {MAX_UNPACKED} bytes"));
        }
        if u32le(zip, local) != Some(LOCAL_HEADER) {
            return Err(broken());
        }
        let local_name = usize::from(u16le(zip, local + 26).ok_or_else(broken)?);
        let local_extra = usize::from(u16le(zip, local + 28).ok_or_else(broken)?);
        let start = local + 30 + local_name + local_extra;
        let data = zip.get(start..start + packed as usize).ok_or_else(broken)?;
        let content = match method {
            0 => data.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, MAX_UNPACKED)
                .map_err(|_| format!("{name} cannot be inflated: the zip is damaged"))?,
            other => {
                return Err(format!(
                    "{name} is compressed with method {other}: use deflate or none"
                ));
            }
        };
        if content.len() != size as usize || crc32(&content) != crc {
            return Err(format!(
                "{name} does not match its checksum: the zip is damaged"
            ));
        }
        return Ok((name, content));
    }
    Err("the zip holds no file".into())
}

/// CRC-32 (IEEE 802.3) by table: the notices' archives hold many megabytes
/// of PDFs.
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// A zip of one stored (uncompressed) file: for tests and examples.
pub fn stored(name: &str, content: &[u8]) -> Vec<u8> {
    let crc = crc32(content);
    let size = content.len() as u32;
    let mut out = Vec::new();
    let header = |out: &mut Vec<u8>, central: bool| {
        out.extend_from_slice(
            &if central {
                CENTRAL_HEADER
            } else {
                LOCAL_HEADER
            }
            .to_le_bytes(),
        );
        if central {
            out.extend_from_slice(&20u16.to_le_bytes()); // made by
        }
        out.extend_from_slice(&20u16.to_le_bytes()); // needed to extract
        out.extend_from_slice(&[0; 6]); // flags, method (stored), time
        out.extend_from_slice(&[0x21, 0]); // date: 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra
        if central {
            out.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
            out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            out.extend_from_slice(&0u32.to_le_bytes()); // local header at 0
        }
        out.extend_from_slice(name.as_bytes());
    };
    header(&mut out, false);
    out.extend_from_slice(content);
    let directory = out.len() as u32;
    header(&mut out, true);
    let directory_size = out.len() as u32 - directory;
    out.extend_from_slice(&END_OF_DIRECTORY.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&directory_size.to_le_bytes());
    out.extend_from_slice(&directory.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_entries_round_trip() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let zip = stored("positions.json", br#"{"paymentPositions": []}"#);
        assert!(is_zip(&zip));
        let (name, content) = first_json(&zip).unwrap();
        assert_eq!(name, "positions.json");
        assert_eq!(content, br#"{"paymentPositions": []}"#);
    }

    #[test]
    fn deflated_entries_are_inflated() {
        // `zip -9` of a file holding {"a":"aaaaaaaaaaaaaaaaaaaa"} plus a newline, made once.
        let content = b"{\"a\":\"aaaaaaaaaaaaaaaaaaaa\"}\n".to_vec();
        let packed = miniz_oxide::deflate::compress_to_vec(&content, 9);
        let mut zip = stored("x.json", &content);
        // Rewrite the stored entry as a deflated one: method 8 and the packed size, both headers.
        let delta = content.len() - packed.len();
        let mut rebuilt = Vec::new();
        rebuilt.extend_from_slice(&zip[..30 + 6]);
        rebuilt[8] = 8;
        rebuilt[18..22].copy_from_slice(&(packed.len() as u32).to_le_bytes());
        rebuilt.extend_from_slice(&packed);
        let mut central = zip[30 + 6 + content.len()..].to_vec();
        central[10] = 8;
        central[20..24].copy_from_slice(&(packed.len() as u32).to_le_bytes());
        let directory_end = central.len() - 22;
        let offset = u32le(&central, directory_end + 16).unwrap() - delta as u32;
        central[directory_end + 16..directory_end + 20].copy_from_slice(&offset.to_le_bytes());
        rebuilt.extend_from_slice(&central);
        zip = rebuilt;
        assert_eq!(first_json(&zip).unwrap().1, content);
    }

    #[test]
    fn refusals() {
        let text = stored("notes.txt", b"hello");
        assert!(
            first_json(&text)
                .unwrap_err()
                .contains("must be a .json file")
        );
        let mut damaged = stored("a.json", b"{}");
        damaged[30 + 6] = b'[';
        assert!(first_json(&damaged).unwrap_err().contains("checksum"));
        assert!(first_json(b"PK\x03\x04 not really").is_err());
        assert!(!is_zip(b"{}"));
    }
}
