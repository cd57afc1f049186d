//! Provider presets: how a source proves a request genuine and finds the events in it.
//!
//! A preset first verifies the raw bytes (nothing is parsed before that, except where a
//! scheme signs a value taken from the body), then extracts one event or several: type,
//! provider event id, dedup key, and the parsed JSON that routing reads. One preset per
//! file.

mod fields;
mod generic_hmac;

use axum::http::HeaderMap;
use hookd_store::Millis;
use serde_json::Value;

use super::error::IngestError;
use crate::config::{SourceConfig, Verifier};

/// A request as it arrived: nothing in it is trusted yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unverified<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// One event found in a verified request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Extracted {
    pub(crate) event_type: String,
    pub(crate) provider_event_id: Option<String>,
    pub(crate) dedup_key: String,
    pub(crate) occurred_at: Option<Millis>,
    /// The parsed body, for routing; `None` for raw sources.
    pub(crate) json: Option<Value>,
}

/// Verifies `request` against `source` and returns the events it carries.
///
/// # Errors
///
/// The rejection to answer: a signature or timestamp problem (401), a body that is not
/// the JSON the source requires, or a missing type or id field (400).
pub(crate) fn verify_and_extract(
    source: &SourceConfig,
    request: Unverified<'_>,
    now_secs: i64,
) -> Result<Vec<Extracted>, IngestError> {
    match &source.verify {
        Verifier::GenericHmac(scheme) => generic_hmac::verify(source, scheme, request, now_secs)?,
    }
    fields::extract(source, request).map(|event| vec![event])
}
