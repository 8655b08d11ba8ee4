//! paDemandPaymentNotice (spontaneous payments): a citizen asks one of the creditor's services
//! for a notice. The service's rules turn the request's fields into an amount, a description
//! and transfers; the position is created with a new IUV and published in one store call, and
//! the answer carries its notice number and what a verify of it would say.
//!
//! Creation is bounded: each service has a rate (a token bucket on this instance) and each
//! creditor a cap on its unpaid spontaneous positions (counted in the store, which every
//! instance shares). Past either the answer is PAA_SYSTEM_ERROR, which the Node treats as
//! temporary, naming the limit.

use std::time::Instant;

use super::check_ids;
use crate::context::Context;
use crate::domain::messages::{DemandRequest, DemandResponse, QrCode, VerifyResponse};
use crate::domain::{Fault, FaultCode};

pub async fn answer(ctx: &Context, req: &DemandRequest) -> Result<DemandResponse, Fault> {
    let creditor = check_ids(ctx, &req.ids)?;
    let id = req.ids.id_pa.as_str();
    let service = creditor.service(req.service_id.as_str()).ok_or_else(|| {
        Fault::new(
            FaultCode::PagamentoSconosciuto,
            id,
            format!(
                "idServizio {} is not a service of creditor {id}",
                req.service_id.as_str()
            ),
        )
    })?;
    let rate = service.rate();
    let key = (id.to_owned(), service.id().as_str().to_owned());
    if !ctx.demand_rates.take(key, rate, Instant::now()) {
        tracing::warn!(
            creditor = id,
            service = %service.id(),
            rate_per_second = rate.per_second(),
            burst = rate.burst(),
            "spontaneous payment refused: service rate exceeded"
        );
        return Err(Fault::new(
            FaultCode::SystemError,
            id,
            format!(
                "idServizio {} is asked more often than its limit of {} a second (burst {}); ask again later",
                service.id(),
                rate.per_second(),
                rate.burst()
            ),
        ));
    }
    let now = ctx.clock.now();
    let demand = service
        .demand(&req.service_data, now.date())
        .map_err(|v| Fault::new(FaultCode::Semantica, id, v.0))?;
    let cap = creditor.max_unpaid_spontaneous;
    let unpaid = ctx
        .store
        .count_unpaid_spontaneous(creditor.fiscal_code.clone(), now, cap)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "unpaid spontaneous payments could not be counted");
            Fault::new(
                FaultCode::SystemError,
                id,
                "the notice could not be created; ask again",
            )
        })?;
    if unpaid >= cap {
        tracing::warn!(
            creditor = id,
            service = %service.id(),
            max_unpaid_spontaneous = cap,
            "spontaneous payment refused: too many unpaid"
        );
        return Err(Fault::new(
            FaultCode::SystemError,
            id,
            format!(
                "creditor {id} has {cap} unpaid spontaneous payment notices, its limit; ask again once some are paid or expired"
            ),
        ));
    }
    let (organization, company, office) = (
        creditor.fiscal_code.clone(),
        creditor.company_name.clone(),
        creditor.office_name.clone(),
    );
    let build = Box::new(move |iuv| {
        demand.clone().into_position(
            iuv,
            organization.clone(),
            company.clone(),
            office.clone(),
            now,
        )
    });
    let position = ctx
        .store
        .create_with_new_iuv(creditor.fiscal_code.clone(), service.segregation_code(), build)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, service = %service.id(), "a spontaneous payment could not be created");
            Fault::new(
                FaultCode::SystemError,
                id,
                "the notice could not be created; ask again",
            )
        })?;
    tracing::info!(
        service = %service.id(),
        iuv = %position.options[0].iuv,
        "spontaneous payment created"
    );
    Ok(DemandResponse {
        qr_code: QrCode {
            fiscal_code: position.organization.clone(),
            notice_number: position.options[0].nav.clone(),
        },
        payment: VerifyResponse::of_option(&position, 0),
    })
}
