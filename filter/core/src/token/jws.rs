//! JWS compact serialisation (RFC 7515 §7.1) of an access token: `header.payload.signature`, each part
//! base64url without padding.
//!
//! Parsing yields the header fields this gateway acts on and the payload as [`Unverified`] claims: the only
//! thing readable from them before the signature is checked is `iss`, to select the issuer. Header
//! parameters that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are never read: keys come only from the
//! issuer's configured JWKS.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{printable, TokenError};
use super::policy::Alg;

/// Largest token accepted, in bytes. WSO2 IS application tokens are about 1–2 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The parts of a compact JWS that verification needs.
#[derive(Debug)]
pub(crate) struct CompactJws<'t> {
    pub alg: Alg,
    pub kid: Option<String>,
    /// The claims, not yet trusted.
    pub claims: Unverified,
    /// `base64url(header) '.' base64url(payload)`: what was signed.
    pub signing_input: &'t str,
    pub signature: Vec<u8>,
}

/// Claims whose signature has not been checked yet. Only `iss` can be read, to pick the issuer; the map
/// itself is released by [`Unverified::into_verified`], which the verifier calls after the signature check.
#[derive(Debug)]
pub(crate) struct Unverified(Map<String, Value>);

impl Unverified {
    /// The `iss` claim, for selecting the issuer policy and keys. Not to be trusted by itself.
    pub fn issuer_hint(&self) -> Option<&str> {
        self.0.get("iss").and_then(Value::as_str)
    }

    /// The claims, once the signature over them has verified.
    pub fn into_verified(self) -> Map<String, Value> {
        self.0
    }
}

/// The JOSE header members this gateway reads. serde rejects a member given twice; every other member
/// (`typ`, `x5t`, `jku`, `jwk`, `x5c`, `x5u`, ...) is ignored.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Present at all (even `null` or `[]`) counts: no critical extension is understood.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// Decodes base64url without padding, strictly (no `=`, no whitespace, no non-zero trailing bits).
pub(crate) fn b64url_decode(part: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(part).ok()
}

/// Splits and decodes a compact JWS. Refuses a token over [`MAX_TOKEN_BYTES`], anything but three parts,
/// bad base64url, a header or payload that is not a JSON object, `crit`, and any `alg` outside
/// PS256/RS256/ES256 (so `none` and HMAC never get further).
pub(crate) fn parse(token: &str) -> Result<CompactJws<'_>, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "a JWS compact serialisation has three dot-separated parts",
        ));
    };
    let header_bytes =
        b64url_decode(header_b64).ok_or(TokenError::Malformed("the header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&header_bytes)
        .map_err(|_| TokenError::Malformed("the header is not a JSON object with an alg"))?;
    if header.crit {
        return Err(TokenError::CritUnsupported);
    }
    let alg: Alg = header
        .alg
        .parse()
        .map_err(|_| TokenError::AlgNotAllowed(printable(&header.alg)))?;
    let payload_bytes =
        b64url_decode(payload_b64).ok_or(TokenError::Malformed("the payload is not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload_bytes)
        .map_err(|_| TokenError::Malformed("the payload is not a JSON object"))?;
    let signature = b64url_decode(signature_b64)
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::Malformed(
            "the signature is empty or not base64url",
        ))?;
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(TokenError::Malformed("the token is not ASCII"))?;
    Ok(CompactJws {
        alg,
        kid: header.kid,
        claims: Unverified(claims),
        signing_input,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn b64(s: &str) -> String {
        Base64UrlUnpadded::encode_string(s.as_bytes())
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    fn reason(t: &str) -> &'static str {
        parse(t).unwrap_err().reason()
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(
            r#"{"alg":"PS256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"i"}"#,
        );
        let jws = parse(&t).unwrap();
        assert_eq!(jws.alg, Alg::PS256);
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.claims.issuer_hint(), Some("i"));
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.signing_input, &t[..t.rfind('.').unwrap()]);
    }

    #[test]
    fn empty_token_is_missing() {
        assert_eq!(reason(""), "missing");
    }

    #[test]
    fn oversized_token_is_refused() {
        let t = token(
            r#"{"alg":"PS256"}"#,
            &format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_TOKEN_BYTES)),
        );
        assert_eq!(reason(&t), "too_large");
    }

    #[test]
    fn garbage_is_malformed() {
        for t in [
            "garbage",
            "....",
            "a.b.c",
            "\u{e9}.\u{e9}.\u{e9}",
            " . . ",
            "Bearer x.y.z",
        ] {
            assert_eq!(reason(t), "malformed", "{t:?}");
        }
    }

    #[test]
    fn wrong_part_count_is_malformed() {
        let good = token(r#"{"alg":"PS256"}"#, "{}");
        let two = good.rsplit_once('.').unwrap().0.to_string();
        let four = format!("{good}.{}", b64("x"));
        let five = format!("{good}..");
        for t in [two, four, five] {
            assert_eq!(reason(&t), "malformed", "{t:?}");
        }
    }

    #[test]
    fn bad_base64_is_malformed() {
        let h = b64(r#"{"alg":"PS256"}"#);
        let p = b64("{}");
        for t in [
            format!("{h}=.{p}.c2ln"),  // padding
            format!("{h}.{p}.c2ln=="), // padding on the signature
            format!("{h}.{p}+.c2ln"),  // standard (not url) alphabet
            format!("{h}.{p}.c2l/"),   // standard alphabet
            format!("{h}.{p} .c2ln"),  // whitespace
            format!("{h}.{p}.c2l"),    // non-zero trailing bits ("si" is c2k)
            format!("{h}.{p}.c"),      // impossible length
            format!("{h}.{p}."),       // empty signature
        ] {
            assert_eq!(reason(&t), "malformed", "{t:?}");
        }
    }

    #[test]
    fn header_and_payload_must_be_json_objects() {
        for (h, p) in [
            ("[1]", "{}"),
            (r#"{"alg":"PS256"}"#, "[]"),
            (r#"{"alg":"PS256"}"#, "\"x\""),
            (r#"{"alg":"PS256"}"#, "{"),
            ("{}", "{}"),                               // no alg
            (r#"{"alg":256}"#, "{}"),                   // alg not a string
            (r#"{"alg":"PS256","kid":7}"#, "{}"),       // kid not a string
            (r#"{"alg":"PS256","alg":"ES256"}"#, "{}"), // duplicate member
        ] {
            assert_eq!(reason(&token(h, p)), "malformed", "{h} {p}");
        }
    }

    #[test]
    fn alg_none_and_hmac_and_unknown_are_refused() {
        for alg in [
            "none", "None", "HS256", "HS384", "HS512", "RS512", "ps256", "",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert_eq!(reason(&t), "alg_not_allowed", "{alg}");
        }
        // `alg: none` with the usual empty signature is refused for its alg, not its shape.
        let t = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"));
        assert_eq!(reason(&t), "alg_not_allowed");
    }

    #[test]
    fn crit_present_is_refused() {
        for crit in [r#"["exp"]"#, "[]", "null", r#""b64""#] {
            let t = token(&format!(r#"{{"alg":"PS256","crit":{crit}}}"#), "{}");
            assert_eq!(reason(&t), "crit_unsupported", "{crit}");
        }
    }

    #[test]
    fn error_messages_never_contain_the_token() {
        let t = token(r#"{"alg":"HS256"}"#, r#"{"secret":"do-not-log"}"#);
        let msg = parse(&t).unwrap_err().to_string();
        assert!(
            !msg.contains(&t[..10]) && !msg.contains("do-not-log"),
            "{msg}"
        );
    }
}
