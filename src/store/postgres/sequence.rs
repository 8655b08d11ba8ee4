//! IUVs the gateway issues itself: the next base of a per-creditor, per-segregation-code
//! sequence that no option or receipt of the creditor uses yet, taken in the same transaction
//! as the position that gets it, so that a refused insert leaves the sequence where it was.
//! The sequence's row is locked (`FOR UPDATE`) from its read to the commit: instances issue one
//! IUV at a time per creditor and code, and never the same one; the unique constraints on
//! `payment_option` stay the final guard. The positions made so are marked spontaneous, and
//! counted here for the creditor's cap.

use chrono::NaiveDateTime;
use deadpool_postgres::Transaction;

use super::positions::insert_position;
use super::statements::Statements;
use super::{PgStore, db_error, unavailable};
use crate::domain::position::DebtPosition;
use crate::domain::{FiscalCodePA, Iuv, SegregationCode};
use crate::store::columns::millis;
use crate::store::{IuvBuilder, StoreError};

/// Bases tried before giving up: a run of this many taken IUVs means the creditor issues
/// IUVs of this segregation code elsewhere too, which the configuration should not allow.
const MAX_TRIES: u32 = 1000;

impl PgStore {
    pub async fn create_with_new_iuv(
        &self,
        organization: FiscalCodePA,
        segregation: SegregationCode,
        build: IuvBuilder,
    ) -> Result<DebtPosition, StoreError> {
        let code = segregation.to_string();
        let mut client = self.client().await?;
        let mut tx = client.transaction().await.map_err(db_error)?;
        tx.exec(
            "INSERT INTO iuv_sequence (organization, segregation_code, next_base) VALUES ($1, $2, 1)
             ON CONFLICT DO NOTHING",
            &[&organization.as_str(), &code],
        )
        .await?;
        // Another instance issuing an IUV of this code waits here until this one commits, and
        // then reads the base it left.
        let stored: i64 = tx
            .value(
                "SELECT next_base FROM iuv_sequence WHERE organization = $1 AND segregation_code = $2
                 FOR UPDATE",
                &[&organization.as_str(), &code],
            )
            .await?;
        let first = stored.max(1) as u64;
        for base in first..first + u64::from(MAX_TRIES) {
            let iuv = Iuv::from_parts(segregation, base).map_err(|_| {
                unavailable(format!(
                    "every IUV of segregation code {code} has been issued for {organization}"
                ))
            })?;
            if taken(&tx, &organization, &iuv).await? {
                continue;
            }
            let position = build(iuv);
            debug_assert_eq!(position.organization, organization);
            match insert_spontaneous(&mut tx, &position).await {
                Ok(()) => {
                    tx.exec(
                        "UPDATE iuv_sequence SET next_base = $3
                         WHERE organization = $1 AND segregation_code = $2",
                        &[&organization.as_str(), &code, &(base as i64 + 1)],
                    )
                    .await?;
                    super::commit(tx).await?;
                    return Ok(position);
                }
                // Taken after all (an IUPD the creditor chose, say): the next one.
                Err(StoreError::Duplicate { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Err(unavailable(format!(
            "no free IUV of segregation code {code} for {organization} in {MAX_TRIES} tries"
        )))
    }

    pub async fn count_unpaid_spontaneous(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let client = self.client().await?;
        // The status and spontaneous terms are the partial index's own, so that it is used.
        let count: i64 = client
            .value(
                "SELECT count(*) FROM (SELECT 1 FROM debt_position
                    WHERE organization = $1 AND spontaneous AND status IN ('PUBLISHED', 'VALID')
                      AND (expires_after IS NULL OR expires_after >= $2)
                    LIMIT $3) AS payable",
                &[&organization.as_str(), &millis(now), &i64::from(limit)],
            )
            .await?;
        Ok(count as u32)
    }
}

/// Inserts the position marked spontaneous, in a savepoint: a refused insert undoes only its
/// own rows, and the transaction, with its lock on the sequence, goes on to the next IUV.
async fn insert_spontaneous(
    tx: &mut Transaction<'_>,
    position: &DebtPosition,
) -> Result<(), StoreError> {
    let savepoint = tx.savepoint("new_iuv").await.map_err(db_error)?;
    let id = match insert_position(&savepoint, position).await {
        Ok(id) => id,
        Err(e) => {
            savepoint.rollback().await.map_err(db_error)?;
            return Err(e);
        }
    };
    savepoint
        .exec(
            "UPDATE debt_position SET spontaneous = true WHERE id = $1",
            &[&id],
        )
        .await?;
    savepoint.commit().await.map_err(db_error)
}

/// Whether an option or a receipt of the creditor already has this IUV (or its notice number).
async fn taken(
    tx: &Transaction<'_>,
    organization: &FiscalCodePA,
    iuv: &Iuv,
) -> Result<bool, StoreError> {
    tx.value(
        "SELECT EXISTS (SELECT 1 FROM payment_option WHERE organization = $1 AND iuv = $2)
             OR EXISTS (SELECT 1 FROM payment_option WHERE organization = $1 AND nav = $3)
             OR EXISTS (SELECT 1 FROM receipt WHERE organization = $1 AND iuv = $2)",
        &[
            &organization.as_str(),
            &iuv.as_str(),
            &iuv.notice_number().as_str(),
        ],
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::domain::position::tests::at;
    use crate::store::conformance::org;
    use crate::store::conformance::sequence::{issue, seg};
    use crate::store::postgres::testing::fresh_database;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_issuing_together_never_share_an_iuv() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let a = std::sync::Arc::new(PgStore::connect(&url, 4).await.unwrap());
        let b = std::sync::Arc::new(PgStore::connect(&url, 4).await.unwrap());
        // Both start on a creditor and code without a row in the sequence yet.
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { issue(&*store, org(), "02").await })
            })
            .collect();
        let mut issued = HashSet::new();
        for t in tasks {
            assert!(issued.insert(t.await.unwrap()));
        }
        assert_eq!(issued.len(), 40);
        assert!(issued.contains(&Iuv::from_parts(seg("02"), 40).unwrap()));
        assert_eq!(
            a.count_unpaid_spontaneous(org(), at(2026, 1, 1), 100)
                .await
                .unwrap(),
            0,
            "DRAFT positions are not payable"
        );
    }
}
