//! Test senders of the shared-secret presets: for each [`Kind`], a genuine delivery
//! signed as the provider signs it (with `hookd-signature`'s primitives and Stripe and
//! Standard Webhooks signers), its signature rewritten into malformed variants, and the
//! header and configuration helpers the tests share.

use hookd_signature::standard_webhooks::Secret;
use hookd_signature::{Encoding, encode_signature, hmac_sha256};
use serde_json::json;

use crate::support::now_secs;
use crate::support::signer::Headers;

/// A shared-secret preset, with a test sender that signs as the provider does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    StandardWebhooks,
    Github,
    Stripe,
    Shopify,
    SoftPro,
}

impl Kind {
    pub(super) const ALL: [Kind; 5] = [
        Kind::StandardWebhooks,
        Kind::Github,
        Kind::Stripe,
        Kind::Shopify,
        Kind::SoftPro,
    ];

    /// The source name this file gives the preset.
    pub(super) fn source(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "sw",
            Kind::Github => "gh",
            Kind::Stripe => "stripe",
            Kind::Shopify => "shopify",
            Kind::SoftPro => "softpro",
        }
    }

    pub(super) fn preset(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "standard-webhooks",
            Kind::Github => "github",
            Kind::Stripe => "stripe",
            Kind::Shopify => "shopify",
            Kind::SoftPro => "softpro",
        }
    }

    /// The secret senders use before a rotation (the fixtures' secret where there is one).
    pub(super) fn old_secret(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Kind::Github => "It's a Secret to Everybody",
            Kind::Stripe => "whsec_test_secret",
            Kind::Shopify => "shopify-client-secret-fixture",
            Kind::SoftPro => "softpro-shared-secret",
        }
    }

    /// The secret senders move to in a rotation.
    pub(super) fn new_secret(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "whsec_aG9va2Qgcm90YXRpb246IHRoZSBuZXcga2V5",
            Kind::Github => "gh-rotated-secret",
            Kind::Stripe => "whsec_test_secret_rolled_key",
            Kind::Shopify => "shopify-rotated-secret",
            Kind::SoftPro => "softpro-rotated-secret",
        }
    }

    /// The header that carries the signature.
    pub(super) fn signature_header(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "webhook-signature",
            Kind::Github => "x-hub-signature-256",
            Kind::Stripe => "stripe-signature",
            Kind::Shopify => "x-shopify-hmac-sha256",
            Kind::SoftPro => "x-softpro-signature",
        }
    }

    /// Whether the scheme rejects a stale or future timestamp.
    pub(super) fn timestamped(self) -> bool {
        matches!(self, Kind::StandardWebhooks | Kind::Stripe | Kind::SoftPro)
    }

    /// The type the preset gives the events of [`Kind::delivery`].
    pub(super) fn event_type(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "invoice.paid",
            Kind::Github => "pull_request.opened",
            Kind::Stripe => "charge.succeeded",
            Kind::Shopify => "orders/create",
            Kind::SoftPro => "transaction.status_changed",
        }
    }

    /// A genuine delivery of the provider's event `id`, signed with `secret` now.
    pub(super) fn delivery(self, secret: &str, id: &str) -> (Vec<u8>, Headers) {
        self.delivery_at(secret, id, now_secs())
    }

    /// A delivery of event `id` whose timestamp (signed, or inside the signed body) is
    /// `at`, correctly signed with `secret`.
    pub(super) fn delivery_at(self, secret: &str, id: &str, at: i64) -> (Vec<u8>, Headers) {
        let json_type = header("content-type", "application/json");
        match self {
            Kind::StandardWebhooks => {
                let body = json!({
                    "type": "invoice.paid",
                    "timestamp": rfc3339(at),
                    "data": {"invoice": id}
                });
                let body = body.to_string().into_bytes();
                let signature = Secret::parse(secret)
                    .expect("a whsec_ secret")
                    .sign(id, at, &body);
                let headers = vec![
                    json_type,
                    header("webhook-id", id),
                    header("webhook-timestamp", &at.to_string()),
                    header("webhook-signature", &signature),
                ];
                (body, headers)
            }
            Kind::Github => {
                let body = json!({"action": "opened", "number": 7, "pull_request": {"id": 1}});
                let body = body.to_string().into_bytes();
                let headers = vec![
                    json_type,
                    header("x-github-event", "pull_request"),
                    header("x-github-delivery", id),
                    header("x-hub-signature-256", &hex_hmac(secret, &body, "sha256=")),
                ];
                (body, headers)
            }
            Kind::Stripe => {
                let body = json!({
                    "id": id,
                    "object": "event",
                    "type": "charge.succeeded",
                    "created": at,
                    "data": {"object": {"id": "ch_1"}}
                });
                let body = body.to_string().into_bytes();
                let signature = hookd_signature::stripe::sign(secret, at, &body);
                (
                    body,
                    vec![json_type, header("stripe-signature", &signature)],
                )
            }
            Kind::Shopify => {
                let body = json!({"id": 820_982_911_946_154_508_u64, "email": "jon@example.com"});
                let body = body.to_string().into_bytes();
                let mac = hmac_sha256(secret.as_bytes(), &[&body]);
                let headers = vec![
                    json_type,
                    header("x-shopify-topic", "orders/create"),
                    header("x-shopify-webhook-id", id),
                    header("x-shopify-triggered-at", &rfc3339(at)),
                    header(
                        "x-shopify-hmac-sha256",
                        &encode_signature(&mac, Encoding::Base64, None),
                    ),
                ];
                (body, headers)
            }
            Kind::SoftPro => {
                let body = json!({
                    "id": id,
                    "type": "transaction.status_changed",
                    "timestamp": rfc3339(at),
                    "data": {"orderNumber": "2025-0042", "status": "Closed"}
                });
                let body = body.to_string().into_bytes();
                let headers = vec![
                    json_type,
                    header("x-softpro-signature", &hex_hmac(secret, &body, "")),
                ];
                (body, headers)
            }
        }
    }

    /// The signature value of `headers` rewritten into what the provider never sends: the
    /// right MAC with a differently cased or missing prefix, or in the wrong encoding.
    pub(super) fn malformed(self, headers: &Headers) -> Vec<String> {
        let genuine = value(headers, self.signature_header()).to_owned();
        match self {
            Kind::StandardWebhooks => vec![
                genuine.replacen("v1,", "V1,", 1),
                genuine.replacen("v1,", "v1:", 1),
                "v1,not base64!".to_owned(),
            ],
            Kind::Github => vec![
                genuine.replacen("sha256=", "SHA256=", 1),
                genuine.replacen("sha256=", "", 1),
                genuine.replacen("sha256=", "sha1=", 1),
            ],
            Kind::Stripe => {
                let v1 = genuine.split_once(",v1=").expect("a v1 element").1;
                vec![
                    format!("v1={v1}"),
                    genuine.replacen(",v1=", ",v0=", 1),
                    genuine.replacen(",v1=", ", v1=", 1),
                ]
            }
            Kind::Shopify => vec![
                hex::encode(base64_decode(&genuine).expect("the genuine signature is base64")),
                format!("sha256={genuine}"),
                genuine.trim_end_matches('=').to_owned(),
            ],
            Kind::SoftPro => vec![
                format!("SHA256={genuine}"),
                format!("sha1={genuine}"),
                genuine[..63].to_owned(),
            ],
        }
    }
}

pub(super) fn header(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

/// The value of `name` in `headers`.
pub(super) fn value<'a>(headers: &'a Headers, name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

pub(super) fn with(mut headers: Headers, name: &str, value: &str) -> Headers {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push(header(name, value));
    headers
}

pub(super) fn without(mut headers: Headers, name: &str) -> Headers {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers
}

pub(super) fn hex_hmac(secret: &str, body: &[u8], prefix: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), &[body]);
    encode_signature(&mac, Encoding::Hex, Some(prefix))
}

pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// `secs` as an RFC 3339 UTC date-time (Howard Hinnant's `civil_from_days`).
pub(super) fn rfc3339(secs: i64) -> String {
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `[sources.NAME]` for each `(name, preset, secrets)`.
pub(super) fn sources(list: &[(&str, &str, Vec<&str>)]) -> String {
    list.iter()
        .map(|(name, preset, secrets)| {
            let secrets: Vec<String> = secrets.iter().map(|s| format!("{s:?}")).collect();
            format!(
                "[sources.{name:?}]\npreset = {preset:?}\nsecrets = [{}]\n\n",
                secrets.join(", ")
            )
        })
        .collect()
}
