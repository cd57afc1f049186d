//! Leases: a job held by a worker that vanished (it claimed and never renewed its lease)
//! comes back once the lease expires, while the node runs, and is delivered by the node;
//! a job whose worker is alive keeps its lease however long it runs.

use std::time::Duration;

use hookd::sink::SinkOptions;
use hookd_store::{AttemptOutcome, JobClaim, JobState, NewEvent, NewJob, Store, Target};
use serde_json::json;
use tempfile::TempDir;

use crate::support::gateway::{jobs, open_store};
use crate::support::{SHOP_SOURCE, TestGateway, TestSink, now_millis, sink_options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_rescued_while_the_node_runs_and_the_job_delivered() {
    let data = TempDir::new().unwrap();
    let body = json!({"id": "ghosted", "type": "order.paid"})
        .to_string()
        .into_bytes();

    // A "ghost" node claims the job with a 2 s lease and disappears.
    let (event_id, job_id, lease_until) = {
        let store = open_store(data.path()).await;
        let now = now_millis();
        store
            .event_insert_with_jobs(vec![NewEvent {
                id: "evt_ghosted".to_owned(),
                tenant: "default".to_owned(),
                source: "shop".to_owned(),
                event_type: "order.paid".to_owned(),
                provider_event_id: Some("ghosted".to_owned()),
                dedup_key: "ghosted".to_owned(),
                dedup_window_ms: 86_400_000,
                occurred_at: None,
                received_at: now,
                headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                body: body.clone(),
                jobs: vec![NewJob {
                    queue: "default".to_owned(),
                    priority: 3,
                    run_at: now,
                    ordering_key: None,
                    target: Target::Http {
                        destination: "app".to_owned(),
                    },
                }],
            }])
            .await
            .expect("inserting the event");
        let lease_until = now_millis() + 2_000;
        let claimed = store
            .job_claim(JobClaim {
                queue: "default".to_owned(),
                limit: 1,
                max_running: None,
                now: now_millis(),
                lease_until,
                node: "ghost".to_owned(),
            })
            .await
            .expect("claiming");
        assert_eq!(claimed.jobs.len(), 1);
        let job_id = claimed.jobs[0].job.id;
        store.close().await;
        ("evt_ghosted".to_owned(), job_id, lease_until)
    };

    let sink = TestSink::ok().await;
    let toml = format!(
        r#"
[server]
node_id = "gw-lease"
rescue_interval = "200ms"
{SHOP_SOURCE}{dest}
[[routes]]
source = "shop"
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start_in(data, &toml).await;
    let held = gw.job_by_id(job_id).await;
    if now_millis() < lease_until {
        assert_eq!(
            held.state,
            JobState::Running,
            "still leased to the ghost: {held:?}"
        );
        assert_eq!(held.lease_owner.as_deref(), Some("ghost"));
    }

    let job = gw.wait_job(&event_id, JobState::Succeeded).await;
    assert_eq!(job.id, job_id);
    let record = sink.wait_for(1).await.remove(0);
    assert!(
        record.received_at >= lease_until,
        "delivered at {} while the ghost's lease ran until {lease_until}",
        record.received_at
    );
    assert_eq!(record.webhook_id.as_deref(), Some(event_id.as_str()));
    assert_eq!(record.body.as_bytes(), body.as_slice());

    let attempts = gw.attempts(job_id).await;
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| (a.number, a.node.as_str(), a.outcome))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "ghost", AttemptOutcome::LeaseExpired),
            (2, "gw-lease", AttemptOutcome::Succeeded),
        ]
    );
    assert_eq!(jobs(gw.store(), &event_id).await.len(), 1);
    assert_eq!(sink.records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_keeps_its_lease_past_the_lease_length() {
    // The delivery takes three leases; the rescuer looks every 100 ms.
    let sink = TestSink::start(SinkOptions {
        delay: Duration::from_millis(1800),
        ..sink_options()
    })
    .await;
    let toml = format!(
        r#"
[server]
rescue_interval = "100ms"
{SHOP_SOURCE}{dest}
[queues.default]
lease = "600ms"

[[routes]]
source = "shop"
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;
    let id = gw.send(&json!({"id": "long-1"})).await;
    let job = gw.wait_job(&id, JobState::Succeeded).await;
    assert_eq!(job.attempts, 1, "never rescued: {job:?}");
    let attempts = gw.attempts(job.id).await;
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(
        sink.records().len(),
        1,
        "delivered once: {:#?}",
        sink.records()
    );
}
