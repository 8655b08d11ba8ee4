//! The receipt table: acquiring a receipt (stored, its settlement and deliveries, as the receipt
//! use case decides them, persisted in the caller's transaction), fetching its document and
//! listing receipts.

use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, params};

use super::broadcast::{insert_deliveries, stations_of};
use super::columns::*;
use super::filter::Where;
use super::positions::{load_position, write_payment};
use super::unavailable;
use crate::domain::FiscalCodePA;
use crate::domain::receipt::{ReceiptOrigin, ReceiptStatus, SendRtRequest, Settlement};
use crate::domain::receipt_digest::{ReceiptDigest, ReceiptFacts};
use crate::store::{
    Acquisition, DeliveredReceipt, NewReceipt, Page, PageRequest, PositionKey, ReceiptFilter,
    ReceiptSummary, StoreError,
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
        origin,
        unbound_station,
    } = new;
    let receipt = &request.receipt;
    // The creditors, besides the notice's own, that see the receipt among theirs.
    let beneficiaries = concerned.get(1..).unwrap_or_default();
    // Every copy stored under this identity; at most one per distinct content.
    let copies = conn
        .prepare_cached(
            "SELECT status, digest, amount, iuv, psp_id, debtor, payment_date_time, origin
             FROM receipt WHERE organization = ?1 AND nav = ?2 AND receipt_id = ?3 ORDER BY id",
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
                        r.get::<_, String>(7)?,
                    ))
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    let mut earlier = None;
    for (status, stored_digest, amount, mut facts, stored_origin) in copies {
        let status =
            ReceiptStatus::parse(&status).ok_or_else(|| corrupt("receipt.status", &status))?;
        if stored_digest.as_deref() == Some(&digest.0[..]) {
            return Ok(Acquisition::AlreadyStored(status));
        }
        facts.amount = cents(amount, "receipt.amount")?.to_string();
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
        request: &request,
        document: &document,
        digest,
        received_at,
        origin,
        unbound_station: unbound_station.as_deref(),
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
    let delivered = DeliveredReceipt {
        receipt_id: receipt.receipt_id.clone(),
        notice_number: receipt.notice_number.to_string(),
    };
    let deliveries = insert_deliveries(conn, id, &delivered, deliveries, received_at)?;
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
    origin: ReceiptOrigin,
    unbound_station: Option<&'a str>,
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
            payment_time, stand_in, received_at, document, digest, origin, unbound_station)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,
            ?23, ?24)",
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
            row.origin.as_str(),
            row.unbound_station,
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
        let listed = quoted_list(filter.statuses.iter().map(|s| s.as_str()));
        filters.and(format!("status IN ({listed})"));
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
    filters.page(conn, &RECEIPT_LISTING, page, |r| receipt_summary(r))
}
