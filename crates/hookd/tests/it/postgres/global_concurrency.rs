//! A queue's `global_concurrency` across nodes: two nodes in one process on one schema,
//! each allowed four jobs of the queue by its `concurrency`, together never deliver more
//! than the queue's cap of two at once to a slow sink, and still deliver everything.
//!
//! Every webhook wakes both nodes' pools, so whichever node holds the slots, the other
//! claims while they are taken and must get nothing (without the cap the two would run
//! eight at once). Which node runs how many is up to the race and only printed: a node
//! whose job ends claims again at once, so one node may well run them all.

use std::collections::BTreeMap;
use std::time::Duration;

use hookd::sink::SinkOptions;
use hookd_store::{JobState, Store as _};
use hookd_store_postgres::PostgresStore;
use serde_json::json;

use crate::support::sink::max_concurrent;
use crate::support::{SHOP_SOURCE, TestDatabase, TestGateway, TestSink, sink_options};

/// Webhooks sent, half to each node.
const EVENTS: usize = 12;

/// How long the sink holds each delivery: long enough for the two nodes' claims to meet
/// while deliveries run, short enough that the queue drains within a few seconds at two
/// at a time.
const SINK_DELAY: Duration = Duration::from_millis(250);

/// The queue's cap across nodes; each node alone would run twice as many.
const GLOBAL_CONCURRENCY: i32 = 2;

fn config(node: &str, sink: &TestSink) -> String {
    format!(
        r#"
[server]
node_id = "{node}"
{SHOP_SOURCE}{destination}
[queues.default]
concurrency = 4
global_concurrency = {GLOBAL_CONCURRENCY}

[[routes]]
source = "shop"
destination = "app"
"#,
        destination = sink.destination("app"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_global_concurrency_caps_a_queue_across_nodes() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let sink = TestSink::start(SinkOptions {
        delay: SINK_DELAY,
        ..sink_options()
    })
    .await;
    let a: TestGateway<PostgresStore> =
        TestGateway::start_on_postgres(&database, &config("node-a", &sink)).await;
    let b = TestGateway::start_on_postgres(&database, &config("node-b", &sink)).await;

    let mut events = Vec::with_capacity(EVENTS);
    for n in 0..EVENTS {
        let node = if n % 2 == 0 { &a } else { &b };
        events.push(node.send(&json!({ "id": format!("capped-{n}") })).await);
    }
    let records = sink.wait_for(EVENTS).await;
    assert!(
        records.iter().all(|r| r.verified && r.status == 200),
        "{records:#?}"
    );
    let peak = max_concurrent(&records);
    assert_eq!(
        peak, GLOBAL_CONCURRENCY,
        "the two nodes together deliver at most {GLOBAL_CONCURRENCY} at once, and reach it"
    );

    let mut per_node = BTreeMap::<String, usize>::new();
    for event in &events {
        // The sink answers before the completion is committed.
        let job = a.wait_job(event, JobState::Succeeded).await;
        for attempt in a.store().attempt_list(job.id).await.expect("attempts") {
            *per_node.entry(attempt.node).or_default() += 1;
        }
    }
    assert_eq!(
        per_node.values().sum::<usize>(),
        EVENTS,
        "one attempt per event: {per_node:?}"
    );
    println!("deliveries per node under global_concurrency = {GLOBAL_CONCURRENCY}: {per_node:?}");

    b.stop().await;
    a.stop().await;
}
