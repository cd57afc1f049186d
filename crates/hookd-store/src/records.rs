//! The records the store keeps: events, jobs and attempts, and the shapes in which they
//! are written.

use serde::{Deserialize, Serialize};

/// A point in time as unix milliseconds (UTC).
pub type Millis = i64;

/// An event to be committed together with the jobs routing made for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// hookd's own id for the event (`evt_` + ULID). Forwarded as `webhook-id`.
    pub id: String,
    /// The tenant that owns the source.
    pub tenant: String,
    /// The source the event arrived on (`POST /in/{source}`).
    pub source: String,
    /// The event type extracted from the request (`order.paid`); empty when the source
    /// names none.
    pub event_type: String,
    /// The provider's own id for the event, when the source extracts one.
    pub provider_event_id: Option<String>,
    /// The key under which a provider's retry of the same event is recognised.
    pub dedup_key: String,
    /// How long after `received_at` a repeat of `dedup_key` on the same source counts
    /// as a duplicate.
    pub dedup_window_ms: i64,
    /// When the provider says the event happened, when it says so.
    pub occurred_at: Option<Millis>,
    /// When hookd received the request.
    pub received_at: Millis,
    /// The request headers exactly as received (names lower case), so that a replay can
    /// verify the signature again.
    pub headers: Vec<(String, String)>,
    /// The raw request body, byte for byte.
    pub body: Vec<u8>,
    /// One job per matching route; empty for an unrouted event.
    pub jobs: Vec<NewJob>,
}

/// A job to be created with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The queue whose workers run it.
    pub queue: String,
    /// 1 runs first … 5 last, within the queue.
    pub priority: u8,
    /// When it may first run: `received_at` plus the route's delay. A job whose `run_at`
    /// lies in the future starts `scheduled`, otherwise `ready`.
    pub run_at: Millis,
    /// Jobs with the same key in one queue run one at a time, in arrival order.
    pub ordering_key: Option<String>,
    /// What works the job off.
    pub target: Target,
}

/// What works a job off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Target {
    /// Forward over HTTP to the configured destination of this name.
    Http {
        /// The `[destinations.NAME]` key.
        destination: String,
    },
}

impl Target {
    /// The compact form backends store: `http:<destination>`.
    pub fn to_storage(&self) -> String {
        match self {
            Target::Http { destination } => format!("http:{destination}"),
        }
    }

    /// Reads the form written by [`Target::to_storage`]; `None` for an unknown kind.
    pub fn from_storage(s: &str) -> Option<Self> {
        let (kind, name) = s.split_once(':')?;
        match kind {
            "http" => Some(Target::Http {
                destination: name.to_owned(),
            }),
            _ => None,
        }
    }
}

/// What the store did with one [`NewEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The event and its jobs are committed.
    Inserted {
        /// The event's id.
        id: String,
    },
    /// An event with the same dedup key arrived on the same source within the window;
    /// nothing was stored.
    Duplicate {
        /// The id of the event stored first.
        original_id: String,
    },
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// hookd's id (`evt_…`).
    pub id: String,
    /// The owning tenant.
    pub tenant: String,
    /// The source it arrived on.
    pub source: String,
    /// The extracted type.
    pub event_type: String,
    /// The provider's id, if extracted.
    pub provider_event_id: Option<String>,
    /// The dedup key.
    pub dedup_key: String,
    /// When the provider says it happened.
    pub occurred_at: Option<Millis>,
    /// When hookd received it.
    pub received_at: Millis,
    /// When the store's transaction that holds it began: a fact only the store knows,
    /// read from its own clock (within one group commit of when it became durable).
    pub committed_at: Millis,
    /// The request headers as received.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// True when no route matched: kept, visible and replayable, never dropped.
    pub unrouted: bool,
}

impl Event {
    /// The first header of this name (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The life of a job:
///
/// ```text
/// scheduled ─▶ ready ─▶ running ─▶ succeeded
///                ▲         │
///                │         ├──▶ retrying ─▶ (due) running …
///                │         └──▶ dead
///                └── released on shutdown, or rescued when its lease expired
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at` (a route delay).
    Scheduled,
    /// May run now.
    Ready,
    /// Claimed by a worker holding a lease.
    Running,
    /// Failed, waiting for its next `run_at` (back-off).
    Retrying,
    /// The target accepted it. Final.
    Succeeded,
    /// Out of attempts or failed permanently. Final until retried by hand.
    Dead,
}

impl JobState {
    /// The lower-case name used in storage, the API and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Ready => "ready",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
        }
    }

    /// Reads [`JobState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "scheduled" => JobState::Scheduled,
            "ready" => JobState::Ready,
            "running" => JobState::Running,
            "retrying" => JobState::Retrying,
            "succeeded" => JobState::Succeeded,
            "dead" => JobState::Dead,
            _ => return None,
        })
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The store's id; increases with insertion order, which is the arrival order that
    /// per-key FIFO follows.
    pub id: i64,
    /// The event it works off.
    pub event_id: String,
    /// The event's tenant.
    pub tenant: String,
    /// Its queue.
    pub queue: String,
    /// 1 … 5, lower first.
    pub priority: u8,
    /// Its ordering key, if any.
    pub ordering_key: Option<String>,
    /// What works it off.
    pub target: Target,
    /// Where it is in its life.
    pub state: JobState,
    /// When it may run next (`scheduled`, `ready`, `retrying`).
    pub run_at: Millis,
    /// Attempts started so far, including a running one.
    pub attempts: u32,
    /// Until when the running worker holds it.
    pub lease_until: Option<Millis>,
    /// The node whose worker holds it.
    pub lease_owner: Option<String>,
    /// When it was created.
    pub created_at: Millis,
    /// The error of its last failed attempt.
    pub last_error: Option<String>,
    /// The `webhook-id` it is forwarded with when not the event's id: a replay asked
    /// for with `new_id` gets a fresh one.
    pub webhook_id: Option<String>,
}

impl Job {
    /// The `webhook-id` the job is forwarded with: its own, or else its event's id.
    pub fn webhook_id<'a>(&'a self, event: &'a Event) -> &'a str {
        self.webhook_id.as_deref().unwrap_or(&event.id)
    }
}

/// A job handed to a worker by a claim, with the event it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The job, now `running`, its `attempts` counting this one.
    pub job: Job,
    /// Its event, body and headers included.
    pub event: Event,
}

/// How one attempt ended, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The target accepted the job.
    Succeeded,
    /// It failed and will be tried again.
    Failed,
    /// It failed and the job is dead.
    Dead,
    /// The worker stopped renewing its lease (crash, lost node); the rescuer took the job
    /// back.
    LeaseExpired,
}

impl AttemptOutcome {
    /// The lower-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Dead => "dead",
            AttemptOutcome::LeaseExpired => "lease_expired",
        }
    }

    /// Reads [`AttemptOutcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "succeeded" => AttemptOutcome::Succeeded,
            "failed" => AttemptOutcome::Failed,
            "dead" => AttemptOutcome::Dead,
            "lease_expired" => AttemptOutcome::LeaseExpired,
            _ => return None,
        })
    }
}

/// What a worker observed during one attempt; written with the job's completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptRecord {
    /// When the attempt started.
    pub started_at: Millis,
    /// How long it took.
    pub duration_ms: i64,
    /// The target's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// The first bytes of the answer (at most 4 KiB), as text.
    pub response: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The job it belongs to.
    pub job_id: i64,
    /// 1 for the first attempt.
    pub number: u32,
    /// The node that ran it.
    pub node: String,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// What the worker observed.
    pub record: AttemptRecord,
}

/// Where an event is, derived from its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// No route matched: no job.
    Unrouted,
    /// At least one job is scheduled, ready, running or retrying.
    Pending,
    /// Every job succeeded.
    Succeeded,
    /// No job is pending and at least one is dead.
    Dead,
}

impl EventStatus {
    /// The lower-case name used in the API and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Unrouted => "unrouted",
            EventStatus::Pending => "pending",
            EventStatus::Succeeded => "succeeded",
            EventStatus::Dead => "dead",
        }
    }

    /// Reads [`EventStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unrouted" => EventStatus::Unrouted,
            "pending" => EventStatus::Pending,
            "succeeded" => EventStatus::Succeeded,
            "dead" => EventStatus::Dead,
            _ => return None,
        })
    }
}

/// One row of an event listing: the event without its body and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// hookd's id (`evt_…`).
    pub id: String,
    /// The owning tenant.
    pub tenant: String,
    /// The source it arrived on.
    pub source: String,
    /// The extracted type.
    pub event_type: String,
    /// The provider's id, if extracted.
    pub provider_event_id: Option<String>,
    /// When the provider says it happened.
    pub occurred_at: Option<Millis>,
    /// When hookd received it.
    pub received_at: Millis,
    /// Where it is, from its jobs.
    pub status: EventStatus,
    /// How many jobs it made.
    pub jobs: u32,
}

/// An API key as stored: its hash and what it may do, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id (`key_…`), shown in listings and used to revoke it.
    pub id: String,
    /// The tenant it sees; `*` for an admin key that sees every tenant.
    pub tenant: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// A name for people, if given.
    pub name: Option<String>,
    /// When it was created.
    pub created_at: Millis,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<Millis>,
}

/// An API key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The key's record, `revoked_at` ignored.
    pub key: ApiKey,
    /// The SHA-256 (hex) of the token; the token itself is never stored.
    pub token_hash: String,
}
