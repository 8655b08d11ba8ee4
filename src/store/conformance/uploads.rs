//! Uploaded files: kept, read back and listed; their items applied in chunks, each chunk once,
//! each item refused alone.

use chrono::NaiveDateTime;

use super::org;
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{Conflict, Iupd, Refusal};
use crate::domain::upload::UploadOperation;
use crate::domain::{FiscalCodePA, Text};
use crate::store::{
    DescribeItem, NewUpload, PositionKey, Store, StoreError, TimeWindow, UploadItem, UploadOutcome,
    UploadQuery,
};

pub fn upload(id: &str, submitted: u32, started_at: NaiveDateTime) -> NewUpload {
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

/// Records outcomes of the given statuses, for items the store is given already refused:
/// the file's progress moves past them.
async fn processed(store: &dyn Store, id: &str, statuses: &[u16], now: NaiveDateTime) {
    let items = statuses
        .iter()
        .enumerate()
        .map(|(item, status)| {
            UploadItem::Refused(UploadOutcome {
                iupd: Some(format!("item {item}")),
                status: *status,
                message: format!("status {status}"),
            })
        })
        .collect();
    store
        .apply_upload_items(id.into(), 0, items, describe(), now)
        .await
        .unwrap();
}

pub fn describe() -> DescribeItem {
    Box::new(|i, result| UploadOutcome {
        iupd: Some(format!("item {i}")),
        status: if result.is_ok() { 201 } else { 409 },
        message: result.err().map(|e| e.to_string()).unwrap_or_default(),
    })
}

pub fn created(iupd: &str, base: u64) -> UploadItem {
    let mut p = position(vec![option(base, 100, at(2030, 1, 1), false)]);
    p.iupd = Iupd::parse(iupd).unwrap();
    UploadItem::Create(Box::new(p))
}

fn key(iupd: &str) -> PositionKey {
    PositionKey::Iupd(Iupd::parse(iupd).unwrap())
}

pub async fn files_are_kept_read_back_and_listed_in_pages(store: &dyn Store) {
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

    processed(store, "f1", &[201, 409, 201], later).await;
    processed(store, "f2", &[400], later).await;
    let f1 = store.upload(org(), "f1".into()).await.unwrap().unwrap();
    assert_eq!((f1.processed, f1.refused, f1.ended_at), (3, 1, Some(later)));
    // Processed to the end: its document (debtors' data) is gone, a file in progress keeps its.
    assert!(store.upload_content("f1".into()).await.unwrap().is_empty());
    assert_eq!(
        store.upload_content("f2".into()).await.unwrap(),
        b"{\"file\": \"f2\"}"
    );
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

pub async fn a_chunk_is_applied_once_and_progress_moves_with_it(store: &dyn Store) {
    let now = at(2025, 6, 1);
    store.create_upload(upload("f1", 3, now)).await.unwrap();
    let first = vec![created("A", 1), created("B", 2)];
    store
        .apply_upload_items("f1".into(), 0, first, describe(), now)
        .await
        .unwrap();
    // A second worker with the same view of the file: refused whole, nothing applied.
    let again = vec![created("C", 3)];
    let refused = store
        .apply_upload_items("f1".into(), 0, again, describe(), now)
        .await;
    assert_eq!(refused, Err(StoreError::VersionMismatch { current: 2 }));
    assert!(store.get_position(org(), key("C")).await.unwrap().is_none());
    let file = store.upload(org(), "f1".into()).await.unwrap().unwrap();
    assert_eq!((file.processed, file.refused, file.ended_at), (2, 0, None));

    // The last item clashes with the first: refused alone, and the file ends.
    let last = vec![created("A", 4)];
    store
        .apply_upload_items("f1".into(), 2, last, describe(), at(2025, 6, 2))
        .await
        .unwrap();
    let file = store.upload(org(), "f1".into()).await.unwrap().unwrap();
    assert_eq!(
        (file.processed, file.refused, file.ended_at),
        (3, 1, Some(at(2025, 6, 2)))
    );
    let outcomes = store.upload_outcomes("f1".into()).await.unwrap();
    let statuses: Vec<u16> = outcomes.iter().map(|o| o.status).collect();
    assert_eq!(statuses, [201, 201, 409]);
    assert!(store.uploads_in_progress().await.unwrap().is_empty());
    // Past the end: nothing more to apply.
    let beyond = store
        .apply_upload_items("f1".into(), 3, vec![created("D", 5)], describe(), now)
        .await;
    assert!(beyond.is_err());
    assert!(store.get_position(org(), key("D")).await.unwrap().is_none());
    // An unknown file.
    let unknown = store
        .apply_upload_items("nope".into(), 0, vec![], describe(), now)
        .await;
    assert_eq!(unknown, Err(StoreError::NotFound));
}

pub async fn updates_and_deletes_refused_alone_leave_the_rest_applied(store: &dyn Store) {
    let now = at(2025, 6, 1);
    store.create_upload(upload("f1", 2, now)).await.unwrap();
    let items = vec![created("A", 1), created("B", 2)];
    store
        .apply_upload_items("f1".into(), 0, items, describe(), now)
        .await
        .unwrap();
    let before = store.get_position(org(), key("B")).await.unwrap().unwrap();
    store.create_upload(upload("f2", 5, now)).await.unwrap();
    let items = vec![
        UploadItem::Update {
            iupd: Iupd::parse("A").unwrap(),
            change: Box::new(move |p| {
                p.company_name = Text::new("Changed").unwrap();
                Ok(())
            }),
        },
        // Changed, then refused: the change is not written.
        UploadItem::Update {
            iupd: Iupd::parse("B").unwrap(),
            change: Box::new(move |p| {
                p.company_name = Text::new("Not kept").unwrap();
                Err(Refusal::Conflict(Conflict("no".into())))
            }),
        },
        UploadItem::Delete {
            iupd: Iupd::parse("Z").unwrap(),
            guard: Box::new(|_| Ok(())),
        },
        UploadItem::Delete {
            iupd: Iupd::parse("B").unwrap(),
            guard: Box::new(|_| Err(Refusal::Conflict(Conflict("paid".into())))),
        },
        UploadItem::Delete {
            iupd: Iupd::parse("A").unwrap(),
            guard: Box::new(|p| {
                assert_eq!(p.company_name.as_str(), "Changed");
                Ok(())
            }),
        },
    ];
    store
        .apply_upload_items("f2".into(), 0, items, describe(), now)
        .await
        .unwrap();
    let outcomes = store.upload_outcomes("f2".into()).await.unwrap();
    let statuses: Vec<u16> = outcomes.iter().map(|o| o.status).collect();
    assert_eq!(statuses, [201, 409, 409, 409, 201]);
    assert_eq!(outcomes[1].message, "no");
    assert_eq!(outcomes[2].message, "not found");
    assert!(store.get_position(org(), key("A")).await.unwrap().is_none());
    let b = store.get_position(org(), key("B")).await.unwrap().unwrap();
    assert_eq!(b, before);
    let file = store.upload(org(), "f2".into()).await.unwrap().unwrap();
    assert_eq!(
        (file.processed, file.refused, file.ended_at),
        (5, 3, Some(now))
    );
}
