//! `github`: repository, organisation and GitHub App webhooks.
//!
//! # Scheme
//!
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` under the webhook
//! secret, used as given. The `sha256=` prefix is required exactly as GitHub writes it;
//! the legacy SHA-1 `X-Hub-Signature` is not read. No timestamp is signed, so replays
//! are caught by dedup on the delivery id alone.
//!
//! # Event
//!
//! Type: `X-GitHub-Event`, with the body's `action` appended when it has one
//! (`pull_request.opened`, `issues.closed`; `push` and `ping` have none). Provider id and
//! dedup key: `X-GitHub-Delivery`, which a redelivery keeps. The body is JSON, or, for a
//! webhook whose content type is `application/x-www-form-urlencoded`, a form whose
//! `payload` field holds the JSON; routing then reads that JSON, while the body is stored
//! and forwarded as it arrived.

use serde_json::Value;

use super::lookup::{self, header_text, signature_header};
use super::{Extracted, Intake, Unverified, form};
use crate::config::SecretsPreset;
use crate::ingest::error::IngestError;

const SIGNATURE: &str = "x-hub-signature-256";
const EVENT: &str = "x-github-event";
const DELIVERY: &str = "x-github-delivery";
const FORM: &str = "application/x-www-form-urlencoded";

/// Verifies a GitHub delivery and extracts its one event.
pub(super) fn receive(
    preset: &SecretsPreset,
    request: Unverified<'_>,
) -> Result<Intake, IngestError> {
    verify(preset, request)?;
    extract(request).map(|event| Intake::Events(vec![event]))
}

/// Checks `X-Hub-Signature-256` against the raw body.
fn verify(preset: &SecretsPreset, request: Unverified<'_>) -> Result<(), IngestError> {
    let signature = signature_header(request, SIGNATURE)?;
    hookd_signature::verify_hmac_sha256(
        &preset.secrets,
        &[request.body],
        signature,
        hookd_signature::Encoding::Hex,
        Some("sha256="),
    )
    .map_err(|e| IngestError::from_signature(SIGNATURE, &e))
}

/// The event of a verified delivery.
fn extract(request: Unverified<'_>) -> Result<Extracted, IngestError> {
    let json = if lookup::media_type_is(request, &[FORM]) {
        let fields = form::parse(request.body)?;
        let payload = fields
            .iter()
            .find(|(name, _)| name == "payload")
            .ok_or_else(|| {
                IngestError::InvalidBody(
                    "the form-encoded delivery has no `payload` field; GitHub puts the \
                     event's JSON there"
                        .to_owned(),
                )
            })?;
        lookup::json(payload.1.as_bytes())?
    } else {
        lookup::json(request.body)?
    };
    let event = header_text(request, EVENT)
        .ok_or_else(|| IngestError::EventTypeMissing(format!("header {EVENT}")))?;
    let delivery = header_text(request, DELIVERY)
        .ok_or_else(|| IngestError::EventIdMissing(format!("header {DELIVERY}")))?;
    let event_type = match json.get("action").and_then(Value::as_str) {
        Some(action) if !action.is_empty() => format!("{event}.{action}"),
        _ => event.to_owned(),
    };
    Ok(Extracted::whole(
        event_type,
        Some(delivery.to_owned()),
        delivery.to_owned(),
        Some(json),
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use hookd_signature::{Encoding, encode_signature, hmac_sha256};
    use serde_json::json;

    use super::{receive, verify};
    use crate::config::SecretsPreset;
    use crate::ingest::providers::test_vectors;
    use crate::ingest::providers::{Intake, Unverified};

    const SECRET: &str = "It's a Secret to Everybody";

    fn preset(secrets: &[&str]) -> SecretsPreset {
        SecretsPreset {
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn every_fixture_vector_verifies_or_is_rejected_as_expected() {
        let invalid = [
            ("gh-tampered-trailing-newline", "signature_mismatch"),
            ("gh-wrong-secret", "signature_mismatch"),
        ];
        let vectors = test_vectors::load("github.json");
        assert!(vectors.len() >= 4);
        for v in &vectors {
            let result = verify(&preset(&[&v.secret]), v.request()).map_err(|e| e.code());
            match invalid.iter().find(|(id, _)| *id == v.id) {
                Some((_, expected)) => assert_eq!(result, Err(*expected), "{}", v.id),
                None => {
                    assert!(
                        v.valid,
                        "{}: an invalid vector without an expectation",
                        v.id
                    );
                    assert_eq!(result, Ok(()), "{}", v.id);
                }
            }
        }
    }

    #[test]
    fn the_push_vector_is_a_push_event_keyed_by_its_delivery() {
        let vectors = test_vectors::load("github.json");
        let push = vectors
            .iter()
            .find(|v| v.id == "gh-push-with-new-branch")
            .expect("the push vector");
        let Ok(Intake::Events(events)) = receive(&preset(&[SECRET]), push.request()) else {
            panic!("the push vector is not accepted");
        };
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "push");
        assert_eq!(events[0].dedup_key, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(
            events[0].provider_event_id.as_deref(),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
        assert_eq!(events[0].body, None);
    }

    fn signed(body: &[u8], content_type: &str) -> HeaderMap {
        let mac = hmac_sha256(SECRET.as_bytes(), &[body]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(&encode_signature(&mac, Encoding::Hex, Some("sha256=")))
                .expect("ASCII"),
        );
        headers.insert("x-github-event", HeaderValue::from_static("pull_request"));
        headers.insert("x-github-delivery", HeaderValue::from_static("d-1"));
        headers.insert(
            "content-type",
            HeaderValue::from_str(content_type).expect("ASCII"),
        );
        headers
    }

    fn extract(body: &[u8], headers: &HeaderMap) -> Result<Intake, &'static str> {
        let request = Unverified {
            headers,
            body,
            query: None,
        };
        receive(&preset(&["old", SECRET]), request).map_err(|e| e.code())
    }

    #[test]
    fn the_action_is_appended_to_the_event_and_forms_carry_the_payload() {
        let payload = json!({"action": "opened", "number": 7});
        let body = payload.to_string().into_bytes();
        let Ok(Intake::Events(events)) = extract(&body, &signed(&body, "application/json")) else {
            panic!("JSON not accepted");
        };
        assert_eq!(events[0].event_type, "pull_request.opened");
        assert_eq!(events[0].json, Some(payload.clone()));

        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let headers = signed(form.as_bytes(), "application/x-www-form-urlencoded");
        let Ok(Intake::Events(events)) = extract(form.as_bytes(), &headers) else {
            panic!("the form not accepted");
        };
        assert_eq!(events[0].event_type, "pull_request.opened");
        assert_eq!(events[0].json, Some(payload));
        assert_eq!(events[0].body, None, "the form is forwarded as it came");
    }

    #[test]
    fn a_body_without_what_github_sends_is_400() {
        let form = b"other=1";
        let headers = signed(form, "application/x-www-form-urlencoded");
        assert_eq!(extract(form, &headers).err(), Some("invalid_body"));
        let form = b"payload=%7Bnot+json";
        let headers = signed(form, "application/x-www-form-urlencoded");
        assert_eq!(extract(form, &headers).err(), Some("invalid_json"));
        let body = b"{\"zen\":\"x\"}";
        let mut headers = signed(body, "application/json");
        headers.remove("x-github-delivery");
        assert_eq!(extract(body, &headers).err(), Some("event_id_missing"));
        let mut headers = signed(body, "application/json");
        headers.remove("x-github-event");
        assert_eq!(extract(body, &headers).err(), Some("event_type_missing"));
    }
}
