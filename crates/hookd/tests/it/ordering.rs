//! Order of work within a queue: a lower priority number runs first, and jobs with one
//! ordering key run one at a time in arrival order while different keys run in parallel.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use hookd::sink::{SinkOptions, SinkRecord};
use hookd_store::JobState;
use serde_json::{Value, json};

use crate::support::capture::Capture;
use crate::support::sink::max_concurrent;
use crate::support::{SHOP_SOURCE, TestGateway, TestSink, sink_options};

fn field(record: &SinkRecord, pointer: &str) -> Value {
    let body: Value = serde_json::from_str(&record.body).expect("the sink got JSON");
    body.pointer(pointer).cloned().unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_a_queue_lower_priority_numbers_run_first() {
    // The blocker (p = 0) goes to a destination that holds its answer until released,
    // keeping the queue's one worker busy while the others arrive; p = N goes to the
    // sink through a route of priority N. All share the queue `lane`.
    let blocker_dest = Capture::gated().await;
    let sink = TestSink::start(SinkOptions {
        delay: Duration::from_millis(20),
        ..sink_options()
    })
    .await;
    let mut toml = format!(
        "{SHOP_SOURCE}{gate}{dest}\n[queues.lane]\nconcurrency = 1\n\n[[routes]]\nsource = \"shop\"\nqueue = \"lane\"\nmatch = {{ \"/p\" = 0 }}\npriority = 5\ndestination = \"gate\"\n",
        gate = blocker_dest.destination("gate"),
        dest = sink.destination("app"),
    );
    for p in 1..=5 {
        toml.push_str(&format!(
            "\n[[routes]]\nsource = \"shop\"\nqueue = \"lane\"\nmatch = {{ \"/p\" = {p} }}\npriority = {p}\ndestination = \"app\"\n"
        ));
    }
    let gw = TestGateway::start(&toml).await;

    let blocker = gw.send(&json!({"id": "blocker", "p": 0})).await;
    let held = blocker_dest.first().await;
    assert_eq!(held.headers["webhook-id"], blocker.as_str());
    for p in [5, 4, 3, 2, 1] {
        gw.send(&json!({"id": format!("p{p}"), "p": p})).await;
    }
    assert_eq!(gw.job(&blocker).await.state, JobState::Running);
    assert!(sink.records().is_empty(), "nothing passed the busy worker");
    blocker_dest.release();

    let mut records = sink.wait_for(5).await;
    gw.wait_job(&blocker, JobState::Succeeded).await;
    records.sort_by_key(|r| r.received_at);
    let order: Vec<Value> = records.iter().map(|r| field(r, "/p")).collect();
    assert_eq!(order, [1, 2, 3, 4, 5].map(Value::from));
    assert!(records.iter().all(|r| r.status == 200));
    // One worker: each delivery started after the previous one was answered.
    for pair in records.windows(2) {
        assert!(pair[1].received_at >= pair[0].finished_at, "{records:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ordering_key_runs_one_at_a_time_in_order_while_keys_run_in_parallel() {
    const KEYS: u64 = 4;
    const PER_KEY: u64 = 8;
    let sink = TestSink::start(SinkOptions {
        delay: Duration::from_millis(50),
        ..sink_options()
    })
    .await;
    let toml = format!(
        r#"{SHOP_SOURCE}{dest}
[queues.default]
concurrency = 8

[[routes]]
source = "shop"
ordering_key = ["/customer/id"]
destination = "app"
"#,
        dest = sink.destination("app")
    );
    let gw = TestGateway::start(&toml).await;

    // One sender per key, each waiting for its answer before the next event: the send
    // order of a key is its arrival order. Keys interleave.
    let senders = (0..KEYS).map(|key| {
        let gw = &gw;
        async move {
            for seq in 0..PER_KEY {
                gw.send(
                    &json!({"id": format!("c{key}-{seq}"), "customer": {"id": key}, "seq": seq}),
                )
                .await;
            }
        }
    });
    join_all(senders).await;

    let records = sink
        .wait_for(usize::try_from(KEYS * PER_KEY).unwrap())
        .await;
    assert!(records.iter().all(|r| r.status == 200 && r.verified));
    let mut by_key: BTreeMap<u64, Vec<&SinkRecord>> = BTreeMap::new();
    for record in &records {
        by_key
            .entry(field(record, "/customer/id").as_u64().unwrap())
            .or_default()
            .push(record);
    }
    assert_eq!(by_key.len(), 4);
    for (key, mut deliveries) in by_key {
        deliveries.sort_by_key(|r| r.received_at);
        let seqs: Vec<u64> = deliveries
            .iter()
            .map(|r| field(r, "/seq").as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (0..PER_KEY).collect::<Vec<_>>(),
            "key {key} in send order"
        );
        for pair in deliveries.windows(2) {
            assert!(
                pair[1].received_at >= pair[0].finished_at,
                "key {key}: seq {} started at {} before seq {} finished at {}",
                field(pair[1], "/seq"),
                pair[1].received_at,
                field(pair[0], "/seq"),
                pair[0].finished_at
            );
        }
    }
    let parallel = max_concurrent(&records);
    assert!(
        parallel > 1,
        "keys ran in parallel: at most {parallel} at once"
    );
}
