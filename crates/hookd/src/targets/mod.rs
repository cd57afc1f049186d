//! Targets: what works a job off, once dispatch has claimed it.
//!
//! A target takes one job's event and makes one attempt at handing it over; it answers
//! with a [`Verdict`](http::Verdict) (done, try again, or give up) and an attempt record for the store.
//! What happens next (back-off, dead-lettering, ordering) is dispatch's business, never
//! the target's.
//!
//! - [`http`]: forwards the event to a configured destination, signed per Standard
//!   Webhooks.
//!
//! `pull` (external workers claim jobs over the API) and `inbox` (conversations and
//! messages kept by hookd itself) arrive later as siblings of `http`.

pub(crate) mod http;
