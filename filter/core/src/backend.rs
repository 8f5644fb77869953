//! The storage backend's wire contract (WSO2's event-notification back end, and `ob-event-store`, which speaks
//! the same): what the filter sends, and how failures of the call are classified.
//!
//! | operation | call |
//! |---|---|
//! | poll | `POST {base}/events`, `content-type: application/x-www-form-urlencoded`, body `request=<base64(JSON)>` |
//! | create subscription | `POST {base}/subscription`, JSON |
//! | list subscriptions | `GET {base}/subscription` |
//! | update subscription | `PUT {base}/subscription/{id}`, JSON |
//! | delete subscription | `DELETE {base}/subscription/{id}` |
//!
//! Every call carries `x-wso2-client-id` (the consumer key of the **verified** token — never anything the
//! TPP sent), `x-fapi-interaction-id`, `accept: application/json` and `authorization: Basic …` from
//! [`BackendCredentials`]. The adapter adds `:authority`, the cluster and the timeout.
//!
//! The `request` form field is the **standard** base64 alphabet (WSO2 decodes with
//! `java.util.Base64.getDecoder()`), percent-encoded so that `+`, `/` and `=` survive form decoding (a raw
//! `+` would become a space, which WSO2 then strips).
//!
//! Failures common to every operation ([`classify_failure`], [`refusal_for_status`]) never show backend
//! details to the TPP; [`log_detail`] renders a bounded, printable summary of the backend's answer for the
//! adapter's log.

use crate::errors::{ErrorKind, Refusal};
use crate::interaction::{self, InteractionId};
use base64ct::{Base64, Encoding};
use std::fmt;

/// Header naming the TPP (OAuth client id) to the backend.
pub const CLIENT_ID_HEADER: &str = "x-wso2-client-id";

/// Basic credentials of the backend (WSO2: an admin user with `/permission/admin`).
#[derive(Clone, PartialEq, Eq)]
pub struct BackendCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for BackendCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl BackendCredentials {
    /// The `authorization` header value: `Basic base64(username:password)`.
    pub fn authorization(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", Base64::encode_string(pair.as_bytes()))
    }
}

/// One HTTP call to the backend, ready for `dispatch_http_call` (the adapter adds `:authority`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCall {
    pub method: String,
    /// The `:path`: the backend base path plus the operation's path.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl BackendCall {
    /// The value of a header of this call, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What every call needs besides its own data.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// Backend base path, e.g. `/api/fs/event-notifications` (a trailing `/` is ignored).
    pub base_path: &'a str,
    /// The consumer key of the verified access token.
    pub client_id: &'a str,
    pub interaction_id: &'a InteractionId,
    pub credentials: &'a BackendCredentials,
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// `POST {base}/events` with `request=<base64(json)>`; `json` is [`crate::polling::PollRequest::backend_json`].
pub fn poll_call(ctx: &CallContext<'_>, json: &serde_json::Value) -> Result<BackendCall, Refusal> {
    let mut call = call(ctx, "POST", "/events", FORM)?;
    call.body = Some(form_request_body(json));
    Ok(call)
}

/// `POST {base}/subscription` with the subscription JSON.
pub fn create_subscription_call(
    ctx: &CallContext<'_>,
    json: &serde_json::Value,
) -> Result<BackendCall, Refusal> {
    let mut call = call(ctx, "POST", "/subscription", JSON)?;
    call.body = Some(json.to_string().into_bytes());
    Ok(call)
}

/// `GET {base}/subscription`: the client's subscriptions.
pub fn list_subscriptions_call(ctx: &CallContext<'_>) -> Result<BackendCall, Refusal> {
    call(ctx, "GET", "/subscription", JSON)
}

/// `PUT {base}/subscription/{id}` with the subscription JSON.
pub fn update_subscription_call(
    ctx: &CallContext<'_>,
    subscription_id: &str,
    json: &serde_json::Value,
) -> Result<BackendCall, Refusal> {
    let path = format!("/subscription/{}", percent_encode_segment(subscription_id));
    let mut call = call(ctx, "PUT", &path, JSON)?;
    call.body = Some(json.to_string().into_bytes());
    Ok(call)
}

/// `DELETE {base}/subscription/{id}`.
pub fn delete_subscription_call(
    ctx: &CallContext<'_>,
    subscription_id: &str,
) -> Result<BackendCall, Refusal> {
    let path = format!("/subscription/{}", percent_encode_segment(subscription_id));
    call(ctx, "DELETE", &path, JSON)
}

fn call(
    ctx: &CallContext<'_>,
    method: &str,
    operation_path: &str,
    content_type: &str,
) -> Result<BackendCall, Refusal> {
    check_client_id(ctx.client_id)?;
    let base = ctx.base_path.strip_suffix('/').unwrap_or(ctx.base_path);
    Ok(BackendCall {
        method: method.to_string(),
        path: format!("{base}{operation_path}"),
        // `content-type` is sent on every call, bodiless ones included: WSO2 declares `@Consumes(JSON)` on
        // read and delete, and a header without a body is harmless elsewhere.
        headers: vec![
            ("content-type".to_string(), content_type.to_string()),
            ("accept".to_string(), JSON.to_string()),
            (CLIENT_ID_HEADER.to_string(), ctx.client_id.to_string()),
            (
                interaction::HEADER.to_string(),
                ctx.interaction_id.to_string(),
            ),
            ("authorization".to_string(), ctx.credentials.authorization()),
        ],
        body: None,
    })
}

/// The client id goes into a header verbatim: it must be visible ASCII (no space, no control character).
/// Changing it would name another client, so an unusable one refuses the request instead.
fn check_client_id(client_id: &str) -> Result<(), Refusal> {
    if !client_id.is_empty()
        && client_id.len() <= 255
        && client_id.bytes().all(|c| c.is_ascii_graphic())
    {
        Ok(())
    } else {
        Err(Refusal::new(
            ErrorKind::TokenInvalid,
            "The access token's client id cannot be used",
        )
        .because("token_invalid.client_id_unusable"))
    }
}

/// The form body `request=<standard base64 of the JSON, percent-encoded>`.
pub fn form_request_body(json: &serde_json::Value) -> Vec<u8> {
    let encoded = Base64::encode_string(json.to_string().as_bytes());
    let mut body = String::with_capacity(encoded.len() + 16);
    body.push_str("request=");
    for c in encoded.chars() {
        match c {
            '+' => body.push_str("%2B"),
            '/' => body.push_str("%2F"),
            '=' => body.push_str("%3D"),
            other => body.push(other),
        }
    }
    body.into_bytes()
}

/// Percent-encode one path segment: everything but RFC 3986 unreserved characters.
pub fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Envoy's synthetic answers to a failed callout, and 5xx from the backend itself: 504 (timeout) →
/// [`ErrorKind::BackendTimeout`]; 503 (connection refused, no healthy host, overflow), any other 5xx and
/// 0 (no status at all) → [`ErrorKind::BackendUnavailable`]. `None` for any other status.
pub fn classify_failure(status: u16) -> Option<Refusal> {
    match status {
        504 => Some(
            Refusal::new(
                ErrorKind::BackendTimeout,
                "The event store did not answer in time",
            )
            .because("backend_timeout"),
        ),
        0 | 500..=599 => Some(
            Refusal::new(
                ErrorKind::BackendUnavailable,
                "The event store is unavailable",
            )
            .because("backend_unavailable"),
        ),
        _ => None,
    }
}

/// The backend answered something the filter cannot use (502). `reason` is the stat suffix.
pub fn bad_answer(reason: &'static str) -> Refusal {
    Refusal::new(
        ErrorKind::BackendBadAnswer,
        "The event store gave an unexpected answer",
    )
    .because(reason)
}

/// A WSO2 error body `{"error": "...", "error_description": "..."}`, when the body is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    pub error: String,
    pub description: String,
}

/// Read a WSO2 error body; `None` when the body is not one.
pub fn parse_error_body(body: &[u8]) -> Option<BackendError> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let error = object.get("error")?.as_str()?.to_string();
    let description = object
        .get("error_description")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .to_string();
    Some(BackendError { error, description })
}

/// The refusal for a backend status that no operation-specific rule handled:
///
/// | backend status | refusal |
/// |---|---|
/// | 400 `invalid_request` / `invalid_request_payload` | 400 `UK.OBIE.Field.Invalid`, message = the backend's description (sanitised) |
/// | 400 naming the client id, or `missing_request_*` / `invalid_request_header` | 502 (our request was wrong, not the TPP's) |
/// | 400 without a WSO2 error body | 502 |
/// | 401, 403 (our Basic credentials) | 502 |
/// | 413 | 400 `UK.OBIE.Resource.InvalidFormat` (the body is larger than the backend takes) |
/// | 415 | 502 |
/// | 429 | 503 |
/// | 5xx, 0 | [`classify_failure`] |
/// | anything else | 502 |
pub fn refusal_for_status(status: u16, body: &[u8]) -> Refusal {
    if let Some(refusal) = classify_failure(status) {
        return refusal;
    }
    match status {
        400 => match parse_error_body(body) {
            Some(e) if mentions_client(&e) => bad_answer("backend_bad_answer.client_unknown"),
            Some(e) if e.error == "invalid_request" || e.error == "invalid_request_payload" => {
                let detail = sanitize(&e.description, 200);
                let message = if detail.is_empty() {
                    "The request was refused by the event store".to_string()
                } else {
                    format!("The request was refused: {detail}")
                };
                Refusal::new(ErrorKind::FieldInvalid, message).because("field_invalid.backend")
            }
            Some(_) => bad_answer("backend_bad_answer.request_refused"),
            None => bad_answer("backend_bad_answer.unparsable"),
        },
        401 | 403 => bad_answer("backend_bad_answer.credentials_refused"),
        413 => Refusal::new(
            ErrorKind::InvalidFormat,
            "The request body is larger than the event store accepts",
        )
        .because("invalid_format.backend_too_large"),
        415 => bad_answer("backend_bad_answer.media_type_refused"),
        429 => Refusal::new(ErrorKind::BackendUnavailable, "The event store is busy")
            .because("backend_unavailable.throttled"),
        _ => bad_answer("backend_bad_answer.status"),
    }
}

/// WSO2's 400s about `x-wso2-client-id` ("Invalid mandatory parameter x-wso2-client-id.", "A client was not
/// found for the client id …") mean the backend does not know the verified client: a deployment mismatch
/// the TPP cannot fix, and nothing to echo.
fn mentions_client(e: &BackendError) -> bool {
    let d = e.description.to_ascii_lowercase();
    d.contains("x-wso2-client-id") || d.contains("client id") || d.contains("client_id")
}

/// Printable ASCII only, whitespace collapsed, at most `max` characters.
fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in text.chars() {
        if out.chars().count() >= max {
            break;
        }
        if c.is_ascii_whitespace() {
            space = !out.is_empty();
        } else if c.is_ascii_graphic() {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A one-line, bounded, printable summary of a backend answer for the adapter's log (never sent to the TPP):
/// `backend answered 401: {"error":"unauthorized",…}`.
pub fn log_detail(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body.get(..body.len().min(600)).unwrap_or_default());
    let summary = sanitize(&text, 300);
    if summary.is_empty() {
        format!("backend answered {status} without a body")
    } else {
        format!("backend answered {status}: {summary}")
    }
}

/// Test helper shared by the polling and subscription tests: a small checker for the subset of JSON Schema
/// the OB v3.1.2 OpenAPI files use, stricter than the schemas in one way: an object that lists `properties`
/// and has no `additionalProperties` schema may not carry other members (what this gateway produces must
/// not have extras).
///
/// Also used by the end-to-end tests (feature `openapi-check`).
#[cfg(any(test, feature = "openapi-check"))]
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::panic, clippy::indexing_slicing)]
pub mod openapi_check {
    use serde_json::Value;

    /// Load an OB v3.1.2 OpenAPI file (verbatim copies in `tests/fixtures/obie-v3.1.2/`); fail loudly when
    /// it is absent.
    pub fn load(file: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/obie-v3.1.2/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("the OB v3.1.2 OpenAPI file {path} is required by this test and could not be read: {e}")
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
    }

    /// Check `value` against `#/components/schemas/{name}` of `doc`; the list of problems (empty = valid).
    pub fn check(doc: &Value, name: &str, value: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let schema = doc["components"]["schemas"][name].clone();
        assert!(schema.is_object(), "schema {name} not found");
        walk(doc, &schema, value, "$", &mut problems);
        problems
    }

    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                let target = &doc["components"]["schemas"][name];
                assert!(target.is_object(), "unresolved $ref {r}");
                resolve(doc, target)
            }
            None => schema,
        }
    }

    fn walk(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
        let schema = resolve(doc, schema);
        let ty = schema.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("boolean") => value.is_boolean(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            _ => true,
        };
        if !type_ok {
            out.push(format!("{at}: expected {ty:?}, got {value}"));
            return;
        }
        if let Some(s) = value.as_str() {
            let n = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if n < min {
                    out.push(format!("{at}: shorter than {min}"));
                }
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if n > max {
                    out.push(format!("{at}: longer than {max}"));
                }
            }
            if schema.get("format").and_then(Value::as_str) == Some("uri")
                && !(s.starts_with("https://") || s.starts_with("http://"))
            {
                out.push(format!("{at}: not an absolute URI"));
            }
        }
        if let Some(items) = value.as_array() {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    out.push(format!("{at}: fewer than {min} items"));
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(doc, item_schema, item, &format!("{at}[{i}]"), out);
                }
            }
        }
        if let Some(object) = value.as_object() {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(r) {
                        out.push(format!("{at}: required member {r} missing"));
                    }
                }
            }
            let additional = schema.get("additionalProperties");
            for (k, v) in object {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => walk(doc, s, v, &format!("{at}.{k}"), out),
                    None => match additional {
                        Some(Value::Bool(false)) => out.push(format!(
                            "{at}: member {k} not allowed (additionalProperties:false)"
                        )),
                        Some(s @ Value::Object(_)) => walk(doc, s, v, &format!("{at}.{k}"), out),
                        _ if props.is_some_and(|p| !p.is_empty()) => {
                            out.push(format!("{at}: member {k} not defined by the schema"))
                        }
                        _ => {}
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn creds() -> BackendCredentials {
        BackendCredentials {
            username: "admin".into(),
            password: "s3cr:et".into(),
        }
    }

    fn iid() -> InteractionId {
        InteractionId::new_v4([9; 16])
    }

    /// Decode `application/x-www-form-urlencoded` the way a servlet container does.
    fn form_decode(body: &[u8]) -> Vec<(String, String)> {
        fn decode(s: &str) -> String {
            let bytes = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'+' => out.push(b' '),
                    b'%' => {
                        let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                        out.push(u8::from_str_radix(hex, 16).unwrap());
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            String::from_utf8(out).unwrap()
        }
        std::str::from_utf8(body)
            .unwrap()
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (decode(k), decode(v))
            })
            .collect()
    }

    fn with_ctx<T>(client_id: &str, f: impl FnOnce(&CallContext<'_>) -> T) -> T {
        let creds = creds();
        let id = iid();
        let ctx = CallContext {
            base_path: "/api/fs/event-notifications/",
            client_id,
            interaction_id: &id,
            credentials: &creds,
        };
        f(&ctx)
    }

    #[test]
    fn poll_call_is_a_form_with_base64_json_that_round_trips() {
        // Chosen so that the base64 has '+', '/' and '=' in it.
        let json =
            json!({"ack": [">>>???", "~~~\u{00ff}"], "maxEvents": 3, "returnImmediately": true});
        let call = with_ctx("client-1", |ctx| poll_call(ctx, &json)).unwrap();
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, "/api/fs/event-notifications/events");
        assert_eq!(
            call.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let body = call.body.clone().unwrap();
        let raw = Base64::encode_string(json.to_string().as_bytes());
        assert!(
            raw.contains('+') && raw.contains('/') && raw.contains('='),
            "{raw}"
        );
        let fields = form_decode(&body);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].0, "request");
        let decoded = Base64::decode_vec(&fields[0].1).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(back, json);
    }

    #[test]
    fn every_call_names_the_verified_client_and_the_interaction() {
        let json = json!({"version": "3.1"});
        let calls = with_ctx("client-1", |ctx| {
            vec![
                poll_call(ctx, &json).unwrap(),
                create_subscription_call(ctx, &json).unwrap(),
                list_subscriptions_call(ctx).unwrap(),
                update_subscription_call(ctx, "s-1", &json).unwrap(),
                delete_subscription_call(ctx, "s-1").unwrap(),
            ]
        });
        for call in &calls {
            assert_eq!(call.header("x-wso2-client-id"), Some("client-1"));
            assert_eq!(call.header("x-fapi-interaction-id"), Some(iid().as_str()));
            assert_eq!(call.header("accept"), Some("application/json"));
            let auth = call.header("authorization").unwrap();
            let decoded = Base64::decode_vec(auth.strip_prefix("Basic ").unwrap()).unwrap();
            assert_eq!(decoded, b"admin:s3cr:et");
        }
    }

    #[test]
    fn subscription_calls_have_the_wire_paths_and_json_bodies() {
        let json = json!({"version": "3.1", "eventTypes": []});
        with_ctx("c", |ctx| {
            let create = create_subscription_call(ctx, &json).unwrap();
            assert_eq!(
                (create.method.as_str(), create.path.as_str()),
                ("POST", "/api/fs/event-notifications/subscription")
            );
            assert_eq!(create.header("content-type"), Some("application/json"));
            let body: serde_json::Value =
                serde_json::from_slice(create.body.as_deref().unwrap()).unwrap();
            assert_eq!(body, json);
            let list = list_subscriptions_call(ctx).unwrap();
            assert_eq!(
                (
                    list.method.as_str(),
                    list.path.as_str(),
                    list.body.is_none()
                ),
                ("GET", "/api/fs/event-notifications/subscription", true)
            );
            let put = update_subscription_call(ctx, "a b/c", &json).unwrap();
            assert_eq!(put.method, "PUT");
            assert_eq!(
                put.path,
                "/api/fs/event-notifications/subscription/a%20b%2Fc"
            );
            let del = delete_subscription_call(ctx, "s-1").unwrap();
            assert_eq!(
                (del.method.as_str(), del.path.as_str(), del.body.is_none()),
                (
                    "DELETE",
                    "/api/fs/event-notifications/subscription/s-1",
                    true
                )
            );
        });
    }

    #[test]
    fn an_unusable_client_id_is_refused_not_altered() {
        for bad in ["", "a b", "a\r\nx-evil: 1", "é"] {
            let r = with_ctx(bad, list_subscriptions_call).unwrap_err();
            assert_eq!(r.kind, ErrorKind::TokenInvalid, "{bad:?}");
        }
    }

    #[test]
    fn credentials_do_not_show_in_debug() {
        assert!(!format!("{:?}", creds()).contains("s3cr"));
    }

    #[test]
    fn envoy_synthetic_failures_are_classified() {
        assert_eq!(
            classify_failure(503).unwrap().kind,
            ErrorKind::BackendUnavailable
        );
        assert_eq!(
            classify_failure(504).unwrap().kind,
            ErrorKind::BackendTimeout
        );
        assert_eq!(
            classify_failure(500).unwrap().kind,
            ErrorKind::BackendUnavailable
        );
        assert_eq!(
            classify_failure(0).unwrap().kind,
            ErrorKind::BackendUnavailable
        );
        assert_eq!(classify_failure(200), None);
        assert_eq!(classify_failure(404), None);
        assert_eq!(classify_failure(504).unwrap().spec().status, 504);
    }

    #[test]
    fn backend_credential_errors_are_502_without_details() {
        for status in [401, 403] {
            let body = br#"{"error":"unauthorized","error_description":"Missing or invalid Basic credentials"}"#;
            let r = refusal_for_status(status, body);
            assert_eq!(r.kind, ErrorKind::BackendBadAnswer);
            assert_eq!(r.spec().status, 502);
            assert!(!r.message.contains("Basic"));
            assert!(log_detail(status, body).contains("Basic credentials"));
        }
    }

    #[test]
    fn backend_400_is_field_invalid_with_the_description() {
        let r = refusal_for_status(
            400,
            br#"{"error":"invalid_request","error_description":"version must be\n 1 to 10 characters"}"#,
        );
        assert_eq!(r.kind, ErrorKind::FieldInvalid);
        assert_eq!(r.spec().ob_code, Some("UK.OBIE.Field.Invalid"));
        assert_eq!(
            r.message,
            "The request was refused: version must be 1 to 10 characters"
        );
    }

    #[test]
    fn backend_400_about_headers_or_the_client_is_502() {
        for body in [
            r#"{"error":"missing_request_header","error_description":"Missing header x-wso2-client-id"}"#,
            r#"{"error":"invalid_request","error_description":"Invalid mandatory parameter x-wso2-client-id."}"#,
            r#"{"error":"invalid_request","error_description":"A client was not found for the client id : 'x' in the database. "}"#,
            "not json",
        ] {
            let r = refusal_for_status(400, body.as_bytes());
            assert_eq!(r.kind, ErrorKind::BackendBadAnswer, "{body}");
        }
    }

    #[test]
    fn other_backend_statuses_map() {
        assert_eq!(refusal_for_status(413, b"").kind, ErrorKind::InvalidFormat);
        assert_eq!(
            refusal_for_status(415, b"").kind,
            ErrorKind::BackendBadAnswer
        );
        assert_eq!(
            refusal_for_status(429, b"").kind,
            ErrorKind::BackendUnavailable
        );
        assert_eq!(
            refusal_for_status(302, b"").kind,
            ErrorKind::BackendBadAnswer
        );
        assert_eq!(refusal_for_status(504, b"").kind, ErrorKind::BackendTimeout);
    }

    #[test]
    fn log_detail_is_bounded_and_printable() {
        let body = format!("{}\r\n\u{0}", "x".repeat(5000));
        let line = log_detail(500, body.as_bytes());
        assert!(line.len() < 400);
        assert!(!line.contains('\n') && !line.contains('\u{0}'));
        assert_eq!(log_detail(503, b""), "backend answered 503 without a body");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_openapi_checker_catches_what_it_must() {
        use super::openapi_check::{check, load};
        let doc = load("event-subscriptions-openapi.json");
        let good = json!({"Data": {"EventSubscriptionId": "a", "Version": "3.1"},
                          "Links": {"Self": "https://x/y"}, "Meta": {}});
        assert!(check(&doc, "OBEventSubscriptionResponse1", &good).is_empty());
        for bad in [
            json!({"Data": {"Version": "3.1"}, "Links": {"Self": "https://x/y"}, "Meta": {}}),
            json!({"Data": {"EventSubscriptionId": "a", "Version": "3.1"}, "Links": {"Self": "https://x/y", "X": "y"}, "Meta": {}}),
            json!({"Data": {"EventSubscriptionId": "a", "Version": "12345678901"}}),
            json!({"Data": {"EventSubscriptionId": "a", "Version": "3.1", "Extra": 1}}),
            json!({"Data": {"EventSubscriptionId": "a", "Version": "3.1"}, "Links": {}}),
        ] {
            assert!(
                !check(&doc, "OBEventSubscriptionResponse1", &bad).is_empty(),
                "{bad}"
            );
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(percent_encode_segment("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(percent_encode_segment("a/b?c#d%"), "a%2Fb%3Fc%23d%25");
    }
}
