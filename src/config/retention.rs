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

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::domain::personal_data::ReceiptRetention;

    const BASE: &str = "[broker]\nid = \"77777777777\"\nstations = [\"77777777777_01\"]\n";

    #[test]
    fn receipts_keep_personal_data_ten_years_unless_told() {
        let c = Config::parse(BASE, "t").unwrap();
        assert_eq!(c.retention.receipts, ReceiptRetention::default());
        let text = format!("{BASE}[retention]\nreceipts_personal_data_days = 30\n");
        let c = Config::parse(&text, "t").unwrap();
        assert_eq!(c.retention.receipts, ReceiptRetention::days(30).unwrap());
        for bad in ["0", "-1", "\"ten\""] {
            let text = format!("{BASE}[retention]\nreceipts_personal_data_days = {bad}\n");
            let e = Config::parse(&text, "t").unwrap_err();
            assert_eq!(e.key, "retention.receipts_personal_data_days", "{bad}: {e}");
        }
        let e =
            Config::parse(&format!("{BASE}[retention]\npositions_days = 1\n"), "t").unwrap_err();
        assert!(e.problem.contains("positions_days"), "{e}");
    }
}
