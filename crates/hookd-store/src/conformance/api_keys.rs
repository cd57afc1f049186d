//! Conformance cases of API keys: storing, finding by token hash, listing per tenant,
//! revoking within a tenant, and refusing a second key with the same token hash.

use super::T0;
use crate::{ApiKey, NewApiKey, Store};

/// A key of `tenant` created at `T0 + at`, whose token hash is `hash-<id>`.
fn new_key(id: &str, tenant: &str, scope: &str, at: i64) -> NewApiKey {
    NewApiKey {
        key: ApiKey {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            scope: scope.to_owned(),
            name: None,
            created_at: T0 + at,
            revoked_at: None,
        },
        token_hash: format!("hash-{id}"),
    }
}

async fn insert(store: &dyn Store, key: &NewApiKey) {
    store
        .api_key_insert(key.clone())
        .await
        .unwrap_or_else(|err| panic!("insert {}: {err}", key.key.id));
}

async fn find(store: &dyn Store, token_hash: &str) -> Option<ApiKey> {
    store.api_key_find(token_hash).await.expect("api_key_find")
}

async fn list_ids(store: &dyn Store, tenant: Option<&str>) -> Vec<String> {
    store
        .api_key_list(tenant)
        .await
        .expect("api_key_list")
        .into_iter()
        .map(|k| k.id)
        .collect()
}

/// A stored key is found by its token hash exactly as given (a `revoked_at` passed in is
/// ignored); listings are per tenant (or all), oldest first, whatever the insert order.
pub async fn api_key_insert_find_list(store: &dyn Store) {
    assert_eq!(find(store, "hash-nothing").await, None);
    assert!(list_ids(store, None).await.is_empty());

    let mut named = new_key("key_b", "acme", "write", 20);
    named.key.name = Some("deploy bot".to_owned());
    named.key.revoked_at = Some(T0 + 1);
    let keys = [
        new_key("key_c", "globex", "read", 30),
        named.clone(),
        new_key("key_a", "acme", "read", 10),
        new_key("key_root", "*", "admin", 0),
        // Same millisecond as key_b: the id breaks the tie.
        new_key("key_a2", "acme", "admin", 20),
    ];
    for key in &keys {
        insert(store, key).await;
    }

    let found = find(store, "hash-key_b").await.expect("key_b is found");
    assert_eq!(
        found,
        ApiKey {
            revoked_at: None,
            ..named.key
        },
        "stored as given, never revoked on insert"
    );
    assert_eq!(
        find(store, "hash-key_root").await.map(|k| k.tenant),
        Some("*".to_owned())
    );
    assert_eq!(
        find(store, "hash-KEY_B").await,
        None,
        "hashes match exactly"
    );

    assert_eq!(
        list_ids(store, Some("acme")).await,
        ["key_a", "key_a2", "key_b"]
    );
    assert_eq!(list_ids(store, Some("globex")).await, ["key_c"]);
    assert_eq!(list_ids(store, Some("*")).await, ["key_root"]);
    assert!(list_ids(store, Some("initech")).await.is_empty());
    assert_eq!(
        list_ids(store, None).await,
        ["key_root", "key_a", "key_a2", "key_b", "key_c"]
    );
    let listed = store.api_key_list(Some("acme")).await.expect("list");
    assert_eq!(listed[2], found, "the listing carries the whole record");
}

/// Revoking sets `revoked_at` once: only within the given tenant, only if not revoked
/// yet; `None` revokes any tenant's key. A revoked key is still found and listed.
pub async fn api_key_revoke(store: &dyn Store) {
    insert(store, &new_key("key_acme", "acme", "write", 0)).await;
    insert(store, &new_key("key_globex", "globex", "read", 1)).await;

    assert!(
        !store
            .api_key_revoke("key_acme", Some("globex"), T0 + 100)
            .await
            .expect("revoke"),
        "another tenant cannot revoke it"
    );
    assert_eq!(
        find(store, "hash-key_acme")
            .await
            .and_then(|k| k.revoked_at),
        None
    );
    assert!(
        !store
            .api_key_revoke("key_missing", None, T0 + 100)
            .await
            .expect("revoke"),
        "no such key"
    );

    assert!(
        store
            .api_key_revoke("key_acme", Some("acme"), T0 + 100)
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .api_key_revoke("key_acme", Some("acme"), T0 + 200)
            .await
            .expect("revoke"),
        "already revoked"
    );
    let revoked = find(store, "hash-key_acme")
        .await
        .expect("a revoked key is still found");
    assert_eq!(
        revoked.revoked_at,
        Some(T0 + 100),
        "the first revocation's time stays"
    );

    assert!(
        store
            .api_key_revoke("key_globex", None, T0 + 300)
            .await
            .expect("revoke"),
        "without a tenant any key can be revoked"
    );
    let listed = store.api_key_list(None).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|k| (k.id.as_str(), k.revoked_at))
            .collect::<Vec<_>>(),
        [("key_acme", Some(T0 + 100)), ("key_globex", Some(T0 + 300))],
        "revoked keys stay listed"
    );
}

/// A second key with a stored token hash is refused and changes nothing; so is a second
/// key with a stored id.
pub async fn api_key_duplicate_refused(store: &dyn Store) {
    let first = new_key("key_first", "acme", "read", 0);
    insert(store, &first).await;

    let mut same_hash = new_key("key_second", "globex", "admin", 5);
    same_hash.token_hash = first.token_hash.clone();
    assert!(
        store.api_key_insert(same_hash).await.is_err(),
        "a duplicate token hash must be refused"
    );
    let mut same_id = new_key("key_first", "globex", "admin", 5);
    same_id.token_hash = "hash-other".to_owned();
    assert!(
        store.api_key_insert(same_id).await.is_err(),
        "a duplicate id must be refused"
    );

    assert_eq!(find(store, &first.token_hash).await, Some(first.key));
    assert_eq!(find(store, "hash-other").await, None);
    assert_eq!(list_ids(store, None).await, ["key_first"]);
}
