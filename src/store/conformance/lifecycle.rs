//! A creditor's positions listed with filters, ordering and paging; statuses time gives them,
//! read and swept; deletion under a version and a guard.

use chrono::Duration;

use super::org;
use crate::domain::position::tests::{at, option, position};
use crate::domain::position::{DebtPosition, Iupd, PositionStatus, Refusal};
use crate::domain::{FiscalCodePA, Iuv, SegregationCode, Text};
use crate::store::{
    Expected, Page, PageRequest, PositionFilter, PositionKey, PositionOrder, PositionOrderBy,
    PositionQuery, Store, StoreError, TimeWindow,
};

/// Position `n`: IUPD `P-n`, IUV base `n`, created `n` minutes after a fixed instant.
pub fn numbered(n: u64) -> DebtPosition {
    let mut p = position(vec![option(n, 100 * n as i64, at(2030, 1, 1), false)]);
    p.iupd = Iupd::parse(&format!("P-{n:03}")).unwrap();
    p.inserted_date = at(2025, 1, 1) + Duration::minutes(n as i64);
    p
}

fn page(page: u32, limit: u32) -> PageRequest {
    PageRequest { page, limit }
}

fn iupds(p: &Page<DebtPosition>) -> Vec<&str> {
    p.items.iter().map(|p| p.iupd.as_str()).collect()
}

pub async fn effective_status_in_sql_agrees_with_the_domain(store: &dyn Store) {
    let mut n = 0;
    let mut created = Vec::new();
    for stored in PositionStatus::ALL {
        for validity in [None, Some(at(2025, 6, 10))] {
            for expires in [false, true] {
                n += 1;
                let mut p = numbered(n);
                p.options[0].due_date = at(2025, 7, 1);
                p.status = stored;
                p.validity_date = validity;
                p.switch_to_expired = expires;
                store.create_position(p.clone()).await.unwrap();
                created.push(p);
            }
        }
    }
    for now in [
        at(2025, 6, 1),
        at(2025, 6, 10),
        at(2025, 6, 20),
        at(2025, 8, 1),
    ] {
        for status in PositionStatus::ALL {
            let filter = PositionFilter {
                status: Some(status),
                ..Default::default()
            };
            let listed = store
                .list_positions(
                    org(),
                    PositionQuery {
                        filter,
                        order: PositionOrder::default(),
                        page: page(0, 100),
                    },
                    now,
                )
                .await
                .unwrap();
            let mut got: Vec<_> = iupds(&listed).into_iter().map(str::to_owned).collect();
            let mut want: Vec<_> = created
                .iter()
                .filter(|p| p.status_at(now) == status)
                .map(|p| p.iupd.to_string())
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{status} at {now}");
            assert_eq!(listed.items_found as usize, want.len());
        }
        // Ordering by status orders by the status in force, with and without its filter.
        for status in [None, Some(PositionStatus::Valid)] {
            let order = PositionOrder {
                by: PositionOrderBy::Status,
                descending: false,
            };
            let filter = PositionFilter {
                status,
                ..Default::default()
            };
            let all = store
                .list_positions(
                    org(),
                    PositionQuery {
                        filter,
                        order,
                        page: page(0, 100),
                    },
                    now,
                )
                .await
                .unwrap();
            let shown: Vec<&str> = all
                .items
                .iter()
                .map(|p| p.status_at(now).as_str())
                .collect();
            let mut sorted = shown.clone();
            sorted.sort();
            assert_eq!(shown, sorted, "at {now}");
        }
    }
}

pub async fn filters_order_and_pages(store: &dyn Store) {
    for n in 1..=7 {
        let mut p = numbered(n);
        p.options[0].due_date = at(2025, 7, n as u32);
        if n % 2 == 0 {
            p.company_name = Text::new(format!("B{}", 10 - n)).unwrap();
        }
        if n == 3 {
            p.status = PositionStatus::Paid;
            p.payment_date = Some(at(2025, 6, 15));
        }
        store.create_position(p).await.unwrap();
    }
    let mut other = numbered(1);
    other.organization = FiscalCodePA::parse("88888888888").unwrap();
    store.create_position(other).await.unwrap();
    let now = at(2025, 6, 1);
    let list = |filter: PositionFilter, order: PositionOrder, p: PageRequest| {
        let query = PositionQuery {
            filter,
            order,
            page: p,
        };
        store.list_positions(org(), query, now)
    };

    let newest = list(
        PositionFilter::default(),
        PositionOrder::default(),
        page(0, 3),
    )
    .await
    .unwrap();
    assert_eq!(iupds(&newest), ["P-007", "P-006", "P-005"]);
    assert_eq!((newest.items_found, newest.total_pages()), (7, 3));
    let last = list(
        PositionFilter::default(),
        PositionOrder::default(),
        page(2, 3),
    )
    .await
    .unwrap();
    assert_eq!(iupds(&last), ["P-001"]);
    let beyond = list(
        PositionFilter::default(),
        PositionOrder::default(),
        page(5, 3),
    )
    .await
    .unwrap();
    assert!(beyond.items.is_empty());

    let by_iupd = PositionOrder {
        by: PositionOrderBy::Iupd,
        descending: false,
    };
    let due = PositionFilter {
        due: TimeWindow::new(at(2025, 7, 2), at(2025, 7, 4)),
        ..Default::default()
    };
    let due = list(due, by_iupd, page(0, 10)).await.unwrap();
    assert_eq!(iupds(&due), ["P-002", "P-003", "P-004"]);
    let from_only = PositionFilter {
        due: TimeWindow::new(at(2025, 7, 6), at(2099, 12, 31)),
        ..Default::default()
    };
    assert_eq!(
        iupds(&list(from_only, by_iupd, page(0, 10)).await.unwrap()),
        ["P-006", "P-007"]
    );

    let paid = PositionFilter {
        paid: TimeWindow::new(at(2025, 6, 15), at(2025, 6, 15)),
        ..Default::default()
    };
    assert_eq!(
        iupds(&list(paid, by_iupd, page(0, 10)).await.unwrap()),
        ["P-003"]
    );
    let status = PositionFilter {
        status: Some(PositionStatus::Draft),
        ..Default::default()
    };
    assert_eq!(
        list(status, by_iupd, page(0, 10))
            .await
            .unwrap()
            .items_found,
        6
    );

    let by_company = PositionOrder {
        by: PositionOrderBy::CompanyName,
        descending: false,
    };
    let companies = list(PositionFilter::default(), by_company, page(0, 4))
        .await
        .unwrap();
    // "B2" < "B4" < "B6" < "B8" < "Comune di Esempio" (ties by creation).
    assert_eq!(iupds(&companies), ["P-006", "P-004", "P-002", "P-001"]);
}

pub async fn segregation_codes_keep_positions_whose_every_option_has_one(store: &dyn Store) {
    // P-001: options of codes 01 and 02; P-002: 01 only.
    let mut mixed = numbered(1);
    let mut second = option(9, 100, at(2030, 1, 1), false);
    second.iuv = Iuv::from_parts(SegregationCode::parse("02").unwrap(), 9).unwrap();
    second.nav = second.iuv.notice_number();
    mixed.options.push(second);
    store.create_position(mixed).await.unwrap();
    store.create_position(numbered(2)).await.unwrap();
    let codes = |codes: &[&str]| PositionFilter {
        segregation_codes: Some(
            codes
                .iter()
                .map(|c| SegregationCode::parse(c).unwrap())
                .collect(),
        ),
        ..Default::default()
    };
    let by_iupd = PositionOrder {
        by: PositionOrderBy::Iupd,
        descending: false,
    };
    for (filter, want) in [
        (codes(&["01"]), vec!["P-002"]),
        (codes(&["01", "02"]), vec!["P-001", "P-002"]),
        (codes(&["02"]), vec![]),
        (codes(&[]), vec![]),
    ] {
        let query = PositionQuery {
            filter,
            order: by_iupd,
            page: page(0, 10),
        };
        let listed = store
            .list_positions(org(), query, at(2025, 6, 1))
            .await
            .unwrap();
        assert_eq!(iupds(&listed), want);
        assert_eq!(listed.items_found as usize, want.len());
    }
}

pub async fn sweep_writes_the_status_without_a_new_version(store: &dyn Store) {
    let mut p = numbered(1);
    p.options[0].due_date = at(2025, 7, 1);
    p.validity_date = Some(at(2025, 6, 10));
    p.switch_to_expired = true;
    p.publish(at(2025, 6, 1)).unwrap();
    store.create_position(p.clone()).await.unwrap();
    let mut q = numbered(2);
    q.publish(at(2025, 6, 1)).unwrap();
    store.create_position(q).await.unwrap();
    let key = PositionKey::Iupd(p.iupd.clone());
    let stored = || async {
        store
            .get_position(org(), key.clone())
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(store.sweep_statuses(at(2025, 6, 5), 10).await, Ok(0));
    assert_eq!(stored().await.status, PositionStatus::Published);
    assert_eq!(store.sweep_statuses(at(2025, 6, 10), 10).await, Ok(1));
    let valid = stored().await;
    assert_eq!(valid.status, PositionStatus::Valid);
    assert_eq!(valid.version, p.version);
    assert_eq!(store.sweep_statuses(at(2025, 6, 11), 10).await, Ok(0));
    assert_eq!(store.sweep_statuses(at(2025, 7, 2), 10).await, Ok(1));
    assert_eq!(stored().await.status, PositionStatus::Expired);
}

pub async fn sweep_goes_in_batches(store: &dyn Store) {
    for n in 1..=5 {
        let mut p = numbered(n);
        p.validity_date = Some(at(2025, 6, 10));
        p.publish(at(2025, 6, 1)).unwrap();
        store.create_position(p).await.unwrap();
    }
    let now = at(2025, 6, 11);
    assert_eq!(store.sweep_statuses(now, 2).await, Ok(2));
    assert_eq!(store.sweep_statuses(now, 2).await, Ok(2));
    assert_eq!(store.sweep_statuses(now, 2).await, Ok(1));
    assert_eq!(store.sweep_statuses(now, 2).await, Ok(0));
}

pub async fn delete_checks_version_and_guard(store: &dyn Store) {
    let p = numbered(1);
    store.create_position(p.clone()).await.unwrap();
    let iupd = p.iupd.clone();
    let stale = store
        .delete_position(
            org(),
            iupd.clone(),
            Expected::OneOf(vec![7]),
            Box::new(|_| Ok(())),
        )
        .await;
    assert_eq!(stale, Err(StoreError::VersionMismatch { current: 0 }));
    let refused = store
        .delete_position(
            org(),
            iupd.clone(),
            Expected::Any,
            Box::new(|_| Err(Refusal::Unprocessable("no".into()))),
        )
        .await;
    assert_eq!(refused, Err(StoreError::Unprocessable("no".into())));
    let deleted = store
        .delete_position(
            org(),
            iupd.clone(),
            Expected::OneOf(vec![0]),
            Box::new(|_| Ok(())),
        )
        .await
        .unwrap();
    assert_eq!(deleted, p);
    let key = PositionKey::Iupd(iupd.clone());
    assert_eq!(store.get_position(org(), key).await, Ok(None));
    let nav = PositionKey::Notice(p.options[0].nav.clone());
    assert_eq!(store.get_position(org(), nav).await, Ok(None));
    // Its IUV and IUPD are free again.
    store.create_position(p).await.unwrap();
    let missing = Iupd::parse("nope").unwrap();
    assert_eq!(
        store
            .delete_position(org(), missing, Expected::Any, Box::new(|_| Ok(())))
            .await,
        Err(StoreError::NotFound)
    );
}
