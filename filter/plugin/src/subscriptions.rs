//! WSO2 subscription data as this worker holds it.
//!
//! A static list is built with the configuration. The APIM data API is pulled by the root context: one
//! worker (elected by a lease in shared data) fetches the four collections, builds the snapshot, and
//! publishes it in shared data (`ob_event_filter.apim.snapshot`) with a small version key beside it
//! (`ob_event_filter.apim.version`), so the other workers read the large value only when it changed. A
//! failed or garbled load keeps the snapshot in force; before the first good load, requests are refused
//! with 503.

use ob_event_core::config::{Config, DataApi, SubscriptionSource};
use ob_event_core::subscription_data::{DataApiRequest, Snapshot, SnapshotBuilder};
use std::collections::HashMap;
use std::rc::Rc;

pub const SNAPSHOT_KEY: &str = "ob_event_filter.apim.snapshot";
pub const VERSION_KEY: &str = "ob_event_filter.apim.version";
pub const LEASE_KEY: &str = "ob_event_filter.apim.lease";

/// Subscription data of one worker.
pub struct Subscriptions {
    pub snapshot: Option<Rc<Snapshot>>,
    /// The data API, when that is the source.
    pub data_api: Option<DataApi>,
    /// The published version last installed.
    pub version_seen: Option<String>,
    /// The load this worker is running, if any.
    pub load: Option<Load>,
    /// When this worker last started a load (ms), to pace retries.
    pub last_attempt_ms: u64,
    /// When the snapshot in force was built (ms), from the published version.
    pub loaded_at_ms: u64,
}

/// A load in progress: the builder and the calls in flight.
pub struct Load {
    pub builder: SnapshotBuilder,
    pub in_flight: HashMap<u32, DataApiRequest>,
}

impl Subscriptions {
    pub fn new(config: &Config) -> Subscriptions {
        let (snapshot, data_api) = match &config.apim.source {
            SubscriptionSource::Static(snapshot) => (Some(Rc::new((**snapshot).clone())), None),
            SubscriptionSource::DataApi(api) => (None, Some(api.clone())),
        };
        Subscriptions {
            snapshot,
            data_api,
            version_seen: None,
            load: None,
            last_attempt_ms: 0,
            loaded_at_ms: 0,
        }
    }

    /// Whether this worker is waiting for the answer to `token`.
    pub fn owns(&self, token: u32) -> bool {
        self.load
            .as_ref()
            .is_some_and(|l| l.in_flight.contains_key(&token))
    }
}

/// The published version: `<built at ms>`.
pub fn version_text(built_at_ms: u64) -> String {
    built_at_ms.to_string()
}
