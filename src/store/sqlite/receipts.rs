//! The receipt table: acquiring a receipt (stored, its settlement and deliveries, as the receipt
//! use case decides them, persisted in the caller's transaction), fetching its document and
//! listing receipts.

use chrono::NaiveDateTime;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::broadcast::{insert_deliveries, stations_of};
use super::columns::*;
use super::filter::Where;
use super::positions::{load_position, write_payment};
use super::unavailable;
use crate::domain::FiscalCodePA;
use crate::domain::receipt::{ReceiptStatus, SendRtRequest, Settlement};
use crate::domain::receipt_digest::{ReceiptDigest, ReceiptFacts};
use crate::store::{
    Acquisition, NewReceipt, Page, PageRequest, PositionKey, ReceiptFilter, ReceiptSummary,
    StoreError,
};

pub(super) fn acquire(conn: &Connection, new: NewReceipt) -> Result<Acquisition, StoreError> {
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
    // The creditors, besides the notice's own, that see the receipt among theirs.
    let beneficiaries = concerned.get(1..).unwrap_or_default();
    // Every copy stored under this identity; at most one per distinct content.
    let copies = conn
        .prepare_cached(
            "SELECT status, digest, amount, iuv, psp_id, debtor, payment_date_time FROM receipt
             WHERE organization = ?1 AND nav = ?2 AND receipt_id = ?3 ORDER BY id",
        )
        .and_then(|mut st| {
            st.query_map(
                params![
                    receipt.fiscal_code.as_str(),
                    receipt.notice_number.as_str(),
                    receipt.receipt_id
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, i64>(2)?,
                        ReceiptFacts {
                            amount: String::new(),
                            iuv: r.get(3)?,
                            psp_id: r.get(4)?,
                            debtor: r.get(5)?,
                            payment_date_time: r.get(6)?,
                        },
                    ))
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    let mut earlier = None;
    for (status, stored_digest, amount, mut facts) in copies {
        let status =
            ReceiptStatus::parse(&status).ok_or_else(|| corrupt("receipt.status", &status))?;
        if stored_digest.as_deref() == Some(&digest.0[..]) {
            return Ok(Acquisition::AlreadyStored(status));
        }
        if earlier.is_none() {
            facts.amount = cents(amount, "receipt.amount")?.to_string();
            earlier = Some(facts);
        }
    }
    let row = ReceiptRow {
        request: &request,
        document: &document,
        digest,
        received_at,
    };
    if let Some(earlier) = earlier {
        let conflict = Settlement::kept(ReceiptStatus::Conflict);
        let id = insert(conn, &row, &conflict)?;
        insert_beneficiaries(conn, beneficiaries, id)?;
        return Ok(Acquisition::Conflict { earlier });
    }

    let key = PositionKey::Notice(receipt.notice_number.clone());
    let mut found = load_position(conn, &receipt.fiscal_code, &key)?;
    let settlement = settle(found.as_mut().map(|(_, p)| p));
    if let (Some(paid), Some((ids, position))) = (settlement.paid_option, &found) {
        write_payment(conn, ids, position, paid)?;
    }
    let id = insert(conn, &row, &settlement)?;
    insert_beneficiaries(conn, beneficiaries, id)?;
    let mut stations = Vec::new();
    for org in &concerned {
        stations.extend(stations_of(conn, Some(org), true)?);
    }
    let deliveries = route(&settlement, &stations);
    let deliveries = insert_deliveries(conn, id, deliveries, received_at)?;
    Ok(Acquisition::Stored {
        settlement,
        deliveries,
    })
}

/// What the receipt row is made of, besides its settlement.
struct ReceiptRow<'a> {
    request: &'a SendRtRequest,
    document: &'a [u8],
    digest: ReceiptDigest,
    received_at: NaiveDateTime,
}

/// Inserts the receipt row; its id.
fn insert(
    conn: &Connection,
    row: &ReceiptRow<'_>,
    settlement: &Settlement,
) -> Result<i64, StoreError> {
    let request = row.request;
    let receipt = &request.receipt;
    let payment_time = receipt.payment_date_time.as_ref().map(|d| millis(d.time));
    conn.prepare_cached(
        "INSERT INTO receipt (organization, receipt_id, recipient, broker_id, station_id, version, iuv, nav,
            status, flag, flag_description, amount, debtor, payer, psp_id, psp_company, payment_date_time,
            payment_time, stand_in, received_at, document, digest)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    )
    .and_then(|mut st| {
        st.execute(params![
            receipt.fiscal_code.as_str(),
            receipt.receipt_id,
            request.ids.id_pa.as_str(),
            request.ids.id_broker_pa.as_str(),
            request.ids.id_station.as_str(),
            request.version.number(),
            receipt.creditor_reference_id.as_str(),
            receipt.notice_number.as_str(),
            settlement.status.as_str(),
            settlement.flag.as_ref().map(|f| f.code),
            settlement.flag.as_ref().map(|f| f.description.as_str()),
            receipt.payment_amount.get(),
            receipt.debtor.entity_id.as_str(),
            receipt.payer.as_ref().map(|p| p.entity_id.as_str()),
            receipt.id_psp.as_str(),
            receipt.psp_company_name.as_str(),
            receipt.payment_date_time.as_ref().map(|d| d.lexical.as_str()),
            payment_time,
            request.stand_in,
            millis(row.received_at),
            row.document,
            &row.digest.0[..],
        ])
    })
    .map_err(unavailable)?;
    Ok(conn.last_insert_rowid())
}

/// Lets each of `beneficiaries` see the receipt among its own.
fn insert_beneficiaries(
    conn: &Connection,
    beneficiaries: &[FiscalCodePA],
    row: i64,
) -> Result<(), StoreError> {
    for beneficiary in beneficiaries {
        conn.prepare_cached(
            "INSERT INTO receipt_beneficiary (organization, receipt) VALUES (?1, ?2)",
        )
        .and_then(|mut st| st.execute(params![beneficiary.as_str(), row]))
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Up to `limit` receipts stored before digests were kept: (row id, document).
pub(super) fn missing_digests(
    conn: &Connection,
    limit: u32,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    conn.prepare_cached(
        "SELECT id, document FROM receipt WHERE digest IS NULL ORDER BY id LIMIT ?1",
    )
    .and_then(|mut st| {
        st.query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    })
    .map_err(unavailable)
}

pub(super) fn set_digests(
    conn: &Connection,
    digests: &[(i64, ReceiptDigest)],
) -> Result<(), StoreError> {
    for (id, digest) in digests {
        conn.prepare_cached("UPDATE receipt SET digest = ?2 WHERE id = ?1 AND digest IS NULL")
            .and_then(|mut st| st.execute(params![id, &digest.0[..]]))
            .map_err(unavailable)?;
    }
    Ok(())
}

pub(super) fn document(
    conn: &Connection,
    organization: &FiscalCodePA,
    iuv: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    conn.prepare_cached(
        "SELECT document FROM receipt
         WHERE id IN (SELECT id FROM receipt WHERE organization = ?1 AND iuv = ?2
                      UNION SELECT r.id FROM receipt_beneficiary b JOIN receipt r ON r.id = b.receipt
                            WHERE b.organization = ?1 AND r.iuv = ?2)
         ORDER BY status <> 'APPLIED', received_at, id LIMIT 1",
    )
    .and_then(|mut st| {
        st.query_row(params![organization.as_str(), iuv], |r| r.get(0))
            .optional()
    })
    .map_err(unavailable)
}

fn summary(r: &Row<'_>) -> rusqlite::Result<Result<ReceiptSummary, StoreError>> {
    Ok(receipt_summary_from_columns(ReceiptSummaryColumns {
        organization: r.get(0)?,
        receipt_id: r.get(1)?,
        recipient: r.get(2)?,
        iuv: r.get(3)?,
        nav: r.get(4)?,
        version: r.get(5)?,
        status: r.get(6)?,
        flag: r.get(7)?,
        flag_description: r.get(8)?,
        amount: r.get(9)?,
        debtor: r.get(10)?,
        payer: r.get(11)?,
        psp_id: r.get(12)?,
        psp_company: r.get(13)?,
        payment_date_time: r.get(14)?,
        stand_in: r.get(15)?,
        received_at: r.get(16)?,
    }))
}

pub(super) fn list(
    conn: &Connection,
    organization: &FiscalCodePA,
    filter: &ReceiptFilter,
    page: PageRequest,
) -> Result<Page<ReceiptSummary>, StoreError> {
    let mut filters = Where::new(
        "(organization = :org
            OR id IN (SELECT receipt FROM receipt_beneficiary WHERE organization = :org))",
    );
    filters.bind(":org", organization.to_string()).when(
        "status = :status",
        ":status",
        filter.status.map(|s| s.as_str().to_owned()),
    );
    if !filter.statuses.is_empty() {
        // Statuses are our own constants, never the caller's text.
        let listed: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        filters.and(format!("status IN ({})", listed.join(", ")));
    }
    filters
        .when("debtor = :debtor", ":debtor", filter.debtor.clone())
        .when(
            "substr(iuv, 1, length(:iuv_prefix)) = :iuv_prefix",
            ":iuv_prefix",
            filter.iuv_prefix.clone(),
        )
        .when(
            "(substr(iuv, 1, length(:either)) = :either
                OR substr(debtor, 1, length(:either)) = :either)",
            ":either",
            filter.debtor_or_iuv_prefix.clone(),
        )
        .when(
            "instr(:codes, ',' || substr(iuv, 1, 2) || ',') > 0",
            ":codes",
            filter.segregation_codes.as_ref().map(codes_pattern),
        )
        .range(
            "payment_time",
            [":paid_from", ":paid_to"],
            filter.paid_from,
            filter.paid_to,
        );
    let condition = filters.sql();
    let mut refs = filters.params();
    let items_found: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM receipt WHERE {condition}"))
        .and_then(|mut st| st.query_row(refs.as_slice(), |r| r.get(0)))
        .map_err(unavailable)?;
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {RECEIPT_SUMMARY_COLUMNS} FROM receipt WHERE {condition}
             ORDER BY received_at DESC, id DESC LIMIT :limit OFFSET :offset"
        ))
        .map_err(unavailable)?;
    let limit = Value::from(i64::from(page.limit));
    let offset = Value::from(i64::from(page.page) * i64::from(page.limit));
    refs.push((":limit", &limit));
    refs.push((":offset", &offset));
    let rows = st
        .query_map(refs.as_slice(), summary)
        .map_err(unavailable)?;
    let mut items = Vec::new();
    for row in rows {
        items.push(row.map_err(unavailable)??);
    }
    Ok(Page {
        items,
        request: page,
        items_found: items_found as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::domain::FiscalCodePA;
    use crate::domain::Text;
    use crate::domain::broadcast::DeliveryState;
    use crate::domain::position::tests::{at, option, position};
    use crate::domain::position::{DebtPosition, PositionStatus};
    use crate::domain::receipt::ReceiptStatus;
    use crate::store::receipt_fixtures::{ORG, new_receipt, new_receipt_paying, station, valid};
    use crate::store::*;

    fn org() -> FiscalCodePA {
        FiscalCodePA::parse(ORG).unwrap()
    }

    async fn store_with(p: DebtPosition) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store.create_position(p).await.unwrap();
        (dir, store)
    }

    fn status(a: &Acquisition) -> ReceiptStatus {
        match a {
            Acquisition::Stored { settlement, .. } => settlement.status,
            Acquisition::AlreadyStored(s) => *s,
            Acquisition::Conflict { .. } => ReceiptStatus::Conflict,
        }
    }

    #[tokio::test]
    async fn applied_once_then_idempotent_then_duplicate() {
        let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
        let nav = p.options[0].nav.clone();
        let (_dir, store) = store_with(p).await;
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

        let iuv = nav.as_str()[1..].to_owned();
        let doc = store
            .receipt_document(org(), iuv.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(doc, b"<doc>t1</doc>");
        let all = PageRequest { page: 0, limit: 10 };
        let listed = store
            .list_receipts(org(), ReceiptFilter::default(), all)
            .await
            .unwrap();
        assert_eq!(listed.items_found, 2);
        let only_dup = ReceiptFilter {
            status: Some(ReceiptStatus::Duplicate),
            ..Default::default()
        };
        let listed = store.list_receipts(org(), only_dup, all).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].receipt_id, "t2");
        let other = ReceiptFilter {
            debtor: Some("NOBODY".into()),
            ..Default::default()
        };
        assert_eq!(
            store
                .list_receipts(org(), other, all)
                .await
                .unwrap()
                .items_found,
            0
        );
    }

    #[tokio::test]
    async fn a_receipt_is_its_creditor_notice_and_id_and_its_content() {
        let p = valid(position(vec![
            option(1, 300, at(2030, 1, 1), true),
            option(2, 300, at(2030, 1, 1), true),
        ]));
        let (first, second) = (p.options[0].nav.clone(), p.options[1].nav.clone());
        let (_dir, store) = store_with(p).await;
        let paid = store
            .acquire_receipt(new_receipt("same", &first, &[ORG]))
            .await
            .unwrap();
        assert_eq!(status(&paid), ReceiptStatus::Applied);
        // The same id on another notice is another receipt.
        let other = store
            .acquire_receipt(new_receipt("same", &second, &[ORG]))
            .await
            .unwrap();
        assert_eq!(status(&other), ReceiptStatus::Applied);
        // Same identity, same content, another serialisation: nothing changes.
        let mut again = new_receipt("same", &first, &[ORG]);
        again.document = b"<other-bytes/>".to_vec();
        assert_eq!(
            store.acquire_receipt(again).await.unwrap(),
            Acquisition::AlreadyStored(ReceiptStatus::Applied)
        );
        // Same identity, other content: kept beside the first as CONFLICT.
        let changed = || new_receipt_paying("same", &first, &[ORG], 100);
        let Acquisition::Conflict { earlier } = store.acquire_receipt(changed()).await.unwrap()
        else {
            panic!("a conflict")
        };
        assert_eq!(earlier.amount, "3.00");
        assert_eq!(
            store.acquire_receipt(changed()).await.unwrap(),
            Acquisition::AlreadyStored(ReceiptStatus::Conflict)
        );
        let all = PageRequest { page: 0, limit: 10 };
        let conflicts = ReceiptFilter {
            status: Some(ReceiptStatus::Conflict),
            ..Default::default()
        };
        let listed = store.list_receipts(org(), conflicts, all).await.unwrap();
        assert_eq!(listed.items_found, 1);
        assert_eq!(listed.items[0].amount.get(), 100);
        let everything = store
            .list_receipts(org(), ReceiptFilter::default(), all)
            .await
            .unwrap();
        assert_eq!(everything.items_found, 3);
        // The position kept the first receipt's payment.
        let position = store
            .get_position(org(), PositionKey::Notice(first))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            position.options[0].payment.as_ref().unwrap().receipt_id,
            "same"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_recorded_together_are_each_stored_before_their_caller_hears() {
        let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
        let (_dir, store) = store_with(p).await;
        let store = std::sync::Arc::new(store);
        store
            .put_broadcast_station(station("88888888888", "S1"))
            .await
            .unwrap();
        let mut ids = Vec::new();
        for n in 0..40 {
            let nav =
                crate::domain::NoticeNumber::parse(&format!("3111111111222222{n:02}")).unwrap();
            let a = store
                .acquire_receipt(new_receipt(&format!("r{n}"), &nav, &[ORG, "88888888888"]))
                .await
                .unwrap();
            let Acquisition::Stored { deliveries, .. } = a else {
                panic!()
            };
            ids.push(deliveries[0].id);
        }
        let recorder =
            crate::broadcast::recorder::Recorder::new(store.clone(), crate::clock::Clock::system());
        let mut recording = tokio::task::JoinSet::new();
        for (n, id) in ids.iter().enumerate() {
            let (recorder, id) = (recorder.clone(), *id);
            let record = if n % 2 == 0 {
                AttemptRecord::Delivered
            } else {
                AttemptRecord::GiveUp {
                    error: format!("HTTP 4{n:02}"),
                }
            };
            recording.spawn(async move { recorder.record(id, record).await });
        }
        while let Some(stored) = recording.join_next().await {
            stored.unwrap().unwrap();
        }
        let all = PageRequest {
            page: 0,
            limit: 100,
        };
        let listed = store.list_deliveries(None, None, all).await.unwrap();
        assert_eq!(listed.items.len(), 40);
        for d in listed.items {
            let n = ids.iter().position(|id| *id == d.id).unwrap();
            assert_eq!(d.attempts, 1, "{d:?}");
            if n % 2 == 0 {
                assert_eq!(d.state, DeliveryState::Delivered);
            } else {
                assert_eq!(d.state, DeliveryState::Failed);
                assert_eq!(d.last_error, Some(format!("HTTP 4{n:02}")));
            }
        }
    }

    #[tokio::test]
    async fn unknown_notice_is_stored_flagged() {
        let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
        let (_dir, store) = store_with(p).await;
        let stranger = crate::domain::NoticeNumber::parse("301999999999999999").unwrap();
        let a = store
            .acquire_receipt(new_receipt("x", &stranger, &[ORG]))
            .await
            .unwrap();
        let Acquisition::Stored { settlement, .. } = a else {
            panic!()
        };
        assert_eq!(settlement.flag.unwrap().code, "UNKNOWN_NOTICE");
        let doc = store
            .receipt_document(org(), "01999999999999999".into())
            .await
            .unwrap();
        assert!(doc.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_receipts_for_one_option_apply_exactly_once() {
        let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
        let nav = p.options[0].nav.clone();
        let (_dir, store) = store_with(p).await;
        let store = std::sync::Arc::new(store);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                let r = new_receipt(&format!("c{i}"), &nav, &[ORG]);
                tokio::spawn(async move { store.acquire_receipt(r).await.unwrap() })
            })
            .collect();
        let mut applied = 0;
        for t in tasks {
            match status(&t.await.unwrap()) {
                ReceiptStatus::Applied => applied += 1,
                ReceiptStatus::Duplicate => {}
                s => panic!("{s:?}"),
            }
        }
        assert_eq!(applied, 1);
    }

    #[tokio::test]
    async fn deliveries_are_created_claimed_recorded_and_requeued() {
        let p = valid(position(vec![option(1, 300, at(2030, 1, 1), false)]));
        let nav = p.options[0].nav.clone();
        let (_dir, store) = store_with(p).await;
        assert!(
            store
                .put_broadcast_station(station("88888888888", "S1"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .put_broadcast_station(station("88888888888", "S1"))
                .await
                .unwrap()
        );
        let mut off = station("88888888888", "OFF");
        off.enabled = false;
        store.put_broadcast_station(off).await.unwrap();
        store
            .put_broadcast_station(station("99999999999", "NOT_CONCERNED"))
            .await
            .unwrap();
        assert_eq!(store.broadcast_stations(None).await.unwrap().len(), 3);

        let a = store
            .acquire_receipt(new_receipt("d1", &nav, &[ORG, "88888888888"]))
            .await
            .unwrap();
        let Acquisition::Stored { deliveries, .. } = a else {
            panic!()
        };
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].station.station_id.as_str(), "S1");
        let id = deliveries[0].id;

        let t0 = at(2029, 6, 1);
        let lease = t0 + chrono::Duration::seconds(60);
        // Not due before its first retry time.
        assert!(
            store
                .claim_deliveries(t0, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let due = t0 + chrono::Duration::seconds(10);
        let claimed = store.claim_deliveries(due, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        // With the request the delivery was created with: a retry sends the first attempt's bytes.
        assert_eq!(claimed[0].request, deliveries[0].request);
        let request = String::from_utf8(claimed[0].request.clone()).unwrap();
        assert!(request.contains("<idStation>S1</idStation><receipt><receiptId>d1</receiptId>"));
        // Leased: a second claim finds nothing.
        assert!(
            store
                .claim_deliveries(due, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let retry = AttemptRecord::Retry {
            error: "HTTP 500".into(),
            next_attempt_at: due,
        };
        store.record_attempts(vec![(id, retry)], due).await.unwrap();
        store
            .record_attempts(vec![(id, AttemptRecord::Delivered)], due)
            .await
            .unwrap();
        // A late result after success changes nothing.
        let late = AttemptRecord::GiveUp {
            error: "late".into(),
        };
        store.record_attempts(vec![(id, late)], due).await.unwrap();
        let all = PageRequest { page: 0, limit: 10 };
        let s1 = FiscalCodePA::parse("88888888888").unwrap();
        let listed = store
            .list_deliveries(Some(s1.clone()), None, all)
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
        let d = &listed.items[0];
        assert_eq!(
            (d.state, d.attempts, d.receipt_id.as_str()),
            (DeliveryState::Delivered, 2, "d1")
        );
        assert!(
            store
                .list_deliveries(Some(org()), None, all)
                .await
                .unwrap()
                .items
                .is_empty()
        );

        let again = store.redeliver(Some(s1.clone()), id, due).await.unwrap();
        assert_eq!((again.state, again.attempts), (DeliveryState::Pending, 0));
        assert!(matches!(
            store.redeliver(Some(s1.clone()), id, due).await,
            Err(StoreError::Refused(_))
        ));
        assert_eq!(
            store.redeliver(Some(org()), id, due).await,
            Err(StoreError::NotFound)
        );
        store
            .delete_broadcast_station(s1.clone(), Text::new("S1").unwrap())
            .await
            .unwrap();
        assert_eq!(
            store
                .delete_broadcast_station(s1, Text::new("S1").unwrap())
                .await,
            Err(StoreError::NotFound)
        );
    }
}
