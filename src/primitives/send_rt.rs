//! paSendRT and paSendRTV2: the Node's receipt. It is acquired durably (stored, settled on its
//! payment option, deliveries to broadcast stations created) before the Node hears OK, and its
//! deliveries start beside the answer, never before it. A receipt cannot be refused: only a
//! receipt that could not be stored gets PAA_SYSTEM_ERROR, so that the Node sends it again. A
//! receipt is (creditor, notice number, receiptId); a copy of one with other content is kept as
//! CONFLICT and answered PAA_SEMANTICA. [`acquire`] is the use case itself, shared with the
//! receipts recovered from the platform (`super::recover`).

use crate::observe::metrics::{ReceiptStored, metrics};
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::check_receipt_ids;
use crate::broadcast::forms::ReceiptForms;
use crate::context::Context;
use crate::domain::FiscalCodePA;
use crate::domain::broadcast::recipients;
use crate::domain::receipt::{ReceiptOrigin, ReceiptStatus, SendRtRequest, Settlement};
use crate::domain::receipt_digest::ReceiptDigest;
use crate::domain::{Fault, FaultCode};
use crate::store::{Acquisition, NewDelivery, NewReceipt, Store, StoreError};
use crate::xml::receipts::decode_stored_send_rt;

/// Acquires the receipt and, once it is stored, starts its deliveries without waiting for them.
/// A receipt addressed to a station of ours that is not (or no longer) bound to the creditor
/// records money already paid: it is acquired as any other, kept with that station, and OK.
pub async fn answer(ctx: &Context, request: SendRtRequest, document: &[u8]) -> Result<(), Fault> {
    let (_, unbound_station) = check_receipt_ids(ctx, &request.ids)?;
    let id = request.ids.id_pa.to_string();
    let id = id.as_str();
    let receipt = &request.receipt;
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
    let (receipt_id, notice) = (
        receipt.receipt_id.clone(),
        receipt.notice_number.to_string(),
    );
    if let Some(station) = &unbound_station {
        tracing::warn!(
            notice = %notice,
            station = %station,
            "receipt addressed to a station not bound to its creditor: kept, applied and answered OK"
        );
        if let Some(m) = metrics() {
            m.receipt_station_not_bound();
        }
    }
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
        Fault::new(
            FaultCode::Semantica,
            id,
            format!(
                "receipt {receipt_id} for notice {notice} was received before with other content ({why}); this copy was kept as CONFLICT and not applied"
            ),
        )
    };
    let source = Source {
        origin: ReceiptOrigin::Node,
        unbound_station,
        deliver_now: true,
    };
    match acquire(ctx, request, document.to_vec(), source).await {
        Ok(Acquired::Repeat(ReceiptStatus::Duplicate)) => Err(duplicate()),
        Ok(Acquired::Repeat(ReceiptStatus::Conflict)) => {
            Err(conflict("this copy was received before too"))
        }
        Ok(Acquired::Repeat(ReceiptStatus::Applied | ReceiptStatus::Flagged)) => Ok(()),
        Ok(Acquired::Conflict(why)) => Err(conflict(&why)),
        Ok(Acquired::Stored(settlement)) if settlement.status == ReceiptStatus::Duplicate => {
            Err(duplicate())
        }
        Ok(Acquired::Stored(_)) => Ok(()),
        Err(_) => Err(Fault::new(
            FaultCode::SystemError,
            id,
            "the receipt could not be stored; send it again",
        )),
    }
}

/// Where a receipt to acquire comes from, and when its deliveries start.
pub struct Source {
    pub origin: ReceiptOrigin,
    /// The station, ours but not bound to the creditor, the Node addressed it to.
    pub unbound_station: Option<String>,
    /// Start the deliveries at once from this process; otherwise they are left, PENDING and
    /// due, to the retry worker of a running gateway.
    pub deliver_now: bool,
}

/// What acquiring a receipt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Stored now with this settlement (a DUPLICATE one included), its deliveries created.
    Stored(Settlement),
    /// The same receipt was stored before with this status: nothing changed.
    Repeat(ReceiptStatus),
    /// A receipt with the same identity and other content was stored before: this copy is
    /// kept as CONFLICT, applied to nothing and delivered nowhere; what differs.
    Conflict(String),
}

/// The receipt use case, whatever brought the receipt (the Node, a recovery from the
/// platform): the receipt is stored, settled on its position and routed to the broadcast
/// stations of the creditors it concerns in one transaction; once that is committed, its
/// deliveries start. The caller has checked who sent it and that it concerns its recipient.
/// `document` is the paSendRT(V2) request stored with it, the one the REST API gives back.
pub async fn acquire(
    ctx: &Context,
    request: SendRtRequest,
    document: Vec<u8>,
    source: Source,
) -> Result<Acquired, StoreError> {
    let receipt = Arc::new(request.forwarded_receipt());
    let forms = ctx.broadcaster.forms(receipt.clone());
    let mut new = prepare(request, forms, document, ctx.clock.now());
    new.origin = source.origin;
    new.unbound_station = source.unbound_station;
    let notice = receipt.notice_number.as_str();
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
        Ok(Acquisition::AlreadyStored(status)) => Ok(Acquired::Repeat(status)),
        Ok(Acquisition::Conflict { earlier }) => {
            let why = receipt.differences_from(&earlier);
            tracing::warn!(notice = %notice, "receipt kept as CONFLICT: {why}");
            Ok(Acquired::Conflict(why))
        }
        Ok(Acquisition::Stored {
            settlement,
            deliveries,
        }) => {
            if settlement.status == ReceiptStatus::Flagged {
                let flag = settlement.flag.as_ref();
                tracing::warn!(
                    notice = %notice,
                    flag = flag.map_or("", |f| f.code),
                    "receipt stored and flagged: {}",
                    flag.map_or("", |f| f.description.as_str())
                );
            }
            // Stored: what the stations answer, or whether they answer, cannot change ours.
            if source.deliver_now && settlement.status != ReceiptStatus::Duplicate {
                ctx.broadcaster.start(&receipt.fiscal_code, deliveries);
            }
            Ok(Acquired::Stored(settlement))
        }
        Err(e) => {
            tracing::error!(error = %e, notice = %notice, "a receipt could not be stored");
            Err(e)
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
        origin: ReceiptOrigin::Node,
        unbound_station: None,
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
