//! Issue 5 through a real Envoy and the real store: the seed's journey for a TPP, two TPPs isolated, every
//! request rule, long polling, and a backend that is down, slow or answers garbage. Answers are checked
//! against the v3.1.2 OpenAPI schemas.

use ob_event_core::backend::openapi_check::{check, load};
use ob_event_integration::client::{Answer, Client};
use ob_event_integration::stub::{Stub, StubResponse};
use ob_event_integration::testbed::{Testbed, STORE_CLUSTER};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SUBS: &str = "/open-banking/v3.1/event-subscriptions";
const EVENTS: &str = "/open-banking/v3.1/events";
const RESOURCE_UPDATE: &str = "urn:uk:org:openbanking:events:resource-update";

struct Tpp<'a> {
    bed: &'a Testbed,
    name: &'static str,
    client: Client,
    token: String,
    poll_token: String,
}

impl<'a> Tpp<'a> {
    fn new(bed: &'a Testbed, name: &'static str) -> Self {
        Tpp {
            bed,
            name,
            client: bed.tpp_client(name),
            token: bed.token(name, "accounts"),
            poll_token: bed.token(name, "eventpolling"),
        }
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Answer {
        let auth = format!("Bearer {token}");
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("accept", "application/json"),
        ];
        let bytes = body.map(|b| b.to_string().into_bytes());
        if bytes.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.client
            .send(method, &self.bed.url(path), &headers, bytes.as_deref())
    }

    fn create(&self, body: &Value) -> Answer {
        self.call("POST", SUBS, &self.token, Some(body))
    }

    fn list(&self) -> Answer {
        self.call("GET", SUBS, &self.token, None)
    }

    fn put(&self, id: &str, body: &Value) -> Answer {
        self.call("PUT", &format!("{SUBS}/{id}"), &self.token, Some(body))
    }

    fn delete(&self, id: &str) -> Answer {
        self.call("DELETE", &format!("{SUBS}/{id}"), &self.token, None)
    }

    fn poll(&self, body: &Value) -> Answer {
        self.call("POST", EVENTS, &self.poll_token, Some(body))
    }

    fn publish(&self, resource: &str) -> String {
        let client_id = self.bed.tpp(self.name).tpp.client_id;
        self.bed.store.as_ref().expect("a store").publish(
            client_id,
            resource,
            &json!({ RESOURCE_UPDATE: { "subject": {
                "subject_type": "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty",
                "http://openbanking.org.uk/rid": resource,
                "http://openbanking.org.uk/rty": "account-access-consent",
                "http://openbanking.org.uk/rlk": [{"version": "v3.1", "link": format!("https://bank.test/{resource}")}]
            }}}),
        )
    }
}

fn subscription_body() -> Value {
    json!({"Data": {
        "CallbackUrl": "https://tpp.example/open-banking/v3.1/event-notifications",
        "Version": "3.1",
        "EventTypes": [RESOURCE_UPDATE]
    }})
}

fn assert_schema(file: &str, schema: &str, body: &Value) {
    let doc = load(file);
    let problems = check(&doc, schema, body);
    assert!(problems.is_empty(), "{schema}: {problems:?}\n{body}");
}

fn assert_ob_error(answer: &Answer, status: u16, code: &str, path: Option<&str>) {
    assert_eq!(answer.status, status, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["Errors"][0]["ErrorCode"], code, "{body}");
    if let Some(path) = path {
        assert_eq!(body["Errors"][0]["Path"], path, "{body}");
    }
    assert_schema(
        "event-subscriptions-openapi.json",
        "OBErrorResponse1",
        &body,
    );
    assert!(answer.header("x-fapi-interaction-id").is_some());
}

fn store_bed() -> Testbed {
    Testbed::builder().with_store().start()
}

#[test]
fn the_seed_journey_of_one_tpp() {
    let bed = store_bed();
    let tpp = Tpp::new(&bed, "tpp1");

    // Create a subscription.
    let created = tpp.create(&subscription_body());
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    assert_schema(
        "event-subscriptions-openapi.json",
        "OBEventSubscriptionResponse1",
        &body,
    );
    let id = body["Data"]["EventSubscriptionId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body["Data"]["Version"], "3.1");
    assert_eq!(body["Links"]["Self"], bed.url(&format!("{SUBS}/{id}")));
    assert_eq!(body["Meta"], json!({}));

    // Read it back.
    let listed = tpp.list();
    assert_eq!(listed.status, 200, "{}", listed.text());
    let list = listed.json();
    assert_schema(
        "event-subscriptions-openapi.json",
        "OBEventSubscriptionsResponse1",
        &list,
    );
    assert_eq!(
        list["Data"]["EventSubscription"][0]["EventSubscriptionId"],
        id.as_str()
    );

    // The bank publishes three events; the TPP polls, acknowledges, polls again until nothing is left.
    let jtis: Vec<String> = (1..=3).map(|i| tpp.publish(&format!("aac-{i}"))).collect();
    let first = tpp.poll(&json!({"returnImmediately": true, "maxEvents": 2}));
    assert_eq!(first.status, 200, "{}", first.text());
    let page = first.json();
    assert_schema(
        "aggregated-polling-openapi.json",
        "OBEventPollingResponse1",
        &page,
    );
    assert_eq!(page["moreAvailable"], true);
    let got: Vec<String> = page["sets"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(got.len(), 2);
    for jti in &got {
        assert!(jtis.contains(jti), "{jti}");
    }
    let second = tpp.poll(&json!({"returnImmediately": true, "maxEvents": 10, "ack": got}));
    assert_eq!(second.status, 200);
    let page = second.json();
    assert_eq!(page["moreAvailable"], false);
    let rest: Vec<String> = page["sets"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(rest.len(), 1);
    // Report the last one as an error: it is not delivered again either.
    let third = tpp.poll(&json!({"returnImmediately": true,
        "setErrs": {rest[0].clone(): {"err": "jwtIss", "description": "Issuer is invalid"}}}));
    assert_eq!(third.status, 200, "{}", third.text());
    assert_eq!(third.json(), json!({"sets": {}, "moreAvailable": false}));

    // Update, then delete the subscription.
    let mut update = subscription_body();
    update["Data"]["EventSubscriptionId"] = json!(id);
    update["Data"]["Version"] = json!("3.1.2");
    let updated = tpp.put(&id, &update);
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_schema(
        "event-subscriptions-openapi.json",
        "OBEventSubscriptionResponse1",
        &updated.json(),
    );
    assert_eq!(updated.json()["Data"]["Version"], "3.1.2");
    let deleted = tpp.delete(&id);
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    assert_eq!(tpp.list().json()["Data"]["EventSubscription"], json!([]));
}

#[test]
fn a_second_subscription_is_409() {
    let bed = store_bed();
    let tpp = Tpp::new(&bed, "tpp1");
    assert_eq!(tpp.create(&subscription_body()).status, 201);
    let again = tpp.create(&subscription_body());
    assert_eq!(again.status, 409, "{}", again.text());
    assert_eq!(
        again.json()["Errors"][0]["ErrorCode"],
        "UK.OBIE.Rules.ResourceAlreadyExists"
    );
}

#[test]
fn two_tpps_never_see_or_touch_each_others_events_or_subscriptions() {
    let bed = store_bed();
    let one = Tpp::new(&bed, "tpp1");
    let two = Tpp::new(&bed, "tpp2");
    let id_one = one.create(&subscription_body()).json()["Data"]["EventSubscriptionId"]
        .as_str()
        .unwrap()
        .to_string();
    let jti_one = one.publish("aac-one");
    let jti_two = two.publish("aac-two");

    // tpp2 sees only its own event and cannot acknowledge tpp1's.
    let page = two
        .poll(&json!({"returnImmediately": true, "ack": [jti_one]}))
        .json();
    assert_eq!(
        page["sets"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![&jti_two]
    );
    let page = one.poll(&json!({"returnImmediately": true})).json();
    assert_eq!(
        page["sets"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![&jti_one]
    );

    // tpp2 cannot see, change or delete tpp1's subscription, and learns nothing about it.
    assert_eq!(two.list().json()["Data"]["EventSubscription"], json!([]));
    let mut update = subscription_body();
    update["Data"]["EventSubscriptionId"] = json!(id_one);
    let foreign_put = two.put(&id_one, &update);
    let unknown_put = two.put("no-such-id", &{
        let mut u = update.clone();
        u["Data"]["EventSubscriptionId"] = json!("no-such-id");
        u
    });
    assert_ob_error(&foreign_put, 400, "UK.OBIE.Resource.NotFound", None);
    let strip = |a: &Answer| {
        let mut b = a.json();
        b.as_object_mut().unwrap().remove("Id");
        b
    };
    assert_eq!(
        strip(&foreign_put),
        strip(&unknown_put),
        "no existence leak"
    );
    let foreign_delete = two.delete(&id_one);
    assert_ob_error(&foreign_delete, 400, "UK.OBIE.Resource.NotFound", None);
    assert_eq!(
        one.list().json()["Data"]["EventSubscription"][0]["EventSubscriptionId"],
        id_one.as_str()
    );
}

#[test]
fn polling_validation_rules() {
    let bed = store_bed();
    let tpp = Tpp::new(&bed, "tpp1");
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"maxEvents": -1}),
            "UK.OBIE.Field.Invalid",
            Some("maxEvents"),
        ),
        (
            json!({"maxEvents": 1.5}),
            "UK.OBIE.Field.Invalid",
            Some("maxEvents"),
        ),
        (
            json!({"maxEvents": "5"}),
            "UK.OBIE.Field.Invalid",
            Some("maxEvents"),
        ),
        (
            json!({"maxEvents": 101}),
            "UK.OBIE.Field.Invalid",
            Some("maxEvents"),
        ),
        (
            json!({"returnImmediately": "true"}),
            "UK.OBIE.Field.Invalid",
            Some("returnImmediately"),
        ),
        (json!({"ack": "jti"}), "UK.OBIE.Field.Invalid", Some("ack")),
        (json!({"ack": [""]}), "UK.OBIE.Field.Invalid", None),
        (
            json!({"ack": ["x".repeat(129)]}),
            "UK.OBIE.Field.Invalid",
            None,
        ),
        (
            json!({"setErrs": {"j": {"err": "e"}}}),
            "UK.OBIE.Field.Missing",
            None,
        ),
        (
            json!({"setErrs": {"j": {"err": "e".repeat(41), "description": "d"}}}),
            "UK.OBIE.Field.Invalid",
            None,
        ),
        (
            json!({"setErrs": {"j": {"err": "e", "description": "d".repeat(257)}}}),
            "UK.OBIE.Field.Invalid",
            None,
        ),
        (
            json!({"unexpected": 1}),
            "UK.OBIE.Field.Unexpected",
            Some("unexpected"),
        ),
    ];
    for (body, code, path) in cases {
        let answer = tpp.poll(&body);
        assert_eq!(answer.status, 400, "{body}: {}", answer.text());
        assert_eq!(answer.json()["Errors"][0]["ErrorCode"], code, "{body}");
        if let Some(path) = path {
            assert_eq!(answer.json()["Errors"][0]["Path"], path, "{body}");
        }
    }
    // Not JSON.
    let auth = format!("Bearer {}", tpp.poll_token);
    let answer = tpp.client.send(
        "POST",
        &bed.url(EVENTS),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(b"{not json"),
    );
    assert_ob_error(&answer, 400, "UK.OBIE.Resource.InvalidFormat", None);
    // Too large.
    let big = json!({"ack": (0..2000).map(|i| format!("jti-{i:0>40}")).collect::<Vec<_>>()});
    assert_ob_error(&tpp.poll(&big), 400, "UK.OBIE.Resource.InvalidFormat", None);
}

#[test]
fn subscription_validation_rules() {
    let bed = store_bed();
    let tpp = Tpp::new(&bed, "tpp1");
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"Data": {}}), "UK.OBIE.Field.Missing", "Data.Version"),
        (
            json!({"Data": {"Version": "12345678901"}}),
            "UK.OBIE.Field.Invalid",
            "Data.Version",
        ),
        (
            json!({"Data": {"Version": "3.1", "CallbackUrl": "http://tpp.example/open-banking/v3.1/event-notifications"}}),
            "UK.OBIE.Field.Invalid",
            "Data.CallbackUrl",
        ),
        (
            json!({"Data": {"Version": "3.1", "CallbackUrl": "https://tpp.example/callback"}}),
            "UK.OBIE.Field.Invalid",
            "Data.CallbackUrl",
        ),
        (
            json!({"Data": {"Version": "3.1", "EventTypes": ["urn:uk:org:openbanking:events:made-up"]}}),
            "UK.OBIE.Unsupported.EventType",
            "Data.EventTypes[0]",
        ),
    ];
    for (body, code, path) in cases {
        assert_ob_error(&tpp.create(&body), 400, code, Some(path));
    }
    // The v3.1.2 spelling with the typo is accepted.
    let typo = json!({"Data": {"Version": "3.1", "EventTypes": ["UK.OBIE.Acount-Access-Consent-Linked-Account-Update"]}});
    assert_eq!(tpp.create(&typo).status, 201);
    // PUT: the body's id must be the path's.
    let mut body = subscription_body();
    body["Data"]["EventSubscriptionId"] = json!("other-id");
    assert_ob_error(
        &tpp.put("this-id", &body),
        400,
        "UK.OBIE.Field.Invalid",
        None,
    );
}

#[test]
fn content_type_and_accept_are_enforced() {
    let bed = store_bed();
    let tpp = Tpp::new(&bed, "tpp1");
    let auth = format!("Bearer {}", tpp.token);
    let url = bed.url(SUBS);
    let body = subscription_body().to_string();
    let answer = tpp.client.send(
        "POST",
        &url,
        &[("authorization", &auth), ("content-type", "text/plain")],
        Some(body.as_bytes()),
    );
    assert_eq!(answer.status, 415);
    assert!(answer.body.is_empty());
    let answer = tpp.client.send(
        "POST",
        &url,
        &[("authorization", &auth)],
        Some(body.as_bytes()),
    );
    assert_eq!(answer.status, 415, "a missing Content-Type is refused too");
    let answer = tpp.client.send(
        "GET",
        &url,
        &[("authorization", &auth), ("accept", "application/xml")],
        None,
    );
    assert_eq!(answer.status, 406);
    assert!(answer.body.is_empty());
    assert!(answer.header("x-fapi-interaction-id").is_some());
}

#[test]
fn the_interaction_id_reaches_the_backend_and_comes_back() {
    let bed = store_bed();
    let tpp = Tpp::new(&bed, "tpp1");
    let auth = format!("Bearer {}", tpp.token);
    let sent = "0f8d8c43-5e8b-4b0e-9b7c-3c8f5e0a2f11";
    let answer = tpp.client.send(
        "GET",
        &bed.url(SUBS),
        &[("authorization", &auth), ("x-fapi-interaction-id", sent)],
        None,
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-fapi-interaction-id"), Some(sent));
}

#[test]
fn long_poll_delivers_an_event_published_during_the_wait() {
    let bed = Testbed::builder()
        .with_store()
        .config(|_, c| {
            c["polling"] = json!({"long_poll": {"max_wait_ms": 8000, "interval_ms": 200}})
        })
        .start();
    let tpp = Tpp::new(&bed, "tpp1");
    std::thread::scope(|scope| {
        let started = Instant::now();
        let waiting = scope.spawn(|| tpp.poll(&json!({"returnImmediately": false})));
        std::thread::sleep(Duration::from_millis(700));
        let jti = tpp.publish("aac-late");
        let answer = waiting.join().unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(
            answer.json()["sets"].get(&jti).is_some(),
            "{}",
            answer.text()
        );
        assert!(
            started.elapsed() < Duration::from_millis(8000),
            "answered before the wait ended"
        );
    });
}

#[test]
fn long_poll_with_nothing_ends_at_the_configured_maximum() {
    let bed = Testbed::builder()
        .with_store()
        .config(|_, c| {
            c["polling"] = json!({"long_poll": {"max_wait_ms": 1500, "interval_ms": 200}})
        })
        .start();
    let tpp = Tpp::new(&bed, "tpp1");
    let started = Instant::now();
    let answer = tpp.poll(&json!({}));
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json(), json!({"sets": {}, "moreAvailable": false}));
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "it waited: absent returnImmediately is a long poll"
    );
    let started = Instant::now();
    let answer = tpp.poll(&json!({"returnImmediately": true}));
    assert_eq!(answer.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "returnImmediately: true answers at once"
    );
}

#[test]
fn backend_down_is_503_with_an_ob_error() {
    let bed = Testbed::start();
    let tpp = Tpp::new(&bed, "tpp1");
    assert_ob_error(&tpp.list(), 503, "UK.OBIE.UnexpectedError", None);
    assert!(bed.envoy.log().contains("backend_unavailable"));
}

#[test]
fn backend_slow_is_504_with_an_ob_error() {
    let slow = Stub::start(|_| StubResponse::json(200, &json!([])).delayed(Duration::from_secs(3)));
    let bed = Testbed::builder()
        .cluster(STORE_CLUSTER, slow.port, 1000)
        .config(|_, c| c["backend"]["timeout_ms"] = json!(500))
        .start();
    let tpp = Tpp::new(&bed, "tpp1");
    assert_ob_error(&tpp.list(), 504, "UK.OBIE.UnexpectedError", None);
}

#[test]
fn backend_garbage_is_502_with_an_ob_error() {
    let garbage = Stub::start(|_| StubResponse::text(200, "<html>surprise</html>"));
    let bed = Testbed::builder()
        .cluster(STORE_CLUSTER, garbage.port, 1000)
        .start();
    let tpp = Tpp::new(&bed, "tpp1");
    assert_ob_error(&tpp.list(), 502, "UK.OBIE.UnexpectedError", None);
    assert_ob_error(
        &tpp.poll(&json!({"returnImmediately": true})),
        502,
        "UK.OBIE.UnexpectedError",
        None,
    );
    // The backend got the verified client id and Basic credentials, never anything the TPP chose.
    let request = &garbage.requests()[0];
    assert_eq!(request.header("x-wso2-client-id"), Some("demo-tpp1-client"));
    assert!(request
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
}

#[test]
fn a_tpp_supplied_client_id_header_is_not_what_the_backend_gets() {
    let recorder = Stub::start(|_| StubResponse::json(200, &json!([])));
    let bed = Testbed::builder()
        .cluster(STORE_CLUSTER, recorder.port, 1000)
        .start();
    let tpp = Tpp::new(&bed, "tpp1");
    let auth = format!("Bearer {}", tpp.token);
    let answer = tpp.client.send(
        "GET",
        &bed.url(SUBS),
        &[
            ("authorization", &auth),
            ("x-wso2-client-id", "demo-tpp2-client"),
        ],
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        recorder.requests()[0].header("x-wso2-client-id"),
        Some("demo-tpp1-client")
    );
}

#[test]
fn a_client_that_leaves_during_a_long_poll_costs_nothing_further() {
    let backend =
        Stub::start(|_| StubResponse::json(200, &json!({"sets": {}, "moreAvailable": false})));
    let bed = Testbed::builder()
        .cluster(STORE_CLUSTER, backend.port, 1000)
        .config(|_, c| {
            c["polling"] = json!({"long_poll": {"max_wait_ms": 20000, "interval_ms": 200}})
        })
        .start();
    let tpp = bed.tpp("tpp1");
    let impatient = Client::with_timeout(
        &bed.ca.cert_pem,
        Some((&tpp.cert.cert_pem, &tpp.cert.key_pem)),
        Duration::from_millis(1000),
    );
    let auth = format!("Bearer {}", bed.token("tpp1", "eventpolling"));
    let result = impatient.try_send(
        "POST",
        &bed.url(EVENTS),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(br#"{"returnImmediately": false}"#),
    );
    assert!(result.is_err(), "the client gave up before the wait ended");
    assert!(
        backend.count() >= 2,
        "the backend was asked again while the client waited"
    );
    // Let Envoy notice the closed connection, then: no more backend calls for that poll.
    std::thread::sleep(Duration::from_millis(500));
    let after_leaving = backend.count();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        backend.count(),
        after_leaving,
        "no backend call after the client left"
    );
}
