//! The one error type of the HTTP API and its wire shape.
//!
//! Every refusal is an [`ApiError`]: an HTTP status plus WSO2's `{"error": "...", "error_description": "..."}`
//! body (the shape of `EventNotificationServiceUtil.getErrorDTO` in WSO2's event-notification endpoint), so
//! a caller written for WSO2's back end reads our errors unchanged.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// WSO2's error codes (`EventNotificationConstants`), plus `unauthorized` for bad Basic credentials and
/// `server_error` for failures of the store itself.
pub mod code {
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const MISSING_REQUEST_HEADER: &str = "missing_request_header";
    pub const MISSING_REQUEST_PAYLOAD: &str = "missing_request_payload";
    pub const INVALID_REQUEST_PAYLOAD: &str = "invalid_request_payload";
    pub const INVALID_REQUEST_HEADER: &str = "invalid_request_header";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const SERVER_ERROR: &str = "server_error";
}

/// A refusal or failure, as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }

    /// 400 `missing_request_header` — WSO2's text is `Missing header <name>`.
    pub fn missing_header(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::MISSING_REQUEST_HEADER,
            format!("Missing header {name}"),
        )
    }

    /// 400 `invalid_request_header`.
    pub fn invalid_header(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST_HEADER,
            description,
        )
    }

    /// 400 `missing_request_payload` — no `request` form field.
    pub fn missing_payload() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::MISSING_REQUEST_PAYLOAD,
            "No request payload found",
        )
    }

    /// 400 `invalid_request_payload` — the `request` form field is blank (WSO2's text).
    pub fn empty_payload() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST_PAYLOAD,
            "Request payload cannot be empty",
        )
    }

    /// 400 `invalid_request_payload` with WSO2's text, followed by what exactly is wrong.
    pub fn invalid_payload(detail: impl AsRef<str>) -> Self {
        let detail = detail.as_ref();
        let description = if detail.is_empty() {
            "Error in the request payload".to_owned()
        } else {
            format!("Error in the request payload: {detail}")
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST_PAYLOAD,
            description,
        )
    }

    /// 400 `invalid_request`: the payload parsed but breaks a rule.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_REQUEST, description)
    }

    /// 413: the body is larger than `max_body_bytes`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::INVALID_REQUEST_PAYLOAD,
            format!("Request payload is larger than {limit} bytes"),
        )
    }

    /// 415: the endpoint accepts only `expected`.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::INVALID_REQUEST_HEADER,
            format!("Content-Type must be {expected}"),
        )
    }

    /// 401: Basic credentials missing or wrong.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "Missing or invalid Basic credentials",
        )
    }

    /// 404 for a path the API does not have.
    pub fn no_such_path() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::INVALID_REQUEST,
            "No such resource",
        )
    }

    /// 405 for a known path with a method it does not serve.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::INVALID_REQUEST,
            "Method not allowed on this resource",
        )
    }

    /// 404 for a subscription that does not exist or belongs to another client (the two are not told apart).
    pub fn subscription_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::INVALID_REQUEST,
            "Event subscription not found.",
        )
    }

    /// 409: the client already has an active subscription (WSO2's text).
    pub fn subscription_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            code::INVALID_REQUEST,
            "Subscription Resource already exists for the client",
        )
    }

    /// 500: the database (or signing) failed; the transaction was rolled back. The cause goes to the log,
    /// never to the caller.
    pub fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::SERVER_ERROR,
            format!("{context}; nothing was changed"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "error_description": self.description });
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ob-event-store\", charset=\"UTF-8\""),
            );
        }
        response
    }
}
