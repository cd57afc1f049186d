//! Maintenance duties that keep the queues honest over time, one duty per file. So far:
//! the lease rescuer, retention and the stats. Cron arrives with its own duty; on
//! PostgreSQL they will run on the leader only (except the stats flush, which every node
//! makes for its own counts).

mod lease_rescuer;
mod retention;
mod stats;

use crate::runtime::Services;

/// Starts every maintenance duty on the services' task tracker.
pub(crate) fn start(services: &Services) {
    services.tracker.spawn(lease_rescuer::run(services.clone()));
    services.tracker.spawn(retention::run(services.clone()));
    services.tracker.spawn(stats::run(services.clone()));
}

/// Adds the stats this node counted to the store: the last flush, made by the runtime on
/// shutdown once every other task has stopped and before the store closes.
pub(crate) async fn flush_stats(services: &Services) {
    stats::flush(services).await;
}
