//! Retention: with a short age, delivered events are pruned (with their jobs) while
//! webhooks keep arriving and every one of them is accepted and delivered; a dead event
//! younger than `dead` stays; a provider's retry of a pruned event is still a duplicate.

use std::sync::atomic::{AtomicBool, Ordering};

use hookd_store::{JobState, Store};
use serde_json::json;

use crate::support::{
    SOURCE_SECRET, Signer, TestGateway, TestSink, WAIT, eventually, sink_options,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_events_are_pruned_while_ingest_continues_and_dead_ones_stay() {
    let sink = TestSink::ok().await;
    let broken = TestSink::start(hookd::sink::SinkOptions {
        fail_first: 1_000,
        fail_status: 400,
        ..sink_options()
    })
    .await;
    let toml = format!(
        r#"{source}{app}{broken}
[retention]
succeeded = "1s"
dead = "1h"
interval = "200ms"
batch = 2

[[routes]]
source = "shop"
types = ["order.paid"]
destination = "app"

[[routes]]
source = "shop"
types = ["order.failed"]
destination = "broken"
"#,
        source = crate::support::SHOP_SOURCE,
        app = sink.destination("app"),
        broken = broken.destination("broken"),
    );
    let gw = TestGateway::start(&toml).await;

    let mut old = Vec::new();
    for i in 0..5 {
        old.push(gw.send(&json!({"id": format!("old-{i}")})).await);
    }
    let dead = gw
        .send(&json!({"id": "dead-1", "type": "order.failed"}))
        .await;
    for id in &old {
        gw.wait_job(id, JobState::Succeeded).await;
    }
    gw.wait_job(&dead, JobState::Dead).await;

    // Ingest keeps going while the duty prunes the old events, batch by batch.
    let stop = AtomicBool::new(false);
    let sending = async {
        let mut sent = Vec::new();
        while !stop.load(Ordering::Acquire) {
            sent.push(
                gw.send(&json!({"id": format!("live-{}", sent.len())}))
                    .await,
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        sent
    };
    let pruning = async {
        for id in &old {
            eventually(&format!("{id} to be pruned"), WAIT, || async {
                let event = gw.store().event_get(id).await.expect("event_get");
                event.is_none().then_some(())
            })
            .await;
            assert!(gw.jobs(id).await.is_empty(), "the jobs of {id} are pruned");
        }
        stop.store(true, Ordering::Release);
    };
    let (live, ()) = tokio::join!(sending, pruning);
    assert!(!live.is_empty(), "webhooks were sent while pruning ran");

    // Every webhook sent meanwhile was accepted (`send` asserts 200) and is delivered.
    let records = sink
        .wait_until(|records| {
            live.iter().all(|id| {
                records
                    .iter()
                    .any(|r| r.webhook_id.as_deref() == Some(id.as_str()))
            })
        })
        .await;
    assert!(records.len() >= old.len() + live.len());

    // The dead event is younger than `dead`: it stays, with its job.
    assert!(
        gw.store()
            .event_get(&dead)
            .await
            .expect("event_get")
            .is_some()
    );
    assert_eq!(gw.job(&dead).await.state, JobState::Dead);

    // A provider retry of a pruned event is still recognised within its window.
    let answer = gw
        .send_signed(
            "shop",
            &Signer::new(SOURCE_SECRET),
            &json!({"id": "old-0", "type": "order.paid"}),
        )
        .await;
    assert_eq!(answer["duplicate"], true, "{answer}");
}
