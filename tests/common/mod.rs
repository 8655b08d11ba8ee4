//! Helpers shared by the integration tests. Use with `mod common;`.
//!
//! Not every test file uses every helper, hence the `allow`s.
#![allow(dead_code, unused_imports)]

pub mod xmllint;

pub use xmllint::{SchemaSet, available_schema_sets, validate_envelope, validate_envelope_against};
