//! The drain: moves spooled events into the store, oldest first, in batches, and
//! deletes each batch from the spool only after the store committed it.
//!
//! Exactly once across crashes: when the node dies between the store's commit and the
//! spool's delete, the batch is moved again at the next start, and the store answers
//! each of its events as a duplicate of itself (an event whose id is stored is never
//! stored again), which the drain counts as moved. An event answered as a duplicate of
//! another event is one whose dedup key the store already held (a provider's retry that
//! reached the store while this node was spooling): it is dropped, logged and counted.
//!
//! While the store cannot be reached the drain waits, pinging it with a growing pause
//! ([`RETRY_FIRST`] doubling up to [`RETRY_MAX`]), and moves on as soon as it answers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hookd_store::{InsertOutcome, Store, StoreError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Counters;
use crate::spool::Spool;

/// The most events one batch moves: one call of the store's
/// `event_insert_with_jobs`, committed in one transaction.
const BATCH_EVENTS: usize = 256;

/// The most bytes one batch moves (unless its first event alone is larger), so that a
/// spool of large bodies never builds one huge transaction.
const BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// The first pause after the store failed a batch or a ping.
const RETRY_FIRST: Duration = Duration::from_millis(200);

/// The longest pause between pings: how long, at most, the drain takes to notice the
/// store is back.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// What the drain works with.
pub(crate) struct Drain<S: ?Sized> {
    pub(crate) inner: Arc<S>,
    pub(crate) spool: Arc<Spool>,
    pub(crate) counters: Arc<Counters>,
    /// Notified when events were spooled.
    pub(crate) wake: Arc<Notify>,
    pub(crate) stop: CancellationToken,
}

impl<S: Store + ?Sized> Drain<S> {
    /// Moves events until `stop` is cancelled or the store is closed.
    pub(crate) async fn run(self) {
        let mut pause = RETRY_FIRST;
        loop {
            if self.spool.is_empty() {
                tokio::select! {
                    () = self.stop.cancelled() => return,
                    () = self.wake.notified() => continue,
                }
            }
            match self.move_batch().await {
                Ok(()) => pause = RETRY_FIRST,
                Err(StoreError::Closed) => return,
                Err(error) => {
                    tracing::warn!(
                        %error,
                        spooled = self.spool.events(),
                        "moving spooled events into the store failed; retrying when it answers"
                    );
                    if !self.wait_for_store(&mut pause).await {
                        return;
                    }
                }
            }
        }
    }

    /// Moves the oldest batch: the store commits it, then the spool deletes it.
    async fn move_batch(&self) -> Result<(), StoreError> {
        let batch = self
            .spool
            .oldest(BATCH_EVENTS, BATCH_BYTES)
            .await
            .map_err(|error| error.into_store("reading the spool"))?;
        let Some(last_seq) = batch.last().map(|spooled| spooled.seq) else {
            return Ok(());
        };
        let events: Vec<_> = batch.into_iter().map(|spooled| spooled.event).collect();
        let ids: Vec<String> = events.iter().map(|event| event.id.clone()).collect();
        let outcomes = self.inner.event_insert_with_jobs(events).await?;
        let mut moved = 0;
        for (id, outcome) in ids.iter().zip(&outcomes) {
            match outcome {
                InsertOutcome::Inserted { .. } => moved += 1,
                // Moved before, and the node stopped before the spool forgot it.
                InsertOutcome::Duplicate { original_id } if original_id == id => moved += 1,
                InsertOutcome::Duplicate { original_id } => {
                    self.counters
                        .dropped_duplicates
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        event_id = %id,
                        %original_id,
                        "a spooled event repeats one the store already holds; dropped"
                    );
                }
            }
        }
        self.spool
            .remove_through(last_seq)
            .await
            .map_err(|error| error.into_store("deleting moved events from the spool"))?;
        self.counters.moved.fetch_add(moved, Ordering::Relaxed);
        let left = self.spool.events();
        tracing::debug!(moved, left, "moved spooled events into the store");
        if left == 0 {
            tracing::info!("the spool is empty; ingest writes to the store again");
        }
        Ok(())
    }

    /// Pings the store until it answers, pausing longer each time (up to
    /// [`RETRY_MAX`]). False when stopped meanwhile.
    async fn wait_for_store(&self, pause: &mut Duration) -> bool {
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return false,
                () = tokio::time::sleep(*pause) => {}
            }
            *pause = (*pause * 2).min(RETRY_MAX);
            match self.inner.ping().await {
                Ok(()) => return true,
                Err(StoreError::Closed) => return false,
                Err(error) => tracing::debug!(%error, "the store does not answer yet"),
            }
        }
    }
}
