//! API tokens for tests: an API key stored the way `hookd token create` stores one (only
//! its SHA-256), returned as the bearer token to send.

use hookd_store::{ApiKey, NewApiKey, Store};
use sha2::{Digest as _, Sha256};

use super::now_millis;

/// Stores a new API key of `tenant` (`*` for all) with `scope` and returns its token.
pub(crate) async fn api_token(store: &dyn Store, tenant: &str, scope: &str) -> String {
    let id = format!("key_{}", ulid::Ulid::new());
    let token = format!("hkd_{}", ulid::Ulid::new().to_string().to_lowercase());
    store
        .api_key_insert(NewApiKey {
            key: ApiKey {
                id,
                tenant: tenant.to_owned(),
                scope: scope.to_owned(),
                name: Some("test".to_owned()),
                created_at: now_millis(),
                revoked_at: None,
            },
            token_hash: hex::encode(Sha256::digest(token.as_bytes())),
        })
        .await
        .expect("the API key is stored");
    token
}
