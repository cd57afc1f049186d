//! `meta`: webhooks of the WhatsApp Cloud API, Instagram and Messenger (and any other
//! Graph API object), between the raw request and routing in the ingest stage.
//!
//! # Verification
//!
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, checked on the
//! raw bytes before anything is parsed: Meta signs the body exactly as it sends it, with
//! non-ASCII escaped as `\uXXXX` and `/` as `\/`, so parsed-and-reserialised JSON would
//! not verify. The prefix must be exactly `sha256=` (Meta never sends another case); every
//! secret of the source is tried (rotation). The legacy SHA-1 `X-Hub-Signature` is not
//! read: a request with only that header is `signature_missing`.
//!
//! # Handshake
//!
//! `GET /in/{source}?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` answers `C` as
//! `text/plain` only when the mode is `subscribe` and `T` equals the source's
//! `verify_token` (compared in constant time). Anything else, including a source without
//! a `verify_token`, is 403 `handshake_refused`.
//!
//! # Splitting
//!
//! A delivery `{"object", "entry": [{"id", "time", "messaging"|"changes"|"standby": […]}]}`
//! becomes one event per item, in delivery order. Each event's body (stored, forwarded,
//! and read by `match` and ordering-key pointers) is a Meta delivery holding that item
//! alone: `{"object": …, "entry": [{"id": …, "time": …, "messaging": [item]}]}` (or
//! `"changes"`, `"standby"`; `time` only when the entry has one), so handlers written for
//! Meta's format work unchanged and pointers such as `/entry/0/messaging/0/sender/id`
//! address the event's own item. The split body is JSON re-serialised by `serde_json`
//! (object keys sorted, non-ASCII written as UTF-8): the same JSON value, other bytes.
//!
//! A WhatsApp `messages` change may carry several `value.messages[]` and
//! `value.statuses[]`: each message and each status becomes its own event, whose change
//! keeps every other key of `value` (`messaging_product`, `metadata`, `contacts`, …) as it
//! is and holds just that one message (or status).
//!
//! # Types, dedup keys, occurred-at
//!
//! The platform is `page`, `instagram`, `whatsapp` (for `whatsapp_business_account`), or
//! the object itself. Per item:
//!
//! | item | type | dedup key |
//! |---|---|---|
//! | `messaging[]` with `message` | `<p>.message`, `<p>.echo` (`is_echo`); Instagram also `instagram.story_reply` (`reply_to.story`), `instagram.story_mention` (a `story_mention` attachment) | `mid` (`mid:deleted` for an Instagram `is_deleted` notice) |
//! | `messaging[]` with `delivery` / `read` | `page.delivery`, `page.read`, `instagram.seen` | `sender:delivery:watermark`, `sender:read:watermark`, `sender:seen:mid` |
//! | `messaging[]` with `reaction` / `postback` / another key K | `<p>.reaction`, `<p>.postback`, `<p>.K` | item hash |
//! | WhatsApp message / status | `whatsapp.message`, `whatsapp.status.<status>` | `wamid`, `wamid:status` |
//! | Instagram `comments` change | `instagram.comment` | item hash |
//! | other change with field F | `<p>.F` | item hash |
//! | `standby[]` (handover protocol) | `<p>.standby` | item hash |
//!
//! A Page or Instagram change whose `value` is itself a messaging item (what the App
//! Dashboard's test button sends) is classified as that messaging item. The item hash is
//! the hex SHA-256 of `[object, entry id, item]` as compact JSON, so the same change on
//! two pages stays two events. The provider event id is the `mid` or `wamid` where there
//! is one. `occurred_at` is the item's `timestamp` (milliseconds for Messenger and
//! Instagram, seconds as text for WhatsApp), else the entry's `time`; values below 10^11
//! are read as seconds.
//!
//! # Shapes
//!
//! A body that is not Meta's shape (no `object`, no `entry` array, an entry without `id`
//! or without any item list, an item that is not an object, a change without `field`) is
//! 400 `invalid_body` naming the place. A verified delivery that carries no item at all
//! (`"entry": []`, or empty lists; Meta sends such only from test tools) carries no
//! event, so ingest answers 200 with `{"id": null, "ids": [], "duplicates": 0,
//! "duplicate": false}` and stores nothing: there is no event to keep, and a 4xx would make Meta retry and, after an
//! hour, unsubscribe the app.

use hookd_signature::Encoding;
use hookd_store::Millis;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Extracted, Intake, Reply, Unverified, lookup};
use crate::config::MetaPreset;
use crate::ingest::error::IngestError;

/// The header Meta signs in.
const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The exact prefix of its value.
const SIGNATURE_PREFIX: &str = "sha256=";

/// The entry lists whose items become events, in the order they are taken.
const ITEM_LISTS: [&str; 3] = ["messaging", "changes", "standby"];

/// The keys of a messaging item that say what it is, checked in this order.
const MESSAGING_KINDS: [&str; 5] = ["message", "delivery", "read", "reaction", "postback"];

/// Timestamps below this are seconds, others milliseconds: 10^11 seconds is the year 5138,
/// 10^11 milliseconds is 1973.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// Verifies a `POST` from Meta and splits it into one event per item.
///
/// # Errors
///
/// 401 for a missing, malformed or wrong `X-Hub-Signature-256`; 400 `invalid_json` or
/// `invalid_body` for a body that is not a Meta delivery.
pub(super) fn receive(preset: &MetaPreset, request: Unverified<'_>) -> Result<Intake, IngestError> {
    verify(preset, request)?;
    split(&lookup::json(request.body)?).map(Intake::Events)
}

/// Answers Meta's subscription check (`GET` with `hub.mode`, `hub.verify_token` and
/// `hub.challenge`) with the challenge.
///
/// # Errors
///
/// 403 `handshake_refused` unless the source has a `verify_token`, the mode is
/// `subscribe`, the token equals it and a challenge is given.
pub(super) fn handshake(preset: &MetaPreset, query: Option<&str>) -> Result<Reply, IngestError> {
    let refused = |detail: &str| IngestError::HandshakeRefused(detail.to_owned());
    let Some(expected) = preset.verify_token.as_deref() else {
        return Err(refused(
            "this source has no verify_token, so it answers no subscription handshake",
        ));
    };
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match name.as_ref() {
            "hub.mode" => &mut mode,
            "hub.verify_token" => &mut token,
            "hub.challenge" => &mut challenge,
            _ => continue,
        };
        // The first of repeated parameters counts, as in most query parsers.
        slot.get_or_insert(value);
    }
    if mode.as_deref() != Some("subscribe") {
        return Err(refused("hub.mode must be \"subscribe\""));
    }
    let token = token.ok_or_else(|| refused("hub.verify_token is missing"))?;
    if !hookd_signature::constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Err(refused(
            "hub.verify_token does not match the verify_token of this source",
        ));
    }
    let challenge = challenge
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refused("hub.challenge is missing"))?;
    Ok(Reply {
        content_type: "text/plain; charset=utf-8",
        body: challenge.into_owned(),
    })
}

/// Checks `X-Hub-Signature-256` against the raw body with every secret of the source.
fn verify(preset: &MetaPreset, request: Unverified<'_>) -> Result<(), IngestError> {
    let signature = lookup::signature_header(request, SIGNATURE_HEADER)?;
    if !signature.starts_with(SIGNATURE_PREFIX) {
        return Err(IngestError::SignatureMalformed {
            header: SIGNATURE_HEADER.to_owned(),
            reason: "it must start with \"sha256=\" (exactly, in lower case) followed by hex"
                .to_owned(),
        });
    }
    hookd_signature::verify_hmac_sha256(
        &preset.secrets,
        &[request.body],
        signature,
        Encoding::Hex,
        Some(SIGNATURE_PREFIX),
    )
    .map_err(|e| IngestError::from_signature(SIGNATURE_HEADER, &e))
}

/// What an item turned out to be; the entry supplies the rest of its event.
#[derive(Debug)]
struct Found {
    /// The type after `<platform>.`.
    kind: String,
    /// `mid` or `wamid`, where there is one.
    id: Option<String>,
    /// `None`: the item hash.
    dedup_key: Option<String>,
    /// `None`: the entry's `time`.
    occurred_at: Option<Millis>,
}

impl Found {
    /// An item known only by its kind: deduplicated by its hash.
    fn kind(kind: &str, occurred_at: Option<Millis>) -> Self {
        Found {
            kind: kind.to_owned(),
            id: None,
            dedup_key: None,
            occurred_at,
        }
    }
}

/// One entry of a delivery, as each of its split bodies repeats it.
struct Envelope<'a> {
    object: &'a str,
    platform: &'a str,
    entry_id: &'a Value,
    time: Option<&'a Value>,
}

impl Envelope<'_> {
    /// The event of `item`, found in the entry's `list`.
    fn event(&self, list: &str, item: Value, found: Found) -> Extracted {
        let dedup_key = found.dedup_key.unwrap_or_else(|| self.item_hash(&item));
        let occurred_at = found.occurred_at.or_else(|| self.time.and_then(millis));
        let delivery = self.delivery(list, item);
        let body = delivery.to_string().into_bytes();
        Extracted {
            event_type: format!("{}.{}", self.platform, found.kind),
            provider_event_id: found.id,
            dedup_key,
            occurred_at,
            json: Some(delivery),
            body: Some(body),
        }
    }

    /// The Meta delivery that holds `item` alone.
    fn delivery(&self, list: &str, item: Value) -> Value {
        let mut entry = Map::new();
        entry.insert("id".to_owned(), self.entry_id.clone());
        if let Some(time) = self.time {
            entry.insert("time".to_owned(), time.clone());
        }
        entry.insert(list.to_owned(), Value::Array(vec![item]));
        let mut delivery = Map::new();
        delivery.insert("object".to_owned(), Value::String(self.object.to_owned()));
        delivery.insert("entry".to_owned(), Value::Array(vec![Value::Object(entry)]));
        Value::Object(delivery)
    }

    /// Hex SHA-256 of `[object, entry id, item]` as compact JSON (keys sorted, so the
    /// same item always hashes the same).
    fn item_hash(&self, item: &Value) -> String {
        let keyed = Value::Array(vec![
            Value::String(self.object.to_owned()),
            self.entry_id.clone(),
            item.clone(),
        ]);
        hex::encode(Sha256::digest(keyed.to_string().as_bytes()))
    }
}

/// The events of a parsed delivery, in delivery order.
fn split(delivery: &Value) -> Result<Vec<Extracted>, IngestError> {
    let Value::Object(fields) = delivery else {
        return Err(invalid(
            "the body is not a JSON object (expected {\"object\": …, \"entry\": […]})",
        ));
    };
    let object = match fields.get("object") {
        Some(Value::String(object)) if !object.is_empty() => object.as_str(),
        Some(_) => return Err(invalid("`object` is not a non-empty string")),
        None => {
            return Err(invalid(
                "`object` is missing (expected {\"object\": …, \"entry\": […]})",
            ));
        }
    };
    let entries = match fields.get("entry") {
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(invalid("`entry` is not an array")),
        None => return Err(invalid("`entry` is missing")),
    };
    let mut events = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("entry[{i}]");
        let Value::Object(entry) = entry else {
            return Err(invalid(format!("{at} is not an object")));
        };
        let entry_id = match entry.get("id") {
            Some(id @ (Value::String(_) | Value::Number(_))) => id,
            _ => {
                return Err(invalid(format!(
                    "{at}.id is missing or not a string or number"
                )));
            }
        };
        let envelope = Envelope {
            object,
            platform: platform(object),
            entry_id,
            time: entry.get("time"),
        };
        let mut lists = 0;
        for list in ITEM_LISTS {
            let Some(items) = entry.get(list) else {
                continue;
            };
            let Value::Array(items) = items else {
                return Err(invalid(format!("{at}.{list} is not an array")));
            };
            lists += 1;
            for (j, item) in items.iter().enumerate() {
                let at = format!("{at}.{list}[{j}]");
                let Value::Object(fields) = item else {
                    return Err(invalid(format!("{at} is not an object")));
                };
                match list {
                    "messaging" => {
                        let found = messaging(envelope.platform, fields);
                        events.push(envelope.event(list, item.clone(), found));
                    }
                    "changes" => change(&envelope, &at, fields, &mut events)?,
                    _ => {
                        let occurred_at = fields.get("timestamp").and_then(millis);
                        let found = Found::kind("standby", occurred_at);
                        events.push(envelope.event(list, item.clone(), found));
                    }
                }
            }
        }
        if lists == 0 {
            return Err(invalid(format!(
                "{at} has none of messaging[], changes[], standby[]"
            )));
        }
    }
    Ok(events)
}

/// The platform part of the event types of `object`.
fn platform(object: &str) -> &str {
    match object {
        "whatsapp_business_account" => "whatsapp",
        other => other,
    }
}

/// Classifies a Messenger or Instagram messaging item (also one carried as a change's
/// `value`).
fn messaging(platform: &str, item: &Map<String, Value>) -> Found {
    let occurred_at = item.get("timestamp").and_then(millis);
    let sender = item.get("sender").and_then(|s| s.get("id")).and_then(text);
    let instagram = platform == "instagram";
    let receipt = |kind: &str, mark: Option<&Value>| Found {
        kind: kind.to_owned(),
        id: None,
        dedup_key: sender
            .as_ref()
            .zip(mark.and_then(text))
            .map(|(sender, mark)| format!("{sender}:{kind}:{mark}")),
        occurred_at,
    };
    if let Some(message) = item.get("message") {
        let flag = |name: &str| message.get(name).and_then(Value::as_bool) == Some(true);
        let kind = if flag("is_echo") {
            "echo"
        } else if instagram && message.pointer("/reply_to/story").is_some() {
            "story_reply"
        } else if instagram && is_story_mention(message) {
            "story_mention"
        } else {
            "message"
        };
        let mid = message.get("mid").and_then(text);
        // A deletion notice repeats the mid of the message it deletes.
        let dedup_key = if flag("is_deleted") {
            mid.as_ref().map(|mid| format!("{mid}:deleted"))
        } else {
            mid.clone()
        };
        return Found {
            kind: kind.to_owned(),
            id: mid,
            dedup_key,
            occurred_at,
        };
    }
    if let Some(delivery) = item.get("delivery") {
        return receipt("delivery", delivery.get("watermark"));
    }
    if let Some(read) = item.get("read") {
        // Instagram marks what was seen by mid; Messenger by watermark.
        let mark = read.get("watermark").or_else(|| read.get("mid"));
        return receipt(if instagram { "seen" } else { "read" }, mark);
    }
    let kind = MESSAGING_KINDS
        .iter()
        .copied()
        .find(|k| item.contains_key(*k))
        .or_else(|| {
            item.keys()
                .map(String::as_str)
                .find(|k| !matches!(*k, "sender" | "recipient" | "timestamp"))
        })
        .unwrap_or("messaging");
    Found::kind(kind, occurred_at)
}

fn is_story_mention(message: &Value) -> bool {
    message
        .get("attachments")
        .and_then(Value::as_array)
        .is_some_and(|attachments| {
            attachments
                .iter()
                .any(|a| a.get("type").and_then(Value::as_str) == Some("story_mention"))
        })
}

/// The events of one `changes[]` item at `at`.
fn change(
    envelope: &Envelope<'_>,
    at: &str,
    item: &Map<String, Value>,
    events: &mut Vec<Extracted>,
) -> Result<(), IngestError> {
    let field = match item.get("field") {
        Some(Value::String(field)) if !field.is_empty() => field.as_str(),
        _ => {
            return Err(invalid(format!(
                "{at}.field is missing or not a non-empty string"
            )));
        }
    };
    let value = item.get("value").and_then(Value::as_object);
    if envelope.platform == "whatsapp"
        && field == "messages"
        && let Some(value) = value
        && whatsapp(envelope, at, item, value, events)?
    {
        return Ok(());
    }
    let found = match value {
        Some(value)
            if matches!(envelope.platform, "page" | "instagram")
                && value.contains_key("sender")
                && MESSAGING_KINDS.iter().any(|k| value.contains_key(*k)) =>
        {
            messaging(envelope.platform, value)
        }
        _ => {
            let kind = if envelope.platform == "instagram" && field == "comments" {
                "comment"
            } else {
                field
            };
            let occurred_at = value.and_then(|v| v.get("timestamp")).and_then(millis);
            Found::kind(kind, occurred_at)
        }
    };
    events.push(envelope.event("changes", Value::Object(item.clone()), found));
    Ok(())
}

/// Splits a WhatsApp `messages` change into one event per message and one per status;
/// `false` when it holds neither (it is then one event, `whatsapp.messages`).
fn whatsapp(
    envelope: &Envelope<'_>,
    at: &str,
    item: &Map<String, Value>,
    value: &Map<String, Value>,
    events: &mut Vec<Extracted>,
) -> Result<bool, IngestError> {
    let messages = list(value, "messages", at)?;
    let statuses = list(value, "statuses", at)?;
    if messages.is_empty() && statuses.is_empty() {
        return Ok(false);
    }
    for (key, items) in [("messages", messages), ("statuses", statuses)] {
        for (j, one) in items.iter().enumerate() {
            let Value::Object(fields) = one else {
                return Err(invalid(format!("{at}.value.{key}[{j}] is not an object")));
            };
            let wamid = fields.get("id").and_then(text);
            let occurred_at = fields.get("timestamp").and_then(millis);
            let found = if key == "messages" {
                Found {
                    kind: "message".to_owned(),
                    id: wamid.clone(),
                    dedup_key: wamid,
                    occurred_at,
                }
            } else {
                let status = fields.get("status").and_then(text);
                Found {
                    kind: status
                        .as_ref()
                        .map_or_else(|| "status".to_owned(), |s| format!("status.{s}")),
                    dedup_key: wamid
                        .as_ref()
                        .zip(status)
                        .map(|(wamid, status)| format!("{wamid}:{status}")),
                    id: wamid,
                    occurred_at,
                }
            };
            let narrowed = narrowed(item, value, key, one);
            events.push(envelope.event("changes", narrowed, found));
        }
    }
    Ok(true)
}

/// The array `value.key` of a WhatsApp change (empty when absent).
fn list<'a>(
    value: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a [Value], IngestError> {
    match value.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(format!("{at}.value.{key} is not an array"))),
    }
}

/// The change `item` with its `value.messages` and `value.statuses` replaced by `one`
/// under `key`; every other key kept as it is.
fn narrowed(
    item: &Map<String, Value>,
    value: &Map<String, Value>,
    key: &str,
    one: &Value,
) -> Value {
    let mut inner: Map<String, Value> = value
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "messages" | "statuses"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    inner.insert(key.to_owned(), Value::Array(vec![one.clone()]));
    let mut outer: Map<String, Value> = item
        .iter()
        .filter(|(k, _)| k.as_str() != "value")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    outer.insert("value".to_owned(), Value::Object(inner));
    Value::Object(outer)
}

/// A string (non-empty) or a number, as text.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A positive unix time as a number or a string of digits, in seconds or milliseconds,
/// as milliseconds.
fn millis(value: &Value) -> Option<Millis> {
    let n = match value {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()?
        }
        _ => return None,
    };
    match n {
        ..=0 => None,
        n if n < SECONDS_BELOW => n.checked_mul(1000),
        n => Some(n),
    }
}

fn invalid(detail: impl std::fmt::Display) -> IngestError {
    IngestError::InvalidBody(format!("not a Meta delivery: {detail}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ingest::providers::test_vectors;

    fn preset(token: Option<&str>) -> MetaPreset {
        MetaPreset {
            secrets: vec!["app-secret".to_owned()],
            verify_token: token.map(str::to_owned),
        }
    }

    fn events(delivery: &Value) -> Vec<Extracted> {
        split(delivery).unwrap_or_else(|e| panic!("{delivery} does not split: {e}"))
    }

    fn refusal(delivery: &Value) -> String {
        match split(delivery) {
            Err(IngestError::InvalidBody(detail)) => detail,
            other => panic!("{delivery} is not refused as invalid_body: {other:?}"),
        }
    }

    #[test]
    fn handshake_answers_the_challenge_to_the_right_token_only() {
        let ok = handshake(
            &preset(Some("tök en")),
            Some("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=t%C3%B6k+en"),
        );
        let reply = ok.unwrap_or_else(|e| panic!("refused: {e}"));
        assert_eq!(reply.body, "1158201444");
        assert_eq!(reply.content_type, "text/plain; charset=utf-8");
        for query in [
            Some("hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong"),
            Some("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=t%C3%B6k+en"),
            Some("hub.challenge=1&hub.verify_token=t%C3%B6k+en"),
            Some("hub.mode=subscribe&hub.challenge=1"),
            Some("hub.mode=subscribe&hub.verify_token=t%C3%B6k+en"),
            Some("hub.mode=subscribe&hub.challenge=&hub.verify_token=t%C3%B6k+en"),
            None,
        ] {
            let answer = handshake(&preset(Some("tök en")), query);
            assert!(
                matches!(answer, Err(IngestError::HandshakeRefused(_))),
                "{query:?}: {answer:?}"
            );
        }
        let answer = handshake(
            &preset(None),
            Some("hub.mode=subscribe&hub.challenge=1&hub.verify_token="),
        );
        assert!(matches!(answer, Err(IngestError::HandshakeRefused(_))));
    }

    #[test]
    fn every_post_vector_verifies_or_is_refused_as_it_says() {
        let files = [
            "meta_messenger.json",
            "meta_instagram.json",
            "meta_whatsapp.json",
        ];
        let mut seen = 0;
        // GET vectors (empty bodies) are the handshake's.
        for vector in files
            .into_iter()
            .flat_map(test_vectors::load)
            .filter(|v| !v.body.is_empty())
        {
            seen += 1;
            let preset = MetaPreset {
                secrets: vec!["another-app-secret".to_owned(), vector.secret.clone()],
                verify_token: None,
            };
            match receive(&preset, vector.request()) {
                Ok(Intake::Events(events)) if vector.valid => assert!(!events.is_empty()),
                Err(e) if !vector.valid => {
                    assert_eq!(e.code(), "signature_malformed", "{}", vector.id);
                }
                other => panic!("{}: {other:?}", vector.id),
            }
            let wrong = MetaPreset {
                secrets: vec!["another-app-secret".to_owned()],
                verify_token: None,
            };
            assert!(receive(&wrong, vector.request()).is_err(), "{}", vector.id);
        }
        assert_eq!(seen, 16);
    }

    #[test]
    fn timestamps_in_seconds_and_milliseconds_become_milliseconds() {
        assert_eq!(
            millis(&json!(1_458_668_856_463_i64)),
            Some(1_458_668_856_463)
        );
        assert_eq!(millis(&json!("1749416383")), Some(1_749_416_383_000));
        assert_eq!(millis(&json!(1_520_383_571)), Some(1_520_383_571_000));
        for bad in [
            json!(0),
            json!(-5),
            json!("12a"),
            json!(""),
            json!(1.5),
            json!(null),
        ] {
            assert_eq!(millis(&bad), None, "{bad}");
        }
    }

    #[test]
    fn messaging_items_get_their_types_and_keys() {
        let item = |body: Value| {
            let mut item = json!({"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 1_458_668_856_463_i64});
            item.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            item
        };
        let cases = [
            (
                "page",
                json!({"message": {"mid": "m1", "text": "hi"}}),
                "page.message",
                Some("m1"),
            ),
            (
                "page",
                json!({"message": {"mid": "m2", "is_echo": true}}),
                "page.echo",
                Some("m2"),
            ),
            (
                "page",
                json!({"delivery": {"watermark": 7}}),
                "page.delivery",
                Some("U:delivery:7"),
            ),
            (
                "page",
                json!({"read": {"watermark": 8}}),
                "page.read",
                Some("U:read:8"),
            ),
            (
                "page",
                json!({"reaction": {"mid": "m1", "action": "react"}}),
                "page.reaction",
                None,
            ),
            (
                "page",
                json!({"postback": {"payload": "GO"}}),
                "page.postback",
                None,
            ),
            ("page", json!({"optin": {"ref": "r"}}), "page.optin", None),
            (
                "instagram",
                json!({"message": {"mid": "i1", "reply_to": {"story": {"id": "s"}}}}),
                "instagram.story_reply",
                Some("i1"),
            ),
            (
                "instagram",
                json!({"message": {"mid": "i2", "attachments": [{"type": "story_mention"}]}}),
                "instagram.story_mention",
                Some("i2"),
            ),
            (
                "instagram",
                json!({"message": {"mid": "i3", "is_deleted": true}}),
                "instagram.message",
                Some("i3:deleted"),
            ),
            (
                "instagram",
                json!({"read": {"mid": "i1"}}),
                "instagram.seen",
                Some("U:seen:i1"),
            ),
        ];
        for (object, body, event_type, dedup) in cases {
            let item = item(body);
            let delivery =
                json!({"object": object, "entry": [{"id": "P", "time": 1, "messaging": [item]}]});
            let got = events(&delivery);
            assert_eq!(got.len(), 1);
            let event = &got[0];
            assert_eq!(event.event_type, event_type, "{item}");
            let expected_key = dedup.map_or_else(
                || hex::encode(Sha256::digest(json!([object, "P", item]).to_string())),
                str::to_owned,
            );
            assert_eq!(event.dedup_key, expected_key, "{item}");
            assert_eq!(event.occurred_at, Some(1_458_668_856_463));
            // A one-item delivery splits into itself.
            assert_eq!(event.json.as_ref(), Some(&delivery));
            assert_eq!(event.body.as_deref(), Some(delivery.to_string().as_bytes()));
        }
    }

    #[test]
    fn a_whatsapp_change_splits_per_message_and_per_status() {
        let delivery = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"phone_number_id": "1"},
                "contacts": [{"wa_id": "a"}, {"wa_id": "b"}],
                "messages": [{"id": "wamid.A", "from": "a", "timestamp": "1749416383"}, {"id": "wamid.B", "from": "b"}],
                "statuses": [{"id": "wamid.C", "status": "read", "timestamp": "1750030073"}]
            }
        }]}]});
        let got = events(&delivery);
        let summary: Vec<_> = got
            .iter()
            .map(|e| (e.event_type.as_str(), e.dedup_key.as_str(), e.occurred_at))
            .collect();
        assert_eq!(
            summary,
            [
                ("whatsapp.message", "wamid.A", Some(1_749_416_383_000)),
                ("whatsapp.message", "wamid.B", None),
                (
                    "whatsapp.status.read",
                    "wamid.C:read",
                    Some(1_750_030_073_000)
                ),
            ]
        );
        let value =
            |i: usize| got[i].json.as_ref().unwrap()["entry"][0]["changes"][0]["value"].clone();
        assert_eq!(
            value(1),
            json!({
                "messaging_product": "whatsapp",
                "metadata": {"phone_number_id": "1"},
                "contacts": [{"wa_id": "a"}, {"wa_id": "b"}],
                "messages": [{"id": "wamid.B", "from": "b"}]
            })
        );
        assert_eq!(value(2)["statuses"][0]["id"], "wamid.C");
        assert!(value(2).get("messages").is_none());
        assert!(
            got[0].json.as_ref().unwrap()["entry"][0]
                .get("time")
                .is_none()
        );
    }

    #[test]
    fn other_changes_are_object_dot_field() {
        let delivery = json!({"object": "instagram", "entry": [{"id": "I", "time": 1_520_383_571, "changes": [
            {"field": "comments", "value": {"id": "c1", "text": "nice"}},
            {"field": "mentions", "value": {"media_id": "m"}},
            {"field": "messaging_postbacks", "value": {"sender": {"id": "U"}, "recipient": {"id": "I"}, "timestamp": "1527459824", "postback": {"payload": "P"}}}
        ]}]});
        let got = events(&delivery);
        let types: Vec<_> = got.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "instagram.comment",
                "instagram.mentions",
                "instagram.postback"
            ]
        );
        assert_eq!(got[0].occurred_at, Some(1_520_383_571_000));
        assert_eq!(got[2].occurred_at, Some(1_527_459_824_000));
        let wa = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [
            {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
            {"field": "messages", "value": {"errors": [{"code": 1}]}}
        ]}]});
        let types: Vec<_> = events(&wa).into_iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [
                "whatsapp.message_template_status_update",
                "whatsapp.messages"
            ]
        );
    }

    #[test]
    fn the_item_hash_tells_entries_apart() {
        let change = json!({"field": "permissions", "value": {"verb": "granted"}});
        let delivery = json!({"object": "user", "entry": [
            {"id": "1", "time": 5, "changes": [change]},
            {"id": "2", "time": 5, "changes": [change]}
        ]});
        let got = events(&delivery);
        assert_eq!(got[0].event_type, "user.permissions");
        assert_ne!(got[0].dedup_key, got[1].dedup_key);
    }

    #[test]
    fn shapes_that_are_not_meta_are_named() {
        let cases = [
            (json!([]), "not a JSON object"),
            (json!({"entry": []}), "`object` is missing"),
            (json!({"object": 5, "entry": []}), "`object` is not"),
            (json!({"object": "page"}), "`entry` is missing"),
            (
                json!({"object": "page", "entry": {}}),
                "`entry` is not an array",
            ),
            (
                json!({"object": "page", "entry": [5]}),
                "entry[0] is not an object",
            ),
            (
                json!({"object": "page", "entry": [{"messaging": []}]}),
                "entry[0].id is missing",
            ),
            (
                json!({"object": "page", "entry": [{"id": "1"}]}),
                "entry[0] has none of",
            ),
            (
                json!({"object": "page", "entry": [{"id": "1", "messaging": {}}]}),
                "entry[0].messaging is not an array",
            ),
            (
                json!({"object": "page", "entry": [{"id": "1", "messaging": [1]}]}),
                "entry[0].messaging[0] is not an object",
            ),
            (
                json!({"object": "page", "entry": [{"id": "1", "changes": [{"value": {}}]}]}),
                "entry[0].changes[0].field is missing",
            ),
            (
                json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": {}}}]}]}),
                "entry[0].changes[0].value.messages is not an array",
            ),
        ];
        for (delivery, detail) in cases {
            let got = refusal(&delivery);
            assert!(got.contains(detail), "{delivery}: {got}");
        }
    }

    #[test]
    fn a_delivery_without_items_has_no_events() {
        assert!(events(&json!({"object": "page", "entry": []})).is_empty());
        assert!(
            events(&json!({"object": "page", "entry": [{"id": "1", "time": 2, "messaging": []}]}))
                .is_empty()
        );
    }
}
