//! HTTP Basic authentication of every call but `/health` and `/jwks`.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::errors::ApiError;

/// The expected credentials, kept only as a digest of `user:password`.
pub struct Credentials {
    digest: [u8; 32],
}

impl Credentials {
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            digest: Sha256::digest(format!("{username}:{password}").as_bytes()).into(),
        }
    }

    /// Whether an `Authorization` header value carries these credentials. The comparison is constant-time.
    pub fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(value) = header else { return false };
        let Ok(value) = std::str::from_utf8(value) else {
            return false;
        };
        let mut parts = value.trim().splitn(2, ' ');
        let (Some(scheme), Some(token)) = (parts.next(), parts.next()) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = STANDARD.decode(token.trim()) else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(&decoded).into();
        presented.ct_eq(&self.digest).into()
    }
}

/// Middleware: 401 unless the request carries the configured Basic credentials.
pub async fn require_basic(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let header = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    if state.credentials.accepts(header) {
        next.run(request).await
    } else {
        tracing::warn!(
            path = %request.uri().path(),
            credentials_present = header.is_some(),
            "rejected: missing or invalid Basic credentials"
        );
        ApiError::unauthorized().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_configured_pair() {
        let c = Credentials::new("admin", "s3cret");
        let good = format!("Basic {}", STANDARD.encode("admin:s3cret"));
        assert!(c.accepts(Some(good.as_bytes())));
        let lower = format!("basic {}", STANDARD.encode("admin:s3cret"));
        assert!(c.accepts(Some(lower.as_bytes())));
        let bad = format!("Basic {}", STANDARD.encode("admin:wrong"));
        assert!(!c.accepts(Some(bad.as_bytes())));
        assert!(!c.accepts(Some(b"Bearer abc")));
        assert!(!c.accepts(Some(b"Basic !!!")));
        assert!(!c.accepts(None));
    }
}
