//! Debt positions over their life: listing a creditor's positions with filters, ordering and
//! paging in SQL, deleting one, and the sweep that writes the statuses time has given them.
//! Statuses that change with time are evaluated in SQL by [`EFFECTIVE_STATUS`], which mirrors
//! the domain's `DebtPosition::status_at` over the columns the domain keeps for it
//! (`validity_date`, `expires_after`); a test holds the two to the same answers.

use rusqlite::types::Value;
use rusqlite::{Connection, ToSql, params};

use super::columns::{codes_pattern, millis, quoted_list};
use super::connection::unavailable;
use super::filter::Where;
use super::positions::{load_position, load_position_by_id, write_notices};
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
        let stored = quoted_list(status.stored_as().iter().map(|s| s.as_str()));
        filters
            .and(format!(
                "status IN ({}) AND {EFFECTIVE_STATUS} = :status",
                stored
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
        if written == 1 {
            write_notices(tx, &position, position.version)?;
        }
        changed += written as u32;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::*;
    use crate::store::Store;
    use crate::store::conformance::lifecycle::numbered;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, store)
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
}
