//! Access tokens shaped like WSO2 Identity Server's client-credentials JWTs, signed with RustCrypto over raw
//! bytes so that tests can also forge tokens no honest issuer would produce.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// A token-signing key of the demo/test key manager.
pub enum SigningKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ec(p256::ecdsa::SigningKey),
}

/// A signing key with its key id.
pub struct KeyManager {
    pub key: SigningKey,
    pub kid: String,
}

impl KeyManager {
    /// A new RSA-2048 key (PS256 / RS256).
    pub fn new_rsa(kid: &str) -> Self {
        let mut rng = rsa::rand_core::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("generate an RSA key");
        KeyManager {
            key: SigningKey::Rsa(Box::new(key)),
            kid: kid.into(),
        }
    }

    /// A new P-256 key (ES256).
    pub fn new_ec(kid: &str) -> Self {
        let key = p256::ecdsa::SigningKey::random(&mut rsa::rand_core::OsRng);
        KeyManager {
            key: SigningKey::Ec(key),
            kid: kid.into(),
        }
    }

    /// Load a PKCS#8 PEM key (RSA or P-256).
    pub fn from_pem(pem: &str, kid: &str) -> Self {
        let key = match rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
            Ok(rsa) => SigningKey::Rsa(Box::new(rsa)),
            Err(_) => SigningKey::Ec(
                p256::ecdsa::SigningKey::from_pkcs8_pem(pem).expect("an RSA or P-256 PKCS#8 key"),
            ),
        };
        KeyManager {
            key,
            kid: kid.into(),
        }
    }

    /// PKCS#8 PEM of the private key.
    pub fn to_pem(&self) -> String {
        match &self.key {
            SigningKey::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF).expect("encode").to_string(),
            SigningKey::Ec(k) => k.to_pkcs8_pem(LineEnding::LF).expect("encode").to_string(),
        }
    }

    /// The public key as a JWK (`kid`, `kty`, `use: sig`).
    pub fn jwk(&self) -> Value {
        match &self.key {
            SigningKey::Rsa(k) => json!({
                "kty": "RSA", "kid": self.kid, "use": "sig",
                "n": URL_SAFE_NO_PAD.encode(k.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(k.e().to_bytes_be()),
            }),
            SigningKey::Ec(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "kid": self.kid, "use": "sig", "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
                    "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
                })
            }
        }
    }

    /// A JWKS holding this key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// The algorithm this key signs with by default.
    pub fn default_alg(&self) -> &'static str {
        match self.key {
            SigningKey::Rsa(_) => "PS256",
            SigningKey::Ec(_) => "ES256",
        }
    }

    /// Sign `header.payload` with `alg` (PS256, RS256, ES256) and return the compact JWS.
    pub fn sign_raw(&self, header: &Value, payload: &Value, alg: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = match (&self.key, alg) {
            (SigningKey::Rsa(k), "PS256") => {
                use rsa::signature::{RandomizedSigner, SignatureEncoding};
                let signer = rsa::pss::BlindedSigningKey::<Sha256>::new((**k).clone());
                signer
                    .sign_with_rng(&mut rsa::rand_core::OsRng, input.as_bytes())
                    .to_vec()
            }
            (SigningKey::Rsa(k), "RS256") => {
                use rsa::signature::{SignatureEncoding, Signer};
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone());
                signer.sign(input.as_bytes()).to_vec()
            }
            (SigningKey::Ec(k), "ES256") => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = k.sign(input.as_bytes());
                sig.to_bytes().to_vec()
            }
            (_, other) => panic!("this key cannot sign {other}"),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Sign claims with this key's default algorithm and a WSO2-style header.
    pub fn sign(&self, claims: &Value) -> String {
        let alg = self.default_alg();
        let header = json!({ "alg": alg, "typ": "JWT", "kid": self.kid });
        self.sign_raw(&header, claims, alg)
    }
}

/// HS256 over `header.payload` with an arbitrary secret (for the "public key as HMAC secret" attack).
pub fn sign_hs256(header: &Value, payload: &Value, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The claims WSO2 IS puts in a client-credentials access token (see DIGEST-wso2 §3).
pub struct TokenRequest<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    /// `cnf.x5t#S256`: base64url SHA-256 of the TPP's transport certificate.
    pub x5t_s256: Option<&'a str>,
    pub lifetime_secs: u64,
}

impl TokenRequest<'_> {
    pub fn claims(&self) -> Value {
        let now = now();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": "admin@carbon.super",
            "aud": self.client_id,
            "azp": self.client_id,
            "client_id": self.client_id,
            "aut": "APPLICATION",
            "scope": self.scope,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_secs,
            "jti": random_id(),
        });
        if let (Some(x5t), Some(map)) = (self.x5t_s256, claims.as_object_mut()) {
            map.insert("cnf".into(), json!({ "x5t#S256": x5t }));
            map.insert("binding_type".into(), json!("certificate"));
        }
        claims
    }
}

/// A random UUID v4 string.
pub fn random_id() -> String {
    use rsa::rand_core::RngCore;
    let mut b = [0u8; 16];
    rsa::rand_core::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// SHA-256 of a string, hex (stable ids for demo keys).
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
