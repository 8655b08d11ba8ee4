//! The HTTP side: a hyper server with body, time and connection limits ([`limits`]) and graceful
//! shutdown ([`server`]), a router from method and path to handlers ([`routes`]), the SOAP
//! endpoint glue ([`soap`]), liveness and readiness ([`health`]), the metrics ([`scrape`]), the
//! published contract files ([`contract`]), the upload API's multipart bodies and zips
//! ([`multipart`], [`zip`]), and the listener's TLS and who may call `/partner` ([`tls`]).
//! Handlers get bytes and typed parameters; the rules live in `primitives` and `api`. Which
//! paths need an API key is decided in one place, [`routes::is_public`].

pub mod contract;
mod health;
pub mod limits;
pub mod multipart;
pub mod routes;
mod scrape;
pub mod server;
mod soap;
pub mod tls;
pub mod zip;

pub use server::{serve, serve_with};
