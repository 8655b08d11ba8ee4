//! The upload tables: files of positions kept from their upload on, and the outcome of each of
//! their items. A chunk of items, its outcomes and the file's new progress commit together.

use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::columns::*;
use super::connection::unavailable;
use super::lifecycle::{delete, refused};
use super::positions::{insert_position, load_position, replace_position, taken_key};
use crate::domain::FiscalCodePA;
use crate::domain::upload::UploadOperation;
use crate::store::{
    DescribeItem, Expected, NewUpload, PositionKey, StoreError, UploadFile, UploadItem,
    UploadOutcome, UploadQuery,
};

const FILE_COLUMNS: &str = "id, broker, organization, operation, submitted, processed, \
    started_at, ended_at, \
    (SELECT count(*) FROM upload_outcome o WHERE o.file = upload_file.id AND o.status >= 400)";

fn file(r: &Row<'_>) -> rusqlite::Result<Result<UploadFile, StoreError>> {
    let (id, broker): (String, String) = (r.get(0)?, r.get(1)?);
    let (organization, operation): (String, String) = (r.get(2)?, r.get(3)?);
    let (submitted, processed): (u32, u32) = (r.get(4)?, r.get(5)?);
    let (started_at, ended_at): (i64, Option<i64>) = (r.get(6)?, r.get(7)?);
    let refused: u32 = r.get(8)?;
    Ok((|| {
        Ok(UploadFile {
            id,
            broker,
            organization: FiscalCodePA::parse(&organization)
                .map_err(|e| corrupt("upload_file.organization", e))?,
            operation: UploadOperation::parse(&operation)
                .ok_or_else(|| corrupt("upload_file.operation", &operation))?,
            submitted,
            processed,
            refused,
            started_at: from_millis(started_at, "upload_file.started_at")?,
            ended_at: ended_at
                .map(|t| from_millis(t, "upload_file.ended_at"))
                .transpose()?,
        })
    })())
}

fn files(
    conn: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<UploadFile>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(unavailable)?;
    let rows = st.query_map(values, file).map_err(unavailable)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(unavailable)??);
    }
    Ok(out)
}

pub(super) fn create(tx: &Connection, u: &NewUpload) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO upload_file (id, broker, organization, operation, content, submitted,
            processed, started_at, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, CASE WHEN ?6 = 0 THEN ?7 END)",
    )
    .and_then(|mut st| {
        st.execute(params![
            u.id,
            u.broker,
            u.organization.as_str(),
            u.operation.as_str(),
            u.content,
            u.submitted,
            millis(u.started_at),
        ])
    })
    .map(|_| ())
    .map_err(unavailable)
}

pub(super) fn get(
    conn: &Connection,
    organization: &FiscalCodePA,
    id: &str,
) -> Result<Option<UploadFile>, StoreError> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM upload_file WHERE id = ?1 AND organization = ?2");
    Ok(files(conn, &sql, params![id, organization.as_str()])?
        .into_iter()
        .next())
}

pub(super) fn in_progress(conn: &Connection) -> Result<Vec<UploadFile>, StoreError> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM upload_file WHERE ended_at IS NULL ORDER BY started_at, id"
    );
    files(conn, &sql, [])
}

pub(super) fn content(conn: &Connection, id: &str) -> Result<Vec<u8>, StoreError> {
    conn.prepare_cached("SELECT content FROM upload_file WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
        .map_err(unavailable)?
        .ok_or(StoreError::NotFound)
}

pub(super) fn list(conn: &Connection, query: &UploadQuery) -> Result<Vec<UploadFile>, StoreError> {
    let (after_time, after_id) = match &query.after {
        Some((t, id)) => (Some(millis(*t)), id.as_str()),
        None => (None, ""),
    };
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM upload_file
         WHERE organization = ?1 AND broker = ?2 AND started_at BETWEEN ?3 AND ?4
           AND (?5 IS NULL OR (started_at, id) > (?5, ?6))
         ORDER BY started_at, id LIMIT ?7"
    );
    files(
        conn,
        &sql,
        params![
            query.organization.as_str(),
            query.broker,
            millis(query.started.from()),
            millis(query.started.to()),
            after_time,
            after_id,
            query.limit
        ],
    )
}

pub(super) fn outcomes(conn: &Connection, id: &str) -> Result<Vec<UploadOutcome>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT iupd, status, message FROM upload_outcome WHERE file = ?1 ORDER BY item",
        )
        .map_err(unavailable)?;
    let rows = st
        .query_map([id], |r| {
            Ok(UploadOutcome {
                iupd: r.get(0)?,
                status: r.get(1)?,
                message: r.get(2)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<rusqlite::Result<_>>().map_err(unavailable)
}

/// Runs `f` in a savepoint of its own: its failure undoes only its own changes.
fn by_itself(
    tx: &Connection,
    f: impl FnOnce() -> Result<(), StoreError>,
) -> Result<Result<(), StoreError>, StoreError> {
    tx.execute_batch("SAVEPOINT item").map_err(unavailable)?;
    let result = f();
    if result.is_err() {
        tx.execute_batch("ROLLBACK TO item").map_err(unavailable)?;
    }
    tx.execute_batch("RELEASE item").map_err(unavailable)?;
    match result {
        // Not the item's fault: the chunk fails, to be tried again.
        Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(m)),
        other => Ok(other),
    }
}

fn apply(tx: &Connection, organization: &FiscalCodePA, item: UploadItem) -> Result<(), StoreError> {
    match item {
        UploadItem::Create(p) => match taken_key(tx, &p)? {
            Some(duplicate) => Err(duplicate),
            None => insert_position(tx, &p),
        },
        UploadItem::Update { iupd, change } => {
            let (ids, mut position) = load_position(tx, organization, &PositionKey::Iupd(iupd))?
                .ok_or(StoreError::NotFound)?;
            change(&mut position).map_err(refused)?;
            replace_position(tx, &ids, &position)
        }
        UploadItem::Delete { iupd, guard } => {
            delete(tx, organization, iupd, &Expected::Any, guard).map(|_| ())
        }
        UploadItem::Refused(_) => unreachable!("recorded without being applied"),
    }
}

pub(super) fn apply_items(
    tx: &Connection,
    id: &str,
    first: u32,
    items: Vec<UploadItem>,
    describe: &DescribeItem,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let (organization, processed, submitted): (String, u32, u32) = tx
        .prepare_cached("SELECT organization, processed, submitted FROM upload_file WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .optional()
        .map_err(unavailable)?
        .ok_or(StoreError::NotFound)?;
    if processed != first {
        return Err(StoreError::VersionMismatch {
            current: i64::from(processed),
        });
    }
    let organization =
        FiscalCodePA::parse(&organization).map_err(|e| corrupt("upload_file.organization", e))?;
    let count = items.len() as u32;
    if first + count > submitted {
        return Err(unavailable("more items than the file has"));
    }
    let mut record = tx
        .prepare_cached(
            "INSERT INTO upload_outcome (file, item, iupd, status, message)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(unavailable)?;
    for (i, item) in items.into_iter().enumerate() {
        let outcome = match item {
            UploadItem::Refused(outcome) => outcome,
            item => describe(i, by_itself(tx, || apply(tx, &organization, item))?),
        };
        record
            .execute(params![
                id,
                first + i as u32,
                outcome.iupd,
                outcome.status,
                outcome.message
            ])
            .map_err(unavailable)?;
    }
    let done = first + count;
    tx.prepare_cached(
        // The document goes once every item is done: it holds debtors' personal data, and the
        // outcomes are what is read of the file from then on.
        "UPDATE upload_file SET processed = ?2, ended_at = CASE WHEN ?2 = submitted THEN ?3 END,
            content = CASE WHEN ?2 = submitted THEN x'' ELSE content END
         WHERE id = ?1 AND processed = ?4",
    )
    .and_then(|mut st| st.execute(params![id, done, millis(now), first]))
    .map_err(unavailable)?;
    Ok(())
}
