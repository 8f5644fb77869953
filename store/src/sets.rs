//! Security Event Tokens (RFC 8417): building, signing and the public JWKS.
//!
//! A SET is a compact JWS. Header `{"alg", "kid", "typ": "secevent+jwt"}`; claims `iss`, `iat`, `jti`, `aud`,
//! `sub`, `txn`, `toe`, `events`. Signing uses RustCrypto (`rsa` for PS256/RS256, `p256` for ES256): no
//! home-made crypto, only the JOSE encoding around it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// JWS algorithm of the SETs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Ps256,
    Rs256,
    Es256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ps256 => "PS256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }
}

enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ec(Box<p256::ecdsa::SigningKey>),
}

/// Signs SETs with one key and publishes its public half.
pub struct SetSigner {
    algorithm: Algorithm,
    key_id: String,
    issuer: String,
    key: Key,
    /// The public JWK (without `kid`, `alg`, `use`).
    public_jwk: serde_json::Map<String, serde_json::Value>,
}

/// What a SET says about one notification.
pub struct SetContent<'a> {
    pub jti: &'a str,
    pub client_id: &'a str,
    pub subject: &'a str,
    pub txn: &'a str,
    /// Time of event, epoch seconds.
    pub toe: i64,
    pub events: &'a serde_json::Value,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
    jti: &'a str,
    aud: &'a str,
    sub: &'a str,
    txn: &'a str,
    toe: i64,
    events: &'a serde_json::Value,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

impl SetSigner {
    /// Reads a PEM private key and checks it fits the algorithm.
    pub fn from_pem(
        pem: &str,
        algorithm: Algorithm,
        key_id: Option<String>,
        issuer: String,
    ) -> Result<Self, String> {
        let key = match algorithm {
            Algorithm::Ps256 | Algorithm::Rs256 => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::pkcs8::DecodePrivateKey;
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
                    .map_err(|_| {
                        format!(
                            "{} needs an RSA private key (PEM, PKCS#8 or PKCS#1)",
                            algorithm.as_str()
                        )
                    })?;
                if key.size() * 8 < 2048 {
                    return Err("the RSA signing key must have at least 2048 bits".to_owned());
                }
                key.validate()
                    .map_err(|e| format!("invalid RSA key: {e}"))?;
                Key::Rsa(Box::new(key))
            }
            Algorithm::Es256 => {
                use p256::pkcs8::DecodePrivateKey;
                let secret = p256::SecretKey::from_pkcs8_pem(pem)
                    .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
                    .map_err(|_| {
                        "ES256 needs a P-256 private key (PEM, PKCS#8 or SEC1)".to_owned()
                    })?;
                Key::Ec(Box::new(p256::ecdsa::SigningKey::from(secret)))
            }
        };
        let public_jwk = public_jwk(&key);
        let key_id = match key_id {
            Some(k) => k,
            None => thumbprint(&public_jwk),
        };
        Ok(Self {
            algorithm,
            key_id,
            issuer,
            key,
            public_jwk,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `{"keys":[…]}` with the public key, its `kid`, `alg` and `use: sig`.
    pub fn jwks(&self) -> serde_json::Value {
        let mut jwk = self.public_jwk.clone();
        jwk.insert("kid".into(), self.key_id.clone().into());
        jwk.insert("alg".into(), self.algorithm.as_str().into());
        jwk.insert("use".into(), "sig".into());
        serde_json::json!({ "keys": [jwk] })
    }

    /// Builds and signs one SET; `iat` is `now_secs`.
    pub fn sign(&self, content: &SetContent<'_>, now_secs: i64) -> Result<String, String> {
        let header = Header {
            alg: self.algorithm.as_str(),
            kid: &self.key_id,
            typ: "secevent+jwt",
        };
        let claims = Claims {
            iss: &self.issuer,
            iat: now_secs,
            jti: content.jti,
            aud: content.client_id,
            sub: content.subject,
            txn: content.txn,
            toe: content.toe,
            events: content.events,
        };
        let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let claims = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = self.signature(signing_input.as_bytes())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match (&self.key, self.algorithm) {
            (Key::Rsa(key), Algorithm::Ps256) => {
                // Salt length = hash length (32), as RFC 7518 §3.5 requires.
                let signer = rsa::pss::BlindedSigningKey::<Sha256>::new((**key).clone());
                let sig = signer
                    .try_sign_with_rng(&mut OsRng, message)
                    .map_err(|e| e.to_string())?;
                Ok(sig.to_vec())
            }
            (Key::Rsa(key), Algorithm::Rs256) => {
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new((**key).clone());
                let sig = signer.try_sign(message).map_err(|e| e.to_string())?;
                Ok(sig.to_vec())
            }
            (Key::Ec(key), Algorithm::Es256) => {
                let sig: p256::ecdsa::Signature =
                    key.try_sign(message).map_err(|e| e.to_string())?;
                // JWS wants the fixed 64-byte r||s form, which `to_bytes` is.
                Ok(sig.to_bytes().to_vec())
            }
            _ => Err("signing key does not match the algorithm".to_owned()),
        }
    }
}

fn public_jwk(key: &Key) -> serde_json::Map<String, serde_json::Value> {
    let mut jwk = serde_json::Map::new();
    match key {
        Key::Rsa(key) => {
            jwk.insert("kty".into(), "RSA".into());
            jwk.insert(
                "n".into(),
                URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()).into(),
            );
            jwk.insert(
                "e".into(),
                URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()).into(),
            );
        }
        Key::Ec(key) => {
            let point = key.verifying_key().to_encoded_point(false);
            jwk.insert("kty".into(), "EC".into());
            jwk.insert("crv".into(), "P-256".into());
            if let (Some(x), Some(y)) = (point.x(), point.y()) {
                jwk.insert("x".into(), URL_SAFE_NO_PAD.encode(x).into());
                jwk.insert("y".into(), URL_SAFE_NO_PAD.encode(y).into());
            }
        }
    }
    jwk
}

/// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(jwk: &serde_json::Map<String, serde_json::Value>) -> String {
    let members: &[&str] = match jwk.get("kty").and_then(|v| v.as_str()) {
        Some("RSA") => &["e", "kty", "n"],
        _ => &["crv", "kty", "x", "y"],
    };
    let mut canonical = serde_json::Map::new();
    for m in members {
        if let Some(v) = jwk.get(*m) {
            canonical.insert((*m).to_owned(), v.clone());
        }
    }
    // serde_json's Map is ordered by key, which is the order RFC 7638 asks for.
    let text = serde_json::Value::Object(canonical).to_string();
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// Generates a fresh private key in PKCS#8 PEM for `algorithm` (RSA 2048/3072/4096 or P-256).
pub fn generate_key_pem(algorithm: Algorithm, rsa_bits: usize) -> Result<String, String> {
    match algorithm {
        Algorithm::Ps256 | Algorithm::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey;
            if rsa_bits < 2048 {
                return Err("RSA keys must have at least 2048 bits".to_owned());
            }
            let key = rsa::RsaPrivateKey::new(&mut OsRng, rsa_bits).map_err(|e| e.to_string())?;
            key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map(|pem| pem.to_string())
                .map_err(|e| e.to_string())
        }
        Algorithm::Es256 => {
            use p256::pkcs8::EncodePrivateKey;
            let key = p256::SecretKey::random(&mut OsRng);
            key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map(|pem| pem.to_string())
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // The example key of RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let mut jwk = serde_json::Map::new();
        jwk.insert("kty".into(), "RSA".into());
        jwk.insert("n".into(), n.into());
        jwk.insert("e".into(), "AQAB".into());
        jwk.insert("alg".into(), "RS256".into());
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn es256_key_round_trips_and_signs() {
        let pem = generate_key_pem(Algorithm::Es256, 0).expect("keygen");
        let signer = SetSigner::from_pem(&pem, Algorithm::Es256, None, "iss".into()).expect("key");
        let events = serde_json::json!({"urn:x": {}});
        let jws = signer
            .sign(
                &SetContent {
                    jti: "j",
                    client_id: "c",
                    subject: "s",
                    txn: "t",
                    toe: 1,
                    events: &events,
                },
                2,
            )
            .expect("sign");
        assert_eq!(jws.split('.').count(), 3);
        assert!(SetSigner::from_pem(&pem, Algorithm::Ps256, None, "iss".into()).is_err());
    }
}
