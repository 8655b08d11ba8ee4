//! Positions written and read back: their round trip, the uniqueness of IUPD, IUV and notice
//! number, versioned updates, batches imported or created together, and the IBAN lookup.

use super::{org, other_org};
use crate::domain::Text;
use crate::domain::party::{CountryCode, Email, MapEntry};
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{
    Account, Conflict, DebtPosition, Iban, Iupd, OptionPayment, OptionStatus, PositionStatus,
    StampRequest,
};
use crate::domain::{Cents, FiscalCodePA};
use crate::store::{Expected, PositionKey, Store, StoreError};

/// Two options, one with a stamp, metadata and a debtor's email: every kind of column.
pub fn sample() -> DebtPosition {
    let mut p = position(vec![
        option(1, 1500, at(2030, 1, 1), false),
        option(2, 700, at(2030, 2, 1), true),
    ]);
    p.options[0].transfers[0].account = Account::Stamp(StampRequest {
        hash_document: "cXVhbHNpYXNpIGNvc2E=".into(),
        stamp_type: "01".into(),
        provincial_residence: CountryCode::parse("RM").unwrap(),
    });
    p.options[1].metadata = vec![MapEntry {
        key: Text::new("k").unwrap(),
        value: Text::new("v & w").unwrap(),
    }];
    p.debtor.subject.email = Some(Email::parse("a@b.it").unwrap());
    p
}

/// A position of one option of IUV base `base`.
pub fn fresh(iupd: &str, base: u64) -> DebtPosition {
    let mut p = position(vec![option(base, 1000, at(2030, 1, 1), false)]);
    p.iupd = Iupd::parse(iupd).unwrap();
    p
}

pub async fn round_trip_by_iupd_and_by_notice(store: &dyn Store) {
    let p = sample();
    store.create_position(p.clone()).await.unwrap();
    let by_iupd = store
        .get_position(org(), PositionKey::Iupd(p.iupd.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_iupd, p);
    let nav = p.options[1].nav.clone();
    let by_nav = store
        .get_position(org(), PositionKey::Notice(nav))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_nav, p);
    assert_eq!(
        store
            .get_position(other_org(), PositionKey::Iupd(p.iupd.clone()))
            .await
            .unwrap(),
        None
    );
}

pub async fn uniqueness_per_organization(store: &dyn Store) {
    let p = sample();
    store.create_position(p.clone()).await.unwrap();
    let err = store.create_position(p.clone()).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Duplicate {
            field: "iupd",
            value: "IUPD-1".into()
        }
    );
    let mut same_iuv = p.clone();
    same_iuv.iupd = Iupd::parse("IUPD-2").unwrap();
    match store.create_position(same_iuv).await.unwrap_err() {
        StoreError::Duplicate { field, value } => {
            assert!(field == "iuv" || field == "nav", "{field}");
            let option = &p.options[0];
            assert!(
                value == option.iuv.as_str() || value == option.nav.as_str(),
                "{value}"
            );
        }
        e => panic!("{e}"),
    }
    // Nothing of the refused positions was kept.
    let gone = store
        .get_position(org(), PositionKey::Iupd(Iupd::parse("IUPD-2").unwrap()))
        .await
        .unwrap();
    assert_eq!(gone, None);
    let mut other = p;
    other.organization = other_org();
    store.create_position(other).await.unwrap();
}

pub async fn update_is_atomic_and_versioned(store: &dyn Store) {
    let p = sample();
    store.create_position(p.clone()).await.unwrap();
    let key = PositionKey::Iupd(p.iupd.clone());
    let refused = store
        .update_position(
            org(),
            key.clone(),
            Box::new(|p| {
                p.status = PositionStatus::Invalid;
                Err(Conflict("no".into()).into())
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(refused, StoreError::Refused(Conflict("no".into())));
    assert_eq!(store.get_position(org(), key.clone()).await, Ok(Some(p)));
    let now = at(2029, 1, 1);
    let updated = store
        .update_position(org(), key.clone(), Box::new(move |p| Ok(p.publish(now)?)))
        .await
        .unwrap();
    assert_eq!(updated.status, PositionStatus::Valid);
    assert_eq!(updated.version, 1);
    let read = store.get_position(org(), key).await.unwrap().unwrap();
    assert_eq!(read, updated);
    let missing = PositionKey::Iupd(Iupd::parse("nope").unwrap());
    assert_eq!(
        store
            .update_position(org(), missing, Box::new(|_| Ok(())))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

pub async fn an_update_replaces_the_options_and_a_stale_version_is_refused(store: &dyn Store) {
    let p = sample();
    store.create_position(p.clone()).await.unwrap();
    let nav = PositionKey::Notice(p.options[1].nav.clone());
    let updated = store
        .update_position_if(
            org(),
            nav.clone(),
            Expected::OneOf(vec![0]),
            Box::new(|p| {
                p.options.truncate(1);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(updated.options.len(), 1);
    // The notice number of the option dropped finds nothing any more.
    assert_eq!(store.get_position(org(), nav).await, Ok(None));
    let stale = store
        .update_position_if(
            org(),
            PositionKey::Iupd(p.iupd.clone()),
            Expected::OneOf(vec![0]),
            Box::new(|_| Ok(())),
        )
        .await;
    assert_eq!(stale, Err(StoreError::VersionMismatch { current: 1 }));
}

pub fn duplicate_fields(outcome: &[Result<(), StoreError>]) -> Vec<Option<&'static str>> {
    outcome
        .iter()
        .map(|r| match r {
            Ok(()) => None,
            Err(StoreError::Duplicate { field, .. }) => Some(*field),
            Err(e) => panic!("{e}"),
        })
        .collect()
}

pub async fn an_imported_batch_leaves_out_only_its_duplicates(store: &dyn Store) {
    let existing = sample();
    store.create_position(existing.clone()).await.unwrap();
    let outcome = store
        .import_positions(vec![
            fresh("A", 10),
            existing.clone(), // the IUPD is taken
            fresh("B", 1),    // the IUV of `existing`'s first option
            fresh("C", 11),
            fresh("A", 12), // the IUPD of the first one of this batch
            fresh("D", 11), // the IUV of "C"
        ])
        .await
        .unwrap();
    let refused = duplicate_fields(&outcome);
    assert_eq!(refused[0], None);
    assert_eq!(refused[1], Some("iupd"));
    assert!(matches!(refused[2], Some("iuv" | "nav")), "{refused:?}");
    assert_eq!(refused[3], None);
    assert_eq!(refused[4], Some("iupd"));
    assert!(matches!(refused[5], Some("iuv" | "nav")), "{refused:?}");
    let get = |iupd: &str| store.get_position(org(), PositionKey::Iupd(Iupd::parse(iupd).unwrap()));
    for (iupd, kept) in [("A", true), ("B", false), ("C", true), ("D", false)] {
        assert_eq!(get(iupd).await.unwrap().is_some(), kept, "{iupd}");
    }
    // The first "A" stands, with its own option, not the refused one's.
    let a = get("A").await.unwrap().unwrap();
    assert_eq!(a.options[0].iuv, fresh("A", 10).options[0].iuv);
}

pub async fn positions_are_created_all_or_none(store: &dyn Store) {
    let existing = sample();
    store.create_position(existing.clone()).await.unwrap();
    let refused = store
        .create_positions(vec![
            fresh("A", 10),
            fresh("B", 1), // the IUV of `existing`'s first option
            fresh("C", 11),
            fresh("A", 12), // the IUPD of the first one of this list
        ])
        .await
        .unwrap()
        .unwrap_err();
    let at: Vec<(usize, &str)> = refused
        .iter()
        .map(|(i, e)| match e {
            StoreError::Duplicate { field, .. } => (*i, *field),
            e => panic!("{e}"),
        })
        .collect();
    assert_eq!(at, [(1, "iuv"), (3, "iupd")]);
    for iupd in ["A", "B", "C"] {
        let key = PositionKey::Iupd(Iupd::parse(iupd).unwrap());
        assert_eq!(store.get_position(org(), key).await, Ok(None), "{iupd}");
    }
    store
        .create_positions(vec![fresh("A", 10), fresh("C", 11)])
        .await
        .unwrap()
        .unwrap();
    let key = PositionKey::Iupd(Iupd::parse("C").unwrap());
    assert!(store.get_position(org(), key).await.unwrap().is_some());
}

pub async fn positions_paying_an_iban_are_those_with_an_unpaid_option_crediting_it(
    store: &dyn Store,
) {
    let iban = Iban::parse("IT60X0542811101000000123456").unwrap();
    let other = Iban::parse("IT02A0301503200000003517230").unwrap();
    // B: its only option paid; C: another IBAN; D: another creditor's.
    let mut b = fresh("B", 2);
    b.options[0].status = OptionStatus::Paid;
    b.options[0].payment = Some(OptionPayment {
        payment_date: at(2029, 5, 1),
        payment_method: None,
        psp_company: None,
        receipt_id: "R".into(),
        fee: Cents::new(0).unwrap(),
    });
    let mut c = fresh("C", 3);
    c.options[0].transfers[0].account = Account::Iban {
        iban: other.clone(),
        postal_iban: None,
    };
    let mut d = fresh("D", 4);
    d.organization = FiscalCodePA::parse("88888888888").unwrap();
    for p in [fresh("Z", 5), b, c, d, fresh("A", 1)] {
        store.create_position(p).await.unwrap();
    }
    let paying = store.positions_paying_iban(org(), iban).await.unwrap();
    let names: Vec<&str> = paying.iter().map(Iupd::as_str).collect();
    // Oldest first.
    assert_eq!(names, ["Z", "A"]);
    let paying = store.positions_paying_iban(org(), other).await.unwrap();
    assert_eq!(paying, [Iupd::parse("C").unwrap()]);
}
