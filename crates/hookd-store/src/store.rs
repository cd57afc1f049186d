//! The [`Store`] trait and the parameters of its operations.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::error::StoreError;
use crate::records::{
    ApiKey, Attempt, AttemptRecord, ClaimedJob, Event, EventStatus, EventSummary, InsertOutcome,
    Job, Millis, NewApiKey, NewEvent, NewJob,
};
use crate::stats::{StatsCompact, StatsDelta, StatsQuery, StatsRow};

/// Which events to list, newest first, one page at a time.
///
/// Pages follow the id (ids grow with time), so a page asked for with the last id of the
/// previous one as `before_id` never repeats or skips an event, however many arrive
/// meanwhile: new events only ever come before the first page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventListParams {
    /// Only this tenant's events; `None` for every tenant (admin).
    pub tenant: Option<String>,
    /// Only events of this source.
    pub source: Option<String>,
    /// Only events of this type (exact).
    pub event_type: Option<String>,
    /// Only events in this status.
    pub status: Option<EventStatus>,
    /// Only events received at or after this time.
    pub received_from: Option<Millis>,
    /// Only events received before this time.
    pub received_until: Option<Millis>,
    /// Only events whose id starts with this text.
    pub id_prefix: Option<String>,
    /// The cursor: only events with an id lower than this one.
    pub before_id: Option<String>,
    /// At most this many events.
    pub limit: u32,
}

/// Claim jobs of one queue for a worker pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobClaim {
    /// The queue to claim from.
    pub queue: String,
    /// At most this many jobs: the pool's free slots.
    pub limit: u32,
    /// The queue's cap on running jobs across every node sharing the store; `None` for
    /// no cap. A claim hands out at most `max_running` minus the queue's jobs already
    /// `running` (on any node, this one included), never more than `limit`, and nothing
    /// once the cap is reached. The count and the claim are one step: concurrent claims
    /// of the queue, on one node or several, never exceed the cap together.
    pub max_running: Option<u32>,
    /// The caller's clock; jobs with `run_at <= now` are due.
    pub now: Millis,
    /// The lease the claimed jobs get; renewed with [`Store::job_lease_extend`].
    pub lease_until: Millis,
    /// The claiming node, recorded as the lease owner.
    pub node: String,
}

/// What a claim returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimBatch {
    /// The claimed jobs, now `running`, in the order they should start.
    pub jobs: Vec<ClaimedJob>,
    /// The earliest `run_at` after `now` of a job of this queue that is waiting for its
    /// time (`scheduled` or `retrying`), so the pool can sleep until then.
    pub next_run_at: Option<Millis>,
}

/// Renew the leases of running jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLeaseExtend {
    /// `(job id, attempt number)` of each job the caller is running.
    pub jobs: Vec<(i64, u32)>,
    /// The node that holds them.
    pub node: String,
    /// The new end of the lease.
    pub lease_until: Millis,
}

/// The end of one attempt: the job's new state and the attempt's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCompletion {
    /// The job.
    pub job_id: i64,
    /// The attempt number the claim handed out; a completion for an attempt that is no
    /// longer the job's current one (its lease expired and it was rescued) is ignored.
    pub attempt: u32,
    /// The node that ran it.
    pub node: String,
    /// What happens to the job.
    pub outcome: JobOutcome,
    /// What the worker observed.
    pub record: AttemptRecord,
}

/// What happens to a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The target accepted it: `succeeded`.
    Succeeded,
    /// It failed and runs again at `run_at`: `retrying`.
    Retry {
        /// When to try again.
        run_at: Millis,
    },
    /// It failed for good: `dead`.
    Dead,
}

/// Bring back running jobs whose lease has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRescue {
    /// Leases that ended before this are expired.
    pub now: Millis,
    /// The current `max_attempts` of each queue; a rescued job that has used them all
    /// goes `dead` instead of `retrying`.
    pub max_attempts: HashMap<String, u32>,
    /// The limit for a queue missing from `max_attempts`.
    pub default_max_attempts: u32,
    /// At most this many jobs per call.
    pub limit: u32,
}

/// A job the rescuer brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RescuedJob {
    /// The job.
    pub job_id: i64,
    /// Its queue.
    pub queue: String,
    /// The node whose lease expired.
    pub lost_by: String,
    /// True when it had no attempts left and went `dead`.
    pub dead: bool,
}

/// Give back running jobs that never finished (graceful shutdown): they become `ready`
/// at once and the interrupted attempt does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRelease {
    /// `(job id, attempt number)` of each job to give back.
    pub jobs: Vec<(i64, u32)>,
    /// The node that holds them.
    pub node: String,
    /// The caller's clock.
    pub now: Millis,
}

/// A change other parts of the gateway may react to, published after it is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreChange {
    /// Jobs of this queue became ready (inserted, rescued, released).
    JobsReady {
        /// The queue.
        queue: String,
    },
    // ---- Queues: pause and resume ----
    /// A queue was paused or resumed ([`Store::queue_pause`]).
    QueuePaused {
        /// The queue.
        queue: String,
        /// True when it is paused now.
        paused: bool,
    },
    /// A configuration object was created, changed or deleted
    /// ([`Store::config_object_put`]); the configuration in force should be rebuilt.
    ConfigChanged,
}

// ---- Queues: depth by state, pause and resume ----

/// How many jobs of one queue are in each state, as [`Store::queue_stats`] counts them.
///
/// Waiting jobs (`scheduled`, `ready`, `retrying`) whose `run_at` has come count as
/// `ready`: they are due and wait only for a free slot. `scheduled` and `retrying` count
/// the jobs still waiting for their time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Jobs waiting for a future `run_at` (first attempt).
    pub scheduled: u64,
    /// Jobs due and waiting for a slot.
    pub ready: u64,
    /// Jobs running under a lease.
    pub running: u64,
    /// Jobs waiting for a future `run_at` after a failed attempt.
    pub retrying: u64,
    /// Jobs that succeeded (and are not yet pruned).
    pub succeeded: u64,
    /// Jobs that failed for good (and are not yet pruned).
    pub dead: u64,
    /// `now` minus the earliest `run_at` of the due jobs; `None` when none is due.
    pub oldest_ready_age_ms: Option<Millis>,
    /// Jobs that ended (`succeeded` or `dead`) at or after `finished_since`.
    pub finished_recently: u64,
}

/// How the store has grouped its commits since it opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed.
    pub commits: u64,
    /// Operations carried by those transactions.
    pub operations: u64,
    /// The most operations one transaction carried.
    pub largest_batch: u64,
}

// ---- Retention ---------------------------------------------------------------------

/// Delete old, finished events (with their jobs and attempts) and expired dedup keys:
/// one bounded batch of the retention duty.
///
/// An event's age is taken from when it finished: the latest `updated_at` of its jobs
/// (the last completion), or `received_at` for an unrouted event (it has no jobs).
/// Only events received before the cut-off are looked at, so the walk uses the
/// `received_at` order; an event with any `scheduled`, `ready`, `running` or
/// `retrying` job is never deleted, however old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPrune {
    /// Events whose every job succeeded (or that are unrouted) and that finished before
    /// this are deleted.
    pub succeeded_before: Millis,
    /// Events whose jobs are all final, at least one `dead`, and that finished before
    /// this are deleted.
    pub dead_before: Millis,
    /// Dedup keys stored before this are deleted: pass `now` minus the longest dedup
    /// window of any source, so that a key is kept as long as a repeat of it could still
    /// be a duplicate. Keys outlive their events until then.
    pub dedup_before: Millis,
    /// At most this many events, and at most this many dedup keys, per call.
    pub limit: u32,
}

/// What one [`Store::event_prune`] call deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCount {
    /// Events deleted, each with its jobs and their attempts.
    pub events: u64,
    /// Expired dedup keys deleted.
    pub dedup_keys: u64,
}

// ---- end Retention -----------------------------------------------------------------

// ---- Dead letters and audit ---------------------------------------------------------

/// Which `dead` jobs a dead-letter operation concerns; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadFilter {
    /// Only jobs of this tenant; `None` for every tenant (admin of `*`).
    pub tenant: Option<String>,
    /// Only jobs of this queue.
    pub queue: Option<String>,
    /// Only jobs whose event came in on this source.
    pub source: Option<String>,
    /// Only jobs whose event has this type (exact).
    pub event_type: Option<String>,
}

/// Requeue dead jobs ([`Store::job_retry`]).
///
/// Only `dead` jobs move: running a `succeeded` job again is a replay, not a retry.
/// A retried job becomes `ready` with `run_at = now` and keeps its `attempts` count
/// and its attempt history: attempts are numbered per job and that number keys the
/// history, so the next attempt continues the numbering (as river's `JobRetry` does).
/// The dispatcher sends a job dead when a failed attempt has used `max_attempts`, so a
/// retried job gets one more try, and goes dead again if that fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobRetry {
    /// Only these jobs, when given (the filter applies too, so a tenant's call never
    /// touches another tenant's job).
    pub ids: Option<Vec<i64>>,
    /// Which dead jobs.
    pub filter: DeadFilter,
    /// The caller's clock: the new `run_at` and `updated_at`.
    pub now: Millis,
    /// At most this many jobs per call; a caller drains a backlog by calling again
    /// while the count equals `limit`.
    pub limit: u32,
}

/// One entry of the audit log: who did what, when, to how many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, unix milliseconds.
    pub at: Millis,
    /// Who: an API key id, a JWT subject.
    pub actor: String,
    /// The tenant the actor acted as (`*` for every tenant).
    pub tenant: String,
    /// What, as a stable dotted name (`dead.retry`).
    pub action: String,
    /// On what (`dead`, `job:42`).
    pub target: String,
    /// How many objects it changed.
    pub count: u64,
    /// The request's parameters, for people.
    pub detail: Option<String>,
}

/// A stored [`AuditEntry`] with its id (ids grow with time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The store's id; the cursor of [`Store::audit_list`].
    pub id: i64,
    /// The entry.
    pub entry: AuditEntry,
}

// ---- end Dead letters and audit -----------------------------------------------------

// ---- Replay ----------------------------------------------------------------------------

/// New jobs for a stored event ([`Store::job_insert_for_event`]): a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReplay {
    /// The event.
    pub event_id: String,
    /// Only when the event is of this tenant; `None` for every tenant (admin of `*`).
    pub tenant: Option<String>,
    /// The jobs, as routing (or the caller) made them; `run_at` is the caller's now
    /// plus any delay.
    pub jobs: Vec<NewJob>,
    /// The `webhook-id` the new jobs are forwarded with; `None` keeps the event's id.
    pub webhook_id: Option<String>,
}

// ---- Configuration objects -------------------------------------------------------------

/// The kinds of configuration object the API edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKind {
    /// `[sources.NAME]`.
    Source,
    /// `[[routes]]`, by `name`.
    Route,
    /// `[queues.NAME]`.
    Queue,
    /// `[destinations.NAME]`.
    Destination,
}

impl ConfigKind {
    /// The lower-case name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::Source => "source",
            ConfigKind::Route => "route",
            ConfigKind::Queue => "queue",
            ConfigKind::Destination => "destination",
        }
    }

    /// Reads [`ConfigKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "source" => Some(ConfigKind::Source),
            "route" => Some(ConfigKind::Route),
            "queue" => Some(ConfigKind::Queue),
            "destination" => Some(ConfigKind::Destination),
            _ => None,
        }
    }
}

/// A configuration object stored through the API: it wins over the file's object of the
/// same kind and name, on every node and across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigObject {
    /// What it configures.
    pub kind: ConfigKind,
    /// Its name (the table key; a route's `name`).
    pub name: String,
    /// The object as JSON text, with the keys of its TOML table; `None` when it was
    /// deleted, which also hides the file's object of that name.
    pub body: Option<String>,
    /// When it was last written.
    pub updated_at: Millis,
    /// Who wrote it (an API key id, a JWT subject).
    pub updated_by: String,
}

/// Whether a store can take durable writes now, as [`Store::readiness`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Writes are committed the usual way.
    Ready,
    /// Writes are still taken durably, but not the usual way: `reason` says how, for
    /// people (events spooled on local disk while the database cannot be reached).
    Degraded {
        /// What is different, in a sentence.
        reason: String,
    },
}

/// What a store's local spool holds and has done since the store opened
/// ([`Store::spool_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Events held in the spool now, waiting to be moved into the store.
    pub events: u64,
    /// Bytes those events take (their bodies, headers and fields).
    pub bytes: u64,
    /// The most bytes the spool may hold; beyond it, writes are refused.
    pub max_bytes: u64,
    /// Events taken into the spool since the store opened.
    pub spooled: u64,
    /// Events moved from the spool into the store since it opened.
    pub moved: u64,
    /// Spooled events dropped when moved because the store already held an event with
    /// their dedup key (a provider's retry that reached another node meanwhile).
    pub dropped_duplicates: u64,
}

/// Durable state of the gateway: events, jobs, attempts.
///
/// One method per operation, named noun_verb, each taking its parameters as a struct
/// where there are several.
///
/// # Invariants
///
/// - A write that returns `Ok` is durable: it survives a crash and, on backends that say
///   so, power loss.
/// - An event and its jobs are committed together or not at all.
/// - A claim never hands out a job whose earlier sibling under the same ordering key in
///   the same queue is `ready` (or due), `running` or `retrying`; `dead` and `succeeded`
///   siblings do not block. Among eligible jobs, claims take lower `priority` first, then
///   earlier `run_at`, then lower id.
/// - A running job is held by one lease; a completion or renewal from an attempt that is
///   not the job's current one changes nothing.
///
/// # Errors
///
/// Every method returns [`StoreError`]; an error means the operation did not take effect.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Commits each event with its jobs, or recognises it as a duplicate of an event on
    /// the same source whose dedup key was stored less than `dedup_window_ms` before
    /// `received_at`. Outcomes come back in the order of `events`; later events in the
    /// same call see earlier ones.
    async fn event_insert_with_jobs(
        &self,
        events: Vec<NewEvent>,
    ) -> Result<Vec<InsertOutcome>, StoreError>;

    /// Reads one event, body and headers included.
    async fn event_get(&self, id: &str) -> Result<Option<Event>, StoreError>;

    /// Reads one job.
    async fn job_get(&self, id: i64) -> Result<Option<Job>, StoreError>;

    /// Lists the jobs of an event, in id order.
    async fn job_list_for_event(&self, event_id: &str) -> Result<Vec<Job>, StoreError>;

    /// Lists the attempts of a job, first attempt first.
    async fn attempt_list(&self, job_id: i64) -> Result<Vec<Attempt>, StoreError>;

    /// Lists events matching `params`, newest (highest id) first, at most `limit`.
    async fn event_list(&self, params: EventListParams) -> Result<Vec<EventSummary>, StoreError>;

    /// Stores a new API key.
    async fn api_key_insert(&self, key: NewApiKey) -> Result<(), StoreError>;

    /// Finds the key whose token hashes to `token_hash`, revoked or not.
    async fn api_key_find(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError>;

    /// Lists the keys of one tenant (`None`: every tenant), oldest first.
    async fn api_key_list(&self, tenant: Option<&str>) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes the key `id` (of `tenant`, when given) at `now`; returns whether a key
    /// that was not yet revoked was found.
    async fn api_key_revoke(
        &self,
        id: &str,
        tenant: Option<&str>,
        now: Millis,
    ) -> Result<bool, StoreError>;

    /// Claims up to `limit` due jobs of one queue (fewer when `max_running` caps the
    /// queue's running jobs), moving them to `running` under a lease and counting the
    /// attempt.
    async fn job_claim(&self, claim: JobClaim) -> Result<ClaimBatch, StoreError>;

    /// Renews the leases of running jobs; returns how many were still held.
    async fn job_lease_extend(&self, extend: JobLeaseExtend) -> Result<u64, StoreError>;

    /// Records attempts and moves their jobs on. Returns, per completion, whether it was
    /// applied (false when the attempt was no longer the job's current one).
    async fn job_complete_many(
        &self,
        completions: Vec<JobCompletion>,
    ) -> Result<Vec<bool>, StoreError>;

    /// Brings back running jobs whose lease expired before `now`, recording a
    /// `lease_expired` attempt for each.
    async fn job_rescue_expired(&self, rescue: JobRescue) -> Result<Vec<RescuedJob>, StoreError>;

    /// Gives back running jobs without counting their attempt; returns how many.
    async fn job_release(&self, release: JobRelease) -> Result<u64, StoreError>;

    /// Retention: deletes at most `limit` old, finished events with their jobs and
    /// attempts, and at most `limit` expired dedup keys, in one transaction (see
    /// [`EventPrune`] for what counts as old and finished). Events with a pending job are
    /// never deleted. A caller drains a backlog by calling again while a count equals
    /// `limit`.
    async fn event_prune(&self, prune: EventPrune) -> Result<PruneCount, StoreError>;

    // ---- Queues: depth by state, pause and resume ----

    /// Counts the jobs of every queue that has any, by state, as of `now`, with the jobs
    /// that ended at or after `finished_since`; ordered by queue name. Queues without
    /// jobs are absent.
    async fn queue_stats(
        &self,
        now: Millis,
        finished_since: Millis,
    ) -> Result<Vec<QueueStats>, StoreError>;

    /// Pauses (`paused = true`) or resumes a queue, durably; returns whether that
    /// changed anything. Claims are the pools' business: the store records the flag and
    /// publishes [`StoreChange::QueuePaused`] after the commit when it changed. Any name
    /// is accepted: callers check it against the configuration.
    async fn queue_pause(&self, queue: &str, paused: bool) -> Result<bool, StoreError>;

    /// The queues paused now, by name.
    async fn queue_paused(&self) -> Result<Vec<String>, StoreError>;

    // ---- Dead letters and audit ----

    /// Moves `dead` jobs matching `retry` (at most `limit`, lowest id first) back to
    /// `ready` at `now` (see [`JobRetry`] for what is kept) and publishes
    /// [`StoreChange::JobsReady`] for their queues after the commit; returns how many
    /// moved. Jobs in any other state are left alone.
    async fn job_retry(&self, retry: JobRetry) -> Result<u64, StoreError>;

    /// Lists `dead` jobs matching `filter` with an id below `before_id` (when given),
    /// newest (highest id) first, at most `limit`.
    async fn job_list_dead(
        &self,
        filter: DeadFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;

    /// Counts the `dead` jobs matching `filter` per queue, ordered by queue name;
    /// queues without any are absent.
    async fn job_count_dead(&self, filter: DeadFilter) -> Result<Vec<(String, u64)>, StoreError>;

    /// Deletes at most `limit` `dead` jobs matching `filter` (or only those of `ids`
    /// among them, when given), with their attempts, in one transaction; returns how
    /// many. Their events stay.
    async fn job_purge_dead(
        &self,
        ids: Option<Vec<i64>>,
        filter: DeadFilter,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Appends an entry to the audit log; returns its id.
    async fn audit_insert(&self, entry: AuditEntry) -> Result<i64, StoreError>;

    /// Lists audit entries of `tenant` (`None`: every tenant) with an id below
    /// `before_id` (when given), newest first, at most `limit`.
    async fn audit_list(
        &self,
        tenant: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    // ---- end Dead letters and audit ----

    /// Adds jobs to a stored event (a replay), all in one transaction, and publishes
    /// [`StoreChange::JobsReady`] for their queues after the commit. Returns the new
    /// jobs' ids in the order given, or `None` when there is no such event (of that
    /// tenant). The event stops being `unrouted` once it has a job. The jobs are created
    /// when the store commits them, by its own clock as for [`Event::committed_at`]; one
    /// due after that starts `scheduled`.
    async fn job_insert_for_event(&self, replay: JobReplay)
    -> Result<Option<Vec<i64>>, StoreError>;

    /// Adds each delta's counts to the minute row of its scope, name and minute,
    /// creating the row when it is missing; all in one transaction.
    async fn stats_add(&self, deltas: Vec<StatsDelta>) -> Result<(), StoreError>;

    /// Sums, per name, the rows (of either resolution) of `query.scope` whose period
    /// starts within `[from, until)`; ordered by name. Names without rows are absent.
    async fn stats_read(&self, query: StatsQuery) -> Result<Vec<StatsRow>, StoreError>;

    /// Rollup upkeep: merges minute rows older than `minutes_before` into their hour's
    /// row and deletes hour rows older than `hours_before`, at most `limit` of each, in
    /// one transaction. Returns how many rows it compacted or deleted; a caller drains a
    /// backlog by calling again while that reaches `limit`.
    async fn stats_compact(&self, compact: StatsCompact) -> Result<u64, StoreError>;

    /// Every stored configuration object (deleted ones too), ordered by kind then name.
    async fn config_object_list(&self) -> Result<Vec<ConfigObject>, StoreError>;

    /// Creates or replaces the object of that kind and name, and publishes
    /// [`StoreChange::ConfigChanged`] after the commit.
    async fn config_object_put(&self, object: ConfigObject) -> Result<(), StoreError>;

    /// Succeeds when the store can take durable writes now.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Whether the store can take durable writes now, and whether the usual way: an
    /// error when it cannot. By default [`Readiness::Ready`] when [`Store::ping`]
    /// succeeds; a store that can take writes another way while its backend is
    /// unreachable (a local spool) says [`Readiness::Degraded`] then.
    async fn readiness(&self) -> Result<Readiness, StoreError> {
        self.ping().await.map(|()| Readiness::Ready)
    }

    /// What the store's local spool holds, for a store that has one; `None` (the
    /// default) for a store without.
    fn spool_stats(&self) -> Option<SpoolStats> {
        None
    }

    /// Subscribes to committed changes. A slow subscriber may miss changes and sees
    /// `Lagged`; it should then look at the store again.
    fn subscribe(&self) -> broadcast::Receiver<StoreChange>;

    /// How commits have been grouped so far.
    fn commit_stats(&self) -> CommitStats;

    /// Finishes pending writes and closes the store. Later calls fail with
    /// [`StoreError::Closed`]. Safe to call twice.
    async fn close(&self);
}
