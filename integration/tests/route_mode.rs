//! Route mode (`"forward": "route"`): the filter checks everything, then lets the request go on to Envoy's
//! route (e.g. WSO2 API Manager's gateway) with the verified identity; anything refused never reaches it.

use ob_event_integration::stub::{Stub, StubResponse};
use ob_event_integration::testbed::Testbed;
use serde_json::json;

fn route_bed(upstream: &Stub) -> Testbed {
    Testbed::builder()
        .cluster("apim_gateway", upstream.port, 1000)
        .upstream("apim_gateway")
        .config(|_, c| {
            c["forward"] = json!("route");
            c.as_object_mut().unwrap().remove("backend");
        })
        .start()
}

#[test]
fn a_checked_request_reaches_the_route_with_the_verified_client_id() {
    let upstream =
        Stub::start(|_| StubResponse::json(200, &json!({"Data": {"EventSubscription": []}})));
    let bed = route_bed(&upstream);
    let auth = format!("Bearer {}", bed.token("tpp1", "accounts"));
    let answer = bed.tpp_client("tpp1").send(
        "GET",
        &bed.url("/open-banking/v3.1/event-subscriptions"),
        &[
            ("authorization", &auth),
            ("x-wso2-client-id", "demo-tpp2-client"),
        ],
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let id = answer
        .header("x-fapi-interaction-id")
        .expect("interaction id on the answer");
    let seen = &upstream.requests()[0];
    assert_eq!(seen.header("x-wso2-client-id"), Some("demo-tpp1-client"));
    assert_eq!(seen.header("x-fapi-interaction-id"), Some(id));
}

#[test]
fn a_valid_body_reaches_the_route_intact() {
    let upstream =
        Stub::start(|_| StubResponse::json(200, &json!({"sets": {}, "moreAvailable": false})));
    let bed = route_bed(&upstream);
    let auth = format!("Bearer {}", bed.token("tpp1", "eventpolling"));
    let body = br#"{"returnImmediately":true,"maxEvents":3}"#;
    let answer = bed.tpp_client("tpp1").send(
        "POST",
        &bed.url("/open-banking/v3.1/events"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(body),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(upstream.requests()[0].body, body.to_vec());
}

#[test]
fn refused_requests_never_reach_the_route() {
    let upstream = Stub::start(|_| StubResponse::json(200, &json!({})));
    let bed = route_bed(&upstream);
    let client = bed.tpp_client("tpp1");
    let url = bed.url("/open-banking/v3.1/events");
    // No token.
    assert_eq!(client.send("POST", &url, &[], Some(b"{}")).status, 401);
    // A body that fails validation.
    let auth = format!("Bearer {}", bed.token("tpp1", "eventpolling"));
    let answer = client.send(
        "POST",
        &url,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(br#"{"maxEvents": -1}"#),
    );
    assert_eq!(answer.status, 400, "{}", answer.text());
    // An unknown path.
    assert_eq!(
        client
            .send("GET", &bed.url("/admin"), &[("authorization", &auth)], None)
            .status,
        404
    );
    assert_eq!(upstream.count(), 0, "nothing reached the upstream");
}

#[test]
fn identity_headers_a_tpp_sends_never_reach_the_route() {
    let upstream =
        Stub::start(|_| StubResponse::json(200, &json!({"Data": {"EventSubscription": []}})));
    let bed = route_bed(&upstream);
    let auth = format!("Bearer {}", bed.token("tpp1", "accounts"));
    let own_id = "93bac548-d2de-4546-b106-880a5018460d";
    let answer = bed.tpp_client("tpp1").send(
        "GET",
        &bed.url("/open-banking/v3.1/event-subscriptions"),
        &[
            ("authorization", &auth),
            ("x-fapi-interaction-id", own_id),
            ("x-wso2-client-id", "demo-tpp2-client"),
            ("x-wso2-application-id", "999"),
            ("x-wso2-application-name", "someone else"),
            ("x-wso2-key-type", "SANDBOX"),
        ],
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("x-fapi-interaction-id"), Some(own_id));
    let seen = &upstream.requests()[0];
    assert_eq!(seen.header("x-wso2-client-id"), Some("demo-tpp1-client"));
    assert_eq!(seen.header("x-fapi-interaction-id"), Some(own_id));
    let count = |name: &str| {
        seen.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    };
    assert_eq!(count("x-wso2-client-id"), 1);
    assert_eq!(count("x-fapi-interaction-id"), 1);
    // By default the application headers are not sent on the route: the TPP's copies are removed.
    for name in [
        "x-wso2-application-id",
        "x-wso2-application-name",
        "x-wso2-key-type",
    ] {
        assert_eq!(seen.header(name), None, "{name}");
    }
}

#[test]
fn application_headers_reach_the_route_when_configured() {
    let upstream =
        Stub::start(|_| StubResponse::json(200, &json!({"Data": {"EventSubscription": []}})));
    let bed = Testbed::builder()
        .cluster("apim_gateway", upstream.port, 1000)
        .upstream("apim_gateway")
        .config(|_, c| {
            c["forward"] = json!("route");
            c.as_object_mut().unwrap().remove("backend");
            c["apim"]["headers"] = json!({"on_route": true});
        })
        .start();
    let auth = format!("Bearer {}", bed.token("tpp1", "accounts"));
    let answer = bed.tpp_client("tpp1").send(
        "GET",
        &bed.url("/open-banking/v3.1/event-subscriptions"),
        &[("authorization", &auth), ("x-wso2-application-id", "999")],
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = &upstream.requests()[0];
    assert_eq!(seen.header("x-wso2-client-id"), Some("demo-tpp1-client"));
    assert_eq!(seen.header("x-wso2-application-id"), Some("1"));
    assert_eq!(seen.header("x-wso2-key-type"), Some("PRODUCTION"));
    assert!(seen
        .header("x-wso2-application-name")
        .is_some_and(|name| name.ends_with(" application")));
    // A malformed interaction id from the TPP is replaced (not echoed), on both sides.
    let answer = bed.tpp_client("tpp1").send(
        "GET",
        &bed.url("/open-banking/v3.1/event-subscriptions"),
        &[
            ("authorization", &auth),
            ("x-fapi-interaction-id", "not-a-uuid"),
        ],
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let id = answer.header("x-fapi-interaction-id").expect("an id");
    assert_ne!(id, "not-a-uuid");
    assert_eq!(
        upstream.requests()[1].header("x-fapi-interaction-id"),
        Some(id)
    );
}
