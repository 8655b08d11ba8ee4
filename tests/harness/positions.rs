//! Debt positions as creditors send them, for end-to-end tests.

use gpd_gateway::domain::{Iuv, SegregationCode};
use serde_json::{Value, json};

/// The IUV with segregation code `seg` and this base, check digits included.
pub fn iuv(seg: u8, base: u64) -> String {
    Iuv::from_parts(SegregationCode::parse(&format!("{seg:02}")).unwrap(), base)
        .unwrap()
        .to_string()
}

/// A position of one option of `amount` cents, due in 2099, one transfer to an IBAN.
pub fn position(iupd: &str, iuv: &str, amount: i64) -> Value {
    json!({
        "iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
        "companyName": "Comune di Esempio", "switchToExpired": false,
        "paymentOption": [{
            "iuv": iuv, "amount": amount, "description": "TARI 2025", "isPartialPayment": false,
            "dueDate": "2099-12-31T23:59:59",
            "transfer": [{"idTransfer": "1", "amount": amount, "remittanceInformation": "TARI",
                          "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]
        }]
    })
}
