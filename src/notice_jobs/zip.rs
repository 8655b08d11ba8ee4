//! A zip writer that hands out the archive piece by piece: each entry's local header and data
//! as it is added, the central directory at the end, so that an archive of many notices is
//! never held whole. Entries are deflated (`miniz_oxide`, fast level) when that saves a tenth
//! of their size, stored otherwise: a PDF's streams are mostly compressed already. No ZIP64:
//! an archive is refused past 65,535 entries or 4 GiB, which the job's bounds keep far off.

use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::http::zip::crc32;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_DIRECTORY: u32 = 0x0605_4b50;
/// Version 2.0: deflate; what every unzip reads.
const VERSION: u16 = 20;
/// Bit 11: names are UTF-8.
const UTF8_NAMES: u16 = 1 << 11;

/// Why the archive cannot grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge(pub &'static str);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the zip would need ZIP64: {}", self.0)
    }
}

impl std::error::Error for TooLarge {}

struct Central {
    name: String,
    method: u16,
    crc: u32,
    packed: u32,
    size: u32,
    offset: u32,
}

pub struct ZipWriter {
    offset: u64,
    entries: Vec<Central>,
    time: u16,
    date: u16,
}

impl ZipWriter {
    /// An empty archive whose entries are dated `modified` (MS-DOS time, 1980 to 2107).
    pub fn new(modified: NaiveDateTime) -> ZipWriter {
        let year = modified.year().clamp(1980, 2107) as u16;
        ZipWriter {
            offset: 0,
            entries: Vec::new(),
            time: (modified.hour() as u16) << 11
                | (modified.minute() as u16) << 5
                | (modified.second() as u16 / 2),
            date: (year - 1980) << 9 | (modified.month() as u16) << 5 | modified.day() as u16,
        }
    }

    /// The bytes that add file `name` holding `content`: its local header and data.
    pub fn entry(&mut self, name: &str, content: &[u8]) -> Result<Vec<u8>, TooLarge> {
        if self.entries.len() == usize::from(u16::MAX) {
            return Err(TooLarge("more than 65,535 files"));
        }
        let size = u32::try_from(content.len()).map_err(|_| TooLarge("a file over 4 GiB"))?;
        let offset = u32::try_from(self.offset).map_err(|_| TooLarge("over 4 GiB"))?;
        let crc = crc32(content);
        let deflated = miniz_oxide::deflate::compress_to_vec(content, 1);
        let (method, data) = if deflated.len() < content.len() - content.len() / 10 {
            (8, deflated.as_slice())
        } else {
            (0, content)
        };
        let central = Central {
            name: name.to_owned(),
            method,
            crc,
            packed: data.len() as u32,
            size,
            offset,
        };
        let mut out = Vec::with_capacity(30 + name.len() + data.len());
        out.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        self.common(&mut out, &central);
        out.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        self.offset += out.len() as u64;
        self.entries.push(central);
        Ok(out)
    }

    /// The central directory and its end record: the archive's last bytes.
    pub fn finish(self) -> Result<Vec<u8>, TooLarge> {
        let start = u32::try_from(self.offset).map_err(|_| TooLarge("over 4 GiB"))?;
        let mut out = Vec::new();
        for e in &self.entries {
            out.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
            out.extend_from_slice(&VERSION.to_le_bytes()); // made by
            self.common(&mut out, e);
            out.extend_from_slice(&0u16.to_le_bytes()); // extra field length
            out.extend_from_slice(&0u16.to_le_bytes()); // comment length
            out.extend_from_slice(&0u16.to_le_bytes()); // disk
            out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(e.name.as_bytes());
        }
        let size = u32::try_from(out.len()).map_err(|_| TooLarge("a directory over 4 GiB"))?;
        start.checked_add(size).ok_or(TooLarge("over 4 GiB"))?;
        let count = self.entries.len() as u16;
        out.extend_from_slice(&END_OF_DIRECTORY.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // this disk
        out.extend_from_slice(&0u16.to_le_bytes()); // the directory's disk
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // comment length
        Ok(out)
    }

    /// The fields local and central headers share, from "version needed" to the name length.
    fn common(&self, out: &mut Vec<u8>, e: &Central) {
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&UTF8_NAMES.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&self.time.to_le_bytes());
        out.extend_from_slice(&self.date.to_le_bytes());
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&e.packed.to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::at;

    #[test]
    fn entries_are_stored_or_deflated_and_read_back() {
        let mut zip = ZipWriter::new(at(2026, 12, 7));
        let repetitive = "failures\n".repeat(200);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let mut bytes = zip.entry("failures.txt", repetitive.as_bytes()).unwrap();
        assert_eq!(bytes[8], 8, "deflated");
        let second = zip.entry("b.bin", &random).unwrap();
        assert_eq!(second[8], 0, "stored");
        bytes.extend(second);
        bytes.extend(zip.finish().unwrap());
        // The project's reader takes the first file when it is JSON; rename to check it.
        let json = {
            let mut z = ZipWriter::new(at(2026, 12, 7));
            let mut b = z.entry("a.json", br#"{"x": [1, 2, 3]}"#).unwrap();
            b.extend(z.finish().unwrap());
            b
        };
        let (name, content) = crate::http::zip::first_json(&json).unwrap();
        assert_eq!(
            (name.as_str(), content.as_slice()),
            ("a.json", &br#"{"x": [1, 2, 3]}"#[..])
        );
        let end = bytes.len() - 22;
        assert_eq!(&bytes[end..end + 4], &END_OF_DIRECTORY.to_le_bytes());
        assert_eq!(u16::from_le_bytes([bytes[end + 10], bytes[end + 11]]), 2);
    }

    #[test]
    fn an_empty_archive_is_its_end_record() {
        let z = ZipWriter::new(at(2026, 1, 1)).finish().unwrap();
        assert_eq!(z.len(), 22);
        assert_eq!(&z[..4], &END_OF_DIRECTORY.to_le_bytes());
    }
}
