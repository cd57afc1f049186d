//! The one error type of the storage contract.

/// A boxed error from a backend's driver, kept as the [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed. Callers branch on the variant; the driver's own error
/// stays reachable through `source()` for logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend cannot be reached right now (connection refused, timed out, disk full).
    /// The operation did not take effect; it may succeed if tried again later.
    #[error("store unavailable: {context}")]
    Unavailable {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The store has been closed; no further operation will succeed.
    #[error("store is closed")]
    Closed,
    /// The backend failed in a way that retrying will not fix (a constraint, a schema that
    /// does not match, a corrupt row). The operation did not take effect.
    #[error("store failed: {context}")]
    Backend {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
}
