//! WSO2 API Manager subscription validation (issue 7): may the application behind a verified access token
//! call the API this filter protects?
//!
//! Same model and decision as APIM's gateway (`KeyValidator.validate`, DIGEST-wso2 §4.1): the token's
//! consumer key (+ key manager) → [`ApplicationKeyMapping`] (key type) → [`Application`] →
//! [`Subscription`] to a [`ProtectedApi`], whose state decides:
//!
//! | situation | answer | WSO2 | `ErrorCode` | stat reason |
//! |---|---|---|---|---|
//! | no subscription data loaded yet | 503 | – | `UK.OBIE.UnexpectedError` | `subscription_data_unavailable` |
//! | no key mapping for the consumer key (+ key manager) | 403 | 900908 | `OBEventGateway.Subscription.Forbidden` | `subscription_missing.no_key_mapping` |
//! | the consumer key maps to different applications under several key managers, none named | 403 | 900908 | same | `subscription_missing.key_mapping_ambiguous` |
//! | key mapping, but no such application | 403 | 900908 | same | `subscription_missing.no_application` |
//! | application, but no subscription to the protected API | 403 | 900908 | same | `subscription_missing.no_subscription` |
//! | `BLOCKED` | 403 | 900907 | `OBEventGateway.Subscription.Blocked` | `subscription_blocked.blocked` |
//! | `ON_HOLD` | 403 | 900909 | `OBEventGateway.Subscription.Inactive` | `subscription_inactive.on_hold` |
//! | `REJECTED` | 403 | 900909 | same | `subscription_inactive.rejected` |
//! | `PROD_ONLY_BLOCKED` with a `PRODUCTION` key | 403 | 900907 | `OBEventGateway.Subscription.Blocked` | `subscription_blocked.production_only` |
//! | `PROD_ONLY_BLOCKED` with a `SANDBOX` key | pass | | | |
//! | any other state (`SANDBOX_ONLY_BLOCKED`, `DELETE_PENDING`, unknown) | 403 | 900909 | `OBEventGateway.Subscription.Inactive` | `subscription_inactive.unknown_state` |
//! | the API's lifecycle status is `BLOCKED` | 403 | 900907 | `OBEventGateway.Subscription.Blocked` | `subscription_blocked.api_blocked` |
//! | `UNBLOCKED`, `TIER_UPDATE_PENDING` | pass | | | |
//!
//! The key type is the key mapping's (APIM: for OAuth tokens the key type comes from the key mapping, not
//! the token). Checks run in APIM's order: `BLOCKED`, `ON_HOLD`/`REJECTED`, `PROD_ONLY_BLOCKED`, API
//! lifecycle. Unknown states are refused where APIM would authorise them (fail closed; documented
//! deviation). The application's own state is not checked (APIM's gateway does not either).
//!
//! Data: [`data_api`] (requests, list parsing, paging) → [`SnapshotBuilder`] → immutable [`Snapshot`]
//! (O(1) lookups), or [`Snapshot::from_static`] from the configuration. [`Snapshot::to_bytes`] /
//! [`Snapshot::from_bytes`] carry it between Envoy workers through proxy-wasm shared data.

pub mod codec;
pub mod data_api;
pub mod decision;
pub mod model;
pub mod snapshot;

#[cfg(test)]
mod tests;

pub use data_api::{Collection, DataApiRequest, DataApiSettings};
pub use decision::{admit, data_unavailable, decide, Admission, SubscribedApplication};
pub use model::{
    Api, Application, ApplicationKeyMapping, KeyType, ListPage, Pagination, ProtectedApi,
    Subscription, SubscriptionState,
};
pub use snapshot::{
    Snapshot, SnapshotBuilder, SnapshotOptions, SnapshotSource, SnapshotSummary, StaticApplication,
    StaticKey, StaticSubscription, StaticSubscriptions,
};

use std::fmt;

/// Why subscription data could not be used: the adapter logs it and keeps its last good snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    pub kind: DataErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataErrorKind {
    /// The data API answered a status other than 200 (or the call failed: Envoy's synthetic 503/504).
    Status,
    /// A response is not a list response of the schema (not JSON, wrong shape, wrong types, bad count).
    Garbage,
    /// A `pagination.next` link cannot be followed, or too many pages.
    Paging,
    /// `build` before every collection was complete, or a page for a finished collection.
    Incomplete,
    /// The data is consistent JSON but cannot make a snapshot (options invalid, …).
    Invalid,
    /// The static list in the configuration is invalid.
    Static,
    /// Shared-data bytes are not a snapshot of this format version (corrupt, truncated, other version).
    Bytes,
}

impl DataError {
    pub(crate) fn new(kind: DataErrorKind, message: impl Into<String>) -> Self {
        DataError {
            kind,
            message: message.into(),
        }
    }
    pub(crate) fn garbage(message: impl Into<String>) -> Self {
        Self::new(DataErrorKind::Garbage, message)
    }
    pub(crate) fn paging(message: impl Into<String>) -> Self {
        Self::new(DataErrorKind::Paging, message)
    }
    pub(crate) fn bytes(message: impl Into<String>) -> Self {
        Self::new(DataErrorKind::Bytes, message)
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription data ({:?}): {}", self.kind, self.message)
    }
}

impl std::error::Error for DataError {}
