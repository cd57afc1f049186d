//! `standard-webhooks`: deliveries signed per the Standard Webhooks spec (v1, symmetric),
//! as sent by Svix and every sender built on the spec's libraries.
//!
//! # Scheme
//!
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (a
//! space-separated list of `v1,<base64>`; several during a secret roll, other versions
//! ignored) sign `{id}.{timestamp}.{raw body}` with HMAC-SHA256 under the `whsec_` secret's
//! base64-decoded key. The timestamp must lie within `tolerance` (default 5 minutes) of
//! now, either way. [`hookd_signature::standard_webhooks::verify`] does the work.
//!
//! # Event
//!
//! The body is JSON (the spec's payloads are). Type: the body's `type` when it is a
//! string, else empty. Provider id and dedup key: `webhook-id`, which the spec keeps
//! stable across retries. Occurred at: the body's `timestamp` when it is RFC 3339.

use hookd_signature::SignatureError;
use hookd_signature::standard_webhooks;
use serde_json::Value;

use super::lookup::{self, signature_header};
use super::{Extracted, Intake, Unverified};
use crate::clock::rfc3339;
use crate::config::StandardWebhooksPreset;
use crate::ingest::error::IngestError;

const ID: &str = "webhook-id";
const TIMESTAMP: &str = "webhook-timestamp";
const SIGNATURE: &str = "webhook-signature";

/// Verifies a Standard Webhooks delivery and extracts its one event.
pub(super) fn receive(
    preset: &StandardWebhooksPreset,
    request: Unverified<'_>,
    now_secs: i64,
) -> Result<Intake, IngestError> {
    let id = verify(preset, request, now_secs)?;
    let json = lookup::json(request.body)?;
    let event_type = json
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let occurred_at = json
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(rfc3339::parse_millis);
    let mut event = Extracted::whole(event_type, Some(id.to_owned()), id.to_owned(), Some(json));
    event.occurred_at = occurred_at;
    Ok(Intake::Events(vec![event]))
}

/// Checks the three headers against the raw body and returns the `webhook-id`.
fn verify<'a>(
    preset: &StandardWebhooksPreset,
    request: Unverified<'a>,
    now_secs: i64,
) -> Result<&'a str, IngestError> {
    let signatures = signature_header(request, SIGNATURE)?;
    let timestamp = match request.headers.get(TIMESTAMP) {
        None => {
            return Err(IngestError::timestamp_header_missing(TIMESTAMP));
        }
        Some(value) => value
            .to_str()
            .map_err(|_| IngestError::timestamp_header_invalid(TIMESTAMP))?,
    };
    // The id is signed content: without it there is nothing to verify.
    let id = signature_header(request, ID)?;
    if id.is_empty() {
        return Err(IngestError::SignatureMissing {
            header: ID.to_owned(),
        });
    }
    standard_webhooks::verify(
        &preset.secrets,
        id,
        timestamp,
        signatures,
        request.body,
        now_secs,
        preset.tolerance.as_secs(),
    )
    .map_err(|e| rejection(&e))?;
    Ok(id)
}

/// The rejection for a verification failure, naming the header it concerns.
fn rejection(error: &SignatureError) -> IngestError {
    match error {
        SignatureError::TimestampInvalid
        | SignatureError::TimestampStale { .. }
        | SignatureError::TimestampFuture { .. } => IngestError::from_signature(TIMESTAMP, error),
        _ => IngestError::from_signature(SIGNATURE, error),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderValue};
    use hookd_signature::standard_webhooks::Secret;

    use super::receive;
    use crate::config::StandardWebhooksPreset;
    use crate::ingest::providers::test_vectors::{self, Vector};
    use crate::ingest::providers::{Extracted, Intake, Unverified};

    fn preset(secrets: &[&str]) -> StandardWebhooksPreset {
        StandardWebhooksPreset {
            secrets: secrets
                .iter()
                .map(|s| Secret::parse(s).expect("a whsec_ secret"))
                .collect(),
            tolerance: Duration::from_secs(300),
        }
    }

    fn code(preset: &StandardWebhooksPreset, v: &Vector) -> Result<Intake, &'static str> {
        receive(preset, v.request(), v.now).map_err(|e| e.code())
    }

    #[test]
    fn every_fixture_vector_has_its_expected_outcome() {
        let invalid = [
            ("sw-invalid-last-char", "signature_mismatch"),
            ("sw-invalid-garbage", "signature_malformed"),
            ("sw-invalid-timestamp-format", "timestamp_invalid"),
            ("sw-missing-id", "signature_missing"),
            ("sw-future-timestamp", "timestamp_out_of_tolerance"),
            // v1a (Ed25519) is not a scheme of this preset: no v1 entry is malformed.
            ("sw-asymmetric-sign-official", "signature_malformed"),
        ];
        let vectors = test_vectors::load("standard_webhooks.json");
        for v in &vectors {
            let preset = preset(&[&v.secret]);
            match invalid.iter().find(|(id, _)| *id == v.id) {
                Some((_, expected)) => {
                    assert_eq!(code(&preset, v).err(), Some(*expected), "{}", v.id);
                }
                None => {
                    assert!(
                        v.valid,
                        "{}: an invalid vector without an expectation",
                        v.id
                    );
                    let Ok(Intake::Events(events)) = code(&preset, v) else {
                        panic!("{}: {:?}", v.id, code(&preset, v));
                    };
                    assert_eq!(
                        events,
                        vec![Extracted::whole(
                            String::new(),
                            Some("msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned()),
                            "msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned(),
                            Some(serde_json::json!({"test": 2_432_232_314_u64})),
                        )],
                        "{}",
                        v.id
                    );
                }
            }
        }
        for (id, _) in &invalid {
            assert!(vectors.iter().any(|v| v.id == *id), "{id} not in fixtures");
        }
    }

    #[test]
    fn type_and_occurred_at_come_from_the_body() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let body =
            br#"{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{}}"#;
        let now = 1_700_000_000;
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static("msg_1"));
        headers.insert("webhook-timestamp", HeaderValue::from(now));
        let signature = secret.sign("msg_1", now, body);
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&signature).expect("ASCII"),
        );
        let request = Unverified {
            headers: &headers,
            body,
            query: None,
        };
        let preset = StandardWebhooksPreset {
            secrets: vec![secret],
            tolerance: Duration::from_secs(300),
        };
        let Ok(Intake::Events(events)) = receive(&preset, request, now) else {
            panic!("not accepted");
        };
        assert_eq!(events[0].event_type, "contact.created");
        assert_eq!(events[0].dedup_key, "msg_1");
        assert_eq!(events[0].occurred_at, Some(1_667_507_170_344));

        // A `type` that is not text and a `timestamp` that is not RFC 3339 are left out.
        let body = br#"{"type":{"a":1},"timestamp":1667507170}"#;
        let signature = preset.secrets[0].sign("msg_2", now, body);
        headers.insert("webhook-id", HeaderValue::from_static("msg_2"));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&signature).expect("ASCII"),
        );
        let request = Unverified {
            headers: &headers,
            body,
            query: None,
        };
        let Ok(Intake::Events(events)) = receive(&preset, request, now) else {
            panic!("not accepted");
        };
        assert_eq!(events[0].event_type, "");
        assert_eq!(events[0].occurred_at, None);
    }
}
