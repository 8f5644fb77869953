//! The hostcalls the filter uses, wrapped so that a failing call is a value, never a panic (the SDK's
//! context-trait defaults unwrap; a panic would kill the worker's VM).

use ob_event_core::backend::BackendCall;
use ob_event_core::LocalReply;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::Context;
use proxy_wasm::types::{BufferType, MapType, Status};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The request headers, read in one hostcall (cheaper than one call per header).
pub struct RequestHeaders(Vec<(String, String)>);

impl RequestHeaders {
    pub fn read() -> Self {
        RequestHeaders(hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(n, _)| n == name).count()
    }

    /// The first value of `name` (lower case, as Envoy keeps them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A property of the stream or connection as text (e.g. `connection.sha256_peer_certificate_digest`).
pub fn property(path: &[&str]) -> Option<String> {
    hostcalls::get_property(path.to_vec())
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|s| !s.is_empty())
}

/// Set a filter-state value (Envoy: `%FILTER_STATE(wasm.<name>:PLAIN)%` in the access log). Best effort.
pub fn set_state(name: &str, value: &str) {
    let _ = hostcalls::set_property(vec![name], Some(value.as_bytes()));
}

/// Set (replace) a request header; a failure is logged, the request then carries what it had.
pub fn set_request_header(name: &str, value: &str) {
    if hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)).is_err() {
        log::warn!("could not set the request header {name}");
    }
}

/// Add a request header the request does not carry yet (cheaper than a replacement in Envoy: no lookup).
pub fn add_request_header(name: &str, value: &str) {
    if hostcalls::add_map_value(MapType::HttpRequestHeaders, name, value).is_err() {
        log::warn!("could not add the request header {name}");
    }
}

/// Remove a request header (every value of it).
pub fn remove_request_header(name: &str) {
    if hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None).is_err() {
        log::warn!("could not remove the request header {name}");
    }
}

/// Set (replace) a response header.
pub fn set_response_header(name: &str, value: &str) {
    let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, name, Some(value));
}

/// `[start, start+size)` of the buffered request body.
pub fn request_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
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
    hostcalls::send_http_response(u32::from(reply.status), headers, reply.body.as_deref()).is_ok()
}

/// The answer of a callout: status (Envoy sets a synthetic 503/504 when the upstream could not be reached
/// in time; 0 when even that is missing) and body. An answer without headers (the call failed before any
/// response, e.g. a response larger than Envoy would buffer) is status 0 and is not read further: the
/// SDK's header reads panic on the status the host returns then.
pub fn call_answer(num_headers: usize, body_size: usize) -> (u16, Vec<u8>) {
    if num_headers == 0 {
        return (0, Vec::new());
    }
    let status = hostcalls::get_map(MapType::HttpCallResponseHeaders)
        .unwrap_or_default()
        .into_iter()
        .find(|(name, _)| name == ":status")
        .and_then(|(_, s)| s.parse::<u16>().ok())
        .unwrap_or(0);
    let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    (status, body)
}

/// The host's clock, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .unwrap_or_else(|_| SystemTime::now())
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Where the backend is and how long a call may take.
pub struct Upstream<'a> {
    pub cluster: &'a str,
    pub authority: &'a str,
    pub timeout_ms: u64,
}

/// Dispatch a backend call from `context` (its answer comes back to that context).
pub fn dispatch(
    context: &dyn Context,
    upstream: &Upstream<'_>,
    call: &BackendCall,
) -> Result<u32, Status> {
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", call.method.as_str()),
        (":path", call.path.as_str()),
        (":authority", upstream.authority),
        (":scheme", "http"),
    ];
    headers.extend(call.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    context.dispatch_http_call(
        upstream.cluster,
        headers,
        call.body.as_deref(),
        vec![],
        Duration::from_millis(upstream.timeout_ms),
    )
}
