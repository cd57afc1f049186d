//! hookd's ingest spool: while the shared store (PostgreSQL) cannot be reached, ingest
//! keeps answering. Its events are written to a spool on the node's own disk, fsynced
//! before they are answered, and moved into the store in arrival order, exactly once,
//! when it answers again.
//!
//! [`SpooledStore`] wraps any [`Store`] and delegates every operation to it, except
//! [`Store::event_insert_with_jobs`]:
//!
//! - While the spool is empty, events go to the store as usual: one atomic load is all the
//!   spool adds to a request (no extra round trip, no extra fsync).
//! - When the store fails with [`StoreError::Unavailable`] (and only then), the events are
//!   written to the spool in one fsynced SQLite transaction and answered as
//!   [`InsertOutcome::Inserted`] with their ids. The store's own timeouts bound how long
//!   the first request waits before that.
//! - While the spool holds events, new events go to the spool too, behind them, so that
//!   arrival order is kept, until the drain has moved them all.
//! - Beyond the spool's limit ([`SpoolOptions::max_bytes`]) events are refused with
//!   [`StoreError::Unavailable`]: ingest answers 503 with `Retry-After`.
//!
//! # Duplicates while spooling
//!
//! The store's dedup keys cannot be read while it is unreachable. A provider's retry of an
//! event still in the spool is recognised by the spool itself (same source and dedup key
//! within the window) and answered with the spooled event's id. A retry of an event the
//! store already held is spooled and answered as new; when the drain moves it, the store
//! recognises its key, and the spooled copy is dropped, logged and counted
//! ([`SpoolStats::dropped_duplicates`]). Its jobs are never run twice.
//!
//! Spooled events are not visible through the read operations (`event_get`,
//! `event_list`) until they are moved.
#![deny(missing_docs)]

mod drain;
mod spool;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hookd_store::*;
use tokio::sync::{Mutex, Notify, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::drain::Drain;
use crate::spool::Spool;

/// The name of the spool file in the node's data directory.
pub const SPOOL_FILE: &str = "spool.db";

/// How long [`Store::readiness`] waits for the wrapped store before taking it as
/// unreachable (the spool takes writes then).
const READINESS_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the spool lives and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// The spool file, created when missing (its directory must exist); by convention
    /// [`SPOOL_FILE`] in the node's data directory.
    pub path: PathBuf,
    /// The most bytes of events (bodies, headers and fields) the spool may hold; events
    /// beyond it are refused as [`StoreError::Unavailable`].
    pub max_bytes: u64,
}

/// Counts since the store opened, for [`SpoolStats`].
#[derive(Debug, Default)]
struct Counters {
    spooled: AtomicU64,
    moved: AtomicU64,
    dropped_duplicates: AtomicU64,
}

/// A [`Store`] whose ingest falls back to a local spool while the store cannot be
/// reached (see the [crate documentation](crate)).
pub struct SpooledStore<S: ?Sized> {
    inner: Arc<S>,
    spool: Arc<Spool>,
    counters: Arc<Counters>,
    /// Wakes the drain when events were spooled.
    wake: Arc<Notify>,
    /// Stops the drain on [`Store::close`].
    stop: CancellationToken,
    drain: Mutex<Option<JoinHandle<()>>>,
}

impl<S: ?Sized> std::fmt::Debug for SpooledStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpooledStore")
            .field("spooled_events", &self.spool.events())
            .field("spooled_bytes", &self.spool.bytes())
            .finish_non_exhaustive()
    }
}

impl<S: Store + ?Sized> SpooledStore<S> {
    /// Opens the spool file (creating it when missing) in front of `inner` and starts the
    /// drain, which first moves whatever an earlier run left in the spool.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the spool file cannot be opened or read.
    pub async fn open(inner: Arc<S>, options: SpoolOptions) -> Result<Self, StoreError> {
        let spool = Spool::open(&options.path, options.max_bytes)
            .await
            .map_err(|error| StoreError::Backend {
                context: "opening the spool",
                source: Box::new(error),
            })?;
        if !spool.is_empty() {
            tracing::info!(
                events = spool.events(),
                bytes = spool.bytes(),
                path = %options.path.display(),
                "the spool holds events from an earlier run; moving them into the store"
            );
        }
        let spool = Arc::new(spool);
        let counters = Arc::new(Counters::default());
        let wake = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let drain = tokio::spawn(
            Drain {
                inner: Arc::clone(&inner),
                spool: Arc::clone(&spool),
                counters: Arc::clone(&counters),
                wake: Arc::clone(&wake),
                stop: stop.clone(),
            }
            .run(),
        );
        Ok(Self {
            inner,
            spool,
            counters,
            wake,
            stop,
            drain: Mutex::new(Some(drain)),
        })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Writes `events` to the spool and wakes the drain.
    async fn spool(&self, events: Vec<NewEvent>) -> Result<Vec<InsertOutcome>, StoreError> {
        let outcomes = self
            .spool
            .append(events)
            .await
            .map_err(|error| error.into_store("spooling events"))?;
        let added = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, InsertOutcome::Inserted { .. }))
            .count() as u64;
        self.counters.spooled.fetch_add(added, Ordering::Relaxed);
        self.wake.notify_one();
        Ok(outcomes)
    }

    /// The answer of [`Store::readiness`] while writes go to the spool.
    fn spooling(&self, why: &str) -> Result<Readiness, StoreError> {
        match self.spool.refusal() {
            Some(refusal) => Err(StoreError::Unavailable {
                context: "spooling events",
                source: refusal.into(),
            }),
            None => Ok(Readiness::Degraded {
                reason: format!(
                    "spooling: {why}; {} events wait on local disk",
                    self.spool.events()
                ),
            }),
        }
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for SpooledStore<S> {
    async fn event_insert_with_jobs(
        &self,
        events: Vec<NewEvent>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        if !self.spool.is_empty() {
            // Behind the events already spooled, so that arrival order holds.
            return self.spool(events).await;
        }
        // The store takes its argument; this copy is what the spool writes should the
        // store turn out to be unreachable. A memory copy, no I/O.
        match self.inner.event_insert_with_jobs(events.clone()).await {
            Err(StoreError::Unavailable { context, source }) => {
                tracing::warn!(
                    error = %source,
                    context,
                    "the store cannot be reached; spooling events on local disk"
                );
                self.spool(events).await
            }
            other => other,
        }
    }

    async fn event_get(&self, id: &str) -> Result<Option<Event>, StoreError> {
        self.inner.event_get(id).await
    }

    async fn job_get(&self, id: i64) -> Result<Option<Job>, StoreError> {
        self.inner.job_get(id).await
    }

    async fn job_list_for_event(&self, event_id: &str) -> Result<Vec<Job>, StoreError> {
        self.inner.job_list_for_event(event_id).await
    }

    async fn attempt_list(&self, job_id: i64) -> Result<Vec<Attempt>, StoreError> {
        self.inner.attempt_list(job_id).await
    }

    async fn event_list(&self, params: EventListParams) -> Result<Vec<EventSummary>, StoreError> {
        self.inner.event_list(params).await
    }

    async fn api_key_insert(&self, key: NewApiKey) -> Result<(), StoreError> {
        self.inner.api_key_insert(key).await
    }

    async fn api_key_find(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.inner.api_key_find(token_hash).await
    }

    async fn api_key_list(&self, tenant: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.api_key_list(tenant).await
    }

    async fn api_key_revoke(
        &self,
        id: &str,
        tenant: Option<&str>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        self.inner.api_key_revoke(id, tenant, now).await
    }

    async fn job_claim(&self, claim: JobClaim) -> Result<ClaimBatch, StoreError> {
        self.inner.job_claim(claim).await
    }

    async fn job_lease_extend(&self, extend: JobLeaseExtend) -> Result<u64, StoreError> {
        self.inner.job_lease_extend(extend).await
    }

    async fn job_complete_many(
        &self,
        completions: Vec<JobCompletion>,
    ) -> Result<Vec<bool>, StoreError> {
        self.inner.job_complete_many(completions).await
    }

    async fn job_rescue_expired(&self, rescue: JobRescue) -> Result<Vec<RescuedJob>, StoreError> {
        self.inner.job_rescue_expired(rescue).await
    }

    async fn job_release(&self, release: JobRelease) -> Result<u64, StoreError> {
        self.inner.job_release(release).await
    }

    async fn event_prune(&self, prune: EventPrune) -> Result<PruneCount, StoreError> {
        self.inner.event_prune(prune).await
    }

    async fn queue_stats(
        &self,
        now: Millis,
        finished_since: Millis,
    ) -> Result<Vec<QueueStats>, StoreError> {
        self.inner.queue_stats(now, finished_since).await
    }

    async fn queue_pause(&self, queue: &str, paused: bool) -> Result<bool, StoreError> {
        self.inner.queue_pause(queue, paused).await
    }

    async fn queue_paused(&self) -> Result<Vec<String>, StoreError> {
        self.inner.queue_paused().await
    }

    async fn job_retry(&self, retry: JobRetry) -> Result<u64, StoreError> {
        self.inner.job_retry(retry).await
    }

    async fn job_list_dead(
        &self,
        filter: DeadFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        self.inner.job_list_dead(filter, before_id, limit).await
    }

    async fn job_count_dead(&self, filter: DeadFilter) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.job_count_dead(filter).await
    }

    async fn job_purge_dead(
        &self,
        ids: Option<Vec<i64>>,
        filter: DeadFilter,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.inner.job_purge_dead(ids, filter, limit).await
    }

    async fn audit_insert(&self, entry: AuditEntry) -> Result<i64, StoreError> {
        self.inner.audit_insert(entry).await
    }

    async fn audit_list(
        &self,
        tenant: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit_list(tenant, before_id, limit).await
    }

    async fn job_insert_for_event(
        &self,
        replay: JobReplay,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        self.inner.job_insert_for_event(replay).await
    }

    async fn stats_add(&self, deltas: Vec<StatsDelta>) -> Result<(), StoreError> {
        self.inner.stats_add(deltas).await
    }

    async fn stats_read(&self, query: StatsQuery) -> Result<Vec<StatsRow>, StoreError> {
        self.inner.stats_read(query).await
    }

    async fn stats_compact(&self, compact: StatsCompact) -> Result<u64, StoreError> {
        self.inner.stats_compact(compact).await
    }

    async fn config_object_list(&self) -> Result<Vec<ConfigObject>, StoreError> {
        self.inner.config_object_list().await
    }

    async fn config_object_put(&self, object: ConfigObject) -> Result<(), StoreError> {
        self.inner.config_object_put(object).await
    }

    /// Succeeds while ingest can take durable writes: into the store, or into the spool.
    async fn ping(&self) -> Result<(), StoreError> {
        self.readiness().await.map(drop)
    }

    /// [`Readiness::Ready`] while the spool is empty and the store answers;
    /// [`Readiness::Degraded`] while writes go to the spool (it holds events, or the store
    /// does not answer within a second); an error when neither can take them (the spool
    /// is full or its disk fails, or the store fails for good).
    async fn readiness(&self) -> Result<Readiness, StoreError> {
        if !self.spool.is_empty() {
            return self.spooling("events are moved into the store as it answers");
        }
        match tokio::time::timeout(READINESS_PROBE_TIMEOUT, self.inner.readiness()).await {
            Ok(Err(StoreError::Unavailable { source, .. })) => {
                tracing::debug!(error = %source, "readiness: the store cannot be reached");
                self.spooling("the store cannot be reached")
            }
            Err(_) => self.spooling("the store does not answer"),
            Ok(answer) => answer,
        }
    }

    fn spool_stats(&self) -> Option<SpoolStats> {
        Some(SpoolStats {
            events: self.spool.events(),
            bytes: self.spool.bytes(),
            max_bytes: self.spool.max_bytes(),
            spooled: self.counters.spooled.load(Ordering::Relaxed),
            moved: self.counters.moved.load(Ordering::Relaxed),
            dropped_duplicates: self.counters.dropped_duplicates.load(Ordering::Relaxed),
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<StoreChange> {
        self.inner.subscribe()
    }

    fn commit_stats(&self) -> CommitStats {
        self.inner.commit_stats()
    }

    /// Stops the drain (what it has not moved stays in the spool for the next start),
    /// closes the spool file once the writes queued on it are done, then closes the
    /// store.
    async fn close(&self) {
        self.stop.cancel();
        if let Some(drain) = self.drain.lock().await.take()
            && let Err(error) = drain.await
        {
            tracing::error!(%error, "the spool's drain task failed");
        }
        self.spool.close().await;
        self.inner.close().await;
    }
}
