//! End-to-end rules of [`verify`]: real signatures made with the fixture keys, each refusal asserted by its
//! reason.

use base64ct::Encoding as _;
use serde_json::{json, Value};

use super::fixtures::{self, app_claims, b64, sign, sign_hs256, Key, ISSUER, NOW};
use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

struct Issuer {
    policy: IssuerPolicy,
    jwks: Jwks,
}

impl Issuer {
    fn new(policy: IssuerPolicy, keys: &[String]) -> Issuer {
        let jwks = Jwks::parse(fixtures::jwks_json(keys).as_bytes()).unwrap();
        Issuer { policy, jwks }
    }

    /// The issuer's RSA key `rsa-a` and EC key `ec-a`, default policy (PS256, ES256).
    fn standard() -> Issuer {
        Issuer::with_policy(IssuerPolicy::new(ISSUER))
    }

    fn with_policy(policy: IssuerPolicy) -> Issuer {
        Issuer::new(
            policy,
            &[
                fixtures::jwk(Key::RsaA, "rsa-a", None),
                fixtures::jwk(Key::EcA, "ec-a", None),
            ],
        )
    }

    fn verify_at(&self, token: &str, now: u64) -> Result<VerifiedToken, TokenError> {
        verify(token, now, |iss| {
            (iss == self.policy.issuer).then_some((&self.policy, &self.jwks))
        })
    }

    fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        self.verify_at(token, NOW)
    }

    fn reason(&self, token: &str) -> &'static str {
        let err = self.verify(token).unwrap_err();
        let message = err.to_string();
        assert!(
            token.is_empty() || !message.contains(token),
            "the message contains the token: {message}"
        );
        if let Some(sig) = token.rsplit('.').next().filter(|s| s.len() > 8) {
            assert!(
                !message.contains(sig),
                "the message contains the signature: {message}"
            );
        }
        err.reason()
    }
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": "JWT", "x5t": "Zm9v"})
}

fn ps256(claims: &Value) -> String {
    sign(&header("PS256", "rsa-a"), claims, Key::RsaA)
}

fn with(claims: Value, patch: Value) -> Value {
    let mut c = claims;
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn flip(token: &str, index: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    // Stay in the base64url alphabet: swap between two letters.
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

// ---- the happy paths, one per algorithm ----

#[test]
fn ps256_token_verifies_and_yields_the_identity() {
    let v = Issuer::standard().verify(&ps256(&app_claims())).unwrap();
    assert_eq!(v.issuer, ISSUER);
    assert_eq!(v.consumer_key, "9DkUjLZ5Vf3cF1qPzY7pPqE2dOsa");
    assert_eq!(
        v.scopes,
        ["eventpolling".to_string(), "openid".to_string()].into()
    );
    assert_eq!(
        v.x5t_s256.as_deref(),
        Some("k0p--ML7w1Bvx4fTZNCMWJLWyEeZNtSBnF4iSHJTN7E")
    );
    assert_eq!(v.expires_at, NOW + 3600);
    assert_eq!(v.subject.as_deref(), Some("admin@wso2.com@carbon.super"));
    assert_eq!(
        v.token_id.as_deref(),
        Some("0b1c8f44-8a4e-4c53-a2d3-3b0c2e5b7d7e")
    );
    assert_eq!(v.alg, Alg::PS256);
    assert_eq!(v.key_id.as_deref(), Some("rsa-a"));
}

#[test]
fn es256_token_verifies() {
    let t = sign(&header("ES256", "ec-a"), &app_claims(), Key::EcA);
    let v = Issuer::standard().verify(&t).unwrap();
    assert_eq!((v.alg, v.key_id.as_deref()), (Alg::ES256, Some("ec-a")));
}

#[test]
fn rs256_refused_unless_allowed() {
    let t = sign(&header("RS256", "rsa-a"), &app_claims(), Key::RsaA);
    assert_eq!(Issuer::standard().reason(&t), "alg_not_allowed");

    let mut policy = IssuerPolicy::new(ISSUER);
    policy.algorithms.push(Alg::RS256);
    let v = Issuer::with_policy(policy).verify(&t).unwrap();
    assert_eq!(v.alg, Alg::RS256);
}

#[test]
fn ps256_refused_when_only_es256_allowed() {
    let mut policy = IssuerPolicy::new(ISSUER);
    policy.algorithms = vec![Alg::ES256];
    assert_eq!(
        Issuer::with_policy(policy).reason(&ps256(&app_claims())),
        "alg_not_allowed"
    );
}

// ---- shape ----

#[test]
fn no_token_is_missing() {
    assert_eq!(bearer_token(None), Err(TokenError::Missing));
    for h in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearertoken"] {
        assert_eq!(bearer_token(Some(h)), Err(TokenError::Missing), "{h:?}");
    }
    assert_eq!(bearer_token(Some("Bearer a.b.c")), Ok("a.b.c"));
    assert_eq!(bearer_token(Some("bearer  a.b.c ")), Ok("a.b.c"));
    assert_eq!(Issuer::standard().reason(""), "missing");
}

#[test]
fn garbage_is_malformed() {
    let iss = Issuer::standard();
    for t in ["garbage", "not.a.jwt", "{}.{}.{}", "\u{0}\u{1}.\u{2}.\u{3}"] {
        assert_eq!(iss.reason(t), "malformed", "{t:?}");
    }
}

#[test]
fn wrong_part_count_is_malformed() {
    let t = ps256(&app_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    let iss = Issuer::standard();
    assert_eq!(iss.reason(input), "malformed");
    assert_eq!(iss.reason(&format!("{t}.")), "malformed");
    assert_eq!(iss.reason(&format!("{t}.{}", b64(b"x"))), "malformed");
}

#[test]
fn bad_base64_is_malformed() {
    let t = ps256(&app_claims());
    let iss = Issuer::standard();
    assert_eq!(iss.reason(&format!("{t}=")), "malformed");
    assert_eq!(iss.reason(&t.replacen('.', "=.", 1)), "malformed");
    assert_eq!(iss.reason(&format!("{t}+")), "malformed");
    let (input, sig) = t.rsplit_once('.').unwrap();
    assert_eq!(
        iss.reason(&format!("{input}.{}", sig.replace('-', "+"))),
        "malformed"
    );
}

#[test]
fn oversized_token_is_refused() {
    let claims = with(app_claims(), json!({"pad": "x".repeat(MAX_TOKEN_BYTES)}));
    assert_eq!(Issuer::standard().reason(&ps256(&claims)), "too_large");
}

// ---- signature ----

#[test]
fn one_flipped_byte_is_a_bad_signature() {
    let t = ps256(&app_claims());
    let iss = Issuer::standard();
    let sig_start = t.rfind('.').unwrap() + 1;
    for i in [sig_start, sig_start + 100, t.len() - 2] {
        assert_eq!(iss.reason(&flip(&t, i)), "bad_signature", "byte {i}");
    }
    // In the payload, the claims change (still JSON here): the signature no longer matches them.
    let claims = with(app_claims(), json!({"scope": "eventpolling accounts"}));
    let (_, forged_payload, _) = {
        let f = ps256(&claims);
        let mut p = f.split('.').map(str::to_string).collect::<Vec<_>>();
        (p.remove(0), p.remove(0), ())
    };
    let mut parts: Vec<&str> = t.split('.').collect();
    parts[1] = &forged_payload;
    assert_eq!(iss.reason(&parts.join(".")), "bad_signature");
}

#[test]
fn signature_by_another_key_is_bad() {
    let t = sign(&header("PS256", "rsa-a"), &app_claims(), Key::RsaB);
    assert_eq!(Issuer::standard().reason(&t), "bad_signature");
    let t = sign(&header("ES256", "ec-a"), &app_claims(), Key::EcB);
    assert_eq!(Issuer::standard().reason(&t), "bad_signature");
}

#[test]
fn rs256_signature_under_a_ps256_header_is_bad() {
    let h = header("PS256", "rsa-a");
    let input = format!(
        "{}.{}",
        b64(h.to_string().as_bytes()),
        b64(app_claims().to_string().as_bytes())
    );
    let sig = fixtures::signature("RS256", Key::RsaA, input.as_bytes());
    assert_eq!(
        Issuer::standard().reason(&format!("{input}.{}", b64(&sig))),
        "bad_signature"
    );
}

#[test]
fn es256_der_or_short_signature_is_bad() {
    let t = sign(&header("ES256", "ec-a"), &app_claims(), Key::EcA);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw = base64ct::Base64UrlUnpadded::decode_vec(sig).unwrap();
    let iss = Issuer::standard();
    // DER encoding of the same (r, s).
    let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    assert_eq!(
        iss.reason(&format!("{input}.{}", b64(der.as_bytes()))),
        "bad_signature"
    );
    assert_eq!(
        iss.reason(&format!("{input}.{}", b64(&raw[..63]))),
        "bad_signature"
    );
    assert_eq!(
        iss.reason(&format!("{input}.{}", b64(&[0u8; 64]))),
        "bad_signature"
    );
}

#[test]
fn truncated_rsa_signature_is_bad() {
    let t = ps256(&app_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw = base64ct::Base64UrlUnpadded::decode_vec(sig).unwrap();
    let iss = Issuer::standard();
    assert_eq!(
        iss.reason(&format!("{input}.{}", b64(&raw[1..]))),
        "bad_signature"
    );
    assert_eq!(
        iss.reason(&format!("{input}.{}", b64(&[0xff; 256]))),
        "bad_signature"
    );
}

// ---- header rules ----

#[test]
fn alg_none_is_refused() {
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"none","kid":"rsa-a"}"#),
        b64(app_claims().to_string().as_bytes())
    );
    let iss = Issuer::standard();
    assert_eq!(iss.reason(&format!("{input}.")), "alg_not_allowed");
    assert_eq!(
        iss.reason(&format!("{input}.{}", b64(b"x"))),
        "alg_not_allowed"
    );
}

#[test]
fn hs256_with_the_rsa_public_key_as_secret_is_refused() {
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let public = rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&fixtures::rsa_modulus(Key::RsaA)),
        rsa::BoxedUint::from(65537u64),
    )
    .unwrap();
    let der = public.to_public_key_der().unwrap();
    let pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let jwk = fixtures::jwk(Key::RsaA, "rsa-a", None);
    let iss = Issuer::standard();
    let mut policy = IssuerPolicy::new(ISSUER);
    policy.algorithms = vec![Alg::PS256, Alg::RS256, Alg::ES256];
    let permissive = Issuer::with_policy(policy);
    for secret in [
        der.as_bytes().to_vec(),
        pem.as_bytes().to_vec(),
        fixtures::rsa_modulus(Key::RsaA),
        jwk.into_bytes(),
    ] {
        for alg in ["HS256", "HS384", "HS512"] {
            let t = sign_hs256(&header(alg, "rsa-a"), &app_claims(), &secret);
            assert_eq!(iss.reason(&t), "alg_not_allowed", "{alg}");
            assert_eq!(permissive.reason(&t), "alg_not_allowed", "{alg}");
        }
    }
}

#[test]
fn ec_key_with_a_ps256_header_is_an_alg_key_mismatch() {
    // Signed by the RSA key, but the kid names the EC key: the key type decides, not the signature.
    let t = sign(&header("PS256", "ec-a"), &app_claims(), Key::RsaA);
    assert_eq!(Issuer::standard().reason(&t), "alg_key_mismatch");
    let t = sign(&header("ES256", "rsa-a"), &app_claims(), Key::EcA);
    assert_eq!(Issuer::standard().reason(&t), "alg_key_mismatch");
}

#[test]
fn key_restricted_to_another_alg_is_a_mismatch() {
    let mut policy = IssuerPolicy::new(ISSUER);
    policy.algorithms.push(Alg::RS256);
    let iss = Issuer::new(policy, &[fixtures::jwk(Key::RsaA, "rsa-a", Some("RS256"))]);
    assert_eq!(iss.reason(&ps256(&app_claims())), "alg_key_mismatch");
    let t = sign(&header("RS256", "rsa-a"), &app_claims(), Key::RsaA);
    assert!(iss.verify(&t).is_ok());
}

#[test]
fn crit_present_is_refused() {
    let mut h = header("PS256", "rsa-a");
    h["crit"] = json!(["exp"]);
    h["exp"] = json!(NOW + 10);
    assert_eq!(
        Issuer::standard().reason(&sign(&h, &app_claims(), Key::RsaA)),
        "crit_unsupported"
    );
}

#[test]
fn unknown_kid_asks_for_a_key_refresh() {
    let t = sign(&header("PS256", "rotated-key"), &app_claims(), Key::RsaA);
    let err = Issuer::standard().verify(&t).unwrap_err();
    assert_eq!(err.reason(), "unknown_kid");
    assert!(err.needs_key_refresh() && !err.is_forbidden());
    assert!(err.to_string().contains("rotated-key"));
}

#[test]
fn embedded_keys_in_the_header_are_never_used() {
    // The attacker signs with their own key and embeds it (jwk), points at it (jku, x5u), or ships a
    // certificate chain (x5c). Only the issuer's JWKS counts.
    let attacker_jwk = fixtures::jwk_value(Key::RsaB, "attacker", None);
    let iss = Issuer::standard();
    for kid in [Some("rsa-a"), None, Some("attacker")] {
        let mut h = json!({
            "alg": "PS256",
            "jwk": attacker_jwk,
            "jku": "https://attacker.example/jwks.json",
            "x5u": "https://attacker.example/cert.pem",
            "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
        });
        if let Some(kid) = kid {
            h["kid"] = json!(kid);
        }
        let t = sign(&h, &app_claims(), Key::RsaB);
        let expected = if kid == Some("attacker") {
            "unknown_kid"
        } else {
            "bad_signature"
        };
        assert_eq!(iss.reason(&t), expected, "kid {kid:?}");
    }
    // Same header, signed by the issuer's key: the extra members are ignored, the token is fine.
    let h = json!({"alg": "PS256", "kid": "rsa-a", "jwk": attacker_jwk, "jku": "https://attacker.example/"});
    assert!(iss.verify(&sign(&h, &app_claims(), Key::RsaA)).is_ok());
}

#[test]
fn without_kid_each_fitting_key_is_tried() {
    let iss = Issuer::new(
        IssuerPolicy::new(ISSUER),
        &[
            fixtures::jwk(Key::EcA, "ec-a", None),
            fixtures::jwk(Key::RsaB, "rsa-b", None),
            fixtures::jwk(Key::RsaA, "rsa-a", None),
        ],
    );
    let v = iss
        .verify(&sign(&json!({"alg": "PS256"}), &app_claims(), Key::RsaA))
        .unwrap();
    assert_eq!(v.key_id.as_deref(), Some("rsa-a"));
    let v = iss
        .verify(&sign(&json!({"alg": "ES256"}), &app_claims(), Key::EcA))
        .unwrap();
    assert_eq!(v.key_id.as_deref(), Some("ec-a"));
    let t = sign(&json!({"alg": "ES256"}), &app_claims(), Key::EcB);
    assert_eq!(iss.reason(&t), "bad_signature");
}

#[test]
fn without_kid_and_no_fitting_key_is_no_matching_key() {
    let iss = Issuer::new(
        IssuerPolicy::new(ISSUER),
        &[fixtures::jwk(Key::RsaA, "rsa-a", None)],
    );
    let t = sign(&json!({"alg": "ES256"}), &app_claims(), Key::EcA);
    let err = iss.verify(&t).unwrap_err();
    assert_eq!(err.reason(), "no_matching_key");
    assert!(err.needs_key_refresh());
}

#[test]
fn small_rsa_key_in_the_jwks_is_never_used() {
    let iss = Issuer::new(
        IssuerPolicy::new(ISSUER),
        &[fixtures::jwk(Key::RsaSmall, "small", None)],
    );
    assert_eq!(iss.jwks.skipped().len(), 1);
    let t = sign(&header("PS256", "small"), &app_claims(), Key::RsaSmall);
    assert_eq!(iss.reason(&t), "unknown_kid");
    let t = sign(&json!({"alg": "PS256"}), &app_claims(), Key::RsaSmall);
    assert_eq!(iss.reason(&t), "no_matching_key");
}

// ---- issuer ----

#[test]
fn wrong_or_missing_iss_is_an_unknown_issuer() {
    let iss = Issuer::standard();
    let claims = with(
        app_claims(),
        json!({"iss": "https://evil.example/oauth2/token"}),
    );
    assert_eq!(iss.reason(&ps256(&claims)), "unknown_issuer");
    let claims = with(app_claims(), json!({"iss": format!("{ISSUER}/")}));
    assert_eq!(iss.reason(&ps256(&claims)), "unknown_issuer");
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"iss": null})))),
        "unknown_issuer"
    );
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"iss": 7})))),
        "unknown_issuer"
    );
}

#[test]
fn issuer_policy_for_another_iss_is_a_wrong_issuer() {
    // A lookup that maps an alias to the policy: the claim must still equal the policy's issuer.
    let iss = Issuer::standard();
    let claims = with(app_claims(), json!({"iss": "alias"}));
    let err = verify(&ps256(&claims), NOW, |_| Some((&iss.policy, &iss.jwks))).unwrap_err();
    assert_eq!(err.reason(), "wrong_issuer");
}

// ---- time ----

#[test]
fn expired_token_is_refused() {
    let iss = Issuer::standard();
    let t = ps256(&app_claims());
    let exp = NOW + 3600;
    assert!(iss.verify_at(&t, exp).is_ok(), "within the skew");
    assert!(iss.verify_at(&t, exp + 59).is_ok(), "within the skew");
    assert_eq!(iss.verify_at(&t, exp + 60).unwrap_err().reason(), "expired");
    assert_eq!(iss.verify_at(&t, u64::MAX).unwrap_err().reason(), "expired");

    let mut strict = IssuerPolicy::new(ISSUER);
    strict.clock_skew_secs = 0;
    assert_eq!(
        Issuer::with_policy(strict)
            .verify_at(&t, exp)
            .unwrap_err()
            .reason(),
        "expired"
    );
}

#[test]
fn missing_or_invalid_exp_is_refused() {
    let iss = Issuer::standard();
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"exp": null})))),
        "missing_exp"
    );
    for exp in [json!("1900000000"), json!(-1), json!(true), json!([1])] {
        let t = ps256(&with(app_claims(), json!({ "exp": exp })));
        assert_eq!(iss.reason(&t), "invalid_claim", "{exp}");
    }
    let v = iss
        .verify(&ps256(&with(
            app_claims(),
            json!({"exp": (NOW + 100) as f64 + 0.9}),
        )))
        .unwrap();
    assert_eq!(v.expires_at, NOW + 100);
}

#[test]
fn nbf_in_the_future_is_refused() {
    let iss = Issuer::standard();
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"nbf": NOW + 61})))),
        "not_yet_valid"
    );
    assert!(iss
        .verify(&ps256(&with(app_claims(), json!({"nbf": NOW + 60}))))
        .is_ok());
    assert!(iss
        .verify(&ps256(&with(app_claims(), json!({"nbf": null}))))
        .is_ok());
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"nbf": "0"})))),
        "invalid_claim"
    );
}

#[test]
fn iat_in_the_future_is_refused() {
    let iss = Issuer::standard();
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"iat": NOW + 61})))),
        "issued_in_future"
    );
    assert!(iss
        .verify(&ps256(&with(app_claims(), json!({"iat": NOW + 60}))))
        .is_ok());
    assert!(iss
        .verify(&ps256(&with(app_claims(), json!({"iat": null}))))
        .is_ok());
}

// ---- audience ----

#[test]
fn wrong_aud_is_refused_when_audiences_are_configured() {
    let mut policy = IssuerPolicy::new(ISSUER);
    policy.audiences = vec!["https://gateway.bank.example".into(), "other".into()];
    let iss = Issuer::with_policy(policy);
    assert_eq!(iss.reason(&ps256(&app_claims())), "wrong_audience");
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"aud": null})))),
        "wrong_audience"
    );
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"aud": ["a", 1]})))),
        "wrong_audience"
    );
    let t = ps256(&with(
        app_claims(),
        json!({"aud": "https://gateway.bank.example"}),
    ));
    assert!(iss.verify(&t).is_ok());
    let t = ps256(&with(app_claims(), json!({"aud": ["x", "other"]})));
    assert!(iss.verify(&t).is_ok());
}

#[test]
fn aud_is_ignored_when_no_audience_is_configured() {
    let iss = Issuer::standard();
    for aud in [json!("anything"), json!(["a", "b"]), json!(null), json!(42)] {
        assert!(
            iss.verify(&ps256(&with(app_claims(), json!({ "aud": aud }))))
                .is_ok(),
            "{aud}"
        );
    }
}

// ---- application token, consumer key ----

#[test]
fn application_user_token_is_forbidden() {
    let iss = Issuer::standard();
    let err = iss
        .verify(&ps256(&with(
            app_claims(),
            json!({"aut": "APPLICATION_USER"}),
        )))
        .unwrap_err();
    assert_eq!(err.reason(), "not_application_token");
    assert!(err.is_forbidden());
    for aut in [json!(null), json!("application"), json!("")] {
        let t = ps256(&with(app_claims(), json!({ "aut": aut })));
        assert_eq!(iss.reason(&t), "not_application_token", "{aut}");
    }
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"aut": 1})))),
        "invalid_claim"
    );
}

#[test]
fn token_type_claim_and_value_are_configurable() {
    let mut policy = IssuerPolicy::new(ISSUER);
    policy.token_type_claim = "grant".into();
    policy.application_token_type = "client_credentials".into();
    let iss = Issuer::with_policy(policy);
    assert_eq!(iss.reason(&ps256(&app_claims())), "not_application_token");
    assert!(iss
        .verify(&ps256(&with(
            app_claims(),
            json!({"grant": "client_credentials"})
        )))
        .is_ok());

    let mut unchecked = IssuerPolicy::new(ISSUER);
    unchecked.token_type_claim = String::new();
    let iss = Issuer::with_policy(unchecked);
    assert!(iss
        .verify(&ps256(&with(
            app_claims(),
            json!({"aut": "APPLICATION_USER"})
        )))
        .is_ok());
}

#[test]
fn consumer_key_from_azp_then_client_id() {
    let iss = Issuer::standard();
    let both = with(
        app_claims(),
        json!({"azp": "from-azp", "client_id": "from-client-id"}),
    );
    assert_eq!(iss.verify(&ps256(&both)).unwrap().consumer_key, "from-azp");
    let client_id_only = with(
        app_claims(),
        json!({"azp": null, "client_id": "from-client-id"}),
    );
    assert_eq!(
        iss.verify(&ps256(&client_id_only)).unwrap().consumer_key,
        "from-client-id"
    );
    let neither = with(app_claims(), json!({"azp": null, "client_id": null}));
    let err = iss.verify(&ps256(&neither)).unwrap_err();
    assert_eq!(err.reason(), "no_consumer_key");
    assert!(!err.is_forbidden());
    let bad = with(
        app_claims(),
        json!({"azp": 12, "client_id": "from-client-id"}),
    );
    assert_eq!(iss.reason(&ps256(&bad)), "invalid_claim");
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"azp": ""})))),
        "invalid_claim"
    );
}

#[test]
fn consumer_key_claims_are_configurable() {
    let mut policy = IssuerPolicy::new(ISSUER);
    policy.consumer_key_claims = vec!["consumerKey".into()];
    let iss = Issuer::with_policy(policy);
    assert_eq!(iss.reason(&ps256(&app_claims())), "no_consumer_key");
    let t = ps256(&with(app_claims(), json!({"consumerKey": "ck"})));
    assert_eq!(iss.verify(&t).unwrap().consumer_key, "ck");
}

// ---- scope, cnf ----

#[test]
fn scope_as_string_or_array() {
    let iss = Issuer::standard();
    let v = iss
        .verify(&ps256(&with(
            app_claims(),
            json!({"scope": "accounts payments"}),
        )))
        .unwrap();
    assert_eq!(
        v.scopes,
        ["accounts".to_string(), "payments".to_string()].into()
    );
    let v = iss
        .verify(&ps256(&with(
            app_claims(),
            json!({"scope": ["eventpolling"]}),
        )))
        .unwrap();
    assert_eq!(v.scopes, ["eventpolling".to_string()].into());
    assert!(any_scope_granted(
        &["accounts".into(), "eventpolling".into()],
        &v.scopes
    ));
    let v = iss
        .verify(&ps256(&with(app_claims(), json!({"scope": null}))))
        .unwrap();
    assert!(v.scopes.is_empty());
    assert_eq!(
        iss.reason(&ps256(&with(app_claims(), json!({"scope": 3})))),
        "invalid_claim"
    );
}

#[test]
fn cnf_thumbprint_is_extracted() {
    let iss = Issuer::standard();
    let v = iss.verify(&ps256(&app_claims())).unwrap();
    assert_eq!(
        v.x5t_s256.as_deref(),
        Some("k0p--ML7w1Bvx4fTZNCMWJLWyEeZNtSBnF4iSHJTN7E")
    );
    let v = iss
        .verify(&ps256(&with(app_claims(), json!({"cnf": null}))))
        .unwrap();
    assert_eq!(v.x5t_s256, None);
    let v = iss
        .verify(&ps256(&with(app_claims(), json!({"cnf": {"jkt": "x"}}))))
        .unwrap();
    assert_eq!(v.x5t_s256, None);
    for cnf in [json!("x"), json!({"x5t#S256": 5}), json!({"x5t#S256": ""})] {
        let t = ps256(&with(app_claims(), json!({ "cnf": cnf })));
        assert_eq!(iss.reason(&t), "invalid_claim", "{cnf}");
    }
}

// ---- claims are read only after the signature ----

#[test]
fn claim_errors_never_precede_the_signature_check() {
    // Every claim is wrong, and the signature is bad: the answer is about the signature.
    let claims = json!({"iss": ISSUER, "exp": "never", "aut": "APPLICATION_USER", "scope": 1});
    let t = sign(&header("PS256", "rsa-a"), &claims, Key::RsaB);
    assert_eq!(Issuer::standard().reason(&t), "bad_signature");
}

// ---- cache ----

#[test]
fn cache_admits_the_verified_token_and_never_a_forged_one() {
    let iss = Issuer::standard();
    let t = ps256(&app_claims());
    let mut cache = TokenCache::new(16);
    assert!(cache.get(&t, NOW).is_none());
    let v = std::rc::Rc::new(iss.verify(&t).unwrap());
    cache.insert(&t, v.clone(), NOW);
    assert_eq!(cache.get(&t, NOW), Some(&v));
    let sig_start = t.rfind('.').unwrap() + 1;
    for i in [0, 10, sig_start - 3, sig_start + 5, t.len() - 1] {
        let forged = flip(&t, i);
        assert!(cache.get(&forged, NOW).is_none(), "byte {i}");
        assert!(iss.verify(&forged).is_err(), "byte {i}");
    }
    assert!(cache.get(&t, NOW + 3600).is_none(), "expired at exp");
}
