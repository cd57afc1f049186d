//! Conformance cases of the stats rollups ([`Store::stats_add`], [`Store::stats_read`],
//! [`Store::stats_compact`]): counts add up per scope, name and minute, across calls and
//! within one; a read sums a period per name; compaction into hour rows changes no sum
//! over whole hours, respects its limit, and deletes old hour rows.

use super::T0;
use crate::{
    HOUR_MS, MINUTE_MS, Millis, StatsCompact, StatsDelta, StatsQuery, StatsRollup, StatsRow,
    StatsScope, Store,
};

/// The start of the hour that holds [`T0`]: rollup periods are whole minutes and hours.
const HOUR0: Millis = T0 - T0 % HOUR_MS;

/// The start of minute `n` of hour `h` after [`HOUR0`].
fn minute(h: i64, n: i64) -> Millis {
    HOUR0 + h * HOUR_MS + n * MINUTE_MS
}

/// Counts of `received` events and `succeeded` attempts.
fn counts(received: u64, succeeded: u64) -> StatsRollup {
    StatsRollup {
        received,
        succeeded,
        ..StatsRollup::default()
    }
}

/// A delta for source `name` of tenant `acme`.
fn source(name: &str, minute: Millis, rollup: StatsRollup) -> StatsDelta {
    StatsDelta {
        scope: StatsScope::Source,
        name: name.to_owned(),
        tenant: "acme".to_owned(),
        minute,
        rollup,
    }
}

/// A delta for queue `name` (tenant `*`).
fn queue(name: &str, minute: Millis, rollup: StatsRollup) -> StatsDelta {
    StatsDelta {
        scope: StatsScope::Queue,
        tenant: "*".to_owned(),
        ..source(name, minute, rollup)
    }
}

/// Every source of every tenant over `[from, until)`.
fn sources(from: Millis, until: Millis) -> StatsQuery {
    StatsQuery {
        scope: StatsScope::Source,
        tenant: None,
        name: None,
        from,
        until,
    }
}

fn row(name: &str, tenant: &str, rollup: StatsRollup) -> StatsRow {
    StatsRow {
        name: name.to_owned(),
        tenant: tenant.to_owned(),
        rollup,
    }
}

async fn add(store: &dyn Store, deltas: Vec<StatsDelta>) {
    store.stats_add(deltas).await.expect("stats_add");
}

async fn read(store: &dyn Store, query: StatsQuery) -> Vec<StatsRow> {
    store.stats_read(query).await.expect("stats_read")
}

async fn compact(
    store: &dyn Store,
    minutes_before: Millis,
    hours_before: Millis,
    limit: u32,
) -> u64 {
    store
        .stats_compact(StatsCompact {
            minutes_before,
            hours_before,
            limit,
        })
        .await
        .expect("stats_compact")
}

/// A rollup with every kind of figure set: counters, maps, histograms, the latest
/// arrival.
fn full_rollup(seed: i64) -> StatsRollup {
    let mut rollup = StatsRollup {
        received: 10,
        duplicates: 2,
        succeeded: 7,
        failed: 3,
        dead: 1,
        last_received_at: Some(T0 + seed),
        ..StatsRollup::default()
    };
    rollup.rejected.insert("signature_mismatch".to_owned(), 4);
    rollup.rejected.insert("body_too_large".to_owned(), 1);
    for v in [0, 1, 17, 250, 9_000, 86_400_000 + seed] {
        rollup.processing_ms.record(v);
        rollup.lag_provider_ms.record(v * 2);
        rollup.lag_commit_ms.record(v / 2);
        rollup.lag_first_attempt_ms.record(v + 5);
        rollup.lag_succeeded_ms.record(v + 50);
    }
    rollup.count_error("HTTP 503", 2);
    rollup.count_error("connection refused: \"app\" → 127.0.0.1:9000", 1);
    rollup
}

/// Deltas of one minute row add up, whether they come in one call or in several; the
/// latest arrival is the latest of them.
pub async fn stats_add_accumulates(store: &dyn Store) {
    assert_eq!(read(store, sources(HOUR0, HOUR0 + HOUR_MS)).await, vec![]);

    let mut first = counts(1, 1);
    first.last_received_at = Some(T0 + 20);
    first.rejected.insert("signature_mismatch".to_owned(), 1);
    let mut second = counts(2, 0);
    second.last_received_at = Some(T0 + 10);
    second.rejected.insert("signature_mismatch".to_owned(), 2);
    second.count_error("HTTP 500", 1);
    add(
        store,
        vec![
            source("shop", minute(0, 1), first),
            source("shop", minute(0, 1), second),
        ],
    )
    .await;
    let mut third = counts(4, 3);
    third.count_error("HTTP 500", 2);
    add(store, vec![source("shop", minute(0, 1), third)]).await;

    let mut want = counts(7, 4);
    want.last_received_at = Some(T0 + 20);
    want.rejected.insert("signature_mismatch".to_owned(), 3);
    want.errors.insert("HTTP 500".to_owned(), 3);
    assert_eq!(
        read(store, sources(minute(0, 1), minute(0, 2))).await,
        vec![row("shop", "acme", want)]
    );
}

/// Rows of different minutes, names and scopes stay apart: a read of one minute sees
/// only that minute, each name gets its own row, and a scope sees only its own rows.
pub async fn stats_add_keeps_rows_apart(store: &dyn Store) {
    add(
        store,
        vec![
            source("shop", minute(0, 1), counts(1, 0)),
            source("shop", minute(0, 2), counts(10, 0)),
            source("billing", minute(0, 1), counts(100, 0)),
            queue("shop", minute(0, 1), counts(1_000, 0)),
        ],
    )
    .await;

    assert_eq!(
        read(store, sources(minute(0, 1), minute(0, 2))).await,
        vec![
            row("billing", "acme", counts(100, 0)),
            row("shop", "acme", counts(1, 0)),
        ]
    );
    assert_eq!(
        read(store, sources(minute(0, 2), minute(0, 3))).await,
        vec![row("shop", "acme", counts(10, 0))]
    );
    let queues = StatsQuery {
        scope: StatsScope::Queue,
        ..sources(HOUR0, HOUR0 + HOUR_MS)
    };
    assert_eq!(
        read(store, queues).await,
        vec![row("shop", "*", counts(1_000, 0))]
    );
}

/// A read sums every row of a name whose period starts within `[from, until)`, keeps
/// to the tenant and the name asked for, and orders rows by name.
pub async fn stats_read_period_and_filters(store: &dyn Store) {
    let other = |name: &str, minute, rollup| StatsDelta {
        tenant: "globex".to_owned(),
        ..source(name, minute, rollup)
    };
    add(
        store,
        vec![
            source("shop", minute(0, 0), counts(1, 0)),
            source("shop", minute(0, 5), counts(2, 0)),
            source("shop", minute(0, 10), counts(4, 0)),
            other("crm", minute(0, 5), counts(8, 0)),
            source("billing", minute(0, 9), counts(16, 0)),
            source("audit", minute(0, 10), counts(32, 0)),
        ],
    )
    .await;

    // `from` is in, `until` is out; names without rows in the period are absent.
    let period = sources(minute(0, 0), minute(0, 10));
    assert_eq!(
        read(store, period.clone()).await,
        vec![
            row("billing", "acme", counts(16, 0)),
            row("crm", "globex", counts(8, 0)),
            row("shop", "acme", counts(3, 0)),
        ]
    );
    assert_eq!(
        read(store, sources(minute(0, 1), minute(0, 11))).await,
        vec![
            row("audit", "acme", counts(32, 0)),
            row("billing", "acme", counts(16, 0)),
            row("crm", "globex", counts(8, 0)),
            row("shop", "acme", counts(6, 0)),
        ]
    );
    assert_eq!(
        read(store, sources(minute(0, 11), minute(1, 0))).await,
        vec![]
    );

    let tenant = StatsQuery {
        tenant: Some("globex".to_owned()),
        ..period.clone()
    };
    assert_eq!(
        read(store, tenant).await,
        vec![row("crm", "globex", counts(8, 0))]
    );
    let name = StatsQuery {
        name: Some("shop".to_owned()),
        ..period.clone()
    };
    assert_eq!(
        read(store, name).await,
        vec![row("shop", "acme", counts(3, 0))]
    );
    let both = StatsQuery {
        tenant: Some("globex".to_owned()),
        name: Some("shop".to_owned()),
        ..period
    };
    assert_eq!(read(store, both).await, vec![]);
}

/// Compaction merges old minute rows into the row of their hour: a read over whole
/// hours sums the same before and after, minutes younger than the cut-off stay minute
/// rows, and minutes compacted later join the hour row already there.
pub async fn stats_compact_merges_minutes_into_hours(store: &dyn Store) {
    add(
        store,
        vec![
            source("shop", minute(0, 0), counts(1, 1)),
            source("shop", minute(0, 59), counts(2, 0)),
            source("shop", minute(1, 30), counts(4, 2)),
            source("billing", minute(1, 31), counts(8, 0)),
            queue("bulk", minute(0, 7), counts(16, 16)),
            source("shop", minute(2, 1), counts(32, 0)),
        ],
    )
    .await;
    let all = sources(HOUR0, HOUR0 + 3 * HOUR_MS);
    let before = read(store, all.clone()).await;
    let queues = StatsQuery {
        scope: StatsScope::Queue,
        ..all.clone()
    };
    let queues_before = read(store, queues.clone()).await;

    assert_eq!(compact(store, minute(2, 0), HOUR0, 100).await, 5);
    assert_eq!(read(store, all.clone()).await, before);
    assert_eq!(read(store, queues).await, queues_before);
    // Each hour row starts at its hour, and holds that hour's minutes only.
    assert_eq!(
        read(store, sources(HOUR0, HOUR0 + 1)).await,
        vec![row("shop", "acme", counts(3, 1))]
    );
    assert_eq!(
        read(store, sources(minute(1, 0), minute(1, 1))).await,
        vec![
            row("billing", "acme", counts(8, 0)),
            row("shop", "acme", counts(4, 2)),
        ]
    );
    // The minutes of the third hour are younger than the cut-off: still minute rows.
    assert_eq!(
        read(store, sources(minute(2, 1), minute(2, 2))).await,
        vec![row("shop", "acme", counts(32, 0))]
    );
    assert_eq!(
        compact(store, minute(2, 0), HOUR0, 100).await,
        0,
        "nothing left"
    );

    // A late minute of a compacted hour is merged into the existing hour row.
    add(store, vec![source("shop", minute(0, 30), counts(64, 0))]).await;
    assert_eq!(compact(store, minute(2, 0), HOUR0, 100).await, 1);
    assert_eq!(
        read(store, sources(HOUR0, HOUR0 + 1)).await,
        vec![row("shop", "acme", counts(67, 1))]
    );
}

/// A compaction takes at most `limit` minute rows, oldest first, and deletes at most
/// `limit` hour rows, oldest first; sums over whole hours never change meanwhile.
pub async fn stats_compact_respects_limit(store: &dyn Store) {
    add(
        store,
        (1..=5)
            .map(|n| source("shop", minute(0, n), counts(1 << n, 0)))
            .collect(),
    )
    .await;
    let hour = sources(HOUR0, HOUR0 + HOUR_MS);
    let total = read(store, hour.clone()).await;

    assert_eq!(compact(store, minute(1, 0), HOUR0, 2).await, 2);
    assert_eq!(read(store, hour.clone()).await, total);
    // Minutes 1 and 2 went into the hour row (which starts at minute 0).
    assert_eq!(
        read(store, sources(minute(0, 1), minute(0, 3))).await,
        vec![]
    );
    assert_eq!(
        read(store, sources(minute(0, 3), minute(0, 6))).await,
        vec![row("shop", "acme", counts(8 + 16 + 32, 0))]
    );
    assert_eq!(compact(store, minute(1, 0), HOUR0, 2).await, 2);
    assert_eq!(compact(store, minute(1, 0), HOUR0, 2).await, 1);
    assert_eq!(compact(store, minute(1, 0), HOUR0, 2).await, 0);
    assert_eq!(read(store, hour).await, total);

    // Three more hour rows, four in all: a call of three deletes the oldest three.
    add(
        store,
        (1..=3)
            .map(|h| source("shop", minute(h, 0), counts(1, 0)))
            .collect(),
    )
    .await;
    assert_eq!(compact(store, minute(4, 0), HOUR0, 10).await, 3);
    assert_eq!(compact(store, minute(4, 0), minute(4, 0), 3).await, 3);
    assert_eq!(read(store, sources(HOUR0, minute(3, 0))).await, vec![]);
    assert_eq!(
        read(store, sources(minute(3, 0), minute(4, 0))).await,
        vec![row("shop", "acme", counts(1, 0))],
        "the newest hour row is left"
    );
    assert_eq!(compact(store, minute(4, 0), minute(4, 0), 3).await, 1);
    assert_eq!(compact(store, minute(4, 0), minute(4, 0), 3).await, 0);
    assert_eq!(read(store, sources(HOUR0, minute(4, 0))).await, vec![]);
}

/// Hour rows of hours that started before `hours_before` are deleted in the same call
/// that compacts; younger hour rows and young minute rows stay.
pub async fn stats_compact_deletes_old_hours(store: &dyn Store) {
    add(
        store,
        vec![
            source("shop", minute(0, 10), counts(1, 0)),
            queue("bulk", minute(0, 20), counts(2, 0)),
            source("shop", minute(1, 10), counts(4, 0)),
        ],
    )
    .await;
    assert_eq!(compact(store, minute(2, 0), HOUR0, 100).await, 3);

    add(store, vec![source("shop", minute(2, 5), counts(8, 0))]).await;
    // Hour 0 goes (both scopes); hour 1 and the minute of hour 2 stay.
    assert_eq!(compact(store, minute(2, 0), minute(1, 0), 100).await, 2);
    assert_eq!(
        read(store, sources(HOUR0, minute(3, 0))).await,
        vec![row("shop", "acme", counts(12, 0))]
    );
    let queues = StatsQuery {
        scope: StatsScope::Queue,
        ..sources(HOUR0, minute(3, 0))
    };
    assert_eq!(read(store, queues).await, vec![]);
}

/// Histograms, maps of counts and the latest arrival come back as written, from a
/// minute row, and summed from an hour row.
pub async fn stats_roundtrip_keeps_histograms_and_errors(store: &dyn Store) {
    let (a, b) = (full_rollup(1), full_rollup(2));
    add(
        store,
        vec![
            source("shop", minute(0, 1), a.clone()),
            source("shop", minute(0, 2), b.clone()),
        ],
    )
    .await;
    assert_eq!(
        read(store, sources(minute(0, 1), minute(0, 2))).await,
        vec![row("shop", "acme", a.clone())]
    );

    let mut sum = a;
    sum.merge(&b);
    assert_eq!(sum.processing_ms.count(), 12);
    let hour = sources(HOUR0, HOUR0 + HOUR_MS);
    assert_eq!(
        read(store, hour.clone()).await,
        vec![row("shop", "acme", sum.clone())]
    );
    assert_eq!(compact(store, minute(1, 0), HOUR0, 100).await, 2);
    assert_eq!(read(store, hour).await, vec![row("shop", "acme", sum)]);
}
