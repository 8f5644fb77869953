//! Signature-verification cost of the candidate paths, natively and in V8 (wasm32-unknown-unknown under
//! wasm-bindgen-test in Node). Not a correctness test and no timed assertion: it prints ms per operation.
//! Every timed call is checked to succeed, so a path that is fast because it fails is caught.
//!
//! Run (see docs/benchmarks-signature-verification.md):
//!   cargo test -p ob-event-core --release --features bench-candidates token::bench -- --nocapture
//!   CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=.tools/bin/wasm-bindgen-test-runner \
//!     cargo test -p ob-event-core --release --features bench-candidates --target wasm32-unknown-unknown \
//!     token::bench -- --nocapture

#![cfg(feature = "bench-candidates")]

use std::hint::black_box;

use serde_json::json;

use super::fixtures::{self, sign, Key, ISSUER};
use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A time within the bench tokens' validity, and tokens valid at the real clock too (jwt-simple reads it).
const NOW: u64 = 1_800_000_000;

macro_rules! report {
    ($($arg:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($arg)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($arg)*);
    }};
}

fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
    }
}

/// Runs `op` (which must return true) after a warm-up in 5 batches of `n / 5` and reports the median and the
/// best batch in ms/op (the median is the figure quoted; the best shows the noise floor).
fn measure(label: &str, n: u32, mut op: impl FnMut() -> bool) -> f64 {
    for _ in 0..10 {
        assert!(op(), "{label}: the operation failed");
    }
    let batch = (n / 5).max(1);
    let mut per_op: Vec<f64> = (0..5)
        .map(|_| {
            let start = now_ms();
            for _ in 0..batch {
                assert!(black_box(op()), "{label}: the operation failed");
            }
            (now_ms() - start) / f64::from(batch)
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    let (best, median) = (per_op[0], per_op[2]);
    report!("| {label:<58} | {median:>8.4} | {best:>8.4} |");
    median
}

fn claims() -> serde_json::Value {
    let mut c = fixtures::app_claims();
    c["nbf"] = json!(1_700_000_000u64);
    c["iat"] = json!(1_700_000_000u64);
    c["exp"] = json!(4_000_000_000u64);
    c
}

struct Case {
    alg: &'static str,
    key: Key,
    kid: &'static str,
}

#[test]
fn signature_verification_cost() {
    let target = if cfg!(target_arch = "wasm32") {
        "wasm32 (V8)"
    } else {
        "native"
    };
    report!("\nsignature verification cost, {target}, ms per operation");
    report!("| {:<58} | {:>8} | {:>8} |", "operation", "median", "best");
    report!("|{}|{}|{}|", "-".repeat(60), "-".repeat(10), "-".repeat(10));

    let mut policy = IssuerPolicy::new(ISSUER);
    policy.algorithms = vec![Alg::PS256, Alg::RS256, Alg::ES256];
    let jwks_doc = fixtures::jwks_json(&[
        fixtures::jwk(Key::RsaA, "rsa-a", None),
        fixtures::jwk(Key::EcA, "ec-a", None),
    ]);
    let jwks = Jwks::parse(jwks_doc.as_bytes()).unwrap();
    let lookup = |iss: &str| (iss == ISSUER).then_some((&policy, &jwks));

    // Operations per row: enough for tens of milliseconds per batch in V8 (Date.now() has 1 ms resolution).
    let scale = if cfg!(target_arch = "wasm32") { 4 } else { 10 };
    let n_rsa: u32 = 250 * scale;
    let n_ec: u32 = 250 * scale;
    let modulus = fixtures::rsa_modulus(Key::RsaA);
    let exponent = [1u8, 0, 1];
    let ec_jwk = fixtures::jwk_value(Key::EcA, "ec-a", None);
    let ec_sec1: Vec<u8> = [0x04u8]
        .into_iter()
        .chain(
            <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(
                ec_jwk["x"].as_str().unwrap(),
            )
            .unwrap(),
        )
        .chain(
            <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(
                ec_jwk["y"].as_str().unwrap(),
            )
            .unwrap(),
        )
        .collect();

    for case in [
        Case {
            alg: "PS256",
            key: Key::RsaA,
            kid: "rsa-a",
        },
        Case {
            alg: "RS256",
            key: Key::RsaA,
            kid: "rsa-a",
        },
        Case {
            alg: "ES256",
            key: Key::EcA,
            kid: "ec-a",
        },
    ] {
        let token = sign(
            &json!({"alg": case.alg, "kid": case.kid, "typ": "JWT"}),
            &claims(),
            case.key,
        );
        let (input, sig_b64) = token.rsplit_once('.').unwrap();
        let sig = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(sig_b64).unwrap();
        let input = input.as_bytes();
        let n = if case.alg == "ES256" { n_ec } else { n_rsa };
        let alg: Alg = case.alg.parse().unwrap();
        let key = jwks.keys().iter().find(|k| k.fits(alg)).unwrap();

        // The implementation: the whole of token::verify (parse, key selection, signature, claims).
        measure(
            &format!("{} token::verify (chosen path, whole token)", case.alg),
            n,
            || verify(&token, NOW, lookup).is_ok(),
        );
        // The signature step alone.
        let crate_name = if case.alg == "ES256" {
            "p256 0.14"
        } else {
            "rsa 0.10"
        };
        measure(
            &format!("{} {crate_name} signature only", case.alg),
            n,
            || signature::verifies(alg, key, input, &sig),
        );
        // The older RustCrypto generation (what jwt-simple uses underneath).
        match case.alg {
            "ES256" => {
                use p256_013::ecdsa::signature::Verifier as _;
                let vk = p256_013::ecdsa::VerifyingKey::from_sec1_bytes(&ec_sec1).unwrap();
                measure("ES256 p256 0.13 signature only", n, || {
                    let s = p256_013::ecdsa::Signature::from_slice(&sig).unwrap();
                    vk.verify(input, &s).is_ok()
                });
            }
            alg => {
                use rsa09::sha2::{Digest as _, Sha256};
                let pk = rsa09::RsaPublicKey::new(
                    rsa09::BigUint::from_bytes_be(&modulus),
                    rsa09::BigUint::from_bytes_be(&exponent),
                )
                .unwrap();
                let pss = alg == "PS256";
                measure(&format!("{alg} rsa 0.9 signature only"), n, || {
                    let hashed = Sha256::digest(input);
                    if pss {
                        pk.verify(rsa09::Pss::new::<Sha256>(), &hashed, &sig)
                            .is_ok()
                    } else {
                        pk.verify(rsa09::Pkcs1v15Sign::new::<Sha256>(), &hashed, &sig)
                            .is_ok()
                    }
                });
            }
        }
        // jwt-simple 0.15, pure-rust: verify_token (signature + its own claim checks).
        {
            use jwt_simple::prelude::*;
            let label = format!(
                "{} jwt-simple 0.15 pure-rust verify_token (whole token)",
                case.alg
            );
            match case.alg {
                "PS256" => {
                    let k = PS256PublicKey::from_components(&modulus, &exponent).unwrap();
                    measure(&label, n, || {
                        k.verify_token::<NoCustomClaims>(&token, None).is_ok()
                    });
                }
                "RS256" => {
                    let k = RS256PublicKey::from_components(&modulus, &exponent).unwrap();
                    measure(&label, n, || {
                        k.verify_token::<NoCustomClaims>(&token, None).is_ok()
                    });
                }
                _ => {
                    let k = ES256PublicKey::from_bytes(&ec_sec1).unwrap();
                    measure(&label, n, || {
                        k.verify_token::<NoCustomClaims>(&token, None).is_ok()
                    });
                }
            }
        }
    }

    // Around the signature: what a JWKS refresh and a cache hit cost.
    measure(
        "Jwks::parse (1 RSA-2048 + 1 P-256 key)",
        250 * scale,
        || Jwks::parse(jwks_doc.as_bytes()).is_ok_and(|j| j.len() == 2),
    );
    let token = sign(
        &json!({"alg": "PS256", "kid": "rsa-a"}),
        &claims(),
        Key::RsaA,
    );
    let verified = verify(&token, NOW, lookup).unwrap();
    let mut cache = TokenCache::new(10_000);
    for i in 0..9_999u32 {
        let mut v = verified.clone();
        v.consumer_key = i.to_string();
        cache.insert(&format!("{token}{i}"), std::rc::Rc::new(v), NOW);
    }
    cache.insert(&token, std::rc::Rc::new(verified), NOW);
    measure(
        "TokenCache::get hit (keyed hash of the token's tail + full comparison, 10k entries)",
        20_000 * scale,
        || cache.get(&token, NOW).is_some(),
    );
    report!("(token length {} bytes)", token.len());
}

/// The pure decisions of one warm request in route mode, as the adapter makes them (the hostcalls are
/// priced separately by `OB_BENCH_ONLY=hostcalls make bench`): route, bearer token from the cache, scope,
/// WSO2 subscription, certificate rules (off, as in `make bench`), exchange start, forwarded headers.
#[test]
fn warm_request_decisions() {
    use crate::certificate::CertificateCache;
    use crate::config::{Config, SubscriptionSource};
    use crate::endpoints::{self, Endpoint};
    use crate::exchange::{Caller, Exchange, Head};
    use crate::identity::{self, Keys};
    use crate::subscription_data::{self, Admission};
    use crate::InteractionId;

    let jwks_doc = fixtures::jwks_json(&[fixtures::jwk(Key::RsaA, "rsa-a", None)]);
    let jwks = Jwks::parse(jwks_doc.as_bytes()).unwrap();
    let mut c = claims();
    c["scope"] = json!("accounts openid");
    c.as_object_mut().unwrap().remove("cnf"); // not bound: no certificate on the benchmark's listener
    let client = c["azp"].as_str().unwrap().to_string();
    let token = sign(&json!({"alg": "PS256", "kid": "rsa-a"}), &c, Key::RsaA);
    let config = Config::parse(
        json!({
            "forward": "route",
            "issuers": [{"issuer": ISSUER, "jwks": serde_json::from_str::<serde_json::Value>(&jwks_doc).unwrap(), "algorithms": ["PS256"]}],
            "certificate": {"required": false, "bound_token_required": false, "organisation_match": "disabled"},
            "apim": {
                "subscription_api": {"context": "/open-banking/v3.1/event-subscriptions"},
                "polling_api": {"context": "/open-banking/v3.1/events"},
                "source": {"type": "static", "applications": [{
                    "name": "bench", "keys": [{"consumer_key": client, "key_type": "PRODUCTION"}],
                    "subscriptions": [{"state": "UNBLOCKED"}]
                }]}
            }
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let SubscriptionSource::Static(snapshot) = &config.apim.source else {
        panic!("static source expected")
    };
    let snapshot = std::rc::Rc::new((**snapshot).clone());
    let mut cache = TokenCache::new(10_000);
    let mut certificates = CertificateCache::new(16);
    let authorization = format!("Bearer {token}");
    let scale = if cfg!(target_arch = "wasm32") { 4 } else { 10 };
    // The steps, as the adapter takes them on a warm request.
    let path = "/open-banking/v3.1/event-subscriptions";
    let route = || endpoints::route(&config.base_path, "GET", path);
    let authenticate = |cache: &mut TokenCache, endpoint: &Endpoint| {
        identity::authenticate(
            &config,
            |_| Keys::Ready(&jwks),
            cache,
            Some(&authorization),
            endpoint,
            NOW,
        )
    };
    let admit = |verified: &VerifiedToken, endpoint: &Endpoint| {
        subscription_data::admit(
            Some(&snapshot),
            &verified.consumer_key,
            None,
            Some(config.apim.api_for(endpoint)),
        )
    };
    let certificate =
        |certificates: &mut CertificateCache, verified: &VerifiedToken, endpoint: &Endpoint| {
            let facts = identity::read_certificate(&config, certificates, |_| None, || None)?;
            identity::check_certificate(&config, endpoint, facts.as_ref(), verified, None, NOW)
        };
    let start = |endpoint: Endpoint, verified: &VerifiedToken, admission: &Admission<'_>| {
        let id = InteractionId::for_request(None, || [7; 16]);
        let caller = Some(Caller::of(admission));
        let (exchange, _next) =
            Exchange::start(&config, endpoint, id, verified, caller, Head::default());
        exchange.forward_headers(&config).len() == 1
    };

    let mut request = || {
        let endpoint = route().unwrap();
        let verified = authenticate(&mut cache, &endpoint).unwrap().token;
        let admission = admit(&verified, &endpoint).unwrap();
        certificate(&mut certificates, &verified, &endpoint).unwrap();
        start(endpoint, &verified, &admission)
    };
    assert!(request(), "the first request verifies and fills the cache");
    report!("| warm request decisions (route mode, cache hit)             |   ms/op  |   best   |");
    measure(
        "route + token (cache) + scope + subscription + certificate + exchange",
        50_000 * scale,
        request,
    );
    let endpoint = route().unwrap();
    measure("route", 50_000 * scale, || route().is_ok());
    measure("interaction id (new)", 50_000 * scale, || {
        InteractionId::for_request(None, || [7; 16]).as_str().len() == 36
    });
    measure("bearer + cache get", 50_000 * scale, || {
        cache
            .get(bearer_token(Some(&authorization)).unwrap(), NOW)
            .is_some()
    });
    measure("authenticate (cache hit + scope)", 50_000 * scale, || {
        authenticate(&mut cache, &endpoint).is_ok()
    });
    let verified = authenticate(&mut cache, &endpoint).unwrap().token;
    measure("admit", 50_000 * scale, || {
        admit(&verified, &endpoint).is_ok()
    });
    measure("certificate (none, rules off)", 50_000 * scale, || {
        certificate(&mut certificates, &verified, &endpoint).is_ok()
    });
    let admission = admit(&verified, &endpoint).unwrap();
    measure("exchange start + forward headers", 50_000 * scale, || {
        start(endpoint.clone(), &verified, &admission)
    });
}
