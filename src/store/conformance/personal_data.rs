//! Personal data: debtors of positions erased past their retention or as a request's rule
//! decides, a data subject's positions and receipts found, receipts' payers and debtors erased
//! past their period with their documents and deliveries' requests rewritten.

use chrono::Duration;

use super::{org, other_org};
use crate::domain::party::{EntityId, EntityType, Subject};
use crate::domain::personal_data::ERASED;
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{DebtPosition, Iupd};
use crate::domain::{FiscalCodePA, Text};
use crate::store::receipt_fixtures::{ORG, new_receipt_changed, station, valid};
use crate::store::{Acquisition, PositionKey, Store};

const DEBTOR: &str = "VRDGPP65B12F205X";

/// Position `iupd` of `organization`, of IUV base `base`, owed by `debtor`, its option kept
/// until `retention` (none: kept with no end).
fn owed(
    organization: FiscalCodePA,
    iupd: &str,
    base: u64,
    debtor: &str,
    retention: Option<chrono::NaiveDateTime>,
) -> DebtPosition {
    let mut p = position(vec![option(base, 300, at(2025, 7, 1), false)]);
    p.organization = organization;
    p.iupd = Iupd::parse(iupd).unwrap();
    p.debtor.subject.entity_id = EntityId::parse(debtor).unwrap();
    p.debtor.subject.city = Some(Text::new("Roma").unwrap());
    p.debtor.phone = Some(Text::new("+39 06 1234").unwrap());
    p.options[0].retention_date = retention;
    p
}

async fn get(store: &dyn Store, organization: FiscalCodePA, iupd: &str) -> DebtPosition {
    store
        .get_position(organization, PositionKey::Iupd(Iupd::parse(iupd).unwrap()))
        .await
        .unwrap()
        .unwrap()
}

fn assert_erased(p: &DebtPosition, before: &DebtPosition) {
    let subject = &p.debtor.subject;
    assert_eq!(subject.entity_id.as_str(), ERASED);
    assert_eq!(subject.full_name.as_str(), ERASED);
    assert_eq!(subject.city, None);
    assert_eq!(p.debtor.phone, None);
    assert!(p.personal_data_erased.is_some());
    assert_eq!(p.version, before.version + 1, "an erasure is a new version");
    assert_eq!(p.options, before.options, "what accounting needs stays");
    assert_eq!(p.status, before.status);
}

pub async fn positions_past_their_retention_lose_their_debtor(store: &dyn Store) {
    let now = at(2026, 6, 1);
    for (iupd, base, retention) in [
        ("PAST-1", 1, Some(at(2026, 1, 1))),
        ("PAST-2", 2, Some(at(2026, 2, 1))),
        ("PAST-3", 3, Some(at(2026, 3, 1))),
        ("LATER", 4, Some(at(2027, 1, 1))),
        ("NO-END", 5, None),
    ] {
        let p = owed(org(), iupd, base, DEBTOR, retention);
        store.create_position(p).await.unwrap();
    }
    let before = get(store, org(), "PAST-1").await;
    // In batches: two, then the last one, then none.
    assert_eq!(
        store.erase_positions_past_retention(now, 2).await.unwrap(),
        2
    );
    assert_eq!(
        store.erase_positions_past_retention(now, 2).await.unwrap(),
        1
    );
    assert_eq!(
        store.erase_positions_past_retention(now, 2).await.unwrap(),
        0
    );
    let after = get(store, org(), "PAST-1").await;
    assert_erased(&after, &before);
    assert_eq!(after.personal_data_erased, Some(now));
    for kept in ["LATER", "NO-END"] {
        let p = get(store, org(), kept).await;
        assert_eq!(p.debtor.subject.entity_id.as_str(), DEBTOR, "{kept}");
        assert_eq!(p.personal_data_erased, None, "{kept}");
    }
    // The retention date comes: the later one goes too.
    let later = at(2027, 1, 2);
    assert_eq!(
        store
            .erase_positions_past_retention(later, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .debtor_positions(org(), DEBTOR.into())
            .await
            .unwrap()
            .iter()
            .map(|p| p.iupd.as_str())
            .collect::<Vec<_>>(),
        ["NO-END"]
    );
}

pub async fn a_debtor_s_positions_are_found_and_erased_as_the_rule_decides(store: &dyn Store) {
    let now = at(2026, 6, 1);
    store
        .create_position(owed(org(), "B", 1, DEBTOR, None))
        .await
        .unwrap();
    store
        .create_position(owed(org(), "A", 2, DEBTOR, None))
        .await
        .unwrap();
    store
        .create_position(owed(org(), "OTHER", 3, "RSSMRA80A01H501U", None))
        .await
        .unwrap();
    store
        .create_position(owed(other_org(), "A", 4, DEBTOR, None))
        .await
        .unwrap();

    let found = store.debtor_positions(org(), DEBTOR.into()).await.unwrap();
    let iupds: Vec<&str> = found.iter().map(|p| p.iupd.as_str()).collect();
    assert_eq!(iupds, ["A", "B"], "the creditor's, by IUPD");
    assert!(found.iter().all(|p| p.debtor.phone.is_some()));

    let before = get(store, org(), "A").await;
    let answer = store
        .erase_debtor_positions(
            org(),
            DEBTOR.into(),
            now,
            Box::new(|p| p.iupd.as_str() == "A"),
        )
        .await
        .unwrap();
    let decided: Vec<(&str, bool)> = answer
        .iter()
        .map(|(p, erased)| (p.iupd.as_str(), *erased))
        .collect();
    assert_eq!(decided, [("A", true), ("B", false)]);
    assert_eq!(answer[0].0, before, "as it was before the erasure");
    assert_erased(&get(store, org(), "A").await, &before);
    for (organization, iupd) in [(org(), "B"), (org(), "OTHER"), (other_org(), "A")] {
        let p = get(store, organization.clone(), iupd).await;
        assert_eq!(p.personal_data_erased, None, "{organization} {iupd}");
    }
    let left = store.debtor_positions(org(), DEBTOR.into()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].iupd.as_str(), "B");
}

pub async fn a_subject_s_receipts_are_found_then_erased_after_their_period(store: &dyn Store) {
    let p = valid(position(vec![
        option(1, 300, at(2030, 1, 1), false),
        option(2, 300, at(2030, 1, 1), false),
    ]));
    let navs: Vec<_> = p.options.iter().map(|o| o.nav.clone()).collect();
    store.create_position(p).await.unwrap();
    store
        .put_broadcast_station(station(ORG, "S1"))
        .await
        .unwrap();
    let payer = |id: &str| {
        Subject::named(
            EntityType::F,
            EntityId::parse(id).unwrap(),
            Text::new("Giuseppe Verdi").unwrap(),
        )
    };
    let transfer = |i| {
        crate::domain::receipt::tests::transfer(
            i,
            ORG,
            crate::domain::receipt::ReceiptAccount::Iban(
                Text::new("IT60X0542811101000000123456").unwrap(),
            ),
        )
    };
    // The first paid by DEBTOR for its debtor; the second owed by DEBTOR and paid by another.
    let first = new_receipt_changed("r1", &navs[0], vec![transfer(1)], 300, |r| {
        r.payer = Some(payer(DEBTOR))
    });
    let second = new_receipt_changed("r2", &navs[1], vec![transfer(1)], 300, |r| {
        r.debtor = payer(DEBTOR);
        r.payer = Some(payer("BNCLRA70A41H501X"));
    });
    let mut deliveries = 0;
    for receipt in [first, second] {
        match store.acquire_receipt(receipt).await.unwrap() {
            Acquisition::Stored { deliveries: d, .. } => deliveries += d.len(),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(deliveries, 2);

    let found = store.subject_receipts(org(), DEBTOR.into()).await.unwrap();
    let ids: Vec<&str> = found
        .iter()
        .map(|r| r.summary.receipt_id.as_str())
        .collect();
    assert_eq!(ids, ["r1", "r2"]);
    assert_eq!(found[0].summary.payer.as_deref(), Some(DEBTOR));
    assert_eq!(found[1].summary.debtor, DEBTOR);
    assert_eq!(found[0].document, b"<doc>r1</doc>");
    assert!(found.iter().all(|r| r.personal_data_erased.is_none()));
    let other = store
        .subject_receipts(other_org(), DEBTOR.into())
        .await
        .unwrap();
    assert!(other.is_empty(), "another creditor sees none");

    // Received 2029-06-01: not yet before that instant, then both.
    let received = at(2029, 6, 1);
    let redact = || -> crate::store::Redact { Box::new(|d: &[u8]| [b"erased:", d].concat()) };
    let now = received + Duration::days(3650);
    assert_eq!(
        store
            .erase_receipts_received_before(received, now, redact(), 10)
            .await
            .unwrap(),
        0
    );
    let later = received + Duration::seconds(1);
    assert_eq!(
        store
            .erase_receipts_received_before(later, now, redact(), 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .erase_receipts_received_before(later, now, redact(), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .erase_receipts_received_before(later, now, redact(), 10)
            .await
            .unwrap(),
        0,
        "erased once"
    );
    assert!(
        store
            .subject_receipts(org(), DEBTOR.into())
            .await
            .unwrap()
            .is_empty()
    );
    let erased = store.subject_receipts(org(), ERASED.into()).await.unwrap();
    assert_eq!(erased.len(), 2);
    for r in &erased {
        assert_eq!(r.summary.debtor, ERASED);
        assert_eq!(r.summary.payer, None);
        assert_eq!(r.personal_data_erased, Some(now));
        let expected = format!("erased:<doc>{}</doc>", r.summary.receipt_id);
        assert_eq!(r.document, expected.as_bytes());
    }
    // The requests the station is sent were rewritten too.
    let due = store
        .claim_deliveries(at(2099, 1, 1), at(2099, 1, 2), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|d| d.request.starts_with(b"erased:")));
}
