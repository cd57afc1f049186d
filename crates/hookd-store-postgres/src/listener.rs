//! The listener: one dedicated connection (outside the pool) that `LISTEN`s on the
//! store's channel and brings the other nodes' changes to the local feed.
//!
//! Notifications from this store instance itself are skipped (it published them right
//! after its commits), as are payloads this build does not understand. When the
//! connection is lost the listener reconnects with back-off; notifications sent in the
//! meantime are lost, so once listening again it publishes
//! [`StoreChange::ConfigChanged`], which makes the gateway read its configuration again
//! (worker pools poll their queues anyway).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hookd_store::{StoreChange, StoreError};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};

use crate::changes;
use crate::error::PgResultExt;

/// The first wait before reconnecting; doubled after each failure up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A listening connection: the client must live as long as the connection is polled.
struct Session {
    _client: Client,
    connection: Connection<Socket, NoTlsStream>,
}

/// What the listener needs to (re)connect and to publish.
struct Target {
    config: Config,
    channel: String,
    origin: String,
    feed: broadcast::Sender<StoreChange>,
}

/// The handle to the listener task.
pub(crate) struct Listener {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    /// Connects and starts listening before returning, so that every change committed
    /// after the store opened reaches the feed; then hands the connection to a task.
    ///
    /// # Errors
    ///
    /// The driver's error when the connection or the `LISTEN` fails.
    pub(crate) async fn start(
        config: Config,
        channel: String,
        origin: String,
        feed: broadcast::Sender<StoreChange>,
    ) -> Result<Self, StoreError> {
        let target = Target {
            config,
            channel,
            origin,
            feed,
        };
        let session = listen(&target).await?;
        let task = tokio::spawn(run(target, session));
        Ok(Self {
            task: Mutex::new(Some(task)),
        })
    }

    /// Stops the task and closes its connection. Safe to call twice.
    pub(crate) async fn close(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
            // The task holds nothing but its connection: cancelling it is the stop.
            let _ = task.await;
        }
    }
}

/// `"name"`: an identifier quoted for SQL, whatever it contains.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Opens a connection and issues `LISTEN`, driving the connection meanwhile.
async fn listen(target: &Target) -> Result<Session, StoreError> {
    const CONTEXT: &str = "listening for changes";
    let (client, mut connection) = target.config.connect(NoTls).await.ctx(CONTEXT)?;
    let statement = format!("LISTEN {}", quote_identifier(&target.channel));
    {
        let listening = client.batch_execute(&statement);
        tokio::pin!(listening);
        loop {
            tokio::select! {
                done = &mut listening => {
                    done.ctx(CONTEXT)?;
                    break;
                }
                message = next_message(&mut connection) => match message {
                    // Nothing is heard before LISTEN completes; a notice is of no interest.
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Err(err).ctx(CONTEXT),
                    None => return Err(closed()),
                },
            }
        }
    }
    Ok(Session {
        _client: client,
        connection,
    })
}

fn closed() -> StoreError {
    StoreError::Unavailable {
        context: "listening for changes",
        source: "the listening connection closed".into(),
    }
}

async fn next_message(
    connection: &mut Connection<Socket, NoTlsStream>,
) -> Option<Result<AsyncMessage, tokio_postgres::Error>> {
    std::future::poll_fn(|cx| connection.poll_message(cx)).await
}

/// The task: forwards notifications until the connection fails, then reconnects.
async fn run(target: Target, mut session: Session) {
    loop {
        let lost = forward(&target, &mut session).await;
        tracing::warn!(error = %lost, "lost the PostgreSQL change listener; reconnecting");
        session = reconnect(&target).await;
        // Changes made while nobody listened were not heard: look at everything again.
        let _ = target.feed.send(StoreChange::ConfigChanged);
    }
}

/// Publishes the other instances' notifications until the connection fails.
async fn forward(target: &Target, session: &mut Session) -> StoreError {
    loop {
        match next_message(&mut session.connection).await {
            Some(Ok(AsyncMessage::Notification(notification))) => {
                match changes::decode(notification.payload()) {
                    Some((origin, _)) if origin == target.origin => {}
                    Some((_, change)) => {
                        // No subscriber is fine: nobody is waiting.
                        let _ = target.feed.send(change);
                    }
                    None => tracing::debug!(
                        payload = notification.payload(),
                        "skipped a change notification this build does not understand"
                    ),
                }
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return crate::error::from_pg("listening for changes", err),
            None => return closed(),
        }
    }
}

/// Connects again, waiting longer after each failure.
async fn reconnect(target: &Target) -> Session {
    let mut backoff = MIN_BACKOFF;
    loop {
        tokio::time::sleep(backoff).await;
        match listen(target).await {
            Ok(session) => {
                tracing::info!("the PostgreSQL change listener is back");
                return session;
            }
            Err(err) => {
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tracing::warn!(
                    error = %err,
                    retry_in = ?backoff,
                    "reconnecting the change listener failed"
                );
            }
        }
    }
}
