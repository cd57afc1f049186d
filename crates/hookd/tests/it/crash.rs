//! The crash test: the real binary is killed with SIGKILL in the middle of a load, and
//! after a restart every webhook that was answered 200 is delivered. Nothing acknowledged
//! is lost.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::support::process::{free_port, spawn_gateway, wait_ready};
use crate::support::{SHOP_SOURCE, SOURCE_SECRET, Signer, TestSink};

const WEBHOOKS: usize = 2_000;
const SENDERS: usize = 32;

fn config(listen: &str, data_dir: &Path, sink: &TestSink) -> String {
    format!(
        r#"
        [server]
        listen = "{listen}"
        data_dir = "{data_dir}"
        rescue_interval = "500ms"
        log_level = "warn"

        {SHOP_SOURCE}

        [queues.default]
        concurrency = 16
        lease = "2s"
        backoff = {{ base = "100ms", max = "1s", jitter = "full" }}
        max_attempts = 100

        {destination}

        [[routes]]
        source = "shop"
        destination = "sink"
        "#,
        data_dir = data_dir.display(),
        destination = sink.destination("sink"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_webhook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = TestSink::ok().await;
    let signer = Signer::new(SOURCE_SECRET);

    let port = free_port().await;
    let base = format!("http://127.0.0.1:{port}");
    let config_path = dir.path().join("hookd.toml");
    std::fs::write(
        &config_path,
        config(
            &format!("127.0.0.1:{port}"),
            &dir.path().join("data"),
            &sink,
        ),
    )
    .expect("write config");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut gateway = spawn_gateway(&config_path);
    wait_ready(&client, &base).await;

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let acked_count = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let killed = CancellationToken::new();

    let senders = {
        let acked = Arc::clone(&acked);
        let acked_count = Arc::clone(&acked_count);
        let in_flight = Arc::clone(&in_flight);
        let client = client.clone();
        let signer = signer.clone();
        let url = format!("{base}/in/shop");
        tokio::spawn(async move {
            futures::stream::iter(0..WEBHOOKS)
                .for_each_concurrent(SENDERS, |n| {
                    let (acked, acked_count, in_flight) = (&acked, &acked_count, &in_flight);
                    let (client, url, signer) = (&client, &url, &signer);
                    async move {
                        let body = format!(
                            r#"{{"id":"crash-{n}","type":"order.paid","pad":"{}"}}"#,
                            "x".repeat(256)
                        );
                        let signature = signer.signature(body.as_bytes(), "", &[]);
                        in_flight.fetch_add(1, Ordering::SeqCst);
                        let response = client
                            .post(url)
                            .header("content-type", "application/json")
                            .header("x-signature", signature)
                            .body(body)
                            .send()
                            .await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        if let Ok(response) = response
                            && response.status().is_success()
                        {
                            let answer: serde_json::Value =
                                response.json().await.expect("ingest answers JSON");
                            let id = answer["id"].as_str().expect("id").to_owned();
                            acked.lock().await.insert(id);
                            acked_count.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
                .await;
        })
    };

    // Kill once a third is acknowledged while requests are still in flight.
    let threshold = WEBHOOKS / 3;
    let mut killed_with_in_flight = 0;
    for _ in 0..6_000 {
        let in_flight_now = in_flight.load(Ordering::SeqCst);
        if acked_count.load(Ordering::SeqCst) >= threshold && in_flight_now > 0 {
            gateway.start_kill().expect("SIGKILL hookd");
            killed_with_in_flight = in_flight_now;
            killed.cancel();
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(
        killed.is_cancelled(),
        "the load never reached the kill point"
    );
    gateway.wait().await.expect("reap hookd");
    senders.await.expect("senders");
    let acked = acked.lock().await.clone();
    assert!(
        acked.len() >= threshold,
        "only {} acknowledged before the kill",
        acked.len()
    );
    assert!(killed_with_in_flight > 0);

    let mut gateway = spawn_gateway(&config_path);
    wait_ready(&client, &base).await;
    let records = sink
        .wait_until_within(Duration::from_secs(90), |records| {
            let seen: HashSet<&str> = records
                .iter()
                .filter(|r| r.verified && r.status == 200)
                .filter_map(|r| r.webhook_id.as_deref())
                .collect();
            acked.iter().all(|id| seen.contains(id.as_str()))
        })
        .await;
    gateway.start_kill().expect("stop hookd");
    let _ = gateway.wait().await;
    eprintln!(
        "crash test: {} acknowledged before SIGKILL with {killed_with_in_flight} in flight; \
         {} deliveries in all",
        acked.len(),
        records.len()
    );
}
