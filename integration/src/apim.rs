//! A test double of WSO2 API Manager's internal data REST API (`/internal/data/v1/{apis, applications,
//! application-key-mappings, subscriptions}`, schema `internal-data-api.yaml`): the tests change its data
//! between requests, make it answer garbage, or take it down.

use crate::demo::TPPS;
use crate::stub::{Stub, StubResponse};
use crate::testbed::{POLLING_API, SUBSCRIPTION_API};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub const USER: &str = "apim-eventhub";
pub const PASSWORD: &str = "apim-eventhub-password";
pub const SUBSCRIPTION_API_UUID: &str = "8f2c7f7e-0000-4000-8000-000000000001";
pub const POLLING_API_UUID: &str = "8f2c7f7e-0000-4000-8000-000000000002";

/// One application of the double: its consumer keys and its subscription states per API uuid.
#[derive(Clone, Debug)]
pub struct App {
    pub id: i64,
    pub name: String,
    pub organisation: String,
    pub keys: Vec<(String, &'static str)>,
    pub subscriptions: Vec<(&'static str, String)>,
}

/// What the double serves.
#[derive(Clone, Debug)]
pub struct Data {
    pub apps: Vec<App>,
    /// Answer every request with this instead (status, body): garbage, errors.
    pub broken: Option<(u16, String)>,
}

impl Data {
    /// Both demo TPPs, each subscribed (UNBLOCKED) to both APIs with its client id as a PRODUCTION key.
    pub fn demo() -> Data {
        let apps = TPPS
            .iter()
            .enumerate()
            .map(|(i, t)| App {
                id: 100 + i as i64,
                name: format!("{} application", t.organisation),
                organisation: format!("PSDGB-OB-{}", t.organisation_id),
                keys: vec![(t.client_id.to_string(), "PRODUCTION")],
                subscriptions: vec![
                    (SUBSCRIPTION_API_UUID, "UNBLOCKED".into()),
                    (POLLING_API_UUID, "UNBLOCKED".into()),
                ],
            })
            .collect();
        Data { apps, broken: None }
    }

    /// The application whose key is `consumer_key`.
    pub fn app_mut(&mut self, consumer_key: &str) -> &mut App {
        self.apps
            .iter_mut()
            .find(|a| a.keys.iter().any(|(k, _)| k == consumer_key))
            .expect("an application with that key")
    }

    fn body(&self, collection: &str) -> Option<Value> {
        let uuid = |id: i64| format!("app-uuid-{id}");
        let list: Vec<Value> = match collection {
            "apis" => vec![
                json!({"uuid": SUBSCRIPTION_API_UUID, "apiId": 1, "provider": "admin", "name": SUBSCRIPTION_API.0,
                       "version": SUBSCRIPTION_API.1, "context": "/open-banking/v3.1/event-subscriptions",
                       "policy": "Unlimited", "apiType": "HTTP", "status": "PUBLISHED", "isDefaultVersion": true,
                       "urlMappings": []}),
                json!({"uuid": POLLING_API_UUID, "apiId": 2, "provider": "admin", "name": POLLING_API.0,
                       "version": POLLING_API.1, "context": "/open-banking/v3.1/events",
                       "policy": "Unlimited", "apiType": "HTTP", "status": "PUBLISHED", "isDefaultVersion": true,
                       "urlMappings": []}),
            ],
            "applications" => self
                .apps
                .iter()
                .map(|a| {
                    json!({"uuid": uuid(a.id), "id": a.id, "name": a.name, "subName": "admin",
                           "policy": "Unlimited", "tokenType": "JWT", "groupIds": [],
                           "attributes": {"org_id": a.organisation}, "organization": "carbon.super"})
                })
                .collect(),
            "application-key-mappings" => self
                .apps
                .iter()
                .flat_map(|a| {
                    a.keys.iter().map(move |(key, key_type)| {
                        json!({"applicationId": a.id, "applicationUUID": uuid(a.id), "consumerKey": key,
                               "keyType": key_type, "keyManager": "Resident Key Manager"})
                    })
                })
                .collect(),
            "subscriptions" => self
                .apps
                .iter()
                .flat_map(|a| {
                    a.subscriptions.iter().enumerate().map(move |(n, (api, state))| {
                        json!({"subscriptionUUID": format!("sub-{}-{n}", a.id), "subscriptionId": a.id * 10 + n as i64,
                               "policyId": "Unlimited", "apiUUID": api,
                               "apiId": if *api == SUBSCRIPTION_API_UUID { 1 } else { 2 },
                               "applicationUUID": uuid(a.id), "appId": a.id, "subscriptionState": state})
                    })
                })
                .collect(),
            _ => return None,
        };
        Some(json!({"count": list.len(), "list": list}))
    }
}

/// The running double.
pub struct DataApi {
    pub stub: Stub,
    pub data: Arc<Mutex<Data>>,
}

impl DataApi {
    pub fn start(data: Data) -> DataApi {
        Self::start_on(0, Arc::new(Mutex::new(data)))
    }

    /// Serve `data` on `port` (0: any), e.g. to bring the double back where it was.
    pub fn start_on(port: u16, data: Arc<Mutex<Data>>) -> DataApi {
        let served = Arc::clone(&data);
        let stub = Stub::start_on(port, move |req| {
            let expected = format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    format!("{USER}:{PASSWORD}")
                )
            );
            if req.header("authorization") != Some(expected.as_str()) {
                return StubResponse::text(401, "unauthorized");
            }
            if req.header("xwso2tenant").is_none() {
                return StubResponse::text(400, "no tenant");
            }
            let data = served.lock().unwrap();
            if let Some((status, body)) = &data.broken {
                return StubResponse::text(*status, body);
            }
            let collection = req
                .path
                .strip_prefix("/internal/data/v1/")
                .unwrap_or_default()
                .split('?')
                .next()
                .unwrap_or_default();
            match data.body(collection) {
                Some(body) => StubResponse::json(200, &body),
                None => StubResponse::text(404, "no such collection"),
            }
        });
        DataApi { stub, data }
    }

    pub fn edit(&self, change: impl FnOnce(&mut Data)) {
        change(&mut self.data.lock().unwrap());
    }
}

/// The `apim` section for the double on cluster `apim_cp`, refreshed every `refresh_secs`.
pub fn apim_config(refresh_secs: u64) -> Value {
    json!({
        "subscription_api": { "name": SUBSCRIPTION_API.0, "version": SUBSCRIPTION_API.1 },
        "polling_api": { "name": POLLING_API.0, "version": POLLING_API.1 },
        "organisation_attribute": "org_id",
        "source": {
            "type": "data_api", "cluster": "apim_cp", "username": USER, "password": PASSWORD,
            "tenant": "carbon.super", "timeout_ms": 2000, "refresh_interval_secs": refresh_secs
        }
    })
}
