//! The ingest spool, end to end: a node on PostgreSQL reached through a TCP proxy the
//! test runs. Under a steady stream of signed webhooks from several senders, the proxy
//! cuts every connection and refuses new ones for [`OUTAGE_DEFAULT`] (the server keeps
//! running): every webhook is answered 200 meanwhile, `/readyz` says `degraded`, and
//! once the proxy lets connections through again every webhook is delivered to a real
//! sink exactly once.
//!
//! `HOOKD_TEST_SPOOL_OUTAGE_SECS` shortens the outage for local runs; CI uses the
//! default.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hookd::runtime::{Gateway, open_node_store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::support::gateway::load_config;
use crate::support::{Proxy, SHOP_SOURCE, SOURCE_SECRET, Signer, TestDatabase, TestSink};

/// How long PostgreSQL is unreachable.
const OUTAGE_DEFAULT: Duration = Duration::from_secs(30);

/// The variable that shortens [`OUTAGE_DEFAULT`], in seconds.
const OUTAGE_VAR: &str = "HOOKD_TEST_SPOOL_OUTAGE_SECS";

/// Concurrent senders, each posting one webhook after another.
const SENDERS: usize = 4;

/// The pause between two webhooks of one sender: about 80 webhooks a second in all.
const SEND_PAUSE: Duration = Duration::from_millis(50);

/// How long the load runs against a healthy database before and after the outage.
const STEADY: Duration = Duration::from_secs(2);

/// How long the spool may take to drain and the sink to receive everything.
const DELIVERY_WAIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_is_spooled_and_every_webhook_stored_once_and_delivered() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let outage = std::env::var(OUTAGE_VAR)
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(OUTAGE_DEFAULT, Duration::from_secs);
    let options = database.options();
    let proxy = Proxy::start(database.server()).await;
    let sink = TestSink::ok().await;
    let data = tempfile::tempdir().expect("a data directory for the spool");

    let mut config = load_config(&format!(
        "{SHOP_SOURCE}{destination}\n[[routes]]\nsource = \"shop\"\ndestination = \"app\"\n",
        destination = sink.destination("app"),
    ));
    config.server.database_url = Some(proxy.url(&options.url));
    config.server.database_schema = options.schema.clone();
    config.server.database_pool_size =
        u32::try_from(options.pool_size).expect("the test pool size fits u32");
    config.server.database_connect_timeout = Duration::from_secs(1);
    config.server.database_statement_timeout = Duration::from_secs(2);
    config.server.data_dir = data.path().to_owned();
    let store = open_node_store(&config)
        .await
        .expect("opening the node's store");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the gateway");
    let gateway = Gateway::start(config, store, listener)
        .await
        .expect("the gateway starts");
    let base = format!("http://{}", gateway.local_addr());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a test HTTP client");

    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            tokio::spawn(send_until(
                client.clone(),
                base.clone(),
                sender,
                Arc::clone(&stop),
            ))
        })
        .collect();

    tokio::time::sleep(STEADY).await;
    assert_eq!(
        readyz(&client, &base).await,
        (StatusCode::OK, "ok".to_owned())
    );
    proxy.cut();
    let mut degraded = false;
    let until = tokio::time::Instant::now() + outage;
    while tokio::time::Instant::now() < until {
        let (status, state) = readyz(&client, &base).await;
        assert_eq!(status, StatusCode::OK, "/readyz during the outage: {state}");
        degraded |= state == "degraded";
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    proxy.restore();
    tokio::time::sleep(STEADY).await;
    stop.store(true, Ordering::Relaxed);

    let mut ids = Vec::new();
    for sender in senders {
        ids.extend(sender.await.expect("a sender task"));
    }
    assert!(
        degraded,
        "/readyz never said degraded while PostgreSQL was cut off"
    );
    let spooled = gateway
        .store()
        .spool_stats()
        .expect("the node on PostgreSQL spools")
        .spooled;
    assert!(spooled > 0, "nothing went to the spool during the outage");

    let records = sink
        .wait_until_within(DELIVERY_WAIT, |records| {
            ids.iter().all(|id| {
                records
                    .iter()
                    .any(|r| r.status == 200 && r.webhook_id.as_deref() == Some(id.as_str()))
            })
        })
        .await;
    // Nothing twice from the spool: every acknowledged event is stored once, with one
    // job. Delivery is at least once, so a job may still run again when the cut took
    // the commit of its completion with it (its lease expires and it is rescued); such a
    // repeat is then one more attempt of the same job, never a second job.
    let store = gateway.store();
    let mut repeated = 0;
    for id in &ids {
        let jobs = store
            .job_list_for_event(id)
            .await
            .expect("the jobs of an event");
        assert_eq!(jobs.len(), 1, "{id} has {} jobs", jobs.len());
        let deliveries = records
            .iter()
            .filter(|r| r.webhook_id.as_deref() == Some(id.as_str()))
            .count();
        if deliveries > 1 {
            repeated += 1;
            let attempts = store.attempt_list(jobs[0].id).await.expect("its attempts");
            assert!(
                attempts.len() >= deliveries,
                "{id} was delivered {deliveries} times by {} recorded attempts",
                attempts.len()
            );
        }
    }
    assert!(
        records.iter().all(|r| r
            .webhook_id
            .as_deref()
            .is_some_and(|id| ids.iter().any(|i| i == id))),
        "deliveries of unknown events"
    );
    let spool = store.spool_stats().expect("the node on PostgreSQL spools");
    assert_eq!(spool.events, 0, "the spool still holds events");
    assert_eq!(spool.moved, spool.spooled, "{spool:?}");
    assert_eq!(spool.dropped_duplicates, 0, "{spool:?}");
    let (status, state) = readyz(&client, &base).await;
    assert_eq!((status, state.as_str()), (StatusCode::OK, "ok"));
    println!(
        "{} webhooks, {spooled} spooled during a {outage:?} outage, each stored once and \
         delivered ({repeated} again after a completion lost in the cut)",
        ids.len()
    );
    gateway.shutdown().await;
}

/// Posts signed webhooks one after another until `stop`, asserting each is answered 200
/// as a new event; returns their event ids.
async fn send_until(
    client: reqwest::Client,
    base: String,
    sender: usize,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let signer = Signer::new(SOURCE_SECRET);
    let mut ids = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = json!({ "id": format!("ord_{sender}_{n}"), "type": "order.paid" })
            .to_string()
            .into_bytes();
        let mut request = client.post(format!("{base}/in/shop")).body(body.clone());
        for (name, value) in signer.headers(&body) {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, StatusCode::OK, "webhook {sender}/{n}: {answer}");
        assert_eq!(answer["duplicate"], false, "{answer}");
        ids.push(
            answer["id"]
                .as_str()
                .expect("the answer names the event")
                .to_owned(),
        );
        n += 1;
        tokio::time::sleep(SEND_PAUSE).await;
    }
    ids
}

/// `GET /readyz`: its status and its `status` field.
async fn readyz(client: &reqwest::Client, base: &str) -> (StatusCode, String) {
    let response = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("/readyz answers");
    let status = response.status();
    let body: Value = response.json().await.expect("/readyz answers JSON");
    (
        status,
        body["status"].as_str().unwrap_or_default().to_owned(),
    )
}
