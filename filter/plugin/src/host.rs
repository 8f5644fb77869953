//! The host functions the filter uses, over `ob-proxy-abi`: a failing call is a value (logged where it
//! matters), never a panic.

use ob_event_core::backend::BackendCall;
use ob_event_core::LocalReply;
use ob_proxy_abi::host;
use ob_proxy_abi::pairs::Pairs;
use ob_proxy_abi::{BufferType, MapType, Status};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a header value that is not UTF-8 reads as: present, but matching nothing the filter accepts (an
/// `Accept` or `Content-Type` of it is refused, an `Authorization` of it is not a bearer token).
const NOT_TEXT: &str = "\u{FFFD}";

/// The request headers, read in one hostcall (each returned buffer costs the host a call into the module)
/// and looked up in place.
pub struct RequestHeaders(Pairs);

impl RequestHeaders {
    pub fn read() -> Self {
        RequestHeaders(host::header_pairs(MapType::HttpRequestHeaders).unwrap_or_default())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.0.count(name)
    }

    /// The first value of `name` (lower case, as Envoy keeps them); a value that is not UTF-8 reads as
    /// U+FFFD.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|value| std::str::from_utf8(value).unwrap_or(NOT_TEXT))
    }
}

/// A property of the stream or connection as text (e.g. `connection.sha256_peer_certificate_digest`).
pub fn property(path: &[&str]) -> Option<String> {
    host::property(path)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|s| !s.is_empty())
}

/// Set a filter-state value (Envoy: `%FILTER_STATE(wasm.<name>:PLAIN)%` in the access log). Best effort.
pub fn set_state(name: &str, value: &str) {
    let _ = host::set_property(&[name], value.as_bytes());
}

/// Set (replace) a request header; a failure is logged, the request then carries what it had.
pub fn set_request_header(name: &str, value: &str) {
    if host::replace_header(MapType::HttpRequestHeaders, name, value).is_err() {
        log::warn!("could not set the request header {name}");
    }
}

/// Add a request header the request does not carry yet (cheaper than a replacement in Envoy: no lookup).
pub fn add_request_header(name: &str, value: &str) {
    if host::add_header(MapType::HttpRequestHeaders, name, value).is_err() {
        log::warn!("could not add the request header {name}");
    }
}

/// Remove a request header (every value of it).
pub fn remove_request_header(name: &str) {
    if host::remove_header(MapType::HttpRequestHeaders, name).is_err() {
        log::warn!("could not remove the request header {name}");
    }
}

/// Set (replace) a response header.
pub fn set_response_header(name: &str, value: &str) {
    let _ = host::replace_header(MapType::HttpResponseHeaders, name, value);
}

/// `[start, start+size)` of the buffered request body.
pub fn request_body(size: usize) -> Vec<u8> {
    host::buffer(BufferType::HttpRequestBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The plugin configuration (`size` bytes, as `on_configure` was told).
pub fn plugin_configuration(size: usize) -> Vec<u8> {
    host::buffer(BufferType::PluginConfiguration, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Send a local reply to the stream of the effective context. `false` when the stream is gone.
pub fn send(reply: &LocalReply) -> bool {
    let headers: Vec<(&str, &str)> = reply
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    host::send_local_response(
        u32::from(reply.status),
        "ob_event_filter",
        &headers,
        reply.body.as_deref(),
    )
    .is_ok()
}

/// Answer another context's request (a root context answering a parked long poll). `false` when that
/// stream is gone.
pub fn send_to(context_id: u32, reply: &LocalReply) -> bool {
    host::set_effective_context(context_id).is_ok() && send(reply)
}

/// The answer of a callout: status (Envoy sets a synthetic 503/504 when the upstream could not be reached
/// in time; 0 when even that is missing) and body. An answer without headers (the call failed before any
/// response, e.g. a response larger than Envoy would buffer) is status 0.
pub fn call_answer(num_headers: usize, body_size: usize) -> (u16, Vec<u8>) {
    if num_headers == 0 {
        return (0, Vec::new());
    }
    let status = host::header_pairs(MapType::HttpCallResponseHeaders)
        .ok()
        .and_then(|headers| {
            headers
                .get(":status")
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse::<u16>().ok())
        })
        .unwrap_or(0);
    let body = host::buffer(BufferType::HttpCallResponseBody, 0, body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    (status, body)
}

/// The host's clock, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    match host::current_time_ns() {
        Ok(ns) => ns / 1_000_000,
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
    }
}

/// Where the backend is and how long a call may take.
pub struct Upstream<'a> {
    pub cluster: &'a str,
    pub authority: &'a str,
    pub timeout_ms: u64,
}

/// Dispatch a backend call from the effective context (its answer comes back to that context).
pub fn dispatch(upstream: &Upstream<'_>, call: &BackendCall) -> Result<u32, Status> {
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", call.method.as_str()),
        (":path", call.path.as_str()),
        (":authority", upstream.authority),
        (":scheme", "http"),
    ];
    headers.extend(call.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    host::http_call(
        upstream.cluster,
        &headers,
        call.body.as_deref(),
        timeout(upstream.timeout_ms),
    )
}

/// A callout to `cluster` with these headers (GET, no body).
pub fn get(cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Result<u32, Status> {
    host::http_call(cluster, headers, None, timeout(timeout_ms))
}

fn timeout(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// A value shared by the workers, with its compare-and-swap token.
pub fn shared(key: &str) -> (Option<Vec<u8>>, Option<u32>) {
    host::shared_data(key).unwrap_or((None, None))
}

/// Set a shared value (only if unchanged since `cas`, when given).
pub fn set_shared(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    host::set_shared_data(key, Some(value), cas)
}

/// Call the root context's `on_tick` every `period_ms`.
pub fn set_tick_ms(period_ms: u32) {
    if let Err(status) = host::set_tick_period_ms(period_ms) {
        log::error!("could not set the tick period: {status:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ob_event_core::token::bearer_token;

    fn headers(pairs: &[(&str, &[u8])]) -> RequestHeaders {
        RequestHeaders(Pairs::new(ob_proxy_abi::pairs::encode(pairs)))
    }

    #[test]
    fn a_value_that_is_not_utf8_is_present_but_matches_nothing() {
        let h = headers(&[
            ("authorization", b"Bearer \xff\xfe"),
            ("accept", b"application/json"),
            ("x-fapi-interaction-id", b"\xe9"),
            ("x-fapi-interaction-id", b"second"),
        ]);
        let authorization = h.get("authorization");
        assert_eq!(authorization, Some(NOT_TEXT));
        assert!(bearer_token(authorization).is_err(), "not a bearer token");
        assert_eq!(h.get("accept"), Some("application/json"));
        assert_eq!(h.get("x-fapi-interaction-id"), Some(NOT_TEXT));
        assert_eq!(h.count("x-fapi-interaction-id"), 2);
        assert_eq!(h.get("absent"), None);
    }
}
