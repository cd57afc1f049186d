//! `twilio`: Twilio's `X-Twilio-Signature` on messaging and voice webhooks (status
//! callbacks above all), form-encoded or JSON.
//!
//! # Verification
//!
//! The signature covers the URL Twilio called, which the gateway cannot see behind a
//! proxy, so the source names it: `public_url`. The signed URL is `public_url` without its
//! query and fragment, followed by the request's own query string exactly as received
//! (`?…`, when there is one). Then (see `hookd_signature::twilio`):
//! - a request whose query has `bodySHA256` (a JSON body): the signature covers the URL
//!   alone, and the SHA-256 of the raw body must equal that parameter;
//! - any other request: the body is read as a form and its decoded parameters, sorted,
//!   are appended. Twilio's scheme signs parsed values, so this is the one preset that
//!   parses before verifying; the parse fails only on bytes that are not UTF-8.
//!
//! The URL is tried with and without its port, as Twilio's own libraries do. Twilio
//! signs no timestamp: a captured request can be replayed, and only the dedup key below
//! recognises it within the dedup window.
//!
//! # What a verified request becomes
//!
//! One event. Routing reads the form's fields as a flat JSON object
//! (`match = { "/MessageStatus" = "delivered" }`), or the JSON body.
//! - Type: `twilio.` + the first non-empty of `MessageStatus`, `CallStatus`, `SmsStatus`,
//!   as sent (`twilio.delivered`, `twilio.completed`, `twilio.received`); `twilio.request`
//!   when none is there.
//! - Provider event id: the first non-empty of `MessageSid`, `CallSid`, `SmsSid`.
//! - Dedup key: `{Sid}:{status}` (`SM…:delivered`) when both are there, so each status
//!   transition of a message or call is stored once, however often it is sent. Otherwise
//!   the SHA-256 of the body: a Sid alone would make every later callback of that call
//!   (a second recording, a conference event) a duplicate of the first.

use hookd_signature::twilio;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::{Extracted, Intake, Unverified, form, lookup};
use crate::config::TwilioPreset;
use crate::ingest::error::IngestError;

const SIGNATURE_HEADER: &str = "x-twilio-signature";
const STATUS_FIELDS: [&str; 3] = ["MessageStatus", "CallStatus", "SmsStatus"];
const SID_FIELDS: [&str; 3] = ["MessageSid", "CallSid", "SmsSid"];

/// Verifies a request to a `twilio` source and finds the event in it.
pub(super) fn receive(
    preset: &TwilioPreset,
    request: Unverified<'_>,
) -> Result<Intake, IngestError> {
    let signature = lookup::signature_header(request, SIGNATURE_HEADER)?;
    let url = signed_url(&preset.public_url, request.query);
    let rejected =
        |e: hookd_signature::SignatureError| IngestError::from_signature(SIGNATURE_HEADER, &e);

    let json_body = request
        .query
        .is_some_and(|query| twilio::body_sha256_param(query).is_some());
    let fields = if json_body {
        twilio::verify_body(&preset.secrets, &url, request.body, signature).map_err(rejected)?;
        lookup::json(request.body)?
    } else {
        let params = form::parse(request.body)?;
        twilio::verify(&preset.secrets, &url, &params, signature).map_err(rejected)?;
        form::object(&params)
    };
    Ok(Intake::Events(vec![classify(fields, request.body)]))
}

/// The URL Twilio signed: `public_url`'s scheme, host, port and path, and the query the
/// request arrived with.
fn signed_url(public_url: &reqwest::Url, query: Option<&str>) -> String {
    let mut base = public_url.clone();
    base.set_query(None);
    base.set_fragment(None);
    match query {
        Some(query) => format!("{base}?{query}"),
        None => base.into(),
    }
}

/// Type, id and dedup key of a verified request's fields.
fn classify(fields: Value, body: &[u8]) -> Extracted {
    let first = |names: &[&str]| names.iter().find_map(|name| form::text(&fields, name));
    let status = first(&STATUS_FIELDS).map(ToOwned::to_owned);
    let sid = first(&SID_FIELDS).map(ToOwned::to_owned);
    let event_type = status
        .as_deref()
        .map_or_else(|| "twilio.request".to_owned(), |s| format!("twilio.{s}"));
    let dedup_key = match (&sid, &status) {
        (Some(sid), Some(status)) => format!("{sid}:{status}"),
        _ => hex::encode(Sha256::digest(body)),
    };
    Extracted::whole(event_type, sid, dedup_key, Some(fields))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use hookd_signature::twilio::{body_sha256, sign};
    use serde_json::json;

    use super::{receive, signed_url};
    use crate::config::TwilioPreset;
    use crate::ingest::providers::{Extracted, Intake, Unverified, form};

    const TOKEN: &str = "12345";

    fn preset(public_url: &str, tokens: &[&str]) -> TwilioPreset {
        TwilioPreset {
            secrets: tokens.iter().map(|t| (*t).to_owned()).collect(),
            public_url: public_url.parse().expect("a URL"),
        }
    }

    fn run(
        preset: &TwilioPreset,
        query: Option<&str>,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Extracted, String> {
        let mut headers = HeaderMap::new();
        if let Some(signature) = signature {
            headers.insert(
                "x-twilio-signature",
                HeaderValue::from_str(signature).expect("a header value"),
            );
        }
        let request = Unverified {
            headers: &headers,
            body,
            query,
        };
        match receive(preset, request).map_err(|e| e.code().to_owned())? {
            Intake::Events(mut events) if events.len() == 1 => Ok(events.remove(0)),
            other => panic!("expected one event, got {other:?}"),
        }
    }

    /// Signs `body` (a form) for a request to `url` the way Twilio does.
    fn sign_form(token: &str, url: &str, body: &[u8]) -> String {
        sign(token, url, &form::parse(body).expect("a form"))
    }

    #[test]
    fn signed_url_takes_the_request_query_and_drops_the_fragment() {
        let url = |public: &str, query| signed_url(&public.parse().expect("a URL"), query);
        assert_eq!(
            url("https://hooks.example.com/in/tw", Some("a=1&b=%20")),
            "https://hooks.example.com/in/tw?a=1&b=%20"
        );
        assert_eq!(
            url("https://hooks.example.com/in/tw?stale=1#rc=3", None),
            "https://hooks.example.com/in/tw"
        );
        assert_eq!(
            url("https://hooks.example.com/in/tw", Some("")),
            "https://hooks.example.com/in/tw?"
        );
    }

    #[test]
    fn a_message_status_callback_is_typed_and_deduped_on_sid_and_status() {
        let preset = preset("https://hooks.example.com/in/tw", &[TOKEN]);
        let body = b"MessageSid=SM123&SmsSid=SM123&MessageStatus=delivered&SmsStatus=delivered&To=%2B15550001111";
        let signature = sign_form(TOKEN, "https://hooks.example.com/in/tw", body);
        let event = run(&preset, None, body, Some(&signature)).expect("accepted");
        assert_eq!(event.event_type, "twilio.delivered");
        assert_eq!(event.dedup_key, "SM123:delivered");
        assert_eq!(event.provider_event_id.as_deref(), Some("SM123"));
        assert_eq!(event.json.as_ref().unwrap()["To"], "+15550001111");
    }

    #[test]
    fn type_and_dedup_fall_back_in_order() {
        let cases: [(&[u8], &str, Option<&str>); 4] = [
            (
                b"CallSid=CA1&CallStatus=completed",
                "twilio.completed",
                Some("CA1:completed"),
            ),
            (
                b"SmsSid=SM9&SmsStatus=received",
                "twilio.received",
                Some("SM9:received"),
            ),
            (
                b"CallSid=CA1&RecordingSid=RE1&RecordingStatus=completed",
                "twilio.request",
                None,
            ),
            (b"MessageStatus=sent", "twilio.sent", None),
        ];
        let preset = preset("https://hooks.example.com/in/tw", &[TOKEN]);
        for (body, event_type, dedup) in cases {
            let signature = sign_form(TOKEN, "https://hooks.example.com/in/tw", body);
            let event = run(&preset, None, body, Some(&signature)).expect("accepted");
            assert_eq!(event.event_type, event_type);
            match dedup {
                Some(key) => assert_eq!(event.dedup_key, key),
                None => assert_eq!(event.dedup_key.len(), 64, "the body hash"),
            }
        }
    }

    #[test]
    fn a_json_body_is_verified_by_its_hash_and_routed_as_json() {
        let preset = preset("https://hooks.example.com/in/tw", &["old", TOKEN]);
        let body = br#"{"CallSid":"CA7","CallStatus":"ringing"}"#;
        let query = format!("x=1&bodySHA256={}", body_sha256(body));
        let signature = sign(
            TOKEN,
            &format!("https://hooks.example.com/in/tw?{query}"),
            &[],
        );
        let event = run(&preset, Some(&query), body, Some(&signature)).expect("accepted");
        assert_eq!(event.event_type, "twilio.ringing");
        assert_eq!(event.dedup_key, "CA7:ringing");
        assert_eq!(
            event.json,
            Some(json!({"CallSid": "CA7", "CallStatus": "ringing"}))
        );

        let changed = br#"{"CallSid":"CA7","CallStatus":"ringinG"}"#;
        let error = run(&preset, Some(&query), changed, Some(&signature)).expect_err("changed");
        assert_eq!(error, "signature_mismatch");

        let not_json = b"CallSid=CA7";
        let query = format!("bodySHA256={}", body_sha256(not_json));
        let signature = sign(
            TOKEN,
            &format!("https://hooks.example.com/in/tw?{query}"),
            &[],
        );
        let error = run(&preset, Some(&query), not_json, Some(&signature)).expect_err("form");
        assert_eq!(error, "invalid_json");
    }

    #[test]
    fn rejections_have_their_codes() {
        let preset = preset("https://hooks.example.com/in/tw", &[TOKEN]);
        let url = "https://hooks.example.com/in/tw";
        let body = b"MessageSid=SM1&MessageStatus=sent";
        let good = sign_form(TOKEN, url, body);
        assert!(run(&preset, None, body, Some(&good)).is_ok());
        for (query, body, signature, code) in [
            (None, &body[..], None, "signature_missing"),
            (None, body, Some("nope!"), "signature_malformed"),
            (None, body, Some(&good[..20]), "signature_malformed"),
            (
                None,
                body,
                Some(&sign_form("wrong", url, body)),
                "signature_mismatch",
            ),
            (
                None,
                b"MessageSid=SM1&MessageStatus=senT",
                Some(&good),
                "signature_mismatch",
            ),
            (Some("extra=1"), body, Some(&good), "signature_mismatch"),
            (None, b"MessageSid=%FF", Some(&good), "invalid_form"),
        ] {
            let got = run(&preset, query, body, signature).expect_err(code);
            assert_eq!(got, code, "{query:?} {signature:?}");
        }
    }
}
