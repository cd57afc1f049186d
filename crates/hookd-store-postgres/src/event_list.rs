//! The event listing: events matching a filter, newest first, one page at a time, each
//! with its status derived from its jobs.
//!
//! Rows come in `id DESC` order and the cursor is `id < before_id`. Ids are `evt_` +
//! ULID and the id columns compare byte-wise (`COLLATE "C"`), so id order is arrival
//! order and new events only ever sort before the first page: walking pages never
//! repeats or skips an event. An `id_prefix` is a range on the id, which uses the
//! primary key and needs no escaping.
//!
//! The statement is built from the filters present, so PostgreSQL plans each
//! combination on its own: a listing of one tenant or source walks `events_tenant` or
//! `events_source` backwards from the cursor; a time window can use the `received_at`
//! indexes. The inner query cuts the page; the outer one looks up the status and job
//! count of its rows only.
//!
//! # Status
//!
//! - `unrouted`: the event's `unrouted` flag (no route matched, so no jobs);
//! - `pending`: some job is `scheduled`, `ready`, `running` or `retrying`;
//! - `dead`: none is pending and some job is `dead`;
//! - `succeeded`: every job succeeded.
//!
//! The filter and the reported status use the same predicates ([`PENDING`], [`DEAD`]).

use hookd_store::{EventListParams, EventStatus, EventSummary, StoreError};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use crate::error::PgResultExt;
use crate::rows::{get, get_as};

/// The most events one page returns, whatever `limit` asks.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// True when event `e` has a job that has not finished.
const PENDING: &str = "EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id \
     AND j.state IN ('scheduled', 'ready', 'running', 'retrying'))";

/// True when event `e` has a dead job.
const DEAD: &str = "EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id AND j.state = 'dead')";

/// A value bound to the statement.
type Value = Box<dyn ToSql + Sync + Send>;

/// Lists the events matching `params`, newest first, at most `min(limit, MAX_LIMIT)`.
pub(crate) async fn list(
    client: &impl GenericClient,
    params: &EventListParams,
) -> Result<Vec<EventSummary>, StoreError> {
    const CONTEXT: &str = "listing events";
    let (sql, values) = statement(params);
    let values: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|value| &**value as &(dyn ToSql + Sync))
        .collect();
    client
        .query(&sql, &values)
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(summary_from_row)
        .collect()
}

/// The statement for `params` and its bound values, in placeholder order.
fn statement(params: &EventListParams) -> (String, Vec<Value>) {
    let mut filters: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |filters: &mut Vec<String>, column: &str, op: &str, value: Value| {
        values.push(value);
        filters.push(format!("{column} {op} ${}", values.len()));
    };
    if let Some(tenant) = &params.tenant {
        bind(&mut filters, "e.tenant", "=", Box::new(tenant.clone()));
    }
    if let Some(source) = &params.source {
        bind(&mut filters, "e.source", "=", Box::new(source.clone()));
    }
    if let Some(event_type) = &params.event_type {
        bind(
            &mut filters,
            "e.event_type",
            "=",
            Box::new(event_type.clone()),
        );
    }
    if let Some(from) = params.received_from {
        bind(&mut filters, "e.received_at", ">=", Box::new(from));
    }
    if let Some(until) = params.received_until {
        bind(&mut filters, "e.received_at", "<", Box::new(until));
    }
    if let Some(prefix) = params.id_prefix.as_deref().filter(|p| !p.is_empty()) {
        bind(&mut filters, "e.id", ">=", Box::new(prefix.to_owned()));
        if let Some(upper) = prefix_upper_bound(prefix) {
            bind(&mut filters, "e.id", "<", Box::new(upper));
        }
    }
    if let Some(before) = &params.before_id {
        bind(&mut filters, "e.id", "<", Box::new(before.clone()));
    }
    if let Some(status) = params.status {
        filters.push(match status {
            EventStatus::Unrouted => "e.unrouted".to_owned(),
            EventStatus::Pending => format!("NOT e.unrouted AND {PENDING}"),
            EventStatus::Dead => format!("NOT e.unrouted AND NOT {PENDING} AND {DEAD}"),
            EventStatus::Succeeded => format!("NOT e.unrouted AND NOT {PENDING} AND NOT {DEAD}"),
        });
    }
    values.push(Box::new(i64::from(params.limit.min(MAX_LIMIT))));
    let limit = values.len();
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let sql = format!(
        "SELECT e.id, e.tenant, e.source, e.event_type, e.provider_event_id, e.occurred_at,
                e.received_at, e.unrouted, {PENDING} AS pending, {DEAD} AS dead,
                (SELECT count(*) FROM jobs j WHERE j.event_id = e.id) AS jobs
         FROM (SELECT e.id, e.tenant, e.source, e.event_type, e.provider_event_id,
                      e.occurred_at, e.received_at, e.unrouted
               FROM events e
               {filter}
               ORDER BY e.id DESC
               LIMIT ${limit}) e
         ORDER BY e.id DESC"
    );
    (sql, values)
}

/// The least string greater than every string that starts with `prefix`: the prefix cut
/// after its last character below `char::MAX`, that character incremented. The id
/// compares byte-wise and UTF-8 keeps code-point order, so `id >= prefix AND id <
/// bound` is exactly "starts with prefix". `None` when no such string exists (the
/// prefix is all `char::MAX`): then `id >= prefix` alone is exact.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // Skips the surrogate gap, which no `char` occupies.
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn summary_from_row(row: &Row) -> Result<EventSummary, StoreError> {
    let status = if get(row, "unrouted")? {
        EventStatus::Unrouted
    } else if get(row, "pending")? {
        EventStatus::Pending
    } else if get(row, "dead")? {
        EventStatus::Dead
    } else {
        EventStatus::Succeeded
    };
    Ok(EventSummary {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        source: get(row, "source")?,
        event_type: get(row, "event_type")?,
        provider_event_id: get(row, "provider_event_id")?,
        occurred_at: get(row, "occurred_at")?,
        received_at: get(row, "received_at")?,
        status,
        jobs: get_as::<i64, _>(row, "jobs")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_bound_is_the_next_string_after_every_extension() {
        assert_eq!(prefix_upper_bound("evt_01"), Some("evt_02".to_owned()));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), Some("b".to_owned()));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }

    #[test]
    fn placeholders_follow_the_filters_present() {
        let (sql, values) = statement(&EventListParams {
            tenant: Some("acme".to_owned()),
            before_id: Some("evt_9".to_owned()),
            limit: 5_000,
            ..EventListParams::default()
        });
        assert!(sql.contains("e.tenant = $1"), "{sql}");
        assert!(sql.contains("e.id < $2"), "{sql}");
        assert!(sql.contains("LIMIT $3"), "{sql}");
        assert_eq!(values.len(), 3);
    }
}
