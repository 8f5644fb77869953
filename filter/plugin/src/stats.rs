//! Envoy counters, defined once per VM. Envoy exposes them under `wasmcustom.` (Prometheus:
//! `envoy_wasmcustom_ob_event_filter_…`); see docs/operations.md.

use ob_event_core::ErrorKind;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::collections::HashMap;

pub const PREFIX: &str = "ob_event_filter";

#[derive(Debug, Default)]
pub struct Stats {
    requests: Option<u32>,
    refused: HashMap<ErrorKind, u32>,
}

impl Stats {
    /// Define every counter. A counter the host refuses to define is skipped (and logged): stats never
    /// stop a request from being served.
    pub fn define() -> Self {
        let requests = counter(&format!("{PREFIX}.requests_total"));
        let refused = ErrorKind::ALL
            .iter()
            .filter_map(|kind| {
                counter(&format!("{PREFIX}.refused.{}", kind.spec().stat)).map(|id| (*kind, id))
            })
            .collect();
        Stats { requests, refused }
    }

    pub fn request(&self) {
        increment(self.requests);
    }

    pub fn refused(&self, kind: ErrorKind) {
        increment(self.refused.get(&kind).copied());
    }
}

fn counter(name: &str) -> Option<u32> {
    match hostcalls::define_metric(MetricType::Counter, name) {
        Ok(id) => Some(id),
        Err(status) => {
            log::warn!("could not define the counter {name}: {status:?}");
            None
        }
    }
}

fn increment(id: Option<u32>) {
    if let Some(id) = id {
        // A failed increment loses one count; it must not fail the request.
        let _ = hostcalls::increment_metric(id, 1);
    }
}
