//! Replay: new jobs for a stored event, written like an ingest's jobs
//! ([`insert_jobs`]) and created by the database's clock, so the event is no longer
//! `unrouted` and its queues learn of the work on every node after the commit.

use hookd_store::{JobReplay, StoreError};

use crate::PostgresStore;
use crate::claim::lock_queues_for_insert;
use crate::error::PgResultExt;
use crate::events::{EventJobs, insert_jobs};
use crate::publish::{commit_and_publish, jobs_ready};
use crate::rows::get;

/// Inserts the replay's jobs for its event and marks the event routed, in one
/// transaction; `None` when there is no such event of the replay's tenant.
///
/// The event is read `FOR KEY SHARE`, the lock its new jobs' foreign key takes anyway:
/// retention cannot delete it under the replay, and a replay that comes second to a
/// deletion finds no event. The queues' insert locks are taken before the jobs get
/// their ids ([`lock_queues_for_insert`]).
pub(crate) async fn insert_for_event(
    store: &PostgresStore,
    replay: &JobReplay,
) -> Result<Option<Vec<i64>>, StoreError> {
    const CONTEXT: &str = "replaying an event";
    let mut client = store.client().await?;
    let tx = client.transaction().await.ctx(CONTEXT)?;
    let event = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT tenant FROM events WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)
                 FOR KEY SHARE",
            )
            .await
            .ctx(CONTEXT)?,
            &[&replay.event_id, &replay.tenant],
        )
        .await
        .ctx(CONTEXT)?;
    let Some(event) = event else {
        return Ok(None);
    };
    let tenant: &str = get(&event, "tenant")?;

    let queues = || replay.jobs.iter().map(|job| job.queue.as_str());
    lock_queues_for_insert(&*tx, queues()).await?;
    let ids = insert_jobs(
        &*tx,
        &EventJobs {
            event_id: &replay.event_id,
            tenant,
            created_at: None,
            webhook_id: replay.webhook_id.as_deref(),
        },
        &replay.jobs,
    )
    .await?;
    if !ids.is_empty() {
        tx.execute(
            &tx.prepare_cached("UPDATE events SET unrouted = false WHERE id = $1 AND unrouted")
                .await
                .ctx(CONTEXT)?,
            &[&replay.event_id],
        )
        .await
        .ctx(CONTEXT)?;
    }
    commit_and_publish(store, tx, jobs_ready(queues()), CONTEXT).await?;
    Ok(Some(ids))
}
