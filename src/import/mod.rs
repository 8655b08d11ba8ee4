//! `gpd-gateway import`: debt positions in bulk, from a file of JSON lines or CSV, into the
//! store. A reader thread parses the file ([`json_lines`], [`csv_table`]) and validates each
//! position exactly as `POST /organizations/{fc}/debtpositions` does; the positions it accepts
//! go to the store in batches, one transaction each, while it reads on. Whatever is refused, by
//! validation or by the store's uniqueness rules, is reported with its line and reason
//! ([`report`]).

mod csv_table;
mod json_lines;
pub mod report;
pub mod upload;

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::{self, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::config::{Config, StoreSection};
use crate::domain::FiscalCodePA;
use crate::domain::creditor::Creditor;
use crate::domain::position::{DebtPosition, FieldError};
use crate::json::convert;
use crate::json::model::PositionIn;
use crate::store::{Store, StoreError};
use report::Progress;
pub use report::{Rejection, Summary};

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One position per line, as the body of `POST …/debtpositions`.
    JsonLines,
    /// One row per transfer, rows of a position together (README, "Bulk import").
    Csv,
}

impl Format {
    /// The format a file name's extension stands for.
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(Format::JsonLines),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "jsonl" | "ndjson" => Ok(Format::JsonLines),
            "csv" => Ok(Format::Csv),
            _ => Err(format!("unknown format {s}: use jsonl or csv")),
        }
    }
}

/// What `gpd-gateway import` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The file to read; `-` is standard input.
    pub file: PathBuf,
    /// Overrides the format the extension implies.
    pub format: Option<Format>,
    /// The creditor the positions belong to.
    pub org: String,
    pub config: Option<PathBuf>,
    /// Import as published (VALID, or PUBLISHED until a future validity date) instead of DRAFT.
    pub publish: bool,
    /// Positions per transaction.
    pub batch_size: usize,
    /// Where to write the rejected rows (CSV); without it they are listed on standard error.
    pub rejects: Option<PathBuf>,
}

/// A position as read from the input, before validation.
struct Record {
    /// The line it starts on.
    line: u64,
    iupd: Option<String>,
    input: Result<PositionIn, String>,
    /// For CSV, the line of each transfer row, per option: messages about
    /// `paymentOption[i].transfer[j]` name the line they are about.
    lines: Vec<Vec<u64>>,
}

/// The records of an input, one position at a time; an `Err` ends the input (unreadable file,
/// unusable CSV header).
type Records = Box<dyn Iterator<Item = Result<Record, String>> + Send>;

/// An opened input: its records and how many of its bytes have been read.
pub struct Source {
    records: Records,
    consumed: Arc<AtomicU64>,
}

impl Source {
    /// Reads `input` as `format`; lines longer than `max_line` bytes are rejected unread.
    pub fn new(
        input: Box<dyn Read + Send>,
        format: Format,
        max_line: usize,
    ) -> Result<Source, String> {
        let consumed = Arc::new(AtomicU64::new(0));
        let counted = BufReader::with_capacity(
            64 * 1024,
            Counted {
                inner: input,
                consumed: consumed.clone(),
            },
        );
        let records: Records = match format {
            Format::JsonLines => Box::new(json_lines::JsonLines::new(counted, max_line)),
            Format::Csv => Box::new(csv_table::CsvTable::new(counted)?),
        };
        Ok(Source { records, consumed })
    }
}

/// Counts the bytes read through it, for the progress bar.
struct Counted {
    inner: Box<dyn Read + Send>,
    consumed: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// How positions are made from records.
#[derive(Debug, Clone)]
pub struct Settings {
    pub creditor: Creditor,
    pub publish: bool,
    pub batch_size: usize,
    pub clock: Clock,
}

/// The creditor `org` names, if the configuration serves it (the REST API's rule).
pub fn creditor(config: &Config, org: &str) -> Result<Creditor, String> {
    let fiscal_code = FiscalCodePA::parse(org).map_err(|e| format!("--org must {e}"))?;
    config
        .creditors
        .get(&fiscal_code)
        .cloned()
        .ok_or_else(|| format!("organization {org} is not served by this gateway (see --config)"))
}

/// Opens the store the command names, given the configuration's `[store]`: the caller's
/// choice of backend.
pub type OpenStore =
    Box<dyn FnOnce(StoreSection) -> Pin<Box<dyn Future<Output = Result<Arc<dyn Store>, String>>>>>;

/// The whole command: checks the options, opens the input and then the store (`open`),
/// imports, closes the store and writes the rejected rows to `--rejects` if given.
/// An `Err` means nothing was imported (the store was not opened).
pub async fn run(opts: &Options, open: OpenStore) -> Result<Summary, String> {
    let config = match &opts.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::example(),
    };
    let creditor = creditor(&config, &opts.org)?;
    if opts.batch_size == 0 {
        return Err("--batch-size must be at least 1".into());
    }
    let stdin = opts.file.as_os_str() == "-";
    let format = match (opts.format, stdin) {
        (Some(f), _) => f,
        (None, true) => return Err("reading standard input needs --format jsonl|csv".into()),
        (None, false) => Format::of_path(&opts.file).ok_or_else(|| {
            format!(
                "cannot tell the format of {} from its extension (.jsonl, .ndjson, .csv): use --format",
                opts.file.display()
            )
        })?,
    };
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if stdin {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(&opts.file)
            .map_err(|e| format!("cannot read {}: {e}", opts.file.display()))?;
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        (Box::new(file), size)
    };
    // Created before the store is touched, so that a bad path costs nothing.
    let rejects = match &opts.rejects {
        Some(path) => {
            Some(File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?)
        }
        None => None,
    };
    let source = Source::new(input, format, config.limits.max_body_bytes)?;
    let store = open(config.store.clone()).await?;
    let settings = Settings {
        creditor,
        publish: opts.publish,
        batch_size: opts.batch_size,
        clock: Clock::system(),
    };
    let mut progress = Progress::new(io::stderr().is_terminal(), size);
    let mut summary = import(source, store.as_ref(), settings, &mut progress).await;
    progress.finish();
    if let Err(e) = store.close().await {
        summary.stopped.get_or_insert(e.to_string());
    }
    if let (Some(file), Some(path)) = (rejects, &opts.rejects) {
        match report::write_rejects(file, &summary.rejected) {
            Ok(()) => summary.rejects_file = Some(path.clone()),
            // Listed with the summary instead.
            Err(e) => {
                let e = format!("cannot write {}: {e}", path.display());
                summary.stopped.get_or_insert(e);
            }
        }
    }
    Ok(summary)
}

/// A batch on its way from the reader to the store.
#[derive(Default)]
struct Batch {
    /// Line and IUPD of each position, for reporting.
    rows: Vec<(u64, String)>,
    positions: Vec<DebtPosition>,
    /// Refused by validation, in the order read.
    rejected: Vec<Rejection>,
    /// Bytes of the input read when the batch was cut, for the progress bar.
    consumed: u64,
}

/// A value that must be unique per creditor: its JSON field, as the store names it, and a hash
/// of the value (a 100,000-position file has some 500,000 of them; only a value the store
/// already reported as taken is looked up, so a collision could at worst name a wrong line).
type Key = (&'static str, u64);

fn key(field: &'static str, value: &str) -> Key {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(value, &mut h);
    (field, std::hash::Hasher::finish(&h))
}

fn keys_of(p: &DebtPosition) -> Vec<Key> {
    let mut keys = vec![key("iupd", p.iupd.as_str())];
    for o in &p.options {
        keys.push(key("iuv", o.iuv.as_str()));
        keys.push(key("nav", o.nav.as_str()));
    }
    keys
}

/// The store's reason, or the line of this file the clashing value was imported from.
fn duplicate_reason(e: &StoreError, imported: &HashMap<Key, u64>) -> String {
    match e {
        StoreError::Duplicate { field, value } => match imported.get(&key(field, value)) {
            Some(line) => format!("{field} {value} was imported from line {line} of this file"),
            None => e.to_string(),
        },
        _ => e.to_string(),
    }
}

enum Message {
    Batch(Batch),
    /// The input cannot be read further.
    Failed(String),
    Done,
}

/// Reads `source` on its own thread, validates, and commits what passes in batches of
/// `settings.batch_size` positions, one transaction each. The reader keeps up to two batches
/// ahead, so parsing and committing overlap.
pub async fn import(
    source: Source,
    store: &dyn Store,
    settings: Settings,
    progress: &mut Progress,
) -> Summary {
    let started = Instant::now();
    let Source { records, consumed } = source;
    let (tx, mut rx) = mpsc::channel::<Message>(2);
    let spawned = std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || read_batches(records, &consumed, &settings, &tx));
    let mut summary = Summary::default();
    // Where each imported IUPD, IUV and notice number came from, to name it in a later clash.
    let mut imported: HashMap<Key, u64> = HashMap::new();
    if let Err(e) = spawned {
        summary.stopped = Some(format!("cannot start the reader: {e}"));
        return summary;
    }
    loop {
        let batch = match rx.recv().await {
            Some(Message::Batch(b)) => b,
            Some(Message::Done) => break,
            Some(Message::Failed(e)) => {
                summary.stopped = Some(e);
                break;
            }
            None => {
                summary.stopped = Some("the reader failed unexpectedly".into());
                break;
            }
        };
        summary.rejected.extend(batch.rejected);
        if !batch.positions.is_empty() {
            let keys: Vec<Vec<Key>> = batch.positions.iter().map(keys_of).collect();
            match store.import_positions(batch.positions).await {
                Ok(outcomes) => {
                    let rows = batch.rows.into_iter().zip(keys).zip(outcomes);
                    for (((line, iupd), keys), outcome) in rows {
                        match outcome {
                            Ok(()) => {
                                summary.imported += 1;
                                for key in keys {
                                    imported.insert(key, line);
                                }
                            }
                            Err(e) => summary.rejected.push(Rejection {
                                line,
                                reason: duplicate_reason(&e, &imported),
                                iupd: Some(iupd),
                            }),
                        }
                    }
                }
                Err(e) => {
                    // The whole batch was rolled back: every position of it is reported.
                    let reason = format!("its batch was not committed: {e}");
                    for (line, iupd) in batch.rows {
                        summary.rejected.push(Rejection {
                            line,
                            iupd: Some(iupd),
                            reason: reason.clone(),
                        });
                    }
                    summary.stopped = Some(e.to_string());
                    break;
                }
            }
        }
        progress.update(
            batch.consumed,
            summary.imported,
            summary.rejected.len() as u64,
        );
    }
    // Validation rejections travel ahead of the store's within a batch: restore file order.
    summary.rejected.sort_by_key(|r| r.line);
    summary.elapsed = started.elapsed();
    summary
}

fn read_batches(
    records: Records,
    consumed: &AtomicU64,
    settings: &Settings,
    tx: &mpsc::Sender<Message>,
) {
    let send = |mut m: Message| {
        if let Message::Batch(b) = &mut m {
            b.consumed = consumed.load(Ordering::Relaxed);
        }
        tx.blocking_send(m).is_ok()
    };
    let mut batch = Batch::default();
    for record in records {
        match record {
            Ok(record) => match position(record, settings) {
                Ok((row, p)) => {
                    batch.rows.push(row);
                    batch.positions.push(p);
                }
                Err(rejection) => batch.rejected.push(rejection),
            },
            Err(e) => {
                // What was read before the failure is still imported.
                let _ = send(Message::Batch(batch)) && send(Message::Failed(e));
                return;
            }
        }
        let full = batch.positions.len() >= settings.batch_size
            || batch.rejected.len() >= settings.batch_size;
        if full && !send(Message::Batch(std::mem::take(&mut batch))) {
            return; // the import stopped
        }
    }
    let _ = send(Message::Batch(batch)) && send(Message::Done);
}

/// The position a record stands for, validated for the creditor.
fn position(
    record: Record,
    settings: &Settings,
) -> Result<((u64, String), DebtPosition), Rejection> {
    let Record {
        line,
        iupd,
        input,
        lines,
    } = record;
    let refuse = |reason: String| Rejection {
        line,
        iupd: iupd.clone(),
        reason,
    };
    let input = input.map_err(refuse)?;
    let now = settings.clock.now();
    let mut p = convert::new_position(input, &settings.creditor, now)
        .map_err(|errors| refuse(describe(&errors, line, &lines)))?;
    if settings.publish {
        p.apply_publication(now);
    }
    Ok(((line, p.iupd.to_string()), p))
}

/// The problems as the REST API lists them ("; "-separated), each with the line it is about
/// when that is not the position's first.
fn describe(errors: &[FieldError], first_line: u64, lines: &[Vec<u64>]) -> String {
    errors
        .iter()
        .map(|e| match line_of(&e.field, lines) {
            Some(line) if line != first_line => {
                format!("{} (line {line}): {}", e.field, e.message)
            }
            _ => e.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The line of `paymentOption[i]` (its first row) or `paymentOption[i].transfer[j]…`.
fn line_of(field: &str, lines: &[Vec<u64>]) -> Option<u64> {
    let (i, rest) = field.strip_prefix("paymentOption[")?.split_once(']')?;
    let option = lines.get(i.parse::<usize>().ok()?)?;
    match rest
        .strip_prefix(".transfer[")
        .and_then(|r| r.split_once(']'))
    {
        Some((j, _)) => option.get(j.parse::<usize>().ok()?).copied(),
        None => option.first().copied(),
    }
}

#[cfg(test)]
mod tests;
