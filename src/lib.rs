//! gpd-gateway: a creditor-side gateway for pagoPA. It keeps creditors' debt positions, serves
//! them over a GPD-shaped REST API and answers the pagoPA Node's SOAP primitives from them.
//!
//! Data flows one way: `http` parses bytes and hands typed values to `primitives` and `api`,
//! which apply `domain` rules through the `store::Store` trait; `xml` converts between bytes and
//! domain values and knows nothing of the store, as `json` does for the REST API's GPD shapes.

pub mod aca;
pub mod api;
pub mod background;
pub mod broadcast;
pub mod client;
pub mod clock;
pub mod config;
pub mod context;
pub mod demo;
pub mod domain;
pub mod http;
pub mod import;
pub mod journal;
pub mod json;
pub mod keys;
pub mod listing;
pub mod notice;
pub mod notice_jobs;
pub mod observe;
pub mod outbound;
pub mod platform;
pub mod primitives;
pub mod replay;
pub mod reporting;
pub mod store;
pub mod sweeper;
pub mod xml;
