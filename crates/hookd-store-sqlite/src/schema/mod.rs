//! The database schema: numbered migrations under `migrations/`, embedded in the binary
//! and applied when the store opens.
//!
//! Each migration runs once, in version order, inside one transaction with the others
//! applied at the same start, and is recorded in `schema_migrations (version,
//! applied_at)`. A database that records a version this build does not know was written
//! by a newer hookd and is refused rather than guessed at.

mod migrate;

pub(crate) use migrate::migrate;
