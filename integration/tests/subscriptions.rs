//! Issue 7 through a real Envoy: WSO2 API Manager subscriptions enforced from the APIM internal data API
//! (a test double following its schema) with live refresh, and from a static list.

use ob_event_integration::apim::{self, Data, DataApi, POLLING_API_UUID, SUBSCRIPTION_API_UUID};
use ob_event_integration::client::{eventually, Answer};
use ob_event_integration::stub::{free_port, Stub, StubResponse};
use ob_event_integration::testbed::{rsa_key, Testbed, STORE_CLUSTER};
use serde_json::json;
use std::time::{Duration, Instant};

const LIST: &str = "/open-banking/v3.1/event-subscriptions";

fn data_api_bed(api_port: u16, refresh_secs: u64) -> Testbed {
    Testbed::builder()
        .with_store()
        .cluster("apim_cp", api_port, 1000)
        .config(move |_, c| c["apim"] = apim::apim_config(refresh_secs))
        .start()
}

fn list(bed: &Testbed, tpp: &str) -> Answer {
    let auth = format!("Bearer {}", bed.token(tpp, "accounts"));
    bed.tpp_client(tpp)
        .send("GET", &bed.url(LIST), &[("authorization", &auth)], None)
}

fn poll(bed: &Testbed, tpp: &str) -> Answer {
    let auth = format!("Bearer {}", bed.token(tpp, "eventpolling"));
    bed.tpp_client(tpp).send(
        "POST",
        &bed.url("/open-banking/v3.1/events"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(br#"{"returnImmediately": true}"#),
    )
}

fn loaded(a: &Answer) -> bool {
    a.status != 503
}

fn assert_refused(answer: &Answer, code: &str, wso2: &str) {
    assert_eq!(answer.status, 403, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["Errors"][0]["ErrorCode"], code, "{body}");
    assert!(
        body["Message"].as_str().unwrap_or_default().contains(wso2),
        "the WSO2 code {wso2} is in the message: {body}"
    );
}

#[test]
fn a_subscribed_application_passes() {
    let api = DataApi::start(Data::demo());
    let bed = data_api_bed(api.stub.port, 60);
    let answer = eventually(|| list(&bed, "tpp1"), loaded);
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(poll(&bed, "tpp1").status, 200);
}

#[test]
fn an_application_not_subscribed_is_refused_900908() {
    let mut data = Data::demo();
    data.app_mut("demo-tpp2-client").subscriptions.clear();
    let api = DataApi::start(data);
    let bed = data_api_bed(api.stub.port, 60);
    let answer = eventually(|| list(&bed, "tpp2"), loaded);
    assert_refused(&answer, "OBEventGateway.Subscription.Forbidden", "900908");
}

#[test]
fn a_consumer_key_without_a_key_mapping_is_refused_900908() {
    let mut data = Data::demo();
    data.apps
        .retain(|a| a.keys.iter().all(|(k, _)| k != "demo-tpp2-client"));
    let api = DataApi::start(data);
    let bed = data_api_bed(api.stub.port, 60);
    assert_refused(
        &eventually(|| list(&bed, "tpp2"), loaded),
        "OBEventGateway.Subscription.Forbidden",
        "900908",
    );
}

fn with_state(state: &str) -> Data {
    let mut data = Data::demo();
    for (_, s) in &mut data.app_mut("demo-tpp1-client").subscriptions {
        *s = state.to_string();
    }
    data
}

#[test]
fn blocked_is_refused_900907() {
    let api = DataApi::start(with_state("BLOCKED"));
    let bed = data_api_bed(api.stub.port, 60);
    assert_refused(
        &eventually(|| list(&bed, "tpp1"), loaded),
        "OBEventGateway.Subscription.Blocked",
        "900907",
    );
}

#[test]
fn on_hold_is_refused_900909() {
    let api = DataApi::start(with_state("ON_HOLD"));
    let bed = data_api_bed(api.stub.port, 60);
    assert_refused(
        &eventually(|| list(&bed, "tpp1"), loaded),
        "OBEventGateway.Subscription.Inactive",
        "900909",
    );
}

#[test]
fn rejected_is_refused_900909() {
    let api = DataApi::start(with_state("REJECTED"));
    let bed = data_api_bed(api.stub.port, 60);
    assert_refused(
        &eventually(|| list(&bed, "tpp1"), loaded),
        "OBEventGateway.Subscription.Inactive",
        "900909",
    );
}

#[test]
fn prod_only_blocked_refuses_a_production_key() {
    let api = DataApi::start(with_state("PROD_ONLY_BLOCKED"));
    let bed = data_api_bed(api.stub.port, 60);
    assert_refused(
        &eventually(|| list(&bed, "tpp1"), loaded),
        "OBEventGateway.Subscription.Blocked",
        "900907",
    );
}

#[test]
fn prod_only_blocked_passes_a_sandbox_key() {
    let mut data = with_state("PROD_ONLY_BLOCKED");
    data.app_mut("demo-tpp1-client").keys = vec![("demo-tpp1-client".into(), "SANDBOX")];
    let api = DataApi::start(data);
    let bed = data_api_bed(api.stub.port, 60);
    let answer = eventually(|| list(&bed, "tpp1"), loaded);
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[test]
fn a_subscription_to_the_other_api_only_is_refused() {
    let mut data = Data::demo();
    data.app_mut("demo-tpp1-client").subscriptions =
        vec![(POLLING_API_UUID, "UNBLOCKED".to_string())];
    let api = DataApi::start(data);
    let bed = data_api_bed(api.stub.port, 60);
    // Subscribed to the polling API only: polling passes, the subscription endpoints do not.
    assert_eq!(eventually(|| poll(&bed, "tpp1"), loaded).status, 200);
    assert_refused(
        &list(&bed, "tpp1"),
        "OBEventGateway.Subscription.Forbidden",
        "900908",
    );
}

#[test]
fn a_live_change_is_picked_up_within_one_refresh_interval() {
    let api = DataApi::start(Data::demo());
    let bed = data_api_bed(api.stub.port, 1);
    assert_eq!(eventually(|| list(&bed, "tpp1"), loaded).status, 200);
    api.edit(|d| {
        d.app_mut("demo-tpp1-client").subscriptions = vec![
            (SUBSCRIPTION_API_UUID, "BLOCKED".into()),
            (POLLING_API_UUID, "UNBLOCKED".into()),
        ];
    });
    let started = Instant::now();
    let answer = eventually(|| list(&bed, "tpp1"), |a| a.status == 403);
    assert_refused(&answer, "OBEventGateway.Subscription.Blocked", "900907");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within one interval (1 s) and a tick"
    );
    // …and unblocking works the same way, with no restart.
    api.edit(|d| {
        d.app_mut("demo-tpp1-client").subscriptions = vec![
            (SUBSCRIPTION_API_UUID, "UNBLOCKED".into()),
            (POLLING_API_UUID, "UNBLOCKED".into()),
        ];
    });
    assert_eq!(
        eventually(|| list(&bed, "tpp1"), |a| a.status == 200).status,
        200
    );
}

#[test]
fn the_data_api_down_after_a_good_load_keeps_the_snapshot_in_force() {
    let mut data = Data::demo();
    data.app_mut("demo-tpp2-client").subscriptions.clear();
    let mut api = DataApi::start(data);
    let bed = data_api_bed(api.stub.port, 1);
    assert_eq!(eventually(|| list(&bed, "tpp1"), loaded).status, 200);
    api.stub.stop();
    assert!(bed
        .envoy
        .wait_for_log("subscription data: load failed", Duration::from_secs(10)));
    assert_eq!(list(&bed, "tpp1").status, 200, "still subscribed");
    assert_eq!(list(&bed, "tpp2").status, 403, "still not subscribed");
    assert!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.subscription_data.load_failed")
            >= 1
    );
}

#[test]
fn the_data_api_never_up_is_503() {
    let bed = data_api_bed(free_port(), 60);
    let answer = list(&bed, "tpp1");
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert_eq!(
        answer.json()["Errors"][0]["ErrorCode"],
        "UK.OBIE.UnexpectedError"
    );
    assert_eq!(
        bed.envoy
            .counter("wasmcustom.ob_event_filter.refused.subscription_data_unavailable"),
        1
    );
}

#[test]
fn malformed_data_keeps_the_old_snapshot() {
    let api = DataApi::start(Data::demo());
    let bed = data_api_bed(api.stub.port, 1);
    assert_eq!(eventually(|| list(&bed, "tpp1"), loaded).status, 200);
    // Garbage now, and a block that would be refused were it loaded: neither takes effect.
    api.edit(|d| d.broken = Some((200, "<html>maintenance</html>".into())));
    assert!(bed
        .envoy
        .wait_for_log("subscription data: load failed", Duration::from_secs(10)));
    assert_eq!(list(&bed, "tpp1").status, 200);
    api.edit(|d| {
        d.broken = Some((200, json!({"count": 1, "list": [{"uuid": 7}]}).to_string()));
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(list(&bed, "tpp1").status, 200);
}

#[test]
fn the_application_goes_to_the_backend_and_the_access_log() {
    let recorder = Stub::start(|_| StubResponse::json(200, &json!([])));
    let api = DataApi::start(Data::demo());
    let bed = Testbed::builder()
        .cluster(STORE_CLUSTER, recorder.port, 1000)
        .cluster("apim_cp", api.stub.port, 1000)
        .config(|_, c| c["apim"] = apim::apim_config(60))
        .start();
    assert_eq!(eventually(|| list(&bed, "tpp1"), loaded).status, 200);
    let seen = recorder.requests().pop().expect("a backend call");
    assert_eq!(seen.header("x-wso2-application-id"), Some("100"));
    assert_eq!(
        seen.header("x-wso2-application-name"),
        Some("Demo Fintech One Ltd application")
    );
    assert_eq!(seen.header("x-wso2-key-type"), Some("PRODUCTION"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !bed.envoy.access_log().contains("application=100") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = bed.envoy.access_log();
    assert!(
        log.contains("client=demo-tpp1-client")
            && log.contains("application=100")
            && log.contains("key_type=PRODUCTION"),
        "{log}"
    );
}

#[test]
fn a_static_list_enforces_the_same_rules() {
    // The standard test configuration: a static list; here tpp2's application is not subscribed.
    let bed = Testbed::builder()
        .with_store()
        .config(|_, c| c["apim"] = ob_event_integration::testbed::apim_static(&["tpp1"]))
        .start();
    assert_eq!(list(&bed, "tpp1").status, 200);
    assert_refused(
        &list(&bed, "tpp2"),
        "OBEventGateway.Subscription.Forbidden",
        "900908",
    );
    let _ = rsa_key();
}
