//! Two nodes in one process on one schema: configuration edited through node A's API is
//! in force on node B without a restart, carried by the store's change notifications. A
//! source secret rotated on A verifies on B, and the old one no longer does; a queue
//! paused on A is claimed from by neither node until it is resumed on A. Both delays are
//! printed, for the benchmark's report.

use std::time::Duration;

use hookd_store::JobState;
use hookd_store_postgres::PostgresStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{
    SHOP_SOURCE, SOURCE_SECRET, Signer, TestDatabase, TestGateway, TestSink, WAIT, api_token,
    eventually,
};

/// The secret the rotation puts in place of [`SOURCE_SECRET`].
const ROTATED: &str = "rotated-secret";

/// How long a job must stay unclaimed to count as held by a pause: many claim round
/// trips, even on a busy machine.
const HOLD: Duration = Duration::from_millis(500);

/// How often a probe is sent to node B while the pause is on its way to it.
const PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// Events sent to node B once the pause is in force there, held with the probes.
const HELD: usize = 5;

fn config(node: &str, sink: &TestSink) -> String {
    format!(
        r#"
[server]
node_id = "{node}"
{SHOP_SOURCE}{destination}
[[routes]]
source = "shop"
destination = "app"
"#,
        destination = sink.destination("app"),
    )
}

/// A node on the test's schema.
type Node = TestGateway<PostgresStore>;

/// A client of one node's management API, as an admin of every tenant.
struct Admin {
    client: reqwest::Client,
    token: String,
}

impl Admin {
    /// `method path` on `gw` with a JSON `body`; asserts 200 and returns the answer.
    async fn call(&self, gw: &Node, method: Method, path: &str, body: Option<&Value>) -> Value {
        let mut request = self
            .client
            .request(method.clone(), gw.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("the answer is JSON");
        assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
        answer
    }
}

/// Posts a new event `id` to `shop` on `gw`, signed with `secret`; the status and answer.
async fn post(gw: &Node, secret: &str, id: &str) -> (StatusCode, Value) {
    let body = json!({ "id": id, "type": "order.paid" })
        .to_string()
        .into_bytes();
    gw.post("shop", &body, &Signer::new(secret).headers(&body))
        .await
}

/// As [`post`], asserting a new event; its id.
async fn send(gw: &Node, secret: &str, id: &str) -> String {
    let (status, answer) = post(gw, secret, id).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["duplicate"], false, "{answer}");
    answer["id"].as_str().expect("an event id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_config_edit_on_one_node_is_in_force_on_the_other() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let sink = TestSink::ok().await;
    let a = TestGateway::start_on_postgres(&database, &config("node-a", &sink)).await;
    let b = TestGateway::start_on_postgres(&database, &config("node-b", &sink)).await;
    // One key in the shared store serves both nodes.
    let admin = Admin {
        client: reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("a test HTTP client"),
        token: api_token(a.store(), "*", "admin").await,
    };
    send(&b, SOURCE_SECRET, "before-rotation").await;

    // The rotation, through A.
    let source = admin
        .call(&a, Method::GET, "/v1/config/sources/shop", None)
        .await;
    let mut body = source["config"].clone();
    body["secrets"] = json!([ROTATED]);
    admin
        .call(&a, Method::PUT, "/v1/config/sources/shop", Some(&body))
        .await;
    let rotated_at = Instant::now();
    let (status, answer) = post(&a, ROTATED, "rotated-on-a").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "node A takes its own edit at once: {answer}"
    );

    let mut probes = 0;
    let rotation_delay = eventually(
        "node B to accept the secret rotated through node A",
        WAIT,
        || {
            probes += 1;
            let id = format!("rotation-probe-{probes}");
            let b = &b;
            async move {
                let (status, _) = post(b, ROTATED, &id).await;
                (status == StatusCode::OK).then(|| rotated_at.elapsed())
            }
        },
    )
    .await;
    let (status, answer) = post(&b, SOURCE_SECRET, "old-secret-on-b").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"]["code"], "signature_mismatch", "{answer}");
    println!(
        "postgres: a secret rotated through node A was in force on node B after \
         {rotation_delay:?} ({probes} probes)"
    );

    // The pause, through A. Probes go to B until one stays unclaimed: the pause has
    // reached B's pool.
    admin
        .call(&a, Method::POST, "/v1/queues/default/pause", None)
        .await;
    let paused_at = Instant::now();
    // (sent how long after the pause, event id), in the order sent.
    let mut probes: Vec<(Duration, String)> = Vec::new();
    // The probes B claimed before the pause reached it: the first ones.
    let mut claimed = 0;
    let pause_delay = loop {
        assert!(
            paused_at.elapsed() < WAIT,
            "node B kept claiming {WAIT:?} after the pause through node A"
        );
        let sent_after = paused_at.elapsed();
        let id = send(&b, ROTATED, &format!("pause-probe-{}", probes.len())).await;
        probes.push((sent_after, id));
        // The oldest probe not yet judged is judged once it has had HOLD to be claimed.
        let (sent_after, id) = &probes[claimed];
        if paused_at.elapsed() >= *sent_after + HOLD {
            if b.job(id).await.state == JobState::Ready {
                break *sent_after;
            }
            claimed += 1;
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    };
    println!(
        "postgres: a pause through node A was in force on node B for a probe sent \
         {pause_delay:?} after it ({claimed} earlier probes were claimed)"
    );
    let mut held: Vec<String> = probes
        .split_off(claimed)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    for n in 0..HELD {
        held.push(send(&b, ROTATED, &format!("held-{n}")).await);
    }
    tokio::time::sleep(HOLD).await;
    for id in &held {
        let job = b.job(id).await;
        assert_eq!(job.state, JobState::Ready, "claimed while paused: {job:#?}");
    }

    // Resumed through A: B's jobs run.
    admin
        .call(&a, Method::POST, "/v1/queues/default/resume", None)
        .await;
    for id in &held {
        b.wait_job(id, JobState::Succeeded).await;
    }
    let records = sink
        .wait_until(|records| {
            held.iter().all(|id| {
                records
                    .iter()
                    .any(|r| r.webhook_id.as_deref() == Some(id.as_str()))
            })
        })
        .await;
    assert!(records.iter().all(|r| r.verified), "{records:#?}");

    b.stop().await;
    a.stop().await;
}
