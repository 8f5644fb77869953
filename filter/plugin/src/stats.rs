//! Envoy counters. Envoy files them under `wasmcustom.` (Prometheus: `envoy_wasmcustom_ob_event_filter_…`);
//! see docs/operations.md. A counter is defined on first use and its id kept per VM; names are static, so the
//! set of counters is bounded.
//!
//! The counters every request moves (`requests_total`, `token_cache.hit`/`.miss`) are counted in the VM and
//! added to Envoy's on the root context's tick (every 100 ms) and when the VM's configuration is replaced
//! or it stops: an `increment_metric` hostcall costs ~1 µs of the worker per call in Envoy 1.40's V8, more
//! than the rest of a cache hit. Refusals are added to Envoy's counters at once.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

pub const PREFIX: &str = "ob_event_filter";

#[derive(Debug, Default)]
pub struct Stats {
    /// (group, name) → counter id (`None`: the host refused to define it; not retried).
    ids: RefCell<HashMap<(&'static str, &'static str), Option<u32>>>,
    /// The counters of every request, resolved once and counted in the VM until [`Stats::flush`].
    hot: Option<Hot>,
}

#[derive(Debug)]
struct Hot {
    requests: Pending,
    cache_hit: Pending,
    cache_miss: Pending,
}

/// A counter's id and what has been counted since the last flush.
#[derive(Debug)]
struct Pending {
    id: Option<u32>,
    count: Cell<u64>,
}

impl Pending {
    fn new(name: &str) -> Self {
        Pending {
            id: define(&format!("{PREFIX}.{name}")),
            count: Cell::new(0),
        }
    }

    fn add(&self) {
        self.count.set(self.count.get().saturating_add(1));
    }

    fn flush(&self) {
        let count = self.count.replace(0);
        if count > 0 {
            if let Some(id) = self.id {
                let _ = hostcalls::increment_metric(id, i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
    }
}

impl Stats {
    /// Stats with the per-request counters defined up front.
    pub fn new() -> Self {
        Stats {
            ids: RefCell::default(),
            hot: Some(Hot {
                requests: Pending::new("requests_total"),
                cache_hit: Pending::new("token_cache.hit"),
                cache_miss: Pending::new("token_cache.miss"),
            }),
        }
    }

    /// `ob_event_filter.requests_total`
    pub fn request(&self) {
        match &self.hot {
            Some(hot) => hot.requests.add(),
            None => self.increment("", "requests_total"),
        }
    }

    /// `ob_event_filter.token_cache.hit` / `.miss`
    pub fn token_cache(&self, hit: bool) {
        match &self.hot {
            Some(hot) if hit => hot.cache_hit.add(),
            Some(hot) => hot.cache_miss.add(),
            None => self.increment("token_cache", if hit { "hit" } else { "miss" }),
        }
    }

    /// Add what the VM counted to Envoy's counters (the root context's tick; on replacement and stop).
    pub fn flush(&self) {
        if let Some(hot) = &self.hot {
            hot.requests.flush();
            hot.cache_hit.flush();
            hot.cache_miss.flush();
        }
    }

    /// `ob_event_filter.refused.<kind>` and, when the refusal names a more precise reason,
    /// `ob_event_filter.refused.<kind>.<reason>` as well.
    pub fn refused(&self, kind: &'static str, reason: &'static str) {
        self.increment("refused", kind);
        // A reason may repeat its kind (`subscription_missing.no_key_mapping`): name it once.
        let reason = reason
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix('.'))
            .unwrap_or(reason);
        if reason != kind {
            self.bump_named((kind, reason), || {
                format!("{PREFIX}.refused.{kind}.{reason}")
            });
        }
    }

    /// `ob_event_filter[.<group>].<name>`
    pub fn increment(&self, group: &'static str, name: &'static str) {
        self.bump_named((group, name), || {
            if group.is_empty() {
                format!("{PREFIX}.{name}")
            } else {
                format!("{PREFIX}.{group}.{name}")
            }
        });
    }

    /// Increment the counter known by `key`, defining it (as `full_name()`) on first use.
    fn bump_named(&self, key: (&'static str, &'static str), full_name: impl FnOnce() -> String) {
        let known = self.ids.borrow().get(&key).copied();
        let id = match known {
            Some(id) => id,
            None => {
                let id = define(&full_name());
                self.ids.borrow_mut().insert(key, id);
                id
            }
        };
        bump(id);
    }
}

impl Drop for Stats {
    /// A configuration reload replaces the stats with the shared state: nothing counted is lost.
    fn drop(&mut self) {
        self.flush();
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

fn bump(id: Option<u32>) {
    if let Some(id) = id {
        // A failed increment loses one count; it must not fail the request.
        let _ = hostcalls::increment_metric(id, 1);
    }
}
