//! Conformance cases of dead letters and the audit log: only `dead` jobs are listed,
//! counted, requeued and purged, by filter or by ids, within the tenant given; a
//! requeue publishes `JobsReady` and keeps the attempt history; audit entries come back
//! newest first, by tenant and page.

use super::{T0, claim, complete, completion, expect_jobs_ready, new_event, new_job, record};
use crate::{AuditEntry, DeadFilter, InsertOutcome, JobOutcome, JobState, NewEvent, Store};

/// Inserts one event (`tenant`, `source`, `event_type`) with one job of `queue`;
/// returns the job's id.
async fn insert(store: &dyn Store, id: &str, tenant: &str, source: &str, queue: &str) -> i64 {
    let event = NewEvent {
        tenant: tenant.to_owned(),
        source: source.to_owned(),
        ..new_event(id, vec![new_job(queue)])
    };
    let outcomes = store
        .event_insert_with_jobs(vec![event])
        .await
        .expect("insert");
    assert!(matches!(outcomes[0], InsertOutcome::Inserted { .. }));
    store.job_list_for_event(id).await.expect("jobs")[0].id
}

/// Claims the due jobs of `queue` and ends each with `outcome`.
async fn finish(store: &dyn Store, queue: &str, outcome: JobOutcome) {
    let batch = claim(store, queue, T0, 100).await;
    for c in batch.jobs {
        let done = completion(
            c.job.id,
            c.job.attempts,
            outcome,
            record(T0, Some(500), None),
        );
        assert!(complete(store, done).await, "job {} completes", c.job.id);
    }
}

fn filter(tenant: Option<&str>, queue: Option<&str>, source: Option<&str>) -> DeadFilter {
    DeadFilter {
        tenant: tenant.map(str::to_owned),
        queue: queue.map(str::to_owned),
        source: source.map(str::to_owned),
        event_type: None,
    }
}

async fn dead_ids(store: &dyn Store, f: DeadFilter) -> Vec<i64> {
    store
        .job_list_dead(f, None, 100)
        .await
        .expect("list dead")
        .iter()
        .map(|j| j.id)
        .collect()
}

/// Dead jobs are listed newest first with filters and a cursor, and counted per queue;
/// succeeded and retrying jobs are neither.
pub async fn job_list_and_count_dead(store: &dyn Store) {
    let a1 = insert(store, "evt_d1", "acme", "shop", "a").await;
    let a2 = insert(store, "evt_d2", "acme", "crm", "a").await;
    let b1 = insert(store, "evt_d3", "globex", "shop", "b").await;
    finish(store, "a", JobOutcome::Dead).await;
    finish(store, "b", JobOutcome::Dead).await;
    insert(store, "evt_d4", "acme", "shop", "c").await;
    finish(store, "c", JobOutcome::Succeeded).await;

    assert_eq!(
        dead_ids(store, DeadFilter::default()).await,
        vec![b1, a2, a1]
    );
    assert_eq!(
        dead_ids(store, filter(Some("acme"), None, None)).await,
        vec![a2, a1]
    );
    assert_eq!(
        dead_ids(store, filter(None, Some("b"), None)).await,
        vec![b1]
    );
    assert_eq!(
        dead_ids(store, filter(None, None, Some("shop"))).await,
        vec![b1, a1]
    );
    let typed = DeadFilter {
        event_type: Some("order.paid".to_owned()),
        ..DeadFilter::default()
    };
    assert_eq!(dead_ids(store, typed).await.len(), 3);
    let other_type = DeadFilter {
        event_type: Some("order.refunded".to_owned()),
        ..DeadFilter::default()
    };
    assert_eq!(dead_ids(store, other_type).await, Vec::<i64>::new());

    let page = store
        .job_list_dead(DeadFilter::default(), Some(a2), 1)
        .await
        .expect("page");
    assert_eq!(page.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a1]);
    assert_eq!(page[0].state, JobState::Dead);

    assert_eq!(
        store
            .job_count_dead(DeadFilter::default())
            .await
            .expect("count"),
        vec![("a".to_owned(), 2), ("b".to_owned(), 1)]
    );
    assert_eq!(
        store
            .job_count_dead(filter(Some("globex"), None, None))
            .await
            .expect("count"),
        vec![("b".to_owned(), 1)]
    );
}

/// A retry by filter moves only dead jobs of that filter to `ready` at `now`, keeps
/// their attempts, publishes `JobsReady`, and the jobs can be claimed again; by ids it
/// never reaches another tenant's job; `limit` bounds a call.
pub async fn job_retry_dead(store: &dyn Store) {
    let a1 = insert(store, "evt_r1", "acme", "shop", "a").await;
    let a2 = insert(store, "evt_r2", "acme", "shop", "a").await;
    let g1 = insert(store, "evt_r3", "globex", "shop", "a").await;
    finish(store, "a", JobOutcome::Dead).await;
    let s1 = insert(store, "evt_r4", "acme", "shop", "a").await;
    finish(store, "a", JobOutcome::Succeeded).await;

    let mut rx = store.subscribe();
    let now = T0 + 60_000;
    let moved = store
        .job_retry(crate::JobRetry {
            ids: None,
            filter: filter(Some("acme"), Some("a"), None),
            now,
            limit: 1,
        })
        .await
        .expect("retry");
    assert_eq!(moved, 1, "limit bounds a call");
    expect_jobs_ready(&mut rx, "a").await;
    let moved = store
        .job_retry(crate::JobRetry {
            ids: None,
            filter: filter(Some("acme"), None, None),
            now,
            limit: 100,
        })
        .await
        .expect("retry");
    assert_eq!(
        moved, 1,
        "the rest of acme's dead jobs; the succeeded one stays"
    );
    for id in [a1, a2] {
        let job = super::job(store, id).await;
        assert_eq!(job.state, JobState::Ready);
        assert_eq!(job.run_at, now);
        assert_eq!(job.attempts, 1, "attempts are kept");
        assert_eq!(store.attempt_list(id).await.expect("attempts").len(), 1);
    }
    assert_eq!(super::job(store, s1).await.state, JobState::Succeeded);
    assert_eq!(super::job(store, g1).await.state, JobState::Dead);

    // Another tenant's job by id: untouched.
    let moved = store
        .job_retry(crate::JobRetry {
            ids: Some(vec![g1, s1]),
            filter: filter(Some("acme"), None, None),
            now,
            limit: 100,
        })
        .await
        .expect("retry");
    assert_eq!(moved, 0);
    assert_eq!(super::job(store, g1).await.state, JobState::Dead);

    // The requeued jobs run again; their next attempt is number 2.
    let batch = claim(store, "a", now, 10).await;
    let mut again: Vec<(i64, u32)> = batch
        .jobs
        .iter()
        .map(|c| (c.job.id, c.job.attempts))
        .collect();
    again.sort_unstable();
    assert_eq!(again, vec![(a1, 2), (a2, 2)]);
    assert!(
        complete(
            store,
            completion(a1, 2, JobOutcome::Succeeded, record(now, Some(200), None))
        )
        .await
    );
    assert_eq!(store.attempt_list(a1).await.expect("attempts").len(), 2);
}

/// A purge deletes only dead jobs of its filter (or ids), with their attempts.
pub async fn job_purge_dead(store: &dyn Store) {
    let a1 = insert(store, "evt_p1", "acme", "shop", "a").await;
    let a2 = insert(store, "evt_p2", "acme", "shop", "a").await;
    let g1 = insert(store, "evt_p3", "globex", "shop", "a").await;
    finish(store, "a", JobOutcome::Dead).await;

    let purged = store
        .job_purge_dead(Some(vec![a1, g1]), filter(Some("acme"), None, None), 100)
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(store.job_get(a1).await.expect("get"), None);
    assert!(store.attempt_list(a1).await.expect("attempts").is_empty());
    assert!(
        store.event_get("evt_p1").await.expect("event").is_some(),
        "events stay"
    );

    let purged = store
        .job_purge_dead(None, DeadFilter::default(), 100)
        .await
        .expect("purge");
    assert_eq!(purged, 2);
    assert_eq!(store.job_get(a2).await.expect("get"), None);
    assert_eq!(store.job_get(g1).await.expect("get"), None);
    assert!(dead_ids(store, DeadFilter::default()).await.is_empty());
}

/// Audit entries come back newest first, by tenant, one page at a time.
pub async fn audit_insert_list(store: &dyn Store) {
    let entry = |n: u64, tenant: &str| AuditEntry {
        at: T0 + n as i64,
        actor: format!("key_{n}"),
        tenant: tenant.to_owned(),
        action: "dead.retry".to_owned(),
        target: "dead".to_owned(),
        count: n,
        detail: Some(format!("{{\"n\":{n}}}")),
    };
    let mut ids = Vec::new();
    for (n, tenant) in [(1, "acme"), (2, "globex"), (3, "acme")] {
        ids.push(store.audit_insert(entry(n, tenant)).await.expect("insert"));
    }
    assert!(ids[0] < ids[1] && ids[1] < ids[2]);
    let all = store.audit_list(None, None, 10).await.expect("list");
    assert_eq!(
        all.iter().map(|r| r.entry.clone()).collect::<Vec<_>>(),
        vec![entry(3, "acme"), entry(2, "globex"), entry(1, "acme")]
    );
    let acme = store
        .audit_list(Some("acme"), None, 10)
        .await
        .expect("list");
    assert_eq!(
        acme.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[2], ids[0]]
    );
    let page = store.audit_list(None, Some(ids[2]), 1).await.expect("page");
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[1]]);
}
