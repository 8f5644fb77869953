//! Which event endpoint a request is for: method + path under the configured base path.
//!
//! | method | path                                          | endpoint                 |
//! |--------|-----------------------------------------------|--------------------------|
//! | POST   | `{base}/event-subscriptions`                  | create a subscription    |
//! | GET    | `{base}/event-subscriptions`                  | list subscriptions       |
//! | PUT    | `{base}/event-subscriptions/{EventSubscriptionId}` | update a subscription |
//! | DELETE | `{base}/event-subscriptions/{EventSubscriptionId}` | delete a subscription |
//! | POST   | `{base}/events`                               | aggregated polling       |
//!
//! Any other path is 404 and any other method on these paths 405 (with `Allow`), both without a body. The
//! query string is ignored; paths are compared exactly (no trailing slash, no empty segment).

use crate::errors::{ErrorKind, Refusal};

/// A recognised event endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    CreateSubscription,
    ListSubscriptions,
    UpdateSubscription { id: String },
    DeleteSubscription { id: String },
    PollEvents,
}

impl Endpoint {
    /// The OpenAPI path template, used in stats, logs and per-endpoint configuration.
    pub fn template(&self) -> &'static str {
        match self {
            Endpoint::CreateSubscription | Endpoint::ListSubscriptions => "/event-subscriptions",
            Endpoint::UpdateSubscription { .. } | Endpoint::DeleteSubscription { .. } => {
                "/event-subscriptions/{EventSubscriptionId}"
            }
            Endpoint::PollEvents => "/events",
        }
    }

    /// `"<METHOD> <template>"`: the key of per-endpoint configuration (`endpoint_scopes`).
    pub fn key(&self) -> &'static str {
        match self {
            Endpoint::CreateSubscription => "POST /event-subscriptions",
            Endpoint::ListSubscriptions => "GET /event-subscriptions",
            Endpoint::UpdateSubscription { .. } => "PUT /event-subscriptions/{EventSubscriptionId}",
            Endpoint::DeleteSubscription { .. } => {
                "DELETE /event-subscriptions/{EventSubscriptionId}"
            }
            Endpoint::PollEvents => "POST /events",
        }
    }

    /// The HTTP method of this endpoint.
    pub fn method(&self) -> &'static str {
        match self {
            Endpoint::CreateSubscription | Endpoint::PollEvents => "POST",
            Endpoint::ListSubscriptions => "GET",
            Endpoint::UpdateSubscription { .. } => "PUT",
            Endpoint::DeleteSubscription { .. } => "DELETE",
        }
    }
}

/// Match a request's `:method` and `:path` against the endpoints under `base_path`.
pub fn route(base_path: &str, method: &str, path: &str) -> Result<Endpoint, Refusal> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    // One or two segments after the base path, each non-empty (no allocation: this runs on every request).
    let Some(rest) = path
        .strip_prefix(base_path)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return Err(not_found());
    };
    match rest.split_once('/') {
        None if rest == "event-subscriptions" => match method {
            "POST" => Ok(Endpoint::CreateSubscription),
            "GET" => Ok(Endpoint::ListSubscriptions),
            _ => Err(not_allowed(method, "GET, POST")),
        },
        None if rest == "events" => match method {
            "POST" => Ok(Endpoint::PollEvents),
            _ => Err(not_allowed(method, "POST")),
        },
        Some(("event-subscriptions", id)) if !id.is_empty() && !id.contains('/') => match method {
            "PUT" => Ok(Endpoint::UpdateSubscription { id: id.to_string() }),
            "DELETE" => Ok(Endpoint::DeleteSubscription { id: id.to_string() }),
            _ => Err(not_allowed(method, "PUT, DELETE")),
        },
        _ => Err(not_found()),
    }
}

fn not_found() -> Refusal {
    Refusal::new(ErrorKind::NotFound, "No event endpoint at this path")
}

fn not_allowed(method: &str, allow: &str) -> Refusal {
    let method: String = method
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .take(16)
        .collect();
    Refusal::new(
        ErrorKind::MethodNotAllowed,
        format!("Method {method} is not allowed here"),
    )
    .with_header("allow", allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const BASE: &str = "/open-banking/v3.1";

    fn ok(method: &str, path: &str) -> Endpoint {
        route(BASE, method, path).unwrap()
    }

    fn refused(method: &str, path: &str) -> Refusal {
        route(BASE, method, path).unwrap_err()
    }

    #[test]
    fn the_five_endpoints_are_recognised() {
        let subs = "/open-banking/v3.1/event-subscriptions";
        assert_eq!(ok("POST", subs), Endpoint::CreateSubscription);
        assert_eq!(ok("GET", subs), Endpoint::ListSubscriptions);
        assert_eq!(
            ok("PUT", &format!("{subs}/sub-1")),
            Endpoint::UpdateSubscription { id: "sub-1".into() }
        );
        assert_eq!(
            ok("DELETE", &format!("{subs}/sub-1")),
            Endpoint::DeleteSubscription { id: "sub-1".into() }
        );
        assert_eq!(
            ok("POST", "/open-banking/v3.1/events"),
            Endpoint::PollEvents
        );
    }

    #[test]
    fn keys_are_method_and_template() {
        for endpoint in [
            Endpoint::CreateSubscription,
            Endpoint::ListSubscriptions,
            Endpoint::UpdateSubscription { id: "x".into() },
            Endpoint::DeleteSubscription { id: "x".into() },
            Endpoint::PollEvents,
        ] {
            assert_eq!(
                endpoint.key(),
                format!("{} {}", endpoint.method(), endpoint.template())
            );
        }
    }

    #[test]
    fn the_query_string_is_ignored() {
        assert_eq!(
            ok("POST", "/open-banking/v3.1/events?x=1"),
            Endpoint::PollEvents
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/",
            "/open-banking/v3.1",
            "/open-banking/v3.1/",
            "/open-banking/v3.1/event",
            "/open-banking/v3.1/events/",
            "/open-banking/v3.1/events/x",
            "/open-banking/v3.1/event-subscriptions/",
            "/open-banking/v3.1/event-subscriptions/a/b",
            "/open-banking/v3.1/event-subscriptions//",
            "/open-banking/v3.1/callback-urls",
            "/open-banking/v3.1x/events",
            "/open-banking/v3.2/events",
            "/other/open-banking/v3.1/events",
            "",
        ] {
            assert_eq!(refused("POST", path).kind, ErrorKind::NotFound, "{path:?}");
        }
    }

    #[test]
    fn wrong_methods_are_405_with_allow() {
        let r = refused("DELETE", "/open-banking/v3.1/event-subscriptions");
        assert_eq!(r.kind, ErrorKind::MethodNotAllowed);
        assert_eq!(r.headers, vec![("allow".into(), "GET, POST".into())]);
        let r = refused("GET", "/open-banking/v3.1/event-subscriptions/abc");
        assert_eq!(r.headers, vec![("allow".into(), "PUT, DELETE".into())]);
        let r = refused("GET", "/open-banking/v3.1/events");
        assert_eq!(r.headers, vec![("allow".into(), "POST".into())]);
        assert_eq!(
            refused("post", "/open-banking/v3.1/events").kind,
            ErrorKind::MethodNotAllowed
        );
    }

    #[test]
    fn a_hostile_method_is_not_echoed() {
        let r = refused("GET\r\nX: y", "/open-banking/v3.1/events");
        assert!(!r.message.contains('\n'));
    }

    #[test]
    fn an_empty_base_path_serves_from_the_root() {
        assert_eq!(route("", "POST", "/events").unwrap(), Endpoint::PollEvents);
    }
}
