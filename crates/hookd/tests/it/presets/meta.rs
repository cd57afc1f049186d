//! `meta` (WhatsApp Cloud API, Instagram, Messenger) on a running gateway: every vector
//! and sample of `tests/fixtures/meta_*.json` through `POST /in/{source}` and the `GET`
//! handshake; a batched delivery split into one-item Meta deliveries that reach a real
//! sink and come back as duplicates; every signature rejection with its code; rotation;
//! bodies that are not Meta's shape; a delivery that carries nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hookd_signature::{Encoding, encode_signature, hmac_sha256};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::gateway::event_id;
use crate::support::signer::Headers;
use crate::support::{TestGateway, TestSink, WAIT};

/// The fixture files, by platform.
const FIXTURES: [(&str, &str); 3] = [
    (
        "messenger",
        include_str!("../../fixtures/meta_messenger.json"),
    ),
    (
        "instagram",
        include_str!("../../fixtures/meta_instagram.json"),
    ),
    (
        "whatsapp",
        include_str!("../../fixtures/meta_whatsapp.json"),
    ),
];

#[derive(Debug, Deserialize)]
struct Fixture {
    vectors: Vec<Vector>,
    samples: Vec<Sample>,
}

/// One vector, as the fixture README describes it.
#[derive(Debug, Deserialize)]
struct Vector {
    id: String,
    /// The app secret, or the verify token of a `GET` vector.
    secret: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    url: Option<String>,
    headers: BTreeMap<String, String>,
    body: String,
    #[serde(default)]
    body_sha256: Option<String>,
    expected_result: String,
    #[serde(default)]
    expected_response: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Sample {
    id: String,
    body: String,
}

fn fixtures() -> Vec<(&'static str, Fixture)> {
    FIXTURES
        .iter()
        .map(|(platform, text)| {
            let fixture = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("the {platform} fixture does not parse: {e}"));
            (*platform, fixture)
        })
        .collect()
}

/// `sha256=` + lower-case hex HMAC-SHA256 of `body`, as Meta signs.
fn signature(secret: &str, body: &[u8]) -> String {
    encode_signature(
        &hmac_sha256(secret.as_bytes(), &[body]),
        Encoding::Hex,
        Some("sha256="),
    )
}

/// The headers of a genuine Meta `POST` of `body`.
fn signed(secret: &str, body: &[u8]) -> Headers {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), signature(secret, body)),
    ]
}

fn with(mut headers: Headers, name: &str, value: &str) -> Headers {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_owned(), value.to_owned()));
    headers
}

/// `value` written as Meta writes it: compact, `/` as `\/`, every non-ASCII character as
/// `\uXXXX` with lower-case hex digits.
fn meta_json(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    for c in value.to_string().chars() {
        match c {
            // Outside strings, compact JSON has no '/'.
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(out, "\\u{unit:04x}").expect("writing to a String");
                }
            }
        }
    }
    out.into_bytes()
}

/// The dedup key of an item known by its hash: hex SHA-256 of `[object, entry id, item]`.
fn item_hash(object: &str, entry_id: &Value, item: &Value) -> String {
    hex::encode(Sha256::digest(
        json!([object, entry_id, item]).to_string().as_bytes(),
    ))
}

/// A one-item Meta delivery.
fn one_item(object: &str, entry: &Value, list: &str, item: &Value) -> Value {
    let mut one = json!({"id": entry["id"], list: [item]});
    if let Some(time) = entry.get("time") {
        one["time"] = time.clone();
    }
    json!({"object": object, "entry": [one]})
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(bytes).into_owned()
        )
    })
}

/// Every event id of an ingest answer: `ids` for a batch, else `id`.
fn answer_ids(answer: &Value) -> Vec<String> {
    match answer.get("ids").and_then(Value::as_array) {
        Some(ids) => ids
            .iter()
            .map(|id| id.as_str().expect("ids are text").to_owned())
            .collect(),
        None => vec![event_id(answer)],
    }
}

#[track_caller]
fn assert_rejected(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "a detail is given: {body}"
    );
}

/// `GET url`; the status, the content type and the body text.
async fn get(url: &str) -> (StatusCode, String, String) {
    let client = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("a test HTTP client");
    let response = client.get(url).send().await.expect("the gateway answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("reading the answer");
    (status, content_type, text)
}

/// What a valid `POST` vector must become: per event, its type and its dedup key (`None`:
/// the item hash).
fn expected_events(vector: &str) -> &'static [(&'static str, Option<&'static str>)] {
    const MS_MID: &str = "mid.1457764197618:41d102a3e1ae206a38";
    const MS_DELIVERY: &str = "2834567890123456:delivery:1458668856253";
    const MS_READ: &str = "2834567890123456:read:1458668856253";
    const WA_TEXT: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
    match vector {
        "ms-message-text" => &[("page.message", Some(MS_MID))],
        "ms-message-attachment" => &[("page.message", Some("mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c"))],
        "ms-delivery" => &[("page.delivery", Some(MS_DELIVERY))],
        "ms-read" => &[("page.read", Some(MS_READ))],
        "ms-reaction" => &[("page.reaction", None)],
        "ms-batched-entries" => &[
            ("page.message", Some(MS_MID)),
            ("page.delivery", Some(MS_DELIVERY)),
            ("page.read", Some(MS_READ)),
        ],
        "ig-message-text" => &[(
            "instagram.message",
            Some("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAw"),
        )],
        "ig-story-reply" => &[(
            "instagram.story_reply",
            Some("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAx"),
        )],
        "ig-reaction" => &[("instagram.reaction", None)],
        "ig-seen" => &[(
            "instagram.seen",
            Some(
                "1234567890123456:seen:aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAw",
            ),
        )],
        "ig-echo" => &[(
            "instagram.echo",
            Some("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDA0"),
        )],
        "wa-text-message" | "wa-unicode-escaped-as-sent" => &[("whatsapp.message", Some(WA_TEXT))],
        "wa-status-sent" => &[(
            "whatsapp.status.sent",
            Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=:sent"),
        )],
        "wa-status-failed" => &[(
            "whatsapp.status.failed",
            Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA:failed"),
        )],
        other => panic!("no expectation for vector {other}: add one"),
    }
}

/// The list (`messaging` or `changes`) of a Meta entry.
fn item_list(entry: &Value) -> (&'static str, &Vec<Value>) {
    for list in ["messaging", "changes"] {
        if let Some(items) = entry.get(list).and_then(Value::as_array) {
            return (list, items);
        }
    }
    panic!("an entry without items: {entry}")
}

/// Every vector: a `POST` vector on a source of its own (so that vectors sharing a
/// message id stay independent) is accepted with its types, dedup keys and one-item
/// bodies, or refused with 401 and a code; a `GET` vector gets its expected answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_vector_is_answered_as_it_expects() {
    let fixtures = fixtures();
    let mut toml = String::new();
    for vector in fixtures.iter().flat_map(|(_, f)| &f.vectors) {
        let get = vector.method.as_deref() == Some("GET");
        let (secret, token) = if get {
            ("unused-app-secret", vector.secret.as_str())
        } else {
            (vector.secret.as_str(), "unused-token")
        };
        writeln!(
            toml,
            "[sources.{id}]\npreset = \"meta\"\nsecrets = [{secret:?}]\nverify_token = {token:?}\n",
            id = vector.id
        )
        .expect("writing to a String");
    }
    let gw = TestGateway::start(&toml).await;

    let mut posts = 0;
    for (platform, fixture) in &fixtures {
        for vector in &fixture.vectors {
            let what = format!("{platform} vector {}", vector.id);
            if vector.method.as_deref() == Some("GET") {
                let url = vector.url.as_deref().expect("a GET vector has a url");
                let (_, query) = url.split_once('?').expect("the url has a query");
                let (status, content_type, text) =
                    get(&gw.url(&format!("/in/{}?{query}", vector.id))).await;
                let expected = vector.expected_response.as_ref().expect("an answer");
                assert_eq!(status.as_u16(), expected["status"], "{what}: {text}");
                if status == StatusCode::OK {
                    assert_eq!(text, expected["body"].as_str().unwrap(), "{what}");
                    assert!(
                        content_type.starts_with(expected["content_type"].as_str().unwrap()),
                        "{what}: {content_type}"
                    );
                } else {
                    assert!(!text.contains("1158201444"), "{what} echoes: {text}");
                    assert_eq!(parse(text.as_bytes())["error"]["code"], "handshake_refused");
                }
                continue;
            }

            posts += 1;
            let body = vector.body.as_bytes();
            if let Some(sha) = &vector.body_sha256 {
                assert_eq!(
                    &hex::encode(Sha256::digest(body)),
                    sha,
                    "{what}: body bytes"
                );
            }
            let headers: Headers = vector
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            let answer = gw.post(&vector.id, body, &headers).await;
            if vector.expected_result != "valid" {
                // `wa-uppercase-prefix`: the provider's format is followed strictly.
                assert_rejected(&answer, StatusCode::UNAUTHORIZED, "signature_malformed");
                continue;
            }
            let (status, answer) = answer;
            assert_eq!(status, StatusCode::OK, "{what}: {answer}");
            let ids = answer_ids(&answer);
            let expected = expected_events(&vector.id);
            assert_eq!(ids.len(), expected.len(), "{what}: {answer}");

            let delivery = parse(body);
            let object = delivery["object"].as_str().unwrap();
            let mut items = Vec::new();
            for entry in delivery["entry"].as_array().unwrap() {
                let (list, list_items) = item_list(entry);
                items.extend(list_items.iter().map(|item| (entry, list, item)));
            }
            for ((id, (event_type, key)), (entry, list, item)) in
                ids.iter().zip(expected).zip(&items)
            {
                let event = gw.event(id).await;
                assert_eq!(event.event_type, *event_type, "{what}");
                let key = key.map_or_else(|| item_hash(object, &entry["id"], item), str::to_owned);
                assert_eq!(event.dedup_key, key, "{what}");
                assert!(event.occurred_at.is_some(), "{what}");
                // Each event's body is the delivery of its item alone; a one-item
                // delivery is its own split.
                assert_eq!(
                    parse(&event.body),
                    one_item(object, entry, list, item),
                    "{what}"
                );
                if items.len() == 1 {
                    assert_eq!(parse(&event.body), delivery, "{what}");
                }
            }
            if vector.id == "wa-unicode-escaped-as-sent" {
                let event = gw.event(&ids[0]).await;
                assert_eq!(
                    parse(&event.body).pointer("/entry/0/changes/0/value/messages/0/text/body"),
                    Some(&json!("Gibt es das in Größe äöå?"))
                );
            }
        }
    }
    assert_eq!(posts, 16, "every POST vector was sent");
}

/// Every sample payload, signed here, gets its type; the App Dashboard's bare
/// `field`/`value` example is not a delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_payload_gets_its_type() {
    let expected = |id: &str| -> Option<&'static [&'static str]> {
        Some(match id {
            "ms-message-text-sample" | "ms-message-attachment-sample" => &["page.message"],
            "ms-postback-sample" => &["page.postback"],
            "ms-delivery-sample" => &["page.delivery"],
            "ms-read-sample" => &["page.read"],
            "ms-echo-sample" => &["page.echo"],
            "ms-reaction-sample" => &["page.reaction"],
            "ms-batched-entries-sample" => &["page.message", "page.delivery", "page.read"],
            "ms-postback-field-value-shape" => return None,
            "ig-message-text-sample" => &["instagram.message"],
            "ig-story-reply-sample" => &["instagram.story_reply"],
            "ig-story-mention-sample" => &["instagram.story_mention"],
            "ig-reaction-sample" => &["instagram.reaction"],
            "ig-seen-sample" => &["instagram.seen"],
            "ig-postback-sample" => &["instagram.postback"],
            "ig-echo-sample" => &["instagram.echo"],
            "wa-text-message-sample" => &["whatsapp.message"],
            "wa-status-sent-sample" | "wa-status-sent-v24-sample" => &["whatsapp.status.sent"],
            "wa-status-failed-sample" => &["whatsapp.status.failed"],
            other => panic!("no expectation for sample {other}: add one"),
        })
    };
    let fixtures = fixtures();
    let samples: Vec<&Sample> = fixtures.iter().flat_map(|(_, f)| &f.samples).collect();
    let mut toml = String::new();
    for sample in &samples {
        writeln!(
            toml,
            "[sources.{}]\npreset = \"meta\"\nsecrets = [\"sample-secret\"]\n",
            sample.id
        )
        .expect("writing to a String");
    }
    let gw = TestGateway::start(&toml).await;
    for sample in samples {
        let body = sample.body.as_bytes();
        let answer = gw
            .post(&sample.id, body, &signed("sample-secret", body))
            .await;
        let Some(types) = expected(&sample.id) else {
            assert_rejected(&answer, StatusCode::BAD_REQUEST, "invalid_body");
            let detail = answer.1["error"]["detail"].as_str().unwrap();
            assert!(detail.contains("`object` is missing"), "{detail}");
            continue;
        };
        let (status, answer) = answer;
        assert_eq!(status, StatusCode::OK, "{}: {answer}", sample.id);
        let mut got = Vec::new();
        for id in answer_ids(&answer) {
            got.push(gw.event(&id).await.event_type);
        }
        assert_eq!(got, types, "{}", sample.id);
    }
}

/// 3 entries of 2 messaging items each are 6 events with their types,
/// dedup keys and per-conversation ordering keys, each forwarded to the sink as a
/// one-item Meta delivery; the same body again is 6 duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_entries_of_two_items_are_six_one_item_deliveries_and_then_six_duplicates() {
    let sink = TestSink::ok().await;
    let toml = format!(
        r#"
[sources.messenger]
preset = "meta"
secrets = ["app-secret"]
{dest}
[[routes]]
source = "messenger"
ordering_key = ["/entry/0/id", "/entry/0/messaging/0/sender/id"]
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;

    let (p1, p2, p3) = ("109876543210987", "209876543210987", "309876543210987");
    let (u1, u2, u3) = ("2834567890123456", "2834567890123457", "2834567890123458");
    let item = |sender: &str, recipient: &str, ts: i64, body: Value| {
        let mut item =
            json!({"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": ts});
        item.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        item
    };
    let delivery = json!({"object": "page", "entry": [
        {"id": p1, "time": 1_458_692_752_478_i64, "messaging": [
            item(u1, p1, 1_458_692_752_401, json!({"message": {"mid": "m_first", "text": "héllo / wörld ❤"}})),
            item(u2, p1, 1_458_692_752_402, json!({"postback": {"title": "Get Started", "payload": "GET_STARTED"}})),
        ]},
        {"id": p2, "time": 1_458_692_752_999_i64, "messaging": [
            item(u1, p2, 1_458_692_752_403, json!({"delivery": {"mids": ["m_zero"], "watermark": 1_458_668_856_253_i64}})),
            item(u2, p2, 1_458_692_752_404, json!({"read": {"watermark": 1_458_668_856_254_i64}})),
        ]},
        {"id": p3, "time": 1_458_692_753_000_i64, "messaging": [
            item(p3, u1, 1_458_692_752_405, json!({"message": {"mid": "m_echo", "is_echo": true, "app_id": 1_517_776_481_860_111_i64, "text": "hello back"}})),
            item(u3, p3, 1_458_692_752_406, json!({"reaction": {"mid": "m_first", "action": "react", "reaction": "love", "emoji": "❤️"}})),
        ]},
    ]});
    // The bytes Meta would send: `/` and non-ASCII escaped.
    let body = meta_json(&delivery);
    assert!(body.windows(2).any(|w| w == b"\\/"));

    let entries = delivery["entry"].as_array().unwrap();
    let items: Vec<(&Value, &Value)> = entries
        .iter()
        .flat_map(|e| {
            e["messaging"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |i| (e, i))
        })
        .collect();
    let hash = |n: usize| item_hash("page", &items[n].0["id"], items[n].1);
    let expected = [
        (
            "page.message",
            "m_first".to_owned(),
            Some("m_first"),
            format!("{p1}|{u1}"),
        ),
        ("page.postback", hash(1), None, format!("{p1}|{u2}")),
        (
            "page.delivery",
            format!("{u1}:delivery:1458668856253"),
            None,
            format!("{p2}|{u1}"),
        ),
        (
            "page.read",
            format!("{u2}:read:1458668856254"),
            None,
            format!("{p2}|{u2}"),
        ),
        (
            "page.echo",
            "m_echo".to_owned(),
            Some("m_echo"),
            format!("{p3}|{p3}"),
        ),
        ("page.reaction", hash(5), None, format!("{p3}|{u3}")),
    ];

    let (status, answer) = gw
        .post("messenger", &body, &signed("app-secret", &body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["duplicate"], false, "{answer}");
    assert_eq!(answer["duplicates"], 0, "{answer}");
    let ids = answer_ids(&answer);
    assert_eq!(ids.len(), 6, "{answer}");
    assert_eq!(answer["id"], ids[0].as_str());

    let mut forwarded = BTreeMap::new();
    for (n, (id, (event_type, dedup_key, provider_id, ordering_key))) in
        ids.iter().zip(&expected).enumerate()
    {
        let (entry, item) = items[n];
        let event = gw.event(id).await;
        assert_eq!(event.event_type, *event_type, "event {n}");
        assert_eq!(&event.dedup_key, dedup_key, "event {n}");
        assert_eq!(
            event.provider_event_id.as_deref(),
            *provider_id,
            "event {n}"
        );
        assert_eq!(event.occurred_at, item["timestamp"].as_i64(), "event {n}");
        let one = one_item("page", entry, "messaging", item);
        assert_eq!(parse(&event.body), one, "event {n}");
        let job = gw.job(id).await;
        assert_eq!(
            job.ordering_key.as_deref(),
            Some(ordering_key.as_str()),
            "event {n}"
        );
        forwarded.insert(id.clone(), one);
    }
    assert_eq!(
        parse(&gw.event(&ids[0]).await.body).pointer("/entry/0/messaging/0/message/text"),
        Some(&json!("héllo / wörld ❤"))
    );

    let records = sink.wait_for(6).await;
    assert_eq!(records.len(), 6, "{records:#?}");
    for record in &records {
        assert!(record.verified, "{record:?}");
        let id = record.webhook_id.as_deref().expect("a webhook-id");
        let expected = forwarded
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not one of the six events"));
        assert_eq!(&parse(record.body.as_bytes()), expected, "{id}");
    }

    // Meta's retry of the same delivery.
    let (status, again) = gw
        .post("messenger", &body, &signed("app-secret", &body))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again,
        json!({"id": ids[0], "ids": ids, "duplicates": 6, "duplicate": false})
    );
    for id in &ids {
        assert_eq!(gw.jobs(id).await.len(), 1, "{id}");
    }
}

/// A WhatsApp change with two messages and two statuses: four one-item deliveries, each
/// keeping `messaging_product`, `metadata` and `contacts`; a status repeats only with
/// the same status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_change_is_one_event_per_message_and_status() {
    let sink = TestSink::ok().await;
    let toml = format!(
        r#"
[sources.whatsapp]
preset = "meta"
secrets = ["wa-secret"]
{dest}
[[routes]]
source = "whatsapp"
types = ["whatsapp.message"]
ordering_key = ["/entry/0/id", "/entry/0/changes/0/value/messages/0/from"]
destination = "app"

[[routes]]
source = "whatsapp"
types = ["whatsapp.status.*"]
ordering_key = ["/entry/0/id", "/entry/0/changes/0/value/statuses/0/recipient_id"]
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;
    let common = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [
            {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"},
            {"profile": {"name": "Ada"}, "wa_id": "16505550000"}
        ],
    });
    let messages = [
        json!({"from": "16505551234", "id": "wamid.A", "timestamp": "1749416383", "type": "text", "text": {"body": "one"}}),
        json!({"from": "16505550000", "id": "wamid.B", "timestamp": "1749416384", "type": "text", "text": {"body": "two"}}),
    ];
    let statuses = [
        json!({"id": "wamid.C", "status": "sent", "timestamp": "1750030073", "recipient_id": "16505551234"}),
        json!({"id": "wamid.D", "status": "read", "timestamp": "1750030074", "recipient_id": "16505550000"}),
    ];
    let mut value = common.clone();
    value["messages"] = json!(messages);
    value["statuses"] = json!(statuses);
    let delivery = json!({"object": "whatsapp_business_account", "entry": [
        {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
    ]});
    let body = meta_json(&delivery);
    let (status, answer) = gw
        .post("whatsapp", &body, &signed("wa-secret", &body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ids = answer_ids(&answer);

    let one = |key: &str, item: &Value| {
        let mut value = common.clone();
        value[key] = json!([item]);
        json!({"object": "whatsapp_business_account", "entry": [
            {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
        ]})
    };
    let expected = [
        (
            "whatsapp.message",
            "wamid.A",
            one("messages", &messages[0]),
            "102290129340398|16505551234",
            1_749_416_383_000,
        ),
        (
            "whatsapp.message",
            "wamid.B",
            one("messages", &messages[1]),
            "102290129340398|16505550000",
            1_749_416_384_000,
        ),
        (
            "whatsapp.status.sent",
            "wamid.C:sent",
            one("statuses", &statuses[0]),
            "102290129340398|16505551234",
            1_750_030_073_000,
        ),
        (
            "whatsapp.status.read",
            "wamid.D:read",
            one("statuses", &statuses[1]),
            "102290129340398|16505550000",
            1_750_030_074_000,
        ),
    ];
    assert_eq!(ids.len(), expected.len(), "{answer}");
    let mut forwarded = BTreeMap::new();
    for (id, (event_type, key, body, ordering_key, occurred_at)) in ids.iter().zip(&expected) {
        let event = gw.event(id).await;
        assert_eq!(event.event_type, *event_type);
        assert_eq!(event.dedup_key, *key);
        assert_eq!(event.occurred_at, Some(*occurred_at));
        assert_eq!(&parse(&event.body), body);
        let job = gw.job(id).await;
        assert_eq!(job.ordering_key.as_deref(), Some(*ordering_key));
        forwarded.insert(id.clone(), body.clone());
    }
    for record in sink.wait_for(4).await {
        let id = record.webhook_id.clone().expect("a webhook-id");
        assert_eq!(
            Some(&parse(record.body.as_bytes())),
            forwarded.get(&id),
            "{id}"
        );
    }

    // The same status again is a duplicate; the next status of that message is new.
    let again = one("statuses", &statuses[0]);
    let bytes = meta_json(&again);
    let (_, answer) = gw
        .post("whatsapp", &bytes, &signed("wa-secret", &bytes))
        .await;
    assert_eq!(answer["duplicate"], true, "{answer}");
    assert_eq!(answer["id"], ids[2].as_str());
    let mut delivered = statuses[0].clone();
    delivered["status"] = json!("delivered");
    let bytes = meta_json(&one("statuses", &delivered));
    let (_, answer) = gw
        .post("whatsapp", &bytes, &signed("wa-secret", &bytes))
        .await;
    assert_eq!(answer["duplicate"], false, "{answer}");
    let event = gw.event(&event_id(&answer)).await;
    assert_eq!(event.event_type, "whatsapp.status.delivered");
    assert_eq!(event.dedup_key, "wamid.C:delivered");
}

/// The challenge only to `subscribe` with the source's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_answers_the_challenge_only_to_the_right_mode_and_token() {
    let token = "s3cr3t tök&en=1";
    let toml = format!(
        r#"
[sources.hub]
preset = "meta"
secrets = ["app-secret"]
verify_token = {token:?}

[sources.tokenless]
preset = "meta"
secrets = ["app-secret"]
"#
    );
    let gw = TestGateway::start(&toml).await;
    let query = |pairs: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let right = [
        ("hub.mode", "subscribe"),
        ("hub.challenge", "1158201444"),
        ("hub.verify_token", token),
    ];

    let (status, content_type, text) = get(&gw.url(&format!("/in/hub?{}", query(&right)))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, "1158201444");
    assert!(content_type.starts_with("text/plain"), "{content_type}");

    let refused = [
        (
            "a wrong token",
            query(&[right[0], right[1], ("hub.verify_token", "wrong-token")]),
        ),
        (
            "the token in another case",
            query(&[
                right[0],
                right[1],
                ("hub.verify_token", &token.to_uppercase()),
            ]),
        ),
        (
            "another mode",
            query(&[("hub.mode", "unsubscribe"), right[1], right[2]]),
        ),
        (
            "the mode in upper case",
            query(&[("hub.mode", "SUBSCRIBE"), right[1], right[2]]),
        ),
        ("no mode", query(&[right[1], right[2]])),
        ("no token", query(&[right[0], right[1]])),
        (
            "an empty token",
            query(&[right[0], right[1], ("hub.verify_token", "")]),
        ),
        ("no challenge", query(&[right[0], right[2]])),
        ("no parameters", String::new()),
    ];
    for (what, query) in &refused {
        let (status, _, text) = get(&gw.url(&format!("/in/hub?{query}"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {text}");
        assert!(
            !text.contains("1158201444"),
            "{what} echoes the challenge: {text}"
        );
        let answer = parse(text.as_bytes());
        assert_eq!(answer["error"]["code"], "handshake_refused", "{what}");
    }
    // No verify_token configured: no handshake at all, even for an empty token.
    for query in [
        query(&right),
        query(&[right[0], right[1], ("hub.verify_token", "")]),
    ] {
        let (status, _, text) = get(&gw.url(&format!("/in/tokenless?{query}"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert_eq!(parse(text.as_bytes())["error"]["code"], "handshake_refused");
    }
}

/// A genuine Messenger delivery with message id `mid`.
fn message(mid: &str, text: &str) -> Vec<u8> {
    meta_json(
        &json!({"object": "page", "entry": [{"id": "109876543210987", "time": 1_458_692_752_478_i64, "messaging": [
            {"sender": {"id": "2834567890123456"}, "recipient": {"id": "109876543210987"}, "timestamp": 1_458_692_752_478_i64,
             "message": {"mid": mid, "text": text}}
        ]}]}),
    )
}

/// 401 with the reason for a wrong secret, a changed byte, a missing
/// header, a malformed one; nothing refused is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_problems_are_401_with_their_reasons_and_store_nothing() {
    let gw =
        TestGateway::start("[sources.messenger]\npreset = \"meta\"\nsecrets = [\"app-secret\"]\n")
            .await;
    let ok = message("m_control", "control");
    let (status, answer) = gw.post("messenger", &ok, &signed("app-secret", &ok)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let body = message("m_refused", "caf\u{e9} / bar");
    let genuine = signed("app-secret", &body);
    let mac = hex::encode(hmac_sha256(b"app-secret", &[&body]));
    let mut changed = body.clone();
    let at = changed.len() - 10;
    changed[at] ^= 0x01;
    let sha1_mac = hex::encode(&hmac_sha256(b"app-secret", &[&body])[..20]);
    let cases: Vec<(&str, Vec<u8>, Headers, &str)> = vec![
        (
            "a wrong secret",
            body.clone(),
            signed("not-the-app-secret", &body),
            "signature_mismatch",
        ),
        (
            "a body changed by one byte",
            changed,
            genuine.clone(),
            "signature_mismatch",
        ),
        (
            "a missing header",
            body.clone(),
            genuine
                .iter()
                .filter(|(n, _)| n != "x-hub-signature-256")
                .cloned()
                .collect(),
            "signature_missing",
        ),
        (
            "only the legacy SHA-1 header",
            body.clone(),
            vec![("x-hub-signature".to_owned(), format!("sha1={sha1_mac}"))],
            "signature_missing",
        ),
        (
            "a sha1= prefix",
            body.clone(),
            with(
                genuine.clone(),
                "x-hub-signature-256",
                &format!("sha1={mac}"),
            ),
            "signature_malformed",
        ),
        (
            "an upper-case SHA256= prefix",
            body.clone(),
            with(
                genuine.clone(),
                "x-hub-signature-256",
                &format!("SHA256={mac}"),
            ),
            "signature_malformed",
        ),
        (
            "no prefix",
            body.clone(),
            with(genuine.clone(), "x-hub-signature-256", &mac),
            "signature_malformed",
        ),
        (
            "a truncated MAC",
            body.clone(),
            with(
                genuine.clone(),
                "x-hub-signature-256",
                &format!("sha256={}", &mac[..62]),
            ),
            "signature_malformed",
        ),
        (
            "a MAC that is not hex",
            body.clone(),
            with(
                genuine.clone(),
                "x-hub-signature-256",
                &format!("sha256={}zz", &mac[..62]),
            ),
            "signature_malformed",
        ),
    ];
    for (what, body, headers, code) in &cases {
        let answer = gw.post("messenger", body, headers).await;
        assert_rejected(&answer, StatusCode::UNAUTHORIZED, code);
        let detail = answer.1["error"]["detail"].as_str().unwrap();
        assert!(detail.contains("x-hub-signature-256"), "{what}: {detail}");
    }

    // The same JSON value re-serialised (UTF-8 instead of Meta's escapes) is other bytes.
    let reserialised = parse(&body).to_string().into_bytes();
    assert_ne!(reserialised, body);
    assert_rejected(
        &gw.post("messenger", &reserialised, &genuine).await,
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );

    // Had any refusal been stored, its mid would make the genuine delivery a duplicate.
    let (status, answer) = gw.post("messenger", &body, &genuine).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["duplicate"], false, "{answer}");
}

/// During the overlap both app secrets verify; once the old one is
/// removed it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_rotation_both_secrets_verify_and_after_it_only_the_new_one() {
    let overlap = TestGateway::start(
        "[sources.messenger]\npreset = \"meta\"\nsecrets = [\"old-app-secret\", \"new-app-secret\"]\n",
    )
    .await;
    let (old, new, other) = (
        message("m_old", "a"),
        message("m_new", "b"),
        message("m_other", "c"),
    );
    for (secret, body) in [("old-app-secret", &old), ("new-app-secret", &new)] {
        let (status, answer) = overlap.post("messenger", body, &signed(secret, body)).await;
        assert_eq!(status, StatusCode::OK, "{secret}: {answer}");
        assert_eq!(answer["duplicate"], false, "{answer}");
    }
    assert_rejected(
        &overlap
            .post("messenger", &other, &signed("retired-app-secret", &other))
            .await,
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );

    let after = TestGateway::start(
        "[sources.messenger]\npreset = \"meta\"\nsecrets = [\"new-app-secret\"]\n",
    )
    .await;
    assert_rejected(
        &after
            .post("messenger", &old, &signed("old-app-secret", &old))
            .await,
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );
    let (status, answer) = after
        .post("messenger", &new, &signed("new-app-secret", &new))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Signed bodies that are not Meta deliveries are 400 with a detail that names the
/// place; a delivery without items is 200 and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_meta_deliveries_are_400_and_an_empty_one_is_200() {
    let sink = TestSink::ok().await;
    let toml = format!(
        r#"
[sources.messenger]
preset = "meta"
secrets = ["app-secret"]
{dest}
[queues.default]
concurrency = 1

[[routes]]
source = "messenger"
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;
    let post = |body: Vec<u8>| {
        let headers = signed("app-secret", &body);
        let gw = &gw;
        async move { gw.post("messenger", &body, &headers).await }
    };

    let not_json = post(b"{\"object\": \"page\", ".to_vec()).await;
    assert_rejected(&not_json, StatusCode::BAD_REQUEST, "invalid_json");
    let cases = [
        (json!(["page"]), "not a JSON object"),
        (json!({"entry": []}), "`object` is missing"),
        (json!({"object": "page"}), "`entry` is missing"),
        (
            json!({"object": "page", "entry": {"id": "1"}}),
            "`entry` is not an array",
        ),
        (
            json!({"object": "page", "entry": [{"time": 1, "messaging": []}]}),
            "entry[0].id",
        ),
        (
            json!({"object": "page", "entry": [{"id": "1", "messaging": []}, {"id": "2", "time": 1}]}),
            "entry[1] has none of messaging[], changes[], standby[]",
        ),
        (
            json!({"object": "page", "entry": [{"id": "1", "messaging": ["hi"]}]}),
            "entry[0].messaging[0] is not an object",
        ),
        (
            json!({"object": "instagram", "entry": [{"id": "1", "changes": [{"value": {"id": "c"}}]}]}),
            "entry[0].changes[0].field",
        ),
    ];
    for (body, detail) in cases {
        let answer = post(meta_json(&body)).await;
        assert_rejected(&answer, StatusCode::BAD_REQUEST, "invalid_body");
        let got = answer.1["error"]["detail"].as_str().unwrap();
        assert!(got.contains(detail), "{body}: {got}");
    }

    for empty in [
        json!({"object": "page", "entry": []}),
        json!({"object": "page", "entry": [{"id": "1", "time": 1, "messaging": []}]}),
    ] {
        let (status, answer) = post(meta_json(&empty)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            answer,
            json!({"id": null, "ids": [], "duplicates": 0, "duplicate": false})
        );
    }
    // One worker: anything stored above would reach the sink before this event.
    let (status, answer) = post(message("m_after", "after")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let records = sink.wait_for(1).await;
    assert_eq!(
        records[0].webhook_id.as_deref(),
        Some(event_id(&answer).as_str())
    );
}

/// Changes other than WhatsApp messages: Instagram comments, `<object>.<field>`, and a
/// Page change that carries a messaging item (the App Dashboard's test button).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_changes_are_typed_by_object_and_field() {
    let gw =
        TestGateway::start("[sources.meta]\npreset = \"meta\"\nsecrets = [\"app-secret\"]\n").await;
    let comment = json!({"field": "comments", "value": {
        "from": {"id": "1234567890123456", "username": "ada"},
        "media": {"id": "17900000000000002", "media_product_type": "FEED"},
        "id": "17865799348089039", "text": "Nice!"
    }});
    let cases = [
        (
            json!({"object": "instagram", "entry": [{"id": "17841400000000000", "time": 1_569_262_486, "changes": [comment]}]}),
            "instagram.comment",
            Some(1_569_262_486_000),
        ),
        (
            json!({"object": "page", "entry": [{"id": "109876543210987", "time": 1_520_383_571, "changes": [{"field": "feed", "value": {"item": "status", "verb": "add"}}]}]}),
            "page.feed",
            Some(1_520_383_571_000),
        ),
        (
            json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]}),
            "whatsapp.message_template_status_update",
            None,
        ),
        (
            json!({"object": "page", "entry": [{"id": "0", "time": 1_527_459_824, "changes": [{"field": "messaging_postbacks", "value": {
            "sender": {"user_ref": "USER-REF-ID"}, "recipient": {"id": "PAGE-ID"}, "timestamp": "1527459824",
            "postback": {"mid": "m_MESSAGE-ID", "title": "TITLE-FOR-THE-CTA", "payload": "USER-DEFINED-PAYLOAD"}}}]}]}),
            "page.postback",
            Some(1_527_459_824_000),
        ),
    ];
    for (delivery, event_type, occurred_at) in cases {
        let body = meta_json(&delivery);
        let (status, answer) = gw.post("meta", &body, &signed("app-secret", &body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let event = gw.event(&event_id(&answer)).await;
        assert_eq!(event.event_type, event_type);
        assert_eq!(event.occurred_at, occurred_at, "{event_type}");
        let entry = &delivery["entry"][0];
        let item = &entry["changes"][0];
        let object = delivery["object"].as_str().unwrap();
        assert_eq!(event.dedup_key, item_hash(object, &entry["id"], item));
        assert_eq!(parse(&event.body), delivery);
    }
}
