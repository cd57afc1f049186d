//! `/metrics`: a gateway receives a known mix of webhooks, and
//! what `/metrics` answers, read by a real Prometheus text parser (Python's
//! `prometheus_client`), counts exactly that.
//!
//! The parser runs under `HOOKD_TEST_PYTHON` (`.ci/run` points it at a venv with a pinned
//! `prometheus_client`), or `python3`. Without the package the test fails when `CI` is
//! set and is skipped, saying why, otherwise.
//!
//! The metrics recorder is global to the test process and other tests run beside this
//! one, so the source, queues and routes here have names no other test uses, and only
//! samples carrying them are compared.

use std::collections::BTreeMap;
use std::process::Stdio;

use hookd::sink::SinkOptions;
use hookd_store::{CommitStats, JobState, Store as _};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::support::gateway::event_id;
use crate::support::{
    FAST_BACKOFF, SOURCE_SECRET, Signer, TestGateway, TestSink, WAIT, eventually, now_millis,
    sink_options,
};

const SOURCE: &str = "metrics-shop";
const DELIVERED: &str = "metrics-delivered";
const FAILING: &str = "metrics-failing";
/// Paused through the store before its one job arrives, so the job stays ready.
const HELD: &str = "metrics-held";
const KEYED_ROUTE: &str = "metrics-by-customer";

/// How to get the parser, for the failure and skip messages.
const INSTALL_HINT: &str = "install it with `python3 -m venv target/ci-venv && \
     target/ci-venv/bin/pip install prometheus_client==0.26.0` and set \
     HOOKD_TEST_PYTHON=$PWD/target/ci-venv/bin/python (.ci/run does both)";

/// Reads the exposition text on stdin with `prometheus_client`'s parser and prints every
/// sample as JSON. Values that JSON cannot hold (NaN, ±Inf) become `null`.
const PARSE: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        value = sample.value if math.isfinite(sample.value) else None
        samples.append({"family": family.name, "type": family.type, "name": sample.name,
                        "labels": sample.labels, "value": value})
json.dump(samples, sys.stdout)
"#;

/// One sample as the parser read it.
#[derive(Debug, Deserialize)]
struct Sample {
    family: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    labels: Labels,
    value: Option<f64>,
}

/// A sample's labels, ordered by name.
type Labels = BTreeMap<String, String>;

fn labels_of(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A parsed scrape.
#[derive(Debug)]
struct Scrape(Vec<Sample>);

impl Scrape {
    /// The value of the sample `name` whose labels are exactly `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted = labels_of(labels);
        self.0
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| {
                s.value
                    .unwrap_or_else(|| panic!("{name} {labels:?} is not finite"))
            })
    }

    /// As [`Scrape::get`], 0 when there is no such sample (a counter never incremented).
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    /// Every sample of `name` that has `label = value`, as `(labels, value)`.
    fn with_label(&self, name: &str, label: &str, value: &str) -> Vec<(Labels, f64)> {
        let mut found: Vec<(Labels, f64)> = self
            .0
            .iter()
            .filter(|s| s.name == name && s.labels.get(label).is_some_and(|v| v == value))
            .map(|s| (s.labels.clone(), s.value.unwrap_or(f64::NAN)))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// The type the parser gave the family `family`.
    fn kind(&self, family: &str) -> &str {
        self.0
            .iter()
            .find(|s| s.family == family)
            .map_or("(absent)", |s| s.kind.as_str())
    }
}

/// The interpreter that runs the parser.
fn python() -> String {
    std::env::var("HOOKD_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// `Err(why)` when `python` cannot import `prometheus_client`.
async fn parser_available(python: &str) -> Result<(), String> {
    let output = Command::new(python)
        .args(["-c", "import prometheus_client.parser"])
        .output()
        .await
        .map_err(|error| format!("{python} cannot be run: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        Err(format!("{python} cannot import prometheus_client ({last})"))
    }
}

/// Parses `text` with `prometheus_client`; panics with the parser's complaint when the
/// text is not valid exposition format.
async fn parse(python: &str, text: &str) -> Scrape {
    let mut child = Command::new(python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the parser");
    let mut stdin = child.stdin.take().expect("the parser's stdin");
    stdin
        .write_all(text.as_bytes())
        .await
        .expect("writing the scrape to the parser");
    drop(stdin);
    let output = child.wait_with_output().await.expect("the parser ends");
    assert!(
        output.status.success(),
        "prometheus_client rejects the scrape: {}\n--- scrape ---\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    Scrape(serde_json::from_slice(&output.stdout).expect("the parser prints JSON"))
}

/// `GET /metrics`: asserts 200 and the exposition content type, returns the text.
async fn scrape_text(gw: &TestGateway) -> String {
    let response = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("a test HTTP client")
        .get(gw.url("/metrics"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.text().await.expect("reading /metrics")
}

/// `metrics-shop` → `metrics-by-customer` (keyed by `/customer/id`) → `ok` for
/// `order.paid`; → `down` (which fails every request, two attempts) for `order.failed`;
/// → `ok` through the queue `metrics-held` for `order.held`.
fn config(ok: &TestSink, down: &TestSink) -> String {
    format!(
        r#"
[sources.{SOURCE}]
preset = "generic-hmac"
secrets = ["{SOURCE_SECRET}"]
signature_header = "x-signature"
event_type = {{ json = "/type" }}
event_id = {{ json = "/id" }}
{ok_dest}{down_dest}
[queues.{DELIVERED}]

[queues.{FAILING}]
max_attempts = 2
{FAST_BACKOFF}

[queues.{HELD}]

[[routes]]
name = "{KEYED_ROUTE}"
source = "{SOURCE}"
types = ["order.paid"]
queue = "{DELIVERED}"
ordering_key = ["/customer/id"]
destination = "metrics-ok"

[[routes]]
name = "metrics-to-failing"
source = "{SOURCE}"
types = ["order.failed"]
queue = "{FAILING}"
destination = "metrics-down"

[[routes]]
name = "metrics-to-held"
source = "{SOURCE}"
types = ["order.held"]
queue = "{HELD}"
destination = "metrics-ok"
"#,
        ok_dest = ok.destination("metrics-ok"),
        down_dest = down.destination("metrics-down"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_gateway_received_rejected_deduplicated_and_delivered() {
    let python = python();
    if let Err(why) = parser_available(&python).await {
        assert!(
            std::env::var_os("CI").is_none(),
            "{why}; the /metrics test needs Python's prometheus_client: {INSTALL_HINT}"
        );
        eprintln!("skipped: {why}; {INSTALL_HINT}");
        return;
    }

    let ok = TestSink::ok().await;
    let down = TestSink::start(SinkOptions {
        fail_first: 1_000,
        ..sink_options()
    })
    .await;
    let gw = TestGateway::start(&config(&ok, &down)).await;
    let signer = Signer::new(SOURCE_SECRET);

    // One event for a queue paused beforehand (through the store, as the API would): its
    // job stays ready and ages.
    assert!(gw.store().queue_pause(HELD, true).await.expect("pausing"));
    let held = json!({"id": "held-1", "type": "order.held"});
    let answer = gw.send_signed(SOURCE, &signer, &held).await;
    assert_eq!(answer["duplicate"], false, "{answer}");

    // N = 5 accepted: three delivered (one without the ordering key), two that go dead.
    let accepted = [
        json!({"id": "paid-1", "type": "order.paid", "customer": {"id": 1}}),
        json!({"id": "paid-2", "type": "order.paid", "customer": {"id": 2}}),
        json!({"id": "paid-3", "type": "order.paid"}),
        json!({"id": "failed-1", "type": "order.failed"}),
        json!({"id": "failed-2", "type": "order.failed"}),
    ];
    let mut ids = Vec::new();
    for body in &accepted {
        let answer = gw.send_signed(SOURCE, &signer, body).await;
        assert_eq!(answer["duplicate"], false, "{answer}");
        ids.push(event_id(&answer));
    }
    // M = 3 rejected with signature_mismatch.
    for n in 0..3 {
        let body = json!({"id": format!("forged-{n}"), "type": "order.paid"}).to_string();
        let forged = Signer::new("not-the-secret").headers(body.as_bytes());
        let (status, answer) = gw.post(SOURCE, body.as_bytes(), &forged).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["error"]["code"], "signature_mismatch", "{answer}");
    }
    // K = 2 duplicates: a provider's retries of two events already stored.
    for body in [&accepted[0], &accepted[3]] {
        let answer = gw.send_signed(SOURCE, &signer, body).await;
        assert_eq!(answer["duplicate"], true, "{answer}");
    }

    for id in &ids[..3] {
        gw.wait_job(id, JobState::Succeeded).await;
    }
    for id in &ids[3..] {
        gw.wait_job(id, JobState::Dead).await;
    }
    // An outcome is counted just after the store records it: wait for the last ones.
    let stats_before = gw.store().commit_stats();
    let scrape = eventually("the job outcomes on /metrics", WAIT, || async {
        let scrape = parse(&python, &scrape_text(&gw).await).await;
        let outcome = |queue, outcome| {
            scrape.count(
                "hookd_job_outcomes_total",
                &[("queue", queue), ("outcome", outcome)],
            )
        };
        let held_age = scrape.count("hookd_queue_oldest_ready_age_seconds", &[("queue", HELD)]);
        let done = outcome(DELIVERED, "succeeded") >= 3.0
            && outcome(FAILING, "dead") >= 2.0
            && held_age > 0.0;
        done.then_some(scrape)
    })
    .await;
    let stats_after = gw.store().commit_stats();

    let source = [("source", SOURCE)];
    assert_eq!(scrape.count("hookd_webhooks_received_total", &source), 11.0);
    assert_eq!(
        scrape.with_label("hookd_webhooks_rejected_total", "source", SOURCE),
        [(
            labels_of(&[("reason", "signature_mismatch"), ("source", SOURCE)]),
            3.0
        )],
        "only the forged requests are rejected"
    );
    assert_eq!(scrape.count("hookd_events_committed_total", &source), 6.0);
    assert_eq!(scrape.count("hookd_events_duplicate_total", &source), 2.0);
    assert_eq!(
        scrape.count("hookd_jobs_unkeyed_total", &[("route", KEYED_ROUTE)]),
        1.0
    );

    let outcome = |queue, outcome, n| (labels_of(&[("outcome", outcome), ("queue", queue)]), n);
    assert_eq!(
        scrape.with_label("hookd_job_outcomes_total", "queue", DELIVERED),
        [outcome(DELIVERED, "succeeded", 3.0)]
    );
    assert_eq!(
        scrape.with_label("hookd_job_outcomes_total", "queue", FAILING),
        [
            outcome(FAILING, "dead", 2.0),
            outcome(FAILING, "retrying", 2.0)
        ]
    );

    // Every attempt is timed; the first attempt of every job measures its lag.
    for (queue, attempts, jobs) in [(DELIVERED, 3.0, 3.0), (FAILING, 4.0, 2.0)] {
        let queue = [("queue", queue)];
        assert_eq!(
            scrape.count("hookd_attempt_duration_seconds_count", &queue),
            attempts
        );
        let inf = [("queue", queue[0].1), ("le", "+Inf")];
        assert_eq!(
            scrape.count("hookd_attempt_duration_seconds_bucket", &inf),
            attempts
        );
        assert_eq!(
            scrape.count("hookd_first_attempt_lag_seconds_count", &queue),
            jobs
        );
    }
    // Every success measures the lag from arrival, and every committed event its commit.
    let succeeded_lags =
        |queue| scrape.count("hookd_succeeded_lag_seconds_count", &[("queue", queue)]);
    assert_eq!(succeeded_lags(DELIVERED), 3.0);
    assert_eq!(succeeded_lags(FAILING), 0.0);
    let source = [("source", SOURCE)];
    assert_eq!(
        scrape.count("hookd_commit_lag_seconds_count", &source),
        scrape.count("hookd_events_committed_total", &source)
    );
    // Every store call of ingest is timed (the histogram is shared by the process).
    assert!(scrape.count("hookd_store_commit_duration_seconds_count", &[]) >= 7.0);

    // The store's own figures, read at the scrape from this gateway's store.
    let between = |name: &str, before: u64, after: u64| {
        let value = scrape
            .get(name, &[])
            .unwrap_or_else(|| panic!("{name} is missing"));
        let (before, after) = (before as f64, after as f64);
        assert!(
            before <= value && value <= after,
            "{name} = {value}, not within {before}..={after}"
        );
    };
    let CommitStats {
        commits,
        operations,
        largest_batch,
    } = stats_before;
    assert!(commits > 0, "{stats_before:?}");
    between("hookd_store_commits_total", commits, stats_after.commits);
    between(
        "hookd_store_operations_total",
        operations,
        stats_after.operations,
    );
    between(
        "hookd_store_largest_batch",
        largest_batch,
        stats_after.largest_batch,
    );

    // The queue gauges, read at the scrape from this gateway's store: the same counts as
    // `queue_stats` gives now (every job of these queues has settled, and the held one
    // cannot move while its queue is paused).
    let now = now_millis();
    let stats = gw.store().queue_stats(now, now).await.expect("queue stats");
    for queue in [DELIVERED, FAILING, HELD] {
        let s = stats
            .iter()
            .find(|s| s.queue == queue)
            .unwrap_or_else(|| panic!("{queue} has no stats: {stats:?}"));
        let jobs = |state| {
            scrape
                .get("hookd_queue_jobs", &[("queue", queue), ("state", state)])
                .unwrap_or_else(|| panic!("hookd_queue_jobs {queue} {state} is missing"))
        };
        for (state, n) in [
            ("scheduled", s.scheduled),
            ("ready", s.ready),
            ("running", s.running),
            ("retrying", s.retrying),
            ("succeeded", s.succeeded),
            ("dead", s.dead),
        ] {
            assert_eq!(jobs(state), n as f64, "{queue} {state}: {s:?}");
        }
    }
    let jobs =
        |queue, state| scrape.count("hookd_queue_jobs", &[("queue", queue), ("state", state)]);
    assert_eq!(jobs(DELIVERED, "succeeded"), 3.0);
    assert_eq!(jobs(FAILING, "dead"), 2.0);
    assert_eq!(jobs(FAILING, "retrying") + jobs(FAILING, "running"), 0.0);
    assert!(jobs(HELD, "ready") >= 1.0);
    let age = |queue| {
        scrape
            .get("hookd_queue_oldest_ready_age_seconds", &[("queue", queue)])
            .unwrap_or_else(|| panic!("the oldest ready age of {queue} is missing"))
    };
    assert_eq!(age(DELIVERED), 0.0, "nothing is ready there");
    assert_eq!(age(FAILING), 0.0, "nothing is ready there");
    assert!(age(HELD) > 0.0);
    let paused = |queue| scrape.get("hookd_queue_paused", &[("queue", queue)]);
    assert_eq!(paused(HELD), Some(1.0));
    assert_eq!(paused(DELIVERED), Some(0.0));
    assert_eq!(paused(FAILING), Some(0.0));

    for (family, kind) in [
        ("hookd_webhooks_received", "counter"),
        ("hookd_webhooks_rejected", "counter"),
        ("hookd_job_outcomes", "counter"),
        ("hookd_attempt_duration_seconds", "histogram"),
        ("hookd_first_attempt_lag_seconds", "histogram"),
        ("hookd_commit_lag_seconds", "histogram"),
        ("hookd_succeeded_lag_seconds", "histogram"),
        ("hookd_store_commits", "counter"),
        ("hookd_store_largest_batch", "gauge"),
        ("hookd_queue_jobs", "gauge"),
        ("hookd_queue_oldest_ready_age_seconds", "gauge"),
        ("hookd_queue_paused", "gauge"),
    ] {
        assert_eq!(scrape.kind(family), kind, "{family}");
    }
}
