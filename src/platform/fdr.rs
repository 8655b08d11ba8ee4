//! The reporting flows service for organizations (`fdr_organization.json`): the flows
//! published to a creditor, page by page, one flow's header and its payments, page by page.
//! Its JSON shapes in the document's field names, and their reading into the domain's
//! [`ReportingFlow`]: amounts (JSON numbers in euro) become cents, instants UTC.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::api::{ApiError, PlatformApi, SUBSCRIPTION_KEY};
use crate::domain::platform::PlatformAccess;
use crate::domain::reporting::{FlowId, FlowPayment, PayStatus, ReportingFlow};
use crate::domain::{Cents, FiscalCodePA, TransferId};

/// `Metadata` of a paged answer (pages from 1).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub page_size: Option<i64>,
    pub page_number: Option<i64>,
    pub tot_page: Option<i64>,
}

/// `FlowByPSP`: one published flow in the list.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowByPsp {
    pub fdr: String,
    pub psp_id: String,
    pub revision: i64,
    pub published: Option<String>,
    pub flow_date: Option<String>,
}

/// `PaginatedFlowsResponse`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FlowsPage {
    #[serde(default)]
    pub metadata: Metadata,
    pub count: Option<i64>,
    #[serde(default)]
    pub data: Vec<FlowByPsp>,
}

/// `Sender`, as much as the gateway reads of it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    pub psp_id: String,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// `Receiver`, as much as the gateway reads of it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receiver {
    pub organization_id: String,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// `SingleFlowResponse`: a published flow's header.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SingleFlow {
    pub status: Option<String>,
    pub revision: i64,
    pub fdr: String,
    pub fdr_date: String,
    pub published: Option<String>,
    pub regulation: String,
    pub regulation_date: String,
    pub bic_code_pouring_bank: Option<String>,
    pub sender: Sender,
    pub receiver: Receiver,
    pub tot_payments: i64,
    pub sum_payments: f64,
}

/// `Payment`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub index: i64,
    pub iuv: String,
    pub iur: String,
    pub id_transfer: i64,
    pub pay: f64,
    pub pay_status: String,
    pub pay_date: String,
}

/// `PaginatedPaymentsResponse`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PaymentsPage {
    #[serde(default)]
    pub metadata: Metadata,
    pub count: Option<i64>,
    #[serde(default)]
    pub data: Vec<Payment>,
}

/// A whole flow as a file holds it (`fdr import`): the `SingleFlowResponse` with its payments
/// in a `payments` array.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FlowDocument {
    #[serde(flatten)]
    pub flow: SingleFlow,
    pub payments: Vec<Payment>,
}

/// The service's client for one creditor.
#[derive(Clone)]
pub struct FdrClient {
    api: PlatformApi,
    organization: FiscalCodePA,
}

impl FdrClient {
    pub fn new(access: &PlatformAccess, organization: FiscalCodePA, timeout: Duration) -> Self {
        FdrClient {
            api: PlatformApi::new(access, SUBSCRIPTION_KEY, timeout),
            organization,
        }
    }

    /// One page (from 1) of the flows published to the creditor.
    pub async fn flows(&self, page: i64, size: u32) -> Result<FlowsPage, ApiError> {
        self.api
            .get(
                &self.flows_path(),
                &[("page", page.to_string()), ("size", size.to_string())],
            )
            .await
    }

    /// A published flow's header.
    pub async fn flow(&self, fdr: &str, revision: i64, psp: &str) -> Result<SingleFlow, ApiError> {
        let revision = revision.to_string();
        self.api
            .get(&self.flow_path(fdr, &revision, psp), &[])
            .await
    }

    /// One page (from 1) of a published flow's payments.
    pub async fn payments(
        &self,
        fdr: &str,
        revision: i64,
        psp: &str,
        page: i64,
        size: u32,
    ) -> Result<PaymentsPage, ApiError> {
        let revision = revision.to_string();
        let mut path = self.flow_path(fdr, &revision, psp);
        path.push("payments");
        self.api
            .get(
                &path,
                &[("page", page.to_string()), ("size", size.to_string())],
            )
            .await
    }

    /// `organizations/{organizationId}/fdrs`: the creditor's flows.
    fn flows_path(&self) -> [&str; 3] {
        ["organizations", self.organization.as_str(), "fdrs"]
    }

    /// `…/fdrs/{fdr}/revisions/{revision}/psps/{pspId}`: one published flow.
    fn flow_path<'a>(&'a self, fdr: &'a str, revision: &'a str, psp: &'a str) -> Vec<&'a str> {
        let mut path = self.flows_path().to_vec();
        path.extend([fdr, "revisions", revision, "psps", psp]);
        path
    }
}

/// An `Instant` as UTC: RFC 3339 with any offset, or a local date-time taken as UTC.
fn instant(s: &str, field: &str) -> Result<NaiveDateTime, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.naive_utc())
        .or_else(|_| s.parse::<NaiveDateTime>())
        .map_err(|_| format!("{field}: '{s}' is not a date-time"))
}

/// Euro as a JSON number, to cents: at most two decimals.
fn euro(v: f64, field: &str) -> Result<Cents, String> {
    let cents = (v * 100.0).round();
    if !v.is_finite() || (v * 100.0 - cents).abs() > 1e-6 || cents > i64::MAX as f64 {
        return Err(format!(
            "{field}: {v} is not an amount in euro with two decimals"
        ));
    }
    Cents::new(cents as i64).map_err(|e| format!("{field}: {e}"))
}

impl SingleFlow {
    /// The flow with `payments`, received by `organization`.
    pub fn into_domain(
        self,
        organization: FiscalCodePA,
        payments: Vec<Payment>,
    ) -> Result<ReportingFlow, String> {
        if self.receiver.organization_id != organization.as_str() {
            return Err(format!(
                "receiver.organizationId: the flow is for {}, not {organization}",
                self.receiver.organization_id
            ));
        }
        let payments = (payments.into_iter().enumerate())
            .map(|(i, p)| p.into_domain().map_err(|e| format!("payments[{i}].{e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReportingFlow {
            organization,
            id: FlowId::new(&self.fdr, &self.sender.psp_id, self.revision)?,
            fdr_date: instant(&self.fdr_date, "fdrDate")?,
            published: (self.published.as_deref())
                .map(|p| instant(p, "published"))
                .transpose()?,
            regulation: self.regulation,
            regulation_date: NaiveDate::parse_from_str(&self.regulation_date, "%Y-%m-%d")
                .map_err(|_| format!("regulationDate: '{}' is not a date", self.regulation_date))?,
            bic: self.bic_code_pouring_bank,
            tot_payments: self.tot_payments,
            sum_payments: euro(self.sum_payments, "sumPayments")?,
            payments,
        })
    }
}

impl Payment {
    fn into_domain(self) -> Result<FlowPayment, String> {
        if self.iuv.is_empty() || self.iuv.chars().count() > 35 {
            return Err("iuv: must be 1 to 35 characters".into());
        }
        Ok(FlowPayment {
            index: self.index,
            iuv: self.iuv,
            iur: self.iur,
            transfer: TransferId::new(self.id_transfer)
                .map_err(|e| format!("idTransfer: must {e}"))?,
            amount: euro(self.pay, "pay")?,
            status: PayStatus::parse(&self.pay_status)
                .ok_or_else(|| format!("payStatus: '{}' is not a known status", self.pay_status))?,
            pay_date: instant(&self.pay_date, "payDate")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_becomes_a_flow_in_cents_and_utc() {
        let doc: FlowDocument = serde_json::from_str(
            r#"{"status":"PUBLISHED","revision":2,"fdr":"2025-01-0188888888888-0001",
            "fdrDate":"2025-01-01T12:00:00.0000000+01:00","published":"2025-01-02T00:00:00Z",
            "regulation":"SEPA - Bonifico X","regulationDate":"2025-01-03",
            "sender":{"type":"LEGAL_PERSON","id":"SELBIT2B","pspId":"88888888888","pspName":"PSP",
              "pspBrokerId":"88888888888","channelId":"88888888888_01"},
            "receiver":{"id":"APPBIT2B","organizationId":"77777777777","organizationName":"Comune"},
            "totPayments":1,"sumPayments":0.29,
            "payments":[{"index":1,"iuv":"01000000000000001","iur":"IUR1","idTransfer":1,
              "pay":0.29,"payStatus":"STAND_IN","payDate":"2025-01-01T10:00:00Z"}]}"#,
        )
        .unwrap();
        let org = FiscalCodePA::parse("77777777777").unwrap();
        let flow = doc
            .flow
            .clone()
            .into_domain(org.clone(), doc.payments.clone())
            .unwrap();
        assert_eq!(flow.id.revision, 2);
        assert_eq!(flow.id.psp, "88888888888");
        assert_eq!(flow.sum_payments, Cents::new(29).unwrap());
        assert_eq!(flow.fdr_date.to_string(), "2025-01-01 11:00:00");
        assert_eq!(flow.payments[0].amount, Cents::new(29).unwrap());
        assert_eq!(flow.payments[0].status, PayStatus::StandIn);
        let other = FiscalCodePA::parse("88888888888").unwrap();
        assert!(doc.flow.clone().into_domain(other, vec![]).is_err());
        let mut bad = doc.payments.clone();
        bad[0].pay = 0.295;
        let e = doc.flow.into_domain(org, bad).unwrap_err();
        assert!(e.starts_with("payments[0].pay"), "{e}");
    }
}
