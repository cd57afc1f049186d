//! Provider presets: how a source proves a request genuine and finds the events in it.
//!
//! A preset first verifies the raw bytes (nothing is parsed before that, except where a
//! scheme signs a value taken from the body), then extracts one event or several: type,
//! provider event id, dedup key, when it happened, and the parsed JSON that routing
//! reads. A delivery that batches several events (Meta's `entry[]`) is split, each event
//! with a body of its own. Some presets answer a handshake instead (Meta's `GET`
//! subscription check, Slack's `url_verification`), storing nothing. One preset per file.

mod fields;
mod form;
mod generic_hmac;
mod github;
mod highlevel;
mod lookup;
mod meta;
mod shopify;
mod slack;
mod softpro;
mod standard_webhooks;
mod stripe;
#[cfg(test)]
mod test_vectors;
mod twilio;

use axum::http::HeaderMap;
use hookd_store::Millis;
use serde_json::Value;

use super::error::IngestError;
use crate::config::{BodyFormat, SourceConfig, Verifier};

/// A request as it arrived: nothing in it is trusted yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unverified<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    /// The query string of the request URI, without the `?`.
    pub(crate) query: Option<&'a str>,
}

/// What a verified request asks of the gateway.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Intake {
    /// Events to commit, in the order the delivery carried them.
    Events(Vec<Extracted>),
    /// A handshake to answer at once with 200; nothing is stored.
    Reply(Reply),
}

/// The 200 answer of a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

/// One event found in a verified request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Extracted {
    pub(crate) event_type: String,
    pub(crate) provider_event_id: Option<String>,
    pub(crate) dedup_key: String,
    pub(crate) occurred_at: Option<Millis>,
    /// The event's JSON, which routing reads (`match`, ordering keys); `None` for raw
    /// sources. For a form-encoded body, its fields as a flat object.
    pub(crate) json: Option<Value>,
    /// The body stored and forwarded for this event when the delivery was split; `None`
    /// keeps the request body as it arrived.
    pub(crate) body: Option<Vec<u8>>,
}

impl Extracted {
    /// An event that keeps the request body, with no occurrence time.
    pub(crate) fn whole(
        event_type: String,
        provider_event_id: Option<String>,
        dedup_key: String,
        json: Option<Value>,
    ) -> Self {
        Extracted {
            event_type,
            provider_event_id,
            dedup_key,
            occurred_at: None,
            json,
            body: None,
        }
    }
}

/// Verifies `request` against `source` and returns what it carries.
///
/// # Errors
///
/// The rejection to answer: a signature or timestamp problem (401), a body that is not
/// what the preset requires, or a missing type or id field (400).
pub(crate) fn receive(
    source: &SourceConfig,
    request: Unverified<'_>,
    now_secs: i64,
) -> Result<Intake, IngestError> {
    match &source.verify {
        Verifier::GenericHmac(scheme) => {
            generic_hmac::verify(source, scheme, request, now_secs)?;
            fields::extract(source, request).map(|event| Intake::Events(vec![event]))
        }
        Verifier::StandardWebhooks(preset) => standard_webhooks::receive(preset, request, now_secs),
        Verifier::Github(preset) => github::receive(preset, request),
        Verifier::Meta(preset) => meta::receive(preset, request),
        Verifier::Stripe(preset) => stripe::receive(preset, request, now_secs),
        Verifier::Shopify(preset) => shopify::receive(preset, request),
        Verifier::Slack(preset) => slack::receive(preset, request, now_secs),
        Verifier::Twilio(preset) => twilio::receive(preset, request),
        Verifier::HighLevel(preset) => highlevel::receive(preset, request),
        Verifier::SoftPro(preset) => softpro::receive(preset, request, now_secs),
    }
}

/// The JSON routing reads for an event stored from `format`'s source, found again from
/// its stored headers and body as the preset found it on arrival (a replay routes the
/// event anew): `None` for a raw source; for a form-encoded body, the JSON of its
/// `payload` field when it has one (GitHub, Slack interactivity), otherwise its fields
/// as a flat object (Twilio, Slack commands); for any other body, the body itself when it
/// is JSON (Shopify's XML is not).
pub(crate) fn stored_json(
    format: BodyFormat,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<Value> {
    if format == BodyFormat::Raw {
        return None;
    }
    let form = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("content-type")
            && value.split(';').next().is_some_and(|essence| {
                essence
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
    });
    if !form {
        return serde_json::from_slice(body).ok();
    }
    let fields = form::object(&form::parse(body).ok()?);
    match form::text(&fields, "payload") {
        Some(payload) => serde_json::from_str(payload).ok(),
        None => Some(fields),
    }
}

/// Answers `GET /in/{source}`: a subscription handshake, for presets that have one.
///
/// # Errors
///
/// 405 for presets without a handshake; 403 when the handshake does not prove the caller
/// knows the source's token.
pub(crate) fn handshake(source: &SourceConfig, query: Option<&str>) -> Result<Reply, IngestError> {
    match &source.verify {
        Verifier::Meta(preset) => meta::handshake(preset, query),
        _ => Err(IngestError::MethodNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn headers(content_type: &str) -> Vec<(String, String)> {
        vec![("content-type".to_owned(), content_type.to_owned())]
    }

    #[test]
    fn a_stored_event_gives_routing_the_json_its_preset_found() {
        let json = headers("application/json");
        assert_eq!(
            stored_json(BodyFormat::Json, &json, br#"{"type":"a"}"#),
            Some(json!({"type": "a"}))
        );
        assert_eq!(
            stored_json(BodyFormat::Raw, &json, br#"{"type":"a"}"#),
            None
        );
        assert_eq!(
            stored_json(BodyFormat::Json, &headers("application/xml"), b"<a/>"),
            None
        );

        let form = headers("application/x-www-form-urlencoded; charset=utf-8");
        assert_eq!(
            stored_json(
                BodyFormat::Json,
                &form,
                b"payload=%7B%22type%22%3A%22b%22%7D"
            ),
            Some(json!({"type": "b"})),
            "the JSON of a payload field (GitHub, Slack interactivity)"
        );
        assert_eq!(
            stored_json(BodyFormat::Json, &form, b"MessageStatus=delivered&To=%2B1"),
            Some(json!({"MessageStatus": "delivered", "To": "+1"})),
            "a form's fields (Twilio, Slack commands)"
        );
    }
}
