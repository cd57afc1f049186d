//! Forwarding: a verified event reaches its destination signed per Standard Webhooks
//! with a stable `webhook-id`; fan-out, `match` conditions and delays decide which jobs
//! exist and when they run; failures retry with back-off (or `Retry-After`) and end
//! `dead` after `max_attempts`, or at once when permanent.

use hookd_signature::standard_webhooks::{self, Secret};
use hookd_store::{AttemptOutcome, JobState};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::capture::Capture;
use crate::support::{
    FAST_BACKOFF, SHOP_SOURCE, SINK_SECRET, SOURCE_SECRET, Signer, TestGateway, TestSink, WAIT,
    eventually, now_millis, now_secs, sink_options,
};

/// `shop` → one route → `app` (the given destination TOML), queue `default` with `queue`
/// settings.
fn config(destination: &str, queue: &str) -> String {
    format!(
        r#"{SHOP_SOURCE}{destination}
[queues.default]
{queue}

[[routes]]
source = "shop"
destination = "app"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_is_forwarded_verified_and_byte_identical_and_succeeds() {
    let sink = TestSink::ok().await;
    let gw = TestGateway::start(&config(&sink.destination("app"), "")).await;
    // Spacing and key order a re-serialisation would change.
    let body = br#"{ "type":"order.paid",  "id":"ord_1", "total": 5.10, "note":"caf\u00e9" }"#;
    let (status, answer) = gw
        .post("shop", body, &Signer::new(SOURCE_SECRET).headers(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["duplicate"], false);
    let id = answer["id"].as_str().unwrap().to_owned();

    let records = sink.wait_for(1).await;
    let record = &records[0];
    assert_eq!(record.webhook_id.as_deref(), Some(id.as_str()));
    assert!(record.verified, "{record:?}");
    assert_eq!(record.status, 200);
    assert_eq!(record.body.as_bytes(), body);
    assert_eq!(record.path, "/hooks");

    let job = gw.wait_job(&id, JobState::Succeeded).await;
    assert_eq!(job.attempts, 1);
    let attempts = gw.attempts(job.id).await;
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0].number, 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(attempts[0].record.status_code, Some(200));
    assert_eq!(attempts[0].node, gw.node());
    assert_eq!(sink.records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forwarded_request_keeps_the_original_content_type_and_signs_per_standard_webhooks() {
    let capture = Capture::start().await;
    let gw = TestGateway::start(&config(&capture.destination("app"), "")).await;
    let body = br#"{"type":"order.paid","id":"ct_1"}"#;
    let mut headers = Signer::new(SOURCE_SECRET).headers(body);
    headers.retain(|(name, _)| name != "content-type");
    headers.push((
        "content-type".to_owned(),
        "application/vnd.shop+json; charset=utf-8".to_owned(),
    ));
    let (status, answer) = gw.post("shop", body, &headers).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let request = capture.first().await;
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name} is forwarded"))
            .to_owned()
    };
    assert_eq!(
        header("content-type"),
        "application/vnd.shop+json; charset=utf-8"
    );
    assert_eq!(header("webhook-id"), answer["id"].as_str().unwrap());
    assert_eq!(&request.body[..], body);
    standard_webhooks::verify(
        &[Secret::parse(SINK_SECRET).unwrap()],
        &header("webhook-id"),
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        &request.body,
        now_secs(),
        300,
    )
    .expect("the forwarded request verifies with the destination's secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_fans_out_to_every_matching_route_and_one_matching_none_is_unrouted() {
    let a = TestSink::ok().await;
    let b = TestSink::ok().await;
    let toml = format!(
        r#"{SHOP_SOURCE}{a}{b}
[queues.other]

[[routes]]
source = "shop"
types = ["order.*"]
destination = "a"

[[routes]]
source = "shop"
types = ["order.paid"]
queue = "other"
destination = "b"
"#,
        a = a.destination("a"),
        b = b.destination("b"),
    );
    let gw = TestGateway::start(&toml).await;
    let id = gw.send(&json!({"id": "fan-1", "type": "order.paid"})).await;
    let jobs = gw.jobs(&id).await;
    assert_eq!(jobs.len(), 2, "{jobs:#?}");
    assert_eq!(
        jobs.iter().map(|j| j.queue.as_str()).collect::<Vec<_>>(),
        ["default", "other"]
    );
    for sink in [&a, &b] {
        let records = sink.wait_for(1).await;
        assert_eq!(records[0].webhook_id.as_deref(), Some(id.as_str()));
        assert!(records[0].verified);
    }
    for job in &jobs {
        let done = eventually("both jobs to succeed", WAIT, || async {
            let job = gw.job_by_id(job.id).await;
            (job.state == JobState::Succeeded).then_some(job)
        })
        .await;
        assert_eq!(done.attempts, 1);
    }

    let unrouted = gw
        .send(&json!({"id": "fan-2", "type": "customer.created"}))
        .await;
    assert!(gw.event(&unrouted).await.unrouted);
    assert!(gw.jobs(&unrouted).await.is_empty());
    assert!(!gw.event(&id).await.unrouted);
    assert_eq!(a.records().len(), 1);
    assert_eq!(b.records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_conditions_select_the_events_a_route_takes() {
    let sink = TestSink::ok().await;
    let toml = format!(
        r#"{SHOP_SOURCE}{dest}
[queues.default]
concurrency = 1

[[routes]]
source = "shop"
match = {{ "/status" = "paid", "/customer/tier" = 2 }}
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;
    let unpaid = gw
        .send(&json!({"id": "m1", "status": "open", "customer": {"tier": 2}}))
        .await;
    let other_tier = gw
        .send(&json!({"id": "m2", "status": "paid", "customer": {"tier": 3}}))
        .await;
    let missing = gw.send(&json!({"id": "m3", "status": "paid"})).await;
    let paid = gw
        .send(&json!({"id": "m4", "status": "paid", "customer": {"tier": 2}}))
        .await;
    for id in [&unpaid, &other_tier, &missing] {
        assert!(gw.jobs(id).await.is_empty(), "{id} makes no job");
        assert!(gw.event(id).await.unrouted);
    }
    assert_eq!(gw.jobs(&paid).await.len(), 1);
    gw.wait_job(&paid, JobState::Succeeded).await;
    let ids: Vec<_> = sink
        .records()
        .into_iter()
        .map(|r| r.webhook_id.unwrap())
        .collect();
    assert_eq!(ids, vec![paid]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_route_schedules_the_job_and_delivers_it_after_the_delay() {
    let sink = TestSink::ok().await;
    let toml = format!(
        r#"{SHOP_SOURCE}{dest}
[[routes]]
source = "shop"
delay = "1s"
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;
    let id = gw
        .send(&json!({"id": "late-1", "type": "order.paid"}))
        .await;
    let read_at = now_millis();
    let job = gw.job(&id).await;
    let received_at = gw.event(&id).await.received_at;
    assert_eq!(job.run_at, received_at + 1000);
    if read_at < job.run_at {
        assert_eq!(job.state, JobState::Scheduled, "{job:?}");
    }

    let record = sink.wait_for(1).await.remove(0);
    // The delay counts from the moment hookd received the request (`run_at` above); the
    // answer follows within milliseconds, or more on a loaded machine, so the delivery is
    // measured against the receipt rather than against the answer.
    assert!(
        record.received_at >= received_at + 1000,
        "delivered at {}, received at {received_at}: less than the 1 s delay",
        record.received_at
    );
    gw.wait_job(&id, JobState::Succeeded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_retry_with_backoff_until_the_destination_accepts() {
    let sink = TestSink::start(hookd::sink::SinkOptions {
        fail_first: 2,
        ..sink_options()
    })
    .await;
    let gw = TestGateway::start(&config(
        &sink.destination("app"),
        &format!("max_attempts = 5\n{FAST_BACKOFF}"),
    ))
    .await;
    let id = gw.send(&json!({"id": "retry-1"})).await;
    let job = gw.wait_job(&id, JobState::Succeeded).await;
    assert_eq!(job.attempts, 3);

    let records = sink.records();
    assert_eq!(records.len(), 3, "{records:#?}");
    assert_eq!(
        records.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 200]
    );
    assert!(
        records
            .iter()
            .all(|r| r.webhook_id.as_deref() == Some(id.as_str()) && r.verified)
    );
    // Back-off: 50 ms after the first failure, 100 ms after the second (no jitter).
    assert!(
        records[1].received_at - records[0].finished_at >= 50,
        "{records:#?}"
    );
    assert!(
        records[2].received_at - records[1].finished_at >= 100,
        "{records:#?}"
    );

    let attempts = gw.attempts(job.id).await;
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| (a.number, a.outcome, a.record.status_code))
        .collect();
    assert_eq!(
        seen,
        [
            (1, AttemptOutcome::Failed, Some(503)),
            (2, AttemptOutcome::Failed, Some(503)),
            (3, AttemptOutcome::Succeeded, Some(200)),
        ]
    );
    assert!(
        attempts[0]
            .record
            .error
            .as_deref()
            .is_some_and(|e| e.contains("503"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_goes_dead_after_max_attempts() {
    let sink = TestSink::start(hookd::sink::SinkOptions {
        fail_first: 1_000,
        ..sink_options()
    })
    .await;
    let gw = TestGateway::start(&config(
        &sink.destination("app"),
        &format!("max_attempts = 3\n{FAST_BACKOFF}"),
    ))
    .await;
    let id = gw.send(&json!({"id": "dead-1"})).await;
    let job = gw.wait_job(&id, JobState::Dead).await;
    assert_eq!(job.attempts, 3);
    assert_eq!(sink.records().len(), 3, "{:#?}", sink.records());
    let outcomes: Vec<_> = gw
        .attempts(job.id)
        .await
        .iter()
        .map(|a| (a.outcome, a.record.status_code))
        .collect();
    assert_eq!(
        outcomes,
        [
            (AttemptOutcome::Failed, Some(503)),
            (AttemptOutcome::Failed, Some(503)),
            (AttemptOutcome::Dead, Some(503)),
        ]
    );
    assert!(job.last_error.is_some_and(|e| e.contains("503")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_4xx_makes_the_job_dead_at_once() {
    let sink = TestSink::start(hookd::sink::SinkOptions {
        fail_first: 1_000,
        fail_status: 400,
        ..sink_options()
    })
    .await;
    let gw = TestGateway::start(&config(
        &sink.destination("app"),
        &format!("max_attempts = 5\n{FAST_BACKOFF}"),
    ))
    .await;
    let id = gw.send(&json!({"id": "perm-1"})).await;
    let job = gw.wait_job(&id, JobState::Dead).await;
    assert_eq!(job.attempts, 1);
    assert_eq!(sink.records().len(), 1);
    let attempts = gw.attempts(job.id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Dead);
    assert_eq!(attempts[0].record.status_code, Some(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_destination_secret_is_refused_401_and_the_job_is_dead_at_once() {
    let sink = TestSink::ok().await;
    let wrong = "whsec_dGhpcyBpcyBub3QgdGhlIHNpbmsncyBzZWNyZXQ=";
    let gw = TestGateway::start(&config(
        &sink.destination_with_secret("app", wrong),
        &format!("max_attempts = 5\n{FAST_BACKOFF}"),
    ))
    .await;
    let id = gw.send(&json!({"id": "secret-1"})).await;
    let job = gw.wait_job(&id, JobState::Dead).await;
    assert_eq!(job.attempts, 1);
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert!(!records[0].verified);
    assert_eq!(records[0].status, 401);
    let attempts = gw.attempts(job.id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Dead);
    assert_eq!(attempts[0].record.status_code, Some(401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_replaces_the_backoff() {
    let sink = TestSink::start(hookd::sink::SinkOptions {
        fail_first: 1,
        fail_status: 429,
        retry_after: Some(2),
        ..sink_options()
    })
    .await;
    // `max` above the asked wait: Retry-After is capped at it.
    let gw = TestGateway::start(&config(
        &sink.destination("app"),
        r#"backoff = { base = "50ms", max = "10s", jitter = "none" }"#,
    ))
    .await;
    let id = gw.send(&json!({"id": "slow-down-1"})).await;
    let job = gw.wait_job(&id, JobState::Succeeded).await;
    assert_eq!(job.attempts, 2);
    let records = sink.records();
    assert_eq!(
        records.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let gap = records[1].received_at - records[0].received_at;
    assert!(gap >= 2000, "second attempt {gap} ms after the first");
}

/// Regression: `dispatch/pool.rs` only claims once `wake_at` (the last claim + the 1 s
/// poll interval) has passed, even when the store has just reported ready jobs or one of
/// the pool's own jobs has ended; so on an idle queue every new event waited for the next
/// poll tick, up to a second, instead of being picked up at once.
///
/// Each event is sent after the previous one was delivered, so the pool has just claimed
/// and its next poll is a full interval away. Delivery normally takes milliseconds; the
/// bound leaves room for a loaded machine and still catches the one-second wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_event_is_delivered_at_once_not_at_the_next_poll() {
    let sink = TestSink::ok().await;
    let gw = TestGateway::start(&config(&sink.destination("app"), "")).await;
    let mut latencies = Vec::new();
    for n in 0..3 {
        let id = gw.send(&json!({"id": format!("prompt-{n}")})).await;
        let answered_at = now_millis();
        let records = sink
            .wait_until(|r| {
                r.iter()
                    .any(|r| r.webhook_id.as_deref() == Some(id.as_str()))
            })
            .await;
        let record = records
            .iter()
            .find(|r| r.webhook_id.as_deref() == Some(id.as_str()))
            .unwrap();
        latencies.push(record.received_at - answered_at);
    }
    assert!(
        latencies.iter().all(|ms| *ms < 500),
        "ms from the ingest answer to the delivery: {latencies:?}"
    );
}
