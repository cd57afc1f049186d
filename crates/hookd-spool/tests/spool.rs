//! The spool in front of a real PostgreSQL store, reached through a TCP proxy the tests
//! cut: events are answered while the database cannot be reached, moved into it in
//! arrival order and exactly once (also when the node stopped between the database's
//! commit and the spool's delete), and refused beyond the spool's limit.
//!
//! The database comes from `HOOKD_TEST_DATABASE_URL`; without it the tests pass with a
//! note, except under CI.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookd_spool::{SPOOL_FILE, SpoolOptions, SpooledStore};
use hookd_store::conformance::{T0, new_event, new_job};
use hookd_store::{InsertOutcome, NewEvent, Readiness, SpoolStats, Store, StoreError};
use hookd_store_postgres::PostgresStore;
use tempfile::TempDir;

use support::{Proxy, TestDatabase};

/// How long the drain may take to notice the database is back and move everything.
const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// A spool of `max_bytes` in a fresh directory, in front of a store reached through a
/// proxy.
struct Setup {
    database: TestDatabase,
    proxy: Proxy,
    dir: TempDir,
}

impl Setup {
    async fn new() -> Option<Self> {
        let database = TestDatabase::create()?;
        let proxy = Proxy::start(database.server()).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        Some(Self {
            database,
            proxy,
            dir,
        })
    }

    async fn open(&self, max_bytes: u64) -> SpooledStore<PostgresStore> {
        let inner = Arc::new(support::open(&self.database, Some(&self.proxy)).await);
        SpooledStore::open(
            inner,
            SpoolOptions {
                path: self.dir.path().join(SPOOL_FILE),
                max_bytes,
            },
        )
        .await
        .expect("opening the spool")
    }
}

fn inserted(id: &str) -> InsertOutcome {
    InsertOutcome::Inserted { id: id.to_owned() }
}

/// An event with one job on queue `q`, its dedup key its id.
fn event(id: &str) -> NewEvent {
    new_event(id, vec![new_job("q")])
}

async fn insert(store: &dyn Store, events: Vec<NewEvent>) -> Vec<InsertOutcome> {
    store
        .event_insert_with_jobs(events)
        .await
        .expect("the events are taken")
}

fn stats(store: &dyn Store) -> SpoolStats {
    store
        .spool_stats()
        .expect("a spooled store has spool stats")
}

/// Waits until the spool is empty.
async fn drained(store: &dyn Store) -> SpoolStats {
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let now = stats(store);
        if now.events == 0 {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the spool still holds {now:?} after {DRAIN_WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The id of the one job of each event, read from the database directly.
async fn job_ids(direct: &PostgresStore, events: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for id in events {
        let jobs = direct.job_list_for_event(id).await.expect("listing jobs");
        assert_eq!(jobs.len(), 1, "{id} has exactly one job: {jobs:#?}");
        ids.push(jobs[0].id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_answers_while_postgres_is_unreachable_and_moves_events_in_order_once() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    let store = setup.open(1024 * 1024).await;
    let direct = support::open(&setup.database, None).await;

    assert_eq!(
        insert(&store, vec![event("evt_1")]).await,
        [inserted("evt_1")]
    );
    assert_eq!(
        stats(&store).events,
        0,
        "a healthy store bypasses the spool"
    );
    assert_eq!(store.readiness().await.expect("ready"), Readiness::Ready);

    setup.proxy.cut();
    // The first call finds out by failing against the store; the later ones go straight
    // to the spool, behind it.
    assert_eq!(
        insert(&store, vec![event("evt_2")]).await,
        [inserted("evt_2")]
    );
    assert_eq!(
        insert(&store, vec![event("evt_3"), event("evt_4")]).await,
        [inserted("evt_3"), inserted("evt_4")]
    );
    // A provider's retry of a spooled event: recognised by the spool.
    let retry_of_spooled = NewEvent {
        dedup_key: "evt_2".to_owned(),
        received_at: T0 + 1,
        ..event("evt_2_retry")
    };
    assert_eq!(
        insert(&store, vec![retry_of_spooled]).await,
        [InsertOutcome::Duplicate {
            original_id: "evt_2".to_owned()
        }]
    );
    // A provider's retry of an event the database holds: the spool cannot know yet.
    let retry_of_stored = NewEvent {
        dedup_key: "evt_1".to_owned(),
        received_at: T0 + 1,
        ..event("evt_1_retry")
    };
    assert_eq!(
        insert(&store, vec![retry_of_stored]).await,
        [inserted("evt_1_retry")]
    );
    let held = stats(&store);
    assert_eq!((held.events, held.spooled), (4, 4), "{held:?}");
    assert!(held.bytes > 0, "{held:?}");
    match store.readiness().await.expect("the spool takes writes") {
        Readiness::Degraded { reason } => assert!(reason.contains("spooling"), "{reason}"),
        Readiness::Ready => panic!("ready while spooling"),
    }
    assert_eq!(
        direct.event_get("evt_2").await.expect("reading"),
        None,
        "nothing reached the database while it was cut off"
    );

    setup.proxy.restore();
    let after = drained(&store).await;
    assert_eq!((after.moved, after.dropped_duplicates), (3, 1), "{after:?}");
    let ids = job_ids(&direct, &["evt_1", "evt_2", "evt_3", "evt_4"]).await;
    assert!(ids.is_sorted(), "jobs follow arrival order: {ids:?}");
    assert_eq!(
        direct.event_get("evt_1_retry").await.expect("reading"),
        None
    );
    assert_eq!(
        direct.event_get("evt_2_retry").await.expect("reading"),
        None
    );
    assert_eq!(store.readiness().await.expect("ready"), Readiness::Ready);

    // Back to the database directly.
    assert_eq!(
        insert(&store, vec![event("evt_5")]).await,
        [inserted("evt_5")]
    );
    assert_eq!(stats(&store).spooled, 4);
    assert!(direct.event_get("evt_5").await.expect("reading").is_some());
    store.close().await;
    direct.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_moves_a_batch_once_when_the_node_stopped_before_deleting_it() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    let direct = support::open(&setup.database, None).await;
    let events = vec![event("evt_a"), event("evt_b"), event("evt_c")];

    // Opened while the database answers, spooled while it is cut off, closed before the
    // drain could move anything.
    let store = setup.open(1024 * 1024).await;
    setup.proxy.cut();
    for event in &events {
        insert(&store, vec![event.clone()]).await;
    }
    assert_eq!(stats(&store).events, 3);
    store.close().await;

    // The drain's batch reached the database, and the node stopped before the spool
    // deleted it: what a crash between the two commits leaves.
    assert_eq!(
        insert(&direct, events).await,
        [inserted("evt_a"), inserted("evt_b"), inserted("evt_c")]
    );

    setup.proxy.restore();
    let store = setup.open(1024 * 1024).await;
    assert_eq!(
        stats(&store).events,
        3,
        "the spool kept its events across the stop"
    );
    let after = drained(&store).await;
    assert_eq!((after.moved, after.dropped_duplicates), (3, 0), "{after:?}");
    let ids = job_ids(&direct, &["evt_a", "evt_b", "evt_c"]).await;
    assert!(ids.is_sorted(), "{ids:?}");
    store.close().await;
    direct.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_refuses_events_beyond_its_limit_as_unavailable() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    // Room for a few small events.
    let store = setup.open(1_000).await;
    setup.proxy.cut();
    let mut taken = 0;
    let refused = loop {
        match store
            .event_insert_with_jobs(vec![event(&format!("evt_{taken}"))])
            .await
        {
            Ok(outcomes) => {
                assert_eq!(outcomes, [inserted(&format!("evt_{taken}"))]);
                taken += 1;
                assert!(taken < 100, "the spool never filled up");
            }
            Err(error) => break error,
        }
    };
    assert!(taken > 0, "the spool took nothing");
    assert!(
        matches!(refused, StoreError::Unavailable { .. }),
        "a full spool is unavailable, which ingest answers 503: {refused:?}"
    );
    let cause = std::error::Error::source(&refused).map(ToString::to_string);
    assert!(
        cause.as_deref().is_some_and(|c| c.contains("full")),
        "{cause:?}"
    );
    let held = stats(&store);
    assert_eq!(
        held.events, taken,
        "the refused event was not kept: {held:?}"
    );
    assert!(held.bytes <= held.max_bytes, "{held:?}");
    assert!(
        store.readiness().await.is_err(),
        "not ready while the spool is full and the database unreachable"
    );

    setup.proxy.restore();
    let after = drained(&store).await;
    assert_eq!(after.moved, taken);
    assert_eq!(store.readiness().await.expect("ready"), Readiness::Ready);
    store.close().await;
}
