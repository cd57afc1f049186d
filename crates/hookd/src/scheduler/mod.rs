//! Maintenance duties that keep the queues honest over time, one duty per file. So far:
//! the lease rescuer and retention. Cron arrives with its own duty; on PostgreSQL
//! they will run on the leader only.

mod lease_rescuer;
mod retention;

use crate::runtime::Services;

/// Starts every maintenance duty on the services' task tracker.
pub(crate) fn start(services: &Services) {
    services.tracker.spawn(lease_rescuer::run(services.clone()));
    services.tracker.spawn(retention::run(services.clone()));
}
