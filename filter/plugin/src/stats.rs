//! Envoy counters. Envoy files them under `wasmcustom.` (Prometheus: `envoy_wasmcustom_ob_event_filter_…`);
//! see docs/operations.md. A counter is defined on first use and its id kept per VM; names are static, so the
//! set of counters is bounded.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::cell::RefCell;
use std::collections::HashMap;

pub const PREFIX: &str = "ob_event_filter";

#[derive(Debug, Default)]
pub struct Stats {
    /// (group, name) → counter id (`None`: the host refused to define it; not retried).
    ids: RefCell<HashMap<(&'static str, &'static str), Option<u32>>>,
}

impl Stats {
    /// `ob_event_filter.requests_total`
    pub fn request(&self) {
        self.increment("", "requests_total");
    }

    /// `ob_event_filter.refused.<kind>` and, when the refusal names a more precise reason,
    /// `ob_event_filter.refused.<kind>.<reason>` as well.
    pub fn refused(&self, kind: &'static str, reason: &'static str) {
        self.increment("refused", kind);
        if reason != kind {
            self.increment_in(kind, reason);
        }
    }

    /// `ob_event_filter.refused.<kind>.<reason>`
    fn increment_in(&self, kind: &'static str, reason: &'static str) {
        let known = self.ids.borrow().get(&(kind, reason)).copied();
        let id = match known {
            Some(id) => id,
            None => {
                let id = define(&format!("{PREFIX}.refused.{kind}.{reason}"));
                self.ids.borrow_mut().insert((kind, reason), id);
                id
            }
        };
        if let Some(id) = id {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }

    /// `ob_event_filter[.<group>].<name>`
    pub fn increment(&self, group: &'static str, name: &'static str) {
        let known = self.ids.borrow().get(&(group, name)).copied();
        let id = match known {
            Some(id) => id,
            None => {
                let full = if group.is_empty() {
                    format!("{PREFIX}.{name}")
                } else {
                    format!("{PREFIX}.{group}.{name}")
                };
                let id = define(&full);
                self.ids.borrow_mut().insert((group, name), id);
                id
            }
        };
        if let Some(id) = id {
            // A failed increment loses one count; it must not fail the request.
            let _ = hostcalls::increment_metric(id, 1);
        }
    }
}

fn define(name: &str) -> Option<u32> {
    match hostcalls::define_metric(MetricType::Counter, name) {
        Ok(id) => Some(id),
        Err(status) => {
            log::warn!("could not define the counter {name}: {status:?}");
            None
        }
    }
}
