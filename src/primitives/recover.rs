//! Receipt recovery: a receipt the Node never delivered (a reporting flow's payment without a
//! receipt, or one a creditor asks for by notice) is fetched from the platform's receipts
//! service by IUR, or IUR and IUV, written as the paSendRTV2 request the Node would have sent
//! the creditor's station, and acquired by the receipt use case ([`send_rt::acquire`]) like any
//! receipt: stored (marked as recovered from the platform), applied to its position, forwarded
//! to the broadcast stations. The REST API, the CLI and the reconciliation of reporting flows
//! all call [`recover`].
//!
//! Idempotent: a receipt already stored (from the Node or recovered before) is a repeat and
//! changes nothing; a copy arriving later from the Node is a repeat of the recovered one when
//! both record the same payment (see `ReceiptFacts::same_payment`), and a conflict otherwise.

use std::fmt;

use super::send_rt::{self, Acquired, Source};
use crate::context::Context;
use crate::domain::messages::RequestIds;
use crate::domain::receipt::{Flag, ReceiptOrigin, ReceiptStatus, ReceiptVersion};
use crate::domain::{FiscalCodePA, Text};
use crate::platform::api::ApiError;
use crate::platform::bizevents::{BizEvents, Found};
use crate::store::StoreError;
use crate::xml::broadcast::send_rt_request;
use crate::xml::receipts::{date_time, decode_stored_send_rt};

/// The receipt to recover: the creditor's IUR (the receipt id), with the IUV when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub organization: FiscalCodePA,
    pub iur: String,
    pub iuv: Option<String>,
}

/// The receipt recovered or found, as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub receipt_id: String,
    pub notice_number: String,
    pub iuv: String,
    pub outcome: Outcome,
}

/// What a recovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now as recovered from the platform, with what it did to its position
    /// (APPLIED, or FLAGGED with why, or DUPLICATE of another receipt of the notice), and
    /// forwarded to the broadcast stations when applied or flagged.
    Stored {
        status: ReceiptStatus,
        flag: Option<Flag>,
    },
    /// The same receipt was stored before, with this status: nothing changed.
    AlreadyStored(ReceiptStatus),
    /// A receipt with the same id and notice but recording another payment is stored: the
    /// platform's copy is kept as CONFLICT, applied to nothing; what differs.
    Conflict(String),
}

/// Why a receipt could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryError {
    /// The creditor has no `[creditor.bizevents]` access.
    NotConfigured,
    /// The receipts service has no such receipt (404).
    NotFound,
    /// No answer in time, no connection, or the service's own failure (429, 5xx).
    Unreachable(String),
    /// The service refused the request (401, 422, another 4xx): its status and body.
    Refused { status: u16, body: String },
    /// Its answer is not a receipt of this creditor that a station could be sent.
    Invalid(String),
    /// The receipt could not be stored.
    Store(StoreError),
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryError::NotConfigured => f.write_str(
                "the creditor has no access to the platform's receipts service ([creditor.bizevents])",
            ),
            RecoveryError::NotFound => {
                f.write_str("the platform's receipts service has no such receipt")
            }
            RecoveryError::Unreachable(why) => {
                write!(f, "the platform's receipts service is unreachable: {why}")
            }
            RecoveryError::Refused { status, body } => write!(
                f,
                "the platform's receipts service refused the request (HTTP {status}): {body}"
            ),
            RecoveryError::Invalid(why) => write!(
                f,
                "the platform's receipts service answered with no usable receipt: {why}"
            ),
            RecoveryError::Store(e) => write!(f, "the receipt could not be stored: {e}"),
        }
    }
}

impl RecoveryError {
    /// The error's name, as a recovery's outcome records it.
    pub fn label(&self) -> &'static str {
        match self {
            RecoveryError::NotConfigured => "NOT_CONFIGURED",
            RecoveryError::NotFound => "NOT_FOUND",
            RecoveryError::Unreachable(_) => "UNREACHABLE",
            RecoveryError::Refused { .. } => "REFUSED",
            RecoveryError::Invalid(_) => "INVALID",
            RecoveryError::Store(_) => "STORE_FAILED",
        }
    }
}

/// Fetches the missing receipt and acquires it. `deliver_now` starts its deliveries from this
/// process; without it they are left to a running gateway's retry worker (the CLI).
pub async fn recover(
    ctx: &Context,
    missing: &Missing,
    deliver_now: bool,
) -> Result<Recovered, RecoveryError> {
    let org = missing.organization.as_str();
    let creditor = ctx
        .config
        .creditor(org)
        .ok_or_else(|| RecoveryError::Invalid(format!("{org} is not a creditor served here")))?;
    let access = creditor
        .platform
        .bizevents
        .as_ref()
        .ok_or(RecoveryError::NotConfigured)?;
    let found = BizEvents::new(access)
        .receipt(org, &missing.iur, missing.iuv.as_deref())
        .await;
    let answer = match found {
        Ok(Found::Receipt(answer)) => answer,
        Ok(Found::NotFound) => return Err(RecoveryError::NotFound),
        Err(e) => {
            tracing::warn!(iur = %missing.iur, error = %e, "receipt recovery: the receipts service failed");
            return Err(match e {
                ApiError::Unreachable(why) => RecoveryError::Unreachable(why),
                ApiError::Status { status, body } if status == 429 || status >= 500 => {
                    RecoveryError::Unreachable(format!("HTTP {status}: {body}"))
                }
                ApiError::Status { status, body } => RecoveryError::Refused { status, body },
                ApiError::Invalid(why) => RecoveryError::Invalid(why),
            });
        }
    };
    let receipt = answer
        .to_receipt(date_time)
        .map_err(RecoveryError::Invalid)?;
    if receipt.receipt_id != missing.iur {
        return Err(RecoveryError::Invalid(format!(
            "receiptId {} is not the IUR asked for",
            receipt.receipt_id
        )));
    }
    if let Some(iuv) = &missing.iuv
        && receipt.creditor_reference_id.as_str() != iuv
    {
        return Err(RecoveryError::Invalid(format!(
            "creditorReferenceId {} is not the IUV asked for",
            receipt.creditor_reference_id
        )));
    }
    if !receipt.concerns(org) {
        return Err(RecoveryError::Invalid(format!(
            "the receipt is neither of {org}'s notices nor pays {org}"
        )));
    }
    // The request the Node would have sent the creditor's station; read back as a Node's is,
    // so that the stored document and what was acquired are one.
    let station = creditor
        .stations
        .iter()
        .next()
        .ok_or_else(|| RecoveryError::Invalid(format!("{org} has no station")))?;
    let ids = RequestIds {
        id_pa: Text::new(org).expect("a fiscal code is a text"),
        id_broker_pa: ctx.config.broker_id.clone(),
        id_station: Text::new(station.as_str())
            .map_err(|e| RecoveryError::Invalid(format!("station {station}: {e}")))?,
    };
    let document = send_rt_request(&ids, &receipt, ReceiptVersion::V2)
        .expect("paSendRTV2 carries every receipt");
    let request = decode_stored_send_rt(&document).map_err(RecoveryError::Invalid)?;
    let (receipt_id, notice_number, iuv) = (
        request.receipt.receipt_id.clone(),
        request.receipt.notice_number.to_string(),
        request.receipt.creditor_reference_id.to_string(),
    );
    let source = Source {
        origin: ReceiptOrigin::Platform,
        unbound_station: None,
        deliver_now,
    };
    let outcome = match send_rt::acquire(ctx, request, document, source).await {
        Ok(Acquired::Stored(settlement)) => Outcome::Stored {
            status: settlement.status,
            flag: settlement.flag,
        },
        Ok(Acquired::Repeat(status)) => Outcome::AlreadyStored(status),
        Ok(Acquired::Conflict(why)) => Outcome::Conflict(why),
        Err(e) => return Err(RecoveryError::Store(e)),
    };
    tracing::info!(iur = %receipt_id, notice = %notice_number, outcome = outcome.label(), "receipt recovery");
    Ok(Recovered {
        receipt_id,
        notice_number,
        iuv,
        outcome,
    })
}

impl Outcome {
    /// RECOVERED, ALREADY_STORED or CONFLICT, as the REST API and the CLI say it.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Stored { .. } => "RECOVERED",
            Outcome::AlreadyStored(_) => "ALREADY_STORED",
            Outcome::Conflict(_) => "CONFLICT",
        }
    }

    /// The stored receipt's status.
    pub fn status(&self) -> ReceiptStatus {
        match self {
            Outcome::Stored { status, .. } | Outcome::AlreadyStored(status) => *status,
            Outcome::Conflict(_) => ReceiptStatus::Conflict,
        }
    }
}
