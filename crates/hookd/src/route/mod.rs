//! Routing: which jobs an event makes.
//!
//! An event goes to every route that matches it (fan-out), one job per route. A route
//! matches on its sources, its type globs and its `match` conditions (JSON pointer =
//! value, all must hold). The job takes the route's queue, priority, delay, destination,
//! and an ordering key built from the route's JSON pointers. An event no route matches
//! makes no job and is stored as unrouted. Used by ingest, and by replay for an event
//! stored earlier.

use hookd_store::{Millis, NewJob, Target};
use serde_json::Value;

use crate::clock;
use crate::config::{Config, RouteConfig};

/// What routing needs to know about one event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteInput<'a> {
    pub(crate) source: &'a str,
    pub(crate) event_type: &'a str,
    /// The parsed body; `None` for raw sources.
    pub(crate) body: Option<&'a Value>,
    /// When route delays count from: the event's arrival, or now for a replay.
    pub(crate) received_at: Millis,
}

/// The jobs for one event, and what routing noticed on the way.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RoutePlan {
    pub(crate) jobs: Vec<NewJob>,
    /// Routes with an ordering key whose pointers were missing in the body: their jobs
    /// are unkeyed.
    pub(crate) unkeyed_routes: Vec<String>,
}

/// Plans the jobs of one event against the routes of `config`, in route order.
pub(crate) fn plan(config: &Config, input: RouteInput<'_>) -> RoutePlan {
    let mut plan = RoutePlan::default();
    for route in config.routes.iter().filter(|r| matches(r, &input)) {
        let ordering_key = if route.ordering_key.is_empty() {
            None
        } else {
            let key = input
                .body
                .and_then(|b| ordering_key(b, &route.ordering_key));
            if key.is_none() {
                plan.unkeyed_routes.push(route.name.clone());
            }
            key
        };
        plan.jobs.push(NewJob {
            queue: route.queue.clone(),
            priority: route.priority,
            run_at: input.received_at.saturating_add(clock::millis(route.delay)),
            ordering_key,
            target: Target::Http {
                destination: route.destination.clone(),
            },
        });
    }
    plan
}

fn matches(route: &RouteConfig, input: &RouteInput<'_>) -> bool {
    route.sources.iter().any(|s| s == input.source)
        && (route.type_patterns.is_empty() || route.types.is_match(input.event_type))
        && route.conditions.iter().all(|(pointer, expected)| {
            input
                .body
                .and_then(|b| b.pointer(pointer))
                .is_some_and(|actual| json_eq(actual, expected))
        })
}

/// Equality that treats `5` and `5.0` as the same number, since TOML integers and JSON
/// floats meet here.
fn json_eq(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        _ => actual == expected,
    }
}

/// The key is the pointed-to values in pointer order: strings as they are, other values
/// as JSON text, joined by `|`. A missing pointer (or a null) gives no key at all.
fn ordering_key(body: &Value, pointers: &[String]) -> Option<String> {
    let mut key = String::new();
    for (i, pointer) in pointers.iter().enumerate() {
        let part = match body.pointer(pointer)? {
            Value::Null => return None,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if i > 0 {
            key.push('|');
        }
        key.push_str(&part);
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::load_str;

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

    fn config(routes: &str) -> Config {
        let text = format!("{BASE}\n{routes}");
        match load_str(&text, Vec::new()) {
            Ok((config, _)) => config,
            Err(problems) => panic!("config does not load: {problems:?}"),
        }
    }

    fn route(config: &Config, event_type: &str, body: &Value) -> RoutePlan {
        plan(
            config,
            RouteInput {
                source: "shop",
                event_type,
                body: Some(body),
                received_at: 1_000,
            },
        )
    }

    #[test]
    fn fans_out_to_every_matching_route_in_order() {
        let config = config(
            r#"
            [[routes]]
            source = "shop"
            types = ["order.*"]
            queue = "critical"
            priority = 1
            destination = "app"

            [[routes]]
            source = "shop"
            destination = "app"
            delay = "5s"
            "#,
        );
        let plan = route(&config, "order.paid", &json!({}));
        assert_eq!(plan.jobs.len(), 2);
        assert_eq!(plan.jobs[0].queue, "critical");
        assert_eq!(plan.jobs[0].priority, 1);
        assert_eq!(plan.jobs[0].run_at, 1_000);
        assert_eq!(plan.jobs[1].queue, "default");
        assert_eq!(plan.jobs[1].run_at, 6_000);
        assert_eq!(route(&config, "customer.created", &json!({})).jobs.len(), 1);
    }

    #[test]
    fn match_conditions_must_all_hold() {
        let config = config(
            r#"
            [[routes]]
            source = "shop"
            match = { "/status" = "paid", "/total" = 5 }
            destination = "app"
            "#,
        );
        assert_eq!(
            route(&config, "t", &json!({"status": "paid", "total": 5.0}))
                .jobs
                .len(),
            1
        );
        assert!(
            route(&config, "t", &json!({"status": "paid", "total": 6}))
                .jobs
                .is_empty()
        );
        assert!(route(&config, "t", &json!({"total": 5})).jobs.is_empty());
    }

    #[test]
    fn other_sources_and_unmatched_types_make_no_job() {
        let config = config(
            r#"
            [[routes]]
            source = "other"
            destination = "app"
            "#,
        );
        assert!(route(&config, "t", &json!({})).jobs.is_empty());
    }

    #[test]
    fn ordering_key_joins_pointers_and_a_missing_one_leaves_the_job_unkeyed() {
        let config = config(
            r#"
            [[routes]]
            name = "by-customer"
            source = "shop"
            ordering_key = ["/customer/id", "/shop"]
            destination = "app"
            "#,
        );
        let plan = route(&config, "t", &json!({"customer": {"id": 42}, "shop": "a"}));
        assert_eq!(plan.jobs[0].ordering_key.as_deref(), Some("42|a"));
        assert!(plan.unkeyed_routes.is_empty());

        let plan = route(&config, "t", &json!({"customer": {"id": 42}}));
        assert_eq!(plan.jobs[0].ordering_key, None);
        assert_eq!(plan.unkeyed_routes, vec!["by-customer".to_owned()]);
    }
}
