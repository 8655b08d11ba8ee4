//! paVerifyPaymentNotice: tells the Node what a notice asks for, without changing anything. The
//! answer has exactly one payment option, amount option EQ.

use super::payable_option;
use crate::context::Context;
use crate::domain::Fault;
use crate::domain::messages::{VerifyRequest, VerifyResponse};

pub async fn answer(ctx: &Context, req: &VerifyRequest) -> Result<VerifyResponse, Fault> {
    let (position, index) = payable_option(ctx, &req.ids, &req.qr_code).await?;
    let option = &position.options[index];
    Ok(VerifyResponse {
        amount: option.amount,
        due_date: option.due_date.date(),
        detail_description: option.description.clone(),
        all_ccp: option.all_postal(),
        payment_description: option.description.clone(),
        fiscal_code_pa: position.organization.clone(),
        company_name: position.company_name.clone(),
        office_name: position.office_name.clone(),
    })
}
