//! Route matching: the jobs one event makes, against configurations loaded from TOML with
//! [`hookd::config::load_str`] as `hookd serve` loads them.
//!
//! The planner is called through [`hookd::bench_support::route`], because the public ways
//! to route an event (ingest and replay) also verify, parse and commit to the store, which
//! cost far more than matching. Each case checks the jobs it makes before it is measured.
//!
//! ```sh
//! cargo bench -p hookd --bench route
//! ```

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookd::bench_support;
use hookd::config::{Config, load_str};
use serde_json::{Value, json};

/// Sources, a queue and a destination for the routes of every case.
const BASE: &str = r#"
[sources.shop]
secrets = ["s"]
signature_header = "x-signature"
event_type = { json = "/type" }

[sources.other]
secrets = ["s"]
signature_header = "x-signature"

[queues.critical]

[destinations.app]
url = "http://127.0.0.1:9/hooks"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"#;

/// Routes of the "50 routes with type globs" cases.
const GLOB_ROUTES: usize = 50;

/// Routes of the "match conditions" case.
const CONDITION_ROUTES: usize = 10;

/// [`BASE`] with `routes` appended, loaded and checked.
fn config(routes: &str) -> Config {
    match load_str(&format!("{BASE}\n{routes}"), Vec::new()) {
        Ok((config, _warnings)) => config,
        Err(problems) => panic!("the benchmark configuration does not load: {problems:?}"),
    }
}

/// One route for every event of `shop`.
fn one_route() -> Config {
    config(
        r#"
        [[routes]]
        source = "shop"
        destination = "app"
        "#,
    )
}

/// [`GLOB_ROUTES`] routes: all but the last for `shop`, each with two type globs of its
/// own resource; the last for every `*.deleted` event of either source.
fn glob_routes() -> Config {
    let mut routes = String::new();
    for i in 0..GLOB_ROUTES - 1 {
        writeln!(
            routes,
            r#"
            [[routes]]
            source = "shop"
            types = ["resource{i}.*", "resource{i}_item.{{created,updated}}"]
            queue = "critical"
            destination = "app"
            "#
        )
        .expect("write to a String");
    }
    routes.push_str(
        r#"
        [[routes]]
        source = ["shop", "other"]
        types = ["*.deleted"]
        destination = "app"
        "#,
    );
    config(&routes)
}

/// [`CONDITION_ROUTES`] routes of `shop`, each with three `match` conditions on nested
/// JSON pointers: status, currency (one per route) and `livemode`.
fn condition_routes() -> Config {
    let mut routes = String::new();
    for i in 0..CONDITION_ROUTES {
        writeln!(
            routes,
            r#"
            [[routes]]
            source = "shop"
            types = ["order.*"]
            match = {{ "/data/object/status" = "paid", "/data/object/currency" = "c{i}", "/livemode" = true }}
            destination = "app"
            "#
        )
        .expect("write to a String");
    }
    config(&routes)
}

/// A parsed order event in `currency`, with eight line items.
fn order(currency: &str) -> Value {
    let items: Vec<Value> = (0..8)
        .map(|i| json!({"sku": format!("sku-{i:04}"), "quantity": i + 1, "price": 1250}))
        .collect();
    json!({
        "id": "evt_01JABCDEF0123456789",
        "type": "order.paid",
        "livemode": true,
        "data": {"object": {
            "id": "ord_123",
            "status": "paid",
            "currency": currency,
            "customer": {"id": "cus_42", "email": "buyer@example.com"},
            "items": items,
        }},
    })
}

fn route(c: &mut Criterion) {
    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(1));

    let cases: [(&str, Config, &str, Value, usize); 4] = [
        ("1_route", one_route(), "order.paid", order("c0"), 1),
        (
            "50_routes_type_globs",
            glob_routes(),
            "resource48_item.updated",
            order("c0"),
            1,
        ),
        (
            "50_routes_type_globs_no_match",
            glob_routes(),
            "invoice.paid",
            order("c0"),
            0,
        ),
        (
            "10_routes_match_conditions",
            condition_routes(),
            "order.paid",
            order("c9"),
            1,
        ),
    ];
    for (name, config, event_type, body, jobs) in &cases {
        let planned = bench_support::route(config, "shop", event_type, Some(body));
        assert_eq!(planned.len(), *jobs, "{name}: the setup is wrong");
        group.bench_function(*name, |b| {
            b.iter(|| bench_support::route(config, "shop", black_box(event_type), Some(body)));
        });
    }

    group.finish();
}

criterion_group!(benches, route);
criterion_main!(benches);
