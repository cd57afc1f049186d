//! `/v1/config`: the configuration objects — sources, routes, queues, destinations — read
//! and edited through the API. `GET /v1/config` shows the effective configuration; each
//! kind has `GET /v1/config/{kind}`, and `GET`, `PUT` and `DELETE` on
//! `/v1/config/{kind}/{name}`.
//!
//! - An object's body is the keys of its TOML table as JSON (`{"secrets": ["…"],
//!   "event_type": {"json": "/type"}}`). A PUT creates or replaces the object whole; it is
//!   stored, wins over the file's object of that name on every node and across restarts,
//!   and is in force for the very next webhook and the next claimed job. A DELETE hides
//!   the file's object too. `[server]`, `[api]` and the other sections are the file's alone.
//! - Every edit gets exactly the file's checks (see [`crate::config::overlay`]): a problem
//!   in the edited object is named by a JSON pointer into the body (`/secrets/0`), any
//!   other by its key path, with routes named by their name.
//! - Secrets (`secrets` and `verify_token` of sources, `secret` of destinations) are
//!   write-only: they are shown masked, and a masked value sent back unchanged keeps the
//!   secret it stands for, so GET, edit, PUT round-trips (see [`crate::config::mask`]).
//! - Access: a source belongs to its tenant: `read` tokens of that tenant read it, `admin`
//!   tokens write it, and another tenant's source is 404 like a missing one; a PUT keeps
//!   a source in its tenant (a new one gets the token's tenant unless it names it).
//!   Routes, queues and destinations are shared infrastructure: an `admin` token of tenant
//!   `*` only, 403 otherwise. `GET /v1/config` needs an `admin` token of `*`.
//! - Every write is recorded in the audit log (`config.put`, `config.delete`, target
//!   `source:NAME` and so on), with the object as written, secrets masked.

use axum::extract::State;
use axum::http::StatusCode;
use hookd_store::{AuditEntry, ConfigKind};
use serde::Serialize;
use serde_json::{Map, Value};
use toml::Table;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{ALL_TENANTS, Principal, Scope};
use super::error::{ApiError, ErrorBody, FieldProblem};
use super::extract::{Json, Path};
use crate::clock::{self, rfc3339};
use crate::config::check::TENANT_DEFAULT;
use crate::config::schema::{DestinationSchema, QueueSchema, RouteSchema, SourceSchema};
use crate::config::{EditError, Entry, Origin, mask, overlay};

/// The routes of this resource.
pub(super) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(effective_config))
        .routes(routes!(list_sources))
        .routes(routes!(get_source, put_source, delete_source))
        .routes(routes!(list_routes))
        .routes(routes!(get_route, put_route, delete_route))
        .routes(routes!(list_queues))
        .routes(routes!(get_queue, put_queue, delete_queue))
        .routes(routes!(list_destinations))
        .routes(routes!(
            get_destination,
            put_destination,
            delete_destination
        ))
}

/// Where an object comes from.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OriginName {
    /// The configuration file (or a `HOOKD_*` variable).
    File,
    /// An edit through the API; it wins over the file's object of the same name.
    Api,
}

impl From<Origin> for OriginName {
    fn from(origin: Origin) -> Self {
        match origin {
            Origin::File => OriginName::File,
            Origin::Api => OriginName::Api,
        }
    }
}

/// An object as the API shows it, whatever its kind.
struct Shown {
    name: String,
    origin: OriginName,
    updated_at: Option<String>,
    updated_by: Option<String>,
    config: Map<String, Value>,
    warnings: Vec<FieldProblem>,
}

impl Shown {
    /// `entry` of `kind` with its secrets masked.
    fn of(kind: ConfigKind, entry: Entry) -> Self {
        let (updated_at, updated_by) = match entry.updated {
            Some((at, by)) => (Some(rfc3339::format_millis(at)), Some(by)),
            None => (None, None),
        };
        Self {
            name: entry.name,
            origin: entry.origin.into(),
            updated_at,
            updated_by,
            config: overlay::table_to_json(&mask::mask(kind, &entry.table)),
            warnings: Vec::new(),
        }
    }
}

/// The `tenant` of a source's table (`default` when it names none).
fn tenant_of(table: &Table) -> &str {
    table
        .get("tenant")
        .and_then(toml::Value::as_str)
        .unwrap_or(TENANT_DEFAULT)
}

/// Whether objects of `kind` belong to a tenant (else they are shared infrastructure).
fn has_tenant(kind: ConfigKind) -> bool {
    kind == ConfigKind::Source
}

/// 403 unless the token may touch objects of `kind` at all with `scope`.
fn require(principal: &Principal, kind: ConfigKind, scope: Scope) -> Result<(), ApiError> {
    if has_tenant(kind) {
        return principal.require(scope);
    }
    require_root_admin(principal, overlay::section(kind))
}

/// 403 unless the token is an admin of every tenant.
fn require_root_admin(principal: &Principal, what: &str) -> Result<(), ApiError> {
    principal.require(Scope::Admin)?;
    if principal.tenant != ALL_TENANTS {
        return Err(ApiError::Forbidden(format!(
            "{what} are shared by every tenant; this needs an admin token of tenant \
             {ALL_TENANTS:?}, and this one is of {:?}",
            principal.tenant
        )));
    }
    Ok(())
}

/// Whether the token sees the object (`entry` of `kind`).
fn sees(principal: &Principal, kind: ConfigKind, entry: &Entry) -> bool {
    !has_tenant(kind) || principal.sees(tenant_of(&entry.table))
}

fn not_found(kind: ConfigKind, name: &str) -> ApiError {
    ApiError::NotFound(format!("there is no {} {name:?}", kind.as_str()))
}

impl From<EditError> for ApiError {
    fn from(error: EditError) -> Self {
        match error {
            EditError::Invalid(problems) => ApiError::Invalid(
                problems
                    .into_iter()
                    .map(|(path, problem)| FieldProblem { path, problem })
                    .collect(),
            ),
            EditError::NotFound(kind, name) => not_found(kind, &name),
            EditError::Conflict(message) => ApiError::Conflict(message),
            EditError::Store(error) => ApiError::from(error),
        }
    }
}

/// Every object of `kind` the token sees.
async fn list(
    state: &ApiState,
    principal: &Principal,
    kind: ConfigKind,
) -> Result<Vec<Shown>, ApiError> {
    require(principal, kind, Scope::Read)?;
    let editor = state.live.edit().await;
    Ok(editor
        .entries(kind)
        .into_iter()
        .filter(|entry| sees(principal, kind, entry))
        .map(|entry| Shown::of(kind, entry))
        .collect())
}

/// The object `kind`/`name`, when the token sees it.
async fn get_one(
    state: &ApiState,
    principal: &Principal,
    kind: ConfigKind,
    name: &str,
) -> Result<Shown, ApiError> {
    require(principal, kind, Scope::Read)?;
    let editor = state.live.edit().await;
    editor
        .entry(kind, name)
        .filter(|entry| sees(principal, kind, entry))
        .map(|entry| Shown::of(kind, entry))
        .ok_or_else(|| not_found(kind, name))
}

/// Creates or replaces the object `kind`/`name` with `body`.
async fn put(
    state: &ApiState,
    principal: &Principal,
    kind: ConfigKind,
    name: &str,
    body: Value,
) -> Result<Shown, ApiError> {
    require(principal, kind, Scope::Admin)?;
    let Value::Object(body) = body else {
        return Err(ApiError::field(
            "body",
            "must be a JSON object with the keys of the object's TOML table",
        ));
    };
    let mut table = overlay::table_from_json(&body).map_err(invalid)?;
    if kind == ConfigKind::Route
        && let Some(given) = table.remove("name")
        && given.as_str() != Some(name)
    {
        return Err(ApiError::field(
            "/name",
            format!("must be the name in the path, {name:?}, or be left out"),
        ));
    }

    let mut editor = state.live.edit().await;
    let current = editor.entry(kind, name);
    if let Some(entry) = &current
        && !sees(principal, kind, entry)
    {
        return Err(not_found(kind, name));
    }
    if has_tenant(kind) {
        keep_tenant(principal, &mut table, current.as_ref())?;
    }
    mask::unmask(kind, &mut table, current.as_ref().map(|e| &e.table)).map_err(invalid)?;

    let detail = Value::Object(overlay::table_to_json(&mask::mask(kind, &table))).to_string();
    let warnings = editor.put(kind, name, table, &principal.actor).await?;
    let entry = editor
        .entry(kind, name)
        .ok_or_else(|| not_found(kind, name))?;
    drop(editor);
    audit(state, principal, "config.put", kind, name, detail).await?;
    tracing::info!(kind = kind.as_str(), %name, actor = %principal.actor, "configuration object written");
    let mut shown = Shown::of(kind, entry);
    shown.warnings = warnings
        .into_iter()
        .map(|(path, problem)| FieldProblem { path, problem })
        .collect();
    Ok(shown)
}

/// Sets a source's `tenant`: the current one for an existing source (which cannot move),
/// the token's for a new one that names none; 403 for a tenant the token may not write.
fn keep_tenant(
    principal: &Principal,
    table: &mut Table,
    current: Option<&Entry>,
) -> Result<(), ApiError> {
    let current = current.map(|entry| tenant_of(&entry.table).to_owned());
    let given = match table.get("tenant") {
        Some(toml::Value::String(tenant)) => Some(tenant.clone()),
        // Not a string: the check names it.
        Some(_) => return Ok(()),
        None => None,
    };
    if let Some(tenant) = &given
        && !principal.sees(tenant)
    {
        return Err(ApiError::Forbidden(format!(
            "a token of tenant {:?} cannot write sources of tenant {tenant:?}",
            principal.tenant
        )));
    }
    match (given, current) {
        (Some(given), Some(current)) if given != current => Err(ApiError::field(
            "/tenant",
            format!(
                "the source belongs to tenant {current:?} and cannot move to another; its \
                 events stay with their tenant (delete it and create it anew instead)"
            ),
        )),
        (Some(_), _) => Ok(()),
        (None, Some(current)) => {
            table.insert("tenant".to_owned(), toml::Value::String(current));
            Ok(())
        }
        (None, None) => {
            if let Some(own) = principal.tenant_filter() {
                table.insert("tenant".to_owned(), toml::Value::String(own.to_owned()));
            }
            Ok(())
        }
    }
}

/// Deletes the object `kind`/`name`.
async fn delete(
    state: &ApiState,
    principal: &Principal,
    kind: ConfigKind,
    name: &str,
) -> Result<StatusCode, ApiError> {
    require(principal, kind, Scope::Admin)?;
    let mut editor = state.live.edit().await;
    let entry = editor.entry(kind, name);
    if let Some(entry) = &entry
        && !sees(principal, kind, entry)
    {
        return Err(not_found(kind, name));
    }
    editor.delete(kind, name, &principal.actor).await?;
    drop(editor);
    let origin = entry.map(|entry| OriginName::from(entry.origin));
    let detail = serde_json::json!({ "origin": origin }).to_string();
    audit(state, principal, "config.delete", kind, name, detail).await?;
    tracing::info!(kind = kind.as_str(), %name, actor = %principal.actor, "configuration object deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Problems with JSON pointers into the body as a 400.
fn invalid(problems: Vec<(String, String)>) -> ApiError {
    ApiError::Invalid(
        problems
            .into_iter()
            .map(|(path, problem)| FieldProblem { path, problem })
            .collect(),
    )
}

/// Records a write in the audit log.
async fn audit(
    state: &ApiState,
    principal: &Principal,
    action: &str,
    kind: ConfigKind,
    name: &str,
    detail: String,
) -> Result<(), ApiError> {
    state
        .store
        .audit_insert(AuditEntry {
            at: clock::now_millis(),
            actor: principal.actor.clone(),
            tenant: principal.tenant.clone(),
            action: action.to_owned(),
            target: format!("{}:{name}", kind.as_str()),
            count: 1,
            detail: Some(detail),
        })
        .await?;
    Ok(())
}

/// The record and list types and the four operations of one kind of object.
macro_rules! config_kind {
    (
        kind: $kind:expr,
        schema: $schema:ty,
        record: $record:ident,
        list: $list:ident,
        list_path: $list_path:tt,
        one_path: $one_path:tt,
        handlers: ($list_fn:ident, $get_fn:ident, $put_fn:ident, $delete_fn:ident),
        what: $what:tt,
        forbidden_read: $forbidden_read:tt,
        forbidden_write: $forbidden_write:tt,
        not_found: $not_found:tt,
        docs: ($list_doc:tt, $get_doc:tt, $put_doc:tt, $delete_doc:tt, $conflict:tt $(,)?),
    ) => {
        #[doc = concat!("One ", $what, " of the effective configuration.")]
        #[derive(Debug, Serialize, ToSchema)]
        pub(crate) struct $record {
            /// Its name.
            name: String,
            /// `file` (the configuration file) or `api` (edited through the API).
            origin: OriginName,
            /// When it was last written through the API (RFC 3339); `null` for the file's.
            #[schema(required = true)]
            updated_at: Option<String>,
            /// Who wrote it through the API; `null` for the file's.
            #[schema(required = true)]
            updated_by: Option<String>,
            /// Its keys as in the TOML table, secrets masked.
            #[schema(value_type = $schema)]
            config: Map<String, Value>,
            /// In the answer to a PUT: what the check warns about in the object.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            warnings: Vec<FieldProblem>,
        }

        impl From<Shown> for $record {
            fn from(shown: Shown) -> Self {
                Self {
                    name: shown.name,
                    origin: shown.origin,
                    updated_at: shown.updated_at,
                    updated_by: shown.updated_by,
                    config: shown.config,
                    warnings: shown.warnings,
                }
            }
        }

        #[doc = concat!("Every ", $what, " the token sees.")]
        #[derive(Debug, Serialize, ToSchema)]
        pub(crate) struct $list {
            /// In configuration order.
            data: Vec<$record>,
        }

        #[doc = $list_doc]
        #[utoipa::path(
            get,
            path = $list_path,
            tag = "config",
            responses(
                (status = 200, description = "Every one the token sees", body = $list),
                (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
                (status = 403, description = $forbidden_read, body = ErrorBody),
                (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
            )
        )]
        async fn $list_fn(
            principal: Principal,
            State(state): State<ApiState>,
        ) -> Result<Json<$list>, ApiError> {
            let shown = list(&state, &principal, $kind).await?;
            Ok(Json($list {
                data: shown.into_iter().map(<$record>::from).collect(),
            }))
        }

        #[doc = $get_doc]
        #[utoipa::path(
            get,
            path = $one_path,
            tag = "config",
            params(("name" = String, Path, description = "The object's name")),
            responses(
                (status = 200, description = "The object, secrets masked", body = $record),
                (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
                (status = 403, description = $forbidden_read, body = ErrorBody),
                (status = 404, description = $not_found, body = ErrorBody),
                (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
            )
        )]
        async fn $get_fn(
            principal: Principal,
            State(state): State<ApiState>,
            Path(name): Path<String>,
        ) -> Result<Json<$record>, ApiError> {
            Ok(Json(get_one(&state, &principal, $kind, &name).await?.into()))
        }

        #[doc = $put_doc]
        #[utoipa::path(
            put,
            path = $one_path,
            tag = "config",
            params(("name" = String, Path, description = "The object's name")),
            request_body = $schema,
            responses(
                (status = 200, description = "The object as now in force, secrets masked, with any warnings", body = $record),
                (status = 400, description = "The body does not parse, has unknown keys, or the configuration would not check out; `fields` names each problem", body = ErrorBody),
                (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
                (status = 403, description = $forbidden_write, body = ErrorBody),
                (status = 404, description = $not_found, body = ErrorBody),
                (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
            )
        )]
        async fn $put_fn(
            principal: Principal,
            State(state): State<ApiState>,
            Path(name): Path<String>,
            Json(body): Json<Value>,
        ) -> Result<Json<$record>, ApiError> {
            Ok(Json(put(&state, &principal, $kind, &name, body).await?.into()))
        }

        #[doc = $delete_doc]
        #[utoipa::path(
            delete,
            path = $one_path,
            tag = "config",
            params(("name" = String, Path, description = "The object's name")),
            responses(
                (status = 204, description = "Deleted; the configuration without it is in force"),
                (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
                (status = 403, description = $forbidden_write, body = ErrorBody),
                (status = 404, description = $not_found, body = ErrorBody),
                (status = 409, description = $conflict, body = ErrorBody),
                (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
            )
        )]
        async fn $delete_fn(
            principal: Principal,
            State(state): State<ApiState>,
            Path(name): Path<String>,
        ) -> Result<StatusCode, ApiError> {
            delete(&state, &principal, $kind, &name).await
        }
    };
}

const SHARED_FORBIDDEN: &str = "The token is not an admin of every tenant (`*`)";

config_kind! {
    kind: ConfigKind::Source,
    schema: SourceSchema,
    record: SourceRecord,
    list: SourceList,
    list_path: "/config/sources",
    one_path: "/config/sources/{name}",
    handlers: (list_sources, get_source, put_source, delete_source),
    what: "source",
    forbidden_read: "The token's scope is below `read`",
    forbidden_write: "The token's scope is below `admin`, or the body names a tenant the token does not see",
    not_found: "No such source for this token's tenant",
    docs: (
        "Lists the sources of the token's tenant (every source for `*`), secrets masked.",
        "Reads one source of the token's tenant, secrets masked.",
        "Creates or replaces a source, in force at once: the body is the keys of its `[sources.NAME]` table. A new source gets the token's tenant unless it names one; an existing one keeps its tenant. A masked secret sent back keeps the secret it stands for. Recorded in the audit log.",
        "Deletes a source (a source of the file stays hidden). Recorded in the audit log.",
        "A route still takes the source's events",
    ),
}

config_kind! {
    kind: ConfigKind::Route,
    schema: RouteSchema,
    record: RouteRecord,
    list: RouteList,
    list_path: "/config/routes",
    one_path: "/config/routes/{name}",
    handlers: (list_routes, get_route, put_route, delete_route),
    what: "route",
    forbidden_read: SHARED_FORBIDDEN,
    forbidden_write: SHARED_FORBIDDEN,
    not_found: "No route of that name (a file route without a `name` is `routes[N]`)",
    docs: (
        "Lists every route in configuration order: the file's, then those made through the API.",
        "Reads one route.",
        "Creates or replaces a route, in force for the next webhook: the body is the keys of a `[[routes]]` table; its `name` is the one in the path. Recorded in the audit log.",
        "Deletes a route (a route of the file stays hidden). Recorded in the audit log.",
        "The route cannot go: the rest of the configuration needs it",
    ),
}

config_kind! {
    kind: ConfigKind::Queue,
    schema: QueueSchema,
    record: QueueObject,
    list: QueueObjectList,
    list_path: "/config/queues",
    one_path: "/config/queues/{name}",
    handlers: (list_queues, get_queue, put_queue, delete_queue),
    what: "queue",
    forbidden_read: SHARED_FORBIDDEN,
    forbidden_write: SHARED_FORBIDDEN,
    not_found: "No such queue",
    docs: (
        "Lists every configured queue's settings (`GET /v1/queues` has their jobs).",
        "Reads one queue's settings.",
        "Creates or replaces a queue, in force at the next claim: the body is the keys of its `[queues.NAME]` table. A new queue gets its worker pool at once. Recorded in the audit log.",
        "Deletes a queue; its worker pool stops once it runs nothing. Recorded in the audit log.",
        "The queue is `default`, a route still sends jobs to it, or it still holds unfinished jobs",
    ),
}

config_kind! {
    kind: ConfigKind::Destination,
    schema: DestinationSchema,
    record: DestinationRecord,
    list: DestinationList,
    list_path: "/config/destinations",
    one_path: "/config/destinations/{name}",
    handlers: (list_destinations, get_destination, put_destination, delete_destination),
    what: "destination",
    forbidden_read: SHARED_FORBIDDEN,
    forbidden_write: SHARED_FORBIDDEN,
    not_found: "No such destination",
    docs: (
        "Lists every destination, secrets masked.",
        "Reads one destination, secret masked.",
        "Creates or replaces a destination, in force for the next attempt: the body is the keys of its `[destinations.NAME]` table. A masked secret sent back keeps the secret. Recorded in the audit log.",
        "Deletes a destination. Recorded in the audit log.",
        "A route still forwards to the destination",
    ),
}

/// The effective configuration: the file with the objects edited through the API laid
/// over it, secrets masked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EffectiveConfig {
    /// Every source, by name.
    sources: Vec<SourceRecord>,
    /// Every route, in configuration order.
    routes: Vec<RouteRecord>,
    /// Every queue, by name.
    queues: Vec<QueueObject>,
    /// Every destination, by name.
    destinations: Vec<DestinationRecord>,
}

/// Shows the effective configuration: every source, route, queue and destination, each
/// with its origin (`file` or `api`), secrets masked.
#[utoipa::path(
    get,
    path = "/config",
    tag = "config",
    responses(
        (status = 200, description = "The effective configuration", body = EffectiveConfig),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not an admin of every tenant (`*`)", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn effective_config(
    principal: Principal,
    State(state): State<ApiState>,
) -> Result<Json<EffectiveConfig>, ApiError> {
    require_root_admin(&principal, "the whole configuration and its parts")?;
    let editor = state.live.edit().await;
    let shown = |kind| {
        editor
            .entries(kind)
            .into_iter()
            .map(move |entry| Shown::of(kind, entry))
    };
    Ok(Json(EffectiveConfig {
        sources: shown(ConfigKind::Source).map(Into::into).collect(),
        routes: shown(ConfigKind::Route).map(Into::into).collect(),
        queues: shown(ConfigKind::Queue).map(Into::into).collect(),
        destinations: shown(ConfigKind::Destination).map(Into::into).collect(),
    }))
}
