//! The Node's lookup ([`Store::get_notice`]) after each kind of write: always the option as
//! the whole position has it, with what payability reads of its siblings, and nothing for a
//! notice no longer there.

use super::org;
use crate::domain::notice_view::NoticeView;
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{DebtPosition, Iupd, PositionStatus};
use crate::domain::{Cents, FiscalCodePA, NoticeNumber, SegregationCode, Text};
use crate::store::receipt_fixtures::{ORG, new_receipt, valid};
use crate::store::{Expected, PositionKey, Store};

/// Asserts that the lookup of `nav` answers as the whole position does (or nothing when no
/// position has it).
async fn agrees(store: &dyn Store, organization: FiscalCodePA, nav: &NoticeNumber, what: &str) {
    let full = store
        .get_position(organization.clone(), PositionKey::Notice(nav.clone()))
        .await
        .unwrap();
    let expected = full.map(|p| NoticeView::of(&p, p.option_index(nav).unwrap()));
    let found = store.get_notice(organization, nav.clone()).await.unwrap();
    assert_eq!(found, expected, "{what}: notice {nav}");
}

async fn all_agree(store: &dyn Store, navs: &[NoticeNumber], what: &str) {
    for nav in navs {
        agrees(store, org(), nav, what).await;
    }
}

/// A single option and a plan of two installments, valid.
fn plan(iupd: &str, base: u64) -> DebtPosition {
    let mut p = valid(position(vec![
        option(base, 3000, at(2030, 1, 1), false),
        option(base + 1, 1500, at(2030, 2, 1), true),
        option(base + 2, 1500, at(2030, 3, 1), true),
    ]));
    p.iupd = Iupd::parse(iupd).unwrap();
    p.validity_date = Some(at(2025, 1, 1));
    p
}

fn navs(p: &DebtPosition) -> Vec<NoticeNumber> {
    p.options.iter().map(|o| o.nav.clone()).collect()
}

pub async fn every_write_of_a_position_leaves_its_lookups_fresh(store: &dyn Store) {
    let p = plan("PLAN-1", 10);
    let navs = navs(&p);
    all_agree(store, &navs, "unknown").await;
    store.create_position(p.clone()).await.unwrap();
    all_agree(store, &navs, "created").await;
    let first = store.get_notice(org(), navs[1].clone()).await.unwrap();
    assert_eq!(first.unwrap().payability(at(2029, 1, 1)), Ok(()));

    // An update that changes one installment and drops the other.
    let change = Box::new(|p: &mut DebtPosition| {
        p.options[1].amount = Cents::new(1700).unwrap();
        p.options[1].description = Text::new("Prima rata").unwrap();
        p.options[0].transfers[0].remittance_information = Text::new("Saldo").unwrap();
        p.options.pop();
        Ok(())
    });
    let key = PositionKey::Iupd(p.iupd.clone());
    store
        .update_position_if(org(), key.clone(), Expected::OneOf(vec![0]), change)
        .await
        .unwrap();
    all_agree(store, &navs, "updated").await;
    assert_eq!(
        store.get_notice(org(), navs[2].clone()).await.unwrap(),
        None
    );

    // A receipt for the installment: the single option is superseded.
    store
        .acquire_receipt(new_receipt("r-1", &navs[1], &[ORG]))
        .await
        .unwrap();
    all_agree(store, &navs, "an installment paid").await;
    let single = store.get_notice(org(), navs[0].clone()).await.unwrap();
    assert!(single.unwrap().payability(at(2029, 1, 1)).is_err());

    store
        .mark_send_sync(vec![(org(), navs[0].clone())])
        .await
        .unwrap();
    all_agree(store, &navs, "notified through SEND").await;

    let rule = Box::new(|_: &DebtPosition| true);
    let debtor = p.debtor.subject.entity_id.as_str().to_owned();
    store
        .erase_debtor_positions(org(), debtor, at(2029, 2, 1), rule)
        .await
        .unwrap();
    all_agree(store, &navs, "debtor erased").await;

    store
        .delete_position(org(), p.iupd.clone(), Expected::Any, Box::new(|_| Ok(())))
        .await
        .unwrap();
    all_agree(store, &navs, "deleted").await;
    assert_eq!(
        store.get_notice(org(), navs[0].clone()).await.unwrap(),
        None
    );
}

pub async fn publication_and_the_sweeper_leave_lookups_fresh(store: &dyn Store) {
    let mut draft = plan("DRAFT-1", 20);
    draft.status = PositionStatus::Draft;
    draft.validity_date = Some(at(2029, 6, 1));
    draft.switch_to_expired = true;
    let navs = navs(&draft);
    store.create_position(draft.clone()).await.unwrap();
    all_agree(store, &navs, "draft").await;
    let publish = Box::new(|p: &mut DebtPosition| {
        p.publish(at(2029, 1, 1))
            .map_err(crate::domain::position::Refusal::from)
    });
    store
        .update_position(org(), PositionKey::Iupd(draft.iupd.clone()), publish)
        .await
        .unwrap();
    all_agree(store, &navs, "published").await;
    // Valid once its validity date has come, then expired past its last due date.
    for (now, status) in [
        (at(2029, 7, 1), PositionStatus::Valid),
        (at(2031, 1, 1), PositionStatus::Expired),
    ] {
        assert_eq!(store.sweep_statuses(now, 10).await.unwrap(), 1);
        all_agree(store, &navs, status.as_str()).await;
        let view = store.get_notice(org(), navs[0].clone()).await.unwrap();
        assert_eq!(view.unwrap().position().status, status);
    }
}

pub async fn bulk_and_spontaneous_writes_leave_lookups_fresh(store: &dyn Store) {
    let imported = plan("IMPORTED-1", 30);
    let created = plan("CREATED-1", 40);
    store
        .import_positions(vec![imported.clone()])
        .await
        .unwrap()
        .into_iter()
        .for_each(|r| r.unwrap());
    store
        .create_positions(vec![created.clone()])
        .await
        .unwrap()
        .unwrap();
    let template = plan("SPONTANEOUS-1", 50);
    let build = Box::new(move |iuv: crate::domain::Iuv| {
        let mut p = template.clone();
        p.options.truncate(1);
        p.options[0].nav = iuv.notice_number();
        p.options[0].iuv = iuv;
        p
    });
    let spontaneous = store
        .create_with_new_iuv(org(), SegregationCode::parse("01").unwrap(), build)
        .await
        .unwrap();
    for p in [&imported, &created, &spontaneous] {
        all_agree(store, &navs(p), p.iupd.as_str()).await;
        let view = store
            .get_notice(org(), p.options[0].nav.clone())
            .await
            .unwrap();
        assert!(view.is_some(), "{}", p.iupd.as_str());
    }
}
