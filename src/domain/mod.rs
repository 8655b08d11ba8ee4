//! Pure protocol types and rules: amounts, identifiers, the parties, the debt-position model and
//! its status machine, the SOAP messages, the spontaneous-payment services, the receipts and
//! fault codes, the API keys. Nothing here does I/O or knows about HTTP, XML or SQL; every
//! other module builds on these types.

pub mod aca;
pub mod amount;
pub mod api_key;
pub mod broadcast;
pub mod creditor;
pub mod destination;
pub mod fault;
pub mod ids;
pub mod journal;
pub mod lifecycle;
pub mod messages;
pub mod notice;
pub mod notice_job;
pub mod notice_view;
pub mod notification_fee;
pub mod odp;
pub mod party;
pub mod personal_data;
pub mod platform;
pub mod position;
pub mod rate;
pub mod receipt;
pub mod receipt_digest;
pub mod reporting;
pub mod service;
pub mod subject;
pub mod text;
pub mod upload;

pub use amount::Cents;
pub use fault::{Fault, FaultCode};
pub use ids::{FiscalCodePA, Iuv, NoticeNumber, SegregationCode, TransferId};
pub use text::Text;
