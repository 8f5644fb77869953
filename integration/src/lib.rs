//! The OB Event Gateway end-to-end harness: generated PKI and tokens, a real Envoy running the freshly built
//! filter, the real store, and an HTTPS client that behaves like a TPP. Used by the tests in `tests/` and by
//! the `ob-demo` tool behind `make run` / `make token`.

pub mod apim;
pub mod client;
pub mod demo;
pub mod envoy;
pub mod pki;
pub mod store;
pub mod stub;
pub mod testbed;
pub mod tokens;
pub mod workspace;
