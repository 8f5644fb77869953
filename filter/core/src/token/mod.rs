//! Access-token verification: the pure part of the identity step.
//!
//! The adapter extracts the bearer token ([`bearer_token`]), looks it up in its [`TokenCache`], and on a miss
//! calls [`verify`] with the time and a lookup from `iss` to the issuer's [`IssuerPolicy`] and [`Jwks`]. A
//! [`VerifiedToken`] carries what later steps use (consumer key, scopes, `cnf.x5t#S256`); a [`TokenError`]
//! names the refusal, its status class and its stat.
//!
//! Order of the checks (every one fails closed):
//! 1. shape: at most [`MAX_TOKEN_BYTES`], three base64url parts, JSON header and payload, no `crit`,
//!    `alg` one of PS256/RS256/ES256 (`none`, HMAC and everything else refused before any key is touched);
//! 2. issuer: selected by the unverified `iss`; its allow-list must hold `alg`;
//! 3. key: by `kid` from the issuer's JWKS only (`jku`, `x5u`, `jwk`, `x5c` are never followed), of a type
//!    that fits `alg`; without `kid`, each fitting key in turn (at most [`MAX_KEYS_TRIED`]);
//! 4. signature ([`signature`] module: RustCrypto `rsa` 0.10 / `p256` 0.14);
//! 5. claims, only now: `iss`, `exp` (required) / `nbf` / `iat` with skew, `aud` if configured, the token
//!    type (application only), consumer key, `scope`, `cnf`.

mod cache;
mod claims;
mod error;
mod jwks;
mod jws;
mod policy;
mod scopes;
mod signature;

#[cfg(test)]
mod fixtures;

pub use cache::TokenCache;
pub use claims::VerifiedToken;
pub use error::TokenError;
pub use jwks::{
    Jwk, Jwks, JwksError, SkippedKey, MAX_JWKS_BYTES, MAX_JWKS_KEYS, MAX_RSA_BITS, MIN_RSA_BITS,
};
pub use jws::MAX_TOKEN_BYTES;
pub use policy::{
    Alg, IssuerPolicy, UnsupportedAlg, DEFAULT_APPLICATION_TOKEN_TYPE, DEFAULT_CLOCK_SKEW_SECS,
    DEFAULT_CONSUMER_KEY_CLAIMS, DEFAULT_TOKEN_TYPE_CLAIM,
};
pub use scopes::{any_scope_granted, Scopes};

use error::printable;

/// Most keys tried for one token when its header has no `kid` (or several keys share the `kid`).
pub const MAX_KEYS_TRIED: usize = 4;

/// The token of an `Authorization` header value: scheme `Bearer` (any case), one or more spaces, the
/// token. [`TokenError::Missing`] when there is no header, another scheme, or nothing after the scheme.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, TokenError> {
    let value = authorization.ok_or(TokenError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Missing);
    }
    match token.trim_start_matches(' ') {
        "" => Err(TokenError::Missing),
        token => Ok(token),
    }
}

/// Verifies an access token at `now_secs` (seconds since the epoch).
///
/// `lookup` maps the token's unverified `iss` to that issuer's policy and current keys, or `None` for an
/// untrusted issuer. Everything after the selection is checked against what `lookup` returned; nothing of
/// the token's content is used before its signature has verified, except `iss` for the selection.
pub fn verify<'k, F>(token: &str, now_secs: u64, lookup: F) -> Result<VerifiedToken, TokenError>
where
    F: FnOnce(&str) -> Option<(&'k IssuerPolicy, &'k Jwks)>,
{
    let jws = jws::parse(token)?;
    let (policy, jwks) = jws
        .claims
        .issuer_hint()
        .and_then(lookup)
        .ok_or(TokenError::UnknownIssuer)?;
    if !policy.allows(jws.alg) {
        return Err(TokenError::AlgNotAllowed(jws.alg.as_str().to_string()));
    }

    let candidates: Vec<&Jwk> = match &jws.kid {
        Some(kid) => {
            let named: Vec<&Jwk> = jwks
                .keys()
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                .collect();
            if named.is_empty() {
                return Err(TokenError::UnknownKid(printable(kid)));
            }
            let fitting: Vec<&Jwk> = named.into_iter().filter(|k| k.fits(jws.alg)).collect();
            if fitting.is_empty() {
                return Err(TokenError::AlgKeyMismatch);
            }
            fitting
        }
        None => {
            let fitting: Vec<&Jwk> = jwks.keys().iter().filter(|k| k.fits(jws.alg)).collect();
            if fitting.is_empty() {
                return Err(TokenError::NoMatchingKey);
            }
            fitting
        }
    };
    let key = candidates
        .into_iter()
        .take(MAX_KEYS_TRIED)
        .find(|key| signature::verifies(jws.alg, key, jws.signing_input.as_bytes(), &jws.signature))
        .ok_or(TokenError::BadSignature)?;

    claims::check(
        jws.claims.into_verified(),
        policy,
        now_secs,
        jws.alg,
        key.kid.clone(),
    )
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod bench;
