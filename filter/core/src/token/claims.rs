//! Claim rules, applied only to claims whose signature has verified: issuer, time window, audience,
//! application token type, consumer key, scopes, certificate binding.

use serde_json::{Map, Value};

use super::error::TokenError;
use super::policy::{Alg, IssuerPolicy};
use super::scopes::{parse_scope_claim, Scopes};

/// What a verified access token establishes. Every field comes from a token whose signature, issuer and
/// time window have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `iss`, equal to the issuer policy's.
    pub issuer: String,
    /// The consumer key (OAuth client id), from the first present of the policy's consumer-key claims.
    pub consumer_key: String,
    /// `scope`, as a set (empty when absent).
    pub scopes: Scopes,
    /// `cnf.x5t#S256` (RFC 8705), for the certificate-binding check; `None` if the token is not bound.
    pub x5t_s256: Option<String>,
    /// `exp`, in seconds since the epoch (rounded down).
    pub expires_at: u64,
    /// `sub`, when present.
    pub subject: Option<String>,
    /// `jti`, when present.
    pub token_id: Option<String>,
    /// The algorithm the signature was verified with.
    pub alg: Alg,
    /// The `kid` of the key that verified it, when the key has one.
    pub key_id: Option<String>,
}

fn invalid(claim: &str) -> TokenError {
    TokenError::InvalidClaim(claim.to_string())
}

/// A NumericDate (RFC 7519 §2): a non-negative JSON number of seconds, possibly fractional. Rounded with
/// `round` (down for `exp`, up for `nbf`/`iat`: both the stricter side).
fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
    round: fn(f64) -> f64,
) -> Result<Option<u64>, TokenError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_u64() {
                Ok(Some(secs))
            } else {
                match n.as_f64() {
                    // `as` saturates at u64::MAX; the value is finite and non-negative here.
                    Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(round(f) as u64)),
                    _ => Err(invalid(claim)),
                }
            }
        }
        Some(_) => Err(invalid(claim)),
    }
}

fn optional_string(claims: &Map<String, Value>, claim: &str) -> Result<Option<String>, TokenError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(claim)),
    }
}

/// Applies the policy to verified claims at time `now_secs`.
pub(crate) fn check(
    claims: Map<String, Value>,
    policy: &IssuerPolicy,
    now_secs: u64,
    alg: Alg,
    key_id: Option<String>,
) -> Result<VerifiedToken, TokenError> {
    let skew = policy.clock_skew_secs;

    match claims.get("iss") {
        Some(Value::String(iss)) if *iss == policy.issuer => {}
        _ => return Err(TokenError::WrongIssuer),
    }

    let expires_at = numeric_date(&claims, "exp", f64::floor)?.ok_or(TokenError::MissingExpiry)?;
    if now_secs >= expires_at.saturating_add(skew) {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = numeric_date(&claims, "nbf", f64::ceil)? {
        if now_secs.saturating_add(skew) < nbf {
            return Err(TokenError::NotYetValid);
        }
    }
    if let Some(iat) = numeric_date(&claims, "iat", f64::ceil)? {
        if iat > now_secs.saturating_add(skew) {
            return Err(TokenError::IssuedInFuture);
        }
    }

    if !policy.audiences.is_empty() {
        let matches = |a: &str| policy.audiences.iter().any(|want| want == a);
        let ok = match claims.get("aud") {
            Some(Value::String(aud)) => matches(aud),
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(matches),
            _ => false,
        };
        if !ok {
            return Err(TokenError::WrongAudience);
        }
    }

    if !policy.token_type_claim.is_empty() {
        match claims.get(&policy.token_type_claim) {
            Some(Value::String(t)) if *t == policy.application_token_type => {}
            Some(Value::String(_)) | None => return Err(TokenError::NotApplicationToken),
            Some(_) => return Err(invalid(&policy.token_type_claim)),
        }
    }

    let consumer_key = policy
        .consumer_key_claims
        .iter()
        .find_map(|claim| claims.get(claim).map(|v| (claim, v)))
        .ok_or(TokenError::NoConsumerKey)
        .and_then(|(claim, value)| match value {
            Value::String(key) if !key.is_empty() => Ok(key.clone()),
            _ => Err(invalid(claim)),
        })?;

    let scopes = match claims.get("scope") {
        None => Scopes::new(),
        Some(value) => parse_scope_claim(value).ok_or_else(|| invalid("scope"))?,
    };

    let x5t_s256 = match claims.get("cnf") {
        None => None,
        Some(Value::Object(cnf)) => match optional_string(cnf, "x5t#S256") {
            Ok(Some(t)) if t.is_empty() => return Err(invalid("cnf")),
            Ok(t) => t,
            Err(_) => return Err(invalid("cnf")),
        },
        Some(_) => return Err(invalid("cnf")),
    };

    Ok(VerifiedToken {
        issuer: policy.issuer.clone(),
        consumer_key,
        scopes,
        x5t_s256,
        expires_at,
        subject: optional_string(&claims, "sub")?,
        token_id: optional_string(&claims, "jti")?,
        alg,
        key_id,
    })
}
