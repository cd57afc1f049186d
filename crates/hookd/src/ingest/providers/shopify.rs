//! `shopify`: Shopify app webhooks delivered over HTTPS.
//!
//! # Scheme
//!
//! `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the raw body>` under the app's client
//! secret, used as given. No timestamp is signed (`X-Shopify-Triggered-At` is not covered
//! by the HMAC), so replays are caught by dedup alone. After a secret is rotated Shopify
//! may sign with the old one for up to an hour: list both meanwhile.
//!
//! # Event
//!
//! Type: `X-Shopify-Topic` (`orders/create`, `products/update`). Provider id and dedup
//! key: `X-Shopify-Webhook-Id`, which Shopify keeps across retries. Occurred at:
//! `X-Shopify-Triggered-At` when it is RFC 3339. The body is JSON, or, for a subscription
//! created with `format: xml` (sent as `application/xml` or `text/xml`), kept as bytes
//! that routing does not read.

use super::lookup::{self, header_text, signature_header};
use super::{Extracted, Intake, Unverified};
use crate::clock::rfc3339;
use crate::config::SecretsPreset;
use crate::ingest::error::IngestError;

const SIGNATURE: &str = "x-shopify-hmac-sha256";
const TOPIC: &str = "x-shopify-topic";
const WEBHOOK_ID: &str = "x-shopify-webhook-id";
const TRIGGERED_AT: &str = "x-shopify-triggered-at";

/// Verifies a Shopify delivery and extracts its one event.
pub(super) fn receive(
    preset: &SecretsPreset,
    request: Unverified<'_>,
) -> Result<Intake, IngestError> {
    verify(preset, request)?;
    extract(request).map(|event| Intake::Events(vec![event]))
}

/// Checks `X-Shopify-Hmac-Sha256` against the raw body.
fn verify(preset: &SecretsPreset, request: Unverified<'_>) -> Result<(), IngestError> {
    let signature = signature_header(request, SIGNATURE)?;
    hookd_signature::verify_hmac_sha256(
        &preset.secrets,
        &[request.body],
        signature,
        hookd_signature::Encoding::Base64,
        None,
    )
    .map_err(|e| IngestError::from_signature(SIGNATURE, &e))
}

/// The event of a verified delivery.
fn extract(request: Unverified<'_>) -> Result<Extracted, IngestError> {
    let json = if lookup::media_type_is(request, &["application/xml", "text/xml"]) {
        None
    } else {
        Some(lookup::json(request.body)?)
    };
    let topic = header_text(request, TOPIC)
        .ok_or_else(|| IngestError::EventTypeMissing(format!("header {TOPIC}")))?;
    let id = header_text(request, WEBHOOK_ID)
        .ok_or_else(|| IngestError::EventIdMissing(format!("header {WEBHOOK_ID}")))?;
    let mut event = Extracted::whole(topic.to_owned(), Some(id.to_owned()), id.to_owned(), json);
    event.occurred_at = header_text(request, TRIGGERED_AT).and_then(rfc3339::parse_millis);
    Ok(event)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::receive;
    use crate::config::SecretsPreset;
    use crate::ingest::providers::test_vectors;
    use crate::ingest::providers::{Intake, Unverified};

    fn preset(secrets: &[&str]) -> SecretsPreset {
        SecretsPreset {
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn every_fixture_vector_has_its_expected_outcome() {
        let invalid = [("shopify-hex-instead-of-base64", "signature_malformed")];
        let vectors = test_vectors::load("shopify.json");
        assert!(vectors.len() >= 2);
        for v in &vectors {
            let result = receive(&preset(&["retired", &v.secret]), v.request());
            match invalid.iter().find(|(id, _)| *id == v.id) {
                Some((_, expected)) => {
                    assert_eq!(
                        result.map_err(|e| e.code()).err(),
                        Some(*expected),
                        "{}",
                        v.id
                    );
                }
                None => {
                    assert!(
                        v.valid,
                        "{}: an invalid vector without an expectation",
                        v.id
                    );
                    let Ok(Intake::Events(events)) = result else {
                        panic!("{}: {result:?}", v.id);
                    };
                    assert_eq!(events[0].event_type, "products/update");
                    assert_eq!(events[0].dedup_key, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
                    assert_eq!(events[0].occurred_at, Some(1_745_350_200_000));
                    assert_eq!(
                        events[0].json.as_ref().map(|j| &j["title"]),
                        Some(&"T-Shirt".into())
                    );
                }
            }
        }
    }

    #[test]
    fn xml_bodies_are_kept_raw_and_missing_headers_are_400() {
        let vectors = test_vectors::load("shopify.json");
        let v = vectors
            .into_iter()
            .find(|v| v.valid)
            .expect("a valid vector");
        let mut headers = v.headers.clone();
        headers.insert("content-type", HeaderValue::from_static("application/xml"));
        let body = b"<product><id>1</id></product>";
        let mac = hookd_signature::hmac_sha256(v.secret.as_bytes(), &[body]);
        let signature =
            hookd_signature::encode_signature(&mac, hookd_signature::Encoding::Base64, None);
        headers.insert(
            "x-shopify-hmac-sha256",
            HeaderValue::from_str(&signature).expect("ASCII"),
        );
        let request = |headers: &HeaderMap| -> Result<Intake, &'static str> {
            let request = Unverified {
                headers,
                body,
                query: None,
            };
            receive(&preset(&[&v.secret]), request).map_err(|e| e.code())
        };
        let Ok(Intake::Events(events)) = request(&headers) else {
            panic!("XML not accepted");
        };
        assert_eq!(events[0].json, None);

        for (header, code) in [
            ("x-shopify-topic", "event_type_missing"),
            ("x-shopify-webhook-id", "event_id_missing"),
        ] {
            let mut without = headers.clone();
            without.remove(header);
            assert_eq!(request(&without).err(), Some(code), "{header}");
        }
    }
}
