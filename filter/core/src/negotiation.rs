//! Content negotiation for the event endpoints: every answer this gateway produces is
//! `application/json; charset=utf-8`, and every body it accepts (POST/PUT) is JSON in UTF-8.
//!
//! * `Accept` ([`check_accept`]): absent, empty, `*/*`, `application/*` and `application/json` (with
//!   parameters, q-values, in a comma list) are fine. The most specific range that matches
//!   `application/json` decides (RFC 9110 §12.5.1): `application/json;q=0, */*` refuses JSON,
//!   `*/*;q=0, application/json` accepts it. A range naming a `charset` other than UTF-8 does not match
//!   (OB: "non-UTF-8 charset" is 406). Ranges that do not parse are skipped. Nothing acceptable → **406**
//!   ([`ErrorKind::NotAcceptable`], no body).
//! * `Content-Type` ([`check_content_type`], POST/PUT only): `application/json`, case-insensitive, with at
//!   most a `charset=utf-8` parameter (quoted or not, any case). Missing, another media type, another
//!   parameter, or another charset (e.g. `iso-8859-1`) → **415** ([`ErrorKind::UnsupportedMediaType`], no
//!   body). `application/jose+jwe` (encrypted payloads) is not supported by this gateway and is 415 too.

use crate::errors::{ErrorKind, Refusal};

/// Check the request's `Accept` header against what every event endpoint produces (JSON in UTF-8).
pub fn check_accept(accept: Option<&str>) -> Result<(), Refusal> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(());
    };
    // (specificity, q) of the most specific range matching application/json.
    let mut best: Option<(u8, u16)> = None;
    for range in accept.split(',') {
        let Some(parsed) = parse_range(range) else {
            continue;
        };
        let Some(specificity) = parsed.matches_json() else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, parsed.q));
        }
    }
    match best {
        Some((_, q)) if q > 0 => Ok(()),
        Some(_) => Err(Refusal::new(
            ErrorKind::NotAcceptable,
            "Accept excludes application/json (q=0)",
        )
        .because("not_acceptable.q_zero")),
        None => Err(Refusal::new(
            ErrorKind::NotAcceptable,
            "Accept names no media type this API produces (application/json; charset=utf-8)",
        )),
    }
}

/// Check the `Content-Type` of a POST/PUT body: `application/json`, optionally `charset=utf-8`.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), Refusal> {
    let refuse = |message: &str, reason: &'static str| {
        Err(Refusal::new(ErrorKind::UnsupportedMediaType, message).because(reason))
    };
    let Some(content_type) = content_type else {
        return refuse(
            "Content-Type is required: application/json",
            "unsupported_media_type.missing",
        );
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return refuse(
            "Content-Type must be application/json",
            "unsupported_media_type",
        );
    }
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let Some((name, value)) = param.split_once('=') else {
            return refuse(
                "Content-Type has a malformed parameter",
                "unsupported_media_type.parameter",
            );
        };
        if !name.trim().eq_ignore_ascii_case("charset") {
            return refuse(
                "Content-Type may carry only charset=utf-8",
                "unsupported_media_type.parameter",
            );
        }
        if !is_utf8(value) {
            return refuse(
                "The request body must be encoded in UTF-8",
                "unsupported_media_type.charset",
            );
        }
    }
    Ok(())
}

fn is_utf8(charset_value: &str) -> bool {
    let value = charset_value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    value.eq_ignore_ascii_case("utf-8")
}

struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// q-value in thousandths (1000 = 1.0).
    q: u16,
    /// Non-q parameters are present.
    params: u8,
    charset_ok: bool,
}

impl MediaRange<'_> {
    /// How specifically this range names `application/json; charset=utf-8`, or `None` when it does not.
    fn matches_json(&self) -> Option<u8> {
        if !self.charset_ok {
            return None;
        }
        let base = match (self.kind, self.subtype) {
            ("*", "*") => 0,
            (k, "*") if k.eq_ignore_ascii_case("application") => 1,
            (k, s) if k.eq_ignore_ascii_case("application") && s.eq_ignore_ascii_case("json") => 2,
            _ => return None,
        };
        Some(base * 16 + self.params.min(15))
    }
}

fn parse_range(text: &str) -> Option<MediaRange<'_>> {
    let mut parts = text.split(';');
    let media = parts.next()?.trim();
    let (kind, subtype) = media.split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
        return None;
    }
    let mut range = MediaRange {
        kind,
        subtype,
        q: 1000,
        params: 0,
        charset_ok: true,
    };
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (name, value) = param.split_once('=')?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("q") {
            range.q = parse_q(value.trim())?;
        } else {
            range.params = range.params.saturating_add(1);
            if name.eq_ignore_ascii_case("charset") && !is_utf8(value) {
                range.charset_ok = false;
            }
        }
    }
    Some(range)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// RFC 9110 qvalue: `0(.ddd)?` or `1(.000)?`, in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (int, frac) = match value.split_once('.') {
        Some((i, f)) => (i, f),
        None => (value, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, c) in frac.bytes().enumerate() {
        let digit = u16::from(c - b'0');
        thousandths += digit * [100u16, 10, 1].get(i).copied().unwrap_or(0);
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn refused_accept(value: &str) -> Refusal {
        check_accept(Some(value)).unwrap_err()
    }

    #[test]
    fn accept_absent_or_empty_is_fine() {
        assert_eq!(check_accept(None), Ok(()));
        assert_eq!(check_accept(Some("")), Ok(()));
        assert_eq!(check_accept(Some("   ")), Ok(()));
    }

    #[test]
    fn accept_wildcards_and_json_are_fine() {
        for value in [
            "*/*",
            "application/*",
            "application/json",
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
            "application/json;q=0.5",
            "text/html, application/json;q=0.1",
            "application/jose+jwe, */*;q=0.01",
            "*/*;q=0, application/json",
            "application/*;q=0, application/json;q=1.0",
            "garbage, application/json",
        ] {
            assert_eq!(check_accept(Some(value)), Ok(()), "{value:?}");
        }
    }

    #[test]
    fn accept_without_json_is_406_without_body() {
        for value in [
            "text/html",
            "application/xml",
            "application/jose+jwe",
            "text/*",
            "nonsense",
        ] {
            let r = refused_accept(value);
            assert_eq!(r.kind, ErrorKind::NotAcceptable, "{value:?}");
            assert_eq!(r.spec().status, 406);
            assert_eq!(r.spec().ob_code, None);
        }
    }

    #[test]
    fn accept_q_zero_means_not_acceptable() {
        for value in [
            "application/json;q=0",
            "application/json; q=0.000",
            "application/json;q=0, */*",
            "*/*;q=0",
            "application/*;q=0",
        ] {
            let r = refused_accept(value);
            assert_eq!(r.kind, ErrorKind::NotAcceptable, "{value:?}");
            assert_eq!(r.reason, "not_acceptable.q_zero", "{value:?}");
        }
    }

    #[test]
    fn accept_with_another_charset_is_406() {
        let r = refused_accept("application/json; charset=iso-8859-1");
        assert_eq!(r.kind, ErrorKind::NotAcceptable);
    }

    #[test]
    fn accept_with_a_malformed_q_skips_the_range() {
        assert_eq!(
            refused_accept("application/json;q=2").kind,
            ErrorKind::NotAcceptable
        );
        assert_eq!(check_accept(Some("application/json;q=x, */*")), Ok(()));
    }

    #[test]
    fn content_type_json_is_fine() {
        for value in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            "application/json;",
        ] {
            assert_eq!(check_content_type(Some(value)), Ok(()), "{value:?}");
        }
    }

    #[test]
    fn content_type_missing_is_415() {
        let r = check_content_type(None).unwrap_err();
        assert_eq!(r.kind, ErrorKind::UnsupportedMediaType);
        assert_eq!(r.spec().status, 415);
        assert_eq!(r.spec().ob_code, None);
        assert_eq!(r.reason, "unsupported_media_type.missing");
    }

    #[test]
    fn content_type_other_media_is_415() {
        for value in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jose+jwe",
            "application/jsonx",
            "application/json-patch+json",
        ] {
            let r = check_content_type(Some(value)).unwrap_err();
            assert_eq!(r.kind, ErrorKind::UnsupportedMediaType, "{value:?}");
        }
    }

    #[test]
    fn content_type_non_utf8_charset_is_415() {
        for value in [
            "application/json; charset=iso-8859-1",
            "application/json; charset=utf-16",
            "application/json; charset=",
        ] {
            let r = check_content_type(Some(value)).unwrap_err();
            assert_eq!(r.kind, ErrorKind::UnsupportedMediaType, "{value:?}");
            assert_eq!(r.reason, "unsupported_media_type.charset", "{value:?}");
        }
    }

    #[test]
    fn content_type_other_parameter_is_415() {
        for value in ["application/json; version=2", "application/json; charset"] {
            let r = check_content_type(Some(value)).unwrap_err();
            assert_eq!(r.reason, "unsupported_media_type.parameter", "{value:?}");
        }
    }
}
