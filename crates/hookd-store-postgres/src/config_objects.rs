//! Configuration objects written through the API: listing them, creating or replacing
//! one. A deletion is a row with a `NULL` body and is listed like any other.
//!
//! The table holds a few objects per source, route, queue and destination, so a list
//! reads all of them and orders them in Rust, by [`ConfigKind`] as the enum orders its
//! kinds, then by name.

use hookd_store::{ConfigKind, ConfigObject, StoreError};
use tokio_postgres::GenericClient;

use crate::error::{PgResultExt, invalid};
use crate::rows::get;

/// Every stored object, ordered by kind then name.
pub(crate) async fn list(client: &impl GenericClient) -> Result<Vec<ConfigObject>, StoreError> {
    const CONTEXT: &str = "listing configuration objects";
    let mut objects = client
        .query(
            "SELECT kind, name, body, updated_at, updated_by FROM config_objects
             ORDER BY name",
            &[],
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| {
            let kind: &str = get(row, "kind")?;
            Ok(ConfigObject {
                kind: ConfigKind::parse(kind).ok_or_else(|| {
                    invalid(CONTEXT, format!("unknown configuration kind {kind:?}"))
                })?,
                name: get(row, "name")?,
                body: get(row, "body")?,
                updated_at: get(row, "updated_at")?,
                updated_by: get(row, "updated_by")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // Rows come in name order; a stable sort by kind keeps it within each kind.
    objects.sort_by_key(|object| object.kind);
    Ok(objects)
}

/// Creates or replaces the object of its kind and name.
pub(crate) async fn put(
    client: &impl GenericClient,
    object: &ConfigObject,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO config_objects (kind, name, body, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (kind, name) DO UPDATE
             SET body = excluded.body, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by",
            &[
                &object.kind.as_str(),
                &object.name,
                &object.body,
                &object.updated_at,
                &object.updated_by,
            ],
        )
        .await
        .ctx("storing a configuration object")?;
    Ok(())
}
