//! The central notices archive (ACA), as GPD-for-ACA's API (`gpd-4-aca.json`) has it: a
//! creditor's positions created, updated, published, invalidated, deleted and marked paid,
//! and listed page by page. The request body is GPD's PaymentPositionModel, the request shape
//! of the gateway's own REST API, written from the position as it stands.

use std::time::Duration;

use chrono::NaiveDateTime;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::api::{ApiError, PlatformApi, SUBSCRIPTION_KEY, json};
use crate::domain::FiscalCodePA;
use crate::domain::platform::PlatformAccess;
use crate::domain::position::DebtPosition;
use crate::json::convert::{format_datetime, position_in};
use crate::json::model::PositionIn;

/// The most positions the archive lists on one page.
pub const PAGE_LIMIT: u32 = 50;

/// PaymentPositionModel, as sent: the request shape of the REST API, the same in both
/// documents.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct PositionModel(PositionIn);

impl PositionModel {
    /// The position's content as the archive takes it.
    pub fn of(p: &DebtPosition, now: NaiveDateTime) -> PositionModel {
        let mut model = position_in(p, now);
        // A validity date the publication set is the archive's to set on its own publication.
        if p.validity_date == p.publish_date {
            model.validity_date = None;
        }
        PositionModel(model)
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
            .call(Method::PUT, &[a, b, c, &body.0.iupd], &query, Some(body))
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

    /// A position with every optional field the archive is sent.
    fn full() -> crate::domain::position::DebtPosition {
        use crate::domain::Text;
        use crate::domain::position::{Account, Iban};
        let mut p = position(vec![
            option(1, 1000, at(2030, 1, 1), false),
            option(2, 600, at(2030, 2, 1), true),
        ]);
        p.office_name = Some(Text::new("Ufficio tributi").unwrap());
        p.validity_date = Some(at(2029, 6, 1));
        p.publish_date = Some(at(2029, 5, 1));
        let t = &mut p.options[0].transfers[0];
        t.company_name = Some(Text::new("Comune di Esempio").unwrap());
        t.account = Account::Iban {
            iban: Iban::parse("IT60X0542811101000000123456").unwrap(),
            postal_iban: Some(Iban::parse("IT60X0760111101000000123456").unwrap()),
        };
        p.options[1].retention_date = Some(at(2031, 1, 1));
        p
    }

    #[test]
    fn the_body_is_gpd_s_request_in_the_document_s_field_order() {
        let model = PositionModel::of(&full(), at(2025, 1, 1));
        let expected = r#"{"iupd":"IUPD-1","type":"F","payStandIn":true,"fiscalCode":"RSSMRA80A01H501U","fullName":"Mario Rossi","switchToExpired":false,"companyName":"Comune di Esempio","officeName":"Ufficio tributi","validityDate":"2029-06-01T12:00:00","paymentOption":[{"nav":"301000000000000144","iuv":"01000000000000144","amount":1000,"description":"Rata","isPartialPayment":false,"dueDate":"2030-01-01T12:00:00","transfer":[{"idTransfer":"1","amount":1000,"organizationFiscalCode":"77777777777","remittanceInformation":"TARI 2025","category":"9/0101108TS/","iban":"IT60X0542811101000000123456","postalIban":"IT60X0760111101000000123456","companyName":"Comune di Esempio","transferMetadata":[]}],"paymentOptionMetadata":[]},{"nav":"301000000000000245","iuv":"01000000000000245","amount":600,"description":"Rata","isPartialPayment":true,"dueDate":"2030-02-01T12:00:00","retentionDate":"2031-01-01T12:00:00","transfer":[{"idTransfer":"1","amount":600,"organizationFiscalCode":"77777777777","remittanceInformation":"TARI 2025","category":"9/0101108TS/","iban":"IT60X0542811101000000123456","transferMetadata":[]}],"paymentOptionMetadata":[]}]}"#;
        // The digests stored with the mirrors are of these bytes.
        assert_eq!(serde_json::to_string(&model).unwrap(), expected);
    }
}
