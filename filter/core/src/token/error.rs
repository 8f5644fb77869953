//! Why an access token was refused: one variant per reason, each with a unique stat suffix.
//!
//! Messages are safe to log and to return: they never contain the token. Where a header value chosen by the
//! sender is useful for diagnosis (`alg`, `kid`), it is reduced to a short run of printable ASCII first.

use std::fmt;

/// Every reason the token step refuses a request.
///
/// [`TokenError::is_forbidden`] decides the answer: `true` → 403 with an OB error body (the token is valid
/// but of the wrong kind); `false` → 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// No `Authorization: Bearer` token was presented.
    Missing,
    /// The token is longer than [`crate::token::MAX_TOKEN_BYTES`].
    TooLarge,
    /// The token is not a well-formed JWS compact serialisation (parts, base64url, JSON). The detail is a
    /// fixed phrase, never token content.
    Malformed(&'static str),
    /// The (unverified) `iss` is absent or names no configured issuer.
    UnknownIssuer,
    /// The issuer selected for this token is configured for a different `iss` value.
    WrongIssuer,
    /// The header `alg` is not in the issuer's allow-list (always the case for `none` and HMAC algorithms).
    AlgNotAllowed(String),
    /// The header `alg` does not fit the key the `kid` names (e.g. an EC key with `PS256`), or the key
    /// declares another `alg`.
    AlgKeyMismatch,
    /// The header carries `crit`: no critical extension is understood, so the token is refused (RFC 7515 §4.1.11).
    CritUnsupported,
    /// The header `kid` names no key of the issuer's JWKS. The JWKS may have rotated: see
    /// [`TokenError::needs_key_refresh`].
    UnknownKid(String),
    /// The header has no `kid` and the issuer's JWKS has no key of a type that fits `alg`.
    NoMatchingKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is absent. It is required.
    MissingExpiry,
    /// `now >= exp + skew`.
    Expired,
    /// `now + skew < nbf`.
    NotYetValid,
    /// `iat` is later than `now + skew`.
    IssuedInFuture,
    /// Audiences are configured and `aud` contains none of them.
    WrongAudience,
    /// A claim has the wrong JSON type or value (e.g. `exp` a string, `scope` a number); names the claim.
    InvalidClaim(String),
    /// The token type claim (WSO2 `aut`) is not the application type: a user token (`APPLICATION_USER`) or
    /// none at all. Answered 403.
    NotApplicationToken,
    /// None of the configured consumer-key claims (`azp`, `client_id`) is present.
    NoConsumerKey,
}

impl TokenError {
    /// Every reason suffix, for defining stats up front (same order as the variants).
    pub const REASONS: &'static [&'static str] = &[
        "missing",
        "too_large",
        "malformed",
        "unknown_issuer",
        "wrong_issuer",
        "alg_not_allowed",
        "alg_key_mismatch",
        "crit_unsupported",
        "unknown_kid",
        "no_matching_key",
        "bad_signature",
        "missing_exp",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "wrong_audience",
        "invalid_claim",
        "not_application_token",
        "no_consumer_key",
    ];

    /// A unique snake_case name of the reason, used as the Envoy stat name suffix.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Missing => "missing",
            TokenError::TooLarge => "too_large",
            TokenError::Malformed(_) => "malformed",
            TokenError::UnknownIssuer => "unknown_issuer",
            TokenError::WrongIssuer => "wrong_issuer",
            TokenError::AlgNotAllowed(_) => "alg_not_allowed",
            TokenError::AlgKeyMismatch => "alg_key_mismatch",
            TokenError::CritUnsupported => "crit_unsupported",
            TokenError::UnknownKid(_) => "unknown_kid",
            TokenError::NoMatchingKey => "no_matching_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::MissingExpiry => "missing_exp",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::IssuedInFuture => "issued_in_future",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::InvalidClaim(_) => "invalid_claim",
            TokenError::NotApplicationToken => "not_application_token",
            TokenError::NoConsumerKey => "no_consumer_key",
        }
    }

    /// `true` → 403 with an OB error (the token is genuine but not an application token); `false` → 401
    /// `invalid_token`.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, TokenError::NotApplicationToken)
    }

    /// `true` when fetching the issuer's JWKS again may help (a key the cached JWKS does not hold). The
    /// adapter must rate-limit the refresh: the `kid` is chosen by the sender.
    pub fn needs_key_refresh(&self) -> bool {
        matches!(self, TokenError::UnknownKid(_) | TokenError::NoMatchingKey)
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Missing => f.write_str("no bearer access token was presented"),
            TokenError::TooLarge => f.write_str("the access token is too large"),
            TokenError::Malformed(what) => write!(f, "the access token is malformed: {what}"),
            TokenError::UnknownIssuer => f.write_str("the access token issuer is not trusted"),
            TokenError::WrongIssuer => {
                f.write_str("the access token issuer does not match the issuer configuration")
            }
            TokenError::AlgNotAllowed(alg) => {
                write!(f, "the access token algorithm {alg:?} is not allowed")
            }
            TokenError::AlgKeyMismatch => {
                f.write_str("the access token algorithm does not fit the signing key")
            }
            TokenError::CritUnsupported => {
                f.write_str("the access token header has critical extensions (crit), none is supported")
            }
            TokenError::UnknownKid(kid) => {
                write!(f, "the access token key id {kid:?} is not in the issuer's key set")
            }
            TokenError::NoMatchingKey => {
                f.write_str("the issuer's key set has no key for the access token algorithm")
            }
            TokenError::BadSignature => f.write_str("the access token signature is not valid"),
            TokenError::MissingExpiry => f.write_str("the access token has no expiry (exp)"),
            TokenError::Expired => f.write_str("the access token has expired"),
            TokenError::NotYetValid => f.write_str("the access token is not valid yet (nbf)"),
            TokenError::IssuedInFuture => f.write_str("the access token is issued in the future (iat)"),
            TokenError::WrongAudience => f.write_str("the access token is not for this audience"),
            TokenError::InvalidClaim(claim) => {
                write!(f, "the access token claim {claim:?} is not valid")
            }
            TokenError::NotApplicationToken => f.write_str(
                "an application access token (client credentials grant) is required for this resource",
            ),
            TokenError::NoConsumerKey => {
                f.write_str("the access token does not name its client (consumer key)")
            }
        }
    }
}

impl std::error::Error for TokenError {}

/// A sender-chosen header value reduced to at most 64 printable ASCII characters (others become `?`), fit
/// for a log line.
pub(crate) fn printable(value: &str) -> String {
    value
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn every_variant() -> Vec<TokenError> {
        vec![
            TokenError::Missing,
            TokenError::TooLarge,
            TokenError::Malformed("x"),
            TokenError::UnknownIssuer,
            TokenError::WrongIssuer,
            TokenError::AlgNotAllowed("none".into()),
            TokenError::AlgKeyMismatch,
            TokenError::CritUnsupported,
            TokenError::UnknownKid("k".into()),
            TokenError::NoMatchingKey,
            TokenError::BadSignature,
            TokenError::MissingExpiry,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::IssuedInFuture,
            TokenError::WrongAudience,
            TokenError::InvalidClaim("exp".into()),
            TokenError::NotApplicationToken,
            TokenError::NoConsumerKey,
        ]
    }

    #[test]
    fn reasons_are_unique_snake_case_and_listed() {
        let reasons: Vec<&str> = every_variant().iter().map(TokenError::reason).collect();
        assert_eq!(reasons, TokenError::REASONS);
        let mut sorted = reasons.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), reasons.len());
        for r in reasons {
            assert!(
                r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{r}"
            );
        }
    }

    #[test]
    fn only_the_wrong_token_type_is_forbidden() {
        for e in every_variant() {
            assert_eq!(
                e.is_forbidden(),
                e == TokenError::NotApplicationToken,
                "{e:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_ask_for_a_refresh() {
        let refresh: Vec<&str> = every_variant()
            .iter()
            .filter(|e| e.needs_key_refresh())
            .map(TokenError::reason)
            .collect();
        assert_eq!(refresh, ["unknown_kid", "no_matching_key"]);
    }

    #[test]
    fn printable_bounds_and_cleans_sender_values() {
        assert_eq!(printable("key-1"), "key-1");
        assert_eq!(printable("a b\n\u{1b}é"), "a?b???");
        assert_eq!(printable(&"k".repeat(500)).len(), 64);
    }
}
