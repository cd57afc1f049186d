//! Finds the event type and id of a verified request where the source's `event_type`
//! and `event_id` keys point: a header or a JSON pointer into the body.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Extracted, Unverified};
use crate::config::{BodyFormat, FieldRef, SourceConfig};
use crate::ingest::error::IngestError;

/// Parses the body as the source's format demands and extracts one event.
pub(super) fn extract(
    source: &SourceConfig,
    request: Unverified<'_>,
) -> Result<Extracted, IngestError> {
    let json = match source.format {
        BodyFormat::Json => Some(
            serde_json::from_slice::<Value>(request.body)
                .map_err(|e| IngestError::InvalidJson(e.to_string()))?,
        ),
        BodyFormat::Raw => None,
    };
    let event_type = match &source.event_type {
        None => String::new(),
        Some(field) => read(field, request, json.as_ref())
            .ok_or_else(|| IngestError::EventTypeMissing(describe(field)))?,
    };
    let provider_event_id = match &source.event_id {
        None => None,
        Some(field) => Some(
            read(field, request, json.as_ref())
                .ok_or_else(|| IngestError::EventIdMissing(describe(field)))?,
        ),
    };
    let dedup_key = provider_event_id
        .clone()
        .unwrap_or_else(|| hex::encode(Sha256::digest(request.body)));
    Ok(Extracted::whole(
        event_type,
        provider_event_id,
        dedup_key,
        json,
    ))
}

/// The text at `field`: a header's value, or a JSON string or number. Empty text counts
/// as absent.
pub(super) fn read(
    field: &FieldRef,
    request: Unverified<'_>,
    json: Option<&Value>,
) -> Option<String> {
    let text = match field {
        FieldRef::Header(name) => request.headers.get(name)?.to_str().ok()?.to_owned(),
        FieldRef::Json(pointer) => match json?.pointer(pointer)? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        },
    };
    (!text.is_empty()).then_some(text)
}

fn describe(field: &FieldRef) -> String {
    match field {
        FieldRef::Header(name) => format!("header {name}"),
        FieldRef::Json(pointer) => format!("JSON pointer {pointer}"),
    }
}
