//! What the import tells its user: a progress bar on standard error while it runs (only on a
//! terminal; a line redrawn in place, at most ten times a second), then a summary, and the
//! rejected positions either listed after it or written to a CSV file (`line,iupd,reason`).

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A position the import did not keep, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The line it starts on (1-based; for CSV, the header is line 1).
    pub line: u64,
    /// Its IUPD as written, when it could be read.
    pub iupd: Option<String>,
    pub reason: String,
}

/// How an import went.
#[derive(Debug, Default)]
pub struct Summary {
    pub imported: u64,
    /// In the order of the file.
    pub rejected: Vec<Rejection>,
    /// Why the import stopped before the end of the file, if it did; the batches committed
    /// before stay imported.
    pub stopped: Option<String>,
    pub elapsed: Duration,
    /// Where the rejected positions were written, if not listed with the summary.
    pub rejects_file: Option<PathBuf>,
}

impl Summary {
    /// 0: everything imported; 1: the import stopped (see `stopped`); 3: some positions were
    /// rejected, all the others imported. (2 is a usage error, from the argument parser.)
    pub fn exit_code(&self) -> u8 {
        if self.stopped.is_some() {
            1
        } else if self.rejected.is_empty() {
            0
        } else {
            3
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.iupd {
            Some(iupd) => write!(f, "line {} (iupd {iupd}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

const WIDTH: usize = 30;
const EVERY: Duration = Duration::from_millis(100);

pub struct Progress {
    enabled: bool,
    /// The input's size in bytes, when known: then a bar, otherwise counts only.
    total: Option<u64>,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    pub fn new(enabled: bool, total: Option<u64>) -> Progress {
        Progress {
            enabled,
            total,
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Redraws the line if it is time to.
    pub fn update(&mut self, consumed: u64, imported: u64, rejected: u64) {
        if !self.enabled || self.drawn.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        self.drawn = Some(Instant::now());
        let line = bar(
            consumed,
            self.total,
            imported,
            rejected,
            self.started.elapsed(),
        );
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }

    /// Clears the line, so that what follows starts on a clean one.
    pub fn finish(&mut self) {
        if self.enabled && self.drawn.is_some() {
            let _ = write!(io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// The progress line: `[#####.....]  52%  52000 imported  3 rejected  17310/s`.
fn bar(
    consumed: u64,
    total: Option<u64>,
    imported: u64,
    rejected: u64,
    elapsed: Duration,
) -> String {
    let rate = per_second(imported, elapsed);
    let counts = format!("{imported} imported  {rejected} rejected  {rate}/s");
    match total {
        Some(total) if total > 0 => {
            let share = consumed.min(total) as f64 / total as f64;
            let filled = (share * WIDTH as f64).round() as usize;
            format!(
                "[{}{}] {:>3.0}%  {counts}",
                "#".repeat(filled),
                ".".repeat(WIDTH - filled),
                share * 100.0
            )
        }
        _ => counts,
    }
}

fn per_second(count: u64, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        (count as f64 / seconds).round() as u64
    } else {
        0
    }
}

/// The summary: one line of counts, the reason the import stopped if it did, then each
/// rejected position on a line of its own unless they went to a file.
pub fn write_summary(out: &mut impl Write, summary: &Summary) -> io::Result<()> {
    let read = summary.imported + summary.rejected.len() as u64;
    writeln!(
        out,
        "imported {} of {read} positions in {:.1} s ({}/s), {} rejected",
        summary.imported,
        summary.elapsed.as_secs_f64(),
        per_second(summary.imported, summary.elapsed),
        summary.rejected.len(),
    )?;
    if let Some(why) = &summary.stopped {
        writeln!(out, "import stopped: {why}")?;
    }
    match &summary.rejects_file {
        Some(path) if !summary.rejected.is_empty() => {
            writeln!(out, "rejected positions written to {}", path.display())?
        }
        Some(_) => {}
        None => {
            for r in &summary.rejected {
                writeln!(out, "{r}")?;
            }
        }
    }
    Ok(())
}

/// The rejected positions as CSV: `line,iupd,reason`, with a header.
pub fn write_rejects(out: impl Write, rejected: &[Rejection]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["line", "iupd", "reason"])?;
    for r in rejected {
        w.write_record([
            r.line.to_string().as_str(),
            r.iupd.as_deref().unwrap_or(""),
            &r.reason,
        ])?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_bytes_read() {
        let s = Duration::from_secs(2);
        assert_eq!(
            bar(0, Some(100), 0, 0, s),
            format!("[{}]   0%  0 imported  0 rejected  0/s", ".".repeat(30))
        );
        assert_eq!(
            bar(50, Some(100), 1000, 3, s),
            format!(
                "[{}{}]  50%  1000 imported  3 rejected  500/s",
                "#".repeat(15),
                ".".repeat(15)
            )
        );
        // More read than the size said (the file grew): full, not overflowing.
        assert!(bar(150, Some(100), 1, 0, s).starts_with(&format!("[{}] 100%", "#".repeat(30))));
        // A pipe: counts only.
        assert_eq!(
            bar(10, None, 4, 1, Duration::ZERO),
            "4 imported  1 rejected  0/s"
        );
    }

    fn rejection(line: u64, iupd: Option<&str>, reason: &str) -> Rejection {
        Rejection {
            line,
            iupd: iupd.map(str::to_owned),
            reason: reason.into(),
        }
    }

    #[test]
    fn the_summary_lists_rejections_unless_they_go_to_a_file() {
        let summary = Summary {
            imported: 8,
            rejected: vec![
                rejection(3, Some("A"), "iupd A already exists for this organization"),
                rejection(9, None, "body: expected value at line 1 column 1"),
            ],
            stopped: None,
            elapsed: Duration::from_secs(2),
            rejects_file: None,
        };
        let mut out = Vec::new();
        write_summary(&mut out, &summary).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "imported 8 of 10 positions in 2.0 s (4/s), 2 rejected\n\
             line 3 (iupd A): iupd A already exists for this organization\n\
             line 9: body: expected value at line 1 column 1\n"
        );
        let summary = Summary {
            rejects_file: Some("r.csv".into()),
            ..summary
        };
        let mut out = Vec::new();
        write_summary(&mut out, &summary).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "imported 8 of 10 positions in 2.0 s (4/s), 2 rejected\n\
             rejected positions written to r.csv\n"
        );
        let stopped = Summary {
            stopped: Some("store unavailable: disk I/O error".into()),
            ..summary
        };
        let mut out = Vec::new();
        write_summary(&mut out, &stopped).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\nimport stopped: store unavailable: disk I/O error\n"),
            "{text}"
        );
    }

    #[test]
    fn rejects_are_csv_quoted_where_needed() {
        let mut out = Vec::new();
        write_rejects(
            &mut out,
            &[
                rejection(2, Some("A,1"), "a; b"),
                rejection(5, None, "say \"no\""),
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "line,iupd,reason\n2,\"A,1\",a; b\n5,,\"say \"\"no\"\"\"\n"
        );
    }
}
