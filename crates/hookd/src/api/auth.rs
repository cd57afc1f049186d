//! Who is calling: bearer tokens, their tenant and their scope.
//!
//! A token is either an API key or a JWT; [`Principal`] is the extractor every handler
//! takes: a request without a valid token never reaches a handler (401, with a detail
//! that says what is wrong and never repeats the token), and [`Principal::require`] turns
//! a scope that is too small into 403. Tenancy: a principal of tenant `*` sees every
//! tenant; any other sees only its own, and another tenant's object answers 404 as if it
//! did not exist.
//!
//! # API keys
//!
//! `hkd_` + [`API_KEY_RANDOM_CHARS`] random alphanumerics (about 238 bits), made by
//! [`mint_api_key`] for `hookd token create` and `POST /v1/keys`. Only the SHA-256 of the
//! token is stored ([`hash_token`]); the token is shown once, when it is made. A revoked
//! key authenticates nothing.
//!
//! # JWTs
//!
//! A token of three base64url parts is a JWT. It is verified by [`JwtVerifier`], built
//! once at start from `[api]` (the keys were parsed when the configuration was checked):
//! the header's `alg` must be the algorithm of a configured key (and its `kid`, when the
//! keys have ids, must name one), the signature must verify, `exp` must be present and in
//! the future (`nbf`, when present, in the past), both within `jwt_leeway`; `iss` and
//! `aud` must be the configured ones when configured, and a token naming an audience is
//! refused when none is. The claims `tenant` (a tenant or `*`) and `scope` (`read`,
//! `write` or `admin`) make the principal. Without JWT keys in `[api]`, JWTs are refused.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hookd_store::{ApiKey, Millis, NewApiKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;
use crate::config::JwtConfig;

/// What a token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// Read everything of the tenant.
    Read,
    /// Also retry, replay, requeue, purge, pause.
    Write,
    /// Also manage configuration and tokens.
    Admin,
}

impl Scope {
    /// Reads `read`, `write` or `admin`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The name used in tokens and the API.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// The tenant that sees every tenant.
pub(crate) const ALL_TENANTS: &str = "*";

/// The authenticated caller of an API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// The tenant it sees, or [`ALL_TENANTS`].
    pub(crate) tenant: String,
    /// What it may do.
    pub(crate) scope: Scope,
    /// Who it is, for the audit log: the API key's id, or the JWT's `sub` claim (`jwt`
    /// when it has none).
    pub(crate) actor: String,
}

impl Principal {
    /// 403 unless the principal's scope includes `scope`.
    pub(crate) fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scope >= scope {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} scope; the token has {}",
                scope.as_str(),
                self.scope.as_str()
            )))
        }
    }

    /// The tenant filter for store queries: `None` for a principal that sees all.
    pub(crate) fn tenant_filter(&self) -> Option<&str> {
        (self.tenant != ALL_TENANTS).then_some(self.tenant.as_str())
    }

    /// Whether the principal may see an object of `tenant`.
    pub(crate) fn sees(&self, tenant: &str) -> bool {
        self.tenant == ALL_TENANTS || self.tenant == tenant
    }
}

/// The SHA-256 (hex) of an API key, as stored.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What every API key starts with.
pub(crate) const API_KEY_PREFIX: &str = "hkd_";

/// How many random characters follow [`API_KEY_PREFIX`].
pub(crate) const API_KEY_RANDOM_CHARS: usize = 40;

/// What every key id starts with (`key_` + ULID).
pub(crate) const KEY_ID_PREFIX: &str = "key_";

/// The longest tenant name a key may carry.
pub(crate) const TENANT_MAX_CHARS: usize = 128;

/// The longest key name.
pub(crate) const KEY_NAME_MAX_CHARS: usize = 200;

/// A new API key: the token to hand out once, and what to store.
#[derive(Debug, Clone)]
pub(crate) struct MintedKey {
    /// The bearer token; never stored, shown once.
    pub(crate) token: String,
    /// The record and the token's hash, for [`hookd_store::Store::api_key_insert`].
    pub(crate) stored: NewApiKey,
}

/// Makes a new API key of `tenant` with `scope`, created at `now`. The caller checks the
/// tenant ([`tenant_problem`]) and stores the key.
pub(crate) fn mint_api_key(
    tenant: &str,
    scope: Scope,
    name: Option<String>,
    now: Millis,
) -> MintedKey {
    // ThreadRng is a CSPRNG seeded from the operating system.
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(API_KEY_RANDOM_CHARS)
        .map(char::from)
        .collect();
    let token = format!("{API_KEY_PREFIX}{random}");
    let stored = NewApiKey {
        key: ApiKey {
            id: format!("{KEY_ID_PREFIX}{}", ulid::Ulid::new()),
            tenant: tenant.to_owned(),
            scope: scope.as_str().to_owned(),
            name,
            created_at: now,
            revoked_at: None,
        },
        token_hash: hash_token(&token),
    };
    MintedKey { token, stored }
}

/// What is wrong with `tenant` as the tenant of a key, if anything. `*` is a valid
/// tenant here: who may use it is the caller's decision.
pub(crate) fn tenant_problem(tenant: &str) -> Option<String> {
    if tenant.is_empty() {
        Some("must not be empty".to_owned())
    } else if tenant.chars().count() > TENANT_MAX_CHARS {
        Some(format!("must be at most {TENANT_MAX_CHARS} characters"))
    } else if tenant.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain spaces or control characters".to_owned())
    } else if tenant != ALL_TENANTS && tenant.contains('*') {
        Some("`*` alone means every tenant; it cannot be part of a name".to_owned())
    } else {
        None
    }
}

impl FromRequestParts<ApiState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| unauthorized("an Authorization: Bearer token is required"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(rest)
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        authenticate(state, token).await
    }
}

fn unauthorized(detail: impl Into<String>) -> ApiError {
    ApiError::Unauthorized(detail.into())
}

/// Checks a bearer token: a JWT when it has the shape of one, an API key otherwise.
async fn authenticate(state: &ApiState, token: &str) -> Result<Principal, ApiError> {
    if looks_like_jwt(token) {
        return match &state.jwt {
            Some(verifier) => verifier.verify(token),
            None => Err(unauthorized(
                "the token is a JWT, but this gateway accepts none: [api] configures no JWT \
                 key (jwt_hs256_secret, jwt_public_key or jwks_file)",
            )),
        };
    }
    if !token.starts_with(API_KEY_PREFIX) {
        return Err(unauthorized(
            "the token is neither an API key (hkd_…) nor a JWT",
        ));
    }
    let key = state
        .store
        .api_key_find(&hash_token(token))
        .await?
        .ok_or_else(|| unauthorized("the API key is not known"))?;
    if key.revoked_at.is_some() {
        return Err(unauthorized("the API key has been revoked"));
    }
    let scope =
        Scope::parse(&key.scope).ok_or_else(|| unauthorized("the API key's scope is unknown"))?;
    Ok(Principal {
        tenant: key.tenant,
        scope,
        actor: key.id,
    })
}

/// Whether `token` has the shape of a JWT: three base64url parts, the first two not
/// empty. API keys never contain a dot.
fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    let base64url = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|p| base64url(p))
}

/// Verifies JWTs against the keys of `[api]`; built once at start.
pub(crate) struct JwtVerifier {
    keys: Vec<PreparedKey>,
    /// Whether any key has a `kid` (a JWKS), so that a token's `kid` selects keys.
    keys_have_ids: bool,
    issuer: Option<String>,
    audience: Option<String>,
}

/// A key with the validation that goes with it.
struct PreparedKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    /// Prepares every key of `config` with its validation rules.
    pub(crate) fn new(config: &JwtConfig) -> Self {
        let keys = config
            .keys
            .iter()
            .map(|key| {
                let mut validation = Validation::new(key.algorithm);
                validation.leeway = config.leeway.as_secs();
                validation.validate_exp = true;
                validation.validate_nbf = true;
                validation.validate_aud = true;
                let mut required = vec!["exp"];
                if let Some(issuer) = &config.issuer {
                    validation.set_issuer(&[issuer]);
                    required.push("iss");
                }
                if let Some(audience) = &config.audience {
                    validation.set_audience(&[audience]);
                    required.push("aud");
                }
                validation.set_required_spec_claims(&required);
                PreparedKey {
                    kid: key.kid.clone(),
                    algorithm: key.algorithm,
                    key: key.key.clone(),
                    validation,
                }
            })
            .collect::<Vec<_>>();
        Self {
            keys_have_ids: keys.iter().any(|k| k.kid.is_some()),
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        }
    }

    /// The principal a JWT stands for, or 401 saying why it does not.
    pub(crate) fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            unauthorized(
                "the JWT's header does not decode, or names an algorithm hookd does not know",
            )
        })?;
        let mut candidates: Vec<&PreparedKey> = self.keys.iter().collect();
        let by_kid = match &header.kid {
            Some(kid) if self.keys_have_ids => {
                candidates.retain(|k| k.kid.as_deref() == Some(kid.as_str()));
                if candidates.is_empty() {
                    return Err(unauthorized(
                        "the JWT's key id (kid) names no key of the configured JWKS",
                    ));
                }
                true
            }
            _ => false,
        };
        let mut accepted: Vec<String> = candidates
            .iter()
            .map(|k| format!("{:?}", k.algorithm))
            .collect();
        candidates.retain(|k| k.algorithm == header.alg);
        if candidates.is_empty() {
            accepted.sort();
            accepted.dedup();
            let accepted = accepted.join(", ");
            return Err(unauthorized(if by_kid {
                format!(
                    "the JWT is signed with {:?}, but the key its kid names verifies {accepted}",
                    header.alg
                )
            } else {
                format!(
                    "the JWT is signed with {:?}; this gateway accepts {accepted}",
                    header.alg
                )
            }));
        }
        let mut last = ErrorKind::InvalidSignature;
        for key in candidates {
            match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                token,
                &key.key,
                &key.validation,
            ) {
                Ok(data) => return principal_from_claims(&data.claims),
                Err(error) => match error.into_kind() {
                    // Another key of the set may be the one.
                    ErrorKind::InvalidSignature => {}
                    kind => {
                        last = kind;
                        break;
                    }
                },
            }
        }
        Err(unauthorized(self.describe(&last)))
    }

    /// Says what a verification failure means for the caller.
    fn describe(&self, kind: &ErrorKind) -> String {
        match kind {
            ErrorKind::InvalidSignature => "the JWT's signature does not verify".to_owned(),
            ErrorKind::ExpiredSignature => "the JWT has expired (exp)".to_owned(),
            ErrorKind::ImmatureSignature => "the JWT is not valid yet (nbf)".to_owned(),
            ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                "exp" => "the JWT has no expiry: an exp claim (a number) is required".to_owned(),
                "iss" => "the JWT has no issuer: an iss claim is required".to_owned(),
                "aud" => "the JWT has no audience: an aud claim is required".to_owned(),
                other => format!("the JWT lacks the {other} claim"),
            },
            ErrorKind::InvalidIssuer => match &self.issuer {
                Some(issuer) => format!("the JWT's issuer (iss) is not {issuer:?}"),
                None => "the JWT's issuer (iss) is not accepted".to_owned(),
            },
            ErrorKind::InvalidAudience => match &self.audience {
                Some(audience) => format!("the JWT's audience (aud) is not {audience:?}"),
                None => "the JWT names an audience (aud), but this gateway has none \
                         configured (api.jwt_audience), so the token is meant for someone else"
                    .to_owned(),
            },
            ErrorKind::InvalidAlgorithm => {
                "the JWT's algorithm does not fit the configured key".to_owned()
            }
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => {
                "the JWT is not well formed: its parts must be base64url JSON".to_owned()
            }
            _ => "the JWT is not valid".to_owned(),
        }
    }
}

/// The principal of verified claims: `tenant` and `scope` must be there and valid.
fn principal_from_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<Principal, ApiError> {
    let tenant = match claims.get("tenant") {
        None => return Err(unauthorized("the JWT has no tenant claim")),
        Some(serde_json::Value::String(tenant)) if tenant_problem(tenant).is_none() => {
            tenant.clone()
        }
        Some(_) => {
            return Err(unauthorized(
                "the JWT's tenant claim is not a tenant name (a string without spaces) or `*`",
            ));
        }
    };
    let scope = match claims.get("scope") {
        None => {
            return Err(unauthorized(
                "the JWT has no scope claim (read, write or admin)",
            ));
        }
        Some(serde_json::Value::String(scope)) => Scope::parse(scope).ok_or_else(|| {
            unauthorized("the JWT's scope claim is unknown: it must be read, write or admin")
        })?,
        Some(_) => {
            return Err(unauthorized(
                "the JWT's scope claim must be a string: read, write or admin",
            ));
        }
    };
    let actor = match claims.get("sub") {
        Some(serde_json::Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => "jwt".to_owned(),
    };
    Ok(Principal {
        tenant,
        scope,
        actor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_prefixed_random_and_stored_only_as_their_hash() {
        let a = mint_api_key("acme", Scope::Write, Some("ci".to_owned()), 1_000);
        let b = mint_api_key("acme", Scope::Write, None, 1_000);
        assert!(a.token.starts_with("hkd_"));
        assert_eq!(a.token.len(), API_KEY_PREFIX.len() + API_KEY_RANDOM_CHARS);
        assert!(a.token[4..].bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.token, b.token);
        assert_eq!(a.stored.token_hash, hash_token(&a.token));
        assert!(!a.stored.token_hash.contains(&a.token[4..]));
        assert!(a.stored.key.id.starts_with("key_"));
        assert_eq!(a.stored.key.scope, "write");
        assert_eq!(a.stored.key.tenant, "acme");
        assert_eq!(a.stored.key.created_at, 1_000);
        assert_eq!(a.stored.key.revoked_at, None);
    }

    #[test]
    fn a_token_is_a_jwt_when_it_has_three_base64url_parts() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(looks_like_jwt("eyJh.eyJz."));
        assert!(!looks_like_jwt("hkd_abc"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt(".b.c"));
        assert!(!looks_like_jwt("a+.b.c"));
    }

    #[test]
    fn tenants_are_checked() {
        assert_eq!(tenant_problem("acme"), None);
        assert_eq!(tenant_problem("*"), None);
        assert!(tenant_problem("").is_some());
        assert!(tenant_problem("a b").is_some());
        assert!(tenant_problem("ac*me").is_some());
        assert!(tenant_problem(&"x".repeat(TENANT_MAX_CHARS + 1)).is_some());
    }
}
