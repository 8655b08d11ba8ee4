//! paSendRT and paSendRTV2: the Node's receipt. It is acquired durably (stored, settled on its
//! payment option, deliveries to broadcast stations created) before the Node hears OK, and its
//! deliveries start beside the answer, never before it. A receipt cannot be refused: only a
//! receipt that could not be stored gets PAA_SYSTEM_ERROR, so that the Node sends it again. A
//! receipt is (creditor, notice number, receiptId); a copy of one with other content is kept as
//! CONFLICT and answered PAA_SEMANTICA.

use crate::observe::metrics::{ReceiptStored, metrics};
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::check_ids;
use crate::broadcast::forms::ReceiptForms;
use crate::context::Context;
use crate::domain::FiscalCodePA;
use crate::domain::broadcast::recipients;
use crate::domain::receipt::{ReceiptStatus, SendRtRequest};
use crate::domain::receipt_digest::ReceiptDigest;
use crate::domain::{Fault, FaultCode};
use crate::store::{Acquisition, NewDelivery, NewReceipt, Store, StoreError};
use crate::xml::receipts::decode_stored_send_rt;

/// Acquires the receipt and, once it is stored, starts its deliveries without waiting for them.
pub async fn answer(ctx: &Context, request: SendRtRequest, document: &[u8]) -> Result<(), Fault> {
    check_ids(ctx, &request.ids)?;
    let id = request.ids.id_pa.to_string();
    let id = id.as_str();
    let receipt = request.forwarded_receipt();
    if receipt.receipt_id.trim().is_empty() {
        return Err(Fault::new(
            FaultCode::Semantica,
            id,
            "receipt/receiptId is empty: a receipt needs an id",
        ));
    }
    if !receipt.concerns(id) {
        return Err(Fault::new(
            FaultCode::Semantica,
            id,
            format!(
                "idPA {id} is neither the notice's creditor ({}) nor a beneficiary of its transfers",
                receipt.fiscal_code
            ),
        ));
    }
    let receipt = Arc::new(receipt);
    let forms = ctx.broadcaster.forms(receipt.clone());
    let new = prepare(request, forms, document.to_vec(), ctx.clock.now());
    let (receipt_id, notice) = (&receipt.receipt_id, receipt.notice_number.as_str());
    let duplicate = || {
        Fault::new(
            FaultCode::ReceiptDuplicata,
            id,
            format!(
                "notice {notice} is already paid by another receipt; receipt {receipt_id} was kept but not applied"
            ),
        )
    };
    let conflict = |why: &str| {
        tracing::warn!(notice = %notice, "receipt kept as CONFLICT: {why}");
        Fault::new(
            FaultCode::Semantica,
            id,
            format!(
                "receipt {receipt_id} for notice {notice} was received before with other content ({why}); this copy was kept as CONFLICT and not applied"
            ),
        )
    };
    let acquired = ctx.store.acquire_receipt(new).await;
    if let Some(m) = metrics() {
        m.receipt(match &acquired {
            Ok(Acquisition::Stored { settlement, .. }) => ReceiptStored::Stored(settlement.status),
            Ok(Acquisition::Conflict { .. }) => ReceiptStored::Stored(ReceiptStatus::Conflict),
            Ok(Acquisition::AlreadyStored(_)) => ReceiptStored::Repeat,
            Err(_) => ReceiptStored::Failed,
        });
    }
    match acquired {
        Ok(Acquisition::AlreadyStored(ReceiptStatus::Duplicate)) => Err(duplicate()),
        Ok(Acquisition::AlreadyStored(ReceiptStatus::Conflict)) => {
            Err(conflict("this copy was received before too"))
        }
        Ok(Acquisition::AlreadyStored(ReceiptStatus::Applied | ReceiptStatus::Flagged)) => Ok(()),
        Ok(Acquisition::Conflict { earlier }) => Err(conflict(&receipt.differences_from(&earlier))),
        Ok(Acquisition::Stored {
            settlement,
            deliveries,
        }) => {
            match settlement.status {
                ReceiptStatus::Duplicate => return Err(duplicate()),
                ReceiptStatus::Flagged => {
                    let flag = settlement.flag.as_ref();
                    tracing::warn!(
                        notice = %notice,
                        flag = flag.map_or("", |f| f.code),
                        "receipt stored and flagged: {}",
                        flag.map_or("", |f| f.description.as_str())
                    );
                }
                ReceiptStatus::Applied | ReceiptStatus::Conflict => {}
            }
            // Stored: what the stations answer, or whether they answer, cannot change ours.
            ctx.broadcaster.start(&receipt.fiscal_code, deliveries);
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, notice = %notice, "a receipt could not be stored");
            Err(Fault::new(
                FaultCode::SystemError,
                id,
                "the receipt could not be stored; send it again",
            ))
        }
    }
}

/// The receipt's acquisition as the store is to apply it, with this use case's decisions: how
/// it settles its position (domain rules), which creditors see it, and which stations get it
/// (none for a receipt kept for audit only), each with the request its delivery sends.
/// `forms` are the request's forwarded receipt's.
pub fn prepare(
    request: SendRtRequest,
    mut forms: ReceiptForms,
    document: Vec<u8>,
    now: NaiveDateTime,
) -> NewReceipt {
    let receipt = forms.receipt().clone();
    let concerned: Vec<FiscalCodePA> = receipt.concerned_creditors().into_iter().cloned().collect();
    let (settling, routed, sender) = (receipt.clone(), receipt.clone(), request.ids.clone());
    NewReceipt {
        digest: receipt.content_digest(),
        request,
        document,
        received_at: now,
        concerned,
        settle: Box::new(move |position| settling.settle(position, now)),
        route: Box::new(move |settlement, stations| {
            if !settlement.status.is_forwarded() {
                return Vec::new();
            }
            recipients(&routed, &sender, stations)
                .into_iter()
                .map(|route| NewDelivery {
                    station: route.station,
                    request: route
                        .deliverable
                        .and_then(|()| forms.request(route.station)),
                })
                .collect()
        }),
    }
}

/// How many stored receipts one round of [`fill_in_digests`] reads.
const DIGEST_BATCH: u32 = 500;

/// Gives receipts stored before content digests were kept the digest of their document, so
/// that a repeat of one is told from a conflicting copy. Run at start, before the Node is
/// answered; returns how many receipts it filled in.
pub async fn fill_in_digests(store: &dyn Store) -> Result<usize, StoreError> {
    let mut filled = 0;
    loop {
        let missing = store.receipts_missing_digest(DIGEST_BATCH).await?;
        if missing.is_empty() {
            return Ok(filled);
        }
        filled += missing.len();
        let digests = missing
            .into_iter()
            .map(|(row, document)| {
                let digest = match decode_stored_send_rt(&document) {
                    Ok(request) => request.forwarded_receipt().content_digest(),
                    Err(e) => {
                        tracing::warn!(receipt = row, "stored receipt unreadable ({e}): any other copy of it will be a conflict");
                        ReceiptDigest::of_unreadable(&document)
                    }
                };
                (row, digest)
            })
            .collect();
        store.set_receipt_digests(digests).await?;
    }
}
