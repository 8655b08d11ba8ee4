//! paVerifyPaymentNotice: tells the Node what a notice asks for, without changing anything. The
//! answer has exactly one payment option, amount option EQ.

use super::payable_option;
use crate::context::Context;
use crate::domain::Fault;
use crate::domain::messages::{VerifyRequest, VerifyResponse};

pub async fn answer(ctx: &Context, req: &VerifyRequest) -> Result<VerifyResponse, Fault> {
    let (position, index) = payable_option(ctx, &req.ids, &req.qr_code).await?;
    Ok(VerifyResponse::of_option(&position, index))
}
