//! Conformance cases of retention ([`Store::event_prune`]): only old, final events go,
//! with their jobs and attempts; pending ones never; a call respects its limit; dedup
//! keys outlive their events until they expire.

use super::{T0, WINDOW_MS, claim, complete, completion, new_event, new_job, record};
use crate::{EventPrune, InsertOutcome, JobOutcome, NewEvent, PruneCount, Store};

const HOUR: i64 = 60 * 60 * 1000;

/// A prune at `T0 + 10h` that takes succeeded events finished before `T0 + 5h` and dead
/// ones finished before `T0 + 1h`, and no dedup key.
fn prune_at_10h(limit: u32) -> EventPrune {
    EventPrune {
        succeeded_before: T0 + 5 * HOUR,
        dead_before: T0 + HOUR,
        dedup_before: T0 - WINDOW_MS,
        limit,
    }
}

async fn insert(store: &dyn Store, events: Vec<NewEvent>) {
    let n = events.len();
    let outcomes = store.event_insert_with_jobs(events).await.expect("insert");
    assert_eq!(outcomes.len(), n);
}

/// Claims every due job of `queue` at `at` and finishes each with `outcome`.
async fn finish_all(store: &dyn Store, queue: &str, at: i64, outcome: JobOutcome) {
    let batch = claim(store, queue, at, 100).await;
    for c in batch.jobs {
        assert!(
            complete(
                store,
                completion(
                    c.job.id,
                    c.job.attempts,
                    outcome,
                    record(at, Some(200), None)
                )
            )
            .await
        );
    }
}

async fn exists(store: &dyn Store, id: &str) -> bool {
    store.event_get(id).await.expect("event_get").is_some()
}

/// Old succeeded, old dead and old unrouted events go with their jobs and attempts;
/// young ones, dead ones younger than their cut-off, and any with a pending job stay.
pub async fn event_prune_only_old_and_final(store: &dyn Store) {
    insert(
        store,
        vec![
            new_event("evt_ok_old", vec![new_job("ok_old")]),
            new_event("evt_ok_young", vec![new_job("ok_young")]),
            new_event("evt_dead_old", vec![new_job("dead_old")]),
            new_event("evt_dead_young", vec![new_job("dead_young")]),
            new_event("evt_pending", vec![new_job("pending")]),
            // One job succeeded long ago, the other still waits: the event stays.
            new_event("evt_half", vec![new_job("half_ok"), new_job("half_wait")]),
            new_event("evt_unrouted", vec![]),
        ],
    )
    .await;
    finish_all(store, "ok_old", T0 + HOUR, JobOutcome::Succeeded).await;
    finish_all(store, "ok_young", T0 + 6 * HOUR, JobOutcome::Succeeded).await;
    finish_all(store, "dead_old", T0 + HOUR / 2, JobOutcome::Dead).await;
    finish_all(store, "dead_young", T0 + 2 * HOUR, JobOutcome::Dead).await;
    finish_all(store, "half_ok", T0 + HOUR, JobOutcome::Succeeded).await;
    let old_jobs = store.job_list_for_event("evt_ok_old").await.expect("jobs");
    assert_eq!(old_jobs.len(), 1);

    let pruned = store.event_prune(prune_at_10h(100)).await.expect("prune");
    assert_eq!(
        pruned,
        PruneCount {
            events: 3,
            dedup_keys: 0
        }
    );
    for gone in ["evt_ok_old", "evt_dead_old", "evt_unrouted"] {
        assert!(!exists(store, gone).await, "{gone} is pruned");
        assert!(
            store
                .job_list_for_event(gone)
                .await
                .expect("jobs")
                .is_empty(),
            "the jobs of {gone} are pruned"
        );
    }
    assert_eq!(store.job_get(old_jobs[0].id).await.expect("job_get"), None);
    assert!(
        store
            .attempt_list(old_jobs[0].id)
            .await
            .expect("attempts")
            .is_empty(),
        "attempts are pruned with their job"
    );
    for kept in ["evt_ok_young", "evt_dead_young", "evt_pending", "evt_half"] {
        assert!(exists(store, kept).await, "{kept} stays");
    }
    assert_eq!(
        store.event_prune(prune_at_10h(100)).await.expect("prune"),
        PruneCount::default(),
        "a second pass finds nothing more"
    );
}

/// A call deletes at most `limit` events, oldest first.
pub async fn event_prune_respects_limit(store: &dyn Store) {
    let events = (0..5)
        .map(|i| NewEvent {
            received_at: T0 + i,
            ..new_event(&format!("evt_{i}"), vec![])
        })
        .collect();
    insert(store, events).await;
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(
            store
                .event_prune(prune_at_10h(2))
                .await
                .expect("prune")
                .events,
        );
    }
    assert_eq!(counts, [2, 2, 1, 0]);
    for i in 0..5 {
        assert!(!exists(store, &format!("evt_{i}")).await);
    }
}

/// A repeat of a pruned event within its window is still a duplicate of the original;
/// once its dedup key has expired and been pruned, the key is free again.
pub async fn event_prune_keeps_dedup_keys(store: &dyn Store) {
    insert(store, vec![new_event("evt_orig", vec![])]).await;
    let pruned = store.event_prune(prune_at_10h(10)).await.expect("prune");
    assert_eq!(pruned.events, 1);
    assert!(!exists(store, "evt_orig").await);

    let repeat = |id: &str, at: i64, window: i64| NewEvent {
        dedup_key: "evt_orig".to_owned(),
        received_at: at,
        dedup_window_ms: window,
        ..new_event(id, vec![])
    };
    let outcomes = store
        .event_insert_with_jobs(vec![repeat("evt_retry", T0 + 10 * HOUR, WINDOW_MS)])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Duplicate {
            original_id: "evt_orig".to_owned()
        }],
        "the dedup key outlives its pruned event"
    );

    // Keys stored before `dedup_before` go, bounded by the limit like events.
    let expired = EventPrune {
        dedup_before: T0 + 1,
        ..prune_at_10h(10)
    };
    let pruned = store.event_prune(expired).await.expect("prune");
    assert_eq!(pruned.dedup_keys, 1);
    // With the key gone, even a window that would have covered it finds nothing.
    let outcomes = store
        .event_insert_with_jobs(vec![repeat("evt_new", T0 + 11 * HOUR, 2 * WINDOW_MS)])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Inserted {
            id: "evt_new".to_owned()
        }]
    );
}
