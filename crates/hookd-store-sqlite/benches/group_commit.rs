//! Group commit: events with one job each, inserted one per call from 1, 8 and 64
//! concurrent tasks, as ingest inserts them, into a real store on disk.
//!
//! Every insert is acknowledged only after its group's commit is fsynced
//! (`synchronous=FULL`), so the fsync dominates and the figures are those of the disk
//! under `target/tmp` (where the store is created) as much as of hookd: the time per event
//! falls as more concurrent inserts share one commit. After each case the mean number of
//! events per commit is printed.
//!
//! ```sh
//! cargo bench -p hookd-store-sqlite --bench group_commit
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use hookd_store::{CommitStats, InsertOutcome, Millis, NewEvent, NewJob, Store, Target};
use hookd_store_sqlite::SqliteStore;
use tokio::runtime::Runtime;

/// The concurrent inserting tasks of each case.
const CONCURRENCY: [u64; 3] = [1, 8, 64];

/// The size of every event's body: a typical small webhook.
const BODY_LEN: usize = 1024;

/// When every event is received; its job is due then, so it starts `ready`.
const RECEIVED_AT: Millis = 1_700_000_000_000;

/// An event with a unique id and dedup key (`n`), a 1 KiB body and one job.
fn event(n: u64, body: &[u8]) -> NewEvent {
    let id = format!("evt_{n:020}");
    NewEvent {
        tenant: "default".to_owned(),
        source: "shop".to_owned(),
        event_type: "order.paid".to_owned(),
        provider_event_id: None,
        dedup_key: id.clone(),
        dedup_window_ms: 86_400_000,
        occurred_at: None,
        received_at: RECEIVED_AT,
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "x-signature".to_owned(),
                format!("sha256={}", "0".repeat(64)),
            ),
        ],
        body: body.to_vec(),
        jobs: vec![NewJob {
            queue: "default".to_owned(),
            priority: 3,
            run_at: RECEIVED_AT,
            ordering_key: None,
            target: Target::Http {
                destination: "app".to_owned(),
            },
        }],
        id,
    }
}

/// Inserts `count` events from `tasks` concurrent tasks, one event per call, and returns
/// the time from the first call to the last acknowledgement. The events are shared out
/// as evenly as the count allows.
async fn insert(
    store: &Arc<SqliteStore>,
    next_id: &Arc<AtomicU64>,
    body: &Arc<[u8]>,
    tasks: u64,
    count: u64,
) -> Duration {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let own = count / tasks + u64::from(task < count % tasks);
            let (store, next_id, body) = (Arc::clone(store), Arc::clone(next_id), Arc::clone(body));
            tokio::spawn(async move {
                for _ in 0..own {
                    let n = next_id.fetch_add(1, Ordering::Relaxed);
                    let outcomes = store
                        .event_insert_with_jobs(vec![event(n, &body)])
                        .await
                        .expect("insert");
                    assert!(
                        matches!(outcomes[..], [InsertOutcome::Inserted { .. }]),
                        "event {n} was not inserted: {outcomes:?}"
                    );
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("inserting task");
    }
    started.elapsed()
}

/// Events per commit between two readings of the store's commit statistics.
fn events_per_commit(before: &CommitStats, after: &CommitStats) -> f64 {
    let commits = after.commits - before.commits;
    let operations = after.operations - before.operations;
    // Counts of this size are exact in an f64.
    operations as f64 / commits.max(1) as f64
}

fn group_commit(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let dir = tempfile::Builder::new()
        .prefix("hookd-bench-store-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary data directory");
    let store = Arc::new(
        runtime
            .block_on(SqliteStore::open(dir.path()))
            .expect("open the store"),
    );
    let next_id = Arc::new(AtomicU64::new(0));
    let body: Arc<[u8]> = vec![b'x'; BODY_LEN].into();

    let mut group = c.benchmark_group("group_commit");
    // Each iteration waits for an fsync: few, long samples.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    for tasks in CONCURRENCY {
        let before = store.commit_stats();
        group.bench_function(format!("{tasks}_tasks"), |b| {
            b.iter_custom(|events| {
                runtime.block_on(insert(&store, &next_id, &body, tasks, events))
            });
        });
        println!(
            "group_commit/{tasks}_tasks: {:.1} events per commit",
            events_per_commit(&before, &store.commit_stats())
        );
    }
    group.finish();

    runtime.block_on(store.close());
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
