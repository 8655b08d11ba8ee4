//! The ceiling for durable receipts: how many receipt-shaped rows per second the store's engine
//! commits on this disk, set up as the gateway sets up its store (bundled SQLite, WAL,
//! `synchronous = FULL`, one writer, IMMEDIATE transactions) and inserting rows in transactions of
//! B rows for each B of `--batches` (1, 50, 200 by default): one fsync-bound commit per
//! transaction, as in the gateway's group commit.
//!
//! The table has a receipt's shape and indexes: organization, receipt_id (unique with the
//! organization), iuv (indexed), nav, amount, debtor, payment_date and the request as received
//! (`--raw-bytes`, about 3 KB). `--savepoints` also measures each batch with one SAVEPOINT per
//! row, the way the gateway's writer isolates its jobs.
//!
//! Each batch size gets a fresh database under `--dir` (default: a temporary directory; put it
//! on the gateway's data disk) and runs for `--seconds`.
//!
//! ```sh
//! cargo run --release --example store_insert_rate -- --dir /var/tmp --seconds 3
//! ```
//!
//! Output ends with one machine-readable line per measurement: `INSERT batch=B savepoints=0|1
//! rows=… seconds=… rows_per_s=… commit_ms=…`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};

const USAGE: &str = "usage: store_insert_rate [--dir DIR] [--seconds S] [--batches 1,50,200] \
[--raw-bytes 3000] [--savepoints]";

struct Args {
    dir: Option<PathBuf>,
    seconds: f64,
    batches: Vec<usize>,
    raw_bytes: usize,
    savepoints: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        dir: None,
        seconds: 3.0,
        batches: vec![1, 50, 200],
        raw_bytes: 3000,
        savepoints: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--dir" => a.dir = Some(PathBuf::from(value("--dir")?)),
            "--seconds" => {
                let v = value("--seconds")?;
                a.seconds = v.parse().map_err(|e| format!("--seconds {v}: {e}"))?;
            }
            "--batches" => {
                let v = value("--batches")?;
                a.batches = v
                    .split(',')
                    .map(|b| b.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--batches {v}: {e}"))?;
            }
            "--raw-bytes" => {
                let v = value("--raw-bytes")?;
                a.raw_bytes = v.parse().map_err(|e| format!("--raw-bytes {v}: {e}"))?;
            }
            "--savepoints" => a.savepoints = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if a.batches.is_empty() || a.batches.contains(&0) || a.seconds.is_nan() || a.seconds <= 0.0 {
        return Err("--batches must be positive sizes and --seconds positive".into());
    }
    Ok(a)
}

const SCHEMA: &str = "
CREATE TABLE receipt (
    id            INTEGER PRIMARY KEY,
    organization  TEXT    NOT NULL,
    receipt_id    TEXT    NOT NULL,
    iuv           TEXT    NOT NULL,
    nav           TEXT    NOT NULL,
    amount        INTEGER NOT NULL,
    debtor        TEXT    NOT NULL,
    payment_date  INTEGER NOT NULL,
    raw           BLOB    NOT NULL,
    CONSTRAINT unique_receipt UNIQUE (organization, receipt_id)
);
CREATE INDEX receipt_by_iuv ON receipt (organization, iuv);";

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    assert!(mode.eq_ignore_ascii_case("wal"), "journal mode {mode}");
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

struct Measure {
    rows: u64,
    transactions: u64,
    elapsed: Duration,
}

/// Inserts batches of `batch` rows until `seconds` have passed.
fn measure(
    conn: &mut Connection,
    batch: usize,
    seconds: f64,
    raw: &mut [u8],
    savepoints: bool,
) -> rusqlite::Result<Measure> {
    let started = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let (mut rows, mut transactions) = (0u64, 0u64);
    let now_ms = chrono::Utc::now().timestamp_millis();
    while started.elapsed() < limit {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO receipt (organization, receipt_id, iuv, nav, amount, debtor, \
                 payment_date, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for _ in 0..batch {
                rows += 1;
                let iuv = format!("01{rows:013}{:02}", rows % 93);
                let receipt_id = format!("{:032x}", rows.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                // Every row's document differs, as real ones do.
                raw[..32].copy_from_slice(receipt_id.as_bytes());
                if savepoints {
                    tx.execute_batch("SAVEPOINT job")?;
                }
                insert.execute(params![
                    "77777777777",
                    receipt_id,
                    iuv,
                    format!("3{iuv}"),
                    10_000i64,
                    "F:RSSMRA80A01H501U",
                    now_ms,
                    &raw[..],
                ])?;
                if savepoints {
                    tx.execute_batch("RELEASE job")?;
                }
            }
        }
        tx.commit()?;
        transactions += 1;
    }
    Ok(Measure {
        rows,
        transactions,
        elapsed: started.elapsed(),
    })
}

fn run(args: &Args) -> Result<(), String> {
    let temp = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("--dir {}: {e}", d.display()))?;
            tempfile::tempdir_in(d)
        }
        None => tempfile::tempdir(),
    }
    .map_err(|e| format!("temporary directory: {e}"))?;
    // Filler that looks like XML; the first 32 bytes become the receipt id.
    let filler = b"<transfer><idTransfer>1</idTransfer><transferAmount>70.00</transferAmount>";
    let mut raw: Vec<u8> = filler
        .iter()
        .copied()
        .cycle()
        .take(args.raw_bytes.max(32))
        .collect();
    println!(
        "store_insert_rate: SQLite {} in {}, WAL, synchronous FULL, {} B documents, {:.1} s per size",
        rusqlite::version(),
        temp.path().display(),
        raw.len(),
        args.seconds
    );
    let mut lines = Vec::new();
    let modes: &[bool] = if args.savepoints {
        &[false, true]
    } else {
        &[false]
    };
    for &savepoints in modes {
        for &batch in &args.batches {
            let path = temp
                .path()
                .join(format!("insert-{batch}-{savepoints}.sqlite"));
            let mut conn = open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let m = measure(&mut conn, batch, args.seconds, &mut raw, savepoints)
                .map_err(|e| format!("batch {batch}: {e}"))?;
            drop(conn);
            let secs = m.elapsed.as_secs_f64();
            let rate = m.rows as f64 / secs;
            let commit_ms = secs * 1000.0 / m.transactions as f64;
            println!(
                "batch {batch:>4}{}: {rate:>9.0} rows/s, {:.3} ms per transaction ({} rows in {:.2} s)",
                if savepoints {
                    " + savepoint per row"
                } else {
                    ""
                },
                commit_ms,
                m.rows,
                secs
            );
            lines.push(format!(
                "INSERT batch={batch} savepoints={} rows={} seconds={secs:.3} rows_per_s={rate:.1} commit_ms={commit_ms:.3}",
                u8::from(savepoints),
                m.rows
            ));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| run(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store_insert_rate: {e}");
            ExitCode::FAILURE
        }
    }
}
