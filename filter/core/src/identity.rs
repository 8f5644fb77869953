//! The token part of the identity step: from the `Authorization` header to a verified identity, or a
//! refusal. Pure: the adapter supplies the time, the issuers' current keys and its verified-token cache.

use crate::certificate::{self, xfcc, CertificateCache, CertificateError, CertificateFacts};
use crate::config::{CertificateSource, Config, HeaderFormat, Issuer};
use crate::endpoints::Endpoint;
use crate::errors::{ErrorKind, Refusal};
use crate::token::{self, any_scope_granted, Jwks, TokenCache, TokenError, VerifiedToken};
use std::rc::Rc;

/// The header Envoy sets with the verified client certificate (`forward_client_cert_details: SANITIZE_SET`).
pub const XFCC_HEADER: &str = "x-forwarded-client-cert";

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
    pub token: Rc<VerifiedToken>,
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
                    let verified = Rc::new(verified);
                    cache.insert(bearer, Rc::clone(&verified), now_secs);
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

/// The refusal for a certificate error: 403 with an OB body when the certificate is valid but not
/// entitled (organisation, roles), else 401 without a body.
pub fn certificate_refusal(error: &CertificateError) -> Refusal {
    let kind = if error.is_forbidden() {
        ErrorKind::CertificateForbidden
    } else {
        ErrorKind::CertificateUnauthorized
    };
    let message = match error.wso2_code() {
        Some(code) => format!("{} (WSO2 {code})", error.message()),
        None => error.message(),
    };
    Refusal::new(kind, message).because(error.reason())
}

/// The client certificate of the request, read from where the configuration says:
/// - `xfcc`: the `x-forwarded-client-cert` Envoy set, which must be the certificate of this TLS connection
///   (`connection_sha256` gives Envoy's `connection.sha256_peer_certificate_digest`, read only when needed;
///   without it, a header cannot be trusted and is refused);
/// - a trusted header, as it is.
///
/// `Ok(None)`: no certificate was presented.
pub fn read_certificate(
    config: &Config,
    cache: &mut CertificateCache,
    header: impl Fn(&str) -> Option<String>,
    connection_sha256: impl FnOnce() -> Option<String>,
) -> Result<Option<CertificateFacts>, Refusal> {
    let refuse = |e: CertificateError| certificate_refusal(&e);
    match &config.certificate.source {
        CertificateSource::Xfcc => {
            let Some(value) = header(XFCC_HEADER) else {
                return Ok(None);
            };
            let der = xfcc::leaf_der_from_xfcc(value.as_bytes()).map_err(refuse)?;
            let facts = cache.parse(&der).map_err(refuse)?;
            match connection_sha256() {
                Some(digest) => certificate::cross_check(&facts, Some(&digest)).map_err(refuse)?,
                None => return Err(refuse(CertificateError::ConnectionMismatch)),
            }
            Ok(Some(facts))
        }
        CertificateSource::Header { name, format } => {
            let Some(value) = header(name) else {
                return Ok(None);
            };
            let der = match format {
                HeaderFormat::Pem => xfcc::leaf_der_from_pem_header(value.as_bytes()),
                HeaderFormat::Base64Der => xfcc::leaf_der_from_base64_der_header(value.as_bytes()),
            }
            .map_err(refuse)?;
            cache.parse(&der).map(Some).map_err(refuse)
        }
    }
}

/// The certificate rules for `endpoint`: presence, validity, binding to the token, organisation, roles.
/// `registered_organisation` is the application's (subscription data), else the configured map's.
pub fn check_certificate(
    config: &Config,
    endpoint: &Endpoint,
    facts: Option<&CertificateFacts>,
    token: &VerifiedToken,
    registered_organisation: Option<&str>,
    now_secs: u64,
) -> Result<(), Refusal> {
    let Some(policy) = config.certificate.policy(endpoint) else {
        return Err(Refusal::new(
            ErrorKind::ConfigurationInvalid,
            "No certificate rules for this endpoint",
        ));
    };
    let expected = registered_organisation.or_else(|| {
        config
            .certificate
            .organisations
            .get(&token.consumer_key)
            .map(String::as_str)
    });
    certificate::check(policy, facts, token.x5t_s256.as_deref(), expected, now_secs)
        .map_err(|e| certificate_refusal(&e))
}
