//! What `store copy` shows while it runs, on standard error: on a terminal, the table at work
//! and its rows done out of its total on one line redrawn in place (at most ten times a
//! second); otherwise plain lines, one when a table is done and one every few seconds within a
//! long one, for logs.

use std::io::{self, Write};
use std::time::{Duration, Instant};

const REDRAW: Duration = Duration::from_millis(100);
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    terminal: bool,
    shown: Option<Instant>,
    table_started: Instant,
}

impl Progress {
    /// `terminal`: standard error is one (`std::io::IsTerminal`).
    pub fn new(terminal: bool) -> Progress {
        Progress {
            terminal,
            shown: None,
            table_started: Instant::now(),
        }
    }

    /// A table starts: `doing` ("copying", "verifying") its `total` rows.
    pub fn start(&mut self, doing: &str, table: &str, total: u64) {
        self.table_started = Instant::now();
        self.shown = None;
        self.update(doing, table, 0, total);
    }

    /// `done` rows of `table` so far; shown if it is time to.
    pub fn update(&mut self, doing: &str, table: &str, done: u64, total: u64) {
        let every = if self.terminal { REDRAW } else { PLAIN_EVERY };
        if self.shown.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        if !self.terminal && self.shown.is_none() {
            // No line for a table's start in a log: its end follows soon, or a count does.
            self.shown = Some(Instant::now());
            return;
        }
        self.shown = Some(Instant::now());
        self.show(
            &line(doing, table, done, total, self.table_started.elapsed()),
            false,
        );
    }

    /// `table` is done: its last count stays on a line of its own.
    pub fn finish(&mut self, doing: &str, table: &str, total: u64) {
        self.show(
            &line(doing, table, total, total, self.table_started.elapsed()),
            true,
        );
    }

    fn show(&self, line: &str, last: bool) {
        let mut err = io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{line}\x1b[K{}", if last { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

/// `copying debt_position  52000/100000 rows  17310/s`.
fn line(doing: &str, table: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        (done as f64 / seconds).round() as u64
    } else {
        0
    };
    format!("{doing} {table:<20} {done:>9}/{total} rows  {rate}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_table_and_counts_its_rows() {
        assert_eq!(
            line("copying", "transfer", 500, 1000, Duration::from_secs(2)),
            "copying transfer                   500/1000 rows  250/s"
        );
        assert_eq!(
            line("verifying", "api_key", 0, 0, Duration::ZERO),
            "verifying api_key                      0/0 rows  0/s"
        );
    }
}
