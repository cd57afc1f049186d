//! Durability of the embedded store as the gateway uses it: every commit is fsynced
//! (`synchronous = FULL`), and concurrent webhooks share commits (group commit).

use futures::future::join_all;
use hookd_store::Store;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{SHOP_SOURCE, SOURCE_SECRET, Signer, TestGateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_store_fsyncs_every_commit() {
    let gw = TestGateway::start(SHOP_SOURCE).await;
    // 2 = FULL: a commit is on disk (WAL fsynced) before the ack.
    assert_eq!(
        gw.store()
            .synchronous_pragma()
            .await
            .expect("reading the pragma"),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_webhooks_share_commits() {
    let gw = TestGateway::start(SHOP_SOURCE).await;
    let signer = Signer::new(SOURCE_SECRET);
    let posts = (0..64).map(|i| {
        let body = json!({"id": format!("load-{i}"), "type": "order.paid"})
            .to_string()
            .into_bytes();
        let headers = signer.headers(&body);
        let gw = &gw;
        async move { gw.post("shop", &body, &headers).await }
    });
    let answers = join_all(posts).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(answer["duplicate"], false, "{answer}");
    }
    let stats = gw.store().commit_stats();
    assert!(stats.operations >= 64, "{stats:?}");
    assert!(
        stats.largest_batch > 1,
        "no two writes shared a commit: {stats:?}"
    );
    assert!(stats.commits < stats.operations, "{stats:?}");
}
