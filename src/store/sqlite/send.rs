//! Options notified through SEND, marked in bulk (`POST /internal/config/send`).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};

use super::connection::unavailable;
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::store::StoreError;

/// Marks each named option, bumping its position's version (once) when a mark is new; returns
/// how many distinct pairs name an option.
pub(super) fn mark(
    tx: &Connection,
    items: &[(FiscalCodePA, NoticeNumber)],
) -> Result<u32, StoreError> {
    let items: BTreeSet<&(FiscalCodePA, NoticeNumber)> = items.iter().collect();
    let mut found = 0;
    let mut changed = BTreeSet::new();
    for (organization, nav) in items {
        let option = tx
            .prepare_cached(
                "SELECT id, position_id, send_sync FROM payment_option INDEXED BY payment_option_notice
                 WHERE organization = ?1 AND nav = ?2",
            )
            .and_then(|mut st| {
                st.query_row(params![organization.as_str(), nav.as_str()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, bool>(2)?))
                })
                .optional()
            })
            .map_err(unavailable)?;
        let Some((id, position, marked)) = option else {
            continue;
        };
        found += 1;
        if marked {
            continue;
        }
        tx.prepare_cached("UPDATE payment_option SET send_sync = 1 WHERE id = ?1")
            .and_then(|mut st| st.execute([id]))
            .map_err(unavailable)?;
        changed.insert(position);
    }
    for position in changed {
        tx.prepare_cached("UPDATE debt_position SET version = version + 1 WHERE id = ?1")
            .and_then(|mut st| st.execute([position]))
            .map_err(unavailable)?;
    }
    Ok(found)
}
