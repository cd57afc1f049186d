//! Conformance cases of replay and of the commit time: a replay adds jobs to a stored
//! event that claims hand out with the `webhook-id` asked for, publishes `JobsReady`,
//! routes an unrouted event, and never reaches a missing event or another tenant's; an
//! inserted event carries when the store committed it.

use super::{
    T0, claim, complete, completion, expect_jobs_ready, insert_one, new_event, new_job, record,
};
use crate::{EventListParams, EventStatus, JobOutcome, JobReplay, NewJob, Store};

/// A replay of `event_id` for `tenant` with `jobs`, forwarded as `webhook_id`.
fn replay(
    event_id: &str,
    tenant: Option<&str>,
    jobs: Vec<NewJob>,
    webhook_id: Option<&str>,
) -> JobReplay {
    JobReplay {
        event_id: event_id.to_owned(),
        tenant: tenant.map(str::to_owned),
        jobs,
        webhook_id: webhook_id.map(str::to_owned),
    }
}

/// A replay of a delivered event adds jobs, in the order given, that a claim hands out
/// again: with the event's own `webhook-id` when none is asked for, with the one asked
/// for otherwise; `JobsReady` is published for every queue that got one.
pub async fn job_insert_for_event_claims_again(store: &dyn Store) {
    let first = insert_one(store, "evt_rp1", new_job("q")).await;
    let batch = claim(store, "q", T0, 10).await;
    assert_eq!(batch.jobs.len(), 1);
    let done = completion(first, 1, JobOutcome::Succeeded, record(T0, Some(200), None));
    assert!(complete(store, done).await);

    let mut rx = store.subscribe();
    let ids = store
        .job_insert_for_event(replay("evt_rp1", Some("acme"), vec![new_job("q")], None))
        .await
        .expect("replay")
        .expect("the event exists");
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], first);
    expect_jobs_ready(&mut rx, "q").await;
    let batch = claim(store, "q", T0, 10).await;
    assert_eq!(super::ids(&batch), ids);
    let claimed = &batch.jobs[0];
    assert_eq!(claimed.job.webhook_id, None);
    assert_eq!(claimed.job.webhook_id(&claimed.event), "evt_rp1");
    assert_eq!(claimed.job.attempts, 1, "a new job starts its own count");

    let jobs = vec![new_job("other"), new_job("q")];
    let fresh = store
        .job_insert_for_event(replay("evt_rp1", None, jobs, Some("msg_fresh")))
        .await
        .expect("replay")
        .expect("the event exists");
    assert_eq!(fresh.len(), 2);
    assert!(fresh[0] < fresh[1], "ids follow the order given");
    expect_jobs_ready(&mut rx, "other").await;
    let batch = claim(store, "other", T0, 10).await;
    assert_eq!(super::ids(&batch), vec![fresh[0]]);
    let claimed = &batch.jobs[0];
    assert_eq!(claimed.job.webhook_id.as_deref(), Some("msg_fresh"));
    assert_eq!(claimed.job.webhook_id(&claimed.event), "msg_fresh");
    assert_eq!(claimed.event.id, "evt_rp1");
    assert_eq!(
        claimed.job.tenant, "acme",
        "jobs inherit the event's tenant"
    );

    let all = store.job_list_for_event("evt_rp1").await.expect("jobs");
    assert_eq!(all.len(), 4);
    assert_eq!(
        super::job(store, fresh[1]).await.webhook_id.as_deref(),
        Some("msg_fresh")
    );
}

/// An unrouted event that gets jobs by a replay is pending from then on.
pub async fn job_insert_for_event_routes_an_unrouted_event(store: &dyn Store) {
    store
        .event_insert_with_jobs(vec![new_event("evt_rp2", Vec::new())])
        .await
        .expect("insert");
    assert!(
        store
            .event_get("evt_rp2")
            .await
            .expect("get")
            .expect("event")
            .unrouted
    );

    let ids = store
        .job_insert_for_event(replay("evt_rp2", Some("acme"), vec![new_job("q")], None))
        .await
        .expect("replay")
        .expect("the event exists");
    assert_eq!(ids.len(), 1);
    let event = store
        .event_get("evt_rp2")
        .await
        .expect("get")
        .expect("event");
    assert!(!event.unrouted);
    let pending = store
        .event_list(EventListParams {
            status: Some(EventStatus::Pending),
            limit: 10,
            ..EventListParams::default()
        })
        .await
        .expect("list");
    assert_eq!(
        pending.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["evt_rp2"]
    );
    assert_eq!(super::ids(&claim(store, "q", T0, 10).await), ids);
}

/// A replay of a missing event, or of another tenant's, answers `None` and adds nothing.
pub async fn job_insert_for_event_missing_or_other_tenant(store: &dyn Store) {
    insert_one(store, "evt_rp3", new_job("q")).await;
    for (event_id, tenant) in [("evt_missing", None), ("evt_rp3", Some("globex"))] {
        let answer = store
            .job_insert_for_event(replay(event_id, tenant, vec![new_job("q")], None))
            .await
            .expect("replay");
        assert_eq!(answer, None, "{event_id} for {tenant:?}");
    }
    assert_eq!(
        store
            .job_list_for_event("evt_rp3")
            .await
            .expect("jobs")
            .len(),
        1
    );
    assert!(
        store
            .job_list_for_event("evt_missing")
            .await
            .expect("jobs")
            .is_empty()
    );
}

/// An inserted event carries when the store committed it, which is never before it was
/// received (the store stamps its own clock; the cases' times are of 2023).
pub async fn event_committed_at_is_stamped(store: &dyn Store) {
    insert_one(store, "evt_rp4", new_job("q")).await;
    let event = store
        .event_get("evt_rp4")
        .await
        .expect("get")
        .expect("event");
    assert_eq!(event.received_at, T0);
    assert!(
        event.committed_at >= event.received_at,
        "committed at {} before received at {}",
        event.committed_at,
        event.received_at
    );
}
