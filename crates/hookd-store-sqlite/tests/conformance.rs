//! The one test binary of the SQLite store: the shared conformance suite on a fresh
//! store in a temporary directory per test, then what only the SQLite backend promises
//! (durability settings, group commit, migrations, reopening).

use hookd_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A fresh store in its own temporary directory, which lives as long as the guard.
async fn setup() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = SqliteStore::open(dir.path()).await.expect("open the store");
    (store, dir)
}

hookd_store::conformance_tests!(setup);

mod sqlite_only {
    use std::path::Path;
    use std::time::Duration;

    use futures::future::join_all;
    use hookd_store::conformance::{T0, new_event, new_job};
    use hookd_store::{
        AttemptRecord, EventListParams, InsertOutcome, JobClaim, JobCompletion, JobOutcome,
        JobState, Store, StoreChange, StoreError,
    };
    use hookd_store_sqlite::{DATABASE_FILE, SqliteStore};

    use super::setup;

    /// Opens the database file directly, beside the store, to look at what it wrote.
    fn inspect(dir: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(dir.join(DATABASE_FILE)).expect("open the database file")
    }

    fn migrations(dir: &Path) -> Vec<(i64, i64)> {
        let conn = inspect(dir);
        let mut stmt = conn
            .prepare("SELECT version, applied_at FROM schema_migrations ORDER BY version")
            .expect("prepare");
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[tokio::test]
    async fn writes_are_fsynced_in_wal_mode() {
        let (store, dir) = setup().await;
        assert_eq!(store.synchronous_pragma().await.expect("pragma"), 2, "FULL");
        let mode: String = inspect(dir.path())
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        store.close().await;
    }

    #[tokio::test]
    async fn concurrent_inserts_share_commits() {
        let (store, _dir) = setup().await;
        let before = store.commit_stats();
        let inserts = (0..200).map(|i| {
            let event = new_event(&format!("evt_{i:03}"), vec![new_job("q")]);
            store.event_insert_with_jobs(vec![event])
        });
        for (i, outcome) in join_all(inserts).await.into_iter().enumerate() {
            assert_eq!(
                outcome.expect("insert"),
                vec![InsertOutcome::Inserted {
                    id: format!("evt_{i:03}")
                }]
            );
        }
        let after = store.commit_stats();
        let commits = after.commits - before.commits;
        assert_eq!(after.operations - before.operations, 200);
        assert!(after.largest_batch > 1, "no group formed: {after:?}");
        assert!(commits < 200, "one commit per insert: {after:?}");
        store.close().await;
    }

    #[tokio::test]
    async fn one_failing_write_does_not_fail_its_group() {
        let (store, dir) = setup().await;
        // A trigger refuses one event, after its call's first event was written.
        rusqlite::Connection::open(dir.path().join(DATABASE_FILE))
            .and_then(|conn| {
                conn.execute_batch(
                    "CREATE TRIGGER refuse_clash BEFORE INSERT ON events
                     WHEN NEW.id = 'evt_clash' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                )
            })
            .expect("adding the trigger");
        let clash = new_event("evt_clash", vec![new_job("q")]);
        let results = join_all([
            store.event_insert_with_jobs(vec![new_event("evt_1", vec![new_job("q")])]),
            store.event_insert_with_jobs(vec![new_event("evt_2", vec![]), clash]),
            store.event_insert_with_jobs(vec![new_event("evt_3", vec![new_job("q")])]),
        ])
        .await;
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert!(
            matches!(results[1], Err(StoreError::Backend { .. })),
            "{:?}",
            results[1]
        );
        assert!(results[2].is_ok(), "{:?}", results[2]);
        assert!(store.event_get("evt_1").await.expect("get").is_some());
        assert!(store.event_get("evt_3").await.expect("get").is_some());
        assert_eq!(
            store.event_get("evt_2").await.expect("get"),
            None,
            "a failed call stores none of its events"
        );
        assert_eq!(store.event_get("evt_clash").await.expect("get"), None);
        store.close().await;
    }

    #[tokio::test]
    async fn data_survives_close_and_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let job_id = {
            let store = SqliteStore::open(dir.path()).await.expect("open");
            store
                .event_insert_with_jobs(vec![new_event("evt_kept", vec![new_job("q")])])
                .await
                .expect("insert");
            let batch = store
                .job_claim(JobClaim {
                    queue: "q".to_owned(),
                    limit: 1,
                    max_running: None,
                    now: T0,
                    lease_until: T0 + 1_000,
                    node: "n".to_owned(),
                })
                .await
                .expect("claim");
            store.close().await;
            batch.jobs[0].job.id
        };
        let store = SqliteStore::open(dir.path()).await.expect("reopen");
        let event = store
            .event_get("evt_kept")
            .await
            .expect("get")
            .expect("kept");
        assert_eq!(event.body, br#"{"id":1}"#.to_vec());
        let job = store.job_get(job_id).await.expect("get").expect("kept");
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.lease_owner.as_deref(), Some("n"));
        store.close().await;
    }

    #[tokio::test]
    async fn migrations_are_not_reapplied() {
        let dir = tempfile::tempdir().expect("temp dir");
        SqliteStore::open(dir.path())
            .await
            .expect("open")
            .close()
            .await;
        let first = migrations(dir.path());
        assert_eq!(
            first.iter().map(|m| m.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6, 7]
        );
        SqliteStore::open(dir.path())
            .await
            .expect("reopen")
            .close()
            .await;
        assert_eq!(migrations(dir.path()), first, "same rows, same applied_at");
    }

    #[tokio::test]
    async fn dropping_without_close_keeps_data_and_does_not_hang() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).await.expect("open");
        store
            .event_insert_with_jobs(vec![new_event("evt_dropped", vec![])])
            .await
            .expect("insert");
        drop(store);
        let store = SqliteStore::open(dir.path()).await.expect("reopen");
        assert!(store.event_get("evt_dropped").await.expect("get").is_some());
        store.close().await;
    }

    #[tokio::test]
    async fn finishing_a_keyed_job_wakes_its_queue() {
        let (store, _dir) = setup().await;
        let mut keyed = new_job("q");
        keyed.ordering_key = Some("k".to_owned());
        store
            .event_insert_with_jobs(vec![new_event("evt_k1", vec![keyed.clone()])])
            .await
            .expect("insert");
        store
            .event_insert_with_jobs(vec![new_event("evt_k2", vec![keyed])])
            .await
            .expect("insert");
        let batch = store
            .job_claim(JobClaim {
                queue: "q".to_owned(),
                limit: 10,
                max_running: None,
                now: T0,
                lease_until: T0 + 1_000,
                node: "n".to_owned(),
            })
            .await
            .expect("claim");
        assert_eq!(batch.jobs.len(), 1, "the second job waits for the first");
        let mut rx = store.subscribe();
        let applied = store
            .job_complete_many(vec![JobCompletion {
                job_id: batch.jobs[0].job.id,
                attempt: 1,
                node: "n".to_owned(),
                outcome: JobOutcome::Succeeded,
                record: AttemptRecord::default(),
            }])
            .await
            .expect("complete");
        assert_eq!(applied, vec![true]);
        let change = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a change within 5s")
            .expect("feed open");
        assert_eq!(
            change,
            StoreChange::JobsReady {
                queue: "q".to_owned()
            }
        );
        store.close().await;
    }

    #[tokio::test]
    async fn event_list_returns_at_most_a_thousand() {
        let (store, _dir) = setup().await;
        let events = (0..1_001)
            .map(|i| new_event(&format!("evt_{i:04}"), vec![]))
            .collect();
        store.event_insert_with_jobs(events).await.expect("insert");
        let page = store
            .event_list(EventListParams {
                limit: u32::MAX,
                ..EventListParams::default()
            })
            .await
            .expect("list");
        assert_eq!(page.len(), 1_000, "the limit is capped");
        assert_eq!(page[0].id, "evt_1000");
        assert_eq!(page[999].id, "evt_0001");
        store.close().await;
    }

    #[tokio::test]
    async fn open_creates_missing_directories() {
        let dir = tempfile::tempdir().expect("temp dir");
        let nested = dir.path().join("a").join("b");
        let store = SqliteStore::open(&nested).await.expect("open");
        assert!(nested.join(DATABASE_FILE).is_file());
        assert_eq!(store.path(), nested.join(DATABASE_FILE));
        store.close().await;
    }
}
