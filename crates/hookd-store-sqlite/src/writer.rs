//! The single writer: one OS thread owns the write connection and commits every write
//! of the store in groups.
//!
//! # Group commit
//!
//! Callers send an operation (a closure over the connection) with a oneshot for its
//! answer. The thread blocks for the first operation, then takes every further one
//! already queued, up to [`MAX_BATCH`], and runs them all inside one transaction, each
//! under its own `SAVEPOINT` so that a failing operation is rolled back and answered
//! with its error alone. One `COMMIT` (one fsync with `synchronous=FULL`) then makes the
//! whole group durable, and only after it succeeds are the answers sent and the changes
//! published. While a commit is in flight new operations queue up and form the next,
//! larger group: the busier the store, the more operations share an fsync.
//!
//! # Clock
//!
//! The thread reads the wall clock once per group, just before `BEGIN`, and hands it to
//! every operation of the group in [`Changes::began_at`]: it stamps when an event was
//! committed, a fact only the store knows. It is the one clock the store reads; every
//! other time comes from the caller.
//!
//! # Failure
//!
//! If `BEGIN` or `COMMIT` fails, every operation of the group is answered with that
//! error and nothing of it is kept. A panicking operation is caught, rolled back to its
//! savepoint and answered with [`StoreError::Backend`].
//!
//! # Shutdown
//!
//! [`Writer::close`] queues a close request: the thread stops accepting operations,
//! finishes everything already queued, closes the connection and exits. When the store
//! is dropped without `close`, the channel's senders go away and the thread ends the
//! same way on its own; nothing waits for it.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hookd_store::{CommitStats, Millis, StoreChange, StoreError};
use rusqlite::Connection;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::{Invalid, invalid, is_transient};

/// The most operations one transaction carries; keeps a commit's latency bounded when
/// a flood is queued.
pub(crate) const MAX_BATCH: usize = 512;

/// Operations that may wait in the queue before senders wait for room (back-pressure).
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// What an operation learns from its group and leaves for after the commit: when the
/// group's transaction began, and the queues that got jobs which may now be claimable,
/// published as [`StoreChange::JobsReady`] once the group is durable.
#[derive(Debug)]
pub(crate) struct Changes {
    began_at: Millis,
    queues: BTreeSet<String>,
}

impl Changes {
    /// Nothing recorded yet, for a group whose transaction began at `began_at`.
    fn new(began_at: Millis) -> Self {
        Self {
            began_at,
            queues: BTreeSet::new(),
        }
    }

    /// When the group's transaction began (unix milliseconds, the writer thread's wall
    /// clock): the same instant for every operation of the group.
    pub(crate) fn began_at(&self) -> Millis {
        self.began_at
    }

    /// Records that `queue` got jobs which may now be claimable.
    pub(crate) fn insert(&mut self, queue: String) {
        self.queues.insert(queue);
    }

    /// Moves the queues `other` recorded into these.
    fn append(&mut self, other: &mut Changes) {
        self.queues.append(&mut other.queues);
    }
}

/// The wall clock in unix milliseconds, read once per group (see the module's "Clock").
#[expect(
    clippy::disallowed_methods,
    reason = "the commit time of an event is the store's own fact; no caller can pass it"
)]
fn wall_clock() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            Millis::try_from(elapsed.as_millis()).unwrap_or(Millis::MAX)
        })
}

/// What a caller asks of the writer thread.
enum Command {
    /// Run one operation in the next group.
    Op(Box<dyn Operation>),
    /// Finish what is queued, then stop.
    Close(oneshot::Sender<()>),
}

/// One write, type-erased so that operations with different answers share the queue.
trait Operation: Send {
    /// Runs the write on the connection (inside the group's transaction) and keeps its
    /// answer until the commit decides it.
    fn execute(self: Box<Self>, conn: &Connection, changes: &mut Changes) -> Box<dyn Answer>;

    /// Answers without running: the group failed before this operation's turn.
    fn reject(self: Box<Self>, failure: &GroupFailure);
}

/// The answer of an executed operation, held until the commit.
trait Answer: Send {
    /// Whether the operation succeeded (its savepoint is kept).
    fn is_ok(&self) -> bool;
    /// Sends the answer: the operation's own result, or `failed` when the group could
    /// not be committed.
    fn send(self: Box<Self>, failed: Option<&GroupFailure>);
}

struct Op<T, F> {
    run: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Operation for Op<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &mut Changes) -> Result<T, StoreError> + Send + 'static,
{
    fn execute(self: Box<Self>, conn: &Connection, changes: &mut Changes) -> Box<dyn Answer> {
        let Op { run, reply } = *self;
        let result = catch_unwind(AssertUnwindSafe(|| run(conn, changes))).unwrap_or_else(|_| {
            Err(invalid(
                "running a write",
                "the operation panicked; it was rolled back".to_owned(),
            ))
        });
        Box::new(Held { result, reply })
    }

    fn reject(self: Box<Self>, failure: &GroupFailure) {
        let _ = self.reply.send(Err(failure.to_error()));
    }
}

struct Held<T> {
    result: Result<T, StoreError>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send + 'static> Answer for Held<T> {
    fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    fn send(self: Box<Self>, failed: Option<&GroupFailure>) {
        let result = match (failed, self.result) {
            (Some(failure), Ok(_)) => Err(failure.to_error()),
            (_, result) => result,
        };
        // The caller may have given up waiting; its answer is then of no use.
        let _ = self.reply.send(result);
    }
}

/// Why a whole group was not committed. Kept as text so that each caller gets its own
/// [`StoreError`] with the same cause.
struct GroupFailure {
    context: &'static str,
    unavailable: bool,
    message: String,
}

impl GroupFailure {
    fn new(context: &'static str, err: &rusqlite::Error) -> Self {
        Self {
            context,
            unavailable: is_transient(err),
            message: err.to_string(),
        }
    }

    fn to_error(&self) -> StoreError {
        let source = Box::new(Invalid(self.message.clone()));
        if self.unavailable {
            StoreError::Unavailable {
                context: self.context,
                source,
            }
        } else {
            StoreError::Backend {
                context: self.context,
                source,
            }
        }
    }
}

/// Commit statistics, shared between the thread that counts and the store that reads.
#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    operations: AtomicU64,
    largest_batch: AtomicU64,
}

impl Stats {
    fn record(&self, operations: usize) {
        let n = operations as u64;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.operations.fetch_add(n, Ordering::Relaxed);
        self.largest_batch.fetch_max(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            operations: self.operations.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
        }
    }
}

/// The handle to the writer thread.
pub(crate) struct Writer {
    tx: mpsc::Sender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Stats>,
}

impl Writer {
    /// Starts the writer thread on an open, migrated connection. Committed changes are
    /// published on `changes`.
    pub(crate) fn start(
        conn: Connection,
        path: &Path,
        changes: broadcast::Sender<StoreChange>,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(Stats::default());
        let thread_stats = Arc::clone(&stats);
        let span = tracing::debug_span!("sqlite_writer", path = %path.display());
        let thread = std::thread::Builder::new()
            .name("hookd-sqlite-writer".to_owned())
            .spawn(move || {
                let _entered = span.entered();
                run(conn, rx, &thread_stats, &changes);
            })
            .map_err(|err| StoreError::Unavailable {
                context: "starting the writer thread",
                source: Box::new(err),
            })?;
        Ok(Self {
            tx,
            thread: Mutex::new(Some(thread)),
            stats,
        })
    }

    /// Runs `op` in the next group commit and returns its result once that group is
    /// durable. `op` records in `Changes` the queues that got claimable jobs, and reads
    /// there when its group began.
    ///
    /// # Errors
    ///
    /// The operation's own error; the commit's error; [`StoreError::Closed`] when the
    /// writer has stopped.
    pub(crate) async fn run<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Changes) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Op(Box::new(Op { run: op, reply })))
            .await
            .map_err(|_| StoreError::Closed)?;
        // A dropped reply means the thread went away before answering.
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// How commits have been grouped so far.
    pub(crate) fn stats(&self) -> CommitStats {
        self.stats.snapshot()
    }

    /// Lets the thread finish every queued operation, then stops it and waits for it to
    /// exit. Later operations fail with [`StoreError::Closed`]. Safe to call twice.
    pub(crate) async fn close(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(thread) = thread else { return };
        let (done, stopped) = oneshot::channel();
        if self.tx.send(Command::Close(done)).await.is_ok() {
            // Either answer means the thread is past its last commit.
            let _ = stopped.await;
        }
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => tracing::error!("the SQLite writer thread panicked"),
            Err(err) => tracing::warn!(error = %err, "could not wait for the SQLite writer thread"),
        }
    }
}

/// The writer thread's loop: one group per iteration until the channel is closed and
/// empty.
fn run(
    conn: Connection,
    mut rx: mpsc::Receiver<Command>,
    stats: &Stats,
    changes: &broadcast::Sender<StoreChange>,
) {
    let mut closing = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut group = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Op(op) => group.push(op),
                Command::Close(done) => {
                    // No new operations from here on; those already queued still run.
                    rx.close();
                    closing.push(done);
                }
            }
            if group.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit_group(&conn, group, stats, changes);
        }
    }
    if let Err((_, err)) = conn.close() {
        tracing::warn!(error = %err, "closing the SQLite write connection failed");
    }
    for done in closing {
        let _ = done.send(());
    }
}

/// Runs one group in one transaction and answers every operation of it.
fn commit_group(
    conn: &Connection,
    group: Vec<Box<dyn Operation>>,
    stats: &Stats,
    feed: &broadcast::Sender<StoreChange>,
) {
    let started = Instant::now();
    let began_at = wall_clock();
    let size = group.len();
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        let failure = GroupFailure::new("beginning a transaction", &err);
        tracing::warn!(error = %failure.message, size, "could not begin a group commit");
        for op in group {
            op.reject(&failure);
        }
        return;
    }

    let mut answers = Vec::with_capacity(size);
    let mut changes = Changes::new(began_at);
    let mut broken: Option<GroupFailure> = None;
    let mut rejected = Vec::new();
    for op in group {
        if broken.is_some() {
            // The transaction is in an unknown state; it will be rolled back whole.
            rejected.push(op);
            continue;
        }
        if let Err(err) = run_cached(conn, "SAVEPOINT op") {
            broken = Some(GroupFailure::new("opening a savepoint", &err));
            rejected.push(op);
            continue;
        }
        let mut op_changes = Changes::new(began_at);
        let answer = op.execute(conn, &mut op_changes);
        let end = if answer.is_ok() {
            changes.append(&mut op_changes);
            run_cached(conn, "RELEASE op")
        } else {
            run_cached(conn, "ROLLBACK TO op").and_then(|()| run_cached(conn, "RELEASE op"))
        };
        if let Err(err) = end {
            broken = Some(GroupFailure::new("closing a savepoint", &err));
        }
        answers.push(answer);
    }

    let failure = match broken {
        Some(failure) => Some(failure),
        None => conn
            .execute_batch("COMMIT")
            .err()
            .map(|err| GroupFailure::new("committing", &err)),
    };
    match &failure {
        Some(failure) => {
            tracing::warn!(error = %failure.message, size, "group commit failed; rolled back");
            if let Err(err) = conn.execute_batch("ROLLBACK") {
                tracing::debug!(error = %err, "rollback after a failed group");
            }
        }
        None => {
            stats.record(size);
            tracing::trace!(
                size,
                elapsed_us = started.elapsed().as_micros() as u64,
                "group committed"
            );
            for queue in changes.queues {
                // No subscriber is fine: nobody is waiting for work.
                let _ = feed.send(StoreChange::JobsReady { queue });
            }
        }
    }
    for answer in answers {
        answer.send(failure.as_ref());
    }
    if let Some(failure) = &failure {
        for op in rejected {
            op.reject(failure);
        }
    }
}

/// Runs one statement that takes no parameters through the connection's statement
/// cache: the savepoint statements run twice per operation, and parsing them anew each
/// time showed in profiles of ingest under load.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> Writer {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (x INTEGER NOT NULL)")
            .expect("create");
        let (feed, _) = broadcast::channel(16);
        Writer::start(conn, Path::new(":memory:"), feed).expect("start")
    }

    fn count(conn: &Connection) -> Result<i64, StoreError> {
        conn.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .map_err(|err| crate::error::from_sqlite("count", err))
    }

    #[tokio::test]
    async fn a_panicking_write_is_rolled_back_and_the_writer_goes_on() {
        let writer = writer();
        let panicked = writer
            .run(|conn, _| -> Result<(), StoreError> {
                conn.execute("INSERT INTO t VALUES (1)", [])
                    .map_err(|err| crate::error::from_sqlite("insert", err))?;
                panic!("boom");
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Backend { .. })));
        assert_eq!(writer.run(|conn, _| count(conn)).await.expect("count"), 0);
        writer.close().await;
    }

    #[tokio::test]
    async fn close_finishes_queued_writes_then_refuses() {
        let writer = writer();
        let writes = (0..50).map(|i| {
            writer.run(move |conn, _| {
                conn.execute("INSERT INTO t VALUES (?1)", [i])
                    .map_err(|err| crate::error::from_sqlite("insert", err))
            })
        });
        let (results, ()) = tokio::join!(futures::future::join_all(writes), writer.close());
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert!(matches!(
            writer.run(|conn, _| count(conn)).await,
            Err(StoreError::Closed)
        ));
        writer.close().await;
    }

    #[test]
    fn stats_track_largest_batch() {
        let stats = Stats::default();
        stats.record(3);
        stats.record(7);
        stats.record(2);
        assert_eq!(
            stats.snapshot(),
            CommitStats {
                commits: 3,
                operations: 12,
                largest_batch: 7
            }
        );
    }
}
