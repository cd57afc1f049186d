//! The spool file: SQLite in WAL mode with `synchronous=FULL`, one table of events in
//! arrival order.
//!
//! # One writer
//!
//! One OS thread owns the file's only connection. [`Spool`]'s operations (appends, the
//! drain's reads and deletes) are commands sent to it over a channel and run in the
//! order they were sent: the drain's turn comes after the appends queued before it, so
//! no number of concurrent requests can starve it.
//!
//! # Group commit
//!
//! The thread blocks for the first command, then takes every further one already
//! queued (up to [`MAX_GROUP`]) and runs them all in one transaction, each under its own
//! `SAVEPOINT`: a command that fails (an append refused because the spool is full) is
//! rolled back and answered with its error alone, and later commands of the group see
//! the earlier ones (an append's dedup check finds the events appended before it). One
//! `COMMIT`, one fsync, then makes the group durable, and only then is any command of it
//! answered: N appends arriving together cost one fsync, and a read never hands out
//! events that are not durable. When `BEGIN`, a savepoint or `COMMIT` fails, every
//! command of the group fails with that error and nothing of it is kept.
//!
//! # Depth
//!
//! The thread keeps the depth (events and bytes held) and publishes it, with the
//! full/failing flags, in atomics after each commit and before the answers: a caller
//! that got its answer sees the depth its command left, and [`Spool::is_empty`] is one
//! atomic load on the hot path.
//!
//! # Shutdown
//!
//! [`Spool::close`] lets the thread run every command already queued, then stops it;
//! later commands fail with [`SpoolError::Closed`]. When the spool is dropped without
//! `close`, the channel's senders go away and the thread ends the same way on its own.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hookd_store::{InsertOutcome, NewEvent, NewJob, StoreError, Target};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// The most commands one transaction carries; keeps a commit's latency bounded when a
/// flood is queued.
const MAX_GROUP: usize = 512;

/// Commands that may wait in the queue before senders wait for room (back-pressure).
const QUEUE_CAPACITY: usize = 4 * MAX_GROUP;

/// How long a statement waits for a lock held by another connection to the file (an
/// operator's `sqlite3` shell) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, created when the file is new. `seq` is the arrival order the drain
/// follows; the index serves the spool's own dedup check.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spooled (
    seq               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL,
    tenant            TEXT    NOT NULL,
    source            TEXT    NOT NULL,
    event_type        TEXT    NOT NULL,
    provider_event_id TEXT,
    dedup_key         TEXT    NOT NULL,
    dedup_window_ms   INTEGER NOT NULL,
    occurred_at       INTEGER,
    received_at       INTEGER NOT NULL,
    headers           TEXT    NOT NULL,
    body              BLOB    NOT NULL,
    jobs              TEXT    NOT NULL,
    bytes             INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS spooled_dedup ON spooled (source, dedup_key, seq);
";

/// Why the spool refused or failed a command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpoolError {
    /// The events would take the spool past its limit.
    #[error("the spool is full: {held} of {max} bytes held, {wanted} more asked for")]
    Full {
        /// Bytes held now.
        held: u64,
        /// The limit.
        max: u64,
        /// Bytes the refused events take.
        wanted: u64,
    },
    /// The file would not switch to WAL mode (a file system without shared memory).
    #[error("the spool file refused WAL mode (journal_mode is {0:?})")]
    NotWal(String),
    /// The file could not be read or written.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A job list or header list could not be encoded or read back.
    #[error(transparent)]
    Encoding(#[from] serde_json::Error),
    /// The transaction of the command's group could not begin or commit; nothing of
    /// the group was kept.
    #[error("the spool's transaction failed while {context}: {message}")]
    Group {
        /// What the writer was doing.
        context: &'static str,
        /// SQLite's message.
        message: String,
    },
    /// The command panicked; it was rolled back.
    #[error("the spool's command panicked; it was rolled back")]
    Panicked,
    /// The spool was closed.
    #[error("the spool is closed")]
    Closed,
}

impl SpoolError {
    /// The store error callers see: [`StoreError::Closed`] once the spool was closed,
    /// else [`StoreError::Unavailable`] (the spool cannot take the events now: full, or
    /// its disk failing), which ingest answers with 503 and `Retry-After`.
    pub(crate) fn into_store(self, context: &'static str) -> StoreError {
        match self {
            Self::Closed => StoreError::Closed,
            error => StoreError::Unavailable {
                context,
                source: Box::new(error),
            },
        }
    }
}

/// An event read back from the spool, with its place in the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpooledEvent {
    /// Its position: the drain deletes up to the last `seq` of a batch it moved.
    pub(crate) seq: i64,
    /// The event as ingest handed it over.
    pub(crate) event: NewEvent,
}

/// A job as the spool encodes it (JSON in the `jobs` column).
#[derive(Serialize, Deserialize)]
struct SpooledJob {
    queue: String,
    priority: u8,
    run_at: i64,
    ordering_key: Option<String>,
    target: Target,
}

impl SpooledJob {
    fn of(job: &NewJob) -> Self {
        Self {
            queue: job.queue.clone(),
            priority: job.priority,
            run_at: job.run_at,
            ordering_key: job.ordering_key.clone(),
            target: job.target.clone(),
        }
    }

    fn into_job(self) -> NewJob {
        NewJob {
            queue: self.queue,
            priority: self.priority,
            run_at: self.run_at,
            ordering_key: self.ordering_key,
            target: self.target,
        }
    }
}

/// Depth and health, written by the writer thread after each commit and read lock-free.
#[derive(Debug, Default)]
struct Depth {
    /// Events held.
    events: AtomicU64,
    /// Bytes held.
    bytes: AtomicU64,
    /// Set when an append was refused for lack of room; cleared once the drain made room.
    full: AtomicBool,
    /// Set when an append failed; cleared by the next append that succeeds.
    failing: AtomicBool,
}

/// What a caller asks of the writer thread.
enum Command {
    /// Run one operation in the next group.
    Op(Op),
    /// Finish what is queued, then stop.
    Close(oneshot::Sender<()>),
}

/// One operation on the file, with where its answer goes.
enum Op {
    /// [`Spool::append`].
    Append {
        events: Vec<NewEvent>,
        reply: oneshot::Sender<Result<Vec<InsertOutcome>, SpoolError>>,
    },
    /// [`Spool::oldest`].
    Oldest {
        max_events: usize,
        max_bytes: u64,
        reply: oneshot::Sender<Result<Vec<SpooledEvent>, SpoolError>>,
    },
    /// [`Spool::remove_through`].
    RemoveThrough {
        last_seq: i64,
        reply: oneshot::Sender<Result<(), SpoolError>>,
    },
}

/// An operation that ran in the group's transaction, its answer held until the commit.
enum Done {
    Append {
        result: Result<Vec<InsertOutcome>, SpoolError>,
        reply: oneshot::Sender<Result<Vec<InsertOutcome>, SpoolError>>,
    },
    Oldest {
        result: Result<Vec<SpooledEvent>, SpoolError>,
        reply: oneshot::Sender<Result<Vec<SpooledEvent>, SpoolError>>,
    },
    RemoveThrough {
        result: Result<(), SpoolError>,
        reply: oneshot::Sender<Result<(), SpoolError>>,
    },
}

impl Done {
    fn is_ok(&self) -> bool {
        match self {
            Self::Append { result, .. } => result.is_ok(),
            Self::Oldest { result, .. } => result.is_ok(),
            Self::RemoveThrough { result, .. } => result.is_ok(),
        }
    }

    /// Updates the health flags for this answer, in the group's order, after a commit
    /// (`failed` is `None`) or a failed group.
    fn flag(&self, depth: &Depth, failed: Option<&GroupFailure>) {
        match (self, failed) {
            (Self::Append { .. }, Some(_)) => depth.failing.store(true, Ordering::Release),
            (Self::Append { result: Ok(_), .. }, None) => {
                depth.failing.store(false, Ordering::Release);
            }
            (
                Self::Append {
                    result: Err(SpoolError::Full { .. }),
                    ..
                },
                None,
            ) => depth.full.store(true, Ordering::Release),
            (Self::Append { result: Err(_), .. }, None) => {
                depth.failing.store(true, Ordering::Release);
            }
            (Self::RemoveThrough { result: Ok(()), .. }, None) => {
                depth.full.store(false, Ordering::Release);
            }
            _ => {}
        }
    }

    /// Sends the answer: the operation's own result, or the group's failure.
    fn send(self, failed: Option<&GroupFailure>) {
        // A caller may have given up waiting; its answer is then of no use.
        match self {
            Self::Append { result, reply } => drop(reply.send(decided(result, failed))),
            Self::Oldest { result, reply } => drop(reply.send(decided(result, failed))),
            Self::RemoveThrough { result, reply } => drop(reply.send(decided(result, failed))),
        }
    }
}

/// An operation's answer once its group is decided.
fn decided<T>(
    result: Result<T, SpoolError>,
    failed: Option<&GroupFailure>,
) -> Result<T, SpoolError> {
    match (failed, result) {
        (Some(failure), Ok(_)) => Err(failure.to_error()),
        (_, result) => result,
    }
}

/// Why a whole group was not committed. Kept as text so that each caller gets its own
/// error with the same cause.
struct GroupFailure {
    context: &'static str,
    message: String,
}

impl GroupFailure {
    fn new(context: &'static str, error: &rusqlite::Error) -> Self {
        Self {
            context,
            message: error.to_string(),
        }
    }

    fn to_error(&self) -> SpoolError {
        SpoolError::Group {
            context: self.context,
            message: self.message.clone(),
        }
    }
}

/// The spool: the handle to its writer thread, its depth, its limit.
pub(crate) struct Spool {
    commands: mpsc::Sender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
    depth: Arc<Depth>,
    /// The most bytes it may hold.
    max_bytes: u64,
}

impl Spool {
    /// Opens (creating when missing) the spool file at `path`, counts what it holds and
    /// starts the writer thread.
    pub(crate) async fn open(path: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let owned = path.to_owned();
        let opened = match tokio::task::spawn_blocking(move || open_file(&owned)).await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        let (conn, events, bytes) = opened?;
        let depth = Arc::new(Depth {
            events: AtomicU64::new(events),
            bytes: AtomicU64::new(bytes),
            ..Depth::default()
        });
        let (commands, queue) = mpsc::channel(QUEUE_CAPACITY);
        let writer = Writer {
            conn,
            events,
            bytes,
            max_bytes,
            depth: Arc::clone(&depth),
        };
        let span = tracing::debug_span!("spool_writer", path = %path.display());
        let thread = std::thread::Builder::new()
            .name("hookd-spool-writer".to_owned())
            .spawn(move || {
                let _entered = span.entered();
                writer.run(queue);
            })
            .map_err(|error| SpoolError::Group {
                context: "starting the writer thread",
                message: error.to_string(),
            })?;
        Ok(Self {
            commands,
            thread: Mutex::new(Some(thread)),
            depth,
            max_bytes,
        })
    }

    /// True when the spool holds no event. One atomic load.
    pub(crate) fn is_empty(&self) -> bool {
        self.events() == 0
    }

    /// Events held now.
    pub(crate) fn events(&self) -> u64 {
        self.depth.events.load(Ordering::Acquire)
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> u64 {
        self.depth.bytes.load(Ordering::Acquire)
    }

    /// The limit in bytes.
    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Why the spool cannot take writes now (its last append was refused as full, or
    /// failed), if so.
    pub(crate) fn refusal(&self) -> Option<&'static str> {
        if self.depth.failing.load(Ordering::Acquire) {
            Some("the spool on local disk cannot be written")
        } else if self.depth.full.load(Ordering::Acquire) {
            Some("the spool on local disk is full")
        } else {
            None
        }
    }

    /// Appends `events`, durable (fsynced) when this returns, after the spool's own
    /// dedup check: an event whose dedup key is held for the same source, less than its
    /// window before it, is a duplicate of the held one (events appended earlier, also
    /// by this call or in the same group, count too). All or nothing: when the new
    /// events do not fit under the limit, none is kept.
    pub(crate) async fn append(
        &self,
        events: Vec<NewEvent>,
    ) -> Result<Vec<InsertOutcome>, SpoolError> {
        self.request(|reply| Op::Append { events, reply }).await
    }

    /// The oldest events, in arrival order: at most `max_events`, and no more than
    /// `max_bytes` together unless the first alone is larger.
    pub(crate) async fn oldest(
        &self,
        max_events: usize,
        max_bytes: u64,
    ) -> Result<Vec<SpooledEvent>, SpoolError> {
        self.request(|reply| Op::Oldest {
            max_events,
            max_bytes,
            reply,
        })
        .await
    }

    /// Deletes every event up to `last_seq` (the last of a batch the drain moved),
    /// durable when this returns.
    pub(crate) async fn remove_through(&self, last_seq: i64) -> Result<(), SpoolError> {
        self.request(|reply| Op::RemoveThrough { last_seq, reply })
            .await
    }

    /// Lets the writer thread run every queued command, then stops it and waits for it
    /// to exit. Later commands fail with [`SpoolError::Closed`]. Safe to call twice.
    pub(crate) async fn close(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(thread) = thread else { return };
        let (done, stopped) = oneshot::channel();
        if self.commands.send(Command::Close(done)).await.is_ok() {
            // Either answer means the thread is past its last commit.
            let _ = stopped.await;
        }
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => tracing::error!("the spool's writer thread panicked"),
            Err(error) => tracing::warn!(%error, "could not wait for the spool's writer thread"),
        }
    }

    /// Queues the operation `op` builds around its reply and waits for its answer.
    async fn request<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, SpoolError>>) -> Op,
    ) -> Result<T, SpoolError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Op(op(reply)))
            .await
            .map_err(|_| SpoolError::Closed)?;
        // A dropped reply means the thread went away before answering.
        answer.await.map_err(|_| SpoolError::Closed)?
    }
}

/// The writer thread's state: the connection and the committed depth.
struct Writer {
    conn: Connection,
    /// Events held, as committed.
    events: u64,
    /// Bytes held, as committed.
    bytes: u64,
    max_bytes: u64,
    depth: Arc<Depth>,
}

/// The depth as a group's transaction has changed it so far, not yet committed.
#[derive(Clone, Copy)]
struct Pending {
    events: u64,
    bytes: u64,
}

impl Writer {
    /// One group per iteration until the channel is closed and empty.
    fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        let mut closing = Vec::new();
        while let Some(first) = queue.blocking_recv() {
            let mut group = Vec::new();
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Op(op) => group.push(op),
                    Command::Close(done) => {
                        // No new commands from here on; those already queued still run.
                        queue.close();
                        closing.push(done);
                    }
                }
                if group.len() < MAX_GROUP {
                    next = queue.try_recv().ok();
                }
            }
            if !group.is_empty() {
                self.commit_group(group);
            }
        }
        if let Err((_, error)) = self.conn.close() {
            tracing::warn!(%error, "closing the spool file failed");
        }
        for done in closing {
            let _ = done.send(());
        }
    }

    /// Runs one group in one transaction and answers every operation of it.
    fn commit_group(&mut self, group: Vec<Op>) {
        let started = Instant::now();
        let size = group.len();
        let mut done = Vec::with_capacity(size);
        let mut rejected = Vec::new();
        let mut pending = Pending {
            events: self.events,
            bytes: self.bytes,
        };
        let mut broken = self
            .conn
            .execute_batch("BEGIN IMMEDIATE")
            .err()
            .map(|error| GroupFailure::new("beginning a transaction", &error));
        for op in group {
            if broken.is_some() {
                // The transaction is in an unknown state; it is rolled back whole.
                rejected.push(op);
                continue;
            }
            if let Err(error) = self.conn.execute_batch("SAVEPOINT op") {
                broken = Some(GroupFailure::new("opening a savepoint", &error));
                rejected.push(op);
                continue;
            }
            let mut after = pending;
            let answer = self.execute(op, &mut after);
            let end = if answer.is_ok() {
                pending = after;
                self.conn.execute_batch("RELEASE op")
            } else {
                self.conn.execute_batch("ROLLBACK TO op; RELEASE op")
            };
            if let Err(error) = end {
                broken = Some(GroupFailure::new("closing a savepoint", &error));
            }
            done.push(answer);
        }
        let failure = broken.or_else(|| {
            self.conn
                .execute_batch("COMMIT")
                .err()
                .map(|error| GroupFailure::new("committing", &error))
        });
        match &failure {
            Some(failure) => {
                tracing::warn!(error = %failure.message, size, "spool group failed; rolled back");
                if !self.conn.is_autocommit()
                    && let Err(error) = self.conn.execute_batch("ROLLBACK")
                {
                    tracing::debug!(%error, "rolling back a failed spool group");
                }
            }
            None => {
                (self.events, self.bytes) = (pending.events, pending.bytes);
                self.depth.events.store(self.events, Ordering::Release);
                self.depth.bytes.store(self.bytes, Ordering::Release);
                tracing::trace!(
                    size,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "spool group committed"
                );
            }
        }
        for answer in &done {
            answer.flag(&self.depth, failure.as_ref());
        }
        for answer in done {
            answer.send(failure.as_ref());
        }
        if let Some(failure) = &failure {
            for op in rejected {
                reject(op, failure);
            }
        }
    }

    /// Runs `op` inside the group's transaction (under its savepoint), counting what it
    /// changes in `pending`. A panic is caught and answered as [`SpoolError::Panicked`].
    fn execute(&self, op: Op, pending: &mut Pending) -> Done {
        let conn = &self.conn;
        match op {
            Op::Append { events, reply } => Done::Append {
                result: guarded(|| append(conn, &events, pending, self.max_bytes)),
                reply,
            },
            Op::Oldest {
                max_events,
                max_bytes,
                reply,
            } => Done::Oldest {
                result: guarded(|| read_oldest(conn, max_events, max_bytes)),
                reply,
            },
            Op::RemoveThrough { last_seq, reply } => Done::RemoveThrough {
                result: guarded(|| remove_through(conn, last_seq, pending)),
                reply,
            },
        }
    }
}

/// Answers `op` with the group's failure without running it.
fn reject(op: Op, failure: &GroupFailure) {
    match op {
        Op::Append { reply, .. } => drop(reply.send(Err(failure.to_error()))),
        Op::Oldest { reply, .. } => drop(reply.send(Err(failure.to_error()))),
        Op::RemoveThrough { reply, .. } => drop(reply.send(Err(failure.to_error()))),
    }
}

/// Runs `work`, turning a panic into [`SpoolError::Panicked`]; its savepoint is then
/// rolled back.
fn guarded<T>(work: impl FnOnce() -> Result<T, SpoolError>) -> Result<T, SpoolError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or(Err(SpoolError::Panicked))
}

/// Inserts what is not a duplicate, unless it does not fit under `max_bytes`; counts
/// the added events in `pending`.
fn append(
    conn: &Connection,
    events: &[NewEvent],
    pending: &mut Pending,
    max_bytes: u64,
) -> Result<Vec<InsertOutcome>, SpoolError> {
    let (outcomes, added, wanted) = append_in(conn, events)?;
    if pending.bytes + wanted > max_bytes {
        return Err(SpoolError::Full {
            held: pending.bytes,
            max: max_bytes,
            wanted,
        });
    }
    pending.events += added;
    pending.bytes += wanted;
    Ok(outcomes)
}

/// Deletes every event up to `last_seq`; counts the removed events in `pending`.
fn remove_through(
    conn: &Connection,
    last_seq: i64,
    pending: &mut Pending,
) -> Result<(), SpoolError> {
    let (removed, freed): (u64, u64) = conn.query_row(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM spooled WHERE seq <= ?1",
        [last_seq],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    conn.execute("DELETE FROM spooled WHERE seq <= ?1", [last_seq])?;
    pending.events -= removed;
    pending.bytes -= freed;
    Ok(())
}

/// Opens the file and returns its connection, with the events and bytes it holds.
fn open_file(path: &Path) -> Result<(Connection, u64, u64), SpoolError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SpoolError::NotWal(mode));
    }
    // Every commit is fsynced before the commands it holds are answered.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    let (events, bytes) = conn.query_row(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM spooled",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok((conn, events, bytes))
}

/// Inserts what is not a duplicate; returns the outcomes, how many events were added and
/// the bytes they take.
fn append_in(
    conn: &Connection,
    events: &[NewEvent],
) -> Result<(Vec<InsertOutcome>, u64, u64), SpoolError> {
    let mut outcomes = Vec::with_capacity(events.len());
    let (mut added, mut wanted) = (0, 0);
    let mut held = conn.prepare_cached(
        "SELECT id, received_at FROM spooled WHERE source = ?1 AND dedup_key = ?2
         ORDER BY seq DESC LIMIT 1",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO spooled (id, tenant, source, event_type, provider_event_id, dedup_key,
                              dedup_window_ms, occurred_at, received_at, headers, body, jobs,
                              bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for event in events {
        let seen: Option<(String, i64)> = held
            .query_row(params![event.source, event.dedup_key], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        if let Some((original_id, seen_at)) = seen
            && event.received_at.saturating_sub(seen_at) < event.dedup_window_ms
        {
            outcomes.push(InsertOutcome::Duplicate { original_id });
            continue;
        }
        let headers = serde_json::to_string(&event.headers)?;
        let jobs =
            serde_json::to_string(&event.jobs.iter().map(SpooledJob::of).collect::<Vec<_>>())?;
        let bytes = encoded_size(event, &headers, &jobs);
        insert.execute(params![
            event.id,
            event.tenant,
            event.source,
            event.event_type,
            event.provider_event_id,
            event.dedup_key,
            event.dedup_window_ms,
            event.occurred_at,
            event.received_at,
            headers,
            event.body,
            jobs,
            bytes,
        ])?;
        added += 1;
        wanted += bytes;
        outcomes.push(InsertOutcome::Inserted {
            id: event.id.clone(),
        });
    }
    Ok((outcomes, added, wanted))
}

/// What an event counts against the limit: its body and its encoded text fields.
fn encoded_size(event: &NewEvent, headers: &str, jobs: &str) -> u64 {
    let text = [
        event.id.len(),
        event.tenant.len(),
        event.source.len(),
        event.event_type.len(),
        event.provider_event_id.as_ref().map_or(0, String::len),
        event.dedup_key.len(),
        headers.len(),
        jobs.len(),
        event.body.len(),
    ];
    text.iter().map(|&n| n as u64).sum()
}

fn read_oldest(
    conn: &Connection,
    max_events: usize,
    max_bytes: u64,
) -> Result<Vec<SpooledEvent>, SpoolError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, id, tenant, source, event_type, provider_event_id, dedup_key,
                dedup_window_ms, occurred_at, received_at, headers, body, jobs, bytes
         FROM spooled ORDER BY seq LIMIT ?1",
    )?;
    let limit = i64::try_from(max_events).unwrap_or(i64::MAX);
    let mut rows = statement.query([limit])?;
    let mut batch = Vec::new();
    let mut total = 0;
    while let Some(row) = rows.next()? {
        let bytes: u64 = row.get("bytes")?;
        if !batch.is_empty() && total + bytes > max_bytes {
            break;
        }
        total += bytes;
        let headers: String = row.get("headers")?;
        let jobs: String = row.get("jobs")?;
        let jobs: Vec<SpooledJob> = serde_json::from_str(&jobs)?;
        batch.push(SpooledEvent {
            seq: row.get("seq")?,
            event: NewEvent {
                id: row.get("id")?,
                tenant: row.get("tenant")?,
                source: row.get("source")?,
                event_type: row.get("event_type")?,
                provider_event_id: row.get("provider_event_id")?,
                dedup_key: row.get("dedup_key")?,
                dedup_window_ms: row.get("dedup_window_ms")?,
                occurred_at: row.get("occurred_at")?,
                received_at: row.get("received_at")?,
                headers: serde_json::from_str(&headers)?,
                body: row.get("body")?,
                jobs: jobs.into_iter().map(SpooledJob::into_job).collect(),
            },
        });
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use hookd_store::conformance::{T0, new_event, new_job};

    use super::*;

    fn event(id: &str) -> NewEvent {
        new_event(id, vec![new_job("q")])
    }

    fn inserted(id: &str) -> InsertOutcome {
        InsertOutcome::Inserted { id: id.to_owned() }
    }

    async fn open(dir: &tempfile::TempDir, max_bytes: u64) -> Spool {
        Spool::open(&dir.path().join("spool.db"), max_bytes)
            .await
            .expect("opening the spool")
    }

    #[tokio::test]
    async fn concurrent_appends_and_the_drain_run_in_the_order_they_were_sent() {
        let dir = tempfile::tempdir().expect("a directory");
        let spool = open(&dir, 1 << 20).await;
        let (a, b, batch, removed, c) = tokio::join!(
            spool.append(vec![event("evt_a")]),
            spool.append(vec![event("evt_b")]),
            spool.oldest(10, 1 << 20),
            spool.remove_through(i64::MAX),
            spool.append(vec![event("evt_c")]),
        );
        assert_eq!(a.expect("a"), [inserted("evt_a")]);
        assert_eq!(b.expect("b"), [inserted("evt_b")]);
        let ids: Vec<_> = batch
            .expect("read")
            .into_iter()
            .map(|spooled| spooled.event.id)
            .collect();
        assert_eq!(
            ids,
            ["evt_a", "evt_b"],
            "the read sees the appends sent before it"
        );
        removed.expect("removed");
        assert_eq!(c.expect("c"), [inserted("evt_c")]);
        assert_eq!(spool.events(), 1, "evt_c came after the delete");
        let left = spool.oldest(10, 1 << 20).await.expect("read");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].event, event("evt_c"));
        spool.close().await;
    }

    #[tokio::test]
    async fn a_refused_append_fails_alone_and_later_appends_see_earlier_ones() {
        let dir = tempfile::tempdir().expect("a directory");
        let one = {
            let spool = open(&dir, 1 << 20).await;
            spool.append(vec![event("evt_0")]).await.expect("sized");
            let bytes = spool.bytes();
            spool.remove_through(i64::MAX).await.expect("emptied");
            spool.close().await;
            bytes
        };
        let spool = open(&dir, 3 * one).await;
        let retry = NewEvent {
            received_at: T0 + 1,
            dedup_key: "evt_a".to_owned(),
            ..event("evt_a_retry")
        };
        let (a, too_many, retried, b) = tokio::join!(
            spool.append(vec![event("evt_a")]),
            spool.append(vec![event("evt_x"), event("evt_y"), event("evt_z")]),
            spool.append(vec![retry]),
            spool.append(vec![event("evt_b")]),
        );
        assert_eq!(a.expect("a"), [inserted("evt_a")]);
        assert!(
            matches!(too_many, Err(SpoolError::Full { .. })),
            "{too_many:?}"
        );
        assert_eq!(
            retried.expect("the retry"),
            [InsertOutcome::Duplicate {
                original_id: "evt_a".to_owned()
            }]
        );
        assert_eq!(b.expect("b"), [inserted("evt_b")]);
        assert_eq!((spool.events(), spool.bytes()), (2, 2 * one));
        assert_eq!(spool.refusal(), Some("the spool on local disk is full"));
        spool.remove_through(i64::MAX).await.expect("emptied");
        assert_eq!(spool.refusal(), None, "the drain made room");
        spool.close().await;
    }

    #[tokio::test]
    async fn close_finishes_queued_commands_and_the_next_open_finds_them() {
        let dir = tempfile::tempdir().expect("a directory");
        let spool = open(&dir, 1 << 20).await;
        let (a, ()) = tokio::join!(spool.append(vec![event("evt_a")]), spool.close());
        assert_eq!(a.expect("queued before the close"), [inserted("evt_a")]);
        assert!(matches!(
            spool.append(vec![event("evt_b")]).await,
            Err(SpoolError::Closed)
        ));
        spool.close().await;
        drop(spool);
        let spool = open(&dir, 1 << 20).await;
        assert_eq!(spool.events(), 1);
        spool.close().await;
    }
}
