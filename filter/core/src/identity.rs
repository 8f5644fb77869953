//! The token part of the identity step: from the `Authorization` header to a verified identity, or a
//! refusal. Pure: the adapter supplies the time, the issuers' current keys and its verified-token cache.

use crate::config::{Config, Issuer};
use crate::endpoints::Endpoint;
use crate::errors::{ErrorKind, Refusal};
use crate::token::{self, any_scope_granted, Jwks, TokenCache, TokenError, VerifiedToken};

/// `WWW-Authenticate` on every 401 of the token step (RFC 6750 §3).
pub const WWW_AUTHENTICATE: &str = r#"Bearer error="invalid_token""#;

/// The keys of one issuer as the adapter currently holds them.
#[derive(Debug, Clone, Copy)]
pub enum Keys<'a> {
    Ready(&'a Jwks),
    /// A remote JWKS that has not loaded yet (or never could): tokens of this issuer cannot be verified.
    NotLoaded,
}

/// A refused token step. `refresh_keys_of` names the issuer whose JWKS should be fetched again (the token
/// named a `kid` the keys do not have: they may have rotated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub refusal: Refusal,
    pub refresh_keys_of: Option<String>,
}

impl From<Refusal> for AuthFailure {
    fn from(refusal: Refusal) -> Self {
        AuthFailure {
            refusal,
            refresh_keys_of: None,
        }
    }
}

/// A request that passed the token step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub token: VerifiedToken,
    /// Whether the verification came from the verified-token cache.
    pub cached: bool,
}

/// Authenticate the request for `endpoint`: a verified application token carrying one of the endpoint's
/// scopes. A token verified before (same bytes, not expired) is taken from `cache` without verifying again;
/// only tokens that verified are ever put in it.
pub fn authenticate<'k>(
    config: &'k Config,
    keys: impl Fn(&Issuer) -> Keys<'k>,
    cache: &mut TokenCache,
    authorization: Option<&str>,
    endpoint: &Endpoint,
    now_secs: u64,
) -> Result<Authenticated, AuthFailure> {
    let bearer = token::bearer_token(authorization).map_err(|e| token_refusal(&e))?;
    let cached = cache.get(bearer, now_secs).cloned();
    let from_cache = cached.is_some();
    let verified = match cached {
        Some(hit) => hit,
        None => {
            let mut not_loaded = false;
            let result = token::verify(bearer, now_secs, |iss| {
                let issuer = config.issuer(iss)?;
                match keys(issuer) {
                    Keys::Ready(jwks) => Some((&issuer.policy, jwks)),
                    Keys::NotLoaded => {
                        not_loaded = true;
                        None
                    }
                }
            });
            match result {
                Ok(verified) => {
                    cache.insert(bearer, verified.clone(), now_secs);
                    verified
                }
                Err(_) if not_loaded => {
                    return Err(Refusal::new(
                        ErrorKind::KeysUnavailable,
                        "The token issuer's signing keys are not available yet; retry later",
                    )
                    .into())
                }
                Err(error) => {
                    let refresh = error
                        .needs_key_refresh()
                        .then(|| issuer_hint(bearer))
                        .flatten();
                    return Err(AuthFailure {
                        refusal: token_refusal(&error),
                        refresh_keys_of: refresh,
                    });
                }
            }
        }
    };
    let required = config.scopes_for(endpoint);
    if !any_scope_granted(required, &verified.scopes) {
        return Err(Refusal::new(
            ErrorKind::InsufficientScope,
            format!(
                "The access token has none of the scopes this endpoint accepts ({})",
                required.join(", ")
            ),
        )
        .into());
    }
    Ok(Authenticated {
        token: verified,
        cached: from_cache,
    })
}

/// The refusal for a token error: 403 with an OB body for a valid token of the wrong kind, else 401 without
/// a body and with `WWW-Authenticate`.
pub fn token_refusal(error: &TokenError) -> Refusal {
    if error.is_forbidden() {
        return Refusal::new(ErrorKind::TokenTypeNotAllowed, error.to_string())
            .because(error.reason());
    }
    let kind = if matches!(error, TokenError::Missing) {
        ErrorKind::TokenMissing
    } else {
        ErrorKind::TokenInvalid
    };
    Refusal::new(kind, error.to_string())
        .because(error.reason())
        .with_header("www-authenticate", WWW_AUTHENTICATE)
}

/// The unverified `iss` of a token, only to name which issuer's keys to refresh.
fn issuer_hint(token: &str) -> Option<String> {
    use base64ct::Encoding;
    let payload = token.split('.').nth(1)?;
    let bytes = base64ct::Base64UrlUnpadded::decode_vec(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_string)
}
