//! The receipt tables: a receipt acquired (stored, settled on its position, its beneficiaries
//! and deliveries created) in one transaction. SQLite's single writer makes two receipts for
//! one notice come one after the other; here they may arrive on two instances at once, so the
//! acquisition first takes a transaction-scoped advisory lock on the notice (its creditor and
//! number): the second waits for the first to commit, then sees its copy and its payment, and
//! is answered as it would be on one instance. The unique indexes on the receipt's identity
//! stay the guard behind the lock.

use deadpool_postgres::Transaction;

use super::broadcast::stations_of;
use super::positions::{load_position, write_payment};
use super::{PgStore, db_error};
use crate::domain::FiscalCodePA;
use crate::domain::receipt::{ReceiptStatus, Settlement};
use crate::domain::receipt_digest::ReceiptFacts;
use crate::store::columns::*;
use crate::store::{Acquisition, NewReceipt, PositionKey, StoreError};

impl PgStore {
    /// Stores a receipt, applies it to its payment option and creates its deliveries, in one
    /// transaction: when this returns Ok the receipt is durable.
    pub async fn acquire_receipt(&self, new: NewReceipt) -> Result<Acquisition, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let acquired = acquire(&tx, new).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(acquired)
    }
}

async fn acquire(tx: &Transaction<'_>, new: NewReceipt) -> Result<Acquisition, StoreError> {
    let NewReceipt {
        request,
        document,
        digest,
        received_at,
        concerned,
        settle,
        route,
    } = new;
    let receipt = &request.receipt;
    let (organization, nav) = (receipt.fiscal_code.as_str(), receipt.notice_number.as_str());
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('receipt ' || $1 || ' ' || $2, 0))",
        &[&organization, &nav],
    )
    .await
    .map_err(db_error)?;
    let beneficiaries = concerned.get(1..).unwrap_or_default();
    let copies = tx
        .query(
            "SELECT status, digest, amount, iuv, psp_id, debtor, payment_date_time FROM receipt
             WHERE organization = $1 AND nav = $2 AND receipt_id = $3 ORDER BY id",
            &[&organization, &nav, &receipt.receipt_id],
        )
        .await
        .map_err(db_error)?;
    let mut earlier = None;
    for row in copies {
        let status: String = row.get(0);
        let status =
            ReceiptStatus::parse(&status).ok_or_else(|| corrupt("receipt.status", &status))?;
        let stored_digest: Option<Vec<u8>> = row.get(1);
        if stored_digest.as_deref() == Some(&digest.0[..]) {
            return Ok(Acquisition::AlreadyStored(status));
        }
        if earlier.is_none() {
            earlier = Some(ReceiptFacts {
                amount: cents(row.get(2), "receipt.amount")?.to_string(),
                iuv: row.get(3),
                psp_id: row.get(4),
                debtor: row.get(5),
                payment_date_time: row.get(6),
            });
        }
    }
    let row = ReceiptRow {
        new: &request,
        document: &document,
        digest: &digest.0,
        received_at,
    };
    if let Some(earlier) = earlier {
        let id = insert(tx, &row, &Settlement::kept(ReceiptStatus::Conflict)).await?;
        insert_beneficiaries(tx, beneficiaries, id).await?;
        return Ok(Acquisition::Conflict { earlier });
    }

    let key = PositionKey::Notice(receipt.notice_number.clone());
    let mut found = load_position(tx, &receipt.fiscal_code, &key, true).await?;
    let settlement = settle(found.as_mut().map(|(_, p)| p));
    if let (Some(paid), Some((ids, position))) = (settlement.paid_option, &found) {
        write_payment(tx, ids, position, paid).await?;
    }
    let id = insert(tx, &row, &settlement).await?;
    insert_beneficiaries(tx, beneficiaries, id).await?;
    let mut stations = Vec::new();
    for org in &concerned {
        stations.extend(stations_of(tx, Some(org), true).await?);
    }
    let deliveries = route(&settlement, &stations);
    let deliveries = super::deliveries::insert_deliveries(tx, id, deliveries, received_at).await?;
    Ok(Acquisition::Stored {
        settlement,
        deliveries,
    })
}

/// What the receipt row is made of, besides its settlement.
struct ReceiptRow<'a> {
    new: &'a crate::domain::receipt::SendRtRequest,
    document: &'a [u8],
    digest: &'a [u8],
    received_at: chrono::NaiveDateTime,
}

/// Inserts the receipt row; its id.
async fn insert(
    tx: &Transaction<'_>,
    row: &ReceiptRow<'_>,
    settlement: &Settlement,
) -> Result<i64, StoreError> {
    let request = row.new;
    let r = &request.receipt;
    let version = i64::from(request.version.number());
    let payment_time = r.payment_date_time.as_ref().map(|d| millis(d.time));
    let st = tx
        .prepare_cached(
            "INSERT INTO receipt (organization, receipt_id, recipient, broker_id, station_id, version, iuv, nav,
                status, flag, flag_description, amount, debtor, payer, psp_id, psp_company, payment_date_time,
                payment_time, stand_in, received_at, document, digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
             RETURNING id",
        )
        .await
        .map_err(db_error)?;
    let created = tx
        .query_one(
            &st,
            &[
                &r.fiscal_code.as_str(),
                &r.receipt_id,
                &request.ids.id_pa.as_str(),
                &request.ids.id_broker_pa.as_str(),
                &request.ids.id_station.as_str(),
                &version,
                &r.creditor_reference_id.as_str(),
                &r.notice_number.as_str(),
                &settlement.status.as_str(),
                &settlement.flag.as_ref().map(|f| f.code),
                &settlement.flag.as_ref().map(|f| f.description.as_str()),
                &r.payment_amount.get(),
                &r.debtor.entity_id.as_str(),
                &r.payer.as_ref().map(|p| p.entity_id.as_str()),
                &r.id_psp.as_str(),
                &r.psp_company_name.as_str(),
                &r.payment_date_time.as_ref().map(|d| d.lexical.as_str()),
                &payment_time,
                &request.stand_in,
                &millis(row.received_at),
                &row.document,
                &row.digest,
            ],
        )
        .await
        .map_err(db_error)?;
    Ok(created.get(0))
}

/// Lets each of `beneficiaries` see the receipt among its own.
async fn insert_beneficiaries(
    tx: &Transaction<'_>,
    beneficiaries: &[FiscalCodePA],
    receipt: i64,
) -> Result<(), StoreError> {
    for beneficiary in beneficiaries {
        tx.execute(
            "INSERT INTO receipt_beneficiary (organization, receipt) VALUES ($1, $2)",
            &[&beneficiary.as_str(), &receipt],
        )
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fresh_pair, fresh_store};
    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{DebtPosition, Iupd, PositionStatus};
    use crate::store::receipt_fixtures::{ORG, new_receipt, new_receipt_paying, station, valid};

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse(ORG).unwrap()
    }

    /// Position `n` of the creditor, payable, with one option.
    fn payable(n: u64) -> DebtPosition {
        DebtPosition {
            iupd: Iupd::parse(&format!("IUPD-{n}")).unwrap(),
            ..valid(position(vec![option(n, 300, at(2030, 1, 1), false)]))
        }
    }

    fn status(a: &Acquisition) -> ReceiptStatus {
        match a {
            Acquisition::Stored { settlement, .. } => settlement.status,
            Acquisition::AlreadyStored(s) => *s,
            Acquisition::Conflict { .. } => ReceiptStatus::Conflict,
        }
    }

    #[tokio::test]
    async fn applied_once_then_idempotent_then_duplicate_then_conflict() {
        let Some(store) = fresh_store().await else {
            return;
        };
        let p = payable(1);
        let nav = p.options[0].nav.clone();
        store.create_position(p).await.unwrap();
        let first = store
            .acquire_receipt(new_receipt("t1", &nav, &[ORG]))
            .await
            .unwrap();
        assert_eq!(status(&first), ReceiptStatus::Applied);
        let key = PositionKey::Notice(nav.clone());
        let paid = store
            .get_position(org(), key.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(paid.status, PositionStatus::Paid);
        assert_eq!(paid.options[0].payment.as_ref().unwrap().receipt_id, "t1");

        let again = store
            .acquire_receipt(new_receipt("t1", &nav, &[ORG]))
            .await
            .unwrap();
        assert_eq!(again, Acquisition::AlreadyStored(ReceiptStatus::Applied));
        let dup = store
            .acquire_receipt(new_receipt("t2", &nav, &[ORG]))
            .await
            .unwrap();
        assert_eq!(status(&dup), ReceiptStatus::Duplicate);
        assert_eq!(store.get_position(org(), key).await.unwrap().unwrap(), paid);
        let other_content = store
            .acquire_receipt(new_receipt_paying("t1", &nav, &[ORG], 301))
            .await
            .unwrap();
        let Acquisition::Conflict { earlier } = other_content else {
            panic!("{other_content:?}")
        };
        assert_eq!(earlier.amount, "3.00");
    }

    #[tokio::test]
    async fn a_receipt_for_an_unknown_notice_is_stored_flagged_and_forwarded() {
        let Some(store) = fresh_store().await else {
            return;
        };
        store
            .put_broadcast_station(station("88888888888", "S1"))
            .await
            .unwrap();
        let nav = payable(7).options[0].nav.clone();
        let a = store
            .acquire_receipt(new_receipt("u1", &nav, &[ORG, "88888888888"]))
            .await
            .unwrap();
        let Acquisition::Stored {
            settlement,
            deliveries,
        } = a
        else {
            panic!("{a:?}")
        };
        assert_eq!(settlement.status, ReceiptStatus::Flagged);
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].station.station_id.as_str(), "S1");
        assert!(!deliveries[0].request.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_given_receipts_for_one_notice_at_once_apply_exactly_one() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        for n in 1..=10 {
            let p = payable(n);
            let nav = p.options[0].nav.clone();
            a.create_position(p).await.unwrap();
            let (x, y) = tokio::join!(
                a.acquire_receipt(new_receipt(&format!("a{n}"), &nav, &[ORG])),
                b.acquire_receipt(new_receipt(&format!("b{n}"), &nav, &[ORG]))
            );
            let mut got = [status(&x.unwrap()), status(&y.unwrap())];
            got.sort_by_key(|s| s.as_str());
            assert_eq!(got, [ReceiptStatus::Applied, ReceiptStatus::Duplicate]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_given_two_copies_of_one_receipt_keep_the_first_and_a_conflict() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        for n in 1..=10 {
            let p = payable(n);
            let nav = p.options[0].nav.clone();
            a.create_position(p).await.unwrap();
            let (x, y) = tokio::join!(
                a.acquire_receipt(new_receipt_paying("same", &nav, &[ORG], 300)),
                b.acquire_receipt(new_receipt_paying("same", &nav, &[ORG], 301))
            );
            // The first stored is applied, or flagged if it is the copy of another amount.
            let got = [status(&x.unwrap()), status(&y.unwrap())];
            let conflicts = got
                .iter()
                .filter(|s| **s == ReceiptStatus::Conflict)
                .count();
            assert_eq!(conflicts, 1, "{got:?}");
            assert!(
                got.iter()
                    .any(|s| matches!(s, ReceiptStatus::Applied | ReceiptStatus::Flagged)),
                "{got:?}"
            );
        }
    }
}
