//! `ob-event-core`: every decision the OB Event Gateway filter makes, as plain Rust over plain data.
//!
//! Nothing here talks to the proxy: the `ob-event-filter` crate gathers facts from Envoy, calls into this
//! crate, and applies the answer. That keeps every rule testable natively and, compiled to
//! `wasm32-unknown-unknown`, under the same V8 engine Envoy runs the filter in.

pub mod backend;
pub mod certificate;
pub mod config;
pub mod endpoints;
pub mod errors;
pub mod exchange;
pub mod identity;
pub mod interaction;
pub mod negotiation;
pub mod polling;
pub mod reply;
pub mod subscription_data;
pub mod subscriptions;
pub mod token;

pub use config::{Config, ConfigError};
pub use endpoints::Endpoint;
pub use errors::{ErrorKind, Refusal};
pub use interaction::InteractionId;
pub use reply::LocalReply;
