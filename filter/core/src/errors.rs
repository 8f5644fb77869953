//! The one errors table: every refusal the filter can make is an [`ErrorKind`], and this file alone says
//! what each one becomes on the wire (HTTP status, OB error code, WSO2 code where one exists, whether a body
//! is sent) and which stat counts it.
//!
//! OB v3.1.2 (Read/Write Data API profile): 400, 403 and 5xx carry an `OBErrorResponse1` body; 401, 404, 405,
//! 406 and 415 carry none.

/// Everything the filter may refuse a request for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The plugin configuration did not parse or validate; the filter fails closed.
    ConfigurationInvalid,
    /// The path is not one of the event endpoints under the base path.
    NotFound,
    /// The path is an event endpoint but not for this method.
    MethodNotAllowed,
    /// `Accept` names nothing the endpoint can produce.
    NotAcceptable,
    /// `Content-Type` is not `application/json` on POST/PUT.
    UnsupportedMediaType,
    /// No usable access token (no `Authorization`, not `Bearer`).
    TokenMissing,
    /// The access token did not verify (malformed, bad signature, expired, wrong issuer, …); the refusal's
    /// `reason` names which check failed.
    TokenInvalid,
    /// The token verified but is not an application (client-credentials) token.
    TokenTypeNotAllowed,
    /// The token carries none of the endpoint's scopes.
    InsufficientScope,
    /// The issuer's signing keys are not available (JWKS never loaded): the token cannot be checked.
    KeysUnavailable,
    /// A field of the body has an invalid value.
    FieldInvalid,
    /// A mandatory field of the body is missing.
    FieldMissing,
    /// The body has a member this API does not define.
    FieldUnexpected,
    /// The body is not JSON of the expected shape, or too large.
    InvalidFormat,
    /// A header has an invalid value.
    HeaderInvalid,
    /// An `EventTypes` entry is not supported.
    UnsupportedEventType,
    /// The resource id does not exist (or belongs to another TPP: refused the same way).
    ResourceNotFound,
    /// The TPP already has an event subscription.
    ResourceAlreadyExists,
    /// The storage backend could not be reached.
    BackendUnavailable,
    /// The storage backend did not answer in time.
    BackendTimeout,
    /// The storage backend answered something the filter cannot use.
    BackendBadAnswer,
    /// The token's consumer key has no key mapping, application or subscription to this API (WSO2 900908).
    SubscriptionMissing,
    /// The subscription (or the API) is blocked, or blocked for production keys (WSO2 900907).
    SubscriptionBlocked,
    /// The subscription is on hold or rejected (WSO2 900909).
    SubscriptionInactive,
    /// No subscription data yet (the first load from the APIM data API has not succeeded).
    SubscriptionDataUnavailable,
    /// The client certificate is missing, unusable, not valid now, or not the one the token is bound to:
    /// the caller is not authenticated (the refusal's `reason` says which).
    CertificateUnauthorized,
    /// The client certificate is valid but not entitled: another organisation than the application's, or
    /// without the PSD2 role the endpoint requires.
    CertificateForbidden,
}

/// What one [`ErrorKind`] becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorSpec {
    /// HTTP status of the local reply.
    pub status: u16,
    /// `Errors[].ErrorCode` of the `OBErrorResponse1` body; `None` means the reply has no body.
    pub ob_code: Option<&'static str>,
    /// The equivalent WSO2 API Manager / Open Banking gateway code, when WSO2 has one.
    pub wso2_code: Option<&'static str>,
    /// Name of the Envoy counter that counts this refusal (`ob_event_filter.refused.<stat>`), unless the
    /// refusal names a more precise reason.
    pub stat: &'static str,
}

/// `ErrorCode` namespace for refusals that no `UK.OBIE` code describes (OB error codes are a namespaced
/// enumeration; an ASPSP may use its own namespace).
pub const GATEWAY_NAMESPACE: &str = "OBEventGateway";

impl ErrorKind {
    /// Every kind, for documentation and tests.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::ConfigurationInvalid,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::NotAcceptable,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::TokenMissing,
        ErrorKind::TokenInvalid,
        ErrorKind::TokenTypeNotAllowed,
        ErrorKind::InsufficientScope,
        ErrorKind::KeysUnavailable,
        ErrorKind::FieldInvalid,
        ErrorKind::FieldMissing,
        ErrorKind::FieldUnexpected,
        ErrorKind::InvalidFormat,
        ErrorKind::HeaderInvalid,
        ErrorKind::UnsupportedEventType,
        ErrorKind::ResourceNotFound,
        ErrorKind::ResourceAlreadyExists,
        ErrorKind::BackendUnavailable,
        ErrorKind::BackendTimeout,
        ErrorKind::BackendBadAnswer,
        ErrorKind::SubscriptionMissing,
        ErrorKind::SubscriptionBlocked,
        ErrorKind::SubscriptionInactive,
        ErrorKind::SubscriptionDataUnavailable,
        ErrorKind::CertificateUnauthorized,
        ErrorKind::CertificateForbidden,
    ];

    /// The table.
    pub const fn spec(self) -> ErrorSpec {
        use ErrorKind::*;
        const UNEXPECTED: Option<&str> = Some("UK.OBIE.UnexpectedError");
        let (status, ob_code, wso2_code, stat) = match self {
            ConfigurationInvalid => (500, UNEXPECTED, Some("900900"), "configuration_invalid"),
            NotFound => (404, None, None, "not_found"),
            MethodNotAllowed => (405, None, None, "method_not_allowed"),
            NotAcceptable => (406, None, None, "not_acceptable"),
            UnsupportedMediaType => (415, None, Some("200012"), "unsupported_media_type"),
            TokenMissing => (401, None, Some("900902"), "token_missing"),
            TokenInvalid => (401, None, Some("900901"), "token_invalid"),
            TokenTypeNotAllowed => (
                403,
                Some("OBEventGateway.Token.TypeNotAllowed"),
                Some("200001"),
                "token_type_not_allowed",
            ),
            InsufficientScope => (
                403,
                Some("OBEventGateway.Token.InsufficientScope"),
                Some("900910"),
                "insufficient_scope",
            ),
            KeysUnavailable => (503, UNEXPECTED, None, "keys_unavailable"),
            FieldInvalid => (400, Some("UK.OBIE.Field.Invalid"), None, "field_invalid"),
            FieldMissing => (400, Some("UK.OBIE.Field.Missing"), None, "field_missing"),
            FieldUnexpected => (
                400,
                Some("UK.OBIE.Field.Unexpected"),
                None,
                "field_unexpected",
            ),
            InvalidFormat => (
                400,
                Some("UK.OBIE.Resource.InvalidFormat"),
                None,
                "invalid_format",
            ),
            HeaderInvalid => (400, Some("UK.OBIE.Header.Invalid"), None, "header_invalid"),
            UnsupportedEventType => (
                400,
                Some("UK.OBIE.Unsupported.EventType"),
                None,
                "unsupported_event_type",
            ),
            ResourceNotFound => (
                400,
                Some("UK.OBIE.Resource.NotFound"),
                None,
                "resource_not_found",
            ),
            ResourceAlreadyExists => (
                409,
                Some("UK.OBIE.Rules.ResourceAlreadyExists"),
                None,
                "resource_already_exists",
            ),
            BackendUnavailable => (503, UNEXPECTED, None, "backend_unavailable"),
            BackendTimeout => (504, UNEXPECTED, None, "backend_timeout"),
            BackendBadAnswer => (502, UNEXPECTED, None, "backend_bad_answer"),
            SubscriptionMissing => (
                403,
                Some("OBEventGateway.Subscription.Forbidden"),
                Some("900908"),
                "subscription_missing",
            ),
            SubscriptionBlocked => (
                403,
                Some("OBEventGateway.Subscription.Blocked"),
                Some("900907"),
                "subscription_blocked",
            ),
            SubscriptionInactive => (
                403,
                Some("OBEventGateway.Subscription.Inactive"),
                Some("900909"),
                "subscription_inactive",
            ),
            SubscriptionDataUnavailable => (503, UNEXPECTED, None, "subscription_data_unavailable"),
            CertificateUnauthorized => (401, None, Some("200007"), "certificate_unauthorized"),
            CertificateForbidden => (
                403,
                Some("OBEventGateway.Certificate.Forbidden"),
                Some("200004"),
                "certificate_forbidden",
            ),
        };
        ErrorSpec {
            status,
            ob_code,
            wso2_code,
            stat,
        }
    }
}

/// A refusal: what went wrong, a human-readable message (safe to send to the TPP and to log: it never
/// contains a token or other secret), and the JSON path or header it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: ErrorKind,
    /// The stat suffix: the kind's own, or a more precise reason (e.g. `token_invalid.expired`).
    pub reason: &'static str,
    pub message: String,
    pub path: Option<String>,
    /// Extra response headers (e.g. `allow` on 405).
    pub headers: Vec<(String, String)>,
}

impl Refusal {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            reason: kind.spec().stat,
            message: message.into(),
            path: None,
            headers: Vec::new(),
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Name the precise reason (the stat suffix); it must be a static, snake_case, dot-separated name.
    pub fn because(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn spec(&self) -> ErrorSpec {
        self.kind.spec()
    }
}

/// The standard reason phrase used in `OBErrorResponse1.Code` ("400 BadRequest" style, as OB's examples).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn bodies_only_where_ob_requires_them() {
        for kind in ErrorKind::ALL {
            let spec = kind.spec();
            if let Some(code) = spec.ob_code {
                assert!(
                    code.starts_with("UK.OBIE.") || code.starts_with(GATEWAY_NAMESPACE),
                    "{code}"
                );
            }
            let bodyless = matches!(spec.status, 401 | 404 | 405 | 406 | 415);
            assert_eq!(spec.ob_code.is_none(), bodyless, "{kind:?}");
        }
    }

    #[test]
    fn stat_names_are_unique_and_safe() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            let stat = kind.spec().stat;
            assert!(seen.insert(stat), "duplicate stat {stat}");
            assert!(
                stat.bytes().all(|c| c.is_ascii_lowercase() || c == b'_'),
                "{stat}"
            );
        }
    }
}
