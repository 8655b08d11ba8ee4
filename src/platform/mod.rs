//! Clients of the platform's REST services that a creditor integrated synchronously must call
//! itself. [`api`] is the transport they share: base URL, key header, timeout, JSON.
//! [`bizevents`] reads receipts from the receipts service.

pub mod aca;
pub mod api;
pub mod bizevents;
pub mod fdr;
pub mod send;
