//! Conformance cases of queues: depth by state (due jobs count as ready, with the age of
//! the oldest), finished jobs since a time, and the paused flag with its change feed.

use super::{CHANGE_TIMEOUT, NODE, T0, claim, insert_one, new_job, record};
use crate::{JobCompletion, JobOutcome, QueueStats, Store, StoreChange};

async fn complete(store: &dyn Store, job_id: i64, outcome: JobOutcome) {
    let applied = store
        .job_complete_many(vec![JobCompletion {
            job_id,
            attempt: 1,
            node: NODE.to_owned(),
            outcome,
            record: record(T0 + 100, Some(500), None),
        }])
        .await
        .expect("complete");
    assert_eq!(applied, vec![true], "completion of job {job_id} applied");
}

/// Jobs of one queue in every state, and one of another queue, are counted by state;
/// waiting jobs whose time has come count as ready; the oldest due job gives the age;
/// finished jobs count as recent from their end on. Queues without jobs are absent.
pub async fn queue_stats_by_state(store: &dyn Store) {
    assert_eq!(store.queue_stats(T0, T0).await.expect("stats"), vec![]);

    let mut ids = Vec::new();
    for n in 1..=4 {
        ids.push(insert_one(store, &format!("evt_a{n}"), new_job("a")).await);
    }
    assert_eq!(claim(store, "a", T0, 4).await.jobs.len(), 4);
    // ends at T0 + 142 (record: started T0 + 100, 42 ms)
    complete(store, ids[0], JobOutcome::Succeeded).await;
    complete(
        store,
        ids[1],
        JobOutcome::Retry {
            run_at: T0 + 60_000,
        },
    )
    .await;
    complete(store, ids[2], JobOutcome::Dead).await;
    // ids[3] stays running.
    insert_one(store, "evt_a5", new_job("a")).await;
    let mut later = new_job("a");
    later.run_at = T0 + 30_000;
    insert_one(store, "evt_a6", later).await;
    let mut early = new_job("b");
    early.run_at = T0 - 5_000;
    insert_one(store, "evt_b1", early).await;

    let now = T0 + 1_000;
    let stats = store.queue_stats(now, T0 + 142).await.expect("stats");
    assert_eq!(
        stats,
        vec![
            QueueStats {
                queue: "a".to_owned(),
                scheduled: 1,
                ready: 1,
                running: 1,
                retrying: 1,
                succeeded: 1,
                dead: 1,
                oldest_ready_age_ms: Some(1_000),
                finished_recently: 2,
            },
            QueueStats {
                queue: "b".to_owned(),
                ready: 1,
                oldest_ready_age_ms: Some(6_000),
                ..QueueStats::default()
            },
        ]
    );

    // Later, the scheduled and the retrying jobs are due too; the finished ones are no
    // longer recent.
    let stats = store
        .queue_stats(T0 + 60_000, T0 + 143)
        .await
        .expect("stats");
    let a = &stats[0];
    assert_eq!(
        (a.scheduled, a.ready, a.retrying, a.finished_recently),
        (0, 3, 0, 0),
        "{a:?}"
    );
    assert_eq!(a.oldest_ready_age_ms, Some(60_000), "{a:?}");
}

/// Pausing records the queue, a second pause changes nothing, resuming forgets it; each
/// change (and only a change) is published after it is committed.
pub async fn queue_pause_resume(store: &dyn Store) {
    let mut changes = store.subscribe();
    assert!(store.queue_paused().await.expect("paused").is_empty());

    assert!(store.queue_pause("b", true).await.expect("pause"));
    assert!(store.queue_pause("a", true).await.expect("pause"));
    assert!(!store.queue_pause("a", true).await.expect("pause again"));
    assert_eq!(
        store.queue_paused().await.expect("paused"),
        vec!["a".to_owned(), "b".to_owned()]
    );
    assert!(store.queue_pause("b", false).await.expect("resume"));
    assert!(!store.queue_pause("b", false).await.expect("resume again"));
    assert!(
        !store
            .queue_pause("never", false)
            .await
            .expect("resume unknown")
    );
    assert_eq!(
        store.queue_paused().await.expect("paused"),
        vec!["a".to_owned()]
    );

    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(CHANGE_TIMEOUT, changes.recv()).await {
            Ok(Ok(change @ StoreChange::QueuePaused { .. })) => seen.push(change),
            Ok(Ok(_)) => {}
            other => panic!("waiting for pause changes: {other:?}"),
        }
    }
    let change = |queue: &str, paused| StoreChange::QueuePaused {
        queue: queue.to_owned(),
        paused,
    };
    assert_eq!(
        seen,
        vec![change("b", true), change("a", true), change("b", false)]
    );
    assert!(
        changes.try_recv().is_err(),
        "no change published for a pause or resume that changed nothing"
    );
}
