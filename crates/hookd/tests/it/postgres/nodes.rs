//! Three real `hookd serve` processes on one schema, webhooks spread round-robin across
//! them and forwarded to one slow sink that records when each delivery started and
//! ended:
//!
//! - they share the work: every event is delivered exactly once, every node runs jobs,
//!   no job has attempts overlapping in time on different nodes (the store's attempt
//!   records), and per ordering key the deliveries arrive in order, one after the other;
//! - a node killed with SIGKILL while it holds running jobs loses nothing: once their
//!   lease expires, the other nodes run them, and everything is delivered.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt as _;
use hookd::sink::{SinkOptions, SinkRecord};
use hookd_store::{Attempt, AttemptOutcome, Job, JobState, Store};
use hookd_store_postgres::PostgresStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::Child;
use tokio::time::Instant;

use crate::support::NodeDatabase as _;
use crate::support::process::{free_port, spawn_gateway, wait_ready};
use crate::support::{
    SHOP_SOURCE, SOURCE_SECRET, Signer, TestDatabase, TestSink, WAIT, eventually, now_millis,
    sink_options,
};

/// Nodes in the cluster.
const NODES: usize = 3;

/// Ordering keys (`/customer`) the events are spread over; each key's events are sent
/// one after the other, so their arrival order is their `seq`.
const KEYS: usize = 50;

/// Overrides how many events the three-node test sends (default [`EVENTS_DEFAULT`]),
/// e.g. 2000 for a quick local run.
const EVENTS_VAR: &str = "HOOKD_TEST_NODES_EVENTS";

/// Events the three-node test sends by default: enough for every node to claim
/// thousands of times while many keys wait behind each other (about a minute on two
/// cores).
const EVENTS_DEFAULT: usize = 10_000;

/// How long all deliveries may take, generously.
const DELIVERY_WAIT: Duration = Duration::from_secs(240);

/// One `hookd serve` process.
struct Node {
    /// Its `node_id`, as recorded in leases and attempts.
    id: String,
    /// `http://127.0.0.1:PORT`.
    base: String,
    child: Child,
}

/// The nodes, and what they were started with.
struct Cluster {
    nodes: Vec<Node>,
    client: reqwest::Client,
    /// Holds the nodes' configuration files and data directories.
    _dir: TempDir,
}

/// One webhook acknowledged by a node.
struct Sent {
    /// The event id the node answered.
    id: String,
    /// The ordering key.
    customer: String,
    /// Its place among the events of its key.
    seq: u64,
}

impl Cluster {
    /// Starts [`NODES`] processes on `database`'s schema, all at once (so they race to
    /// migrate it), routing `shop` to `sink` on queue `default` with `queue` (TOML keys),
    /// ordered by `/customer`; returns once every one is ready.
    async fn start(database: &TestDatabase, sink: &TestSink, queue: &str) -> Self {
        let dir = TempDir::new().expect("a temporary directory");
        let client = reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("a test HTTP client");
        let mut nodes = Vec::new();
        for n in 0..NODES {
            let id = format!("node-{n}");
            let port = free_port().await;
            let config = format!(
                r#"
[server]
listen = "127.0.0.1:{port}"
node_id = "{id}"
data_dir = {data_dir}
{database}rescue_interval = "250ms"
log_level = "warn"
{SHOP_SOURCE}
[queues.default]
{queue}
{destination}
[[routes]]
source = "shop"
destination = "sink"
ordering_key = ["/customer"]
"#,
                // What a node keeps on local disk, its own.
                data_dir = toml::Value::String(
                    dir.path()
                        .join(&id)
                        .to_str()
                        .expect("a UTF-8 path")
                        .to_owned()
                ),
                database = database.server_keys(),
                destination = sink.destination("sink"),
            );
            let path = dir.path().join(format!("{id}.toml"));
            std::fs::write(&path, config).expect("writing a node's configuration");
            nodes.push(Node {
                id,
                base: format!("http://127.0.0.1:{port}"),
                child: spawn_gateway(&path),
            });
        }
        for node in &nodes {
            wait_ready(&client, &node.base).await;
        }
        Self {
            nodes,
            client,
            _dir: dir,
        }
    }

    /// Sends `events` signed webhooks over [`KEYS`] keys, each key's in order and each
    /// to the next node round-robin; asserts every one is acknowledged as new.
    async fn send(&self, events: usize) -> Vec<Sent> {
        let signer = Signer::new(SOURCE_SECRET);
        let keys = (0..KEYS).map(|key| {
            let signer = &signer;
            async move {
                let mut sent = Vec::new();
                for seq in 0.. {
                    let n = seq * KEYS + key;
                    if n >= events {
                        break;
                    }
                    let node = &self.nodes[(key + seq) % NODES];
                    let customer = format!("customer-{key}");
                    let body = json!({
                        "id": format!("evt-{n}"),
                        "type": "order.paid",
                        "customer": customer,
                        "seq": seq,
                    })
                    .to_string()
                    .into_bytes();
                    let mut request = self
                        .client
                        .post(format!("{}/in/shop", node.base))
                        .body(body.clone());
                    for (name, value) in signer.headers(&body) {
                        request = request.header(name, value);
                    }
                    let response = request.send().await.expect("the node answers");
                    let status = response.status();
                    let answer: Value = response.json().await.expect("the answer is JSON");
                    assert_eq!(status, StatusCode::OK, "{}: {answer}", node.id);
                    assert_eq!(answer["duplicate"], false, "{}: {answer}", node.id);
                    sent.push(Sent {
                        id: answer["id"].as_str().expect("an event id").to_owned(),
                        customer,
                        seq: u64::try_from(seq).expect("seq fits u64"),
                    });
                }
                sent
            }
        });
        futures::future::join_all(keys)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// SIGKILLs node `n` and waits until it is gone.
    async fn kill(&mut self, n: usize) {
        let child = &mut self.nodes[n].child;
        child.start_kill().expect("SIGKILL hookd");
        child.wait().await.expect("reaping hookd");
    }

    /// Stops every node still running.
    async fn stop(mut self) {
        for node in &mut self.nodes {
            if node.child.try_wait().expect("polling hookd").is_none() {
                node.child.start_kill().expect("stopping hookd");
                node.child.wait().await.expect("reaping hookd");
            }
        }
    }
}

/// How many events the three-node test sends: [`EVENTS_VAR`], or [`EVENTS_DEFAULT`].
fn events_to_send() -> usize {
    std::env::var(EVENTS_VAR).map_or(EVENTS_DEFAULT, |value| {
        value
            .parse()
            .unwrap_or_else(|_| panic!("{EVENTS_VAR}={value:?} is not a number of events"))
    })
}

/// A delivery the sink took: signed right, answered 200, and not hung up on.
fn delivered(record: &SinkRecord) -> bool {
    record.verified && record.status == 200 && record.error.is_none()
}

/// Waits until the sink has taken a delivery of every event of `sent`; returns its
/// records.
async fn wait_delivered(sink: &TestSink, sent: &[Sent]) -> Vec<SinkRecord> {
    sink.wait_until_within(DELIVERY_WAIT, |records| {
        // Counting first keeps this cheap: it runs on every record.
        if records.iter().filter(|r| delivered(r)).count() < sent.len() {
            return false;
        }
        let seen: HashSet<&str> = records
            .iter()
            .filter(|r| delivered(r))
            .filter_map(|r| r.webhook_id.as_deref())
            .collect();
        sent.iter().all(|s| seen.contains(s.id.as_str()))
    })
    .await
}

/// Per ordering key, the deliveries the sink took arrived in `seq` order, each after
/// the one before had been answered. An event may come twice in a row (at least once: a
/// node died after the sink answered, before it recorded the success).
fn assert_ordered(records: &[SinkRecord], sent: &[Sent]) {
    let by_id: HashMap<&str, &Sent> = sent.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut by_key: HashMap<&str, Vec<(&Sent, &SinkRecord)>> = HashMap::new();
    for record in records.iter().filter(|r| delivered(r)) {
        let id = record.webhook_id.as_deref().expect("a webhook-id");
        let event = by_id
            .get(id)
            .unwrap_or_else(|| panic!("{id} was delivered but never sent"));
        by_key
            .entry(&event.customer)
            .or_default()
            .push((event, record));
    }
    for (key, mut deliveries) in by_key {
        deliveries.sort_by_key(|(event, record)| (record.received_at, event.seq));
        for pair in deliveries.windows(2) {
            let [(before, first), (after, second)] = pair else {
                unreachable!("windows of two")
            };
            assert!(
                before.seq <= after.seq,
                "{key}: seq {} was delivered after seq {}",
                before.seq,
                after.seq
            );
            assert!(
                second.received_at >= first.finished_at,
                "{key}: seq {} started at {} before seq {} was answered at {}",
                after.seq,
                second.received_at,
                before.seq,
                first.finished_at
            );
        }
    }
}

/// Waits until the store holds `events` succeeded jobs and nothing left to run.
async fn wait_finished(store: &PostgresStore, events: usize) {
    let events = u64::try_from(events).expect("events fit u64");
    eventually(
        "every job to be recorded as succeeded",
        DELIVERY_WAIT,
        || async {
            let stats = store
                .queue_stats(now_millis(), 0)
                .await
                .expect("reading the queue stats");
            stats
                .iter()
                .all(|q| q.scheduled + q.ready + q.running + q.retrying + q.dead == 0)
                .then(|| stats.iter().map(|q| q.succeeded).sum::<u64>())
                .filter(|&succeeded| succeeded == events)
        },
    )
    .await;
}

/// The one job of each event of `sent`, succeeded, with its attempts.
async fn jobs_with_attempts(store: &PostgresStore, sent: &[Sent]) -> Vec<(Job, Vec<Attempt>)> {
    futures::stream::iter(sent)
        .map(|s| async move {
            let mut jobs = store
                .job_list_for_event(&s.id)
                .await
                .expect("listing the jobs of an event");
            assert_eq!(jobs.len(), 1, "{}: {jobs:#?}", s.id);
            let job = jobs.remove(0);
            assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
            let attempts = store.attempt_list(job.id).await.expect("listing attempts");
            (job, attempts)
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// No job has two attempts on different nodes that overlap in time; returns the
/// succeeded attempts per node.
fn assert_no_job_ran_twice_at_once(jobs: &[(Job, Vec<Attempt>)]) -> BTreeMap<String, usize> {
    let mut per_node = BTreeMap::new();
    for (job, attempts) in jobs {
        for (i, a) in attempts.iter().enumerate() {
            for b in attempts.iter().skip(i + 1).filter(|b| b.node != a.node) {
                let a_end = a.record.started_at + a.record.duration_ms;
                let b_end = b.record.started_at + b.record.duration_ms;
                assert!(
                    a_end <= b.record.started_at || b_end <= a.record.started_at,
                    "job {} ran on {} and {} at once: {attempts:#?}",
                    job.id,
                    a.node,
                    b.node
                );
            }
        }
        for attempt in attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::Succeeded)
        {
            *per_node.entry(attempt.node.clone()).or_insert(0) += 1;
        }
    }
    per_node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_three_nodes_share_the_work_without_running_a_job_twice() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let events = events_to_send();
    let sink = TestSink::start(SinkOptions {
        delay: Duration::from_millis(5),
        ..sink_options()
    })
    .await;
    let cluster = Cluster::start(&database, &sink, "concurrency = 8").await;

    let started = Instant::now();
    let sent = cluster.send(events).await;
    let ingested = started.elapsed();
    let records = wait_delivered(&sink, &sent).await;
    let all_delivered = started.elapsed();

    let taken = records.iter().filter(|r| delivered(r)).count();
    assert_eq!(taken, events, "an event was delivered more than once");
    assert_ordered(&records, &sent);

    let store = database.open().await;
    wait_finished(&store, events).await;
    let jobs = jobs_with_attempts(&store, &sent).await;
    for (job, attempts) in &jobs {
        assert_eq!(
            attempts.len(),
            1,
            "job {} ran more than once: {attempts:#?}",
            job.id
        );
    }
    let per_node = assert_no_job_ran_twice_at_once(&jobs);
    assert_eq!(
        per_node.len(),
        NODES,
        "not every node ran jobs: {per_node:?}"
    );
    println!(
        "postgres: {events} events over {NODES} nodes: acknowledged in {ingested:?}, all \
         delivered after {all_delivered:?}; jobs run per node: {per_node:?}"
    );
    store.close().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_node_s_jobs_are_finished_by_the_others() {
    const EVENTS: usize = 240;
    const VICTIM: usize = 0;
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let sink = TestSink::start(SinkOptions {
        delay: Duration::from_millis(200),
        ..sink_options()
    })
    .await;
    let mut cluster = Cluster::start(&database, &sink, "concurrency = 4\nlease = \"2s\"").await;
    let sent = cluster.send(EVENTS).await;

    // The store's own view of the leases: which running jobs the victim holds.
    let sql = database.connect().await;
    let held_by = format!(
        "SELECT id, lease_until FROM \"{}\".jobs WHERE state = 'running' AND lease_owner = $1",
        database.schema()
    );
    let victim = cluster.nodes[VICTIM].id.clone();
    eventually(
        "the node to be killed to hold running jobs",
        WAIT,
        || async {
            let rows = sql
                .query(&held_by, &[&victim])
                .await
                .expect("reading leases");
            (!rows.is_empty()).then_some(())
        },
    )
    .await;
    cluster.kill(VICTIM).await;
    let killed = Instant::now();
    // Read after the kill: these leases can no longer be renewed or released.
    let orphans: Vec<(i64, i64)> = sql
        .query(&held_by, &[&victim])
        .await
        .expect("reading leases")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(
        !orphans.is_empty(),
        "{victim} held no running job when it was killed"
    );

    let records = wait_delivered(&sink, &sent).await;
    let finished = killed.elapsed();
    assert_ordered(&records, &sent);

    let store = database.open().await;
    wait_finished(&store, EVENTS).await;
    let jobs = jobs_with_attempts(&store, &sent).await;
    let per_node = assert_no_job_ran_twice_at_once(&jobs);
    for (job_id, lease_until) in &orphans {
        let (_, attempts) = jobs
            .iter()
            .find(|(job, _)| job.id == *job_id)
            .unwrap_or_else(|| panic!("job {job_id} is not among the events sent"));
        assert!(
            attempts
                .iter()
                .any(|a| a.node == victim && a.outcome == AttemptOutcome::LeaseExpired),
            "job {job_id}: no lease_expired attempt of {victim}: {attempts:#?}"
        );
        let last = attempts.last().expect("at least one attempt");
        assert_eq!(last.outcome, AttemptOutcome::Succeeded, "{attempts:#?}");
        assert_ne!(last.node, victim, "{attempts:#?}");
        assert!(
            last.record.started_at >= *lease_until,
            "job {job_id} ran again before {victim}'s lease expired: {attempts:#?}"
        );
    }
    println!(
        "postgres: {} jobs held by the killed {victim} were finished by the others; all \
         {EVENTS} events delivered {finished:?} after the kill; jobs run per node: \
         {per_node:?}",
        orphans.len()
    );
    store.close().await;
    cluster.stop().await;
}
