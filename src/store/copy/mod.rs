//! `gpd-gateway store copy`: a SQLite data file copied whole into an empty PostgreSQL database,
//! for a move from the embedded store to a shared one. Rows are copied table by table as they
//! are, ids, raw documents, outbox state and key hashes included, rather than through the
//! [`Store`](super::Store) methods, which would make new rows of the business ones and leave the
//! rest. The data file is only read; the whole copy is one PostgreSQL transaction, so a failure
//! or a mismatch leaves the database as it was. Before committing, every table is read back and
//! its row count and a checksum over its rows compared with the data file's.

mod progress;
mod tables;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::postgres::PgStore;
use super::postgres::errors::describe;
use super::sqlite::{self, SqliteStore};
pub use progress::Progress;
use tables::{Checksum, TABLES, Table, Value};

/// Rows fetched at a time when the copy is read back.
const FETCH: i32 = 5000;

/// One table's counts and checksums on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    pub source_checksum: String,
    pub target_checksum: String,
}

impl TableReport {
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_checksum == self.target_checksum
    }
}

/// What a copy did. Committed only when every table matches.
#[derive(Debug)]
pub struct Report {
    pub tables: Vec<TableReport>,
    pub elapsed: Duration,
    pub committed: bool,
}

impl Report {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.source_rows).sum()
    }

    /// The tables whose copy differs from the data file.
    pub fn mismatched(&self) -> Vec<&'static str> {
        self.tables
            .iter()
            .filter(|t| !t.matches())
            .map(|t| t.table)
            .collect()
    }

    /// A line per table (rows on each side, the checksums' first 16 hex digits, whether they
    /// agree), then the totals.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<22} {:>12} {:>12}  {:<16}  copied SHA-256\n",
            "table", "SQLite rows", "copied rows", "SQLite SHA-256"
        );
        for t in &self.tables {
            let _ = writeln!(
                out,
                "{:<22} {:>12} {:>12}  {:<16}  {:<16}  {}",
                t.table,
                t.source_rows,
                t.target_rows,
                &t.source_checksum[..16],
                &t.target_checksum[..16],
                if t.matches() { "same" } else { "DIFFERENT" }
            );
        }
        let seconds = self.elapsed.as_secs_f64();
        let _ = writeln!(
            out,
            "{} rows in {:.1} s ({} rows/s), {}",
            self.rows(),
            seconds,
            if seconds > 0.0 {
                (self.rows() as f64 / seconds).round() as u64
            } else {
                0
            },
            if self.committed {
                "committed"
            } else {
                "not committed: nothing written"
            }
        );
        out
    }
}

/// Copies the data file of the data directory `from` into the database `to`, which must hold
/// no data. Err: nothing was copied (the data file is missing or not at this binary's schema,
/// the database has data or failed). Ok: the copy was made and checked; it is committed if and
/// only if every table matches.
pub async fn run(
    from: &Path,
    to: tokio_postgres::Config,
    progress: &mut Progress,
) -> Result<Report, String> {
    let started = Instant::now();
    let source = open_source(from)?;
    let target = PgStore::open(to, 1)
        .await
        .map_err(|e| format!("the target database: {e}"))?;
    let mut client = target
        .client()
        .await
        .map_err(|e| format!("the target database: {e}"))?;
    let pg = |e: tokio_postgres::Error| format!("the target database: {}", describe(&e));
    let tx = client.transaction().await.map_err(pg)?;
    // Nothing else writes these tables until the copy commits or rolls back, so that the
    // database found empty is the one copied into.
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        names.join(", ")
    ))
    .await
    .map_err(pg)?;
    refuse_data(&tx).await?;

    // One read transaction: every table is read from one state of the file.
    source
        .execute_batch("BEGIN")
        .map_err(|e| format!("the data file: {e}"))?;
    let mut copied = Vec::new();
    for table in TABLES {
        copied.push(copy_table(&source, &tx, table, progress).await?);
    }
    for table in TABLES.iter().filter(|t| t.identity) {
        // New rows take ids after the copied ones. (setval of NULL, an empty table, does nothing.)
        let name = table.name;
        tx.execute(
            &format!("SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name}"),
            &[],
        )
        .await
        .map_err(pg)?;
    }
    // The mirror's changes are numbered after the copied ones.
    tx.execute(
        "SELECT setval('aca_change', max(change_seq)) FROM aca_mirror",
        &[],
    )
    .await
    .map_err(pg)?;
    let mut tables = Vec::new();
    for (table, (source_rows, source_checksum)) in TABLES.iter().zip(copied) {
        let (target_rows, target_checksum) = read_back(&tx, table, source_rows, progress).await?;
        tables.push(TableReport {
            table: table.name,
            source_rows,
            target_rows,
            source_checksum,
            target_checksum,
        });
    }
    let committed = tables.iter().all(TableReport::matches);
    if committed {
        tx.commit().await.map_err(pg)?;
    } else {
        tx.rollback().await.map_err(pg)?;
    }
    drop(client);
    let _ = target.close().await;
    Ok(Report {
        tables,
        elapsed: started.elapsed(),
        committed,
    })
}

/// The data file of `dir`, opened read-only; refused unless it is at this binary's schema and
/// every delivery has its request written.
fn open_source(dir: &Path) -> Result<Connection, String> {
    let path = dir.join(SqliteStore::FILE_NAME);
    if !path.is_file() {
        return Err(format!(
            "no data file {}: --from names the data directory of a gateway",
            path.display()
        ));
    }
    let failed = |e: rusqlite::Error| format!("the data file {}: {e}", path.display());
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(failed)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(failed)?;
    if version != sqlite::SCHEMA_VERSION {
        let what = if version < sqlite::SCHEMA_VERSION {
            "older than this binary's: start this version of the gateway on it once, then stop it"
        } else {
            "newer than this binary's: use a newer gpd-gateway"
        };
        return Err(format!(
            "the data file {} has schema version {version}, {what} ({})",
            path.display(),
            sqlite::SCHEMA_VERSION
        ));
    }
    // Attached read-only, as the data file was opened: missing, it is not created.
    sqlite::attach_journal(&conn, &path).map_err(|e| {
        format!(
            "the journal file {}: {e}",
            dir.join(SqliteStore::JOURNAL_FILE_NAME).display()
        )
    })?;
    let backfill: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM delivery_request_backfill)",
            [],
            |r| r.get(0),
        )
        .map_err(failed)?;
    if backfill {
        return Err(format!(
            "the data file {} has deliveries whose requests are not written yet: start the \
             gateway on it once (it writes them at start), then stop it",
            path.display()
        ));
    }
    Ok(conn)
}

/// Refuses a database with a row in any data table.
async fn refuse_data(tx: &Transaction<'_>) -> Result<(), String> {
    for table in TABLES {
        let found: bool = tx
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", table.name),
                &[],
            )
            .await
            .map_err(|e| format!("the target database: {}", describe(&e)))?
            .get(0);
        if found {
            return Err(format!(
                "the target database is not empty: table {} has rows (store copy writes only \
                 into a database without data; nothing was written)",
                table.name
            ));
        }
    }
    Ok(())
}

/// Copies `table`'s rows in key order by binary COPY; their count and checksum as read.
async fn copy_table(
    source: &Connection,
    tx: &Transaction<'_>,
    table: &Table,
    progress: &mut Progress,
) -> Result<(u64, String), String> {
    let read_failed = |e: rusqlite::Error| format!("the data file, table {}: {e}", table.name);
    let total: i64 = source
        .query_row(&format!("SELECT count(*) FROM {}", table.name), [], |r| {
            r.get(0)
        })
        .map_err(read_failed)?;
    let total = total as u64;
    progress.start("copying", table.name, total);
    let write_failed =
        |e: tokio_postgres::Error| format!("copying table {}: {}", table.name, describe(&e));
    let sink = tx
        .copy_in(&format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            table.name,
            table.column_list()
        ))
        .await
        .map_err(write_failed)?;
    let types: Vec<Type> = table.kinds().map(|k| k.pg_type()).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    let mut statement = source
        .prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            table.column_list(),
            table.name,
            table.order_by(false)
        ))
        .map_err(read_failed)?;
    let mut rows = statement.query([]).map_err(read_failed)?;
    let mut checksum = Checksum::new();
    let mut values = Vec::with_capacity(table.columns.len());
    while let Some(row) = rows.next().map_err(read_failed)? {
        values.clear();
        for (i, (column, kind)) in table.columns.iter().enumerate() {
            let value = row.get_ref(i).map_err(read_failed)?;
            let value = Value::from_sqlite(value, *kind).map_err(|why| {
                format!(
                    "the data file, table {}, column {column} of the row {}: {why}",
                    table.name,
                    key_of(table, row)
                )
            })?;
            values.push(value);
        }
        checksum.add(&values);
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        writer.as_mut().write(&params).await.map_err(write_failed)?;
        progress.update("copying", table.name, checksum.rows, total);
    }
    let written = writer.finish().await.map_err(write_failed)?;
    if written != checksum.rows {
        return Err(format!(
            "copying table {}: {} rows read, {written} written",
            table.name, checksum.rows
        ));
    }
    progress.finish("copying", table.name, checksum.rows);
    Ok((checksum.rows, checksum.finish()))
}

/// The key of a row of the data file, for an error about it.
fn key_of(table: &Table, row: &rusqlite::Row<'_>) -> String {
    let parts: Vec<String> = table
        .key
        .iter()
        .map(|k| {
            let i = table.columns.iter().position(|(n, _)| n == k).unwrap_or(0);
            let shown = match row.get_ref(i) {
                Ok(rusqlite::types::ValueRef::Integer(v)) => v.to_string(),
                Ok(rusqlite::types::ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                _ => "?".to_owned(),
            };
            format!("{k} = {shown}")
        })
        .collect();
    parts.join(", ")
}

/// Reads `table` back from the database in key order: its row count and checksum.
async fn read_back(
    tx: &Transaction<'_>,
    table: &Table,
    expected: u64,
    progress: &mut Progress,
) -> Result<(u64, String), String> {
    let failed =
        |e: tokio_postgres::Error| format!("verifying table {}: {}", table.name, describe(&e));
    progress.start("verifying", table.name, expected);
    let statement = tx
        .prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            table.column_list(),
            table.name,
            table.order_by(true)
        ))
        .await
        .map_err(failed)?;
    let portal = tx.bind(&statement, &[]).await.map_err(failed)?;
    let mut checksum = Checksum::new();
    let mut values = Vec::with_capacity(table.columns.len());
    loop {
        let rows = tx.query_portal(&portal, FETCH).await.map_err(failed)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            values.clear();
            for (i, kind) in table.kinds().enumerate() {
                values.push(Value::from_postgres(row, i, kind).map_err(failed)?);
            }
            checksum.add(&values);
        }
        progress.update("verifying", table.name, checksum.rows, expected);
    }
    progress.finish("verifying", table.name, checksum.rows);
    Ok((checksum.rows, checksum.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::testing::fresh_database;
    use tables::Kind;

    /// Tables of either schema that are not copied.
    const NOT_COPIED: &[&str] = &[
        "store_probe",
        "notice_view",
        "notice_view_backfill",
        "delivery_request_backfill",
        "schema_version",
        "aca_creditor",
    ];

    fn sqlite_kind(declared: &str) -> &'static [Kind] {
        match declared {
            "INTEGER" => &[Kind::Int, Kind::Flag],
            "TEXT" => &[Kind::Text],
            "BLOB" => &[Kind::Bytes],
            _ => &[],
        }
    }

    #[test]
    fn every_table_of_the_sqlite_schema_is_listed_with_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        SqliteStore::open(dir.path()).unwrap();
        let path = dir.path().join(SqliteStore::FILE_NAME);
        let conn = Connection::open(&path).unwrap();
        sqlite::attach_journal(&conn, &path).unwrap();
        let mut names: Vec<String> = conn
            .prepare(
                "SELECT name FROM main.sqlite_master WHERE type = 'table'
                 UNION ALL SELECT name FROM journal.sqlite_master WHERE type = 'table'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .filter(|n: &String| !NOT_COPIED.contains(&n.as_str()))
            .collect();
        let mut listed: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort();
        listed.sort();
        assert_eq!(names, listed);
        for table in TABLES {
            let columns: Vec<(String, String, i64)> = conn
                .prepare(&format!("PRAGMA table_info({})", table.name))
                .unwrap()
                .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(5)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(columns.len(), table.columns.len(), "{}", table.name);
            for ((name, declared, _), (listed, kind)) in columns.iter().zip(table.columns) {
                assert_eq!(name, listed, "{}", table.name);
                assert!(
                    sqlite_kind(declared).contains(kind),
                    "{}.{name}",
                    table.name
                );
            }
            let mut key: Vec<(i64, &str)> = columns
                .iter()
                .filter(|c| c.2 > 0)
                .map(|c| (c.2, c.0.as_str()))
                .collect();
            key.sort();
            let key: Vec<&str> = key.into_iter().map(|k| k.1).collect();
            assert_eq!(key, table.key, "{}", table.name);
        }
    }

    #[tokio::test]
    async fn every_table_of_the_postgres_schema_is_listed_with_its_columns() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let store = PgStore::connect(&url, 1).await.unwrap();
        let client = store.client().await.unwrap();
        let mut names: Vec<String> = client
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema()",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .filter(|n| !NOT_COPIED.contains(&n.as_str()))
            .collect();
        let mut listed: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort();
        listed.sort();
        assert_eq!(names, listed);
        for table in TABLES {
            let columns = client
                .query(
                    "SELECT column_name::text, data_type::text, is_identity::text
                     FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1
                     ORDER BY ordinal_position",
                    &[&table.name],
                )
                .await
                .unwrap();
            assert_eq!(columns.len(), table.columns.len(), "{}", table.name);
            for (row, (name, kind)) in columns.iter().zip(table.columns) {
                assert_eq!(row.get::<_, String>(0), *name, "{}", table.name);
                let expected = match kind {
                    Kind::Int => "bigint",
                    Kind::Flag => "boolean",
                    Kind::Text => "text",
                    Kind::Bytes => "bytea",
                };
                assert_eq!(row.get::<_, String>(1), expected, "{}.{name}", table.name);
                let identity = row.get::<_, String>(2) == "YES";
                assert_eq!(
                    identity,
                    table.identity && *name == "id",
                    "{}.{name}",
                    table.name
                );
            }
            let key: Vec<String> = client
                .query(
                    "SELECT a.attname::text FROM pg_index i
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                     WHERE i.indrelid = $1::text::regclass AND i.indisprimary
                     ORDER BY array_position(i.indkey, a.attnum)",
                    &[&table.name],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(key, table.key, "{}", table.name);
        }
    }

    /// A data file with a position and, later in the order of copy, a station whose `enabled`
    /// is neither 0 nor 1.
    fn data_file_with_a_bad_flag() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        SqliteStore::open(dir.path()).unwrap();
        let conn = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
        conn.execute_batch(
            "INSERT INTO debt_position (id, organization, iupd, status, company_name, debtor_type,
                 debtor_fiscal_code, debtor_full_name, switch_to_expired, pay_stand_in,
                 inserted_date, last_updated_date)
             VALUES (7, '77777777777', 'A', 'DRAFT', 'C', 'F', 'RSSMRA80A01H501U', 'M', 0, 1, 1, 1);
             INSERT INTO broadcast_station VALUES ('77777777777', 'S1', 'B', 'http://s', 2, 100, 2, 1);",
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_report_shows_each_table_and_which_differ() {
        let table = |name, target_rows, target_checksum: &str| TableReport {
            table: name,
            source_rows: 2,
            target_rows,
            source_checksum: "ab".repeat(32),
            target_checksum: target_checksum.to_owned(),
        };
        let report = Report {
            tables: vec![
                table("receipt", 2, &"ab".repeat(32)),
                table("delivery", 2, &"cd".repeat(32)),
                table("api_key", 1, &"ab".repeat(32)),
            ],
            elapsed: Duration::from_secs(2),
            committed: false,
        };
        assert_eq!(report.mismatched(), ["delivery", "api_key"]);
        let shown = report.render();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[1],
            "receipt                           2            2  abababababababab  abababababababab  same"
        );
        assert!(
            lines[2].starts_with("delivery ") && lines[2].ends_with("cdcdcdcdcdcdcdcd  DIFFERENT")
        );
        assert!(lines[3].contains("  2            1  ") && lines[3].ends_with("DIFFERENT"));
        assert_eq!(
            lines[4],
            "6 rows in 2.0 s (3 rows/s), not committed: nothing written"
        );
    }

    #[tokio::test]
    async fn a_row_that_cannot_be_copied_leaves_the_database_empty() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let dir = data_file_with_a_bad_flag();
        let refused = run(dir.path(), url.parse().unwrap(), &mut Progress::new(false))
            .await
            .unwrap_err();
        assert!(
            refused.contains("table broadcast_station, column enabled")
                && refused.contains("organization = 77777777777, station_id = S1")
                && refused.contains("2 is not a 0/1 flag"),
            "{refused}"
        );
        let store = PgStore::connect(&url, 1).await.unwrap();
        let client = store.client().await.unwrap();
        let positions: i64 = client
            .query_one("SELECT count(*) FROM debt_position", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(positions, 0);
    }

    #[tokio::test]
    async fn new_rows_take_ids_after_the_copied_ones() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let dir = data_file_with_a_bad_flag();
        let conn = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
        conn.execute_batch("UPDATE broadcast_station SET enabled = 1")
            .unwrap();
        let report = run(dir.path(), url.parse().unwrap(), &mut Progress::new(false))
            .await
            .unwrap();
        assert!(report.committed && report.mismatched().is_empty());
        assert_eq!(report.rows(), 2);
        let store = PgStore::connect(&url, 1).await.unwrap();
        let client = store.client().await.unwrap();
        let id: i64 = client
            .query_one(
                "INSERT INTO debt_position (organization, iupd, status, company_name, debtor_type,
                     debtor_fiscal_code, debtor_full_name, switch_to_expired, pay_stand_in,
                     inserted_date, last_updated_date)
                 VALUES ('77777777777', 'B', 'DRAFT', 'C', 'F', 'X', 'M', false, false, 1, 1)
                 RETURNING id",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(id, 8);
    }
}
