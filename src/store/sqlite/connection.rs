//! The database file and its connections: created readable by its owner only, each
//! connection set up with the pragmas every read or write relies on, and a failure of SQLite
//! reported as the store being unavailable.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::config::DbConfig;

use crate::store::StoreError;

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The event journal's file name (`SqliteStore::JOURNAL_FILE_NAME`).
pub(super) const JOURNAL_FILE: &str = "gpd-gateway-journal.sqlite";

/// The event journal's file, beside the data file `path`.
pub(super) fn journal_path(path: &Path) -> PathBuf {
    path.with_file_name(JOURNAL_FILE)
}

/// Attaches the event journal's file as `journal`. Its entries are committed in batches that
/// nobody waits for, so they skip the fsync: a power cut may lose the last of them, never
/// corrupt the file (WAL).
pub(crate) fn attach_journal(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    let journal = journal_path(path);
    let name = journal
        .to_str()
        .ok_or_else(|| rusqlite::Error::InvalidPath(journal.clone()))?;
    conn.execute("ATTACH DATABASE ?1 AS journal", [name])?;
    conn.execute_batch("PRAGMA journal.synchronous = NORMAL;")
}

pub(super) fn open_connection(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    attach_journal(&conn, path)?;
    // Plans fixed at prepare time: otherwise SQLite marks statements whose plan may depend on a
    // bound value for re-planning, and re-prepares them at every new value (measured: every
    // lookup), which more than doubled the cost of a read.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    if !read_only {
        // Deleted rows (debtors' names and fiscal codes) are overwritten with zeros, not left
        // in free pages of the file. The savepoint that isolates each job of a batch journals
        // the pages it changes: in memory, not in a temporary file (measured: writing that
        // file was a quarter of the writer's time per receipt), which also keeps page images
        // holding personal data off the disk.
        conn.execute_batch("PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;")?;
    }
    if read_only {
        // 8 MiB of page cache per reader keeps the upper levels of every index in memory.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -8192;")?;
    }
    Ok(conn)
}

/// Creates the data directory readable by its owner only; an existing one is left as it is.
pub(super) fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes the database file, and its WAL and shared-memory files if present, readable and
/// writable by the owner only. The file is created here when missing, so that it never exists
/// with wider permissions; SQLite gives the WAL and shm files it creates the database's mode.
pub(super) fn private_files(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
