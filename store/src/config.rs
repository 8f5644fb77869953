//! Configuration: a TOML file, every key overridable by an environment variable `OB_STORE_<KEY>` (nested keys
//! joined with `_`, upper-case), the environment winning over the file. Unknown keys in the file are refused.
//!
//! [`KEYS`] is the one list of keys: it drives the environment overrides, `--help` and `docs/store.md`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::sets::Algorithm;

/// How an environment value is turned into a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    /// Comma-separated list of strings.
    List,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path in the TOML file (`auth.password` is `[auth] password`).
    pub path: &'static str,
    pub kind: Kind,
    /// The default, as documentation (`—` when the key is required).
    pub default: &'static str,
    pub help: &'static str,
}

impl Key {
    /// The environment variable that overrides this key.
    pub fn env_var(&self) -> String {
        format!("OB_STORE_{}", self.path.replace('.', "_").to_uppercase())
    }
}

/// Every key the store reads.
pub const KEYS: &[Key] = &[
    Key { path: "listen", kind: Kind::Str, default: "127.0.0.1:8081", help: "Address and port to listen on." },
    Key { path: "base_path", kind: Kind::Str, default: "/api/fs/event-notifications", help: "Path prefix of every endpoint (WSO2's is /api/fs/event-notifications)." },
    Key { path: "database_url", kind: Kind::Str, default: "sqlite://ob-event-store.db", help: "sqlite://path/to/file.db (file and parent folders created and migrated on start) or postgres://user:pass@host:port/db (schema migrated on start)." },
    Key { path: "database_max_connections", kind: Kind::Int, default: "8", help: "Size of the database connection pool." },
    Key { path: "max_body_bytes", kind: Kind::Int, default: "65536", help: "Largest request body accepted; larger bodies get 413." },
    Key { path: "shutdown_timeout_secs", kind: Kind::Int, default: "30", help: "On SIGTERM/SIGINT, how long in-flight requests may take to finish before the process exits anyway." },
    Key { path: "log_format", kind: Kind::Str, default: "json", help: "json (one JSON object per line) or text." },
    Key { path: "log_level", kind: Kind::Str, default: "info", help: "tracing filter, e.g. info or ob_event_store=debug." },
    Key { path: "auth.username", kind: Kind::Str, default: "— (required)", help: "Basic-auth user name every protected call must present." },
    Key { path: "auth.password", kind: Kind::Str, default: "— (required)", help: "Basic-auth password. The store refuses to start without username and password." },
    Key { path: "sets.issuer", kind: Kind::Str, default: "— (required)", help: "The iss claim of every SET." },
    Key { path: "sets.signing_key_file", kind: Kind::Str, default: "— (required)", help: "PEM private key that signs SETs: PKCS#8 (PKCS#1 RSA and SEC1 EC also read); RSA >= 2048 bits for PS256/RS256, P-256 for ES256." },
    Key { path: "sets.algorithm", kind: Kind::Str, default: "PS256", help: "PS256, RS256 or ES256." },
    Key { path: "sets.key_id", kind: Kind::Str, default: "RFC 7638 JWK thumbprint", help: "kid of the JOSE header and of the JWKS entry." },
    Key { path: "polling.default_max_events", kind: Kind::Int, default: "5", help: "SETs returned by a poll without maxEvents (WSO2's number_of_sets_to_return)." },
    Key { path: "polling.max_events", kind: Kind::Int, default: "100", help: "Most SETs one poll returns, whatever maxEvents asks for." },
    Key { path: "polling.long_poll_max_wait_secs", kind: Kind::Int, default: "0 (short polling only)", help: "When > 0, a poll with returnImmediately: false that finds nothing waits up to this long for a new notification." },
    Key { path: "subscriptions.event_types", kind: Kind::List, default: "the OBIE v3.1.2 codes and URNs (see docs)", help: "Event types a subscription may list (comma-separated in the environment)." },
    Key { path: "retention.acknowledged_ttl_secs", kind: Kind::Int, default: "604800 (7 days)", help: "ACK, ERR and EXPIRED notifications are deleted this long after their last change; 0 keeps them." },
    Key { path: "retention.open_ttl_secs", kind: Kind::Int, default: "2592000 (30 days)", help: "OPEN notifications older than this become EXPIRED and are no longer delivered; 0 never expires them." },
    Key { path: "retention.sweep_interval_secs", kind: Kind::Int, default: "60", help: "How often the background retention sweep runs." },
];

/// The event types a subscription may list by default: the OBIE v3.1.2 codes (with the v3.1.2 misspelling
/// `Acount` and the later `Account`) and the SET URNs they stand for.
pub const DEFAULT_EVENT_TYPES: &[&str] = &[
    "UK.OBIE.Resource-Update",
    "UK.OBIE.Consent-Authorization-Revoked",
    "UK.OBIE.Acount-Access-Consent-Linked-Account-Update",
    "UK.OBIE.Account-Access-Consent-Linked-Account-Update",
    "urn:uk:org:openbanking:events:resource-update",
    "urn:uk:org:openbanking:events:consent-authorization-revoked",
    "urn:uk:org:openbanking:events:account-access-consent-linked-account-update",
];

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub base_path: String,
    pub database_url: String,
    pub database_max_connections: u32,
    pub max_body_bytes: usize,
    pub shutdown_timeout_secs: u64,
    pub log_format: LogFormat,
    pub log_level: String,
    pub auth: AuthConfig,
    pub sets: SetsConfig,
    pub polling: PollingConfig,
    pub subscriptions: SubscriptionsConfig,
    pub retention: RetentionConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone)]
pub struct AuthConfig {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SetsConfig {
    pub issuer: String,
    pub signing_key_file: PathBuf,
    pub algorithm: Algorithm,
    pub key_id: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct PollingConfig {
    pub default_max_events: u32,
    pub max_events: u32,
    pub long_poll_max_wait_secs: u64,
}

#[derive(Debug, Clone)]
pub struct SubscriptionsConfig {
    pub event_types: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct RetentionConfig {
    pub acknowledged_ttl_secs: u64,
    pub open_ttl_secs: u64,
    pub sweep_interval_secs: u64,
}

// ---- the raw, file-shaped form ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    base_path: Option<String>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    max_body_bytes: Option<usize>,
    shutdown_timeout_secs: Option<u64>,
    log_format: Option<String>,
    log_level: Option<String>,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    sets: RawSets,
    #[serde(default)]
    polling: RawPolling,
    #[serde(default)]
    subscriptions: RawSubscriptions,
    #[serde(default)]
    retention: RawRetention,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    username: Option<String>,
    password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSets {
    issuer: Option<String>,
    signing_key_file: Option<PathBuf>,
    algorithm: Option<String>,
    key_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolling {
    default_max_events: Option<u32>,
    max_events: Option<u32>,
    long_poll_max_wait_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscriptions {
    event_types: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    acknowledged_ttl_secs: Option<u64>,
    open_ttl_secs: Option<u64>,
    sweep_interval_secs: Option<u64>,
}

/// Reads the file (if any), applies the environment, validates.
pub fn load(
    file: Option<&std::path::Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, String> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            text.parse::<toml::Table>()
                .map_err(|e| format!("config file {} is not valid TOML: {e}", path.display()))?
        }
        None => toml::Table::new(),
    };
    apply_env(&mut table, env)?;
    let raw = RawConfig::deserialize(toml::Value::Table(table))
        .map_err(|e| format!("invalid configuration: {e}"))?;
    validate(raw)
}

fn apply_env(table: &mut toml::Table, env: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    for key in KEYS {
        let var = key.env_var();
        let Some(text) = env(&var) else { continue };
        let value = match key.kind {
            Kind::Str => toml::Value::String(text),
            Kind::Int => toml::Value::Integer(
                text.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{var} must be an integer, got {text:?}"))?,
            ),
            Kind::List => toml::Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_owned()))
                    .collect(),
            ),
        };
        let mut parts: Vec<&str> = key.path.split('.').collect();
        let last = parts.pop().unwrap_or(key.path);
        let mut current = &mut *table;
        for part in parts {
            let entry = current
                .entry(part.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current = match entry {
                toml::Value::Table(t) => t,
                _ => return Err(format!("config key {part} must be a table")),
            };
        }
        current.insert(last.to_owned(), value);
    }
    Ok(())
}

fn required(value: Option<String>, key: &str) -> Result<String, String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!(
            "{key} is required (set it in the config file or {})",
            env_name(key)
        )),
    }
}

fn env_name(path: &str) -> String {
    format!("OB_STORE_{}", path.replace('.', "_").to_uppercase())
}

fn validate(raw: RawConfig) -> Result<Config, String> {
    let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:8081".to_owned());
    let listen: SocketAddr = listen_text
        .parse()
        .map_err(|_| format!("listen must be an address:port, got {listen_text:?}"))?;

    let base_path = normalise_base_path(
        raw.base_path
            .as_deref()
            .unwrap_or("/api/fs/event-notifications"),
    )?;

    let database_url = raw
        .database_url
        .unwrap_or_else(|| "sqlite://ob-event-store.db".to_owned());
    if !(database_url.starts_with("sqlite:")
        || database_url.starts_with("postgres://")
        || database_url.starts_with("postgresql://"))
    {
        return Err("database_url must start with sqlite:// or postgres://".to_owned());
    }
    let database_max_connections = raw.database_max_connections.unwrap_or(8);
    if database_max_connections == 0 {
        return Err("database_max_connections must be at least 1".to_owned());
    }
    let max_body_bytes = raw.max_body_bytes.unwrap_or(64 * 1024);
    if max_body_bytes < 1024 {
        return Err("max_body_bytes must be at least 1024".to_owned());
    }
    let log_format = match raw.log_format.as_deref().unwrap_or("json") {
        "json" => LogFormat::Json,
        "text" => LogFormat::Text,
        other => return Err(format!("log_format must be json or text, got {other:?}")),
    };

    let auth = AuthConfig {
        username: required(raw.auth.username, "auth.username")?,
        password: required(raw.auth.password, "auth.password")?,
    };
    if auth.username.contains(':') {
        return Err("auth.username must not contain ':'".to_owned());
    }

    let algorithm = match raw.sets.algorithm.as_deref().unwrap_or("PS256") {
        "PS256" => Algorithm::Ps256,
        "RS256" => Algorithm::Rs256,
        "ES256" => Algorithm::Es256,
        other => {
            return Err(format!(
                "sets.algorithm must be PS256, RS256 or ES256, got {other:?}"
            ))
        }
    };
    let signing_key_file = match raw.sets.signing_key_file {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Err(format!("sets.signing_key_file is required (set it in the config file or {}); `ob-event-store generate-key` writes one", env_name("sets.signing_key_file"))),
    };
    let key_id = raw.sets.key_id.filter(|k| !k.trim().is_empty());
    let sets = SetsConfig {
        issuer: required(raw.sets.issuer, "sets.issuer")?,
        signing_key_file,
        algorithm,
        key_id,
    };

    let polling = PollingConfig {
        default_max_events: raw.polling.default_max_events.unwrap_or(5),
        max_events: raw.polling.max_events.unwrap_or(100),
        long_poll_max_wait_secs: raw.polling.long_poll_max_wait_secs.unwrap_or(0),
    };
    if polling.long_poll_max_wait_secs > 300 {
        return Err("polling.long_poll_max_wait_secs must be at most 300".to_owned());
    }
    if polling.max_events == 0 || polling.max_events > 1000 {
        return Err("polling.max_events must be between 1 and 1000".to_owned());
    }
    if polling.default_max_events > polling.max_events {
        return Err("polling.default_max_events must not exceed polling.max_events".to_owned());
    }

    let event_types = raw.subscriptions.event_types.unwrap_or_else(|| {
        DEFAULT_EVENT_TYPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    });
    if event_types.iter().any(|t| t.trim().is_empty()) {
        return Err("subscriptions.event_types must not contain empty names".to_owned());
    }

    let retention = RetentionConfig {
        acknowledged_ttl_secs: raw.retention.acknowledged_ttl_secs.unwrap_or(7 * 24 * 3600),
        open_ttl_secs: raw.retention.open_ttl_secs.unwrap_or(30 * 24 * 3600),
        sweep_interval_secs: raw.retention.sweep_interval_secs.unwrap_or(60),
    };
    if retention.sweep_interval_secs == 0 {
        return Err("retention.sweep_interval_secs must be at least 1".to_owned());
    }

    Ok(Config {
        listen,
        base_path,
        database_url,
        database_max_connections,
        max_body_bytes,
        shutdown_timeout_secs: raw.shutdown_timeout_secs.unwrap_or(30),
        log_format,
        log_level: raw.log_level.unwrap_or_else(|| "info".to_owned()),
        auth,
        sets,
        polling,
        subscriptions: SubscriptionsConfig { event_types },
        retention,
    })
}

/// `/api/x/` → `/api/x`; `` or `/` → `` (endpoints at the root).
fn normalise_base_path(path: &str) -> Result<String, String> {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/')
        || trimmed.contains("//")
        || trimmed.contains(['{', '}', '*', '?', '#', ' '])
    {
        return Err(format!(
            "base_path must be an absolute path like /api/fs/event-notifications, got {path:?}"
        ));
    }
    Ok(trimmed.to_owned())
}

/// The key table for `--help`.
pub fn help_table() -> String {
    let mut out = String::from(
        "CONFIGURATION (TOML file keys; each also set by its environment variable, which wins over the file):\n",
    );
    for key in KEYS {
        out.push_str(&format!(
            "  {:<30} {:<42} default: {}\n      {}\n",
            key.path,
            key.env_var(),
            key.default,
            key.help
        ));
    }
    out.push_str("\nGET {base_path}/health and {base_path}/jwks need no credentials; every other call needs Basic auth.\nSee docs/store.md for the API and semantics.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const MINIMAL: &[(&str, &str)] = &[
        ("OB_STORE_AUTH_USERNAME", "u"),
        ("OB_STORE_AUTH_PASSWORD", "p"),
        ("OB_STORE_SETS_ISSUER", "https://bank.example"),
        ("OB_STORE_SETS_SIGNING_KEY_FILE", "/k.pem"),
    ];

    #[test]
    fn defaults_apply_when_only_required_keys_are_set() {
        let c = load(None, env_of(MINIMAL)).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8081");
        assert_eq!(c.base_path, "/api/fs/event-notifications");
        assert_eq!(c.polling.default_max_events, 5);
        assert_eq!(c.polling.max_events, 100);
        assert_eq!(c.sets.algorithm, Algorithm::Ps256);
    }

    #[test]
    fn nested_env_var_names_join_with_underscore() {
        let key = KEYS
            .iter()
            .find(|k| k.path == "auth.password")
            .expect("key");
        assert_eq!(key.env_var(), "OB_STORE_AUTH_PASSWORD");
        let key = KEYS
            .iter()
            .find(|k| k.path == "sets.signing_key_file")
            .expect("key");
        assert_eq!(key.env_var(), "OB_STORE_SETS_SIGNING_KEY_FILE");
    }

    #[test]
    fn missing_password_is_refused() {
        let err = load(
            None,
            env_of(&[
                ("OB_STORE_AUTH_USERNAME", "u"),
                ("OB_STORE_SETS_ISSUER", "i"),
                ("OB_STORE_SETS_SIGNING_KEY_FILE", "/k"),
            ]),
        )
        .expect_err("must refuse");
        assert!(err.contains("auth.password"), "{err}");
    }

    #[test]
    fn base_path_is_normalised() {
        assert_eq!(normalise_base_path("/a/b/").as_deref(), Ok("/a/b"));
        assert_eq!(normalise_base_path("/").as_deref(), Ok(""));
        assert!(normalise_base_path("a/b").is_err());
    }
}
