//! `/subscription`: event subscriptions, one per client, visible and changeable only by their client.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::{json_response, AppState};
use crate::errors::ApiError;
use crate::request::{self, JSON};
use crate::storage::{now_ms, CreateOutcome, Subscription};

const CALLBACK_SUFFIX: &str = "/event-notifications";
const MAX_CALLBACK_LEN: usize = 1024;
const MAX_VERSION_LEN: usize = 10;

/// A create or update body, checked.
#[derive(Debug, PartialEq, Eq)]
pub struct SubscriptionInput {
    pub callback_url: Option<String>,
    pub version: String,
    pub event_types: Option<Vec<String>>,
    pub subscription_id: Option<String>,
}

/// Checks `{callbackUrl?, version, eventTypes?, subscriptionId?}`; other members are ignored.
pub fn parse_subscription(
    value: &serde_json::Value,
    supported: &[String],
) -> Result<SubscriptionInput, ApiError> {
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid_payload(
            "the request must be a JSON object",
        ));
    };
    let callback_url = match object.get("callbackUrl") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(url)) => {
            check_callback_url(url)?;
            Some(url.clone())
        }
        Some(_) => return Err(ApiError::invalid_payload("callbackUrl must be a string")),
    };
    let version = match object.get("version") {
        Some(serde_json::Value::String(v)) => v.clone(),
        None | Some(serde_json::Value::Null) => {
            return Err(ApiError::invalid_request("version is required"))
        }
        Some(_) => return Err(ApiError::invalid_payload("version must be a string")),
    };
    if version.trim().is_empty() || version.chars().count() > MAX_VERSION_LEN {
        return Err(ApiError::invalid_request(format!(
            "version must be 1 to {MAX_VERSION_LEN} characters"
        )));
    }
    let event_types = match object.get("eventTypes") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(items)) => {
            let mut types: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let Some(t) = item.as_str() else {
                    return Err(ApiError::invalid_payload(
                        "eventTypes must be an array of strings",
                    ));
                };
                if !supported.iter().any(|s| s == t) {
                    return Err(ApiError::invalid_request(format!(
                        "Unsupported event type: {t}"
                    )));
                }
                if !types.iter().any(|x| x == t) {
                    types.push(t.to_owned());
                }
            }
            Some(types)
        }
        Some(_) => {
            return Err(ApiError::invalid_payload(
                "eventTypes must be an array of strings",
            ))
        }
    };
    let subscription_id = match object.get("subscriptionId") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(ApiError::invalid_payload("subscriptionId must be a string")),
    };
    Ok(SubscriptionInput {
        callback_url,
        version,
        event_types,
        subscription_id,
    })
}

/// `https://host[:port]/…/event-notifications`, no fragment, no whitespace or control characters.
fn check_callback_url(url: &str) -> Result<(), ApiError> {
    let invalid = |why: &str| Err(ApiError::invalid_request(format!("callbackUrl {why}")));
    if url.len() > MAX_CALLBACK_LEN {
        return invalid(&format!("must be at most {MAX_CALLBACK_LEN} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains('#') {
        return invalid("must be a valid URL without spaces or fragment");
    }
    let Some(rest) = url
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
    else {
        return invalid("must be an https URL");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return invalid("must name a host");
    }
    let path = path.split('?').next().unwrap_or("");
    if !path.ends_with(CALLBACK_SUFFIX) {
        return invalid("must end with /event-notifications");
    }
    Ok(())
}

/// `UK.OBIE.Resource-Update`, `urn:uk:org:openbanking:events:resource-update` and WSO2's
/// `urn_uk_org_openbanking_events_resource-update` all name `resource-update`; the v3.1.2 misspelling `Acount`
/// names the same type as `Account`.
pub fn canonical_event_type(t: &str) -> String {
    let lower = t.trim().to_ascii_lowercase();
    let name = [
        "uk.obie.",
        "urn:uk:org:openbanking:events:",
        "urn_uk_org_openbanking_events_",
    ]
    .iter()
    .find_map(|p| lower.strip_prefix(p))
    .unwrap_or(&lower);
    match name.strip_prefix("acount-") {
        Some(rest) => format!("account-{rest}"),
        None => name.to_owned(),
    }
}

fn to_json(s: &Subscription) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("subscriptionId".into(), s.id.clone().into());
    if let Some(url) = &s.callback_url {
        out.insert("callbackUrl".into(), url.clone().into());
    }
    out.insert("version".into(), s.version.clone().into());
    if let Some(types) = &s.event_types {
        out.insert("eventTypes".into(), types.clone().into());
    }
    serde_json::Value::Object(out)
}

fn reply(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| e.into_response())
}

/// The path parameter, or a WSO2-shaped 400 when it is not valid UTF-8 after percent-decoding.
fn path_param(param: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    param
        .map(|Path(p)| p)
        .map_err(|_| ApiError::invalid_request("Invalid path parameter"))
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("Error occurred while accessing event subscriptions", &e)
}

async fn json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, serde_json::Value), ApiError> {
    request::require_content_type(headers, JSON)?;
    let body = request::read_body(headers, body, state.config.max_body_bytes).await?;
    let client_id = request::client_id(headers)?;
    let value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::invalid_payload("the body is not valid JSON"))?;
    Ok((client_id, value))
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    reply(
        async {
            let (client_id, value) = json_body(&state, &headers, body).await?;
            let input = parse_subscription(&value, &state.config.subscriptions.event_types)?;
            let subscription = Subscription {
                id: uuid::Uuid::new_v4().to_string(),
                client_id,
                callback_url: input.callback_url,
                version: input.version,
                event_types: input.event_types,
            };
            match state
                .storage
                .create_subscription(&subscription, now_ms())
                .await
                .map_err(db_error)?
            {
                CreateOutcome::Created => {
                    tracing::info!(client_id = %subscription.client_id, subscription_id = %subscription.id, "subscription created");
                    Ok(json_response(
                        StatusCode::CREATED,
                        to_json(&subscription).to_string(),
                    ))
                }
                CreateOutcome::Conflict => Err(ApiError::subscription_exists()),
            }
        }
        .await,
    )
}

pub async fn read(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let id = path_param(id)?;
            let client_id = request::client_id(&headers)?;
            match state
                .storage
                .get_subscription(&client_id, &id)
                .await
                .map_err(db_error)?
            {
                Some(s) => Ok(json_response(StatusCode::OK, to_json(&s).to_string())),
                None => Err(ApiError::subscription_not_found()),
            }
        }
        .await,
    )
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let client_id = request::client_id(&headers)?;
            let all = state
                .storage
                .list_subscriptions(&client_id)
                .await
                .map_err(db_error)?;
            let list: Vec<serde_json::Value> = all.iter().map(to_json).collect();
            Ok(json_response(
                StatusCode::OK,
                serde_json::Value::from(list).to_string(),
            ))
        }
        .await,
    )
}

/// The caller's subscriptions that cover `event_type` (one that lists no event types covers all).
pub async fn list_by_type(
    State(state): State<AppState>,
    event_type: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let event_type = path_param(event_type)?;
            let client_id = request::client_id(&headers)?;
            let wanted = canonical_event_type(&event_type);
            let all = state
                .storage
                .list_subscriptions(&client_id)
                .await
                .map_err(db_error)?;
            let list: Vec<serde_json::Value> = all
                .iter()
                .filter(|s| match &s.event_types {
                    None => true,
                    Some(types) if types.is_empty() => true,
                    Some(types) => types.iter().any(|t| canonical_event_type(t) == wanted),
                })
                .map(to_json)
                .collect();
            Ok(json_response(
                StatusCode::OK,
                serde_json::Value::from(list).to_string(),
            ))
        }
        .await,
    )
}

pub async fn update(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    reply(
        async {
            let id = path_param(id)?;
            let (client_id, value) = json_body(&state, &headers, body).await?;
            let input = parse_subscription(&value, &state.config.subscriptions.event_types)?;
            if input.subscription_id.as_deref().is_some_and(|b| b != id) {
                return Err(ApiError::invalid_request(
                    "subscriptionId in the body does not match the path",
                ));
            }
            let subscription = Subscription {
                id,
                client_id,
                callback_url: input.callback_url,
                version: input.version,
                event_types: input.event_types,
            };
            if state
                .storage
                .update_subscription(&subscription, now_ms())
                .await
                .map_err(db_error)?
            {
                tracing::info!(client_id = %subscription.client_id, subscription_id = %subscription.id, "subscription updated");
                Ok(json_response(StatusCode::OK, to_json(&subscription).to_string()))
            } else {
                Err(ApiError::subscription_not_found())
            }
        }
        .await,
    )
}

pub async fn delete(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let id = path_param(id)?;
            let client_id = request::client_id(&headers)?;
            if state
                .storage
                .delete_subscription(&client_id, &id)
                .await
                .map_err(db_error)?
            {
                tracing::info!(%client_id, subscription_id = %id, "subscription deleted");
                Ok(StatusCode::NO_CONTENT.into_response())
            } else {
                Err(ApiError::subscription_not_found())
            }
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn supported() -> Vec<String> {
        crate::config::DEFAULT_EVENT_TYPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn callback_urls() {
        assert!(
            check_callback_url("https://tpp.example/open-banking/v3.1/event-notifications").is_ok()
        );
        assert!(check_callback_url("HTTPS://tpp.example:8443/x/event-notifications?a=b").is_ok());
        for bad in [
            "http://tpp.example/event-notifications",
            "https:///event-notifications",
            "https://tpp.example/event-notification",
            "https://tpp.example/event-notifications/",
            "https://tpp.example/a b/event-notifications",
            "https://tpp.example/event-notifications#x",
            "tpp.example/event-notifications",
        ] {
            assert!(check_callback_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_spellings_of_linked_account_update_are_supported() {
        for t in [
            "UK.OBIE.Acount-Access-Consent-Linked-Account-Update",
            "UK.OBIE.Account-Access-Consent-Linked-Account-Update",
        ] {
            let v = json!({"version": "3.1", "eventTypes": [t]});
            assert!(parse_subscription(&v, &supported()).is_ok(), "{t}");
        }
        assert_eq!(
            canonical_event_type("UK.OBIE.Acount-Access-Consent-Linked-Account-Update"),
            canonical_event_type(
                "urn:uk:org:openbanking:events:account-access-consent-linked-account-update"
            )
        );
    }

    #[test]
    fn version_and_types_are_checked() {
        assert!(parse_subscription(&json!({}), &supported()).is_err());
        assert!(parse_subscription(&json!({"version": ""}), &supported()).is_err());
        assert!(parse_subscription(&json!({"version": "12345678901"}), &supported()).is_err());
        assert!(parse_subscription(
            &json!({"version": "3.1", "eventTypes": ["UK.OBIE.Nope"]}),
            &supported()
        )
        .is_err());
        assert!(
            parse_subscription(&json!({"version": "3.1", "eventTypes": "x"}), &supported())
                .is_err()
        );
    }
}
