//! Conformance cases of the event listing: order, every filter, the status derived from
//! jobs, and paging with a cursor while events keep arriving.

use std::collections::BTreeSet;

use super::{T0, claim, complete, completion, ids, new_event, new_job, record};
use crate::{EventListParams, EventStatus, EventSummary, JobOutcome, NewEvent, NewJob, Store};

/// A listing of up to 100 events with no filter; set the fields a case tests.
fn all() -> EventListParams {
    EventListParams {
        limit: 100,
        ..EventListParams::default()
    }
}

async fn list(store: &dyn Store, params: EventListParams) -> Vec<EventSummary> {
    store.event_list(params).await.expect("event_list")
}

async fn list_ids(store: &dyn Store, params: EventListParams) -> Vec<String> {
    list(store, params)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect()
}

async fn insert(store: &dyn Store, events: Vec<NewEvent>) {
    let n = events.len();
    let outcomes = store.event_insert_with_jobs(events).await.expect("insert");
    assert_eq!(outcomes.len(), n);
}

/// Events of two tenants, four sources, three types, six times; not inserted in id
/// order, and two ids that hold LIKE's wildcards (in byte order `_` > `0` > `%`).
async fn seed(store: &dyn Store) {
    let event = |id: &str, tenant: &str, source: &str, event_type: &str, at: i64, jobs| NewEvent {
        tenant: tenant.to_owned(),
        source: source.to_owned(),
        event_type: event_type.to_owned(),
        received_at: T0 + at,
        ..new_event(id, jobs)
    };
    insert(
        store,
        vec![
            event(
                "evt_03",
                "globex",
                "gx-shop",
                "order.paid",
                2_000,
                vec![new_job("q"), new_job("q")],
            ),
            event(
                "evt_01",
                "acme",
                "shop",
                "order.paid",
                0,
                vec![new_job("q")],
            ),
            event("evt_02", "acme", "billing", "invoice.paid", 1_000, vec![]),
            event(
                "evt_10",
                "acme",
                "shop",
                "order.refunded",
                3_000,
                vec![new_job("q")],
            ),
            event(
                "evt_1%x",
                "acme",
                "shop",
                "order.paid",
                4_000,
                vec![new_job("q")],
            ),
            event("evt_1_y", "acme", "billing", "order.paid", 5_000, vec![]),
        ],
    )
    .await;
}

/// With no filter every event comes back, highest id first, each summarised from its
/// row and its jobs; `limit` cuts the newest page.
pub async fn event_list_order(store: &dyn Store) {
    assert!(
        list(store, all()).await.is_empty(),
        "an empty store lists nothing"
    );
    seed(store).await;
    let detailed = NewEvent {
        provider_event_id: Some("prov-9".to_owned()),
        occurred_at: Some(T0 - 7),
        received_at: T0 + 9_000,
        ..new_event("evt_99", vec![new_job("q"), new_job("other"), new_job("q")])
    };
    insert(store, vec![detailed]).await;

    assert_eq!(
        list_ids(store, all()).await,
        [
            "evt_99", "evt_1_y", "evt_10", "evt_1%x", "evt_03", "evt_02", "evt_01"
        ]
    );
    let page = list(store, EventListParams { limit: 2, ..all() }).await;
    assert_eq!(
        page.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["evt_99", "evt_1_y"]
    );
    assert_eq!(
        page[0],
        EventSummary {
            id: "evt_99".to_owned(),
            tenant: "acme".to_owned(),
            source: "shop".to_owned(),
            event_type: "order.paid".to_owned(),
            provider_event_id: Some("prov-9".to_owned()),
            occurred_at: Some(T0 - 7),
            received_at: T0 + 9_000,
            status: EventStatus::Pending,
            jobs: 3,
        }
    );
    assert_eq!(page[1].status, EventStatus::Unrouted);
    assert_eq!(page[1].jobs, 0);
    assert_eq!(page[1].provider_event_id, None);
    assert_eq!(page[1].occurred_at, None);
    assert!(
        list(store, EventListParams { limit: 0, ..all() })
            .await
            .is_empty(),
        "limit 0 lists nothing"
    );
}

/// Each filter alone, and combined, keeps exactly the matching events, still newest
/// first. `id_prefix` is literal text: `%` and `_` are not wildcards.
pub async fn event_list_filters(store: &dyn Store) {
    seed(store).await;
    let cases: Vec<(&str, EventListParams, Vec<&str>)> = vec![
        (
            "tenant",
            EventListParams {
                tenant: Some("acme".to_owned()),
                ..all()
            },
            vec!["evt_1_y", "evt_10", "evt_1%x", "evt_02", "evt_01"],
        ),
        (
            "unknown tenant",
            EventListParams {
                tenant: Some("initech".to_owned()),
                ..all()
            },
            vec![],
        ),
        (
            "source",
            EventListParams {
                source: Some("shop".to_owned()),
                ..all()
            },
            vec!["evt_10", "evt_1%x", "evt_01"],
        ),
        (
            "event type is exact",
            EventListParams {
                event_type: Some("order.paid".to_owned()),
                ..all()
            },
            vec!["evt_1_y", "evt_1%x", "evt_03", "evt_01"],
        ),
        (
            "event type is not a prefix",
            EventListParams {
                event_type: Some("order".to_owned()),
                ..all()
            },
            vec![],
        ),
        (
            "received from (inclusive)",
            EventListParams {
                received_from: Some(T0 + 3_000),
                ..all()
            },
            vec!["evt_1_y", "evt_10", "evt_1%x"],
        ),
        (
            "received until (exclusive)",
            EventListParams {
                received_until: Some(T0 + 2_000),
                ..all()
            },
            vec!["evt_02", "evt_01"],
        ),
        (
            "received window",
            EventListParams {
                received_from: Some(T0 + 1_000),
                received_until: Some(T0 + 4_000),
                ..all()
            },
            vec!["evt_10", "evt_03", "evt_02"],
        ),
        (
            "id prefix",
            EventListParams {
                id_prefix: Some("evt_1".to_owned()),
                ..all()
            },
            vec!["evt_1_y", "evt_10", "evt_1%x"],
        ),
        (
            "id prefix that is a whole id",
            EventListParams {
                id_prefix: Some("evt_10".to_owned()),
                ..all()
            },
            vec!["evt_10"],
        ),
        (
            "percent in a prefix is literal",
            EventListParams {
                id_prefix: Some("evt_1%".to_owned()),
                ..all()
            },
            vec!["evt_1%x"],
        ),
        (
            "underscore in a prefix is literal",
            EventListParams {
                id_prefix: Some("evt_1_".to_owned()),
                ..all()
            },
            vec!["evt_1_y"],
        ),
        (
            "a prefix matching nothing",
            EventListParams {
                id_prefix: Some("evt__".to_owned()),
                ..all()
            },
            vec![],
        ),
        (
            "before id is exclusive",
            EventListParams {
                before_id: Some("evt_10".to_owned()),
                ..all()
            },
            vec!["evt_1%x", "evt_03", "evt_02", "evt_01"],
        ),
        (
            "before an id that is not stored",
            EventListParams {
                before_id: Some("evt_05".to_owned()),
                ..all()
            },
            vec!["evt_03", "evt_02", "evt_01"],
        ),
        (
            "tenant, source and type",
            EventListParams {
                tenant: Some("acme".to_owned()),
                source: Some("billing".to_owned()),
                event_type: Some("order.paid".to_owned()),
                ..all()
            },
            vec!["evt_1_y"],
        ),
        (
            "tenant, prefix, cursor and limit",
            EventListParams {
                tenant: Some("acme".to_owned()),
                id_prefix: Some("evt_".to_owned()),
                before_id: Some("evt_1_y".to_owned()),
                limit: 2,
                ..all()
            },
            vec!["evt_10", "evt_1%x"],
        ),
        (
            "source of another tenant",
            EventListParams {
                tenant: Some("acme".to_owned()),
                source: Some("gx-shop".to_owned()),
                ..all()
            },
            vec![],
        ),
    ];
    for (what, params, expected) in cases {
        assert_eq!(list_ids(store, params).await, expected, "{what}");
    }
}

/// The status comes from the jobs: `unrouted` without jobs, `pending` while any job is
/// scheduled, ready, running or retrying (even beside a dead one), `succeeded` when all
/// succeeded, `dead` when none is pending and one is dead. The status filter agrees.
pub async fn event_list_status(store: &dyn Store) {
    let later = NewJob {
        run_at: T0 + 60_000,
        ..new_job("q_scheduled")
    };
    insert(
        store,
        vec![
            new_event("evt_a_unrouted", vec![]),
            new_event("evt_b_ready", vec![new_job("q_ready")]),
            new_event("evt_c_scheduled", vec![later]),
            new_event("evt_d_running", vec![new_job("q_running")]),
            new_event("evt_e_retrying", vec![new_job("q_retrying")]),
            new_event("evt_f_succeeded", vec![new_job("q_ok"), new_job("q_ok")]),
            new_event("evt_g_dead", vec![new_job("q_ok2"), new_job("q_dead")]),
            new_event(
                "evt_h_dead_and_ready",
                vec![new_job("q_dead2"), new_job("q_ready")],
            ),
        ],
    )
    .await;
    claim(store, "q_running", T0, 10).await;
    let retrying = ids(&claim(store, "q_retrying", T0, 10).await);
    let ok: Vec<i64> = [
        ids(&claim(store, "q_ok", T0, 10).await),
        ids(&claim(store, "q_ok2", T0, 10).await),
    ]
    .concat();
    let dead = [
        ids(&claim(store, "q_dead", T0, 10).await),
        ids(&claim(store, "q_dead2", T0, 10).await),
    ]
    .concat();
    assert_eq!(
        (retrying.len(), ok.len(), dead.len()),
        (1, 3, 2),
        "claimed every job"
    );
    let retry = JobOutcome::Retry { run_at: T0 + 5_000 };
    assert!(
        complete(
            store,
            completion(retrying[0], 1, retry, record(T0, Some(503), Some("busy")))
        )
        .await
    );
    for id in ok {
        assert!(
            complete(
                store,
                completion(id, 1, JobOutcome::Succeeded, record(T0, Some(200), None))
            )
            .await
        );
    }
    for id in dead {
        assert!(
            complete(
                store,
                completion(id, 1, JobOutcome::Dead, record(T0, Some(410), Some("gone")))
            )
            .await
        );
    }

    let listed: Vec<(String, EventStatus, u32)> = list(store, all())
        .await
        .into_iter()
        .map(|e| (e.id, e.status, e.jobs))
        .collect();
    let expected = [
        ("evt_h_dead_and_ready", EventStatus::Pending, 2),
        ("evt_g_dead", EventStatus::Dead, 2),
        ("evt_f_succeeded", EventStatus::Succeeded, 2),
        ("evt_e_retrying", EventStatus::Pending, 1),
        ("evt_d_running", EventStatus::Pending, 1),
        ("evt_c_scheduled", EventStatus::Pending, 1),
        ("evt_b_ready", EventStatus::Pending, 1),
        ("evt_a_unrouted", EventStatus::Unrouted, 0),
    ];
    assert_eq!(
        listed,
        expected.map(|(id, status, jobs)| (id.to_owned(), status, jobs)),
    );

    for status in [
        EventStatus::Unrouted,
        EventStatus::Pending,
        EventStatus::Succeeded,
        EventStatus::Dead,
    ] {
        let wanted: Vec<&str> = expected
            .iter()
            .filter(|e| e.1 == status)
            .map(|e| e.0)
            .collect();
        let got = list(
            store,
            EventListParams {
                status: Some(status),
                ..all()
            },
        )
        .await;
        assert!(
            got.iter().all(|e| e.status == status),
            "{status:?}: {got:?}"
        );
        assert_eq!(
            got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            wanted,
            "status filter {status:?}"
        );
    }
    assert_eq!(
        list_ids(
            store,
            EventListParams {
                status: Some(EventStatus::Pending),
                before_id: Some("evt_d_running".to_owned()),
                limit: 1,
                ..all()
            }
        )
        .await,
        ["evt_c_scheduled"],
        "the status filter pages like any other"
    );
}

/// Walking pages with the last id of each page as `before_id` yields every event that
/// existed at the first page exactly once, newest first, although newer events (and
/// another tenant's) arrive between pages.
pub async fn event_list_pages_with_cursor(store: &dyn Store) {
    let event = |n: u32, tenant: &str| NewEvent {
        tenant: tenant.to_owned(),
        received_at: T0 + i64::from(n),
        ..new_event(
            &format!("evt_{n:04}"),
            if n.is_multiple_of(3) {
                vec![]
            } else {
                vec![new_job("q")]
            },
        )
    };
    insert(
        store,
        (0..40)
            .map(|n| {
                event(
                    n,
                    if n.is_multiple_of(4) {
                        "globex"
                    } else {
                        "acme"
                    },
                )
            })
            .collect(),
    )
    .await;
    let existing: Vec<String> = (0..40u32)
        .rev()
        .filter(|n| !n.is_multiple_of(4))
        .map(|n| format!("evt_{n:04}"))
        .collect();

    let mut seen: Vec<String> = Vec::new();
    let mut before_id = None;
    let mut arriving = 1_000;
    // Every page but the last brings something new, so a cursor that fails to advance
    // ends the walk with a failure instead of spinning forever.
    for _ in 0..=existing.len() {
        let page = list_ids(
            store,
            EventListParams {
                tenant: Some("acme".to_owned()),
                before_id: before_id.clone(),
                limit: 7,
                ..all()
            },
        )
        .await;
        assert!(page.len() <= 7, "a page holds at most limit events");
        if let Some(cursor) = &before_id {
            assert!(
                page.iter().all(|id| id < cursor),
                "a page after {cursor} holds only lower ids: {page:?}"
            );
        }
        let Some(last) = page.last().cloned() else {
            break;
        };
        seen.extend(page);
        before_id = Some(last);
        // New events arrive between pages: higher ids, both tenants.
        insert(
            store,
            vec![event(arriving, "acme"), event(arriving + 1, "globex")],
        )
        .await;
        arriving += 2;
    }
    assert_eq!(seen, existing, "every event once, newest first");
    assert_eq!(BTreeSet::from_iter(&seen).len(), seen.len(), "no repeats");
    let first = list_ids(
        store,
        EventListParams {
            tenant: Some("acme".to_owned()),
            limit: 1,
            ..all()
        },
    )
    .await;
    assert_eq!(
        first,
        [format!("evt_{:04}", arriving - 2)],
        "the newcomers lead the next walk"
    );
}
