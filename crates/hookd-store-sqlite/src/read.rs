//! The read pool: read-only connections used on the blocking thread pool, so that reads
//! never queue behind the writer's commits (WAL lets readers and the writer run at once).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hookd_store::StoreError;
use rusqlite::Connection;

use crate::connection::open_reader;

/// Idle connections kept for reuse; more are opened on demand and closed after use.
const IDLE_READERS: usize = 4;

/// Read-only connections to one database file.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl Readers {
    /// A pool for the database at `path`; connections open lazily.
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Runs `read` on a read-only connection on the blocking pool. It sees everything
    /// committed before it started.
    ///
    /// # Errors
    ///
    /// `read`'s error, a failure to open a connection, or [`StoreError::Closed`] after
    /// [`Readers::close`].
    pub(crate) async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool.checkout()?;
            let result = read(&conn);
            pool.checkin(conn);
            result
        })
        .await
        .map_err(|err| StoreError::Backend {
            context: "running a read",
            source: Box::new(err),
        })?
    }

    /// Refuses further reads and closes the idle connections.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn checkout(&self) -> Result<Connection, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path),
        }
    }

    fn checkin(&self, conn: Connection) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }
}
