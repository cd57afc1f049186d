//! Bearer tokens over real HTTP: API keys (the 401 cases of every key operation live in
//! [`super::keys`]) and JWTs: HS256 with a shared secret, RS256 and ES256 with a PEM
//! public key, a JWKS file; `exp` always required, `iss` and `aud` when configured; every
//! failure a 401 that says why without repeating the token, and the claims `tenant` and
//! `scope` obeyed like an API key's.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::keys::{Api, error};
use crate::support::{TestGateway, api_token, now_secs};

const SECRET: &str = "a-shared-secret-of-at-least-32-bytes!";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/api/fixtures");
const RSA_PRIVATE: &str = include_str!("fixtures/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("fixtures/rsa-public.pem");
const EC_PRIVATE: &str = include_str!("fixtures/ec-p256-private.pem");
const EC_PUBLIC: &str = include_str!("fixtures/ec-p256-public.pem");

/// A gateway configured with `api` (the body of its `[api]` table).
async fn gateway(api: &str) -> (TestGateway, Api) {
    let gw = TestGateway::start(&format!("[api]\n{api}\n")).await;
    let api = Api::new(&gw);
    (gw, api)
}

/// Claims for `tenant` and `scope` that expire in an hour, plus `extra`.
fn claims(tenant: &str, scope: &str, extra: Value) -> Value {
    let mut claims = json!({"tenant": tenant, "scope": scope, "exp": now_secs() + 3600});
    let Value::Object(extra) = extra else {
        panic!("extra claims are an object: {extra}");
    };
    for (k, v) in extra {
        claims[k] = v;
    }
    claims
}

fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing a JWT")
}

fn rs256(claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("the RSA test key");
    jsonwebtoken::encode(&header, claims, &key).expect("signing a JWT")
}

fn es256(claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("the EC test key");
    jsonwebtoken::encode(&header, claims, &key).expect("signing a JWT")
}

/// Asserts that `token` is refused with 401 and exactly `detail`, without echoing it.
async fn refused(api: &Api, token: &str, detail: &str) {
    let answer = api.get("/v1/keys", Some(token)).await;
    assert_eq!(
        error(&answer, StatusCode::UNAUTHORIZED, "unauthorized"),
        detail
    );
    let text = answer.1.to_string();
    for part in token.split('.') {
        assert!(
            part.len() < 8 || !text.contains(part),
            "the answer echoes the token: {text}"
        );
    }
}

/// Asserts that `token` is an admin that `GET /v1/keys` answers.
async fn accepted(api: &Api, token: &str) -> Value {
    let (status, answer) = api.get("/v1/keys", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_authorization_header_is_401() {
    let (gw, _api) = gateway("").await;
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "hkd_abc"] {
        let response = reqwest::Client::builder()
            .build()
            .expect("a client")
            .get(gw.url("/v1/keys"))
            .header("authorization", header)
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            body["error"]["detail"], "the Authorization header must be `Bearer <token>`",
            "{header}"
        );
    }
    // The scheme is case-insensitive.
    let token = api_token(gw.store(), "*", "admin").await;
    let response = reqwest::Client::builder()
        .build()
        .expect("a client")
        .get(gw.url("/v1/keys"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_jwt_keys_a_jwt_is_refused_and_api_keys_still_work() {
    let (gw, api) = gateway("").await;
    refused(
        &api,
        &hs256(&claims("*", "admin", json!({})), SECRET),
        "the token is a JWT, but this gateway accepts none: [api] configures no JWT key \
         (jwt_hs256_secret, jwt_public_key or jwks_file)",
    )
    .await;
    let key = api_token(gw.store(), "*", "admin").await;
    accepted(&api, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hs256_jwt_with_the_configured_secret_authenticates_with_its_tenant_and_scope() {
    let (gw, api) = gateway(&format!("jwt_hs256_secret = {SECRET:?}")).await;
    api_token(gw.store(), "acme", "read").await;
    api_token(gw.store(), "globex", "read").await;

    let answer = accepted(&api, &hs256(&claims("acme", "admin", json!({})), SECRET)).await;
    let tenants: Vec<&Value> = answer["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|key| &key["tenant"])
        .collect();
    assert_eq!(tenants, [&json!("acme")], "only its tenant's keys");
    let all = accepted(&api, &hs256(&claims("*", "admin", json!({})), SECRET)).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));

    // The scope claim is obeyed: read and write are not admin.
    for scope in ["read", "write"] {
        let answer = api
            .get(
                "/v1/keys",
                Some(&hs256(&claims("acme", scope, json!({})), SECRET)),
            )
            .await;
        error(&answer, StatusCode::FORBIDDEN, "forbidden");
    }

    // API keys keep working beside JWTs.
    let key = api_token(gw.store(), "*", "admin").await;
    accepted(&api, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_forged_hs256_jwt_is_401_with_the_reason() {
    let (_gw, api) = gateway(&format!(
        "jwt_hs256_secret = {SECRET:?}\njwt_leeway = \"5s\""
    ))
    .await;
    let expired = claims("*", "admin", json!({"exp": now_secs() - 60}));
    refused(&api, &hs256(&expired, SECRET), "the JWT has expired (exp)").await;

    let good = claims("*", "admin", json!({}));
    refused(
        &api,
        &hs256(&good, "another-secret-of-at-least-32-bytes!!"),
        "the JWT's signature does not verify",
    )
    .await;

    let mut no_exp = good.clone();
    no_exp.as_object_mut().expect("claims").remove("exp");
    refused(
        &api,
        &hs256(&no_exp, SECRET),
        "the JWT has no expiry: an exp claim (a number) is required",
    )
    .await;

    let not_yet = claims("*", "admin", json!({"nbf": now_secs() + 600}));
    refused(
        &api,
        &hs256(&not_yet, SECRET),
        "the JWT is not valid yet (nbf)",
    )
    .await;

    let unknown_scope = claims("*", "superuser", json!({}));
    refused(
        &api,
        &hs256(&unknown_scope, SECRET),
        "the JWT's scope claim is unknown: it must be read, write or admin",
    )
    .await;
    let mut no_tenant = good.clone();
    no_tenant.as_object_mut().expect("claims").remove("tenant");
    refused(
        &api,
        &hs256(&no_tenant, SECRET),
        "the JWT has no tenant claim",
    )
    .await;
    let mut no_scope = good.clone();
    no_scope.as_object_mut().expect("claims").remove("scope");
    refused(
        &api,
        &hs256(&no_scope, SECRET),
        "the JWT has no scope claim (read, write or admin)",
    )
    .await;

    // An audience is refused when none is configured: the token is meant for another.
    let for_someone = claims("*", "admin", json!({"aud": "billing"}));
    refused(
        &api,
        &hs256(&for_someone, SECRET),
        "the JWT names an audience (aud), but this gateway has none configured \
         (api.jwt_audience), so the token is meant for someone else",
    )
    .await;

    // Another algorithm than the configured one is refused before any signature check.
    let hs384 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &good,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signing a JWT");
    refused(
        &api,
        &hs384,
        "the JWT is signed with HS384; this gateway accepts HS256",
    )
    .await;
    // `alg: none` is not an algorithm at all.
    let none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        hs256(&good, SECRET).split('.').nth(1).expect("a payload")
    );
    refused(
        &api,
        &none,
        "the JWT's header does not decode, or names an algorithm hookd does not know",
    )
    .await;
    // Correctly signed, but the payload is not JSON.
    let message = "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24";
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .expect("signing");
    refused(
        &api,
        &format!("{message}.{signature}"),
        "the JWT is not well formed: its parts must be base64url JSON",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_issuer_and_audience_must_both_be_in_the_jwt() {
    let (_gw, api) = gateway(&format!(
        "jwt_hs256_secret = {SECRET:?}\njwt_issuer = \"https://auth.example\"\n\
         jwt_audience = \"hookd\""
    ))
    .await;
    let right = json!({"iss": "https://auth.example", "aud": "hookd"});
    accepted(&api, &hs256(&claims("*", "admin", right), SECRET)).await;
    let among_others = json!({"iss": "https://auth.example", "aud": ["billing", "hookd"]});
    accepted(&api, &hs256(&claims("*", "admin", among_others), SECRET)).await;

    let cases = [
        (
            json!({"iss": "https://auth.example", "aud": "billing"}),
            "the JWT's audience (aud) is not \"hookd\"",
        ),
        (
            json!({"iss": "https://evil.example", "aud": "hookd"}),
            "the JWT's issuer (iss) is not \"https://auth.example\"",
        ),
        (
            json!({"aud": "hookd"}),
            "the JWT has no issuer: an iss claim is required",
        ),
        (
            json!({"iss": "https://auth.example"}),
            "the JWT has no audience: an aud claim is required",
        ),
    ];
    for (extra, detail) in cases {
        refused(&api, &hs256(&claims("*", "admin", extra), SECRET), detail).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rs256_jwt_verifies_with_the_configured_pem_public_key() {
    let (_gw, api) = gateway(&format!("jwt_public_key = \"\"\"\n{RSA_PUBLIC}\"\"\"")).await;
    accepted(&api, &rs256(&claims("*", "admin", json!({})), None)).await;
    let expired = claims("*", "admin", json!({"exp": now_secs() - 3600}));
    refused(&api, &rs256(&expired, None), "the JWT has expired (exp)").await;
    // A token signed by another key type, or by an HMAC secret, is refused.
    refused(
        &api,
        &es256(&claims("*", "admin", json!({})), None),
        "the JWT is signed with ES256; this gateway accepts RS256",
    )
    .await;
    refused(
        &api,
        &hs256(&claims("*", "admin", json!({})), SECRET),
        "the JWT is signed with HS256; this gateway accepts RS256",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_es256_jwt_verifies_with_the_configured_pem_public_key() {
    let (_gw, api) = gateway(&format!("jwt_public_key = \"\"\"\n{EC_PUBLIC}\"\"\"")).await;
    accepted(&api, &es256(&claims("*", "admin", json!({})), None)).await;
    // Signed with the right algorithm by a key that is not the configured one.
    let other = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgis1sje5DTclxnlix
V44UftG5Gzsw2C7ypD4RrzwVgauhRANCAAQ7zPK68pOtKY8LBdYLbiwPSCihkccy
xb/MN9ege5CoXCaaAWdam3RwCKDM7nzMES51AUSN+QFxBFw2517EsGFz
-----END PRIVATE KEY-----
";
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims("*", "admin", json!({})),
        &EncodingKey::from_ec_pem(other.as_bytes()).expect("another EC key"),
    )
    .expect("signing a JWT");
    refused(&api, &forged, "the JWT's signature does not verify").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_file_verifies_by_kid_and_skips_its_encryption_key() {
    let (_gw, api) = gateway(&format!("jwks_file = \"{FIXTURES}/jwks.json\"")).await;
    let admin = claims("*", "admin", json!({}));
    accepted(&api, &rs256(&admin, Some("rsa-1"))).await;
    accepted(&api, &es256(&admin, Some("ec-1"))).await;
    // Without a kid, every key of the token's algorithm is tried.
    accepted(&api, &rs256(&admin, None)).await;

    refused(
        &api,
        &rs256(&admin, Some("rsa-2")),
        "the JWT's key id (kid) names no key of the configured JWKS",
    )
    .await;
    // The encryption key of the set verifies nothing, although it is the same RSA key.
    refused(
        &api,
        &rs256(&admin, Some("enc-1")),
        "the JWT's key id (kid) names no key of the configured JWKS",
    )
    .await;
    refused(
        &api,
        &es256(&admin, Some("rsa-1")),
        "the JWT is signed with ES256, but the key its kid names verifies RS256",
    )
    .await;
    let expired = claims("*", "admin", json!({"exp": now_secs() - 3600}));
    refused(
        &api,
        &es256(&expired, Some("ec-1")),
        "the JWT has expired (exp)",
    )
    .await;
}
