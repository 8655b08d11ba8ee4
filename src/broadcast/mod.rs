//! Receipt broadcast: every receipt the gateway acquires is forwarded to the broadcast stations
//! of its beneficiaries. `client` makes one delivery attempt to one station; the request it
//! carries is written by `xml::broadcast`.

pub mod client;

pub use client::{AttemptOutcome, StationClient};
