//! One queue's worker pool on this node.
//!
//! The loop claims when it has free slots and has reason to believe work is due: at
//! start, when the store reports ready jobs for the queue, when a job of its own ends
//! (which may free an ordering key), and when the earliest scheduled or retrying job
//! falls due. A slow poll covers anything else. Leases of running jobs are renewed at a
//! third of the lease length.
//!
//! A paused queue's pool claims nothing; what it runs finishes. The pool keeps the
//! queue's paused flag, read from the store at start (and after missing changes) and
//! then kept by [`StoreChange::QueuePaused`], so deciding to claim costs no query; a
//! resume wakes the pool at once.
//!
//! The queue's `global_concurrency`, its cap across every node, travels with each claim
//! and the store enforces it; a pool that got less than its free slots because of it
//! finds the slots other nodes freed at its next claim (its own jobs' ends, wake-ups,
//! the poll).
//!
//! Settings are read from the configuration in force at every claim, and a change of it
//! is a reason to claim (a larger `concurrency`). When the queue is deleted from the
//! configuration, the pool claims nothing more and ends once it runs nothing.
//!
//! On shutdown the pool stops claiming, lets running jobs finish within the shutdown
//! grace, then aborts the rest and releases them so that they run again at once on the
//! next start (or on another node).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hookd_store::{JobClaim, JobLeaseExtend, JobRelease, StoreChange};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};

use super::executor;
use crate::clock;
use crate::runtime::Services;
use crate::targets::http::HttpTarget;

/// How long an idle pool waits before looking at the store unprompted.
const POLL_INTERVAL_DEFAULT: Duration = Duration::from_secs(1);
/// How long a pool waits after the store failed a claim.
const CLAIM_ERROR_PAUSE: Duration = Duration::from_secs(1);

pub(super) struct Pool {
    services: Services,
    queue: String,
    http: Arc<HttpTarget>,
    /// `(job id → attempt)` of every job this pool is running.
    running: HashMap<i64, u32>,
    tasks: JoinSet<i64>,
    /// Whether the queue is paused; `None` until read from the store (at start, and
    /// again after the change feed lagged).
    paused: Option<bool>,
}

impl Pool {
    pub(super) fn new(services: Services, queue: String, http: Arc<HttpTarget>) -> Self {
        Self {
            services,
            queue,
            http,
            running: HashMap::new(),
            tasks: JoinSet::new(),
            paused: None,
        }
    }

    #[tracing::instrument(name = "pool", skip_all, fields(queue = %self.queue))]
    pub(super) async fn run(mut self) {
        let mut changes = self.services.store.subscribe();
        let mut changes_open = true;
        let mut config = self.services.config.clone();
        let mut config_open = true;
        let mut lease = self.settings().1;
        let mut heartbeat = tokio::time::interval(lease / 3);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // `want_claim` is set by every reason to look at the store; `wake_at` is when to
        // look unprompted (the poll, the next due job, or the end of a pause after an
        // error).
        let mut want_claim = true;
        let mut wake_at = Instant::now();

        loop {
            if !self.is_configured() {
                if self.running.is_empty() {
                    tracing::info!("the queue was deleted; its pool stops");
                    return;
                }
                // Only the running jobs' ends matter now.
                want_claim = false;
                wake_at = Instant::now() + POLL_INTERVAL_DEFAULT;
            }
            if want_claim {
                want_claim = false;
                wake_at = match self.claim().await {
                    Ok(next_run_at) => {
                        let poll = Instant::now() + POLL_INTERVAL_DEFAULT;
                        next_run_at.map_or(poll, |at| poll.min(instant_at(at)))
                    }
                    Err(()) => Instant::now() + CLAIM_ERROR_PAUSE,
                };
            }

            tokio::select! {
                () = self.services.shutdown.cancelled() => break,
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.reap(done);
                    // Every job that ended meanwhile frees its slot too, so that one
                    // claim fills them all: claiming slot by slot would make the store's
                    // round trip, not the targets, the limit of the pool.
                    while let Some(done) = self.tasks.try_join_next() {
                        self.reap(done);
                    }
                    want_claim = true;
                }
                change = changes.recv(), if changes_open => match change {
                    Ok(StoreChange::JobsReady { queue }) if queue == self.queue => want_claim = true,
                    Ok(StoreChange::QueuePaused { queue, paused }) if queue == self.queue => {
                        self.paused = Some(paused);
                        want_claim = true;
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        // A pause or resume may be among what was missed.
                        self.paused = None;
                        want_claim = true;
                    }
                    Err(RecvError::Closed) => changes_open = false,
                },
                changed = config.changed(), if config_open => {
                    if changed.is_err() {
                        config_open = false;
                    }
                    let now = self.settings().1;
                    if now != lease {
                        lease = now;
                        heartbeat = tokio::time::interval(lease / 3);
                        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    }
                    want_claim = true;
                }
                () = tokio::time::sleep_until(wake_at) => want_claim = true,
                _ = heartbeat.tick(), if !self.running.is_empty() => self.renew_leases().await,
            }
        }

        self.drain().await;
    }

    /// Frees the slot of a job whose task ended.
    fn reap(&mut self, done: Result<i64, JoinError>) {
        match done {
            Ok(job_id) => {
                self.running.remove(&job_id);
            }
            Err(error) => tracing::error!(%error, "a job task failed"),
        }
    }

    /// Whether the queue is in the configuration in force.
    fn is_configured(&self) -> bool {
        self.services
            .config
            .borrow()
            .queues
            .contains_key(&self.queue)
    }

    /// `(concurrency, lease, global_concurrency)` as configured now.
    fn settings(&self) -> (u32, Duration, Option<u32>) {
        let config = self.services.config.borrow();
        config.queues.get(&self.queue).map_or_else(
            || {
                let defaults = crate::config::QueueConfig::defaults(&self.queue);
                (
                    defaults.concurrency,
                    defaults.lease,
                    defaults.global_concurrency,
                )
            },
            |q| (q.concurrency, q.lease, q.global_concurrency),
        )
    }

    /// Claims up to the free slots and starts each job. Returns the next `run_at` the
    /// store reported, or `Err` when the claim failed (already logged).
    async fn claim(&mut self) -> Result<Option<i64>, ()> {
        if self.is_paused().await? {
            return Ok(None);
        }
        let (concurrency, lease, global_concurrency) = self.settings();
        let free =
            concurrency.saturating_sub(u32::try_from(self.running.len()).unwrap_or(u32::MAX));
        if free == 0 {
            return Ok(None);
        }
        let now = clock::now_millis();
        let claim = JobClaim {
            queue: self.queue.clone(),
            limit: free,
            max_running: global_concurrency,
            now,
            lease_until: now.saturating_add(clock::millis(lease)),
            node: self.services.node.clone(),
        };
        let batch = match self.services.store.job_claim(claim).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, "claim failed");
                return Err(());
            }
        };
        for claimed in batch.jobs {
            let job_id = claimed.job.id;
            self.running.insert(job_id, claimed.job.attempts);
            let services = self.services.clone();
            let http = Arc::clone(&self.http);
            self.tasks.spawn(async move {
                executor::execute(services, &http, claimed).await;
                job_id
            });
        }
        Ok(batch.next_run_at)
    }

    /// Whether the queue is paused, reading the store only when the flag is not known.
    /// `Err` when the store could not say (already logged).
    async fn is_paused(&mut self) -> Result<bool, ()> {
        if let Some(paused) = self.paused {
            return Ok(paused);
        }
        match self.services.store.queue_paused().await {
            Ok(queues) => {
                let paused = queues.contains(&self.queue);
                if paused {
                    tracing::info!("queue is paused; claiming nothing until it is resumed");
                }
                self.paused = Some(paused);
                Ok(paused)
            }
            Err(error) => {
                tracing::warn!(%error, "could not read whether the queue is paused");
                Err(())
            }
        }
    }

    /// `(job id, attempt)` of every job this pool runs, as leases and releases name them.
    fn held(&self) -> Vec<(i64, u32)> {
        self.running
            .iter()
            .map(|(&id, &attempt)| (id, attempt))
            .collect()
    }

    async fn renew_leases(&self) {
        let lease = self.settings().1;
        let extend = JobLeaseExtend {
            jobs: self.held(),
            node: self.services.node.clone(),
            lease_until: clock::now_millis().saturating_add(clock::millis(lease)),
        };
        if let Err(error) = self.services.store.job_lease_extend(extend).await {
            tracing::warn!(%error, "leases could not be renewed");
        }
    }

    /// Waits up to the shutdown grace for running jobs, then releases what is left.
    async fn drain(mut self) {
        let grace = self.services.config.borrow().server.shutdown_grace;
        let deadline = Instant::now() + grace;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(done)) => self.reap(done),
                Ok(None) | Err(_) => break,
            }
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        if self.running.is_empty() {
            return;
        }
        let release = JobRelease {
            jobs: self.held(),
            node: self.services.node.clone(),
            now: clock::now_millis(),
        };
        match self.services.store.job_release(release).await {
            Ok(released) => tracing::info!(released, "unfinished jobs released for the next start"),
            Err(error) => {
                tracing::error!(%error, "unfinished jobs could not be released; they return when their leases expire");
            }
        }
    }
}

/// The tokio instant of a wall-clock time in unix milliseconds.
fn instant_at(at: i64) -> Instant {
    let wait = at.saturating_sub(clock::now_millis()).max(0);
    Instant::now() + Duration::from_millis(u64::try_from(wait).unwrap_or(0))
}
