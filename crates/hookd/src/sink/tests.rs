//! A real [`Sink`] and a real [`HttpTarget`] talking over loopback: signing, verification,
//! classification of every kind of answer, and the sink's own bookkeeping.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::routing::post;
use hookd_signature::standard_webhooks::Secret;
use hookd_store::Event;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Sink, SinkOptions, SinkRecord};
use crate::config::DestinationConfig;
use crate::targets::http::{HttpTarget, RESPONSE_LIMIT, Verdict};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const WAIT: Duration = Duration::from_secs(5);

fn secret(text: &str) -> Secret {
    Secret::parse(text).unwrap()
}

/// A running sink whose records also go to a file in a temporary directory.
struct Setup {
    sink: Sink,
    shutdown: CancellationToken,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _stop_on_drop: tokio_util::sync::DropGuard,
}

async fn start_sink(configure: impl FnOnce(&mut SinkOptions)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sink.jsonl");
    let mut options = SinkOptions::new(secret(SECRET));
    options.out = Some(out.clone());
    configure(&mut options);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let sink = Sink::start(options, listener, shutdown.clone())
        .await
        .unwrap();
    Setup {
        sink,
        _stop_on_drop: shutdown.clone().drop_guard(),
        shutdown,
        out,
        _dir: dir,
    }
}

fn destination(
    addr: SocketAddr,
    path: &str,
    secret_text: &str,
    timeout: Duration,
) -> DestinationConfig {
    DestinationConfig {
        name: "app".to_owned(),
        url: format!("http://{addr}{path}").parse().unwrap(),
        secret: secret(secret_text),
        timeout,
        allow_private_network: true,
    }
}

fn event(id: &str, body: &str) -> Event {
    Event {
        id: id.to_owned(),
        tenant: "default".to_owned(),
        source: "shop".to_owned(),
        event_type: "order.paid".to_owned(),
        provider_event_id: None,
        dedup_key: id.to_owned(),
        occurred_at: None,
        received_at: 1_700_000_000_000,
        committed_at: 1_700_000_000_000,
        headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
        body: body.as_bytes().to_vec(),
        unrouted: false,
    }
}

/// Serves `app` on a loopback port until the returned token is cancelled.
async fn serve(app: Router) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    (addr, shutdown)
}

#[tokio::test]
async fn verified_delivery_is_recorded_in_memory_and_in_the_file() {
    let setup = start_sink(|_| {}).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(setup.sink.addr(), "/hooks", SECRET, WAIT);

    let delivery = target
        .deliver(&dest, &event("evt_1", r#"{"a":1}"#), "evt_1")
        .await;

    assert_eq!(delivery.verdict, Verdict::Success);
    assert_eq!(delivery.record.status_code, Some(200));
    assert_eq!(delivery.record.response.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(delivery.record.error, None);
    assert!(delivery.record.started_at > 0);

    let records = setup
        .sink
        .wait_until(WAIT, |records| records.len() == 1)
        .await
        .unwrap();
    let record = &records[0];
    assert_eq!(record.webhook_id.as_deref(), Some("evt_1"));
    assert!(record.verified, "{record:?}");
    assert_eq!(record.status, 200);
    assert_eq!(record.attempt, 1);
    assert_eq!(record.path, "/hooks");
    assert_eq!(record.body, r#"{"a":1}"#);
    assert_eq!(record.error, None);
    assert!(record.finished_at >= record.received_at);

    let lines = std::fs::read_to_string(&setup.out).unwrap();
    let written: Vec<SinkRecord> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(written, records);
}

#[tokio::test]
async fn the_webhook_id_given_is_the_one_signed_and_sent() {
    let setup = start_sink(|_| {}).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(setup.sink.addr(), "/hooks", SECRET, WAIT);

    let delivery = target
        .deliver(&dest, &event("evt_1", "{}"), "msg_replayed")
        .await;

    assert_eq!(delivery.verdict, Verdict::Success);
    let records = setup.sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].webhook_id.as_deref(), Some("msg_replayed"));
    assert!(records[0].verified, "{:?}", records[0]);
}

#[tokio::test]
async fn wrong_secret_is_answered_401_recorded_unverified_and_permanent() {
    let setup = start_sink(|_| {}).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(setup.sink.addr(), "/hooks", OTHER_SECRET, WAIT);

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    assert_eq!(delivery.verdict, Verdict::Permanent);
    assert_eq!(delivery.record.status_code, Some(401));
    assert_eq!(
        delivery.record.error.as_deref(),
        Some("HTTP 401 Unauthorized")
    );
    let response = delivery.record.response.unwrap();
    assert!(response.contains("signature_mismatch"), "{response}");

    let records = setup.sink.records();
    assert_eq!(records.len(), 1);
    assert!(!records[0].verified);
    assert_eq!(records[0].status, 401);
    assert_eq!(records[0].webhook_id.as_deref(), Some("evt_1"));
    assert!(records[0].error.is_some());
}

#[tokio::test]
async fn fail_first_fails_the_first_requests_of_each_webhook_id() {
    let setup = start_sink(|options| options.fail_first = 2).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(setup.sink.addr(), "/hooks", SECRET, WAIT);
    let first = event("evt_1", "{}");
    let second = event("evt_2", "{}");

    let retry = Verdict::Retry { retry_after: None };
    let one = target.deliver(&dest, &first, &first.id).await;
    assert_eq!(one.verdict, retry);
    assert_eq!(one.record.status_code, Some(503));
    assert_eq!(
        one.record.error.as_deref(),
        Some("HTTP 503 Service Unavailable")
    );
    assert_eq!(
        target.deliver(&dest, &second, &second.id).await.verdict,
        retry
    );
    assert_eq!(
        target.deliver(&dest, &first, &first.id).await.verdict,
        retry
    );
    assert_eq!(
        target.deliver(&dest, &first, &first.id).await.verdict,
        Verdict::Success
    );
    assert_eq!(
        target.deliver(&dest, &second, &second.id).await.verdict,
        retry
    );
    assert_eq!(
        target.deliver(&dest, &second, &second.id).await.verdict,
        Verdict::Success
    );

    let of = |id: &str| -> Vec<(u32, u16)> {
        setup
            .sink
            .records()
            .iter()
            .filter(|r| r.webhook_id.as_deref() == Some(id))
            .map(|r| (r.attempt, r.status))
            .collect()
    };
    assert_eq!(of("evt_1"), [(1, 503), (2, 503), (3, 200)]);
    assert_eq!(of("evt_2"), [(1, 503), (2, 503), (3, 200)]);
}

#[tokio::test]
async fn retry_after_of_a_429_reaches_the_verdict() {
    let setup = start_sink(|options| {
        options.fail_first = 1;
        options.fail_status = 429;
        options.retry_after = Some(7);
    })
    .await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(setup.sink.addr(), "/hooks", SECRET, WAIT);

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    assert_eq!(
        delivery.verdict,
        Verdict::Retry {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(delivery.record.status_code, Some(429));
    assert_eq!(
        delivery.record.error.as_deref(),
        Some("HTTP 429 Too Many Requests")
    );
}

#[tokio::test]
async fn a_destination_that_is_not_listening_is_a_connect_error_to_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let target = HttpTarget::new().unwrap();
    let dest = destination(addr, "/hooks", SECRET, WAIT);

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    assert_eq!(delivery.verdict, Verdict::Retry { retry_after: None });
    assert_eq!(delivery.record.status_code, None);
    assert_eq!(delivery.record.response, None);
    let error = delivery.record.error.unwrap();
    assert!(error.starts_with("connect error: "), "{error}");
    assert!(
        !error.contains(&addr.to_string()),
        "the URL stays out: {error}"
    );
}

#[tokio::test]
async fn a_sink_slower_than_the_timeout_is_a_timeout_to_retry() {
    let setup = start_sink(|options| options.delay = Duration::from_secs(3)).await;
    let target = HttpTarget::new().unwrap();
    let timeout = Duration::from_millis(200);
    let dest = destination(setup.sink.addr(), "/hooks", SECRET, timeout);

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    assert_eq!(delivery.verdict, Verdict::Retry { retry_after: None });
    assert_eq!(delivery.record.status_code, None);
    assert_eq!(
        delivery.record.error.as_deref(),
        Some("timed out after 200ms")
    );
    assert!(delivery.record.duration_ms >= 200, "{:?}", delivery.record);
    assert!(delivery.record.duration_ms < 3000, "{:?}", delivery.record);
}

#[tokio::test]
async fn a_request_whose_client_hung_up_during_the_delay_is_still_recorded() {
    let setup = start_sink(|options| options.delay = Duration::from_millis(300)).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(
        setup.sink.addr(),
        "/hooks",
        SECRET,
        Duration::from_millis(50),
    );

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;
    assert_eq!(
        delivery.record.error.as_deref(),
        Some("timed out after 50ms")
    );

    let records = setup
        .sink
        .wait_until(WAIT, |records| records.len() == 1)
        .await
        .unwrap();
    assert!(records[0].verified);
    assert_eq!(records[0].status, 200);
    assert_eq!(
        records[0].error.as_deref(),
        Some("the client hung up before the answer")
    );
    assert!(records[0].finished_at - records[0].received_at >= 300);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_its_location_is_recorded() {
    // The redirect points at a sink that would accept the event: following it would show.
    let setup = start_sink(|_| {}).await;
    let location = format!("http://{}/moved", setup.sink.addr());
    let app = Router::new().route(
        "/hooks",
        post(move || async move { (StatusCode::FOUND, [(LOCATION, location)]) }),
    );
    let (addr, _stop) = serve(app).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(addr, "/hooks", SECRET, WAIT);

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    assert_eq!(delivery.verdict, Verdict::Retry { retry_after: None });
    assert_eq!(delivery.record.status_code, Some(302));
    assert_eq!(
        delivery.record.error,
        Some(format!(
            "HTTP 302 Found: redirect not followed; Location: http://{}/moved",
            setup.sink.addr()
        ))
    );
    assert!(setup.sink.records().is_empty());
}

#[tokio::test]
async fn only_the_first_4_kib_of_an_endless_answer_are_read() {
    let app = Router::new().route(
        "/hooks",
        post(|| async {
            let chunks = futures::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(Bytes::from_static(&[b'x'; 1000]))
            });
            Body::from_stream(chunks)
        }),
    );
    let (addr, _stop) = serve(app).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(addr, "/hooks", SECRET, WAIT);

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    // Reading the whole (endless) body would have run into the timeout.
    assert_eq!(delivery.verdict, Verdict::Success);
    assert_eq!(delivery.record.error, None);
    let response = delivery.record.response.unwrap();
    assert_eq!(response.len(), RESPONSE_LIMIT);
    assert!(response.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn a_failure_with_a_large_body_records_4_kib_of_it() {
    let app = Router::new().route(
        "/hooks",
        post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "é".repeat(100_000)) }),
    );
    let (addr, _stop) = serve(app).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(addr, "/hooks", SECRET, WAIT);

    let delivery = target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    assert_eq!(delivery.verdict, Verdict::Retry { retry_after: None });
    assert_eq!(
        delivery.record.error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );
    let response = delivery.record.response.unwrap();
    assert!(response.len() <= RESPONSE_LIMIT);
    assert!(
        response.chars().all(|c| c == 'é'),
        "no cut character is kept"
    );
}

#[tokio::test]
async fn unsigned_requests_and_other_methods_are_rejected_and_recorded() {
    let setup = start_sink(|_| {}).await;
    let client = reqwest::Client::builder().build().unwrap();
    let url = format!("http://{}/anywhere", setup.sink.addr());

    let unsigned = client.post(&url).body("hello").send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let body: serde_json::Value = serde_json::from_slice(&unsigned.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "missing_header");

    let get = client.get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");

    let records = setup.sink.records();
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[0].status, records[0].verified, records[0].attempt),
        (401, false, 0)
    );
    assert_eq!(records[0].webhook_id, None);
    assert_eq!(records[0].path, "/anywhere");
    assert_eq!(records[0].body, "hello");
    assert_eq!(
        records[0].error.as_deref(),
        Some("the webhook-id header is missing")
    );
    assert_eq!(records[1].status, 405);
}

#[tokio::test]
async fn wait_until_reports_how_many_records_there_were() {
    let setup = start_sink(|_| {}).await;
    let target = HttpTarget::new().unwrap();
    let dest = destination(setup.sink.addr(), "/hooks", SECRET, WAIT);
    target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await;

    let err = setup
        .sink
        .wait_until(Duration::from_millis(50), |records| records.len() == 2)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1 records so far"), "{err}");
}

#[tokio::test]
async fn wait_until_wakes_for_a_record_that_arrives_later() {
    let setup = start_sink(|options| options.delay = Duration::from_millis(100)).await;
    let dest = destination(setup.sink.addr(), "/hooks", SECRET, WAIT);
    let delivering = tokio::spawn(async move {
        let target = HttpTarget::new().unwrap();
        target.deliver(&dest, &event("evt_1", "{}"), "evt_1").await
    });

    let records = setup
        .sink
        .wait_until(WAIT, |records| records.iter().any(|r| r.status == 200))
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].finished_at - records[0].received_at >= 100);
    assert_eq!(delivering.await.unwrap().verdict, Verdict::Success);
}

#[tokio::test]
async fn the_sink_stops_when_its_token_is_cancelled() {
    let setup = start_sink(|_| {}).await;
    let addr = setup.sink.addr();
    setup.shutdown.cancel();
    let Setup { sink, .. } = setup;
    tokio::time::timeout(WAIT, sink.stopped())
        .await
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
