//! Dispatch: the per-queue worker pools that work jobs off.
//!
//! Each queue gets one pool ([`pool`]) on each node. A pool claims at most as many due
//! jobs as it has free slots (the store orders them by priority, then `run_at`, then
//! arrival, and holds back later jobs of a busy ordering key), runs each on its target
//! ([`executor`]), renews the leases of what it is running, and on shutdown lets running
//! jobs finish within the grace period before giving the rest back. The retry schedule
//! lives in [`backoff`].

pub(crate) mod backoff;
mod executor;
mod pool;

use std::sync::Arc;

use crate::runtime::Services;
use crate::targets::http::HttpTarget;

/// Starts one pool per configured queue on the services' task tracker.
pub(crate) fn start(services: &Services, http: &Arc<HttpTarget>) {
    let queues: Vec<String> = services.config.borrow().queues.keys().cloned().collect();
    for queue in queues {
        let pool = pool::Pool::new(services.clone(), queue, Arc::clone(http));
        services.tracker.spawn(pool.run());
    }
}
