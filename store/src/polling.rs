//! `POST /events`: aggregated polling (OBIE v3.1.2, RFC 8936) — acknowledge, report errors, fetch.
//!
//! The acks, the setErrs and the read of the next page happen in one transaction (see `storage`); the page
//! is signed after the commit. Every SET returned stays OPEN until the client acknowledges it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::{json_response, AppState};
use crate::errors::ApiError;
use crate::request::{self, FormProblem, FORM};
use crate::sets::{SetContent, SetSigner};
use crate::storage::{now_ms, Notification, PollRequest, SetError};

/// An `OBEventPolling1` request, checked.
#[derive(Debug, Default, PartialEq)]
pub struct PollingInput {
    pub max_events: Option<u32>,
    pub return_immediately: Option<bool>,
    pub ack: Vec<String>,
    pub set_errs: Vec<SetError>,
}

impl PartialEq for SetError {
    fn eq(&self, other: &Self) -> bool {
        self.jti == other.jti && self.err == other.err && self.description == other.description
    }
}

fn text(value: &serde_json::Value, max: usize) -> Option<&str> {
    value
        .as_str()
        .filter(|s| !s.is_empty() && s.chars().count() <= max)
}

/// Checks the decoded JSON against `OBEventPolling1`: `maxEvents` a non-negative integer, `returnImmediately`
/// a boolean, `ack` an array of 1–128 character strings, `setErrs` an object of `{err (1–40), description
/// (1–256)}`. Other members are ignored, as v3.1.2 allows.
pub fn parse_polling(value: &serde_json::Value) -> Result<PollingInput, ApiError> {
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid_payload(
            "the request must be a JSON object",
        ));
    };
    let mut input = PollingInput::default();
    match object.get("maxEvents") {
        None | Some(serde_json::Value::Null) => {}
        Some(v) => {
            let n = v.as_u64().ok_or_else(|| {
                ApiError::invalid_payload("maxEvents must be a non-negative integer")
            })?;
            input.max_events = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }
    match object.get("returnImmediately") {
        None | Some(serde_json::Value::Null) => {}
        Some(v) => {
            input.return_immediately =
                Some(v.as_bool().ok_or_else(|| {
                    ApiError::invalid_payload("returnImmediately must be a boolean")
                })?);
        }
    }
    match object.get("ack") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(items)) => {
            for item in items {
                let jti = text(item, 128).ok_or_else(|| {
                    ApiError::invalid_payload("ack must be an array of 1 to 128 character strings")
                })?;
                input.ack.push(jti.to_owned());
            }
        }
        Some(_) => return Err(ApiError::invalid_payload("ack must be an array of strings")),
    }
    match object.get("setErrs") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(errs)) => {
            for (jti, detail) in errs {
                if jti.is_empty() || jti.chars().count() > 128 {
                    return Err(ApiError::invalid_payload(
                        "setErrs keys must be 1 to 128 character jti values",
                    ));
                }
                let err = detail.get("err").and_then(|v| text(v, 40));
                let description = detail.get("description").and_then(|v| text(v, 256));
                let (Some(err), Some(description), true) = (err, description, detail.is_object())
                else {
                    return Err(ApiError::invalid_payload(
                        "each setErrs entry needs err (1 to 40 characters) and description (1 to 256 characters)",
                    ));
                };
                input.set_errs.push(SetError {
                    jti: jti.clone(),
                    err: err.to_owned(),
                    description: description.to_owned(),
                });
            }
        }
        Some(_) => return Err(ApiError::invalid_payload("setErrs must be an object")),
    }
    Ok(input)
}

pub async fn poll(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match handle(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    request::require_content_type(headers, FORM)?;
    let body = request::read_body(headers, body, state.config.max_body_bytes).await?;
    // WSO2's order: the client header is checked before the payload.
    let client_id = request::client_id(headers)?;
    let field = match request::request_field(&body)? {
        Ok(field) => field,
        Err(FormProblem::Missing) => return Err(ApiError::missing_payload()),
        Err(FormProblem::Blank) => return Err(ApiError::empty_payload()),
    };
    let input = parse_polling(&request::decode_request(&field)?)?;

    let polling = state.config.polling;
    let limit = input
        .max_events
        .unwrap_or(polling.default_max_events)
        .min(polling.max_events);
    let mut now = now_ms();
    let mut outcome = state
        .storage
        .poll(&PollRequest {
            client_id: &client_id,
            acks: &input.ack,
            errors: &input.set_errs,
            limit,
            now_ms: now,
        })
        .await
        .map_err(|e| ApiError::internal("Error when retrieving event notifications", &e))?;

    let wait = polling.long_poll_max_wait_secs;
    if outcome.page.is_empty() && limit > 0 && wait > 0 && input.return_immediately == Some(false) {
        if let Some((later, at)) = long_poll(state, &client_id, limit, wait).await? {
            // The acks were applied by the first transaction; keep what it reported.
            outcome.page = later.page;
            outcome.more_available = later.more_available;
            now = at;
        }
    }

    if !outcome.ignored_acks.is_empty() || !outcome.ignored_errors.is_empty() {
        tracing::warn!(
            %client_id,
            ignored_acks = ?outcome.ignored_acks,
            ignored_set_errs = ?outcome.ignored_errors,
            "poll named jtis that are unknown or belong to another client; ignored"
        );
    }
    let page_len = outcome.page.len();
    let sets = sign_page(
        state.signer.clone(),
        client_id.clone(),
        outcome.page,
        now / 1000,
    )
    .await
    .map_err(|e| ApiError::internal("Error when signing event notifications", &e))?;

    tracing::info!(
        %client_id,
        acked = outcome.acked,
        errored = outcome.errored,
        delivered = page_len,
        more_available = outcome.more_available,
        "poll"
    );
    Ok(json_response(
        StatusCode::OK,
        polling_response(&sets, outcome.more_available),
    ))
}

/// Long polling (opt-in): waits until a notification is published on this instance (woken at once) or up to one
/// second passes (to see notifications published through other instances), then reads the page again, until
/// something arrives, `wait_secs` pass, or shutdown starts. Returns the first non-empty page.
async fn long_poll(
    state: &AppState,
    client_id: &str,
    limit: u32,
    wait_secs: u64,
) -> Result<Option<(crate::storage::PollOutcome, i64)>, ApiError> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait_secs);
    let mut published = state.published.subscribe();
    let mut stopping = state.stopping.clone();
    tracing::info!(%client_id, wait_secs, "long poll: waiting for a notification");
    loop {
        if *stopping.borrow() {
            return Ok(None);
        }
        let tick = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        tokio::select! {
            _ = published.changed() => {}
            _ = stopping.changed() => return Ok(None),
            _ = tokio::time::sleep_until(tick.min(deadline)) => {}
        }
        let now = now_ms();
        let outcome = state
            .storage
            .poll(&PollRequest {
                client_id,
                acks: &[],
                errors: &[],
                limit,
                now_ms: now,
            })
            .await
            .map_err(|e| ApiError::internal("Error when retrieving event notifications", &e))?;
        if !outcome.page.is_empty() {
            return Ok(Some((outcome, now)));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
    }
}

/// Signs each notification of the page, off the async threads.
async fn sign_page(
    signer: Arc<SetSigner>,
    client_id: String,
    page: Vec<Notification>,
    now_secs: i64,
) -> Result<Vec<(String, String)>, String> {
    tokio::task::spawn_blocking(move || {
        page.iter()
            .map(|n| {
                let events: serde_json::Value =
                    serde_json::from_str(&n.events_json).map_err(|e| e.to_string())?;
                let jws = signer.sign(
                    &SetContent {
                        jti: &n.id,
                        client_id: &client_id,
                        subject: &n.resource_id,
                        txn: &n.txn,
                        toe: n.created_at_ms / 1000,
                        events: &events,
                    },
                    now_secs,
                )?;
                Ok((n.id.clone(), jws))
            })
            .collect()
    })
    .await
    .map_err(|e| e.to_string())?
}

/// `{"sets":{jti: SET, …},"moreAvailable":bool}`, the SETs in delivery order (oldest first).
fn polling_response(sets: &[(String, String)], more_available: bool) -> String {
    let mut out = String::from("{\"sets\":{");
    for (i, (jti, jws)) in sets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(jti.as_str()).to_string());
        out.push(':');
        out.push_str(&serde_json::Value::from(jws.as_str()).to_string());
    }
    out.push_str("},\"moreAvailable\":");
    out.push_str(if more_available { "true" } else { "false" });
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_object_is_a_default_poll() {
        assert_eq!(
            parse_polling(&json!({})).ok(),
            Some(PollingInput::default())
        );
    }

    #[test]
    fn full_request_parses() {
        let input = parse_polling(&json!({
            "returnImmediately": true, "maxEvents": 3, "ack": ["a"],
            "setErrs": {"b": {"err": "jwtIss", "description": "bad issuer"}}
        }))
        .expect("valid");
        assert_eq!(input.max_events, Some(3));
        assert_eq!(input.ack, vec!["a".to_owned()]);
        assert_eq!(input.set_errs.len(), 1);
    }

    #[test]
    fn wrong_types_are_refused() {
        for bad in [
            json!([]),
            json!({"maxEvents": -1}),
            json!({"maxEvents": "3"}),
            json!({"maxEvents": 1.5}),
            json!({"returnImmediately": "yes"}),
            json!({"ack": "a"}),
            json!({"ack": [1]}),
            json!({"ack": [""]}),
            json!({"setErrs": []}),
            json!({"setErrs": {"a": "x"}}),
            json!({"setErrs": {"a": {"err": "x"}}}),
            json!({"setErrs": {"a": {"err": "x".repeat(41), "description": "d"}}}),
        ] {
            assert!(parse_polling(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn response_keeps_order() {
        let body = polling_response(&[("b".into(), "x".into()), ("a".into(), "y".into())], true);
        assert_eq!(body, r#"{"sets":{"b":"x","a":"y"},"moreAvailable":true}"#);
        assert_eq!(
            polling_response(&[], false),
            r#"{"sets":{},"moreAvailable":false}"#
        );
    }
}
