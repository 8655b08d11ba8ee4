//! The JSON shapes of the creditor REST API, as in PagoPA's GPD v1 (PaymentPositionModel and
//! friends). Requests are read leniently (unknown and read-only fields are ignored, null lists
//! are empty); responses omit absent values. The request shapes are also written, in the
//! documents' field order: GPD-for-ACA takes the same PaymentPositionModel.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionIn {
    pub iupd: String,
    #[serde(rename = "type")]
    pub debtor_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_stand_in: Option<bool>,
    pub fiscal_code: String,
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civic_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub switch_to_expired: bool,
    pub company_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_option: Option<Vec<OptionIn>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nav: Option<String>,
    pub iuv: String,
    pub amount: i64,
    pub description: String,
    pub is_partial_payment: bool,
    pub due_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Vec<TransferIn>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_option_metadata: Option<Vec<MetadataEntry>>,
    /// Notified through SEND: `true` marks the option; absent or `false` leaves a mark given
    /// before (GPD keeps it server-side, set by `POST /internal/config/send` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_sync: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferIn {
    pub id_transfer: String,
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_fiscal_code: Option<String>,
    pub remittance_information: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_metadata: Option<Vec<MetadataEntry>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stamp {
    pub hash_document: String,
    pub stamp_type: String,
    pub provincial_residence: String,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct MetadataEntry {
    pub key: String,
    pub value: String,
}

/// Body of `POST …/paymentoptions/paids/{nav}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkPaidIn {
    pub payment_date: Option<String>,
}

/// The position as created, published or invalidated (GPD's PaymentPositionModel).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionOut {
    pub iupd: String,
    pub organization_fiscal_code: String,
    #[serde(rename = "type")]
    pub debtor_type: &'static str,
    pub pay_stand_in: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fiscal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civic_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub switch_to_expired: bool,
    pub company_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inserted_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_date: Option<String>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_date: Option<String>,
    pub payment_option: Vec<OptionOut>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionOut {
    pub nav: String,
    pub iuv: String,
    pub organization_fiscal_code: String,
    pub amount: i64,
    pub description: String,
    pub is_partial_payment: bool,
    pub due_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psp_company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_receipt: Option<String>,
    pub fee: i64,
    pub notification_fee: i64,
    pub send_sync: bool,
    pub status: &'static str,
    pub last_updated_date: String,
    pub payment_option_metadata: Vec<MetadataEntry>,
    pub transfer: Vec<TransferOut>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferOut {
    pub organization_fiscal_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    pub id_transfer: String,
    pub amount: i64,
    pub remittance_information: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_iban: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
    pub status: &'static str,
    pub transfer_metadata: Vec<MetadataEntry>,
}

/// An RFC 7807 problem, GPD's ProblemJson.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProblemJson {
    pub title: String,
    pub status: u16,
    pub detail: String,
}
