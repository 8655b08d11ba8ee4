//! JSON lines: one position per line, exactly the body of `POST …/debtpositions`, read with the
//! REST API's own decoder so that a line gets the message its request would. Blank lines are
//! skipped; a line longer than the API's body limit is rejected without being kept in memory.

use std::io::{self, BufRead, Read};

use super::Record;
use crate::json;
use crate::json::model::PositionIn;

pub(super) struct JsonLines<R> {
    input: R,
    /// The last line read (1-based).
    line: u64,
    max: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonLines<R> {
    pub(super) fn new(input: R, max: usize) -> Self {
        JsonLines {
            input,
            line: 0,
            max,
            buf: Vec::new(),
        }
    }

    fn read_line(&mut self) -> io::Result<usize> {
        self.buf.clear();
        (&mut self.input)
            .take(self.max as u64 + 1)
            .read_until(b'\n', &mut self.buf)
    }
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let read = self.read_line();
            self.line += 1;
            let line = self.line;
            match read {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(format!("line {line}: {e}"))),
            }
            if self.buf.len() > self.max && !self.buf.ends_with(b"\n") {
                if let Err(e) = skip_line(&mut self.input) {
                    return Some(Err(format!("line {line}: {e}")));
                }
                return Some(Ok(Record {
                    line,
                    iupd: None,
                    input: Err(format!("the line is longer than {} bytes", self.max)),
                    lines: Vec::new(),
                }));
            }
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let input = json::decode::<PositionIn>(text);
            let iupd = match &input {
                Ok(p) => Some(p.iupd.clone()),
                Err(_) => iupd_of(text),
            };
            return Some(Ok(Record {
                line,
                iupd,
                input,
                lines: Vec::new(),
            }));
        }
    }
}

/// The `iupd` of a line that is not a valid position, when it is JSON with a string `iupd`.
fn iupd_of(text: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(text).ok()?;
    Some(value.get("iupd")?.as_str()?.to_owned())
}

/// Skips the rest of a line, for one too long to keep.
fn skip_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str, max: usize) -> Vec<Record> {
        JsonLines::new(text.as_bytes(), max)
            .map(|r| r.expect("readable"))
            .collect()
    }

    const GOOD: &str = r#"{"iupd":"A","type":"F","fiscalCode":"RSSMRA80A01H501U","fullName":"Mario Rossi","companyName":"Comune","switchToExpired":false,"paymentOption":[]}"#;

    #[test]
    fn one_record_per_non_blank_line_with_its_number() {
        let text = format!(
            "{GOOD}\n\n  \r\n{}\r\n{GOOD}",
            GOOD.replace("\"A\"", "\"B\"")
        );
        let got = records(&text, 1000);
        let lines: Vec<_> = got.iter().map(|r| (r.line, r.iupd.clone())).collect();
        assert_eq!(
            lines,
            [
                (1, Some("A".into())),
                (4, Some("B".into())),
                (5, Some("A".into()))
            ]
        );
        assert!(got.iter().all(|r| r.input.is_ok()));
    }

    #[test]
    fn undecodable_lines_carry_the_apis_message_and_their_iupd_if_any() {
        let text = [
            r#"{"iupd":"X","type":"F"}"#,
            r#"{"iupd":"Y","type":"F","fiscalCode":"C","fullName":"N","companyName":"C","switchToExpired":"no"}"#,
            "not json",
            r#"{"iupd": 7}"#,
        ]
        .join("\n");
        let got = records(&text, 1000);
        assert_eq!(got.len(), 4);
        let errors: Vec<_> = got.iter().map(|r| r.input.as_ref().unwrap_err()).collect();
        assert!(
            errors[0].starts_with("body: missing field `fiscalCode`"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with("switchToExpired: invalid type"),
            "{}",
            errors[1]
        );
        assert!(errors[2].starts_with("body: expected"), "{}", errors[2]);
        assert!(errors[3].starts_with("iupd: invalid type"), "{}", errors[3]);
        let iupds: Vec<_> = got.iter().map(|r| r.iupd.as_deref()).collect();
        assert_eq!(iupds, [Some("X"), Some("Y"), None, None]);
    }

    #[test]
    fn a_line_over_the_limit_is_rejected_and_the_next_one_read() {
        let long = format!("{{\"iupd\":\"{}\"}}", "x".repeat(200));
        let text = format!("{GOOD}\n{long}\n{GOOD}\n");
        let got = records(&text, GOOD.len() + 1);
        assert_eq!(got.len(), 3);
        assert!(got[0].input.is_ok());
        assert_eq!(got[1].line, 2);
        assert_eq!(
            got[1].input.as_ref().unwrap_err(),
            &format!("the line is longer than {} bytes", GOOD.len() + 1)
        );
        assert_eq!((got[2].line, got[2].input.is_ok()), (3, true));
        // Exactly at the limit, with or without its newline, is fine.
        let got = records(&format!("{GOOD}\n{GOOD}"), GOOD.len());
        assert!(got.iter().all(|r| r.input.is_ok()), "{}", got.len());
    }
}
