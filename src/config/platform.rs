//! A platform service's access as a creditor's table writes it: `endpoint` and
//! `subscription_key`, e.g. `[creditor.aca]`.

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{FromToml, Refusal, checked};
use crate::domain::platform::{AccessError, PlatformAccess};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    endpoint: String,
    subscription_key: String,
}

impl FromToml for PlatformAccess {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |raw: RawAccess| {
            PlatformAccess::new(&raw.endpoint, &raw.subscription_key).map_err(|e| match e {
                AccessError::Endpoint(problem) => Refusal::at("endpoint", problem),
                AccessError::Key(problem) => Refusal::at("subscription_key", problem),
            })
        })
    }
}
