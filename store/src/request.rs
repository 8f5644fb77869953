//! Reading requests the way WSO2's endpoints do, minus their defects: the `x-wso2-client-id` header, the
//! Content-Type gate, the body-size limit and the `request=<base64(JSON)>` form field.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::errors::ApiError;

pub const CLIENT_ID_HEADER: &str = "x-wso2-client-id";
pub const RESOURCE_ID_HEADER: &str = "x-wso2-resource-id";
pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

/// The caller's client id: required, 1–255 visible ASCII characters.
pub fn client_id(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = header_text(headers, CLIENT_ID_HEADER)?;
    if value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid_header(
            "Invalid x-wso2-client-id: 1 to 255 visible ASCII characters expected",
        ));
    }
    Ok(value)
}

/// A required header as trimmed text; missing or blank is `missing_request_header`.
pub fn header_text(headers: &HeaderMap, name: &str) -> Result<String, ApiError> {
    let Some(value) = headers.get(name) else {
        return Err(ApiError::missing_header(name));
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::invalid_header(format!("Invalid characters in header {name}")))?
        .trim();
    if text.is_empty() {
        return Err(ApiError::missing_header(name));
    }
    Ok(text.to_owned())
}

/// 415 unless the Content-Type's media type is `expected` (parameters such as charset are allowed).
pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let ok = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(expected)
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(expected))
    }
}

/// How much of an oversized body is read (and dropped) before the 413, so that a client that writes its whole
/// body before reading the answer gets the 413 rather than a reset connection.
const DRAIN_CAP: usize = 1024 * 1024;

/// The whole body, at most `limit` bytes (413 beyond).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let cap = limit.max(DRAIN_CAP);
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    match axum::body::to_bytes(body, cap).await {
        Ok(bytes) if bytes.len() <= limit => Ok(bytes.to_vec()),
        _ => Err(ApiError::payload_too_large(limit)),
    }
}

/// Where the `request` field is missing or blank, which WSO2 reports differently.
pub enum FormProblem {
    Missing,
    Blank,
}

/// The single `request` field of a form body.
pub fn request_field(body: &[u8]) -> Result<Result<String, FormProblem>, ApiError> {
    let mut found: Option<String> = None;
    for (key, value) in form_urlencoded::parse(body) {
        if key == "request" {
            if found.is_some() {
                return Err(ApiError::invalid_payload(
                    "the form has more than one request field",
                ));
            }
            found = Some(value.into_owned());
        }
    }
    Ok(match found {
        None => Err(FormProblem::Missing),
        Some(v) if v.trim().is_empty() => Err(FormProblem::Blank),
        Some(v) => Ok(v),
    })
}

fn engine(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Decodes the `request` field into JSON.
///
/// As WSO2 does, `[`, `]`, CR, LF and the two-character sequences `\r` / `\n` are dropped first (none of them is a
/// base64 character). Unlike WSO2, a space is read as `+` — it can only be a `+` that the sender did not
/// percent-encode — and the URL-safe alphabet is accepted as well as the standard one.
pub fn decode_request(field: &str) -> Result<serde_json::Value, ApiError> {
    let cleaned: String = field
        .trim()
        .replace("\\r", "")
        .replace("\\n", "")
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | '\r' | '\n' | '\t'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    let cleaned = cleaned.as_str();
    let bytes = if cleaned.contains(['-', '_']) {
        engine(&alphabet::URL_SAFE).decode(cleaned)
    } else {
        engine(&alphabet::STANDARD).decode(cleaned)
    }
    .map_err(|_| ApiError::invalid_payload("the request field is not valid base64"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::invalid_payload("the decoded request is not valid JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    #[test]
    fn decodes_standard_urlsafe_and_unencoded_plus() {
        let json = r#"{"a":">>>???"}"#;
        let std = STANDARD.encode(json);
        assert!(std.contains('+') || std.contains('/'));
        assert_eq!(decode_request(&std).ok(), serde_json::from_str(json).ok());
        assert_eq!(
            decode_request(&URL_SAFE_NO_PAD.encode(json)).ok(),
            serde_json::from_str(json).ok()
        );
        assert_eq!(
            decode_request(&std.replace('+', " ")).ok(),
            serde_json::from_str(json).ok()
        );
        assert_eq!(
            decode_request(&format!("[{std}\r\n]")).ok(),
            serde_json::from_str(json).ok()
        );
    }

    #[test]
    fn rejects_bad_base64_and_bad_json() {
        assert!(decode_request("***").is_err());
        assert!(decode_request(&STANDARD.encode("{not json")).is_err());
    }
}
