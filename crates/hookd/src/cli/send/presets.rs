//! The requests of `hookd send` for every preset but `meta`: a typical body with fresh
//! ids (or the `--body` file), the type where the preset reads it, and the signature the
//! provider would put on it now.

use hookd_signature::standard_webhooks::Secret;
use hookd_signature::{Encoding, encode_signature, hmac_sha256};
use serde_json::{Map, Value, json};

use super::{
    FORM, Ids, Input, JSON, Outgoing, Preset, json_body, parse_json, set_pointer, to_bytes,
};

/// `generic-hmac`, as the example config's `demo` source reads it: `x-signature:
/// sha256=<hex>` over `{timestamp}.{body}`, unix seconds in `x-timestamp`, type at `/type`,
/// id at `/id`. Other `generic-hmac` schemes are configured key by key and not guessed.
pub(super) fn generic_hmac(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let event_type = input
        .event_type
        .unwrap_or(Preset::GenericHmac.default_type());
    let body = json_body(
        input,
        "/type",
        || {
            json!({
                "id": ids.prefixed("ord_"),
                "type": event_type,
                "status": "paid",
                "customer": { "id": "cus_42" },
            })
        },
        event_type,
    )?;
    let timestamp = ids.secs().to_string();
    let mac = hmac_sha256(
        input.secret.as_bytes(),
        &[timestamp.as_bytes(), b".", &body],
    );
    Ok(Outgoing {
        headers: vec![
            ("x-timestamp".to_owned(), timestamp),
            (
                "x-signature".to_owned(),
                encode_signature(&mac, Encoding::Hex, Some("sha256=")),
            ),
        ],
        content_type: JSON,
        body,
    })
}

/// Standard Webhooks: a fresh `webhook-id` (the dedup key), the type at the body's `type`.
pub(super) fn standard_webhooks(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let secret = Secret::parse(input.secret)
        .map_err(|e| format!("--secret: not a Standard Webhooks secret (whsec_…): {e}"))?;
    let event_type = input
        .event_type
        .unwrap_or(Preset::StandardWebhooks.default_type());
    let body = json_body(
        input,
        "/type",
        || {
            json!({
                "type": event_type,
                "timestamp": ids.iso8601(),
                "data": {
                    "id": ids.prefixed("ctc_"),
                    "type": "contact",
                    "fullName": "Ada Lovelace",
                },
            })
        },
        event_type,
    )?;
    let id = ids.prefixed("msg_");
    let timestamp = ids.secs();
    let signature = secret.sign(&id, timestamp, &body);
    Ok(Outgoing {
        headers: vec![
            ("webhook-id".to_owned(), id),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ("webhook-signature".to_owned(), signature),
        ],
        content_type: JSON,
        body,
    })
}

/// GitHub: the type is `X-GitHub-Event`, with the body's `action` appended when present,
/// so `--type pull_request.opened` sends event `pull_request` with action `opened`.
pub(super) fn github(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let event_type = input.event_type.unwrap_or(Preset::Github.default_type());
    let (event, action) = match event_type.split_once('.') {
        Some((event, action)) => (event, Some(action)),
        None => (event_type, None),
    };
    let body = match (&input.body, action) {
        (Some(bytes), None) => bytes.clone(),
        (Some(bytes), Some(action)) => {
            let mut value = parse_json(bytes)?;
            set_pointer(&mut value, "/action", json!(action))?;
            to_bytes(&value)
        }
        (None, _) => to_bytes(&github_body(event, action, ids)),
    };
    let mac = hmac_sha256(input.secret.as_bytes(), &[&body]);
    Ok(Outgoing {
        headers: vec![
            (
                "user-agent".to_owned(),
                "GitHub-Hookshot/hookd-send".to_owned(),
            ),
            ("x-github-event".to_owned(), event.to_owned()),
            ("x-github-delivery".to_owned(), ids.uuid()),
            ("x-github-hook-id".to_owned(), "109948940".to_owned()),
            (
                "x-hub-signature-256".to_owned(),
                encode_signature(&mac, Encoding::Hex, Some("sha256=")),
            ),
        ],
        content_type: JSON,
        body,
    })
}

/// A small body of GitHub's shape for `event` (a push has ref, commits and pusher).
fn github_body(event: &str, action: Option<&str>, ids: &Ids) -> Value {
    let mut body = Map::new();
    if let Some(action) = action {
        body.insert("action".to_owned(), json!(action));
    }
    if event == "push" {
        let after = format!("{}00000000", ids.hex32());
        body.insert("ref".to_owned(), json!("refs/heads/main"));
        body.insert(
            "before".to_owned(),
            json!("0000000000000000000000000000000000000000"),
        );
        body.insert("after".to_owned(), json!(after));
        body.insert(
            "commits".to_owned(),
            json!([{ "id": after, "message": "Test commit from hookd send" }]),
        );
        body.insert(
            "pusher".to_owned(),
            json!({ "name": "octocat", "email": "octocat@example.com" }),
        );
    }
    body.insert(
        "repository".to_owned(),
        json!({ "id": 186853002, "name": "hello-world", "full_name": "octocat/hello-world" }),
    );
    body.insert(
        "sender".to_owned(),
        json!({ "login": "octocat", "id": 583231, "type": "User" }),
    );
    Value::Object(body)
}

/// Stripe: an event object with a fresh `evt_` id, signed `t=…,v1=…` at now.
pub(super) fn stripe(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let event_type = input.event_type.unwrap_or(Preset::Stripe.default_type());
    let created = ids.secs();
    let body = json_body(
        input,
        "/type",
        || {
            json!({
                "id": ids.prefixed("evt_"),
                "object": "event",
                "api_version": "2024-06-20",
                "created": created,
                "livemode": false,
                "pending_webhooks": 1,
                "request": { "id": null, "idempotency_key": null },
                "type": event_type,
                "data": {
                    "object": {
                        "id": ids.prefixed("pi_"),
                        "object": "payment_intent",
                        "amount": 2000,
                        "currency": "usd",
                        "status": "succeeded",
                        "created": created,
                    },
                },
            })
        },
        event_type,
    )?;
    let signature = hookd_signature::stripe::sign(input.secret, ids.secs(), &body);
    Ok(Outgoing {
        headers: vec![("stripe-signature".to_owned(), signature)],
        content_type: JSON,
        body,
    })
}

/// Shopify: the type is `X-Shopify-Topic`, the dedup key a fresh `X-Shopify-Webhook-Id`.
pub(super) fn shopify(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let topic = input.event_type.unwrap_or(Preset::Shopify.default_type());
    let body = match &input.body {
        Some(bytes) => bytes.clone(),
        None => to_bytes(&json!({
            "id": ids.number(),
            "email": "ada@example.com",
            "created_at": ids.iso8601(),
            "currency": "USD",
            "total_price": "29.99",
            "financial_status": "paid",
            "line_items": [{ "id": ids.number(), "title": "T-Shirt", "quantity": 1, "price": "29.99" }],
        })),
    };
    let mac = hmac_sha256(input.secret.as_bytes(), &[&body]);
    Ok(Outgoing {
        headers: vec![
            ("x-shopify-topic".to_owned(), topic.to_owned()),
            (
                "x-shopify-shop-domain".to_owned(),
                "hookd-test.myshopify.com".to_owned(),
            ),
            ("x-shopify-api-version".to_owned(), "2025-04".to_owned()),
            ("x-shopify-webhook-id".to_owned(), ids.uuid()),
            ("x-shopify-event-id".to_owned(), ids.uuid()),
            ("x-shopify-triggered-at".to_owned(), ids.iso8601()),
            (
                "x-shopify-hmac-sha256".to_owned(),
                encode_signature(&mac, Encoding::Base64, None),
            ),
        ],
        content_type: JSON,
        body,
    })
}

/// Slack: the preset types an Events API `event_callback` `slack.<event.type>` and a
/// slash command `slack.command`; `--type` picks one of the two shapes (and the inner
/// type). A form-encoded `--body` (a slash command, an interaction) is typed by its
/// fields, so `--type` cannot change it.
pub(super) fn slack(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let event_type = input.event_type.unwrap_or(Preset::Slack.default_type());
    let inner = event_type.strip_prefix("slack.").unwrap_or(event_type);
    let (body, content_type) = match &input.body {
        Some(bytes) if bytes.trim_ascii_start().first() != Some(&b'{') => {
            if input.event_type.is_some() {
                return Err(
                    "--type cannot be combined with a form-encoded --body for slack: \
                            its type follows from its `command` or `payload` field"
                        .to_owned(),
                );
            }
            (bytes.clone(), FORM)
        }
        Some(_) => (
            json_body(input, "/event/type", || Value::Null, inner)?,
            JSON,
        ),
        None if inner == "command" => {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("token", "xyzz0WbapA4vBCDEFasx0q6G"),
                    ("team_id", "T1DC2JH3J"),
                    ("team_domain", "hookd-test"),
                    ("channel_id", "C0LAN2Q65"),
                    ("channel_name", "general"),
                    ("user_id", "U2CERLKJA"),
                    ("user_name", "ada"),
                    ("command", "/hookd"),
                    ("text", "hello from hookd send"),
                    ("trigger_id", &ids.prefixed("trg_")),
                ])
                .finish();
            (body.into_bytes(), FORM)
        }
        None => {
            let ts = format!("{}.000100", ids.secs());
            let body = json!({
                "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                "team_id": "T1DC2JH3J",
                "api_app_id": "A0KRD7HC3",
                "event": {
                    "type": inner,
                    "user": "U2CERLKJA",
                    "text": "<@U0LAN0Z89> hello from hookd send",
                    "ts": ts,
                    "channel": "C0LAN2Q65",
                    "event_ts": ts,
                },
                "type": "event_callback",
                "event_id": ids.prefixed("Ev"),
                "event_time": ids.secs(),
            });
            (to_bytes(&body), JSON)
        }
    };
    let timestamp = ids.secs().to_string();
    let mac = hmac_sha256(
        input.secret.as_bytes(),
        &[b"v0:", timestamp.as_bytes(), b":", &body],
    );
    Ok(Outgoing {
        headers: vec![
            ("x-slack-request-timestamp".to_owned(), timestamp),
            (
                "x-slack-signature".to_owned(),
                encode_signature(&mac, Encoding::Hex, Some("v0=")),
            ),
        ],
        content_type,
        body,
    })
}

/// The status parameters whose value makes a Twilio type `twilio.<status>`.
const TWILIO_STATUS_PARAMS: [&str; 3] = ["MessageStatus", "CallStatus", "SmsStatus"];

/// Twilio: form parameters; the type is `twilio.<status>` from the status parameter, or
/// `twilio.request` when there is none. The signature covers the URL Twilio calls
/// (`--public-url`, or URL) with the request's query string, and the sorted parameters.
pub(super) fn twilio(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let mut params = match &input.body {
        Some(bytes) => flatten_params(&parse_json(bytes)?)?,
        None => {
            let sid = format!("SM{}", ids.hex32());
            vec![
                (
                    "AccountSid".to_owned(),
                    "AC00000000000000000000000000000000".to_owned(),
                ),
                ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
                ("From".to_owned(), "+15017122661".to_owned()),
                ("MessageSid".to_owned(), sid.clone()),
                ("MessageStatus".to_owned(), "delivered".to_owned()),
                ("SmsSid".to_owned(), sid),
                ("SmsStatus".to_owned(), "delivered".to_owned()),
                ("To".to_owned(), "+15558675310".to_owned()),
            ]
        }
    };
    if input.body.is_none() || input.event_type.is_some() {
        let event_type = input.event_type.unwrap_or(Preset::Twilio.default_type());
        set_twilio_status(&mut params, event_type);
    }
    let mut signed_url = input.public_url.unwrap_or(input.url).clone();
    signed_url.set_query(input.url.query());
    signed_url.set_fragment(None);
    let signature = hookd_signature::twilio::sign(input.secret, signed_url.as_str(), &params);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish()
        .into_bytes();
    Ok(Outgoing {
        headers: vec![("x-twilio-signature".to_owned(), signature)],
        content_type: FORM,
        body,
    })
}

/// Makes `params` say `event_type`: `twilio.request` removes every status parameter;
/// `twilio.S` (or plain `S`) sets every status parameter present to `S`, or adds
/// `MessageStatus` when none is.
pub(super) fn set_twilio_status(params: &mut Vec<(String, String)>, event_type: &str) {
    let status = event_type.strip_prefix("twilio.").unwrap_or(event_type);
    let is_status = |name: &str| TWILIO_STATUS_PARAMS.contains(&name);
    if status == "request" {
        params.retain(|(name, _)| !is_status(name));
        return;
    }
    let mut found = false;
    for (name, value) in params.iter_mut() {
        if is_status(name) {
            status.clone_into(value);
            found = true;
        }
    }
    if !found {
        params.push(("MessageStatus".to_owned(), status.to_owned()));
    }
}

/// A JSON object of parameters as form pairs: strings as they are, numbers and booleans
/// as their JSON text, arrays as repeated parameters.
pub(super) fn flatten_params(value: &Value) -> Result<Vec<(String, String)>, String> {
    let Value::Object(fields) = value else {
        return Err("--body: twilio takes a JSON object of form parameters".to_owned());
    };
    let mut params = Vec::new();
    for (name, value) in fields {
        let values = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for value in values {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                Value::Null => String::new(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(format!(
                        "--body: parameter {name:?} is nested; form parameters are flat"
                    ));
                }
            };
            params.push((name.clone(), text));
        }
    }
    Ok(params)
}

/// HighLevel: the secret is the Ed25519 private key (PKCS#8 PEM) whose public half the
/// source lists in `public_key_ed25519`.
pub(super) fn highlevel(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let event_type = input.event_type.unwrap_or(Preset::HighLevel.default_type());
    let body = json_body(
        input,
        "/type",
        || highlevel_body(event_type, ids),
        event_type,
    )?;
    let signature = hookd_signature::highlevel::sign_ed25519(input.secret, &body).map_err(|e| {
        format!("--secret: highlevel signs with an Ed25519 private key in PKCS#8 PEM: {e}")
    })?;
    Ok(Outgoing {
        headers: vec![("x-ghl-signature".to_owned(), signature)],
        content_type: JSON,
        body,
    })
}

/// Invented HighLevel ids: one agency (company) with one location.
const GHL_COMPANY: &str = "otg8dTQqGLh3Q6iQI55w";
const GHL_LOCATION: &str = "ve9EPM428h8vShlRW1KT";

/// A HighLevel body of the shape of `event_type` (lifecycle, message, or a record), with a
/// fresh `webhookId` (the dedup key) and `timestamp`.
fn highlevel_body(event_type: &str, ids: &Ids) -> Value {
    let mut body = match event_type {
        "INSTALL" | "UNINSTALL" | "PLAN_CHANGE" => json!({
            "appId": "66a0419a0dffa47fb5f8b22f",
            "installType": "Location",
            "locationId": GHL_LOCATION,
            "companyId": GHL_COMPANY,
            "userId": "xsmF1xxhmC92ZpL1lj7a",
            "planId": "66a0419a0dffa47fb5f8b230",
        }),
        "InboundMessage" | "OutboundMessage" => json!({
            "locationId": GHL_LOCATION,
            "contactId": "nmFmQEsNgz6AVpgLVUJ0",
            "conversationId": "SGDqZrzmwTr19d10aHkt",
            "messageId": ids.ulid(),
            "messageType": "SMS",
            "direction": if event_type == "InboundMessage" { "inbound" } else { "outbound" },
            "body": "Hello from hookd send",
            "dateAdded": ids.iso8601(),
        }),
        _ => json!({
            "locationId": GHL_LOCATION,
            "id": ids.ulid(),
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "dateAdded": ids.iso8601(),
        }),
    };
    if let Some(fields) = body.as_object_mut() {
        fields.insert("type".to_owned(), json!(event_type));
        fields.insert("timestamp".to_owned(), json!(ids.iso8601()));
        fields.insert("webhookId".to_owned(), json!(ids.ulid()));
    }
    body
}

/// SoftPro: the scheme checks the body's `timestamp`, so it is always set to now.
pub(super) fn softpro(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let event_type = input.event_type.unwrap_or(Preset::SoftPro.default_type());
    let mut value = match &input.body {
        Some(bytes) => parse_json(bytes)?,
        None => json!({
            "id": ids.prefixed("evt_"),
            "type": event_type,
            "data": {
                "orderNumber": "TX-1001",
                "status": "clear_to_close",
            },
        }),
    };
    if input.event_type.is_some() {
        set_pointer(&mut value, "/type", json!(event_type))?;
    }
    set_pointer(&mut value, "/timestamp", json!(ids.iso8601()))?;
    let body = to_bytes(&value);
    let mac = hmac_sha256(input.secret.as_bytes(), &[&body]);
    Ok(Outgoing {
        headers: vec![(
            "x-softpro-signature".to_owned(),
            encode_signature(&mac, Encoding::Hex, None),
        )],
        content_type: JSON,
        body,
    })
}
