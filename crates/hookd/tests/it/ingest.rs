//! `POST /in/{source}`: every rejection answers its status and stable code in
//! `{"error": {"code", "detail"}}` and stores nothing; rotation, base64 and
//! `{header:NAME}` verify; provider retries are recognised within the dedup window.
//!
//! The rejection tests also send a genuine request to the same source (a positive
//! control), so that each 4xx is shown to come from the one thing the test changes.

use std::time::Duration;

use hookd_store::JobState;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::gateway::event_id;
use crate::support::raw::post_chunked;
use crate::support::{
    SHOP_SOURCE, SOURCE_SECRET, Signer, TestGateway, TestSink, eventually, now_secs,
};

/// A route from every source to `app`, the sink.
const ROUTE_ALL: &str = r#"
[[routes]]
source = ["shop", "signed", "b64", "rotating", "account", "small"]
destination = "app"
"#;

/// Sources exercising every `generic-hmac` option, plus `shop`.
const SOURCES: &str = r#"
[sources.signed]
preset = "generic-hmac"
secrets = ["t1mest4mp"]
signature_header = "x-signature"
prefix = "sha256="
timestamp_header = "x-timestamp"
tolerance = "5m"
signed_payload = "{timestamp}.{body}"
event_id = { json = "/id" }

[sources.b64]
preset = "generic-hmac"
secrets = ["b64-secret"]
signature_header = "x-signature"
encoding = "base64"

[sources.rotating]
preset = "generic-hmac"
secrets = ["old-secret", "new-secret"]
signature_header = "x-signature"

[sources.account]
preset = "generic-hmac"
secrets = ["acc0unt"]
signature_header = "x-signature"
signed_payload = "{header:x-account}:{body}"

[sources.small]
preset = "generic-hmac"
secrets = ["sm4ll"]
signature_header = "x-signature"
max_body = 1024
"#;

/// One gateway with every test source, routed to a sink; queue concurrency 1, so that an
/// event stored by mistake would be delivered before any later one.
async fn setup() -> (TestGateway, TestSink) {
    let sink = TestSink::ok().await;
    let toml = format!(
        "{SHOP_SOURCE}{SOURCES}{dest}{ROUTE_ALL}\n[queues.default]\nconcurrency = 1\n",
        dest = sink.destination("app")
    );
    (TestGateway::start(&toml).await, sink)
}

fn body(id: &str) -> Vec<u8> {
    json!({"id": id, "type": "order.paid", "total": 5})
        .to_string()
        .into_bytes()
}

/// Asserts a rejection: the status, the code, and a non-empty detail.
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

#[track_caller]
fn assert_accepted(answer: &(StatusCode, Value)) -> String {
    let (got, body) = answer;
    assert_eq!(*got, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
    event_id(body)
}

fn with(mut headers: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_owned(), value.to_owned()));
    headers
}

fn without(mut headers: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    headers.retain(|(n, _)| n != name);
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_source_is_404_unknown_source() {
    let (gw, _sink) = setup().await;
    let body = body("e1");
    let headers = Signer::new(SOURCE_SECRET).headers(&body);
    assert_accepted(&gw.post("shop", &body, &headers).await);
    assert_rejected(
        &gw.post("nope", &body, &headers).await,
        StatusCode::NOT_FOUND,
        "unknown_source",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_max_body_is_413_with_and_without_content_length() {
    let (gw, _sink) = setup().await;
    let signer = Signer::new("sm4ll");
    let fits = body("fits");
    assert!(fits.len() < 1024);
    assert_accepted(&gw.post("small", &fits, &signer.headers(&fits)).await);

    let padding = "x".repeat(2000);
    let large = json!({"id": "large", "pad": padding})
        .to_string()
        .into_bytes();
    // With Content-Length: refused on the declared length.
    assert_rejected(
        &gw.post("small", &large, &signer.headers(&large)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    // Chunked, without Content-Length: refused once the bytes read pass the limit.
    let (half, rest) = large.split_at(700);
    let (status, answer) = post_chunked(
        gw.addr(),
        "/in/small",
        &signer.headers(&large),
        &[half, rest],
    )
    .await;
    assert_rejected(
        &(StatusCode::from_u16(status).unwrap(), answer),
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    // A chunked body within the limit is read whole and accepted.
    let small = body("chunked-fits");
    let (a, b) = small.split_at(10);
    let (status, answer) =
        post_chunked(gw.addr(), "/in/small", &signer.headers(&small), &[a, b]).await;
    assert_accepted(&(StatusCode::from_u16(status).unwrap(), answer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_problems_are_401_with_their_codes() {
    let (gw, _sink) = setup().await;
    let signer = Signer::new("t1mest4mp")
        .prefix("sha256=")
        .timestamp_header("x-timestamp")
        .payload("{timestamp}.{body}");
    let ok = body("sig-ok");
    assert_accepted(&gw.post("signed", &ok, &signer.headers(&ok)).await);

    let b = body("sig");
    let genuine = signer.headers(&b);
    assert_rejected(
        &gw.post("signed", &b, &without(genuine.clone(), "x-signature"))
            .await,
        StatusCode::UNAUTHORIZED,
        "signature_missing",
    );
    let wrong_secret = signer.clone().secret("guess").headers(&b);
    assert_rejected(
        &gw.post("signed", &b, &wrong_secret).await,
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );
    // The body changed after signing.
    let tampered = body("sig-tampered");
    assert_rejected(
        &gw.post("signed", &tampered, &genuine).await,
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );
    // The right MAC behind the wrong prefix (the prefix is matched exactly).
    let upper = signer.clone().prefix("SHA256=").headers(&b);
    let answer = gw.post("signed", &b, &upper).await;
    assert_rejected(&answer, StatusCode::UNAUTHORIZED, "signature_malformed");
    // The right MAC with no prefix at all.
    let bare = genuine
        .iter()
        .find(|(name, _)| name == "x-signature")
        .map(|(_, value)| value.trim_start_matches("sha256=").to_owned())
        .unwrap();
    let answer = gw
        .post("signed", &b, &with(genuine, "x-signature", &bare))
        .await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{}", answer.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_problems_are_401_with_their_codes() {
    let (gw, _sink) = setup().await;
    let signer = Signer::new("t1mest4mp")
        .prefix("sha256=")
        .timestamp_header("x-timestamp")
        .payload("{timestamp}.{body}");
    let b = body("ts");
    let now = now_secs();
    // Within the tolerance either way is fine.
    let ok = body("ts-ok");
    assert_accepted(
        &gw.post(
            "signed",
            &ok,
            &signer.headers_at(&ok, &(now - 200).to_string()),
        )
        .await,
    );

    assert_rejected(
        &gw.post("signed", &b, &without(signer.headers(&b), "x-timestamp"))
            .await,
        StatusCode::UNAUTHORIZED,
        "timestamp_missing",
    );
    assert_rejected(
        &gw.post(
            "signed",
            &b,
            &signer.headers_at(&b, &(now - 600).to_string()),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "timestamp_out_of_tolerance",
    );
    assert_rejected(
        &gw.post(
            "signed",
            &b,
            &signer.headers_at(&b, &(now + 600).to_string()),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "timestamp_out_of_tolerance",
    );
    for garbage in ["not-a-number", "1.5", "17e8"] {
        assert_rejected(
            &gw.post("signed", &b, &signer.headers_at(&b, garbage)).await,
            StatusCode::UNAUTHORIZED,
            "timestamp_invalid",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_400_invalid_json() {
    let (gw, _sink) = setup().await;
    let signer = Signer::new(SOURCE_SECRET);
    let json = body("json-ok");
    assert_accepted(&gw.post("shop", &json, &signer.headers(&json)).await);
    let not_json = b"{\"id\": \"x\", ".to_vec();
    let headers = signer.headers(&not_json);
    assert_rejected(
        &gw.post("shop", &not_json, &headers).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_secret_of_a_rotating_source_verifies() {
    let (gw, _sink) = setup().await;
    let old = body("rot-old");
    let new = body("rot-new");
    let other = body("rot-other");
    let signer = Signer::new("old-secret");
    assert_accepted(&gw.post("rotating", &old, &signer.headers(&old)).await);
    let signer = signer.secret("new-secret");
    assert_accepted(&gw.post("rotating", &new, &signer.headers(&new)).await);
    let signer = signer.secret("retired-secret");
    assert_rejected(
        &gw.post("rotating", &other, &signer.headers(&other)).await,
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_signatures_verify_on_a_base64_source() {
    let (gw, _sink) = setup().await;
    let b = body("b64");
    let signer = Signer::new("b64-secret").base64();
    assert_accepted(&gw.post("b64", &b, &signer.headers(&b)).await);
    // The same MAC in hex is not what this source reads.
    let hex = Signer::new("b64-secret").headers(&body("b64-hex"));
    assert_eq!(
        gw.post("b64", &body("b64-hex"), &hex).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_placeholder_puts_that_header_under_the_signature() {
    let (gw, _sink) = setup().await;
    let signer = Signer::new("acc0unt").payload("{header:x-account}:{body}");
    let b = body("acct");
    let account = vec![("x-account".to_owned(), "acme".to_owned())];
    let headers = signer.headers_with(&b, "", account);
    // Guard against a signer that ignores the header: the MAC differs from the body's.
    assert_ne!(
        headers.last().unwrap().1,
        Signer::new("acc0unt").signature(&b, "", &[])
    );
    assert_accepted(&gw.post("account", &b, &headers).await);
    let forged = with(headers, "x-account", "evil");
    assert_rejected(
        &gw.post("account", &b, &forged).await,
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_store_nothing() {
    let (gw, sink) = setup().await;
    let signer = Signer::new(SOURCE_SECRET);
    let b = body("evt-rejected");
    let rejected = [
        gw.post("shop", &b, &signer.clone().secret("wrong").headers(&b))
            .await,
        gw.post("shop", &b, &without(signer.headers(&b), "x-signature"))
            .await,
        gw.post("shop", b"{oops", &signer.headers(b"{oops")).await,
        gw.post(
            "small",
            &[b'x'; 4096],
            &Signer::new("sm4ll").headers(&[b'x'; 4096]),
        )
        .await,
    ];
    for (status, answer) in &rejected {
        assert!(status.is_client_error(), "{status} {answer}");
    }
    // The same event id, now genuine, is new: the rejections left no dedup key behind.
    let id = assert_accepted(&gw.post("shop", &b, &signer.headers(&b)).await);
    // With one worker, an event stored by a rejection would have been delivered first.
    let records = sink.wait_for(1).await;
    assert_eq!(records[0].webhook_id.as_deref(), Some(id.as_str()));
    gw.wait_job(&id, JobState::Succeeded).await;
    assert_eq!(sink.records().len(), 1, "{:#?}", sink.records());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_event_id_is_a_duplicate_answered_with_the_first_id() {
    let (gw, sink) = setup().await;
    let first = gw.send(&json!({"id": "dup-1", "type": "order.paid"})).await;
    let again = gw
        .send_signed(
            "shop",
            &Signer::new(SOURCE_SECRET),
            &json!({"id": "dup-1", "type": "order.paid", "retry": 1}),
        )
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(event_id(&again), first);

    // One worker: the second event's delivery comes after any of the first's.
    let second = gw.send(&json!({"id": "dup-2", "type": "order.paid"})).await;
    gw.wait_job(&second, JobState::Succeeded).await;
    let ids: Vec<_> = sink
        .records()
        .into_iter()
        .map(|r| r.webhook_id.unwrap())
        .collect();
    assert_eq!(ids, vec![first.clone(), second]);
    assert_eq!(gw.jobs(&first).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_dedup_window_the_same_event_is_stored_again_with_a_new_id() {
    let sink = TestSink::ok().await;
    let toml = format!(
        "{SHOP_SOURCE}dedup_window = \"1s\"\n{dest}\n[[routes]]\nsource = \"shop\"\ndestination = \"app\"\n",
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;
    let event = json!({"id": "window-1", "type": "order.paid"});
    let first = gw.send(&event).await;
    let signer = Signer::new(SOURCE_SECRET);
    let again = gw.send_signed("shop", &signer, &event).await;
    assert_eq!(again["duplicate"], true, "{again}");

    let later = eventually(
        "a resend outside the dedup window",
        Duration::from_secs(10),
        || async {
            let answer = gw.send_signed("shop", &signer, &event).await;
            if answer["duplicate"] == true {
                assert_eq!(event_id(&answer), first);
                tokio::time::sleep(Duration::from_millis(200)).await;
                None
            } else {
                Some(event_id(&answer))
            }
        },
    )
    .await;
    assert_ne!(later, first);
    let stored = gw.event(&later).await;
    assert_eq!(stored.provider_event_id.as_deref(), Some("window-1"));
    let first_at = gw.event(&first).await.received_at;
    assert!(
        stored.received_at - first_at >= 1000,
        "{} - {first_at}",
        stored.received_at
    );
    sink.wait_until(|r| {
        r.iter()
            .any(|r| r.webhook_id.as_deref() == Some(later.as_str()))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_event_id_the_body_hash_is_the_dedup_key() {
    let (gw, _sink) = setup().await;
    // `b64` names no event_id.
    let signer = Signer::new("b64-secret").base64();
    let same = json!({"type": "order.paid", "n": 1});
    let first = gw.send_signed("b64", &signer, &same).await;
    assert_eq!(first["duplicate"], false, "{first}");
    let again = gw.send_signed("b64", &signer, &same).await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["id"], first["id"]);
    let event = gw.event(&event_id(&first)).await;
    assert_eq!(event.provider_event_id, None);
    let other = gw
        .send_signed("b64", &signer, &json!({"type": "order.paid", "n": 2}))
        .await;
    assert_eq!(other["duplicate"], false, "{other}");
    assert_ne!(other["id"], first["id"]);
}
