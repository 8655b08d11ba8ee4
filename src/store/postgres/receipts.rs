//! The receipt tables: a receipt acquired (stored, settled on its position, its beneficiaries
//! and deliveries created) in one transaction. SQLite's single writer makes two receipts for
//! one notice come one after the other; here they may arrive on two instances at once, so the
//! acquisition first takes a transaction-scoped advisory lock on the notice (its creditor and
//! number): the second waits for the first to commit, then sees its copy and its payment, and
//! is answered as it would be on one instance. The unique indexes on the receipt's identity
//! stay the guard behind the lock.
//!
//! Receipts are read back as their documents and as listings (a creditor's, filtered and
//! paged); receipts copied from a SQLite store without content digests get theirs here.

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::deliveries::insert_deliveries;
use super::filter::Where;
use super::pipeline::{Pending, in_order};
use super::positions::{RowIds, load_position, write_payment};
use super::{PgStore, db_error};
use crate::domain::broadcast::BroadcastStation;
use crate::domain::position::DebtPosition;
use crate::domain::receipt::{ReceiptOrigin, ReceiptStatus, Settlement};
use crate::domain::receipt_digest::{ReceiptDigest, ReceiptFacts};
use crate::domain::{FiscalCodePA, NoticeNumber};
use crate::store::columns::*;
use crate::store::{
    Acquisition, DeliveredReceipt, NewReceipt, Page, PageRequest, PositionKey, ReceiptFilter,
    ReceiptSummary, StoreError,
};

impl PgStore {
    /// Stores a receipt, applies it to its payment option and creates its deliveries, in one
    /// transaction: when this returns Ok the receipt is durable.
    pub async fn acquire_receipt(&self, new: NewReceipt) -> Result<Acquisition, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let acquired = acquire(&tx, new).await?;
        super::commit(tx).await?;
        Ok(acquired)
    }

    /// The stored document of the receipt for an IUV of the creditor (as notice owner, or as
    /// beneficiary of a transfer): the applied one first, else the earliest received.
    pub async fn receipt_document(
        &self,
        organization: FiscalCodePA,
        iuv: String,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        // `status <> 'APPLIED'` sorts false first, as SQLite's 0 does.
        let st = client
            .prepare_cached(
                "SELECT document FROM receipt
                 WHERE id IN (SELECT id FROM receipt WHERE organization = $1 AND iuv = $2
                              UNION SELECT r.id FROM receipt_beneficiary b
                                    JOIN receipt r ON r.id = b.receipt
                                    WHERE b.organization = $1 AND r.iuv = $2)
                 ORDER BY status <> 'APPLIED', received_at, id LIMIT 1",
            )
            .await
            .map_err(db_error)?;
        let row = client
            .query_opt(&st, &[&organization.as_str(), &iuv])
            .await
            .map_err(db_error)?;
        row.map(|r| r.try_get(0)).transpose().map_err(db_error)
    }

    /// Up to `limit` receipts stored before content digests were kept (copied from a SQLite
    /// store), as (row, document), oldest first.
    pub async fn receipts_missing_digest(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(
                "SELECT id, document FROM receipt WHERE digest IS NULL ORDER BY id LIMIT $1",
            )
            .await
            .map_err(db_error)?;
        let rows = client
            .query(&st, &[&i64::from(limit)])
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(db_error)
    }

    /// Records the content digests of receipts that had none. Instances filling them in at once
    /// compute the same digest for a row: the `digest IS NULL` condition makes the later
    /// update of a row change nothing, and the rows are updated in id order, so that two such
    /// transactions take their row locks in one order and never deadlock.
    pub async fn set_receipt_digests(
        &self,
        mut digests: Vec<(i64, ReceiptDigest)>,
    ) -> Result<(), StoreError> {
        digests.sort_by_key(|(id, _)| *id);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let st = tx
            .prepare_cached("UPDATE receipt SET digest = $2 WHERE id = $1 AND digest IS NULL")
            .await
            .map_err(db_error)?;
        for (id, digest) in &digests {
            tx.execute(&st, &[id, &&digest.0[..]])
                .await
                .map_err(db_error)?;
        }
        super::commit(tx).await
    }

    /// The creditor's receipts (as notice owner or beneficiary), newest first. The count and
    /// the page are read from one snapshot, so that receipts stored meanwhile by any instance
    /// are in both or in neither.
    pub async fn list_receipts(
        &self,
        organization: FiscalCodePA,
        filter: ReceiptFilter,
        page: PageRequest,
    ) -> Result<Page<ReceiptSummary>, StoreError> {
        receipt_filters(&organization, &filter)
            .page(self, &RECEIPT_LISTING, page, receipt_summary)
            .await
    }
}

/// The conditions of a listing: the creditor's receipts, and each filter given.
fn receipt_filters<'a>(organization: &'a FiscalCodePA, filter: &'a ReceiptFilter) -> Where<'a> {
    let mut filters = Where::default();
    let org = filters.bind(organization.as_str());
    filters.and(format!(
        "(organization = {org}
          OR id IN (SELECT receipt FROM receipt_beneficiary WHERE organization = {org}))"
    ));
    if let Some(status) = filter.status {
        let at = filters.bind(status.as_str());
        filters.and(format!("status = {at}"));
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let at = filters.bind(statuses);
        filters.and(format!("status = ANY({at})"));
    }
    if let Some(debtor) = &filter.debtor {
        let at = filters.bind(debtor.as_str());
        filters.and(format!("debtor = {at}"));
    }
    // Prefixes compared as SQLite's `substr(column, 1, length(prefix)) = prefix` does: case
    // and all, with no LIKE wildcards to escape.
    if let Some(prefix) = &filter.iuv_prefix {
        let at = filters.bind(prefix.as_str());
        filters.and(format!("starts_with(iuv, {at})"));
    }
    if let Some(prefix) = &filter.debtor_or_iuv_prefix {
        let at = filters.bind(prefix.as_str());
        filters.and(format!(
            "(starts_with(iuv, {at}) OR starts_with(debtor, {at}))"
        ));
    }
    if let Some(codes) = &filter.segregation_codes {
        // An empty set matches nothing, as `= ANY('{}')` does.
        let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
        let at = filters.bind(codes);
        filters.and(format!("substr(iuv, 1, 2) = ANY({at})"));
    }
    if let Some(from) = filter.paid_from {
        let at = filters.bind(millis(from));
        filters.and(format!("payment_time >= {at}"));
    }
    if let Some(to) = filter.paid_to {
        let at = filters.bind(millis(to));
        filters.and(format!("payment_time <= {at}"));
    }
    filters
}

/// The statements of an acquisition, prepared once per connection: a string would be parsed
/// again, one more round trip, at every receipt.
struct Statements {
    lock: Statement,
    copies: Statement,
    position: Statement,
    options: Statement,
    transfers: Statement,
    stations: Statement,
    next_id: Statement,
    insert: Statement,
    beneficiaries: Statement,
}

/// The options of the position that has the notice `($1, $2)`.
const OPTIONS_OF_NOTICE: &str = "SELECT id FROM payment_option WHERE position_id =
        (SELECT position_id FROM payment_option WHERE organization = $1 AND nav = $2)";

impl Statements {
    async fn prepare(tx: &Transaction<'_>) -> Result<Statements, StoreError> {
        let prepare = |sql: String| async move { tx.prepare_cached(&sql).await.map_err(db_error) };
        Ok(Statements {
            lock: prepare(
                "SELECT pg_advisory_xact_lock(hashtextextended('receipt ' || $1 || ' ' || $2, 0))"
                    .into(),
            )
            .await?,
            copies: prepare(
                "SELECT status, digest, amount, iuv, psp_id, debtor, payment_date_time, origin
                 FROM receipt WHERE organization = $1 AND nav = $2 AND receipt_id = $3 ORDER BY id"
                    .into(),
            )
            .await?,
            position: prepare(format!(
                "SELECT {} FROM debt_position WHERE id =
                    (SELECT position_id FROM payment_option WHERE organization = $1 AND nav = $2)
                 FOR UPDATE",
                *POSITION_COLUMNS
            ))
            .await?,
            options: prepare(format!(
                "SELECT position_id, id, {OPTION_COLUMNS} FROM payment_option
                 WHERE id IN ({OPTIONS_OF_NOTICE}) ORDER BY id"
            ))
            .await?,
            transfers: prepare(format!(
                "SELECT t.option_id, {TRANSFER_COLUMNS} FROM transfer t
                 WHERE t.option_id IN ({OPTIONS_OF_NOTICE}) ORDER BY t.option_id, t.transfer_id"
            ))
            .await?,
            stations: prepare(format!(
                "SELECT {STATION_COLUMNS} FROM broadcast_station
                 WHERE organization = ANY($1) AND enabled ORDER BY organization, station_id"
            ))
            .await?,
            next_id: prepare("SELECT nextval(pg_get_serial_sequence('receipt', 'id'))".into())
                .await?,
            insert: prepare(
                "INSERT INTO receipt (organization, receipt_id, recipient, broker_id, station_id, version, iuv, nav,
                    status, flag, flag_description, amount, debtor, payer, psp_id, psp_company, payment_date_time,
                    payment_time, stand_in, received_at, document, digest, origin, unbound_station, id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                    $21, $22, $23, $24, $25)"
                    .into(),
            )
            .await?,
            beneficiaries: prepare(
                "INSERT INTO receipt_beneficiary (organization, receipt) SELECT unnest($1::text[]), $2"
                    .into(),
            )
            .await?,
        })
    }
}

/// Acquires the receipt in four round trips whatever it comes to: the transaction's start;
/// what it reads, sent together (the lock on the notice first, then the earlier copies, the
/// position locked with its options and transfers, the stations of the creditors it concerns,
/// the receipt's row id); what it writes, sent together; the commit. The reads are sent one
/// behind the other after the lock, so each starts once it is held and sees what the receipt
/// before it committed (see `pipeline`).
async fn acquire(tx: &Transaction<'_>, new: NewReceipt) -> Result<Acquisition, StoreError> {
    let NewReceipt {
        request,
        document,
        digest,
        received_at,
        concerned,
        settle,
        route,
        origin,
        unbound_station,
    } = new;
    let receipt = &request.receipt;
    let (organization, nav) = (receipt.fiscal_code.as_str(), receipt.notice_number.as_str());
    let st = Statements::prepare(tx).await?;
    let notice: [&(dyn ToSql + Sync); 2] = [&organization, &nav];
    let identity: [&(dyn ToSql + Sync); 3] = [&organization, &nav, &receipt.receipt_id];
    let creditors: Vec<&str> = concerned.iter().map(FiscalCodePA::as_str).collect();
    let creditors: [&(dyn ToSql + Sync); 1] = [&creditors];
    let [_, copies, head, options, transfers, stations, next_id] = <[_; 7]>::try_from(
        in_order(vec![
            Box::pin(tx.query(&st.lock, &notice)),
            Box::pin(tx.query(&st.copies, &identity)),
            Box::pin(tx.query(&st.position, &notice)),
            Box::pin(tx.query(&st.options, &notice)),
            Box::pin(tx.query(&st.transfers, &notice)),
            Box::pin(tx.query(&st.stations, &creditors)),
            Box::pin(tx.query(&st.next_id, &[])),
        ])
        .await
        .map_err(db_error)?,
    )
    .map_err(|_| corrupt("pipeline", "a statement went unanswered"))?;
    let id: i64 = next_id
        .first()
        .ok_or_else(|| corrupt("receipt.id", "no next value"))?
        .try_get(0)
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
        let facts = ReceiptFacts {
            amount: cents(row.get(2), "receipt.amount")?.to_string(),
            iuv: row.get(3),
            psp_id: row.get(4),
            debtor: row.get(5),
            payment_date_time: row.get(6),
        };
        let stored_origin: String = row.get(7);
        let stored_origin = ReceiptOrigin::parse(&stored_origin)
            .ok_or_else(|| corrupt("receipt.origin", &stored_origin))?;
        let recovered = [stored_origin, origin].contains(&ReceiptOrigin::Platform);
        // Read only for a copy already stored, which a receipt seldom has.
        if recovered && facts.same_payment(&ReceiptFacts::of(receipt)) {
            return Ok(Acquisition::AlreadyStored(status));
        }
        if earlier.is_none() {
            earlier = Some(facts);
        }
    }
    let row = ReceiptRow {
        id,
        new: &request,
        document: &document,
        digest: &digest.0,
        received_at,
        origin,
        unbound_station: unbound_station.as_deref(),
    };
    let beneficiaries: Vec<&str> = (concerned.get(1..).unwrap_or_default().iter())
        .map(FiscalCodePA::as_str)
        .collect();
    if let Some(earlier) = earlier {
        let settlement = Settlement::kept(ReceiptStatus::Conflict);
        write(tx, &st, &row, &settlement, &beneficiaries).await?;
        return Ok(Acquisition::Conflict { earlier });
    }

    let mut found = match position_of(head, options, transfers, &receipt.notice_number)? {
        Some(found) => Some(found),
        // No position has the notice, or it moved to another between the reads (the write
        // that held the lock took it away): read again, one statement after the other.
        None => {
            let key = PositionKey::Notice(receipt.notice_number.clone());
            load_position(tx, &receipt.fiscal_code, &key, true).await?
        }
    };
    let settlement = settle(found.as_mut().map(|(_, p)| p));
    let stations = stations
        .iter()
        .map(|r| station_at(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    // Each creditor's stations, in the order of the creditors, as one query per creditor
    // would give them.
    let stations: Vec<BroadcastStation> = (concerned.iter())
        .flat_map(|org| stations.iter().filter(move |s| &s.organization == org))
        .cloned()
        .collect();
    let deliveries = route(&settlement, &stations);
    let delivered = DeliveredReceipt {
        receipt_id: receipt.receipt_id.clone(),
        notice_number: receipt.notice_number.to_string(),
    };
    // The payment, the receipt's row and its deliveries are written side by side: polled in
    // this order, so that the deliveries are sent after the row they refer to.
    let payment = async {
        match (settlement.paid_option, &found) {
            (Some(paid), Some((ids, position))) => write_payment(tx, ids, position, paid).await,
            _ => Ok(()),
        }
    };
    let ((), (), deliveries) = tokio::try_join!(
        biased;
        payment,
        write(tx, &st, &row, &settlement, &beneficiaries),
        insert_deliveries(tx, id, &delivered, deliveries, received_at),
    )?;
    Ok(Acquisition::Stored {
        settlement,
        deliveries,
    })
}

/// The position read by [`acquire`], with its row ids: None when there is none, or when the
/// options read are not that position's or lack the notice (it moved between the reads).
fn position_of(
    head: Vec<Row>,
    options: Vec<Row>,
    transfers: Vec<Row>,
    nav: &NoticeNumber,
) -> Result<Option<(RowIds, DebtPosition)>, StoreError> {
    let Some(head) = head.first() else {
        return Ok(None);
    };
    let (position, columns) = position_row(head).map_err(db_error)?;
    let mut ids = Vec::with_capacity(options.len());
    let mut read = Vec::with_capacity(options.len());
    for r in &options {
        if r.try_get::<_, i64>(0).map_err(db_error)? != position {
            return Ok(None);
        }
        ids.push(r.try_get::<_, i64>(1).map_err(db_error)?);
        read.push(payment_option_at(r, 2)?);
    }
    for r in &transfers {
        let option: i64 = r.try_get(0).map_err(db_error)?;
        let Some(at) = ids.iter().position(|&id| id == option) else {
            return Ok(None);
        };
        read[at].transfers.push(transfer_at(r, 1)?);
    }
    if !read.iter().any(|o| &o.nav == nav) {
        return Ok(None);
    }
    let ids = RowIds {
        position,
        options: ids,
    };
    Ok(Some((ids, position_from_columns(columns, read)?)))
}

/// What the receipt row is made of, besides its settlement.
struct ReceiptRow<'a> {
    /// Its row id, taken from the table's sequence beforehand.
    id: i64,
    new: &'a crate::domain::receipt::SendRtRequest,
    document: &'a [u8],
    digest: &'a [u8],
    received_at: chrono::NaiveDateTime,
    origin: ReceiptOrigin,
    unbound_station: Option<&'a str>,
}

/// Writes the receipt row and its beneficiaries, sent together.
async fn write(
    tx: &Transaction<'_>,
    st: &Statements,
    row: &ReceiptRow<'_>,
    settlement: &Settlement,
    beneficiaries: &[&str],
) -> Result<(), StoreError> {
    let request = row.new;
    let r = &request.receipt;
    let version = i64::from(request.version.number());
    let payment_time = r.payment_date_time.as_ref().map(|d| millis(d.time));
    let received_at = millis(row.received_at);
    let receipt: [&(dyn ToSql + Sync); 25] = [
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
        &received_at,
        &row.document,
        &row.digest,
        &row.origin.as_str(),
        &row.unbound_station,
        &row.id,
    ];
    let seen_by: [&(dyn ToSql + Sync); 2] = [&beneficiaries, &row.id];
    // The receipt before what refers to it.
    let mut statements: Vec<Pending<'_>> = vec![Box::pin(tx.query(&st.insert, &receipt))];
    if !beneficiaries.is_empty() {
        statements.push(Box::pin(tx.query(&st.beneficiaries, &seen_by)));
    }
    in_order(statements).await.map_err(db_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fresh_pair, fresh_store};
    use super::*;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{DebtPosition, Iupd};
    use crate::store::conformance::org;
    use crate::store::conformance::receipts::{flagged, status};
    use crate::store::receipt_fixtures::{ORG, new_receipt, new_receipt_paying, valid};

    /// Position `n` of the creditor, payable, with one option.
    fn payable(n: u64) -> DebtPosition {
        DebtPosition {
            iupd: Iupd::parse(&format!("IUPD-{n}")).unwrap(),
            ..valid(position(vec![option(n, 300, at(2030, 1, 1), false)]))
        }
    }

    /// Receipt `id` as a copy of a SQLite store that had no digests left it: row `id`, with
    /// a beneficiary.
    async fn copied_without_digest(store: &PgStore, id: i64) {
        let client = store.client().await.unwrap();
        client
            .execute(
                "INSERT INTO receipt (id, organization, receipt_id, recipient, broker_id,
                    station_id, version, iuv, nav, status, amount, debtor, psp_id, psp_company,
                    received_at, document)
                 VALUES ($1, '77777777777', $2, '77777777777', '77777777777',
                    '77777777777_01', 2, '01000000000000144', '301000000000000144', 'FLAGGED',
                    100, 'X', 'PSP', 'PSP', 0, '<x/>')",
                &[&id, &format!("R-OLD-{id}")],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO receipt_beneficiary (organization, receipt) VALUES ('88888888888', $1)",
                &[&id],
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn receipts_stored_before_digests_get_theirs_and_keep_their_links() {
        let Some(store) = fresh_store().await else {
            return;
        };
        copied_without_digest(&store, 7).await;
        let missing = store.receipts_missing_digest(10).await.unwrap();
        assert_eq!(missing, vec![(7, b"<x/>".to_vec())]);
        let digest = ReceiptDigest([9; 32]);
        store.set_receipt_digests(vec![(7, digest)]).await.unwrap();
        assert!(store.receipts_missing_digest(10).await.unwrap().is_empty());
        // A digest once set stays.
        store
            .set_receipt_digests(vec![(7, ReceiptDigest([1; 32]))])
            .await
            .unwrap();
        let client = store.client().await.unwrap();
        let kept: Vec<u8> = client
            .query_one("SELECT digest FROM receipt WHERE id = 7", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(kept, [9; 32]);
        let beneficiary = FiscalCodePA::parse("88888888888").unwrap();
        let page = PageRequest { page: 0, limit: 10 };
        let listed = store
            .list_receipts(beneficiary, ReceiptFilter::default(), page)
            .await
            .unwrap();
        assert_eq!(listed.items[0].receipt_id, "R-OLD-7");
    }

    #[tokio::test]
    async fn receipts_missing_digests_come_oldest_first_and_limited() {
        let Some(store) = fresh_store().await else {
            return;
        };
        for id in [5, 3, 9] {
            copied_without_digest(&store, id).await;
        }
        let ids = |m: Vec<(i64, Vec<u8>)>| m.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(store.receipts_missing_digest(2).await.unwrap()), [3, 5]);
        store
            .set_receipt_digests(vec![(3, ReceiptDigest([3; 32]))])
            .await
            .unwrap();
        assert_eq!(
            ids(store.receipts_missing_digest(10).await.unwrap()),
            [5, 9]
        );
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_filling_in_digests_at_once_set_each_once() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        for id in 1..=40 {
            copied_without_digest(&a, id).await;
        }
        // Each instance fills in every row, in opposite orders: neither deadlocks or fails,
        // and each row keeps one digest.
        let digest = |id: i64| ReceiptDigest([id as u8; 32]);
        let forward: Vec<_> = (1..=40).map(|id| (id, digest(id))).collect();
        let backward: Vec<_> = (1..=40).rev().map(|id| (id, digest(id))).collect();
        for _ in 0..3 {
            let (x, y) = tokio::join!(
                a.set_receipt_digests(forward.clone()),
                b.set_receipt_digests(backward.clone())
            );
            x.unwrap();
            y.unwrap();
        }
        assert!(a.receipts_missing_digest(100).await.unwrap().is_empty());
        assert!(b.receipts_missing_digest(100).await.unwrap().is_empty());
        let client = a.client().await.unwrap();
        for row in client
            .query("SELECT id, digest FROM receipt", &[])
            .await
            .unwrap()
        {
            let (id, stored): (i64, Vec<u8>) = (row.get(0), row.get(1));
            assert_eq!(stored, digest(id).0);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listing_counts_what_it_lists_while_another_instance_stores_receipts() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        let storing = async {
            for n in 0..30 {
                let nav = format!("3010000000000001{n:02}");
                b.acquire_receipt(flagged(&format!("r{n}"), &nav, n, None, &[ORG]))
                    .await
                    .unwrap();
            }
        };
        let listing = async {
            let all = PageRequest {
                page: 0,
                limit: 100,
            };
            let mut seen = 0;
            while seen < 30 {
                let listed = a
                    .list_receipts(org(), ReceiptFilter::default(), all)
                    .await
                    .unwrap();
                assert_eq!(listed.items_found as usize, listed.items.len());
                assert!(listed.items.len() >= seen);
                seen = listed.items.len();
            }
        };
        tokio::join!(storing, listing);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_two_copies_stored_at_once_the_document_is_the_one_not_in_conflict() {
        let Some((a, b)) = fresh_pair().await else {
            return;
        };
        for n in 1..=10 {
            let p = payable(n);
            let nav = p.options[0].nav.clone();
            a.create_position(p).await.unwrap();
            let mut x = new_receipt_paying("same", &nav, &[ORG], 300);
            x.document = b"<a/>".to_vec();
            let mut y = new_receipt_paying("same", &nav, &[ORG], 301);
            y.document = b"<b/>".to_vec();
            let (x, y) = tokio::join!(a.acquire_receipt(x), b.acquire_receipt(y));
            // The copy stored first is the one not CONFLICT.
            let (x, y) = (status(&x.unwrap()), status(&y.unwrap()));
            let kept = match (x, y) {
                (ReceiptStatus::Conflict, y) if y != ReceiptStatus::Conflict => &b"<b/>"[..],
                (x, ReceiptStatus::Conflict) if x != ReceiptStatus::Conflict => &b"<a/>"[..],
                got => panic!("{got:?}"),
            };
            let iuv = nav.as_str()[1..].to_owned();
            for store in [&a, &b] {
                let doc = store.receipt_document(org(), iuv.clone()).await.unwrap();
                assert_eq!(doc.as_deref(), Some(kept), "{n}");
            }
        }
    }
}
