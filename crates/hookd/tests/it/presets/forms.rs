//! The presets of providers that post forms, `slack` and `twilio`, through
//! `POST /in/{source}` on a running gateway: every vector of `tests/fixtures/slack.json`
//! (re-signed at the current time) and `tests/fixtures/twilio.json` (each vector's URL
//! mapped to a source whose `public_url` is that URL's scheme, host, port and path, its
//! query sent as the request's), the stored type and dedup key, Slack's
//! `url_verification` handshake, rotation, routing on form fields, and every rejection
//! with its code.

use hookd_signature::twilio;
use hookd_signature::{Encoding, encode_signature, hmac_sha256};
use hookd_store::JobState;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::gateway::event_id;
use crate::support::signer::Headers;
use crate::support::{TestGateway, TestSink, WAIT, now_secs};

/// The signing secret of Slack's published example, used by every vector.
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// The auth token of twilio-python's tests, used by every vector.
const TWILIO_TOKEN: &str = "12345";
const FORM: &str = "application/x-www-form-urlencoded";

/// Every source of these tests. `tw`, `tw-port` and `tw-http` carry the URLs of the
/// Twilio vectors; `tw-rot` and `slack-rot` hold two secrets, `*-new` only the newer one.
const SOURCES: &str = r#"
[sources.slack]
preset = "slack"
secrets = ["8f742231b10e8888abcd99yyyzzz85a5"]

[sources.slack-rot]
preset = "slack"
secrets = ["old-slack-secret", "new-slack-secret"]

[sources.slack-new]
preset = "slack"
secrets = ["new-slack-secret"]
tolerance = "5m"

[sources.tw]
preset = "twilio"
secrets = ["12345"]
public_url = "https://mycompany.com/myapp.php"

[sources.tw-port]
preset = "twilio"
secrets = ["12345"]
public_url = "https://mycompany.com:1234/myapp.php"

[sources.tw-http]
preset = "twilio"
secrets = ["12345"]
public_url = "http://mycompany.com/myapp.php"

[sources.tw-rot]
preset = "twilio"
secrets = ["old-auth-token", "new-auth-token"]
public_url = "https://hooks.example.com/in/tw-rot"

[sources.tw-new]
preset = "twilio"
secrets = ["new-auth-token"]
public_url = "https://hooks.example.com/in/tw-new"
"#;

/// Routes: Slack events all to `app`; slash commands and interactivity only when a form
/// field (or the payload) says so; Twilio messages only once delivered.
const ROUTES: &str = r#"
[queues.default]
concurrency = 1

[[routes]]
name = "slack-events"
source = "slack"
types = ["slack.message", "slack.app_mention"]
destination = "app"

[[routes]]
name = "deploy-command"
source = "slack"
types = ["slack.command"]
match = { "/command" = "/deploy" }
destination = "app"

[[routes]]
name = "approvals"
source = "slack"
types = ["slack.block_actions"]
match = { "/actions/0/action_id" = "approve" }
destination = "app"

[[routes]]
name = "delivered"
source = "tw"
match = { "/MessageStatus" = "delivered" }
destination = "app"
"#;

/// One gateway with every source, routed to a sink through one worker.
async fn setup() -> (TestGateway, TestSink) {
    let sink = TestSink::ok().await;
    let toml = format!("{SOURCES}{}{ROUTES}", sink.destination("app"));
    (TestGateway::start(&toml).await, sink)
}

/// `POST /in/{source}?{query}`; returns the status, the `content-type` and the body as
/// JSON.
async fn post_raw(
    gw: &TestGateway,
    source: &str,
    query: Option<&str>,
    body: &[u8],
    headers: &Headers,
) -> (StatusCode, String, Value) {
    let url = match query {
        Some(query) => gw.url(&format!("/in/{source}?{query}")),
        None => gw.url(&format!("/in/{source}")),
    };
    let client = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("a test HTTP client");
    let mut request = client.post(url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.bytes().await.expect("reading the answer");
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        panic!(
            "the answer ({status}) is not JSON: {error}: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, content_type, json)
}

/// As [`post_raw`], status and JSON only.
async fn post(
    gw: &TestGateway,
    source: &str,
    query: Option<&str>,
    body: &[u8],
    headers: &Headers,
) -> (StatusCode, Value) {
    let (status, _, json) = post_raw(gw, source, query, body, headers).await;
    (status, json)
}

#[track_caller]
fn assert_rejected(answer: &(StatusCode, Value), code: &str) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "a detail is given: {body}"
    );
}

#[track_caller]
fn assert_accepted(answer: &(StatusCode, Value)) -> String {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
    event_id(body)
}

fn with(mut headers: Headers, name: &str, value: &str) -> Headers {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_owned(), value.to_owned()));
    headers
}

fn without(mut headers: Headers, name: &str) -> Headers {
    headers.retain(|(n, _)| n != name);
    headers
}

fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The fixture's vectors, as JSON.
fn fixture(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    json["vectors"].as_array().expect("a vectors array").clone()
}

// ---- slack ----

/// `v0=` + hex HMAC-SHA256 over `v0:{timestamp}:{body}`.
fn slack_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        &[b"v0:", timestamp.as_bytes(), b":", body],
    );
    encode_signature(&mac, Encoding::Hex, Some("v0="))
}

/// The headers of a genuine Slack request signed at `timestamp`.
fn slack_headers_at(secret: &str, body: &[u8], content_type: &str, timestamp: i64) -> Headers {
    let timestamp = timestamp.to_string();
    vec![
        ("content-type".to_owned(), content_type.to_owned()),
        ("x-slack-request-timestamp".to_owned(), timestamp.clone()),
        (
            "x-slack-signature".to_owned(),
            slack_signature(secret, &timestamp, body),
        ),
    ]
}

/// The headers of a genuine Slack request signed now.
fn slack_headers(secret: &str, body: &[u8], content_type: &str) -> Headers {
    slack_headers_at(secret, body, content_type, now_secs())
}

fn event_callback(event_id: &str, event_type: &str) -> Vec<u8> {
    json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "team_id": "T061EG9RZ",
        "api_app_id": "A0FFV41KK",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "event": {"type": event_type, "channel": "C1", "user": "U1", "text": "hi", "ts": "1.2"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_vectors_resigned_now_are_answered_as_the_fixture_says() {
    let (gw, _sink) = setup().await;
    let vectors = fixture("slack.json");
    assert_eq!(vectors.len(), 4);
    let now = now_secs();
    for v in &vectors {
        let id = v["id"].as_str().expect("id");
        let body = v["body"].as_str().expect("body").as_bytes();
        assert_eq!(v["secret"], SLACK_SECRET, "{id}");
        // The vector's own headers (content type, retry headers) as sent...
        let mut headers: Headers = v["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str().expect("text").to_owned()))
            .collect();
        // ...sent at their own time, they are stale now.
        assert_rejected(
            &post(&gw, "slack", None, body, &headers).await,
            "timestamp_out_of_tolerance",
        );
        // Re-signed now: the signature in the header is that of the body it was made
        // for, which for the invalid vector is another vector's body.
        let header_signature = v["headers"]["X-Slack-Signature"].as_str().expect("sig");
        let signed_body = vectors
            .iter()
            .find(|other| other["expected_signature"] == header_signature)
            .and_then(|other| other["body"].as_str())
            .expect("a vector whose signature the header carries");
        headers = with(headers, "x-slack-request-timestamp", &now.to_string());
        headers = with(
            headers,
            "x-slack-signature",
            &slack_signature(SLACK_SECRET, &now.to_string(), signed_body.as_bytes()),
        );
        let answer = post_raw(&gw, "slack", None, body, &headers).await;
        match id {
            "slack-docs-official" => {
                let event = gw.event(&assert_accepted(&(answer.0, answer.2))).await;
                assert_eq!(event.event_type, "slack.command");
                assert_eq!(Some(event.dedup_key.as_str()), v["body_sha256"].as_str());
                assert_eq!(event.body, body);
            }
            "slack-docs-old-body-variant" => {
                assert!(
                    v["expected_result"]
                        .as_str()
                        .unwrap()
                        .starts_with("invalid")
                );
                assert_rejected(&(answer.0, answer.2), "signature_mismatch");
            }
            "slack-url-verification" | "slack-retry-headers" => {
                let (status, content_type, json) = answer;
                assert_eq!(status, StatusCode::OK, "{json}");
                assert_eq!(content_type, "application/json");
                let expected = vectors[2]["expected_response"]["alt_body"].clone();
                assert_eq!(json, expected, "{id}");
            }
            other => panic!("unknown vector {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_url_verification_is_answered_after_verification_and_stores_nothing() {
    let (gw, sink) = setup().await;
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, content_type, answer) = post_raw(
        &gw,
        "slack",
        None,
        body,
        &slack_headers(SLACK_SECRET, body, "application/json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(content_type, "application/json");
    assert_eq!(
        answer,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    // Slack signs the handshake too; an unsigned one is refused.
    let forged = slack_headers("guess", body, "application/json");
    assert_rejected(
        &post(&gw, "slack", None, body, &forged).await,
        "signature_mismatch",
    );

    // One worker: had the handshake been stored and routed, it would be delivered first.
    let event = event_callback("Ev-after-challenge", "message");
    let id = assert_accepted(
        &post(
            &gw,
            "slack",
            None,
            &event,
            &slack_headers(SLACK_SECRET, &event, "application/json"),
        )
        .await,
    );
    gw.wait_job(&id, JobState::Succeeded).await;
    let ids: Vec<_> = sink
        .records()
        .into_iter()
        .map(|r| r.webhook_id.unwrap_or_default())
        .collect();
    assert_eq!(ids, vec![id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_events_are_typed_by_the_inner_event_and_retries_are_duplicates() {
    let (gw, _sink) = setup().await;
    let body = event_callback("Ev0PV52K25", "app_mention");
    let headers = slack_headers(SLACK_SECRET, &body, "application/json");
    let id = assert_accepted(&post(&gw, "slack", None, &body, &headers).await);
    let event = gw.event(&id).await;
    assert_eq!(event.event_type, "slack.app_mention");
    assert_eq!(event.dedup_key, "Ev0PV52K25");
    assert_eq!(event.provider_event_id.as_deref(), Some("Ev0PV52K25"));
    assert_eq!(event.occurred_at, Some(1_700_000_000_000));
    assert_eq!(gw.jobs(&id).await.len(), 1, "routed by its type");

    // Slack's retry: the same body, signed again later, with the retry headers.
    let mut retry = slack_headers_at(SLACK_SECRET, &body, "application/json", now_secs() + 1);
    retry.push(("x-slack-retry-num".to_owned(), "1".to_owned()));
    retry.push(("x-slack-retry-reason".to_owned(), "http_timeout".to_owned()));
    let (status, answer) = post(&gw, "slack", None, &body, &retry).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["duplicate"], true, "{answer}");
    assert_eq!(event_id(&answer), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_forms_are_typed_and_routed_by_their_fields() {
    let (gw, _sink) = setup().await;
    let send = |body: Vec<u8>| {
        let gw = &gw;
        async move {
            let headers = slack_headers(SLACK_SECRET, &body, FORM);
            let id = assert_accepted(&post(gw, "slack", None, &body, &headers).await);
            let event = gw.event(&id).await;
            assert_eq!(event.dedup_key, sha256_hex(&body), "the body hash");
            (event, gw.jobs(&id).await.len())
        }
    };

    let command = |name: &str| {
        form_body(&[
            ("team_id", "T1"),
            ("command", name),
            ("text", "prod now"),
            ("trigger_id", "398738663015.47445629121"),
        ])
    };
    let (deploy, jobs) = send(command("/deploy")).await;
    assert_eq!(deploy.event_type, "slack.command");
    assert_eq!(jobs, 1, "match on /command holds");
    let (other, jobs) = send(command("/weather")).await;
    assert_eq!(other.event_type, "slack.command");
    assert_eq!(jobs, 0, "match on /command fails");
    assert!(other.unrouted);

    let interaction = |action: &str| {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "U1"},
            "actions": [{"action_id": action, "value": "a b&c+d"}]
        });
        form_body(&[("payload", &payload.to_string())])
    };
    let (approve, jobs) = send(interaction("approve")).await;
    assert_eq!(approve.event_type, "slack.block_actions");
    assert_eq!(jobs, 1, "the payload is what routing reads");
    let (_, jobs) = send(interaction("reject")).await;
    assert_eq!(jobs, 0);

    let view = form_body(&[("payload", r#"{"type":"view_submission","view":{}}"#)]);
    assert_eq!(send(view).await.0.event_type, "slack.view_submission");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_rejections_are_401_with_their_codes() {
    let (gw, _sink) = setup().await;
    let ok = event_callback("Ev-control", "message");
    let json = "application/json";
    assert_accepted(
        &post(
            &gw,
            "slack",
            None,
            &ok,
            &slack_headers(SLACK_SECRET, &ok, json),
        )
        .await,
    );

    let body = event_callback("Ev-rejected", "message");
    let genuine = slack_headers(SLACK_SECRET, &body, json);
    let signature = genuine
        .iter()
        .find(|(n, _)| n == "x-slack-signature")
        .map(|(_, v)| v.clone())
        .expect("signed");
    let now = now_secs();
    let mut changed = body.clone();
    let last = changed.len() - 2;
    changed[last] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>, Headers)> = vec![
        (
            "signature_mismatch",
            body.clone(),
            slack_headers("wrong-secret", &body, json),
        ),
        ("signature_mismatch", changed, genuine.clone()),
        (
            "signature_missing",
            body.clone(),
            without(genuine.clone(), "x-slack-signature"),
        ),
        (
            "timestamp_missing",
            body.clone(),
            without(genuine.clone(), "x-slack-request-timestamp"),
        ),
        (
            "signature_malformed",
            body.clone(),
            with(
                genuine.clone(),
                "x-slack-signature",
                &signature.replacen("v0=", "V0=", 1),
            ),
        ),
        (
            "signature_malformed",
            body.clone(),
            with(genuine.clone(), "x-slack-signature", "v0=not-hex"),
        ),
        (
            "timestamp_invalid",
            body.clone(),
            with(genuine.clone(), "x-slack-request-timestamp", "1e9"),
        ),
        (
            "timestamp_out_of_tolerance",
            body.clone(),
            slack_headers_at(SLACK_SECRET, &body, json, now - 600),
        ),
        (
            "timestamp_out_of_tolerance",
            body.clone(),
            slack_headers_at(SLACK_SECRET, &body, json, now + 600),
        ),
    ];
    for (code, body, headers) in &cases {
        assert_rejected(&post(&gw, "slack", None, body, headers).await, code);
    }
    // None of them left a dedup key behind.
    assert_accepted(&post(&gw, "slack", None, &body, &genuine).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_rotation_accepts_both_secrets_and_the_removed_one_fails() {
    let (gw, _sink) = setup().await;
    for (n, secret) in ["old-slack-secret", "new-slack-secret"].iter().enumerate() {
        let body = event_callback(&format!("Ev-rot-{n}"), "message");
        let headers = slack_headers(secret, &body, "application/json");
        assert_accepted(&post(&gw, "slack-rot", None, &body, &headers).await);
    }
    let body = event_callback("Ev-rot-removed", "message");
    assert_rejected(
        &post(
            &gw,
            "slack-new",
            None,
            &body,
            &slack_headers("old-slack-secret", &body, "application/json"),
        )
        .await,
        "signature_mismatch",
    );
    assert_accepted(
        &post(
            &gw,
            "slack-new",
            None,
            &body,
            &slack_headers("new-slack-secret", &body, "application/json"),
        )
        .await,
    );
}

// ---- twilio ----

/// The headers of a Twilio form request to `url` (public URL + query) with `fields`.
fn twilio_headers(token: &str, url: &str, fields: &[(&str, &str)]) -> Headers {
    vec![
        ("content-type".to_owned(), FORM.to_owned()),
        (
            "x-twilio-signature".to_owned(),
            twilio::sign(token, url, &pairs(fields)),
        ),
    ]
}

/// The source whose `public_url` is `base` (a vector's URL without its query).
fn twilio_source(base: &str) -> &'static str {
    match base {
        "https://mycompany.com/myapp.php" => "tw",
        "https://mycompany.com:1234/myapp.php" => "tw-port",
        "http://mycompany.com/myapp.php" => "tw-http",
        other => panic!("no source has the public_url {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_vectors_are_answered_as_the_fixture_says() {
    let (gw, _sink) = setup().await;
    let vectors = fixture("twilio.json");
    assert_eq!(vectors.len(), 6);
    for v in &vectors {
        let id = v["id"].as_str().expect("id");
        assert_eq!(v["secret"], TWILIO_TOKEN, "{id}");
        let body = v["body"].as_str().expect("body").as_bytes();
        let (base, query) = v["url"]
            .as_str()
            .expect("url")
            .split_once('?')
            .expect("every vector URL has a query");
        let headers: Headers = v["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str().expect("text").to_owned()))
            .collect();
        let answer = post(&gw, twilio_source(base), Some(query), body, &headers).await;
        if v["expected_result"] == "valid" {
            let event = gw.event(&assert_accepted(&answer)).await;
            assert_eq!(event.event_type, "twilio.request", "{id}: no status field");
            assert_eq!(event.dedup_key, sha256_hex(body), "{id}: no Sid + status");
            assert_eq!(event.body, body);
        } else {
            assert_rejected(&answer, "signature_mismatch");
        }
        // The query is signed: without it, no vector verifies.
        assert_rejected(
            &post(&gw, twilio_source(base), None, body, &headers).await,
            "signature_mismatch",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_status_callbacks_are_deduped_on_sid_and_status_and_routed_by_a_form_field() {
    let (gw, sink) = setup().await;
    let url = "https://mycompany.com/myapp.php";
    let callback = |status: &'static str, extra: &'static str| {
        vec![
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("ApiVersion", "2010-04-01"),
            ("From", "+15017122661"),
            ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
            ("MessageStatus", status),
            ("SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
            ("SmsStatus", status),
            ("To", "+15558675310"),
            ("RawDlrDoneDate", extra),
        ]
    };
    let send = |fields: Vec<(&'static str, &'static str)>| {
        let gw = &gw;
        async move {
            let body = form_body(&fields);
            let headers = twilio_headers(TWILIO_TOKEN, url, &fields);
            post(gw, "tw", None, &body, &headers).await
        }
    };

    let sent = assert_accepted(&send(callback("sent", "")).await);
    let sent_event = gw.event(&sent).await;
    assert_eq!(sent_event.event_type, "twilio.sent");
    assert_eq!(
        sent_event.dedup_key,
        "SM1f0e8ae6ade43cb3c0ce4525424e404f:sent"
    );
    assert_eq!(
        sent_event.provider_event_id.as_deref(),
        Some("SM1f0e8ae6ade43cb3c0ce4525424e404f")
    );
    assert!(sent_event.unrouted, "MessageStatus is not delivered");

    let delivered = assert_accepted(&send(callback("delivered", "2401011200")).await);
    let delivered_event = gw.event(&delivered).await;
    assert_eq!(delivered_event.event_type, "twilio.delivered");
    assert_eq!(
        delivered_event.dedup_key,
        "SM1f0e8ae6ade43cb3c0ce4525424e404f:delivered"
    );
    assert_eq!(gw.jobs(&delivered).await.len(), 1, "the form field matched");
    gw.wait_job(&delivered, JobState::Succeeded).await;
    let forwarded = sink.wait_for(1).await;
    assert_eq!(forwarded[0].webhook_id.as_deref(), Some(delivered.as_str()));

    // The same transition again, even with a field changed, is the same event.
    let (status, again) = send(callback("delivered", "2401011201")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(event_id(&again), delivered);

    // A voice status callback: CallSid + CallStatus.
    let call = [
        ("CallSid", "CA42ed11f93dc08b952027ffbc406d0868"),
        ("CallStatus", "completed"),
        ("CallDuration", "12"),
    ];
    let id = assert_accepted(
        &post(
            &gw,
            "tw",
            None,
            &form_body(&call),
            &twilio_headers(TWILIO_TOKEN, url, &call),
        )
        .await,
    );
    let event = gw.event(&id).await;
    assert_eq!(event.event_type, "twilio.completed");
    assert_eq!(
        event.dedup_key,
        "CA42ed11f93dc08b952027ffbc406d0868:completed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_json_bodies_are_bound_by_body_sha256() {
    let (gw, _sink) = setup().await;
    let body = br#"{"CallSid":"CA77","CallStatus":"ringing","To":"+15558675310"}"#;
    let query = format!("tenant=acme&bodySHA256={}", twilio::body_sha256(body));
    let url = format!("https://mycompany.com/myapp.php?{query}");
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (
            "x-twilio-signature".to_owned(),
            twilio::sign(TWILIO_TOKEN, &url, &[]),
        ),
    ];
    let id = assert_accepted(&post(&gw, "tw", Some(&query), body, &headers).await);
    let event = gw.event(&id).await;
    assert_eq!(event.event_type, "twilio.ringing");
    assert_eq!(event.dedup_key, "CA77:ringing");

    let mut changed = body.to_vec();
    changed[12] = b'8';
    assert_rejected(
        &post(&gw, "tw", Some(&query), &changed, &headers).await,
        "signature_mismatch",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_rejections_are_401_with_their_codes() {
    let (gw, _sink) = setup().await;
    let url = "https://mycompany.com/myapp.php";
    let fields = [("MessageSid", "SM-control"), ("MessageStatus", "queued")];
    assert_accepted(
        &post(
            &gw,
            "tw",
            None,
            &form_body(&fields),
            &twilio_headers(TWILIO_TOKEN, url, &fields),
        )
        .await,
    );

    let fields = [("MessageSid", "SM-rejected"), ("MessageStatus", "queued")];
    let body = form_body(&fields);
    let genuine = twilio_headers(TWILIO_TOKEN, url, &fields);
    let mut changed = body.clone();
    let last = changed.len() - 1;
    changed[last] = b'D';
    let cases: Vec<(&str, Option<&str>, Vec<u8>, Headers)> = vec![
        (
            "signature_mismatch",
            None,
            body.clone(),
            twilio_headers("wrong-token", url, &fields),
        ),
        ("signature_mismatch", None, changed, genuine.clone()),
        (
            "signature_mismatch",
            Some("added=1"),
            body.clone(),
            genuine.clone(),
        ),
        (
            "signature_missing",
            None,
            body.clone(),
            without(genuine.clone(), "x-twilio-signature"),
        ),
        (
            "signature_malformed",
            None,
            body.clone(),
            with(genuine.clone(), "x-twilio-signature", "not base64!"),
        ),
        (
            "signature_malformed",
            None,
            body.clone(),
            with(genuine.clone(), "x-twilio-signature", "c2hvcnQ="),
        ),
    ];
    for (code, query, body, headers) in &cases {
        assert_rejected(&post(&gw, "tw", *query, body, headers).await, code);
    }
    assert_accepted(&post(&gw, "tw", None, &body, &genuine).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_rotation_accepts_both_tokens_and_the_removed_one_fails() {
    let (gw, _sink) = setup().await;
    for (n, token) in ["old-auth-token", "new-auth-token"].iter().enumerate() {
        let sid = format!("SMrot{n}");
        let fields = [("MessageSid", sid.as_str()), ("MessageStatus", "sent")];
        let headers = twilio_headers(token, "https://hooks.example.com/in/tw-rot", &fields);
        assert_accepted(&post(&gw, "tw-rot", None, &form_body(&fields), &headers).await);
    }
    let fields = [("MessageSid", "SMremoved"), ("MessageStatus", "sent")];
    let url = "https://hooks.example.com/in/tw-new";
    assert_rejected(
        &post(
            &gw,
            "tw-new",
            None,
            &form_body(&fields),
            &twilio_headers("old-auth-token", url, &fields),
        )
        .await,
        "signature_mismatch",
    );
    assert_accepted(
        &post(
            &gw,
            "tw-new",
            None,
            &form_body(&fields),
            &twilio_headers("new-auth-token", url, &fields),
        )
        .await,
    );
}
