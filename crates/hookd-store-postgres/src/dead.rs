//! Dead letters: listing, counting, requeueing and purging `dead` jobs, through the
//! `jobs_dead (tenant, queue, id)` partial index.
//!
//! Every statement shares one `WHERE` clause built from the [`DeadFilter`]
//! ([`DeadWhere`]): only the given fields become conditions, so each combination gets a
//! plan of its own (a catch-all `$1 IS NULL OR tenant = $1` would leave the planner one
//! generic plan for all of them); the source and type come from the job's event.

use hookd_store::{DeadFilter, Job, JobRetry, StoreError};
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::PgResultExt;
use crate::jobs::{JOB_COLUMNS, job_from_row};
use crate::publish::{commit_and_publish, jobs_ready};
use crate::rows::{get, get_as};

/// A `WHERE` clause over `jobs` that matches the dead jobs of a filter, and the
/// parameters it numbers; more conditions and parameters can follow.
struct DeadWhere<'a> {
    sql: String,
    params: Vec<&'a (dyn ToSql + Sync)>,
}

impl<'a> DeadWhere<'a> {
    fn new(filter: &'a DeadFilter) -> Self {
        let mut clause = DeadWhere {
            sql: "jobs.state = 'dead'".to_owned(),
            params: Vec::new(),
        };
        if let Some(tenant) = &filter.tenant {
            clause.and("jobs.tenant =", tenant);
        }
        if let Some(queue) = &filter.queue {
            clause.and("jobs.queue =", queue);
        }
        let mut event = Vec::new();
        if let Some(source) = &filter.source {
            event.push(format!("e.source = {}", clause.param(source)));
        }
        if let Some(event_type) = &filter.event_type {
            event.push(format!("e.event_type = {}", clause.param(event_type)));
        }
        if !event.is_empty() {
            clause.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM events AS e WHERE e.id = jobs.event_id AND {})",
                event.join(" AND ")
            ));
        }
        clause
    }

    /// Adds `AND {condition} $n` with `value` as parameter `$n`.
    fn and(&mut self, condition: &str, value: &'a (dyn ToSql + Sync)) {
        let param = self.param(value);
        self.sql.push_str(&format!(" AND {condition} {param}"));
    }

    /// Numbers `value` as the next parameter and returns its placeholder.
    fn param(&mut self, value: &'a (dyn ToSql + Sync)) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    /// Narrows the clause to the jobs of `ids`, when given.
    fn among(mut self, ids: Option<&'a Vec<i64>>) -> Self {
        if let Some(ids) = ids {
            let ids = self.param(ids);
            self.sql.push_str(&format!(" AND jobs.id = ANY({ids})"));
        }
        self
    }

    /// `SELECT id … ORDER BY id LIMIT`: at most `limit` matching jobs, lowest id first.
    fn lowest_ids(mut self, limit: &'a i64) -> Self {
        let limit = self.param(limit);
        self.sql = format!(
            "SELECT jobs.id FROM jobs WHERE {} ORDER BY jobs.id LIMIT {limit}",
            self.sql
        );
        self
    }
}

/// Requeues at most `retry.limit` dead jobs, lowest id first: `ready` at `now`, their
/// attempts and count kept. Announces `JobsReady` for their queues and publishes it
/// after the commit; returns how many moved.
pub(crate) async fn retry(store: &PostgresStore, retry: &JobRetry) -> Result<u64, StoreError> {
    const CONTEXT: &str = "requeueing dead jobs";
    let limit = i64::from(retry.limit);
    let mut picked = DeadWhere::new(&retry.filter)
        .among(retry.ids.as_ref())
        .lowest_ids(&limit);
    let now = picked.param(&retry.now);
    // The update checks the state again under the row lock: a job requeued or purged
    // by a concurrent call is left to it.
    let sql = format!(
        "WITH picked AS ({})
         UPDATE jobs AS j
         SET state = 'ready', run_at = {now}, updated_at = {now},
             lease_until = NULL, lease_owner = NULL, attempt_started_at = NULL
         FROM picked
         WHERE j.id = picked.id AND j.state = 'dead'
         RETURNING j.queue",
        picked.sql
    );
    let mut client = store.client().await?;
    let tx = client.transaction().await.ctx(CONTEXT)?;
    let rows = tx
        .query(&tx.prepare_cached(&sql).await.ctx(CONTEXT)?, &picked.params)
        .await
        .ctx(CONTEXT)?;
    let queues = rows
        .iter()
        .map(|row| get::<&str>(row, "queue"))
        .collect::<Result<Vec<_>, _>>()?;
    commit_and_publish(store, tx, jobs_ready(queues), CONTEXT).await?;
    Ok(rows.len() as u64)
}

/// Lists dead jobs newest first, below the cursor.
pub(crate) async fn list(
    store: &PostgresStore,
    filter: &DeadFilter,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<Job>, StoreError> {
    const CONTEXT: &str = "listing dead jobs";
    let limit = i64::from(limit);
    let mut clause = DeadWhere::new(filter);
    if let Some(before_id) = &before_id {
        clause.and("jobs.id <", before_id);
    }
    let limit = clause.param(&limit);
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE {} ORDER BY jobs.id DESC LIMIT {limit}",
        clause.sql
    );
    let client = store.client().await?;
    client
        .query(
            &client.prepare_cached(&sql).await.ctx(CONTEXT)?,
            &clause.params,
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(job_from_row)
        .collect()
}

/// Counts dead jobs per queue, ordered by queue (byte order, as the SQLite store).
pub(crate) async fn count(
    store: &PostgresStore,
    filter: &DeadFilter,
) -> Result<Vec<(String, u64)>, StoreError> {
    const CONTEXT: &str = "counting dead jobs";
    let clause = DeadWhere::new(filter);
    let sql = format!(
        "SELECT jobs.queue, count(*) AS jobs FROM jobs WHERE {}
         GROUP BY jobs.queue ORDER BY jobs.queue COLLATE \"C\"",
        clause.sql
    );
    let client = store.client().await?;
    client
        .query(
            &client.prepare_cached(&sql).await.ctx(CONTEXT)?,
            &clause.params,
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| Ok((get(row, "queue")?, get_as::<i64, u64>(row, "jobs")?)))
        .collect()
}

/// Deletes at most `limit` dead jobs matching `filter` (and among `ids`, when given),
/// lowest id first, with their attempts, in one statement; returns how many. Their
/// events stay.
pub(crate) async fn purge(
    store: &PostgresStore,
    ids: Option<&Vec<i64>>,
    filter: &DeadFilter,
    limit: u32,
) -> Result<u64, StoreError> {
    const CONTEXT: &str = "purging dead jobs";
    let limit = i64::from(limit);
    let picked = DeadWhere::new(filter).among(ids).lowest_ids(&limit);
    // The foreign key from attempts is checked when the whole statement is done, by
    // which time both deletes have run. The state is checked again under the row lock,
    // so a job requeued meanwhile stays.
    let sql = format!(
        "WITH picked AS ({}),
         purged AS (
             DELETE FROM jobs AS j USING picked
             WHERE j.id = picked.id AND j.state = 'dead'
             RETURNING j.id
         ),
         forgotten AS (DELETE FROM attempts AS a USING purged WHERE a.job_id = purged.id)
         SELECT count(*) AS purged FROM purged",
        picked.sql
    );
    let client = store.client().await?;
    let row = client
        .query_one(
            &client.prepare_cached(&sql).await.ctx(CONTEXT)?,
            &picked.params,
        )
        .await
        .ctx(CONTEXT)?;
    store.record_commit(1);
    get_as::<i64, u64>(&row, "purged")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(tenant: Option<&str>, queue: Option<&str>, source: Option<&str>) -> DeadFilter {
        DeadFilter {
            tenant: tenant.map(str::to_owned),
            queue: queue.map(str::to_owned),
            source: source.map(str::to_owned),
            event_type: None,
        }
    }

    #[test]
    fn only_given_fields_become_conditions() {
        let all = DeadFilter::default();
        let clause = DeadWhere::new(&all);
        assert_eq!(clause.sql, "jobs.state = 'dead'");
        assert!(clause.params.is_empty());

        let f = filter(Some("acme"), None, Some("shop"));
        let clause = DeadWhere::new(&f);
        assert_eq!(
            clause.sql,
            "jobs.state = 'dead' AND jobs.tenant = $1 AND EXISTS (SELECT 1 FROM events AS e \
             WHERE e.id = jobs.event_id AND e.source = $2)"
        );
        assert_eq!(clause.params.len(), 2);

        let typed = DeadFilter {
            event_type: Some("order.paid".to_owned()),
            ..filter(None, Some("q"), Some("shop"))
        };
        let clause = DeadWhere::new(&typed);
        assert!(
            clause.sql.ends_with("e.source = $2 AND e.event_type = $3)"),
            "{}",
            clause.sql
        );
    }

    #[test]
    fn ids_and_limit_number_on() {
        let f = filter(Some("acme"), Some("q"), None);
        let ids = vec![3, 1];
        let limit = 10;
        let clause = DeadWhere::new(&f).among(Some(&ids)).lowest_ids(&limit);
        assert_eq!(
            clause.sql,
            "SELECT jobs.id FROM jobs WHERE jobs.state = 'dead' AND jobs.tenant = $1 \
             AND jobs.queue = $2 AND jobs.id = ANY($3) ORDER BY jobs.id LIMIT $4"
        );
        assert_eq!(clause.params.len(), 4);
    }
}
