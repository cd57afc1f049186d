//! The management API over real HTTP: every operation of `/v1` against a real gateway
//! with real signed webhooks, with the tokens a user would hold.
//!
//! - [`auth`]: bearer tokens: API keys and JWTs, 401 and 403.
//! - [`dead`]: dead letters (list, retry, purge) and the audit log.
//! - [`events`]: listing with filters and stable pages; one event in full.
//! - [`keys`]: creating, listing and revoking API keys.
//! - [`openapi`]: the document is public, OpenAPI 3.1, and every operation in it has a
//!   test.
//! - [`queues`]: depth by state; pause and resume, across a restart.

mod auth;
// Dead letters and audit.
mod dead;
mod events;
mod keys;
mod openapi;
// Queues: depth by state, pause and resume.
mod queues;
