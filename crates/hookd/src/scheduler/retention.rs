//! The retention duty: deletes finished events, with their jobs and attempts, once they
//! are older than `[retention]` allows, and dedup keys once no source's window covers
//! them.
//!
//! Once at start and then every `retention.interval`, a pass calls
//! [`Store::event_prune`](hookd_store::Store::event_prune) batch after batch of
//! `retention.batch`, yielding between batches, until a batch comes back short. Each
//! batch is one short transaction in the store's group commit, so ingest commits in
//! between and never waits for a pass. Settings are read at every pass, so an edited
//! configuration takes effect at the next one. A pass stops early on shutdown; what it
//! did not reach waits for the next start.

use hookd_store::{EventPrune, Millis, PruneCount};

use crate::clock;
use crate::config::{Config, check};
use crate::runtime::Services;

#[tracing::instrument(name = "retention", skip_all)]
pub(super) async fn run(services: Services) {
    loop {
        prune(&services).await;
        let period = services.config.borrow().retention.interval;
        tokio::select! {
            () = services.shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
    }
}

/// One pass: batches until one is short, the store fails, or shutdown begins.
async fn prune(services: &Services) {
    let mut total = PruneCount::default();
    loop {
        if services.shutdown.is_cancelled() {
            break;
        }
        let (params, limit) = {
            let config = services.config.borrow();
            (
                prune_params(&config, clock::now_millis()),
                config.retention.batch,
            )
        };
        match services.store.event_prune(params).await {
            Ok(count) => {
                total.events += count.events;
                total.dedup_keys += count.dedup_keys;
                let full = u64::from(limit);
                if count.events < full && count.dedup_keys < full {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "old events could not be pruned; trying again next pass");
                break;
            }
        }
        // Let ingest and dispatch run between two batches.
        tokio::task::yield_now().await;
    }
    if total.events > 0 {
        tracing::info!(
            events = total.events,
            dedup_keys = total.dedup_keys,
            "pruned old events"
        );
    } else if total.dedup_keys > 0 {
        tracing::debug!(dedup_keys = total.dedup_keys, "pruned expired dedup keys");
    }
}

/// The cut-offs of a batch at `now` under `config`. Dedup keys are kept for the longest
/// `dedup_window` of any configured source (the default window when there is none).
fn prune_params(config: &Config, now: Millis) -> EventPrune {
    let retention = &config.retention;
    let longest_window = config
        .sources
        .values()
        .map(|s| s.dedup_window)
        .max()
        .unwrap_or(check::DEDUP_WINDOW_DEFAULT);
    EventPrune {
        succeeded_before: now.saturating_sub(clock::millis(retention.succeeded)),
        dead_before: now.saturating_sub(clock::millis(retention.dead)),
        dedup_before: now.saturating_sub(clock::millis(longest_window)),
        limit: retention.batch,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn cut_offs_follow_the_configuration() {
        let text = "[retention]\nsucceeded = \"1s\"\ndead = \"1h\"\nbatch = 9\n\
                    [sources.a]\nsecrets = \"s\"\nsignature_header = \"x-sig\"\ndedup_window = \"2h\"\n\
                    [sources.b]\nsecrets = \"s\"\nsignature_header = \"x-sig\"\ndedup_window = \"3h\"\n";
        let (config, _) = crate::config::load_str(text, Vec::<(String, String)>::new())
            .expect("the configuration loads");
        let now = 10 * 60 * 60 * 1000;
        let params = prune_params(&config, now);
        assert_eq!(params.succeeded_before, now - 1000);
        assert_eq!(params.dead_before, now - 60 * 60 * 1000);
        assert_eq!(params.dedup_before, now - 3 * 60 * 60 * 1000);
        assert_eq!(params.limit, 9);
        assert_eq!(config.retention.interval, Duration::from_secs(60));
    }

    #[test]
    fn without_sources_dedup_keys_last_the_default_window() {
        let (config, _) = crate::config::load_str("", Vec::<(String, String)>::new())
            .expect("the configuration loads");
        let params = prune_params(&config, 100 * 24 * 60 * 60 * 1000);
        assert_eq!(
            params.dedup_before,
            100 * 24 * 60 * 60 * 1000 - clock::millis(check::DEDUP_WINDOW_DEFAULT)
        );
    }
}
