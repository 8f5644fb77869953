//! APIM's subscription model, as the internal data REST API (`/internal/data/v1`) serves it, plus the
//! selector of the API(s) this filter protects.
//!
//! Field names and types follow `specs/wso2/internal-data-api.yaml` (definitions `API`, `Application`,
//! `ApplicationKeyMapping`, `Subscription`, `Pagination`). Every field is optional in the schema; APIM's
//! DTOs send `null` for unset members, so `null` and absent are the same here. A present field of the wrong
//! JSON type is an error (the whole page is refused). Members this filter does not use (`provider`,
//! `urlMappings`, `groupIds`, `tokenType`, …) are not read and not checked.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Key type of a key mapping (`ApplicationKeyMapping.keyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyType {
    #[serde(rename = "PRODUCTION")]
    Production,
    #[serde(rename = "SANDBOX")]
    Sandbox,
}

impl KeyType {
    /// APIM's spelling (`PRODUCTION`, `SANDBOX`), ASCII case ignored.
    pub fn parse(text: &str) -> Option<KeyType> {
        if text.eq_ignore_ascii_case("PRODUCTION") {
            Some(KeyType::Production)
        } else if text.eq_ignore_ascii_case("SANDBOX") {
            Some(KeyType::Sandbox)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Production => "PRODUCTION",
            KeyType::Sandbox => "SANDBOX",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            KeyType::Production => 0,
            KeyType::Sandbox => 1,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<KeyType> {
        match code {
            0 => Some(KeyType::Production),
            1 => Some(KeyType::Sandbox),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Subscription.subscriptionState` (APIM `APIConstants.SubscriptionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    Unblocked,
    Blocked,
    ProdOnlyBlocked,
    OnHold,
    Rejected,
    /// A tier change awaits approval; the subscription stays active on its current tier (APIM authorises).
    TierUpdatePending,
    /// Any other value (`SANDBOX_ONLY_BLOCKED`, `DELETE_PENDING`, an unknown one): refused as inactive.
    Unknown,
}

impl SubscriptionState {
    /// Every state this filter knows by name, in APIM's spelling.
    pub const KNOWN: &'static [(&'static str, SubscriptionState)] = &[
        ("UNBLOCKED", SubscriptionState::Unblocked),
        ("BLOCKED", SubscriptionState::Blocked),
        ("PROD_ONLY_BLOCKED", SubscriptionState::ProdOnlyBlocked),
        ("ON_HOLD", SubscriptionState::OnHold),
        ("REJECTED", SubscriptionState::Rejected),
        ("TIER_UPDATE_PENDING", SubscriptionState::TierUpdatePending),
    ];

    /// APIM's spelling, exactly (APIM stores and compares these upper case); anything else is `Unknown`.
    pub fn parse(text: &str) -> SubscriptionState {
        Self::KNOWN
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, state)| *state)
            .unwrap_or(SubscriptionState::Unknown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Unblocked => "UNBLOCKED",
            SubscriptionState::Blocked => "BLOCKED",
            SubscriptionState::ProdOnlyBlocked => "PROD_ONLY_BLOCKED",
            SubscriptionState::OnHold => "ON_HOLD",
            SubscriptionState::Rejected => "REJECTED",
            SubscriptionState::TierUpdatePending => "TIER_UPDATE_PENDING",
            SubscriptionState::Unknown => "UNKNOWN",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            SubscriptionState::Unblocked => 0,
            SubscriptionState::Blocked => 1,
            SubscriptionState::ProdOnlyBlocked => 2,
            SubscriptionState::OnHold => 3,
            SubscriptionState::Rejected => 4,
            SubscriptionState::TierUpdatePending => 5,
            SubscriptionState::Unknown => 6,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<SubscriptionState> {
        Some(match code {
            0 => SubscriptionState::Unblocked,
            1 => SubscriptionState::Blocked,
            2 => SubscriptionState::ProdOnlyBlocked,
            3 => SubscriptionState::OnHold,
            4 => SubscriptionState::Rejected,
            5 => SubscriptionState::TierUpdatePending,
            6 => SubscriptionState::Unknown,
            _ => return None,
        })
    }

    /// How restrictive the state is, for two records of one (application, API) pair: the stricter wins.
    pub(crate) fn severity(self) -> u8 {
        match self {
            SubscriptionState::Unblocked | SubscriptionState::TierUpdatePending => 0,
            SubscriptionState::ProdOnlyBlocked => 1,
            SubscriptionState::OnHold
            | SubscriptionState::Rejected
            | SubscriptionState::Unknown => 2,
            SubscriptionState::Blocked => 3,
        }
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API this filter protects, as the configuration names it: APIM name + version, or context.
///
/// JSON: `{"name": "EventNotificationsAPI", "version": "v3.1.2"}` or `{"context": "/open-banking/v3.1/events"}`
/// (exactly one of the two forms; compared exactly with the `/apis` entries).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawProtectedApi", into = "RawProtectedApi")]
pub enum ProtectedApi {
    NameVersion { name: String, version: String },
    Context(String),
}

impl ProtectedApi {
    pub fn name_version(name: impl Into<String>, version: impl Into<String>) -> Self {
        ProtectedApi::NameVersion {
            name: name.into(),
            version: version.into(),
        }
    }

    pub fn context(context: impl Into<String>) -> Self {
        ProtectedApi::Context(context.into())
    }

    /// Whether an `/apis` entry is this API.
    pub fn matches(&self, api: &Api) -> bool {
        match self {
            ProtectedApi::NameVersion { name, version } => {
                api.name.as_deref() == Some(name.as_str())
                    && api.version.as_deref() == Some(version.as_str())
            }
            ProtectedApi::Context(context) => api.context.as_deref() == Some(context.as_str()),
        }
    }
}

impl fmt::Display for ProtectedApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtectedApi::NameVersion { name, version } => write!(f, "{name}:{version}"),
            ProtectedApi::Context(context) => f.write_str(context),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtectedApi {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
}

impl TryFrom<RawProtectedApi> for ProtectedApi {
    type Error = String;

    fn try_from(raw: RawProtectedApi) -> Result<Self, Self::Error> {
        let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        match (raw.name, raw.version, raw.context) {
            (None, None, Some(context)) if !context.is_empty() => Ok(ProtectedApi::Context(context)),
            (name @ Some(_), version @ Some(_), None) if nonempty(&name) && nonempty(&version) => {
                Ok(ProtectedApi::NameVersion {
                    name: name.unwrap_or_default(),
                    version: version.unwrap_or_default(),
                })
            }
            _ => Err(
                "an API is named by a non-empty \"name\" and \"version\", or by a non-empty \"context\" alone"
                    .to_string(),
            ),
        }
    }
}

impl From<ProtectedApi> for RawProtectedApi {
    fn from(api: ProtectedApi) -> Self {
        match api {
            ProtectedApi::NameVersion { name, version } => RawProtectedApi {
                name: Some(name),
                version: Some(version),
                context: None,
            },
            ProtectedApi::Context(context) => RawProtectedApi {
                name: None,
                version: None,
                context: Some(context),
            },
        }
    }
}

/// `GET /apis` item (definition `API`); only the members the filter uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Api {
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default, rename = "apiId")]
    pub api_id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub context: Option<String>,
    /// Lifecycle status (`PUBLISHED`, `BLOCKED`, …): a `BLOCKED` API refuses every subscriber (900907).
    #[serde(default)]
    pub status: Option<String>,
}

/// `GET /applications` item (definition `Application`); only the members the filter uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    /// Application-level throttling policy (tier).
    #[serde(default)]
    pub policy: Option<String>,
    /// `additionalProperties: string`; a `null` value (a Java map may hold one) is dropped.
    #[serde(default, deserialize_with = "attributes")]
    pub attributes: HashMap<String, String>,
    #[serde(default)]
    pub organization: Option<String>,
}

fn attributes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HashMap<String, String>, D::Error> {
    let raw: Option<HashMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// `GET /application-key-mappings` item (definition `ApplicationKeyMapping`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ApplicationKeyMapping {
    #[serde(default, rename = "applicationId")]
    pub application_id: Option<i64>,
    #[serde(default, rename = "applicationUUID")]
    pub application_uuid: Option<String>,
    #[serde(default, rename = "consumerKey")]
    pub consumer_key: Option<String>,
    /// `PRODUCTION` | `SANDBOX` as sent; see [`KeyType::parse`].
    #[serde(default, rename = "keyType")]
    pub key_type: Option<String>,
    #[serde(default, rename = "keyManager")]
    pub key_manager: Option<String>,
}

/// `GET /subscriptions` item (definition `Subscription`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Subscription {
    #[serde(default, rename = "subscriptionUUID")]
    pub subscription_uuid: Option<String>,
    #[serde(default, rename = "subscriptionId")]
    pub subscription_id: Option<i64>,
    /// Subscription throttling policy (tier).
    #[serde(default, rename = "policyId")]
    pub policy_id: Option<String>,
    #[serde(default, rename = "apiUUID")]
    pub api_uuid: Option<String>,
    #[serde(default, rename = "apiId")]
    pub api_id: Option<i64>,
    #[serde(default, rename = "applicationUUID")]
    pub application_uuid: Option<String>,
    #[serde(default, rename = "appId")]
    pub app_id: Option<i64>,
    #[serde(default, rename = "subscriptionState")]
    pub subscription_state: Option<String>,
}

/// Definition `Pagination`. `next` / `previous` are links, empty when there is no such page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub total: Option<i64>,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
}

/// One page of a list response: `{count, list: […], pagination}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub pagination: Option<Pagination>,
}
