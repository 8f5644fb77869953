//! The walking skeleton through a real Envoy: the filter is loaded, routes the event endpoints, answers with
//! the interaction id, fails closed on a bad configuration, and counts what it refuses.

use ob_event_core::interaction::is_uuid;
use ob_event_integration::envoy::PASS_THROUGH_BODY;
use ob_event_integration::testbed::Testbed;

#[test]
fn unknown_path_is_404_without_body_and_with_a_new_interaction_id() {
    let bed = Testbed::start();
    let answer =
        bed.tpp_client("tpp1")
            .send("GET", &bed.url("/open-banking/v3.1/accounts"), &[], None);
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert!(answer.body.is_empty(), "{}", answer.text());
    let id = answer
        .header("x-fapi-interaction-id")
        .expect("interaction id");
    assert!(is_uuid(id), "{id}");
    assert_eq!(id.as_bytes()[14], b'4', "a UUID v4: {id}");
}

#[test]
fn wrong_method_is_405_with_allow_and_no_body() {
    let bed = Testbed::start();
    let answer =
        bed.tpp_client("tpp1")
            .send("GET", &bed.url("/open-banking/v3.1/events"), &[], None);
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
    assert!(answer.body.is_empty(), "{}", answer.text());
    assert!(answer.header("x-fapi-interaction-id").is_some());
}

#[test]
fn a_valid_interaction_id_is_played_back_and_a_malformed_one_replaced() {
    let bed = Testbed::start();
    let client = bed.tpp_client("tpp1");
    let url = bed.url("/open-banking/v3.1/nowhere");
    let sent = "93bac548-d2de-4546-b106-880a5018460d";
    let answer = client.send("GET", &url, &[("x-fapi-interaction-id", sent)], None);
    assert_eq!(answer.header("x-fapi-interaction-id"), Some(sent));
    let answer = client.send(
        "GET",
        &url,
        &[("x-fapi-interaction-id", "<script>alert(1)</script>")],
        None,
    );
    let id = answer
        .header("x-fapi-interaction-id")
        .expect("interaction id");
    assert!(is_uuid(id), "{id}");
}

#[test]
fn no_request_passes_through_the_filter() {
    let bed = Testbed::start();
    let client = bed.tpp_client("tpp1");
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/open-banking/v3.1/events"),
        ("GET", "/open-banking/v3.1/event-subscriptions"),
        ("DELETE", "/open-banking/v3.1/event-subscriptions/x"),
        ("PATCH", "/open-banking/v3.1/event-subscriptions"),
    ] {
        let answer = client.send(method, &bed.url(path), &[], None);
        assert!(
            !answer.text().contains(PASS_THROUGH_BODY),
            "{method} {path} passed through the filter"
        );
        assert!(answer.header("x-fapi-interaction-id").is_some());
    }
}

#[test]
fn a_bad_configuration_fails_closed_with_an_ob_500_on_every_request() {
    let bed = Testbed::builder()
        .config(|_, config| config["no_such_key"] = serde_json::json!(true))
        .start();
    for path in ["/open-banking/v3.1/events", "/anything"] {
        let answer = bed
            .tpp_client("tpp1")
            .send("POST", &bed.url(path), &[], None);
        assert_eq!(answer.status, 500, "{path}: {}", answer.text());
        let body = answer.json();
        assert_eq!(body["Code"], "500 InternalServerError");
        assert_eq!(body["Errors"][0]["ErrorCode"], "UK.OBIE.UnexpectedError");
        assert_eq!(
            body["Id"].as_str(),
            answer.header("x-fapi-interaction-id"),
            "the error Id is the interaction id"
        );
    }
    assert!(
        bed.envoy.log().contains("configuration REFUSED")
            && bed.envoy.log().contains("no_such_key"),
        "the log names the problem"
    );
}

#[test]
fn an_empty_configuration_fails_closed() {
    let bed = Testbed::builder().raw_config("").start();
    let answer = bed.tpp_client("tpp1").send(
        "GET",
        &bed.url("/open-banking/v3.1/event-subscriptions"),
        &[],
        None,
    );
    assert_eq!(answer.status, 500);
    assert!(bed.envoy.log().contains("configuration is empty"));
}

#[test]
fn refusals_are_counted_in_envoy_stats() {
    let bed = Testbed::start();
    let client = bed.tpp_client("tpp1");
    for _ in 0..3 {
        client.send("GET", &bed.url("/nowhere"), &[], None);
    }
    client.send("GET", &bed.url("/open-banking/v3.1/events"), &[], None);
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.refused.not_found"),
        3
    );
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.refused.method_not_allowed"),
        1
    );
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.requests_total"),
        4
    );
    let (_, prometheus) = bed
        .envoy
        .admin_get("/stats/prometheus")
        .expect("prometheus");
    assert!(
        prometheus.contains("ob_event_filter"),
        "the counters are visible to Prometheus"
    );
}

#[test]
fn the_listener_requires_a_client_certificate() {
    let bed = Testbed::start();
    let result = bed.anonymous_client().try_send(
        "GET",
        &bed.url("/open-banking/v3.1/event-subscriptions"),
        &[],
        None,
    );
    assert!(
        result.is_err(),
        "a TLS client without a certificate got {result:?}"
    );
}

#[test]
fn header_values_that_are_not_utf8_are_answered_and_harm_no_later_request() {
    // HTTP allows obs-text (bytes 0x80–0xFF) in header values and Envoy passes them on. The proxy-wasm SDK's
    // header read panicked on them: one such request trapped the worker's VM, and every later request of
    // that worker was answered 503 until Envoy restarted.
    let bed = Testbed::builder().with_store().start();
    let client = bed.tpp_client("tpp1");
    let url = bed.url("/open-banking/v3.1/event-subscriptions");
    let auth = format!("Bearer {}", bed.token("tpp1", "accounts"));
    let auth = auth.as_bytes();

    // In a header the filter does not read: the request is served.
    let answer = client.send_bytes(
        "GET",
        &url,
        &[("authorization", auth), ("x-note", b"caf\xe9")],
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());

    // (In the access token itself: ureq will not send it; the plugin's unit tests cover that case.)

    // In Accept: nothing the endpoint produces, 406.
    let answer = client.send_bytes(
        "GET",
        &url,
        &[("authorization", auth), ("accept", b"\xe9")],
        None,
    );
    assert_eq!(answer.status, 406, "{}", answer.text());

    // In the interaction id: replaced by a fresh one.
    let answer = client.send_bytes(
        "GET",
        &url,
        &[("authorization", auth), ("x-fapi-interaction-id", b"\xe9")],
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let id = answer
        .header("x-fapi-interaction-id")
        .expect("interaction id");
    assert!(is_uuid(id), "{id}");

    // The worker still serves.
    for _ in 0..3 {
        let answer = client.send_bytes("GET", &url, &[("authorization", auth)], None);
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
}
