//! The plugin configuration: one JSON document (Envoy's `configuration` of the wasm filter), parsed and
//! validated once per configuration load. Unknown keys are rejected; every default is stated here and in
//! `docs/configuration.md`. A configuration that does not validate never serves a request: the filter
//! answers 500 until a good one is loaded.

use serde::Deserialize;
use std::fmt;

/// The default base path of the Event Notification API v3.1.x (`basePath` of the v3.1.2 Swagger files).
pub const DEFAULT_BASE_PATH: &str = "/open-banking/v3.1";

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Path prefix of the event endpoints, without a trailing slash.
    pub base_path: String,
}

/// Why a configuration was refused. The message names the key and is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The configuration exactly as written; kept private so that only validated values escape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_base_path")]
    base_path: String,
}

fn default_base_path() -> String {
    DEFAULT_BASE_PATH.to_string()
}

impl Config {
    /// Parse and validate the plugin configuration bytes.
    pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ConfigError(
                "the plugin configuration is empty: a JSON object is required (see docs/configuration.md)"
                    .into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ConfigError(format!("the plugin configuration is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(ConfigError(
                "the plugin configuration must be a JSON object".into(),
            ));
        }
        let raw: RawConfig = serde_json::from_value(value)
            .map_err(|e| ConfigError(format!("the plugin configuration is not valid: {e}")))?;
        Ok(Config {
            base_path: validate_base_path(&raw.base_path)?,
        })
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
        Err(ConfigError(format!(
            "base_path {path:?} is not valid: it must start with '/' and contain only letters, digits and -._~/ \
             (no '//', query or fragment)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn an_empty_object_takes_every_default() {
        let config = Config::parse(b"{}").unwrap();
        assert_eq!(config.base_path, "/open-banking/v3.1");
    }

    #[test]
    fn an_empty_configuration_is_refused() {
        for empty in [&b""[..], b"  \n"] {
            let err = Config::parse(empty).unwrap_err();
            assert!(err.0.contains("empty"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = Config::parse(br#"{"base_pat": "/x"}"#).unwrap_err();
        assert!(err.0.contains("base_pat"), "{err}");
    }

    #[test]
    fn malformed_json_and_wrong_types_are_refused() {
        assert!(Config::parse(b"{").is_err());
        assert!(Config::parse(b"[]").is_err());
        assert!(Config::parse(br#"{"base_path": 3}"#).is_err());
    }

    #[test]
    fn base_path_is_validated_and_normalised() {
        let config = Config::parse(br#"{"base_path": "/ob/v3.1/"}"#).unwrap();
        assert_eq!(config.base_path, "/ob/v3.1");
        for bad in ["", "ob", "/a//b", "/a?x=1", "/a#f", "/a b", "/ä"] {
            let json = serde_json::json!({ "base_path": bad }).to_string();
            assert!(Config::parse(json.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
