//! `hookd sink`: a test receiver for what hookd forwards, used by demos, tests and
//! benchmarks.
//!
//! The sink stands where a destination would: it takes `POST` on any path, verifies the
//! Standard Webhooks signature with its secret, and answers. It can be told to fail the
//! first N requests of every `webhook-id` (so retries become visible), to answer slowly,
//! and to ask for a `Retry-After`. Every request it receives becomes one [`SinkRecord`],
//! kept in memory (for [`Sink::wait_until`]) and written as one JSON line to a file or
//! standard output, before the answer is sent: whoever saw the answer can read the line.
//!
//! It is not part of the data flow; nothing in the gateway depends on it.
//!
//! - `handler`: one request → verify, count, wait, answer, record.
//! - `output`: where the JSON lines go.

mod handler;
mod output;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode};
use axum::serve::ListenerExt as _;
use hookd_signature::standard_webhooks::Secret;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;

use self::output::Output;

/// How a [`Sink`] behaves.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// The `whsec_…` secret requests must be signed with.
    pub secret: Secret,
    /// How many requests of each `webhook-id` are answered with `fail_status` before the
    /// sink answers 200.
    pub fail_first: u32,
    /// The status of those failures (`hookd sink` defaults to 503).
    pub fail_status: u16,
    /// Seconds sent as `Retry-After` with those failures; none when `None`.
    pub retry_after: Option<u64>,
    /// How long a verified request waits before it is answered.
    pub delay: Duration,
    /// The file records are appended to as JSON lines; standard output when `None`.
    pub out: Option<PathBuf>,
}

impl SinkOptions {
    /// A sink that verifies with `secret`, answers every verified request 200 at once,
    /// and prints its records to standard output.
    pub fn new(secret: Secret) -> Self {
        Self {
            secret,
            fail_first: 0,
            fail_status: 503,
            retry_after: None,
            delay: Duration::ZERO,
            out: None,
        }
    }
}

/// One request the sink received: one JSON line of its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkRecord {
    /// The `webhook-id` header, when the request carried one as text.
    pub webhook_id: Option<String>,
    /// When the request was received, unix milliseconds.
    pub received_at: i64,
    /// When the answer was ready (after the configured delay), unix milliseconds.
    pub finished_at: i64,
    /// Whether the signature matched the sink's secret within five minutes.
    pub verified: bool,
    /// The status the sink answered (or would have, when the client hung up during the
    /// delay: see `error`).
    pub status: u16,
    /// How many requests with this `webhook-id` the sink has received, this one
    /// included (verified or not); 0 when the request carried none.
    pub attempt: u32,
    /// The request path.
    pub path: String,
    /// The body, invalid UTF-8 replaced.
    pub body: String,
    /// Why the request was not verified or not taken, or that the client hung up before
    /// the answer; `None` for a request answered as planned.
    pub error: Option<String>,
}

/// A running sink. Dropping it does not stop the server: cancel the token given to
/// [`Sink::start`].
#[derive(Debug)]
pub struct Sink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<std::io::Result<()>>,
}

/// What the request handlers share.
#[derive(Debug)]
struct Shared {
    secret: Secret,
    fail_first: u32,
    fail_status: StatusCode,
    retry_after: Option<HeaderValue>,
    delay: Duration,
    /// Requests received per `webhook-id`.
    seen: Mutex<HashMap<String, u32>>,
    /// Every record, in the order their answers were ready.
    records: Mutex<Vec<SinkRecord>>,
    /// The number of records, announced after each one is added.
    changed: watch::Sender<usize>,
    output: Output,
}

impl Sink {
    /// Starts serving on `listener`, in a task of its own, until `shutdown` is cancelled;
    /// requests in flight then still get their answer. Any path is accepted; methods
    /// other than `POST` are answered 405 (and recorded).
    ///
    /// # Errors
    ///
    /// When `fail_status` is not a valid HTTP status or `out` cannot be opened for
    /// appending.
    pub async fn start(
        options: SinkOptions,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Sink> {
        let SinkOptions {
            secret,
            fail_first,
            fail_status,
            retry_after,
            delay,
            out,
        } = options;
        let fail_status = StatusCode::from_u16(fail_status)
            .with_context(|| format!("{fail_status} is not an HTTP status"))?;
        let output = match out {
            Some(path) => Output::append_to(&path).await?,
            None => Output::Stdout,
        };
        let addr = listener
            .local_addr()
            .context("reading the sink's listening address")?;
        let shared = Arc::new(Shared {
            secret,
            fail_first,
            fail_status,
            retry_after: retry_after.map(HeaderValue::from),
            delay,
            seen: Mutex::new(HashMap::new()),
            records: Mutex::new(Vec::new()),
            changed: watch::Sender::new(0),
            output,
        });

        // The sink's own answers are small and benchmarks measure latency: no Nagle.
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "sink could not set TCP_NODELAY");
            }
        });
        let app = Router::new()
            .fallback(handler::receive)
            .with_state(Arc::clone(&shared))
            // A test receiver takes whatever hookd forwards; the gateway bounds bodies.
            .layer(DefaultBodyLimit::disable());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        });
        Ok(Sink {
            addr,
            shared,
            server,
        })
    }

    /// The address the sink serves on (with the port the OS chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of every record so far, in the order their answers were ready.
    pub fn records(&self) -> Vec<SinkRecord> {
        self.shared.records().clone()
    }

    /// Waits until `pred` holds for the records, checking after each new record, and
    /// returns a copy of them.
    ///
    /// # Errors
    ///
    /// When `timeout` passes first; the error says how many records there were.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[SinkRecord]) -> bool,
    ) -> anyhow::Result<Vec<SinkRecord>> {
        let deadline = Instant::now() + timeout;
        let mut changes = self.shared.changed.subscribe();
        loop {
            // Marked seen before the check, so a record added after it wakes us.
            changes.borrow_and_update();
            {
                let records = self.shared.records();
                if pred(&records) {
                    return Ok(records.clone());
                }
            }
            match timeout_at(deadline, changes.changed()).await {
                Ok(changed) => changed.context("the sink's record feed closed")?,
                Err(_elapsed) => {
                    let count = self.shared.records().len();
                    bail!(
                        "the sink's records did not reach the expected state within {}: \
                         {count} records so far",
                        humantime::format_duration(timeout)
                    );
                }
            }
        }
    }

    /// Waits until the server has stopped: after the shutdown token is cancelled and the
    /// requests in flight are answered.
    ///
    /// # Errors
    ///
    /// When serving failed.
    pub async fn stopped(self) -> anyhow::Result<()> {
        self.server
            .await
            .context("the sink's server task failed")?
            .context("serving the sink")
    }
}

impl Shared {
    fn records(&self) -> MutexGuard<'_, Vec<SinkRecord>> {
        // A panic while holding the lock cannot leave the Vec half-pushed.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more request of `webhook_id` and returns its number.
    fn count(&self, webhook_id: &str) -> u32 {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let count = seen.entry(webhook_id.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// Writes the record's line, then makes it visible to [`Sink::records`] and wakes
    /// [`Sink::wait_until`].
    fn add(&self, record: SinkRecord) {
        self.output.write(&record);
        let count = {
            let mut records = self.records();
            records.push(record);
            records.len()
        };
        self.changed.send_replace(count);
    }
}
