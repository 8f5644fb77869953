//! `POST /events`: aggregated polling (OBEventPolling1 → OBEventPollingResponse1, v3.1.2; RFC 8936).
//!
//! The request body is **not** wrapped in `Data`. Rules, in the order they are checked (the first broken one
//! is the answer):
//!
//! | rule | refusal (all 400 unless noted) | Path |
//! |---|---|---|
//! | body larger than `body_limit_bytes` | `UK.OBIE.Resource.InvalidFormat` | – |
//! | body not JSON, or not a JSON object | `UK.OBIE.Resource.InvalidFormat` | – |
//! | a member other than the four below (policy `unknown_members`: Refuse, the default) | `UK.OBIE.Field.Unexpected` | the member |
//! | `maxEvents` not an integer ≥ 0 (`-1`, `1.5`, `"5"`, `null`) | `UK.OBIE.Field.Invalid` | `maxEvents` |
//! | `maxEvents` above `max_events` (policy `over_max`: Refuse, the default; Clamp forwards `max_events`) | `UK.OBIE.Field.Invalid` | `maxEvents` |
//! | `returnImmediately` not a boolean (`"true"`, `null`) | `UK.OBIE.Field.Invalid` | `returnImmediately` |
//! | `ack` not an array | `UK.OBIE.Field.Invalid` | `ack` |
//! | an `ack` entry not a 1–128 character string | `UK.OBIE.Field.Invalid` | `ack[i]` |
//! | `setErrs` not an object | `UK.OBIE.Field.Invalid` | `setErrs` |
//! | a `setErrs` key (jti) not 1–128 characters | `UK.OBIE.Field.Invalid` | `setErrs` |
//! | a `setErrs` value not an object | `UK.OBIE.Field.Invalid` | `setErrs.<jti>` |
//! | `err` / `description` missing | `UK.OBIE.Field.Missing` | `setErrs.<jti>.err` / `.description` |
//! | `err` not a 1–40, `description` not a 1–256 character string | `UK.OBIE.Field.Invalid` | same |
//! | another member in a `setErrs` entry (same `unknown_members` policy) | `UK.OBIE.Field.Unexpected` | `setErrs.<jti>.<member>` |
//! | a jti both in `ack` and in `setErrs` | `UK.OBIE.Field.Invalid` | `setErrs.<jti>` |
//!
//! Decisions: an empty `ack` array and an empty `setErrs` object are allowed (RFC 8936 allows them; they
//! acknowledge nothing). Duplicate `ack` entries are harmless and forwarded once. `null` is never a valid
//! value. A jti that is acknowledged *and* reported as an error is contradictory, so it is refused rather
//! than guessed at.

use crate::backend;
use crate::errors::{ErrorKind, Refusal};
use crate::interaction::InteractionId;
use crate::reply::LocalReply;
use serde_json::{Map, Value};

/// What to do with a `maxEvents` above the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverMax {
    /// 400 `UK.OBIE.Field.Invalid`, Path `maxEvents` (the default: the TPP learns the bound).
    #[default]
    Refuse,
    /// Forward the maximum instead (RFC 8936 lets a transmitter return fewer SETs than asked).
    Clamp,
}

/// What to do with a member the v3.1.2 schema does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownMembers {
    /// 400 `UK.OBIE.Field.Unexpected` with the member's Path (the default).
    #[default]
    Refuse,
    /// Drop it: never forwarded to the backend.
    Ignore,
}

/// Polling policy. Defaults: `max_events` 100, `over_max` Refuse, `unknown_members` Refuse,
/// `body_limit_bytes` 65536, `success_status` 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollingPolicy {
    /// Largest `maxEvents` a TPP may ask for.
    pub max_events: u64,
    pub over_max: OverMax,
    pub unknown_members: UnknownMembers,
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Status of a successful poll: 200 (v3.1.2 prose and sequence diagrams, v3.1.4+ `200EventsRead`) or
    /// 201 (the v3.1.2 OpenAPI's `201EventsCreated`).
    pub success_status: u16,
}

impl Default for PollingPolicy {
    fn default() -> Self {
        PollingPolicy {
            max_events: 100,
            over_max: OverMax::Refuse,
            unknown_members: UnknownMembers::Refuse,
            body_limit_bytes: 65536,
            success_status: 200,
        }
    }
}

/// One negative acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetErr {
    pub jti: String,
    pub err: String,
    pub description: String,
}

/// A checked `OBEventPolling1`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollRequest {
    /// `maxEvents` as forwarded (clamped under [`OverMax::Clamp`]); `None` = the backend's default.
    pub max_events: Option<u64>,
    /// `maxEvents` as the TPP sent it.
    pub requested_max_events: Option<u64>,
    pub return_immediately: Option<bool>,
    /// Acknowledged jtis, first occurrence order, without duplicates.
    pub ack: Vec<String>,
    pub set_errs: Vec<SetErr>,
}

const KNOWN: [&str; 4] = ["maxEvents", "returnImmediately", "ack", "setErrs"];
const MAX_JTI: usize = 128;
const MAX_ERR: usize = 40;
const MAX_DESCRIPTION: usize = 256;
/// Longest member name echoed in a Path.
const MAX_PATH_NAME: usize = 128;

/// Parse and check a `POST /events` body.
pub fn parse_poll(body: &[u8], policy: &PollingPolicy) -> Result<PollRequest, Refusal> {
    let object = json_object(body, policy.body_limit_bytes)?;
    if policy.unknown_members == UnknownMembers::Refuse {
        if let Some(name) = object.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(unexpected(
                &path_name(name),
                "is not a member of OBEventPolling1",
            ));
        }
    }
    let mut request = PollRequest::default();

    if let Some(v) = object.get("maxEvents") {
        let n = match (v.as_u64(), v.as_i64()) {
            (Some(n), _) => n,
            (None, Some(_)) => {
                return Err(invalid("maxEvents", "must not be negative")
                    .because("field_invalid.max_events"))
            }
            _ => {
                return Err(
                    invalid("maxEvents", "must be an integer").because("field_invalid.max_events")
                )
            }
        };
        request.requested_max_events = Some(n);
        request.max_events = Some(if n > policy.max_events {
            match policy.over_max {
                OverMax::Refuse => {
                    return Err(invalid(
                        "maxEvents",
                        &format!("must not exceed {}", policy.max_events),
                    )
                    .because("field_invalid.max_events_over_max"))
                }
                OverMax::Clamp => policy.max_events,
            }
        } else {
            n
        });
    }

    if let Some(v) = object.get("returnImmediately") {
        request.return_immediately = Some(
            v.as_bool()
                .ok_or_else(|| invalid("returnImmediately", "must be a boolean"))?,
        );
    }

    if let Some(v) = object.get("ack") {
        let items = v
            .as_array()
            .ok_or_else(|| invalid("ack", "must be an array of jti strings"))?;
        for (i, item) in items.iter().enumerate() {
            let jti = text(item, MAX_JTI).ok_or_else(|| {
                invalid(
                    &format!("ack[{i}]"),
                    "must be a string of 1 to 128 characters",
                )
                .because("field_invalid.ack")
            })?;
            if !request.ack.iter().any(|a| a == jti) {
                request.ack.push(jti.to_string());
            }
        }
    }

    if let Some(v) = object.get("setErrs") {
        let errs = v
            .as_object()
            .ok_or_else(|| invalid("setErrs", "must be an object keyed by jti"))?;
        for (jti, detail) in errs {
            if jti.is_empty() || jti.chars().count() > MAX_JTI {
                return Err(
                    invalid("setErrs", "keys must be jti values of 1 to 128 characters")
                        .because("field_invalid.set_errs"),
                );
            }
            let at = format!("setErrs.{jti}");
            let detail = detail.as_object().ok_or_else(|| {
                invalid(&at, "must be an object with err and description")
                    .because("field_invalid.set_errs")
            })?;
            if policy.unknown_members == UnknownMembers::Refuse {
                if let Some(name) = detail
                    .keys()
                    .find(|k| k.as_str() != "err" && k.as_str() != "description")
                {
                    return Err(unexpected(
                        &format!("{at}.{}", path_name(name)),
                        "is not a member of a setErrs entry",
                    ));
                }
            }
            let err = required_text(detail, &at, "err", MAX_ERR)?;
            let description = required_text(detail, &at, "description", MAX_DESCRIPTION)?;
            if request.ack.iter().any(|a| a == jti) {
                return Err(invalid(&at, "must not also be acknowledged in ack")
                    .because("field_invalid.ack_and_set_errs"));
            }
            request.set_errs.push(SetErr {
                jti: jti.clone(),
                err,
                description,
            });
        }
    }
    Ok(request)
}

impl PollRequest {
    /// The JSON the backend receives (inside the `request` form field): only the recognised members, as
    /// checked; `maxEvents` clamped under [`OverMax::Clamp`]; absent members stay absent.
    pub fn backend_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(n) = self.max_events {
            out.insert("maxEvents".into(), n.into());
        }
        if let Some(b) = self.return_immediately {
            out.insert("returnImmediately".into(), b.into());
        }
        if !self.ack.is_empty() {
            out.insert("ack".into(), self.ack.clone().into());
        }
        if !self.set_errs.is_empty() {
            let errs: Map<String, Value> = self
                .set_errs
                .iter()
                .map(|e| {
                    let mut entry = Map::new();
                    entry.insert("err".into(), e.err.clone().into());
                    entry.insert("description".into(), e.description.clone().into());
                    (e.jti.clone(), Value::Object(entry))
                })
                .collect();
            out.insert("setErrs".into(), Value::Object(errs));
        }
        Value::Object(out)
    }

    /// Whether the TPP asked for a long poll. `returnImmediately: false` does, `true` does not; when it is
    /// absent, `default_when_absent` decides (RFC 8936 §2.4: absent means long poll, i.e. `true`; a gateway
    /// whose backend cannot hold a poll passes `false`). `maxEvents: 0` (acknowledge only) never waits.
    pub fn wants_long_poll(&self, default_when_absent: bool) -> bool {
        if self.max_events == Some(0) {
            return false;
        }
        match self.return_immediately {
            Some(immediately) => !immediately,
            None => default_when_absent,
        }
    }
}

/// The backend's answer to a poll: SETs by jti, and whether more are waiting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollAnswer {
    /// `(jti, compact JWS)`.
    pub sets: Vec<(String, String)>,
    pub more_available: bool,
}

impl PollAnswer {
    /// No SET returned.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

/// Read the backend's answer to a poll.
///
/// * 200 (or 201) `{"sets": {jti: string}, "moreAvailable": bool}` → the answer; other members are dropped.
/// * 404 with that same shape and no SETs (WSO2's "nothing OPEN") → an empty answer.
/// * 409 (WSO2 `require_subscription_to_poll`: no subscription) → 400 `UK.OBIE.Resource.NotFound`.
/// * 2xx/404 with any other body (not JSON, `sets` not an object of strings, `moreAvailable` missing or
///   not a boolean) → 502.
/// * Everything else → [`backend::refusal_for_status`] (401/403 → 502, 400 → Field.Invalid, 5xx → 503/504…).
pub fn parse_poll_answer(status: u16, body: &[u8]) -> Result<PollAnswer, Refusal> {
    match status {
        200 | 201 => answer_shape(body).ok_or_else(|| backend::bad_answer("backend_bad_answer.poll_shape")),
        404 => match answer_shape(body) {
            Some(answer) if answer.is_empty() => Ok(answer),
            _ => Err(backend::bad_answer("backend_bad_answer.poll_not_found")),
        },
        409 => Err(Refusal::new(
            ErrorKind::ResourceNotFound,
            "No event subscription exists for this TPP: create one with POST /event-subscriptions before polling",
        )
        .because("resource_not_found.no_subscription")),
        _ => Err(backend::refusal_for_status(status, body)),
    }
}

fn answer_shape(body: &[u8]) -> Option<PollAnswer> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let more_available = object.get("moreAvailable")?.as_bool()?;
    let sets = object
        .get("sets")?
        .as_object()?
        .iter()
        .map(|(jti, set)| Some((jti.clone(), set.as_str()?.to_string())))
        .collect::<Option<Vec<_>>>()?;
    Some(PollAnswer {
        sets,
        more_available,
    })
}

/// The TPP's answer: `OBEventPollingResponse1` `{"sets": {…}, "moreAvailable": …}` with the configured
/// success status.
pub fn poll_reply(answer: &PollAnswer, policy: &PollingPolicy, id: &InteractionId) -> LocalReply {
    let sets: Map<String, Value> = answer
        .sets
        .iter()
        .map(|(jti, set)| (jti.clone(), Value::String(set.clone())))
        .collect();
    let mut body = Map::new();
    body.insert("sets".into(), Value::Object(sets));
    body.insert("moreAvailable".into(), answer.more_available.into());
    let status = match policy.success_status {
        201 => 201,
        _ => 200,
    };
    LocalReply::json(status, Value::Object(body).to_string().into_bytes(), id)
}

/// The body as a JSON object, within the size limit (shared with the subscription endpoints).
pub(crate) fn json_object(body: &[u8], limit: usize) -> Result<Map<String, Value>, Refusal> {
    if body.len() > limit {
        return Err(Refusal::new(
            ErrorKind::InvalidFormat,
            format!("The request body is larger than {limit} bytes"),
        )
        .because("invalid_format.too_large"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Refusal::new(
            ErrorKind::InvalidFormat,
            "The request body must be a JSON object",
        )
        .because("invalid_format.not_object")),
        Err(_) => Err(Refusal::new(
            ErrorKind::InvalidFormat,
            "The request body is not valid JSON",
        )
        .because("invalid_format.not_json")),
    }
}

/// A string of 1 to `max` characters.
pub(crate) fn text(value: &Value, max: usize) -> Option<&str> {
    value
        .as_str()
        .filter(|s| !s.is_empty() && s.chars().count() <= max)
}

/// A member name fit for a Path (bounded).
pub(crate) fn path_name(name: &str) -> String {
    name.chars().take(MAX_PATH_NAME).collect()
}

pub(crate) fn invalid(path: &str, what: &str) -> Refusal {
    Refusal::new(ErrorKind::FieldInvalid, format!("{path} {what}")).at(path)
}

pub(crate) fn unexpected(path: &str, what: &str) -> Refusal {
    Refusal::new(ErrorKind::FieldUnexpected, format!("{path} {what}")).at(path)
}

pub(crate) fn missing(path: &str) -> Refusal {
    Refusal::new(ErrorKind::FieldMissing, format!("{path} is required")).at(path)
}

fn required_text(
    object: &Map<String, Value>,
    at: &str,
    name: &str,
    max: usize,
) -> Result<String, Refusal> {
    let path = format!("{at}.{name}");
    let value = object.get(name).ok_or_else(|| missing(&path))?;
    text(value, max).map(str::to_string).ok_or_else(|| {
        invalid(&path, &format!("must be a string of 1 to {max} characters"))
            .because("field_invalid.set_errs")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn policy() -> PollingPolicy {
        PollingPolicy::default()
    }

    fn ok(body: Value) -> PollRequest {
        parse_poll(body.to_string().as_bytes(), &policy()).unwrap()
    }

    fn refused_with(body: &[u8], policy: &PollingPolicy) -> Refusal {
        parse_poll(body, policy).unwrap_err()
    }

    fn refused(body: Value) -> Refusal {
        refused_with(body.to_string().as_bytes(), &policy())
    }

    /// Status, ErrorCode and Path as the TPP sees them.
    fn seen(r: &Refusal) -> (u16, Option<&'static str>, Option<&str>) {
        (r.spec().status, r.spec().ob_code, r.path.as_deref())
    }

    const INVALID: Option<&str> = Some("UK.OBIE.Field.Invalid");
    const MISSING: Option<&str> = Some("UK.OBIE.Field.Missing");
    const UNEXPECTED: Option<&str> = Some("UK.OBIE.Field.Unexpected");
    const FORMAT: Option<&str> = Some("UK.OBIE.Resource.InvalidFormat");

    fn id() -> InteractionId {
        InteractionId::new_v4([3; 16])
    }

    #[test]
    fn a_full_valid_poll_is_accepted() {
        let r = ok(json!({
            "maxEvents": 5, "returnImmediately": true, "ack": ["a", "b", "a"],
            "setErrs": {"c": {"err": "jwtIss", "description": "Issuer is invalid"}}
        }));
        assert_eq!(r.max_events, Some(5));
        assert_eq!(r.return_immediately, Some(true));
        assert_eq!(r.ack, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(r.set_errs.len(), 1);
        assert_eq!(
            r.backend_json(),
            json!({"maxEvents": 5, "returnImmediately": true, "ack": ["a", "b"],
                   "setErrs": {"c": {"err": "jwtIss", "description": "Issuer is invalid"}}})
        );
    }

    #[test]
    fn an_empty_object_is_a_plain_poll() {
        let r = ok(json!({}));
        assert_eq!(r, PollRequest::default());
        assert_eq!(r.backend_json(), json!({}));
    }

    #[test]
    fn max_events_zero_is_fine() {
        assert_eq!(
            ok(json!({"maxEvents": 0, "ack": ["x"]})).max_events,
            Some(0)
        );
    }

    #[test]
    fn max_events_negative_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"maxEvents": -1}))),
            (400, INVALID, Some("maxEvents"))
        );
    }

    #[test]
    fn max_events_float_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"maxEvents": 1.5}))),
            (400, INVALID, Some("maxEvents"))
        );
        let r = refused_with(br#"{"maxEvents": 5.0}"#, &policy());
        assert_eq!(seen(&r), (400, INVALID, Some("maxEvents")));
    }

    #[test]
    fn max_events_string_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"maxEvents": "5"}))),
            (400, INVALID, Some("maxEvents"))
        );
    }

    #[test]
    fn max_events_null_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"maxEvents": null}))),
            (400, INVALID, Some("maxEvents"))
        );
    }

    #[test]
    fn max_events_huge_is_invalid_not_a_panic() {
        let r = refused_with(br#"{"maxEvents": 1e400}"#, &policy());
        assert_eq!(r.kind, ErrorKind::InvalidFormat); // serde_json refuses an infinite number
        let r = refused_with(br#"{"maxEvents": 99999999999999999999999}"#, &policy());
        assert_eq!(seen(&r), (400, INVALID, Some("maxEvents")));
    }

    #[test]
    fn max_events_over_max_is_refused_by_default() {
        let r = refused(json!({"maxEvents": 101}));
        assert_eq!(seen(&r), (400, INVALID, Some("maxEvents")));
        assert_eq!(r.reason, "field_invalid.max_events_over_max");
        assert!(r.message.contains("100"));
        assert_eq!(ok(json!({"maxEvents": 100})).max_events, Some(100));
    }

    #[test]
    fn max_events_over_max_is_clamped_under_clamp() {
        let p = PollingPolicy {
            over_max: OverMax::Clamp,
            max_events: 10,
            ..policy()
        };
        let r = parse_poll(br#"{"maxEvents": 500}"#, &p).unwrap();
        assert_eq!(r.max_events, Some(10));
        assert_eq!(r.requested_max_events, Some(500));
        assert_eq!(r.backend_json(), json!({"maxEvents": 10}));
    }

    #[test]
    fn return_immediately_string_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"returnImmediately": "true"}))),
            (400, INVALID, Some("returnImmediately"))
        );
    }

    #[test]
    fn ack_not_an_array_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"ack": "a"}))),
            (400, INVALID, Some("ack"))
        );
    }

    #[test]
    fn ack_non_string_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"ack": ["a", 7]}))),
            (400, INVALID, Some("ack[1]"))
        );
    }

    #[test]
    fn ack_empty_string_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"ack": [""]}))),
            (400, INVALID, Some("ack[0]"))
        );
    }

    #[test]
    fn ack_129_characters_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"ack": ["é".repeat(129)]}))),
            (400, INVALID, Some("ack[0]"))
        );
        assert_eq!(ok(json!({"ack": ["é".repeat(128)]})).ack.len(), 1);
    }

    #[test]
    fn ack_empty_array_is_allowed_and_not_forwarded() {
        let r = ok(json!({"ack": [], "setErrs": {}}));
        assert!(r.ack.is_empty() && r.set_errs.is_empty());
        assert_eq!(r.backend_json(), json!({}));
    }

    #[test]
    fn ack_duplicates_are_harmless() {
        assert_eq!(ok(json!({"ack": ["a", "a"]})).ack, vec!["a".to_string()]);
    }

    #[test]
    fn set_errs_not_an_object_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"setErrs": []}))),
            (400, INVALID, Some("setErrs"))
        );
    }

    #[test]
    fn set_errs_entry_not_an_object_is_invalid() {
        assert_eq!(
            seen(&refused(json!({"setErrs": {"j": "x"}}))),
            (400, INVALID, Some("setErrs.j"))
        );
    }

    #[test]
    fn set_errs_key_too_long_is_invalid() {
        let key = "k".repeat(129);
        let r = refused(json!({"setErrs": {key: {"err": "e", "description": "d"}}}));
        assert_eq!(seen(&r), (400, INVALID, Some("setErrs")));
    }

    #[test]
    fn set_errs_missing_err_is_missing() {
        let r = refused(json!({"setErrs": {"j": {"description": "d"}}}));
        assert_eq!(seen(&r), (400, MISSING, Some("setErrs.j.err")));
    }

    #[test]
    fn set_errs_missing_description_is_missing() {
        let r = refused(json!({"setErrs": {"j": {"err": "e"}}}));
        assert_eq!(seen(&r), (400, MISSING, Some("setErrs.j.description")));
    }

    #[test]
    fn set_errs_err_41_characters_is_invalid() {
        let r = refused(json!({"setErrs": {"j": {"err": "e".repeat(41), "description": "d"}}}));
        assert_eq!(seen(&r), (400, INVALID, Some("setErrs.j.err")));
        let r = refused(json!({"setErrs": {"j": {"err": "", "description": "d"}}}));
        assert_eq!(seen(&r), (400, INVALID, Some("setErrs.j.err")));
    }

    #[test]
    fn set_errs_description_257_characters_is_invalid() {
        let r = refused(json!({"setErrs": {"j": {"err": "e", "description": "d".repeat(257)}}}));
        assert_eq!(seen(&r), (400, INVALID, Some("setErrs.j.description")));
        assert_eq!(
            ok(json!({"setErrs": {"j": {"err": "e", "description": "d".repeat(256)}}}))
                .set_errs
                .len(),
            1
        );
    }

    #[test]
    fn set_errs_extra_member_is_unexpected() {
        let r = refused(json!({"setErrs": {"j": {"err": "e", "description": "d", "x": 1}}}));
        assert_eq!(seen(&r), (400, UNEXPECTED, Some("setErrs.j.x")));
    }

    #[test]
    fn set_errs_extra_member_is_dropped_under_ignore() {
        let p = PollingPolicy {
            unknown_members: UnknownMembers::Ignore,
            ..policy()
        };
        let r = parse_poll(
            br#"{"setErrs":{"j":{"err":"e","description":"d","x":1}}}"#,
            &p,
        )
        .unwrap();
        assert_eq!(
            r.backend_json(),
            json!({"setErrs": {"j": {"err": "e", "description": "d"}}})
        );
    }

    #[test]
    fn a_jti_both_acked_and_in_set_errs_is_invalid() {
        let r = refused(json!({"ack": ["j"], "setErrs": {"j": {"err": "e", "description": "d"}}}));
        assert_eq!(seen(&r), (400, INVALID, Some("setErrs.j")));
        assert_eq!(r.reason, "field_invalid.ack_and_set_errs");
    }

    #[test]
    fn unknown_top_level_member_is_refused_by_default() {
        let r = refused(json!({"maxEvents": 1, "foo": true}));
        assert_eq!(seen(&r), (400, UNEXPECTED, Some("foo")));
    }

    #[test]
    fn unknown_top_level_member_is_ignored_under_ignore() {
        let p = PollingPolicy {
            unknown_members: UnknownMembers::Ignore,
            ..policy()
        };
        let r = parse_poll(br#"{"maxEvents": 1, "foo": true}"#, &p).unwrap();
        assert_eq!(r.backend_json(), json!({"maxEvents": 1}));
    }

    #[test]
    fn body_too_large_is_invalid_format() {
        let p = PollingPolicy {
            body_limit_bytes: 16,
            ..policy()
        };
        let r = refused_with(br#"{"ack": ["0123456789"]}"#, &p);
        assert_eq!(seen(&r), (400, FORMAT, None));
        assert_eq!(r.reason, "invalid_format.too_large");
    }

    #[test]
    fn body_not_json_is_invalid_format() {
        for body in [&b""[..], b"{", b"maxEvents=1", b"\xff\xfe{}", b"{\"a\":1}x"] {
            let r = refused_with(body, &policy());
            assert_eq!(seen(&r), (400, FORMAT, None), "{body:?}");
        }
    }

    #[test]
    fn body_not_an_object_is_invalid_format() {
        for body in [&b"[]"[..], b"null", b"5", b"\"x\""] {
            assert_eq!(seen(&refused_with(body, &policy())), (400, FORMAT, None));
        }
    }

    #[test]
    fn deep_nesting_does_not_panic() {
        let body = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let p = PollingPolicy {
            body_limit_bytes: 1 << 20,
            ..policy()
        };
        assert_eq!(
            refused_with(body.as_bytes(), &p).kind,
            ErrorKind::InvalidFormat
        );
    }

    #[test]
    fn long_poll_follows_return_immediately_and_the_default() {
        assert!(!ok(json!({"returnImmediately": true})).wants_long_poll(true));
        assert!(ok(json!({"returnImmediately": false})).wants_long_poll(false));
        assert!(ok(json!({})).wants_long_poll(true));
        assert!(!ok(json!({})).wants_long_poll(false));
        assert!(!ok(json!({"maxEvents": 0, "returnImmediately": false})).wants_long_poll(true));
    }

    #[test]
    fn answer_200_is_read() {
        let a = parse_poll_answer(
            200,
            br#"{"sets":{"j1":"eyJ.a.b","j2":"eyJ.c.d"},"moreAvailable":true,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(a.sets.len(), 2);
        assert!(a.more_available);
        assert!(!a.is_empty());
    }

    #[test]
    fn answer_wso2_404_empty_is_an_empty_poll() {
        let a = parse_poll_answer(404, br#"{"sets":{},"moreAvailable":false}"#).unwrap();
        assert!(a.is_empty());
        assert!(!a.more_available);
    }

    #[test]
    fn answer_404_otherwise_is_502() {
        for body in [
            &br#"{"error":"invalid_request","error_description":"No such resource"}"#[..],
            b"",
            br#"{"sets":{"j":"x"},"moreAvailable":false}"#,
        ] {
            assert_eq!(
                parse_poll_answer(404, body).unwrap_err().kind,
                ErrorKind::BackendBadAnswer
            );
        }
    }

    #[test]
    fn answer_garbage_is_502() {
        for body in [
            &b"<html>"[..],
            b"",
            br#"[]"#,
            br#"{"sets":{}}"#,
            br#"{"moreAvailable":false}"#,
            br#"{"sets":[],"moreAvailable":false}"#,
            br#"{"sets":{"j":1},"moreAvailable":false}"#,
            br#"{"sets":{},"moreAvailable":"false"}"#,
        ] {
            let r = parse_poll_answer(200, body).unwrap_err();
            assert_eq!(r.kind, ErrorKind::BackendBadAnswer, "{body:?}");
            assert_eq!(r.spec().status, 502);
        }
    }

    #[test]
    fn answer_503_is_unavailable() {
        let r = parse_poll_answer(
            503,
            b"upstream connect error or disconnect/reset before headers",
        )
        .unwrap_err();
        assert_eq!(
            (r.kind, r.spec().status),
            (ErrorKind::BackendUnavailable, 503)
        );
    }

    #[test]
    fn answer_504_is_timeout() {
        let r = parse_poll_answer(504, b"upstream request timeout").unwrap_err();
        assert_eq!((r.kind, r.spec().status), (ErrorKind::BackendTimeout, 504));
    }

    #[test]
    fn answer_500_is_unavailable() {
        let r = parse_poll_answer(
            500,
            br#"{"error":"server_error","error_description":"db down"}"#,
        )
        .unwrap_err();
        assert_eq!(r.kind, ErrorKind::BackendUnavailable);
        assert!(!r.message.contains("db"));
    }

    #[test]
    fn answer_401_from_backend_is_502_without_details() {
        let body = br#"{"error":"unauthorized","error_description":"Missing or invalid Basic credentials"}"#;
        let r = parse_poll_answer(401, body).unwrap_err();
        assert_eq!(
            (r.kind, r.spec().status),
            (ErrorKind::BackendBadAnswer, 502)
        );
        assert_eq!(r.reason, "backend_bad_answer.credentials_refused");
        let reply = reply::refusal(&r, &id());
        let text = String::from_utf8(reply.body.unwrap()).unwrap();
        assert!(
            !text.contains("Basic") && !text.contains("unauthorized"),
            "{text}"
        );
    }

    #[test]
    fn answer_400_from_backend_is_field_invalid() {
        let r = parse_poll_answer(
            400,
            br#"{"error":"invalid_request_payload","error_description":"Error in the request payload"}"#,
        )
        .unwrap_err();
        assert_eq!(seen(&r), (400, INVALID, None));
        assert!(r.message.contains("Error in the request payload"));
    }

    #[test]
    fn answer_409_no_subscription_is_resource_not_found() {
        let r = parse_poll_answer(
            409,
            br#"{"error":"invalid_request","error_description":"A subscription Resource does not exists for the client"}"#,
        )
        .unwrap_err();
        assert_eq!(seen(&r), (400, Some("UK.OBIE.Resource.NotFound"), None));
    }

    #[test]
    fn poll_reply_has_the_ob_shape_and_the_configured_status() {
        let answer = PollAnswer {
            sets: vec![("j1".into(), "eyJ.a.b".into())],
            more_available: false,
        };
        let reply = poll_reply(&answer, &policy(), &id());
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-fapi-interaction-id"), Some(id().as_str()));
        assert_eq!(
            reply.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let body: Value = serde_json::from_slice(reply.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"sets": {"j1": "eyJ.a.b"}, "moreAvailable": false})
        );
        let p201 = PollingPolicy {
            success_status: 201,
            ..policy()
        };
        assert_eq!(poll_reply(&PollAnswer::default(), &p201, &id()).status, 201);
        let empty: Value = serde_json::from_slice(
            poll_reply(&PollAnswer::default(), &policy(), &id())
                .body
                .as_deref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(empty, json!({"sets": {}, "moreAvailable": false}));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn bodies_match_the_v3_1_2_openapi() {
        use crate::backend::openapi_check::{check, load};
        let doc = load("aggregated-polling-openapi.json");
        let answer = PollAnswer {
            sets: vec![
                ("j1".into(), "eyJ.a.b".into()),
                ("j2".into(), "eyJ.c.d".into()),
            ],
            more_available: true,
        };
        for a in [answer, PollAnswer::default()] {
            let reply = poll_reply(&a, &policy(), &id());
            let body: Value = serde_json::from_slice(reply.body.as_deref().unwrap()).unwrap();
            assert_eq!(
                check(&doc, "OBEventPollingResponse1", &body),
                Vec::<String>::new()
            );
        }
        // What the backend receives is itself a valid OBEventPolling1.
        let request = ok(
            json!({"maxEvents": 2, "returnImmediately": false, "ack": ["a"],
                                "setErrs": {"b": {"err": "jwtIss", "description": "bad issuer"}}}),
        );
        assert_eq!(
            check(&doc, "OBEventPolling1", &request.backend_json()),
            Vec::<String>::new()
        );
        // Every refusal body is a valid OBErrorResponse1.
        for r in [
            refused(json!({"maxEvents": -1})),
            refused(json!({"foo": 1})),
            refused_with(b"x", &policy()),
            parse_poll_answer(401, b"").unwrap_err(),
        ] {
            let reply = reply::refusal(&r, &id());
            let body: Value = serde_json::from_slice(reply.body.as_deref().unwrap()).unwrap();
            assert_eq!(check(&doc, "OBErrorResponse1", &body), Vec::<String>::new());
        }
    }
}
