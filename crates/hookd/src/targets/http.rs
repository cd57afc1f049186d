//! The `http` target: one attempt at forwarding an event to a destination.
//!
//! Dispatch calls [`HttpTarget::deliver`] once per attempt. The event goes out as it came
//! in (the original body and `content-type`), signed per Standard Webhooks: `webhook-id`
//! is the job's ([`Job::webhook_id`](hookd_store::Job::webhook_id)): the event's id,
//! stable across retries and replays so that destinations can dedupe, or the fresh one a
//! replay asked for with `new_id`; `webhook-timestamp` is the time of this attempt and `webhook-signature` covers both
//! with the destination's secret.
//!
//! The answer is sorted by [`classify`] into a [`Verdict`]; the attempt itself is
//! described by an [`AttemptRecord`] (status, a bounded slice of the answer, a precise
//! error text). Redirects are never followed: a 3xx is a failure that is retried, and its
//! `Location` is recorded so an operator can fix the URL.

use std::error::Error as _;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;
use hookd_store::{AttemptRecord, Event, Millis};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, LOCATION, RETRY_AFTER};
use tokio::time::{Instant, timeout_at};

use crate::clock;
use crate::config::DestinationConfig;

/// How much of an answer's body is read and recorded, in bytes. The rest is never read.
pub(crate) const RESPONSE_LIMIT: usize = 4096;

/// The `content-type` sent when the event arrived without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// Forwards events over HTTP. One instance (one connection pool) serves every destination.
pub(crate) struct HttpTarget {
    client: reqwest::Client,
}

/// The result of one attempt: what dispatch should do next, and what to record.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// Whether the job is done, should be retried, or can never succeed.
    pub(crate) verdict: Verdict,
    /// What was observed, for the attempt history.
    pub(crate) record: AttemptRecord,
}

/// What an attempt means for its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The destination accepted the event (2xx).
    Success,
    /// A failure that may go away: 3xx, 408, 409, 425, 429, 5xx, a timeout or a network
    /// error. The job is retried after its back-off.
    Retry {
        /// The wait the destination asked for with `Retry-After`, when it sent one; it
        /// replaces the computed back-off.
        retry_after: Option<Duration>,
    },
    /// A failure that retrying cannot fix (other 4xx, 1xx, a request that cannot be
    /// built). The job goes dead.
    Permanent,
}

impl HttpTarget {
    /// Builds the client shared by all destinations: redirects are not followed, the user
    /// agent is `hookd/<version>`, connections are pooled and use TCP_NODELAY. Timeouts
    /// are per destination and applied by [`HttpTarget::deliver`].
    ///
    /// # Errors
    ///
    /// When the TLS backend cannot be initialised.
    pub(crate) fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hookd/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .context("building the HTTP client for destinations")?;
        Ok(Self { client })
    }

    /// Makes one attempt to deliver `event` to `dest`: a POST of the event's original body
    /// with its original `content-type` (default `application/octet-stream`), signed with
    /// `webhook-id` = `webhook_id` (the job's), `webhook-timestamp` = now and
    /// `webhook-signature`.
    ///
    /// `dest.timeout` bounds the whole attempt, connecting to the last byte read. At most
    /// the first [`RESPONSE_LIMIT`] bytes of the answer are read; the connection is dropped
    /// rather than drained after that. Never fails: every problem becomes a [`Verdict`] and
    /// an error text in the record.
    pub(crate) async fn deliver(
        &self,
        dest: &DestinationConfig,
        event: &Event,
        webhook_id: &str,
    ) -> Delivery {
        let started_at = clock::now_millis();
        let start = Instant::now();
        let deadline = start + dest.timeout;
        let timestamp = clock::now_secs();
        let signature = dest.secret.sign(webhook_id, timestamp, &event.body);
        let content_type = event.header("content-type").unwrap_or(DEFAULT_CONTENT_TYPE);

        let request = self
            .client
            .post(dest.url.clone())
            .header(CONTENT_TYPE, content_type)
            .header(WEBHOOK_ID, webhook_id)
            .header(WEBHOOK_TIMESTAMP, timestamp)
            .header(WEBHOOK_SIGNATURE, signature)
            .body(event.body.clone());

        let mut record = AttemptRecord {
            started_at,
            ..AttemptRecord::default()
        };
        let verdict = match timeout_at(deadline, request.send()).await {
            Err(_elapsed) => {
                record.error = Some(timed_out(dest.timeout));
                Verdict::Retry { retry_after: None }
            }
            Ok(Err(err)) => {
                record.error = Some(describe(&err));
                if err.is_builder() {
                    Verdict::Permanent
                } else {
                    Verdict::Retry { retry_after: None }
                }
            }
            Ok(Ok(response)) => {
                let status = response.status();
                let verdict = classify(status, response.headers(), clock::now_millis());
                let status_error = status_error(status, response.headers());
                let (body, body_error) = read_prefix(response, deadline, dest.timeout).await;
                record.status_code = Some(status.as_u16());
                record.response = (!body.is_empty()).then(|| lossy_prefix(&body));
                // An answer is judged by its status; a body cut short only matters as a
                // detail of a failure.
                record.error = match (status_error, body_error) {
                    (Some(status), Some(body)) => {
                        Some(format!("{status}; reading the body: {body}"))
                    }
                    (status, _) => status,
                };
                verdict
            }
        };
        record.duration_ms = i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX);
        Delivery { verdict, record }
    }
}

/// Sorts a destination's answer: 2xx succeeds; 3xx, 408, 409, 425, 429 and 5xx are
/// retried, honouring `Retry-After` (seconds or an HTTP date, relative to `now`); any
/// other status (other 4xx, 1xx) fails for good.
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, now: Millis) -> Verdict {
    let retryable = status.is_redirection()
        || status.is_server_error()
        || matches!(status.as_u16(), 408 | 409 | 425 | 429);
    if status.is_success() {
        Verdict::Success
    } else if retryable {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        Verdict::Retry { retry_after }
    } else {
        Verdict::Permanent
    }
}

/// Reads a `Retry-After` value: delay seconds (`120`) or an HTTP date, which counts from
/// `now` (a date already past means no wait). Anything else is `None`.
pub(crate) fn parse_retry_after(value: &str, now: Millis) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits, so a parse failure is an overflow: the longest wait there is.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = UNIX_EPOCH + Duration::from_millis(u64::try_from(now).unwrap_or(0));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The error text of an answer that is not a success: `HTTP 503 Service Unavailable`,
/// with the `Location` for a redirect.
fn status_error(status: StatusCode, headers: &HeaderMap) -> Option<String> {
    if status.is_success() {
        return None;
    }
    let line = match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    if status.is_redirection() {
        let location = headers.get(LOCATION).map_or_else(
            || "(none)".into(),
            |v| String::from_utf8_lossy(v.as_bytes()),
        );
        return Some(format!(
            "{line}: redirect not followed; Location: {location}"
        ));
    }
    Some(line)
}

/// Reads at most [`RESPONSE_LIMIT`] bytes of the body, until `deadline`. Returns what was
/// read and, if reading stopped early, why.
async fn read_prefix(
    mut response: reqwest::Response,
    deadline: Instant,
    timeout: Duration,
) -> (Vec<u8>, Option<String>) {
    let mut body = Vec::new();
    while body.len() < RESPONSE_LIMIT {
        match timeout_at(deadline, response.chunk()).await {
            Err(_elapsed) => return (body, Some(timed_out(timeout))),
            Ok(Err(err)) => return (body, Some(describe(&err))),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                let take = chunk.len().min(RESPONSE_LIMIT - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
        }
    }
    (body, None)
}

/// The body prefix as text: invalid UTF-8 replaced, and never longer than
/// [`RESPONSE_LIMIT`] bytes even when replacement characters make it grow.
fn lossy_prefix(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if text.len() > RESPONSE_LIMIT {
        let mut end = RESPONSE_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}

/// A precise one-line text for a failed request: its kind, then the chain of causes
/// (`connect error: tcp connect error: Connection refused (os error 111)`). The URL is
/// left out: it is recorded elsewhere and may carry credentials.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_connect() {
        "connect error"
    } else if err.is_timeout() {
        "timed out"
    } else if err.is_body() {
        "error sending the body"
    } else if err.is_builder() {
        "invalid request"
    } else if err.is_decode() {
        "error reading the answer"
    } else {
        "request error"
    };
    let mut text = kind.to_owned();
    let mut last = String::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and reqwest wrap errors in layers that repeat their cause's text or only
        // name the layer; keep the words that add something.
        if !cause_text.is_empty() && cause_text != last && !is_wrapper_text(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        last = cause_text;
        source = cause.source();
    }
    text
}

/// Texts of wrapper errors that say nothing their cause does not.
fn is_wrapper_text(text: &str) -> bool {
    matches!(
        text,
        "client error (Connect)" | "client error (SendRequest)"
    )
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    const NOW: Millis = 1_700_000_000_000;

    fn verdict(code: u16) -> Verdict {
        classify(StatusCode::from_u16(code).unwrap(), &HeaderMap::new(), NOW)
    }

    #[test]
    fn every_2xx_is_success() {
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(verdict(code), Verdict::Success, "{code}");
        }
    }

    #[test]
    fn redirects_timeouts_conflicts_throttling_and_server_errors_retry() {
        for code in [
            300, 301, 302, 307, 308, 408, 409, 425, 429, 500, 502, 503, 504, 599,
        ] {
            assert_eq!(
                verdict(code),
                Verdict::Retry { retry_after: None },
                "{code}"
            );
        }
    }

    #[test]
    fn other_client_errors_and_informational_answers_are_permanent() {
        for code in [100, 101, 400, 401, 403, 404, 405, 410, 413, 422, 451, 499] {
            assert_eq!(verdict(code), Verdict::Permanent, "{code}");
        }
    }

    #[test]
    fn retry_after_is_honoured_on_retried_answers_only() {
        let with_header = headers(&[("retry-after", "7")]);
        let retry = |code| classify(StatusCode::from_u16(code).unwrap(), &with_header, NOW);
        let seven = Verdict::Retry {
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(retry(429), seven);
        assert_eq!(retry(503), seven);
        assert_eq!(retry(200), Verdict::Success);
        assert_eq!(retry(400), Verdict::Permanent);
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("0", NOW), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("120", NOW),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 5 ", NOW), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after("99999999999999999999999", NOW),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_as_an_http_date_counts_from_now() {
        // NOW is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:14:20 GMT", NOW),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", NOW),
            Some(Duration::ZERO)
        );
        let header = headers(&[("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT")]);
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &header, NOW),
            Verdict::Retry {
                retry_after: Some(Duration::from_secs(30))
            }
        );
    }

    #[test]
    fn garbage_retry_after_is_ignored() {
        for value in [
            "",
            "soon",
            "-5",
            "1.5",
            "5s",
            "Tue, 32 Nov 2023 22:14:20 GMT",
        ] {
            assert_eq!(parse_retry_after(value, NOW), None, "{value:?}");
        }
        let header = headers(&[("retry-after", "soon")]);
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &header, NOW),
            Verdict::Retry { retry_after: None }
        );
    }

    #[test]
    fn status_errors_name_the_status_and_a_redirects_location() {
        assert_eq!(status_error(StatusCode::OK, &HeaderMap::new()), None);
        assert_eq!(
            status_error(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new()).as_deref(),
            Some("HTTP 503 Service Unavailable")
        );
        assert_eq!(
            status_error(StatusCode::from_u16(599).unwrap(), &HeaderMap::new()).as_deref(),
            Some("HTTP 599")
        );
        assert_eq!(
            status_error(
                StatusCode::FOUND,
                &headers(&[("location", "https://new.example/h")])
            )
            .as_deref(),
            Some("HTTP 302 Found: redirect not followed; Location: https://new.example/h")
        );
        assert_eq!(
            status_error(StatusCode::MOVED_PERMANENTLY, &HeaderMap::new()).as_deref(),
            Some("HTTP 301 Moved Permanently: redirect not followed; Location: (none)")
        );
    }

    #[test]
    fn response_text_never_exceeds_the_limit() {
        let ascii = vec![b'a'; RESPONSE_LIMIT];
        assert_eq!(lossy_prefix(&ascii).len(), RESPONSE_LIMIT);
        // Invalid bytes turn into three-byte replacement characters.
        let invalid = vec![0xff; RESPONSE_LIMIT];
        let text = lossy_prefix(&invalid);
        assert!(text.len() <= RESPONSE_LIMIT);
        assert!(text.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
        // A multi-byte character cut by the limit is not split.
        let mut cut = vec![b'a'; RESPONSE_LIMIT - 1];
        cut.push(0xc3);
        let text = lossy_prefix(&cut);
        assert!(text.len() <= RESPONSE_LIMIT);
        assert!(text.starts_with("aaa"));
    }

    #[test]
    fn the_client_builds() {
        HttpTarget::new().unwrap();
    }
}
