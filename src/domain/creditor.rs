//! A creditor as the gateway serves it: its identity and names, the stations it is bound to,
//! the segregation codes it issues IUVs with, and its spontaneous-payment services with their
//! limits. Built from the configuration, used by the primitives, the REST API and the codecs.

use std::collections::BTreeSet;

use super::notice::settings::NoticeSettings;
use super::platform::PlatformAccess;
use super::service::{Service, SpecError};
use super::{FiscalCodePA, SegregationCode, Text};

#[derive(Debug, Clone)]
pub struct Creditor {
    pub fiscal_code: FiscalCodePA,
    pub company_name: Text<140>,
    pub office_name: Option<Text<140>>,
    pub stations: BTreeSet<String>,
    pub segregation_codes: BTreeSet<SegregationCode>,
    /// The spontaneous-payment services (paDemandPaymentNotice), ids unique.
    pub services: Vec<Service>,
    /// The most spontaneous positions the creditor may have unpaid (and payable) at once;
    /// past it paDemandPaymentNotice is answered PAA_SYSTEM_ERROR.
    pub max_unpaid_spontaneous: u32,
    /// The platform's services the gateway calls for the creditor, each where configured:
    /// the central notices archive (GPD-for-ACA), the reporting flows (FdR for organizations),
    /// the receipts service (biz-events) and SEND's notification prices.
    pub platform: PlatformServices,
    /// What its payment notices print beyond the positions' data; no notices without it.
    pub notice: Option<NoticeSettings>,
}

/// Where the creditor reaches each platform service; `None` where it is not configured.
#[derive(Debug, Clone, Default)]
pub struct PlatformServices {
    pub aca: Option<PlatformAccess>,
    pub fdr: Option<PlatformAccess>,
    pub bizevents: Option<PlatformAccess>,
    pub send: Option<PlatformAccess>,
}

impl Creditor {
    /// The creditor with its spontaneous-payment services: ids unique, each issuing IUVs with
    /// one of the creditor's segregation codes. An error names the service by its place
    /// (`service[1].id`).
    pub fn with_services(mut self, services: Vec<Service>) -> Result<Creditor, SpecError> {
        for (j, service) in services.iter().enumerate() {
            let refused = |k: &str, problem: String| SpecError {
                key: format!("service[{j}].{k}"),
                problem,
            };
            let code = service.segregation_code();
            if !self.segregation_codes.contains(&code) {
                return Err(refused(
                    "segregation_code",
                    format!("{code} is not one of the creditor's segregation_codes"),
                ));
            }
            if services[..j].iter().any(|s| s.id() == service.id()) {
                return Err(refused(
                    "id",
                    format!("service {} is configured twice", service.id()),
                ));
            }
        }
        self.services = services;
        Ok(self)
    }

    /// The service an idServizio names.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id().as_str() == id)
    }
}
