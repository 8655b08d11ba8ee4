//! `[retention]`: how long personal data is kept where the creditor does not say it. Positions
//! follow their options' own `retentionDate`; receipts keep their payer and debtor for
//! `receipts_personal_data_days` after they are received.

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{Refusal, checked};
use crate::domain::personal_data::{DEFAULT_RECEIPT_DAYS, ReceiptRetention};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days a receipt keeps its payer and debtor (accounting records), at least one.
    #[serde(
        rename = "receipts_personal_data_days",
        deserialize_with = "receipt_days"
    )]
    pub receipts: ReceiptRetention,
}

fn receipt_days<'de, D: Deserializer<'de>>(d: D) -> Result<ReceiptRetention, D::Error> {
    checked(d, |days: u32| {
        ReceiptRetention::days(days).ok_or_else(|| {
            Refusal::new(format!(
                "must be at least 1 (days; the default, {DEFAULT_RECEIPT_DAYS}, is ten years)"
            ))
        })
    })
}
