//! Test support: the provider vectors of `tests/fixtures/*.json` (copies of
//! `shared/fixtures/providers/`) as requests a preset can be handed, so each preset's
//! unit tests run every vector through its own code with the vector's clock.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::Unverified;

/// One vector: a request as delivered and the outcome the provider's scheme demands.
#[derive(Debug)]
pub(super) struct Vector {
    pub(super) id: String,
    pub(super) secret: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
    /// `expected_result` is `valid`.
    pub(super) valid: bool,
    /// `verify_at_unix`, or 0 for vectors of schemes without a clock.
    pub(super) now: i64,
}

impl Vector {
    /// The vector as an unverified request.
    pub(super) fn request(&self) -> Unverified<'_> {
        Unverified {
            headers: &self.headers,
            body: &self.body,
            query: None,
        }
    }
}

/// The vectors of `tests/fixtures/{file}`; the body of each is checked against its
/// `body_sha256`, so a loader problem cannot pass for a signature problem.
pub(super) fn load(file: &str) -> Vec<Vector> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    json["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{path} has no vectors array"))
        .iter()
        .map(vector)
        .collect()
}

fn vector(v: &Value) -> Vector {
    let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let id = text("id");
    let body = text("body").into_bytes();
    if let Some(sha) = v["body_sha256"].as_str() {
        assert_eq!(hex::encode(Sha256::digest(&body)), sha, "{id}: body bytes");
    }
    let mut headers = HeaderMap::new();
    for (name, value) in v["headers"].as_object().into_iter().flatten() {
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .unwrap_or_else(|e| panic!("{id}: header name {name}: {e}"));
        let value = HeaderValue::from_str(value.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{id}: header value of {name}: {e}"));
        headers.append(name, value);
    }
    Vector {
        secret: text("secret"),
        valid: text("expected_result") == "valid",
        now: v["verify_at_unix"].as_i64().unwrap_or(0),
        headers,
        body,
        id,
    }
}
