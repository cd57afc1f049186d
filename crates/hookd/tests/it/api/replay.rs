//! `POST /v1/events/{id}/replay` over real HTTP, with real sinks: a delivered event is
//! delivered again under the same `webhook-id` (or a fresh one with `new_id`), routed
//! anew or sent to one destination; an event no route matches is 409; 400 with `fields`,
//! 401, 403 and tenancy (another tenant's event is 404 like a missing one); every replay
//! is in the audit log. And the `lag` of `GET /v1/events/{id}`, measured on a Standard
//! Webhooks delivery whose provider timestamp lies a known time in the past.

use std::time::{Duration, UNIX_EPOCH};

use hookd_signature::standard_webhooks::Secret;
use hookd_store::{JobState, Store as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::keys::{Api, error};
use crate::support::gateway::event_id;
use crate::support::{SHOP_SOURCE, TestGateway, TestSink, WAIT, api_token, eventually, now_secs};

/// The secret of the `sw` source (`standard-webhooks`).
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `shop` (tenant `default`): `order.*` → `app` on `default`, any other type unrouted.
/// `sw` (`standard-webhooks`, tenant `default`): everything → `app`. `archive` is a
/// second destination no route uses; `bulk` a second queue.
fn config(app: &TestSink, archive: &TestSink) -> String {
    format!(
        r#"{SHOP_SOURCE}
[sources.sw]
preset = "standard-webhooks"
secrets = ["{SW_SECRET}"]
{app}{archive}
[queues.default]

[queues.bulk]

[[routes]]
source = "shop"
types = ["order.*"]
queue = "default"
destination = "app"

[[routes]]
source = "sw"
destination = "app"
"#,
        app = app.destination("app"),
        archive = archive.destination("archive"),
    )
}

struct Setup {
    gw: TestGateway,
    app: TestSink,
    archive: TestSink,
    api: Api,
    read: String,
    write: String,
    admin: String,
    globex_write: String,
}

async fn setup() -> Setup {
    let app = TestSink::ok().await;
    let archive = TestSink::ok().await;
    let gw = TestGateway::start(&config(&app, &archive)).await;
    let api = Api::new(&gw);
    let store = gw.store();
    Setup {
        read: api_token(store, "default", "read").await,
        write: api_token(store, "default", "write").await,
        admin: api_token(store, "default", "admin").await,
        globex_write: api_token(store, "globex", "write").await,
        gw,
        app,
        archive,
        api,
    }
}

impl Setup {
    /// Sends an `order.paid` to `shop` and waits until it is delivered; its event id.
    async fn delivered(&self) -> String {
        let id = self
            .gw
            .send(&json!({ "id": format!("ord_{}", ulid::Ulid::new()) }))
            .await;
        self.gw.wait_job(&id, JobState::Succeeded).await;
        id
    }

    /// `POST /v1/events/{id}/replay` with `token` and `body`.
    async fn replay(
        &self,
        id: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.api
            .call(
                Method::POST,
                &format!("/v1/events/{id}/replay"),
                token,
                body,
            )
            .await
    }

    /// Waits until every job of `event_id` succeeded.
    async fn all_succeeded(&self, event_id: &str) {
        let gw = &self.gw;
        eventually("every job of the event succeeds", WAIT, || async move {
            gw.jobs(event_id)
                .await
                .iter()
                .all(|job| job.state == JobState::Succeeded)
                .then_some(())
        })
        .await;
    }
}

/// The `path` of every `fields` entry of a 400.
fn fields(answer: &(StatusCode, Value)) -> Vec<String> {
    error(answer, StatusCode::BAD_REQUEST, "invalid_request");
    answer.1["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {}", answer.1))
        .iter()
        .map(|f| f["path"].as_str().expect("a path").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_event_replayed_is_delivered_again_with_the_same_webhook_id_and_audited() {
    let s = setup().await;
    let id = s.delivered().await;
    assert_eq!(s.app.wait_for(1).await[0].webhook_id.as_deref(), Some(&*id));

    // No body at all: routed anew, under the event's own webhook-id.
    let (status, answer) = s.replay(&id, Some(&s.write), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["event_id"], id, "{answer}");
    assert_eq!(answer["webhook_id"], id, "{answer}");
    let jobs = answer["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1, "{answer}");
    assert_eq!(jobs[0]["queue"], "default", "{answer}");
    assert_eq!(jobs[0]["destination"], "app", "{answer}");

    let records = s.app.wait_for(2).await;
    assert_eq!(records[1].webhook_id.as_deref(), Some(&*id));
    assert!(records[1].verified, "{:?}", records[1]);
    s.all_succeeded(&id).await;
    let stored = s.gw.jobs(&id).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(Some(stored[1].id), jobs[0]["id"].as_i64());

    let (status, detail) = s.api.get(&format!("/v1/events/{id}"), Some(&s.read)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["status"], "succeeded", "{detail}");
    assert_eq!(detail["jobs"].as_array().map(Vec::len), Some(2), "{detail}");

    let (status, audit) = s.api.get("/v1/audit", Some(&s.admin)).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entry = &audit["data"][0];
    assert_eq!(entry["action"], "event.replay", "{audit}");
    assert_eq!(entry["target"], format!("event:{id}"), "{audit}");
    assert_eq!(entry["count"], 1, "{audit}");
    assert_eq!(entry["tenant"], "default", "{audit}");
    let detail: Value =
        serde_json::from_str(entry["detail"].as_str().expect("detail")).expect("detail is JSON");
    assert_eq!(detail["new_id"], false, "{audit}");
    assert_eq!(detail["destination"], Value::Null, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_id_forwards_the_replay_under_a_fresh_webhook_id() {
    let s = setup().await;
    let id = s.delivered().await;

    let body = json!({ "new_id": true });
    let (status, answer) = s.replay(&id, Some(&s.write), Some(&body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let fresh = answer["webhook_id"]
        .as_str()
        .expect("a webhook_id")
        .to_owned();
    assert_ne!(fresh, id);
    assert!(
        fresh
            .strip_prefix("msg_")
            .is_some_and(|ulid| ulid::Ulid::from_string(ulid).is_ok()),
        "{fresh}"
    );

    let records = s.app.wait_for(2).await;
    assert_eq!(records[0].webhook_id.as_deref(), Some(&*id));
    assert_eq!(records[1].webhook_id.as_deref(), Some(&*fresh));
    assert!(records[1].verified, "{:?}", records[1]);
    assert_eq!(records[1].body, records[0].body, "the same event");
    s.all_succeeded(&id).await;

    // A second fresh replay gets an id of its own.
    let (_, again) = s.replay(&id, Some(&s.write), Some(&body)).await;
    assert_ne!(again["webhook_id"], fresh, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_no_route_matches_is_409_and_replays_to_a_named_destination() {
    let s = setup().await;
    let id =
        s.gw.send(&json!({ "id": "note_1", "type": "note.added" }))
            .await;
    assert!(s.gw.event(&id).await.unrouted);

    let conflict = s.replay(&id, Some(&s.write), Some(&json!({}))).await;
    let detail = error(&conflict, StatusCode::CONFLICT, "conflict");
    assert!(detail.contains("destination"), "{detail}");
    assert!(s.gw.jobs(&id).await.is_empty(), "nothing was queued");

    let body = json!({ "destination": "archive", "queue": "bulk", "priority": 1 });
    let (status, answer) = s.replay(&id, Some(&s.write), Some(&body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        answer["jobs"],
        json!([{ "id": answer["jobs"][0]["id"], "queue": "bulk", "destination": "archive" }]),
        "{answer}"
    );
    let records = s.archive.wait_for(1).await;
    assert_eq!(records[0].webhook_id.as_deref(), Some(&*id));
    let job = s.gw.wait_job(&id, JobState::Succeeded).await;
    assert_eq!(job.queue, "bulk");
    assert_eq!(job.priority, 1);
    assert_eq!(job.ordering_key, None);
    assert!(s.app.records().is_empty(), "only the named destination");
    assert!(!s.gw.event(&id).await.unrouted, "the event has a job now");

    // A routed event goes to the named destination alone too, in `default` at 3.
    let routed = s.delivered().await;
    let (status, answer) = s
        .replay(
            &routed,
            Some(&s.write),
            Some(&json!({ "destination": "archive" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    s.archive.wait_for(2).await;
    s.all_succeeded(&routed).await;
    let jobs = s.gw.jobs(&routed).await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].queue, "default");
    assert_eq!(jobs[1].priority, 3);
    assert_eq!(
        s.app.records().len(),
        1,
        "app got the original delivery only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_replay_request_is_400_with_every_problem_in_fields() {
    let s = setup().await;
    let id = s.delivered().await;
    let cases = [
        (
            json!({ "destination": "nowhere", "queue": "nope" }),
            vec!["/destination", "/queue"],
        ),
        (
            json!({ "queue": "bulk", "priority": 2 }),
            vec!["/queue", "/priority"],
        ),
        (
            json!({ "destination": "app", "priority": 9 }),
            vec!["/priority"],
        ),
        (json!({ "destinaton": "app" }), vec!["body"]),
        (json!({ "new_id": "yes" }), vec!["body"]),
        (json!([]), vec!["body"]),
    ];
    for (body, expected) in cases {
        let answer = s.replay(&id, Some(&s.write), Some(&body)).await;
        assert_eq!(fields(&answer), expected, "{body}");
    }
    assert_eq!(s.gw.jobs(&id).await.len(), 1, "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_needs_a_write_token_of_the_events_tenant() {
    let s = setup().await;
    let id = s.delivered().await;

    let answer = s.replay(&id, None, None).await;
    error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
    let answer = s.replay(&id, Some("hkd_not_a_token"), None).await;
    error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
    let answer = s.replay(&id, Some(&s.read), None).await;
    error(&answer, StatusCode::FORBIDDEN, "forbidden");

    // Another tenant's event is answered as a missing one.
    let other = s.replay(&id, Some(&s.globex_write), None).await;
    let other_detail = error(&other, StatusCode::NOT_FOUND, "not_found");
    let missing_id = format!("evt_{}", ulid::Ulid::new());
    let missing = s.replay(&missing_id, Some(&s.write), None).await;
    let missing_detail = error(&missing, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        other_detail.replace(&id, "ID"),
        missing_detail.replace(&missing_id, "ID")
    );
    let garbage = s.replay("not-an-event", Some(&s.write), None).await;
    error(&garbage, StatusCode::NOT_FOUND, "not_found");

    assert_eq!(s.gw.jobs(&id).await.len(), 1, "nothing was queued");
    let audit =
        s.gw.store()
            .audit_list(None, None, 10)
            .await
            .expect("audit");
    assert!(
        audit.is_empty(),
        "refused replays leave no entry: {audit:?}"
    );
}

/// An RFC 3339 time of the API as unix milliseconds.
fn millis(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    let at = humantime::parse_rfc3339(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    let since = at.duration_since(UNIX_EPOCH).expect("after 1970");
    i64::try_from(since.as_millis()).expect("fits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lag_runs_from_the_providers_timestamp_through_commit_to_delivery() {
    const AGO_SECS: i64 = 30;
    let s = setup().await;
    let now = now_secs();
    let occurred = humantime::format_rfc3339_seconds(
        UNIX_EPOCH + Duration::from_secs(u64::try_from(now - AGO_SECS).expect("after 1970")),
    )
    .to_string();
    let body = json!({ "type": "invoice.paid", "timestamp": occurred, "data": {} })
        .to_string()
        .into_bytes();
    let webhook_id = "msg_lag_1";
    let signature = Secret::parse(SW_SECRET)
        .expect("a whsec_ secret")
        .sign(webhook_id, now, &body);
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("webhook-id".to_owned(), webhook_id.to_owned()),
        ("webhook-timestamp".to_owned(), now.to_string()),
        ("webhook-signature".to_owned(), signature),
    ];
    let (status, answer) = s.gw.post("sw", &body, &headers).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = event_id(&answer);
    s.gw.wait_job(&id, JobState::Succeeded).await;

    let (status, detail) = s.api.get(&format!("/v1/events/{id}"), Some(&s.read)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let lag = &detail["lag"];
    assert_eq!(lag["occurred_at"], detail["occurred_at"], "{detail}");
    assert_eq!(lag["received_at"], detail["received_at"], "{detail}");
    assert_eq!(lag["committed_at"], detail["committed_at"], "{detail}");
    let ms = |name: &str| {
        lag[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} is not a number: {lag}"))
    };

    // Received within a second or two of `now`, which is `AGO_SECS` after the event.
    let provider = ms("provider_ms");
    assert!(
        (AGO_SECS * 1000..(AGO_SECS + 3) * 1000).contains(&provider),
        "{provider}: {lag}"
    );
    let (commit, first, succeeded) = (ms("commit_ms"), ms("first_attempt_ms"), ms("succeeded_ms"));
    assert!(commit >= 0, "{lag}");
    assert!(
        first >= commit,
        "the first attempt follows the commit: {lag}"
    );
    assert!(
        succeeded >= first,
        "success follows the first attempt: {lag}"
    );

    let received = millis(&lag["received_at"]);
    assert_eq!(received - millis(&lag["occurred_at"]), provider, "{lag}");
    assert_eq!(millis(&lag["committed_at"]) - received, commit, "{lag}");
    assert_eq!(millis(&lag["first_attempt_at"]) - received, first, "{lag}");
    assert_eq!(millis(&lag["succeeded_at"]) - received, succeeded, "{lag}");
    let attempt = &detail["jobs"][0]["attempt_list"][0];
    assert_eq!(attempt["started_at"], lag["first_attempt_at"], "{detail}");
    assert_eq!(
        millis(&attempt["started_at"]) + attempt["duration_ms"].as_i64().expect("duration"),
        millis(&lag["succeeded_at"]),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lag_of_an_event_not_yet_delivered_leaves_the_steps_ahead_null() {
    let s = setup().await;
    let id =
        s.gw.send(&json!({ "id": "note_2", "type": "note.added" }))
            .await;
    let (status, detail) = s.api.get(&format!("/v1/events/{id}"), Some(&s.read)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let lag = &detail["lag"];
    for name in [
        "occurred_at",
        "provider_ms",
        "first_attempt_at",
        "first_attempt_ms",
        "succeeded_at",
        "succeeded_ms",
    ] {
        assert_eq!(lag[name], Value::Null, "{name}: {lag}");
    }
    assert!(lag["commit_ms"].as_i64().is_some_and(|ms| ms >= 0), "{lag}");
    assert!(lag["committed_at"].is_string(), "{lag}");
}
