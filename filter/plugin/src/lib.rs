//! `ob-event-filter`: the proxy-wasm adapter of the OB Event Gateway.
//!
//! This crate only gathers facts from Envoy (headers, properties, callout answers), hands them to
//! `ob-event-core`, and applies what it decides (a local reply, a stat, a log line). Every rule lives in the
//! core crate.

mod host;
mod http;
mod ids;
mod keys;
mod respond;
mod root;
mod stats;
mod subscriptions;
mod waiters;

ob_proxy_abi::main!(|_context_id| Box::new(root::Root::default()));
