//! The one integration test binary of `hookd` (STYLE 30): every test starts the real
//! gateway in-process on `127.0.0.1:0`, with the embedded SQLite store in a temporary
//! directory (or a PostgreSQL schema of its own) and a real [`hookd::sink::Sink`] as the
//! destination, and talks to it over real HTTP. Tests are isolated from each other and
//! run in parallel.
//!
//! - [`support`]: the harness (gateway, test schemas, child processes, sink, signer, raw
//!   HTTP, waiting).
//! - [`ingest`]: answers of `POST /in/{source}`: rejections, rotation, encodings, dedup.
//! - [`delivery`]: forwarding, fan-out, `match`, delays, retries, dead jobs.
//! - [`presets`]: every provider preset, its vectors, splitting and handshakes.
//! - [`ordering`]: priority within a queue, per-key FIFO under concurrency.
//! - [`lease`]: a job held by a vanished worker comes back while the node runs.
//! - [`metrics`]: `/metrics` read by Prometheus's own parser counts what was sent.
//! - [`shutdown`]: graceful drain within the grace, release beyond it.
//! - [`durability`]: `synchronous=FULL` and group commit under load.
//! - [`crash`]: the real binary killed with SIGKILL under load loses nothing acknowledged.
//! - [`example_config`]: the bundled `hookd.example.toml` loads.
//! - [`architecture`]: stages never import backwards.
//! - [`api`]: the management API under `/v1`, every operation over real HTTP.
//! - [`retention`]: old events pruned in the background while ingest continues.
//! - [`postgres`]: the gateway on PostgreSQL, up to three nodes sharing one schema
//!   (`HOOKD_TEST_DATABASE_URL`).

mod support;

mod api;
mod architecture;
mod crash;
mod delivery;
mod durability;
mod example_config;
mod ingest;
mod lease;
mod metrics;
mod ordering;
mod postgres;
mod presets;
mod retention;
mod shutdown;
