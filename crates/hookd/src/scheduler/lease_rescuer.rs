//! The lease rescuer: brings back jobs whose worker stopped renewing its lease (a crashed
//! process, a lost node, a hung task), so that nothing claimed is ever stranded.
//!
//! Every `rescue_interval`, and once at start, running jobs whose lease has expired are
//! moved to `retrying`, due at once, with a `lease_expired` attempt recorded; a job that
//! had used all its queue's attempts goes `dead` instead, so a job that kills its worker
//! every time cannot loop forever.

use std::collections::HashMap;

use hookd_store::JobRescue;
use tokio::time::MissedTickBehavior;

use crate::clock;
use crate::config::QueueConfig;
use crate::runtime::Services;

/// How many expired jobs one pass takes back at most; a larger backlog takes several
/// passes, so that one pass never holds the writer long.
const RESCUE_BATCH_DEFAULT: u32 = 1000;

#[tracing::instrument(name = "lease_rescuer", skip_all)]
pub(super) async fn run(services: Services) {
    let period = services.config.borrow().server.rescue_interval;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = services.shutdown.cancelled() => return,
            _ = tick.tick() => rescue(&services).await,
        }
    }
}

async fn rescue(services: &Services) {
    let max_attempts: HashMap<String, u32> = services
        .config
        .borrow()
        .queues
        .iter()
        .map(|(name, q)| (name.clone(), q.max_attempts))
        .collect();
    let rescue = JobRescue {
        now: clock::now_millis(),
        max_attempts,
        default_max_attempts: QueueConfig::defaults("").max_attempts,
        limit: RESCUE_BATCH_DEFAULT,
    };
    match services.store.job_rescue_expired(rescue).await {
        Ok(rescued) => {
            for job in rescued {
                tracing::warn!(
                    job_id = job.job_id, queue = %job.queue, lost_by = %job.lost_by, dead = job.dead,
                    "lease expired; job taken back"
                );
            }
        }
        Err(error) => tracing::warn!(%error, "expired leases could not be rescued"),
    }
}
