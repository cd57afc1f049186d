//! Conformance cases of the configuration objects ([`Store::config_object_list`],
//! [`Store::config_object_put`]): a put creates or replaces the object of its kind and
//! name, deletions are kept and listed, the list is ordered by kind then name, and every
//! put is announced after its commit.

use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{CHANGE_TIMEOUT, T0};
use crate::{ConfigKind, ConfigObject, Store, StoreChange};

/// An object of `kind` and `name` with `body`, written at [`T0`] by `admin`.
fn object(kind: ConfigKind, name: &str, body: Option<&str>) -> ConfigObject {
    ConfigObject {
        kind,
        name: name.to_owned(),
        body: body.map(str::to_owned),
        updated_at: T0,
        updated_by: "admin".to_owned(),
    }
}

async fn put(store: &dyn Store, object: ConfigObject) {
    store
        .config_object_put(object)
        .await
        .expect("config_object_put");
}

async fn list(store: &dyn Store) -> Vec<ConfigObject> {
    store
        .config_object_list()
        .await
        .expect("config_object_list")
}

/// Waits for [`StoreChange::ConfigChanged`], skipping other changes.
async fn expect_config_changed(rx: &mut Receiver<StoreChange>) {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(StoreChange::ConfigChanged) => return,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => {
                    panic!("change feed closed while waiting for ConfigChanged")
                }
            }
        }
    };
    tokio::time::timeout(CHANGE_TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| panic!("no ConfigChanged within {CHANGE_TIMEOUT:?}"));
}

/// Objects are listed by kind (sources, routes, queues, destinations) then name; a put
/// of an existing kind and name replaces it, body, time and author; the same name under
/// another kind is another object.
pub async fn config_object_put_and_list(store: &dyn Store) {
    assert_eq!(list(store).await, vec![]);

    let app = object(
        ConfigKind::Destination,
        "app",
        Some(r#"{"url":"http://a"}"#),
    );
    let shop = object(ConfigKind::Source, "shop", Some(r#"{"preset":"github"}"#));
    let route_b = object(ConfigKind::Route, "b", Some(r#"{"queue":"critical"}"#));
    let route_a = object(ConfigKind::Route, "a", Some(r#"{"queue":"bulk"}"#));
    let critical = object(ConfigKind::Queue, "critical", Some(r#"{"concurrency":4}"#));
    let billing = object(
        ConfigKind::Source,
        "billing",
        Some(r#"{"preset":"stripe"}"#),
    );
    let queue_shop = object(ConfigKind::Queue, "shop", Some(r#"{"concurrency":1}"#));
    for o in [
        &app,
        &shop,
        &route_b,
        &route_a,
        &critical,
        &billing,
        &queue_shop,
    ] {
        put(store, o.clone()).await;
    }
    assert_eq!(
        list(store).await,
        vec![
            billing.clone(),
            shop,
            route_a.clone(),
            route_b.clone(),
            critical.clone(),
            queue_shop.clone(),
            app.clone(),
        ]
    );

    let shop = ConfigObject {
        body: Some(r#"{"preset":"github","tenant":"acme"}"#.to_owned()),
        updated_at: T0 + 1_000,
        updated_by: "key_42".to_owned(),
        ..object(ConfigKind::Source, "shop", None)
    };
    put(store, shop.clone()).await;
    assert_eq!(
        list(store).await,
        vec![billing, shop, route_a, route_b, critical, queue_shop, app],
        "replaced in place, nothing added"
    );
}

/// A deletion (no body) is stored and listed like any object, so that it hides the
/// file's object of that name; a later put brings the object back.
pub async fn config_object_deletion_is_kept(store: &dyn Store) {
    put(
        store,
        object(ConfigKind::Route, "orders", Some(r#"{"queue":"q"}"#)),
    )
    .await;
    let deleted = ConfigObject {
        updated_at: T0 + 1_000,
        ..object(ConfigKind::Route, "orders", None)
    };
    put(store, deleted.clone()).await;
    // A deletion of an object only the file has.
    let file_only = object(ConfigKind::Destination, "legacy", None);
    put(store, file_only.clone()).await;
    assert_eq!(list(store).await, vec![deleted, file_only.clone()]);

    let back = ConfigObject {
        updated_at: T0 + 2_000,
        ..object(ConfigKind::Route, "orders", Some(r#"{"queue":"other"}"#))
    };
    put(store, back.clone()).await;
    assert_eq!(list(store).await, vec![back, file_only]);
}

/// Every put, deletions included, publishes `ConfigChanged`, and a subscriber that
/// hears it finds the object in the list.
pub async fn config_object_put_publishes_change(store: &dyn Store) {
    let mut changes = store.subscribe();

    let created = object(ConfigKind::Queue, "critical", Some(r#"{"concurrency":4}"#));
    put(store, created.clone()).await;
    expect_config_changed(&mut changes).await;
    assert_eq!(list(store).await, vec![created]);

    let deleted = ConfigObject {
        updated_at: T0 + 1,
        ..object(ConfigKind::Queue, "critical", None)
    };
    put(store, deleted.clone()).await;
    expect_config_changed(&mut changes).await;
    assert_eq!(list(store).await, vec![deleted]);
}
