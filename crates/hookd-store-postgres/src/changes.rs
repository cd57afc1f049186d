//! The change feed across nodes: every committed change is announced with `NOTIFY` on the
//! store's channel inside the transaction that makes it (so it is delivered on commit and
//! never for a rollback), and each node's listener turns the notifications of the other
//! nodes into [`StoreChange`]s on its local feed. The node that made a change publishes
//! it locally itself, right after the commit, without waiting for the round trip.
//!
//! The channel is named after the schema, so stores on different schemas of one
//! database (parallel tests, several installations) never hear each other.

use hookd_store::{StoreChange, StoreError};
use serde_json::json;
use tokio_postgres::GenericClient;

use crate::error::PgResultExt;

/// The `LISTEN`/`NOTIFY` channel of the store on `schema`.
pub(crate) fn channel(schema: &str) -> String {
    format!("hookd_changes.{schema}")
}

/// The payload of a notification: the change, and the store instance that made it (so
/// that its own listener skips it).
pub(crate) fn encode(origin: &str, change: &StoreChange) -> String {
    let change = match change {
        StoreChange::JobsReady { queue } => json!({ "kind": "jobs_ready", "queue": queue }),
        StoreChange::QueuePaused { queue, paused } => {
            json!({ "kind": "queue_paused", "queue": queue, "paused": paused })
        }
        StoreChange::ConfigChanged => json!({ "kind": "config_changed" }),
        // A change this build cannot name travels as a configuration change, which makes
        // every node look at the store again.
        _ => json!({ "kind": "config_changed" }),
    };
    json!({ "origin": origin, "change": change }).to_string()
}

/// Reads [`encode`]'s payload: the origin and the change; `None` for a payload this
/// build does not understand (a newer node), which the listener logs and skips.
pub(crate) fn decode(payload: &str) -> Option<(String, StoreChange)> {
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    let origin = value.get("origin")?.as_str()?.to_owned();
    let change = value.get("change")?;
    let queue = || {
        change
            .get("queue")
            .and_then(|q| q.as_str())
            .map(str::to_owned)
    };
    let change = match change.get("kind")?.as_str()? {
        "jobs_ready" => StoreChange::JobsReady { queue: queue()? },
        "queue_paused" => StoreChange::QueuePaused {
            queue: queue()?,
            paused: change.get("paused")?.as_bool()?,
        },
        "config_changed" => StoreChange::ConfigChanged,
        _ => return None,
    };
    Some((origin, change))
}

/// Announces `change` to the other nodes from inside the caller's transaction.
pub(crate) async fn notify(
    client: &impl GenericClient,
    channel: &str,
    origin: &str,
    change: &StoreChange,
) -> Result<(), StoreError> {
    client
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&channel, &encode(origin, change)],
        )
        .await
        .ctx("announcing a change")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_survives_the_round_trip() {
        for change in [
            StoreChange::JobsReady {
                queue: "critical".to_owned(),
            },
            StoreChange::QueuePaused {
                queue: "bulk".to_owned(),
                paused: true,
            },
            StoreChange::ConfigChanged,
        ] {
            let decoded = decode(&encode("node-1", &change));
            assert_eq!(decoded, Some(("node-1".to_owned(), change)));
        }
        assert_eq!(
            decode("{\"origin\":\"x\",\"change\":{\"kind\":\"later\"}}"),
            None
        );
        assert_eq!(decode("not json"), None);
    }

    #[test]
    fn channels_are_named_after_their_schema() {
        assert_ne!(channel("hookd"), channel("hookd_test_1"));
    }
}
