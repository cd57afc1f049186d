//! Tests of configuration loading: the bundled example, every problem with its key path,
//! the environment overlay and the defaults. No test touches the process environment.

use std::time::Duration;

use super::check;
use super::presets::parse_signed_payload;
use super::*;

const EXAMPLE: &str = include_str!("../../../../hookd.example.toml");

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Loads `text`, expecting success; returns the config and the warnings as lines.
fn ok(text: &str, vars: Vec<(String, String)>) -> (Config, Vec<String>) {
    match load_str(text, vars) {
        Ok((config, warnings)) => (config, warnings.iter().map(ToString::to_string).collect()),
        Err(problems) => panic!("expected success, got:\n{}", lines(&problems).join("\n")),
    }
}

/// Loads `text`, expecting failure; returns every problem as a line.
fn problems(text: &str, vars: Vec<(String, String)>) -> Vec<String> {
    match load_str(text, vars) {
        Ok(_) => panic!("expected problems, the configuration loaded"),
        Err(problems) => lines(&problems),
    }
}

fn lines(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// A small valid configuration, to which a test appends its mistake.
fn minimal() -> String {
    format!(
        r#"
[sources.shop]
preset = "generic-hmac"
secrets = "s3cr3t"
signature_header = "X-Signature"

[destinations.app]
url = "https://example.com/hooks"
secret = "{SECRET}"

[[routes]]
source = "shop"
destination = "app"
"#
    )
}

#[test]
fn the_bundled_example_loads_without_errors_or_warnings() {
    let (config, warnings) = ok(EXAMPLE, no_env());
    assert!(warnings.is_empty(), "{warnings:#?}");

    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        config.server.data_dir,
        std::path::PathBuf::from("./hookd-data")
    );

    let demo = &config.sources["demo"];
    let Verifier::GenericHmac(hmac) = &demo.verify else {
        panic!("a generic-hmac source");
    };
    assert_eq!(hmac.secrets, ["demo-secret"]);
    assert_eq!(hmac.signature_header, "x-signature");
    assert_eq!(hmac.encoding, hookd_signature::Encoding::Hex);
    assert_eq!(hmac.prefix.as_deref(), Some("sha256="));
    assert_eq!(hmac.timestamp_header.as_deref(), Some("x-timestamp"));
    assert_eq!(
        hmac.signed_payload,
        [
            PayloadPart::Timestamp,
            PayloadPart::Literal(".".to_owned()),
            PayloadPart::Body
        ]
    );
    assert_eq!(demo.event_type, Some(FieldRef::Json("/type".to_owned())));
    assert_eq!(demo.event_id, Some(FieldRef::Json("/id".to_owned())));

    assert_eq!(
        config.queues.keys().collect::<Vec<_>>(),
        ["critical", "default"]
    );
    assert_eq!(config.queues["critical"].concurrency, 4);
    assert_eq!(config.queues["critical"].max_attempts, 5);

    let sink = &config.destinations["sink"];
    assert_eq!(sink.url.as_str(), "http://127.0.0.1:9000/hooks");
    assert!(sink.allow_private_network);

    let [paid, all] = config.routes.as_slice() else {
        panic!("expected two routes, got {:?}", config.routes);
    };
    assert_eq!(paid.sources, ["demo"]);
    assert_eq!(paid.queue, "critical");
    assert_eq!(paid.priority, 1);
    assert_eq!(paid.ordering_key, ["/customer/id"]);
    assert_eq!(
        paid.conditions,
        [("/status".to_owned(), serde_json::json!("paid"))]
    );
    assert!(paid.types.is_match("order.created"));
    assert!(!paid.types.is_match("customer.created"));
    assert_eq!(paid.destination, "sink");
    assert_eq!(all.queue, "default");
    assert_eq!(all.priority, 3);
    assert!(all.types.is_match("anything.at.all"));
}

#[test]
fn the_bundled_example_documents_every_key() {
    // Every key of the raw structs appears in the example, set or commented out.
    let keys: &[&[&str]] = &[
        &[
            "listen",
            "data_dir",
            "database_url",
            "database_schema",
            "database_pool_size",
            "database_connect_timeout",
            "database_statement_timeout",
            "spool_max",
            "node_id",
            "shutdown_grace",
            "rescue_interval",
        ],
        &[
            "log_level",
            "log_format",
            "preset",
            "tenant",
            "secrets",
            "signature_header",
        ],
        &[
            "encoding",
            "prefix",
            "timestamp_header",
            "tolerance",
            "signed_payload",
            "event_type",
        ],
        &[
            "event_id",
            "dedup_window",
            "max_body",
            "format",
            "concurrency",
            "global_concurrency",
            "max_attempts",
        ],
        &[
            "backoff",
            "lease",
            "url",
            "secret",
            "timeout",
            "allow_private_network",
            "name",
        ],
        &[
            "source",
            "types",
            "match",
            "queue",
            "priority",
            "ordering_key",
            "delay",
            "destination",
        ],
        &[
            "jwt_hs256_secret",
            "jwt_public_key",
            "jwt_algorithm",
            "jwks_file",
            "jwt_issuer",
            "jwt_audience",
            "jwt_leeway",
        ],
        // Retention.
        &["succeeded", "dead", "interval", "batch"],
        // Stats.
        &[
            "flush_interval",
            "minute_rollups",
            "keep",
            "expected_interval",
        ],
    ];
    for key in keys.iter().flat_map(|k| k.iter()) {
        let set = format!("\n{key} = ");
        let commented = format!("\n# {key} = ");
        assert!(
            EXAMPLE.contains(&set) || EXAMPLE.contains(&commented),
            "hookd.example.toml does not show `{key}`"
        );
    }
}

#[test]
fn an_empty_file_is_a_working_configuration_with_defaults() {
    let (config, warnings) = ok("", no_env());
    assert!(warnings.is_empty(), "{warnings:#?}");
    let server = &config.server;
    assert_eq!(server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(server.data_dir, std::path::PathBuf::from("./hookd-data"));
    assert_eq!(server.database_url, None);
    assert_eq!(server.database_schema, "hookd");
    assert_eq!(server.database_pool_size, 16);
    assert_eq!(server.database_connect_timeout, Duration::from_secs(5));
    assert_eq!(server.database_statement_timeout, Duration::from_secs(10));
    assert!(
        server
            .node_id
            .ends_with(&format!("-{}", std::process::id())),
        "{}",
        server.node_id
    );
    assert_eq!(server.shutdown_grace, Duration::from_secs(30));
    assert_eq!(server.rescue_interval, Duration::from_secs(5));
    assert_eq!(server.log_level, "info");
    assert_eq!(server.log_format, LogFormat::Json);
    assert_eq!(config.queues.keys().collect::<Vec<_>>(), ["default"]);
    assert!(
        config.sources.is_empty() && config.destinations.is_empty() && config.routes.is_empty()
    );
}

#[test]
fn defaults_are_filled_in() {
    let (config, warnings) = ok(&minimal(), no_env());
    assert!(warnings.is_empty(), "{warnings:#?}");

    let shop = &config.sources["shop"];
    assert_eq!(shop.name, "shop");
    assert_eq!(shop.tenant, "default");
    assert_eq!(shop.event_type, None);
    assert_eq!(shop.event_id, None);
    assert_eq!(shop.dedup_window, Duration::from_secs(24 * 3600));
    assert_eq!(shop.max_body, 1024 * 1024);
    assert_eq!(shop.format, BodyFormat::Json);
    let Verifier::GenericHmac(hmac) = &shop.verify else {
        panic!("a generic-hmac source");
    };
    assert_eq!(hmac.secrets, ["s3cr3t"]);
    assert_eq!(
        hmac.signature_header, "x-signature",
        "header names are stored lower case"
    );
    assert_eq!(hmac.encoding, hookd_signature::Encoding::Hex);
    assert_eq!(hmac.prefix, None);
    assert_eq!(hmac.timestamp_header, None);
    assert_eq!(hmac.tolerance, Duration::from_secs(300));
    assert_eq!(hmac.signed_payload, [PayloadPart::Body]);

    let default = &config.queues["default"];
    assert_eq!(default.name, "default");
    assert_eq!(default.concurrency, 10);
    assert_eq!(default.global_concurrency, None);
    assert_eq!(default.max_attempts, 8);
    assert_eq!(
        default.backoff,
        Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(3600),
            jitter: Jitter::Full
        }
    );
    assert_eq!(default.lease, Duration::from_secs(30));

    let app = &config.destinations["app"];
    assert_eq!(app.timeout, Duration::from_secs(30));
    assert!(!app.allow_private_network);

    let route = &config.routes[0];
    assert_eq!(route.name, "routes[0]");
    assert_eq!(route.sources, ["shop"]);
    assert!(route.type_patterns.is_empty());
    assert!(route.conditions.is_empty());
    assert_eq!(route.queue, "default");
    assert_eq!(route.priority, 3);
    assert!(route.ordering_key.is_empty());
    assert_eq!(route.delay, Duration::ZERO);
    assert_eq!(route.destination, "app");
}

#[test]
fn a_file_with_many_mistakes_reports_every_one_with_its_key_path() {
    let text = r#"
[server]
listen = "localhost"
log_format = "yaml"
colour = true

[sources.shop]
preset = "generic-hmac"
secrets = []
encoding = "hex64"
signed_payload = "{timestamp}.{bdy}"
tolerance = "0s"
event_type = { json = "type" }
max_body = 0

[sources.feed]
preset = "stripe"
secrets = ["x"]
signature_header = "x-sig"
signed_payload = "{timestamp}.{body}"
format = "raw"
event_id = { json = "/id" }

[queues.bulk]
concurrency = 0
global_concurrency = 0
max_attempts = -1
backoff = { base = "2h", max = "1h", jitter = "some" }

[destinations.app]
url = "ftp://example.com/hooks"
secret = "not-a-secret"
timeout = "0s"

[[routes]]
source = ["shop", "nowhere"]
types = ["order.[", "ok.*"]
queue = "missing"
priority = 9
destination = "gone"

[[routes]]
source = "feed"
match = { "/status" = "paid" }
ordering_key = "/customer"
destination = "app"
"#;
    let got = problems(text, no_env());
    let expected = [
        "error: server.colour: unknown key",
        "error: server.listen: invalid address \"localhost\"",
        "error: server.log_format: unknown format \"yaml\"; known: json, text",
        "error: sources.feed.event_id.json: the source has format = \"raw\"",
        "error: sources.feed.signature_header: preset \"stripe\" does not take this key",
        "error: sources.feed.signed_payload: preset \"stripe\" does not take this key",
        "error: sources.feed.event_id: preset \"stripe\" does not take this key",
        "error: sources.feed.format: preset \"stripe\" does not take this key",
        "error: sources.shop.encoding: unknown encoding \"hex64\"; known: hex, base64",
        "error: sources.shop.event_type.json: invalid JSON pointer \"type\"",
        "error: sources.shop.max_body: must be greater than zero",
        "error: sources.shop.secrets: at least one secret is required",
        "error: sources.shop.signature_header: required",
        "error: sources.shop.signed_payload: unknown placeholder {bdy}",
        "error: sources.shop.tolerance: must be greater than zero",
        "error: queues.bulk.concurrency: must be at least 1, not 0",
        "error: queues.bulk.global_concurrency: must be at least 1, not 0",
        "error: queues.bulk.max_attempts: must be at least 1, not -1",
        "error: queues.bulk.backoff: base (2h) is longer than max (1h)",
        "error: queues.bulk.backoff.jitter: unknown jitter \"some\"; known: full, none",
        "error: destinations.app.url: scheme \"ftp\" is not supported",
        "error: destinations.app.secret: not a Standard Webhooks secret",
        "error: destinations.app.timeout: must be greater than zero",
        "error: routes[0].source: unknown source \"nowhere\"; declared: feed, shop",
        "error: routes[0].types[0]: invalid glob \"order.[\"",
        "error: routes[0].queue: unknown queue \"missing\"; declared: bulk, default",
        "error: routes[0].priority: must be 1 (runs first) … 5 (runs last), not 9",
        "error: routes[0].destination: unknown destination \"gone\"; declared: app",
        "error: routes[1].match.\"/status\": source \"feed\" has format = \"raw\"",
        "error: routes[1].ordering_key: source \"feed\" has format = \"raw\"",
    ];
    for want in expected {
        assert!(
            got.iter().any(|line| line.starts_with(want)),
            "missing `{want}` in:\n{}",
            got.join("\n")
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "unexpected extra problems:\n{}",
        got.join("\n")
    );
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    let text = format!(
        "{}\n[queues.q]\nconcurency = 3\nbackoff = {{ bass = \"1s\" }}\n",
        minimal().replace(
            "secrets = \"s3cr3t\"",
            "secret = \"s3cr3t\"\nsecrets = \"s\""
        )
    );
    let text = format!("{text}\n[metrics]\nport = 9100\n");
    let got = problems(&text, no_env());
    assert_eq!(
        got,
        [
            "error: metrics: unknown key; known sections: server, sources, queues, destinations, routes, api, retention, stats",
            "error: queues.q.backoff.bass: unknown key; did you mean `base`?",
            "error: queues.q.concurency: unknown key; did you mean `concurrency`?",
            "error: sources.shop.secret: unknown key; did you mean `secrets`?",
        ]
    );
}

#[test]
fn an_unknown_key_far_from_any_lists_the_known_keys() {
    let got = problems(
        "[destinations.app]\nurl = \"https://a.example\"\nxyzzy = 1\n",
        no_env(),
    );
    assert!(
        got.contains(
            &"error: destinations.app.xyzzy: unknown key; known keys: url, secret, timeout, \
              allow_private_network"
                .to_owned()
        ),
        "{got:#?}"
    );
}

#[test]
fn type_errors_name_the_key_and_every_one_is_reported() {
    let text = format!(
        "{}\n[queues.q]\nconcurrency = \"ten\"\nmax_attempts = 1.5\nlease = 30\n\
         backoff = {{ base = \"1x\", max = true }}\n",
        minimal()
    );
    let got = problems(&text, no_env());
    assert_eq!(
        got,
        [
            "error: queues.q.backoff.base: invalid duration \"1x\": unknown time unit \"x\", \
             supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few \
             variations); write e.g. \"250ms\", \"30s\", \"5m\" or \"24h\"",
            "error: queues.q.backoff.max: invalid type: boolean `true`, expected a duration such \
             as \"250ms\", \"30s\", \"5m\" or \"24h\"",
            "error: queues.q.concurrency: invalid type: string \"ten\", expected i64",
            "error: queues.q.lease: invalid type: integer `30`, expected a duration such as \
             \"250ms\", \"30s\", \"5m\" or \"24h\"",
            "error: queues.q.max_attempts: invalid type: floating point `1.5`, expected i64",
        ]
    );
}

#[test]
fn a_value_of_the_wrong_type_is_not_also_reported_as_missing() {
    let text = minimal().replace("signature_header = \"X-Signature\"", "signature_header = 5");
    let got = problems(&text, no_env());
    assert_eq!(
        got,
        ["error: sources.shop.signature_header: invalid type: integer `5`, expected a string"]
    );
}

#[test]
fn tables_of_the_wrong_shape_are_reported() {
    let got = problems(
        "server = 1\nsources = [1]\n[routes]\nsource = \"a\"\n",
        no_env(),
    );
    assert_eq!(
        got,
        [
            "error: routes: invalid type: table, expected a list of tables (write each route as \
             [[routes]])",
            "error: server: invalid type: integer `1`, expected a table",
            "error: sources: invalid type: array, expected a table of sources ([sources.NAME])",
        ]
    );
    let got = problems("[sources]\nshop = \"x\"\n", no_env());
    assert_eq!(
        got,
        ["error: sources.shop: invalid type: string \"x\", expected a table"]
    );
}

#[test]
fn a_timestamp_that_is_checked_but_not_signed_is_a_warning() {
    let text = minimal().replace(
        "signature_header = \"X-Signature\"",
        "signature_header = \"X-Signature\"\ntimestamp_header = \"X-Timestamp\"",
    );
    let (config, warnings) = ok(&text, no_env());
    assert_eq!(
        warnings,
        [
            "warning: sources.shop.timestamp_header: signed_payload has no {timestamp}: the \
          timestamp is checked but not signed, so a captured request can be replayed with a \
          fresh timestamp"
        ]
    );
    let Verifier::GenericHmac(hmac) = &config.sources["shop"].verify else {
        panic!("a generic-hmac source");
    };
    assert_eq!(hmac.timestamp_header.as_deref(), Some("x-timestamp"));
}

#[test]
fn a_signed_timestamp_needs_a_timestamp_header() {
    let text = minimal().replace(
        "signature_header = \"X-Signature\"",
        "signature_header = \"X-Signature\"\nsigned_payload = \"{timestamp}.{body}\"",
    );
    assert_eq!(
        problems(&text, no_env()),
        [
            "error: sources.shop.signed_payload: uses {timestamp}, but no timestamp_header says \
          where the timestamp is"
        ]
    );
}

#[test]
fn a_source_without_routes_is_a_warning() {
    let text = minimal().replace("source = \"shop\"", "source = [\"shop\"]")
        + "\n[sources.lonely]\npreset = \"generic-hmac\"\nsecrets = \"s\"\nsignature_header = \"x-s\"\n";
    let (_, warnings) = ok(&text, no_env());
    assert_eq!(
        warnings,
        [
            "warning: sources.lonely: no route takes events of this source; events will be stored \
          as unrouted"
        ]
    );
}

#[test]
fn signed_payload_templates_are_parsed() {
    assert_eq!(
        parse_signed_payload("v0:{timestamp}:{body}").unwrap(),
        [
            PayloadPart::Literal("v0:".to_owned()),
            PayloadPart::Timestamp,
            PayloadPart::Literal(":".to_owned()),
            PayloadPart::Body,
        ]
    );
    assert_eq!(
        parse_signed_payload("{id}.{header:X-Shop}{body}").unwrap(),
        [
            PayloadPart::Id,
            PayloadPart::Literal(".".to_owned()),
            PayloadPart::Header("x-shop".to_owned()),
            PayloadPart::Body,
        ]
    );
    for (template, error) in [
        ("{body", "unbalanced `{` at character 1"),
        ("{body}}", "unbalanced `}` at character 7"),
        ("{ {body}", "unbalanced `{` at character 1"),
        ("{bodies}", "unknown placeholder {bodies}"),
        ("{header:}", "{header:}: \"\" is not a valid header name"),
        ("", "must not be empty"),
    ] {
        let got = parse_signed_payload(template).unwrap_err();
        assert!(got.starts_with(error), "{template:?}: {got}");
    }
}

#[test]
fn signing_an_id_needs_event_id_and_not_signing_the_body_is_a_warning() {
    let text = minimal().replace(
        "signature_header = \"X-Signature\"",
        "signature_header = \"X-Signature\"\nsigned_payload = \"{id}\"",
    );
    let got = problems(&text, no_env());
    assert_eq!(
        got,
        [
            "error: sources.shop.signed_payload: uses {id}, but no event_id says where the \
             event id is",
            "warning: sources.shop.signed_payload: has no {body}: the body is not signed, so \
             anyone who captured one request can send any body with its signature",
        ]
    );
}

#[test]
fn the_environment_overrides_the_file() {
    let vars = env(&[
        ("HOOKD_SERVER__LISTEN", "127.0.0.1:9090"),
        ("HOOKD_QUEUES__DEFAULT__CONCURRENCY", "20"),
        // Below the queue's `concurrency` (10) on purpose: that is no problem.
        ("HOOKD_QUEUES__BULK__GLOBAL_CONCURRENCY", "3"),
        (
            "HOOKD_QUEUES__BULK__BACKOFF",
            r#"{ base = "1s", max = "10s", jitter = "none" }"#,
        ),
        ("HOOKD_SOURCES__SHOP__SECRETS", r#"["new", "old"]"#),
        (
            "HOOKD_SOURCES__SHOP__EVENT_TYPE",
            r#"{ header = "X-Topic" }"#,
        ),
        ("HOOKD_SOURCES__SHOP__MAX_BODY", "512KiB"),
        ("HOOKD_ROUTES__0__QUEUE", "bulk"),
        ("HOOKD_URL", "http://127.0.0.1:8080"),
        ("HOOKD_TOKEN", "secret-token"),
        ("HOOKD_LOG", "debug"),
        ("HOOKD_TEST_DATABASE_URL", "postgres://localhost/test"),
    ]);
    let (config, warnings) = ok(&minimal(), vars);
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:9090");
    assert_eq!(config.queues["default"].concurrency, 20);
    assert_eq!(config.queues["default"].global_concurrency, None);
    assert_eq!(config.queues["bulk"].global_concurrency, Some(3));
    assert_eq!(config.queues["bulk"].backoff.max, Duration::from_secs(10));
    assert_eq!(config.queues["bulk"].backoff.jitter, Jitter::None);
    let shop = &config.sources["shop"];
    let Verifier::GenericHmac(hmac) = &shop.verify else {
        panic!("a generic-hmac source");
    };
    assert_eq!(hmac.secrets, ["new", "old"]);
    assert_eq!(
        shop.event_type,
        Some(FieldRef::Header("x-topic".to_owned()))
    );
    assert_eq!(shop.max_body, 512 * 1024);
    assert_eq!(config.routes[0].queue, "bulk");
}

#[test]
fn problems_with_values_from_the_environment_name_the_variable() {
    let vars = env(&[
        ("HOOKD_QUEUES__DEFAULT__CONCURRENCY", "many"),
        ("HOOKD_SERVER__LISTEN__HOST", "x"),
        ("HOOKD_SERVER__LOG_FORMAT", "yaml"),
    ]);
    let got = problems("[server]\nlisten = \"127.0.0.1:1\"\n", vars);
    assert_eq!(
        got,
        [
            "error: HOOKD_SERVER__LISTEN__HOST: `server.listen` is a string, so `host` cannot be \
             set inside it",
            "error: queues.default.concurrency: invalid type: string \"many\", expected i64 (set \
             by HOOKD_QUEUES__DEFAULT__CONCURRENCY)",
            "error: server.log_format: unknown format \"yaml\"; known: json, text (set by \
             HOOKD_SERVER__LOG_FORMAT)",
        ]
    );
}

#[test]
fn raw_sources_cannot_use_json_pointers_but_can_use_headers() {
    let text = minimal().replace(
        "signature_header = \"X-Signature\"",
        "signature_header = \"X-Signature\"\nformat = \"raw\"\nevent_type = { header = \"X-Type\" }",
    );
    let (config, _) = ok(&text, no_env());
    assert_eq!(config.sources["shop"].format, BodyFormat::Raw);

    let text = text.replace(
        "destination = \"app\"",
        "destination = \"app\"\nordering_key = [\"/a\"]",
    );
    assert_eq!(
        problems(&text, no_env()),
        [
            "error: routes[0].ordering_key: source \"shop\" has format = \"raw\": its body is \
          never parsed, so JSON pointers cannot be used"
        ]
    );
}

#[test]
fn route_values_are_read_in_every_form() {
    let text = minimal().replace(
        "destination = \"app\"",
        "destination = \"app\"\nname = \"orders\"\ntypes = \"order.*\"\nordering_key = \"/customer/id\"\n\
         delay = \"1m 30s\"\npriority = 5\n\
         match = { \"/n\" = 1, \"/ok\" = true, \"/tags\" = [\"a\"], \"/obj\" = { k = 1.5 }, \"/a~1b\" = \"x\" }",
    );
    let (config, _) = ok(&text, no_env());
    let route = &config.routes[0];
    assert_eq!(route.name, "orders");
    assert_eq!(route.type_patterns, ["order.*"]);
    assert!(
        route.types.is_match("order.refund.created"),
        "globs cross dots"
    );
    assert_eq!(route.ordering_key, ["/customer/id"]);
    assert_eq!(route.delay, Duration::from_secs(90));
    assert_eq!(route.priority, 5);
    let conditions: std::collections::BTreeMap<_, _> = route.conditions.iter().cloned().collect();
    assert_eq!(conditions["/n"], serde_json::json!(1));
    assert_eq!(conditions["/ok"], serde_json::json!(true));
    assert_eq!(conditions["/tags"], serde_json::json!(["a"]));
    assert_eq!(conditions["/obj"], serde_json::json!({ "k": 1.5 }));
    assert_eq!(conditions["/a~1b"], serde_json::json!("x"));
}

#[test]
fn route_mistakes_are_named() {
    let text = minimal().replace("source = \"shop\"\n", "")
        + "\n[[routes]]\nname = \"routes[0]\"\nsource = \"shop\"\ndestination = \"app\"\n\
           match = { \"status\" = 1, \"/a~2\" = 2 }\nordering_key = [\"/ok\", \"nope\"]\n";
    let got = problems(&text, no_env());
    assert_eq!(
        got,
        [
            "error: routes[0].source: required: the source (or list of sources) whose events \
             this route takes",
            "error: routes[1].match.\"/a~2\": invalid JSON pointer \"/a~2\": '~' must be followed \
             by 0 (for '~') or 1 (for '/')",
            "error: routes[1].match.status: invalid JSON pointer \"status\": it must be \"\" or \
             start with '/', e.g. \"/status\"",
            "error: routes[1].ordering_key[1]: invalid JSON pointer \"nope\": it must be \"\" or \
             start with '/', e.g. \"/nope\"",
            "error: routes[1].name: route name \"routes[0]\" is already used by routes[0]",
        ]
    );
}

#[test]
fn sizes_are_bytes_or_text_with_a_unit() {
    for (value, bytes) in [
        ("2048", 2048),
        ("\"512KiB\"", 512 * 1024),
        ("\"1MiB\"", 1 << 20),
        ("\"1MB\"", 1_000_000),
    ] {
        let text = minimal().replace(
            "signature_header = \"X-Signature\"",
            &format!("signature_header = \"X-Signature\"\nmax_body = {value}"),
        );
        let (config, _) = ok(&text, no_env());
        assert_eq!(config.sources["shop"].max_body, bytes, "{value}");
    }
    let text = minimal().replace(
        "signature_header = \"X-Signature\"",
        "signature_header = \"X-Signature\"\nmax_body = \"lots\"",
    );
    let got = problems(&text, no_env());
    assert!(
        got[0].starts_with("error: sources.shop.max_body: invalid size \"lots\""),
        "{got:#?}"
    );
}

#[test]
fn server_values_are_checked() {
    let text = "[server]\nlisten = \"[::]:8080\"\ndatabase_url = \"mysql://x\"\nlog_level = \"verbose\"\n\
                rescue_interval = \"0s\"\nnode_id = \"\"\n";
    let got = problems(text, no_env());
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got[0].starts_with("error: server.database_url: expected a PostgreSQL URL"));
    assert!(got[1].starts_with("error: server.node_id: must not be empty"));
    assert!(got[2].starts_with("error: server.rescue_interval: must be greater than zero"));
    assert!(got[3].starts_with("error: server.log_level: unknown level \"verbose\""));

    let (config, _) = ok(
        "[server]\nlisten = \"[::]:8080\"\nlog_level = \"info,hookd::dispatch=debug\"\nlog_format = \"text\"\n\
         database_url = \"postgres://h/db\"\nnode_id = \"n1\"\nshutdown_grace = \"0s\"\n",
        no_env(),
    );
    assert_eq!(config.server.listen.port(), 8080);
    assert_eq!(config.server.log_format, LogFormat::Text);
    assert_eq!(config.server.node_id, "n1");
    assert_eq!(config.server.shutdown_grace, Duration::ZERO);
    assert_eq!(
        config.server.database_url.as_deref(),
        Some("postgres://h/db")
    );
}

#[test]
fn database_keys_are_checked() {
    let text = "[server]\ndatabase_url = \"postgres://h/db\"\ndatabase_schema = \"Hookd\"\n\
                database_pool_size = 0\ndatabase_connect_timeout = \"0s\"\n\
                database_statement_timeout = \"0ms\"\n";
    assert_eq!(
        problems(text, no_env()),
        [
            "error: server.database_schema: \"Hookd\" contains 'H'; use lower-case letters, \
             digits and _, not starting with a digit",
            "error: server.database_pool_size: must be at least 1, not 0",
            "error: server.database_connect_timeout: must be greater than zero",
            "error: server.database_statement_timeout: must be greater than zero",
        ]
    );

    for (schema, problem) in [
        ("", "must not be empty"),
        ("1st", "\"1st\" starts with a digit"),
        ("hookd-prod", "\"hookd-prod\" contains '-'"),
        (
            "pg_hookd",
            "names starting with pg_ are reserved by PostgreSQL",
        ),
        (&"s".repeat(50), "must be at most 49 characters, not 50"),
    ] {
        let text = format!("[server]\ndatabase_schema = \"{schema}\"\n");
        let got = problems(&text, no_env());
        assert_eq!(got.len(), 1, "{schema}: {got:#?}");
        assert!(
            got[0].starts_with("error: server.database_schema: ") && got[0].contains(problem),
            "{schema}: {got:#?}"
        );
    }

    let (config, warnings) = ok(
        "[server]\ndatabase_url = \"postgresql://hookd@db/hookd\"\ndatabase_schema = \"hookd_2\"\n\
         database_pool_size = 40\ndatabase_connect_timeout = \"2s\"\n\
         database_statement_timeout = \"1m\"\n",
        no_env(),
    );
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(config.server.database_schema, "hookd_2");
    assert_eq!(config.server.database_pool_size, 40);
    assert_eq!(
        config.server.database_connect_timeout,
        Duration::from_secs(2)
    );
    assert_eq!(
        config.server.database_statement_timeout,
        Duration::from_secs(60)
    );

    let (config, _) = ok(
        "",
        env(&[
            ("HOOKD_SERVER__DATABASE_SCHEMA", "tenant_a"),
            ("HOOKD_SERVER__DATABASE_POOL_SIZE", "4"),
        ]),
    );
    assert_eq!(config.server.database_schema, "tenant_a");
    assert_eq!(config.server.database_pool_size, 4);
}

#[test]
fn field_refs_need_exactly_one_of_json_or_header() {
    let text = minimal().replace(
        "signature_header = \"X-Signature\"",
        "signature_header = \"X-Signature\"\nevent_type = { json = \"/t\", header = \"x-t\" }\nevent_id = {}",
    );
    assert_eq!(
        problems(&text, no_env()),
        [
            "error: sources.shop.event_type: set either json or header, not both",
            "error: sources.shop.event_id: set json = \"/pointer\" or header = \"name\"",
        ]
    );
}

#[test]
fn a_syntax_error_names_its_line_and_column() {
    let got = problems("[server]\nlisten = \n", no_env());
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("error: invalid TOML at line 2, column "),
        "{got:#?}"
    );
}

#[test]
fn load_reads_a_file_and_names_one_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookd.toml");
    std::fs::write(&path, EXAMPLE).unwrap();
    let (config, _) = check::load(&path, no_env()).unwrap();
    assert!(config.sources.contains_key("demo"));

    let missing = dir.path().join("missing.toml");
    let got = lines(&check::load(&missing, no_env()).unwrap_err());
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with(&format!(
            "error: {}: cannot read the configuration file",
            missing.display()
        )),
        "{got:#?}"
    );
}

#[test]
fn problems_display_severity_path_and_message() {
    assert_eq!(
        Problem::error("sources.shop.secrets", "at least one secret is required").to_string(),
        "error: sources.shop.secrets: at least one secret is required"
    );
    assert_eq!(Problem::warning("", "w").to_string(), "warning: w");
}

#[test]
fn a_source_without_preset_is_generic_hmac() {
    let text = minimal().replace("preset = \"generic-hmac\"\n", "");
    let (config, _) = ok(&text, no_env());
    assert!(matches!(
        config.sources["shop"].verify,
        Verifier::GenericHmac(_)
    ));
}

#[test]
fn an_unknown_preset_is_named_with_the_known_ones() {
    let got = problems(
        "[sources.pay]\npreset = \"paypal\"\nsecrets = [\"x\"]\n",
        no_env(),
    );
    assert!(
        got.iter().any(|p| p.starts_with(
            "error: sources.pay.preset: unknown preset \"paypal\"; known: generic-hmac, \
             standard-webhooks, github, meta, stripe, shopify, slack, twilio, highlevel, softpro"
        )),
        "{got:#?}"
    );
}

#[test]
fn highlevel_verifies_with_the_published_keys_unless_told_otherwise() {
    let text = "[sources.ghl]\npreset = \"highlevel\"\n";
    let (config, _) = load_str(text, no_env()).expect("loads");
    let Verifier::HighLevel(preset) = &config.sources["ghl"].verify else {
        panic!("a highlevel source");
    };
    assert_eq!((preset.ed25519.len(), preset.rsa.len()), (1, 1));

    let got = problems(
        "[sources.ghl]\npreset = \"highlevel\"\nsecrets = [\"x\"]\npublic_key_rsa = \"nope\"\n",
        no_env(),
    );
    assert!(
        got.iter().any(|p| p.starts_with(
            "error: sources.ghl.secrets: preset \"highlevel\" verifies with public keys"
        )),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|p| p.starts_with("error: sources.ghl.public_key_rsa[0]: not an RSA public key")),
        "{got:#?}"
    );
}

#[test]
fn twilio_needs_the_public_url_its_signature_covers() {
    let got = problems(
        "[sources.tw]\npreset = \"twilio\"\nsecrets = [\"t\"]\n",
        no_env(),
    );
    assert!(
        got.iter()
            .any(|p| p.starts_with("error: sources.tw.public_url: required")),
        "{got:#?}"
    );
}

// ---- Retention ----

#[test]
fn retention_defaults_and_values() {
    let (config, _) = ok("", no_env());
    let r = config.retention;
    assert_eq!(r.succeeded, Duration::from_secs(7 * 24 * 60 * 60));
    assert_eq!(r.dead, Duration::from_secs(30 * 24 * 60 * 60));
    assert_eq!(r.interval, Duration::from_secs(60));
    assert_eq!(r.batch, 500);

    let (config, warnings) = ok(
        "[retention]\nsucceeded = \"1s\"\ndead = \"1h\"\ninterval = \"200ms\"\nbatch = 7\n",
        no_env(),
    );
    assert!(warnings.is_empty(), "{warnings:#?}");
    let r = config.retention;
    assert_eq!(r.succeeded, Duration::from_secs(1));
    assert_eq!(r.dead, Duration::from_secs(3600));
    assert_eq!(r.interval, Duration::from_millis(200));
    assert_eq!(r.batch, 7);
}

#[test]
fn retention_values_are_checked_with_their_paths() {
    let text = "[retention]\nsucceeded = \"0s\"\ndead = \"0s\"\ninterval = \"0s\"\nbatch = 0\n\
                ttl = \"1d\"\n";
    let got = problems(text, no_env());
    assert_eq!(got.len(), 5, "{got:#?}");
    for expected in [
        "error: retention.succeeded: must be greater than zero",
        "error: retention.dead: must be greater than zero",
        "error: retention.interval: must be greater than zero",
        "error: retention.batch: must be at least 1, not 0",
        "error: retention.ttl: unknown key",
    ] {
        assert!(
            got.iter().any(|p| p.starts_with(expected)),
            "missing {expected:?} in {got:#?}"
        );
    }
}

// ---- Stats ----

#[test]
fn stats_defaults_and_values() {
    let (config, _) = ok(&minimal(), no_env());
    let s = config.stats;
    assert_eq!(s.flush_interval, Duration::from_secs(10));
    assert_eq!(s.minute_rollups, Duration::from_secs(48 * 60 * 60));
    assert_eq!(s.keep, Duration::from_secs(90 * 24 * 60 * 60));
    assert_eq!(config.sources["shop"].expected_interval, None);

    let text = format!(
        "{}\n[stats]\nflush_interval = \"100ms\"\nminute_rollups = \"2h\"\nkeep = \"7d\"\n",
        minimal().replace(
            "secrets = \"s3cr3t\"",
            "secrets = \"s3cr3t\"\nexpected_interval = \"15m\""
        )
    );
    let (config, warnings) = ok(&text, no_env());
    assert!(
        !warnings.iter().any(|w| w.contains("stats")),
        "{warnings:#?}"
    );
    let s = config.stats;
    assert_eq!(s.flush_interval, Duration::from_millis(100));
    assert_eq!(s.minute_rollups, Duration::from_secs(2 * 60 * 60));
    assert_eq!(s.keep, Duration::from_secs(7 * 24 * 60 * 60));
    assert_eq!(
        config.sources["shop"].expected_interval,
        Some(Duration::from_secs(15 * 60))
    );
}

#[test]
fn stats_values_are_checked_with_their_paths() {
    let text = format!(
        "{}\n[stats]\nflush_interval = \"0s\"\nminute_rollups = \"0s\"\nkeep = \"0s\"\n\
         interval = \"1m\"\n",
        minimal().replace(
            "secrets = \"s3cr3t\"",
            "secrets = \"s3cr3t\"\nexpected_interval = \"0s\""
        )
    );
    let got = problems(&text, no_env());
    for expected in [
        "error: sources.shop.expected_interval: must be greater than zero",
        "error: stats.flush_interval: must be greater than zero",
        "error: stats.minute_rollups: must be greater than zero",
        "error: stats.keep: must be greater than zero",
        "error: stats.interval: unknown key",
    ] {
        assert!(
            got.iter().any(|p| p.starts_with(expected)),
            "missing {expected:?} in {got:#?}"
        );
    }

    let got = problems(
        "[stats]\nminute_rollups = \"7d\"\nkeep = \"1d\"\n",
        no_env(),
    );
    assert_eq!(
        got,
        [
            "error: stats.keep: must be at least stats.minute_rollups (7days), or minute rows \
             would be merged into hourly rows that are already deleted"
        ]
    );
}

#[test]
fn an_expected_interval_within_one_flush_is_a_warning() {
    let text = format!(
        "{}\n[stats]\nflush_interval = \"30s\"\n",
        minimal().replace(
            "secrets = \"s3cr3t\"",
            "secrets = \"s3cr3t\"\nexpected_interval = \"20s\""
        )
    );
    let (_, warnings) = ok(&text, no_env());
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "warning: sources.shop.expected_interval: is not longer than stats.flush_interval (30s)"
        )),
        "{warnings:#?}"
    );
}
