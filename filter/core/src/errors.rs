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
    /// The endpoint is recognised but this gateway does not serve it yet.
    NotImplemented,
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
    /// Name of the Envoy counter that counts this refusal (`ob_event_filter.refused.<stat>`).
    pub stat: &'static str,
}

impl ErrorKind {
    /// Every kind, for defining stats up front.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::ConfigurationInvalid,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::NotImplemented,
    ];

    /// The table.
    pub const fn spec(self) -> ErrorSpec {
        use ErrorKind::*;
        let (status, ob_code, wso2_code, stat) = match self {
            ConfigurationInvalid => (
                500,
                Some("UK.OBIE.UnexpectedError"),
                Some("900900"),
                "configuration_invalid",
            ),
            NotFound => (404, None, None, "not_found"),
            MethodNotAllowed => (405, None, None, "method_not_allowed"),
            NotImplemented => (
                501,
                Some("UK.OBIE.UnexpectedError"),
                None,
                "not_implemented",
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
    pub message: String,
    pub path: Option<String>,
    /// Extra response headers (e.g. `allow` on 405).
    pub headers: Vec<(String, String)>,
}

impl Refusal {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            message: message.into(),
            path: None,
            headers: Vec::new(),
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
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
