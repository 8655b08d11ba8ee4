//! The platform's receipts service (`biz_events.json`): a creditor's receipt by IUR, or by IUR
//! and IUV, as the Node sent it to the platform. The gateway asks it for a receipt the Node
//! never delivered; its answer is a [`CtReceiptModelResponse`].

use std::time::Duration;

use super::api::{ApiError, PlatformApi, SUBSCRIPTION_KEY, json};
use crate::domain::platform::PlatformAccess;
use crate::json::bizevents::CtReceiptModelResponse;

/// How long one request to the service may take: the caller (an operator, a creditor's
/// back-office) waits for it.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What the service said of a receipt.
#[derive(Debug)]
pub enum Found {
    Receipt(Box<CtReceiptModelResponse>),
    /// 404: the service has no such receipt.
    NotFound,
}

/// The receipts service of one creditor.
pub struct BizEvents(PlatformApi);

impl BizEvents {
    pub fn new(access: &PlatformAccess) -> BizEvents {
        BizEvents(PlatformApi::new(access, SUBSCRIPTION_KEY, TIMEOUT))
    }

    /// `GET /organizations/{organizationfiscalcode}/receipts/{iur}`, or
    /// `…/receipts/{iur}/paymentoptions/{iuv}` with an IUV.
    pub async fn receipt(
        &self,
        organization: &str,
        iur: &str,
        iuv: Option<&str>,
    ) -> Result<Found, ApiError> {
        let mut path = vec!["organizations", organization, "receipts", iur];
        if let Some(iuv) = iuv {
            path.extend(["paymentoptions", iuv]);
        }
        match self
            .0
            .call(reqwest::Method::GET, &path, &[], None::<&()>)
            .await
        {
            Ok(body) => Ok(Found::Receipt(Box::new(json(&body)?))),
            Err(ApiError::Status { status: 404, .. }) => Ok(Found::NotFound),
            Err(e) => Err(e),
        }
    }
}
