//! The central notices archive (ACA), as GPD-for-ACA's API (`gpd-4-aca.json`) has it: a
//! creditor's positions created, updated, published, invalidated, deleted and marked paid,
//! and listed page by page. The request body is GPD's PaymentPositionModel, written from the
//! position as the gateway's own REST API shows it, without the fields the archive sets.

use std::time::Duration;

use chrono::NaiveDateTime;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::api::{ApiError, PlatformApi, SUBSCRIPTION_KEY, json};
use crate::domain::FiscalCodePA;
use crate::domain::platform::PlatformAccess;
use crate::domain::position::DebtPosition;
use crate::json::convert::{format_datetime, position_out};
use crate::json::model::{MetadataEntry, Stamp};

/// The most positions the archive lists on one page.
pub const PAGE_LIMIT: u32 = 50;

/// PaymentPositionModel, as sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionModel {
    pub iupd: String,
    #[serde(rename = "type")]
    pub debtor_type: &'static str,
    pub pay_stand_in: bool,
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
    pub payment_option: Vec<OptionModel>,
}

/// PaymentOptionModel, as sent (the amount includes SEND's notification fee, as stored).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionModel {
    pub nav: String,
    pub iuv: String,
    pub amount: i64,
    pub description: String,
    pub is_partial_payment: bool,
    pub due_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_date: Option<String>,
    pub transfer: Vec<TransferModel>,
    pub payment_option_metadata: Vec<MetadataEntry>,
}

/// TransferModel, as sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferModel {
    pub id_transfer: String,
    pub amount: i64,
    pub organization_fiscal_code: String,
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
    pub transfer_metadata: Vec<MetadataEntry>,
}

impl PositionModel {
    /// The position's content as the archive takes it.
    pub fn of(p: &DebtPosition, now: NaiveDateTime) -> PositionModel {
        let out = position_out(p, now, true);
        PositionModel {
            iupd: out.iupd,
            debtor_type: out.debtor_type,
            pay_stand_in: out.pay_stand_in,
            fiscal_code: out.fiscal_code.unwrap_or_default(),
            full_name: out.full_name.unwrap_or_default(),
            street_name: out.street_name,
            civic_number: out.civic_number,
            postal_code: out.postal_code,
            city: out.city,
            province: out.province,
            region: out.region,
            country: out.country,
            email: out.email,
            phone: out.phone,
            switch_to_expired: out.switch_to_expired,
            company_name: out.company_name,
            office_name: out.office_name,
            // A validity date the publication set is the archive's to set on its own publication.
            validity_date: out
                .validity_date
                .filter(|_| p.validity_date != p.publish_date),
            payment_option: out
                .payment_option
                .into_iter()
                .map(|o| OptionModel {
                    nav: o.nav,
                    iuv: o.iuv,
                    amount: o.amount,
                    description: o.description,
                    is_partial_payment: o.is_partial_payment,
                    due_date: o.due_date,
                    retention_date: o.retention_date,
                    payment_option_metadata: o.payment_option_metadata,
                    transfer: o
                        .transfer
                        .into_iter()
                        .map(|t| TransferModel {
                            id_transfer: t.id_transfer,
                            amount: t.amount,
                            organization_fiscal_code: t.organization_fiscal_code,
                            remittance_information: t.remittance_information,
                            category: t.category,
                            iban: t.iban,
                            postal_iban: t.postal_iban,
                            stamp: t.stamp,
                            company_name: t.company_name,
                            transfer_metadata: t.transfer_metadata,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// A digest of the content: equal digests, the same content for the archive.
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("the model serializes");
        let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
        d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// PaymentPositionsInfo: one page of the archive's list.
#[derive(Debug, Deserialize)]
pub struct PositionsPage {
    pub payment_position_list: Vec<ListedPosition>,
    pub page_info: PageInfo,
}

#[derive(Debug, Deserialize)]
pub struct PageInfo {
    pub page: u32,
    pub limit: u32,
    pub items_found: u64,
    pub total_pages: u32,
}

/// PaymentPositionModelBaseResponse, what the comparison reads of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedPosition {
    pub iupd: String,
    pub status: Option<String>,
    pub company_name: Option<String>,
    #[serde(default)]
    pub payment_option: Vec<ListedOption>,
}

/// PaymentOptionModelResponse, what the comparison reads of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedOption {
    pub nav: Option<String>,
    pub iuv: Option<String>,
    pub amount: Option<i64>,
    pub due_date: Option<String>,
    pub status: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlreadyPaid {
    payment_date: String,
}

/// The archive's client for one creditor.
#[derive(Clone)]
pub struct AcaClient {
    api: PlatformApi,
    organization: String,
}

impl AcaClient {
    pub fn new(access: &PlatformAccess, organization: &FiscalCodePA, timeout: Duration) -> Self {
        AcaClient {
            api: PlatformApi::new(access, SUBSCRIPTION_KEY, timeout),
            organization: organization.to_string(),
        }
    }

    fn positions(&self) -> [&str; 3] {
        ["organizations", &self.organization, "debtpositions"]
    }

    fn publish_query(publish: bool) -> Vec<(&'static str, String)> {
        if publish {
            vec![("toPublish", "true".to_owned())]
        } else {
            Vec::new()
        }
    }

    pub async fn create(&self, body: &PositionModel, publish: bool) -> Result<(), ApiError> {
        let query = Self::publish_query(publish);
        self.api
            .call(Method::POST, &self.positions(), &query, Some(body))
            .await
            .map(drop)
    }

    pub async fn update(&self, body: &PositionModel, publish: bool) -> Result<(), ApiError> {
        let [a, b, c] = self.positions();
        let query = Self::publish_query(publish);
        self.api
            .call(Method::PUT, &[a, b, c, &body.iupd], &query, Some(body))
            .await
            .map(drop)
    }

    /// `publish` or `invalidate`.
    pub async fn act(&self, iupd: &str, action: &str) -> Result<(), ApiError> {
        let [a, b, c] = self.positions();
        self.api
            .call(Method::POST, &[a, b, c, iupd, action], &[], None::<&()>)
            .await
            .map(drop)
    }

    pub async fn delete(&self, iupd: &str) -> Result<(), ApiError> {
        let [a, b, c] = self.positions();
        self.api
            .call(Method::DELETE, &[a, b, c, iupd], &[], None::<&()>)
            .await
            .map(drop)
    }

    pub async fn mark_paid(&self, nav: &str, payment_date: NaiveDateTime) -> Result<(), ApiError> {
        let segments = [
            "organizations",
            &self.organization,
            "paymentoptions",
            "paids",
            nav,
        ];
        let body = AlreadyPaid {
            payment_date: format_datetime(payment_date),
        };
        self.api
            .call(Method::POST, &segments, &[], Some(&body))
            .await
            .map(drop)
    }

    /// Page `page` (from 0) of the creditor's positions in the archive, by IUPD. The archive
    /// filters on due dates (30 days either side of a missing bound): the window asked is wide
    /// enough for every position.
    pub async fn list(&self, page: u32) -> Result<PositionsPage, ApiError> {
        let query = [
            ("limit", PAGE_LIMIT.to_string()),
            ("page", page.to_string()),
            ("due_date_from", "1970-01-01".to_owned()),
            ("due_date_to", "9999-12-31".to_owned()),
            ("orderby", "IUPD".to_owned()),
            ("ordering", "ASC".to_owned()),
        ];
        let body = self
            .api
            .call(Method::GET, &self.positions(), &query, None::<&()>)
            .await?;
        json(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::{at, option, position};

    #[test]
    fn the_body_is_the_position_s_content_and_its_digest_follows_it() {
        let mut p = position(vec![option(1, 1000, at(2030, 1, 1), false)]);
        let model = PositionModel::of(&p, at(2025, 1, 1));
        let v = serde_json::to_value(&model).unwrap();
        assert_eq!(v["iupd"], "IUPD-1");
        assert_eq!(v["fiscalCode"], "RSSMRA80A01H501U");
        assert_eq!(v["paymentOption"][0]["amount"], 1000);
        assert_eq!(v["paymentOption"][0]["dueDate"], "2030-01-01T12:00:00");
        assert!(v.get("status").is_none(), "read-only fields are not sent");
        let first = model.digest();
        assert_eq!(first.len(), 64);
        p.options[0].amount = crate::domain::Cents::new(1200).unwrap();
        assert_ne!(PositionModel::of(&p, at(2025, 1, 1)).digest(), first);
    }
}
