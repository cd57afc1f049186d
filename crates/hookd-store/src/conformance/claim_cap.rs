//! Conformance cases of a queue's cap on running jobs (`JobClaim::max_running`): the
//! queue's running jobs, on any node, count against it; finished ones free it; other
//! queues' jobs do not count; no cap claims as before; and claims racing each other
//! never exceed it together.

use super::{NODE, T0, claim, claim_at, complete, completion, ids, insert_one, new_job, record};
use crate::{ClaimBatch, JobClaim, JobOutcome, Store};

/// A claim of `queue` at [`T0`] by `node`, for at most `limit` jobs under `max_running`.
fn capped(queue: &str, node: &str, limit: u32, max_running: Option<u32>) -> JobClaim {
    JobClaim {
        node: node.to_owned(),
        max_running,
        ..claim_at(queue, T0, limit)
    }
}

async fn claim_capped(
    store: &dyn Store,
    node: &str,
    limit: u32,
    max_running: Option<u32>,
) -> ClaimBatch {
    store
        .job_claim(capped("q", node, limit, max_running))
        .await
        .expect("claim")
}

/// With a cap of 3, a claim gets no more than its limit, then only what the running jobs
/// leave, then nothing, whichever node claims; a succeeded and a retrying job free their
/// slots; another queue's running jobs do not count; without a cap a claim takes up to
/// its limit, even beyond what a cap allowed.
pub async fn job_claim_max_running(store: &dyn Store) {
    let mut jobs = Vec::new();
    for n in 1..=8 {
        jobs.push(insert_one(store, &format!("evt_cap{n}"), new_job("q")).await);
    }
    insert_one(store, "evt_other", new_job("other")).await;
    let cap = Some(3);

    let first = claim_capped(store, NODE, 2, cap).await;
    assert_eq!(ids(&first), jobs[..2], "the limit holds below the cap");
    let second = claim_capped(store, "node-b", 5, cap).await;
    assert_eq!(
        ids(&second),
        jobs[2..3],
        "the running jobs of every node count against the cap"
    );
    assert!(
        claim_capped(store, NODE, 5, cap).await.jobs.is_empty(),
        "nothing is claimed while the cap is reached"
    );

    let other = store
        .job_claim(capped("other", NODE, 5, Some(1)))
        .await
        .expect("claim other");
    assert_eq!(
        other.jobs.len(),
        1,
        "another queue's running jobs do not count"
    );

    let done = completion(
        jobs[0],
        1,
        JobOutcome::Succeeded,
        record(T0, Some(200), None),
    );
    assert!(complete(store, done).await);
    let retry = JobOutcome::Retry {
        run_at: T0 + 60_000,
    };
    let failed = completion(jobs[1], 1, retry, record(T0, Some(503), None));
    assert!(complete(store, failed).await);
    let third = claim_capped(store, NODE, 5, cap).await;
    assert_eq!(
        ids(&third),
        jobs[3..5],
        "a succeeded and a retrying job free their slots"
    );

    let uncapped = claim_capped(store, NODE, 2, None).await;
    assert_eq!(
        ids(&uncapped),
        jobs[5..7],
        "without a cap the running jobs do not matter"
    );
    assert!(
        claim_capped(store, NODE, 5, cap).await.jobs.is_empty(),
        "more jobs running than the cap allows claims nothing"
    );
    assert_eq!(ids(&claim(store, "q", T0, 5).await), jobs[7..]);
}

/// Claims racing each other, from several nodes, hand out no more than the cap together.
pub async fn job_claim_max_running_concurrent(store: &dyn Store) {
    for n in 1..=12 {
        insert_one(store, &format!("evt_race{n}"), new_job("q")).await;
    }
    let cap = Some(3);
    let batches = tokio::join!(
        claim_capped(store, "node-a", 3, cap),
        claim_capped(store, "node-b", 3, cap),
        claim_capped(store, "node-c", 3, cap),
        claim_capped(store, "node-d", 3, cap),
    );
    let claimed = [batches.0, batches.1, batches.2, batches.3]
        .iter()
        .map(|batch| batch.jobs.len())
        .sum::<usize>();
    assert_eq!(claimed, 3, "racing claims fill the cap exactly");
}
