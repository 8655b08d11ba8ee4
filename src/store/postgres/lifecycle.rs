//! Debt positions over their life: listing a creditor's positions with filters, ordering and
//! paging in SQL, and the sweep that writes the statuses time has given them. Statuses that
//! change with time are evaluated in SQL by [`effective_status`], which mirrors the domain's
//! `DebtPosition::status_at` over the columns the domain keeps for it (`validity_date`,
//! `expires_after`); a test holds the two to the same answers.

use chrono::NaiveDateTime;
use tokio_postgres::types::ToSql;

use super::filter::{Bounds, Where};
use super::positions::load_positions_by_id;
use super::{PgStore, db_error, read_transaction};
use crate::domain::FiscalCodePA;
use crate::domain::position::DebtPosition;
use crate::store::columns::{millis, quoted_list};
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
            let stored = quoted_list(status.stored_as().iter().map(|s| s.as_str()));
            let at = filters.bind(millis(now));
            let wanted = filters.bind(status.as_str());
            filters.and(format!(
                "status IN ({}) AND {} = {wanted}",
                stored,
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
        let bounds = Bounds::of(page);
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
        let limit = bounds.bind(&mut params);
        let sql = format!(
            "SELECT id FROM debt_position WHERE {condition}
             ORDER BY {key} {dir}, id {dir} {limit}"
        );

        let mut client = self.client().await?;
        // The count and the page from one snapshot.
        let tx = read_transaction(&mut client).await?;
        let items_found = filters.count(&tx, "debt_position").await?;
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
            items_found,
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
        super::commit(tx).await?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::PositionStatus;
    use crate::domain::position::tests::at;
    use crate::store::conformance::lifecycle::numbered;
    use crate::store::conformance::org;
    use crate::store::postgres::testing::fresh_pair;
    use crate::store::{PageRequest, PositionFilter, PositionOrder};

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
            page: PageRequest {
                page: 0,
                limit: 100,
            },
        };
        // Stored as VALID: at the publication date they would not be VALID otherwise.
        let listed = a
            .list_positions(org(), query, at(2025, 6, 1))
            .await
            .unwrap();
        assert_eq!(listed.items_found, 30);
    }
}
