//! OAuth scopes: the `scope` claim as a set, and the endpoint check.

use std::collections::BTreeSet;

use serde_json::Value;

/// The scopes a token grants.
pub type Scopes = BTreeSet<String>;

/// Reads a `scope` claim: a space-separated string (RFC 6749 §3.3, RFC 9068) or, as WSO2 IS can be set to
/// issue, an array of strings. `None` for any other JSON type or a non-string element.
pub(crate) fn parse_scope_claim(value: &Value) -> Option<Scopes> {
    match value {
        Value::String(s) => Some(
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// Whether the token grants at least one of the endpoint's scopes. An empty `required` list means the
/// endpoint needs no scope.
pub fn any_scope_granted(required: &[String], granted: &Scopes) -> bool {
    required.is_empty() || required.iter().any(|scope| granted.contains(scope))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn set(items: &[&str]) -> Scopes {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn req(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scope_as_string() {
        let v = Value::String("accounts  eventpolling openid".into());
        assert_eq!(
            parse_scope_claim(&v),
            Some(set(&["accounts", "eventpolling", "openid"]))
        );
        assert_eq!(
            parse_scope_claim(&Value::String(String::new())),
            Some(set(&[]))
        );
    }

    #[test]
    fn scope_as_array() {
        let v = serde_json::json!(["accounts", "payments"]);
        assert_eq!(parse_scope_claim(&v), Some(set(&["accounts", "payments"])));
    }

    #[test]
    fn scope_of_another_type_is_refused() {
        for v in [
            serde_json::json!(1),
            serde_json::json!({}),
            serde_json::json!(["a", 1]),
            Value::Null,
        ] {
            assert_eq!(parse_scope_claim(&v), None, "{v}");
        }
    }

    #[test]
    fn any_one_scope_suffices() {
        let granted = set(&["eventpolling", "openid"]);
        assert!(any_scope_granted(
            &req(&["accounts", "eventpolling"]),
            &granted
        ));
        assert!(!any_scope_granted(
            &req(&["accounts", "payments"]),
            &granted
        ));
        assert!(!any_scope_granted(&req(&["accounts"]), &set(&[])));
        // Exact match: no prefix or case folding.
        assert!(!any_scope_granted(
            &req(&["EventPolling", "event"]),
            &granted
        ));
    }

    #[test]
    fn no_required_scope_means_none_needed() {
        assert!(any_scope_granted(&[], &set(&[])));
    }
}
