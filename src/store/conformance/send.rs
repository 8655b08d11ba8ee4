//! Options notified through SEND: the mark written with a position, and marked in bulk by
//! (creditor, notice number), each new mark a new version of its position.

use super::positions::{fresh, sample};
use super::{org, other_org};
use crate::domain::NoticeNumber;
use crate::store::{PositionKey, Store};

pub async fn options_are_marked_in_bulk_and_the_mark_is_kept(store: &dyn Store) {
    let mut p = sample();
    p.options[1].send_sync = true;
    let p = store.create_position(p).await.unwrap();
    let mut q = fresh("Q-1", 9);
    q.organization = other_org();
    let q = store.create_position(q).await.unwrap();
    let read = |key| async { store.get_position(org(), key).await.unwrap().unwrap() };
    let back = read(PositionKey::Iupd(p.iupd.clone())).await;
    assert_eq!(
        back.options.iter().map(|o| o.send_sync).collect::<Vec<_>>(),
        [false, true],
        "written with the position"
    );

    let unknown = NoticeNumber::parse("301000000000000999").unwrap();
    let items = vec![
        (org(), p.options[0].nav.clone()),
        (org(), p.options[1].nav.clone()),
        (org(), p.options[0].nav.clone()),
        (org(), unknown),
        (other_org(), q.options[0].nav.clone()),
        (other_org(), p.options[0].nav.clone()),
    ];
    assert_eq!(store.mark_send_sync(items).await.unwrap(), 3);
    let back = read(PositionKey::Iupd(p.iupd.clone())).await;
    assert!(back.options.iter().all(|o| o.send_sync));
    assert_eq!(
        back.version,
        p.version + 1,
        "one new version for the new mark"
    );
    let other = store
        .get_position(other_org(), PositionKey::Iupd(q.iupd.clone()))
        .await
        .unwrap()
        .unwrap();
    assert!(other.options[0].send_sync, "its own creditor's notice");
    assert_eq!(other.version, q.version + 1);

    // Marked again: found, nothing changes.
    let again = vec![(org(), p.options[1].nav.clone())];
    assert_eq!(store.mark_send_sync(again).await.unwrap(), 1);
    assert_eq!(read(PositionKey::Iupd(p.iupd.clone())).await, back);
    assert_eq!(store.mark_send_sync(Vec::new()).await.unwrap(), 0);
}
