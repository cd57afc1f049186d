//! Why ingest turned a request away, and the answer each reason gets.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookd_signature::SignatureError;

use crate::http_error::HttpError;

/// A rejected request. Every variant is answered with the JSON error body; its doc names
/// the status and the code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    /// 404 `unknown_source`: no source of that name.
    #[error("no source named {0:?}")]
    UnknownSource(String),
    /// 405 `method_not_allowed`: the source has no handshake to answer on GET.
    #[error("this source accepts POST only")]
    MethodNotAllowed,
    /// 413 `body_too_large`.
    #[error("the body is larger than this source's limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// 400 `body_unreadable`: the connection failed while the body was read.
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    /// 401 `signature_missing`.
    #[error("the {header} header is missing")]
    SignatureMissing { header: String },
    /// 401 `signature_malformed`: the header is there but cannot be decoded.
    #[error("the {header} header is malformed: {reason}")]
    SignatureMalformed { header: String, reason: String },
    /// 401 `signature_mismatch`: no secret of the source produces this signature.
    #[error("the signature in {header} does not match the request")]
    SignatureMismatch { header: String },
    /// 401 `timestamp_missing`: `field` names where the timestamp should be ("the
    /// x-timestamp header").
    #[error("{field} is missing")]
    TimestampMissing { field: String },
    /// 401 `timestamp_invalid`: the timestamp is not what the scheme sends (`expected`).
    #[error("{field} is not {expected}")]
    TimestampInvalid {
        field: String,
        expected: &'static str,
    },
    /// 401 `timestamp_out_of_tolerance`: too old (a replay) or too far in the future.
    #[error("{0}")]
    TimestampOutOfTolerance(String),
    /// 400 `invalid_json`: the source parses JSON and the body is not.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// 400 `event_type_missing`: the configured type field is absent or not text.
    #[error("the event type was not found at {0}")]
    EventTypeMissing(String),
    /// 400 `event_id_missing`: the configured id field is absent or not text/number.
    #[error("the event id was not found at {0}")]
    EventIdMissing(String),
    /// 400 `invalid_form`: the preset reads a form-encoded body and this one is not.
    #[error("the body is not a valid form: {0}")]
    InvalidForm(String),
    /// 400 `invalid_body`: the body parses, but lacks what the provider always sends
    /// (the detail names it).
    #[error("{0}")]
    InvalidBody(String),
    /// 403 `handshake_refused`: a subscription handshake without the right mode or token.
    #[error("{0}")]
    HandshakeRefused(String),
    /// 503 `store_unavailable`: the event could not be committed; nothing was stored.
    #[error("the event could not be stored durably; try again")]
    StoreUnavailable,
}

impl IngestError {
    /// Turns a verification failure on `header` into the matching rejection.
    pub(crate) fn from_signature(header: &str, err: &SignatureError) -> Self {
        match err {
            SignatureError::Mismatch => IngestError::SignatureMismatch {
                header: header.to_owned(),
            },
            SignatureError::TimestampInvalid => IngestError::timestamp_header_invalid(header),
            SignatureError::TimestampStale { .. } | SignatureError::TimestampFuture { .. } => {
                IngestError::TimestampOutOfTolerance(err.to_string())
            }
            other => IngestError::SignatureMalformed {
                header: header.to_owned(),
                reason: other.to_string(),
            },
        }
    }

    /// The timestamp header `header` is absent.
    pub(crate) fn timestamp_header_missing(header: &str) -> Self {
        IngestError::TimestampMissing {
            field: format!("the {header} header"),
        }
    }

    /// The timestamp header `header` is not unix seconds.
    pub(crate) fn timestamp_header_invalid(header: &str) -> Self {
        IngestError::TimestampInvalid {
            field: format!("the {header} header"),
            expected: "a unix timestamp in seconds",
        }
    }

    /// The stable code of the answer.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            IngestError::UnknownSource(_) => "unknown_source",
            IngestError::MethodNotAllowed => "method_not_allowed",
            IngestError::BodyTooLarge { .. } => "body_too_large",
            IngestError::BodyUnreadable(_) => "body_unreadable",
            IngestError::SignatureMissing { .. } => "signature_missing",
            IngestError::SignatureMalformed { .. } => "signature_malformed",
            IngestError::SignatureMismatch { .. } => "signature_mismatch",
            IngestError::TimestampMissing { .. } => "timestamp_missing",
            IngestError::TimestampInvalid { .. } => "timestamp_invalid",
            IngestError::TimestampOutOfTolerance(_) => "timestamp_out_of_tolerance",
            IngestError::InvalidJson(_) => "invalid_json",
            IngestError::EventTypeMissing(_) => "event_type_missing",
            IngestError::EventIdMissing(_) => "event_id_missing",
            IngestError::InvalidForm(_) => "invalid_form",
            IngestError::InvalidBody(_) => "invalid_body",
            IngestError::HandshakeRefused(_) => "handshake_refused",
            IngestError::StoreUnavailable => "store_unavailable",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            IngestError::UnknownSource(_) => StatusCode::NOT_FOUND,
            IngestError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            IngestError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::BodyUnreadable(_)
            | IngestError::InvalidJson(_)
            | IngestError::EventTypeMissing(_)
            | IngestError::EventIdMissing(_)
            | IngestError::InvalidForm(_)
            | IngestError::InvalidBody(_) => StatusCode::BAD_REQUEST,
            IngestError::HandshakeRefused(_) => StatusCode::FORBIDDEN,
            IngestError::SignatureMissing { .. }
            | IngestError::SignatureMalformed { .. }
            | IngestError::SignatureMismatch { .. }
            | IngestError::TimestampMissing { .. }
            | IngestError::TimestampInvalid { .. }
            | IngestError::TimestampOutOfTolerance(_) => StatusCode::UNAUTHORIZED,
            IngestError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let mut error = HttpError::new(self.status(), self.code(), self.to_string());
        if matches!(self, IngestError::StoreUnavailable) {
            error.retry_after = Some(5);
        }
        error.into_response()
    }
}
