//! What one trusted issuer's tokens must satisfy: the signature algorithms allowed, audiences, clock skew,
//! and which claims carry the token type and the consumer key.

use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm this gateway can verify. `none`, the HMAC algorithms (a shared secret has no
/// place at a gateway that holds only public keys) and anything else are not representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    /// RSASSA-PSS with SHA-256, salt length 32 (RFC 7518 §3.5). The OB FAPI profile's algorithm.
    PS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256. What WSO2 IS signs with by default; opt-in.
    RS256,
    /// ECDSA P-256 with SHA-256, signature `r || s` (64 bytes).
    ES256,
}

/// The key family an [`Alg`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    EcP256,
}

impl Alg {
    /// The allow-list used when the configuration names none: PS256 and ES256 (FAPI).
    pub const DEFAULT_ALLOWED: &'static [Alg] = &[Alg::PS256, Alg::ES256];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::PS256 => "PS256",
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        }
    }

    pub(crate) fn key_family(self) -> KeyFamily {
        match self {
            Alg::PS256 | Alg::RS256 => KeyFamily::Rsa,
            Alg::ES256 => KeyFamily::EcP256,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An algorithm name that is not PS256, RS256 or ES256 (names are case-sensitive, RFC 7515 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedAlg(pub String);

impl fmt::Display for UnsupportedAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "signature algorithm {:?} is not supported (PS256, RS256 or ES256)",
            crate::token::error::printable(&self.0)
        )
    }
}

impl std::error::Error for UnsupportedAlg {}

impl FromStr for Alg {
    type Err = UnsupportedAlg;

    fn from_str(s: &str) -> Result<Alg, UnsupportedAlg> {
        match s {
            "PS256" => Ok(Alg::PS256),
            "RS256" => Ok(Alg::RS256),
            "ES256" => Ok(Alg::ES256),
            other => Err(UnsupportedAlg(other.to_string())),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Alg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Alg, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Default clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 60;
/// Default claims holding the consumer key, first present wins (WSO2 IS sets both).
pub const DEFAULT_CONSUMER_KEY_CLAIMS: &[&str] = &["azp", "client_id"];
/// Default claim holding the token type (WSO2 `aut`).
pub const DEFAULT_TOKEN_TYPE_CLAIM: &str = "aut";
/// Default value of the token type claim for an application (client-credentials) token.
pub const DEFAULT_APPLICATION_TOKEN_TYPE: &str = "APPLICATION";

/// The verification policy of one trusted issuer. Build it with [`IssuerPolicy::new`] and override fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerPolicy {
    /// The exact `iss` value (WSO2 IS: the token endpoint URL, e.g. `https://is.example/oauth2/token`).
    pub issuer: String,
    /// Accepted audiences: `aud` must contain one of them. Empty: `aud` is not checked (WSO2 IS puts the
    /// client id in `aud` by default, so there is often nothing useful to check).
    pub audiences: Vec<String>,
    /// Allowed signature algorithms. Default [`Alg::DEFAULT_ALLOWED`] (PS256, ES256); add RS256 for a
    /// default WSO2 IS.
    pub algorithms: Vec<Alg>,
    /// Allowed clock difference in seconds for `exp`, `nbf`, `iat`. Default 60.
    pub clock_skew_secs: u64,
    /// Claims naming the consumer key, in order; the first present is used. Default `azp`, `client_id`.
    pub consumer_key_claims: Vec<String>,
    /// Claim holding the token type. Default `aut`. Empty: the token type is not checked.
    pub token_type_claim: String,
    /// Required value of the token type claim. Default `APPLICATION` (`APPLICATION_USER` is refused).
    pub application_token_type: String,
}

impl IssuerPolicy {
    /// The policy for `issuer` with every default stated above.
    pub fn new(issuer: impl Into<String>) -> IssuerPolicy {
        IssuerPolicy {
            issuer: issuer.into(),
            audiences: Vec::new(),
            algorithms: Alg::DEFAULT_ALLOWED.to_vec(),
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECS,
            consumer_key_claims: DEFAULT_CONSUMER_KEY_CLAIMS
                .iter()
                .map(|c| c.to_string())
                .collect(),
            token_type_claim: DEFAULT_TOKEN_TYPE_CLAIM.to_string(),
            application_token_type: DEFAULT_APPLICATION_TOKEN_TYPE.to_string(),
        }
    }

    /// Whether `alg` is in the allow-list.
    pub fn allows(&self, alg: Alg) -> bool {
        self.algorithms.contains(&alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn alg_parses_the_three_supported_names_only() {
        assert_eq!("PS256".parse::<Alg>(), Ok(Alg::PS256));
        assert_eq!("RS256".parse::<Alg>(), Ok(Alg::RS256));
        assert_eq!("ES256".parse::<Alg>(), Ok(Alg::ES256));
        for bad in [
            "none", "HS256", "HS384", "HS512", "ps256", "RS512", "EdDSA", "",
        ] {
            assert!(bad.parse::<Alg>().is_err(), "{bad}");
        }
        let alg: Alg = serde_json::from_str("\"RS256\"").unwrap();
        assert_eq!(alg, Alg::RS256);
        assert!(serde_json::from_str::<Alg>("\"HS256\"").is_err());
    }

    #[test]
    fn issuer_policy_defaults() {
        let p = IssuerPolicy::new("https://is.example/oauth2/token");
        assert_eq!(p.issuer, "https://is.example/oauth2/token");
        assert!(p.audiences.is_empty());
        assert_eq!(p.algorithms, [Alg::PS256, Alg::ES256]);
        assert!(!p.allows(Alg::RS256));
        assert_eq!(p.clock_skew_secs, 60);
        assert_eq!(p.consumer_key_claims, ["azp", "client_id"]);
        assert_eq!(p.token_type_claim, "aut");
        assert_eq!(p.application_token_type, "APPLICATION");
    }
}
