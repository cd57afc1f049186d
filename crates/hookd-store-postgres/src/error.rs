//! How PostgreSQL's and the pool's errors become [`StoreError`]s: the variant says whether
//! retrying may help, the context says what the store was doing, the driver's error stays
//! the source.

use hookd_store::StoreError;
use tokio_postgres::error::SqlState;

/// A failure found by the store itself rather than by PostgreSQL: a row it cannot read,
/// a schema newer than this build.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Invalid(pub(crate) String);

/// Maps a driver error. A closed or broken connection, a timeout, and the server saying
/// it cannot serve now (shutting down, too many connections, out of resources, a
/// serialization failure or deadlock) are [`StoreError::Unavailable`]; anything else is
/// [`StoreError::Backend`].
pub(crate) fn from_pg(context: &'static str, err: tokio_postgres::Error) -> StoreError {
    if is_transient(&err) {
        StoreError::Unavailable {
            context,
            source: Box::new(err),
        }
    } else {
        StoreError::Backend {
            context,
            source: Box::new(err),
        }
    }
}

/// Whether the error says "not now" rather than "never".
pub(crate) fn is_transient(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    let Some(code) = err.code() else {
        // No SQLSTATE: the connection failed (I/O, TLS, a timeout), not the statement.
        return true;
    };
    let class = &code.code()[..2];
    // 08: connection exception; 53: insufficient resources; 57: operator intervention
    // (shutdown, statement timeout: 57014 query_canceled); 40: transaction rollback
    // (serialization failure, deadlock).
    matches!(class, "08" | "53" | "57" | "40") || *code == SqlState::LOCK_NOT_AVAILABLE
}

/// Maps the pool's error: no connection could be had in time, or made at all.
pub(crate) fn from_pool(context: &'static str, err: deadpool_postgres::PoolError) -> StoreError {
    match err {
        deadpool_postgres::PoolError::Backend(err) => from_pg(context, err),
        other => StoreError::Unavailable {
            context,
            source: Box::new(other),
        },
    }
}

/// A [`StoreError::Backend`] carrying one of our own findings.
pub(crate) fn invalid(context: &'static str, message: String) -> StoreError {
    StoreError::Backend {
        context,
        source: Box::new(Invalid(message)),
    }
}

/// Adds the context to a driver result.
pub(crate) trait PgResultExt<T> {
    /// Maps the error with [`from_pg`].
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> PgResultExt<T> for Result<T, tokio_postgres::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|err| from_pg(context, err))
    }
}
