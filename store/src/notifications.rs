//! `POST /create-events`: a bank system publishes a notification (one or more events) for a client.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::{json_response, AppState};
use crate::errors::ApiError;
use crate::request::{self, FormProblem, FORM, RESOURCE_ID_HEADER};
use crate::storage::{now_ms, NewNotification};

/// Characters WSO2 refuses in `x-wso2-resource-id` (`EventCreationEndpoint`, L55).
const FORBIDDEN_RESOURCE_CHARS: &str = "!@#$%&*()'+,./:;<=>?[]^_`{|}";

/// Longest event-type key, as WSO2's `EVENT_TYPE varchar(200)`.
const MAX_EVENT_TYPE_LEN: usize = 200;

/// The optional header whose value, when present, becomes the SET's `txn`.
const INTERACTION_ID_HEADER: &str = "x-fapi-interaction-id";

pub async fn create_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match create(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn create(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    request::require_content_type(headers, FORM)?;
    let body = request::read_body(headers, body, state.config.max_body_bytes).await?;
    // WSO2's order: the payload is checked before the headers.
    let field = match request::request_field(&body)? {
        Ok(field) => field,
        Err(FormProblem::Missing) => return Err(ApiError::missing_payload()),
        Err(FormProblem::Blank) => return Err(ApiError::empty_payload()),
    };
    let client_id = request::client_id(headers)?;
    let resource_id = resource_id(headers)?;
    let txn = match headers.get(INTERACTION_ID_HEADER) {
        Some(v) => {
            let text = v.to_str().unwrap_or("").trim();
            if text.is_empty() || text.len() > 128 || !text.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::invalid_header(
                    "Invalid x-fapi-interaction-id: 1 to 128 visible ASCII characters expected",
                ));
            }
            text.to_owned()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let events = validate_events(request::decode_request(&field)?)?;

    let id = uuid::Uuid::new_v4().to_string();
    let events_json = events.to_string();
    state
        .storage
        .insert_notification(&NewNotification {
            id: &id,
            client_id: &client_id,
            resource_id: &resource_id,
            txn: &txn,
            events_json: &events_json,
            now_ms: now_ms(),
        })
        .await
        .map_err(|e| ApiError::internal("FS Event Notification Creation error", &e))?;
    state.published.send_modify(|n| *n = n.wrapping_add(1));
    tracing::info!(notification_id = %id, %client_id, %resource_id, event_types = ?events.as_object().map(|o| o.keys().collect::<Vec<_>>()), "notification created");
    Ok(json_response(
        StatusCode::CREATED,
        serde_json::json!({ "notificationsID": id }).to_string(),
    ))
}

fn resource_id(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = request::header_text(headers, RESOURCE_ID_HEADER)?;
    if value.len() > 255
        || value
            .chars()
            .any(|c| FORBIDDEN_RESOURCE_CHARS.contains(c) || !c.is_ascii_graphic())
    {
        return Err(ApiError::invalid_header(
            "Invalid characters found in the request headers",
        ));
    }
    Ok(value)
}

/// `{eventType: {info…}, …}`: a non-empty object whose keys are 1–200 characters and whose values are objects.
fn validate_events(value: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let Some(events) = value.as_object() else {
        return Err(ApiError::invalid_payload(
            "the request must be a JSON object of {eventType: eventInformation}",
        ));
    };
    if events.is_empty() {
        return Err(ApiError::invalid_payload(
            "the request must contain at least one event",
        ));
    }
    for (event_type, info) in events {
        if event_type.trim().is_empty() || event_type.chars().count() > MAX_EVENT_TYPE_LEN {
            return Err(ApiError::invalid_payload(format!(
                "event types must be 1 to {MAX_EVENT_TYPE_LEN} characters"
            )));
        }
        if !info.is_object() {
            return Err(ApiError::invalid_payload(format!(
                "the information of event {event_type} must be a JSON object"
            )));
        }
    }
    Ok(value)
}
