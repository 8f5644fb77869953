//! `/event-subscriptions`: create (POST, `OBEventSubscription1`), list (GET), update (PUT,
//! `OBEventSubscriptionResponse1` as the body) and delete (DELETE), mapped to and from the backend's
//! `/subscription` JSON.
//!
//! Request rules (all 400; the first broken one is the answer):
//!
//! | rule | ErrorCode | Path |
//! |---|---|---|
//! | path id not 1–40 characters of `A-Z a-z 0-9 - _ . ~` (PUT, DELETE) | `UK.OBIE.Resource.NotFound` | `EventSubscriptionId` |
//! | body larger than `body_limit_bytes`, not JSON, not an object | `UK.OBIE.Resource.InvalidFormat` | – |
//! | a top-level member other than `Data` (PUT: `Data`, `Links`, `Meta`) (policy) | `UK.OBIE.Field.Unexpected` | the member |
//! | `Data` missing / not an object | `UK.OBIE.Field.Missing` / `UK.OBIE.Field.Invalid` | `Data` |
//! | a `Data` member other than `CallbackUrl`, `Version`, `EventTypes` (PUT: and `EventSubscriptionId`) (policy) | `UK.OBIE.Field.Unexpected` | `Data.<member>` |
//! | PUT: `Data.EventSubscriptionId` missing / not the path id | `UK.OBIE.Field.Missing` / `UK.OBIE.Field.Invalid` | `Data.EventSubscriptionId` |
//! | `Data.Version` missing / not a 1–10 character, non-blank string | `UK.OBIE.Field.Missing` / `UK.OBIE.Field.Invalid` | `Data.Version` |
//! | `Data.CallbackUrl` not an absolute `https` URL ending with `/event-notifications` | `UK.OBIE.Field.Invalid` | `Data.CallbackUrl` |
//! | `Data.EventTypes` not an array / an entry not a string | `UK.OBIE.Field.Invalid` | `Data.EventTypes` / `Data.EventTypes[i]` |
//! | an `EventTypes` entry not supported | `UK.OBIE.Unsupported.EventType` | `Data.EventTypes[i]` |
//!
//! Event types: the three v3.1.2 URNs and the OBEventType1Code spellings, including the v3.1.2 typo
//! `UK.OBIE.Acount-Access-Consent-Linked-Account-Update` and its v3.1.4+ correction. They are matched exactly
//! (case-sensitive, as namespaced enumerations are) and forwarded **as the TPP sent them**: the backend
//! stores them and echoes them on every later read, so the TPP always gets its own spelling back
//! (`ob-event-store` canonicalises spellings when it matches events to subscriptions).
//!
//! Another TPP's subscription id is refused exactly like an id that does not exist
//! ([`subscription_not_found`]): same status, code, message and path — no existence leak.

use crate::backend::{self, percent_encode_segment};
use crate::errors::{ErrorKind, Refusal};
use crate::interaction::InteractionId;
use crate::polling::{invalid, json_object, missing, path_name, text, unexpected, UnknownMembers};
use crate::reply::LocalReply;
use serde_json::{Map, Value};

/// Event types a subscription may name, each with the SET `events` key it stands for.
pub const SUPPORTED_EVENT_TYPES: &[(&str, &str)] = &[
    (RESOURCE_UPDATE, RESOURCE_UPDATE),
    (REVOKED, REVOKED),
    (LINKED, LINKED),
    ("UK.OBIE.Resource-Update", RESOURCE_UPDATE),
    ("UK.OBIE.Consent-Authorization-Revoked", REVOKED),
    // v3.1.2 / v3.1.3 spelling (sic), fixed in v3.1.4.
    (
        "UK.OBIE.Acount-Access-Consent-Linked-Account-Update",
        LINKED,
    ),
    (
        "UK.OBIE.Account-Access-Consent-Linked-Account-Update",
        LINKED,
    ),
];

const RESOURCE_UPDATE: &str = "urn:uk:org:openbanking:events:resource-update";
const REVOKED: &str = "urn:uk:org:openbanking:events:consent-authorization-revoked";
const LINKED: &str = "urn:uk:org:openbanking:events:account-access-consent-linked-account-update";

/// The SET `events` URN an `EventTypes` entry stands for, when it is supported.
pub fn event_type_urn(event_type: &str) -> Option<&'static str> {
    SUPPORTED_EVENT_TYPES
        .iter()
        .find(|(name, _)| *name == event_type)
        .map(|(_, urn)| *urn)
}

/// Subscription endpoints policy. Defaults: `unknown_members` Refuse, `body_limit_bytes` 65536.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionPolicy {
    pub unknown_members: UnknownMembers,
    pub body_limit_bytes: usize,
}

impl Default for SubscriptionPolicy {
    fn default() -> Self {
        SubscriptionPolicy {
            unknown_members: UnknownMembers::Refuse,
            body_limit_bytes: 65536,
        }
    }
}

/// A checked create or update body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInput {
    /// PUT only: `Data.EventSubscriptionId` (equal to the path id).
    pub subscription_id: Option<String>,
    pub callback_url: Option<String>,
    pub version: String,
    /// As the TPP sent them; `None` when `EventTypes` was absent (= every supported type).
    pub event_types: Option<Vec<String>>,
}

impl SubscriptionInput {
    /// The backend's subscription JSON: `{"subscriptionId"? (PUT), "callbackUrl"?, "version",
    /// "eventTypes"}`. `eventTypes` is always present (WSO2's handler fails without it), `[]` when the TPP
    /// sent none.
    pub fn backend_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(id) = &self.subscription_id {
            out.insert("subscriptionId".into(), id.clone().into());
        }
        if let Some(url) = &self.callback_url {
            out.insert("callbackUrl".into(), url.clone().into());
        }
        out.insert("version".into(), self.version.clone().into());
        out.insert(
            "eventTypes".into(),
            self.event_types.clone().unwrap_or_default().into(),
        );
        Value::Object(out)
    }
}

/// The one refusal for an unknown id, a malformed id and another TPP's id: 400
/// `UK.OBIE.Resource.NotFound`, Path `EventSubscriptionId`.
pub fn subscription_not_found() -> Refusal {
    Refusal::new(
        ErrorKind::ResourceNotFound,
        "No event subscription with this EventSubscriptionId",
    )
    .at("EventSubscriptionId")
}

/// Check an `EventSubscriptionId` from the path: 1–40 characters of `A-Z a-z 0-9 - _ . ~` (UUIDs and
/// OB-style ids such as `CB-101`). Anything else cannot exist here: [`subscription_not_found`].
pub fn check_subscription_id(id: &str) -> Result<(), Refusal> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.~".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(subscription_not_found())
    }
}

/// Parse and check a `POST /event-subscriptions` body (`OBEventSubscription1`).
pub fn parse_create(
    body: &[u8],
    policy: &SubscriptionPolicy,
) -> Result<SubscriptionInput, Refusal> {
    parse(body, None, policy)
}

/// Parse and check a `PUT /event-subscriptions/{path_id}` body (`OBEventSubscriptionResponse1`).
pub fn parse_update(
    body: &[u8],
    path_id: &str,
    policy: &SubscriptionPolicy,
) -> Result<SubscriptionInput, Refusal> {
    check_subscription_id(path_id)?;
    parse(body, Some(path_id), policy)
}

fn parse(
    body: &[u8],
    path_id: Option<&str>,
    policy: &SubscriptionPolicy,
) -> Result<SubscriptionInput, Refusal> {
    let object = json_object(body, policy.body_limit_bytes)?;
    let refuse_unknown = policy.unknown_members == UnknownMembers::Refuse;
    let top: &[&str] = match path_id {
        Some(_) => &["Data", "Links", "Meta"],
        None => &["Data"],
    };
    if refuse_unknown {
        if let Some(name) = object.keys().find(|k| !top.contains(&k.as_str())) {
            return Err(unexpected(
                &path_name(name),
                "is not a member of this request",
            ));
        }
    }
    let data = object
        .get("Data")
        .ok_or_else(|| missing("Data"))?
        .as_object()
        .ok_or_else(|| invalid("Data", "must be an object"))?;
    let members: &[&str] = match path_id {
        Some(_) => &[
            "EventSubscriptionId",
            "CallbackUrl",
            "Version",
            "EventTypes",
        ],
        None => &["CallbackUrl", "Version", "EventTypes"],
    };
    if refuse_unknown {
        if let Some(name) = data.keys().find(|k| !members.contains(&k.as_str())) {
            return Err(unexpected(
                &format!("Data.{}", path_name(name)),
                "is not a member of this request",
            ));
        }
    }

    let subscription_id = match path_id {
        Some(path_id) => {
            const AT: &str = "Data.EventSubscriptionId";
            let sent = data
                .get("EventSubscriptionId")
                .ok_or_else(|| missing(AT))?
                .as_str()
                .ok_or_else(|| invalid(AT, "must be a string"))?;
            if sent != path_id {
                return Err(
                    invalid(AT, "must equal the EventSubscriptionId of the path")
                        .because("field_invalid.subscription_id_mismatch"),
                );
            }
            Some(sent.to_string())
        }
        None => None,
    };

    let version = match data.get("Version") {
        None => return Err(missing("Data.Version")),
        Some(v) => match text(v, 10) {
            Some(s) if !s.trim().is_empty() => s.to_string(),
            _ => {
                return Err(
                    invalid("Data.Version", "must be a string of 1 to 10 characters")
                        .because("field_invalid.version"),
                )
            }
        },
    };

    let callback_url = match data.get("CallbackUrl") {
        None => None,
        Some(v) => {
            let url = v
                .as_str()
                .ok_or_else(|| invalid("Data.CallbackUrl", "must be a string"))?;
            check_callback_url(url).map_err(|why| {
                invalid("Data.CallbackUrl", why).because("field_invalid.callback_url")
            })?;
            Some(url.to_string())
        }
    };

    let event_types = match data.get("EventTypes") {
        None => None,
        Some(v) => {
            let items = v
                .as_array()
                .ok_or_else(|| invalid("Data.EventTypes", "must be an array of event types"))?;
            let mut types = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("Data.EventTypes[{i}]");
                let name = item
                    .as_str()
                    .ok_or_else(|| invalid(&at, "must be a string"))?;
                if event_type_urn(name).is_none() {
                    return Err(Refusal::new(
                        ErrorKind::UnsupportedEventType,
                        format!(
                            "{at} is not a supported event type (supported: {})",
                            supported_list()
                        ),
                    )
                    .at(at));
                }
                types.push(name.to_string());
            }
            Some(types)
        }
    };

    Ok(SubscriptionInput {
        subscription_id,
        callback_url,
        version,
        event_types,
    })
}

fn supported_list() -> String {
    let names: Vec<&str> = SUPPORTED_EVENT_TYPES.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

const CALLBACK_SUFFIX: &str = "/event-notifications";
const MAX_CALLBACK_LEN: usize = 1024;

/// `https://host[:port]/…/event-notifications` (DIGEST-obie §2.1): absolute, https, a host, no userinfo, no
/// query or fragment, ASCII only (percent-encoded), at most 1024 characters. The reason when it is not.
fn check_callback_url(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_CALLBACK_LEN {
        return Err("must be at most 1024 characters");
    }
    if !url.bytes().all(|c| c.is_ascii_graphic()) {
        return Err("must be an absolute URL without spaces or non-ASCII characters");
    }
    let scheme_end = url.find("://").ok_or("must be an absolute https URL")?;
    let scheme = url.get(..scheme_end).unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("https") {
        return Err("must use https");
    }
    let rest = url.get(scheme_end + 3..).unwrap_or_default();
    if rest.contains(['?', '#']) {
        return Err("must not have a query or fragment");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err("must not carry user information");
    }
    if !valid_authority(authority) {
        return Err("must name a valid host");
    }
    if !valid_path(path) {
        return Err("has an invalid path");
    }
    if !path.ends_with(CALLBACK_SUFFIX) {
        return Err("must end with /event-notifications");
    }
    Ok(())
}

fn valid_authority(authority: &str) -> bool {
    let (host_ok, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((inside, after)) = v6.split_once(']') else {
            return false;
        };
        let ok = !inside.is_empty()
            && inside
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
        match after {
            "" => (ok, None),
            p => match p.strip_prefix(':') {
                Some(port) => (ok, Some(port)),
                None => return false,
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (valid_host_name(host), Some(port)),
            None => (valid_host_name(authority), None),
        }
    };
    host_ok && port.is_none_or(valid_port)
}

/// Dot-separated labels of letters, digits and `-` (IPv4 addresses included).
fn valid_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

fn valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|c| c.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
}

fn valid_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        if c == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c)) {
            return false;
        }
        i += 1;
    }
    true
}

/// A subscription as the backend holds it, checked for what OB requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub callback_url: Option<String>,
    pub version: String,
    /// `None` when the backend has none (absent, `null` or `[]`): the TPP subscribed to every type.
    pub event_types: Option<Vec<String>>,
}

/// Read the backend's answer to a create (201) or update (200) — either success status is accepted.
///
/// * 409 → 409 `UK.OBIE.Rules.ResourceAlreadyExists`.
/// * "not found" (WSO2: 400 `Event subscription not found.`; `ob-event-store`: 404) and "client id does not
///   match" (WSO2: 400, another client's subscription) → [`subscription_not_found`], identically.
/// * a 2xx body that is not a usable subscription → 502; anything else → [`backend::refusal_for_status`].
pub fn parse_backend_subscription(status: u16, body: &[u8]) -> Result<Subscription, Refusal> {
    match status {
        200 | 201 => serde_json::from_slice::<Value>(body)
            .ok()
            .as_ref()
            .and_then(subscription_from)
            .ok_or_else(|| backend::bad_answer("backend_bad_answer.subscription_shape")),
        _ => Err(failure(status, body)),
    }
}

/// Read the backend's answer to a list (200, a JSON array of subscriptions).
pub fn parse_backend_subscriptions(status: u16, body: &[u8]) -> Result<Vec<Subscription>, Refusal> {
    match status {
        200 => serde_json::from_slice::<Value>(body)
            .ok()
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|items| {
                items
                    .iter()
                    .map(subscription_from)
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| backend::bad_answer("backend_bad_answer.subscription_list_shape")),
        _ => Err(failure(status, body)),
    }
}

/// Read the backend's answer to a delete (204; 200 is accepted too, any body ignored).
pub fn parse_backend_delete(status: u16, body: &[u8]) -> Result<(), Refusal> {
    match status {
        200 | 204 => Ok(()),
        _ => Err(failure(status, body)),
    }
}

fn failure(status: u16, body: &[u8]) -> Refusal {
    if status == 409 {
        return Refusal::new(
            ErrorKind::ResourceAlreadyExists,
            "An event subscription already exists for this TPP",
        );
    }
    if is_not_found(status, body) {
        return subscription_not_found();
    }
    backend::refusal_for_status(status, body)
}

/// WSO2 answers 400 `Event subscription not found.` for an unknown id and 400 `Client Id in the request
/// does not match with the client Id associated to the event subscription` for another client's;
/// `ob-event-store` answers 404 `Event subscription not found.` for both.
fn is_not_found(status: u16, body: &[u8]) -> bool {
    let Some(e) = backend::parse_error_body(body) else {
        return false;
    };
    let d = e.description.to_ascii_lowercase();
    match status {
        400 => {
            d.contains("subscription not found")
                || (d.contains("client id") && d.contains("does not match"))
        }
        404 => d.contains("subscription"),
        _ => false,
    }
}

fn subscription_from(value: &Value) -> Option<Subscription> {
    let object = value.as_object()?;
    let id = text(object.get("subscriptionId")?, 40)?.to_string();
    let version = text(object.get("version")?, 10)?.to_string();
    let callback_url = match object.get("callbackUrl") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str()?.to_string()).filter(|s| !s.is_empty()),
    };
    let event_types = match object.get("eventTypes") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let types = v
                .as_array()?
                .iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()?;
            Some(types).filter(|t| !t.is_empty())
        }
    };
    Some(Subscription {
        id,
        callback_url,
        version,
        event_types,
    })
}

/// `https://{authority}{base_path}`: the base of every `Links.Self`. Characters that cannot be in an
/// authority are dropped (the `:authority` a TPP sent is not trusted to be clean).
pub fn api_base(authority: &str, base_path: &str) -> String {
    let authority: String = authority
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(*c))
        .collect();
    let base_path = base_path.strip_suffix('/').unwrap_or(base_path);
    format!("https://{authority}{base_path}")
}

fn data_json(s: &Subscription) -> Value {
    let mut data = Map::new();
    data.insert("EventSubscriptionId".into(), s.id.clone().into());
    if let Some(url) = &s.callback_url {
        data.insert("CallbackUrl".into(), url.clone().into());
    }
    data.insert("Version".into(), s.version.clone().into());
    if let Some(types) = &s.event_types {
        data.insert("EventTypes".into(), types.clone().into());
    }
    Value::Object(data)
}

fn document(data: Value, self_link: String) -> Value {
    let mut links = Map::new();
    links.insert("Self".into(), self_link.into());
    let mut out = Map::new();
    out.insert("Data".into(), data);
    out.insert("Links".into(), Value::Object(links));
    out.insert("Meta".into(), Value::Object(Map::new()));
    Value::Object(out)
}

/// `OBEventSubscriptionResponse1` with `status` (201 after a create, 200 after an update);
/// `Links.Self` = `{api_base}/event-subscriptions/{id}`, `Meta` = `{}`.
pub fn subscription_reply(
    subscription: &Subscription,
    status: u16,
    api_base: &str,
    id: &InteractionId,
) -> LocalReply {
    let self_link = format!(
        "{api_base}/event-subscriptions/{}",
        percent_encode_segment(&subscription.id)
    );
    let body = document(data_json(subscription), self_link);
    LocalReply::json(status, body.to_string().into_bytes(), id)
}

/// `OBEventSubscriptionsResponse1` (200): `Data.EventSubscription[]`, `Links.Self` = the collection URL.
pub fn subscriptions_reply(
    subscriptions: &[Subscription],
    api_base: &str,
    id: &InteractionId,
) -> LocalReply {
    let list: Vec<Value> = subscriptions.iter().map(data_json).collect();
    let mut data = Map::new();
    data.insert("EventSubscription".into(), Value::Array(list));
    let body = document(
        Value::Object(data),
        format!("{api_base}/event-subscriptions"),
    );
    LocalReply::json(200, body.to_string().into_bytes(), id)
}

/// 204 without a body, after a delete.
pub fn deleted_reply(id: &InteractionId) -> LocalReply {
    LocalReply::empty(204, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const URL: &str = "https://tpp.example/open-banking/v3.1/event-notifications";
    const BASE: &str = "https://api.bank.example/open-banking/v3.1";

    fn policy() -> SubscriptionPolicy {
        SubscriptionPolicy::default()
    }

    fn create(body: Value) -> Result<SubscriptionInput, Refusal> {
        parse_create(body.to_string().as_bytes(), &policy())
    }

    fn update(body: Value, id: &str) -> Result<SubscriptionInput, Refusal> {
        parse_update(body.to_string().as_bytes(), id, &policy())
    }

    fn seen(r: &Refusal) -> (u16, Option<&'static str>, Option<&str>) {
        (r.spec().status, r.spec().ob_code, r.path.as_deref())
    }

    const INVALID: Option<&str> = Some("UK.OBIE.Field.Invalid");
    const MISSING: Option<&str> = Some("UK.OBIE.Field.Missing");
    const UNEXPECTED: Option<&str> = Some("UK.OBIE.Field.Unexpected");
    const NOT_FOUND: Option<&str> = Some("UK.OBIE.Resource.NotFound");

    fn iid() -> InteractionId {
        InteractionId::new_v4([5; 16])
    }

    fn body_of(reply: &LocalReply) -> Value {
        serde_json::from_slice(reply.body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn a_full_create_is_accepted_and_mapped_for_the_backend() {
        let input = create(json!({"Data": {"CallbackUrl": URL, "Version": "3.1",
            "EventTypes": ["UK.OBIE.Resource-Update", "urn:uk:org:openbanking:events:consent-authorization-revoked"]}}))
        .unwrap();
        assert_eq!(
            input.backend_json(),
            json!({"callbackUrl": URL, "version": "3.1",
                   "eventTypes": ["UK.OBIE.Resource-Update", "urn:uk:org:openbanking:events:consent-authorization-revoked"]})
        );
    }

    #[test]
    fn a_minimal_create_sends_empty_event_types() {
        let input = create(json!({"Data": {"Version": "3.1"}})).unwrap();
        assert_eq!(input.callback_url, None);
        assert_eq!(input.event_types, None);
        assert_eq!(
            input.backend_json(),
            json!({"version": "3.1", "eventTypes": []})
        );
    }

    #[test]
    fn data_missing_is_field_missing() {
        assert_eq!(
            seen(&create(json!({})).unwrap_err()),
            (400, MISSING, Some("Data"))
        );
        assert_eq!(
            seen(&create(json!({"Data": []})).unwrap_err()),
            (400, INVALID, Some("Data"))
        );
    }

    #[test]
    fn version_missing_is_field_missing() {
        let r = create(json!({"Data": {"CallbackUrl": URL}})).unwrap_err();
        assert_eq!(seen(&r), (400, MISSING, Some("Data.Version")));
    }

    #[test]
    fn version_11_characters_is_invalid() {
        let r = create(json!({"Data": {"Version": "3.1.2345678"}})).unwrap_err();
        assert_eq!(seen(&r), (400, INVALID, Some("Data.Version")));
        for bad in [json!(""), json!("  "), json!(3.1), json!(null)] {
            let r = create(json!({"Data": {"Version": bad}})).unwrap_err();
            assert_eq!(seen(&r), (400, INVALID, Some("Data.Version")), "{bad}");
        }
        assert!(create(json!({"Data": {"Version": "3.1.234567"}})).is_ok());
    }

    #[test]
    fn callback_url_http_is_invalid() {
        let r = create(json!({"Data": {"Version": "3.1",
            "CallbackUrl": "http://tpp.example/open-banking/v3.1/event-notifications"}}))
        .unwrap_err();
        assert_eq!(seen(&r), (400, INVALID, Some("Data.CallbackUrl")));
        assert!(r.message.contains("https"));
    }

    #[test]
    fn callback_url_wrong_suffix_is_invalid() {
        for url in [
            "https://tpp.example/open-banking/v3.1/event-notification",
            "https://tpp.example/open-banking/v3.1/event-notifications/",
            "https://tpp.example/open-banking/v3.1/event-notifications?x=1",
            "https://tpp.example/open-banking/v3.1/event-notifications#f",
            "https://tpp.example",
        ] {
            let r = create(json!({"Data": {"Version": "3.1", "CallbackUrl": url}})).unwrap_err();
            assert_eq!(seen(&r), (400, INVALID, Some("Data.CallbackUrl")), "{url}");
        }
    }

    #[test]
    fn callback_url_not_a_url_is_invalid() {
        for url in [
            json!("tpp.example/event-notifications"),
            json!("https:///event-notifications"),
            json!("https://user:pw@tpp.example/event-notifications"),
            json!("https://tpp example/event-notifications"),
            json!("https://tpp..example/event-notifications"),
            json!("https://tpp.example:99999/event-notifications"),
            json!("https://tpp.example:/event-notifications"),
            json!("https://tpp.example/%zz/event-notifications"),
            json!("https://tpp.example/é/event-notifications"),
            json!(""),
            json!(7),
            json!(null),
        ] {
            let r = create(json!({"Data": {"Version": "3.1", "CallbackUrl": url}})).unwrap_err();
            assert_eq!(seen(&r), (400, INVALID, Some("Data.CallbackUrl")), "{url}");
        }
    }

    #[test]
    fn callback_url_good_forms_are_accepted() {
        for url in [
            URL,
            "HTTPS://tpp.example:8443/a%20b/v3.1/event-notifications",
            "https://[::1]:8443/event-notifications",
            "https://10.0.0.1/event-notifications",
        ] {
            assert!(
                create(json!({"Data": {"Version": "3.1", "CallbackUrl": url}})).is_ok(),
                "{url}"
            );
        }
    }

    #[test]
    fn event_types_unsupported_is_unsupported_event_type() {
        let r = create(json!({"Data": {"Version": "3.1",
            "EventTypes": ["UK.OBIE.Resource-Update", "UK.OBIE.Nope"]}}))
        .unwrap_err();
        assert_eq!(
            seen(&r),
            (
                400,
                Some("UK.OBIE.Unsupported.EventType"),
                Some("Data.EventTypes[1]")
            )
        );
        // WSO2's internal spelling and other cases are not OB spellings.
        for t in [
            "urn_uk_org_openbanking_events_resource-update",
            "uk.obie.resource-update",
        ] {
            let r = create(json!({"Data": {"Version": "3.1", "EventTypes": [t]}})).unwrap_err();
            assert_eq!(r.kind, ErrorKind::UnsupportedEventType, "{t}");
        }
    }

    #[test]
    fn event_types_not_strings_is_invalid() {
        let r =
            create(json!({"Data": {"Version": "3.1", "EventTypes": "UK.OBIE.Resource-Update"}}))
                .unwrap_err();
        assert_eq!(seen(&r), (400, INVALID, Some("Data.EventTypes")));
        let r = create(json!({"Data": {"Version": "3.1", "EventTypes": [1]}})).unwrap_err();
        assert_eq!(seen(&r), (400, INVALID, Some("Data.EventTypes[0]")));
    }

    #[test]
    fn event_types_both_spellings_of_the_typo_are_accepted_and_kept() {
        for t in [
            "UK.OBIE.Acount-Access-Consent-Linked-Account-Update",
            "UK.OBIE.Account-Access-Consent-Linked-Account-Update",
        ] {
            let input = create(json!({"Data": {"Version": "3.1", "EventTypes": [t]}})).unwrap();
            assert_eq!(input.event_types, Some(vec![t.to_string()]));
            assert_eq!(input.backend_json()["eventTypes"], json!([t]));
            assert_eq!(
                event_type_urn(t),
                Some("urn:uk:org:openbanking:events:account-access-consent-linked-account-update")
            );
        }
    }

    #[test]
    fn every_supported_spelling_is_accepted() {
        for (t, _) in SUPPORTED_EVENT_TYPES {
            assert!(
                create(json!({"Data": {"Version": "3.1", "EventTypes": [t]}})).is_ok(),
                "{t}"
            );
        }
    }

    #[test]
    fn unknown_members_are_refused_by_default() {
        let r = create(json!({"Data": {"Version": "3.1"}, "Risk": {}})).unwrap_err();
        assert_eq!(seen(&r), (400, UNEXPECTED, Some("Risk")));
        let r = create(json!({"Data": {"Version": "3.1", "Url": URL}})).unwrap_err();
        assert_eq!(seen(&r), (400, UNEXPECTED, Some("Data.Url")));
        let r =
            create(json!({"Data": {"Version": "3.1", "EventSubscriptionId": "x"}})).unwrap_err();
        assert_eq!(
            seen(&r),
            (400, UNEXPECTED, Some("Data.EventSubscriptionId"))
        );
    }

    #[test]
    fn unknown_members_are_dropped_under_ignore() {
        let p = SubscriptionPolicy {
            unknown_members: UnknownMembers::Ignore,
            ..policy()
        };
        let body =
            json!({"Data": {"Version": "3.1", "Url": URL, "EventSubscriptionId": "x"}, "Risk": {}});
        let input = parse_create(body.to_string().as_bytes(), &p).unwrap();
        assert_eq!(
            input.backend_json(),
            json!({"version": "3.1", "eventTypes": []})
        );
    }

    #[test]
    fn body_too_large_or_not_json_is_invalid_format() {
        let p = SubscriptionPolicy {
            body_limit_bytes: 10,
            ..policy()
        };
        let r = parse_create(br#"{"Data": {"Version": "3.1"}}"#, &p).unwrap_err();
        assert_eq!(
            seen(&r),
            (400, Some("UK.OBIE.Resource.InvalidFormat"), None)
        );
        let r = parse_create(b"Data=1", &policy()).unwrap_err();
        assert_eq!(r.kind, ErrorKind::InvalidFormat);
    }

    #[test]
    fn a_valid_update_is_accepted_with_links_and_meta() {
        let body = json!({"Data": {"EventSubscriptionId": "sub-1", "Version": "3.1", "CallbackUrl": URL},
                          "Links": {"Self": "https://x/y"}, "Meta": {}});
        let input = update(body, "sub-1").unwrap();
        assert_eq!(
            input.backend_json(),
            json!({"subscriptionId": "sub-1", "callbackUrl": URL, "version": "3.1", "eventTypes": []})
        );
    }

    #[test]
    fn update_id_mismatch_is_invalid() {
        let r = update(
            json!({"Data": {"EventSubscriptionId": "sub-2", "Version": "3.1"}}),
            "sub-1",
        )
        .unwrap_err();
        assert_eq!(seen(&r), (400, INVALID, Some("Data.EventSubscriptionId")));
    }

    #[test]
    fn update_id_missing_is_missing() {
        let r = update(json!({"Data": {"Version": "3.1"}}), "sub-1").unwrap_err();
        assert_eq!(seen(&r), (400, MISSING, Some("Data.EventSubscriptionId")));
    }

    #[test]
    fn update_follows_the_create_rules() {
        let r = update(
            json!({"Data": {"EventSubscriptionId": "s", "Version": "3.1",
            "EventTypes": ["nope"]}}),
            "s",
        )
        .unwrap_err();
        assert_eq!(r.kind, ErrorKind::UnsupportedEventType);
        let r = update(json!({"Data": {"EventSubscriptionId": "s"}}), "s").unwrap_err();
        assert_eq!(seen(&r), (400, MISSING, Some("Data.Version")));
    }

    #[test]
    fn a_malformed_path_id_is_not_found() {
        for id in ["", "a/b", "a b", "%41", &"x".repeat(41), "é"] {
            assert_eq!(
                check_subscription_id(id),
                Err(subscription_not_found()),
                "{id:?}"
            );
            let r = update(
                json!({"Data": {"EventSubscriptionId": id, "Version": "3.1"}}),
                id,
            )
            .unwrap_err();
            assert_eq!(seen(&r), (400, NOT_FOUND, Some("EventSubscriptionId")));
        }
        assert!(check_subscription_id("0b1e7c1e-5c1f-4f43-9c49-5a1a0c1e2d3f").is_ok());
        assert!(check_subscription_id("CB-101").is_ok());
    }

    fn backend_sub() -> &'static [u8] {
        br#"{"subscriptionId":"sub-1","callbackUrl":"https://tpp.example/open-banking/v3.1/event-notifications","version":"3.1","eventTypes":["UK.OBIE.Resource-Update"],"test":"updatedValue"}"#
    }

    #[test]
    fn backend_create_answer_becomes_ob_201() {
        let s = parse_backend_subscription(201, backend_sub()).unwrap();
        let reply = subscription_reply(&s, 201, BASE, &iid());
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("x-fapi-interaction-id"), Some(iid().as_str()));
        assert_eq!(
            body_of(&reply),
            json!({"Data": {"EventSubscriptionId": "sub-1", "CallbackUrl": URL, "Version": "3.1",
                            "EventTypes": ["UK.OBIE.Resource-Update"]},
                   "Links": {"Self": "https://api.bank.example/open-banking/v3.1/event-subscriptions/sub-1"},
                   "Meta": {}})
        );
    }

    #[test]
    fn backend_update_answer_becomes_ob_200() {
        let s = parse_backend_subscription(
            200,
            br#"{"subscriptionId":"sub-1","version":"3.1","eventTypes":[]}"#,
        )
        .unwrap();
        let body = body_of(&subscription_reply(&s, 200, BASE, &iid()));
        assert_eq!(
            body["Data"],
            json!({"EventSubscriptionId": "sub-1", "Version": "3.1"})
        );
    }

    #[test]
    fn backend_list_answer_becomes_ob_list() {
        let body = format!("[{}]", std::str::from_utf8(backend_sub()).unwrap());
        let subs = parse_backend_subscriptions(200, body.as_bytes()).unwrap();
        let reply = subscriptions_reply(&subs, BASE, &iid());
        assert_eq!(reply.status, 200);
        let v = body_of(&reply);
        assert_eq!(
            v["Data"]["EventSubscription"][0]["EventSubscriptionId"],
            "sub-1"
        );
        assert_eq!(
            v["Links"]["Self"],
            "https://api.bank.example/open-banking/v3.1/event-subscriptions"
        );
        assert_eq!(v["Meta"], json!({}));
        let empty = subscriptions_reply(
            &parse_backend_subscriptions(200, b"[]").unwrap(),
            BASE,
            &iid(),
        );
        assert_eq!(body_of(&empty)["Data"], json!({"EventSubscription": []}));
    }

    #[test]
    fn backend_delete_answer_becomes_204() {
        parse_backend_delete(204, b"").unwrap();
        let reply = deleted_reply(&iid());
        assert_eq!((reply.status, reply.body.is_none()), (204, true));
        assert_eq!(reply.header("x-fapi-interaction-id"), Some(iid().as_str()));
    }

    #[test]
    fn backend_409_is_resource_already_exists() {
        let body = br#"{"error":"invalid_request","error_description":"Subscription Resource already exists for the client"}"#;
        let r = parse_backend_subscription(409, body).unwrap_err();
        assert_eq!(
            seen(&r),
            (409, Some("UK.OBIE.Rules.ResourceAlreadyExists"), None)
        );
    }

    #[test]
    fn backend_not_found_is_resource_not_found() {
        let wso2 =
            br#"{"error":"invalid_request","error_description":"Event subscription not found."}"#;
        assert_eq!(
            parse_backend_subscription(400, wso2).unwrap_err(),
            subscription_not_found()
        );
        assert_eq!(
            parse_backend_delete(400, wso2).unwrap_err(),
            subscription_not_found()
        );
        assert_eq!(
            parse_backend_subscription(404, wso2).unwrap_err(),
            subscription_not_found()
        );
        let r = subscription_not_found();
        assert_eq!(seen(&r), (400, NOT_FOUND, Some("EventSubscriptionId")));
    }

    #[test]
    fn another_clients_id_is_refused_identically() {
        let unknown =
            br#"{"error":"invalid_request","error_description":"Event subscription not found."}"#;
        let other = br#"{"error":"invalid_request","error_description":"Client Id in the request does not match with the client Id associated to the event subscription"}"#;
        let a = parse_backend_subscription(400, unknown).unwrap_err();
        let b = parse_backend_subscription(400, other).unwrap_err();
        assert_eq!(a, b);
        assert_eq!(parse_backend_delete(400, other).unwrap_err(), a);
        assert_eq!(reply::refusal(&a, &iid()), reply::refusal(&b, &iid()));
        // A malformed id is refused the same way too.
        assert_eq!(check_subscription_id("a/b").unwrap_err(), a);
    }

    #[test]
    fn backend_404_for_a_wrong_path_is_502() {
        let r = parse_backend_subscriptions(
            404,
            br#"{"error":"invalid_request","error_description":"No such resource"}"#,
        )
        .unwrap_err();
        assert_eq!(r.kind, ErrorKind::BackendBadAnswer);
    }

    #[test]
    fn backend_failures_are_5xx() {
        assert_eq!(
            parse_backend_subscriptions(503, b"").unwrap_err().kind,
            ErrorKind::BackendUnavailable
        );
        assert_eq!(
            parse_backend_subscription(504, b"").unwrap_err().kind,
            ErrorKind::BackendTimeout
        );
        assert_eq!(
            parse_backend_delete(401, b"").unwrap_err().kind,
            ErrorKind::BackendBadAnswer
        );
        assert_eq!(
            parse_backend_subscription(500, b"").unwrap_err().kind,
            ErrorKind::BackendUnavailable
        );
    }

    #[test]
    fn backend_garbage_is_502() {
        for body in [
            &b"<html>"[..],
            br#"{}"#,
            br#"{"subscriptionId":"s"}"#,
            br#"{"subscriptionId":"s","version":""}"#,
            br#"{"subscriptionId":"s","version":"12345678901"}"#,
            br#"{"subscriptionId":"","version":"3.1"}"#,
            br#"{"subscriptionId":7,"version":"3.1"}"#,
            br#"{"subscriptionId":"s","version":"3.1","eventTypes":"x"}"#,
            br#"{"subscriptionId":"s","version":"3.1","callbackUrl":7}"#,
        ] {
            let r = parse_backend_subscription(201, body).unwrap_err();
            assert_eq!(r.kind, ErrorKind::BackendBadAnswer, "{body:?}");
        }
        let r = parse_backend_subscriptions(200, br#"{"subscriptions":[]}"#).unwrap_err();
        assert_eq!(r.kind, ErrorKind::BackendBadAnswer);
        let r = parse_backend_subscriptions(200, br#"[{"subscriptionId":"s"}]"#).unwrap_err();
        assert_eq!(r.kind, ErrorKind::BackendBadAnswer);
    }

    #[test]
    fn round_trip_create_to_backend_and_back_keeps_the_tpp_spelling() {
        let input = create(json!({"Data": {"Version": "3.1", "CallbackUrl": URL,
            "EventTypes": ["UK.OBIE.Acount-Access-Consent-Linked-Account-Update"]}}))
        .unwrap();
        // What an echoing backend answers.
        let mut stored = input.backend_json();
        stored["subscriptionId"] = json!("abc");
        let s = parse_backend_subscription(201, stored.to_string().as_bytes()).unwrap();
        let body = body_of(&subscription_reply(&s, 201, BASE, &iid()));
        assert_eq!(
            body["Data"],
            json!({"EventSubscriptionId": "abc", "CallbackUrl": URL, "Version": "3.1",
                   "EventTypes": ["UK.OBIE.Acount-Access-Consent-Linked-Account-Update"]})
        );
    }

    #[test]
    fn api_base_drops_hostile_authority_characters() {
        assert_eq!(
            api_base("bank.example:8443", "/open-banking/v3.1/"),
            "https://bank.example:8443/open-banking/v3.1"
        );
        assert_eq!(
            api_base("evil.example/x?y\r\n", "/b"),
            "https://evil.examplexy/b"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn bodies_match_the_v3_1_2_openapi() {
        use crate::backend::openapi_check::{check, load};
        let doc = load("event-subscriptions-openapi.json");
        let full = parse_backend_subscription(201, backend_sub()).unwrap();
        let minimal =
            parse_backend_subscription(201, br#"{"subscriptionId":"m","version":"3.1"}"#).unwrap();
        for s in [&full, &minimal] {
            let body = body_of(&subscription_reply(s, 201, BASE, &iid()));
            assert_eq!(
                check(&doc, "OBEventSubscriptionResponse1", &body),
                Vec::<String>::new()
            );
            for member in ["Data", "Links", "Meta"] {
                assert!(body.get(member).is_some(), "{member} missing");
            }
        }
        for list in [vec![full.clone(), minimal.clone()], vec![]] {
            let body = body_of(&subscriptions_reply(&list, BASE, &iid()));
            assert_eq!(
                check(&doc, "OBEventSubscriptionsResponse1", &body),
                Vec::<String>::new()
            );
        }
        // The request examples the tests use are valid OB requests.
        let create_body = json!({"Data": {"CallbackUrl": URL, "Version": "3.1", "EventTypes": ["UK.OBIE.Resource-Update"]}});
        assert_eq!(
            check(&doc, "OBEventSubscription1", &create_body),
            Vec::<String>::new()
        );
        let update_body = body_of(&subscription_reply(&full, 200, BASE, &iid()));
        let input = parse_update(update_body.to_string().as_bytes(), "sub-1", &policy()).unwrap();
        assert_eq!(input.subscription_id.as_deref(), Some("sub-1"));
        // Refusal bodies are valid OBErrorResponse1.
        for r in [
            subscription_not_found(),
            create(json!({"Data": {}})).unwrap_err(),
            create(json!({"Data": {"Version": "3.1", "EventTypes": ["x"]}})).unwrap_err(),
            parse_backend_subscription(409, b"").unwrap_err(),
        ] {
            let body = body_of(&reply::refusal(&r, &iid()));
            assert_eq!(check(&doc, "OBErrorResponse1", &body), Vec::<String>::new());
        }
    }
}
