//! Group commit: concurrent calls of one kind of write share one transaction.
//!
//! One task owns the queue of calls. It waits for the first, takes every further call
//! already queued (up to [`MAX_BATCH`]) and hands them all to the [`Group`], which
//! writes them in one transaction on one connection and commits it. Only after the
//! commit are the callers answered, each with its own result. While a group commits,
//! new calls queue up and form the next, larger group: the busier the store, the more
//! calls share a commit (and its WAL flush).
//!
//! When the group cannot be committed, every call of it is answered with that error and
//! nothing of the group is kept.
//!
//! [`GroupCommit::close`] lets the task finish every queued call, then waits for it to
//! stop.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use hookd_store::{StoreChange, StoreError};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::GenericClient;

use crate::changes;
use crate::commits::CommitCounter;
use crate::error::{Invalid, is_transient};

/// The most calls one transaction carries; keeps a commit's latency bounded when a
/// flood is queued.
const MAX_BATCH: usize = 256;

/// Calls that may wait in the queue before callers wait for room (back-pressure).
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// What every group commit task needs to write and to tell others about it.
pub(crate) struct Shared {
    /// Connections.
    pub(crate) pool: deadpool_postgres::Pool,
    /// The store's `NOTIFY` channel.
    pub(crate) channel: String,
    /// The store instance's id in its notifications.
    pub(crate) origin: String,
    /// The local change feed.
    pub(crate) feed: broadcast::Sender<StoreChange>,
}

impl Shared {
    /// Announces `JobsReady` for each of `queues` from inside the group's transaction:
    /// the other nodes hear it when, and only if, the transaction commits.
    pub(crate) async fn announce_jobs_ready(
        &self,
        tx: &impl GenericClient,
        queues: &BTreeSet<String>,
    ) -> Result<(), GroupFailure> {
        for queue in queues {
            let change = StoreChange::JobsReady {
                queue: queue.clone(),
            };
            changes::notify(tx, &self.channel, &self.origin, &change)
                .await
                .map_err(|err| GroupFailure::from_store(&err))?;
        }
        Ok(())
    }

    /// Publishes `JobsReady` for each of `queues` on the local feed, once the group's
    /// transaction committed.
    pub(crate) fn publish_jobs_ready(&self, queues: BTreeSet<String>) {
        for queue in queues {
            // No subscriber is fine: nobody is waiting for work.
            let _ = self.feed.send(StoreChange::JobsReady { queue });
        }
    }
}

/// Runs `write` under the savepoint `name` of `tx`, so that a call failing on its own
/// leaves the rest of the group's transaction as it was: kept when it succeeds, rolled
/// back when it fails. `write` (a future, idle until polled) must use `tx`. Returns the
/// call's own result; fails the group only when the savepoint itself cannot be opened
/// or closed.
pub(crate) async fn under_savepoint<T>(
    tx: &impl GenericClient,
    name: &str,
    write: impl Future<Output = Result<T, StoreError>>,
) -> Result<Result<T, StoreError>, GroupFailure> {
    tx.batch_execute(&format!("SAVEPOINT {name}"))
        .await
        .map_err(|err| GroupFailure::from_pg("opening a savepoint", &err))?;
    let result = write.await;
    let end = if result.is_ok() {
        format!("RELEASE {name}")
    } else {
        format!("ROLLBACK TO {name}; RELEASE {name}")
    };
    tx.batch_execute(&end)
        .await
        .map_err(|err| GroupFailure::from_pg("closing a savepoint", &err))?;
    Ok(result)
}

/// One kind of write that the store commits in groups.
pub(crate) trait Group: Send + Sync + 'static {
    /// What one caller asks for.
    type Call: Send + Sync + 'static;
    /// What one caller gets back when its call succeeded.
    type Answer: Send + 'static;

    /// The kind of write, in logs.
    const NAME: &'static str;

    /// Writes `calls` in one transaction and commits it. Returns one result per call,
    /// in the order of `calls`, valid once this returns `Ok` (committed); a call that
    /// failed on its own carries its error, and the others are committed all the same.
    fn commit(
        &self,
        calls: &[Self::Call],
    ) -> impl Future<Output = Result<Vec<Result<Self::Answer, StoreError>>, GroupFailure>> + Send;
}

/// One queued call and where its answer goes.
struct Call<G: Group> {
    input: G::Call,
    reply: oneshot::Sender<Result<G::Answer, StoreError>>,
}

/// The handle to one group commit task.
pub(crate) struct GroupCommit<G: Group> {
    /// `None` once closed: the task ends when the queue is empty and has no sender.
    calls: Mutex<Option<mpsc::Sender<Call<G>>>>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl<G: Group> GroupCommit<G> {
    /// Starts the task, which commits with `group` and counts its commits in `commits`.
    pub(crate) fn start(group: G, commits: Arc<CommitCounter>) -> Self {
        let (calls, queue) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(run(queue, group, commits));
        Self {
            calls: Mutex::new(Some(calls)),
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// Writes `input` in the next group and answers once that group is durable.
    ///
    /// # Errors
    ///
    /// The call's own error, the group's (when it could not be committed), or
    /// [`StoreError::Closed`] once [`GroupCommit::close`] began.
    pub(crate) async fn call(&self, input: G::Call) -> Result<G::Answer, StoreError> {
        let calls = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        calls
            .send(Call { input, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        // A dropped reply means the task went away before answering.
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Refuses new calls, lets the task commit every queued one, and waits for it to
    /// stop. Safe to call twice.
    pub(crate) async fn close(&self) {
        drop(
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if let Some(task) = self.task.lock().await.take()
            && let Err(err) = task.await
        {
            tracing::error!(group = G::NAME, error = %err, "a PostgreSQL group commit task failed");
        }
    }
}

/// The task's loop: one group per iteration until the queue is closed and empty.
async fn run<G: Group>(mut queue: mpsc::Receiver<Call<G>>, group: G, commits: Arc<CommitCounter>) {
    while let Some(first) = queue.recv().await {
        let mut calls = vec![first];
        while calls.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(call) => calls.push(call),
                Err(_) => break,
            }
        }
        let size = calls.len();
        let (inputs, replies): (Vec<_>, Vec<_>) = calls
            .into_iter()
            .map(|call| (call.input, call.reply))
            .unzip();
        let answers = match group.commit(&inputs).await {
            Ok(answers) => {
                debug_assert_eq!(answers.len(), size, "one answer per call");
                commits.record(size);
                tracing::trace!(group = G::NAME, size, "group committed");
                answers
            }
            Err(failure) => {
                tracing::warn!(
                    group = G::NAME,
                    error = %failure.message,
                    size,
                    "group commit failed; rolled back"
                );
                (0..size).map(|_| Err(failure.to_error())).collect()
            }
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // The caller may have given up waiting; its answer is then of no use.
            let _ = reply.send(answer);
        }
    }
}

/// Why a whole group was not committed. Kept as text so that each caller gets its own
/// [`StoreError`] with the same cause.
pub(crate) struct GroupFailure {
    context: &'static str,
    unavailable: bool,
    message: String,
}

impl GroupFailure {
    /// The failure of a statement of the group's transaction (`BEGIN`, a savepoint,
    /// `COMMIT`).
    pub(crate) fn from_pg(context: &'static str, err: &tokio_postgres::Error) -> Self {
        Self {
            context,
            unavailable: is_transient(err),
            message: err.to_string(),
        }
    }

    /// A store error that ends the whole group.
    pub(crate) fn from_store(err: &StoreError) -> Self {
        match err {
            StoreError::Unavailable { context, .. } | StoreError::Backend { context, .. } => Self {
                context,
                unavailable: matches!(err, StoreError::Unavailable { .. }),
                message: std::error::Error::source(err)
                    .map_or_else(|| err.to_string(), ToString::to_string),
            },
            _ => Self {
                context: "committing a group of writes",
                unavailable: true,
                message: err.to_string(),
            },
        }
    }

    /// The error one caller of the group gets.
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
