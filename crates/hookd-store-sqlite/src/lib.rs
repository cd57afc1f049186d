//! hookd's embedded store: SQLite in WAL mode behind one group-committing writer.
//!
//! [`SqliteStore`] implements [`hookd_store::Store`] on one database file,
//! `hookd.db`, inside the data directory. It is the default backend: no service to run,
//! and every acknowledged write is on disk.
//!
//! # Design
//!
//! - **One writer.** A dedicated OS thread owns the only write connection and takes
//!   commands over a channel (`writer`). Every write goes through it: inserts, claims
//!   (which update), lease renewals, completions, rescues, releases, API keys. A
//!   single writer means no `SQLITE_BUSY` between our own writes and no row locks: a
//!   claim picks and updates its jobs with nothing else in between.
//! - **Group commit.** The thread takes every command already queued (up to
//!   `MAX_BATCH`) into one transaction, gives each its own savepoint so a failing command
//!   fails alone, commits once and only then answers. One fsync serves the whole group;
//!   under load groups grow, so throughput grows while latency stays one commit.
//! - **Durability.** WAL journal with `synchronous=FULL`: a commit returns after the WAL
//!   is fsynced, so an answered write survives `kill -9` and power loss. Changes
//!   ([`StoreChange::JobsReady`](hookd_store::StoreChange)) are published after the commit.
//! - **Reads** (`event_get`, `job_get`, lists, API key lookups) run on read-only
//!   connections from a small pool on tokio's blocking threads; WAL lets them read
//!   the last commit while the writer writes, so reads never wait for a group.
//! - **Schema** changes are numbered migrations under `migrations/`, embedded and
//!   applied in order when the store opens (`schema`).
//!
//! The store reads no clock but one: every time comes from the caller, except when an
//! event was committed (`Event::committed_at`), which the writer thread stamps from the
//! wall clock it reads once per group commit.
#![deny(missing_docs)]

mod api_keys;
mod claim;
mod complete;
mod config_objects; // configuration objects
mod connection;
mod dead; // dead letters and audit
mod error;
mod event_list;
mod events;
mod jobs;
mod lease;
mod prune; // retention
mod queues; // queues: depth by state, pause and resume
mod read;
mod replay;
mod schema;
mod stats; // stats rollups
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use hookd_store::{
    ApiKey, Attempt, ClaimBatch, CommitStats, Event, EventListParams, EventSummary, InsertOutcome,
    Job, JobClaim, JobCompletion, JobLeaseExtend, JobRelease, JobRescue, Millis, NewApiKey,
    NewEvent, RescuedJob, Store, StoreChange, StoreError,
};
use hookd_store::{EventPrune, PruneCount};
// Queues: depth by state, pause and resume.
use hookd_store::QueueStats;
// Dead letters and audit.
use hookd_store::{AuditEntry, AuditRecord, DeadFilter, JobRetry};
use hookd_store::{ConfigObject, JobReplay, StatsCompact, StatsDelta, StatsQuery, StatsRow};
use tokio::sync::broadcast;

use crate::error::SqliteResultExt;
use crate::read::Readers;
use crate::writer::Writer;

/// The file inside the data directory that holds the database.
pub const DATABASE_FILE: &str = "hookd.db";

/// Changes a subscriber may fall behind by before it sees `Lagged`.
const CHANGE_FEED_CAPACITY: usize = 1024;

/// The embedded store: one SQLite database in a data directory.
///
/// Open it with [`SqliteStore::open`], share it as `Arc<dyn Store>`, and call
/// [`Store::close`] on shutdown so that queued writes finish. Dropping it without
/// closing does not wait: the writer thread finishes what is queued and exits by itself.
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Arc<Readers>,
    changes: broadcast::Sender<StoreChange>,
    closed: AtomicBool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the store in `dir`, creating the directory and the database file
    /// ([`DATABASE_FILE`]) when missing, applies the migrations this database has not
    /// seen, and starts the writer thread.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the directory or file cannot be created or
    /// opened; [`StoreError::Backend`] when a migration fails or the database was
    /// written by a newer hookd.
    pub async fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir))
            .await
            .map_err(|err| StoreError::Backend {
                context: "opening the store",
                source: Box::new(err),
            })?
    }

    fn open_blocking(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|err| StoreError::Unavailable {
            context: "creating the data directory",
            source: Box::new(err),
        })?;
        let path = dir.join(DATABASE_FILE);
        let mut conn = connection::open_writer(&path)?;
        let applied = schema::migrate(&mut conn)?;
        if !applied.is_empty() {
            tracing::info!(path = %path.display(), ?applied, "applied store migrations");
        }
        let (changes, _) = broadcast::channel(CHANGE_FEED_CAPACITY);
        let writer = Writer::start(conn, &path, changes.clone())?;
        Ok(SqliteStore {
            readers: Arc::new(Readers::new(path.clone())),
            path,
            writer,
            changes,
            closed: AtomicBool::new(false),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads `PRAGMA synchronous` on the writer's connection: 2 (`FULL`) means every
    /// commit is fsynced before it is acknowledged.
    ///
    /// # Errors
    ///
    /// As any write: [`StoreError::Closed`] after close, the driver's error otherwise.
    pub async fn synchronous_pragma(&self) -> Result<i64, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(|conn, _| {
                conn.query_row("PRAGMA synchronous", [], |row| row.get(0))
                    .ctx("reading PRAGMA synchronous")
            })
            .await
    }

    fn ensure_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    async fn event_insert_with_jobs(
        &self,
        events: Vec<NewEvent>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, changes| crate::events::insert_with_jobs(conn, events, changes))
            .await
    }

    async fn event_get(&self, id: &str) -> Result<Option<Event>, StoreError> {
        self.ensure_open()?;
        let id = id.to_owned();
        self.readers.run(move |conn| events::get(conn, &id)).await
    }

    async fn job_get(&self, id: i64) -> Result<Option<Job>, StoreError> {
        self.ensure_open()?;
        self.readers.run(move |conn| jobs::get(conn, id)).await
    }

    async fn job_list_for_event(&self, event_id: &str) -> Result<Vec<Job>, StoreError> {
        self.ensure_open()?;
        let event_id = event_id.to_owned();
        self.readers
            .run(move |conn| jobs::list_for_event(conn, &event_id))
            .await
    }

    async fn attempt_list(&self, job_id: i64) -> Result<Vec<Attempt>, StoreError> {
        self.ensure_open()?;
        self.readers
            .run(move |conn| jobs::attempts(conn, job_id))
            .await
    }

    #[tracing::instrument(skip_all, fields(limit = params.limit))]
    async fn event_list(&self, params: EventListParams) -> Result<Vec<EventSummary>, StoreError> {
        self.ensure_open()?;
        self.readers
            .run(move |conn| event_list::list(conn, &params))
            .await
    }

    #[tracing::instrument(skip_all, fields(id = %key.key.id))]
    async fn api_key_insert(&self, key: NewApiKey) -> Result<(), StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| api_keys::insert(conn, &key))
            .await
    }

    async fn api_key_find(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.ensure_open()?;
        let token_hash = token_hash.to_owned();
        self.readers
            .run(move |conn| api_keys::find(conn, &token_hash))
            .await
    }

    async fn api_key_list(&self, tenant: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        self.ensure_open()?;
        let tenant = tenant.map(str::to_owned);
        self.readers
            .run(move |conn| api_keys::list(conn, tenant.as_deref()))
            .await
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn api_key_revoke(
        &self,
        id: &str,
        tenant: Option<&str>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        self.ensure_open()?;
        let id = id.to_owned();
        let tenant = tenant.map(str::to_owned);
        self.writer
            .run(move |conn, _| api_keys::revoke(conn, &id, tenant.as_deref(), now))
            .await
    }

    #[tracing::instrument(skip_all, fields(queue = %claim.queue, limit = claim.limit))]
    async fn job_claim(&self, claim: JobClaim) -> Result<ClaimBatch, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| crate::claim::claim(conn, &claim))
            .await
    }

    async fn job_lease_extend(&self, extend: JobLeaseExtend) -> Result<u64, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| lease::extend(conn, &extend))
            .await
    }

    #[tracing::instrument(skip_all, fields(completions = completions.len()))]
    async fn job_complete_many(
        &self,
        completions: Vec<JobCompletion>,
    ) -> Result<Vec<bool>, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, changes| complete::complete_many(conn, &completions, changes))
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn job_rescue_expired(&self, rescue: JobRescue) -> Result<Vec<RescuedJob>, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, changes| lease::rescue_expired(conn, &rescue, changes))
            .await
    }

    #[tracing::instrument(skip_all, fields(jobs = release.jobs.len()))]
    async fn job_release(&self, release: JobRelease) -> Result<u64, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, changes| lease::release(conn, &release, changes))
            .await
    }

    // ---- Retention ----
    #[tracing::instrument(skip_all, fields(limit = prune.limit))]
    async fn event_prune(&self, prune: EventPrune) -> Result<PruneCount, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| crate::prune::prune(conn, &prune))
            .await
    }
    // ---- end Retention ----

    // ---- Queues: depth by state, pause and resume ----
    async fn queue_stats(
        &self,
        now: Millis,
        finished_since: Millis,
    ) -> Result<Vec<QueueStats>, StoreError> {
        self.ensure_open()?;
        self.readers
            .run(move |conn| queues::stats(conn, now, finished_since))
            .await
    }

    #[tracing::instrument(skip_all, fields(queue = %queue, paused))]
    async fn queue_pause(&self, queue: &str, paused: bool) -> Result<bool, StoreError> {
        self.ensure_open()?;
        let name = queue.to_owned();
        let changed = self
            .writer
            .run(move |conn, _| queues::set_paused(conn, &name, paused))
            .await?;
        if changed {
            // `run` answers after the commit, so this is published after it too.
            let _ = self.changes.send(StoreChange::QueuePaused {
                queue: queue.to_owned(),
                paused,
            });
        }
        Ok(changed)
    }

    async fn queue_paused(&self) -> Result<Vec<String>, StoreError> {
        self.ensure_open()?;
        self.readers.run(queues::paused).await
    }
    // ---- end Queues ----

    // ---- Dead letters and audit ----
    #[tracing::instrument(skip_all, fields(limit = retry.limit))]
    async fn job_retry(&self, retry: JobRetry) -> Result<u64, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, changes| dead::retry(conn, &retry, changes))
            .await
    }

    async fn job_list_dead(
        &self,
        filter: DeadFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        self.ensure_open()?;
        self.readers
            .run(move |conn| dead::list(conn, &filter, before_id, limit))
            .await
    }

    async fn job_count_dead(&self, filter: DeadFilter) -> Result<Vec<(String, u64)>, StoreError> {
        self.ensure_open()?;
        self.readers
            .run(move |conn| dead::count(conn, &filter))
            .await
    }

    #[tracing::instrument(skip_all, fields(limit))]
    async fn job_purge_dead(
        &self,
        ids: Option<Vec<i64>>,
        filter: DeadFilter,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| dead::purge(conn, ids.as_deref(), &filter, limit))
            .await
    }

    #[tracing::instrument(skip_all, fields(action = %entry.action))]
    async fn audit_insert(&self, entry: AuditEntry) -> Result<i64, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| dead::audit_insert(conn, &entry))
            .await
    }

    async fn audit_list(
        &self,
        tenant: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.ensure_open()?;
        let tenant = tenant.map(str::to_owned);
        self.readers
            .run(move |conn| dead::audit_list(conn, tenant.as_deref(), before_id, limit))
            .await
    }
    // ---- end Dead letters and audit ----

    // ---- Replay ----
    #[tracing::instrument(skip_all, fields(event_id = %replay.event_id, jobs = replay.jobs.len()))]
    async fn job_insert_for_event(
        &self,
        replay: JobReplay,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, changes| replay::insert_for_event(conn, &replay, changes))
            .await
    }
    // ---- end Replay ----

    // ---- Stats rollups ----
    #[tracing::instrument(skip_all, fields(deltas = deltas.len()))]
    async fn stats_add(&self, deltas: Vec<StatsDelta>) -> Result<(), StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| stats::add(conn, deltas))
            .await
    }

    async fn stats_read(&self, query: StatsQuery) -> Result<Vec<StatsRow>, StoreError> {
        self.ensure_open()?;
        self.readers
            .run(move |conn| stats::read(conn, &query))
            .await
    }

    #[tracing::instrument(skip_all, fields(limit = compact.limit))]
    async fn stats_compact(&self, compact: StatsCompact) -> Result<u64, StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| stats::compact(conn, &compact))
            .await
    }
    // ---- end Stats rollups ----

    // ---- Configuration objects ----
    async fn config_object_list(&self) -> Result<Vec<ConfigObject>, StoreError> {
        self.ensure_open()?;
        self.readers.run(config_objects::list).await
    }

    #[tracing::instrument(skip_all, fields(kind = object.kind.as_str(), name = %object.name))]
    async fn config_object_put(&self, object: ConfigObject) -> Result<(), StoreError> {
        self.ensure_open()?;
        self.writer
            .run(move |conn, _| config_objects::put(conn, &object))
            .await?;
        // `run` answers after the commit, so this is published after it too.
        let _ = self.changes.send(StoreChange::ConfigChanged);
        Ok(())
    }
    // ---- end Configuration objects ----

    async fn ping(&self) -> Result<(), StoreError> {
        self.ensure_open()?;
        self.writer
            .run(|conn, _| {
                conn.query_row("SELECT 1", [], |_| Ok(()))
                    .ctx("pinging the writer")
            })
            .await
    }

    fn subscribe(&self) -> broadcast::Receiver<StoreChange> {
        self.changes.subscribe()
    }

    fn commit_stats(&self) -> CommitStats {
        self.writer.stats()
    }

    #[tracing::instrument(skip_all)]
    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.readers.close();
        self.writer.close().await;
    }
}
