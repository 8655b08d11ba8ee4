//! Options notified through SEND, marked in bulk (`POST /internal/config/send`).

use super::statements::Statements;
use super::{PgStore, commit, db_error};
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::store::StoreError;

impl PgStore {
    /// One statement for the whole list: the options found, those newly marked, and their
    /// positions' versions bumped.
    pub async fn mark_send_sync(
        &self,
        items: &[(FiscalCodePA, NoticeNumber)],
    ) -> Result<u32, StoreError> {
        let organizations: Vec<&str> = items.iter().map(|(o, _)| o.as_str()).collect();
        let navs: Vec<&str> = items.iter().map(|(_, n)| n.as_str()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let found: i64 = tx
            .value(
                "WITH items AS (SELECT DISTINCT * FROM unnest($1::text[], $2::text[]) AS i(organization, nav)),
                 found AS (
                     SELECT o.id, o.position_id, o.send_sync FROM payment_option o
                     JOIN items i ON o.organization = i.organization AND o.nav = i.nav),
                 marked AS (
                     UPDATE payment_option SET send_sync = true
                     WHERE id IN (SELECT id FROM found WHERE NOT send_sync)
                     RETURNING position_id),
                 bumped AS (
                     UPDATE debt_position SET version = version + 1
                     WHERE id IN (SELECT position_id FROM marked)
                     RETURNING id)
                 SELECT count(*) FROM found",
                &[&organizations, &navs],
            )
            .await?;
        commit(tx).await?;
        Ok(found as u32)
    }
}
