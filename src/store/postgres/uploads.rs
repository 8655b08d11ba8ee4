//! Uploaded files of positions in PostgreSQL: kept from their upload on, with their progress
//! and the outcome of each processed item, for whichever instance processes or lists them.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, db_error};
use crate::domain::FiscalCodePA;
use crate::domain::upload::UploadOperation;
use crate::store::columns::*;
use crate::store::{NewUpload, StoreError, UploadFile, UploadOutcome, UploadQuery};

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

impl PgStore {
    /// The files `sql` selects in [`FILE_COLUMNS`].
    async fn files(
        &self,
        sql: &str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<UploadFile>, StoreError> {
        let client = self.client().await?;
        let st = client.prepare_cached(sql).await.map_err(db_error)?;
        let rows = client.query(&st, values).await.map_err(db_error)?;
        rows.iter().map(file_at).collect()
    }

    /// Keeps an uploaded file, to be processed from its first item; a file of no items is
    /// ended as it arrives. Two instances keeping the same id: the primary key refuses the
    /// second, as SQLite does (ids are random, a clash is a failure).
    pub async fn create_upload(&self, upload: NewUpload) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let st = tx
            .prepare_cached(
                "INSERT INTO upload_file (id, broker, organization, operation, content, submitted,
                    processed, started_at, ended_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7,
                    CASE WHEN $6::bigint = 0 THEN $7::bigint END)",
            )
            .await
            .map_err(db_error)?;
        let u = &upload;
        tx.execute(
            &st,
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
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
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
        let st = client
            .prepare_cached("SELECT content FROM upload_file WHERE id = $1")
            .await
            .map_err(db_error)?;
        client
            .query_opt(&st, &[&id])
            .await
            .map_err(db_error)?
            .ok_or(StoreError::NotFound)?
            .try_get(0)
            .map_err(db_error)
    }

    /// The outcomes of the file's items, in file order.
    pub async fn upload_outcomes(&self, id: String) -> Result<Vec<UploadOutcome>, StoreError> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(
                "SELECT iupd, status, message FROM upload_outcome WHERE file = $1 ORDER BY item",
            )
            .await
            .map_err(db_error)?;
        let rows = client.query(&st, &[&id]).await.map_err(db_error)?;
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
    use chrono::NaiveDateTime;

    use crate::domain::FiscalCodePA;
    use crate::domain::position::tests::at;
    use crate::domain::upload::UploadOperation;
    use crate::store::postgres::{PgStore, testing};
    use crate::store::{NewUpload, StoreError, TimeWindow, UploadOutcome, UploadQuery};

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse("77777777777").unwrap()
    }

    fn upload(id: &str, submitted: u32, started_at: NaiveDateTime) -> NewUpload {
        NewUpload {
            id: id.into(),
            broker: "77777777777".into(),
            organization: org(),
            operation: UploadOperation::Create,
            content: format!("{{\"file\": \"{id}\"}}").into_bytes(),
            submitted,
            started_at,
        }
    }

    /// Records outcomes and progress as applying a chunk does (not ported yet).
    async fn processed(store: &PgStore, id: &str, statuses: &[i64], ended: Option<NaiveDateTime>) {
        let client = store.pool.get().await.unwrap();
        for (item, status) in statuses.iter().enumerate() {
            client
                .execute(
                    "INSERT INTO upload_outcome (file, item, iupd, status, message)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &id,
                        &(item as i64),
                        &format!("item {item}"),
                        status,
                        &format!("status {status}"),
                    ],
                )
                .await
                .unwrap();
        }
        client
            .execute(
                "UPDATE upload_file SET processed = $2, ended_at = $3 WHERE id = $1",
                &[
                    &id,
                    &(statuses.len() as i64),
                    &ended.map(crate::store::columns::millis),
                ],
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn files_are_kept_read_back_and_listed_in_pages() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let store = PgStore::connect(&url, 2).await.unwrap();
        let t = at(2025, 6, 1);
        let later = at(2025, 6, 2);
        store.create_upload(upload("f2", 3, later)).await.unwrap();
        store.create_upload(upload("f1", 3, t)).await.unwrap();
        store.create_upload(upload("F0", 2, later)).await.unwrap();
        // A file of no items is done as it arrives.
        store.create_upload(upload("empty", 0, t)).await.unwrap();

        let empty = store.upload(org(), "empty".into()).await.unwrap().unwrap();
        assert_eq!((empty.processed, empty.ended_at), (0, Some(t)));
        let f1 = store.upload(org(), "f1".into()).await.unwrap().unwrap();
        assert_eq!(
            (f1.submitted, f1.processed, f1.refused, f1.ended_at),
            (3, 0, 0, None)
        );
        assert_eq!(f1.operation, UploadOperation::Create);
        assert_eq!(f1.started_at, t);
        // Another creditor's file is not found.
        let other = FiscalCodePA::parse("88888888888").unwrap();
        assert_eq!(store.upload(other, "f1".into()).await.unwrap(), None);
        assert_eq!(store.upload(org(), "nope".into()).await.unwrap(), None);

        assert_eq!(
            store.upload_content("f1".into()).await.unwrap(),
            b"{\"file\": \"f1\"}"
        );
        assert_eq!(
            store.upload_content("nope".into()).await,
            Err(StoreError::NotFound)
        );

        // Oldest first, then by id bytewise.
        let ids = |files: Vec<crate::store::UploadFile>| -> Vec<String> {
            files.into_iter().map(|f| f.id).collect()
        };
        assert_eq!(
            ids(store.uploads_in_progress().await.unwrap()),
            ["f1", "F0", "f2"]
        );

        processed(&store, "f1", &[201, 409, 201], Some(later)).await;
        processed(&store, "f2", &[400], None).await;
        let f1 = store.upload(org(), "f1".into()).await.unwrap().unwrap();
        assert_eq!((f1.processed, f1.refused, f1.ended_at), (3, 1, Some(later)));
        let outcomes = store.upload_outcomes("f1".into()).await.unwrap();
        assert_eq!(
            outcomes,
            [201, 409, 201]
                .iter()
                .enumerate()
                .map(|(i, s)| UploadOutcome {
                    iupd: Some(format!("item {i}")),
                    status: *s,
                    message: format!("status {s}"),
                })
                .collect::<Vec<_>>()
        );
        assert!(
            store
                .upload_outcomes("nope".into())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            ids(store.uploads_in_progress().await.unwrap()),
            ["F0", "f2"]
        );
        let f2 = store.upload(org(), "f2".into()).await.unwrap().unwrap();
        assert_eq!((f2.processed, f2.refused, f2.ended_at), (1, 1, None));

        let query = |after: Option<(NaiveDateTime, &str)>, limit| UploadQuery {
            organization: org(),
            broker: "77777777777".into(),
            started: TimeWindow::new(t, later).unwrap(),
            after: after.map(|(t, id)| (t, id.to_owned())),
            limit,
        };
        let all = store.list_uploads(query(None, 10)).await.unwrap();
        assert_eq!(ids(all), ["empty", "f1", "F0", "f2"]);
        let first = store.list_uploads(query(None, 2)).await.unwrap();
        assert_eq!(ids(first), ["empty", "f1"]);
        let next = store.list_uploads(query(Some((t, "f1")), 2)).await.unwrap();
        assert_eq!(ids(next), ["F0", "f2"]);
        let rest = store
            .list_uploads(query(Some((later, "F0")), 2))
            .await
            .unwrap();
        assert_eq!(ids(rest), ["f2"]);
        // Outside the window, or another broker's: not listed.
        let mut narrow = query(None, 10);
        narrow.started = TimeWindow::new(later, at(2025, 6, 3)).unwrap();
        assert_eq!(ids(store.list_uploads(narrow).await.unwrap()), ["F0", "f2"]);
        let mut stranger = query(None, 10);
        stranger.broker = "88888888888".into();
        assert!(store.list_uploads(stranger).await.unwrap().is_empty());
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
}
