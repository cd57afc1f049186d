//! The `preset` of a source and the keys each preset takes: second stage of
//! configuration loading for `[sources.NAME]`.
//!
//! `generic-hmac` is configured key by key (header, encoding, prefix, timestamp,
//! template). A provider preset knows its scheme and needs only its secrets or keys, plus
//! `tolerance` where the scheme carries a timestamp, `verify_token` for Meta's handshake
//! and `public_url` for Twilio; a key that the preset decides itself is an error, so a
//! copy-pasted `signature_header` never silently does nothing.

use hookd_signature::Encoding;
use hookd_signature::highlevel::{self, Ed25519Key, RsaKey};
use hookd_signature::standard_webhooks::Secret;

use super::check::{
    Checker, ENCODING_DEFAULT, SIGNED_PAYLOAD_DEFAULT, TOLERANCE_DEFAULT, header_name, key_path,
    positive,
};
use super::raw::RawSource;
use super::{
    GenericHmac, HighLevelPreset, MetaPreset, PayloadPart, SecretsPreset, StandardWebhooksPreset,
    TimedPreset, TwilioPreset, Verifier,
};

/// Every preset, as written in `preset = "…"`.
pub(crate) const KNOWN_PRESETS: [&str; 10] = [
    "generic-hmac",
    "standard-webhooks",
    "github",
    "meta",
    "stripe",
    "shopify",
    "slack",
    "twilio",
    "highlevel",
    "softpro",
];

/// Keys of `[sources.NAME]` that only some presets take, and which ones.
const PRESET_KEYS: [(&str, &[&str]); 11] = [
    ("signature_header", &["generic-hmac"]),
    ("encoding", &["generic-hmac"]),
    ("prefix", &["generic-hmac"]),
    ("timestamp_header", &["generic-hmac"]),
    ("signed_payload", &["generic-hmac"]),
    ("event_type", &["generic-hmac"]),
    ("event_id", &["generic-hmac"]),
    ("format", &["generic-hmac"]),
    (
        "tolerance",
        &[
            "generic-hmac",
            "standard-webhooks",
            "stripe",
            "slack",
            "softpro",
        ],
    ),
    ("verify_token", &["meta"]),
    ("public_url", &["twilio"]),
];

/// Builds the verifier of the source at `path`, reporting every key the preset does not
/// take and every problem of the keys it does.
pub(super) fn build(
    cx: &mut Checker,
    path: &str,
    preset: &str,
    raw: &RawSource,
) -> Option<Verifier> {
    let at = |key: &str| key_path(path, key);
    if !KNOWN_PRESETS.contains(&preset) {
        cx.error(
            at("preset"),
            format!(
                "unknown preset {preset:?}; known: {}",
                KNOWN_PRESETS.join(", ")
            ),
        );
        return None;
    }
    for (key, presets) in PRESET_KEYS {
        if is_set(raw, key) && !presets.contains(&preset) {
            cx.error(
                at(key),
                format!(
                    "preset {preset:?} does not take this key: it knows its own scheme \
                     (taken by: {})",
                    presets.join(", ")
                ),
            );
        }
    }
    let uses_keys = preset == "highlevel";
    for key in ["public_key_ed25519", "public_key_rsa"] {
        if is_set(raw, key) && !uses_keys {
            cx.error(
                at(key),
                format!("preset {preset:?} does not take this key (taken by: highlevel)"),
            );
        }
    }
    if uses_keys && raw.secrets.is_some() {
        cx.error(
            at("secrets"),
            "preset \"highlevel\" verifies with public keys (public_key_ed25519, \
             public_key_rsa), not secrets",
        );
    }

    let errors = cx.error_count();
    let tolerance = || TOLERANCE_DEFAULT;
    let verifier = match preset {
        "generic-hmac" => {
            generic_hmac(cx, path, raw, raw.event_id.is_some()).map(Verifier::GenericHmac)
        }
        "standard-webhooks" => {
            let secrets = secrets(cx, path, raw)
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match Secret::parse(s) {
                    Ok(secret) => Some(secret),
                    Err(e) => {
                        cx.error(
                            format!("{}[{i}]", at("secrets")),
                            format!("not a Standard Webhooks secret: {e}"),
                        );
                        None
                    }
                })
                .collect();
            let tolerance = positive(cx, &at("tolerance"), raw.tolerance, tolerance());
            Some(Verifier::StandardWebhooks(StandardWebhooksPreset {
                secrets,
                tolerance,
            }))
        }
        "github" => Some(Verifier::Github(SecretsPreset {
            secrets: secrets(cx, path, raw),
        })),
        "shopify" => Some(Verifier::Shopify(SecretsPreset {
            secrets: secrets(cx, path, raw),
        })),
        "stripe" | "slack" | "softpro" => {
            let timed = TimedPreset {
                secrets: secrets(cx, path, raw),
                tolerance: positive(cx, &at("tolerance"), raw.tolerance, tolerance()),
            };
            Some(match preset {
                "stripe" => Verifier::Stripe(timed),
                "slack" => Verifier::Slack(timed),
                _ => Verifier::SoftPro(timed),
            })
        }
        "meta" => Some(Verifier::Meta(MetaPreset {
            secrets: secrets(cx, path, raw),
            verify_token: raw.verify_token.clone().filter(|t| !t.is_empty()),
        })),
        "twilio" => {
            let secrets = secrets(cx, path, raw);
            match raw.public_url.as_deref().map(reqwest::Url::parse) {
                None => {
                    cx.error(
                        at("public_url"),
                        "required: the URL Twilio calls, which its signature covers",
                    );
                    None
                }
                Some(Err(e)) => {
                    cx.error(at("public_url"), format!("not a URL: {e}"));
                    None
                }
                Some(Ok(public_url)) => Some(Verifier::Twilio(TwilioPreset {
                    secrets,
                    public_url,
                })),
            }
        }
        _ => {
            let ed25519 = keys(
                cx,
                &at("public_key_ed25519"),
                raw.public_key_ed25519.as_ref().map(|k| k.0.as_slice()),
                highlevel::PUBLISHED_ED25519_PEM,
                Ed25519Key::from_pem,
            );
            let rsa = keys(
                cx,
                &at("public_key_rsa"),
                raw.public_key_rsa.as_ref().map(|k| k.0.as_slice()),
                highlevel::PUBLISHED_RSA_PEM,
                RsaKey::from_pem,
            );
            Some(Verifier::HighLevel(HighLevelPreset { ed25519, rsa }))
        }
    };
    verifier.filter(|_| cx.error_count() == errors)
}

/// Whether the optional key `key` of `raw` is given.
fn is_set(raw: &RawSource, key: &str) -> bool {
    match key {
        "signature_header" => raw.signature_header.is_some(),
        "encoding" => raw.encoding.is_some(),
        "prefix" => raw.prefix.is_some(),
        "timestamp_header" => raw.timestamp_header.is_some(),
        "signed_payload" => raw.signed_payload.is_some(),
        "event_type" => raw.event_type.is_some(),
        "event_id" => raw.event_id.is_some(),
        "format" => raw.format.is_some(),
        "tolerance" => raw.tolerance.is_some(),
        "verify_token" => raw.verify_token.is_some(),
        "public_url" => raw.public_url.is_some(),
        "public_key_ed25519" => raw.public_key_ed25519.is_some(),
        "public_key_rsa" => raw.public_key_rsa.is_some(),
        _ => false,
    }
}

/// `secrets`: at least one, none empty.
fn secrets(cx: &mut Checker, path: &str, raw: &RawSource) -> Vec<String> {
    let at = key_path(path, "secrets");
    let secrets = raw.secrets.clone().map(|s| s.0).unwrap_or_default();
    if secrets.is_empty() {
        cx.error(&at, "at least one secret is required");
    }
    for (i, secret) in secrets.iter().enumerate() {
        if secret.is_empty() {
            cx.error(format!("{at}[{i}]"), "a secret must not be empty");
        }
    }
    secrets
}

/// Public keys in PEM: the given ones, or the provider's published one.
fn keys<K>(
    cx: &mut Checker,
    path: &str,
    given: Option<&[String]>,
    published: &str,
    parse: fn(&str) -> Result<K, hookd_signature::SignatureError>,
) -> Vec<K> {
    match given {
        None => parse(published).into_iter().collect(),
        Some([]) => {
            cx.error(path, "at least one key is required when the key is set");
            Vec::new()
        }
        Some(pems) => pems
            .iter()
            .enumerate()
            .filter_map(|(i, pem)| match parse(pem) {
                Ok(key) => Some(key),
                Err(e) => {
                    cx.error(format!("{path}[{i}]"), e.to_string());
                    None
                }
            })
            .collect(),
    }
}

/// The keys of `preset = "generic-hmac"`.
fn generic_hmac(
    cx: &mut Checker,
    path: &str,
    raw: &RawSource,
    has_event_id: bool,
) -> Option<GenericHmac> {
    let errors = cx.error_count();
    let at = |key: &str| key_path(path, key);

    let secrets = secrets(cx, path, raw);

    let signature_header = match &raw.signature_header {
        None => {
            cx.error(
                at("signature_header"),
                "required: the header that carries the signature",
            );
            String::new()
        }
        Some(h) => header_name(cx, &at("signature_header"), h),
    };

    let encoding = match raw.encoding.as_deref() {
        None => ENCODING_DEFAULT,
        Some("hex") => Encoding::Hex,
        Some("base64") => Encoding::Base64,
        Some(other) => {
            cx.error(
                at("encoding"),
                format!("unknown encoding {other:?}; known: hex, base64"),
            );
            ENCODING_DEFAULT
        }
    };

    let prefix = raw.prefix.clone().filter(|p| !p.is_empty());
    let timestamp_header = raw
        .timestamp_header
        .as_ref()
        .map(|h| header_name(cx, &at("timestamp_header"), h));
    let tolerance = positive(cx, &at("tolerance"), raw.tolerance, TOLERANCE_DEFAULT);

    let template = raw
        .signed_payload
        .as_deref()
        .unwrap_or(SIGNED_PAYLOAD_DEFAULT);
    let signed_payload = match parse_signed_payload(template) {
        Ok(parts) => {
            let has = |part: &PayloadPart| parts.contains(part);
            if has(&PayloadPart::Timestamp) && timestamp_header.is_none() {
                cx.error(
                    at("signed_payload"),
                    "uses {timestamp}, but no timestamp_header says where the timestamp is",
                );
            }
            if timestamp_header.is_some() && !has(&PayloadPart::Timestamp) {
                cx.warning(
                    at("timestamp_header"),
                    "signed_payload has no {timestamp}: the timestamp is checked but not \
                     signed, so a captured request can be replayed with a fresh timestamp",
                );
            }
            if has(&PayloadPart::Id) && !has_event_id {
                cx.error(
                    at("signed_payload"),
                    "uses {id}, but no event_id says where the event id is",
                );
            }
            if !has(&PayloadPart::Body) {
                cx.warning(
                    at("signed_payload"),
                    "has no {body}: the body is not signed, so anyone who captured one request \
                     can send any body with its signature",
                );
            }
            parts
        }
        Err(message) => {
            cx.error(at("signed_payload"), message);
            Vec::new()
        }
    };

    (cx.error_count() == errors).then_some(GenericHmac {
        secrets,
        signature_header,
        encoding,
        prefix,
        timestamp_header,
        tolerance,
        signed_payload,
    })
}

/// Parses a `signed_payload` template into its parts.
pub(crate) fn parse_signed_payload(template: &str) -> Result<Vec<PayloadPart>, String> {
    const KNOWN: &str = "known: {body} {timestamp} {id} {header:NAME}";
    if template.is_empty() {
        return Err(format!("must not be empty; {KNOWN}"));
    }
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let position = template.len() - rest.len() + i + 1;
        if rest[i..].starts_with('}') {
            return Err(format!("unbalanced `}}` at character {position}"));
        }
        let after = &rest[i + 1..];
        let Some(end) = after
            .find(['{', '}'])
            .filter(|&e| after[e..].starts_with('}'))
        else {
            return Err(format!(
                "unbalanced `{{` at character {position}: every placeholder needs its `}}`; \
                 {KNOWN}"
            ));
        };
        let name = &after[..end];
        let part = match name {
            "body" => PayloadPart::Body,
            "timestamp" => PayloadPart::Timestamp,
            "id" => PayloadPart::Id,
            _ => match name.strip_prefix("header:") {
                Some(header)
                    if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_ok() =>
                {
                    PayloadPart::Header(header.to_ascii_lowercase())
                }
                Some(header) => {
                    return Err(format!(
                        "{{header:{header}}}: {header:?} is not a valid header name"
                    ));
                }
                None => return Err(format!("unknown placeholder {{{name}}}; {KNOWN}")),
            },
        };
        if !literal.is_empty() {
            parts.push(PayloadPart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(part);
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(PayloadPart::Literal(literal));
    }
    Ok(parts)
}
