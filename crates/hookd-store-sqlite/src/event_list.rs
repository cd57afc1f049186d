//! The event listing: events matching a filter, newest first, one page at a time, each
//! with its status derived from its jobs.
//!
//! # Paging
//!
//! Rows come in `id DESC` order and the cursor is `id < before_id`. Ids are `evt_` +
//! ULID, so id order is arrival order and new events only ever sort before the first
//! page: walking pages never repeats or skips an event.
//!
//! # Plans
//!
//! The statement is built from the filters present, so SQLite plans each combination on
//! its own (there are no `sqlite_stat1` statistics: the store never runs `ANALYZE`, so
//! plans depend on the schema and the SQLite version only; `tests::plans` pins them).
//! Indexes of migration 0002:
//!
//! - `events_tenant (tenant, id)`, `events_source (source, id)`: a listing of one tenant
//!   or one source (sources belong to one tenant) walks the index backwards from the
//!   cursor and stops after `limit` matching rows, with no sort. Type, status and
//!   `received_from` filters are checked on the rows walked. Without tenant or source it
//!   walks the primary key the same way; an `id_prefix` becomes a range on it.
//! - `events_tenant_received (tenant, received_at)`, `events_received (received_at)`:
//!   a window with an upper bound (`received_until`) reads just the window and sorts it,
//!   instead of walking every newer event first. A window with only `received_from`
//!   stays on the id walk (see [`statement`]).
//!
//! A rare status (say `dead` in a large tenant) walks until it has found `limit` events
//! or reached the tenant's oldest; each row walked costs two lookups in `jobs_event`.
//! The status and job count of the rows returned are looked up after the page is cut.
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
use rusqlite::types::{Type, Value};
use rusqlite::{Connection, Row, params_from_iter};

use crate::error::{Invalid, SqliteResultExt};

/// The most events one page returns, whatever `limit` asks.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// True when event `e` has a job that has not finished.
const PENDING: &str = "EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id \
     AND j.state IN ('scheduled', 'ready', 'running', 'retrying'))";

/// True when event `e` has a dead job.
const DEAD: &str = "EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id AND j.state = 'dead')";

/// Lists the events matching `params`, newest first, at most `min(limit, MAX_LIMIT)`.
pub(crate) fn list(
    conn: &Connection,
    params: &EventListParams,
) -> Result<Vec<EventSummary>, StoreError> {
    const CONTEXT: &str = "listing events";
    let (sql, values) = statement(params);
    conn.prepare_cached(&sql)
        .ctx(CONTEXT)?
        .query_map(params_from_iter(values), summary_from_row)
        .ctx(CONTEXT)?
        .collect::<Result<_, _>>()
        .ctx(CONTEXT)
}

/// The statement for `params` and its bound values, in placeholder order.
fn statement(params: &EventListParams) -> (String, Vec<Value>) {
    let mut filters: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |filters: &mut Vec<String>, column: &str, op: &str, value: Value| {
        values.push(value);
        filters.push(format!("{column} {op} ?{}", values.len()));
    };
    if let Some(tenant) = &params.tenant {
        bind(&mut filters, "e.tenant", "=", text(tenant));
    }
    if let Some(source) = &params.source {
        bind(&mut filters, "e.source", "=", text(source));
    }
    if let Some(event_type) = &params.event_type {
        bind(&mut filters, "e.event_type", "=", text(event_type));
    }
    if let Some(from) = params.received_from {
        // Alone, "since" is best served by walking ids back from the newest, where the
        // rows match at once; the unary + keeps the planner off the received_at indexes,
        // which would fetch and sort the whole window first.
        let column = if params.received_until.is_some() {
            "e.received_at"
        } else {
            "+e.received_at"
        };
        bind(&mut filters, column, ">=", Value::Integer(from));
    }
    if let Some(until) = params.received_until {
        bind(&mut filters, "e.received_at", "<", Value::Integer(until));
    }
    if let Some(prefix) = params.id_prefix.as_deref().filter(|p| !p.is_empty()) {
        // A range on id rather than LIKE: it uses the index and needs no escaping.
        bind(&mut filters, "e.id", ">=", text(prefix));
        if let Some(upper) = prefix_upper_bound(prefix) {
            bind(&mut filters, "e.id", "<", Value::Text(upper));
        }
    }
    if let Some(before) = &params.before_id {
        bind(&mut filters, "e.id", "<", text(before));
    }
    if let Some(status) = params.status {
        filters.push(match status {
            EventStatus::Unrouted => "e.unrouted = 1".to_owned(),
            EventStatus::Pending => format!("e.unrouted = 0 AND {PENDING}"),
            EventStatus::Dead => format!("e.unrouted = 0 AND NOT {PENDING} AND {DEAD}"),
            EventStatus::Succeeded => format!("e.unrouted = 0 AND NOT {PENDING} AND NOT {DEAD}"),
        });
    }
    values.push(Value::Integer(i64::from(params.limit.min(MAX_LIMIT))));
    let limit = values.len();
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    // The inner query picks the page; the outer one looks up jobs for its rows only, not
    // for every row a sort (time windows) has to fetch.
    let sql = format!(
        "SELECT e.id, e.tenant, e.source, e.event_type, e.provider_event_id, e.occurred_at,
                e.received_at, e.unrouted, {PENDING}, {DEAD},
                (SELECT count(*) FROM jobs j WHERE j.event_id = e.id)
         FROM (SELECT e.id, e.tenant, e.source, e.event_type, e.provider_event_id,
                      e.occurred_at, e.received_at, e.unrouted
               FROM events e
               {filter}
               ORDER BY e.id DESC
               LIMIT ?{limit}) e
         ORDER BY e.id DESC"
    );
    (sql, values)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The least string greater than every string that starts with `prefix`: the prefix cut
/// after its last character below `char::MAX`, that character incremented. SQLite
/// compares text byte-wise and UTF-8 keeps code-point order, so `id >= prefix AND id <
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

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<EventSummary> {
    let unrouted: bool = row.get(7)?;
    let pending: bool = row.get(8)?;
    let dead: bool = row.get(9)?;
    let status = if unrouted {
        EventStatus::Unrouted
    } else if pending {
        EventStatus::Pending
    } else if dead {
        EventStatus::Dead
    } else {
        EventStatus::Succeeded
    };
    let jobs: i64 = row.get(10)?;
    let jobs = u32::try_from(jobs).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            10,
            Type::Integer,
            Box::new(Invalid(format!("job count {jobs} out of range"))),
        )
    })?;
    Ok(EventSummary {
        id: row.get(0)?,
        tenant: row.get(1)?,
        source: row.get(2)?,
        event_type: row.get(3)?,
        provider_event_id: row.get(4)?,
        occurred_at: row.get(5)?,
        received_at: row.get(6)?,
        status,
        jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite chooses for `params`, one line per step, sub-steps indented.
    fn plan(conn: &Connection, params: &EventListParams) -> Vec<String> {
        let (sql, values) = statement(params);
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let rows = stmt
            .query_map(params_from_iter(values), |row| {
                Ok((row.get::<_, i64>(1)?, row.get::<_, String>(3)?))
            })
            .expect("explain");
        rows.map(|row| {
            let (parent, detail) = row.expect("row");
            format!("{}{detail}", if parent == 0 { "" } else { "  " })
        })
        .collect()
    }

    /// Each common listing reads `events` the way the module doc says: an id walk with
    /// no sort, or a time window read and sorted. Job lookups use `jobs_event`.
    #[test]
    fn common_listings_use_their_index() {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::schema::migrate(&mut conn).expect("migrate");
        let base = EventListParams {
            limit: 50,
            ..EventListParams::default()
        };
        let tenant = EventListParams {
            tenant: Some("acme".to_owned()),
            ..base.clone()
        };
        let window = |params: &EventListParams| EventListParams {
            received_from: Some(1_000),
            received_until: Some(2_000),
            ..params.clone()
        };
        let cases: Vec<(&str, EventListParams, &str, bool)> = vec![
            (
                "admin",
                base.clone(),
                "SCAN e USING INDEX sqlite_autoindex_events_1",
                false,
            ),
            (
                "tenant",
                tenant.clone(),
                "SEARCH e USING INDEX events_tenant (tenant=?)",
                false,
            ),
            (
                "tenant, next page",
                EventListParams {
                    before_id: Some("evt_9".to_owned()),
                    ..tenant.clone()
                },
                "SEARCH e USING INDEX events_tenant (tenant=? AND id<?)",
                false,
            ),
            (
                "tenant and source",
                EventListParams {
                    source: Some("shop".to_owned()),
                    ..tenant.clone()
                },
                "SEARCH e USING INDEX events_source (source=?)",
                false,
            ),
            (
                "tenant and type",
                EventListParams {
                    event_type: Some("order.paid".to_owned()),
                    ..tenant.clone()
                },
                "SEARCH e USING INDEX events_tenant (tenant=?)",
                false,
            ),
            (
                "tenant and status",
                EventListParams {
                    status: Some(EventStatus::Dead),
                    ..tenant.clone()
                },
                "SEARCH e USING INDEX events_tenant (tenant=?)",
                false,
            ),
            (
                "tenant since",
                EventListParams {
                    received_from: Some(1_000),
                    ..tenant.clone()
                },
                "SEARCH e USING INDEX events_tenant (tenant=?)",
                false,
            ),
            (
                "tenant window",
                window(&tenant),
                "SEARCH e USING INDEX events_tenant_received (tenant=? AND received_at>? AND received_at<?)",
                true,
            ),
            (
                "tenant until",
                EventListParams {
                    received_until: Some(2_000),
                    ..tenant.clone()
                },
                "SEARCH e USING INDEX events_tenant_received (tenant=? AND received_at<?)",
                true,
            ),
            (
                "admin window",
                window(&base),
                "SEARCH e USING INDEX events_received (received_at>? AND received_at<?)",
                true,
            ),
            (
                "tenant and id prefix",
                EventListParams {
                    id_prefix: Some("evt_01".to_owned()),
                    ..tenant.clone()
                },
                "SEARCH e USING INDEX events_tenant (tenant=? AND id>? AND id<?)",
                false,
            ),
            (
                "admin id prefix",
                EventListParams {
                    id_prefix: Some("evt_01".to_owned()),
                    ..base.clone()
                },
                "SEARCH e USING INDEX sqlite_autoindex_events_1 (id>? AND id<?)",
                false,
            ),
        ];
        for (what, params, events_step, sorts) in cases {
            let plan = plan(&conn, &params);
            let text = plan.join("\n");
            assert!(
                plan.iter().any(|step| step.trim() == events_step),
                "{what}: expected `{events_step}` in\n{text}"
            );
            assert_eq!(
                plan.iter().filter(|s| s.contains("TEMP B-TREE")).count(),
                usize::from(sorts),
                "{what}: the page is cut {} a sort:\n{text}",
                if sorts { "after" } else { "without" }
            );
            assert!(
                plan.iter()
                    .filter(|s| s.contains(" j "))
                    .all(|s| s.contains("USING INDEX jobs_event (event_id=?)")
                        || s.contains("USING COVERING INDEX jobs_event (event_id=?)")),
                "{what}: jobs are looked up by event:\n{text}"
            );
        }
    }

    #[test]
    fn prefix_upper_bound_is_the_next_string() {
        assert_eq!(prefix_upper_bound("evt_01"), Some("evt_02".to_owned()));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), Some("b".to_owned()));
        assert_eq!(prefix_upper_bound("\u{D7FF}"), Some("\u{E000}".to_owned()));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }
}
