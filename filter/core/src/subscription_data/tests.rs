//! Snapshot building, shared-data bytes, and one test per decision case.

use super::data_api::Collection;
use super::*;
use crate::backend::BackendCredentials;
use crate::errors::ErrorKind;
use serde_json::{json, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const EVENTS_API_UUID: &str = "7a3c0f2e-1111-4c4c-8d8d-000000000001";
const OTHER_API_UUID: &str = "7a3c0f2e-1111-4c4c-8d8d-000000000002";
const BLOCKED_API_UUID: &str = "7a3c0f2e-1111-4c4c-8d8d-000000000003";

fn events_api() -> ProtectedApi {
    ProtectedApi::name_version("EventNotificationsAPI", "v3.1.2")
}

fn blocked_api() -> ProtectedApi {
    ProtectedApi::context("/blocked/1.0")
}

fn options() -> SnapshotOptions {
    SnapshotOptions {
        apis: vec![events_api(), blocked_api()],
        attributes: vec!["software_id".into()],
        organisation_attribute: Some("org_id".into()),
    }
}

fn settings() -> DataApiSettings {
    DataApiSettings {
        base_path: "/internal/data/v1".into(),
        credentials: BackendCredentials {
            username: "admin".into(),
            password: "admin".into(),
        },
        tenant: "carbon.super".into(),
    }
}

fn app_uuid(id: i64) -> String {
    format!("c0ffee00-0000-4000-8000-{id:012}")
}

/// `/apis` as APIM sends it.
fn apis_body() -> Value {
    json!({"count": 3, "list": [
        {"uuid": EVENTS_API_UUID, "apiId": 4, "provider": "admin", "name": "EventNotificationsAPI",
         "version": "v3.1.2", "context": "/open-banking/v3.1/events", "policy": "Unlimited", "apiType": "HTTP",
         "status": "PUBLISHED", "isDefaultVersion": true, "urlMappings": []},
        {"uuid": OTHER_API_UUID, "apiId": 5, "provider": "admin", "name": "AccountsAPI", "version": "v3.1.2",
         "context": "/open-banking/v3.1/aisp", "status": "PUBLISHED", "isDefaultVersion": true},
        {"uuid": BLOCKED_API_UUID, "apiId": 6, "name": "Blocked", "version": "1.0", "context": "/blocked/1.0",
         "status": "BLOCKED"}
    ], "pagination": null})
}

/// (id, name, [(consumer key, key type)], [(api uuid, state)])
type AppSpec = (
    i64,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, &'static str)>,
);

fn apps() -> Vec<AppSpec> {
    vec![
        (
            11,
            "Acme TPP",
            vec![("ck-prod", "PRODUCTION"), ("ck-sand", "SANDBOX")],
            vec![
                (EVENTS_API_UUID, "UNBLOCKED"),
                (BLOCKED_API_UUID, "UNBLOCKED"),
            ],
        ),
        (
            12,
            "Blocked",
            vec![("ck-blocked", "PRODUCTION")],
            vec![(EVENTS_API_UUID, "BLOCKED")],
        ),
        (
            13,
            "ProdOnly",
            vec![("ck-po-prod", "PRODUCTION"), ("ck-po-sand", "SANDBOX")],
            vec![(EVENTS_API_UUID, "PROD_ONLY_BLOCKED")],
        ),
        (
            14,
            "OnHold",
            vec![("ck-onhold", "PRODUCTION")],
            vec![(EVENTS_API_UUID, "ON_HOLD")],
        ),
        (
            15,
            "Rejected",
            vec![("ck-rejected", "PRODUCTION")],
            vec![(EVENTS_API_UUID, "REJECTED")],
        ),
        (
            16,
            "OtherOnly",
            vec![("ck-other", "PRODUCTION")],
            vec![(OTHER_API_UUID, "UNBLOCKED")],
        ),
        (17, "NoSubs", vec![("ck-nosub", "PRODUCTION")], vec![]),
        (
            18,
            "TierPending",
            vec![("ck-tier", "PRODUCTION")],
            vec![(EVENTS_API_UUID, "TIER_UPDATE_PENDING")],
        ),
        (
            19,
            "Weird",
            vec![("ck-weird", "PRODUCTION")],
            vec![(EVENTS_API_UUID, "DELETE_PENDING")],
        ),
    ]
}

fn bodies(specs: &[AppSpec]) -> [Value; 3] {
    let mut applications = Vec::new();
    let mut keys = Vec::new();
    let mut subs = Vec::new();
    for (id, name, ks, ss) in specs {
        applications.push(json!({
            "uuid": app_uuid(*id), "id": id, "name": name, "subName": "admin", "policy": "Unlimited",
            "tokenType": "JWT", "groupIds": [],
            "attributes": {"org_id": format!("ORG-{id}"), "software_id": format!("sw-{id}"),
                           "ssa": "a long software statement nobody needs"},
            "organization": "carbon.super"
        }));
        for (ck, kt) in ks {
            keys.push(
                json!({"applicationId": id, "applicationUUID": app_uuid(*id), "consumerKey": ck,
                             "keyType": kt, "keyManager": "Resident Key Manager"}),
            );
        }
        for (n, (api, state)) in ss.iter().enumerate() {
            let api_id = match *api {
                EVENTS_API_UUID => 4,
                OTHER_API_UUID => 5,
                _ => 6,
            };
            subs.push(json!({"subscriptionUUID": format!("sub-{id}-{n}"), "subscriptionId": id * 10 + n as i64,
                             "policyId": "Unlimited", "apiUUID": api, "apiId": api_id,
                             "applicationUUID": app_uuid(*id), "appId": id, "subscriptionState": state}));
        }
    }
    // A key mapping whose application is not in the data.
    keys.push(
        json!({"applicationId": 99, "applicationUUID": app_uuid(99), "consumerKey": "ck-orphan",
                     "keyType": "PRODUCTION", "keyManager": "Resident Key Manager"}),
    );
    [
        json!({"count": applications.len(), "list": applications}),
        json!({"count": keys.len(), "list": keys, "pagination": {"next": ""}}),
        json!({"count": subs.len(), "list": subs}),
    ]
}

fn body_for(collection: Collection, [applications, keys, subs]: &[Value; 3]) -> Vec<u8> {
    let value = match collection {
        Collection::Apis => apis_body(),
        Collection::Applications => applications.clone(),
        Collection::KeyMappings => keys.clone(),
        Collection::Subscriptions => subs.clone(),
    };
    serde_json::to_vec(&value).unwrap()
}

fn load(specs: &[AppSpec]) -> Result<Snapshot, DataError> {
    let data = bodies(specs);
    let settings = settings();
    let mut builder = SnapshotBuilder::new(options());
    for request in builder.first_requests(&settings) {
        let next = builder.accept(
            &settings,
            &request,
            200,
            &body_for(request.collection, &data),
        )?;
        assert!(next.is_none());
    }
    builder.build()
}

fn snapshot() -> Snapshot {
    load(&apps()).unwrap()
}

fn refused(result: Result<SubscribedApplication, crate::Refusal>) -> crate::Refusal {
    result.unwrap_err()
}

fn check(refusal: &crate::Refusal, kind: ErrorKind, reason: &str, wso2: &str) {
    assert_eq!(refusal.kind, kind);
    assert_eq!(refusal.reason, reason);
    assert_eq!(refusal.spec().status, 403);
    assert_eq!(refusal.spec().wso2_code, Some(wso2));
    assert!(
        refusal.message.ends_with(&format!("(WSO2 {wso2})")),
        "{}",
        refusal.message
    );
}

// ----- decision, one test per case ------------------------------------------------------------------------

#[test]
fn subscribed_passes() {
    let s = snapshot();
    let app = s.decide("ck-prod", None, Some(&events_api())).unwrap();
    assert_eq!(app.application_id, 11);
    assert_eq!(app.application_uuid, app_uuid(11));
    assert_eq!(app.name, "Acme TPP");
    assert_eq!(app.key_type, KeyType::Production);
    assert_eq!(app.state, SubscriptionState::Unblocked);
    assert_eq!(app.api, events_api());
    assert_eq!(app.attribute("org_id"), Some("ORG-11"));
    assert_eq!(app.attribute("software_id"), Some("sw-11"));
    // Attributes nobody asked for are not kept.
    assert_eq!(app.attribute("ssa"), None);
    // The key type comes from the key mapping.
    assert_eq!(
        s.decide("ck-sand", None, Some(&events_api()))
            .unwrap()
            .key_type,
        KeyType::Sandbox
    );
    // With the key manager named.
    assert!(s
        .decide("ck-prod", Some("Resident Key Manager"), Some(&events_api()))
        .is_ok());
    // Any protected API.
    assert!(s.decide("ck-prod", None, None).is_ok());
}

#[test]
fn no_key_mapping_is_forbidden() {
    let s = snapshot();
    let r = refused(s.decide("ck-unknown", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_key_mapping",
        "900908",
    );
    assert_eq!(
        r.spec().ob_code,
        Some("OBEventGateway.Subscription.Forbidden")
    );
    // A known key under another key manager is not a mapping.
    let r = refused(s.decide("ck-prod", Some("Other KM"), Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_key_mapping",
        "900908",
    );
}

#[test]
fn no_application_is_forbidden() {
    let r = refused(snapshot().decide("ck-orphan", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_application",
        "900908",
    );
}

#[test]
fn no_subscription_is_forbidden() {
    let r = refused(snapshot().decide("ck-nosub", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_subscription",
        "900908",
    );
}

#[test]
fn subscription_to_another_api_only_is_forbidden() {
    let s = snapshot();
    let r = refused(s.decide("ck-other", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_subscription",
        "900908",
    );
    let r = refused(s.decide("ck-other", None, None));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_subscription",
        "900908",
    );
    // An API that is not one of the protected ones is never passed.
    let r = refused(s.decide(
        "ck-prod",
        None,
        Some(&ProtectedApi::context("/open-banking/v3.1/aisp")),
    ));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_subscription",
        "900908",
    );
}

#[test]
fn blocked_is_blocked() {
    let r = refused(snapshot().decide("ck-blocked", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionBlocked,
        "subscription_blocked.blocked",
        "900907",
    );
    assert_eq!(
        r.spec().ob_code,
        Some("OBEventGateway.Subscription.Blocked")
    );
}

#[test]
fn prod_only_blocked_with_production_key_is_blocked() {
    let r = refused(snapshot().decide("ck-po-prod", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionBlocked,
        "subscription_blocked.production_only",
        "900907",
    );
}

#[test]
fn prod_only_blocked_with_sandbox_key_passes() {
    let app = snapshot()
        .decide("ck-po-sand", None, Some(&events_api()))
        .unwrap();
    assert_eq!(app.key_type, KeyType::Sandbox);
    assert_eq!(app.state, SubscriptionState::ProdOnlyBlocked);
}

#[test]
fn on_hold_is_inactive() {
    let r = refused(snapshot().decide("ck-onhold", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionInactive,
        "subscription_inactive.on_hold",
        "900909",
    );
    assert_eq!(
        r.spec().ob_code,
        Some("OBEventGateway.Subscription.Inactive")
    );
}

#[test]
fn rejected_is_inactive() {
    let r = refused(snapshot().decide("ck-rejected", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionInactive,
        "subscription_inactive.rejected",
        "900909",
    );
}

#[test]
fn tier_update_pending_passes() {
    let app = snapshot()
        .decide("ck-tier", None, Some(&events_api()))
        .unwrap();
    assert_eq!(app.state, SubscriptionState::TierUpdatePending);
}

#[test]
fn unknown_state_is_inactive() {
    let r = refused(snapshot().decide("ck-weird", None, Some(&events_api())));
    check(
        &r,
        ErrorKind::SubscriptionInactive,
        "subscription_inactive.unknown_state",
        "900909",
    );
}

#[test]
fn blocked_api_lifecycle_is_blocked() {
    let r = refused(snapshot().decide("ck-prod", None, Some(&blocked_api())));
    check(
        &r,
        ErrorKind::SubscriptionBlocked,
        "subscription_blocked.api_blocked",
        "900907",
    );
}

#[test]
fn no_snapshot_is_503() {
    let r = decide(None, "ck-prod", None, None).unwrap_err();
    assert_eq!(r.kind, ErrorKind::SubscriptionDataUnavailable);
    assert_eq!(r.spec().status, 503);
    assert_eq!(r.spec().ob_code, Some("UK.OBIE.UnexpectedError"));
    assert!(decide(Some(&snapshot()), "ck-prod", None, None).is_ok());
}

#[test]
fn key_managers_disambiguate_a_consumer_key() {
    let mut b = SnapshotBuilder::new(options());
    b.add_apis(parse(apis_body()), true).unwrap();
    b.add_applications(
        vec![
            Application {
                uuid: Some("a".into()),
                id: Some(1),
                name: Some("A".into()),
                ..Default::default()
            },
            Application {
                uuid: Some("b".into()),
                id: Some(2),
                name: Some("B".into()),
                ..Default::default()
            },
        ],
        true,
    )
    .unwrap();
    let km = |app: &str, kt: &str, manager: &str| ApplicationKeyMapping {
        application_uuid: Some(app.into()),
        consumer_key: Some("shared".into()),
        key_type: Some(kt.into()),
        key_manager: Some(manager.into()),
        ..Default::default()
    };
    b.add_key_mappings(
        vec![km("a", "PRODUCTION", "KM1"), km("b", "SANDBOX", "KM2")],
        true,
    )
    .unwrap();
    let sub = |app: &str| Subscription {
        api_uuid: Some(EVENTS_API_UUID.into()),
        application_uuid: Some(app.into()),
        subscription_state: Some("UNBLOCKED".into()),
        ..Default::default()
    };
    b.add_subscriptions(vec![sub("a"), sub("b")], true).unwrap();
    let s = b.build().unwrap();
    assert_eq!(s.decide("shared", Some("KM1"), None).unwrap().name, "A");
    assert_eq!(s.decide("shared", Some("KM2"), None).unwrap().name, "B");
    let r = refused(s.decide("shared", None, None));
    check(
        &r,
        ErrorKind::SubscriptionMissing,
        "subscription_missing.key_mapping_ambiguous",
        "900908",
    );
}

fn parse(value: Value) -> Vec<Api> {
    data_api::parse_apis(&serde_json::to_vec(&value).unwrap())
        .unwrap()
        .items
}

// ----- building ---------------------------------------------------------------------------------------------

#[test]
fn incomplete_is_not_ready() {
    let data = bodies(&apps());
    let settings = settings();
    let mut builder = SnapshotBuilder::new(options());
    let requests = builder.first_requests(&settings);
    assert_eq!(requests.len(), 4);
    for request in &requests[..3] {
        builder
            .accept(
                &settings,
                request,
                200,
                &body_for(request.collection, &data),
            )
            .unwrap();
    }
    assert!(!builder.is_complete());
    assert_eq!(builder.pending(), vec![Collection::Subscriptions]);
    let err = builder.build().unwrap_err();
    assert_eq!(err.kind, DataErrorKind::Incomplete);
}

#[test]
fn garbage_or_failed_call_is_an_error() {
    let settings = settings();
    let mut builder = SnapshotBuilder::new(options());
    let request = settings.first_request(Collection::Subscriptions);
    let err = builder
        .accept(&settings, &request, 200, b"<html>oops</html>")
        .unwrap_err();
    assert_eq!(err.kind, DataErrorKind::Garbage);
    let err = builder.accept(&settings, &request, 401, b"{}").unwrap_err();
    assert_eq!(err.kind, DataErrorKind::Status);
    let err = builder.accept(&settings, &request, 503, b"").unwrap_err();
    assert_eq!(err.kind, DataErrorKind::Status);
    // A snapshot needs protected APIs.
    let mut empty = SnapshotBuilder::new(SnapshotOptions::default());
    for c in Collection::ALL {
        let r = settings.first_request(c);
        empty
            .accept(&settings, &r, 200, br#"{"count":0,"list":[]}"#)
            .unwrap();
    }
    assert_eq!(empty.build().unwrap_err().kind, DataErrorKind::Invalid);
}

#[test]
fn pages_are_followed_and_accumulated() {
    let settings = settings();
    let mut builder = SnapshotBuilder::new(options());
    let [applications, keys, subs] = bodies(&apps());
    let list = subs["list"].as_array().unwrap().clone();
    let (first, second) = list.split_at(3);
    let page1 = json!({"count": 3, "list": first,
        "pagination": {"offset": 0, "limit": 3, "total": list.len(), "next": "/subscriptions?offset=3&limit=3", "previous": ""}});
    let page2 = json!({"count": second.len(), "list": second,
        "pagination": {"offset": 3, "limit": 3, "total": list.len(), "next": "", "previous": "/subscriptions?offset=0&limit=3"}});
    for (c, body) in [
        (Collection::Apis, apis_body()),
        (Collection::Applications, applications),
        (Collection::KeyMappings, keys),
    ] {
        let r = settings.first_request(c);
        assert!(builder
            .accept(&settings, &r, 200, &serde_json::to_vec(&body).unwrap())
            .unwrap()
            .is_none());
    }
    let r1 = settings.first_request(Collection::Subscriptions);
    let r2 = builder
        .accept(&settings, &r1, 200, &serde_json::to_vec(&page1).unwrap())
        .unwrap()
        .expect("a next page");
    assert_eq!(r2.path, "/internal/data/v1/subscriptions?offset=3&limit=3");
    assert!(!builder.is_complete());
    assert!(builder
        .accept(&settings, &r2, 200, &serde_json::to_vec(&page2).unwrap())
        .unwrap()
        .is_none());
    // A page after the last one is refused.
    assert_eq!(
        builder
            .accept(&settings, &r2, 200, &serde_json::to_vec(&page2).unwrap())
            .unwrap_err()
            .kind,
        DataErrorKind::Incomplete
    );
    let s = builder.build().unwrap();
    assert_eq!(s, snapshot());
}

#[test]
fn a_failed_refresh_keeps_the_last_good_snapshot_and_a_good_one_swaps() {
    let mut current: Option<Snapshot> = None;
    assert!(decide(current.as_ref(), "ck-blocked", None, None).is_err());
    current = Some(snapshot());

    // Refresh 1: the subscriptions page is garbage: no new snapshot, the old one still answers.
    let settings = settings();
    let mut builder = SnapshotBuilder::new(options());
    let mut failed = false;
    for request in builder.first_requests(&settings) {
        let body = match request.collection {
            Collection::Subscriptions => br#"{"count":1,"list":[{"appId":"eleven"}]}"#.to_vec(),
            c => body_for(c, &bodies(&apps())),
        };
        failed |= builder.accept(&settings, &request, 200, &body).is_err();
    }
    assert!(failed);
    assert!(builder.build().is_err());
    let r = refused(decide(
        current.as_ref(),
        "ck-blocked",
        None,
        Some(&events_api()),
    ));
    assert_eq!(r.kind, ErrorKind::SubscriptionBlocked);

    // Refresh 2: the subscription was unblocked: the whole new snapshot replaces the old one.
    let mut specs = apps();
    specs[1].3 = vec![(EVENTS_API_UUID, "UNBLOCKED")];
    if let Ok(new) = load(&specs) {
        current = Some(new);
    }
    assert!(decide(current.as_ref(), "ck-blocked", None, Some(&events_api())).is_ok());
    assert!(decide(current.as_ref(), "ck-onhold", None, Some(&events_api())).is_err());
}

#[test]
fn unusable_records_are_skipped_and_conflicts_refused() {
    let mut b = SnapshotBuilder::new(options());
    b.add_apis(parse(apis_body()), true).unwrap();
    b.add_applications(
        vec![
            Application {
                uuid: Some("a".into()),
                id: Some(1),
                name: Some("A".into()),
                ..Default::default()
            },
            Application::default(), // no identifier
        ],
        true,
    )
    .unwrap();
    let km = |ck: &str, kt: &str, app: &str| ApplicationKeyMapping {
        application_uuid: Some(app.into()),
        consumer_key: Some(ck.into()),
        key_type: Some(kt.into()),
        ..Default::default()
    };
    b.add_key_mappings(
        vec![
            km("good", "PRODUCTION", "a"),
            km("weird-type", "STAGING", "a"),
            km("", "PRODUCTION", "a"),
            km("twice", "PRODUCTION", "a"),
            km("twice", "SANDBOX", "a"),
            km("same", "PRODUCTION", "a"),
            km("same", "PRODUCTION", "a"),
        ],
        true,
    )
    .unwrap();
    b.add_subscriptions(
        vec![
            Subscription {
                api_uuid: Some(EVENTS_API_UUID.into()),
                application_uuid: Some("a".into()),
                subscription_state: Some("UNBLOCKED".into()),
                ..Default::default()
            },
            // The same pair again, stricter: the stricter one wins.
            Subscription {
                api_id: Some(4),
                app_id: Some(1),
                subscription_state: Some("ON_HOLD".into()),
                ..Default::default()
            },
        ],
        true,
    )
    .unwrap();
    let s = b.build().unwrap();
    let sum = s.summary();
    assert_eq!(sum.applications, 1);
    assert_eq!(sum.skipped, 3);
    assert_eq!(sum.conflicts, 1);
    assert_eq!(sum.key_mappings, 2);
    assert_eq!(
        refused(s.decide("good", None, None)).kind,
        ErrorKind::SubscriptionInactive
    );
    assert_eq!(
        refused(s.decide("weird-type", None, None)).reason,
        "subscription_missing.no_key_mapping"
    );
    assert_eq!(
        refused(s.decide("twice", None, None)).reason,
        "subscription_missing.no_key_mapping"
    );
    assert_eq!(
        refused(s.decide("same", None, None)).kind,
        ErrorKind::SubscriptionInactive
    );
}

#[test]
fn unresolved_apis_are_reported() {
    let mut opts = options();
    opts.apis.push(ProtectedApi::name_version("Missing", "1"));
    let mut b = SnapshotBuilder::new(opts);
    b.add_apis(parse(apis_body()), true).unwrap();
    b.add_applications(vec![], true).unwrap();
    b.add_key_mappings(vec![], true).unwrap();
    b.add_subscriptions(vec![], true).unwrap();
    let s = b.build().unwrap();
    let unresolved: Vec<_> = s.unresolved_apis().cloned().collect();
    assert_eq!(unresolved, vec![ProtectedApi::name_version("Missing", "1")]);
}

// ----- shared-data bytes --------------------------------------------------------------------------------------

#[test]
fn bytes_round_trip() {
    let s = snapshot();
    let bytes = s.to_bytes().unwrap();
    let back = Snapshot::from_bytes(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(
        back.decide("ck-prod", None, Some(&events_api())),
        s.decide("ck-prod", None, Some(&events_api()))
    );
    let st = static_snapshot();
    assert_eq!(Snapshot::from_bytes(&st.to_bytes().unwrap()).unwrap(), st);
}

#[test]
fn corrupt_bytes_are_rejected() {
    let bytes = snapshot().to_bytes().unwrap();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] = bad[i].wrapping_add(1);
        assert!(Snapshot::from_bytes(&bad).is_err(), "byte {i}");
    }
    for cut in [0, 1, 16, 17, bytes.len() / 2, bytes.len() - 1] {
        assert!(Snapshot::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
    }
    assert!(Snapshot::from_bytes(b"{\"not\":\"a snapshot\"}").is_err());
    // A well-framed body with an out-of-range index (checksum right, content wrong) is refused too.
    let body = codec::unframe(&bytes).unwrap();
    let mut tampered = body.to_vec();
    let last = tampered.len() - 1;
    tampered[last] = 0x7f; // the last key entry's application index
    assert!(Snapshot::from_bytes(&codec::frame(&tampered).unwrap()).is_err());
    let mut trailing = body.to_vec();
    trailing.push(0);
    assert!(Snapshot::from_bytes(&codec::frame(&trailing).unwrap()).is_err());
}

// ----- static list --------------------------------------------------------------------------------------------

fn static_json() -> Value {
    json!({"applications": [
        {"name": "Acme TPP", "organisation": "0015800001041RHAAY",
         "keys": [{"consumer_key": "st-prod", "key_type": "PRODUCTION"},
                  {"consumer_key": "st-sand", "key_type": "SANDBOX", "key_manager": "Resident Key Manager"}],
         "subscriptions": [{"state": "UNBLOCKED"}]},
        {"name": "Half blocked", "id": 42, "uuid": "hb-uuid", "attributes": {"software_id": "sw"},
         "keys": [{"consumer_key": "st-po", "key_type": "PRODUCTION"}],
         "subscriptions": [{"api": {"name": "EventNotificationsAPI", "version": "v3.1.2"}, "state": "PROD_ONLY_BLOCKED"},
                           {"api": {"context": "/blocked/1.0"}, "state": "BLOCKED"}]},
        {"name": "Unsubscribed", "keys": [{"consumer_key": "st-none", "key_type": "PRODUCTION"}]}
    ]})
}

fn static_snapshot() -> Snapshot {
    let list: StaticSubscriptions = serde_json::from_value(static_json()).unwrap();
    Snapshot::from_static(&list, &options()).unwrap()
}

#[test]
fn static_list_source() {
    let s = static_snapshot();
    assert_eq!(s.source(), SnapshotSource::Static);
    assert_eq!(s.unresolved_apis().count(), 0);
    let app = s.decide("st-prod", None, Some(&events_api())).unwrap();
    assert_eq!(
        (app.application_id, app.application_uuid.as_str()),
        (1, "static-1")
    );
    assert_eq!(app.attribute("org_id"), Some("0015800001041RHAAY"));
    assert!(s.decide("st-prod", None, Some(&blocked_api())).is_ok());
    assert!(s
        .decide("st-sand", Some("Resident Key Manager"), None)
        .is_ok());
    check(
        &refused(s.decide("st-po", None, Some(&events_api()))),
        ErrorKind::SubscriptionBlocked,
        "subscription_blocked.production_only",
        "900907",
    );
    check(
        &refused(s.decide("st-po", None, Some(&blocked_api()))),
        ErrorKind::SubscriptionBlocked,
        "subscription_blocked.blocked",
        "900907",
    );
    check(
        &refused(s.decide("st-none", None, None)),
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_subscription",
        "900908",
    );
    check(
        &refused(s.decide("nobody", None, None)),
        ErrorKind::SubscriptionMissing,
        "subscription_missing.no_key_mapping",
        "900908",
    );
}

#[test]
fn static_list_is_strict() {
    let parse = |v: Value| serde_json::from_value::<StaticSubscriptions>(v);
    let build = |v: Value| Snapshot::from_static(&parse(v).unwrap(), &options());
    let app = |extra: Value| {
        let mut a = json!({"name": "A", "keys": [{"consumer_key": "k", "key_type": "PRODUCTION"}]});
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        json!({"applications": [a]})
    };
    assert!(build(app(json!({}))).is_ok());
    // Unknown members, unknown states and key types, a bad API selector.
    assert!(parse(json!({"applications": [], "extra": 1})).is_err());
    assert!(parse(app(json!({"colour": "red"}))).is_err());
    assert!(parse(app(json!({"subscriptions": [{"state": "ACTIVE"}]}))).is_err());
    assert!(parse(app(
        json!({"keys": [{"consumer_key": "k", "key_type": "PROD"}]})
    ))
    .is_err());
    assert!(parse(app(json!({"keys": [{"consumer_key": "k"}]}))).is_err());
    assert!(parse(app(
        json!({"subscriptions": [{"api": {"name": "x"}, "state": "UNBLOCKED"}]})
    ))
    .is_err());
    assert!(parse(app(json!({"subscriptions": [{"api": {"name": "x", "version": "1", "context": "/x"}, "state": "UNBLOCKED"}]}))).is_err());
    // Consistency.
    assert!(build(app(json!({"keys": []}))).is_err());
    assert!(build(app(json!({"name": " "}))).is_err());
    assert!(build(app(json!({"keys": [{"consumer_key": "k", "key_type": "PRODUCTION"}, {"consumer_key": "k", "key_type": "SANDBOX"}]}))).is_err());
    assert!(build(app(
        json!({"keys": [{"consumer_key": "a b", "key_type": "PRODUCTION"}]})
    ))
    .is_err());
    assert!(build(app(
        json!({"subscriptions": [{"api": {"context": "/nope"}, "state": "UNBLOCKED"}]})
    ))
    .is_err());
    assert!(build(app(json!({"subscriptions": [{"state": "UNBLOCKED"}, {"api": {"context": "/blocked/1.0"}, "state": "BLOCKED"}]}))).is_err());
    let two = json!({"applications": [
        {"name": "A", "id": 1, "keys": [{"consumer_key": "a", "key_type": "PRODUCTION"}]},
        {"name": "B", "id": 1, "keys": [{"consumer_key": "b", "key_type": "PRODUCTION"}]}]});
    assert!(build(two).is_err());
    let mut no_org = options();
    no_org.organisation_attribute = None;
    let list = parse(app(json!({"organisation": "X"}))).unwrap();
    assert_eq!(
        Snapshot::from_static(&list, &no_org).unwrap_err().kind,
        DataErrorKind::Static
    );
}

// ----- size and speed (native, ignored) -------------------------------------------------------------------

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

/// Native: `cargo test -p ob-event-core --release -- --ignored --nocapture snapshot_size_and_speed`; V8: the
/// same with `--target wasm32-unknown-unknown` and the wasm-bindgen test runner.
#[test]
#[ignore]
fn snapshot_size_and_speed() {
    for n in [10_000usize, 100_000] {
        let mut applications = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(2 * n);
        let mut subs = Vec::with_capacity(n);
        for i in 0..n as i64 {
            let uuid = format!("{:08x}-9c4e-4f1a-8b2d-{:012x}", i, i * 7919);
            applications.push(json!({"uuid": uuid, "id": i, "name": format!("TPP application {i}"),
                "subName": "admin", "policy": "Unlimited", "tokenType": "JWT", "groupIds": [],
                "attributes": {"org_id": format!("00158000010{i:08}"), "software_id": format!("sw{i:010}"),
                               "client_name": "x".repeat(40)},
                "organization": "carbon.super"}));
            for (kt, suffix) in [("PRODUCTION", "p"), ("SANDBOX", "s")] {
                keys.push(json!({"applicationId": i, "applicationUUID": uuid,
                    "consumerKey": format!("{i:012}{suffix}Xq3vB8nL0aZr5Tt"), "keyType": kt,
                    "keyManager": "Resident Key Manager"}));
            }
            subs.push(json!({"subscriptionUUID": format!("s-{uuid}"), "subscriptionId": i, "policyId": "Unlimited",
                "apiUUID": EVENTS_API_UUID, "apiId": 4, "applicationUUID": uuid, "appId": i,
                "subscriptionState": if i % 50 == 0 { "BLOCKED" } else { "UNBLOCKED" }}));
        }
        let apps_body = serde_json::to_vec(&json!({"count": n, "list": applications})).unwrap();
        let keys_body = serde_json::to_vec(&json!({"count": 2 * n, "list": keys})).unwrap();
        let subs_body = serde_json::to_vec(&json!({"count": n, "list": subs})).unwrap();
        let settings = settings();
        let t = now_ms();
        let mut builder = SnapshotBuilder::new(SnapshotOptions {
            apis: vec![events_api()],
            attributes: vec![],
            organisation_attribute: Some("org_id".into()),
        });
        for request in builder.first_requests(&settings) {
            let body = match request.collection {
                Collection::Apis => serde_json::to_vec(&apis_body()).unwrap(),
                Collection::Applications => apps_body.clone(),
                Collection::KeyMappings => keys_body.clone(),
                Collection::Subscriptions => subs_body.clone(),
            };
            builder.accept(&settings, &request, 200, &body).unwrap();
        }
        let snapshot = builder.build().unwrap();
        let build = now_ms() - t;
        let t = now_ms();
        let bytes = snapshot.to_bytes().unwrap();
        let encode = now_ms() - t;
        let t = now_ms();
        let back = Snapshot::from_bytes(&bytes).unwrap();
        let decode = now_ms() - t;
        assert_eq!(back.summary().key_mappings as usize, 2 * n);
        let t = now_ms();
        let rounds = 100_000usize;
        let mut passed = 0;
        for i in 0..rounds {
            let ck = format!("{:012}pXq3vB8nL0aZr5Tt", i % n);
            passed += usize::from(back.decide(&ck, None, None).is_ok());
        }
        let lookup = now_ms() - t;
        assert!(passed > 0);
        let line = format!(
            "{n} applications + {n} subscriptions + {} key mappings: data API JSON {:.1} MB, parse+build {build:.1} ms; \
             snapshot {:.2} MB ({:.0} B/app), to_bytes {encode:.1} ms, from_bytes {decode:.1} ms; decide {:.2} µs/call \
             (incl. key format)",
            2 * n,
            (apps_body.len() + keys_body.len() + subs_body.len()) as f64 / 1e6,
            bytes.len() as f64 / 1e6,
            bytes.len() as f64 / n as f64,
            lookup * 1e3 / rounds as f64,
        );
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!("{line}");
        #[cfg(not(target_arch = "wasm32"))]
        println!("{line}");
    }
}
