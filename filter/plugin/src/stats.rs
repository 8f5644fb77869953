//! Envoy counters. Envoy files them under `wasmcustom.` (Prometheus: `envoy_wasmcustom_ob_event_filter_…`);
//! see docs/operations.md. A counter is defined on first use and its id kept per VM; names are static, so the
//! set of counters is bounded.

use ob_proxy_abi::host;
use ob_proxy_abi::MetricType;
use std::cell::RefCell;
use std::collections::HashMap;

pub const PREFIX: &str = "ob_event_filter";

#[derive(Debug, Default)]
pub struct Stats {
    /// (group, name) → counter id (`None`: the host refused to define it; not retried).
    ids: RefCell<HashMap<(&'static str, &'static str), Option<u32>>>,
    /// The counters of every request, resolved once (the hot path does no lookup).
    hot: Option<Hot>,
}

#[derive(Debug, Clone, Copy)]
struct Hot {
    requests: Option<u32>,
    cache_hit: Option<u32>,
    cache_miss: Option<u32>,
}

impl Stats {
    /// Stats with the per-request counters defined up front.
    pub fn new() -> Self {
        Stats {
            ids: RefCell::default(),
            hot: Some(Hot {
                requests: define(&format!("{PREFIX}.requests_total")),
                cache_hit: define(&format!("{PREFIX}.token_cache.hit")),
                cache_miss: define(&format!("{PREFIX}.token_cache.miss")),
            }),
        }
    }

    /// `ob_event_filter.requests_total`
    pub fn request(&self) {
        match self.hot {
            Some(hot) => bump(hot.requests),
            None => self.increment("", "requests_total"),
        }
    }

    /// `ob_event_filter.token_cache.hit` / `.miss`
    pub fn token_cache(&self, hit: bool) {
        match self.hot {
            Some(hot) => bump(if hit { hot.cache_hit } else { hot.cache_miss }),
            None => self.increment("token_cache", if hit { "hit" } else { "miss" }),
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

fn define(name: &str) -> Option<u32> {
    match host::define_metric(MetricType::Counter, name) {
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
        let _ = host::increment_metric(id, 1);
    }
}
