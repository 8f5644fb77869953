//! The store's behaviour through HTTP, one named test per rule, each run against SQLite and (when
//! `OB_STORE_TEST_POSTGRES_URL` is set) PostgreSQL.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use ob_event_store::sets::Algorithm;
use reqwest::Method;
use serde_json::{json, Value};

const RU: &str = "urn:uk:org:openbanking:events:resource-update";

on_both_databases!(
    health_and_jwks_need_no_credentials,
    health_is_503_when_the_database_fails,
    every_other_endpoint_needs_basic_auth,
    unknown_paths_are_404_and_wrong_methods_405,
    create_events_stores_an_open_notification,
    create_events_refuses_bad_input_and_writes_nothing,
    create_events_checks_its_headers,
    wrong_content_type_is_415,
    oversized_body_is_413_and_nothing_written,
    empty_poll_is_200_with_no_sets,
    long_poll_waits_for_a_new_notification_when_enabled,
    poll_returns_oldest_first_up_to_max_events,
    poll_caps_max_events_at_the_configured_maximum,
    absent_max_events_uses_the_configured_default,
    max_events_zero_returns_none_but_reports_more_available,
    acked_sets_are_never_delivered_again,
    unacked_sets_are_delivered_again,
    acking_twice_is_harmless,
    set_errs_mark_err_and_keep_code_and_description,
    acks_and_set_errs_touch_only_the_callers_notifications,
    unknown_jtis_are_ignored_and_logged,
    poll_refuses_bad_input_and_applies_nothing,
    poll_checks_its_header_and_request_field,
    sets_verify_with_the_jwks_and_carry_the_claims,
    txn_is_stable_across_deliveries,
    rs256_and_es256_are_configurable,
    subscription_lifecycle,
    second_subscription_is_409,
    subscriptions_are_visible_only_to_their_client,
    subscription_validation,
    subscription_bad_input,
    subscriptions_by_event_type,
    acknowledged_notifications_are_purged,
    open_notifications_expire,
    database_failure_is_500_and_nothing_half_written,
    concurrent_polls_and_acks_stay_correct,
);

// ---------------------------------------------------------------- access

async fn health_and_jwks_need_no_credentials(backend: Backend) {
    let s = setup(&backend).await;
    let r = s
        .store
        .http
        .get(s.store.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200);
    let (_, body) = status_json(r).await;
    assert_eq!(body["status"], "UP");
    let jwks = s.store.jwks().await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "PS256");
    assert_eq!(key["use"], "sig");
    assert!(
        key["kid"].as_str().is_some_and(|k| k.len() == 43),
        "RFC 7638 thumbprint kid: {key}"
    );
    assert!(key.get("d").is_none(), "no private part in the JWKS");
}

async fn health_is_503_when_the_database_fails(backend: Backend) {
    let s = setup(&backend).await;
    s.db.exec("ALTER TABLE notifications RENAME TO notifications_away")
        .await;
    let r = s
        .store
        .http
        .get(s.store.url("/health"))
        .send()
        .await
        .expect("health");
    let (status, body) = status_json(r).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "DOWN");
    s.db.exec("ALTER TABLE notifications_away RENAME TO notifications")
        .await;
    s.store.wait_healthy().await;
}

async fn every_other_endpoint_needs_basic_auth(backend: Backend) {
    let s = setup(&backend).await;
    let cases = [
        (Method::POST, "/create-events"),
        (Method::POST, "/events"),
        (Method::POST, "/subscription"),
        (Method::GET, "/subscription"),
        (Method::GET, "/subscription/abc"),
        (Method::PUT, "/subscription/abc"),
        (Method::DELETE, "/subscription/abc"),
        (Method::GET, "/subscription/type/UK.OBIE.Resource-Update"),
    ];
    for (method, path) in cases {
        for auth in [None, Some((USER, "wrong")), Some(("nobody", PASSWORD))] {
            let mut rb = s
                .store
                .http
                .request(method.clone(), s.store.url(path))
                .header("x-wso2-client-id", "c1");
            if let Some((u, p)) = auth {
                rb = rb.basic_auth(u, Some(p));
            }
            let r = rb.send().await.expect("send");
            assert!(r.headers().get("www-authenticate").is_some());
            let (status, body) = status_json(r).await;
            assert_error(status, &body, 401, "unauthorized");
        }
    }
    // A malformed Authorization header is a 401 as well.
    let r = s
        .store
        .http
        .post(s.store.url("/events"))
        .header("authorization", "Basic !!!not-base64")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(s.db.count_notifications("1 = 1").await, 0);
}

async fn unknown_paths_are_404_and_wrong_methods_405(backend: Backend) {
    let s = setup(&backend).await;
    let r = s
        .store
        .authed(Method::GET, "/no-such-thing")
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 404, "invalid_request");
    let r = s
        .store
        .http
        .get(format!("http://{}/elsewhere", s.store.address))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let r = s
        .store
        .authed(Method::GET, "/events")
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 405, "invalid_request");
}

// ---------------------------------------------------------------- create-events

async fn create_events_stores_an_open_notification(backend: Backend) {
    let s = setup(&backend).await;
    let events = json!({
        RU: {"subject": {"http://openbanking.org.uk/rid": "aac-1"}},
        "urn:uk:org:openbanking:events:consent-authorization-revoked": {"reason": "x"}
    });
    let (status, body) = s.store.create_event("client-a", "aac-1", &events).await;
    assert_eq!(status, 201, "{body}");
    let id = body["notificationsID"].as_str().expect("notificationsID");
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(body.as_object().map(|o| o.len()), Some(1));
    assert_eq!(s.db.status(id).await.as_deref(), Some("OPEN"));
    // The events come back in the SET exactly as published.
    let (_, sets, _) = s.store.poll_ok("client-a", &json!({})).await;
    let (_, claims) = verify_set(sets[id].as_str().expect("set"), &s.store.jwks().await);
    assert_eq!(claims["events"], events);
}

async fn create_events_refuses_bad_input_and_writes_nothing(backend: Backend) {
    let s = setup(&backend).await;
    let send = |request: Option<String>| {
        let mut form = Vec::new();
        if let Some(r) = request {
            form.push(("request", r));
        }
        s.store
            .authed(Method::POST, "/create-events")
            .header("x-wso2-client-id", "c1")
            .header("x-wso2-resource-id", "r1")
            .form(&form)
    };
    let (status, body) = status_json(send(None).send().await.expect("send")).await;
    assert_error(status, &body, 400, "missing_request_payload");
    assert_eq!(body["error_description"], "No request payload found");
    let (status, body) = status_json(send(Some("  ".into())).send().await.expect("send")).await;
    assert_error(status, &body, 400, "invalid_request_payload");
    for bad in [
        "%%%not base64%%%".to_owned(),
        STANDARD.encode("{not json"),
        STANDARD.encode("[1,2]"),
        STANDARD.encode("{}"),
        STANDARD.encode(json!({RU: "a string, not an object"}).to_string()),
        STANDARD.encode(json!({RU: [1]}).to_string()),
        STANDARD.encode(json!({"": {}}).to_string()),
        STANDARD.encode(json!({"x".repeat(201): {}}).to_string()),
    ] {
        let (status, body) = status_json(send(Some(bad.clone())).send().await.expect("send")).await;
        assert_error(status, &body, 400, "invalid_request_payload");
    }
    // Two request fields are ambiguous.
    let good = STANDARD.encode(json!({RU: {}}).to_string());
    let r = s
        .store
        .authed(Method::POST, "/create-events")
        .header("x-wso2-client-id", "c1")
        .header("x-wso2-resource-id", "r1")
        .form(&[("request", good.clone()), ("request", good)])
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "invalid_request_payload");
    assert_eq!(s.db.count_notifications("1 = 1").await, 0);
}

async fn create_events_checks_its_headers(backend: Backend) {
    let s = setup(&backend).await;
    let form = [("request", STANDARD.encode(json!({RU: {}}).to_string()))];
    let base = || s.store.authed(Method::POST, "/create-events").form(&form);

    let (status, body) = status_json(
        base()
            .header("x-wso2-resource-id", "r1")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_error(status, &body, 400, "missing_request_header");
    assert_eq!(body["error_description"], "Missing header x-wso2-client-id");

    let (status, body) = status_json(
        base()
            .header("x-wso2-client-id", "c1")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_error(status, &body, 400, "missing_request_header");
    assert_eq!(
        body["error_description"],
        "Missing header x-wso2-resource-id"
    );

    for bad in ["a/b", "a.b", "a_b", "a:b", "a b"] {
        let r = base()
            .header("x-wso2-client-id", "c1")
            .header("x-wso2-resource-id", bad)
            .send()
            .await
            .expect("send");
        let (status, body) = status_json(r).await;
        assert_error(status, &body, 400, "invalid_request_header");
    }
    let r = base()
        .header("x-wso2-client-id", "c".repeat(256))
        .header("x-wso2-resource-id", "r1")
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "invalid_request_header");
    assert_eq!(s.db.count_notifications("1 = 1").await, 0);

    // A well-formed id with the URL-safe characters that WSO2 allows is fine.
    let r = base()
        .header("x-wso2-client-id", "c1")
        .header("x-wso2-resource-id", "aac-1234-007")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
}

async fn wrong_content_type_is_415(backend: Backend) {
    let s = setup(&backend).await;
    let encoded = format!("request={}", STANDARD.encode(json!({RU: {}}).to_string()));
    for (path, content_type) in [
        ("/create-events", Some("application/json")),
        ("/create-events", None),
        ("/events", Some("text/plain")),
        ("/events", None),
    ] {
        let mut rb = s
            .store
            .authed(Method::POST, path)
            .header("x-wso2-client-id", "c1")
            .header("x-wso2-resource-id", "r1")
            .body(encoded.clone());
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        let (status, body) = status_json(rb.send().await.expect("send")).await;
        assert_error(status, &body, 415, "invalid_request_header");
    }
    for method in [Method::POST, Method::PUT] {
        let path = if method == Method::POST {
            "/subscription"
        } else {
            "/subscription/x"
        };
        let r = s
            .store
            .authed(method, path)
            .header("x-wso2-client-id", "c1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(json!({"version": "3.1"}).to_string())
            .send()
            .await
            .expect("send");
        let (status, body) = status_json(r).await;
        assert_error(status, &body, 415, "invalid_request_header");
    }
    // charset parameters are fine.
    let r = s
        .store
        .authed(Method::POST, "/create-events")
        .header("x-wso2-client-id", "c1")
        .header("x-wso2-resource-id", "r1")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(encoded)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    assert_eq!(s.db.count_notifications("1 = 1").await, 1);
    assert_eq!(s.db.count_subscriptions().await, 0);
}

async fn oversized_body_is_413_and_nothing_written(backend: Backend) {
    let s = setup(&backend).await;
    let big = json!({RU: {"padding": "x".repeat(100_000)}});
    let (status, body) = s.store.create_event("c1", "r1", &big).await;
    assert_error(status, &body, 413, "invalid_request_payload");
    let (status, body) = s
        .store
        .poll("c1", &json!({"ack": vec!["x".repeat(100); 1000]}))
        .await;
    assert_error(status, &body, 413, "invalid_request_payload");
    let (status, body) = s
        .store
        .subscription(
            Method::POST,
            "/subscription",
            "c1",
            Some(&json!({"version": "3.1", "pad": "x".repeat(100_000)})),
        )
        .await;
    assert_error(status, &body, 413, "invalid_request_payload");
    assert_eq!(s.db.count_notifications("1 = 1").await, 0);
    assert_eq!(s.db.count_subscriptions().await, 0);
}

// ---------------------------------------------------------------- polling

async fn empty_poll_is_200_with_no_sets(backend: Backend) {
    let s = setup(&backend).await;
    for request in [
        json!({}),
        json!({"returnImmediately": true}),
        json!({"returnImmediately": false, "maxEvents": 10}),
    ] {
        let (status, body) = s.store.poll("nobody-yet", &request).await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"sets": {}, "moreAvailable": false}));
    }
}

async fn long_poll_waits_for_a_new_notification_when_enabled(backend: Backend) {
    let s = setup_with(
        &backend,
        StoreOptions {
            extra_toml: "[polling]\nlong_poll_max_wait_secs = 60\n".into(),
            ..Default::default()
        },
    )
    .await;
    // returnImmediately absent or true: an immediate empty answer, even with long polling enabled.
    for request in [json!({}), json!({"returnImmediately": true})] {
        let (status, body) = s.store.poll("c1", &request).await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"sets": {}, "moreAvailable": false}));
    }
    // returnImmediately false: the poll waits and returns the notification published meanwhile.
    let long = json!({"returnImmediately": false});
    let waiting = s.store.poll_ok("c1", &long);
    let publish = async {
        // Publish only once the poll is holding the request (it logs that).
        let logs = s.store.logs.clone();
        eventually("the poll is waiting", || {
            let logs = logs.clone();
            async move {
                logs.lock()
                    .expect("logs")
                    .iter()
                    .any(|l| l.contains("long poll: waiting"))
            }
        })
        .await;
        s.store.publish("c1", "r1").await
    };
    let ((jtis, _, more), id) = tokio::join!(waiting, publish);
    assert_eq!(jtis, vec![id]);
    assert!(!more);
}

async fn poll_returns_oldest_first_up_to_max_events(backend: Backend) {
    let s = setup(&backend).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(s.store.publish("c1", &format!("r{i}")).await);
    }
    let (jtis, _, more) = s.store.poll_ok("c1", &json!({"maxEvents": 3})).await;
    assert_eq!(jtis, ids[..3].to_vec(), "oldest first, in order");
    assert!(more);
    let (jtis, _, more) = s
        .store
        .poll_ok("c1", &json!({"maxEvents": 3, "ack": ids[..3]}))
        .await;
    assert_eq!(jtis, ids[3..6].to_vec());
    assert!(more, "one left after this page");
    let (jtis, _, more) = s
        .store
        .poll_ok("c1", &json!({"maxEvents": 3, "ack": ids[3..6]}))
        .await;
    assert_eq!(jtis, ids[6..].to_vec());
    assert!(!more, "moreAvailable is exact: nothing beyond this page");
    let (jtis, _, more) = s
        .store
        .poll_ok("c1", &json!({"maxEvents": 1, "ack": [ids[6].clone()]}))
        .await;
    assert!(jtis.is_empty());
    assert!(!more);
}

async fn poll_caps_max_events_at_the_configured_maximum(backend: Backend) {
    let s = setup_with(
        &backend,
        StoreOptions {
            extra_toml: "[polling]\ndefault_max_events = 2\nmax_events = 4\n".into(),
            ..Default::default()
        },
    )
    .await;
    for i in 0..6 {
        s.store.publish("c1", &format!("r{i}")).await;
    }
    let (jtis, _, more) = s.store.poll_ok("c1", &json!({"maxEvents": 1000})).await;
    assert_eq!(jtis.len(), 4);
    assert!(more);
    let (jtis, _, _) = s
        .store
        .poll_ok("c1", &json!({"maxEvents": 4_294_967_296u64}))
        .await;
    assert_eq!(jtis.len(), 4, "a huge maxEvents is capped too");
}

async fn absent_max_events_uses_the_configured_default(backend: Backend) {
    let s = setup(&backend).await;
    for i in 0..8 {
        s.store.publish("c1", &format!("r{i}")).await;
    }
    let (jtis, _, more) = s
        .store
        .poll_ok("c1", &json!({"returnImmediately": true}))
        .await;
    assert_eq!(jtis.len(), 5, "WSO2's number_of_sets_to_return default");
    assert!(more);
    let (jtis, _, _) = s.store.poll_ok("c1", &json!({"maxEvents": null})).await;
    assert_eq!(jtis.len(), 5);
}

async fn max_events_zero_returns_none_but_reports_more_available(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    let b = s.store.publish("c1", "r2").await;
    let (jtis, _, more) = s.store.poll_ok("c1", &json!({"maxEvents": 0})).await;
    assert!(jtis.is_empty());
    assert!(more);
    // Ack-only call: acknowledges and returns nothing.
    let (jtis, _, more) = s
        .store
        .poll_ok("c1", &json!({"maxEvents": 0, "ack": [a.clone()]}))
        .await;
    assert!(jtis.is_empty());
    assert!(more, "b is still open");
    assert_eq!(s.db.status(&a).await.as_deref(), Some("ACK"));
    let (_, _, more) = s
        .store
        .poll_ok("c1", &json!({"maxEvents": 0, "ack": [b]}))
        .await;
    assert!(!more);
}

async fn acked_sets_are_never_delivered_again(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    let b = s.store.publish("c1", "r2").await;
    let (jtis, _, _) = s.store.poll_ok("c1", &json!({})).await;
    assert_eq!(jtis, vec![a.clone(), b.clone()]);
    // The ack and the next page are one step: the acked SET is not in the page that comes back.
    let (jtis, _, more) = s.store.poll_ok("c1", &json!({"ack": [a.clone()]})).await;
    assert_eq!(jtis, vec![b.clone()]);
    assert!(!more);
    for _ in 0..3 {
        let (jtis, _, _) = s.store.poll_ok("c1", &json!({})).await;
        assert!(!jtis.contains(&a));
    }
    assert_eq!(s.db.status(&a).await.as_deref(), Some("ACK"));
    assert_eq!(s.db.status(&b).await.as_deref(), Some("OPEN"));
}

async fn unacked_sets_are_delivered_again(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    for _ in 0..3 {
        let (jtis, _, more) = s.store.poll_ok("c1", &json!({})).await;
        assert_eq!(
            jtis,
            vec![a.clone()],
            "at-least-once: delivered until acknowledged"
        );
        assert!(!more);
    }
    assert_eq!(s.db.status(&a).await.as_deref(), Some("OPEN"));
}

async fn acking_twice_is_harmless(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    let b = s.store.publish("c1", "r2").await;
    s.store.poll_ok("c1", &json!({"ack": [a.clone()]})).await;
    let (jtis, _, _) = s
        .store
        .poll_ok("c1", &json!({"ack": [a.clone(), a.clone()]}))
        .await;
    assert_eq!(jtis, vec![b]);
    assert_eq!(s.db.status(&a).await.as_deref(), Some("ACK"));
    assert!(
        !s.store.logs_text().contains("ignored_acks\":\"[\\\""),
        "a repeated ack of one's own SET is not reported as foreign"
    );
}

async fn set_errs_mark_err_and_keep_code_and_description(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    let b = s.store.publish("c1", "r2").await;
    let (jtis, _, more) = s
        .store
        .poll_ok(
            "c1",
            &json!({"setErrs": {a.clone(): {"err": "jwtIss", "description": "Issuer is invalid"}}}),
        )
        .await;
    assert_eq!(
        jtis,
        vec![b.clone()],
        "an ERR notification is not delivered again"
    );
    assert!(!more);
    assert_eq!(
        s.db.notification(&a).await,
        Some((
            "ERR".into(),
            Some("jwtIss".into()),
            Some("Issuer is invalid".into())
        ))
    );
    // A second setErrs for the same jti does not overwrite the first report.
    s.store
        .poll_ok("c1", &json!({"maxEvents": 0, "setErrs": {a.clone(): {"err": "other", "description": "later"}}}))
        .await;
    assert_eq!(
        s.db.notification(&a).await.map(|n| n.1),
        Some(Some("jwtIss".into()))
    );
}

async fn acks_and_set_errs_touch_only_the_callers_notifications(backend: Backend) {
    let s = setup(&backend).await;
    let a1 = s.store.publish("client-a", "ra1").await;
    let a2 = s.store.publish("client-a", "ra2").await;
    let b1 = s.store.publish("client-b", "rb1").await;

    // B sees only its own notification.
    let (jtis, sets, more) = s.store.poll_ok("client-b", &json!({})).await;
    assert_eq!(jtis, vec![b1.clone()]);
    assert!(!more);
    let (_, claims) = verify_set(sets[&b1].as_str().expect("set"), &s.store.jwks().await);
    assert_eq!(claims["aud"], "client-b");

    // B acks and errs A's jtis: the poll still succeeds, A's data is untouched.
    let (status, body) = s
        .store
        .poll(
            "client-b",
            &json!({"ack": [a1.clone(), b1.clone()], "setErrs": {a2.clone(): {"err": "jws", "description": "x"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"sets": {}, "moreAvailable": false}));
    assert_eq!(s.db.status(&a1).await.as_deref(), Some("OPEN"));
    assert_eq!(
        s.db.notification(&a2).await,
        Some(("OPEN".into(), None, None))
    );
    assert_eq!(
        s.db.status(&b1).await.as_deref(),
        Some("ACK"),
        "B's own ack in the same poll applies"
    );

    // A still gets both, in order.
    let (jtis, _, _) = s.store.poll_ok("client-a", &json!({})).await;
    assert_eq!(jtis, vec![a1, a2]);
}

async fn unknown_jtis_are_ignored_and_logged(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    let (jtis, _, _) = s
        .store
        .poll_ok(
            "c1",
            &json!({"ack": ["no-such-jti"], "setErrs": {"also-unknown": {"err": "jws", "description": "d"}}}),
        )
        .await;
    assert_eq!(jtis, vec![a]);
    let logs = s.store.logs_text();
    let line = logs
        .lines()
        .find(|l| l.contains("no-such-jti"))
        .expect("the ignored jti is reported in the log");
    assert!(
        line.contains("WARN") && line.contains("also-unknown"),
        "{line}"
    );
}

async fn poll_refuses_bad_input_and_applies_nothing(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    for bad in [
        json!({"ack": a.clone(), "maxEvents": 1}),
        json!({"ack": [a.clone(), 5]}),
        json!({"ack": [a.clone()], "maxEvents": -1}),
        json!({"ack": [a.clone()], "maxEvents": "5"}),
        json!({"ack": [a.clone()], "maxEvents": 2.5}),
        json!({"ack": [a.clone()], "returnImmediately": "true"}),
        json!({"ack": [a.clone()], "setErrs": [a.clone()]}),
        json!({"ack": [a.clone()], "setErrs": {a.clone(): {"err": "x"}}}),
        json!({"ack": [a.clone()], "setErrs": {a.clone(): {"err": 1, "description": "d"}}}),
        json!([a.clone()]),
    ] {
        let (status, body) = s.store.poll("c1", &bad).await;
        assert_error(status, &body, 400, "invalid_request_payload");
        assert_eq!(
            s.db.status(&a).await.as_deref(),
            Some("OPEN"),
            "nothing applied for {bad}"
        );
    }
    for raw in ["%%%".to_owned(), STANDARD.encode("{\"ack\": [")] {
        let r = s
            .store
            .authed(Method::POST, "/events")
            .header("x-wso2-client-id", "c1")
            .form(&[("request", raw)])
            .send()
            .await
            .expect("send");
        let (status, body) = status_json(r).await;
        assert_error(status, &body, 400, "invalid_request_payload");
    }
    assert_eq!(s.db.status(&a).await.as_deref(), Some("OPEN"));
}

async fn poll_checks_its_header_and_request_field(backend: Backend) {
    let s = setup(&backend).await;
    let r = s
        .store
        .authed(Method::POST, "/events")
        .form(&[("request", STANDARD.encode("{}"))])
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "missing_request_header");
    assert_eq!(body["error_description"], "Missing header x-wso2-client-id");
    let r = s
        .store
        .authed(Method::POST, "/events")
        .header("x-wso2-client-id", "   ")
        .form(&[("request", STANDARD.encode("{}"))])
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "missing_request_header");
    let r = s
        .store
        .authed(Method::POST, "/events")
        .header("x-wso2-client-id", "c1")
        .form(&[("other", "x")])
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "missing_request_payload");
    assert_eq!(body["error_description"], "No request payload found");
    let r = s
        .store
        .authed(Method::POST, "/events")
        .header("x-wso2-client-id", "c1")
        .form(&[("request", "")])
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "invalid_request_payload");
    assert_eq!(body["error_description"], "Request payload cannot be empty");
    // WSO2 serves sub-paths of /events too; an unencoded '+' (read as a space) still decodes.
    let a = s.store.publish("c1", "r1").await;
    let payload = STANDARD.encode(json!({"maxEvents": 5, "pad": ">>>"}).to_string());
    assert!(payload.contains('+'), "{payload}");
    let r = s
        .store
        .authed(Method::POST, "/events/anything")
        .header("x-wso2-client-id", "c1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("request={payload}"))
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["sets"].get(&a).is_some());
}

// ---------------------------------------------------------------- SETs

async fn sets_verify_with_the_jwks_and_carry_the_claims(backend: Backend) {
    let s = setup(&backend).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("now")
        .as_secs() as i64;
    let events = json!({RU: {"subject": {"subject_type": "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty"}}});
    let (_, body) = s.store.create_event("client-x", "aac-77", &events).await;
    let id = body["notificationsID"].as_str().expect("id").to_owned();
    let (jtis, sets, _) = s.store.poll_ok("client-x", &json!({})).await;
    assert_eq!(jtis, vec![id.clone()]);
    let jwks = s.store.jwks().await;
    let (header, claims) = verify_set(sets[&id].as_str().expect("set"), &jwks);
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["typ"], "secevent+jwt");
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["jti"], id.as_str());
    assert_eq!(claims["aud"], "client-x");
    assert_eq!(
        claims["sub"], "aac-77",
        "sub is the resource the event is about"
    );
    assert_eq!(claims["events"], events);
    let toe = claims["toe"].as_i64().expect("toe in seconds");
    let iat = claims["iat"].as_i64().expect("iat in seconds");
    assert!(
        toe >= before - 1 && toe < before + 3600,
        "toe {toe} is epoch seconds"
    );
    assert!(iat >= toe, "iat {iat} >= toe {toe}");
    assert!(uuid::Uuid::parse_str(claims["txn"].as_str().expect("txn")).is_ok());
    assert!(claims.get("exp").is_none());
}

async fn txn_is_stable_across_deliveries(backend: Backend) {
    let s = setup(&backend).await;
    let id = s.store.publish("c1", "r1").await;
    let jwks = s.store.jwks().await;
    let (_, first, _) = s.store.poll_ok("c1", &json!({})).await;
    let (_, second, _) = s.store.poll_ok("c1", &json!({})).await;
    let (_, c1) = verify_set(first[&id].as_str().expect("set"), &jwks);
    let (_, c2) = verify_set(second[&id].as_str().expect("set"), &jwks);
    assert_eq!(c1["txn"], c2["txn"]);
    assert_eq!(c1["toe"], c2["toe"]);
    // The publisher may name the txn with x-fapi-interaction-id.
    let r = s
        .store
        .authed(Method::POST, "/create-events")
        .header("x-wso2-client-id", "c2")
        .header("x-wso2-resource-id", "r2")
        .header(
            "x-fapi-interaction-id",
            "93bac548-d2de-4546-b106-880a5018460d",
        )
        .form(&[("request", STANDARD.encode(json!({RU: {}}).to_string()))])
        .send()
        .await
        .expect("send");
    let (_, body) = status_json(r).await;
    let id2 = body["notificationsID"].as_str().expect("id").to_owned();
    let (_, sets, _) = s.store.poll_ok("c2", &json!({})).await;
    let (_, c) = verify_set(sets[&id2].as_str().expect("set"), &jwks);
    assert_eq!(c["txn"], "93bac548-d2de-4546-b106-880a5018460d");
}

async fn rs256_and_es256_are_configurable(backend: Backend) {
    for algorithm in [Algorithm::Rs256, Algorithm::Es256] {
        let s = setup_with(
            &backend,
            StoreOptions {
                algorithm,
                ..Default::default()
            },
        )
        .await;
        let id = s.store.publish("c1", "r1").await;
        let jwks = s.store.jwks().await;
        assert_eq!(jwks["keys"][0]["alg"], algorithm.as_str());
        let (_, sets, _) = s.store.poll_ok("c1", &json!({})).await;
        let (header, claims) = verify_set(sets[&id].as_str().expect("set"), &jwks);
        assert_eq!(header["alg"], algorithm.as_str());
        assert_eq!(claims["jti"], id.as_str());
    }
}

// ---------------------------------------------------------------- subscriptions

fn sub_body() -> Value {
    json!({
        "callbackUrl": "https://tpp.example/open-banking/v3.1/event-notifications",
        "version": "3.1",
        "eventTypes": ["UK.OBIE.Resource-Update", "UK.OBIE.Consent-Authorization-Revoked"]
    })
}

async fn subscription_lifecycle(backend: Backend) {
    let s = setup(&backend).await;
    let (status, created) = s
        .store
        .subscription(Method::POST, "/subscription", "c1", Some(&sub_body()))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["subscriptionId"]
        .as_str()
        .expect("subscriptionId")
        .to_owned();
    let mut expected = sub_body();
    expected["subscriptionId"] = json!(id);
    assert_eq!(created, expected);

    let (status, read) = s
        .store
        .subscription(Method::GET, &format!("/subscription/{id}"), "c1", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read, expected);
    let (status, list) = s
        .store
        .subscription(Method::GET, "/subscription", "c1", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([expected]));

    // PUT replaces the whole subscription: no callbackUrl now means polling only.
    let update = json!({"subscriptionId": id, "version": "3.1.2", "eventTypes": ["UK.OBIE.Resource-Update"]});
    let (status, updated) = s
        .store
        .subscription(
            Method::PUT,
            &format!("/subscription/{id}"),
            "c1",
            Some(&update),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated, update);
    let (_, read) = s
        .store
        .subscription(Method::GET, &format!("/subscription/{id}"), "c1", None)
        .await;
    assert_eq!(read, update);
    // A body naming another subscription id is refused.
    let (status, body) = s
        .store
        .subscription(
            Method::PUT,
            &format!("/subscription/{id}"),
            "c1",
            Some(&json!({"subscriptionId": "other", "version": "3.1"})),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");

    let r = s
        .store
        .authed(Method::DELETE, &format!("/subscription/{id}"))
        .header("x-wso2-client-id", "c1")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.expect("body").is_empty());
    let (status, body) = s
        .store
        .subscription(Method::GET, &format!("/subscription/{id}"), "c1", None)
        .await;
    assert_error(status, &body, 404, "invalid_request");
    let (status, body) = s
        .store
        .subscription(Method::DELETE, &format!("/subscription/{id}"), "c1", None)
        .await;
    assert_error(status, &body, 404, "invalid_request");
    let (_, list) = s
        .store
        .subscription(Method::GET, "/subscription", "c1", None)
        .await;
    assert_eq!(list, json!([]));
    assert_eq!(s.db.count_subscriptions().await, 0);
    // After a delete the client may subscribe again; the trailing-slash path works as in WSO2.
    let (status, _) = s
        .store
        .subscription(
            Method::POST,
            "/subscription/",
            "c1",
            Some(&json!({"version": "3.1"})),
        )
        .await;
    assert_eq!(status, 201);
}

async fn second_subscription_is_409(backend: Backend) {
    let s = setup(&backend).await;
    let (status, _) = s
        .store
        .subscription(Method::POST, "/subscription", "c1", Some(&sub_body()))
        .await;
    assert_eq!(status, 201);
    let (status, body) = s
        .store
        .subscription(
            Method::POST,
            "/subscription",
            "c1",
            Some(&json!({"version": "3.1"})),
        )
        .await;
    assert_error(status, &body, 409, "invalid_request");
    assert_eq!(s.db.count_subscriptions().await, 1);
    // Another client is not affected.
    let (status, _) = s
        .store
        .subscription(Method::POST, "/subscription", "c2", Some(&sub_body()))
        .await;
    assert_eq!(status, 201);
    // Concurrent creates for one client: exactly one wins.
    let post = |v: &'static str| {
        let body = json!({ "version": v });
        let store = &s.store;
        async move {
            store
                .subscription(Method::POST, "/subscription", "c3", Some(&body))
                .await
                .0
        }
    };
    let (r1, r2, r3, r4) = tokio::join!(post("1"), post("2"), post("3"), post("4"));
    let statuses = [r1, r2, r3, r4];
    assert_eq!(
        statuses.iter().filter(|&&st| st == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&st| st == 409).count(),
        3,
        "{statuses:?}"
    );
}

async fn subscriptions_are_visible_only_to_their_client(backend: Backend) {
    let s = setup(&backend).await;
    let (_, created) = s
        .store
        .subscription(Method::POST, "/subscription", "client-a", Some(&sub_body()))
        .await;
    let id = created["subscriptionId"].as_str().expect("id").to_owned();
    let path = format!("/subscription/{id}");
    let (status, body) = s
        .store
        .subscription(Method::GET, &path, "client-b", None)
        .await;
    assert_error(status, &body, 404, "invalid_request");
    let (status, body) = s
        .store
        .subscription(
            Method::PUT,
            &path,
            "client-b",
            Some(&json!({"version": "9"})),
        )
        .await;
    assert_error(status, &body, 404, "invalid_request");
    let (status, body) = s
        .store
        .subscription(Method::DELETE, &path, "client-b", None)
        .await;
    assert_error(status, &body, 404, "invalid_request");
    let (_, list) = s
        .store
        .subscription(Method::GET, "/subscription", "client-b", None)
        .await;
    assert_eq!(list, json!([]));
    let (_, list) = s
        .store
        .subscription(
            Method::GET,
            "/subscription/type/UK.OBIE.Resource-Update",
            "client-b",
            None,
        )
        .await;
    assert_eq!(list, json!([]));
    // Client A's subscription is unchanged.
    let (status, read) = s
        .store
        .subscription(Method::GET, &path, "client-a", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["version"], "3.1");
    // Every subscription call needs the client header.
    let r = s
        .store
        .authed(Method::GET, "/subscription")
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "missing_request_header");
}

async fn subscription_validation(backend: Backend) {
    let s = setup(&backend).await;
    let bad_bodies = [
        json!({"callbackUrl": "http://tpp.example/event-notifications", "version": "3.1"}),
        json!({"callbackUrl": "https://tpp.example/callback", "version": "3.1"}),
        json!({"callbackUrl": "", "version": "3.1"}),
        json!({"version": ""}),
        json!({"version": "12345678901"}),
        json!({"callbackUrl": "https://tpp.example/event-notifications"}),
        json!({"version": "3.1", "eventTypes": ["UK.OBIE.Made-Up"]}),
        json!({"version": "3.1", "eventTypes": ["uk.obie.resource-update"]}),
    ];
    for body in bad_bodies {
        let (status, err) = s
            .store
            .subscription(Method::POST, "/subscription", "c1", Some(&body))
            .await;
        assert_error(status, &err, 400, "invalid_request");
    }
    assert_eq!(s.db.count_subscriptions().await, 0);
    // Both spellings of the linked-account-update code, ten-character versions, and polling-only (no callback).
    for (client, t) in [
        ("c2", "UK.OBIE.Acount-Access-Consent-Linked-Account-Update"),
        ("c3", "UK.OBIE.Account-Access-Consent-Linked-Account-Update"),
        ("c4", "urn:uk:org:openbanking:events:resource-update"),
    ] {
        let body = json!({"version": "3.1.2-abcd", "eventTypes": [t]});
        let (status, created) = s
            .store
            .subscription(Method::POST, "/subscription", client, Some(&body))
            .await;
        assert_eq!(status, 201, "{t}: {created}");
        assert_eq!(created["eventTypes"], json!([t]));
        assert!(created.get("callbackUrl").is_none());
    }
    let (status, created) = s
        .store
        .subscription(
            Method::POST,
            "/subscription",
            "c5",
            Some(&json!({"version": "3.1", "eventTypes": []})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["eventTypes"], json!([]));
}

async fn subscription_bad_input(backend: Backend) {
    let s = setup(&backend).await;
    let r = s
        .store
        .authed(Method::POST, "/subscription")
        .header("x-wso2-client-id", "c1")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "invalid_request_payload");
    for body in [
        json!([]),
        json!({"version": 3.1}),
        json!({"version": "3.1", "eventTypes": "UK.OBIE.Resource-Update"}),
        json!({"version": "3.1", "callbackUrl": 7}),
    ] {
        let (status, err) = s
            .store
            .subscription(Method::POST, "/subscription", "c1", Some(&body))
            .await;
        assert_error(status, &err, 400, "invalid_request_payload");
    }
    let r = s
        .store
        .authed(Method::POST, "/subscription")
        .header("content-type", "application/json")
        .body(sub_body().to_string())
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_error(status, &body, 400, "missing_request_header");
    assert_eq!(s.db.count_subscriptions().await, 0);
}

async fn subscriptions_by_event_type(backend: Backend) {
    let s = setup(&backend).await;
    let (_, a) = s
        .store
        .subscription(Method::POST, "/subscription", "c1", Some(&sub_body()))
        .await;
    let (_, list) = s
        .store
        .subscription(
            Method::GET,
            "/subscription/type/UK.OBIE.Resource-Update",
            "c1",
            None,
        )
        .await;
    assert_eq!(list, json!([a.clone()]));
    let (_, list) = s
        .store
        .subscription(
            Method::GET,
            "/subscription/type/urn:uk:org:openbanking:events:resource-update",
            "c1",
            None,
        )
        .await;
    assert_eq!(
        list,
        json!([a.clone()]),
        "a URN names the same type as its code"
    );
    let (_, list) = s
        .store
        .subscription(
            Method::GET,
            "/subscription/type/UK.OBIE.Account-Access-Consent-Linked-Account-Update",
            "c1",
            None,
        )
        .await;
    assert_eq!(list, json!([]));
    // A subscription that lists no event types covers them all.
    let (_, b) = s
        .store
        .subscription(
            Method::POST,
            "/subscription",
            "c2",
            Some(&json!({"version": "3.1"})),
        )
        .await;
    let (status, list) = s
        .store
        .subscription(
            Method::GET,
            "/subscription/type/UK.OBIE.Acount-Access-Consent-Linked-Account-Update",
            "c2",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([b]));
}

// ---------------------------------------------------------------- retention

async fn acknowledged_notifications_are_purged(backend: Backend) {
    let s = setup_with(
        &backend,
        StoreOptions {
            extra_toml: "[retention]\nacknowledged_ttl_secs = 1\nsweep_interval_secs = 1\n".into(),
            ..Default::default()
        },
    )
    .await;
    let acked = s.store.publish("c1", "r1").await;
    let errored = s.store.publish("c1", "r2").await;
    let open = s.store.publish("c1", "r3").await;
    s.store
        .poll_ok("c1", &json!({"ack": [acked.clone()], "setErrs": {errored.clone(): {"err": "jws", "description": "d"}}}))
        .await;
    let db = &s.db;
    eventually("ACK and ERR notifications are purged", || async {
        db.status(&acked).await.is_none() && db.status(&errored).await.is_none()
    })
    .await;
    assert_eq!(
        db.status(&open).await.as_deref(),
        Some("OPEN"),
        "OPEN ones are not purged"
    );
    let (jtis, _, _) = s.store.poll_ok("c1", &json!({})).await;
    assert_eq!(jtis, vec![open]);
}

async fn open_notifications_expire(backend: Backend) {
    let s = setup_with(
        &backend,
        StoreOptions {
            extra_toml: "[retention]\nopen_ttl_secs = 1\nacknowledged_ttl_secs = 0\nsweep_interval_secs = 1\n".into(),
            ..Default::default()
        },
    )
    .await;
    let id = s.store.publish("c1", "r1").await;
    let db = &s.db;
    eventually("the OPEN notification expires", || async {
        db.status(&id).await.as_deref() == Some("EXPIRED")
    })
    .await;
    let (status, body) = s.store.poll("c1", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"sets": {}, "moreAvailable": false}));
}

// ---------------------------------------------------------------- database failure

async fn database_failure_is_500_and_nothing_half_written(backend: Backend) {
    let s = setup(&backend).await;
    let a = s.store.publish("c1", "r1").await;
    let b = s.store.publish("c1", "r2").await;
    // Make the database refuse the second half of a poll (the setErrs update) and every new notification.
    if s.db.is_postgres() {
        s.db.exec(
            "CREATE FUNCTION injected_failure() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER fail_err BEFORE UPDATE ON notifications FOR EACH ROW WHEN (NEW.status = 'ERR') EXECUTE FUNCTION injected_failure();
             CREATE TRIGGER fail_insert BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION injected_failure();",
        )
        .await;
    } else {
        s.db.exec(
            "CREATE TRIGGER fail_err BEFORE UPDATE ON notifications WHEN NEW.status = 'ERR' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
             CREATE TRIGGER fail_insert BEFORE INSERT ON notifications BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .await;
    }
    let (status, body) = s
        .store
        .poll("c1", &json!({"ack": [a.clone()], "setErrs": {b.clone(): {"err": "jws", "description": "d"}}}))
        .await;
    assert_error(status, &body, 500, "server_error");
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("injected"),
        "no database detail leaks: {body}"
    );
    assert_eq!(
        s.db.status(&a).await.as_deref(),
        Some("OPEN"),
        "the ack of the failed poll was rolled back"
    );
    assert_eq!(s.db.status(&b).await.as_deref(), Some("OPEN"));

    let (status, body) = s.store.create_event("c1", "r3", &json!({RU: {}})).await;
    assert_error(status, &body, 500, "server_error");
    assert_eq!(s.db.count_notifications("1 = 1").await, 2);

    s.db.exec(
        "DROP TRIGGER fail_err ON notifications; DROP TRIGGER fail_insert ON notifications;"
            .replace(
                " ON notifications",
                if s.db.is_postgres() {
                    " ON notifications"
                } else {
                    ""
                },
            )
            .as_str(),
    )
    .await;
    let (jtis, _, _) = s.store.poll_ok("c1", &json!({"ack": [a.clone()]})).await;
    assert_eq!(jtis, vec![b]);
}

// ---------------------------------------------------------------- concurrency

/// Two pollers of one client, each on its own store instance (PostgreSQL) or on one instance (SQLite), acking
/// what they received, while a third task publishes: no SET is delivered after its ack was confirmed, no ack is
/// lost, nothing is lost.
async fn concurrent_polls_and_acks_stay_correct(backend: Backend) {
    let s = setup(&backend).await;
    let second = if s.db.is_postgres() {
        Some(Store::start(&s.dir, &s.db.url, &StoreOptions::default()).await)
    } else {
        None
    };
    let instance_b = second.as_ref().unwrap_or(&s.store);
    const CLIENT: &str = "c-concurrent";
    let mut published: HashSet<String> = HashSet::new();
    for i in 0..30 {
        published.insert(s.store.publish(CLIENT, &format!("r{i}")).await);
    }
    let confirmed = Mutex::new(HashSet::<String>::new());
    let delivered = Mutex::new(HashSet::<String>::new());
    let producing = AtomicBool::new(true);

    let producer = async {
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.push(instance_b.publish(CLIENT, &format!("late{i}")).await);
        }
        producing.store(false, Ordering::SeqCst);
        ids
    };
    let (late, (), ()) = tokio::join!(
        producer,
        poller(&s.store, &confirmed, &delivered, &producing),
        poller(instance_b, &confirmed, &delivered, &producing)
    );
    published.extend(late);

    let delivered = delivered.into_inner().expect("lock");
    let confirmed = confirmed.into_inner().expect("lock");
    assert_eq!(
        delivered, published,
        "every published notification was delivered"
    );
    assert_eq!(confirmed, published, "every notification was acknowledged");
    assert_eq!(
        s.db.count_notifications(&format!("client_id = '{CLIENT}' AND status = 'OPEN'"))
            .await,
        0
    );
    assert_eq!(
        s.db.count_notifications(&format!("client_id = '{CLIENT}' AND status = 'ACK'"))
            .await,
        published.len() as i64,
        "no lost ack"
    );
}

/// Polls one client until the queue is drained and publishing has stopped, acking what it received in the
/// next poll. Asserts that no poll sent after an ack was confirmed (its response received) returns that SET.
async fn poller(
    store: &Store,
    confirmed: &Mutex<HashSet<String>>,
    delivered: &Mutex<HashSet<String>>,
    producing: &AtomicBool,
) {
    const CLIENT: &str = "c-concurrent";
    let mut pending: Vec<String> = Vec::new();
    let mut quiet_rounds = 0;
    for _ in 0..600 {
        let snapshot = confirmed.lock().expect("lock").clone();
        let still_producing = producing.load(Ordering::SeqCst);
        let (jtis, _, more) = store
            .poll_ok(CLIENT, &json!({"maxEvents": 4, "ack": pending}))
            .await;
        for jti in &jtis {
            assert!(
                !snapshot.contains(jti),
                "{jti} delivered after its ack was confirmed"
            );
        }
        confirmed.lock().expect("lock").extend(pending.drain(..));
        delivered.lock().expect("lock").extend(jtis.iter().cloned());
        if jtis.is_empty() && !more && !still_producing {
            quiet_rounds += 1;
            if quiet_rounds >= 2 {
                return;
            }
        } else {
            quiet_rounds = 0;
        }
        pending = jtis;
    }
    panic!("poller did not drain the queue");
}
