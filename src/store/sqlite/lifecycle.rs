//! Debt positions over their life: listing a creditor's positions with filters, ordering and
//! paging in SQL, deleting one, and the sweep that writes the statuses time has given them.
//! Statuses that change with time are evaluated in SQL by [`EFFECTIVE_STATUS`], which mirrors
//! the domain's `DebtPosition::status_at` over the columns the domain keeps for it
//! (`validity_date`, `expires_after`); a test holds the two to the same answers.

use rusqlite::types::Value;
use rusqlite::{Connection, ToSql, params};

use super::columns::{codes_pattern, millis};
use super::connection::unavailable;
use super::filter::Where;
use super::positions::{load_position, load_position_by_id};
use crate::domain::FiscalCodePA;
use crate::domain::position::{DebtPosition, Iupd};
use crate::store::{
    Expected, Guard, Page, PositionKey, PositionOrderBy, PositionQuery, StoreError,
};
use chrono::NaiveDateTime;

/// The status in force at `:now`: PUBLISHED becomes VALID once the validity date has come,
/// and (PUBLISHED or) VALID becomes EXPIRED past `expires_after`.
const EFFECTIVE_STATUS: &str = "(CASE
    WHEN status IN ('PUBLISHED', 'VALID')
         AND (status = 'VALID' OR validity_date IS NULL OR validity_date <= :now)
         AND expires_after < :now THEN 'EXPIRED'
    WHEN status = 'PUBLISHED' AND (validity_date IS NULL OR validity_date <= :now) THEN 'VALID'
    ELSE status END)";

pub(super) fn list(
    conn: &Connection,
    organization: &FiscalCodePA,
    query: &PositionQuery,
    now: NaiveDateTime,
) -> Result<Page<DebtPosition>, StoreError> {
    let (filter, order, page) = (&query.filter, query.order, query.page);
    let mut filters = Where::new("organization = :org");
    filters.bind(":org", organization.to_string());
    if let Some(status) = filter.status {
        // The stored statuses first, so that the (organization, status) index narrows the rows.
        let stored: Vec<String> = status
            .stored_as()
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        filters
            .and(format!(
                "status IN ({}) AND {EFFECTIVE_STATUS} = :status",
                stored.join(", ")
            ))
            .bind(":status", status.as_str().to_owned());
    }
    if filter.due.is_some() {
        let mut due = Where::new("organization = :org");
        due.window("due_date", [":due_from", ":due_to"], filter.due);
        filters.nested(due, |due| {
            format!("id IN (SELECT position_id FROM payment_option WHERE {due})")
        });
    }
    filters.window("payment_date", [":paid_from", ":paid_to"], filter.paid);
    if let Some(codes) = &filter.segregation_codes {
        filters
            .and(
                "NOT EXISTS (SELECT 1 FROM payment_option o WHERE o.position_id = debt_position.id
                AND instr(:codes, ',' || substr(o.iuv, 1, 2) || ',') = 0)",
            )
            .bind(":codes", codes_pattern(codes));
    }
    let condition = filters.sql();
    let count_uses_now = condition.contains(":now");

    let items_found: i64 = {
        let mut params = filters.params();
        let now_ms = Value::from(millis(now));
        if count_uses_now {
            params.push((":now", &now_ms));
        }
        conn.prepare_cached(&format!(
            "SELECT count(*) FROM debt_position WHERE {condition}"
        ))
        .and_then(|mut st| st.query_row(params.as_slice(), |r| r.get(0)))
        .map_err(unavailable)?
    };

    let dir = if order.descending { "DESC" } else { "ASC" };
    let key = match order.by {
        PositionOrderBy::InsertedDate => "inserted_date",
        PositionOrderBy::Iupd => "iupd",
        PositionOrderBy::CompanyName => "company_name",
        PositionOrderBy::Status => EFFECTIVE_STATUS,
    };
    let sql = format!(
        "SELECT id FROM debt_position WHERE {condition}
         ORDER BY {key} {dir}, id {dir} LIMIT :limit OFFSET :offset"
    );
    let now_ms = Value::from(millis(now));
    let limit = Value::from(i64::from(page.limit));
    let offset = Value::from(i64::from(page.page) * i64::from(page.limit));
    let mut params = filters.params();
    if sql.contains(":now") {
        params.push((":now", &now_ms));
    }
    params.push((":limit", &limit));
    params.push((":offset", &offset));
    let ids: Vec<i64> = {
        let mut st = conn.prepare_cached(&sql).map_err(unavailable)?;
        let rows = st
            .query_map(params.as_slice(), |r| r.get(0))
            .map_err(unavailable)?;
        rows.collect::<Result<_, _>>().map_err(unavailable)?
    };
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        // Read in the same transaction as the ids: the row is there.
        if let Some((_, p)) = load_position_by_id(conn, id)? {
            items.push(p);
        }
    }
    Ok(Page {
        items,
        request: page,
        items_found: items_found as u64,
    })
}

pub(super) fn delete(
    tx: &Connection,
    organization: &FiscalCodePA,
    iupd: Iupd,
    expected: &Expected,
    guard: Guard,
) -> Result<DebtPosition, StoreError> {
    let (ids, position) =
        load_position(tx, organization, &PositionKey::Iupd(iupd))?.ok_or(StoreError::NotFound)?;
    if !expected.admits(position.version) {
        return Err(StoreError::VersionMismatch {
            current: position.version,
        });
    }
    guard(&position).map_err(refused)?;
    // Options and transfers go with it (ON DELETE CASCADE).
    let deleted = tx
        .prepare_cached("DELETE FROM debt_position WHERE id = ?1 AND version = ?2")
        .and_then(|mut st| st.execute(params![ids.position, position.version]))
        .map_err(unavailable)?;
    if deleted != 1 {
        return Err(unavailable(
            "the position changed while it was being deleted",
        ));
    }
    Ok(position)
}

pub(super) use crate::store::error::refused;

pub(super) fn sweep(tx: &Connection, now: NaiveDateTime, limit: u32) -> Result<u32, StoreError> {
    // The partial indexes of the sweep find the candidates; the effective status keeps only
    // those time has moved.
    let ids: Vec<i64> = {
        let mut st = tx
            .prepare_cached(&format!(
                "SELECT id FROM debt_position WHERE id IN (
                    SELECT id FROM debt_position WHERE status = 'PUBLISHED' AND validity_date <= :now
                    UNION ALL
                    SELECT id FROM debt_position WHERE status = 'PUBLISHED' AND validity_date IS NULL
                    UNION ALL
                    SELECT id FROM debt_position
                    WHERE status IN ('PUBLISHED', 'VALID') AND expires_after < :now)
                 AND {EFFECTIVE_STATUS} <> status
                 LIMIT :limit"
            ))
            .map_err(unavailable)?;
        let rows = st
            .query_map(
                &[
                    (":now", &millis(now) as &dyn ToSql),
                    (":limit", &i64::from(limit)),
                ],
                |r| r.get(0),
            )
            .map_err(unavailable)?;
        rows.collect::<Result<_, _>>().map_err(unavailable)?
    };
    let mut changed = 0;
    for id in ids {
        let Some((_, mut position)) = load_position_by_id(tx, id)? else {
            continue;
        };
        let before = position.status;
        if position.settle(now).is_none() {
            continue;
        }
        // Compare and set: only the status time moved, at the version that was read.
        let written = tx
            .prepare_cached(
                "UPDATE debt_position SET status = ?1 WHERE id = ?2 AND version = ?3 AND status = ?4",
            )
            .and_then(|mut st| {
                st.execute(params![
                    position.status.as_str(),
                    id,
                    position.version,
                    before.as_str()
                ])
            })
            .map_err(unavailable)?;
        changed += written as u32;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::super::SqliteStore;
    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{PositionStatus, Refusal};
    use crate::store::{PageRequest, PositionFilter, PositionOrder, Store, TimeWindow};

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse("77777777777").unwrap()
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, store)
    }

    /// Position `n`: IUPD `P-n`, IUV base `n`, created `n` minutes after a fixed instant.
    fn numbered(n: u64) -> DebtPosition {
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

    #[tokio::test]
    async fn effective_status_in_sql_agrees_with_the_domain() {
        let (_dir, store) = store();
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
            // Ordering by status orders by the status in force.
            let order = PositionOrder {
                by: PositionOrderBy::Status,
                descending: false,
            };
            let all = store
                .list_positions(
                    org(),
                    PositionQuery {
                        filter: PositionFilter::default(),
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

    #[tokio::test]
    async fn filters_order_and_pages() {
        let (_dir, store) = store();
        for n in 1..=7 {
            let mut p = numbered(n);
            p.options[0].due_date = at(2025, 7, n as u32);
            if n % 2 == 0 {
                p.company_name = crate::domain::Text::new(format!("B{}", 10 - n)).unwrap();
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

    #[tokio::test]
    async fn list_queries_use_the_indexes() {
        let (_dir, store) = store();
        store.create_position(numbered(1)).await.unwrap();
        let conn = Connection::open(store.path()).unwrap();
        let plan = |sql: &str| -> String {
            let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = st
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>();
            rows.join("\n")
        };
        let newest = plan(
            "SELECT id FROM debt_position WHERE organization = '1'
             ORDER BY inserted_date DESC, id DESC LIMIT 10",
        );
        assert!(newest.contains("debt_position_by_inserted"), "{newest}");
        assert!(!newest.contains("TEMP B-TREE"), "{newest}");
        let due = plan(
            "SELECT count(*) FROM debt_position WHERE organization = '1' AND id IN
             (SELECT position_id FROM payment_option WHERE organization = '1' AND due_date >= 5)",
        );
        assert!(due.contains("payment_option_by_due_date"), "{due}");
        let sweep = plan(
            "SELECT id FROM debt_position WHERE status IN ('PUBLISHED', 'VALID') AND expires_after < 5",
        );
        assert!(sweep.contains("debt_position_to_expire"), "{sweep}");
    }

    #[tokio::test]
    async fn sweep_writes_the_status_without_a_new_version() {
        let (_dir, store) = store();
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

    #[tokio::test]
    async fn sweep_goes_in_batches() {
        let (_dir, store) = store();
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

    #[tokio::test]
    async fn delete_checks_version_and_guard() {
        let (_dir, store) = store();
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
}
