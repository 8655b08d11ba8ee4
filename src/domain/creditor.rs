//! A creditor as the gateway serves it: its identity and names, the stations it is bound to,
//! the segregation codes it issues IUVs with, and its spontaneous-payment services with their
//! limits. Built from the configuration, used by the primitives, the REST API and the codecs.

use std::collections::BTreeSet;

use super::service::Service;
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
}

impl Creditor {
    /// The service an idServizio names.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id().as_str() == id)
    }
}
