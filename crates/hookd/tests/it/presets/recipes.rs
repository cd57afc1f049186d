//! The recipes under `examples/`, which users copy as they are: each loads
//! without a single problem, and each is run as a gateway that receives genuine events and
//! puts them where its comments say: queue, priority, delay, ordering key, or unrouted.
//! The tests change only what a test must (the destination URL, HighLevel's public key,
//! and for the install-first test the queue layout), by editing the TOML as data.
//!
//! HighLevel events are signed here with an Ed25519 key from a fixed seed; SoftPro and
//! Meta events are sent with the real `hookd send`.

use std::time::Duration;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use ed25519_dalek::{Signer as _, SigningKey};
use futures::StreamExt as _;
use hookd::sink::SinkOptions;
use hookd_store::Job;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::send::hookd_send;
use crate::support::gateway::{event_id, load_config};
use crate::support::signer::Headers;
use crate::support::{SINK_SECRET, TestGateway, TestSink, sink_options};

const HIGHLEVEL: &str = include_str!("../../../../../examples/highlevel.toml");
const SOFTPRO: &str = include_str!("../../../../../examples/softpro.toml");
const META: &str = include_str!("../../../../../examples/meta.toml");

/// The HighLevel test key: Ed25519 from the seed `[7; 32]`.
pub(super) fn highlevel_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// The test key's private half in PKCS#8 PEM, as `hookd send --preset highlevel` takes it.
pub(super) fn highlevel_private_pem() -> String {
    highlevel_key()
        .to_pkcs8_pem(LineEnding::LF)
        .expect("the key encodes")
        .to_string()
}

/// The test key's public half in SPKI PEM, for `public_key_ed25519`.
pub(super) fn highlevel_public_pem() -> String {
    highlevel_key()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("the key encodes")
}

/// The headers of a genuine HighLevel delivery of `body`.
fn highlevel_headers(key: &SigningKey, body: &[u8]) -> Headers {
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(body).to_bytes());
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-ghl-signature".to_owned(), signature),
    ]
}

/// `recipe` parsed as a TOML table, for a test to edit.
fn table(recipe: &str) -> toml::Table {
    recipe.parse().expect("the recipe is TOML")
}

/// Points every destination of `recipe` at `sink` (they are signed with the sink's secret
/// already) and, when it has a `highlevel` source, makes it accept the test key.
fn for_test(mut recipe: toml::Table, sink: &TestSink) -> String {
    let destinations = recipe["destinations"]
        .as_table_mut()
        .expect("the recipe has destinations");
    for (_, destination) in destinations.iter_mut() {
        let destination = destination.as_table_mut().expect("a table");
        assert_eq!(destination["secret"].as_str(), Some(SINK_SECRET));
        destination.insert("url".to_owned(), sink.url().into());
    }
    if let Some(source) = recipe["sources"].get_mut("highlevel") {
        source.as_table_mut().expect("a table").insert(
            "public_key_ed25519".to_owned(),
            highlevel_public_pem().into(),
        );
    }
    toml::to_string(&recipe).expect("the edited recipe serialises")
}

/// Posts `body` to `source`, asserts 200, and returns the new event's id.
async fn post_highlevel(gw: &TestGateway, key: &SigningKey, body: &Value) -> String {
    let bytes = body.to_string().into_bytes();
    let (status, answer) = gw
        .post("highlevel", &bytes, &highlevel_headers(key, &bytes))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    assert_eq!(answer["duplicate"], false, "{body}: {answer}");
    event_id(&answer)
}

/// The one job of an event, with a message naming the event type when there is not one.
async fn only_job(gw: &TestGateway, id: &str, what: &str) -> Job {
    let mut jobs = gw.jobs(id).await;
    assert_eq!(jobs.len(), 1, "{what}: expected exactly one job: {jobs:#?}");
    jobs.remove(0)
}

#[test]
fn every_recipe_loads_without_a_single_problem() {
    for (name, recipe) in [
        ("highlevel", HIGHLEVEL),
        ("softpro", SOFTPRO),
        ("meta", META),
    ] {
        match hookd::config::load_str(recipe, Vec::<(String, String)>::new()) {
            Ok((config, warnings)) => {
                assert!(warnings.is_empty(), "{name}: {warnings:#?}");
                assert!(!config.routes.is_empty(), "{name} has routes");
            }
            Err(problems) => {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                panic!("examples/{name}.toml does not load:\n{}", list.join("\n"));
            }
        }
    }
}

/// Every event type in HighLevel's webhook docs, with the queue and priority the recipe
/// gives it.
const HIGHLEVEL_TYPES: &[(&str, &str, u8)] = &[
    ("UNINSTALL", "critical", 1),
    ("PLAN_CHANGE", "critical", 1),
    ("InboundMessage", "messages", 2),
    ("OutboundMessage", "messages", 3),
    ("AppointmentCreate", "appointments", 2),
    ("AppointmentUpdate", "appointments", 2),
    ("AppointmentDelete", "appointments", 2),
    ("InvoicePaid", "financial", 2),
    ("InvoiceCreate", "financial", 3),
    ("InvoiceUpdate", "financial", 3),
    ("InvoiceSent", "financial", 3),
    ("InvoicePartiallyPaid", "financial", 3),
    ("InvoiceVoid", "financial", 3),
    ("InvoiceDelete", "financial", 3),
    ("OrderCreate", "financial", 3),
    ("OrderStatusUpdate", "financial", 3),
    ("ContactCreate", "contacts", 3),
    ("ContactUpdate", "contacts", 4),
    ("ContactDelete", "contacts", 4),
    ("ContactDndUpdate", "contacts", 4),
    ("ContactTagUpdate", "contacts", 4),
    ("OpportunityCreate", "opportunities", 3),
    ("OpportunityUpdate", "opportunities", 3),
    ("OpportunityDelete", "opportunities", 3),
    ("OpportunityStatusUpdate", "opportunities", 3),
    ("OpportunityStageUpdate", "opportunities", 3),
    ("OpportunityAssignedToUpdate", "opportunities", 3),
    ("OpportunityMonetaryValueUpdate", "opportunities", 3),
    ("NoteCreate", "batch", 5),
    ("NoteUpdate", "batch", 5),
    ("NoteDelete", "batch", 5),
    ("TaskCreate", "batch", 5),
    ("TaskComplete", "batch", 5),
    ("TaskDelete", "batch", 5),
    ("LCEmailStats", "batch", 5),
    ("ConversationUnreadUpdate", "batch", 5),
    ("CampaignStatusUpdate", "batch", 5),
    ("LocationCreate", "batch", 5),
    ("LocationUpdate", "batch", 5),
    ("UserCreate", "batch", 5),
    ("ProductCreate", "batch", 5),
    ("ProductUpdate", "batch", 5),
    ("ProductDelete", "batch", 5),
    ("PriceCreate", "batch", 5),
    ("PriceUpdate", "batch", 5),
    ("PriceDelete", "batch", 5),
    ("RecordCreate", "batch", 5),
    ("RecordUpdate", "batch", 5),
    ("RecordDelete", "batch", 5),
    ("RelationCreate", "batch", 5),
    ("RelationDelete", "batch", 5),
    ("AssociationCreate", "batch", 5),
    ("AssociationUpdate", "batch", 5),
    ("AssociationDelete", "batch", 5),
    ("ObjectSchemaCreate", "batch", 5),
    ("ObjectSchemaUpdate", "batch", 5),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_highlevel_recipe_puts_every_documented_type_in_exactly_one_queue() {
    let sink = TestSink::ok().await;
    let gw = TestGateway::start(&for_test(table(HIGHLEVEL), &sink)).await;
    let key = highlevel_key();

    for (i, (event_type, queue, priority)) in HIGHLEVEL_TYPES.iter().enumerate() {
        let body = json!({
            "type": event_type,
            "locationId": "loc-1",
            "companyId": "co-1",
            "id": format!("obj-{i}"),
            "conversationId": "conv-1",
            "appointment": { "id": "appt-1" },
            "webhookId": format!("wh-{i}"),
        });
        let id = post_highlevel(&gw, &key, &body).await;
        let job = only_job(&gw, &id, event_type).await;
        assert_eq!(
            (job.queue.as_str(), job.priority),
            (*queue, *priority),
            "{event_type}"
        );
    }

    // HighLevel's docs show some payloads without `type`: hookd types them `unknown`,
    // which the batch route takes.
    let untyped = post_highlevel(
        &gw,
        &key,
        &json!({"_id": "inv-1", "webhookId": "wh-untyped"}),
    )
    .await;
    assert_eq!(gw.event(&untyped).await.event_type, "unknown");
    let job = only_job(&gw, &untyped, "unknown").await;
    assert_eq!((job.queue.as_str(), job.priority), ("batch", 5));

    // A type nobody lists is kept, unrouted: no job, not delivered.
    for body in [
        json!({"type": "SomethingNew", "webhookId": "wh-new"}),
        json!({"type": "INSTALL", "companyId": "co-1", "webhookId": "wh-no-install-type"}),
    ] {
        let id = post_highlevel(&gw, &key, &body).await;
        assert!(gw.jobs(&id).await.is_empty(), "{body}");
        assert!(gw.event(&id).await.unrouted, "{body}");
    }

    // Everything routed is delivered.
    let routed = HIGHLEVEL_TYPES.len() + 1;
    let records = sink.wait_for(routed).await;
    assert!(records.iter().all(|r| r.verified && r.status == 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn highlevel_installs_are_ordered_by_company_and_location_installs_wait() {
    let sink = TestSink::ok().await;
    let gw = TestGateway::start(&for_test(table(HIGHLEVEL), &sink)).await;
    let key = highlevel_key();
    let install = |install_type: &str, webhook_id: &str| {
        json!({
            "type": "INSTALL",
            "appId": "app-1",
            "installType": install_type,
            "companyId": "co-7",
            "locationId": "loc-7",
            "webhookId": webhook_id,
        })
    };

    // The location install arrives first and waits; the agency install of the same
    // company runs at once, ahead of it.
    let location = post_highlevel(&gw, &key, &install("Location", "wh-loc")).await;
    let agency = post_highlevel(&gw, &key, &install("Company", "wh-agency")).await;

    let location_job = only_job(&gw, &location, "location INSTALL").await;
    assert_eq!(location_job.queue, "critical");
    assert_eq!(location_job.priority, 1);
    assert_eq!(location_job.ordering_key.as_deref(), Some("co-7"));
    assert_eq!(location_job.run_at - location_job.created_at, 30_000);

    let agency_job = only_job(&gw, &agency, "agency INSTALL").await;
    assert_eq!(agency_job.queue, "critical");
    assert_eq!(agency_job.ordering_key.as_deref(), Some("co-7"));
    assert_eq!(agency_job.run_at, agency_job.created_at);

    let records = sink
        .wait_until(|records| {
            records
                .iter()
                .any(|r| r.webhook_id.as_deref() == Some(agency.as_str()))
        })
        .await;
    assert!(
        records
            .iter()
            .all(|r| r.webhook_id.as_deref() != Some(location.as_str())),
        "the location install waits for its delay"
    );
}

/// With `critical` and `contacts` collapsed into one queue that
/// runs one job at a time, an INSTALL sent behind 5,000 queued ContactUpdate events is
/// among the first two deliveries after it is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_overtakes_five_thousand_queued_contact_updates() {
    const UPDATES: usize = 5_000;
    const SENDERS: usize = 32;

    // Each delivery takes a few milliseconds, so the backlog cannot drain while the
    // updates are being sent.
    let sink = TestSink::start(SinkOptions {
        delay: Duration::from_millis(5),
        ..sink_options()
    })
    .await;
    let mut recipe = table(HIGHLEVEL);
    let queues = recipe["queues"].as_table_mut().expect("queues");
    assert!(
        queues.remove("contacts").is_some(),
        "the recipe has `contacts`"
    );
    queues["critical"]
        .as_table_mut()
        .expect("critical")
        .insert("concurrency".to_owned(), 1.into());
    let mut collapsed = 0;
    for route in recipe["routes"].as_array_mut().expect("routes") {
        let route = route.as_table_mut().expect("a route");
        if route["queue"].as_str() == Some("contacts") {
            route.insert("queue".to_owned(), "critical".into());
            collapsed += 1;
        }
    }
    assert_eq!(collapsed, 2, "both contact routes now go to critical");
    let gw = TestGateway::start(&for_test(recipe, &sink)).await;
    let key = highlevel_key();

    let answers: Vec<(StatusCode, Value)> = futures::stream::iter(0..UPDATES)
        .map(|i| {
            let body = json!({
                "type": "ContactUpdate",
                "locationId": "loc-1",
                "id": format!("contact-{i}"),
                "email": format!("c{i}@example.com"),
                "webhookId": format!("wh-update-{i}"),
            })
            .to_string()
            .into_bytes();
            let headers = highlevel_headers(&key, &body);
            let gw = &gw;
            async move { gw.post("highlevel", &body, &headers).await }
        })
        .buffer_unordered(SENDERS)
        .collect()
        .await;
    assert!(
        answers
            .iter()
            .all(|(status, answer)| *status == StatusCode::OK && answer["duplicate"] == false),
        "every update is accepted"
    );

    let install = json!({
        "type": "INSTALL",
        "appId": "app-1",
        "installType": "Company",
        "companyId": "co-1",
        "webhookId": "wh-install",
    });
    let install_id = post_highlevel(&gw, &key, &install).await;
    let answered_before = sink.records().len();

    let records = sink
        .wait_until(|records| {
            records
                .iter()
                .any(|r| r.webhook_id.as_deref() == Some(install_id.as_str()))
        })
        .await;
    let position = records
        .iter()
        .position(|r| r.webhook_id.as_deref() == Some(install_id.as_str()))
        .expect("the install was delivered");
    assert!(
        position < answered_before + 2,
        "the INSTALL was delivery {} after its answer (at most the 2nd expected)",
        position + 1 - answered_before
    );
    assert!(
        answered_before + 500 < UPDATES,
        "a real backlog: only {answered_before} of {UPDATES} updates were delivered when \
         the INSTALL was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_softpro_recipe_prioritises_by_type_and_retries_five_times_without_jitter() {
    let config = load_config(SOFTPRO);
    let queue = &config.queues["softpro"];
    assert_eq!(queue.max_attempts, 5);
    assert_eq!(queue.backoff.base, Duration::from_secs(2));
    assert!(queue.backoff.max >= Duration::from_secs(16));
    assert_eq!(queue.backoff.jitter, hookd::config::Jitter::None);

    let sink = TestSink::ok().await;
    let gw = TestGateway::start(&for_test(table(SOFTPRO), &sink)).await;
    let url = gw.url("/in/softpro");
    let cases: &[(&str, Option<u8>)] = &[
        ("transaction.status_changed", Some(1)),
        ("closing.scheduled", Some(1)),
        ("closing.completed", Some(1)),
        ("transaction.created", Some(2)),
        ("transaction.updated", Some(2)),
        ("document.uploaded", Some(3)),
        ("document.deleted", Some(3)),
        ("contact.created", Some(4)),
        ("contact.updated", Some(4)),
        ("task.created", Some(5)),
        ("task.completed", Some(5)),
        ("order.created", None),
    ];
    let mut routed = 0;
    for (event_type, priority) in cases {
        let sent = hookd_send(&[
            "--preset",
            "softpro",
            "--secret",
            "change-me",
            "--type",
            event_type,
            &url,
        ])
        .await;
        let id = sent.event_id();
        assert_eq!(gw.event(&id).await.event_type, *event_type);
        match priority {
            Some(priority) => {
                let job = only_job(&gw, &id, event_type).await;
                assert_eq!(
                    (job.queue.as_str(), job.priority),
                    ("softpro", *priority),
                    "{event_type}"
                );
                routed += 1;
            }
            None => assert!(gw.event(&id).await.unrouted, "{event_type} is unrouted"),
        }
    }
    let records = sink.wait_for(routed).await;
    assert!(records.iter().all(|r| r.verified && r.status == 200));
}

/// Where a Meta event lands: its priority and ordering key; `None`: unrouted.
type Lands = Option<(u8, Option<&'static str>)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meta_recipe_keys_each_conversation_and_prioritises_messages() {
    let sink = TestSink::ok().await;
    let gw = TestGateway::start(&for_test(table(META), &sink)).await;
    const WHATSAPP: &str = "102290129340398|16505551234";
    const INSTAGRAM: &str = "17841400000000000|1234567890123456";
    const MESSENGER: &str = "109876543210987|2834567890123456";
    // (source = queue, type, where it lands).
    let cases: &[(&str, &str, Lands)] = &[
        ("whatsapp", "whatsapp.message", Some((1, Some(WHATSAPP)))),
        (
            "whatsapp",
            "whatsapp.status.read",
            Some((4, Some(WHATSAPP))),
        ),
        (
            "whatsapp",
            "whatsapp.status.failed",
            Some((4, Some(WHATSAPP))),
        ),
        (
            "whatsapp",
            "whatsapp.message_template_status_update",
            Some((5, None)),
        ),
        ("instagram", "instagram.message", Some((1, Some(INSTAGRAM)))),
        ("instagram", "instagram.echo", Some((1, Some(INSTAGRAM)))),
        (
            "instagram",
            "instagram.postback",
            Some((1, Some(INSTAGRAM))),
        ),
        (
            "instagram",
            "instagram.story_reply",
            Some((2, Some(INSTAGRAM))),
        ),
        (
            "instagram",
            "instagram.story_mention",
            Some((2, Some(INSTAGRAM))),
        ),
        ("instagram", "instagram.comment", Some((3, Some(INSTAGRAM)))),
        (
            "instagram",
            "instagram.reaction",
            Some((4, Some(INSTAGRAM))),
        ),
        ("instagram", "instagram.seen", Some((4, Some(INSTAGRAM)))),
        ("instagram", "instagram.mentions", Some((5, None))),
        ("messenger", "page.message", Some((1, Some(MESSENGER)))),
        ("messenger", "page.echo", Some((1, Some(MESSENGER)))),
        ("messenger", "page.postback", Some((1, Some(MESSENGER)))),
        ("messenger", "page.delivery", Some((4, Some(MESSENGER)))),
        ("messenger", "page.read", Some((4, Some(MESSENGER)))),
        ("messenger", "page.reaction", Some((4, Some(MESSENGER)))),
        ("messenger", "page.feed", Some((5, None))),
        ("messenger", "page.ratings", None),
    ];
    let mut routed = 0;
    for (source, event_type, expected) in cases {
        let url = gw.url(&format!("/in/{source}"));
        let sent = hookd_send(&[
            "--preset",
            "meta",
            "--secret",
            "change-me",
            "--type",
            event_type,
            &url,
        ])
        .await;
        let id = sent.event_id();
        assert_eq!(gw.event(&id).await.event_type, *event_type);
        match expected {
            Some((priority, key)) => {
                let job = only_job(&gw, &id, event_type).await;
                assert_eq!(job.queue, *source, "{event_type}");
                assert_eq!(job.priority, *priority, "{event_type}");
                assert_eq!(job.ordering_key.as_deref(), *key, "{event_type}");
                routed += 1;
            }
            None => assert!(gw.event(&id).await.unrouted, "{event_type} is unrouted"),
        }
    }
    let records = sink.wait_for(routed).await;
    assert!(records.iter().all(|r| r.verified && r.status == 200));
}
