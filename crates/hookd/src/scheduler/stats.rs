//! The stats duty: adds what this node counted to the store, and keeps the rollups
//! compact.
//!
//! Every `stats.flush_interval` it takes the node's counts ([`Stats::take`]) and adds them
//! with [`Store::stats_add`](hookd_store::Store::stats_add), one minute row per source or
//! queue; when the store refuses, the counts go back ([`Stats::restore`]) and ride with
//! the next flush, so nothing counted is lost. The last flush is made by the runtime once
//! every other task has stopped and before the store closes ([`flush`]), so the counts of
//! the last requests and jobs are kept too.
//!
//! At start and then every [`COMPACT_INTERVAL_DEFAULT`], a pass calls
//! [`Store::stats_compact`](hookd_store::Store::stats_compact) batch after batch of
//! [`COMPACT_BATCH_DEFAULT`], yielding between batches, until a batch comes back short:
//! minute rows of whole hours older than `stats.minute_rollups` are merged into hourly
//! rows, and hourly rows older than `stats.keep` are deleted. Settings are read at every
//! flush and pass, so an edited configuration takes effect at the next one.
//!
//! [`Stats::take`]: crate::telemetry::stats::Stats::take
//! [`Stats::restore`]: crate::telemetry::stats::Stats::restore

use std::time::Duration;

use hookd_store::{HOUR_MS, Millis, StatsCompact};
use tokio::time::Instant;

use crate::clock;
use crate::config::StatsConfig;
use crate::runtime::Services;

/// How often the rollups are compacted. Minute rows are merged only once their hour is
/// older than `stats.minute_rollups`, so a pass every few minutes keeps up.
const COMPACT_INTERVAL_DEFAULT: Duration = Duration::from_secs(5 * 60);

/// Rows merged or deleted per compaction batch (one short transaction each).
const COMPACT_BATCH_DEFAULT: u32 = 500;

#[tracing::instrument(name = "stats", skip_all)]
pub(super) async fn run(services: Services) {
    compact(&services).await;
    let mut compacted = Instant::now();
    loop {
        let period = services.config.borrow().stats.flush_interval;
        tokio::select! {
            // The runtime makes the last flush once every other task has stopped.
            () = services.shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        flush(&services).await;
        if compacted.elapsed() >= COMPACT_INTERVAL_DEFAULT {
            compact(&services).await;
            compacted = Instant::now();
        }
    }
}

/// Adds everything counted so far to the store; on failure the counts are kept for the
/// next flush.
pub(super) async fn flush(services: &Services) {
    let deltas = services.stats.take();
    if deltas.is_empty() {
        return;
    }
    let rows = deltas.len();
    if let Err(error) = services.store.stats_add(deltas.clone()).await {
        tracing::warn!(%error, rows, "stats could not be stored; kept for the next flush");
        services.stats.restore(deltas);
    } else {
        tracing::trace!(rows, "stats stored");
    }
}

/// One compaction pass: batches until one is short, the store fails, or shutdown begins.
async fn compact(services: &Services) {
    let mut total = 0;
    loop {
        if services.shutdown.is_cancelled() {
            break;
        }
        let params = {
            let config = services.config.borrow();
            compact_params(&config.stats, clock::now_millis())
        };
        match services.store.stats_compact(params).await {
            Ok(count) => {
                total += count;
                if count < u64::from(params.limit) {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "stats could not be compacted; trying again next pass");
                break;
            }
        }
        // Let ingest and dispatch run between two batches.
        tokio::task::yield_now().await;
    }
    if total > 0 {
        tracing::debug!(rows = total, "stats compacted");
    }
}

/// The cut-offs of a compaction batch at `now`: minute rows are merged only for whole
/// hours that started before `minute_rollups` ago, so an hourly row is made once, from
/// every minute of its hour.
fn compact_params(stats: &StatsConfig, now: Millis) -> StatsCompact {
    let minutes_before = now.saturating_sub(clock::millis(stats.minute_rollups));
    StatsCompact {
        minutes_before: minutes_before - minutes_before.rem_euclid(HOUR_MS),
        hours_before: now.saturating_sub(clock::millis(stats.keep)),
        limit: COMPACT_BATCH_DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_offs_follow_the_configuration_and_whole_hours() {
        let (config, _) = crate::config::load_str(
            "[stats]\nminute_rollups = \"2h\"\nkeep = \"1d\"\n",
            Vec::<(String, String)>::new(),
        )
        .expect("the configuration loads");
        let now = 100 * HOUR_MS + 25 * 60_000;
        let params = compact_params(&config.stats, now);
        assert_eq!(params.minutes_before, 98 * HOUR_MS);
        assert_eq!(params.hours_before, now - 24 * HOUR_MS);
        assert_eq!(params.limit, COMPACT_BATCH_DEFAULT);
    }
}
