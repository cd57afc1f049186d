//! The `meta` requests of `hookd send`: a Messenger, Instagram or WhatsApp delivery
//! holding one item of the shape the preset types as `--type`, signed with the app
//! secret in `X-Hub-Signature-256`.

use hookd_signature::{Encoding, encode_signature, hmac_sha256};
use serde_json::{Value, json};

use super::{Ids, Input, JSON, Outgoing, Preset, to_bytes};

/// Meta: the type follows from the delivery's shape (`object`, and the kind of its
/// `messaging` or `changes` item), so `--type` picks a shape and cannot rewrite a
/// `--body`.
pub(super) fn meta(input: &Input<'_>, ids: &Ids) -> Result<Outgoing, String> {
    let body = match (&input.body, input.event_type) {
        (Some(_), Some(_)) => {
            return Err(
                "--type cannot be combined with --body for meta: the type of a Meta \
                        delivery follows from its shape, so put the item you want in the file"
                    .to_owned(),
            );
        }
        (Some(bytes), None) => bytes.clone(),
        (None, event_type) => to_bytes(&meta_body(
            event_type.unwrap_or(Preset::Meta.default_type()),
            ids,
        )?),
    };
    let mac = hmac_sha256(input.secret.as_bytes(), &[&body]);
    Ok(Outgoing {
        headers: vec![(
            "x-hub-signature-256".to_owned(),
            encode_signature(&mac, Encoding::Hex, Some("sha256=")),
        )],
        content_type: JSON,
        body,
    })
}

/// Invented ids of Meta deliveries: a Facebook page, an Instagram account and a WhatsApp
/// Business account, each with one person writing to it.
pub(super) const META_PAGE: &str = "109876543210987";
pub(super) const META_PSID: &str = "2834567890123456";
pub(super) const META_IG_ACCOUNT: &str = "17841400000000000";
pub(super) const META_IGSID: &str = "1234567890123456";
pub(super) const META_WABA: &str = "102290129340398";
pub(super) const META_WA_PHONE_ID: &str = "106540352242922";
pub(super) const META_WA_USER: &str = "16505551234";

/// A one-item Meta delivery whose item has the shape the preset types as `event_type`.
pub(super) fn meta_body(event_type: &str, ids: &Ids) -> Result<Value, String> {
    let now = ids.millis();
    let mid = ids.prefixed("m_");
    // An echo is the account's own message: sent by the account, to the person.
    let messaging = |object: &str, account: &str, user: &str, echo: bool, mut item: Value| {
        let (sender, recipient) = if echo {
            (account, user)
        } else {
            (user, account)
        };
        if let Some(fields) = item.as_object_mut() {
            fields.insert("sender".to_owned(), json!({ "id": sender }));
            fields.insert("recipient".to_owned(), json!({ "id": recipient }));
            fields.insert("timestamp".to_owned(), json!(now));
        }
        json!({
            "object": object,
            "entry": [{ "id": account, "time": now, "messaging": [item] }],
        })
    };
    let change = |object: &str, account: &str, field: &str, value: Value| {
        json!({
            "object": object,
            "entry": [{ "id": account, "time": now, "changes": [{ "field": field, "value": value }] }],
        })
    };
    let page = |item: Value| messaging("page", META_PAGE, META_PSID, false, item);
    let instagram = |item: Value| messaging("instagram", META_IG_ACCOUNT, META_IGSID, false, item);
    let wa_value = |key: &str, item: Value| {
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": META_WA_PHONE_ID },
            "contacts": [{ "profile": { "name": "Sheena Nelson" }, "wa_id": META_WA_USER }],
            key: [item],
        })
    };
    Ok(match event_type {
        "page.message" => page(json!({ "message": { "mid": mid, "text": "hello, world!" } })),
        "page.echo" => messaging(
            "page",
            META_PAGE,
            META_PSID,
            true,
            json!({
                "message": { "mid": mid, "is_echo": true, "app_id": 1517776481860111_u64, "text": "hello back" },
            }),
        ),
        "page.postback" => page(json!({
            "postback": { "mid": mid, "title": "Get Started", "payload": "GET_STARTED" },
        })),
        "page.delivery" => page(json!({ "delivery": { "mids": [mid], "watermark": now } })),
        "page.read" => page(json!({ "read": { "watermark": now } })),
        "page.reaction" => page(json!({
            "reaction": { "mid": mid, "action": "react", "reaction": "love", "emoji": "\u{2764}\u{fe0f}" },
        })),
        "instagram.echo" => messaging(
            "instagram",
            META_IG_ACCOUNT,
            META_IGSID,
            true,
            json!({ "message": { "mid": mid, "is_echo": true, "text": "Yes, it is!" } }),
        ),
        "instagram.message" => {
            instagram(json!({ "message": { "mid": mid, "text": "Is this still available?" } }))
        }
        "instagram.story_reply" => instagram(json!({
            "message": {
                "mid": mid,
                "text": "Love this!",
                "reply_to": { "story": { "id": "17900000000000000", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000000" } },
            },
        })),
        "instagram.story_mention" => instagram(json!({
            "message": {
                "mid": mid,
                "attachments": [{ "type": "story_mention", "payload": { "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000001" } }],
            },
        })),
        "instagram.reaction" => instagram(json!({
            "reaction": { "mid": mid, "action": "react", "reaction": "love", "emoji": "\u{2764}\u{fe0f}" },
        })),
        "instagram.postback" => instagram(json!({
            "postback": { "mid": mid, "title": "Track my order", "payload": "TRACK_ORDER" },
        })),
        "instagram.seen" => instagram(json!({ "read": { "mid": mid } })),
        "instagram.comment" => change(
            "instagram",
            META_IG_ACCOUNT,
            "comments",
            json!({
                "from": { "id": META_IGSID, "username": "ada" },
                "media": { "id": "17900000000000002", "media_product_type": "FEED" },
                "id": ids.digits(),
                "text": "Nice!",
            }),
        ),
        "whatsapp.message" => change(
            "whatsapp_business_account",
            META_WABA,
            "messages",
            wa_value(
                "messages",
                json!({
                    "from": META_WA_USER,
                    "id": ids.prefixed("wamid."),
                    "timestamp": ids.secs().to_string(),
                    "type": "text",
                    "text": { "body": "Does it come in another color?" },
                }),
            ),
        ),
        _ => {
            if let Some(status) = event_type.strip_prefix("whatsapp.status.") {
                let mut value = wa_value(
                    "statuses",
                    json!({
                        "id": ids.prefixed("wamid."),
                        "status": status,
                        "timestamp": ids.secs().to_string(),
                        "recipient_id": META_WA_USER,
                    }),
                );
                value.as_object_mut().map(|v| v.remove("contacts"));
                change("whatsapp_business_account", META_WABA, "messages", value)
            } else if let Some((platform, field)) = event_type.split_once('.') {
                // The preset names WhatsApp's object `whatsapp_business_account` by its
                // platform, `whatsapp`; every other object by itself.
                let (object, account) = match platform {
                    "page" => ("page", META_PAGE),
                    "instagram" => ("instagram", META_IG_ACCOUNT),
                    "whatsapp" => ("whatsapp_business_account", META_WABA),
                    other => (other, "100000000000000"),
                };
                change(object, account, field, json!({ "id": ids.digits() }))
            } else {
                return Err(format!(
                    "--type {event_type:?}: a Meta type is <platform>.<kind>, such as \
                     page.message, instagram.story_reply, whatsapp.status.read or page.feed"
                ));
            }
        }
    })
}
