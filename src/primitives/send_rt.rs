//! paSendRT and paSendRTV2: the Node's receipt. It is acquired durably (stored, settled on its
//! payment option, deliveries to broadcast stations created) before the Node hears OK. A
//! receipt cannot be refused: only a receipt that could not be stored gets PAA_SYSTEM_ERROR,
//! so that the Node sends it again.

use chrono::Duration;

use super::check_ids;
use crate::context::Context;
use crate::domain::broadcast::MAX_STATION_TIMEOUT;
use crate::domain::receipt::{ReceiptStatus, SendRtRequest};
use crate::domain::{Fault, FaultCode};
use crate::store::{Acquisition, DeliveryTarget, NewReceipt};

/// Acquires the receipt; on OK, the deliveries to attempt now (each already in the outbox).
pub async fn answer(
    ctx: &Context,
    request: SendRtRequest,
    document: &[u8],
) -> Result<Vec<DeliveryTarget>, Fault> {
    check_ids(ctx, &request.ids)?;
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
    let concerned = receipt.fiscal_code.as_str() == id
        || receipt.beneficiaries().iter().any(|b| b.as_str() == id);
    if !concerned {
        return Err(Fault::new(
            FaultCode::Semantica,
            id,
            format!(
                "idPA {id} is neither the notice's creditor ({}) nor a beneficiary of its transfers",
                receipt.fiscal_code
            ),
        ));
    }
    let now = ctx.clock.now();
    // The worker leaves the deliveries alone until the attempts made now have surely ended.
    let first_retry_at = now
        + Duration::from_std(ctx.config.broadcast.budget + MAX_STATION_TIMEOUT)
            .expect("small durations");
    let new = NewReceipt {
        request,
        document: document.to_vec(),
        received_at: now,
        first_retry_at,
    };
    let (receipt_id, notice) = (
        new.request.receipt.receipt_id.clone(),
        new.request.receipt.notice_number.to_string(),
    );
    let duplicate = || {
        Fault::new(
            FaultCode::ReceiptDuplicata,
            id,
            format!(
                "notice {notice} is already paid by another receipt; receipt {receipt_id} was kept but not applied"
            ),
        )
    };
    match ctx.store.acquire_receipt(new).await {
        Ok(Acquisition::AlreadyStored(ReceiptStatus::Duplicate)) => Err(duplicate()),
        Ok(Acquisition::AlreadyStored(_)) => Ok(Vec::new()),
        Ok(Acquisition::Stored {
            settlement,
            deliveries,
        }) => match settlement.status {
            ReceiptStatus::Duplicate => Err(duplicate()),
            ReceiptStatus::Flagged => {
                let flag = settlement.flag.as_ref();
                tracing::warn!(
                    notice = %notice,
                    flag = flag.map_or("", |f| f.code),
                    "receipt stored and flagged: {}",
                    flag.map_or("", |f| f.description.as_str())
                );
                Ok(deliveries)
            }
            ReceiptStatus::Applied => Ok(deliveries),
        },
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
