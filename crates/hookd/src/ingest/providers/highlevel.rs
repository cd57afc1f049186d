//! `highlevel`: HighLevel (GoHighLevel) marketplace webhooks, signed with HighLevel's
//! private keys and verified with public keys.
//!
//! Verification follows HighLevel's SDK: when `x-ghl-signature` is present it is checked
//! (Ed25519 over the raw body) and decides alone: a wrong one is never rescued by a valid
//! `x-wh-signature`, so an attacker who holds an old RSA-signed request cannot downgrade a
//! new one. Only when it is absent is the legacy `x-wh-signature` (RSA PKCS#1 v1.5 with
//! SHA-256 over the raw body) checked. HighLevel writes `N/A` in a signature header it
//! does not sign; that, an empty value and an absent header all count as missing.
//!
//! One delivery is one event: its type is the body's `type`, its dedup key the body's
//! `webhookId` (or the SHA-256 of the body when there is none), and it occurred at the
//! body's ISO-8601 `timestamp` when there is one.
//!
//! The body's `timestamp` is not checked against a window, although HighLevel's docs
//! suggest one of 5 minutes: it is absent from most events, HighLevel's own retries
//! (after a 429, every 10 minutes for about an hour) would fall outside it, and a replayed
//! delivery is already answered as a duplicate by its `webhookId` within the source's
//! `dedup_window`.

use hookd_signature::highlevel;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Extracted, Intake, Unverified};
use crate::clock::rfc3339;
use crate::config::HighLevelPreset;
use crate::ingest::error::IngestError;

/// The current header: base64 Ed25519 signature of the raw body.
const ED25519_HEADER: &str = "x-ghl-signature";
/// The legacy header: base64 RSA-SHA256 (PKCS#1 v1.5) signature of the raw body.
const RSA_HEADER: &str = "x-wh-signature";
/// What HighLevel writes in a signature header it leaves unsigned.
const NOT_SIGNED: &str = "N/A";
/// The type of an event whose body has no top-level `type` text (several of HighLevel's
/// documented events: Invoice*, Product*, Record*, Relation*, Association*,
/// ObjectSchema*). Such an event is genuine, so it is stored rather than refused:
/// HighLevel does not retry a 4xx, and the event would be lost.
const UNTYPED: &str = "unknown";

/// Verifies `request` and extracts its one event.
pub(super) fn receive(
    preset: &HighLevelPreset,
    request: Unverified<'_>,
) -> Result<Intake, IngestError> {
    verify(preset, request)?;
    let json = serde_json::from_slice::<Value>(request.body)
        .map_err(|e| IngestError::InvalidJson(e.to_string()))?;
    Ok(Intake::Events(vec![extract(request.body, json)]))
}

/// Checks `x-ghl-signature` when present, else `x-wh-signature`, against every key
/// configured for that scheme.
fn verify(preset: &HighLevelPreset, request: Unverified<'_>) -> Result<(), IngestError> {
    if let Some(signature) = signature(request, ED25519_HEADER)? {
        return highlevel::verify_ed25519(&preset.ed25519, request.body, signature)
            .map_err(|e| IngestError::from_signature(ED25519_HEADER, &e));
    }
    if let Some(signature) = signature(request, RSA_HEADER)? {
        return highlevel::verify_rsa(&preset.rsa, request.body, signature)
            .map_err(|e| IngestError::from_signature(RSA_HEADER, &e));
    }
    Err(IngestError::SignatureMissing {
        header: format!("{ED25519_HEADER} or {RSA_HEADER}"),
    })
}

/// The signature in header `name`; `None` when it is absent, empty or `N/A`. A value that
/// is not text is present but malformed (so it does not let the RSA header decide).
fn signature<'a>(request: Unverified<'a>, name: &str) -> Result<Option<&'a str>, IngestError> {
    let Some(value) = request.headers.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| IngestError::SignatureMalformed {
            header: name.to_owned(),
            reason: "the value is not ASCII text".to_owned(),
        })?
        .trim();
    Ok((!text.is_empty() && text != NOT_SIGNED).then_some(text))
}

/// The event of a verified body.
fn extract(body: &[u8], json: Value) -> Extracted {
    let event_type = match json.get("type") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => UNTYPED.to_owned(),
    };
    let webhook_id = match json.get("webhookId") {
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    let dedup_key = webhook_id
        .clone()
        .unwrap_or_else(|| hex::encode(Sha256::digest(body)));
    let occurred_at = json
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(rfc3339::parse_millis);
    let mut event = Extracted::whole(event_type, webhook_id, dedup_key, Some(json));
    event.occurred_at = occurred_at;
    event
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use hookd_signature::highlevel::{Ed25519Key, RsaKey, sign_ed25519};
    use serde_json::json;

    use super::*;

    /// RFC 8410 section 10.3: an Ed25519 private key, standing in for HighLevel's.
    const PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
";

    fn preset() -> HighLevelPreset {
        let public = highlevel::ed25519_public_key_pem(PRIVATE_PEM).unwrap();
        HighLevelPreset {
            ed25519: vec![Ed25519Key::from_pem(&public).unwrap()],
            rsa: vec![RsaKey::from_pem(highlevel::PUBLISHED_RSA_PEM).unwrap()],
        }
    }

    fn run(body: &[u8], headers: &[(&'static str, &str)]) -> Result<Intake, IngestError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        let request = Unverified {
            headers: &map,
            body,
            query: None,
        };
        receive(&preset(), request)
    }

    fn one(intake: Intake) -> Extracted {
        match intake {
            Intake::Events(mut events) if events.len() == 1 => events.remove(0),
            other => panic!("expected one event, got {other:?}"),
        }
    }

    #[test]
    fn a_signed_event_yields_its_type_webhook_id_and_timestamp() {
        let body =
            br#"{"type":"ContactCreate","webhookId":"w-1","timestamp":"2025-01-28T14:35:00.000Z"}"#;
        let signature = sign_ed25519(PRIVATE_PEM, body).unwrap();
        let event = one(run(body, &[(ED25519_HEADER, &signature)]).unwrap());
        assert_eq!(event.event_type, "ContactCreate");
        assert_eq!(event.provider_event_id.as_deref(), Some("w-1"));
        assert_eq!(event.dedup_key, "w-1");
        assert_eq!(event.occurred_at, Some(1_738_074_900_000));
        assert_eq!(event.json, Some(serde_json::from_slice(body).unwrap()));
        assert_eq!(event.body, None);
    }

    #[test]
    fn without_webhook_id_the_dedup_key_is_the_body_hash_and_without_type_unknown() {
        let body = br#"{"_id":"655b33a82209e60b6adb87a5","status":"paid"}"#;
        let signature = sign_ed25519(PRIVATE_PEM, body).unwrap();
        let event = one(run(body, &[(ED25519_HEADER, &signature)]).unwrap());
        assert_eq!(event.event_type, UNTYPED);
        assert_eq!(event.provider_event_id, None);
        assert_eq!(event.dedup_key, hex::encode(Sha256::digest(body)));
        assert_eq!(event.occurred_at, None);
    }

    #[test]
    fn not_available_and_empty_count_as_missing() {
        for value in [NOT_SIGNED, ""] {
            let err = run(b"{}", &[(ED25519_HEADER, value), (RSA_HEADER, value)]).unwrap_err();
            assert_eq!(err.code(), "signature_missing", "{value:?}");
            assert!(err.to_string().contains(ED25519_HEADER), "{err}");
            assert!(err.to_string().contains(RSA_HEADER), "{err}");
        }
    }

    #[test]
    fn the_rsa_header_is_read_only_when_ed25519_is_missing() {
        let body = br#"{"type":"INSTALL"}"#;
        let signature = sign_ed25519(PRIVATE_PEM, body).unwrap();
        assert!(
            run(
                body,
                &[(ED25519_HEADER, &signature), (RSA_HEADER, NOT_SIGNED)]
            )
            .is_ok()
        );
        // RSA is checked when Ed25519 is N/A; this garbage then decides.
        let err = run(body, &[(ED25519_HEADER, NOT_SIGNED), (RSA_HEADER, "@@")]).unwrap_err();
        assert_eq!(err.code(), "signature_malformed");
        assert!(err.to_string().contains(RSA_HEADER), "{err}");
    }

    #[test]
    fn a_verified_body_that_is_not_json_is_invalid_json() {
        let body = b"not json";
        let signature = sign_ed25519(PRIVATE_PEM, body).unwrap();
        let err = run(body, &[(ED25519_HEADER, &signature)]).unwrap_err();
        assert_eq!(err.code(), "invalid_json");
    }

    #[test]
    fn a_timestamp_that_is_not_rfc3339_leaves_occurred_at_empty() {
        let value = json!({"type": "NoteCreate", "timestamp": 1_738_074_900});
        let event = extract(b"{}", value);
        assert_eq!(event.occurred_at, None);
    }
}
