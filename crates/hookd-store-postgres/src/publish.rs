//! The end of a write that changes what other parts of the gateway wait for: announce
//! the changes to the other nodes inside the transaction, commit, and publish them on
//! the local feed.

use std::collections::BTreeSet;

use hookd_store::{StoreChange, StoreError};

use crate::PostgresStore;
use crate::error::PgResultExt;

/// `JobsReady` once for each of `queues`, in name order.
pub(crate) fn jobs_ready<'a>(queues: impl IntoIterator<Item = &'a str>) -> Vec<StoreChange> {
    queues
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|queue| StoreChange::JobsReady {
            queue: queue.to_owned(),
        })
        .collect()
}

/// Announces `changes` from inside `tx` (they reach the other nodes only if it
/// commits), commits it, counts the commit, and publishes `changes` locally.
pub(crate) async fn commit_and_publish(
    store: &PostgresStore,
    tx: deadpool_postgres::Transaction<'_>,
    changes: Vec<StoreChange>,
    context: &'static str,
) -> Result<(), StoreError> {
    for change in &changes {
        store.announce(&*tx, change).await?;
    }
    tx.commit().await.ctx(context)?;
    store.record_commit(1);
    store.publish(changes);
    Ok(())
}
