//! A fake of the platform's receipts service (`biz_events.json`, checked by the platform stub)
//! for end-to-end tests: it holds receipts the Node never delivered, by IUR, and answers them
//! by IUR or by IUR and IUV. IURs `slow`, `broken` and `refused` answer late, 500 and 422.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::platform_stub::{Answer, PlatformStub};

pub const DOCUMENT: &str = "pagopa-api/openapi/biz_events.json";
pub const BASE: &str = "/bizevents/service/v1";
pub const BY_IUR: &str = "/organizations/{organizationfiscalcode}/receipts/{iur}";
pub const BY_IUR_IUV: &str =
    "/organizations/{organizationfiscalcode}/receipts/{iur}/paymentoptions/{iuv}";

/// The receipts the service holds, by IUR.
pub type Held = Arc<Mutex<BTreeMap<String, Value>>>;

/// The receipt the platform keeps of [`super::receipts::ReceiptRequest::v2`]`(iur, iuv, cents)`
/// for creditor `org`, as its receipts service answers it.
pub fn platform_receipt(org: &str, iur: &str, iuv: &str, cents: i64) -> Value {
    let euros = cents as f64 / 100.0;
    json!({
        "receiptId": iur, "noticeNumber": format!("3{iuv}"), "fiscalCode": org, "outcome": "OK",
        "creditorReferenceId": iuv, "paymentAmount": euros, "description": "TARI 2025 - saldo",
        "companyName": "Comune di Esempio", "officeName": "Ufficio Tributi",
        "debtor": {"entityUniqueIdentifierType": "F", "entityUniqueIdentifierValue": "RSSMRA80A01H501U",
                   "fullName": "Mario Rossi"},
        "transferList": [{"idTransfer": 1, "transferAmount": euros, "fiscalCodePA": org,
                          "iban": "IT60X0542811101000000123456", "mbdAttachment": "",
                          "remittanceInformation": "TARI 2025", "transferCategory": "9/0101108TS/"}],
        "idPSP": "BCITITMM", "pspCompanyName": "Banca Esempio", "idChannel": "BCITITMM_01",
        "channelDescription": "app", "paymentMethod": "creditCard", "fee": 1.0,
        "primaryCiIncurredFee": 0.5, "idBundle": "bundle-1", "idCiBundle": "ci-bundle-1",
        "paymentDateTime": "2025-06-01", "paymentDateTimeFormatted": "2025-06-01T10:15:30",
        "applicationDate": "2025-06-01", "transferDate": "2025-06-02"
    })
}

fn problem(status: u16, detail: &str) -> Answer {
    Answer::json(
        status,
        json!({"title": "error", "status": status, "detail": detail}),
    )
}

/// The fake service, answering from `held`.
pub async fn service(held: Held) -> PlatformStub {
    PlatformStub::start(DOCUMENT, BASE, move |call| {
        let p = call
            .matches("GET", BY_IUR_IUV)
            .or_else(|| call.matches("GET", BY_IUR));
        let Some(p) = p else {
            return Answer::empty(404);
        };
        match p["iur"].as_str() {
            "slow" => return problem(404, "late").after(Duration::from_secs(7)),
            "broken" => return problem(500, "internal error"),
            "refused" => return problem(422, "bad request"),
            _ => {}
        }
        let held = held.lock().unwrap();
        match held.get(&p["iur"]) {
            Some(r)
                if r["fiscalCode"] == p["organizationfiscalcode"].as_str()
                    && p.get("iuv")
                        .is_none_or(|iuv| r["creditorReferenceId"] == iuv.as_str()) =>
            {
                Answer::json(200, r.clone())
            }
            _ => problem(404, "no such receipt"),
        }
    })
    .await
}
