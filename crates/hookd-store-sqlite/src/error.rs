//! How SQLite's errors become [`StoreError`]s: the variant says whether retrying may
//! help, the context says what the store was doing, the driver's error stays the source.

use hookd_store::StoreError;
use rusqlite::ErrorCode;

/// A failure found by the store itself rather than by SQLite: a row it cannot read, a
/// schema newer than this build, a panicking operation.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Invalid(pub(crate) String);

/// Maps a driver error. Busy/locked databases and I/O, disk-full and open failures are
/// [`StoreError::Unavailable`] (the operation may succeed later); anything else is
/// [`StoreError::Backend`].
pub(crate) fn from_sqlite(context: &'static str, err: rusqlite::Error) -> StoreError {
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

/// Whether the error says "not now" (busy, locked, I/O, disk full, cannot open, out of
/// memory) rather than "never".
pub(crate) fn is_transient(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
                | ErrorCode::OutOfMemory
        )
    )
}

/// A [`StoreError::Backend`] carrying one of our own findings.
pub(crate) fn invalid(context: &'static str, message: String) -> StoreError {
    StoreError::Backend {
        context,
        source: Box::new(Invalid(message)),
    }
}

/// Adds the context to a driver result.
pub(crate) trait SqliteResultExt<T> {
    /// Maps the error with [`from_sqlite`].
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> SqliteResultExt<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|err| from_sqlite(context, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_unavailable_and_constraint_is_backend() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(
            from_sqlite("x", busy),
            StoreError::Unavailable { context: "x", .. }
        ));
        let constraint = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert!(matches!(
            from_sqlite("y", constraint),
            StoreError::Backend { context: "y", .. }
        ));
    }
}
