//! `softpro`: SoftPro (title and escrow) webhooks.
//!
//! SoftPro publishes no specification of its webhook signing; this is the scheme SoftPro
//! integrators describe, and `tests/fixtures/softpro.json` records that no public vector
//! exists.
//!
//! # Scheme
//!
//! `x-softpro-signature` (or, when that is absent, `x-signature`): the hex HMAC-SHA256 of
//! the raw body under the shared secret, used as given, written bare or behind exactly
//! `sha256=`. The body's `timestamp` (RFC 3339 / ISO-8601 with an offset) must lie within
//! `tolerance` (default 5 minutes) of now, either way. The timestamp is inside the signed
//! body, so it can only be read once the signature holds: a request whose signature
//! fails is rejected for that, whatever its timestamp.
//!
//! # Event
//!
//! The body is JSON. Type: its `type` (`transaction.status_changed`). Provider id and
//! dedup key: its `id`. Occurred at: its `timestamp`.

use serde_json::Value;

use super::lookup::{self, signature_header};
use super::{Extracted, Intake, Unverified};
use crate::clock::rfc3339;
use crate::config::TimedPreset;
use crate::ingest::error::IngestError;

const SIGNATURE: &str = "x-softpro-signature";
const SIGNATURE_FALLBACK: &str = "x-signature";
/// How rejections name the body's `timestamp` (the variants say "header").
const TIMESTAMP: &str = "the body's `timestamp` field";

/// Verifies a SoftPro delivery and extracts its one event.
pub(super) fn receive(
    preset: &TimedPreset,
    request: Unverified<'_>,
    now_secs: i64,
) -> Result<Intake, IngestError> {
    verify(preset, request)?;
    let json = lookup::json(request.body)?;
    let occurred_at = check_timestamp(&json, now_secs, preset.tolerance.as_secs())?;
    let event_type = json
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| IngestError::EventTypeMissing("JSON pointer /type".to_owned()))?
        .to_owned();
    let id = lookup::json_text(&json, "id")
        .ok_or_else(|| IngestError::EventIdMissing("JSON pointer /id".to_owned()))?;
    let mut event = Extracted::whole(event_type, Some(id.clone()), id, Some(json));
    event.occurred_at = Some(occurred_at);
    Ok(Intake::Events(vec![event]))
}

/// Checks the signature header against the raw body.
fn verify(preset: &TimedPreset, request: Unverified<'_>) -> Result<(), IngestError> {
    let header = if request.headers.contains_key(SIGNATURE) {
        SIGNATURE
    } else {
        SIGNATURE_FALLBACK
    };
    let signature = signature_header(request, header).map_err(|e| match e {
        IngestError::SignatureMissing { .. } => IngestError::SignatureMissing {
            header: format!("{SIGNATURE} (or {SIGNATURE_FALLBACK})"),
        },
        other => other,
    })?;
    let hex = signature.strip_prefix("sha256=").unwrap_or(signature);
    hookd_signature::verify_hmac_sha256(
        &preset.secrets,
        &[request.body],
        hex,
        hookd_signature::Encoding::Hex,
        None,
    )
    .map_err(|e| IngestError::from_signature(header, &e))
}

/// Checks the body's `timestamp` against the clock and returns it in unix milliseconds.
fn check_timestamp(json: &Value, now_secs: i64, tolerance_secs: u64) -> Result<i64, IngestError> {
    let value = json
        .get("timestamp")
        .ok_or_else(|| IngestError::TimestampMissing {
            field: TIMESTAMP.to_owned(),
        })?;
    let millis = value
        .as_str()
        .and_then(rfc3339::parse_millis)
        .ok_or_else(|| IngestError::TimestampInvalid {
            field: TIMESTAMP.to_owned(),
            expected: "an ISO-8601 date-time with a UTC offset",
        })?;
    hookd_signature::check_timestamp(millis.div_euclid(1000), now_secs, tolerance_secs)
        .map_err(|e| IngestError::from_signature(TIMESTAMP, &e))?;
    Ok(millis)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderValue};
    use hookd_signature::{Encoding, encode_signature, hmac_sha256};
    use serde_json::{Value, json};

    use super::receive;
    use crate::config::TimedPreset;
    use crate::ingest::providers::test_vectors;
    use crate::ingest::providers::{Intake, Unverified};

    const SECRET: &str = "softpro-secret";
    /// 2025-04-22T19:30:00Z.
    const NOW: i64 = 1_745_350_200;

    fn preset() -> TimedPreset {
        TimedPreset {
            secrets: vec!["retired".to_owned(), SECRET.to_owned()],
            tolerance: Duration::from_secs(300),
        }
    }

    fn body(timestamp: &Value) -> Vec<u8> {
        json!({
            "id": "sp-1",
            "type": "transaction.status_changed",
            "timestamp": timestamp,
            "data": {"orderNumber": "2025-0042"}
        })
        .to_string()
        .into_bytes()
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value).expect("ASCII"),
        );
        headers
    }

    fn hex(body: &[u8]) -> String {
        encode_signature(
            &hmac_sha256(SECRET.as_bytes(), &[body]),
            Encoding::Hex,
            None,
        )
    }

    fn receive_code(body: &[u8], headers: &HeaderMap) -> Result<Intake, &'static str> {
        let request = Unverified {
            headers,
            body,
            query: None,
        };
        receive(&preset(), request, NOW).map_err(|e| e.code())
    }

    #[test]
    fn no_public_vectors_exist() {
        assert!(test_vectors::load("softpro.json").is_empty());
    }

    #[test]
    fn either_header_with_or_without_the_prefix_verifies() {
        let body = body(&json!("2025-04-22T14:31:00-05:00"));
        let sig = hex(&body);
        for (name, value) in [
            ("x-softpro-signature", sig.clone()),
            ("x-softpro-signature", format!("sha256={sig}")),
            ("x-signature", sig.clone()),
            ("x-signature", format!("sha256={sig}")),
        ] {
            let Ok(Intake::Events(events)) = receive_code(&body, &headers(name, &value)) else {
                panic!("{name}: {value} not accepted");
            };
            assert_eq!(events[0].event_type, "transaction.status_changed");
            assert_eq!(events[0].dedup_key, "sp-1");
            assert_eq!(events[0].occurred_at, Some((NOW + 60) * 1000));
        }
        // With both headers, x-softpro-signature is the one read.
        let mut both = headers("x-softpro-signature", &sig);
        both.insert("x-signature", HeaderValue::from_static("garbage"));
        assert!(receive_code(&body, &both).is_ok());
        let mut both = headers("x-softpro-signature", "garbage");
        both.insert("x-signature", HeaderValue::from_str(&sig).expect("ASCII"));
        assert_eq!(
            receive_code(&body, &both).err(),
            Some("signature_malformed")
        );
    }

    #[test]
    fn signature_problems_are_rejected_before_the_timestamp_is_read() {
        let stale = body(&json!("2020-01-01T00:00:00Z"));
        let sig = hex(&stale);
        for (value, code) in [
            (format!("SHA256={sig}"), "signature_malformed"),
            (format!("sha1={sig}"), "signature_malformed"),
            (format!("sha256= {sig}"), "signature_malformed"),
            (sig[..63].to_owned(), "signature_malformed"),
            ("ab".repeat(32), "signature_mismatch"),
        ] {
            let got = receive_code(&stale, &headers("x-softpro-signature", &value));
            assert_eq!(got.err(), Some(code), "{value}");
        }
        assert_eq!(
            receive_code(&stale, &HeaderMap::new()).err(),
            Some("signature_missing")
        );
        assert_eq!(
            receive_code(&stale, &headers("x-softpro-signature", &sig)).err(),
            Some("timestamp_out_of_tolerance")
        );
    }

    #[test]
    fn the_body_timestamp_is_required_valid_and_recent() {
        for (timestamp, code) in [
            (json!("2025-04-22T19:25:00Z"), None),
            (json!("2025-04-22T19:35:00Z"), None),
            (
                json!("2025-04-22T19:24:59Z"),
                Some("timestamp_out_of_tolerance"),
            ),
            (
                json!("2025-04-22T19:35:01Z"),
                Some("timestamp_out_of_tolerance"),
            ),
            (json!("2025-04-22T19:30:00"), Some("timestamp_invalid")),
            (json!("yesterday"), Some("timestamp_invalid")),
            (json!(NOW), Some("timestamp_invalid")),
            (Value::Null, Some("timestamp_invalid")),
        ] {
            let body = body(&timestamp);
            let got = receive_code(&body, &headers("x-signature", &hex(&body)));
            assert_eq!(got.err(), code, "{timestamp}");
        }
        let mut fields = json!({"id": "sp-1", "type": "t"});
        let missing = fields.to_string().into_bytes();
        let got = receive_code(&missing, &headers("x-signature", &hex(&missing)));
        assert_eq!(got.err(), Some("timestamp_missing"));

        fields["timestamp"] = json!("2025-04-22T19:30:00Z");
        if let Some(f) = fields.as_object_mut() {
            f.remove("type");
        }
        let no_type = fields.to_string().into_bytes();
        let got = receive_code(&no_type, &headers("x-signature", &hex(&no_type)));
        assert_eq!(got.err(), Some("event_type_missing"));
        let not_json = b"id=1";
        let got = receive_code(not_json, &headers("x-signature", &hex(not_json)));
        assert_eq!(got.err(), Some("invalid_json"));
    }
}
