//! `hookd send`: fires one correctly signed test webhook at a source, exactly as the
//! preset's provider would send it, and prints the answer.
//!
//! This sits outside the data flow: it is a client of `POST /in/{source}`, like a
//! provider. For each preset it builds a typical delivery (or takes `--body FILE`), puts
//! the event type where the preset reads it, gives the delivery fresh provider ids so that
//! a second send is not answered as a duplicate, signs it with `hookd-signature` at the
//! current time, and posts it. It prints the status and the answer's body and fails
//! (exit 1) on anything but 2xx.
//!
//! A `--body` file is sent byte for byte unless something must change: `--type` (where
//! the type lives in the body), a `softpro` body's `timestamp` (the scheme requires a
//! fresh one), or a `twilio` body (a JSON object of parameters, sent form-encoded). Its
//! ids are kept, so sending one file twice shows dedup at work.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;
use reqwest::Url;
use serde_json::{Map, Value, json};
use ulid::Ulid;

use super::UsageError;
use crate::clock;

mod meta;
mod presets;
#[cfg(test)]
mod tests;

/// How long the whole request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Send one correctly signed test webhook for a preset and print the answer.
#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    /// The source's preset: how the request is shaped and signed.
    #[arg(long, value_enum)]
    pub(crate) preset: Preset,

    /// The source's secret (highlevel: an Ed25519 private key in PKCS#8 PEM); `@FILE`
    /// reads it from a file.
    #[arg(long, env = "HOOKD_SEND_SECRET", hide_env_values = true)]
    pub(crate) secret: String,

    /// The event type to send. Default: a typical event of the preset.
    ///
    /// Defaults: generic-hmac order.paid, standard-webhooks contact.created, github push,
    /// meta page.message, stripe payment_intent.succeeded, shopify orders/create, slack
    /// slack.app_mention, twilio twilio.delivered, highlevel ContactCreate, softpro
    /// transaction.status_changed. It goes where the preset reads it: the body's `type`,
    /// X-GitHub-Event (+ the body's `action` after a dot), X-Shopify-Topic, Slack's
    /// `event.type` (`slack.command` sends a slash command), Twilio's status parameters,
    /// or, for meta, the shape of the item (page.echo, instagram.story_reply,
    /// whatsapp.status.read, page.feed, …).
    #[arg(long = "type", value_name = "T")]
    pub(crate) event_type: Option<String>,

    /// Send this body instead of the preset's typical one (twilio: a JSON object of
    /// parameters, sent form-encoded).
    #[arg(long, value_name = "FILE")]
    pub(crate) body: Option<PathBuf>,

    /// twilio: the URL the signature covers (the source's `public_url`). Default: URL.
    #[arg(long, value_name = "URL")]
    pub(crate) public_url: Option<Url>,

    /// Where to send it: the source's `POST /in/{source}` URL.
    pub(crate) url: Url,
}

/// The presets `hookd send` can sign for, named as in `preset = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Preset {
    /// The example config's scheme: `x-signature: sha256=<hex>` over
    /// `{timestamp}.{body}`, unix seconds in `x-timestamp`.
    #[value(name = "generic-hmac")]
    GenericHmac,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` with a `whsec_` secret.
    #[value(name = "standard-webhooks")]
    StandardWebhooks,
    /// `X-Hub-Signature-256`, `X-GitHub-Event`, `X-GitHub-Delivery`.
    #[value(name = "github")]
    Github,
    /// `X-Hub-Signature-256` over a Messenger, Instagram or WhatsApp delivery.
    #[value(name = "meta")]
    Meta,
    /// `Stripe-Signature: t=…,v1=…`.
    #[value(name = "stripe")]
    Stripe,
    /// `X-Shopify-Hmac-Sha256`, `X-Shopify-Topic`, `X-Shopify-Webhook-Id`.
    #[value(name = "shopify")]
    Shopify,
    /// `X-Slack-Signature` and `X-Slack-Request-Timestamp`.
    #[value(name = "slack")]
    Slack,
    /// `X-Twilio-Signature` over the URL and the form parameters.
    #[value(name = "twilio")]
    Twilio,
    /// `x-ghl-signature`: Ed25519 over the body.
    #[value(name = "highlevel")]
    HighLevel,
    /// `x-softpro-signature`: hex HMAC-SHA256 of the body, with a fresh body `timestamp`.
    #[value(name = "softpro")]
    SoftPro,
}

impl Preset {
    /// The type sent when `--type` is not given.
    fn default_type(self) -> &'static str {
        match self {
            Preset::GenericHmac => "order.paid",
            Preset::StandardWebhooks => "contact.created",
            Preset::Github => "push",
            Preset::Meta => "page.message",
            Preset::Stripe => "payment_intent.succeeded",
            Preset::Shopify => "orders/create",
            Preset::Slack => "slack.app_mention",
            Preset::Twilio => "twilio.delivered",
            Preset::HighLevel => "ContactCreate",
            Preset::SoftPro => "transaction.status_changed",
        }
    }
}

/// A request ready to post.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outgoing {
    /// Headers besides `content-type`, in the order they are sent.
    headers: Vec<(String, String)>,
    content_type: &'static str,
    body: Vec<u8>,
}

/// What one send is made of. The time is an input (tests fix it); only the fresh ids are
/// drawn while building.
struct Input<'a> {
    preset: Preset,
    secret: &'a str,
    /// `--type`, when given.
    event_type: Option<&'a str>,
    /// The `--body` file's bytes, when given.
    body: Option<Vec<u8>>,
    url: &'a Url,
    public_url: Option<&'a Url>,
    now_millis: i64,
}

/// Builds, signs and posts the webhook; prints the status and the answer.
///
/// # Errors
///
/// [`UsageError`] (exit 2) when the flags cannot make a request: an unreadable file, a
/// secret or key of the wrong form, a body that is not what the preset needs. Any other
/// error (exit 1) when the request fails or the answer is not 2xx.
pub(crate) async fn run(args: SendArgs) -> anyhow::Result<()> {
    let secret = read_secret(&args.secret)?;
    let body = match &args.body {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            UsageError(format!(
                "error: --body: cannot read {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let outgoing = build(&Input {
        preset: args.preset,
        secret: &secret,
        event_type: args.event_type.as_deref(),
        body,
        url: &args.url,
        public_url: args.public_url.as_ref(),
        now_millis: clock::now_millis(),
    })
    .map_err(|problem| UsageError(format!("error: {problem}")))?;

    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")?;
    let mut request = client
        .post(args.url.clone())
        .header(reqwest::header::CONTENT_TYPE, outgoing.content_type)
        .body(outgoing.body);
    for (name, value) in &outgoing.headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("sending to {}", args.url))?;
    let status = response.status();
    let answer = response.text().await.context("reading the answer")?;
    println!("{status}");
    println!("{answer}");
    if status.is_success() {
        Ok(())
    } else {
        anyhow::bail!("{} answered {status}", args.url)
    }
}

/// `--secret`: the text itself, or the contents of the file after `@` (a trailing line
/// break dropped, so `echo secret > file` works).
fn read_secret(value: &str) -> Result<String, UsageError> {
    let Some(path) = value.strip_prefix('@') else {
        return Ok(value.to_owned());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("error: --secret: cannot read {path}: {e}")))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// The signed request for `input`, or why the flags cannot make one.
fn build(input: &Input<'_>) -> Result<Outgoing, String> {
    let ids = Ids::new(input.now_millis);
    match input.preset {
        Preset::GenericHmac => presets::generic_hmac(input, &ids),
        Preset::StandardWebhooks => presets::standard_webhooks(input, &ids),
        Preset::Github => presets::github(input, &ids),
        Preset::Meta => meta::meta(input, &ids),
        Preset::Stripe => presets::stripe(input, &ids),
        Preset::Shopify => presets::shopify(input, &ids),
        Preset::Slack => presets::slack(input, &ids),
        Preset::Twilio => presets::twilio(input, &ids),
        Preset::HighLevel => presets::highlevel(input, &ids),
        Preset::SoftPro => presets::softpro(input, &ids),
    }
}

/// `content-type` of JSON bodies.
const JSON: &str = "application/json";
/// `content-type` of form-encoded bodies (Twilio, Slack slash commands).
const FORM: &str = "application/x-www-form-urlencoded";

/// The body of a preset whose type lives in the body at `pointer`: the `--body` file as
/// it is, or with `written_type` put there when `--type` is given; the default otherwise.
fn json_body(
    input: &Input<'_>,
    pointer: &str,
    default: impl FnOnce() -> Value,
    written_type: &str,
) -> Result<Vec<u8>, String> {
    match (&input.body, input.event_type) {
        (None, _) => Ok(to_bytes(&default())),
        (Some(bytes), None) => Ok(bytes.clone()),
        (Some(bytes), Some(_)) => {
            let mut value = parse_json(bytes)?;
            set_pointer(&mut value, pointer, json!(written_type))?;
            Ok(to_bytes(&value))
        }
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("--body: not JSON: {e}"))
}

fn to_bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// Sets the member at `pointer` (of the form `/a/b`), creating the objects on the way.
fn set_pointer(value: &mut Value, pointer: &str, new: Value) -> Result<(), String> {
    let mut at = value;
    let mut names = pointer.split('/').skip(1).peekable();
    while let Some(name) = names.next() {
        let Value::Object(fields) = at else {
            return Err(format!(
                "--body: cannot set {pointer}: the body is not an object there"
            ));
        };
        if names.peek().is_none() {
            fields.insert(name.to_owned(), new);
            return Ok(());
        }
        at = fields
            .entry(name.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// Fresh ids and times for one send: ids are ULIDs (or derived from one), so two sends
/// never share a dedup key.
struct Ids {
    now_millis: i64,
}

impl Ids {
    fn new(now_millis: i64) -> Self {
        Ids { now_millis }
    }

    fn millis(&self) -> i64 {
        self.now_millis
    }

    fn secs(&self) -> i64 {
        self.now_millis.div_euclid(1000)
    }

    /// Now as RFC 3339 in UTC with milliseconds, e.g. `2025-01-02T03:04:05.678Z`.
    fn iso8601(&self) -> String {
        let millis = u64::try_from(self.now_millis).unwrap_or(0);
        humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(millis)).to_string()
    }

    fn ulid(&self) -> String {
        Ulid::new().to_string()
    }

    fn prefixed(&self, prefix: &str) -> String {
        format!("{prefix}{}", Ulid::new())
    }

    /// 32 lower-case hex digits.
    fn hex32(&self) -> String {
        format!("{:032x}", u128::from(Ulid::new()))
    }

    /// A GUID, as GitHub and Shopify send them.
    fn uuid(&self) -> String {
        let hex = self.hex32();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    /// A decimal id of 17 digits, as Meta's comment ids are.
    fn digits(&self) -> String {
        format!("{:017}", u128::from(Ulid::new()) % 100_000_000_000_000_000)
    }

    /// A numeric id below 2^53, as Shopify's are (safe in every JSON reader).
    fn number(&self) -> u64 {
        let n = u128::from(Ulid::new()) % (1_u128 << 53);
        u64::try_from(n).unwrap_or(1)
    }
}
