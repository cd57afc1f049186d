//! hookd on PostgreSQL: the shared store of `database_url`, each test on a schema of its
//! own ([`TestDatabase`](crate::support::TestDatabase)) of the database named by
//! `HOOKD_TEST_DATABASE_URL`. Without that variable the tests say so and pass, except
//! under `CI`, where they fail.
//!
//! - [`delivery`]: one node: signed webhooks in, signed deliveries out, duplicates
//!   recognised.
//! - [`config`]: two nodes in one process: a secret rotated and a queue paused through
//!   one node's API are in force on the other.
//! - [`global_concurrency`]: two nodes in one process never run more of a queue's jobs
//!   at once than its `global_concurrency`.
//! - [`nodes`]: three `hookd serve` processes share the work without running a job twice
//!   or breaking per-key order, and finish the jobs of one killed with SIGKILL.
//! - [`spool`]: PostgreSQL cut off for 30 s under load: every webhook answered 200 from
//!   the node's spool, then delivered exactly once.
//! - [`offline`]: `hookd token create` and `hookd config export` on the shared store.

mod config;
mod delivery;
mod global_concurrency;
mod nodes;
mod offline;
mod spool;
