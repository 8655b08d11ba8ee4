//! The HTTP side: a hyper server with body, time and connection limits ([`limits`]) and graceful
//! shutdown ([`server`]),
//! a router from method and path to handlers ([`routes`]), the SOAP endpoint glue ([`soap`])
//! and the published contract files ([`contract`]). Handlers get bytes and typed parameters;
//! the rules live in `primitives` and `api`. Which paths need an API key is decided in one
//! place, [`routes::is_public`].

pub mod contract;
pub mod limits;
pub mod routes;
pub mod server;
mod soap;

pub use server::serve;
