//! Reading the parts of a request that the provider presets share: a signature header,
//! a text header, the body's media type, the body as JSON and a text field of it.
//!
//! Header names are given in lower case, as HTTP/2 sends them and as hookd stores them;
//! the lookup itself is case-insensitive.

use serde_json::Value;

use super::Unverified;
use crate::ingest::error::IngestError;

/// The value of the header that carries a signature.
///
/// # Errors
///
/// `signature_missing` when the header is absent; `signature_malformed` when its value is
/// not visible ASCII, which no signature encoding produces.
pub(super) fn signature_header<'a>(
    request: Unverified<'a>,
    name: &str,
) -> Result<&'a str, IngestError> {
    let value = request
        .headers
        .get(name)
        .ok_or_else(|| IngestError::SignatureMissing {
            header: name.to_owned(),
        })?;
    value.to_str().map_err(|_| IngestError::SignatureMalformed {
        header: name.to_owned(),
        reason: "the value is not visible ASCII text".to_owned(),
    })
}

/// A header's value when it is present, text and not empty.
pub(super) fn header_text<'a>(request: Unverified<'a>, name: &str) -> Option<&'a str> {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|text| !text.is_empty())
}

/// Whether the request's `content-type`, parameters aside, is one of `media_types`
/// (given in lower case; compared case-insensitively, as RFC 9110 says).
pub(super) fn media_type_is(request: Unverified<'_>, media_types: &[&str]) -> bool {
    let Some(content_type) = header_text(request, "content-type") else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    media_types
        .iter()
        .any(|media_type| essence.eq_ignore_ascii_case(media_type))
}

/// Parses `bytes` as JSON.
///
/// # Errors
///
/// `invalid_json` with the parser's description of the problem.
pub(super) fn json(bytes: &[u8]) -> Result<Value, IngestError> {
    serde_json::from_slice(bytes).map_err(|e| IngestError::InvalidJson(e.to_string()))
}

/// The top-level field `key` of `json` as text: a non-empty string, or a number in its
/// JSON form (Stripe and SoftPro ids are strings, but a number is an id too).
pub(super) fn json_text(json: &Value, key: &str) -> Option<String> {
    match json.get(key)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use serde_json::json;

    use super::{header_text, json_text, media_type_is, signature_header};
    use crate::ingest::providers::Unverified;

    fn request(headers: &HeaderMap) -> Unverified<'_> {
        Unverified {
            headers,
            body: b"",
            query: None,
        }
    }

    #[test]
    fn signature_header_is_missing_malformed_or_text() {
        let mut headers = HeaderMap::new();
        headers.insert("x-sig", HeaderValue::from_static("sha256=ab"));
        headers.insert(
            "x-bytes",
            HeaderValue::from_bytes(b"\xffsha").expect("opaque bytes are a header value"),
        );
        let request = request(&headers);
        assert_eq!(signature_header(request, "x-sig").ok(), Some("sha256=ab"));
        assert_eq!(
            signature_header(request, "x-other").map_err(|e| e.code()),
            Err("signature_missing")
        );
        assert_eq!(
            signature_header(request, "x-bytes").map_err(|e| e.code()),
            Err("signature_malformed")
        );
    }

    #[test]
    fn header_text_skips_empty_and_opaque_values() {
        let mut headers = HeaderMap::new();
        headers.insert("x-topic", HeaderValue::from_static("orders/create"));
        headers.insert("x-empty", HeaderValue::from_static(""));
        headers.insert(
            "x-bytes",
            HeaderValue::from_bytes(b"\xff").expect("opaque bytes are a header value"),
        );
        let request = request(&headers);
        assert_eq!(header_text(request, "X-Topic"), Some("orders/create"));
        assert_eq!(header_text(request, "x-empty"), None);
        assert_eq!(header_text(request, "x-bytes"), None);
        assert_eq!(header_text(request, "x-none"), None);
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
        );
        let request = request(&headers);
        assert!(media_type_is(
            request,
            &["application/x-www-form-urlencoded"]
        ));
        assert!(!media_type_is(request, &["application/json"]));
        let none = HeaderMap::new();
        assert!(!media_type_is(
            super::tests::request(&none),
            &["application/json"]
        ));
    }

    #[test]
    fn json_text_reads_strings_and_numbers_only() {
        let body = json!({"id": "evt_1", "n": 42, "empty": "", "flag": true, "obj": {}});
        assert_eq!(json_text(&body, "id").as_deref(), Some("evt_1"));
        assert_eq!(json_text(&body, "n").as_deref(), Some("42"));
        for absent in ["empty", "flag", "obj", "missing"] {
            assert_eq!(json_text(&body, absent), None, "{absent}");
        }
        assert_eq!(json_text(&json!([1]), "id"), None);
    }
}
