//! hookd's shared store: PostgreSQL (15 or newer), for any number of hookd nodes working
//! one set of events and jobs.
//!
//! [`PostgresStore`] implements [`hookd_store::Store`] in one schema of one database.
#![deny(missing_docs)]

mod api_keys;
mod audit;
mod changes;
mod claim;
mod commits;
mod complete;
mod config_objects;
mod dead;
mod error;
mod event_list;
mod events;
mod group;
mod ingest;
mod jobs;
mod lease;
mod listener;
mod prune;
mod publish;
mod queues;
mod replay;
mod rows;
mod schema;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use hookd_store::*;
use tokio::sync::broadcast;
use tokio_postgres::GenericClient;

use crate::commits::CommitCounter;
use crate::error::{PgResultExt, from_pool, invalid};
use crate::group::GroupCommit;

/// How to reach the database, and in which schema the store lives.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database` (libpq URL or key=value form).
    pub url: String,
    /// The schema holding hookd's tables, created when missing (default `hookd`). Stores
    /// on different schemas of one database share nothing: not tables, not change
    /// notifications, not migration locks. Lower-case ASCII letters, digits and
    /// underscores, not starting with a digit, at most 49 bytes.
    pub schema: String,
    /// Connections in the pool (default 16).
    pub pool_size: usize,
    /// How long connecting may take before the store counts as unavailable (default 5 s).
    pub connect_timeout: std::time::Duration,
    /// How long one statement may run before the server cancels it (default 10 s), so
    /// that a silent network or a stuck lock never hangs a request.
    pub statement_timeout: std::time::Duration,
}

impl PostgresOptions {
    /// The options for `url` with every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: "hookd".to_owned(),
            pool_size: 16,
            connect_timeout: std::time::Duration::from_secs(5),
            statement_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// Changes a subscriber may fall behind by before it sees `Lagged`.
const CHANGE_FEED_CAPACITY: usize = 1024;

/// The longest schema name: its change channel (`hookd_changes.<schema>`) must fit
/// PostgreSQL's 63-byte identifiers.
const MAX_SCHEMA_LEN: usize = 49;

/// Whether `name` is a schema name the store accepts: lower-case ASCII letters, digits
/// and underscores, not starting with a digit, at most [`MAX_SCHEMA_LEN`] bytes. Such a
/// name means the same quoted or not, in `search_path` and in a channel name.
fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SCHEMA_LEN
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The connection settings for `options`: the URL's, with the connect timeout, and the
/// schema and statement timeout as session defaults (added to any options the URL sets).
///
/// The server is told to watch the session too: a transaction left idle for longer
/// than a statement may take is ended (hookd never waits on anything else inside one),
/// and the server's own TCP keep-alive matches ours. A node cut off mid-transaction
/// (a partition, a killed process whose socket lingers) thus frees its row and advisory
/// locks within about a minute instead of the system's default of hours, and the other
/// nodes' claims go on.
fn connection_config(options: &PostgresOptions) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config =
        options.url.parse().map_err(|err| StoreError::Backend {
            context: "reading the database URL",
            source: Box::new(err),
        })?;
    let session = format!(
        "-c search_path={} -c statement_timeout={timeout} \
         -c idle_in_transaction_session_timeout={timeout} \
         -c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} \
         -c tcp_keepalives_count={KEEPALIVE_RETRIES}",
        options.schema,
        timeout = options.statement_timeout.as_millis(),
        idle = KEEPALIVE_IDLE.as_secs(),
        interval = KEEPALIVE_INTERVAL.as_secs(),
    );
    let session = match config.get_options() {
        Some(own) if !own.trim().is_empty() => format!("{own} {session}"),
        _ => session,
    };
    config
        .options(session)
        .connect_timeout(options.connect_timeout)
        // A peer gone silent (a dropped network, a failed-over host) is noticed within
        // about a minute rather than the system's default of hours.
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES);
    Ok(config)
}

/// TCP keep-alive of every connection: first probe after this much silence…
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(30);
/// …then one probe this often…
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// …and the connection is dropped after this many unanswered ones.
const KEEPALIVE_RETRIES: u32 = 3;

/// The store on one schema of a PostgreSQL database.
///
/// Open it with [`PostgresStore::open`], share it as `Arc<dyn Store>`, and call
/// [`Store::close`] on shutdown so that queued ingest writes and completions finish.
// How operations use the store:
// Every operation takes a connection from the pool with `PostgresStore::client`
// (which also refuses once the store is closed), does its work in one transaction,
// announces what it changed to the other nodes from inside that transaction with
// `PostgresStore::announce`, counts the commit with `PostgresStore::record_commit`
// and, once committed, publishes the changes on the local feed with
// `PostgresStore::publish`. Jobs are written with `events::insert_jobs`, rows
// are read with `events::event_from_row` and `jobs::job_from_row`.
//
// The two writes the gateway makes most, `event_insert_with_jobs` and
// `job_complete_many`, instead queue their calls for a task each, which commits the
// calls queued together in one transaction (`group`).
pub struct PostgresStore {
    /// Connections for every statement; the listener keeps one of its own.
    pool: deadpool_postgres::Pool,
    /// The schema the store lives in.
    schema: String,
    /// The `LISTEN`/`NOTIFY` channel of the schema ([`changes::channel`]).
    channel: String,
    /// This store instance's id in its notifications, so that its listener skips its
    /// own changes (they are published locally right after the commit).
    origin: String,
    /// The local change feed behind [`Store::subscribe`].
    changes: broadcast::Sender<StoreChange>,
    /// Commits, the operations they carried, the largest group ([`Store::commit_stats`]).
    commits: std::sync::Arc<CommitCounter>,
    /// The group commit of `event_insert_with_jobs`.
    ingest: GroupCommit<ingest::Ingest>,
    /// The group commit of `job_complete_many`.
    completions: GroupCommit<complete::Completions>,
    /// The task bringing the other nodes' changes to the local feed.
    listener: listener::Listener,
    /// Set by [`Store::close`]; every later operation fails with [`StoreError::Closed`].
    closed: AtomicBool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("origin", &self.origin)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects, creates the schema when missing, and applies the migrations it has not
    /// seen, under an advisory lock keyed by the schema so that nodes starting together
    /// do not race. Starts the listener that brings other nodes' changes to
    /// [`Store::subscribe`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database cannot be reached in time,
    /// [`StoreError::Backend`] when the schema is newer than this build or a migration
    /// fails.
    pub async fn open(options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let schema = options.schema.clone();
        if !is_plain_identifier(&schema) {
            return Err(invalid(
                "opening the store",
                format!(
                    "schema name {schema:?} must be 1 to {MAX_SCHEMA_LEN} lower-case ASCII \
                     letters, digits or underscores, not starting with a digit"
                ),
            ));
        }
        if options.pool_size == 0 {
            return Err(invalid(
                "opening the store",
                "the pool needs at least one connection".to_owned(),
            ));
        }
        let config = connection_config(&options)?;
        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            // A request waits for a busy connection at most as long as one statement
            // may run; making or checking one is bounded like connecting.
            .wait_timeout(Some(options.statement_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|err| StoreError::Backend {
                context: "building the connection pool",
                source: Box::new(err),
            })?;

        let mut client = pool
            .get()
            .await
            .map_err(|err| from_pool("connecting", err))?;
        let applied = schema::migrate(&mut client, &schema).await?;
        drop(client);
        if !applied.is_empty() {
            tracing::info!(%schema, ?applied, "applied store migrations");
        }

        let channel = changes::channel(&schema);
        let origin = ulid::Ulid::new().to_string();
        let (feed, _) = broadcast::channel(CHANGE_FEED_CAPACITY);
        let listener =
            listener::Listener::start(config, channel.clone(), origin.clone(), feed.clone())
                .await?;
        let commits = std::sync::Arc::new(CommitCounter::default());
        let shared = std::sync::Arc::new(group::Shared {
            pool: pool.clone(),
            channel: channel.clone(),
            origin: origin.clone(),
            feed: feed.clone(),
        });
        let ingest = GroupCommit::start(
            ingest::Ingest::new(std::sync::Arc::clone(&shared)),
            std::sync::Arc::clone(&commits),
        );
        let completions = GroupCommit::start(
            complete::Completions::new(shared),
            std::sync::Arc::clone(&commits),
        );
        Ok(PostgresStore {
            pool,
            schema,
            channel,
            origin,
            changes: feed,
            commits,
            ingest,
            completions,
            listener,
            closed: AtomicBool::new(false),
        })
    }

    /// Fails with [`StoreError::Closed`] once the store is closed.
    fn ensure_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    /// A connection from the pool, for one operation.
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`] once the store is closed; [`StoreError::Unavailable`] when
    /// no connection could be had before the pool's timeouts.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.ensure_open()?;
        match self.pool.get().await {
            Ok(client) => Ok(client),
            Err(deadpool_postgres::PoolError::Closed) => Err(StoreError::Closed),
            Err(err) => Err(from_pool("getting a connection", err)),
        }
    }

    /// Announces `change` to the other nodes from inside the caller's transaction: it
    /// reaches them when, and only if, the transaction commits.
    pub(crate) async fn announce(
        &self,
        client: &impl GenericClient,
        change: &StoreChange,
    ) -> Result<(), StoreError> {
        changes::notify(client, &self.channel, &self.origin, change).await
    }

    /// Publishes committed changes on the local feed. Call it after the commit (the
    /// transaction announced them to the other nodes with [`PostgresStore::announce`]).
    pub(crate) fn publish(&self, changes: impl IntoIterator<Item = StoreChange>) {
        for change in changes {
            // No subscriber is fine: nobody is waiting.
            let _ = self.changes.send(change);
        }
    }

    /// Counts one committed transaction that carried `operations` operations.
    pub(crate) fn record_commit(&self, operations: usize) {
        self.commits.record(operations);
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn event_insert_with_jobs(
        &self,
        events: Vec<NewEvent>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        self.ensure_open()?;
        self.ingest.call(events).await
    }

    async fn event_get(&self, id: &str) -> Result<Option<Event>, StoreError> {
        let client = self.client().await?;
        events::get_event(&**client, id).await
    }

    async fn job_get(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let client = self.client().await?;
        jobs::get_job(&**client, id).await
    }

    async fn job_list_for_event(&self, event_id: &str) -> Result<Vec<Job>, StoreError> {
        let client = self.client().await?;
        jobs::list_for_event(&**client, event_id).await
    }

    async fn attempt_list(&self, job_id: i64) -> Result<Vec<Attempt>, StoreError> {
        let client = self.client().await?;
        jobs::attempts(&**client, job_id).await
    }

    async fn event_list(&self, params: EventListParams) -> Result<Vec<EventSummary>, StoreError> {
        let client = self.client().await?;
        event_list::list(&**client, &params).await
    }

    async fn api_key_insert(&self, key: NewApiKey) -> Result<(), StoreError> {
        let client = self.client().await?;
        api_keys::insert(&**client, &key).await?;
        self.record_commit(1);
        Ok(())
    }

    async fn api_key_find(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let client = self.client().await?;
        api_keys::find(&**client, token_hash).await
    }

    async fn api_key_list(&self, tenant: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let client = self.client().await?;
        api_keys::list(&**client, tenant).await
    }

    async fn api_key_revoke(
        &self,
        id: &str,
        tenant: Option<&str>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let revoked = api_keys::revoke(&**client, id, tenant, now).await?;
        self.record_commit(1);
        Ok(revoked)
    }

    async fn job_claim(&self, claim: JobClaim) -> Result<ClaimBatch, StoreError> {
        claim::claim(self, &claim).await
    }

    async fn job_lease_extend(&self, extend: JobLeaseExtend) -> Result<u64, StoreError> {
        lease::extend(self, &extend).await
    }

    async fn job_complete_many(
        &self,
        completions: Vec<JobCompletion>,
    ) -> Result<Vec<bool>, StoreError> {
        self.ensure_open()?;
        if completions.is_empty() {
            return Ok(Vec::new());
        }
        self.completions.call(completions).await
    }

    async fn job_rescue_expired(&self, rescue: JobRescue) -> Result<Vec<RescuedJob>, StoreError> {
        lease::rescue_expired(self, &rescue).await
    }

    async fn job_release(&self, release: JobRelease) -> Result<u64, StoreError> {
        lease::release(self, &release).await
    }

    async fn event_prune(&self, prune: EventPrune) -> Result<PruneCount, StoreError> {
        prune::prune(self, &prune).await
    }

    async fn queue_stats(
        &self,
        now: Millis,
        finished_since: Millis,
    ) -> Result<Vec<QueueStats>, StoreError> {
        queues::stats(self, now, finished_since).await
    }

    async fn queue_pause(&self, queue: &str, paused: bool) -> Result<bool, StoreError> {
        queues::set_paused(self, queue, paused).await
    }

    async fn queue_paused(&self) -> Result<Vec<String>, StoreError> {
        queues::paused(self).await
    }

    async fn job_retry(&self, retry: JobRetry) -> Result<u64, StoreError> {
        dead::retry(self, &retry).await
    }

    async fn job_list_dead(
        &self,
        filter: DeadFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        dead::list(self, &filter, before_id, limit).await
    }

    async fn job_count_dead(&self, filter: DeadFilter) -> Result<Vec<(String, u64)>, StoreError> {
        dead::count(self, &filter).await
    }

    async fn job_purge_dead(
        &self,
        ids: Option<Vec<i64>>,
        filter: DeadFilter,
        limit: u32,
    ) -> Result<u64, StoreError> {
        dead::purge(self, ids.as_ref(), &filter, limit).await
    }

    async fn audit_insert(&self, entry: AuditEntry) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let id = audit::insert(&**client, &entry).await?;
        self.record_commit(1);
        Ok(id)
    }

    async fn audit_list(
        &self,
        tenant: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let client = self.client().await?;
        audit::list(&**client, tenant, before_id, limit).await
    }

    async fn job_insert_for_event(
        &self,
        replay: JobReplay,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        replay::insert_for_event(self, &replay).await
    }

    async fn stats_add(&self, deltas: Vec<StatsDelta>) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding to stats rollups";
        let mut client = self.client().await?;
        let tx = client.transaction().await.ctx(CONTEXT)?;
        stats::add(&*tx, deltas).await?;
        tx.commit().await.ctx(CONTEXT)?;
        self.record_commit(1);
        Ok(())
    }

    async fn stats_read(&self, query: StatsQuery) -> Result<Vec<StatsRow>, StoreError> {
        let client = self.client().await?;
        stats::read(&**client, &query).await
    }

    async fn stats_compact(&self, compact: StatsCompact) -> Result<u64, StoreError> {
        const CONTEXT: &str = "compacting stats rollups";
        let mut client = self.client().await?;
        let tx = client.transaction().await.ctx(CONTEXT)?;
        let compacted = stats::compact(&*tx, &compact).await?;
        tx.commit().await.ctx(CONTEXT)?;
        self.record_commit(1);
        Ok(compacted)
    }

    async fn config_object_list(&self) -> Result<Vec<ConfigObject>, StoreError> {
        let client = self.client().await?;
        config_objects::list(&**client).await
    }

    async fn config_object_put(&self, object: ConfigObject) -> Result<(), StoreError> {
        const CONTEXT: &str = "storing a configuration object";
        let mut client = self.client().await?;
        let tx = client.transaction().await.ctx(CONTEXT)?;
        config_objects::put(&*tx, &object).await?;
        self.announce(&*tx, &StoreChange::ConfigChanged).await?;
        tx.commit().await.ctx(CONTEXT)?;
        self.record_commit(1);
        self.publish([StoreChange::ConfigChanged]);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT pg_is_in_recovery() AS standby", &[])
            .await
            .ctx("pinging the database")?;
        if rows::get::<bool>(&row, "standby")? {
            return Err(StoreError::Unavailable {
                context: "pinging the database",
                source: "the database is a read-only standby".into(),
            });
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<StoreChange> {
        self.changes.subscribe()
    }

    fn commit_stats(&self) -> CommitStats {
        self.commits.snapshot()
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ingest.close().await;
        self.completions.close().await;
        self.listener.close().await;
        self.pool.close();
    }
}
