//! Two floors for `make bench`, built on `ob-proxy-abi` exactly as ob-event-filter is (same exports, so
//! Envoy crosses into the module for the same callbacks), with none of its logic:
//!
//! - plugin configuration `{}`: **f**, a filter that lets every request continue and makes no hostcall;
//! - `{"essential": true}`: **e**, a filter that makes only the hostcalls any filter must make that
//!   checks a bearer token itself and forwards a verified identity under the Event Notification API:
//!   it reads the request headers (the token and the TPP's `x-fapi-interaction-id`, in one call),
//!   writes one request header (the identity) and writes the interaction id on the answer. It decides
//!   nothing: every request continues.
//!
//! `e` is the ceiling: whatever ob-event-filter's logic costs comes on top, so where `e` is slower than
//! native `jwt_authn` + `rbac`, no filter of this kind on this Envoy can be faster.

use ob_proxy_abi::{host, Action, BufferType, HttpContext, MapType, RootContext};

ob_proxy_abi::main!(|_context_id| Box::new(Root::default()));

#[derive(Default)]
struct Root {
    essential: bool,
}

impl RootContext for Root {
    fn on_configure(&mut self, configuration_size: usize) -> bool {
        let config = host::buffer(BufferType::PluginConfiguration, 0, configuration_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        self.essential = is_essential(&config);
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Box<dyn HttpContext> {
        Box::new(Request {
            essential: self.essential,
            interaction_id: None,
        })
    }
}

/// `{"essential": true}` (ob-bench writes the configuration; no JSON parser is linked, to keep the
/// module's own code out of the measurement).
fn is_essential(config: &[u8]) -> bool {
    let text = String::from_utf8_lossy(config);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("\"essential\":true")
}

struct Request {
    essential: bool,
    interaction_id: Option<String>,
}

impl HttpContext for Request {
    fn on_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        if self.essential {
            if let Ok(headers) = host::header_pairs(MapType::HttpRequestHeaders) {
                // A real filter verifies the token here; the floor only reads it.
                let _token = headers.get("authorization");
                self.interaction_id = headers.get_str("x-fapi-interaction-id").map(str::to_string);
            }
            let _ = host::add_header(MapType::HttpRequestHeaders, "x-wso2-client-id", "bench");
        }
        Action::Continue
    }

    fn on_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        if let Some(id) = &self.interaction_id {
            let _ = host::replace_header(MapType::HttpResponseHeaders, "x-fapi-interaction-id", id);
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::is_essential;

    #[test]
    fn only_an_explicit_essential_true_makes_the_hostcalls() {
        assert!(is_essential(br#"{"essential": true}"#));
        assert!(is_essential(b"{ \"essential\" :\n true }"));
        assert!(!is_essential(b"{}"));
        assert!(!is_essential(br#"{"essential": false}"#));
        assert!(!is_essential(&[0xff, 0xfe]));
    }
}
