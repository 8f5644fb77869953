//! Local replies: what the adapter hands to `send_http_response`. Refusals are rendered here, in one place,
//! from the errors table.

use crate::errors::{reason_phrase, Refusal};
use crate::interaction::{self, InteractionId};
use serde::Serialize;

/// A complete answer produced by the filter itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl LocalReply {
    /// A JSON answer with the interaction id set.
    pub fn json(status: u16, body: Vec<u8>, id: &InteractionId) -> Self {
        LocalReply {
            status,
            headers: vec![
                (interaction::HEADER.to_string(), id.to_string()),
                (
                    "content-type".to_string(),
                    "application/json; charset=utf-8".to_string(),
                ),
            ],
            body: Some(body),
        }
    }

    /// An answer without a body (204, 401, 404, …) with the interaction id set.
    pub fn empty(status: u16, id: &InteractionId) -> Self {
        LocalReply {
            status,
            headers: vec![(interaction::HEADER.to_string(), id.to_string())],
            body: None,
        }
    }

    /// The value of a header of this reply, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `OBErrorResponse1` (v3.1.2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ObErrorResponse<'a> {
    code: String,
    id: &'a str,
    message: &'a str,
    errors: [ObError<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ObError<'a> {
    error_code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
}

/// Render a refusal as the local reply the TPP receives: status from the errors table, the interaction id,
/// the refusal's extra headers, and an `OBErrorResponse1` body where OB calls for one.
pub fn refusal(refusal: &Refusal, id: &InteractionId) -> LocalReply {
    let spec = refusal.spec();
    let mut reply = match spec.ob_code {
        Some(code) => {
            let message = truncate(&refusal.message, 500);
            let body = ObErrorResponse {
                code: format!("{} {}", spec.status, reason_phrase(spec.status)),
                id: id.as_str(),
                message: &message,
                errors: [ObError {
                    error_code: code,
                    message: &message,
                    path: refusal.path.as_deref(),
                }],
            };
            // Serialising these plain strings cannot fail; should it, the status still tells the story.
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            LocalReply::json(spec.status, bytes, id)
        }
        None => LocalReply::empty(spec.status, id),
    };
    reply.headers.extend(refusal.headers.iter().cloned());
    reply
}

/// OB text fields are bounded (Max500Text); cut on a character boundary.
fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorKind;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn id() -> InteractionId {
        InteractionId::new_v4([7; 16])
    }

    #[test]
    fn ob_error_body_has_the_v3_1_2_shape() {
        let r = Refusal::new(
            ErrorKind::ConfigurationInvalid,
            "The gateway is misconfigured",
        )
        .at("configuration");
        let reply = refusal(&r, &id());
        assert_eq!(reply.status, 500);
        assert_eq!(reply.header("x-fapi-interaction-id"), Some(id().as_str()));
        assert_eq!(
            reply.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let body: serde_json::Value =
            serde_json::from_slice(reply.body.as_deref().unwrap_or_default()).unwrap_or_default();
        assert_eq!(body["Code"], "500 InternalServerError");
        assert_eq!(body["Id"], id().as_str());
        assert_eq!(body["Message"], "The gateway is misconfigured");
        assert_eq!(body["Errors"][0]["ErrorCode"], "UK.OBIE.UnexpectedError");
        assert_eq!(body["Errors"][0]["Path"], "configuration");
        assert_eq!(body.as_object().map(|o| o.len()), Some(4));
    }

    #[test]
    fn bodyless_statuses_have_no_body_but_keep_the_interaction_id() {
        let r = Refusal::new(ErrorKind::MethodNotAllowed, "no").with_header("allow", "GET, POST");
        let reply = refusal(&r, &id());
        assert_eq!(reply.status, 405);
        assert_eq!(reply.body, None);
        assert_eq!(reply.header("allow"), Some("GET, POST"));
        assert_eq!(reply.header("x-fapi-interaction-id"), Some(id().as_str()));
        assert_eq!(reply.header("content-type"), None);
    }

    #[test]
    fn messages_are_cut_to_max500text() {
        let long = "é".repeat(600);
        let reply = refusal(&Refusal::new(ErrorKind::FieldInvalid, long), &id());
        let body: serde_json::Value =
            serde_json::from_slice(reply.body.as_deref().unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            body["Message"].as_str().map(|m| m.chars().count()),
            Some(500)
        );
    }
}
