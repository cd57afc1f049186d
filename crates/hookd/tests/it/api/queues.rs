//! `/v1/queues` over real HTTP: the configured queues with their depth by state, and
//! pause and resume: a paused queue keeps accepting webhooks and holds its jobs, resuming
//! delivers them, and a pause survives a restart. Only an admin of `*` may see queues.

use hookd_store::{JobState, Store as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Setup;
use super::keys::{Api, error};
use crate::support::{SHOP_SOURCE, TestGateway, TestSink, WAIT, api_token, eventually};

/// `shop` fans out to `app` on queue `default` and to `witness` on queue `bulk`, so a
/// delivery on `bulk` signals that the pools are at work while `default` is paused.
fn config(app: &TestSink, witness: &TestSink) -> String {
    format!(
        r#"{SHOP_SOURCE}{app}{witness}
[queues.default]
concurrency = 4
global_concurrency = 6
max_attempts = 5

[queues.bulk]
concurrency = 2

[[routes]]
source = "shop"
queue = "default"
destination = "app"

[[routes]]
source = "shop"
queue = "bulk"
destination = "witness"
"#,
        app = app.destination("app"),
        witness = witness.destination("witness"),
    )
}

async fn setup() -> Setup {
    Setup::start(config).await
}

impl Setup {
    /// `GET /v1/queues` as root, asserting 200; the queue `name`.
    async fn queue(&self, name: &str) -> Value {
        let (status, answer) = self.api.get("/v1/queues", Some(&self.root)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["data"]
            .as_array()
            .and_then(|all| all.iter().find(|q| q["name"] == name))
            .unwrap_or_else(|| panic!("no queue {name}: {answer}"))
            .clone()
    }

    /// `POST /v1/queues/{name}/{action}` as root, asserting 200; the queue answered.
    async fn act(&self, name: &str, action: &str) -> Value {
        let (status, answer) = self
            .api
            .call(
                Method::POST,
                &format!("/v1/queues/{name}/{action}"),
                Some(&self.root),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_every_configured_queue_with_its_settings_and_counts_by_state() {
    let s = setup().await;
    let (status, answer) = s.api.get("/v1/queues", Some(&s.root)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let names: Vec<&str> = answer["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|q| q["name"].as_str())
        .collect();
    assert_eq!(names, ["bulk", "default"], "{answer}");

    s.act("default", "pause").await;
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(s.gw.send(&json!({ "id": format!("ord_{n}") })).await);
    }
    // The three `bulk` jobs are delivered; the three `default` jobs wait.
    s.witness.wait_for(3).await;
    for event in &events {
        let jobs = s.gw.jobs(event).await;
        let bulk = jobs
            .iter()
            .find(|j| j.queue == "bulk")
            .expect("a bulk job")
            .id;
        // The sink answers before the completion is committed.
        let gw = &s.gw;
        eventually("the bulk job succeeds", WAIT, || async move {
            (gw.job_by_id(bulk).await.state == JobState::Succeeded).then_some(())
        })
        .await;
    }

    let default = s.queue("default").await;
    assert_eq!(default["concurrency"], 4, "{default}");
    assert_eq!(default["global_concurrency"], 6, "{default}");
    assert_eq!(default["max_attempts"], 5, "{default}");
    assert_eq!(default["paused"], true, "{default}");
    assert_eq!(
        default["depth"],
        json!({"scheduled": 0, "ready": 3, "running": 0, "retrying": 0, "succeeded": 0, "dead": 0}),
        "{default}"
    );
    assert!(
        default["oldest_ready_age_ms"]
            .as_i64()
            .is_some_and(|age| age >= 0),
        "{default}"
    );
    assert_eq!(default["finished_last_minute"], 0, "{default}");

    let bulk = s.queue("bulk").await;
    assert_eq!(bulk["concurrency"], 2, "{bulk}");
    assert_eq!(bulk["global_concurrency"], Value::Null, "{bulk}");
    assert_eq!(bulk["paused"], false, "{bulk}");
    assert_eq!(
        bulk["depth"],
        json!({"scheduled": 0, "ready": 0, "running": 0, "retrying": 0, "succeeded": 3, "dead": 0}),
        "{bulk}"
    );
    assert_eq!(bulk["oldest_ready_age_ms"], Value::Null, "{bulk}");
    assert_eq!(bulk["finished_last_minute"], 3, "{bulk}");
    assert!(s.app.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_accepts_webhooks_but_delivers_none_until_resumed() {
    let s = setup().await;
    let paused = s.act("default", "pause").await;
    assert_eq!(paused["name"], "default");
    assert_eq!(paused["paused"], true, "{paused}");
    // Pausing again changes nothing and answers the same.
    assert_eq!(s.act("default", "pause").await["paused"], true);

    // `send` asserts the webhook is accepted (200).
    let event = s.gw.send(&json!({ "id": "ord_1" })).await;
    // The same event's job on `bulk` is delivered: the pools are at work.
    s.witness.wait_for(1).await;
    let held =
        s.gw.jobs(&event)
            .await
            .into_iter()
            .find(|j| j.queue == "default")
            .expect("a default job");
    assert_eq!(held.state, JobState::Ready, "{held:?}");
    assert_eq!(held.attempts, 0, "{held:?}");
    assert!(s.app.records().is_empty(), "nothing delivered while paused");
    assert_eq!(s.queue("default").await["depth"]["ready"], 1);

    let resumed = s.act("default", "resume").await;
    assert_eq!(resumed["paused"], false, "{resumed}");
    let records = s.app.wait_for(1).await;
    assert_eq!(records[0].webhook_id.as_deref(), Some(event.as_str()));
    let job = s.gw.job_by_id(held.id).await;
    assert_eq!(job.attempts, 1, "{job:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_survives_a_restart() {
    let s = setup().await;
    s.act("default", "pause").await;
    // Held before the restart: the restarted pool looks at it as soon as it starts.
    let before = s.gw.send(&json!({ "id": "ord_before_restart" })).await;
    s.witness.wait_for(1).await;
    let toml = config(&s.app, &s.witness);
    let data = s.gw.shutdown().await;

    let gw = TestGateway::start_in(data, &toml).await;
    let api = Api::new(&gw);
    let s = Setup {
        gw,
        app: s.app,
        witness: s.witness,
        api,
        root: s.root,
    };
    assert_eq!(s.queue("default").await["paused"], true);
    let after = s.gw.send(&json!({ "id": "ord_after_restart" })).await;
    // The pools of the restarted gateway are at work: `bulk` delivered the new event.
    s.witness.wait_for(2).await;
    for event in [&before, &after] {
        let held =
            s.gw.jobs(event)
                .await
                .into_iter()
                .find(|j| j.queue == "default")
                .expect("a default job");
        assert_eq!(held.state, JobState::Ready, "{held:?}");
    }
    assert!(s.app.records().is_empty(), "nothing delivered while paused");
    assert_eq!(
        s.gw.store().queue_paused().await.expect("paused"),
        vec!["default".to_owned()]
    );

    s.act("default", "resume").await;
    s.app.wait_for(2).await;
}

/// Every queue operation, as (method, path).
const OPERATIONS: &[(Method, &str)] = &[
    (Method::GET, "/v1/queues"),
    (Method::POST, "/v1/queues/default/pause"),
    (Method::POST, "/v1/queues/default/resume"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_an_invalid_one_is_401_for_every_queue_operation() {
    let s = setup().await;
    for (method, path) in OPERATIONS {
        for token in [None, Some("hkd_not_a_token")] {
            let answer = s.api.call(method.clone(), path, token, None).await;
            error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    assert_eq!(s.queue("default").await["paused"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_and_tenant_admin_tokens_are_403_for_every_queue_operation() {
    let s = setup().await;
    let store = s.gw.store();
    let tokens = [
        api_token(store, "*", "read").await,
        api_token(store, "*", "write").await,
        api_token(store, "acme", "admin").await,
    ];
    for (method, path) in OPERATIONS {
        for token in &tokens {
            let answer = s.api.call(method.clone(), path, Some(token), None).await;
            error(&answer, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    assert_eq!(s.queue("default").await["paused"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_queue_is_404_and_is_not_paused() {
    let s = setup().await;
    for action in ["pause", "resume"] {
        let answer = s
            .api
            .call(
                Method::POST,
                &format!("/v1/queues/nope/{action}"),
                Some(&s.root),
                None,
            )
            .await;
        error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    assert!(
        s.gw.store()
            .queue_paused()
            .await
            .expect("paused")
            .is_empty()
    );
}
