//! `[journal]`: the event journal (see `crate::journal`): whether it is kept, and for how long.

use serde::Deserialize;

use super::value::at_least_one;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Journal {
    /// Off: nothing is recorded (entries already kept are still listed and pruned).
    pub enabled: bool,
    /// Entries older than this many calendar months are pruned by the sweeper.
    #[serde(deserialize_with = "at_least_one")]
    pub retention_months: u32,
}

impl Default for Journal {
    fn default() -> Self {
        Journal {
            enabled: true,
            retention_months: 24,
        }
    }
}
