//! The payment-options service's JSON (`orgs_payment_options.json`): `PaymentOptionsResponse`
//! from a notice's options, and `ErrorResponse` from an app error. Amounts are euro cents;
//! dates are UTC, written as RFC 3339 with `Z`.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::domain::odp::{NoticeOptions, OptionGroup, Refused};
use crate::domain::position::PaymentOption;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOptionsResponse {
    pub organization_fiscal_code: String,
    pub company_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_name: Option<String>,
    pub standin: bool,
    pub payment_options: Vec<PaymentOptionOut>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOptionOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub number_of_installments: usize,
    pub amount: i64,
    #[serde(flatten)]
    pub standing: Standing,
    #[serde(rename = "allCCP")]
    pub all_ccp: bool,
    pub installments: Vec<InstallmentOut>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallmentOut {
    pub nav: String,
    pub iuv: String,
    pub amount: i64,
    pub description: String,
    #[serde(flatten)]
    pub standing: Standing,
}

/// When an option or installment is due and payable from, and how it stands.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    pub due_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    pub http_status_code: u16,
    pub http_status_description: &'static str,
    pub app_error_code: &'static str,
    pub timestamp: i64,
    pub date_time: String,
    pub error_message: String,
}

/// A UTC instant as RFC 3339.
fn date_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn response(options: &NoticeOptions<'_>) -> PaymentOptionsResponse {
    let p = options.position;
    let valid_from = p.validity_date.map(date_time);
    PaymentOptionsResponse {
        organization_fiscal_code: p.organization.to_string(),
        company_name: p.company_name.as_str().to_owned(),
        office_name: p.office_name.as_ref().map(|o| o.as_str().to_owned()),
        standin: p.pay_stand_in,
        payment_options: options
            .groups
            .iter()
            .map(|g| group(g, &valid_from))
            .collect(),
    }
}

fn group(g: &OptionGroup<'_>, valid_from: &Option<String>) -> PaymentOptionOut {
    // A single option is described by its own text; the plan has none of its own.
    let description = match g.installments.as_slice() {
        [(single, _)] if !g.is_plan => Some(single.description.as_str().to_owned()),
        _ => None,
    };
    PaymentOptionOut {
        description,
        number_of_installments: g.installments.len(),
        amount: g.amount().get(),
        standing: Standing {
            due_date: date_time(g.due_date()),
            valid_from: valid_from.clone(),
            status: g.status.as_str(),
            status_reason: g.status.reason(),
        },
        all_ccp: g.all_postal(),
        installments: g
            .installments
            .iter()
            .map(|(o, s)| installment(o, s.as_str(), s.reason(), valid_from))
            .collect(),
    }
}

fn installment(
    o: &PaymentOption,
    status: &'static str,
    status_reason: Option<&'static str>,
    valid_from: &Option<String>,
) -> InstallmentOut {
    InstallmentOut {
        nav: o.nav.to_string(),
        iuv: o.iuv.to_string(),
        amount: o.amount.get(),
        description: o.description.as_str().to_owned(),
        standing: Standing {
            due_date: date_time(o.due_date),
            valid_from: valid_from.clone(),
            status,
            status_reason,
        },
    }
}

/// The answer to a refusal at `now`: the PAA code, then what it is about.
pub fn error(refused: &Refused, now: NaiveDateTime) -> ErrorResponse {
    let status = refused.error.http_status();
    ErrorResponse {
        http_status_code: status,
        http_status_description: reason_phrase(status),
        app_error_code: refused.error.app_code(),
        timestamp: now.and_utc().timestamp(),
        date_time: date_time(now),
        error_message: format!("{} {}", refused.error.paa_code(), refused.detail),
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::odp::OdpError;
    use crate::domain::position::tests::at;

    #[test]
    fn an_error_names_its_code_twice() {
        let refused = Refused::new(OdpError::UnknownPayment, "notice 301 is unknown");
        let e = error(&refused, at(2026, 3, 1));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "httpStatusCode": 404,
                "httpStatusDescription": "Not Found",
                "appErrorCode": "ODP-107",
                "timestamp": 1772366400,
                "dateTime": "2026-03-01T12:00:00Z",
                "errorMessage": "PAA_PAGAMENTO_SCONOSCIUTO notice 301 is unknown",
            })
        );
        for e in OdpError::ALL {
            let status = e.http_status();
            assert_ne!(reason_phrase(status), "", "{status}");
            assert!(status == 500 || reason_phrase(status) != "Internal Server Error");
        }
    }
}
