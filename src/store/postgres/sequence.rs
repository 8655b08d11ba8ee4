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
        let st = tx
            .prepare_cached(
                "INSERT INTO iuv_sequence (organization, segregation_code, next_base) VALUES ($1, $2, 1)
                 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(db_error)?;
        tx.execute(&st, &[&organization.as_str(), &code])
            .await
            .map_err(db_error)?;
        // Another instance issuing an IUV of this code waits here until this one commits, and
        // then reads the base it left.
        let st = tx
            .prepare_cached(
                "SELECT next_base FROM iuv_sequence WHERE organization = $1 AND segregation_code = $2
                 FOR UPDATE",
            )
            .await
            .map_err(db_error)?;
        let stored: i64 = tx
            .query_one(&st, &[&organization.as_str(), &code])
            .await
            .map_err(db_error)?
            .get(0);
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
                    let st = tx
                        .prepare_cached(
                            "UPDATE iuv_sequence SET next_base = $3
                             WHERE organization = $1 AND segregation_code = $2",
                        )
                        .await
                        .map_err(db_error)?;
                    tx.execute(&st, &[&organization.as_str(), &code, &(base as i64 + 1)])
                        .await
                        .map_err(db_error)?;
                    tx.commit().await.map_err(db_error)?;
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
        let st = client
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM debt_position
                    WHERE organization = $1 AND spontaneous AND status IN ('PUBLISHED', 'VALID')
                      AND (expires_after IS NULL OR expires_after >= $2)
                    LIMIT $3) AS payable",
            )
            .await
            .map_err(db_error)?;
        let count: i64 = client
            .query_one(
                &st,
                &[&organization.as_str(), &millis(now), &i64::from(limit)],
            )
            .await
            .map_err(db_error)?
            .get(0);
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
    let st = savepoint
        .prepare_cached("UPDATE debt_position SET spontaneous = true WHERE id = $1")
        .await
        .map_err(db_error)?;
    savepoint.execute(&st, &[&id]).await.map_err(db_error)?;
    savepoint.commit().await.map_err(db_error)
}

/// Whether an option or a receipt of the creditor already has this IUV (or its notice number).
async fn taken(
    tx: &Transaction<'_>,
    organization: &FiscalCodePA,
    iuv: &Iuv,
) -> Result<bool, StoreError> {
    let st = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM payment_option WHERE organization = $1 AND iuv = $2)
                 OR EXISTS (SELECT 1 FROM payment_option WHERE organization = $1 AND nav = $3)
                 OR EXISTS (SELECT 1 FROM receipt WHERE organization = $1 AND iuv = $2)",
        )
        .await
        .map_err(db_error)?;
    Ok(tx
        .query_one(
            &st,
            &[
                &organization.as_str(),
                &iuv.as_str(),
                &iuv.notice_number().as_str(),
            ],
        )
        .await
        .map_err(db_error)?
        .get(0))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{Iupd, PositionStatus};
    use crate::store::PositionKey;
    use crate::store::postgres::testing::{fresh_database, fresh_store};

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse("77777777777").unwrap()
    }

    /// A position whose single option takes the given IUV.
    fn with_iuv(iuv: Iuv) -> DebtPosition {
        let mut p = position(vec![option(1, 1500, at(2030, 1, 1), false)]);
        p.iupd = Iupd::parse(&format!("D-{iuv}")).unwrap();
        p.options[0].nav = iuv.notice_number();
        p.options[0].iuv = iuv;
        p
    }

    fn seg(s: &str) -> SegregationCode {
        SegregationCode::parse(s).unwrap()
    }

    async fn issue(store: &PgStore, organization: FiscalCodePA, code: &str) -> Iuv {
        let p = store
            .create_with_new_iuv(
                organization.clone(),
                seg(code),
                Box::new(move |iuv| {
                    let mut p = with_iuv(iuv);
                    p.organization = organization.clone();
                    p
                }),
            )
            .await
            .unwrap();
        p.options[0].iuv.clone()
    }

    #[tokio::test]
    async fn issued_iuvs_follow_a_sequence_per_creditor_and_segregation_code() {
        let Some(store) = fresh_store().await else {
            return;
        };
        let other = FiscalCodePA::parse("88888888888").unwrap();
        assert_eq!(
            issue(&store, org(), "02").await,
            Iuv::from_parts(seg("02"), 1).unwrap()
        );
        assert_eq!(
            issue(&store, org(), "02").await,
            Iuv::from_parts(seg("02"), 2).unwrap()
        );
        assert_eq!(
            issue(&store, org(), "01").await,
            Iuv::from_parts(seg("01"), 1).unwrap()
        );
        assert_eq!(
            issue(&store, other, "02").await,
            Iuv::from_parts(seg("02"), 1).unwrap()
        );
        let stored = store
            .get_position(
                org(),
                PositionKey::Notice(Iuv::from_parts(seg("02"), 2).unwrap().notice_number()),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.iupd.as_str(),
            format!("D-{}", Iuv::from_parts(seg("02"), 2).unwrap())
        );
    }

    #[tokio::test]
    async fn unpaid_spontaneous_positions_are_counted_up_to_a_limit() {
        let Some(store) = fresh_store().await else {
            return;
        };
        let valid = |mut p: DebtPosition| {
            p.status = PositionStatus::Valid;
            p.switch_to_expired = true;
            p
        };
        for _ in 0..2 {
            store
                .create_with_new_iuv(org(), seg("02"), Box::new(move |iuv| valid(with_iuv(iuv))))
                .await
                .unwrap();
        }
        // Made by the creditor itself: not counted.
        store
            .create_position(valid(with_iuv(Iuv::from_parts(seg("01"), 7).unwrap())))
            .await
            .unwrap();
        let count = |now, limit| store.count_unpaid_spontaneous(org(), now, limit);
        assert_eq!(count(at(2026, 1, 1), 100).await.unwrap(), 2);
        assert_eq!(count(at(2026, 1, 1), 1).await.unwrap(), 1);
        // Past their due date (2030-01-01) they are no longer payable.
        assert_eq!(count(at(2030, 1, 2), 100).await.unwrap(), 0);
        let other = FiscalCodePA::parse("88888888888").unwrap();
        assert_eq!(
            store
                .count_unpaid_spontaneous(other, at(2026, 1, 1), 100)
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn issued_iuvs_skip_those_taken_and_survive_a_restart() {
        let Some(url) = fresh_database().await else {
            return;
        };
        let store = PgStore::connect(&url, 2).await.unwrap();
        // The creditor chose IUVs 3 and 4 itself, and an IUPD that clashes with the one for 5.
        for base in [3, 4] {
            store
                .create_position(with_iuv(Iuv::from_parts(seg("02"), base).unwrap()))
                .await
                .unwrap();
        }
        let mut clash = with_iuv(Iuv::from_parts(seg("01"), 9).unwrap());
        clash.iupd = Iupd::parse(&format!("D-{}", Iuv::from_parts(seg("02"), 5).unwrap())).unwrap();
        store.create_position(clash).await.unwrap();
        let issued: Vec<Iuv> = [
            issue(&store, org(), "02").await,
            issue(&store, org(), "02").await,
            issue(&store, org(), "02").await,
        ]
        .into();
        let bases = [1, 2, 6].map(|b| Iuv::from_parts(seg("02"), b).unwrap());
        assert_eq!(issued, bases);
        drop(store);
        let reopened = PgStore::connect(&url, 2).await.unwrap();
        assert_eq!(
            issue(&reopened, org(), "02").await,
            Iuv::from_parts(seg("02"), 7).unwrap()
        );
    }

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
                tokio::spawn(async move { issue(&store, org(), "02").await })
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
