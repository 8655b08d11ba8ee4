//! Personal data on PostgreSQL: erasing debtors of positions past their retention or on
//! request, payers and debtors of receipts past theirs, and finding what the store holds of one
//! data subject. Rows are locked as they are erased (`FOR UPDATE`, candidates of the sweep
//! `SKIP LOCKED`), so instances share the work. The old row versions stay in the table's
//! files until VACUUM reclaims them (docs/decisions.md says what an operator does).

use chrono::NaiveDateTime;
use deadpool_postgres::Transaction;

use super::positions::bound;
use super::positions::load_positions_by_id;
use super::statements::Statements;
use super::{PgStore, db_error};
use crate::domain::FiscalCodePA;
use crate::domain::personal_data::ERASED;
use crate::domain::position::DebtPosition;
use crate::store::columns::*;
use crate::store::{ErasureRule, Redact, StoreError, SubjectReceipt};

impl PgStore {
    pub async fn erase_positions_past_retention(
        &self,
        now: NaiveDateTime,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let ids: Vec<i64> = tx
            .rows(
                "SELECT id FROM debt_position
                 WHERE retained_until < $1 AND personal_data_erased_at IS NULL
                 LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&millis(now), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut erased = 0;
        for (ids, position) in load_positions_by_id(&tx, &ids).await? {
            erased += erase_position(&tx, ids.position, position, now).await?;
        }
        super::commit(tx).await?;
        Ok(erased)
    }

    pub async fn debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
    ) -> Result<Vec<DebtPosition>, StoreError> {
        let mut client = self.client().await?;
        let tx = super::read_transaction(&mut client).await?;
        let ids = debtor_position_ids(&tx, &organization, &debtor, false).await?;
        let positions = load_positions_by_id(&tx, &ids).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(positions.into_iter().map(|(_, p)| p).collect())
    }

    pub async fn erase_debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
        now: NaiveDateTime,
        rule: ErasureRule,
    ) -> Result<Vec<(DebtPosition, bool)>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let ids = debtor_position_ids(&tx, &organization, &debtor, true).await?;
        let mut answer = Vec::new();
        for (ids, position) in load_positions_by_id(&tx, &ids).await? {
            let take = !position.is_erased() && rule(&position);
            if take {
                erase_position(&tx, ids.position, position.clone(), now).await?;
            }
            answer.push((position, take));
        }
        super::commit(tx).await?;
        Ok(answer)
    }

    pub async fn subject_receipts(
        &self,
        organization: FiscalCodePA,
        subject: String,
    ) -> Result<Vec<SubjectReceipt>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {} FROM receipt WHERE id IN (
                SELECT id FROM receipt WHERE organization = $1 AND (debtor = $2 OR payer = $2)
                UNION SELECT r.id FROM receipt_beneficiary b JOIN receipt r ON r.id = b.receipt
                      WHERE b.organization = $1 AND (r.debtor = $2 OR r.payer = $2))
             ORDER BY received_at, id",
            *SUBJECT_RECEIPT_COLUMNS
        );
        let rows = client
            .rows(&sql, &[&organization.as_str(), &subject])
            .await?;
        rows.iter().map(subject_receipt).collect()
    }

    pub async fn erase_receipts_received_before(
        &self,
        before: NaiveDateTime,
        now: NaiveDateTime,
        redact: Redact,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let rows: Vec<(i64, Vec<u8>)> = tx
            .rows(
                "SELECT id, document FROM receipt
                 WHERE received_at < $1 AND personal_data_erased_at IS NULL
                 ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&millis(before), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for (id, document) in &rows {
            tx.exec(
                "UPDATE receipt SET debtor = $2, payer = NULL, document = $3,
                    personal_data_erased_at = $4 WHERE id = $1",
                &[id, &ERASED, &redact(document), &millis(now)],
            )
            .await?;
            let requests = tx
                .rows(
                    "SELECT r.delivery, r.request FROM delivery_request r
                     JOIN delivery d ON d.id = r.delivery WHERE d.receipt = $1 FOR UPDATE OF r",
                    &[id],
                )
                .await?;
            for r in requests {
                let (delivery, request): (i64, Vec<u8>) = (r.get(0), r.get(1));
                tx.exec(
                    "UPDATE delivery_request SET request = $2 WHERE delivery = $1",
                    &[&delivery, &redact(&request)],
                )
                .await?;
            }
        }
        super::commit(tx).await?;
        Ok(rows.len() as u32)
    }
}

/// Writes `position` with its debtor erased at `now` (the domain's erasure), if its row is
/// still at the version read; 1 when written.
async fn erase_position(
    tx: &Transaction<'_>,
    id: i64,
    position: DebtPosition,
    now: NaiveDateTime,
) -> Result<u32, StoreError> {
    let values = erased_debtor_values(id, position, now);
    let written = tx.exec(&erase_debtor_sql('$'), &bound(&values)).await?;
    Ok(written as u32)
}

async fn debtor_position_ids(
    tx: &Transaction<'_>,
    organization: &FiscalCodePA,
    debtor: &str,
    lock: bool,
) -> Result<Vec<i64>, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let rows = tx
        .rows(
            &format!(
                "SELECT id FROM debt_position WHERE organization = $1 AND debtor_fiscal_code = $2
                 ORDER BY iupd{lock}"
            ),
            &[&organization.as_str(), &debtor],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
