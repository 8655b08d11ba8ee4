//! The mirror of positions to the platform's central notices archive (ACA), for the creditors
//! with a `[creditor.aca]` table. The store records every change of such a creditor's position
//! in the transaction that makes it ([`crate::store::Store::set_aca_creditors`]); [`mirror`]'s
//! worker sends each changed position's state, in the steps [`crate::domain::aca::plan`] gives,
//! retrying failures; [`sync`] compares the archive with the store and mends the differences;
//! [`cli`] is `gpd-gateway aca …`.

pub mod cli;
pub mod mirror;
pub mod sync;
