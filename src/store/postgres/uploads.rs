//! Uploaded files of positions in PostgreSQL: kept from their upload on, with their progress
//! and the outcome of each processed item, for whichever instance processes or lists them. A
//! chunk of items, its outcomes and the file's new progress commit together, under a lock on
//! the file's row: two instances given the same chunk apply it once.

use chrono::NaiveDateTime;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::positions::{
    delete_position, insert_position, load_position, replace_position, taken_key,
};
use super::statements::Statements;
use super::{PgStore, db_error, unavailable};
use crate::domain::FiscalCodePA;
use crate::domain::upload::UploadOperation;
use crate::store::columns::*;
use crate::store::error::refused;
use crate::store::{
    DescribeItem, Expected, NewUpload, PositionKey, StoreError, UploadFile, UploadItem,
    UploadOutcome, UploadQuery,
};

/// A file's columns and how many of its processed items were refused; [`file_at`] reads them
/// in this order.
const FILE_COLUMNS: &str = "id, broker, organization, operation, submitted, processed, \
    started_at, ended_at, \
    (SELECT count(*) FROM upload_outcome o WHERE o.file = upload_file.id AND o.status >= 400)";

/// A count kept as bigint, read back as the u32 it was written from.
pub(super) fn count(r: &Row, i: usize, column: &str) -> Result<u32, StoreError> {
    let n: i64 = r.try_get(i).map_err(db_error)?;
    u32::try_from(n).map_err(|_| corrupt(column, n))
}

fn file_at(r: &Row) -> Result<UploadFile, StoreError> {
    let organization: String = r.try_get(2).map_err(db_error)?;
    let operation: String = r.try_get(3).map_err(db_error)?;
    Ok(UploadFile {
        id: r.try_get(0).map_err(db_error)?,
        broker: r.try_get(1).map_err(db_error)?,
        organization: FiscalCodePA::parse(&organization)
            .map_err(|e| corrupt("upload_file.organization", e))?,
        operation: UploadOperation::parse(&operation)
            .ok_or_else(|| corrupt("upload_file.operation", &operation))?,
        submitted: count(r, 4, "upload_file.submitted")?,
        processed: count(r, 5, "upload_file.processed")?,
        refused: count(r, 8, "upload_outcome.status")?,
        started_at: from_millis(r.try_get(6).map_err(db_error)?, "upload_file.started_at")?,
        ended_at: opt_millis(r.try_get(7).map_err(db_error)?, "upload_file.ended_at")?,
    })
}

/// Runs one item in a savepoint of its own: its failure undoes only its own changes. A
/// failure that is not the item's (`Unavailable`) fails the chunk, to be tried again.
async fn by_itself(
    tx: &mut Transaction<'_>,
    organization: &FiscalCodePA,
    item: UploadItem,
) -> Result<Result<(), StoreError>, StoreError> {
    let savepoint = tx.savepoint("item").await.map_err(db_error)?;
    let result = apply(&savepoint, organization, item).await;
    match result {
        Ok(()) => savepoint.commit().await.map_err(db_error)?,
        Err(_) => savepoint.rollback().await.map_err(db_error)?,
    }
    match result {
        Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(m)),
        other => Ok(other),
    }
}

/// Applies one item as the REST API would apply the same change. Positions written or deleted
/// are locked first ([`load_position`]), as any other writer of them does.
async fn apply(
    tx: &Transaction<'_>,
    organization: &FiscalCodePA,
    item: UploadItem,
) -> Result<(), StoreError> {
    match item {
        // A key another instance takes after the check makes the insert fail as a duplicate:
        // the item's outcome either way.
        UploadItem::Create(p) => match taken_key(tx, &p).await? {
            Some(duplicate) => Err(duplicate),
            None => insert_position(tx, &p).await.map(|_| ()),
        },
        UploadItem::Update { iupd, change } => {
            let key = PositionKey::Iupd(iupd);
            let (ids, mut position) = load_position(tx, organization, &key, true)
                .await?
                .ok_or(StoreError::NotFound)?;
            change(&mut position).map_err(refused)?;
            replace_position(tx, &ids, &position).await
        }
        UploadItem::Delete { iupd, guard } => {
            delete_position(tx, organization, iupd, &Expected::Any, guard)
                .await
                .map(|_| ())
        }
        UploadItem::Refused(_) => unreachable!("recorded without being applied"),
    }
}

impl PgStore {
    /// The files `sql` selects in [`FILE_COLUMNS`].
    async fn files(
        &self,
        sql: &str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<UploadFile>, StoreError> {
        let client = self.client().await?;
        let rows = client.rows(sql, values).await?;
        rows.iter().map(file_at).collect()
    }

    /// Keeps an uploaded file, to be processed from its first item; a file of no items is
    /// ended as it arrives. Two instances keeping the same id: the primary key refuses the
    /// second, as SQLite does (ids are random, a clash is a failure).
    pub async fn create_upload(&self, upload: NewUpload) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let u = &upload;
        tx.exec(
            "INSERT INTO upload_file (id, broker, organization, operation, content, submitted,
                processed, started_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7,
                CASE WHEN $6::bigint = 0 THEN $7::bigint END)",
            &[
                &u.id,
                &u.broker,
                &u.organization.as_str(),
                &u.operation.as_str(),
                &u.content,
                &i64::from(u.submitted),
                &millis(u.started_at),
            ],
        )
        .await?;
        super::commit(tx).await
    }

    pub async fn upload(
        &self,
        organization: FiscalCodePA,
        id: String,
    ) -> Result<Option<UploadFile>, StoreError> {
        let sql =
            format!("SELECT {FILE_COLUMNS} FROM upload_file WHERE id = $1 AND organization = $2");
        let files = self.files(&sql, &[&id, &organization.as_str()]).await?;
        Ok(files.into_iter().next())
    }

    /// The files not yet processed to the end, oldest first.
    pub async fn uploads_in_progress(&self) -> Result<Vec<UploadFile>, StoreError> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM upload_file WHERE ended_at IS NULL ORDER BY started_at, id"
        );
        self.files(&sql, &[]).await
    }

    pub async fn upload_content(&self, id: String) -> Result<Vec<u8>, StoreError> {
        let client = self.client().await?;
        client
            .opt_row("SELECT content FROM upload_file WHERE id = $1", &[&id])
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get(0)
            .map_err(db_error)
    }

    /// Applies `items`, the file's items from index `first` on, each in its own savepoint, and
    /// records their outcomes and the file's progress in one transaction. The file's row is
    /// locked first (`FOR UPDATE`): an instance applying the same items waits, then finds the
    /// progress moved and is refused (`VersionMismatch`), so nothing is applied twice.
    pub async fn apply_upload_items(
        &self,
        id: String,
        first: u32,
        items: Vec<UploadItem>,
        describe: DescribeItem,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let mut tx = client.transaction().await.map_err(db_error)?;
        let row = tx
            .opt_row(
                "SELECT organization, processed, submitted FROM upload_file WHERE id = $1
                 FOR UPDATE",
                &[&id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let processed = count(&row, 1, "upload_file.processed")?;
        if processed != first {
            return Err(StoreError::VersionMismatch {
                current: i64::from(processed),
            });
        }
        let submitted = count(&row, 2, "upload_file.submitted")?;
        let organization: String = row.try_get(0).map_err(db_error)?;
        let organization = FiscalCodePA::parse(&organization)
            .map_err(|e| corrupt("upload_file.organization", e))?;
        let count = items.len() as u32;
        if first + count > submitted {
            return Err(unavailable("more items than the file has"));
        }
        for (i, item) in items.into_iter().enumerate() {
            let outcome = match item {
                UploadItem::Refused(outcome) => outcome,
                item => {
                    // Applied before `describe` is touched: it is not Sync, so no reference to
                    // it may be held across an await.
                    let applied = by_itself(&mut tx, &organization, item).await?;
                    describe(i, applied)
                }
            };
            tx.exec(
                "INSERT INTO upload_outcome (file, item, iupd, status, message)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &id,
                    &i64::from(first + i as u32),
                    &outcome.iupd,
                    &i64::from(outcome.status),
                    &outcome.message,
                ],
            )
            .await?;
        }
        let done = first + count;
        // Under the lock the progress is still `first`: the compare and set only restates it.
        let changed = tx
            .exec(
                // The document goes once every item is done (debtors' personal data).
                "UPDATE upload_file SET processed = $2::bigint,
                    ended_at = CASE WHEN $2::bigint = submitted THEN $3::bigint END,
                    content = CASE WHEN $2::bigint = submitted THEN ''::bytea ELSE content END
                 WHERE id = $1 AND processed = $4",
                &[&id, &i64::from(done), &millis(now), &i64::from(first)],
            )
            .await?;
        if changed != 1 {
            return Err(unavailable(
                "the file's progress moved while it was applied",
            ));
        }
        super::commit(tx).await
    }

    /// The outcomes of the file's items, in file order.
    pub async fn upload_outcomes(&self, id: String) -> Result<Vec<UploadOutcome>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .rows(
                "SELECT iupd, status, message FROM upload_outcome WHERE file = $1 ORDER BY item",
                &[&id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let status: i64 = r.try_get(1).map_err(db_error)?;
                Ok(UploadOutcome {
                    iupd: r.try_get(0).map_err(db_error)?,
                    status: u16::try_from(status)
                        .map_err(|_| corrupt("upload_outcome.status", status))?,
                    message: r.try_get(2).map_err(db_error)?,
                })
            })
            .collect()
    }

    /// The files `query.broker` started for the creditor within the window, by start and id,
    /// from after the last one seen.
    pub async fn list_uploads(&self, query: UploadQuery) -> Result<Vec<UploadFile>, StoreError> {
        let (after_time, after_id) = match &query.after {
            Some((t, id)) => (Some(millis(*t)), id.as_str()),
            None => (None, ""),
        };
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM upload_file
             WHERE organization = $1 AND broker = $2 AND started_at BETWEEN $3 AND $4
               AND ($5::bigint IS NULL OR (started_at, id) > ($5, $6))
             ORDER BY started_at, id LIMIT $7"
        );
        self.files(
            &sql,
            &[
                &query.organization.as_str(),
                &query.broker,
                &millis(query.started.from()),
                &millis(query.started.to()),
                &after_time,
                &after_id,
                &i64::from(query.limit),
            ],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::position::Iupd;
    use crate::domain::position::tests::at;
    use crate::store::conformance::org;
    use crate::store::conformance::uploads::{created, describe, upload};
    use crate::store::postgres::{PgStore, testing};
    use crate::store::{PositionKey, StoreError, UploadItem};

    fn key(iupd: &str) -> PositionKey {
        PositionKey::Iupd(Iupd::parse(iupd).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_kept_by_two_instances_at_once_is_kept_once() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let (a, b) = (
            PgStore::connect(&url, 1).await.unwrap(),
            PgStore::connect(&url, 1).await.unwrap(),
        );
        for n in 0..10 {
            let id = format!("f{n}");
            let mut other = upload(&id, 2, at(2025, 6, 2));
            other.content = b"other".to_vec();
            let (first, second) = tokio::join!(
                a.create_upload(upload(&id, 1, at(2025, 6, 1))),
                b.create_upload(other)
            );
            // The second is refused as SQLite refuses it: a failure, not a duplicate.
            assert!(
                matches!(
                    (&first, &second),
                    (Ok(()), Err(StoreError::Unavailable(_)))
                        | (Err(StoreError::Unavailable(_)), Ok(()))
                ),
                "{first:?} {second:?}"
            );
            let kept = a.upload(org(), id.clone()).await.unwrap().unwrap();
            let content = b.upload_content(id).await.unwrap();
            // The one kept is whole: its own content with its own count.
            assert_eq!(content == b"other", kept.submitted == 2);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_applying_the_same_items_apply_them_once() {
        let Some((a, b)) = testing::fresh_pair().await else {
            return;
        };
        let now = at(2025, 6, 1);
        a.create_upload(upload("setup", 10, now)).await.unwrap();
        let items = (0..10).map(|n| created(&format!("P{n}"), n)).collect();
        a.apply_upload_items("setup".into(), 0, items, describe(), now)
            .await
            .unwrap();
        let version = a
            .get_position(org(), key("P0"))
            .await
            .unwrap()
            .unwrap()
            .version;
        // Each item bumps a position's version: applied twice, it would show.
        let bumps = |n: u64| -> Vec<UploadItem> {
            (0..n)
                .map(|n| UploadItem::Update {
                    iupd: Iupd::parse(&format!("P{n}")).unwrap(),
                    change: Box::new(|_| Ok(())),
                })
                .chain([created("NEW", 100)])
                .collect()
        };
        for round in 0..10 {
            let id = format!("f{round}");
            a.create_upload(upload(&id, 22, now)).await.unwrap();
            for first in [0, 11] {
                let (x, y) = tokio::join!(
                    a.apply_upload_items(id.clone(), first, bumps(10), describe(), now),
                    b.apply_upload_items(id.clone(), first, bumps(10), describe(), now)
                );
                let refused = Err(StoreError::VersionMismatch {
                    current: i64::from(first) + 11,
                });
                assert!(
                    (x.is_ok() && y == refused) || (y.is_ok() && x == refused),
                    "{x:?} {y:?}"
                );
            }
            let file = a.upload(org(), id.clone()).await.unwrap().unwrap();
            assert_eq!((file.processed, file.ended_at), (22, Some(now)));
            let outcomes = b.upload_outcomes(id).await.unwrap();
            let statuses: Vec<u16> = outcomes.iter().map(|o| o.status).collect();
            // The new position is created by the first chunk of the first round only.
            let new = if round == 0 { 201 } else { 409 };
            let mut expected = vec![201; 10];
            expected.push(new);
            expected.extend([201; 10]);
            expected.push(409);
            assert_eq!(statuses, expected);
        }
        for n in 0..10 {
            let p = b.get_position(org(), key(&format!("P{n}"))).await.unwrap();
            assert_eq!(p.unwrap().version, version + 20);
        }
    }
}
