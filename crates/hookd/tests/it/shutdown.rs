//! Graceful shutdown: a delivery in flight finishes within `shutdown_grace`; one that
//! outlasts it is released (ready again, its attempt not counted), so the next start
//! runs it at once.

use std::time::Duration;

use hookd::sink::SinkOptions;
use hookd_store::{JobState, Store};
use serde_json::json;

use crate::support::gateway::{jobs, open_store};
use crate::support::{SHOP_SOURCE, TestGateway, TestSink, now_millis, sink_options};

fn config(grace: &str, destination: &str) -> String {
    format!(
        r#"
[server]
shutdown_grace = "{grace}"
{SHOP_SOURCE}{destination}
[[routes]]
source = "shop"
destination = "app"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_delivery_finishes_within_the_grace_before_shutdown_returns() {
    let sink = TestSink::start(SinkOptions {
        delay: Duration::from_millis(1500),
        ..sink_options()
    })
    .await;
    let gw = TestGateway::start(&config("10s", &sink.destination("app"))).await;
    let id = gw.send(&json!({"id": "drain-1"})).await;
    gw.wait_job(&id, JobState::Running).await;
    assert!(sink.records().is_empty(), "the delivery is still in flight");

    let data = gw.shutdown().await;
    let records = sink.records();
    assert_eq!(
        records.len(),
        1,
        "answered before shutdown returned: {records:#?}"
    );
    assert_eq!(records[0].status, 200);

    let store = open_store(data.path()).await;
    let job = jobs(&store, &id).await.remove(0);
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(store.attempt_list(job.id).await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_outlasting_the_grace_is_released_and_runs_at_once_on_restart() {
    let slow = TestSink::start(SinkOptions {
        delay: Duration::from_secs(5),
        ..sink_options()
    })
    .await;
    let gw = TestGateway::start(&config("100ms", &slow.destination("app"))).await;
    let id = gw.send(&json!({"id": "release-1"})).await;
    gw.wait_job(&id, JobState::Running).await;

    let data = gw.shutdown().await;
    let released_at = now_millis();
    {
        let store = open_store(data.path()).await;
        let job = jobs(&store, &id).await.remove(0);
        assert_eq!(job.state, JobState::Ready, "{job:?}");
        assert_eq!(
            job.attempts, 0,
            "the interrupted attempt does not count: {job:?}"
        );
        assert!(job.run_at <= released_at, "due at once: {job:?}");
        assert_eq!(job.lease_owner, None, "{job:?}");
        assert!(store.attempt_list(job.id).await.unwrap().is_empty());
        store.close().await;
    }

    // The next start (pointed at a prompt destination) runs it.
    let fast = TestSink::ok().await;
    let gw = TestGateway::start_in(data, &config("10s", &fast.destination("app"))).await;
    let job = gw.wait_job(&id, JobState::Succeeded).await;
    assert_eq!(job.attempts, 1);
    let records = fast.wait_for(1).await;
    assert_eq!(records[0].webhook_id.as_deref(), Some(id.as_str()));
    gw.shutdown().await;
}
