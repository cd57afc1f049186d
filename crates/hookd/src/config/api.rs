//! Second stage for `[api]`: the JWT settings → [`ApiConfig`], every key parsed now so a
//! bad PEM, an unreadable JWKS file or settings that contradict each other are named by
//! `hookd config check` with their key path, and the API never parses a key per request.
//!
//! Exactly one source of keys may be set: `jwt_hs256_secret`, `jwt_public_key` or
//! `jwks_file`. Without any, JWTs are refused and only API keys authenticate.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::check::Checker;
use super::raw::RawApi;
use super::{ApiConfig, JwtConfig, JwtKey};

/// `api.jwt_leeway` when not set.
pub(crate) const JWT_LEEWAY_DEFAULT: Duration = Duration::from_secs(60);

/// The shortest `api.jwt_hs256_secret`, in bytes: RFC 7518 §3.2 asks for a key at least
/// as long as the hash.
pub(crate) const HS256_SECRET_MIN_BYTES: usize = 32;

/// The DER length below which an RSA public key has fewer than 2048 bits (a 2048-bit key
/// is 270 bytes as PKCS#1, 294 as SPKI); `ring` refuses to verify with such keys, so every
/// token would fail.
const RSA_2048_DER_MIN: usize = 250;

/// The algorithms `api.jwt_algorithm` may name.
const PUBLIC_KEY_ALGORITHMS: &str = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA";

/// DER of the OID of the P-256 curve (1.2.840.10045.3.1.7).
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the OID of the P-384 curve (1.3.132.0.34).
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// The kind of a public key, as far as choosing its algorithm goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
    /// A shared secret (`oct` in a JWKS).
    Secret,
}

impl KeyKind {
    /// The algorithm a key of this kind means when none is named.
    fn usual_algorithm(self) -> Algorithm {
        match self {
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::P256 => Algorithm::ES256,
            KeyKind::P384 => Algorithm::ES384,
            KeyKind::Ed25519 => Algorithm::EdDSA,
            KeyKind::Secret => Algorithm::HS256,
        }
    }

    /// Whether `algorithm` verifies with a key of this kind.
    fn fits(self, algorithm: Algorithm) -> bool {
        use Algorithm as A;
        match self {
            KeyKind::Rsa => matches!(
                algorithm,
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
            ),
            KeyKind::P256 => algorithm == A::ES256,
            KeyKind::P384 => algorithm == A::ES384,
            KeyKind::Ed25519 => algorithm == A::EdDSA,
            KeyKind::Secret => matches!(algorithm, A::HS256 | A::HS384 | A::HS512),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyKind::Rsa => "an RSA key",
            KeyKind::P256 => "an EC P-256 key",
            KeyKind::P384 => "an EC P-384 key",
            KeyKind::Ed25519 => "an Ed25519 key",
            KeyKind::Secret => "a shared secret",
        }
    }
}

/// Checks `[api]`; `None` when it has errors (already reported to `cx`).
pub(super) fn build_api(raw: &RawApi, cx: &mut Checker) -> Option<ApiConfig> {
    let errors = cx.error_count();

    let set: Vec<&str> = [
        ("jwt_hs256_secret", raw.jwt_hs256_secret.is_some()),
        ("jwt_public_key", raw.jwt_public_key.is_some()),
        ("jwks_file", raw.jwks_file.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, is_set)| is_set.then_some(key))
    .collect();
    if set.len() > 1 {
        cx.error(
            "api",
            format!(
                "{} are {} set; set only one of jwt_hs256_secret, jwt_public_key and jwks_file",
                set.join(" and "),
                if set.len() == 2 { "both" } else { "all" }
            ),
        );
    }

    let mut keys = Vec::new();
    if let Some(secret) = &raw.jwt_hs256_secret {
        keys.extend(hs256_secret(cx, secret));
    }
    if let Some(pem) = &raw.jwt_public_key {
        keys.extend(public_key(cx, pem, raw.jwt_algorithm.as_deref()));
    } else if raw.jwt_algorithm.is_some() {
        cx.error(
            "api.jwt_algorithm",
            "only used with jwt_public_key (an HS256 secret is always HS256, and each JWKS key \
             names its own alg)",
        );
    }
    if let Some(path) = &raw.jwks_file {
        keys.extend(jwks_file(cx, path));
    }

    let issuer = non_empty(cx, "api.jwt_issuer", raw.jwt_issuer.as_ref());
    let audience = non_empty(cx, "api.jwt_audience", raw.jwt_audience.as_ref());
    let leeway = raw.jwt_leeway.map_or(JWT_LEEWAY_DEFAULT, |d| d.0);

    if set.is_empty() {
        for (key, is_set) in [
            ("jwt_issuer", raw.jwt_issuer.is_some()),
            ("jwt_audience", raw.jwt_audience.is_some()),
            ("jwt_leeway", raw.jwt_leeway.is_some()),
        ] {
            if is_set {
                cx.warning(
                    format!("api.{key}"),
                    "has no effect: no JWT key is configured (jwt_hs256_secret, \
                     jwt_public_key or jwks_file), so JWTs are refused",
                );
            }
        }
    }

    if cx.error_count() != errors {
        return None;
    }
    let jwt = (!keys.is_empty()).then_some(JwtConfig {
        keys,
        issuer,
        audience,
        leeway,
    });
    Some(ApiConfig { jwt })
}

fn non_empty(cx: &mut Checker, path: &str, value: Option<&String>) -> Option<String> {
    let value = value?;
    if value.trim().is_empty() {
        cx.error(path, "must not be empty; leave it out to skip the check");
    }
    Some(value.clone())
}

/// `api.jwt_hs256_secret`.
fn hs256_secret(cx: &mut Checker, secret: &str) -> Option<JwtKey> {
    if secret.len() < HS256_SECRET_MIN_BYTES {
        cx.error(
            "api.jwt_hs256_secret",
            format!(
                "too short: {} bytes; an HS256 secret needs at least {HS256_SECRET_MIN_BYTES} \
                 (RFC 7518 §3.2), e.g. the output of `openssl rand -base64 48`",
                secret.len()
            ),
        );
        return None;
    }
    Some(JwtKey {
        kid: None,
        algorithm: Algorithm::HS256,
        key: DecodingKey::from_secret(secret.as_bytes()),
    })
}

/// `api.jwt_public_key`, with `api.jwt_algorithm` when given.
fn public_key(cx: &mut Checker, pem: &str, algorithm: Option<&str>) -> Option<JwtKey> {
    const PATH: &str = "api.jwt_public_key";
    let named = match algorithm {
        None => None,
        Some(name) => match name.parse::<Algorithm>() {
            Ok(a) if !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) => {
                Some(a)
            }
            Ok(_) => {
                cx.error(
                    "api.jwt_algorithm",
                    format!(
                        "{name} needs a shared secret, not a public key: use jwt_hs256_secret \
                         instead; with a public key: {PUBLIC_KEY_ALGORITHMS}"
                    ),
                );
                return None;
            }
            Err(_) => {
                cx.error(
                    "api.jwt_algorithm",
                    format!("unknown algorithm {name:?}; known: {PUBLIC_KEY_ALGORITHMS}"),
                );
                return None;
            }
        },
    };

    let (kind, key) = match parse_public_pem(pem) {
        Ok(parsed) => parsed,
        Err(message) => {
            cx.error(PATH, message);
            return None;
        }
    };
    let algorithm = named.unwrap_or_else(|| kind.usual_algorithm());
    if !kind.fits(algorithm) {
        cx.error(
            "api.jwt_algorithm",
            format!(
                "{algorithm:?} does not fit jwt_public_key, which is {}; it fits {:?}",
                kind.describe(),
                kind.usual_algorithm()
            ),
        );
        return None;
    }
    Some(JwtKey {
        kid: None,
        algorithm,
        key,
    })
}

/// A PEM public key: its kind and the key to verify with, or why it is not one.
fn parse_public_pem(pem: &str) -> Result<(KeyKind, DecodingKey), String> {
    let text = pem.trim();
    let label = text
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.split_once("-----"))
        .map(|(label, _)| label)
        .ok_or_else(|| {
            "not PEM: expected the public key as text starting with -----BEGIN PUBLIC KEY-----"
                .to_owned()
        })?;
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        l if l.contains("PRIVATE KEY") => {
            return Err(format!(
                "this is a private key ({l}); give its public key instead \
                 (openssl pkey -in key.pem -pubout), and keep the private key secret"
            ));
        }
        "CERTIFICATE" => {
            return Err("this is a certificate; give its public key instead \
                        (openssl x509 -in cert.pem -pubkey -noout)"
                .to_owned());
        }
        other => {
            return Err(format!(
                "a PEM {other:?}, not a public key; expected -----BEGIN PUBLIC KEY-----"
            ));
        }
    }
    let der = pem_body(text).ok_or_else(|| {
        "not valid PEM: the base64 between BEGIN and END does not decode".to_owned()
    })?;

    let not_a_key = || {
        "not a public key hookd can use: expected an RSA, EC (P-256 or P-384) or Ed25519 public \
         key"
        .to_owned()
    };
    if let Ok(key) = DecodingKey::from_rsa_pem(text.as_bytes()) {
        if der.len() < RSA_2048_DER_MIN {
            return Err(
                "an RSA key shorter than 2048 bits; such keys are refused, use at \
                        least 2048 bits"
                    .to_owned(),
            );
        }
        return Ok((KeyKind::Rsa, key));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(text.as_bytes()) {
        let kind = if contains(&der, OID_P256) {
            KeyKind::P256
        } else if contains(&der, OID_P384) {
            KeyKind::P384
        } else {
            return Err(
                "an EC key on a curve hookd cannot verify with; use P-256 (ES256) or \
                 P-384 (ES384)"
                    .to_owned(),
            );
        };
        return Ok((kind, key));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(text.as_bytes()) {
        return Ok((KeyKind::Ed25519, key));
    }
    Err(not_a_key())
}

/// The DER inside a PEM text, `None` when the base64 does not decode.
fn pem_body(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----") && !line.contains(':'))
        .collect();
    STANDARD.decode(body).ok()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `api.jwks_file`: every signing key of the set; keys meant for encryption are skipped.
fn jwks_file(cx: &mut Checker, path: &str) -> Vec<JwtKey> {
    const PATH: &str = "api.jwks_file";
    if path.trim().is_empty() {
        cx.error(PATH, "must not be empty");
        return Vec::new();
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            cx.error(PATH, format!("cannot read {path:?}: {e}"));
            return Vec::new();
        }
    };
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = match serde_json::from_str(&text) {
        Ok(set) => set,
        Err(e) => {
            cx.error(
                PATH,
                format!("{path:?} is not a JSON Web Key Set ({{\"keys\": [...]}}): {e}"),
            );
            return Vec::new();
        }
    };

    let mut keys = Vec::new();
    let mut problems = false;
    for (i, value) in set.keys.into_iter().enumerate() {
        match jwks_key(value) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(message) => {
                problems = true;
                cx.error(PATH, format!("{path:?}: keys[{i}]: {message}"));
            }
        }
    }
    if keys.is_empty() && !problems {
        cx.error(
            PATH,
            format!("{path:?} holds no signing key, so no JWT could be verified"),
        );
    }
    keys
}

/// One key of a JWKS: `None` for a key not meant for signatures.
fn jwks_key(value: serde_json::Value) -> Result<Option<JwtKey>, String> {
    // Keys for encryption may name algorithms or types hookd does not read; skip them
    // before parsing.
    if value.get("use").and_then(serde_json::Value::as_str) == Some("enc") {
        return Ok(None);
    }
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| {
        format!("not a key hookd can use (RSA, EC P-256/P-384, OKP Ed25519 or oct): {e}")
    })?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Ok(None);
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            ref other => return Err(format!("an EC key on {other:?}; use P-256 or P-384")),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => KeyKind::Ed25519,
            ref other => return Err(format!("an OKP key on {other:?}; use Ed25519")),
        },
        AlgorithmParameters::OctetKey(_) => KeyKind::Secret,
    };
    let algorithm = match jwk.common.key_algorithm {
        None => kind.usual_algorithm(),
        Some(named) => match named.to_string().parse::<Algorithm>() {
            Ok(algorithm) => algorithm,
            // RSA1_5, RSA-OAEP…: an encryption key without `use`.
            Err(_) => return Ok(None),
        },
    };
    if !kind.fits(algorithm) {
        return Err(format!(
            "alg {algorithm:?} does not fit the key, which is {}",
            kind.describe()
        ));
    }
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| format!("the key's parameters do not decode: {e}"))?;
    Ok(Some(JwtKey {
        kid: jwk.common.key_id,
        algorithm,
        key,
    }))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;

    use crate::config::{Config, load_str};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/api/fixtures");
    const RSA_PUBLIC: &str = include_str!("../../tests/it/api/fixtures/rsa-public.pem");
    const RSA_PRIVATE: &str = include_str!("../../tests/it/api/fixtures/rsa-private.pem");
    const RSA_1024_PUBLIC: &str = include_str!("../../tests/it/api/fixtures/rsa-1024-public.pem");
    const P256_PUBLIC: &str = include_str!("../../tests/it/api/fixtures/ec-p256-public.pem");
    const P384_PUBLIC: &str = include_str!("../../tests/it/api/fixtures/ec-p384-public.pem");
    const ED25519_PUBLIC: &str = include_str!("../../tests/it/api/fixtures/ed25519-public.pem");
    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn ok(text: &str) -> (Config, Vec<String>) {
        match load_str(text, Vec::<(String, String)>::new()) {
            Ok((config, warnings)) => (config, warnings.iter().map(ToString::to_string).collect()),
            Err(problems) => panic!(
                "expected success, got:\n{}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    fn problems(text: &str) -> Vec<String> {
        match load_str(text, Vec::<(String, String)>::new()) {
            Ok(_) => panic!("expected problems, the configuration loaded:\n{text}"),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }

    fn algorithms(config: &Config) -> Vec<Algorithm> {
        let jwt = config.api.jwt.as_ref().expect("JWTs are configured");
        jwt.keys.iter().map(|k| k.algorithm).collect()
    }

    fn with_public_key(pem: &str, extra: &str) -> String {
        format!("[api]\njwt_public_key = \"\"\"\n{pem}\"\"\"\n{extra}\n")
    }

    #[test]
    fn without_an_api_section_only_api_keys_authenticate() {
        let (config, warnings) = ok("");
        assert!(warnings.is_empty());
        assert!(config.api.jwt.is_none());
        let (config, _) = ok("[api]\n");
        assert!(config.api.jwt.is_none());
    }

    #[test]
    fn an_hs256_secret_gives_one_hs256_key_with_the_configured_claims() {
        let (config, warnings) = ok(&format!(
            "[api]\njwt_hs256_secret = \"{SECRET}\"\njwt_issuer = \"https://auth.example\"\n\
             jwt_audience = \"hookd\"\njwt_leeway = \"5s\"\n"
        ));
        assert!(warnings.is_empty(), "{warnings:?}");
        let jwt = config.api.jwt.as_ref().expect("JWTs are configured");
        assert_eq!(algorithms(&config), [Algorithm::HS256]);
        assert_eq!(jwt.issuer.as_deref(), Some("https://auth.example"));
        assert_eq!(jwt.audience.as_deref(), Some("hookd"));
        assert_eq!(jwt.leeway, std::time::Duration::from_secs(5));
        assert!(
            !format!("{jwt:?}").contains(SECRET),
            "the secret stays out of Debug"
        );
    }

    #[test]
    fn the_leeway_defaults_to_a_minute() {
        let (config, _) = ok(&format!("[api]\njwt_hs256_secret = \"{SECRET}\"\n"));
        let jwt = config.api.jwt.expect("JWTs are configured");
        assert_eq!(jwt.leeway, super::JWT_LEEWAY_DEFAULT);
        assert_eq!(jwt.issuer, None);
        assert_eq!(jwt.audience, None);
    }

    #[test]
    fn a_short_hs256_secret_is_refused() {
        let got = problems("[api]\njwt_hs256_secret = \"short\"\n");
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(
            got[0].starts_with("error: api.jwt_hs256_secret: too short: 5 bytes"),
            "{got:#?}"
        );
    }

    #[test]
    fn a_public_key_picks_its_usual_algorithm() {
        for (pem, algorithm) in [
            (RSA_PUBLIC, Algorithm::RS256),
            (P256_PUBLIC, Algorithm::ES256),
            (P384_PUBLIC, Algorithm::ES384),
            (ED25519_PUBLIC, Algorithm::EdDSA),
        ] {
            let (config, _) = ok(&with_public_key(pem, ""));
            assert_eq!(algorithms(&config), [algorithm]);
        }
    }

    #[test]
    fn jwt_algorithm_names_another_algorithm_that_fits_the_key() {
        let (config, _) = ok(&with_public_key(RSA_PUBLIC, "jwt_algorithm = \"PS384\""));
        assert_eq!(algorithms(&config), [Algorithm::PS384]);
    }

    #[test]
    fn jwt_algorithm_must_fit_the_key_and_be_a_public_key_algorithm() {
        let got = problems(&with_public_key(RSA_PUBLIC, "jwt_algorithm = \"ES256\""));
        assert_eq!(
            got,
            [
                "error: api.jwt_algorithm: ES256 does not fit jwt_public_key, which is an RSA key; \
              it fits RS256"
            ]
        );
        let got = problems(&with_public_key(P384_PUBLIC, "jwt_algorithm = \"ES256\""));
        assert!(
            got[0].contains("an EC P-384 key; it fits ES384"),
            "{got:#?}"
        );
        let got = problems(&with_public_key(RSA_PUBLIC, "jwt_algorithm = \"HS256\""));
        assert!(
            got[0].starts_with("error: api.jwt_algorithm: HS256 needs a shared secret"),
            "{got:#?}"
        );
        let got = problems(&with_public_key(RSA_PUBLIC, "jwt_algorithm = \"none\""));
        assert!(
            got[0].starts_with("error: api.jwt_algorithm: unknown algorithm \"none\""),
            "{got:#?}"
        );
        let got = problems(&format!(
            "[api]\njwt_hs256_secret = \"{SECRET}\"\njwt_algorithm = \"RS256\"\n"
        ));
        assert!(
            got[0].starts_with("error: api.jwt_algorithm: only used with jwt_public_key"),
            "{got:#?}"
        );
    }

    #[test]
    fn a_bad_pem_is_named_with_what_is_wrong() {
        let cases = [
            ("not a key at all\n", "not PEM"),
            (RSA_PRIVATE, "this is a private key"),
            (RSA_1024_PUBLIC, "shorter than 2048 bits"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "this is a certificate",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
                "does not decode",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
                "not a public key hookd can use",
            ),
        ];
        for (pem, expected) in cases {
            let got = problems(&with_public_key(pem, ""));
            assert_eq!(got.len(), 1, "{got:#?}");
            assert!(
                got[0].starts_with("error: api.jwt_public_key: ") && got[0].contains(expected),
                "{expected:?} not in {got:#?}"
            );
        }
    }

    #[test]
    fn a_jwks_file_gives_its_signing_keys_and_skips_encryption_keys() {
        let (config, warnings) = ok(&format!("[api]\njwks_file = \"{FIXTURES}/jwks.json\"\n"));
        assert!(warnings.is_empty(), "{warnings:?}");
        let jwt = config.api.jwt.expect("JWTs are configured");
        let keys: Vec<(Option<&str>, Algorithm)> = jwt
            .keys
            .iter()
            .map(|k| (k.kid.as_deref(), k.algorithm))
            .collect();
        assert_eq!(
            keys,
            [
                (Some("rsa-1"), Algorithm::RS256),
                (Some("ec-1"), Algorithm::ES256)
            ]
        );
    }

    #[test]
    fn an_unreadable_or_broken_jwks_file_is_named() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let missing = dir.path().join("missing.json");
        let got = problems(&format!(
            "[api]\njwks_file = {:?}\n",
            missing.display().to_string()
        ));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(
            got[0].starts_with("error: api.jwks_file: cannot read"),
            "{got:#?}"
        );

        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("writing a JWKS");
            format!("[api]\njwks_file = {:?}\n", path.display().to_string())
        };
        let got = problems(&write("broken.json", "{\"keys\": ["));
        assert!(got[0].contains("is not a JSON Web Key Set"), "{got:#?}");

        let got = problems(&write("empty.json", "{\"keys\": []}"));
        assert!(got[0].contains("holds no signing key"), "{got:#?}");

        let got = problems(&write(
            "mixed.json",
            r#"{"keys": [
                {"kty": "EC", "crv": "P-256", "alg": "RS256", "x": "AA", "y": "AA"},
                {"kty": "XYZ"},
                {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}
            ]}"#,
        ));
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].contains("keys[0]: alg RS256 does not fit the key, which is an EC P-256 key"),
            "{got:#?}"
        );
        assert!(
            got[1].contains("keys[1]: not a key hookd can use"),
            "{got:#?}"
        );
    }

    #[test]
    fn only_one_source_of_keys_may_be_set() {
        let got = problems(&format!(
            "[api]\njwt_hs256_secret = \"{SECRET}\"\njwks_file = \"{FIXTURES}/jwks.json\"\n"
        ));
        assert_eq!(
            got,
            [
                "error: api: jwt_hs256_secret and jwks_file are both set; set only one of \
              jwt_hs256_secret, jwt_public_key and jwks_file"
            ]
        );
    }

    #[test]
    fn every_problem_of_the_section_is_reported_at_once() {
        let got = problems(
            "[api]\njwt_public_key = \"nope\"\njwt_algorithm = \"XY\"\njwt_hs256_secret = \"s\"\n\
             jwt_issuer = \"\"\njwt_leeway = 5\njwt_audiance = \"hookd\"\n",
        );
        let paths: Vec<&str> = got
            .iter()
            .map(|p| p.split(": ").nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            paths,
            [
                "api.jwt_leeway",
                "api.jwt_audiance",
                "api",
                "api.jwt_hs256_secret",
                "api.jwt_algorithm",
                "api.jwt_issuer",
            ],
            "{got:#?}"
        );
        assert!(got[1].contains("did you mean `jwt_audience`?"), "{got:#?}");
    }

    #[test]
    fn claim_checks_without_a_key_are_warned_about() {
        let (config, warnings) = ok("[api]\njwt_issuer = \"https://auth.example\"\n");
        assert!(config.api.jwt.is_none());
        assert_eq!(
            warnings,
            [
                "warning: api.jwt_issuer: has no effect: no JWT key is configured \
              (jwt_hs256_secret, jwt_public_key or jwks_file), so JWTs are refused"
            ]
        );
    }

    #[test]
    fn hookd_variables_reach_the_api_section() {
        let vars = vec![("HOOKD_API__JWT_HS256_SECRET".to_owned(), SECRET.to_owned())];
        let (config, _) = load_str("", vars).expect("the configuration loads");
        assert!(config.api.jwt.is_some());
        let vars = vec![("HOOKD_API__JWT_HS256_SECRET".to_owned(), "short".to_owned())];
        let Err(got) = load_str("", vars) else {
            panic!("a short secret is refused");
        };
        assert!(
            got[0]
                .to_string()
                .ends_with("(set by HOOKD_API__JWT_HS256_SECRET)"),
            "{got:#?}"
        );
    }
}
