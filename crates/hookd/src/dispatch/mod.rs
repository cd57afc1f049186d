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

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::runtime::Services;
use crate::targets::http::HttpTarget;

/// Starts one pool per configured queue on the services' task tracker, and keeps it so
/// as the configuration changes (see [`supervise`]).
pub(crate) fn start(services: &Services, http: &Arc<HttpTarget>) {
    let mut pools = Pools {
        services: services.clone(),
        http: Arc::clone(http),
        running: HashSet::new(),
        ended: mpsc::unbounded_channel(),
    };
    // At once, so that the queues of the file claim from the first moment.
    pools.start_missing();
    services.tracker.spawn(supervise(pools));
}

/// The pools of this node, by queue.
struct Pools {
    services: Services,
    http: Arc<HttpTarget>,
    /// The queues whose pool runs.
    running: HashSet<String>,
    /// Each pool sends its queue when it ends.
    ended: (
        mpsc::UnboundedSender<String>,
        mpsc::UnboundedReceiver<String>,
    ),
}

impl Pools {
    /// Starts a pool for every configured queue that has none.
    fn start_missing(&mut self) {
        let queues: Vec<String> = self
            .services
            .config
            .borrow()
            .queues
            .keys()
            .cloned()
            .collect();
        for queue in queues {
            if self.running.insert(queue.clone()) {
                let pool =
                    pool::Pool::new(self.services.clone(), queue.clone(), Arc::clone(&self.http));
                let ended = self.ended.0.clone();
                self.services.tracker.spawn(async move {
                    pool.run().await;
                    // The supervisor is gone only at shutdown, when nothing restarts.
                    let _ = ended.send(queue);
                });
            }
        }
    }
}

/// Keeps one pool per configured queue while the configuration changes: a queue that
/// appears gets its pool at once; a deleted queue's pool stops by itself once it runs
/// nothing (and a queue that comes back before then keeps it); a pool that ended is
/// started again if its queue is configured by then.
async fn supervise(mut pools: Pools) {
    let mut config = pools.services.config.clone();
    config.mark_unchanged();
    loop {
        tokio::select! {
            () = pools.services.shutdown.cancelled() => return,
            changed = config.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            Some(queue) = pools.ended.1.recv() => {
                pools.running.remove(&queue);
            }
        }
        pools.start_missing();
    }
}
