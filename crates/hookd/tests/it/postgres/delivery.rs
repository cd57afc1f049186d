//! One gateway on PostgreSQL, end to end: signed webhooks are verified, stored, forwarded
//! signed to a real sink and recorded as succeeded attempts; a provider's retry of an
//! event is answered as a duplicate and delivered no second time.

use hookd_store::{AttemptOutcome, JobState};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{SHOP_SOURCE, SOURCE_SECRET, Signer, TestDatabase, TestGateway, TestSink};

const WEBHOOKS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_delivers_signed_webhooks_end_to_end() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let sink = TestSink::ok().await;
    let toml = format!(
        r#"{SHOP_SOURCE}{destination}
[[routes]]
source = "shop"
destination = "app"
"#,
        destination = sink.destination("app"),
    );
    let gw = TestGateway::start_on_postgres(&database, &toml).await;

    let mut ids = Vec::new();
    for n in 0..WEBHOOKS {
        ids.push(gw.send(&json!({ "id": format!("ord_{n}"), "n": n })).await);
    }
    let records = sink
        .wait_until(|records| records.iter().filter(|r| r.status == 200).count() >= WEBHOOKS)
        .await;
    assert_eq!(records.len(), WEBHOOKS, "{records:#?}");

    for (n, id) in ids.iter().enumerate() {
        let record = records
            .iter()
            .find(|r| r.webhook_id.as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("{id} was not delivered: {records:#?}"));
        assert!(
            record.verified,
            "the delivery of {id} is not signed: {record:#?}"
        );
        let body: serde_json::Value =
            serde_json::from_str(&record.body).expect("the delivered body is JSON");
        assert_eq!(body["n"], n, "{record:#?}");

        let event = gw.event(id).await;
        assert_eq!(event.source, "shop");
        assert_eq!(event.event_type, "order.paid");
        assert_eq!(event.provider_event_id, Some(format!("ord_{n}")));
        let job = gw.wait_job(id, JobState::Succeeded).await;
        let attempts = gw.attempts(job.id).await;
        let [attempt] = attempts.as_slice() else {
            panic!("{id} has not exactly one attempt: {attempts:#?}");
        };
        assert_eq!(attempt.outcome, AttemptOutcome::Succeeded);
        assert_eq!(attempt.record.status_code, Some(200));
        assert_eq!(attempt.node, gw.node());
    }

    // The provider sends ord_0 again: the same event, stored and delivered once.
    let again = gw
        .send_signed(
            "shop",
            &Signer::new(SOURCE_SECRET),
            &json!({ "id": "ord_0", "n": 0, "type": "order.paid" }),
        )
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["id"], ids[0].as_str(), "{again}");
    assert_eq!(gw.jobs(&ids[0]).await.len(), 1);

    // A forged signature is refused and stores nothing.
    let forged = br#"{"id":"ord_forged","type":"order.paid"}"#;
    let (status, answer) = gw
        .post(
            "shop",
            forged,
            &Signer::new("not-the-secret").headers(forged),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"]["code"], "signature_mismatch", "{answer}");

    // One more new event goes through after the duplicate; the duplicate never did.
    let last = gw.send(&json!({ "id": "ord_last" })).await;
    let records = sink
        .wait_until(|records| {
            records
                .iter()
                .any(|r| r.webhook_id.as_deref() == Some(last.as_str()))
        })
        .await;
    assert_eq!(records.len(), WEBHOOKS + 1, "{records:#?}");
    gw.stop().await;
}
