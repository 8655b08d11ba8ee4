//! Debt positions over their life: listing a creditor's positions with filters, ordering and
//! paging in SQL, and the sweep that writes the statuses time has given them. Statuses that
//! change with time are evaluated in SQL by [`effective_status`], which mirrors the domain's
//! `DebtPosition::status_at` over the columns the domain keeps for it (`validity_date`,
//! `expires_after`); a test holds the two to the same answers.

use chrono::NaiveDateTime;
use tokio_postgres::types::ToSql;

use super::filter::Where;
use super::positions::load_positions_by_id;
use super::{PgStore, db_error, read_transaction};
use crate::domain::FiscalCodePA;
use crate::domain::position::DebtPosition;
use crate::store::columns::millis;
use crate::store::{Page, PositionOrderBy, PositionQuery, StoreError};

/// The status in force at `now` (a parameter's placeholder): PUBLISHED becomes VALID once the
/// validity date has come, and (PUBLISHED or) VALID becomes EXPIRED past `expires_after`.
fn effective_status(now: &str) -> String {
    format!(
        "(CASE
            WHEN status IN ('PUBLISHED', 'VALID')
                 AND (status = 'VALID' OR validity_date IS NULL OR validity_date <= {now})
                 AND expires_after < {now} THEN 'EXPIRED'
            WHEN status = 'PUBLISHED' AND (validity_date IS NULL OR validity_date <= {now})
                 THEN 'VALID'
            ELSE status END)"
    )
}

/// Adds `value` to a statement's parameters; returns its placeholder.
fn push<'a>(params: &mut Vec<&'a (dyn ToSql + Sync)>, value: &'a i64) -> String {
    params.push(value);
    format!("${}", params.len())
}

impl PgStore {
    pub async fn list_positions(
        &self,
        organization: FiscalCodePA,
        query: PositionQuery,
        now: NaiveDateTime,
    ) -> Result<Page<DebtPosition>, StoreError> {
        let (filter, order, page) = (&query.filter, query.order, query.page);
        let mut filters = Where::default();
        let org = filters.bind(organization.as_str());
        filters.and(format!("organization = {org}"));
        // Bound once, by the first condition or ordering that needs it.
        let mut now_at = None;
        if let Some(status) = filter.status {
            // The stored statuses first, so that the (organization, status) index narrows the
            // rows.
            let stored: Vec<String> = status
                .stored_as()
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            let at = filters.bind(millis(now));
            let wanted = filters.bind(status.as_str());
            filters.and(format!(
                "status IN ({}) AND {} = {wanted}",
                stored.join(", "),
                effective_status(&at)
            ));
            now_at = Some(at);
        }
        if let Some(due) = filters.window("due_date", filter.due) {
            filters.and(format!(
                "id IN (SELECT position_id FROM payment_option WHERE organization = {org} AND {due})"
            ));
        }
        if let Some(paid) = filters.window("payment_date", filter.paid) {
            filters.and(paid);
        }
        if let Some(codes) = &filter.segregation_codes {
            let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
            let codes = filters.bind(codes);
            filters.and(format!(
                "NOT EXISTS (SELECT 1 FROM payment_option o WHERE o.position_id = debt_position.id
                    AND NOT substr(o.iuv, 1, 2) = ANY({codes}))"
            ));
        }
        let condition = filters.sql();

        // The order's own values come after the filter's, in the page's statement only.
        let now_ms = millis(now);
        let limit = i64::from(page.limit);
        let offset = i64::from(page.page) * i64::from(page.limit);
        let mut params = filters.params();
        let dir = if order.descending { "DESC" } else { "ASC" };
        let key = match order.by {
            PositionOrderBy::InsertedDate => "inserted_date".to_owned(),
            PositionOrderBy::Iupd => "iupd".to_owned(),
            PositionOrderBy::CompanyName => "company_name".to_owned(),
            PositionOrderBy::Status => {
                effective_status(&now_at.clone().unwrap_or_else(|| push(&mut params, &now_ms)))
            }
        };
        let limit_at = push(&mut params, &limit);
        let offset_at = push(&mut params, &offset);
        let sql = format!(
            "SELECT id FROM debt_position WHERE {condition}
             ORDER BY {key} {dir}, id {dir} LIMIT {limit_at} OFFSET {offset_at}"
        );

        let mut client = self.client().await?;
        // The count and the page from one snapshot.
        let tx = read_transaction(&mut client).await?;
        let count = tx
            .prepare_cached(&format!(
                "SELECT count(*) FROM debt_position WHERE {condition}"
            ))
            .await
            .map_err(db_error)?;
        let items_found: i64 = tx
            .query_one(&count, &filters.params())
            .await
            .map_err(db_error)?
            .get(0);
        let st = tx.prepare_cached(&sql).await.map_err(db_error)?;
        let ids: Vec<i64> = tx
            .query(&st, &params)
            .await
            .map_err(db_error)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let items = load_positions_by_id(&tx, &ids)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        tx.commit().await.map_err(db_error)?;
        Ok(Page {
            items,
            request: page,
            items_found: items_found as u64,
        })
    }

    pub async fn sweep_statuses(&self, now: NaiveDateTime, limit: u32) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // The partial indexes of the sweep find the candidates; the effective status keeps
        // only those time has moved. Their rows are locked, and those another instance's sweep
        // (or a write) holds are skipped: two sweeps share the work instead of queueing on it.
        let st = tx
            .prepare_cached(&format!(
                "SELECT id FROM debt_position WHERE id IN (
                    SELECT id FROM debt_position WHERE status = 'PUBLISHED' AND validity_date <= $1
                    UNION ALL
                    SELECT id FROM debt_position WHERE status = 'PUBLISHED' AND validity_date IS NULL
                    UNION ALL
                    SELECT id FROM debt_position
                    WHERE status IN ('PUBLISHED', 'VALID') AND expires_after < $1)
                 AND {} <> status
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED",
                effective_status("$1")
            ))
            .await
            .map_err(db_error)?;
        let ids: Vec<i64> = tx
            .query(&st, &[&millis(now), &i64::from(limit)])
            .await
            .map_err(db_error)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let update = tx
            .prepare_cached(
                "UPDATE debt_position SET status = $1 WHERE id = $2 AND version = $3 AND status = $4",
            )
            .await
            .map_err(db_error)?;
        let mut changed = 0;
        for (ids, mut position) in load_positions_by_id(&tx, &ids).await? {
            let before = position.status;
            if position.settle(now).is_none() {
                continue;
            }
            // Compare and set: only the status time moved, at the version that was read.
            let written = tx
                .execute(
                    &update,
                    &[
                        &position.status.as_str(),
                        &ids.position,
                        &position.version,
                        &before.as_str(),
                    ],
                )
                .await
                .map_err(db_error)?;
            changed += written as u32;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{Iupd, PositionStatus};
    use crate::store::postgres::testing::{fresh_pair, fresh_store};
    use crate::store::{PageRequest, PositionFilter, PositionKey, PositionOrder, TimeWindow};

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse("77777777777").unwrap()
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
        let Some(store) = fresh_store().await else {
            return;
        };
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

    #[tokio::test]
    async fn filters_order_and_pages() {
        let Some(store) = fresh_store().await else {
            return;
        };
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
    async fn segregation_codes_keep_positions_whose_every_option_has_one() {
        let Some(store) = fresh_store().await else {
            return;
        };
        // P-001: options of codes 01 and 02; P-002: 01 only.
        let mut mixed = numbered(1);
        let mut second = option(9, 100, at(2030, 1, 1), false);
        second.iuv =
            crate::domain::Iuv::from_parts(crate::domain::SegregationCode::parse("02").unwrap(), 9)
                .unwrap();
        second.nav = second.iuv.notice_number();
        mixed.options.push(second);
        store.create_position(mixed).await.unwrap();
        store.create_position(numbered(2)).await.unwrap();
        let codes = |codes: &[&str]| PositionFilter {
            segregation_codes: Some(
                codes
                    .iter()
                    .map(|c| crate::domain::SegregationCode::parse(c).unwrap())
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

    #[tokio::test]
    async fn sweep_writes_the_status_without_a_new_version() {
        let Some(store) = fresh_store().await else {
            return;
        };
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
        let Some(store) = fresh_store().await else {
            return;
        };
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_sweeping_together_change_each_position_once() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        for n in 1..=30 {
            let mut p = numbered(n);
            p.validity_date = Some(at(2025, 6, 10));
            p.publish(at(2025, 6, 1)).unwrap();
            a.create_position(p).await.unwrap();
        }
        let now = at(2025, 6, 11);
        let mut changed = 0;
        loop {
            let (x, y) = tokio::join!(a.sweep_statuses(now, 4), b.sweep_statuses(now, 4));
            let round = x.unwrap() + y.unwrap();
            if round == 0 {
                break;
            }
            changed += round;
        }
        assert_eq!(changed, 30);
        let valid = PositionFilter {
            status: Some(PositionStatus::Valid),
            ..Default::default()
        };
        let query = PositionQuery {
            filter: valid,
            order: PositionOrder::default(),
            page: page(0, 100),
        };
        // Stored as VALID: at the publication date they would not be VALID otherwise.
        let listed = a
            .list_positions(org(), query, at(2025, 6, 1))
            .await
            .unwrap();
        assert_eq!(listed.items_found, 30);
    }
}
