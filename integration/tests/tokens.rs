//! Issue 3 through a real Envoy: the filter admits only application tokens it verified itself, with one of
//! the endpoint's scopes. One named test per refusal, positive cases per algorithm, JWKS rotation and
//! outage.

use ob_event_integration::client::{eventually, Answer};
use ob_event_integration::stub::{Stub, StubResponse};
use ob_event_integration::testbed::{ec_key, rsa_key, Testbed};
use ob_event_integration::tokens::{sign_hs256, KeyManager};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIST: &str = "/open-banking/v3.1/event-subscriptions";

fn get(bed: &Testbed, authorization: Option<&str>) -> Answer {
    let mut headers = vec![];
    if let Some(value) = authorization {
        headers.push(("authorization", value));
    }
    bed.tpp_client("tpp1")
        .send("GET", &bed.url(LIST), &headers, None)
}

fn bearer(bed: &Testbed, token: &str) -> Answer {
    get(bed, Some(&format!("Bearer {token}")))
}

/// 401 without a body, with `WWW-Authenticate: Bearer error="invalid_token"` and the interaction id.
fn assert_invalid_token(answer: &Answer) {
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert!(answer.body.is_empty(), "no body on 401: {}", answer.text());
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert!(answer.header("x-fapi-interaction-id").is_some());
}

/// 403 with an OB error body naming `code`.
fn assert_forbidden(answer: &Answer, code: &str) {
    assert_eq!(answer.status, 403, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["Code"], "403 Forbidden");
    assert_eq!(body["Errors"][0]["ErrorCode"], code);
}

/// The request passed the token step (the store is down in these beds: the backend step answers 503).
fn assert_admitted(answer: &Answer) {
    assert!(
        !matches!(answer.status, 401 | 403),
        "refused by the token step: {} {}",
        answer.status,
        answer.text()
    );
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert_eq!(
        answer.json()["Errors"][0]["ErrorCode"],
        "UK.OBIE.UnexpectedError"
    );
}

fn stat(bed: &Testbed, reason: &str) -> u64 {
    bed.envoy.counter(&format!(
        "wasmcustom.ob_event_filter.refused.token_invalid.{reason}"
    ))
}

#[test]
fn no_authorization_header_is_401() {
    let bed = Testbed::start();
    let answer = get(&bed, None);
    assert_invalid_token(&answer);
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.refused.token_missing"),
        1
    );
}

#[test]
fn wrong_scheme_is_401() {
    let bed = Testbed::start();
    assert_invalid_token(&get(&bed, Some("Basic dXNlcjpwYXNz")));
}

#[test]
fn garbage_token_is_401() {
    let bed = Testbed::start();
    assert_invalid_token(&bearer(&bed, "not-a-jwt"));
    assert_invalid_token(&bearer(&bed, "a.b.c"));
    assert_eq!(stat(&bed, "malformed"), 2);
}

#[test]
fn bad_signature_is_401() {
    let bed = Testbed::start();
    let token = bed.token("tpp1", "accounts");
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let sig = parts[2].clone();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    parts[2] = format!("{flipped}{}", &sig[1..]);
    assert_invalid_token(&bearer(&bed, &parts.join(".")));
    assert_eq!(stat(&bed, "bad_signature"), 1);
}

#[test]
fn a_token_signed_by_another_key_with_a_known_kid_is_401() {
    let bed = Testbed::start();
    let impostor = KeyManager::new_ec(&ec_key().kid);
    let token = impostor.sign(&bed.claims("tpp1", "accounts"));
    assert_invalid_token(&bearer(&bed, &token));
}

#[test]
fn unknown_kid_is_401() {
    let bed = Testbed::start();
    let stranger = KeyManager::new_ec("someone-elses-key");
    assert_invalid_token(&bearer(
        &bed,
        &stranger.sign(&bed.claims("tpp1", "accounts")),
    ));
    assert_eq!(stat(&bed, "unknown_kid"), 1);
}

#[test]
fn expired_token_is_401() {
    let bed = Testbed::start();
    let mut claims = bed.claims("tpp1", "accounts");
    let now = claims["iat"].as_u64().unwrap();
    claims["iat"] = json!(now - 7200);
    claims["nbf"] = json!(now - 7200);
    claims["exp"] = json!(now - 3600);
    assert_invalid_token(&bearer(&bed, &rsa_key().sign(&claims)));
    assert_eq!(stat(&bed, "expired"), 1);
}

#[test]
fn token_without_exp_is_401() {
    let bed = Testbed::start();
    let mut claims = bed.claims("tpp1", "accounts");
    claims.as_object_mut().unwrap().remove("exp");
    assert_invalid_token(&bearer(&bed, &rsa_key().sign(&claims)));
}

#[test]
fn nbf_in_the_future_is_401() {
    let bed = Testbed::start();
    let mut claims = bed.claims("tpp1", "accounts");
    claims["nbf"] = json!(claims["iat"].as_u64().unwrap() + 3000);
    assert_invalid_token(&bearer(&bed, &rsa_key().sign(&claims)));
    assert_eq!(stat(&bed, "not_yet_valid"), 1);
}

#[test]
fn wrong_issuer_is_401() {
    let bed = Testbed::start();
    let mut claims = bed.claims("tpp1", "accounts");
    claims["iss"] = json!("https://evil.example/oauth2/token");
    assert_invalid_token(&bearer(&bed, &rsa_key().sign(&claims)));
    assert_eq!(stat(&bed, "unknown_issuer"), 1);
}

#[test]
fn wrong_audience_is_401_when_audiences_are_configured() {
    let bed = Testbed::builder()
        .config(|_, c| c["issuers"][0]["audiences"] = json!(["https://bank.example/events"]))
        .start();
    assert_invalid_token(&bearer(&bed, &bed.token("tpp1", "accounts")));
    assert_eq!(stat(&bed, "wrong_audience"), 1);
    let mut claims = bed.claims("tpp1", "accounts");
    claims["aud"] = json!(["x", "https://bank.example/events"]);
    assert_admitted(&bearer(&bed, &rsa_key().sign(&claims)));
}

#[test]
fn audience_is_not_checked_when_none_is_configured() {
    let bed = Testbed::start();
    let mut claims = bed.claims("tpp1", "accounts");
    claims["aud"] = json!("anything");
    assert_admitted(&bearer(&bed, &rsa_key().sign(&claims)));
}

#[test]
fn alg_none_is_401() {
    let bed = Testbed::start();
    let claims = bed.claims("tpp1", "accounts");
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    assert_invalid_token(&bearer(&bed, &token));
    assert_eq!(stat(&bed, "alg_not_allowed"), 1);
}

#[test]
fn hs256_signed_with_the_rsa_public_key_as_secret_is_401() {
    let bed = Testbed::start();
    let claims = bed.claims("tpp1", "accounts");
    let jwk = rsa_key().jwk();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": rsa_key().kid});
    for secret in [
        jwk.to_string().into_bytes(),
        jwk["n"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        assert_invalid_token(&bearer(&bed, &sign_hs256(&header, &claims, &secret)));
    }
    assert_eq!(stat(&bed, "alg_not_allowed"), 2);
}

#[test]
fn rs256_is_401_unless_allowed() {
    let bed = Testbed::start();
    let claims = bed.claims("tpp1", "accounts");
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": rsa_key().kid});
    let token = rsa_key().sign_raw(&header, &claims, "RS256");
    assert_invalid_token(&bearer(&bed, &token));
    assert_eq!(stat(&bed, "alg_not_allowed"), 1);
}

#[test]
fn rs256_passes_when_allowed() {
    let bed = Testbed::builder()
        .config(|_, c| c["issuers"][0]["algorithms"] = json!(["RS256"]))
        .start();
    let claims = bed.claims("tpp1", "accounts");
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": rsa_key().kid});
    assert_admitted(&bearer(
        &bed,
        &rsa_key().sign_raw(&header, &claims, "RS256"),
    ));
    // …and PS256 is then refused: the allow-list is exactly what is configured.
    assert_invalid_token(&bearer(&bed, &bed.token("tpp1", "accounts")));
}

#[test]
fn ps256_passes() {
    let bed = Testbed::start();
    assert_admitted(&bearer(&bed, &bed.token("tpp1", "accounts")));
}

#[test]
fn es256_passes() {
    let bed = Testbed::start();
    assert_admitted(&bearer(
        &bed,
        &ec_key().sign(&bed.claims("tpp1", "payments")),
    ));
}

#[test]
fn an_application_user_token_is_403() {
    let bed = Testbed::start();
    let mut claims = bed.claims("tpp1", "accounts");
    claims["aut"] = json!("APPLICATION_USER");
    assert_forbidden(
        &bearer(&bed, &rsa_key().sign(&claims)),
        "OBEventGateway.Token.TypeNotAllowed",
    );
}

#[test]
fn a_token_without_the_endpoint_scope_is_403() {
    let bed = Testbed::start();
    // eventpolling is the polling scope; the subscription endpoints want accounts/payments/fundsconfirmations.
    assert_forbidden(
        &bearer(&bed, &bed.token("tpp1", "eventpolling openid")),
        "OBEventGateway.Token.InsufficientScope",
    );
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.refused.insufficient_scope"),
        1
    );
}

#[test]
fn scope_as_an_array_is_accepted() {
    let bed = Testbed::start();
    let mut claims = bed.claims("tpp1", "x");
    claims["scope"] = json!(["openid", "fundsconfirmations"]);
    assert_admitted(&bearer(&bed, &rsa_key().sign(&claims)));
}

#[test]
fn a_verified_token_is_served_from_the_cache_the_second_time() {
    let bed = Testbed::start();
    let token = bed.token("tpp1", "accounts");
    assert_admitted(&bearer(&bed, &token));
    assert_admitted(&bearer(&bed, &token));
    assert_admitted(&bearer(&bed, &token));
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.token_cache.miss"),
        1
    );
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.token_cache.hit"),
        2
    );
    // A forged twin (one signature byte changed) never rides on the cached entry.
    let forged = format!("{}A", &token[..token.len() - 1]);
    if forged != token {
        assert_invalid_token(&bearer(&bed, &forged));
    }
}

/// A JWKS endpoint whose document the test can change.
struct JwksServer {
    stub: Stub,
    document: Arc<Mutex<Value>>,
}

impl JwksServer {
    fn start(document: Value) -> JwksServer {
        let document = Arc::new(Mutex::new(document));
        let served = Arc::clone(&document);
        let stub = Stub::start(move |req| {
            if req.path == "/oauth2/jwks" {
                StubResponse::json(200, &served.lock().unwrap())
            } else {
                StubResponse::text(404, "no")
            }
        });
        JwksServer { stub, document }
    }
}

fn remote_bed(jwks_port: u16, min_refresh_secs: u64) -> Testbed {
    Testbed::builder()
        .cluster("key_manager", jwks_port, 1000)
        .config(move |_, c| {
            let issuer = c["issuers"][0].as_object_mut().unwrap();
            issuer.remove("jwks");
            issuer.insert(
                "remote_jwks".into(),
                json!({"cluster": "key_manager", "path": "/oauth2/jwks",
                       "refresh_interval_secs": 300, "min_refresh_interval_secs": min_refresh_secs}),
            );
        })
        .start()
}

#[test]
fn keys_from_a_remote_jwks_are_used() {
    let server = JwksServer::start(json!({"keys": [rsa_key().jwk()]}));
    let bed = remote_bed(server.stub.port, 0);
    let token = bed.token("tpp1", "accounts");
    let answer = eventually(
        || bearer(&bed, &token),
        |a| !a.text().contains("signing keys"),
    );
    assert_admitted(&answer);
    assert!(bed.envoy.log().contains("JWKS of"), "the load is logged");
}

#[test]
fn jwks_rotation_a_new_key_is_accepted_after_refresh_and_a_removed_key_refused() {
    let server = JwksServer::start(json!({"keys": [rsa_key().jwk()]}));
    let bed = remote_bed(server.stub.port, 0);
    let old_token = bed.token("tpp1", "accounts");
    assert_admitted(&eventually(
        || bearer(&bed, &old_token),
        |a| !a.text().contains("signing keys"),
    ));

    // The key manager rotates: the new key replaces the old one.
    let new_key = KeyManager::new_ec("rotated-key-2");
    *server.document.lock().unwrap() = json!({"keys": [new_key.jwk()]});
    let new_token = new_key.sign(&bed.claims("tpp1", "accounts"));
    // The first request with the unknown kid is refused and triggers a refresh; retries then pass.
    let answer = eventually(|| bearer(&bed, &new_token), |a| a.status != 401);
    assert_admitted(&answer);

    // The removed key no longer admits anything, not even its token that was cached before.
    let fresh_old = rsa_key().sign(&bed.claims("tpp1", "accounts"));
    assert_invalid_token(&bearer(&bed, &fresh_old));
    assert_invalid_token(&bearer(&bed, &old_token));
}

#[test]
fn jwks_endpoint_down_after_a_load_keeps_the_cached_keys_working() {
    let mut server = JwksServer::start(json!({"keys": [rsa_key().jwk()]}));
    let bed = remote_bed(server.stub.port, 0);
    let token = bed.token("tpp1", "accounts");
    assert_admitted(&eventually(
        || bearer(&bed, &token),
        |a| !a.text().contains("signing keys"),
    ));
    server.stub.stop();
    // An unknown kid triggers a refresh that fails; the keys loaded before stay in force.
    let stranger = KeyManager::new_ec("unknown-kid");
    assert_invalid_token(&bearer(
        &bed,
        &stranger.sign(&bed.claims("tpp1", "accounts")),
    ));
    assert!(bed
        .envoy
        .wait_for_log("fetch failed", Duration::from_secs(10)));
    assert_admitted(&bearer(
        &bed,
        &rsa_key().sign(&bed.claims("tpp1", "accounts")),
    ));
}

#[test]
fn jwks_never_loaded_is_503_with_an_ob_error() {
    // A cluster pointing at a closed port: the key manager is down from the start.
    let bed = remote_bed(ob_event_integration::stub::free_port(), 0);
    let answer = bearer(&bed, &bed.token("tpp1", "accounts"));
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert_eq!(
        answer.json()["Errors"][0]["ErrorCode"],
        "UK.OBIE.UnexpectedError"
    );
    assert!(answer.text().contains("signing keys"), "{}", answer.text());
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.refused.keys_unavailable"),
        1
    );
}

#[test]
fn keys_and_the_token_cache_survive_a_configuration_reload() {
    let mut server = JwksServer::start(json!({"keys": [rsa_key().jwk()]}));
    let port = server.stub.port;
    let bed = Testbed::builder()
        .dynamic_listener()
        .cluster("key_manager", port, 1000)
        .config(move |_, c| {
            let issuer = c["issuers"][0].as_object_mut().unwrap();
            issuer.remove("jwks");
            issuer.insert(
                "remote_jwks".into(),
                json!({"cluster": "key_manager", "path": "/oauth2/jwks"}),
            );
        })
        .start();
    let token = bed.token("tpp1", "accounts");
    assert_admitted(&eventually(
        || bearer(&bed, &token),
        |a| !a.text().contains("signing keys"),
    ));
    assert_admitted(&bearer(&bed, &token));
    let hits = || {
        bed.envoy
            .counter("wasmcustom.ob_event_filter.token_cache.hit")
    };
    assert_eq!(hits(), 1);

    // The key manager goes away; the filter gets a new configuration (same issuers, another limit).
    server.stub.stop();
    let mut config: Value = serde_json::from_str(bed.plugin_config()).unwrap();
    config["polling"] = json!({"max_events": 50});
    bed.reload(&config.to_string());
    assert!(
        bed.envoy
            .log()
            .matches("ob-event-filter 0.1.0 configured")
            .count()
            >= 2,
        "the new configuration was loaded"
    );

    // The verified token is still cached (no second verification), and the keys are still there: a token
    // never seen before verifies although the JWKS endpoint is down.
    assert_admitted(&bearer(&bed, &token));
    assert_eq!(hits(), 2, "the cache survived the reload");
    let fresh = rsa_key().sign(&bed.claims("tpp1", "accounts"));
    assert_admitted(&bearer(&bed, &fresh));
}
