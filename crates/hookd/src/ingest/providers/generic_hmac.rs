//! `generic-hmac`: HMAC-SHA256 over a template of the request (`signed_payload`), hex or
//! base64, with an optional prefix, an optional signed timestamp checked against a
//! tolerance, and several secrets at once for rotation.

use serde_json::Value;

use super::Unverified;
use super::fields;
use crate::config::{BodyFormat, FieldRef, GenericHmac, PayloadPart, SourceConfig};
use crate::ingest::error::IngestError;

/// Checks the signature (and the timestamp, when the source has one) of `request`.
pub(super) fn verify(
    source: &SourceConfig,
    scheme: &GenericHmac,
    request: Unverified<'_>,
    now_secs: i64,
) -> Result<(), IngestError> {
    let signature =
        header(request, &scheme.signature_header).ok_or_else(|| IngestError::SignatureMissing {
            header: scheme.signature_header.clone(),
        })?;

    let timestamp = match &scheme.timestamp_header {
        None => None,
        Some(name) => {
            let value =
                header(request, name).ok_or_else(|| IngestError::timestamp_header_missing(name))?;
            let secs = hookd_signature::parse_unix_timestamp(value)
                .map_err(|e| IngestError::from_signature(name, &e))?;
            let tolerance = scheme.tolerance.as_secs();
            hookd_signature::check_timestamp(secs, now_secs, tolerance)
                .map_err(|e| IngestError::from_signature(name, &e))?;
            Some(value)
        }
    };

    let id = signed_id(source, scheme, request);
    let mut message: Vec<&[u8]> = Vec::with_capacity(scheme.signed_payload.len());
    for part in &scheme.signed_payload {
        message.push(match part {
            PayloadPart::Literal(text) => text.as_bytes(),
            PayloadPart::Body => request.body,
            PayloadPart::Timestamp => timestamp.unwrap_or_default().as_bytes(),
            PayloadPart::Id => id.as_deref().unwrap_or_default().as_bytes(),
            PayloadPart::Header(name) => header(request, name).unwrap_or_default().as_bytes(),
        });
    }

    hookd_signature::verify_hmac_sha256(
        &scheme.secrets,
        &message,
        signature,
        scheme.encoding,
        scheme.prefix.as_deref(),
    )
    .map_err(|e| IngestError::from_signature(&scheme.signature_header, &e))
}

/// The value `{id}` stands for, read only when the template uses it. An id taken from
/// the body means parsing unverified JSON; a body that does not parse signs as an empty
/// id, which then fails the signature check rather than answering 400 to a stranger.
fn signed_id(
    source: &SourceConfig,
    scheme: &GenericHmac,
    request: Unverified<'_>,
) -> Option<String> {
    if !scheme.signed_payload.contains(&PayloadPart::Id) {
        return None;
    }
    let field = source.event_id.as_ref()?;
    let json = match (field, source.format) {
        (FieldRef::Json(_), BodyFormat::Json) => serde_json::from_slice::<Value>(request.body).ok(),
        _ => None,
    };
    fields::read(field, request, json.as_ref())
}

fn header<'a>(request: Unverified<'a>, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}
