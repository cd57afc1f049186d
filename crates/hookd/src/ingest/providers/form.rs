//! Form-encoded bodies (`application/x-www-form-urlencoded`), for the presets whose
//! providers post forms (Slack slash commands and interactivity, Twilio).
//!
//! [`parse`] decodes the body into its name/value pairs in order, which is what Twilio's
//! signature covers; [`object`] turns them into the flat JSON object that routing reads
//! (`match = { "/MessageStatus" = "delivered" }`, ordering keys).
//!
//! # Format
//!
//! The WHATWG `application/x-www-form-urlencoded` parser: pairs split on `&` (empty ones
//! skipped), name and value split on the first `=` (a pair without one has an empty
//! value), `+` is a space, `%XX` is a byte and a `%` not followed by two hex digits is
//! kept as it is. Unlike WHATWG, decoded bytes that are not UTF-8 make the body invalid
//! instead of becoming U+FFFD: no provider sends them, and a silently altered value would
//! be signed, routed and forwarded as something the sender never wrote. (The
//! `form_urlencoded` crate always replaces, which is why this is written here.)

use serde_json::{Map, Value};

use crate::ingest::error::IngestError;

/// Decodes a form-encoded body into its `(name, value)` pairs, in body order.
///
/// # Errors
///
/// [`IngestError::InvalidForm`] when a decoded name or value is not UTF-8.
pub(super) fn parse(body: &[u8]) -> Result<Vec<(String, String)>, IngestError> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// The flat JSON object of `pairs`: each name maps to its value as a string, or, for a
/// name that appears several times, to an array of its values in body order.
pub(super) fn object(pairs: &[(String, String)]) -> Value {
    let mut fields = Map::new();
    for (name, value) in pairs {
        let value = Value::String(value.clone());
        match fields.get_mut(name) {
            None => {
                fields.insert(name.clone(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                fields.insert(name.clone(), Value::Array(vec![first, value]));
            }
        }
    }
    Value::Object(fields)
}

/// The text of a field of a form object (or any JSON object), when it is a non-empty
/// string.
pub(super) fn text<'a>(fields: &'a Value, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Percent-decodes one name or value, `+` as a space.
fn decode(raw: &[u8]) -> Result<String, IngestError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex)) {
                (Some(high), Some(low)) => {
                    out.push((high << 4) | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| {
        IngestError::InvalidForm("a name or value is not UTF-8 once percent-decoded".to_owned())
    })
}

fn hex(digit: &u8) -> Option<u8> {
    char::from(*digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{object, parse, text};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let parsed = parse(b"From=%2B14158675309&Body=Hello+there%21&Emoji=%F0%9F%91%8B")
            .expect("a valid form");
        assert_eq!(
            parsed,
            pairs(&[
                ("From", "+14158675309"),
                ("Body", "Hello there!"),
                ("Emoji", "👋")
            ])
        );
    }

    #[test]
    fn keeps_order_empty_values_and_skips_empty_pairs() {
        let parsed = parse(b"b=2&&a&text=&a=1=1").expect("a valid form");
        assert_eq!(
            parsed,
            pairs(&[("b", "2"), ("a", ""), ("text", ""), ("a", "1=1")])
        );
        assert_eq!(parse(b"").expect("empty"), pairs(&[]));
    }

    #[test]
    fn a_stray_percent_is_kept_literally() {
        let parsed = parse(b"p=100%&q=%zz&r=%4").expect("a valid form");
        assert_eq!(parsed, pairs(&[("p", "100%"), ("q", "%zz"), ("r", "%4")]));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_invalid() {
        for body in [&b"name=%FF"[..], b"%C3=1", b"raw=\xff"] {
            let error = parse(body).expect_err("not UTF-8");
            assert_eq!(error.code(), "invalid_form");
        }
    }

    #[test]
    fn object_is_flat_with_arrays_for_repeated_names() {
        let fields = object(&pairs(&[
            ("MessageStatus", "delivered"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "0"),
            ("Empty", ""),
        ]));
        assert_eq!(
            fields,
            json!({
                "MessageStatus": "delivered",
                "Digits": ["5678", "1234", "0"],
                "Empty": ""
            })
        );
        assert_eq!(text(&fields, "MessageStatus"), Some("delivered"));
        assert_eq!(text(&fields, "Empty"), None);
        assert_eq!(text(&fields, "Digits"), None);
        assert_eq!(text(&fields, "Missing"), None);
    }
}
