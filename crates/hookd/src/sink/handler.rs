//! The sink's one handler: every request, on any path, comes here.
//!
//! In order: count the request against its `webhook-id`, check the method, verify the
//! Standard Webhooks signature (401 when it does not hold), choose the answer
//! (`fail_status` to the first `fail_first` requests of the id, 200 after that), wait the
//! configured delay, and record what happened before answering.

use std::slice;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{ALLOW, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse as _, Response};
use hookd_signature::standard_webhooks::{self, Secret};
use serde_json::json;

use super::{Shared, SinkRecord};
use crate::clock;

/// How far `webhook-timestamp` may be from now, either way.
const TOLERANCE_SECS: u64 = 5 * 60;

/// Why a request was not taken: the status answered, a stable code and a human detail,
/// answered as `{"error": {"code", "detail"}}` like hookd's own endpoints.
struct Rejection {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

/// Handles one request; see the module doc.
pub(super) async fn receive(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = clock::now_millis();
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let attempt = webhook_id.as_deref().map_or(0, |id| shared.count(id));
    let mut record = SinkRecord {
        webhook_id,
        received_at,
        finished_at: received_at,
        verified: false,
        status: 0,
        attempt,
        path: uri.path().to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        error: None,
    };

    let checked = if method == Method::POST {
        verify(&shared.secret, &headers, &body)
    } else {
        Err(Rejection {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            detail: format!("method {method} is not allowed; the sink takes POST"),
        })
    };
    if let Err(rejection) = checked {
        let mut response = (
            rejection.status,
            Json(json!({"error": {"code": rejection.code, "detail": rejection.detail}})),
        )
            .into_response();
        if rejection.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
        }
        record.status = rejection.status.as_u16();
        record.error = Some(rejection.detail);
        shared.add(record);
        return response;
    }
    record.verified = true;

    let response = if attempt <= shared.fail_first {
        let body = json!({"ok": false, "attempt": attempt, "fail_first": shared.fail_first});
        let mut response = (shared.fail_status, Json(body)).into_response();
        if let Some(retry_after) = &shared.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, retry_after.clone());
        }
        response
    } else {
        (StatusCode::OK, Json(json!({"ok": true}))).into_response()
    };
    record.status = response.status().as_u16();

    if shared.delay.is_zero() {
        record.finished_at = clock::now_millis();
        shared.add(record);
    } else {
        delay_then_add(&shared, record).await;
    }
    response
}

/// Waits the configured delay, then adds the record, also when the client hangs up
/// meanwhile: hyper drops a handler whose connection closed, so the wait and the record
/// run in a task of their own, and a client that gave up (a destination timeout, the
/// usual reason for `--delay`) still shows in the records, marked as such.
async fn delay_then_add(shared: &Arc<Shared>, mut record: SinkRecord) {
    let hung_up = Arc::new(AtomicBool::new(false));
    let waiting = tokio::spawn({
        let shared = Arc::clone(shared);
        let hung_up = Arc::clone(&hung_up);
        async move {
            tokio::time::sleep(shared.delay).await;
            record.finished_at = clock::now_millis();
            if hung_up.load(Ordering::Acquire) {
                record.error = Some("the client hung up before the answer".to_owned());
            }
            shared.add(record);
        }
    });
    let guard = HungUpOnDrop(Some(hung_up));
    // Fails only when the runtime is shutting down; there is nobody to answer then.
    let _ = waiting.await;
    guard.disarm();
}

/// Marks its flag when dropped before [`HungUpOnDrop::disarm`]: the handler holding it
/// was cancelled.
struct HungUpOnDrop(Option<Arc<AtomicBool>>);

impl HungUpOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for HungUpOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Release);
        }
    }
}

/// Checks the Standard Webhooks headers against `secret`.
fn verify(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let id = header(headers, "webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp")?;
    let signatures = header(headers, "webhook-signature")?;
    standard_webhooks::verify(
        slice::from_ref(secret),
        id,
        timestamp,
        signatures,
        body,
        clock::now_secs(),
        TOLERANCE_SECS,
    )
    .map_err(|err| Rejection {
        status: StatusCode::UNAUTHORIZED,
        code: "signature_mismatch",
        detail: err.to_string(),
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Rejection> {
    let value = headers.get(name).ok_or_else(|| Rejection {
        status: StatusCode::UNAUTHORIZED,
        code: "missing_header",
        detail: format!("the {name} header is missing"),
    })?;
    value.to_str().map_err(|_| Rejection {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_header",
        detail: format!("the {name} header is not visible ASCII"),
    })
}
