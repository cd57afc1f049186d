//! `hookd-bench fill`: a deep backlog, written straight into the embedded store.
//!
//! Sending a million webhooks through ingest takes minutes on a small machine; a backlog
//! measurement only needs them queued. `fill` opens the data directory with hookd's own
//! [`SqliteStore`] (hookd must not be running on it) and commits, through the store's
//! ingest call ([`event_insert_with_jobs`]), exactly the events ingest would
//! commit for the requests `hookd-bench load --scheme generic-hmac` sends to the same
//! URL: the same bodies (`id`, `type`, `seq`, padding), the same headers with a valid
//! signature, the source's tenant, type, provider id, dedup key and window, and one job
//! per matching route, due at once. Only the batching differs: `--batch` events per
//! store call instead of one per request.
//!
//! [`event_insert_with_jobs`]: hookd_store::Store::event_insert_with_jobs

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use clap::Args;
use hookd::config::{Config, FieldRef, SourceConfig, Verifier};
use hookd_signature::{Encoding, encode_signature, hmac_sha256};
use hookd_store::{InsertOutcome, NewEvent, NewJob, Store as _, Target};
use hookd_store_sqlite::SqliteStore;
use hyper::Uri;
use serde::Serialize;
use ulid::Ulid;

use crate::clock;
use crate::latency::round3;
use crate::load::{EVENT_TYPES, json_body};

/// `hookd-bench fill`.
#[derive(Debug, Args)]
pub(crate) struct FillArgs {
    /// hookd's configuration file.
    #[arg(long)]
    config: PathBuf,
    /// hookd's data directory (the embedded store); hookd must not be running on it.
    #[arg(long)]
    data_dir: PathBuf,
    /// The URL `load` would send to, e.g. http://127.0.0.1:8080/in/bench: its host is
    /// the stored `host` header, its `/in/{source}` path the source.
    #[arg(long)]
    url: Uri,
    /// How many events to commit, each with its jobs.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    events: u32,
    /// The size of every JSON body, in bytes.
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// Events per store call (one transaction each).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
}

/// What `fill` prints.
#[derive(Debug, Serialize)]
struct FillReport {
    events: u64,
    jobs: u64,
    elapsed_s: f64,
    events_per_s: f64,
}

/// Runs `hookd-bench fill`.
pub(crate) async fn run(args: FillArgs) -> anyhow::Result<()> {
    let (config, _warnings) =
        hookd::config::load(&args.config, std::env::vars()).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("{}: {}", args.config.display(), text.join("; "))
        })?;
    let template = Template::new(&config, &args.url)?;

    let store = SqliteStore::open(&args.data_dir)
        .await
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let run_id = clock::now_unix_micros();
    let started = Instant::now();
    let (mut events, mut jobs) = (0_u64, 0_u64);
    let total = args.events as usize;
    let mut next = 0;
    // One batch is built while the one before it commits.
    let mut pending: Option<tokio::task::JoinHandle<_>> = None;
    let store = Arc::new(store);
    while next < total || pending.is_some() {
        let batch = if next < total {
            let end = (next + args.batch as usize).min(total);
            let batch = (next..end)
                .map(|seq| template.event(&format!("bench-{run_id:x}-{seq}"), seq, args.body_size))
                .collect::<anyhow::Result<Vec<_>>>()?;
            next = end;
            Some(batch)
        } else {
            None
        };
        if let Some(commit) = pending.take() {
            let (n_events, n_jobs) = commit.await.context("a commit task failed")??;
            events += n_events;
            jobs += n_jobs;
        }
        pending = batch.map(|batch| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { commit(&store, batch).await })
        });
    }
    store.close().await;
    let elapsed = started.elapsed().as_secs_f64();
    let report = FillReport {
        events,
        jobs,
        elapsed_s: round3(elapsed),
        events_per_s: round3(events as f64 / elapsed),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Commits one batch; returns how many events and jobs it stored. Every event must be
/// new: a duplicate means the store did not start empty of these ids.
async fn commit(store: &SqliteStore, batch: Vec<NewEvent>) -> anyhow::Result<(u64, u64)> {
    let jobs = batch.iter().map(|e| e.jobs.len() as u64).sum();
    let events = batch.len() as u64;
    let outcomes = store
        .event_insert_with_jobs(batch)
        .await
        .context("committing events")?;
    if let Some(InsertOutcome::Duplicate { original_id }) = outcomes
        .iter()
        .find(|o| matches!(o, InsertOutcome::Duplicate { .. }))
    {
        bail!("event {original_id} was already stored");
    }
    Ok((events, jobs))
}

/// What every event of the run shares, read from the configuration.
struct Template {
    host: String,
    source: String,
    tenant: String,
    secret: String,
    dedup_window_ms: i64,
    /// The jobs routing makes for each event type of the bodies, `run_at` still to add.
    jobs_by_type: Vec<Vec<(NewJob, i64)>>,
    /// The signed timestamp: one for all, as `load` signs.
    timestamp: String,
}

impl Template {
    /// Checks that the URL's source is one `load`'s requests pass (`generic-hmac`
    /// signing `{timestamp}.{body}` in hex with `sha256=`, the type at `/type` and the
    /// id at `/id`) and plans the jobs of each event type.
    fn new(config: &Config, url: &Uri) -> anyhow::Result<Self> {
        let host = url
            .authority()
            .context("--url: no host")?
            .as_str()
            .to_owned();
        let source = url
            .path()
            .strip_prefix("/in/")
            .filter(|name| !name.is_empty() && !name.contains('/'))
            .context("--url: the path is not /in/{source}")?
            .to_owned();
        let config_source = config
            .sources
            .get(&source)
            .with_context(|| format!("no source {source:?} in the configuration"))?;
        let secret = load_compatible(config_source)
            .with_context(|| format!("source {source:?} does not take `load`'s requests"))?;
        let jobs_by_type = EVENT_TYPES
            .iter()
            .map(|event_type| plan(config, &source, event_type))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            host,
            tenant: config_source.tenant.clone(),
            secret,
            dedup_window_ms: i64::try_from(config_source.dedup_window.as_millis())?,
            source,
            jobs_by_type,
            timestamp: (clock::now_unix_micros() / 1_000_000).to_string(),
        })
    }

    /// The event ingest would commit for `load`'s request number `seq` with this `id`.
    fn event(&self, id: &str, seq: usize, body_size: usize) -> anyhow::Result<NewEvent> {
        let kind = seq % EVENT_TYPES.len();
        let body = json_body(id, EVENT_TYPES[kind], seq, body_size)?;
        let mac = hmac_sha256(
            self.secret.as_bytes(),
            &[self.timestamp.as_bytes(), b".", &body],
        );
        let signature = encode_signature(&mac, Encoding::Hex, Some("sha256="));
        let received_at = i64::try_from(clock::now_unix_micros() / 1000)?;
        // As hyper sends `load`'s requests and ingest stores them: the headers in the
        // order they were set, then the content-length hyper adds.
        let headers = vec![
            ("host".to_owned(), self.host.clone()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-timestamp".to_owned(), self.timestamp.clone()),
            ("x-signature".to_owned(), signature),
            ("content-length".to_owned(), body.len().to_string()),
        ];
        let jobs = self.jobs_by_type[kind]
            .iter()
            .map(|(job, delay_ms)| NewJob {
                run_at: received_at.saturating_add(*delay_ms),
                ..job.clone()
            })
            .collect();
        Ok(NewEvent {
            id: format!("evt_{}", Ulid::new()),
            tenant: self.tenant.clone(),
            source: self.source.clone(),
            event_type: EVENT_TYPES[kind].to_owned(),
            provider_event_id: Some(id.to_owned()),
            dedup_key: id.to_owned(),
            dedup_window_ms: self.dedup_window_ms,
            occurred_at: None,
            received_at,
            headers,
            body,
            jobs,
        })
    }
}

/// The secret `load` must sign with when `source` verifies and extracts the way `load`
/// builds its requests; an error naming the difference otherwise.
fn load_compatible(source: &SourceConfig) -> anyhow::Result<String> {
    let Verifier::GenericHmac(scheme) = &source.verify else {
        bail!("its preset is {}, not generic-hmac", source.verify.preset());
    };
    ensure!(
        scheme.signature_header == "x-signature"
            && scheme.timestamp_header.as_deref() == Some("x-timestamp")
            && scheme.encoding == Encoding::Hex
            && scheme.prefix.as_deref() == Some("sha256="),
        "it does not read a hex `sha256=` signature in x-signature with x-timestamp"
    );
    ensure!(
        matches!(&source.event_type, Some(FieldRef::Json(p)) if p == "/type")
            && matches!(&source.event_id, Some(FieldRef::Json(p)) if p == "/id"),
        "it does not read the type at /type and the id at /id"
    );
    scheme.secrets.first().cloned().context("it has no secret")
}

/// The jobs routing makes for an event of `event_type` on `source`, each with its
/// route's delay in milliseconds. Routes with `match` conditions or an ordering key
/// depend on the body, which `fill` does not plan for.
fn plan(config: &Config, source: &str, event_type: &str) -> anyhow::Result<Vec<(NewJob, i64)>> {
    config
        .routes
        .iter()
        .filter(|route| {
            route.sources.iter().any(|s| s == source)
                && (route.type_patterns.is_empty() || route.types.is_match(event_type))
        })
        .map(|route| {
            ensure!(
                route.conditions.is_empty() && route.ordering_key.is_empty(),
                "route {:?} has match conditions or an ordering key",
                route.name
            );
            let job = NewJob {
                queue: route.queue.clone(),
                priority: route.priority,
                run_at: 0,
                ordering_key: None,
                target: Target::Http {
                    destination: route.destination.clone(),
                },
            };
            Ok((job, i64::try_from(route.delay.as_millis())?))
        })
        .collect()
}
