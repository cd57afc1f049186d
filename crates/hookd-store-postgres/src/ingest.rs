//! Group commit of ingest: `event_insert_with_jobs` calls from many requests share one
//! transaction ([`crate::group`]).
//!
//! Each call of a group runs under its own `SAVEPOINT`, so that a failing call is rolled
//! back and answered with its error alone. The queues that got jobs are announced with
//! `NOTIFY` inside the transaction; one `COMMIT` makes the whole group durable, and only
//! after it succeeds are the callers answered and the changes published on the local
//! feed.
//!
//! When `BEGIN`, a savepoint or `COMMIT` fails, every call of the group is answered with
//! that error and nothing of the group is kept.

use std::collections::BTreeSet;
use std::sync::Arc;

use hookd_store::{InsertOutcome, NewEvent, StoreError};

use crate::error::from_pool;
use crate::group::{Group, GroupFailure, Shared, under_savepoint};

/// The savepoint each call of a group runs under.
const SAVEPOINT: &str = "ingest_call";

/// Inserting events with their jobs, in groups.
pub(crate) struct Ingest {
    /// Connections, channel and feed.
    shared: Arc<Shared>,
}

impl Ingest {
    /// The ingest group on `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl Group for Ingest {
    type Call = Vec<NewEvent>;
    type Answer = Vec<InsertOutcome>;

    const NAME: &'static str = "ingest";

    /// The group's transaction: every call under its savepoint, the announcements, the
    /// commit, then the local feed.
    async fn commit(
        &self,
        calls: &[Vec<NewEvent>],
    ) -> Result<Vec<Result<Vec<InsertOutcome>, StoreError>>, GroupFailure> {
        let shared = &*self.shared;
        let mut client = shared
            .pool
            .get()
            .await
            .map_err(|err| GroupFailure::from_store(&from_pool("getting a connection", err)))?;
        let tx = client
            .transaction()
            .await
            .map_err(|err| GroupFailure::from_pg("beginning a transaction", &err))?;
        // Before any job id is drawn: no claim may run between drawing an id and the
        // commit (see `claim`), so per-key order holds across nodes.
        let group_queues: BTreeSet<&str> = calls
            .iter()
            .flatten()
            .flat_map(|event| &event.jobs)
            .map(|job| job.queue.as_str())
            .collect();
        crate::claim::lock_queues_for_insert(&*tx, group_queues)
            .await
            .map_err(|err| GroupFailure::from_store(&err))?;
        let mut queues = BTreeSet::new();
        let mut results = Vec::with_capacity(calls.len());
        for events in calls {
            let mut call_queues = BTreeSet::new();
            let write = crate::events::insert_with_jobs(&*tx, events, &mut call_queues);
            let result = under_savepoint(&*tx, SAVEPOINT, write).await?;
            if result.is_ok() {
                queues.append(&mut call_queues);
            }
            results.push(result);
        }
        shared.announce_jobs_ready(&*tx, &queues).await?;
        tx.commit()
            .await
            .map_err(|err| GroupFailure::from_pg("committing", &err))?;
        shared.publish_jobs_ready(queues);
        Ok(results)
    }
}
