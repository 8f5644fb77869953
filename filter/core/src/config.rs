//! The plugin configuration: one JSON document (Envoy's `configuration` of the wasm filter), parsed and
//! validated once per configuration load. Unknown keys are rejected; every default is stated here and in
//! `docs/configuration.md`. A configuration that does not validate never serves a request: the filter
//! answers 500 until a good one is loaded.

use crate::backend::BackendCredentials;
use crate::certificate::{CertificatePolicy, OrgMatch, Role};
use crate::endpoints::Endpoint;
use crate::polling::{OverMax, PollingPolicy, UnknownMembers};
use crate::subscription_data::{
    DataApiSettings, ProtectedApi, Snapshot, SnapshotOptions, StaticSubscriptions,
};
use crate::subscriptions::SubscriptionPolicy;
use crate::token::{Alg, IssuerPolicy, Jwks};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The default base path of the Event Notification API v3.1.x (`basePath` of the v3.1.2 Swagger files).
pub const DEFAULT_BASE_PATH: &str = "/open-banking/v3.1";
/// Default size of the verified-token cache (per Envoy worker).
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = 10_000;
/// Default base path of the storage backend (WSO2's event-notification webapp).
pub const DEFAULT_BACKEND_BASE_PATH: &str = "/api/fs/event-notifications";
/// Default timeout of one backend call.
pub const DEFAULT_BACKEND_TIMEOUT_MS: u64 = 5_000;
/// Default JWKS fetch timeout, refresh interval and least time between two fetches.
pub const DEFAULT_JWKS_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_JWKS_REFRESH_SECS: u64 = 300;
pub const DEFAULT_JWKS_MIN_REFRESH_SECS: u64 = 30;
/// Default longest wait of a long poll, and the interval at which the backend is asked again meanwhile.
pub const DEFAULT_LONG_POLL_MAX_WAIT_MS: u64 = 10_000;
pub const DEFAULT_LONG_POLL_INTERVAL_MS: u64 = 500;
/// Default largest request body (polling and subscriptions).
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 65_536;

/// The scopes each endpoint accepts by default (v3.1.2: any one of them suffices).
pub fn default_scopes(endpoint_key: &str) -> Vec<String> {
    let list: &[&str] = if endpoint_key == "POST /events" {
        &["eventpolling"]
    } else {
        &["accounts", "payments", "fundsconfirmations"]
    };
    list.iter().map(|s| s.to_string()).collect()
}

/// The five endpoint keys of `endpoint_scopes` (method + OpenAPI path template).
pub const ENDPOINT_KEYS: [&str; 5] = [
    "POST /event-subscriptions",
    "GET /event-subscriptions",
    "PUT /event-subscriptions/{EventSubscriptionId}",
    "DELETE /event-subscriptions/{EventSubscriptionId}",
    "POST /events",
];

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Path prefix of the event endpoints, without a trailing slash.
    pub base_path: String,
    /// The trusted token issuers.
    pub issuers: Vec<Issuer>,
    /// Entries of the verified-token cache, per worker (0 disables it).
    pub token_cache_entries: usize,
    /// Scopes per endpoint key (see [`ENDPOINT_KEYS`]); any one suffices.
    pub endpoint_scopes: BTreeMap<String, Vec<String>>,
    /// What happens to a request that passed every check.
    pub forward: Forward,
    /// The storage backend (required when `forward` is `Backend`).
    pub backend: Option<Backend>,
    /// `POST /events` rules.
    pub polling: PollingPolicy,
    /// Long polling (`returnImmediately: false`).
    pub long_poll: LongPoll,
    /// `/event-subscriptions` rules.
    pub subscriptions: SubscriptionPolicy,
    /// `scheme://host[:port]` of `Links.Self`; `None`: `https://` and the request's `:authority`.
    pub public_base_url: Option<String>,
    /// The client-certificate rules.
    pub certificate: Certificates,
    /// WSO2 API Manager subscriptions.
    pub apim: Apim,
}

/// WSO2 API Manager subscription enforcement: which APIs, where the data comes from, what is passed on.
#[derive(Debug, Clone)]
pub struct Apim {
    /// The API of the `/event-subscriptions` endpoints.
    pub subscription_api: ProtectedApi,
    /// The API of `POST /events`.
    pub polling_api: ProtectedApi,
    /// Match key mappings of this key manager only.
    pub key_manager: Option<String>,
    /// The application attribute holding the organisation the client certificate must carry.
    pub organisation_attribute: Option<String>,
    pub source: SubscriptionSource,
    /// Header names of what the backend (or the route) is told about the application.
    pub headers: ApplicationHeaders,
    /// What the snapshot keeps (derived).
    pub options: SnapshotOptions,
}

impl Apim {
    /// The protected API `endpoint` belongs to.
    pub fn api_for(&self, endpoint: &Endpoint) -> &ProtectedApi {
        match endpoint {
            Endpoint::PollEvents => &self.polling_api,
            _ => &self.subscription_api,
        }
    }
}

/// Where subscription data comes from.
#[derive(Debug, Clone)]
pub enum SubscriptionSource {
    /// Pulled from APIM's internal data REST API by the root context.
    DataApi(DataApi),
    /// A list in this configuration (Envoy-only deployments), built once.
    Static(Box<Snapshot>),
}

/// The APIM internal data API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataApi {
    pub cluster: String,
    pub authority: String,
    pub settings: DataApiSettings,
    pub timeout_ms: u64,
    pub refresh_interval_secs: u64,
}

/// Names of the application headers sent on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApplicationHeaders {
    pub application_id: String,
    pub application_name: String,
    pub key_type: String,
    /// Route mode: set them on the forwarded request too (default: only `x-wso2-client-id` is set, and
    /// copies of these headers sent by the TPP are removed).
    pub on_route: bool,
}

impl Default for ApplicationHeaders {
    fn default() -> Self {
        ApplicationHeaders {
            application_id: "x-wso2-application-id".into(),
            application_name: "x-wso2-application-name".into(),
            key_type: "x-wso2-key-type".into(),
            on_route: false,
        }
    }
}

/// Client certificates: where the filter reads them, the rules per endpoint, and who owns which client.
#[derive(Debug, Clone)]
pub struct Certificates {
    /// The rules per endpoint key (they differ only in the PSD2 roles required).
    policies: BTreeMap<String, CertificatePolicy>,
    pub source: CertificateSource,
    /// Registered organisation per consumer key (the static source of the organisation check).
    pub organisations: BTreeMap<String, String>,
    /// Parsed certificates kept per worker.
    pub cache_entries: usize,
}

impl Certificates {
    /// The rules for `endpoint`.
    pub fn policy(&self, endpoint: &Endpoint) -> Option<&CertificatePolicy> {
        self.policies.get(endpoint.key())
    }
}

/// Where the client certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// Envoy's `x-forwarded-client-cert` (`SANITIZE_SET`, `Cert` included), cross-checked with the TLS
    /// connection's certificate digest. The default.
    Xfcc,
    /// A header set by a load balancer that ended TLS in front of Envoy. Only for such deployments: the
    /// header is trusted as it is.
    Header { name: String, format: HeaderFormat },
}

/// How a trusted certificate header is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderFormat {
    /// PEM (newlines possibly turned into spaces, or URL-encoded).
    Pem,
    /// URL-encoded base64 of the DER (WSO2's `isClientCertificateEncoded`).
    Base64Der,
}

/// What the filter does with a request that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Call the storage backend itself and answer in OB shape (the default).
    Backend,
    /// Let the request continue to Envoy's route (e.g. WSO2 API Manager's gateway behind), with
    /// `x-wso2-client-id` set from the verified token; the upstream's answer goes back as it is, with the
    /// interaction id added.
    Route,
}

/// Long polling: hold a poll that finds nothing until events arrive or the wait ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongPoll {
    /// Longest hold in milliseconds; 0 disables long polling (every poll answers at once).
    pub max_wait_ms: u64,
    /// How often the backend is asked again during the hold.
    pub interval_ms: u64,
    /// What an absent `returnImmediately` means: `true` = long poll (RFC 8936's default).
    pub when_absent: bool,
}

/// One trusted issuer: its verification policy and where its keys come from.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub policy: IssuerPolicy,
    pub keys: KeySource,
}

/// Where an issuer's signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS written in the configuration.
    Inline(Jwks),
    /// A JWKS fetched by the filter over an Envoy cluster, refreshed on an interval and on an unknown `kid`.
    Remote(RemoteJwks),
}

/// A JWKS endpoint reached through an Envoy cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
    pub refresh_interval_secs: u64,
    pub min_refresh_interval_secs: u64,
}

/// The storage backend (WSO2's event-notification service, or `ob-event-store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub cluster: String,
    pub authority: String,
    pub base_path: String,
    pub timeout_ms: u64,
    /// Basic credentials for every call (their `Debug` hides the password).
    pub credentials: BackendCredentials,
}

/// Why a configuration was refused. The message names the key and is safe to log (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

// ----- the configuration exactly as written; private so that only validated values escape -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_base_path")]
    base_path: String,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
    #[serde(default)]
    token_cache: RawTokenCache,
    #[serde(default)]
    endpoint_scopes: BTreeMap<String, Vec<String>>,
    backend: Option<RawBackend>,
    forward: Option<RawForward>,
    #[serde(default)]
    polling: RawPolling,
    #[serde(default)]
    subscriptions: RawSubscriptions,
    public_base_url: Option<String>,
    #[serde(default)]
    certificate: RawCertificate,
    apim: Option<RawApim>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApim {
    subscription_api: ProtectedApi,
    polling_api: ProtectedApi,
    key_manager: Option<String>,
    organisation_attribute: Option<String>,
    source: RawSubscriptionSource,
    #[serde(default)]
    headers: ApplicationHeaders,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawSubscriptionSource {
    DataApi {
        cluster: String,
        authority: Option<String>,
        base_path: Option<String>,
        username: String,
        password: String,
        tenant: Option<String>,
        timeout_ms: Option<u64>,
        refresh_interval_secs: Option<u64>,
    },
    Static {
        applications: serde_json::Value,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificate {
    required: Option<bool>,
    bound_token_required: Option<bool>,
    organisation_match: Option<OrgMatch>,
    required_roles: Option<Vec<Role>>,
    #[serde(default)]
    endpoint_roles: BTreeMap<String, Vec<Role>>,
    clock_skew_secs: Option<u64>,
    source: Option<RawCertificateSource>,
    #[serde(default)]
    organisations: BTreeMap<String, String>,
    cache_entries: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificateSource {
    /// `xfcc` or `header`.
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    format: Option<HeaderFormat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolling {
    max_events: Option<u64>,
    over_max: Option<RawOverMax>,
    unknown_members: Option<RawUnknown>,
    body_limit_bytes: Option<usize>,
    success_status: Option<u16>,
    #[serde(default)]
    long_poll: RawLongPoll,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLongPoll {
    max_wait_ms: Option<u64>,
    interval_ms: Option<u64>,
    when_absent: Option<RawWhenAbsent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscriptions {
    unknown_members: Option<RawUnknown>,
    body_limit_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawForward {
    Backend,
    Route,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawOverMax {
    Refuse,
    Clamp,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawUnknown {
    Refuse,
    Ignore,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawWhenAbsent {
    LongPoll,
    ReturnImmediately,
}

fn unknown(raw: Option<RawUnknown>) -> UnknownMembers {
    match raw {
        Some(RawUnknown::Ignore) => UnknownMembers::Ignore,
        _ => UnknownMembers::Refuse,
    }
}

fn default_base_path() -> String {
    DEFAULT_BASE_PATH.to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    #[serde(default)]
    audiences: Vec<String>,
    algorithms: Option<Vec<Alg>>,
    clock_skew_secs: Option<u64>,
    consumer_key_claims: Option<Vec<String>>,
    token_type_claim: Option<String>,
    application_token_type: Option<String>,
    jwks: Option<serde_json::Value>,
    remote_jwks: Option<RawRemoteJwks>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteJwks {
    cluster: String,
    authority: Option<String>,
    path: String,
    #[serde(default = "default_jwks_timeout")]
    timeout_ms: u64,
    #[serde(default = "default_jwks_refresh")]
    refresh_interval_secs: u64,
    #[serde(default = "default_jwks_min_refresh")]
    min_refresh_interval_secs: u64,
}

fn default_jwks_timeout() -> u64 {
    DEFAULT_JWKS_TIMEOUT_MS
}
fn default_jwks_refresh() -> u64 {
    DEFAULT_JWKS_REFRESH_SECS
}
fn default_jwks_min_refresh() -> u64 {
    DEFAULT_JWKS_MIN_REFRESH_SECS
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokenCache {
    #[serde(default = "default_cache_entries")]
    max_entries: usize,
}

impl Default for RawTokenCache {
    fn default() -> Self {
        RawTokenCache {
            max_entries: DEFAULT_TOKEN_CACHE_ENTRIES,
        }
    }
}

fn default_cache_entries() -> usize {
    DEFAULT_TOKEN_CACHE_ENTRIES
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    cluster: String,
    authority: Option<String>,
    #[serde(default = "default_backend_base_path")]
    base_path: String,
    #[serde(default = "default_backend_timeout")]
    timeout_ms: u64,
    username: String,
    password: String,
}

fn default_backend_base_path() -> String {
    DEFAULT_BACKEND_BASE_PATH.to_string()
}
fn default_backend_timeout() -> u64 {
    DEFAULT_BACKEND_TIMEOUT_MS
}

impl Config {
    /// Parse and validate the plugin configuration bytes.
    pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return err(
                "the plugin configuration is empty: a JSON object is required (see docs/configuration.md)",
            );
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ConfigError(format!("the plugin configuration is not valid JSON: {e}")))?;
        if !value.is_object() {
            return err("the plugin configuration must be a JSON object");
        }
        let raw: RawConfig = serde_json::from_value(value)
            .map_err(|e| ConfigError(format!("the plugin configuration is not valid: {e}")))?;

        let base_path = validate_base_path(&raw.base_path)?;
        if raw.issuers.is_empty() {
            return err("issuers: at least one trusted token issuer is required");
        }
        let mut issuers = Vec::with_capacity(raw.issuers.len());
        for (i, issuer) in raw.issuers.into_iter().enumerate() {
            let parsed =
                validate_issuer(issuer).map_err(|e| ConfigError(format!("issuers[{i}].{e}")))?;
            if issuers
                .iter()
                .any(|known: &Issuer| known.policy.issuer == parsed.policy.issuer)
            {
                return err(format!(
                    "issuers[{i}].issuer {:?} is configured twice",
                    parsed.policy.issuer
                ));
            }
            issuers.push(parsed);
        }

        let mut endpoint_scopes = BTreeMap::new();
        for key in ENDPOINT_KEYS {
            endpoint_scopes.insert(key.to_string(), default_scopes(key));
        }
        for (key, scopes) in raw.endpoint_scopes {
            if !ENDPOINT_KEYS.contains(&key.as_str()) {
                return err(format!(
                    "endpoint_scopes: unknown endpoint {key:?}; the endpoints are {}",
                    ENDPOINT_KEYS.join(", ")
                ));
            }
            if scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
                return err(format!(
                    "endpoint_scopes[{key:?}]: a scope must be a non-empty string without spaces"
                ));
            }
            endpoint_scopes.insert(key, scopes);
        }

        let forward = match raw.forward {
            Some(RawForward::Route) => Forward::Route,
            _ => Forward::Backend,
        };
        let backend = raw.backend.map(validate_backend).transpose()?;
        if forward == Forward::Backend && backend.is_none() {
            return err("backend: the storage backend (cluster, username, password) is required");
        }

        let (polling, long_poll) = validate_polling(raw.polling)?;
        let subscriptions = SubscriptionPolicy {
            unknown_members: unknown(raw.subscriptions.unknown_members),
            body_limit_bytes: body_limit(
                "subscriptions.body_limit_bytes",
                raw.subscriptions.body_limit_bytes,
            )?,
        };
        let public_base_url = raw
            .public_base_url
            .map(|url| validate_public_base_url(&url))
            .transpose()?;

        let certificate = validate_certificate(raw.certificate)?;
        let Some(apim) = raw.apim else {
            return err(
                "apim: the WSO2 subscription rules (subscription_api, polling_api, source) are required",
            );
        };
        let apim = validate_apim(apim)?;

        Ok(Config {
            apim,
            certificate,
            base_path,
            issuers,
            token_cache_entries: raw.token_cache.max_entries,
            endpoint_scopes,
            forward,
            backend,
            polling,
            long_poll,
            subscriptions,
            public_base_url,
        })
    }

    /// The scopes `endpoint` accepts (any one suffices; empty means none needed).
    pub fn scopes_for(&self, endpoint: &Endpoint) -> &[String] {
        self.endpoint_scopes
            .get(endpoint.key())
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The issuer configured for `iss`.
    pub fn issuer(&self, iss: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.policy.issuer == iss)
    }
}

fn validate_issuer(raw: RawIssuer) -> Result<Issuer, ConfigError> {
    if raw.issuer.is_empty() {
        return err("issuer: must not be empty");
    }
    let mut policy = IssuerPolicy::new(raw.issuer);
    policy.audiences = raw.audiences;
    if let Some(algorithms) = raw.algorithms {
        if algorithms.is_empty() {
            return err("algorithms: at least one of PS256, ES256, RS256");
        }
        policy.algorithms = algorithms;
    }
    if let Some(skew) = raw.clock_skew_secs {
        if skew > 600 {
            return err("clock_skew_secs: at most 600");
        }
        policy.clock_skew_secs = skew;
    }
    if let Some(claims) = raw.consumer_key_claims {
        if claims.is_empty() || claims.iter().any(String::is_empty) {
            return err("consumer_key_claims: at least one non-empty claim name");
        }
        policy.consumer_key_claims = claims;
    }
    if let Some(claim) = raw.token_type_claim {
        policy.token_type_claim = claim;
    }
    if let Some(value) = raw.application_token_type {
        if value.is_empty() {
            return err("application_token_type: must not be empty");
        }
        policy.application_token_type = value;
    }
    let keys = match (raw.jwks, raw.remote_jwks) {
        (Some(jwks), None) => {
            let parsed = Jwks::parse(jwks.to_string().as_bytes())
                .map_err(|e| ConfigError(format!("jwks: {e}")))?;
            if parsed.is_empty() {
                return err(
                    "jwks: no usable signing key (RSA ≥ 2048 bits or EC P-256, use \"sig\")",
                );
            }
            KeySource::Inline(parsed)
        }
        (None, Some(remote)) => KeySource::Remote(validate_remote(remote)?),
        (Some(_), Some(_)) => return err("jwks and remote_jwks: give one, not both"),
        (None, None) => return err("jwks or remote_jwks: the issuer's signing keys are required"),
    };
    Ok(Issuer { policy, keys })
}

fn validate_remote(raw: RawRemoteJwks) -> Result<RemoteJwks, ConfigError> {
    if raw.cluster.is_empty() {
        return err("remote_jwks.cluster: must name an Envoy cluster");
    }
    if !raw.path.starts_with('/') {
        return err("remote_jwks.path: must start with '/'");
    }
    if raw.timeout_ms == 0 || raw.timeout_ms > 60_000 {
        return err("remote_jwks.timeout_ms: between 1 and 60000");
    }
    if raw.refresh_interval_secs < 1 {
        return err("remote_jwks.refresh_interval_secs: at least 1");
    }
    if raw.min_refresh_interval_secs > raw.refresh_interval_secs {
        return err("remote_jwks.min_refresh_interval_secs: at most refresh_interval_secs");
    }
    Ok(RemoteJwks {
        authority: raw.authority.unwrap_or_else(|| raw.cluster.clone()),
        cluster: raw.cluster,
        path: raw.path,
        timeout_ms: raw.timeout_ms,
        refresh_interval_secs: raw.refresh_interval_secs,
        min_refresh_interval_secs: raw.min_refresh_interval_secs,
    })
}

fn validate_backend(raw: RawBackend) -> Result<Backend, ConfigError> {
    if raw.cluster.is_empty() {
        return err("backend.cluster: must name an Envoy cluster");
    }
    let base_path = validate_base_path(&raw.base_path)
        .map_err(|e| ConfigError(format!("backend.base_path: {e}")))?;
    if raw.timeout_ms == 0 || raw.timeout_ms > 300_000 {
        return err("backend.timeout_ms: between 1 and 300000");
    }
    if raw.username.is_empty() || raw.username.contains(':') {
        return err("backend.username: must be non-empty and contain no ':'");
    }
    if raw.password.is_empty() {
        return err("backend.password: must not be empty");
    }
    Ok(Backend {
        authority: raw.authority.unwrap_or_else(|| raw.cluster.clone()),
        cluster: raw.cluster,
        base_path,
        timeout_ms: raw.timeout_ms,
        credentials: BackendCredentials {
            username: raw.username,
            password: raw.password,
        },
    })
}

/// Default interval of the data API refresh, and timeout of one of its calls.
pub const DEFAULT_DATA_API_REFRESH_SECS: u64 = 60;
pub const DEFAULT_DATA_API_TIMEOUT_MS: u64 = 10_000;

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

fn validate_apim(raw: RawApim) -> Result<Apim, ConfigError> {
    let headers = raw.headers;
    for (key, name) in [
        ("application_id", &headers.application_id),
        ("application_name", &headers.application_name),
        ("key_type", &headers.key_type),
    ] {
        if !header_name_ok(name) {
            return err(format!(
                "apim.headers.{key} {name:?}: a lower-case header name"
            ));
        }
    }
    let mut apis = vec![raw.subscription_api.clone()];
    if raw.polling_api != raw.subscription_api {
        apis.push(raw.polling_api.clone());
    }
    let options = SnapshotOptions {
        apis,
        attributes: Vec::new(),
        organisation_attribute: raw.organisation_attribute.clone(),
    };
    let source = match raw.source {
        RawSubscriptionSource::Static { applications } => {
            let list: StaticSubscriptions =
                serde_json::from_value(serde_json::json!({ "applications": applications }))
                    .map_err(|e| ConfigError(format!("apim.source.applications: {e}")))?;
            let snapshot = Snapshot::from_static(&list, &options)
                .map_err(|e| ConfigError(format!("apim.source: {e}")))?;
            SubscriptionSource::Static(Box::new(snapshot))
        }
        RawSubscriptionSource::DataApi {
            cluster,
            authority,
            base_path,
            username,
            password,
            tenant,
            timeout_ms,
            refresh_interval_secs,
        } => {
            if cluster.is_empty() {
                return err("apim.source.cluster: must name an Envoy cluster");
            }
            if username.is_empty() || username.contains(':') || password.is_empty() {
                return err("apim.source: username (no ':') and password are required");
            }
            let base_path = validate_base_path(
                base_path
                    .as_deref()
                    .unwrap_or(crate::subscription_data::data_api::DEFAULT_BASE_PATH),
            )
            .map_err(|e| ConfigError(format!("apim.source.base_path: {e}")))?;
            let timeout_ms = timeout_ms.unwrap_or(DEFAULT_DATA_API_TIMEOUT_MS);
            if timeout_ms == 0 || timeout_ms > 120_000 {
                return err("apim.source.timeout_ms: between 1 and 120000");
            }
            let refresh = refresh_interval_secs.unwrap_or(DEFAULT_DATA_API_REFRESH_SECS);
            if refresh == 0 {
                return err("apim.source.refresh_interval_secs: at least 1");
            }
            SubscriptionSource::DataApi(DataApi {
                authority: authority.unwrap_or_else(|| cluster.clone()),
                cluster,
                settings: DataApiSettings {
                    base_path,
                    credentials: BackendCredentials { username, password },
                    tenant: tenant.unwrap_or_else(|| "carbon.super".into()),
                },
                timeout_ms,
                refresh_interval_secs: refresh,
            })
        }
    };
    Ok(Apim {
        subscription_api: raw.subscription_api,
        polling_api: raw.polling_api,
        key_manager: raw.key_manager,
        organisation_attribute: raw.organisation_attribute,
        source,
        headers,
        options,
    })
}

/// Default number of parsed certificates kept per worker.
pub const DEFAULT_CERTIFICATE_CACHE_ENTRIES: usize = 1024;

fn validate_certificate(raw: RawCertificate) -> Result<Certificates, ConfigError> {
    let mut base = CertificatePolicy::default();
    if let Some(v) = raw.required {
        base.required = v;
    }
    if let Some(v) = raw.bound_token_required {
        base.bound_token_required = v;
    }
    if let Some(v) = raw.organisation_match {
        base.organisation_match = v;
    }
    if let Some(v) = raw.required_roles {
        base.required_roles = v;
    }
    if let Some(v) = raw.clock_skew_secs {
        base.clock_skew_secs = v;
    }
    base.validate()
        .map_err(|e| ConfigError(format!("certificate: {e}")))?;
    let mut policies = BTreeMap::new();
    for key in ENDPOINT_KEYS {
        policies.insert(key.to_string(), base.clone());
    }
    for (key, roles) in raw.endpoint_roles {
        let Some(policy) = policies.get_mut(&key) else {
            return err(format!(
                "certificate.endpoint_roles: unknown endpoint {key:?}; the endpoints are {}",
                ENDPOINT_KEYS.join(", ")
            ));
        };
        policy.required_roles = roles;
        policy
            .validate()
            .map_err(|e| ConfigError(format!("certificate.endpoint_roles[{key:?}]: {e}")))?;
    }
    let source = match raw.source {
        None => CertificateSource::Xfcc,
        Some(src) => match (src.kind.as_str(), src.name, src.format) {
            ("xfcc", None, None) => CertificateSource::Xfcc,
            ("header", Some(name), format) => {
                let valid = !name.is_empty()
                    && name
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
                if !valid || name == "x-forwarded-client-cert" {
                    return err(format!(
                        "certificate.source.name {name:?}: a lower-case header name other than x-forwarded-client-cert"
                    ));
                }
                CertificateSource::Header {
                    name,
                    format: format.unwrap_or(HeaderFormat::Pem),
                }
            }
            _ => {
                return err(
                    "certificate.source: {\"type\": \"xfcc\"} or {\"type\": \"header\", \"name\": …, \"format\": \"pem\" | \"base64_der\"}",
                )
            }
        },
    };
    if raw
        .organisations
        .iter()
        .any(|(k, v)| k.is_empty() || v.is_empty())
    {
        return err("certificate.organisations: client ids and organisations must not be empty");
    }
    Ok(Certificates {
        policies,
        source,
        organisations: raw.organisations,
        cache_entries: raw
            .cache_entries
            .unwrap_or(DEFAULT_CERTIFICATE_CACHE_ENTRIES),
    })
}

fn body_limit(key: &str, value: Option<usize>) -> Result<usize, ConfigError> {
    match value {
        None => Ok(DEFAULT_BODY_LIMIT_BYTES),
        Some(n) if (64..=1_048_576).contains(&n) => Ok(n),
        Some(_) => err(format!("{key}: between 64 and 1048576")),
    }
}

fn validate_polling(raw: RawPolling) -> Result<(PollingPolicy, LongPoll), ConfigError> {
    let defaults = PollingPolicy::default();
    let max_events = raw.max_events.unwrap_or(defaults.max_events);
    if !(1..=10_000).contains(&max_events) {
        return err("polling.max_events: between 1 and 10000");
    }
    let success_status = raw.success_status.unwrap_or(defaults.success_status);
    if success_status != 200 && success_status != 201 {
        return err("polling.success_status: 200 or 201");
    }
    let policy = PollingPolicy {
        max_events,
        over_max: match raw.over_max {
            Some(RawOverMax::Clamp) => OverMax::Clamp,
            _ => OverMax::Refuse,
        },
        unknown_members: unknown(raw.unknown_members),
        body_limit_bytes: body_limit("polling.body_limit_bytes", raw.body_limit_bytes)?,
        success_status,
    };
    let max_wait_ms = raw
        .long_poll
        .max_wait_ms
        .unwrap_or(DEFAULT_LONG_POLL_MAX_WAIT_MS);
    if max_wait_ms > 120_000 {
        return err("polling.long_poll.max_wait_ms: at most 120000");
    }
    let interval_ms = raw
        .long_poll
        .interval_ms
        .unwrap_or(DEFAULT_LONG_POLL_INTERVAL_MS);
    if !(100..=60_000).contains(&interval_ms) {
        return err("polling.long_poll.interval_ms: between 100 and 60000");
    }
    let long_poll = LongPoll {
        max_wait_ms,
        interval_ms,
        when_absent: !matches!(
            raw.long_poll.when_absent,
            Some(RawWhenAbsent::ReturnImmediately)
        ),
    };
    Ok((policy, long_poll))
}

fn validate_public_base_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.strip_suffix('/').unwrap_or(url);
    let host = trimmed.strip_prefix("https://").unwrap_or_default();
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-.:[]".contains(&c));
    if ok {
        Ok(trimmed.to_string())
    } else {
        err(format!(
            "public_base_url {url:?}: must be https://host[:port], without a path"
        ))
    }
}

fn validate_base_path(path: &str) -> Result<String, ConfigError> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let ok = path.starts_with('/')
        && !trimmed.contains("//")
        && trimmed
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/-._~".contains(&c));
    if ok {
        Ok(trimmed.to_string())
    } else {
        err(format!(
            "base_path {path:?} is not valid: it must start with '/' and contain only letters, digits and -._~/ \
             (no '//', query or fragment)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A P-256 public key (a JWK made once with openssl; its private half was thrown away).
    fn jwks() -> Value {
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "x": "otoPguBCy_DYccfeX4bSQy5ynOVL26KlNlnZgGp7RlM",
            "y": "J2BJNK_0IwW-Pk-gSmRsCXT8gjwNd_9263ZQJrRE9c8"
        }]})
    }

    fn minimal() -> Value {
        json!({
            "issuers": [{ "issuer": "https://is.example/oauth2/token", "jwks": jwks() }],
            "backend": { "cluster": "store", "username": "u", "password": "p" },
            "apim": {
                "subscription_api": {"context": "/open-banking/v3.1/event-subscriptions"},
                "polling_api": {"context": "/open-banking/v3.1/events"},
                "source": {"type": "static", "applications": [
                    {"name": "TPP", "keys": [{"consumer_key": "ck", "key_type": "PRODUCTION"}],
                     "subscriptions": [{"state": "UNBLOCKED"}]}
                ]}
            }
        })
    }

    fn parse(value: &Value) -> Result<Config, ConfigError> {
        Config::parse(value.to_string().as_bytes())
    }

    fn with(mut base: Value, pointer: &str, value: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut base
        } else {
            base.pointer_mut(parent).unwrap()
        };
        target
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), value);
        base
    }

    fn refused(value: &Value) -> String {
        parse(value).unwrap_err().0
    }

    #[test]
    fn a_minimal_configuration_takes_every_default() {
        let config = parse(&minimal()).unwrap();
        assert_eq!(config.base_path, "/open-banking/v3.1");
        assert_eq!(config.token_cache_entries, 10_000);
        let issuer = &config.issuers[0];
        assert_eq!(issuer.policy.algorithms, vec![Alg::PS256, Alg::ES256]);
        assert_eq!(issuer.policy.clock_skew_secs, 60);
        assert_eq!(issuer.policy.consumer_key_claims, vec!["azp", "client_id"]);
        assert_eq!(issuer.policy.token_type_claim, "aut");
        assert_eq!(issuer.policy.application_token_type, "APPLICATION");
        assert!(issuer.policy.audiences.is_empty());
        assert!(matches!(issuer.keys, KeySource::Inline(_)));
        assert_eq!(config.forward, Forward::Backend);
        assert_eq!(
            config.backend.unwrap(),
            Backend {
                cluster: "store".into(),
                authority: "store".into(),
                base_path: "/api/fs/event-notifications".into(),
                timeout_ms: 5000,
                credentials: BackendCredentials {
                    username: "u".into(),
                    password: "p".into(),
                },
            }
        );
    }

    #[test]
    fn default_scopes_follow_v3_1_2() {
        let config = parse(&minimal()).unwrap();
        assert_eq!(config.scopes_for(&Endpoint::PollEvents), ["eventpolling"]);
        for endpoint in [
            Endpoint::CreateSubscription,
            Endpoint::ListSubscriptions,
            Endpoint::UpdateSubscription { id: "x".into() },
            Endpoint::DeleteSubscription { id: "x".into() },
        ] {
            assert_eq!(
                config.scopes_for(&endpoint),
                ["accounts", "payments", "fundsconfirmations"]
            );
        }
    }

    #[test]
    fn endpoint_scopes_override_per_endpoint_and_unknown_endpoints_are_refused() {
        let config = parse(&with(
            minimal(),
            "/endpoint_scopes",
            json!({"POST /events": ["accounts", "fundsconfirmations"]}),
        ))
        .unwrap();
        assert_eq!(
            config.scopes_for(&Endpoint::PollEvents),
            ["accounts", "fundsconfirmations"]
        );
        assert_eq!(config.scopes_for(&Endpoint::ListSubscriptions).len(), 3);
        let e = refused(&with(
            minimal(),
            "/endpoint_scopes",
            json!({"POST /event": ["x"]}),
        ));
        assert!(e.contains("unknown endpoint"), "{e}");
        let e = refused(&with(
            minimal(),
            "/endpoint_scopes",
            json!({"POST /events": ["a b"]}),
        ));
        assert!(e.contains("without spaces"), "{e}");
    }

    #[test]
    fn an_empty_configuration_is_refused() {
        for empty in [&b""[..], b"  \n"] {
            let err = Config::parse(empty).unwrap_err();
            assert!(err.0.contains("empty"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name_at_every_level() {
        assert!(refused(&with(minimal(), "/base_pat", json!("/x"))).contains("base_pat"));
        assert!(refused(&with(minimal(), "/issuers/0/isuer", json!("x"))).contains("isuer"));
        assert!(refused(&with(minimal(), "/backend/pasword", json!("x"))).contains("pasword"));
        assert!(refused(&with(minimal(), "/token_cache", json!({"size": 1}))).contains("size"));
        assert!(refused(&with(minimal(), "/polling", json!({"max": 1}))).contains("max"));
        assert!(refused(&with(
            minimal(),
            "/polling",
            json!({"long_poll": {"wait": 1}})
        ))
        .contains("wait"));
    }

    #[test]
    fn malformed_json_and_wrong_types_are_refused() {
        assert!(Config::parse(b"{").is_err());
        assert!(Config::parse(b"[]").is_err());
        assert!(parse(&with(minimal(), "/base_path", json!(3))).is_err());
    }

    #[test]
    fn issuers_and_backend_are_required() {
        let mut no_issuers = minimal();
        no_issuers.as_object_mut().unwrap().remove("issuers");
        assert!(refused(&no_issuers).contains("issuers"));
        assert!(refused(&with(minimal(), "/issuers", json!([]))).contains("issuers"));
        let mut no_backend = minimal();
        no_backend.as_object_mut().unwrap().remove("backend");
        assert!(refused(&no_backend).contains("backend"));
    }

    #[test]
    fn issuer_keys_must_be_given_exactly_once() {
        let remote = json!({"cluster": "is", "path": "/oauth2/jwks"});
        let both = with(minimal(), "/issuers/0/remote_jwks", remote.clone());
        assert!(refused(&both).contains("not both"));
        let mut neither = minimal();
        neither["issuers"][0]
            .as_object_mut()
            .unwrap()
            .remove("jwks");
        assert!(refused(&neither).contains("required"));
        let mut remote_only = neither.clone();
        remote_only["issuers"][0]["remote_jwks"] = remote;
        let config = parse(&remote_only).unwrap();
        match &config.issuers[0].keys {
            KeySource::Remote(r) => {
                assert_eq!(r.authority, "is");
                assert_eq!(r.timeout_ms, 2000);
                assert_eq!(r.refresh_interval_secs, 300);
                assert_eq!(r.min_refresh_interval_secs, 30);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_inline_jwks_without_usable_keys_is_refused() {
        let e = refused(&with(minimal(), "/issuers/0/jwks", json!({"keys": []})));
        assert!(e.contains("jwks"), "{e}");
        assert!(parse(&with(minimal(), "/issuers/0/jwks", json!({"keys": 3}))).is_err());
    }

    #[test]
    fn algorithms_are_an_allow_list_of_known_names() {
        let config = parse(&with(
            minimal(),
            "/issuers/0/algorithms",
            json!(["RS256", "PS256"]),
        ))
        .unwrap();
        assert_eq!(
            config.issuers[0].policy.algorithms,
            vec![Alg::RS256, Alg::PS256]
        );
        for bad in [json!(["HS256"]), json!(["none"]), json!([])] {
            assert!(
                parse(&with(minimal(), "/issuers/0/algorithms", bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_issuer_configured_twice_is_refused() {
        let mut twice = minimal();
        let first = twice["issuers"][0].clone();
        twice["issuers"].as_array_mut().unwrap().push(first);
        assert!(refused(&twice).contains("twice"));
    }

    #[test]
    fn certificate_rules_default_to_the_strict_ones() {
        let config = parse(&minimal()).unwrap();
        let policy = config.certificate.policy(&Endpoint::PollEvents).unwrap();
        assert_eq!(policy, &CertificatePolicy::default());
        assert!(policy.required && policy.bound_token_required);
        assert_eq!(policy.organisation_match, OrgMatch::OrganizationIdentifier);
        assert_eq!(config.certificate.source, CertificateSource::Xfcc);
        assert!(config.certificate.organisations.is_empty());
        assert_eq!(config.certificate.cache_entries, 1024);
    }

    #[test]
    fn certificate_roles_per_endpoint_and_the_trusted_header() {
        let config = parse(&with(
            minimal(),
            "/certificate",
            json!({
                "required_roles": ["AISP"],
                "endpoint_roles": {"POST /events": ["PSP_IC", "PISP"]},
                "source": {"type": "header", "name": "x-wso2-client-certificate", "format": "base64_der"},
                "organisations": {"client-1": "PSDGB-FCA-123456"}
            }),
        ))
        .unwrap();
        let c = &config.certificate;
        assert_eq!(
            c.policy(&Endpoint::ListSubscriptions)
                .unwrap()
                .required_roles
                .len(),
            1
        );
        assert_eq!(
            c.policy(&Endpoint::PollEvents)
                .unwrap()
                .required_roles
                .len(),
            2
        );
        assert_eq!(
            c.source,
            CertificateSource::Header {
                name: "x-wso2-client-certificate".into(),
                format: HeaderFormat::Base64Der
            }
        );
        assert_eq!(c.organisations["client-1"], "PSDGB-FCA-123456");
    }

    #[test]
    fn certificate_configuration_mistakes_are_refused() {
        for bad in [
            json!({"endpoint_roles": {"POST /event": ["AISP"]}}),
            json!({"required_roles": ["SUPERUSER"]}),
            json!({"source": {"type": "header"}}),
            json!({"source": {"type": "header", "name": "x-forwarded-client-cert"}}),
            json!({"source": {"type": "header", "name": "X-Cert"}}),
            json!({"source": {"type": "tls"}}),
            json!({"organisations": {"client-1": ""}}),
            json!({"required": false}),
            json!({"organisation_match": "country"}),
            json!({"verify": true}),
        ] {
            assert!(
                parse(&with(minimal(), "/certificate", bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn apim_rules_are_required_and_checked() {
        let mut none = minimal();
        none.as_object_mut().unwrap().remove("apim");
        assert!(refused(&none).contains("apim"));
        let config = parse(&minimal()).unwrap();
        assert!(matches!(config.apim.source, SubscriptionSource::Static(_)));
        assert_eq!(config.apim.headers, ApplicationHeaders::default());
        assert_eq!(
            config.apim.api_for(&Endpoint::PollEvents),
            &ProtectedApi::context("/open-banking/v3.1/events")
        );
        let data_api = with(
            minimal(),
            "/apim/source",
            json!({"type": "data_api", "cluster": "apim_cp", "username": "u", "password": "p"}),
        );
        match parse(&data_api).unwrap().apim.source {
            SubscriptionSource::DataApi(d) => {
                assert_eq!(d.settings.base_path, "/internal/data/v1");
                assert_eq!(d.settings.tenant, "carbon.super");
                assert_eq!(d.refresh_interval_secs, 60);
                assert_eq!(d.authority, "apim_cp");
            }
            other => panic!("{other:?}"),
        }
        for (pointer, bad) in [
            ("/apim/source", json!({"type": "ldap"})),
            (
                "/apim/source",
                json!({"type": "data_api", "cluster": "c", "username": "u"}),
            ),
            (
                "/apim/source",
                json!({"type": "static", "applications": [{"name": "x"}]}),
            ),
            ("/apim/headers", json!({"key_type": "X-Key"})),
            ("/apim/polling_api", json!({"name": "only-a-name"})),
        ] {
            assert!(
                parse(&with(minimal(), pointer, bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn route_mode_needs_no_backend() {
        let mut route = with(minimal(), "/forward", json!("route"));
        route.as_object_mut().unwrap().remove("backend");
        let config = parse(&route).unwrap();
        assert_eq!(config.forward, Forward::Route);
        assert!(config.backend.is_none());
        assert!(refused(&with(minimal(), "/forward", json!("upstream"))).contains("upstream"));
    }

    #[test]
    fn backend_values_are_checked() {
        assert!(refused(&with(minimal(), "/backend/password", json!(""))).contains("password"));
        assert!(refused(&with(minimal(), "/backend/username", json!("a:b"))).contains("username"));
        assert!(refused(&with(minimal(), "/backend/timeout_ms", json!(0))).contains("timeout"));
        assert!(refused(&with(minimal(), "/backend/base_path", json!("x"))).contains("base_path"));
    }

    #[test]
    fn the_password_never_appears_in_an_error() {
        let e = refused(&with(
            with(minimal(), "/backend/password", json!("s3cret-value")),
            "/backend/timeout_ms",
            json!(-1),
        ));
        assert!(!e.contains("s3cret-value"), "{e}");
    }

    #[test]
    fn polling_defaults_and_choices() {
        let config = parse(&minimal()).unwrap();
        assert_eq!(config.polling, PollingPolicy::default());
        assert_eq!(
            config.long_poll,
            LongPoll {
                max_wait_ms: 10_000,
                interval_ms: 500,
                when_absent: true
            }
        );
        let config = parse(&with(
            minimal(),
            "/polling",
            json!({"max_events": 20, "over_max": "clamp", "unknown_members": "ignore",
                   "success_status": 201, "long_poll": {"max_wait_ms": 0, "when_absent": "return_immediately"}}),
        ))
        .unwrap();
        assert_eq!(config.polling.max_events, 20);
        assert_eq!(config.polling.over_max, OverMax::Clamp);
        assert_eq!(config.polling.unknown_members, UnknownMembers::Ignore);
        assert_eq!(config.polling.success_status, 201);
        assert_eq!(config.long_poll.max_wait_ms, 0);
        assert!(!config.long_poll.when_absent);
        for bad in [
            json!({"success_status": 204}),
            json!({"max_events": 0}),
            json!({"over_max": "truncate"}),
            json!({"body_limit_bytes": 1}),
            json!({"long_poll": {"interval_ms": 10}}),
        ] {
            assert!(
                parse(&with(minimal(), "/polling", bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn public_base_url_is_an_https_origin() {
        let config = parse(&with(
            minimal(),
            "/public_base_url",
            json!("https://api.bank.example:8443/"),
        ))
        .unwrap();
        assert_eq!(
            config.public_base_url.as_deref(),
            Some("https://api.bank.example:8443")
        );
        for bad in ["http://api.bank.example", "https://", "https://a/b", "api"] {
            assert!(
                parse(&with(minimal(), "/public_base_url", json!(bad))).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn base_path_is_validated_and_normalised() {
        let config = parse(&with(minimal(), "/base_path", json!("/ob/v3.1/"))).unwrap();
        assert_eq!(config.base_path, "/ob/v3.1");
        for bad in ["", "ob", "/a//b", "/a?x=1", "/a#f", "/a b", "/ä"] {
            assert!(
                parse(&with(minimal(), "/base_path", json!(bad))).is_err(),
                "{bad:?}"
            );
        }
    }
}
