//! JSON Web Key Sets (RFC 7517): an issuer's signature verification keys.
//!
//! Parsing builds ready-to-verify keys once (RSA modulus parameters, a validated P-256 point), so that a
//! verification does no key decoding. Keys this gateway cannot or must not use are skipped and reported,
//! not fatal: an issuer may publish encryption keys or other key types next to its signing keys.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use rsa::BoxedUint;
use serde_json::{Map, Value};

use super::policy::{Alg, KeyFamily};

/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys kept from one JWKS; further keys are skipped (`too_many_keys`).
pub const MAX_JWKS_KEYS: usize = 64;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds the cost of one verification).
pub const MAX_RSA_BITS: usize = 8192;

/// One usable verification key.
#[derive(Debug, Clone)]
pub struct Jwk {
    /// `kid`, when the key has one.
    pub kid: Option<String>,
    /// `alg`, when the key is restricted to one algorithm.
    pub alg: Option<Alg>,
    pub(crate) material: KeyMaterial,
}

#[derive(Debug, Clone)]
pub(crate) enum KeyMaterial {
    Rsa(rsa::PublicKey),
    EcP256(p256::ecdsa::VerifyingKey),
}

impl Jwk {
    pub(crate) fn family(&self) -> KeyFamily {
        match self.material {
            KeyMaterial::Rsa(_) => KeyFamily::Rsa,
            KeyMaterial::EcP256(_) => KeyFamily::EcP256,
        }
    }

    /// Whether this key may verify a signature made with `alg`: the key type fits and the key's own `alg`,
    /// if any, is the same.
    pub fn fits(&self, alg: Alg) -> bool {
        self.family() == alg.key_family() && self.alg.is_none_or(|a| a == alg)
    }
}

/// A key of the document that was not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Its position in `keys`.
    pub index: usize,
    /// Its `kid`, when it has a string one.
    pub kid: Option<String>,
    /// Why: `not_an_object`, `not_for_signing`, `unsupported_kty`, `unsupported_crv`, `unsupported_alg`,
    /// `alg_kty_mismatch`, `bad_member`, `rsa_key_too_small`, `rsa_key_too_large`, `invalid_key`,
    /// `too_many_keys`.
    pub reason: &'static str,
}

/// An issuer's verification keys.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
    skipped: Vec<SkippedKey>,
}

/// A JWKS document that cannot be used at all (not JSON, no `keys` array, too large).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksError(pub &'static str);

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the JWKS is not valid: {}", self.0)
    }
}

impl std::error::Error for JwksError {}

impl Jwks {
    /// Parses a JWKS document `{"keys":[...]}`. Keeps RSA keys (`n`, `e`, at least 2048 bits) and EC P-256
    /// keys (`crv`, `x`, `y`) whose `use`, if present, is `sig` and whose `key_ops`, if present, include
    /// `verify`; skips the others (see [`Jwks::skipped`]). An empty or fully skipped set is not an error here:
    /// every token then fails with `unknown_kid` / `no_matching_key`.
    pub fn parse(document: &[u8]) -> Result<Jwks, JwksError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(JwksError("the document is larger than 256 KiB"));
        }
        let value: Value =
            serde_json::from_slice(document).map_err(|_| JwksError("the document is not JSON"))?;
        let entries = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksError(
                "the document is not an object with a \"keys\" array",
            ))?;
        let mut jwks = Jwks::default();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_string);
            let outcome = if jwks.keys.len() >= MAX_JWKS_KEYS {
                Err("too_many_keys")
            } else {
                entry.as_object().ok_or("not_an_object").and_then(parse_key)
            };
            match outcome {
                Ok((alg, material)) => jwks.keys.push(Jwk { kid, alg, material }),
                Err(reason) => jwks.skipped.push(SkippedKey { index, kid, reason }),
            }
        }
        Ok(jwks)
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The keys of the document that were not kept.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

type Parsed = (Option<Alg>, KeyMaterial);

fn parse_key(key: &Map<String, Value>) -> Result<Parsed, &'static str> {
    match key.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(Value::String(_)) => return Err("not_for_signing"),
        Some(_) => return Err("bad_member"),
    }
    match key.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|op| op.as_str() == Some("verify")) => {}
        Some(Value::Array(_)) => return Err("not_for_signing"),
        Some(_) => return Err("bad_member"),
    }
    let alg = match key.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(a.parse::<Alg>().map_err(|_| "unsupported_alg")?),
        Some(_) => return Err("bad_member"),
    };
    let material = match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => rsa_key(key)?,
        Some("EC") => ec_key(key)?,
        Some(_) => return Err("unsupported_kty"),
        None => return Err("bad_member"),
    };
    let family = match material {
        KeyMaterial::Rsa(_) => KeyFamily::Rsa,
        KeyMaterial::EcP256(_) => KeyFamily::EcP256,
    };
    if alg.is_some_and(|a| a.key_family() != family) {
        return Err("alg_kty_mismatch");
    }
    Ok((alg, material))
}

fn member_bytes(key: &Map<String, Value>, name: &str) -> Result<Vec<u8>, &'static str> {
    key.get(name)
        .and_then(Value::as_str)
        .and_then(|s| Base64UrlUnpadded::decode_vec(s).ok())
        .ok_or("bad_member")
}

fn rsa_key(key: &Map<String, Value>) -> Result<KeyMaterial, &'static str> {
    let n = member_bytes(key, "n")?;
    let e = member_bytes(key, "e")?;
    // RFC 7518 §6.3.1.1 forbids leading zero octets; tolerate them rather than mis-size the key.
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    if n.is_empty() || e.is_empty() || e.len() > 8 {
        return Err("invalid_key");
    }
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err("rsa_key_too_small");
    }
    if bits > MAX_RSA_BITS {
        return Err("rsa_key_too_large");
    }
    let n = BoxedUint::from_be_slice_vartime(n);
    let e = BoxedUint::from_be_slice_vartime(e);
    rsa::PublicKey::new_with_size_limits(n, e, MIN_RSA_BITS..=MAX_RSA_BITS)
        .map(KeyMaterial::Rsa)
        .map_err(|_| "invalid_key")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn ec_key(key: &Map<String, Value>) -> Result<KeyMaterial, &'static str> {
    if key.get("crv").and_then(Value::as_str) != Some("P-256") {
        return Err("unsupported_crv");
    }
    let x = member_bytes(key, "x")?;
    let y = member_bytes(key, "y")?;
    if x.len() != 32 || y.len() != 32 {
        return Err("invalid_key");
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
        .map(KeyMaterial::EcP256)
        .map_err(|_| "invalid_key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::fixtures::{self, Key};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn reasons(jwks: &Jwks) -> Vec<&'static str> {
        jwks.skipped().iter().map(|s| s.reason).collect()
    }

    #[test]
    fn parses_rsa_and_ec_keys_with_kid_and_alg() {
        let doc = fixtures::jwks_json(&[
            fixtures::jwk(Key::RsaA, "rsa-a", Some("PS256")),
            fixtures::jwk(Key::EcA, "ec-a", None),
        ]);
        let jwks = Jwks::parse(doc.as_bytes()).unwrap();
        assert_eq!(jwks.len(), 2);
        assert!(jwks.skipped().is_empty());
        let rsa = &jwks.keys()[0];
        assert_eq!(rsa.kid.as_deref(), Some("rsa-a"));
        assert_eq!(rsa.alg, Some(Alg::PS256));
        assert!(rsa.fits(Alg::PS256) && !rsa.fits(Alg::RS256) && !rsa.fits(Alg::ES256));
        let ec = &jwks.keys()[1];
        assert_eq!(ec.kid.as_deref(), Some("ec-a"));
        assert!(ec.fits(Alg::ES256) && !ec.fits(Alg::PS256));
    }

    #[test]
    fn malformed_jwks_is_an_error() {
        for doc in [
            "",
            "nope",
            "[]",
            "{}",
            r#"{"keys":{}}"#,
            r#"{"keys":"x"}"#,
            "{\"keys\":[",
        ] {
            assert!(Jwks::parse(doc.as_bytes()).is_err(), "{doc:?}");
        }
        let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "a".repeat(MAX_JWKS_BYTES));
        assert!(Jwks::parse(big.as_bytes()).is_err());
        assert!(Jwks::parse(br#"{"keys":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn unusable_keys_are_skipped_and_counted() {
        let rsa = fixtures::jwk(Key::RsaA, "rsa-a", None);
        let with = |extra: &str| {
            let mut k: Value = serde_json::from_str(&rsa).unwrap();
            let patch: Map<String, Value> = serde_json::from_str(extra).unwrap();
            k.as_object_mut().unwrap().extend(patch);
            k.to_string()
        };
        let ec = fixtures::jwk(Key::EcA, "ec-a", None);
        let ec_other_curve = ec.replace("P-256", "P-384");
        let doc = fixtures::jwks_json(&[
            rsa.clone(),
            with(r#"{"use":"enc","kid":"enc"}"#),
            with(r#"{"key_ops":["encrypt"]}"#),
            with(r#"{"alg":"RSA-OAEP"}"#),
            with(r#"{"alg":"ES256"}"#),
            with(r#"{"n":"not base64!"}"#),
            with(r#"{"e":7}"#),
            with(r#"{"n":"AQAB"}"#),
            r#"{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}"#.to_string(),
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
                .to_string(),
            ec_other_curve,
            ec.replace("\"x\":\"", "\"x\":\"AA"),
            "42".to_string(),
            r#"{"kid":"no-kty"}"#.to_string(),
            with(r#"{"use":"sig","key_ops":["verify"]}"#),
        ]);
        let jwks = Jwks::parse(doc.as_bytes()).unwrap();
        assert_eq!(jwks.len(), 2, "{:?}", jwks.skipped());
        assert_eq!(
            reasons(&jwks),
            [
                "not_for_signing",
                "not_for_signing",
                "unsupported_alg",
                "alg_kty_mismatch",
                "bad_member",
                "bad_member",
                "rsa_key_too_small",
                "unsupported_kty",
                "unsupported_kty",
                "unsupported_crv",
                "bad_member",
                "not_an_object",
                "bad_member",
            ]
        );
        assert_eq!(jwks.skipped()[0].kid.as_deref(), Some("enc"));
        assert_eq!(jwks.skipped()[11].index, 12);
    }

    #[test]
    fn small_rsa_key_is_refused() {
        let doc = fixtures::jwks_json(&[fixtures::jwk(Key::RsaSmall, "small", None)]);
        let jwks = Jwks::parse(doc.as_bytes()).unwrap();
        assert!(jwks.is_empty());
        assert_eq!(reasons(&jwks), ["rsa_key_too_small"]);
    }

    #[test]
    fn invalid_key_material_is_skipped() {
        let rsa = fixtures::jwk(Key::RsaA, "rsa-a", None);
        let even_n = {
            let mut k: Value = serde_json::from_str(&rsa).unwrap();
            let mut n = Base64UrlUnpadded::decode_vec(k["n"].as_str().unwrap()).unwrap();
            *n.last_mut().unwrap() &= 0xfe;
            k["n"] = Value::String(Base64UrlUnpadded::encode_string(&n));
            k.to_string()
        };
        let zero_e = rsa.replace("\"e\":\"AQAB\"", "\"e\":\"AA\"");
        let huge_e = rsa.replace("\"e\":\"AQAB\"", "\"e\":\"AQEBAQEBAQEBAQ\"");
        let ec_off_curve = {
            let mut k: Value = serde_json::from_str(&fixtures::jwk(Key::EcA, "ec", None)).unwrap();
            k["y"] = Value::String(Base64UrlUnpadded::encode_string(&[1u8; 32]));
            k.to_string()
        };
        let doc = fixtures::jwks_json(&[even_n, zero_e, huge_e, ec_off_curve]);
        let jwks = Jwks::parse(doc.as_bytes()).unwrap();
        assert!(jwks.is_empty());
        assert_eq!(reasons(&jwks), ["invalid_key"; 4]);
    }

    #[test]
    fn key_count_is_bounded() {
        let ec = fixtures::jwk(Key::EcA, "ec", None);
        let doc = fixtures::jwks_json(&vec![ec; MAX_JWKS_KEYS + 3]);
        let jwks = Jwks::parse(doc.as_bytes()).unwrap();
        assert_eq!(jwks.len(), MAX_JWKS_KEYS);
        assert_eq!(reasons(&jwks), ["too_many_keys"; 3]);
    }
}
