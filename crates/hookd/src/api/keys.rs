//! `/v1/keys`: API keys, made, listed and revoked through the API. Every operation needs
//! the `admin` scope. An admin of one tenant manages that tenant's keys only; an admin of
//! `*` manages every tenant's, and alone may make `*` keys. Another tenant's key answers
//! 404 as a missing one does.
//!
//! A new key's token is answered once, by `POST /v1/keys`, and never again: only its
//! SHA-256 is stored. `hookd token create` makes keys the same way, offline, which is how
//! the first admin key comes to be.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use hookd_store::{ApiKey, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{
    KEY_ID_PREFIX, KEY_NAME_MAX_CHARS, Principal, Scope, mint_api_key, tenant_problem,
};
use super::error::{ApiError, ErrorBody, FieldProblem};
use super::extract::{Json, Path};
use super::query::QueryReader;
use crate::clock::{self, rfc3339};

/// The routes of this resource.
pub(super) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

/// What a key may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KeyScope {
    /// Read everything of the tenant.
    Read,
    /// Also retry, replay, requeue, purge, pause.
    Write,
    /// Also manage configuration and keys.
    Admin,
}

impl From<Scope> for KeyScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Read => KeyScope::Read,
            Scope::Write => KeyScope::Write,
            Scope::Admin => KeyScope::Admin,
        }
    }
}

/// The body of `POST /v1/keys`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKeyRequest {
    /// The tenant the key sees; `*` for every tenant (only an admin of `*` may ask for
    /// another tenant than its own, or for `*`). Default: the caller's tenant.
    #[serde(default)]
    #[schema(
        max_length = 128,
        pattern = r"^(\*|[^\s*\u0000-\u001f\u007f-\u009f]+)$"
    )]
    tenant: Option<String>,
    /// What the key may do.
    #[serde(default)]
    #[schema(required = true, value_type = KeyScope)]
    scope: Option<String>,
    /// A name for people, e.g. what the key is for. Default: none.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"\S")]
    name: Option<String>,
}

/// An API key as the API shows it: never its token, never its hash.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyRecord {
    /// The key's id (`key_…`), used to revoke it.
    id: String,
    /// The tenant it sees; `*` for every tenant.
    tenant: String,
    /// What it may do.
    scope: KeyScope,
    /// Its name, if given.
    #[schema(required = true)]
    name: Option<String>,
    /// When it was made.
    #[schema(format = DateTime)]
    created_at: String,
    /// When it was revoked; a revoked key authenticates nothing.
    #[schema(required = true, format = DateTime)]
    revoked_at: Option<String>,
}

impl KeyRecord {
    fn of(key: ApiKey) -> Result<Self, ApiError> {
        let scope = Scope::parse(&key.scope).ok_or_else(|| {
            ApiError::Internal(StoreError::Backend {
                context: "reading an API key whose scope hookd does not know",
                source: format!("API key {} has the scope {:?}", key.id, key.scope).into(),
            })
        })?;
        Ok(Self {
            id: key.id,
            tenant: key.tenant,
            scope: scope.into(),
            name: key.name,
            created_at: rfc3339::format_millis(key.created_at),
            revoked_at: key.revoked_at.map(rfc3339::format_millis),
        })
    }
}

/// The answer of `POST /v1/keys`: the token, shown this once, and the key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedKey {
    /// The bearer token (`hkd_…`). It is not stored and cannot be shown again.
    token: String,
    /// The key as stored.
    key: KeyRecord,
}

/// The keys a token may manage.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyList {
    /// Oldest first.
    data: Vec<KeyRecord>,
}

/// The query parameters of `GET /v1/keys`, as read by [`KeyListQuery::parse`].
#[derive(Debug, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeyListQuery {
    /// Only keys of this tenant (`*`: the keys that see every tenant). An admin of one
    /// tenant may name only its own.
    #[param(
        max_length = 128,
        pattern = r"^(\*|[^\s*\u0000-\u001f\u007f-\u009f]+)$"
    )]
    tenant: Option<String>,
    /// Also list revoked keys. Default `false`.
    #[param(value_type = Option<bool>)]
    include_revoked: Option<bool>,
}

impl KeyListQuery {
    /// Reads a query string, collecting every problem; unknown and repeated parameters
    /// are problems too.
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut reader = QueryReader::new(query, &["tenant", "include_revoked"]);
        let parsed = Self {
            tenant: reader.get("tenant", |value| {
                tenant_problem(value).map_or_else(|| Ok(value.to_owned()), Err)
            }),
            include_revoked: reader.get("include_revoked", |value| match value {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("`{value}` is not true or false")),
            }),
        };
        reader.finish().map(|()| parsed)
    }
}

/// Makes an API key and answers its token, once.
#[utoipa::path(
    post,
    path = "/keys",
    tag = "keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key was made; `token` is shown this once", body = CreatedKey),
        (status = 400, description = "The body is not valid; `fields` names each problem", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not admin, or asks for another tenant than its own", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn create_key(
    principal: Principal,
    State(state): State<ApiState>,
    body: Result<Json<CreateKeyRequest>, ApiError>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    // The scope is checked before the body, so a token that may not do this learns
    // nothing about what it sent.
    principal.require(Scope::Admin)?;
    let Json(body) = body?;

    let mut problems = Vec::new();
    let mut problem = |path: &str, text: String| {
        problems.push(FieldProblem {
            path: path.to_owned(),
            problem: text,
        });
    };
    let scope = match body.scope.as_deref() {
        None => {
            problem("/scope", "required: read, write or admin".to_owned());
            None
        }
        Some(text) => Scope::parse(text).or_else(|| {
            problem(
                "/scope",
                format!("`{text}` is not a scope; use read, write or admin"),
            );
            None
        }),
    };
    let tenant = body.tenant.unwrap_or_else(|| principal.tenant.clone());
    if let Some(text) = tenant_problem(&tenant) {
        problem("/tenant", text);
    }
    if let Some(name) = &body.name {
        if name.trim().is_empty() {
            problem(
                "/name",
                "must not be empty; leave it out for no name".to_owned(),
            );
        } else if name.chars().count() > KEY_NAME_MAX_CHARS {
            problem(
                "/name",
                format!("must be at most {KEY_NAME_MAX_CHARS} characters"),
            );
        }
    }
    let Some(scope) = scope.filter(|_| problems.is_empty()) else {
        return Err(ApiError::Invalid(problems));
    };

    if !principal.sees(&tenant) {
        return Err(ApiError::Forbidden(format!(
            "this token is an admin of tenant {:?} only; it cannot make keys of another tenant",
            principal.tenant
        )));
    }

    let minted = mint_api_key(&tenant, scope, body.name, clock::now_millis());
    state.store.api_key_insert(minted.stored.clone()).await?;
    tracing::info!(
        key = %minted.stored.key.id,
        tenant = %tenant,
        scope = scope.as_str(),
        by_tenant = %principal.tenant,
        "API key created"
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            token: minted.token,
            key: KeyRecord::of(minted.stored.key)?,
        }),
    ))
}

/// Lists the API keys the token may manage: its tenant's, or every tenant's for `*`.
#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    params(KeyListQuery),
    responses(
        (status = 200, description = "The keys, oldest first", body = KeyList),
        (status = 400, description = "A query parameter is not valid; `fields` names each", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not admin, or names another tenant than its own", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn list_keys(
    principal: Principal,
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<KeyList>, ApiError> {
    principal.require(Scope::Admin)?;
    let query = KeyListQuery::parse(query.as_deref())?;
    if let Some(tenant) = &query.tenant
        && !principal.sees(tenant)
    {
        return Err(ApiError::Forbidden(format!(
            "this token is an admin of tenant {:?} only; it cannot list another tenant's keys",
            principal.tenant
        )));
    }
    let filter = query.tenant.as_deref().or(principal.tenant_filter());
    let include_revoked = query.include_revoked.unwrap_or(false);
    let keys = state.store.api_key_list(filter).await?;
    let data = keys
        .into_iter()
        // The store reads `None` as every tenant; a filter of `*` means the keys of `*`.
        .filter(|key| filter.is_none_or(|t| key.tenant == t))
        .filter(|key| include_revoked || key.revoked_at.is_none())
        .map(KeyRecord::of)
        .collect::<Result<_, _>>()?;
    Ok(Json(KeyList { data }))
}

/// Revokes an API key at once; it authenticates nothing from then on.
#[utoipa::path(
    delete,
    path = "/keys/{id}",
    tag = "keys",
    params((
        "id" = String,
        Path,
        description = "The key's id (`key_…`)",
        pattern = r"^key_[0-7][0-9A-HJKMNP-TV-Z]{25}$"
    )),
    responses(
        (status = 204, description = "The key is revoked"),
        (status = 400, description = "The id is not a key id; `fields` says so", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not admin", body = ErrorBody),
        (status = 404, description = "No such key, or already revoked, for this token's tenant", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn revoke_key(
    principal: Principal,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::Admin)?;
    if !is_key_id(&id) {
        return Err(ApiError::field(
            "path.id",
            "is not a key id (key_ and a ULID, as listed by GET /v1/keys)",
        ));
    }
    let revoked = state
        .store
        .api_key_revoke(&id, principal.tenant_filter(), clock::now_millis())
        .await?;
    if !revoked {
        return Err(ApiError::NotFound(format!(
            "there is no key {id} that is not revoked yet"
        )));
    }
    tracing::info!(key = %id, by_tenant = %principal.tenant, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `text` has the shape of a key id: `key_` and a ULID.
fn is_key_id(text: &str) -> bool {
    text.strip_prefix(KEY_ID_PREFIX)
        .is_some_and(|ulid| ulid::Ulid::from_string(ulid).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_query_reports_every_problem() {
        let Err(ApiError::Invalid(problems)) =
            KeyListQuery::parse(Some("include_revoked=maybe&tenant=a%20b&x=1&x=2"))
        else {
            panic!("expected problems");
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "query.include_revoked",
                "query.tenant",
                "query.x",
                "query.x"
            ]
        );
        assert_eq!(
            KeyListQuery::parse(Some("tenant=acme&include_revoked=true")).ok(),
            Some(KeyListQuery {
                tenant: Some("acme".to_owned()),
                include_revoked: Some(true),
            })
        );
    }

    #[test]
    fn key_ids_are_key_and_a_ulid() {
        assert!(is_key_id("key_01JS8Z6Q1W7V3X0Y5N2M4K6P8R"));
        assert!(!is_key_id("key_nope"));
        assert!(!is_key_id("01JS8Z6Q1W7V3X0Y5N2M4K6P8R"));
    }
}
