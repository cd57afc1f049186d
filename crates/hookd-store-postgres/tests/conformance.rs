//! The one test binary of the PostgreSQL store: the shared conformance suite on a fresh
//! schema per test, then what only the PostgreSQL backend promises (group commit,
//! change notifications between nodes, migrations under a lock, statement timeouts).
//!
//! The database comes from `HOOKD_TEST_DATABASE_URL`, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`. Without it every test passes with a note,
//! except under CI (`CI` set), where a missing database is a failure.

use std::time::Duration;

use hookd_store_postgres::testing::TestDatabase;
use hookd_store_postgres::{PostgresOptions, PostgresStore};

/// A fresh store on its own schema, which lives as long as the guard; `None` when there
/// is no test database.
async fn setup() -> Option<(PostgresStore, TestDatabase)> {
    let database = TestDatabase::create()?;
    let store = PostgresStore::open(database.options())
        .await
        .expect("open the store");
    Some((store, database))
}

hookd_store::conformance_tests!(optional setup);

mod postgres_only {
    use std::collections::BTreeSet;

    use futures::future::{join_all, poll_immediate};
    use hookd_store::conformance::{NODE, T0, new_event, new_job};
    use hookd_store::{
        AttemptRecord, ConfigKind, ConfigObject, InsertOutcome, JobClaim, JobCompletion,
        JobOutcome, JobState, NewJob, Store, StoreChange, StoreError,
    };
    use tokio::sync::broadcast;

    use super::*;

    /// How long a change may take to travel between stores.
    const CHANGE_TIMEOUT: Duration = Duration::from_secs(5);

    /// How long to listen before concluding that a change will not come.
    const QUIET: Duration = Duration::from_millis(500);

    /// A connection of the test's own to the database, driven in the background.
    async fn connect(url: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }

    fn route(name: &str) -> ConfigObject {
        ConfigObject {
            kind: ConfigKind::Route,
            name: name.to_owned(),
            body: Some("{}".to_owned()),
            updated_at: T0,
            updated_by: "test".to_owned(),
        }
    }

    async fn next_change(feed: &mut broadcast::Receiver<StoreChange>) -> StoreChange {
        tokio::time::timeout(CHANGE_TIMEOUT, feed.recv())
            .await
            .expect("a change arrives in time")
            .expect("the feed is open")
    }

    async fn assert_quiet(feed: &mut broadcast::Receiver<StoreChange>) {
        if let Ok(change) = tokio::time::timeout(QUIET, feed.recv()).await {
            panic!("expected no change, got {change:?}");
        }
    }

    #[tokio::test]
    async fn postgres_concurrent_inserts_share_commits() {
        let Some((store, _guard)) = setup().await else {
            return;
        };
        let before = store.commit_stats();
        let inserts = (0..200).map(|i| {
            store.event_insert_with_jobs(vec![new_event(
                &format!("evt_group_{i:03}"),
                vec![new_job("q")],
            )])
        });
        let outcomes = join_all(inserts).await;
        for (i, outcome) in outcomes.into_iter().enumerate() {
            assert_eq!(
                outcome.expect("insert"),
                vec![InsertOutcome::Inserted {
                    id: format!("evt_group_{i:03}")
                }]
            );
        }
        let after = store.commit_stats();
        assert_eq!(after.operations - before.operations, 200, "{after:?}");
        assert!(
            after.commits - before.commits < 200,
            "{before:?} -> {after:?}"
        );
        assert!(after.largest_batch > 1, "{after:?}");
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_a_failing_insert_fails_alone_in_its_group() {
        let Some((store, _guard)) = setup().await else {
            return;
        };
        // PostgreSQL refuses text holding a NUL byte, after the call's first event was
        // written; the other calls of its group are committed all the same.
        let mut broken = new_event("evt_broken", vec![]);
        broken.event_type = "order\0paid".to_owned();
        let calls = (0..20).map(|i| {
            let events = if i == 10 {
                vec![new_event("evt_twice", vec![]), broken.clone()]
            } else {
                vec![new_event(&format!("evt_ok_{i}"), vec![new_job("q")])]
            };
            store.event_insert_with_jobs(events)
        });
        let results = join_all(calls).await;
        for (i, result) in results.into_iter().enumerate() {
            if i == 10 {
                assert!(
                    matches!(result, Err(StoreError::Backend { .. })),
                    "{result:?}"
                );
            } else {
                result.expect("insert");
            }
        }
        assert_eq!(store.event_get("evt_twice").await.expect("get"), None);
        assert!(store.event_get("evt_ok_19").await.expect("get").is_some());
        store.close().await;
    }

    /// Inserts `count` events with one job each in queue `q`, every job with a key of
    /// its own, and claims them all as [`NODE`]; returns the job ids.
    async fn running_jobs(store: &PostgresStore, count: usize) -> Vec<i64> {
        let events: Vec<_> = (0..count)
            .map(|i| {
                let job = NewJob {
                    ordering_key: Some(format!("key-{i}")),
                    ..new_job("q")
                };
                new_event(&format!("evt_done_{i:03}"), vec![job])
            })
            .collect();
        store.event_insert_with_jobs(events).await.expect("insert");
        let batch = store
            .job_claim(JobClaim {
                queue: "q".to_owned(),
                limit: u32::try_from(count).expect("a small count"),
                max_running: None,
                now: T0,
                lease_until: T0 + 3_600_000,
                node: NODE.to_owned(),
            })
            .await
            .expect("claim");
        assert_eq!(batch.jobs.len(), count);
        batch.jobs.iter().map(|claimed| claimed.job.id).collect()
    }

    /// The completion of the first attempt of `job_id` by [`NODE`].
    fn completion(job_id: i64, outcome: JobOutcome, response: &str) -> JobCompletion {
        JobCompletion {
            job_id,
            attempt: 1,
            node: NODE.to_owned(),
            outcome,
            record: AttemptRecord {
                started_at: T0,
                duration_ms: 5,
                status_code: Some(200),
                response: Some(response.to_owned()),
                ..AttemptRecord::default()
            },
        }
    }

    /// Makes every call of `calls` (one completion each) in turn, each queued before the
    /// next is made, then waits for all of them; returns each caller's answer.
    async fn complete_in_turn(
        store: &PostgresStore,
        calls: Vec<JobCompletion>,
    ) -> Vec<Result<Vec<bool>, StoreError>> {
        let mut pending: Vec<_> = calls
            .into_iter()
            .map(|completion| store.job_complete_many(vec![completion]))
            .collect();
        for call in &mut pending {
            // The call is queued on its first poll; its answer waits for the commit.
            assert!(poll_immediate(call).await.is_none());
        }
        join_all(pending).await
    }

    #[tokio::test]
    async fn postgres_concurrent_completions_share_commits() {
        let Some((store, _guard)) = setup().await else {
            return;
        };
        let jobs = running_jobs(&store, 100).await;
        let mut feed = store.subscribe();
        // Every job completed once; the first ten twice, by two callers one after the
        // other: the second completion is stale, as if it came after the commit.
        let mut calls = Vec::new();
        let mut expected = Vec::new();
        for (i, &job) in jobs.iter().enumerate() {
            calls.push(completion(job, JobOutcome::Succeeded, &format!("ok {i}")));
            expected.push(vec![true]);
            if i < 10 {
                calls.push(completion(job, JobOutcome::Dead, "too late"));
                expected.push(vec![false]);
            }
        }
        let before = store.commit_stats();
        let answers = complete_in_turn(&store, calls).await;
        let after = store.commit_stats();

        let answers: Vec<Vec<bool>> = answers
            .into_iter()
            .map(|answer| answer.expect("complete"))
            .collect();
        assert_eq!(answers, expected);
        assert_eq!(after.operations - before.operations, 110, "{after:?}");
        assert!(
            after.commits - before.commits < 110,
            "{before:?} -> {after:?}"
        );
        assert!(after.largest_batch > 1, "{after:?}");
        for (i, &job) in jobs.iter().enumerate() {
            let stored = store.job_get(job).await.expect("get").expect("the job");
            assert_eq!(stored.state, JobState::Succeeded, "job {job}");
            let attempts = store.attempt_list(job).await.expect("attempts");
            assert_eq!(attempts.len(), 1, "job {job}: {attempts:?}");
            assert_eq!(
                attempts[0].record.response.as_deref(),
                Some(&*format!("ok {i}"))
            );
        }
        // Finished keyed jobs may unblock their keys.
        assert_eq!(
            next_change(&mut feed).await,
            StoreChange::JobsReady {
                queue: "q".to_owned()
            }
        );
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_a_refused_completion_fails_alone_in_its_group() {
        let Some((store, _guard)) = setup().await else {
            return;
        };
        let jobs = running_jobs(&store, 20).await;
        // PostgreSQL refuses text holding a NUL byte; the other completions of the
        // group are committed all the same.
        let calls = jobs
            .iter()
            .enumerate()
            .map(|(i, &job)| {
                let response = if i == 10 { "bro\0ken" } else { "ok" };
                completion(job, JobOutcome::Succeeded, response)
            })
            .collect();
        let answers = complete_in_turn(&store, calls).await;
        for (i, answer) in answers.into_iter().enumerate() {
            if i == 10 {
                assert!(
                    matches!(answer, Err(StoreError::Backend { .. })),
                    "{answer:?}"
                );
            } else {
                assert_eq!(answer.expect("complete"), vec![true], "call {i}");
            }
        }
        for (i, &job) in jobs.iter().enumerate() {
            let stored = store.job_get(job).await.expect("get").expect("the job");
            let state = if i == 10 {
                JobState::Running
            } else {
                JobState::Succeeded
            };
            assert_eq!(stored.state, state, "job {job}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_close_commits_queued_completions() {
        let Some((store, _guard)) = setup().await else {
            return;
        };
        let jobs = running_jobs(&store, 20).await;
        let mut pending: Vec<_> = jobs
            .iter()
            .map(|&job| store.job_complete_many(vec![completion(job, JobOutcome::Succeeded, "ok")]))
            .collect();
        for call in &mut pending {
            assert!(poll_immediate(call).await.is_none());
        }
        let (answers, ()) = tokio::join!(join_all(pending), store.close());
        for answer in answers {
            assert_eq!(answer.expect("complete"), vec![true]);
        }
        let closed = store
            .job_complete_many(vec![completion(jobs[0], JobOutcome::Succeeded, "ok")])
            .await;
        assert!(matches!(closed, Err(StoreError::Closed)), "{closed:?}");
    }

    #[tokio::test]
    async fn postgres_stores_on_one_schema_hear_each_other() {
        let Some((a, guard)) = setup().await else {
            return;
        };
        let b = PostgresStore::open(guard.options())
            .await
            .expect("open a second store on the schema");
        let mut heard_by_a = a.subscribe();
        let mut heard_by_b = b.subscribe();

        a.config_object_put(route("orders")).await.expect("put");
        assert_eq!(
            next_change(&mut heard_by_b).await,
            StoreChange::ConfigChanged
        );
        // A publishes its own change once, and skips its notification.
        assert_eq!(
            next_change(&mut heard_by_a).await,
            StoreChange::ConfigChanged
        );

        a.event_insert_with_jobs(vec![new_event("evt_shared", vec![new_job("bulk")])])
            .await
            .expect("insert");
        assert_eq!(
            next_change(&mut heard_by_b).await,
            StoreChange::JobsReady {
                queue: "bulk".to_owned()
            }
        );
        assert_eq!(
            next_change(&mut heard_by_a).await,
            StoreChange::JobsReady {
                queue: "bulk".to_owned()
            }
        );
        assert_quiet(&mut heard_by_a).await;
        assert!(b.event_get("evt_shared").await.expect("get").is_some());
        a.close().await;
        b.close().await;
    }

    #[tokio::test]
    async fn postgres_stores_on_other_schemas_hear_nothing() {
        let Some((a, _guard_a)) = setup().await else {
            return;
        };
        let Some((b, _guard_b)) = setup().await else {
            return;
        };
        let mut heard_by_b = b.subscribe();
        a.config_object_put(route("orders")).await.expect("put");
        a.event_insert_with_jobs(vec![new_event("evt_apart", vec![new_job("q")])])
            .await
            .expect("insert");
        assert_quiet(&mut heard_by_b).await;
        assert_eq!(b.event_get("evt_apart").await.expect("get"), None);
        a.close().await;
        b.close().await;
    }

    #[tokio::test]
    async fn postgres_concurrent_opens_migrate_once() {
        let Some(database) = TestDatabase::create() else {
            return;
        };
        let (url, schema) = (database.url(), database.schema());
        let stores = join_all((0..4).map(|_| PostgresStore::open(database.options()))).await;
        let stores: Vec<PostgresStore> = stores
            .into_iter()
            .map(|store| store.expect("open"))
            .collect();
        let client = connect(url).await;
        let versions: Vec<i64> = client
            .query(
                &format!("SELECT version FROM \"{schema}\".schema_migrations ORDER BY version"),
                &[],
            )
            .await
            .expect("read the migrations")
            .iter()
            .map(|row| row.get(0))
            .collect();
        let distinct: BTreeSet<i64> = versions.iter().copied().collect();
        assert_eq!(versions.len(), distinct.len(), "{versions:?}");
        assert_eq!(versions.first(), Some(&1), "{versions:?}");
        for store in &stores {
            store.ping().await.expect("ping");
            store.close().await;
        }
    }

    #[tokio::test]
    async fn postgres_newer_schema_is_refused() {
        let Some((store, guard)) = setup().await else {
            return;
        };
        store.close().await;
        let client = connect(guard.url()).await;
        client
            .execute(
                &format!(
                    "INSERT INTO \"{}\".schema_migrations (version, applied_at) VALUES (9999, 0)",
                    guard.schema()
                ),
                &[],
            )
            .await
            .expect("record a future migration");
        let refused = PostgresStore::open(guard.options()).await;
        assert!(
            matches!(refused, Err(StoreError::Backend { .. })),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn postgres_statement_timeout_is_unavailable() {
        let Some(database) = TestDatabase::create() else {
            return;
        };
        let (url, schema) = (database.url(), database.schema());
        let store = PostgresStore::open(PostgresOptions {
            statement_timeout: Duration::from_millis(200),
            ..database.options()
        })
        .await
        .expect("open");
        // Another session holds the table, so the store's read waits until the server
        // cancels it.
        let mut locker = connect(url).await;
        let lock = locker.transaction().await.expect("begin");
        lock.batch_execute(&format!(
            "LOCK TABLE \"{schema}\".config_objects IN ACCESS EXCLUSIVE MODE"
        ))
        .await
        .expect("lock");
        let timed_out = store.config_object_list().await;
        assert!(
            matches!(timed_out, Err(StoreError::Unavailable { .. })),
            "{timed_out:?}"
        );
        lock.rollback().await.expect("release the lock");
        assert_eq!(store.config_object_list().await.expect("list"), vec![]);
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_listener_reconnects_and_says_to_look_again() {
        let Some((store, guard)) = setup().await else {
            return;
        };
        let mut feed = store.subscribe();
        let admin = connect(guard.url()).await;
        let terminated: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE query = 'LISTEN \"hookd_changes.' || $1 || '\"'",
                &[&guard.schema()],
            )
            .await
            .expect("terminate the listener's session")
            .get(0);
        assert_eq!(terminated, 1);
        assert_eq!(next_change(&mut feed).await, StoreChange::ConfigChanged);
        // Listening again: another store's changes arrive.
        let other = PostgresStore::open(guard.options())
            .await
            .expect("open a second store on the schema");
        other.config_object_put(route("orders")).await.expect("put");
        assert_eq!(next_change(&mut feed).await, StoreChange::ConfigChanged);
        other.close().await;
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_bad_schema_names_are_refused() {
        let Some(database) = TestDatabase::create() else {
            return;
        };
        for schema in ["", "Upper", "1digit", "semi;colon", &"x".repeat(50)] {
            let refused = PostgresStore::open(PostgresOptions {
                schema: (*schema).to_owned(),
                ..database.options()
            })
            .await;
            assert!(
                matches!(refused, Err(StoreError::Backend { .. })),
                "{schema:?}: {refused:?}"
            );
        }
    }
}

/// Claims from several stores on one schema, as several nodes make them: per-key FIFO
/// and single delivery hold however the claims, completions and replays interleave.
mod postgres_claims {
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::future::join_all;
    use hookd_store::conformance::{T0, new_event, new_job};
    use hookd_store::{
        AttemptRecord, JobClaim, JobCompletion, JobOutcome, JobReplay, NewJob, Store,
    };

    use super::*;

    const STORES: usize = 4;
    const WORKERS_PER_STORE: usize = 3;
    const KEYS: usize = 20;
    const EVENTS: usize = 200;
    /// Jobs replayed onto the first events while the workers claim.
    const REPLAYS: usize = 60;

    /// The key of the job of event `i`.
    fn key_of(i: usize) -> usize {
        i / (EVENTS / KEYS)
    }

    fn keyed(key: usize) -> NewJob {
        NewJob {
            ordering_key: Some(format!("key-{key}")),
            ..new_job("q")
        }
    }

    /// What the workers saw, checked as they go.
    #[derive(Default)]
    struct Ledger {
        /// The job of each key running now.
        running: HashMap<String, i64>,
        /// Every job handed out so far.
        claimed: HashSet<i64>,
        /// The last job of each key handed out.
        last: HashMap<String, i64>,
    }

    impl Ledger {
        fn started(&mut self, id: i64, key: &str, node: &str) {
            assert!(
                self.claimed.insert(id),
                "job {id} handed out twice ({node})"
            );
            if let Some(other) = self.running.insert(key.to_owned(), id) {
                panic!("{key}: job {id} claimed by {node} while job {other} runs");
            }
            if let Some(last) = self.last.insert(key.to_owned(), id) {
                assert!(last < id, "{key}: job {id} after job {last}");
            }
        }

        fn finishing(&mut self, id: i64, key: &str) {
            assert_eq!(self.running.remove(key), Some(id), "{key} ran job {id}");
        }
    }

    /// Claims and completes jobs of queue `q` until `total` jobs are done.
    async fn work(
        store: &PostgresStore,
        node: String,
        ledger: &Mutex<Ledger>,
        done: &AtomicUsize,
        total: usize,
    ) {
        while done.load(Ordering::SeqCst) < total {
            let batch = store
                .job_claim(JobClaim {
                    queue: "q".to_owned(),
                    limit: 2,
                    max_running: None,
                    now: T0,
                    lease_until: T0 + 3_600_000,
                    node: node.clone(),
                })
                .await
                .expect("claim");
            if batch.jobs.is_empty() {
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            let keyed: Vec<(i64, String)> = batch
                .jobs
                .iter()
                .map(|claimed| {
                    let key = claimed
                        .job
                        .ordering_key
                        .clone()
                        .expect("every job is keyed");
                    (claimed.job.id, key)
                })
                .collect();
            {
                let mut ledger = ledger.lock().expect("ledger");
                for (id, key) in &keyed {
                    ledger.started(*id, key, &node);
                }
            }
            // Work a while, so that the other workers claim meanwhile.
            tokio::time::sleep(Duration::from_millis(10)).await;
            {
                // Off the ledger before the commit: the next job of the key may be
                // claimed the moment the completion is committed.
                let mut ledger = ledger.lock().expect("ledger");
                for (id, key) in &keyed {
                    ledger.finishing(*id, key);
                }
            }
            let completions = keyed
                .iter()
                .map(|&(job_id, _)| JobCompletion {
                    job_id,
                    attempt: 1,
                    node: node.clone(),
                    outcome: JobOutcome::Succeeded,
                    record: AttemptRecord {
                        started_at: T0,
                        duration_ms: 1,
                        status_code: Some(200),
                        ..AttemptRecord::default()
                    },
                })
                .collect();
            let applied = store
                .job_complete_many(completions)
                .await
                .expect("complete");
            assert!(applied.iter().all(|&a| a), "{node}: {applied:?}");
            done.fetch_add(keyed.len(), Ordering::SeqCst);
        }
    }

    /// Adds one more job of its key to each of the first `REPLAYS` events.
    async fn replay(store: &PostgresStore, events: impl Iterator<Item = usize>) {
        for i in events {
            let ids = store
                .job_insert_for_event(JobReplay {
                    event_id: format!("evt_claims_{i:03}"),
                    tenant: None,
                    jobs: vec![keyed(key_of(i))],
                    webhook_id: None,
                })
                .await
                .expect("replay")
                .expect("the event exists");
            assert_eq!(ids.len(), 1);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_concurrent_claims_keep_keys_apart() {
        let Some((first, guard)) = setup().await else {
            return;
        };
        let mut stores = vec![first];
        for _ in 1..STORES {
            stores.push(
                PostgresStore::open(guard.options())
                    .await
                    .expect("open another store on the schema"),
            );
        }
        // Each key's jobs come one after the other, so that the next due jobs are
        // mostly of one key.
        let events: Vec<_> = (0..EVENTS)
            .map(|i| new_event(&format!("evt_claims_{i:03}"), vec![keyed(key_of(i))]))
            .collect();
        for chunk in events.chunks(50) {
            stores[0]
                .event_insert_with_jobs(chunk.to_vec())
                .await
                .expect("insert");
        }

        let total = EVENTS + REPLAYS;
        let ledger = Mutex::new(Ledger::default());
        let done = AtomicUsize::new(0);
        let workers = stores.iter().enumerate().flat_map(|(s, store)| {
            let (ledger, done) = (&ledger, &done);
            (0..WORKERS_PER_STORE)
                .map(move |w| work(store, format!("node-{s}-{w}"), ledger, done, total))
        });
        let replays = [
            replay(&stores[1], (0..REPLAYS).step_by(2)),
            replay(&stores[2], (1..REPLAYS).step_by(2)),
        ];
        let run = async {
            tokio::join!(join_all(workers), join_all(replays));
        };
        tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .expect("every job is worked off in time");

        let ledger = ledger.into_inner().expect("ledger");
        assert_eq!(ledger.claimed.len(), total);
        assert!(ledger.running.is_empty());
        let stats = stores[3].queue_stats(T0, T0).await.expect("stats");
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].succeeded, total as u64, "{stats:?}");
        for store in &stores {
            store.close().await;
        }
    }
}
