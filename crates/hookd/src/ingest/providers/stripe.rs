//! `stripe`: Stripe webhook endpoints (snapshot events).
//!
//! # Scheme
//!
//! `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`: HMAC-SHA256 of
//! `{t}.{raw body}` under the endpoint secret used verbatim, `whsec_` included. Any
//! matching `v1` is accepted (Stripe sends one per secret while a secret is rolled); `v0`
//! and other schemes are ignored. `t` must lie within `tolerance` (default 5 minutes) of
//! now, either way. [`hookd_signature::stripe::verify`] does the work.
//!
//! # Event
//!
//! The body is a JSON event object. Type: its `type` (`payment_intent.succeeded`).
//! Provider id and dedup key: its `id` (`evt_…`), which Stripe keeps across retries.
//! Occurred at: its `created` (unix seconds, or RFC 3339 in v2 event notifications).

use serde_json::Value;

use super::lookup::{self, signature_header};
use super::{Extracted, Intake, Unverified};
use crate::clock::rfc3339;
use crate::config::TimedPreset;
use crate::ingest::error::IngestError;

const SIGNATURE: &str = "stripe-signature";

/// Verifies a Stripe delivery and extracts its one event.
pub(super) fn receive(
    preset: &TimedPreset,
    request: Unverified<'_>,
    now_secs: i64,
) -> Result<Intake, IngestError> {
    verify(preset, request, now_secs)?;
    extract(request.body).map(|event| Intake::Events(vec![event]))
}

/// Checks `Stripe-Signature` against the raw body and the clock.
fn verify(preset: &TimedPreset, request: Unverified<'_>, now_secs: i64) -> Result<(), IngestError> {
    let header = signature_header(request, SIGNATURE)?;
    hookd_signature::stripe::verify(
        &preset.secrets,
        header,
        request.body,
        now_secs,
        preset.tolerance.as_secs(),
    )
    .map_err(|e| IngestError::from_signature(SIGNATURE, &e))
}

/// The event of a verified delivery.
fn extract(body: &[u8]) -> Result<Extracted, IngestError> {
    let json = lookup::json(body)?;
    let event_type = json
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| IngestError::EventTypeMissing("JSON pointer /type".to_owned()))?
        .to_owned();
    let id = lookup::json_text(&json, "id")
        .ok_or_else(|| IngestError::EventIdMissing("JSON pointer /id".to_owned()))?;
    let occurred_at = match json.get("created") {
        Some(Value::Number(secs)) => secs.as_i64().and_then(|secs| secs.checked_mul(1000)),
        // Event notifications of Stripe's v2 API write `created` in RFC 3339.
        Some(Value::String(time)) => rfc3339::parse_millis(time),
        _ => None,
    };
    let mut event = Extracted::whole(event_type, Some(id.clone()), id, Some(json));
    event.occurred_at = occurred_at;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderValue};
    use serde_json::json;

    use super::{extract, receive, verify};
    use crate::config::TimedPreset;
    use crate::ingest::providers::test_vectors;
    use crate::ingest::providers::{Intake, Unverified};

    fn preset(secrets: &[&str]) -> TimedPreset {
        TimedPreset {
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            tolerance: Duration::from_secs(300),
        }
    }

    #[test]
    fn every_fixture_vector_verifies_or_is_rejected_as_expected() {
        let invalid = [
            ("stripe-only-v0", "signature_malformed"),
            ("stripe-malformed-header", "signature_malformed"),
            ("stripe-secret-misinterpreted", "signature_mismatch"),
        ];
        let vectors = test_vectors::load("stripe.json");
        assert!(vectors.len() >= 6);
        for v in &vectors {
            let result = verify(&preset(&[&v.secret]), v.request(), v.now).map_err(|e| e.code());
            match invalid.iter().find(|(id, _)| *id == v.id) {
                Some((_, expected)) => assert_eq!(result, Err(*expected), "{}", v.id),
                None => {
                    assert!(
                        v.valid,
                        "{}: an invalid vector without an expectation",
                        v.id
                    );
                    assert_eq!(result, Ok(()), "{}", v.id);
                    let late = verify(&preset(&[&v.secret]), v.request(), v.now + 301);
                    assert_eq!(
                        late.map_err(|e| e.code()),
                        Err("timestamp_out_of_tolerance"),
                        "{}",
                        v.id
                    );
                }
            }
        }
    }

    #[test]
    fn type_id_and_created_come_from_the_event_object() {
        let body = json!({
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
            "object": "event",
            "created": 1_686_089_970,
            "type": "setup_intent.created",
            "data": {"object": {}}
        })
        .to_string();
        let now = 1_700_000_000;
        let mut headers = HeaderMap::new();
        let signature = hookd_signature::stripe::sign("whsec_new", now, body.as_bytes());
        headers.insert(
            "stripe-signature",
            HeaderValue::from_str(&signature).expect("ASCII"),
        );
        let request = Unverified {
            headers: &headers,
            body: body.as_bytes(),
            query: None,
        };
        let Ok(Intake::Events(events)) =
            receive(&preset(&["whsec_old", "whsec_new"]), request, now)
        else {
            panic!("not accepted");
        };
        assert_eq!(events[0].event_type, "setup_intent.created");
        assert_eq!(events[0].dedup_key, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(
            events[0].provider_event_id.as_deref(),
            Some("evt_1NG8Du2eZvKYlo2CUI79vXWy")
        );
        assert_eq!(events[0].occurred_at, Some(1_686_089_970_000));
    }

    #[test]
    fn an_event_without_type_or_id_is_400() {
        // The SDK fixture payload has no `type`: it verifies, but is no event to route.
        let fixture = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
        assert_eq!(
            extract(fixture).map_err(|e| e.code()).err(),
            Some("event_type_missing")
        );
        let no_id = br#"{"type":"charge.succeeded"}"#;
        assert_eq!(
            extract(no_id).map_err(|e| e.code()).err(),
            Some("event_id_missing")
        );
        assert_eq!(
            extract(b"{").map_err(|e| e.code()).err(),
            Some("invalid_json")
        );
        let v2 = br#"{"type":"v1.billing.meter.error_report_triggered","id":"evt_2","created":"2024-09-17T06:20:52.246Z"}"#;
        assert_eq!(
            extract(v2).ok().and_then(|e| e.occurred_at),
            Some(1_726_554_052_246)
        );
        let no_created = br#"{"type":"charge.succeeded","id":"evt_1"}"#;
        assert_eq!(extract(no_created).ok().and_then(|e| e.occurred_at), None);
    }
}
