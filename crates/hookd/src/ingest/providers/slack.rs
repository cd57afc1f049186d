//! `slack`: Slack's signed requests (Events API, slash commands, interactivity), and the
//! Events API's `url_verification` handshake.
//!
//! # Verification
//!
//! `X-Slack-Signature: v0=<hex>` is HMAC-SHA256 with the app's signing secret (its raw
//! bytes) over `v0:{X-Slack-Request-Timestamp}:{raw body}`. The `v0=` prefix must be
//! exactly that; the timestamp (unix seconds) must lie within the source's `tolerance`
//! (default 5 minutes) either way, as Slack's SDKs require. The raw bytes are verified
//! before anything is parsed, the handshake included, since Slack signs it too.
//!
//! # What a verified request becomes
//!
//! The body is form-encoded when `Content-Type` says so (or, without a usable
//! `Content-Type`, when it does not start with `{`), JSON otherwise.
//!
//! | body | answer / type | dedup key | routing JSON |
//! |---|---|---|---|
//! | JSON `type = url_verification` | 200 `{"challenge": …}`, nothing stored | | |
//! | JSON `type = event_callback` | `slack.<event.type>` (`slack.message`, `slack.app_mention`) | `event_id` | the body |
//! | JSON, any other `type` (`app_rate_limited`) | `slack.<type>` | `event_id`, else SHA-256 of the body | the body |
//! | form with `payload` (interactivity) | `slack.<payload.type>` (`slack.block_actions`, `slack.view_submission`) | SHA-256 of the body | the parsed `payload` |
//! | form with `command` (slash command) | `slack.command` | SHA-256 of the body | the form's fields, flat |
//! | form with `ssl_check` | 200, nothing stored | | |
//!
//! A retry (`X-Slack-Retry-Num`) carries the same body, so the dedup key recognises it.
//! `event_time` of an `event_callback` becomes the event's `occurred_at`.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{Extracted, Intake, Reply, Unverified, form, lookup};
use crate::config::TimedPreset;
use crate::ingest::error::IngestError;

const SIGNATURE_HEADER: &str = "x-slack-signature";
const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
const PREFIX: &str = "v0=";
const VERSION: &[u8] = b"v0";

/// Verifies a request to a `slack` source and finds the event in it, or the handshake it
/// asks for.
pub(super) fn receive(
    preset: &TimedPreset,
    request: Unverified<'_>,
    now_secs: i64,
) -> Result<Intake, IngestError> {
    verify(preset, request, now_secs)?;
    if is_form(request) {
        from_form(request.body)
    } else {
        from_json(request.body)
    }
}

/// Checks the timestamp, then the signature, of the raw request.
fn verify(preset: &TimedPreset, request: Unverified<'_>, now_secs: i64) -> Result<(), IngestError> {
    let signature = lookup::signature_header(request, SIGNATURE_HEADER)?;
    let timestamp = lookup::header_text(request, TIMESTAMP_HEADER)
        .ok_or_else(|| IngestError::timestamp_header_missing(TIMESTAMP_HEADER))?;
    let secs = hookd_signature::parse_unix_timestamp(timestamp)
        .map_err(|e| IngestError::from_signature(TIMESTAMP_HEADER, &e))?;
    hookd_signature::check_timestamp(secs, now_secs, preset.tolerance.as_secs())
        .map_err(|e| IngestError::from_signature(TIMESTAMP_HEADER, &e))?;
    hookd_signature::verify_hmac_sha256(
        &preset.secrets,
        &[VERSION, b":", timestamp.as_bytes(), b":", request.body],
        signature,
        hookd_signature::Encoding::Hex,
        Some(PREFIX),
    )
    .map_err(|e| IngestError::from_signature(SIGNATURE_HEADER, &e))
}

/// Whether the body is form-encoded: by `Content-Type`, else by its first byte.
fn is_form(request: Unverified<'_>) -> bool {
    if lookup::media_type_is(request, &["application/x-www-form-urlencoded"]) {
        true
    } else if lookup::media_type_is(request, &["application/json"]) {
        false
    } else {
        request.body.trim_ascii_start().first() != Some(&b'{')
    }
}

/// An Events API delivery, or its `url_verification` handshake.
fn from_json(body: &[u8]) -> Result<Intake, IngestError> {
    let json = lookup::json(body)?;
    let kind = form::text(&json, "type")
        .ok_or_else(|| IngestError::EventTypeMissing("JSON pointer /type".to_owned()))?;
    match kind {
        "url_verification" => {
            let challenge = form::text(&json, "challenge").ok_or_else(|| {
                IngestError::InvalidBody(
                    "a url_verification request carries its challenge at /challenge".to_owned(),
                )
            })?;
            Ok(Intake::Reply(Reply {
                content_type: "application/json",
                body: json!({ "challenge": challenge }).to_string(),
            }))
        }
        "event_callback" => {
            let inner = json
                .pointer("/event/type")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    IngestError::EventTypeMissing("JSON pointer /event/type".to_owned())
                })?;
            let event_id = form::text(&json, "event_id")
                .ok_or_else(|| IngestError::EventIdMissing("JSON pointer /event_id".to_owned()))?
                .to_owned();
            let occurred_at = json
                .get("event_time")
                .and_then(Value::as_i64)
                .and_then(|secs| secs.checked_mul(1000));
            let event_type = format!("slack.{inner}");
            let mut event =
                Extracted::whole(event_type, Some(event_id.clone()), event_id, Some(json));
            event.occurred_at = occurred_at;
            Ok(Intake::Events(vec![event]))
        }
        other => {
            let event_type = format!("slack.{other}");
            let event_id = form::text(&json, "event_id").map(ToOwned::to_owned);
            let dedup_key = event_id.clone().unwrap_or_else(|| body_hash(body));
            Ok(Intake::Events(vec![Extracted::whole(
                event_type,
                event_id,
                dedup_key,
                Some(json),
            )]))
        }
    }
}

/// A slash command, an interactivity payload, or an SSL check.
fn from_form(body: &[u8]) -> Result<Intake, IngestError> {
    let fields = form::object(&form::parse(body)?);
    let event = if let Some(payload) = form::text(&fields, "payload") {
        let payload: Value = serde_json::from_str(payload)
            .map_err(|e| IngestError::InvalidJson(format!("in the payload field: {e}")))?;
        let kind = form::text(&payload, "type").ok_or_else(|| {
            IngestError::EventTypeMissing("JSON pointer /type of the payload field".to_owned())
        })?;
        let event_type = format!("slack.{kind}");
        Extracted::whole(event_type, None, body_hash(body), Some(payload))
    } else if form::text(&fields, "command").is_some() {
        Extracted::whole(
            "slack.command".to_owned(),
            None,
            body_hash(body),
            Some(fields),
        )
    } else if fields.get("ssl_check").is_some() {
        // Slack checks the certificate of a slash command's URL with this; it wants a 200.
        return Ok(Intake::Reply(Reply {
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
        }));
    } else {
        return Err(IngestError::InvalidBody(
            "a Slack form carries `command` (a slash command) or `payload` (interactivity)"
                .to_owned(),
        ));
    };
    Ok(Intake::Events(vec![event]))
}

fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderName, HeaderValue};
    use hookd_signature::{Encoding, encode_signature, hmac_sha256};
    use serde_json::{Value, json};

    use super::receive;
    use crate::config::TimedPreset;
    use crate::ingest::providers::{Intake, Reply, Unverified, test_vectors};

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

    /// Request headers, the clock, and the code of the rejection expected.
    type Case<'a> = (&'a [(&'a str, &'a str)], i64, &'a str);
    const NOW: i64 = 1_531_420_618;

    fn preset(secrets: &[&str]) -> TimedPreset {
        TimedPreset {
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            tolerance: Duration::from_secs(300),
        }
    }

    fn headers(list: &[(&str, &str)]) -> HeaderMap {
        list.iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                    HeaderValue::from_str(value).expect("a header value"),
                )
            })
            .collect()
    }

    fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
        let mac = hmac_sha256(
            secret.as_bytes(),
            &[b"v0:", timestamp.as_bytes(), b":", body],
        );
        encode_signature(&mac, Encoding::Hex, Some("v0="))
    }

    /// Runs the preset on `body` signed with `SECRET` at `NOW`, with `content_type` if any.
    fn run(body: &[u8], content_type: Option<&str>) -> Result<Intake, String> {
        let ts = NOW.to_string();
        let sig = signature(SECRET, &ts, body);
        let mut list = vec![
            ("x-slack-request-timestamp", ts.as_str()),
            ("x-slack-signature", sig.as_str()),
        ];
        if let Some(content_type) = content_type {
            list.push(("content-type", content_type));
        }
        let headers = headers(&list);
        let request = Unverified {
            headers: &headers,
            body,
            query: None,
        };
        receive(&preset(&[SECRET]), request, NOW).map_err(|e| e.code().to_owned())
    }

    fn one_event(intake: Result<Intake, String>) -> super::Extracted {
        match intake {
            Ok(Intake::Events(mut events)) if events.len() == 1 => events.remove(0),
            other => panic!("expected one event, got {other:?}"),
        }
    }

    /// Every vector of `tests/fixtures/slack.json` at its own `verify_at_unix`, through
    /// the preset as a request with the vector's headers; each vector's
    /// `expected_signature` is the HMAC of its body.
    #[test]
    fn fixture_vectors() {
        let path = format!("{}/tests/fixtures/slack.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let fixture: Value = serde_json::from_str(&text).expect("the fixture is JSON");
        let vectors = test_vectors::load("slack.json");
        assert_eq!(vectors.len(), 4, "every vector is checked below");
        for (v, raw) in vectors
            .iter()
            .zip(fixture["vectors"].as_array().expect("vectors"))
        {
            let id = v.id.as_str();
            let timestamp = v.headers["x-slack-request-timestamp"]
                .to_str()
                .expect("ascii");
            assert_eq!(
                Some(signature(&v.secret, timestamp, &v.body).as_str()),
                raw["expected_signature"].as_str(),
                "{id}: the HMAC of the vector's body"
            );
            let result = receive(&preset(&[&v.secret]), v.request(), v.now);
            match id {
                "slack-docs-official" => {
                    assert!(v.valid);
                    let event = one_event(result.map_err(|e| e.code().to_owned()));
                    assert_eq!(event.event_type, "slack.command", "{id}");
                    assert_eq!(event.json.as_ref().unwrap()["command"], "/webhook-collect");
                    assert_eq!(event.dedup_key, raw["body_sha256"].as_str().unwrap());
                }
                "slack-docs-old-body-variant" => {
                    assert!(!v.valid);
                    let error = result.expect_err("the published signature is not its HMAC");
                    assert_eq!(error.code(), "signature_mismatch", "{id}");
                }
                "slack-url-verification" | "slack-retry-headers" => {
                    assert!(v.valid);
                    let sent: Value = serde_json::from_slice(&v.body).expect("JSON");
                    let challenge = sent["challenge"].as_str().expect("a challenge");
                    if let Some(expected) = raw["expected_response"]["body"].as_str() {
                        assert_eq!(challenge, expected, "{id}");
                    }
                    assert_eq!(
                        result.expect("verified"),
                        Intake::Reply(Reply {
                            content_type: "application/json",
                            body: json!({ "challenge": challenge }).to_string(),
                        }),
                        "{id}"
                    );
                }
                other => panic!("unknown vector {other}"),
            }
        }
    }

    #[test]
    fn event_callback_is_typed_by_its_inner_event_and_deduped_on_event_id() {
        let body = json!({
            "type": "event_callback",
            "event_id": "Ev0PV52K25",
            "event_time": 1_531_420_600,
            "event": {"type": "app_mention", "text": "<@U0LAN0Z89> hi"}
        })
        .to_string();
        let event = one_event(run(body.as_bytes(), Some("application/json")));
        assert_eq!(event.event_type, "slack.app_mention");
        assert_eq!(event.dedup_key, "Ev0PV52K25");
        assert_eq!(event.provider_event_id.as_deref(), Some("Ev0PV52K25"));
        assert_eq!(event.occurred_at, Some(1_531_420_600_000));
        assert_eq!(event.body, None, "the request body is kept");
    }

    #[test]
    fn event_callback_without_its_fields_is_400() {
        let no_inner = json!({"type": "event_callback", "event_id": "Ev1", "event": {}});
        let no_id = json!({"type": "event_callback", "event": {"type": "message"}});
        let no_type = json!({"event_id": "Ev1"});
        for (body, code) in [
            (no_inner, "event_type_missing"),
            (no_id, "event_id_missing"),
            (no_type, "event_type_missing"),
        ] {
            let got = run(body.to_string().as_bytes(), None).expect_err("rejected");
            assert_eq!(got, code, "{body}");
        }
        let got = run(b"{not json", Some("application/json")).expect_err("rejected");
        assert_eq!(got, "invalid_json");
    }

    #[test]
    fn other_json_types_are_prefixed_and_deduped_on_the_body() {
        let body = br#"{"token":"x","type":"app_rate_limited","team_id":"T1","minute_rate_limited":1518467820}"#;
        let event = one_event(run(body, None));
        assert_eq!(event.event_type, "slack.app_rate_limited");
        assert_eq!(event.dedup_key.len(), 64);
        assert_eq!(event.provider_event_id, None);
    }

    #[test]
    fn interactivity_payload_is_typed_by_the_payload_and_routed_on_it() {
        let payload = json!({"type": "block_actions", "user": {"id": "U1"}, "actions": []});
        let body = format!(
            "payload={}",
            payload
                .to_string()
                .replace('%', "%25")
                .replace('&', "%26")
                .replace('+', "%2B")
                .replace(' ', "+")
        );
        let event = one_event(run(
            body.as_bytes(),
            Some("application/x-www-form-urlencoded"),
        ));
        assert_eq!(event.event_type, "slack.block_actions");
        assert_eq!(event.json, Some(payload));
        assert_eq!(event.dedup_key.len(), 64);

        let broken = run(b"payload=%7Bnope", None).expect_err("not JSON");
        assert_eq!(broken, "invalid_json");
        let untyped = run(b"payload=%7B%7D", None).expect_err("no type");
        assert_eq!(untyped, "event_type_missing");
    }

    #[test]
    fn ssl_check_is_answered_and_other_forms_are_400() {
        assert!(matches!(
            run(b"ssl_check=1&token=x", None),
            Ok(Intake::Reply(_))
        ));
        assert_eq!(
            run(b"token=x&team_id=T1", None).expect_err("neither command nor payload"),
            "invalid_body"
        );
        assert_eq!(
            run(b"command=%FF", None).expect_err("not UTF-8"),
            "invalid_form"
        );
    }

    #[test]
    fn body_format_follows_content_type_then_the_first_byte() {
        let command = b"command=%2Fdeploy&text=now";
        assert!(
            run(
                command,
                Some("application/x-www-form-urlencoded; charset=utf-8")
            )
            .is_ok()
        );
        assert_eq!(
            run(command, Some("application/json")).expect_err("read as JSON"),
            "invalid_json"
        );
        let json = br#" {"type":"url_verification","challenge":"c"}"#;
        assert!(matches!(
            run(json, Some("text/plain")),
            Ok(Intake::Reply(_))
        ));
    }

    #[test]
    fn signature_and_timestamp_problems_have_their_codes() {
        let body = br#"{"type":"url_verification","challenge":"c"}"#;
        let ts = NOW.to_string();
        let good = signature(SECRET, &ts, body);
        let upper_prefix = good.replacen("v0=", "V0=", 1);
        let v1 = good.replacen("v0=", "v1=", 1);
        let cases: [Case<'_>; 8] = [
            (
                &[("x-slack-request-timestamp", &ts)],
                NOW,
                "signature_missing",
            ),
            (&[("x-slack-signature", &good)], NOW, "timestamp_missing"),
            (
                &[
                    ("x-slack-signature", &good),
                    ("x-slack-request-timestamp", "1.5"),
                ],
                NOW,
                "timestamp_invalid",
            ),
            (
                &[
                    ("x-slack-signature", &good),
                    ("x-slack-request-timestamp", &ts),
                ],
                NOW + 301,
                "timestamp_out_of_tolerance",
            ),
            (
                &[
                    ("x-slack-signature", &good),
                    ("x-slack-request-timestamp", &ts),
                ],
                NOW - 301,
                "timestamp_out_of_tolerance",
            ),
            (
                &[
                    ("x-slack-signature", &upper_prefix),
                    ("x-slack-request-timestamp", &ts),
                ],
                NOW,
                "signature_malformed",
            ),
            (
                &[
                    ("x-slack-signature", &v1),
                    ("x-slack-request-timestamp", &ts),
                ],
                NOW,
                "signature_malformed",
            ),
            (
                &[
                    ("x-slack-signature", "v0=abc"),
                    ("x-slack-request-timestamp", &ts),
                ],
                NOW,
                "signature_malformed",
            ),
        ];
        for (list, now, code) in cases {
            let headers = headers(list);
            let request = Unverified {
                headers: &headers,
                body,
                query: None,
            };
            let error = receive(&preset(&[SECRET]), request, now).expect_err(code);
            assert_eq!(error.code(), code, "{list:?} at {now}");
        }
        // At the edge of the tolerance, either way, the request is good.
        for now in [NOW - 300, NOW + 300] {
            let headers = headers(&[
                ("x-slack-signature", &good),
                ("x-slack-request-timestamp", &ts),
            ]);
            let request = Unverified {
                headers: &headers,
                body,
                query: None,
            };
            assert!(receive(&preset(&[SECRET]), request, now).is_ok());
        }
    }

    #[test]
    fn rotation_accepts_either_secret() {
        let body = br#"{"type":"url_verification","challenge":"c"}"#;
        let ts = NOW.to_string();
        for signing in ["old-secret", "new-secret"] {
            let sig = signature(signing, &ts, body);
            let headers = headers(&[
                ("x-slack-signature", &sig),
                ("x-slack-request-timestamp", &ts),
            ]);
            let request = Unverified {
                headers: &headers,
                body,
                query: None,
            };
            assert!(receive(&preset(&["old-secret", "new-secret"]), request, NOW).is_ok());
            let error = receive(&preset(&["new-secret-2"]), request, NOW).expect_err("old");
            assert_eq!(error.code(), "signature_mismatch");
        }
    }
}
