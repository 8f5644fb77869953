//! The APIM internal data REST API (`<event hub>/internal/data/v1`): requests and list responses.
//!
//! * Requests: `GET {base}/apis`, `/applications`, `/application-key-mappings`, `/subscriptions`, with
//!   `authorization: Basic …` (the event-hub user), `xwso2tenant: <tenant domain>` (the schema's required
//!   `xWSO2Tenant` header; header names are case-insensitive and Envoy sends them lower case) and
//!   `accept: application/json` (`/apis` answers gzip to `application/gzip`).
//! * Responses: `{count, list: […], pagination: {offset, limit, total, next, previous}}`.
//! * Paging: the schema defines no offset/limit query parameters on these paths, only the `pagination`
//!   object whose `next` is "a link to the next subset, empty if none". APIM's implementation
//!   (`SubscriptionValidationDataUtil`) returns every record in one response and never fills `pagination`.
//!   The filter follows a non-empty `next` link (relative to the API base path, or absolute) and stops at
//!   an absent / `null` / empty one; it never invents offset/limit parameters.

use super::model::{Api, Application, ApplicationKeyMapping, ListPage, Pagination, Subscription};
use super::DataError;
use crate::backend::BackendCredentials;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The tenant header of every data API request (`xWSO2Tenant` in the schema).
pub const TENANT_HEADER: &str = "xwso2tenant";

/// APIM's default base path of the data API on the control plane.
pub const DEFAULT_BASE_PATH: &str = "/internal/data/v1";

/// The four collections a snapshot is made of, in the order the loader fetches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    Apis,
    Applications,
    KeyMappings,
    Subscriptions,
}

impl Collection {
    pub const ALL: [Collection; 4] = [
        Collection::Apis,
        Collection::Applications,
        Collection::KeyMappings,
        Collection::Subscriptions,
    ];

    /// The path under the base path.
    pub fn path(self) -> &'static str {
        match self {
            Collection::Apis => "/apis",
            Collection::Applications => "/applications",
            Collection::KeyMappings => "/application-key-mappings",
            Collection::Subscriptions => "/subscriptions",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Collection::Apis => 0,
            Collection::Applications => 1,
            Collection::KeyMappings => 2,
            Collection::Subscriptions => 3,
        }
    }
}

/// Where and as whom the data API is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataApiSettings {
    /// Base path on the control-plane cluster, e.g. `/internal/data/v1` (a trailing `/` is ignored).
    pub base_path: String,
    /// Basic credentials of the event-hub user.
    pub credentials: BackendCredentials,
    /// Tenant domain, e.g. `carbon.super`.
    pub tenant: String,
}

/// One GET to the data API, ready for `dispatch_http_call` (the adapter adds `:authority` and the cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataApiRequest {
    pub collection: Collection,
    /// The `:path` (base path, collection path, query of a `next` link).
    pub path: String,
    /// `:method` is always `GET`; these are the other headers.
    pub headers: Vec<(String, String)>,
}

impl DataApiRequest {
    pub const METHOD: &'static str = "GET";

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl DataApiSettings {
    fn base(&self) -> &str {
        self.base_path.strip_suffix('/').unwrap_or(&self.base_path)
    }

    /// The first page of a collection.
    pub fn first_request(&self, collection: Collection) -> DataApiRequest {
        self.request(collection, format!("{}{}", self.base(), collection.path()))
    }

    /// A request for a given `:path` (a next page, from [`next_page_path`]).
    pub fn request(&self, collection: Collection, path: String) -> DataApiRequest {
        DataApiRequest {
            collection,
            path,
            headers: vec![
                ("accept".to_string(), "application/json".to_string()),
                (
                    "authorization".to_string(),
                    self.credentials.authorization(),
                ),
                (TENANT_HEADER.to_string(), self.tenant.clone()),
            ],
        }
    }

    /// The request for the page after `current`, if the response's pagination names one.
    pub fn next_request(
        &self,
        current: &DataApiRequest,
        pagination: Option<&Pagination>,
    ) -> Result<Option<DataApiRequest>, DataError> {
        Ok(next_page_path(self.base(), &current.path, pagination)?
            .map(|path| self.request(current.collection, path)))
    }
}

/// The `:path` of the next page, from a response's `pagination.next`; `None` when there is none.
///
/// `next` may be absolute (`https://host/internal/data/v1/subscriptions?offset=100`, reduced to its path
/// and query), start with the base path, or be relative to it (`/subscriptions?offset=100`, APIM's REST
/// API style) or to the current path (`?offset=100`). The result must be the same collection path with
/// another query (visible ASCII, no fragment, not the current path: a loop); otherwise an error.
pub fn next_page_path(
    base_path: &str,
    current_path: &str,
    pagination: Option<&Pagination>,
) -> Result<Option<String>, DataError> {
    let base = base_path.strip_suffix('/').unwrap_or(base_path);
    let next = match pagination.and_then(|p| p.next.as_deref()).map(str::trim) {
        None | Some("") => return Ok(None),
        Some(next) => next,
    };
    let bad = |why: &str| DataError::paging(format!("pagination.next {next:?} is unusable: {why}"));
    if !next.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("not visible ASCII"));
    }
    let current = current_path.split('?').next().unwrap_or_default();
    let path = match next.split_once("://") {
        // Absolute: its path must be the full path (the host is ignored: the call goes to the cluster).
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") =>
        {
            match rest.find('/') {
                Some(at) => rest.get(at..).unwrap_or_default().to_string(),
                None => return Err(bad("no path")),
            }
        }
        Some(_) => return Err(bad("not an http(s) link")),
        None if next.starts_with('?') => format!("{current}{next}"),
        None if next.starts_with(&format!("{base}/")) => next.to_string(),
        None if next.starts_with('/') => format!("{base}{next}"),
        None => return Err(bad("not a path")),
    };
    if path.contains('#') {
        return Err(bad("fragment"));
    }
    // The next page of a collection is that collection again, with another query.
    if path.split('?').next() != Some(current) {
        return Err(bad("not the same collection"));
    }
    if path == current_path {
        return Err(bad("same as the current page"));
    }
    Ok(Some(path))
}

#[derive(Deserialize)]
struct RawList<T> {
    #[serde(default)]
    count: Option<i64>,
    list: Option<Vec<T>>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

fn parse_list<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<ListPage<T>, DataError> {
    let raw: RawList<T> = serde_json::from_slice(body)
        .map_err(|e| DataError::garbage(format!("{what}: not a list response: {e}")))?;
    let items = raw
        .list
        .ok_or_else(|| DataError::garbage(format!("{what}: no \"list\" array")))?;
    if let Some(count) = raw.count {
        if usize::try_from(count).ok() != Some(items.len()) {
            return Err(DataError::garbage(format!(
                "{what}: \"count\" is {count} but \"list\" has {} items",
                items.len()
            )));
        }
    }
    Ok(ListPage {
        items,
        pagination: raw.pagination,
    })
}

/// `GET /apis` (definition `APIList`).
pub fn parse_apis(body: &[u8]) -> Result<ListPage<Api>, DataError> {
    parse_list("/apis", body)
}

/// `GET /applications` (definition `ApplicationList`).
pub fn parse_applications(body: &[u8]) -> Result<ListPage<Application>, DataError> {
    parse_list("/applications", body)
}

/// `GET /application-key-mappings` (definition `ApplicationKeyMappingList`).
pub fn parse_key_mappings(body: &[u8]) -> Result<ListPage<ApplicationKeyMapping>, DataError> {
    parse_list("/application-key-mappings", body)
}

/// `GET /subscriptions` (definition `SubscriptionList`).
pub fn parse_subscriptions(body: &[u8]) -> Result<ListPage<Subscription>, DataError> {
    parse_list("/subscriptions", body)
}

#[cfg(test)]
mod tests {
    use super::super::model::KeyType;
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn settings() -> DataApiSettings {
        DataApiSettings {
            base_path: "/internal/data/v1/".into(),
            credentials: BackendCredentials {
                username: "admin".into(),
                password: "s3cret".into(),
            },
            tenant: "carbon.super".into(),
        }
    }

    fn pagination(next: &str) -> Pagination {
        Pagination {
            next: Some(next.into()),
            ..Pagination::default()
        }
    }

    #[test]
    fn first_request_has_path_basic_auth_and_tenant() {
        let req = settings().first_request(Collection::KeyMappings);
        assert_eq!(req.path, "/internal/data/v1/application-key-mappings");
        // base64("admin:s3cret")
        assert_eq!(req.header("authorization"), Some("Basic YWRtaW46czNjcmV0"));
        assert_eq!(req.header("xWSO2Tenant"), Some("carbon.super"));
        assert_eq!(req.header("accept"), Some("application/json"));
        for c in Collection::ALL {
            assert!(settings().first_request(c).path.ends_with(c.path()));
        }
    }

    #[test]
    fn parses_api_list_as_the_schema() {
        let body = br#"{"count":2,"list":[
            {"uuid":"7a3c0f2e-1111-4c4c-8d8d-000000000001","apiId":4,"provider":"admin",
             "name":"EventNotificationsAPI","version":"v3.1.2","context":"/open-banking/v3.1/events",
             "policy":"Unlimited","apiType":"HTTP","status":"PUBLISHED","isDefaultVersion":true,
             "urlMappings":[{"authScheme":"Any","throttlingPolicy":"Unlimited","httpMethod":"POST",
                             "urlPattern":"/events","scopes":["eventpolling"]}]},
            {"uuid":"7a3c0f2e-1111-4c4c-8d8d-000000000002","apiId":5,"name":"Other","version":"1.0.0",
             "context":"/other/1.0.0","status":"BLOCKED","isDefaultVersion":false}],
            "pagination":{"offset":0,"limit":2,"total":2,"next":"","previous":""}}"#;
        let page = parse_apis(body).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].api_id, Some(4));
        assert_eq!(page.items[0].name.as_deref(), Some("EventNotificationsAPI"));
        assert_eq!(page.items[1].status.as_deref(), Some("BLOCKED"));
        assert_eq!(page.pagination.unwrap().total, Some(2));
    }

    #[test]
    fn parses_application_list_with_attributes_and_nulls() {
        let body = br#"{"count":2,"list":[
            {"uuid":"c0ffee00-0000-4000-8000-000000000001","id":11,"name":"Acme TPP","subName":"admin",
             "policy":"Unlimited","tokenType":"JWT","groupIds":[{"groupId":"g1","applicationId":11}],
             "attributes":{"org_id":"0015800001041RHAAY","software_id":"sw1","nothing":null},
             "organization":"carbon.super"},
            {"uuid":"c0ffee00-0000-4000-8000-000000000002","id":12,"name":"Bare","subName":null,
             "policy":null,"tokenType":null,"groupIds":[],"attributes":null,"organization":null}],
            "pagination":null}"#;
        let page = parse_applications(body).unwrap();
        let acme = &page.items[0];
        assert_eq!(acme.id, Some(11));
        assert_eq!(
            acme.attributes.get("org_id").map(String::as_str),
            Some("0015800001041RHAAY")
        );
        assert!(!acme.attributes.contains_key("nothing"));
        assert!(page.items[1].attributes.is_empty());
        assert!(page.pagination.is_none());
    }

    #[test]
    fn parses_key_mapping_list() {
        let body = br#"{"count":1,"list":[{"applicationId":11,
            "applicationUUID":"c0ffee00-0000-4000-8000-000000000001","consumerKey":"9DkUa2lq_xyz",
            "keyType":"PRODUCTION","keyManager":"Resident Key Manager"}]}"#;
        let page = parse_key_mappings(body).unwrap();
        let km = &page.items[0];
        assert_eq!(km.consumer_key.as_deref(), Some("9DkUa2lq_xyz"));
        assert_eq!(
            km.key_type.as_deref().and_then(KeyType::parse),
            Some(KeyType::Production)
        );
        assert_eq!(km.key_manager.as_deref(), Some("Resident Key Manager"));
    }

    #[test]
    fn parses_subscription_list() {
        let body = br#"{"count":1,"list":[{"subscriptionUUID":"5ub-1","subscriptionId":21,
            "policyId":"Unlimited","apiUUID":"7a3c0f2e-1111-4c4c-8d8d-000000000001","apiId":4,
            "applicationUUID":"c0ffee00-0000-4000-8000-000000000001","appId":11,
            "subscriptionState":"UNBLOCKED"}],"pagination":{}}"#;
        let page = parse_subscriptions(body).unwrap();
        assert_eq!(
            page.items[0].subscription_state.as_deref(),
            Some("UNBLOCKED")
        );
        assert_eq!(page.items[0].app_id, Some(11));
    }

    #[test]
    fn absent_optional_members_are_tolerated() {
        let page = parse_subscriptions(br#"{"list":[{}]}"#).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].api_uuid, None);
        assert!(parse_apis(br#"{"count":0,"list":[]}"#)
            .unwrap()
            .items
            .is_empty());
    }

    #[test]
    fn garbage_is_an_error() {
        for body in [
            &b"not json"[..],
            b"[]",
            b"{}",
            b"{\"list\":null}",
            b"{\"list\":{}}",
            b"{\"count\":3,\"list\":[]}",
            b"{\"count\":\"1\",\"list\":[{}]}",
            b"{\"list\":[{\"appId\":\"11\"}]}",
            b"{\"list\":[{\"subscriptionState\":1}]}",
            b"{\"list\":[],\"pagination\":{\"next\":5}}",
            b"{\"list\":[{}]",
        ] {
            assert!(
                parse_subscriptions(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse_applications(br#"{"list":[{"attributes":{"a":1}}]}"#).is_err());
        assert!(parse_applications(br#"{"list":[{"attributes":[]}]}"#).is_err());
        assert!(parse_key_mappings(br#"{"list":[{"consumerKey":7}]}"#).is_err());
    }

    #[test]
    fn paging_follows_next_links_and_stops() {
        let base = "/internal/data/v1";
        let cur = "/internal/data/v1/subscriptions";
        assert_eq!(next_page_path(base, cur, None).unwrap(), None);
        assert_eq!(
            next_page_path(base, cur, Some(&Pagination::default())).unwrap(),
            None
        );
        assert_eq!(
            next_page_path(base, cur, Some(&pagination(""))).unwrap(),
            None
        );
        for (next, want) in [
            (
                "/subscriptions?offset=100&limit=100",
                "/internal/data/v1/subscriptions?offset=100&limit=100",
            ),
            (
                "/internal/data/v1/subscriptions?offset=100",
                "/internal/data/v1/subscriptions?offset=100",
            ),
            (
                "https://apim:9443/internal/data/v1/subscriptions?offset=1",
                "/internal/data/v1/subscriptions?offset=1",
            ),
            ("?offset=200", "/internal/data/v1/subscriptions?offset=200"),
        ] {
            assert_eq!(
                next_page_path(base, cur, Some(&pagination(next)))
                    .unwrap()
                    .as_deref(),
                Some(want),
                "{next}"
            );
        }
        for bad in [
            "/internal/data/v1/subscriptions",
            "ftp://x/internal/data/v1/a",
            "https://host",
            "subscriptions?offset=1",
            "/../admin",
            "/applications?offset=1",
            "/subscriptions/../applications?offset=1",
            "https://evil/other/path",
            "https://apim/subscriptions?offset=1",
            "/a b",
        ] {
            assert!(
                next_page_path(base, cur, Some(&pagination(bad))).is_err(),
                "{bad}"
            );
        }
        let req = settings().first_request(Collection::Subscriptions);
        let next = settings()
            .next_request(&req, Some(&pagination("/subscriptions?offset=2")))
            .unwrap()
            .unwrap();
        assert_eq!(next.collection, Collection::Subscriptions);
        assert_eq!(next.path, "/internal/data/v1/subscriptions?offset=2");
        assert_eq!(next.header("xwso2tenant"), Some("carbon.super"));
    }
}
