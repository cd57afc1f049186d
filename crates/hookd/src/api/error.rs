//! The one error type of the management API. Every answer that is not a success carries
//! the error body of DESIGN.md: `{"error": {"code", "detail"}}`, and for bad input a list
//! of `fields` naming each problem.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookd_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem with one part of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct FieldProblem {
    /// Where: a JSON pointer into the body (`/secrets/0`), or `query.NAME` / `path.NAME`.
    pub(crate) path: String,
    /// What is wrong.
    pub(crate) problem: String,
}

/// Why an API request failed. Each variant's doc names its status and code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400 `invalid_request`: the input is wrong; `fields` says where.
    #[error("the request is not valid")]
    Invalid(Vec<FieldProblem>),
    /// 401 `unauthorized`: no token, or a token that is not valid.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 `forbidden`: a valid token whose scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`: no such object for this token's tenant.
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`: the object is not in a state that allows this (a retry of a job
    /// that is not dead).
    #[error("{0}")]
    Conflict(String),
    /// 503 `store_unavailable`: the store could not answer; nothing changed.
    #[error("the store is unavailable; try again")]
    Unavailable(#[source] StoreError),
    /// 500 `internal`: a bug or a broken store; logged, never shown.
    #[error("the request failed inside hookd; it has been logged")]
    Internal(#[source] StoreError),
}

impl ApiError {
    /// One problem with one field.
    pub(crate) fn field(path: impl Into<String>, problem: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldProblem {
            path: path.into(),
            problem: problem.into(),
        }])
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable { .. } | StoreError::Closed => ApiError::Unavailable(error),
            other => ApiError::Internal(other),
        }
    }
}

/// The error body, as documented in the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, lower snake case.
    pub(crate) code: String,
    /// For people; may change.
    pub(crate) detail: String,
    /// With `invalid_request`: every problem of the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) fields: Vec<FieldProblem>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(source) | ApiError::Unavailable(source) = &self {
            tracing::error!(error = %source, code, "API request failed");
        }
        let detail = self.to_string();
        let fields = match self {
            ApiError::Invalid(fields) => fields,
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                detail,
                fields,
            },
        };
        (status, Json(body)).into_response()
    }
}
