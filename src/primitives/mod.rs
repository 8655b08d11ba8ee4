//! The SOAP primitives' rules: each takes a typed request, answers it from the store and returns
//! the typed OK response or the fault to send. Checks shared by every primitive (who is asking,
//! which notice) live here; one file per primitive holds the rest.

pub mod demand;
pub mod get_payment;
pub mod recover;
pub mod send_fee;
pub mod send_rt;
pub mod verify;

use crate::context::Context;
use crate::domain::creditor::Creditor;
use crate::domain::messages::{QrCode, RequestIds};
use crate::domain::position::{DebtPosition, NotPayable};
use crate::domain::{Fault, FaultCode};

/// Checks idBrokerPA, idStation and idPA against the configuration, in that order.
pub fn check_ids<'a>(ctx: &'a Context, ids: &RequestIds) -> Result<&'a Creditor, Fault> {
    match check_receipt_ids(ctx, ids)? {
        (creditor, None) => Ok(creditor),
        (_, Some(station)) => Err(Fault::new(
            FaultCode::IdDominioErrato,
            ids.id_pa.as_str(),
            format!("idPA {} is not bound to station {station}", ids.id_pa),
        )),
    }
}

/// [`check_ids`] for a receipt, which records money already paid: a station of this broker
/// that is not (or no longer) bound to the creditor does not refuse it. The creditor is
/// returned with that station, for the receipt to be kept with it.
pub fn check_receipt_ids<'a>(
    ctx: &'a Context,
    ids: &RequestIds,
) -> Result<(&'a Creditor, Option<String>), Fault> {
    let id = ids.id_pa.as_str();
    let config = &ctx.config;
    if ids.id_broker_pa.as_str() != config.broker_id.as_str() {
        return Err(Fault::new(
            FaultCode::IdIntermediarioErrato,
            id,
            format!(
                "idBrokerPA {} is not this gateway's broker",
                ids.id_broker_pa
            ),
        ));
    }
    if !config.stations.contains(ids.id_station.as_str()) {
        return Err(Fault::new(
            FaultCode::StazioneIntErrata,
            id,
            format!(
                "idStation {} is not one of this broker's stations",
                ids.id_station
            ),
        ));
    }
    let creditor = config.creditor(id).ok_or_else(|| {
        Fault::new(
            FaultCode::IdDominioErrato,
            id,
            format!("idPA {id} is not a creditor served by this gateway"),
        )
    })?;
    let bound = creditor.stations.contains(ids.id_station.as_str());
    Ok((creditor, (!bound).then(|| ids.id_station.to_string())))
}

/// Finds the payable option a notice names, or the fault that says why it cannot be paid. The
/// position comes with that option only (at the index returned), as the store's per-notice
/// read model keeps it.
pub async fn payable_option(
    ctx: &Context,
    ids: &RequestIds,
    qr: &QrCode,
) -> Result<(DebtPosition, usize), Fault> {
    let creditor = check_ids(ctx, ids)?;
    let id = ids.id_pa.as_str();
    if qr.fiscal_code.as_str() != id {
        return Err(Fault::new(
            FaultCode::Semantica,
            id,
            format!(
                "qrCode/fiscalCode {} differs from idPA {id}",
                qr.fiscal_code
            ),
        ));
    }
    let unknown = || {
        Fault::new(
            FaultCode::PagamentoSconosciuto,
            id,
            format!("notice {} is unknown", qr.notice_number),
        )
    };
    let found = ctx
        .store
        .get_notice(creditor.fiscal_code.clone(), qr.notice_number.clone())
        .await;
    let view = match found {
        Ok(Some(view)) => view,
        Ok(None) => return Err(unknown()),
        Err(e) => {
            tracing::error!(error = %e, "store failure while looking up a notice");
            return Err(Fault::new(
                FaultCode::SystemError,
                id,
                "the debt-position store is not available",
            ));
        }
    };
    match view.payability(ctx.clock.now()) {
        // The position trimmed to the option, which is at index 0.
        Ok(()) => Ok((view.into_position(), 0)),
        Err(reason) => Err(not_payable(reason, id, &qr.notice_number.to_string())),
    }
}

fn not_payable(reason: NotPayable, id: &str, notice: &str) -> Fault {
    let (code, description) = match reason {
        NotPayable::Unknown => (
            FaultCode::PagamentoSconosciuto,
            format!("notice {notice} is unknown"),
        ),
        NotPayable::Cancelled => (
            FaultCode::PagamentoAnnullato,
            format!("notice {notice} was cancelled by the creditor"),
        ),
        NotPayable::Expired => (
            FaultCode::PagamentoScaduto,
            format!("notice {notice} has expired"),
        ),
        NotPayable::AlreadyPaid => (
            FaultCode::PagamentoDuplicato,
            format!("notice {notice} is already paid"),
        ),
        NotPayable::Superseded => (
            FaultCode::PagamentoDuplicato,
            format!(
                "notice {notice} can no longer be paid: the position is being paid in installments"
            ),
        ),
    };
    Fault::new(code, id, description)
}
