//! The conformance suite: the behaviour every [`Store`] backend must show, written once
//! against the trait and run by each backend's own test binary.
//!
//! Each case is a `pub async fn` taking `&dyn Store` that starts from an empty store and
//! panics when the backend breaks the contract. [`conformance_tests!`](crate::conformance_tests)
//! expands to one `#[tokio::test]` per case, in the spirit of ripgrep's `rgtest!`:
//!
//! ```ignore
//! async fn setup() -> (SqliteStore, tempfile::TempDir) {
//!     let dir = tempfile::tempdir().expect("tempdir");
//!     let store = SqliteStore::open(dir.path()).await.expect("open");
//!     (store, dir)
//! }
//!
//! hookd_store::conformance_tests!(setup);
//! ```
//!
//! The factory is called once per test and returns a fresh store together with a guard
//! (a temporary directory, a schema dropper, `()`) that lives until the test ends. The
//! expanding crate needs `tokio` with the `macros` and `rt` features among its
//! dev-dependencies.
//!
//! Stores never read a clock: every case passes its own `now`, starting from [`T0`]. The
//! one exception is when an event was committed, which a store stamps itself.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::{
    ApiKey, AttemptOutcome, AttemptRecord, ClaimBatch, EventListParams, InsertOutcome, Job,
    JobClaim, JobCompletion, JobLeaseExtend, JobOutcome, JobRelease, JobRescue, JobState, Millis,
    NewApiKey, NewEvent, NewJob, Store, StoreChange, StoreError, Target,
};

mod api_keys;
// A queue's cap on running jobs across nodes.
mod claim_cap;
pub use claim_cap::{job_claim_max_running, job_claim_max_running_concurrent};
mod event_list;
// Queues: depth by state, pause and resume.
mod queues;
pub use queues::{queue_pause_resume, queue_stats_by_state};
mod prune; // retention
// Dead letters and audit.
mod dead;
pub use dead::{audit_insert_list, job_list_and_count_dead, job_purge_dead, job_retry_dead};
// Replay.
mod replay;
pub use replay::{
    event_committed_at_is_stamped, job_insert_for_event_claims_again,
    job_insert_for_event_missing_or_other_tenant, job_insert_for_event_routes_an_unrouted_event,
};
// Stats rollups.
mod stats;
pub use stats::{
    stats_add_accumulates, stats_add_keeps_rows_apart, stats_compact_deletes_old_hours,
    stats_compact_merges_minutes_into_hours, stats_compact_respects_limit,
    stats_read_period_and_filters, stats_roundtrip_keeps_histograms_and_errors,
};
// Configuration objects.
mod config_objects;
pub use config_objects::{
    config_object_deletion_is_kept, config_object_put_and_list, config_object_put_publishes_change,
};

pub use api_keys::{api_key_duplicate_refused, api_key_insert_find_list, api_key_revoke};
pub use event_list::{
    event_list_filters, event_list_order, event_list_pages_with_cursor, event_list_status,
};
// Retention.
pub use prune::{
    event_prune_keeps_dedup_keys, event_prune_only_old_and_final, event_prune_respects_limit,
};

/// The instant every case starts from (2023-11-14T22:13:20Z).
pub const T0: Millis = 1_700_000_000_000;

/// The dedup window of [`new_event`]: one day.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// The node name claims use unless a case says otherwise.
pub const NODE: &str = "node-a";

/// How long a case waits for a change to be published before failing.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// A factory for an event on source `shop`, received at [`T0`], with dedup key equal to
/// its id and the given jobs. Change the fields a case cares about.
pub fn new_event(id: &str, jobs: Vec<NewJob>) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        tenant: "acme".to_owned(),
        source: "shop".to_owned(),
        event_type: "order.paid".to_owned(),
        provider_event_id: None,
        dedup_key: id.to_owned(),
        dedup_window_ms: WINDOW_MS,
        occurred_at: None,
        received_at: T0,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: br#"{"id":1}"#.to_vec(),
        jobs,
    }
}

/// A factory for a job of `queue` with priority 3, due at [`T0`], unkeyed, for the
/// destination `app`.
pub fn new_job(queue: &str) -> NewJob {
    NewJob {
        queue: queue.to_owned(),
        priority: 3,
        run_at: T0,
        ordering_key: None,
        target: Target::Http {
            destination: "app".to_owned(),
        },
    }
}

/// A job of `queue` under `key`.
fn keyed_job(queue: &str, key: &str) -> NewJob {
    NewJob {
        ordering_key: Some(key.to_owned()),
        ..new_job(queue)
    }
}

/// Inserts one event with one job and returns the job's id.
async fn insert_one(store: &dyn Store, event_id: &str, job: NewJob) -> i64 {
    let outcomes = store
        .event_insert_with_jobs(vec![new_event(event_id, vec![job])])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Inserted {
            id: event_id.to_owned()
        }]
    );
    let jobs = store.job_list_for_event(event_id).await.expect("list jobs");
    assert_eq!(jobs.len(), 1, "one job for {event_id}");
    jobs[0].id
}

fn claim_at(queue: &str, now: Millis, limit: u32) -> JobClaim {
    JobClaim {
        queue: queue.to_owned(),
        limit,
        max_running: None,
        now,
        lease_until: now + 30_000,
        node: NODE.to_owned(),
    }
}

async fn claim(store: &dyn Store, queue: &str, now: Millis, limit: u32) -> ClaimBatch {
    store
        .job_claim(claim_at(queue, now, limit))
        .await
        .expect("claim")
}

fn ids(batch: &ClaimBatch) -> Vec<i64> {
    batch.jobs.iter().map(|c| c.job.id).collect()
}

async fn job(store: &dyn Store, id: i64) -> Job {
    store
        .job_get(id)
        .await
        .expect("job_get")
        .unwrap_or_else(|| panic!("job {id} exists"))
}

fn record(started_at: Millis, status: Option<u16>, error: Option<&str>) -> AttemptRecord {
    AttemptRecord {
        started_at,
        duration_ms: 42,
        status_code: status,
        response: status.map(|s| format!("answer {s}")),
        error: error.map(str::to_owned),
    }
}

fn completion(job_id: i64, attempt: u32, outcome: JobOutcome, rec: AttemptRecord) -> JobCompletion {
    JobCompletion {
        job_id,
        attempt,
        node: NODE.to_owned(),
        outcome,
        record: rec,
    }
}

async fn complete(store: &dyn Store, c: JobCompletion) -> bool {
    let applied = store.job_complete_many(vec![c]).await.expect("complete");
    assert_eq!(applied.len(), 1, "one answer per completion");
    applied[0]
}

fn rescue_at(now: Millis, default_max_attempts: u32) -> JobRescue {
    JobRescue {
        now,
        max_attempts: HashMap::new(),
        default_max_attempts,
        limit: 100,
    }
}

fn assert_closed<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Closed) => {}
        other => panic!("{what} after close: expected StoreError::Closed, got {other:?}"),
    }
}

/// Waits for `JobsReady { queue }`, skipping other changes.
async fn expect_jobs_ready(rx: &mut tokio::sync::broadcast::Receiver<StoreChange>, queue: &str) {
    let wanted = StoreChange::JobsReady {
        queue: queue.to_owned(),
    };
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(change) if change == wanted => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    panic!("change feed closed while waiting for {wanted:?}")
                }
            }
        }
    };
    tokio::time::timeout(CHANGE_TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| panic!("no {wanted:?} within {CHANGE_TIMEOUT:?}"));
}

/// An event comes back exactly as inserted: headers in their order (repeats included),
/// binary body bytes, optional fields; its jobs start `ready` with the route's fields.
pub async fn event_insert_roundtrip(store: &dyn Store) {
    let mut body: Vec<u8> = (0..=255u8).collect();
    body.extend_from_slice(&[0xff, 0xfe, 0x00, 0xc3]);
    let headers = vec![
        ("x-zeta".to_owned(), "last-alphabetically".to_owned()),
        (
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
        ("x-dup".to_owned(), "1".to_owned()),
        ("x-dup".to_owned(), "2".to_owned()),
        ("x-quote".to_owned(), "\"quoted\", [bracket]".to_owned()),
    ];
    let jobs = vec![
        NewJob {
            priority: 1,
            ordering_key: Some("cust-7".to_owned()),
            ..new_job("critical")
        },
        NewJob {
            target: Target::Http {
                destination: "audit".to_owned(),
            },
            ..new_job("bulk")
        },
    ];
    let event = NewEvent {
        provider_event_id: Some("prov-1".to_owned()),
        occurred_at: Some(T0 - 5_000),
        headers: headers.clone(),
        body: body.clone(),
        dedup_key: "dk-1".to_owned(),
        ..new_event("evt_roundtrip", jobs)
    };
    let outcomes = store
        .event_insert_with_jobs(vec![event])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Inserted {
            id: "evt_roundtrip".to_owned()
        }]
    );

    let got = store
        .event_get("evt_roundtrip")
        .await
        .expect("event_get")
        .expect("event stored");
    assert_eq!(got.id, "evt_roundtrip");
    assert_eq!(got.tenant, "acme");
    assert_eq!(got.source, "shop");
    assert_eq!(got.event_type, "order.paid");
    assert_eq!(got.provider_event_id.as_deref(), Some("prov-1"));
    assert_eq!(got.dedup_key, "dk-1");
    assert_eq!(got.occurred_at, Some(T0 - 5_000));
    assert_eq!(got.received_at, T0);
    assert_eq!(got.headers, headers, "headers keep order and repeats");
    assert_eq!(got.body, body, "body is byte for byte");
    assert!(!got.unrouted, "an event with jobs is routed");

    let jobs = store
        .job_list_for_event("evt_roundtrip")
        .await
        .expect("list jobs");
    assert_eq!(jobs.len(), 2);
    assert!(jobs[0].id < jobs[1].id, "jobs listed in id order");
    let (a, b) = (&jobs[0], &jobs[1]);
    assert_eq!(a.event_id, "evt_roundtrip");
    assert_eq!(a.tenant, "acme");
    assert_eq!(a.queue, "critical");
    assert_eq!(a.priority, 1);
    assert_eq!(a.ordering_key.as_deref(), Some("cust-7"));
    assert_eq!(
        a.target,
        Target::Http {
            destination: "app".to_owned()
        }
    );
    assert_eq!(a.state, JobState::Ready);
    assert_eq!(a.run_at, T0);
    assert_eq!(a.attempts, 0);
    assert_eq!(a.lease_until, None);
    assert_eq!(a.lease_owner, None);
    assert_eq!(a.created_at, T0);
    assert_eq!(a.last_error, None);
    assert_eq!(b.queue, "bulk");
    assert_eq!(b.ordering_key, None);
    assert_eq!(
        b.target,
        Target::Http {
            destination: "audit".to_owned()
        }
    );
    assert_eq!(job(store, a.id).await, *a, "job_get agrees with the list");

    assert_eq!(store.event_get("evt_missing").await.expect("get"), None);
    assert_eq!(store.job_get(i64::MAX).await.expect("get"), None);
    assert!(
        store
            .job_list_for_event("evt_missing")
            .await
            .expect("list")
            .is_empty()
    );
    assert!(store.attempt_list(a.id).await.expect("attempts").is_empty());
}

/// An event no route matched is stored, flagged `unrouted`, with no jobs.
pub async fn event_insert_unrouted(store: &dyn Store) {
    store
        .event_insert_with_jobs(vec![
            new_event("evt_unrouted", vec![]),
            new_event("evt_routed", vec![new_job("q")]),
        ])
        .await
        .expect("insert");
    let unrouted = store
        .event_get("evt_unrouted")
        .await
        .expect("get")
        .expect("unrouted event is kept");
    assert!(unrouted.unrouted);
    assert!(
        store
            .job_list_for_event("evt_unrouted")
            .await
            .expect("list")
            .is_empty()
    );
    let routed = store
        .event_get("evt_routed")
        .await
        .expect("get")
        .expect("stored");
    assert!(!routed.unrouted);
}

/// A repeat of a dedup key on the same source within the window is answered with the
/// original id and stores nothing: no event, no jobs.
pub async fn event_dedup_within_window(store: &dyn Store) {
    insert_one(store, "evt_first", new_job("q")).await;
    let repeat = NewEvent {
        dedup_key: "evt_first".to_owned(),
        received_at: T0 + WINDOW_MS - 1,
        ..new_event("evt_repeat", vec![new_job("q")])
    };
    let outcomes = store
        .event_insert_with_jobs(vec![repeat])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Duplicate {
            original_id: "evt_first".to_owned()
        }]
    );
    assert_eq!(store.event_get("evt_repeat").await.expect("get"), None);
    assert!(
        store
            .job_list_for_event("evt_repeat")
            .await
            .expect("list")
            .is_empty()
    );
    let batch = claim(store, "q", T0 + WINDOW_MS, 10).await;
    assert_eq!(batch.jobs.len(), 1, "only the original's job exists");
}

/// An event whose id is already stored is a duplicate of itself, whatever its dedup key
/// and time: nothing is stored again, and its dedup key is not taken (a spool moving an
/// event a second time after a crash relies on this).
pub async fn event_insert_existing_id(store: &dyn Store) {
    insert_one(store, "evt_once", new_job("q")).await;
    let again = NewEvent {
        dedup_key: "key_unseen".to_owned(),
        received_at: T0 + 2 * WINDOW_MS,
        ..new_event("evt_once", vec![new_job("q")])
    };
    let outcomes = store
        .event_insert_with_jobs(vec![again])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Duplicate {
            original_id: "evt_once".to_owned()
        }]
    );
    let event = store
        .event_get("evt_once")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(event.dedup_key, "evt_once", "the stored event is unchanged");
    assert_eq!(
        store
            .job_list_for_event("evt_once")
            .await
            .expect("list")
            .len(),
        1
    );
    let fresh = NewEvent {
        dedup_key: "key_unseen".to_owned(),
        received_at: T0 + 2 * WINDOW_MS,
        ..new_event("evt_fresh", vec![])
    };
    assert_eq!(
        store
            .event_insert_with_jobs(vec![fresh])
            .await
            .expect("insert"),
        vec![InsertOutcome::Inserted {
            id: "evt_fresh".to_owned()
        }],
        "the key of the refused repeat was not taken"
    );
}

/// Once the window has passed, the same key is a new event, and later repeats are
/// duplicates of that new one.
pub async fn event_dedup_after_window(store: &dyn Store) {
    insert_one(store, "evt_old", new_job("q")).await;
    let later = NewEvent {
        dedup_key: "evt_old".to_owned(),
        received_at: T0 + WINDOW_MS,
        ..new_event("evt_new", vec![new_job("q")])
    };
    let outcomes = store
        .event_insert_with_jobs(vec![later])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Inserted {
            id: "evt_new".to_owned()
        }]
    );
    assert!(store.event_get("evt_new").await.expect("get").is_some());
    assert!(
        store.event_get("evt_old").await.expect("get").is_some(),
        "events are kept"
    );

    let again = NewEvent {
        dedup_key: "evt_old".to_owned(),
        received_at: T0 + WINDOW_MS + 1,
        ..new_event("evt_again", vec![])
    };
    let outcomes = store
        .event_insert_with_jobs(vec![again])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Duplicate {
            original_id: "evt_new".to_owned()
        }]
    );
}

/// Dedup keys are per source: the same key on another source is a new event.
pub async fn event_dedup_other_source(store: &dyn Store) {
    insert_one(store, "evt_shop", new_job("q")).await;
    let other = NewEvent {
        source: "billing".to_owned(),
        dedup_key: "evt_shop".to_owned(),
        received_at: T0 + 1,
        ..new_event("evt_billing", vec![new_job("q")])
    };
    let outcomes = store
        .event_insert_with_jobs(vec![other])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Inserted {
            id: "evt_billing".to_owned()
        }]
    );
    assert_eq!(
        store
            .job_list_for_event("evt_billing")
            .await
            .expect("list")
            .len(),
        1
    );
}

/// Later events of one call see earlier ones: a repeat inside the same batch is a
/// duplicate, and outcomes come back in input order.
pub async fn event_dedup_within_one_call(store: &dyn Store) {
    let first = NewEvent {
        dedup_key: "same".to_owned(),
        ..new_event("evt_a", vec![new_job("q")])
    };
    let second = NewEvent {
        dedup_key: "same".to_owned(),
        received_at: T0 + 10,
        ..new_event("evt_b", vec![new_job("q")])
    };
    let third = new_event("evt_c", vec![]);
    let outcomes = store
        .event_insert_with_jobs(vec![first, second, third])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![
            InsertOutcome::Inserted {
                id: "evt_a".to_owned()
            },
            InsertOutcome::Duplicate {
                original_id: "evt_a".to_owned()
            },
            InsertOutcome::Inserted {
                id: "evt_c".to_owned()
            },
        ]
    );
    assert_eq!(store.event_get("evt_b").await.expect("get"), None);
    assert!(
        store
            .job_list_for_event("evt_b")
            .await
            .expect("list")
            .is_empty()
    );
}

/// A job due at `received_at` (or before) starts `ready`; one due later starts
/// `scheduled`.
pub async fn job_ready_or_scheduled(store: &dyn Store) {
    let now_job = insert_one(store, "evt_now", new_job("q")).await;
    let past_job = insert_one(
        store,
        "evt_past",
        NewJob {
            run_at: T0 - 1_000,
            ..new_job("q")
        },
    )
    .await;
    let later_job = insert_one(
        store,
        "evt_later",
        NewJob {
            run_at: T0 + 60_000,
            ..new_job("q")
        },
    )
    .await;
    assert_eq!(job(store, now_job).await.state, JobState::Ready);
    assert_eq!(job(store, past_job).await.state, JobState::Ready);
    let later = job(store, later_job).await;
    assert_eq!(later.state, JobState::Scheduled);
    assert_eq!(later.run_at, T0 + 60_000);
}

/// Claims take lower priority first, then earlier `run_at`, then lower id; only from the
/// named queue; and hand out `running` jobs under the caller's lease with their event.
pub async fn job_claim_order(store: &dyn Store) {
    let low = insert_one(store, "evt_low", new_job("q")).await;
    let late = insert_one(
        store,
        "evt_late",
        NewJob {
            priority: 1,
            run_at: T0 + 20,
            ..new_job("q")
        },
    )
    .await;
    let early = insert_one(
        store,
        "evt_early",
        NewJob {
            priority: 1,
            run_at: T0 + 10,
            ..new_job("q")
        },
    )
    .await;
    let early_too = insert_one(
        store,
        "evt_early_too",
        NewJob {
            priority: 1,
            run_at: T0 + 10,
            ..new_job("q")
        },
    )
    .await;
    let other_queue = insert_one(store, "evt_other", new_job("other")).await;

    let now = T0 + 100;
    let batch = claim(store, "q", now, 10).await;
    assert_eq!(ids(&batch), vec![early, early_too, late, low]);
    for claimed in &batch.jobs {
        let j = &claimed.job;
        assert_eq!(j.state, JobState::Running);
        assert_eq!(j.attempts, 1);
        assert_eq!(j.lease_until, Some(now + 30_000));
        assert_eq!(j.lease_owner.as_deref(), Some(NODE));
        assert_eq!(
            claimed.event.id, j.event_id,
            "claim carries the job's event"
        );
        assert_eq!(claimed.event.body, br#"{"id":1}"#.to_vec());
        assert_eq!(
            job(store, j.id).await,
            *j,
            "claim result matches the stored job"
        );
    }
    assert!(
        claim(store, "q", now, 10).await.jobs.is_empty(),
        "running jobs are not claimed twice"
    );
    assert_eq!(job(store, other_queue).await.state, JobState::Ready);
}

/// A claim hands out at most `limit` jobs.
pub async fn job_claim_limit(store: &dyn Store) {
    let mut all = Vec::new();
    for i in 0..5 {
        all.push(insert_one(store, &format!("evt_{i}"), new_job("q")).await);
    }
    let first = claim(store, "q", T0, 2).await;
    let second = claim(store, "q", T0, 2).await;
    let third = claim(store, "q", T0, 2).await;
    let fourth = claim(store, "q", T0, 2).await;
    assert_eq!(ids(&first), all[0..2].to_vec());
    assert_eq!(ids(&second), all[2..4].to_vec());
    assert_eq!(ids(&third), all[4..5].to_vec());
    assert!(fourth.jobs.is_empty());
    assert_eq!(fourth.next_run_at, None, "nothing is waiting");
}

/// A claim skips `scheduled` and `retrying` jobs that are not yet due and reports the
/// earliest of their `run_at`; it takes them once due (`run_at <= now`).
pub async fn job_claim_skips_not_due(store: &dyn Store) {
    let scheduled = insert_one(
        store,
        "evt_scheduled",
        NewJob {
            run_at: T0 + 5_000,
            ..new_job("q")
        },
    )
    .await;
    let failing = insert_one(store, "evt_failing", new_job("q")).await;

    let batch = claim(store, "q", T0, 10).await;
    assert_eq!(ids(&batch), vec![failing]);
    assert_eq!(batch.next_run_at, Some(T0 + 5_000));

    let applied = complete(
        store,
        completion(
            failing,
            1,
            JobOutcome::Retry { run_at: T0 + 3_000 },
            record(T0, Some(500), Some("HTTP 500")),
        ),
    )
    .await;
    assert!(applied);

    let batch = claim(store, "q", T0 + 1, 10).await;
    assert!(batch.jobs.is_empty(), "nothing due yet");
    assert_eq!(
        batch.next_run_at,
        Some(T0 + 3_000),
        "the retry is the earliest"
    );

    let batch = claim(store, "q", T0 + 3_000, 10).await;
    assert_eq!(ids(&batch), vec![failing], "due exactly at run_at");
    assert_eq!(batch.jobs[0].job.attempts, 2);
    assert_eq!(batch.next_run_at, Some(T0 + 5_000));

    let batch = claim(store, "q", T0 + 5_000, 10).await;
    assert_eq!(
        ids(&batch),
        vec![scheduled],
        "a scheduled job runs once due"
    );
    assert_eq!(batch.next_run_at, None);
}

/// Per-key FIFO: a later job of a key waits while an earlier one of the same queue is
/// ready, running or retrying; `dead` and `succeeded` ones do not block; other keys,
/// unkeyed jobs and the same key in another queue run in parallel; one batch never holds
/// two jobs of one key.
pub async fn job_claim_ordering_key_fifo(store: &dyn Store) {
    let a1 = insert_one(store, "evt_a1", keyed_job("q", "a")).await;
    let a2 = insert_one(store, "evt_a2", keyed_job("q", "a")).await;
    let a3 = insert_one(store, "evt_a3", keyed_job("q", "a")).await;
    let b1 = insert_one(store, "evt_b1", keyed_job("q", "b")).await;
    let u1 = insert_one(store, "evt_u1", new_job("q")).await;
    let u2 = insert_one(store, "evt_u2", new_job("q")).await;
    let other_a = insert_one(store, "evt_other_a", keyed_job("other", "a")).await;

    let now = T0 + 1;
    let batch = claim(store, "q", now, 10).await;
    let got: BTreeSet<i64> = ids(&batch).into_iter().collect();
    assert_eq!(
        got,
        BTreeSet::from([a1, b1, u1, u2]),
        "first of each key plus unkeyed; a2 waits for a1 in the same batch"
    );
    assert_eq!(
        ids(&claim(store, "other", now, 10).await),
        vec![other_a],
        "keys are per queue"
    );
    assert!(
        claim(store, "q", now, 10).await.jobs.is_empty(),
        "a2 waits while a1 runs"
    );

    let retry_at = now + 10_000;
    assert!(
        complete(
            store,
            completion(
                a1,
                1,
                JobOutcome::Retry { run_at: retry_at },
                record(now, None, Some("timeout"))
            )
        )
        .await
    );
    let batch = claim(store, "q", now + 1, 10).await;
    assert!(
        batch.jobs.is_empty(),
        "a2 waits while a1 is retrying, even before it is due"
    );
    assert_eq!(batch.next_run_at, Some(retry_at));

    let batch = claim(store, "q", retry_at, 10).await;
    assert_eq!(
        ids(&batch),
        vec![a1],
        "the retry comes first, a2 still waits"
    );
    assert!(
        complete(
            store,
            completion(
                a1,
                2,
                JobOutcome::Dead,
                record(retry_at, Some(410), Some("gone"))
            )
        )
        .await
    );

    let batch = claim(store, "q", retry_at, 10).await;
    assert_eq!(
        ids(&batch),
        vec![a2],
        "a dead job stops blocking its key; a3 waits for a2"
    );
    assert!(
        complete(
            store,
            completion(
                a2,
                1,
                JobOutcome::Succeeded,
                record(retry_at, Some(200), None)
            )
        )
        .await
    );
    let batch = claim(store, "q", retry_at, 10).await;
    assert_eq!(ids(&batch), vec![a3], "a succeeded job does not block");
}

/// Renewing a lease works only for the job's current attempt and its holder.
pub async fn job_lease_extend(store: &dyn Store) {
    let id = insert_one(store, "evt_lease", new_job("q")).await;
    let other = insert_one(store, "evt_lease_other", new_job("q")).await;
    let batch = claim(store, "q", T0, 10).await;
    assert_eq!(ids(&batch), vec![id, other]);

    let extend = |jobs: Vec<(i64, u32)>, node: &str, until: Millis| JobLeaseExtend {
        jobs,
        node: node.to_owned(),
        lease_until: until,
    };
    let n = store
        .job_lease_extend(extend(vec![(id, 1), (other, 1)], NODE, T0 + 90_000))
        .await
        .expect("extend");
    assert_eq!(n, 2);
    assert_eq!(job(store, id).await.lease_until, Some(T0 + 90_000));
    assert_eq!(job(store, other).await.lease_until, Some(T0 + 90_000));

    let n = store
        .job_lease_extend(extend(vec![(id, 1)], "node-b", T0 + 120_000))
        .await
        .expect("extend");
    assert_eq!(n, 0, "another node does not hold it");
    let n = store
        .job_lease_extend(extend(vec![(id, 2), (i64::MAX, 1)], NODE, T0 + 120_000))
        .await
        .expect("extend");
    assert_eq!(n, 0, "wrong attempt and unknown job");
    assert_eq!(
        job(store, id).await.lease_until,
        Some(T0 + 90_000),
        "unchanged"
    );

    assert!(
        complete(
            store,
            completion(id, 1, JobOutcome::Succeeded, record(T0, Some(204), None))
        )
        .await
    );
    let n = store
        .job_lease_extend(extend(vec![(id, 1)], NODE, T0 + 120_000))
        .await
        .expect("extend");
    assert_eq!(n, 0, "a finished job has no lease");
    assert_eq!(job(store, id).await.lease_until, None);
}

/// A successful attempt ends the job `succeeded`, clears its lease and records the
/// attempt as observed.
pub async fn job_complete_succeeded(store: &dyn Store) {
    let id = insert_one(store, "evt_ok", new_job("q")).await;
    claim(store, "q", T0, 1).await;
    let rec = AttemptRecord {
        started_at: T0 + 5,
        duration_ms: 17,
        status_code: Some(200),
        response: Some("{\"ok\":true}".to_owned()),
        error: None,
    };
    assert!(complete(store, completion(id, 1, JobOutcome::Succeeded, rec.clone())).await);

    let j = job(store, id).await;
    assert_eq!(j.state, JobState::Succeeded);
    assert_eq!(j.attempts, 1);
    assert_eq!(j.lease_until, None);
    assert_eq!(j.lease_owner, None);
    assert_eq!(j.last_error, None);

    let attempts = store.attempt_list(id).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].job_id, id);
    assert_eq!(attempts[0].number, 1);
    assert_eq!(attempts[0].node, NODE);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(attempts[0].record, rec);
    assert!(
        claim(store, "q", T0 + 1_000_000, 10).await.jobs.is_empty(),
        "succeeded is final"
    );

    // A success after a failure keeps the failure's error: last_error is the error of
    // the last *failed* attempt.
    let flaky = insert_one(store, "evt_flaky", new_job("q")).await;
    claim(store, "q", T0, 1).await;
    let retry = JobOutcome::Retry { run_at: T0 + 10 };
    assert!(
        complete(
            store,
            completion(flaky, 1, retry, record(T0, Some(502), Some("HTTP 502")))
        )
        .await
    );
    assert_eq!(ids(&claim(store, "q", T0 + 10, 1).await), vec![flaky]);
    assert!(
        complete(
            store,
            completion(
                flaky,
                2,
                JobOutcome::Succeeded,
                record(T0 + 10, Some(200), None)
            )
        )
        .await
    );
    let j = job(store, flaky).await;
    assert_eq!(j.state, JobState::Succeeded);
    assert_eq!(j.attempts, 2);
    assert_eq!(j.last_error.as_deref(), Some("HTTP 502"));
    let outcomes: Vec<AttemptOutcome> = store
        .attempt_list(flaky)
        .await
        .expect("attempts")
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        vec![AttemptOutcome::Failed, AttemptOutcome::Succeeded]
    );
}

/// A failed attempt with `Retry` makes the job `retrying` at the given time with the
/// error kept; a later `Dead` ends it. Every attempt is recorded, first one first.
pub async fn job_complete_retry_then_dead(store: &dyn Store) {
    let id = insert_one(store, "evt_fail", new_job("q")).await;
    claim(store, "q", T0, 1).await;
    let first = record(T0, Some(503), Some("HTTP 503"));
    assert!(
        complete(
            store,
            completion(
                id,
                1,
                JobOutcome::Retry { run_at: T0 + 2_000 },
                first.clone()
            )
        )
        .await
    );
    let j = job(store, id).await;
    assert_eq!(j.state, JobState::Retrying);
    assert_eq!(j.run_at, T0 + 2_000);
    assert_eq!(j.attempts, 1);
    assert_eq!(j.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(j.lease_until, None);
    assert_eq!(j.lease_owner, None);

    let batch = claim(store, "q", T0 + 2_000, 1).await;
    assert_eq!(ids(&batch), vec![id]);
    assert_eq!(batch.jobs[0].job.attempts, 2);
    let second = AttemptRecord {
        started_at: T0 + 2_000,
        duration_ms: 10_000,
        status_code: None,
        response: None,
        error: Some("connect timeout".to_owned()),
    };
    assert!(complete(store, completion(id, 2, JobOutcome::Dead, second.clone())).await);
    let j = job(store, id).await;
    assert_eq!(j.state, JobState::Dead);
    assert_eq!(j.attempts, 2);
    assert_eq!(j.last_error.as_deref(), Some("connect timeout"));

    let attempts = store.attempt_list(id).await.expect("attempts");
    let summary: Vec<(u32, AttemptOutcome)> =
        attempts.iter().map(|a| (a.number, a.outcome)).collect();
    assert_eq!(
        summary,
        vec![(1, AttemptOutcome::Failed), (2, AttemptOutcome::Dead)]
    );
    assert_eq!(attempts[0].record, first);
    assert_eq!(attempts[1].record, second);
    assert!(
        claim(store, "q", T0 + 1_000_000, 10).await.jobs.is_empty(),
        "dead is final"
    );
}

/// A completion for an attempt that is no longer current (rescued, other node, already
/// completed) returns false and changes nothing; valid ones in the same call still apply.
pub async fn job_complete_stale(store: &dyn Store) {
    let rescued = insert_one(store, "evt_rescued", new_job("q")).await;
    let live = insert_one(store, "evt_live", new_job("q")).await;
    let mut c = claim_at("q", T0, 1);
    c.lease_until = T0 + 1_000;
    assert_eq!(
        ids(&store.job_claim(c).await.expect("claim")),
        vec![rescued]
    );
    let rescued_jobs = store
        .job_rescue_expired(rescue_at(T0 + 2_000, 5))
        .await
        .expect("rescue");
    assert_eq!(rescued_jobs.len(), 1);
    let before = job(store, rescued).await;
    assert_eq!(before.state, JobState::Retrying);

    assert_eq!(ids(&claim(store, "q", T0 + 2_000, 1).await), vec![live]);
    let wrong_node = JobCompletion {
        node: "node-b".to_owned(),
        ..completion(live, 1, JobOutcome::Succeeded, record(T0, Some(200), None))
    };
    let applied = store
        .job_complete_many(vec![
            completion(
                rescued,
                1,
                JobOutcome::Succeeded,
                record(T0, Some(200), None),
            ),
            wrong_node,
            completion(live, 2, JobOutcome::Succeeded, record(T0, Some(200), None)),
            completion(live, 1, JobOutcome::Succeeded, record(T0, Some(200), None)),
            completion(
                live,
                1,
                JobOutcome::Dead,
                record(T0, Some(500), Some("late")),
            ),
        ])
        .await
        .expect("complete");
    assert_eq!(applied, vec![false, false, false, true, false]);

    assert_eq!(
        job(store, rescued).await,
        before,
        "stale completion changed nothing"
    );
    let attempts = store.attempt_list(rescued).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::LeaseExpired);

    assert_eq!(job(store, live).await.state, JobState::Succeeded);
    let attempts = store.attempt_list(live).await.expect("attempts");
    assert_eq!(
        attempts.len(),
        1,
        "the late duplicate completion recorded nothing"
    );
    assert_eq!(attempts[0].outcome, AttemptOutcome::Succeeded);
}

/// Rescue brings back running jobs whose lease ended before `now`: `retrying` at `now`
/// with a `lease_expired` attempt naming the node, or `dead` once the queue's
/// `max_attempts` are used up. Unexpired leases are untouched.
pub async fn job_rescue_expired(store: &dyn Store) {
    let retry = insert_one(store, "evt_retry", new_job("q")).await;
    let dies = insert_one(store, "evt_dies", new_job("strict")).await;
    let holds = insert_one(store, "evt_holds", new_job("q")).await;

    for (queue, lease_until) in [("q", T0 + 1_000), ("strict", T0 + 1_000)] {
        let mut c = claim_at(queue, T0, 1);
        c.lease_until = lease_until;
        store.job_claim(c).await.expect("claim");
    }
    let mut c = claim_at("q", T0, 1);
    c.lease_until = T0 + 60_000;
    c.node = "node-b".to_owned();
    assert_eq!(ids(&store.job_claim(c).await.expect("claim")), vec![holds]);

    let now = T0 + 5_000;
    let rescue = JobRescue {
        now,
        max_attempts: HashMap::from([("strict".to_owned(), 1)]),
        default_max_attempts: 3,
        limit: 100,
    };
    let mut rescued = store.job_rescue_expired(rescue).await.expect("rescue");
    rescued.sort_by_key(|r| r.job_id);
    let summary: Vec<(i64, &str, &str, bool)> = rescued
        .iter()
        .map(|r| (r.job_id, r.queue.as_str(), r.lost_by.as_str(), r.dead))
        .collect();
    assert_eq!(
        summary,
        vec![(retry, "q", NODE, false), (dies, "strict", NODE, true)]
    );

    let j = job(store, retry).await;
    assert_eq!(j.state, JobState::Retrying);
    assert_eq!(j.run_at, now);
    assert_eq!(j.attempts, 1);
    assert_eq!(j.lease_until, None);
    assert_eq!(j.lease_owner, None);
    let attempts = store.attempt_list(retry).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].number, 1);
    assert_eq!(attempts[0].node, NODE);
    assert_eq!(attempts[0].outcome, AttemptOutcome::LeaseExpired);
    let error = attempts[0].record.error.as_deref().unwrap_or_default();
    assert!(error.contains(NODE), "error names the node: {error:?}");

    let j = job(store, dies).await;
    assert_eq!(j.state, JobState::Dead);
    assert_eq!(j.lease_until, None);
    let attempts = store.attempt_list(dies).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::LeaseExpired);

    let j = job(store, holds).await;
    assert_eq!(
        j.state,
        JobState::Running,
        "an unexpired lease is untouched"
    );
    assert_eq!(j.lease_owner.as_deref(), Some("node-b"));
    assert!(
        store
            .attempt_list(holds)
            .await
            .expect("attempts")
            .is_empty()
    );

    let again = store
        .job_rescue_expired(rescue_at(now, 3))
        .await
        .expect("rescue");
    assert!(again.is_empty(), "nothing left to rescue");
    let batch = claim(store, "q", now, 10).await;
    assert_eq!(ids(&batch), vec![retry], "the rescued job runs again");
    assert_eq!(batch.jobs[0].job.attempts, 2);
}

/// Release gives running jobs back as `ready` at `now` without counting the attempt and
/// without recording one; only the holder's current attempt can be released.
pub async fn job_release(store: &dyn Store) {
    let id = insert_one(store, "evt_release", new_job("q")).await;
    claim(store, "q", T0, 1).await;
    let release = |jobs: Vec<(i64, u32)>, node: &str| JobRelease {
        jobs,
        node: node.to_owned(),
        now: T0 + 500,
    };
    assert_eq!(
        store
            .job_release(release(vec![(id, 1)], "node-b"))
            .await
            .expect("release"),
        0,
        "another node cannot release it"
    );
    assert_eq!(
        store
            .job_release(release(vec![(id, 2)], NODE))
            .await
            .expect("release"),
        0,
        "wrong attempt"
    );
    assert_eq!(job(store, id).await.state, JobState::Running);

    assert_eq!(
        store
            .job_release(release(vec![(id, 1)], NODE))
            .await
            .expect("release"),
        1
    );
    let j = job(store, id).await;
    assert_eq!(j.state, JobState::Ready);
    assert_eq!(j.run_at, T0 + 500);
    assert_eq!(j.attempts, 0, "the interrupted attempt does not count");
    assert_eq!(j.lease_until, None);
    assert_eq!(j.lease_owner, None);
    assert!(store.attempt_list(id).await.expect("attempts").is_empty());

    let batch = claim(store, "q", T0 + 500, 1).await;
    assert_eq!(ids(&batch), vec![id]);
    assert_eq!(batch.jobs[0].job.attempts, 1);
}

/// Subscribers hear `JobsReady` for a queue after an insert, a rescue and a release.
pub async fn store_subscribe(store: &dyn Store) {
    let mut rx = store.subscribe();
    let id = insert_one(store, "evt_feed", new_job("feed")).await;
    expect_jobs_ready(&mut rx, "feed").await;

    let mut c = claim_at("feed", T0, 1);
    c.lease_until = T0 + 10;
    store.job_claim(c).await.expect("claim");
    let mut rx = store.subscribe();
    let rescued = store
        .job_rescue_expired(rescue_at(T0 + 100, 5))
        .await
        .expect("rescue");
    assert_eq!(rescued.len(), 1);
    expect_jobs_ready(&mut rx, "feed").await;

    let batch = claim(store, "feed", T0 + 100, 1).await;
    assert_eq!(ids(&batch), vec![id]);
    let mut rx = store.subscribe();
    let released = store
        .job_release(JobRelease {
            jobs: vec![(id, 2)],
            node: NODE.to_owned(),
            now: T0 + 200,
        })
        .await
        .expect("release");
    assert_eq!(released, 1);
    expect_jobs_ready(&mut rx, "feed").await;
}

/// Commit statistics grow with the writes made.
pub async fn store_commit_stats(store: &dyn Store) {
    let before = store.commit_stats();
    for i in 0..3 {
        insert_one(store, &format!("evt_stats_{i}"), new_job("q")).await;
    }
    let after = store.commit_stats();
    assert!(after.commits > before.commits, "{before:?} -> {after:?}");
    assert!(
        after.operations >= before.operations + 3,
        "{before:?} -> {after:?}"
    );
    assert!(after.largest_batch >= 1, "{after:?}");
    assert!(after.largest_batch <= after.operations, "{after:?}");
}

/// `ping` succeeds on an open store.
pub async fn store_ping(store: &dyn Store) {
    store.ping().await.expect("ping an open store");
}

/// After `close` every operation fails with `Closed`; closing twice is fine; what was
/// written before `close` was finished first.
pub async fn store_close(store: &dyn Store) {
    insert_one(store, "evt_before_close", new_job("q")).await;
    store.close().await;
    store.close().await;
    assert_closed(
        "insert",
        store
            .event_insert_with_jobs(vec![new_event("evt_after_close", vec![])])
            .await,
    );
    assert_closed("event_get", store.event_get("evt_before_close").await);
    assert_closed("job_get", store.job_get(1).await);
    assert_closed(
        "job_list_for_event",
        store.job_list_for_event("evt_before_close").await,
    );
    assert_closed("attempt_list", store.attempt_list(1).await);
    assert_closed("job_claim", store.job_claim(claim_at("q", T0, 1)).await);
    assert_closed(
        "job_lease_extend",
        store
            .job_lease_extend(JobLeaseExtend {
                jobs: vec![(1, 1)],
                node: NODE.to_owned(),
                lease_until: T0,
            })
            .await,
    );
    assert_closed(
        "job_complete_many",
        store
            .job_complete_many(vec![completion(
                1,
                1,
                JobOutcome::Succeeded,
                record(T0, None, None),
            )])
            .await,
    );
    assert_closed(
        "job_rescue_expired",
        store.job_rescue_expired(rescue_at(T0, 1)).await,
    );
    assert_closed(
        "job_release",
        store
            .job_release(JobRelease {
                jobs: vec![(1, 1)],
                node: NODE.to_owned(),
                now: T0,
            })
            .await,
    );
    assert_closed(
        "event_list",
        store
            .event_list(EventListParams {
                limit: 10,
                ..EventListParams::default()
            })
            .await,
    );
    assert_closed(
        "api_key_insert",
        store
            .api_key_insert(NewApiKey {
                key: ApiKey {
                    id: "key_late".to_owned(),
                    tenant: "acme".to_owned(),
                    scope: "read".to_owned(),
                    name: None,
                    created_at: T0,
                    revoked_at: None,
                },
                token_hash: "hash-late".to_owned(),
            })
            .await,
    );
    assert_closed("api_key_find", store.api_key_find("hash-late").await);
    assert_closed("api_key_list", store.api_key_list(None).await);
    assert_closed(
        "api_key_revoke",
        store.api_key_revoke("key_late", None, T0).await,
    );
    assert_closed("ping", store.ping().await);
}

/// Expands to one `#[tokio::test]` per conformance case, each named `conformance_…`.
///
/// `$factory` is an expression callable with no arguments that returns a future of
/// `(store, guard)`: `store` implements [`Store`](crate::Store) and is fresh for each
/// test, `guard` is kept alive until the test has closed the store. The expanding crate needs `tokio`
/// (features `macros`, `rt`) as a dev-dependency.
///
/// `conformance_tests!(optional $factory)` is for a backend that needs a service the
/// machine may lack (a database server): its factory returns `Option<(store, guard)>`,
/// and a test whose factory returns `None` passes without running its case (the factory
/// says why).
#[macro_export]
macro_rules! conformance_tests {
    (optional $factory:expr) => {
        $crate::conformance_tests!(@list [optional] $factory);
    };
    ($factory:expr) => {
        $crate::conformance_tests!(@list [required] $factory);
    };
    (@list [$mode:ident] $factory:expr) => {
        $crate::conformance_tests!(@cases [$mode] $factory;
            conformance_event_insert_roundtrip => event_insert_roundtrip,
            conformance_event_insert_unrouted => event_insert_unrouted,
            conformance_event_dedup_within_window => event_dedup_within_window,
            conformance_event_insert_existing_id => event_insert_existing_id,
            conformance_event_dedup_after_window => event_dedup_after_window,
            conformance_event_dedup_other_source => event_dedup_other_source,
            conformance_event_dedup_within_one_call => event_dedup_within_one_call,
            conformance_job_ready_or_scheduled => job_ready_or_scheduled,
            conformance_job_claim_order => job_claim_order,
            conformance_job_claim_limit => job_claim_limit,
            conformance_job_claim_skips_not_due => job_claim_skips_not_due,
            conformance_job_claim_ordering_key_fifo => job_claim_ordering_key_fifo,
            conformance_job_claim_max_running => job_claim_max_running,
            conformance_job_claim_max_running_concurrent => job_claim_max_running_concurrent,
            conformance_job_lease_extend => job_lease_extend,
            conformance_job_complete_succeeded => job_complete_succeeded,
            conformance_job_complete_retry_then_dead => job_complete_retry_then_dead,
            conformance_job_complete_stale => job_complete_stale,
            conformance_job_rescue_expired => job_rescue_expired,
            conformance_job_release => job_release,
            conformance_event_list_order => event_list_order,
            conformance_event_list_filters => event_list_filters,
            conformance_event_list_status => event_list_status,
            conformance_event_list_pages_with_cursor => event_list_pages_with_cursor,
            conformance_api_key_insert_find_list => api_key_insert_find_list,
            conformance_api_key_revoke => api_key_revoke,
            conformance_api_key_duplicate_refused => api_key_duplicate_refused,
            // Retention.
            conformance_event_prune_only_old_and_final => event_prune_only_old_and_final,
            conformance_event_prune_respects_limit => event_prune_respects_limit,
            conformance_event_prune_keeps_dedup_keys => event_prune_keeps_dedup_keys,
            // Queues: depth by state, pause and resume.
            conformance_queue_stats_by_state => queue_stats_by_state,
            conformance_queue_pause_resume => queue_pause_resume,
            // Dead letters and audit.
            conformance_job_list_and_count_dead => job_list_and_count_dead,
            conformance_job_retry_dead => job_retry_dead,
            conformance_job_purge_dead => job_purge_dead,
            conformance_audit_insert_list => audit_insert_list,
            // Replay.
            conformance_job_insert_for_event_claims_again => job_insert_for_event_claims_again,
            conformance_job_insert_for_event_routes_an_unrouted_event => job_insert_for_event_routes_an_unrouted_event,
            conformance_job_insert_for_event_missing_or_other_tenant => job_insert_for_event_missing_or_other_tenant,
            conformance_event_committed_at_is_stamped => event_committed_at_is_stamped,
            // Stats rollups.
            conformance_stats_add_accumulates => stats_add_accumulates,
            conformance_stats_add_keeps_rows_apart => stats_add_keeps_rows_apart,
            conformance_stats_read_period_and_filters => stats_read_period_and_filters,
            conformance_stats_compact_merges_minutes_into_hours => stats_compact_merges_minutes_into_hours,
            conformance_stats_compact_respects_limit => stats_compact_respects_limit,
            conformance_stats_compact_deletes_old_hours => stats_compact_deletes_old_hours,
            conformance_stats_roundtrip_keeps_histograms_and_errors => stats_roundtrip_keeps_histograms_and_errors,
            // Configuration objects.
            conformance_config_object_put_and_list => config_object_put_and_list,
            conformance_config_object_deletion_is_kept => config_object_deletion_is_kept,
            conformance_config_object_put_publishes_change => config_object_put_publishes_change,
            conformance_store_subscribe => store_subscribe,
            conformance_store_commit_stats => store_commit_stats,
            conformance_store_ping => store_ping,
            conformance_store_close => store_close,
        );
    };
    (@cases [optional] $factory:expr; $($test:ident => $case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $test() {
                let Some((store, guard)) = ($factory)().await else {
                    return;
                };
                $crate::conformance::$case(&store).await;
                $crate::Store::close(&store).await;
                drop(store);
                drop(guard);
            }
        )*
    };
    (@cases [required] $factory:expr; $($test:ident => $case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $test() {
                let (store, guard) = ($factory)().await;
                $crate::conformance::$case(&store).await;
                // Close before the guard goes, so no writer outlives its directory.
                $crate::Store::close(&store).await;
                drop(store);
                drop(guard);
            }
        )*
    };
}
