//! The storage contract of hookd.
//!
//! Every stage of the gateway talks to durable state only through the [`Store`] trait
//! defined here: ingest commits events with their jobs, dispatch claims and completes
//! jobs, the scheduler rescues expired leases. Backends (the embedded SQLite store, and
//! PostgreSQL for several nodes) implement the trait in their own crates and keep all SQL
//! there; this crate knows none of them.
//!
//! Records are named after the vocabulary of the design: [`Event`], [`Job`], [`Attempt`].
//! Times are unix milliseconds ([`Millis`]) passed in by the caller, so that the store
//! never reads a clock of its own and tests can choose `now`.
//!
//! With the `conformance` feature, [`conformance`] holds the suite every backend passes.
#![deny(missing_docs)]

mod error;
mod records;
mod stats;
mod store;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{BoxError, StoreError};
pub use records::{
    ApiKey, Attempt, AttemptOutcome, AttemptRecord, ClaimedJob, Event, EventStatus, EventSummary,
    InsertOutcome, Job, JobState, Millis, NewApiKey, NewEvent, NewJob, Target,
};
pub use store::{
    ClaimBatch, CommitStats, EventListParams, JobClaim, JobCompletion, JobLeaseExtend, JobOutcome,
    JobRelease, JobRescue, Readiness, RescuedJob, SpoolStats, Store, StoreChange,
};
// Queues: depth by state, pause and resume.
pub use store::QueueStats;
// Retention.
pub use store::{EventPrune, PruneCount};
// Dead letters and audit.
pub use store::{AuditEntry, AuditRecord, DeadFilter, JobRetry};
// Replay.
pub use store::JobReplay;
// Configuration objects.
pub use store::{ConfigKind, ConfigObject};
// Stats rollups.
pub use stats::{
    ERRORS_MAX, HOUR_MS, Histogram, MINUTE_MS, OTHER_ERRORS, StatsCompact, StatsDelta, StatsQuery,
    StatsRollup, StatsRow, StatsScope,
};
