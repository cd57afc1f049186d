//! hookd: a webhook gateway.
//!
//! ```text
//! provider ──HTTP──▶ ingest ──▶ store (events + jobs) ──▶ dispatch ──▶ targets
//!                    verify        durable, group commit     claim by     http forward
//!                    dedup         ack after commit          priority,
//!                    route                                   ordering key
//! scheduler (lease expiry) ──▶ store
//! ```
//!
//! Each stage is one module with one job; data moves forward through it and never back,
//! and every stage reaches durable state only through the [`hookd_store::Store`] trait.
//! [`runtime::Gateway`] wires the stages together; `tests/` start it in-process on port
//! 0 with the embedded store in a temporary directory.

// Hidden: only the benchmarks call it.
#[doc(hidden)]
pub mod bench_support;
pub mod cli;
pub mod config;
pub mod runtime;
pub mod sink;

pub(crate) mod api;
pub(crate) mod clock;
pub(crate) mod dispatch;
pub(crate) mod http_error;
pub(crate) mod ingest;
pub(crate) mod route;
pub(crate) mod scheduler;
pub(crate) mod server;
pub(crate) mod targets;
pub(crate) mod telemetry;
