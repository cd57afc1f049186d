//! The `HOOKD_*` environment overlay, applied to the parsed file before it is checked.
//!
//! `HOOKD_A__B__C=value` sets the key path `a.b.c`: the name after `HOOKD_` is lower-cased
//! and split at `__` (`HOOKD_SERVER__LISTEN` → `server.listen`,
//! `HOOKD_SOURCES__SHOP__SECRETS` → `sources.shop.secrets`,
//! `HOOKD_ROUTES__0__QUEUE` → `routes[0].queue`). Missing tables on the way are created; a
//! list is indexed by a number, and the index one past its end appends an entry.
//!
//! The value is read as a TOML value when it is one (`8`, `true`, `["a", "b"]`,
//! `{ json = "/type" }`, `"quoted text"`) and taken as a plain string otherwise
//! (`127.0.0.1:9090`, `5m`, `whsec_…`). To pass text that looks like a TOML value as a string
//! (a numeric secret), quote it: `HOOKD_SOURCES__SHOP__SECRETS='"123456"'`.
//!
//! Only variables whose first level is a config section are applied, so that the other
//! `HOOKD_` variables (`HOOKD_URL`, `HOOKD_TOKEN`, `HOOKD_LOG`, `HOOKD_TEST_DATABASE_URL`) never
//! reach the configuration. The functions take the pairs as an argument (`main` passes
//! `std::env::vars()`), so tests never touch the process environment.

use toml::{Table, Value};

use super::check::{Problem, key_path};

/// Prefix of every configuration variable.
pub(crate) const ENV_PREFIX: &str = "HOOKD_";

/// Separator between key levels in a variable name.
pub(crate) const ENV_SEPARATOR: &str = "__";

/// First levels a variable may set; any other `HOOKD_` variable is not configuration.
pub(crate) const ENV_SECTIONS: [&str; 8] = [
    "server",
    "sources",
    "queues",
    "destinations",
    "routes",
    "api",
    "retention",
    "stats",
];

/// One variable that was applied to the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    /// The variable's name, e.g. `HOOKD_SERVER__LISTEN`.
    pub(crate) var: String,
    /// The key path it set, as problems name it, e.g. `server.listen` or `routes[0].queue`.
    pub(crate) path: String,
}

/// Applies every configuration variable of `env` to `table`.
///
/// Shallower paths are applied first, so `HOOKD_SOURCES__SHOP__TENANT` wins over a `tenant`
/// inside `HOOKD_SOURCES__SHOP={ … }` whatever the order of `env`. Returns what was applied
/// (so that problems can name the variable behind a key) and the variables that could not
/// be applied, as errors named by the variable.
pub(crate) fn overlay(
    table: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> (Vec<Applied>, Vec<Problem>) {
    let mut vars: Vec<(Vec<String>, String, String)> = env
        .into_iter()
        .filter_map(|(name, value)| {
            let segments = config_segments(&name)?;
            Some((segments, name, value))
        })
        .collect();
    vars.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.1.cmp(&b.1)));

    let mut applied = Vec::new();
    let mut problems = Vec::new();
    for (segments, var, text) in vars {
        if segments.iter().any(String::is_empty) {
            problems.push(Problem::error(
                var,
                "empty key level: separate levels with exactly two underscores, e.g. \
                 HOOKD_SERVER__LISTEN",
            ));
            continue;
        }
        match set_path(table, &segments, parse_value(&text)) {
            Ok(path) => applied.push(Applied { var, path }),
            Err(message) => problems.push(Problem::error(var, message)),
        }
    }
    (applied, problems)
}

/// The lower-cased key path of a configuration variable; `None` for any other variable.
fn config_segments(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    let segments: Vec<String> = rest
        .split(ENV_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect();
    ENV_SECTIONS
        .contains(&segments[0].as_str())
        .then_some(segments)
}

/// A variable's value: a TOML value when the text is one, else the text as a string.
pub(crate) fn parse_value(text: &str) -> Value {
    text.parse::<Value>()
        .unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Sets `segments` (non-empty) under `table`; returns the path set, in problem notation.
fn set_path(table: &mut Table, segments: &[String], value: Value) -> Result<String, String> {
    let (first, rest) = segments
        .split_first()
        .ok_or_else(|| "empty key path".to_owned())?;
    let path = key_path("", first);
    let Some(next) = rest.first() else {
        table.insert(first.clone(), value);
        return Ok(path);
    };
    let slot = table.entry(first.clone()).or_insert_with(|| {
        // `[[routes]]` is the only list of tables; create it as one so that
        // HOOKD_ROUTES__0__… works on a file without routes.
        if first == "routes" && next.parse::<usize>().is_ok() {
            Value::Array(Vec::new())
        } else {
            Value::Table(Table::new())
        }
    });
    set_in_value(slot, &path, rest, value)
}

/// Sets `segments` (non-empty) inside `slot`, which is at `path`.
fn set_in_value(
    slot: &mut Value,
    path: &str,
    segments: &[String],
    value: Value,
) -> Result<String, String> {
    let (first, rest) = segments
        .split_first()
        .ok_or_else(|| "empty key path".to_owned())?;
    match slot {
        Value::Table(table) => {
            let path = key_path(path, first);
            if rest.is_empty() {
                table.insert(first.clone(), value);
                return Ok(path);
            }
            let child = table
                .entry(first.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            set_in_value(child, &path, rest, value)
        }
        Value::Array(items) => {
            let index: usize = first.parse().map_err(|_| {
                format!("`{path}` is a list: the level after it must be an index, not `{first}`")
            })?;
            if index > items.len() {
                return Err(format!(
                    "`{path}` has {} entries: index {index} is past its end",
                    items.len()
                ));
            }
            let item_path = format!("{path}[{index}]");
            if rest.is_empty() {
                if index == items.len() {
                    items.push(value);
                } else {
                    items[index] = value;
                }
                return Ok(item_path);
            }
            if index == items.len() {
                items.push(Value::Table(Table::new()));
            }
            set_in_value(&mut items[index], &item_path, rest, value)
        }
        other => Err(format!(
            "`{path}` is a {}, so `{first}` cannot be set inside it",
            other.type_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn overlay_on(text: &str, pairs: &[(&str, &str)]) -> (Table, Vec<Applied>, Vec<Problem>) {
        let mut table: Table = toml::from_str(text).unwrap();
        let (applied, problems) = overlay(&mut table, vars(pairs));
        (table, applied, problems)
    }

    #[test]
    fn sets_a_nested_key_over_the_file() {
        let (table, applied, problems) = overlay_on(
            "[server]\nlisten = \"127.0.0.1:8080\"\n",
            &[("HOOKD_SERVER__LISTEN", "127.0.0.1:9090")],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(table["server"]["listen"].as_str(), Some("127.0.0.1:9090"));
        assert_eq!(
            applied,
            vec![Applied {
                var: "HOOKD_SERVER__LISTEN".to_owned(),
                path: "server.listen".to_owned()
            }]
        );
    }

    #[test]
    fn parses_numbers_booleans_lists_and_tables_and_keeps_other_text_as_strings() {
        let (table, _, problems) = overlay_on(
            "",
            &[
                ("HOOKD_QUEUES__DEFAULT__CONCURRENCY", "8"),
                ("HOOKD_DESTINATIONS__APP__ALLOW_PRIVATE_NETWORK", "true"),
                ("HOOKD_SOURCES__SHOP__SECRETS", r#"["a", "b"]"#),
                ("HOOKD_SOURCES__SHOP__EVENT_TYPE", r#"{ json = "/type" }"#),
                ("HOOKD_SOURCES__SHOP__TOLERANCE", "5m"),
                ("HOOKD_SOURCES__SHOP__TENANT", r#""42""#),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            table["queues"]["default"]["concurrency"].as_integer(),
            Some(8)
        );
        assert_eq!(
            table["destinations"]["app"]["allow_private_network"].as_bool(),
            Some(true)
        );
        let secrets: Vec<&str> = table["sources"]["shop"]["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(secrets, ["a", "b"]);
        assert_eq!(
            table["sources"]["shop"]["event_type"]["json"].as_str(),
            Some("/type")
        );
        assert_eq!(table["sources"]["shop"]["tolerance"].as_str(), Some("5m"));
        assert_eq!(table["sources"]["shop"]["tenant"].as_str(), Some("42"));
    }

    #[test]
    fn creates_missing_tables_and_keeps_sibling_keys() {
        let (table, _, problems) = overlay_on(
            "[sources.shop]\npreset = \"generic-hmac\"\n",
            &[
                ("HOOKD_SOURCES__SHOP__SIGNATURE_HEADER", "x-sig"),
                ("HOOKD_QUEUES__BULK__LEASE", "1m"),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            table["sources"]["shop"]["preset"].as_str(),
            Some("generic-hmac")
        );
        assert_eq!(
            table["sources"]["shop"]["signature_header"].as_str(),
            Some("x-sig")
        );
        assert_eq!(table["queues"]["bulk"]["lease"].as_str(), Some("1m"));
    }

    #[test]
    fn ignores_variables_that_are_not_configuration() {
        let (table, applied, problems) = overlay_on(
            "",
            &[
                ("HOOKD_URL", "http://127.0.0.1:8080"),
                ("HOOKD_TOKEN", "t"),
                ("HOOKD_LOG", "debug"),
                ("HOOKD_TEST_DATABASE_URL", "postgres://x"),
                ("HOOKD_OTHER__LISTEN", "x"),
                ("PATH", "/usr/bin"),
                ("SERVER__LISTEN", "x"),
            ],
        );
        assert!(table.is_empty(), "{table:?}");
        assert!(applied.is_empty());
        assert!(problems.is_empty());
    }

    #[test]
    fn indexes_and_appends_routes() {
        let (table, applied, problems) = overlay_on(
            "[[routes]]\nsource = \"a\"\n",
            &[
                ("HOOKD_ROUTES__0__QUEUE", "critical"),
                ("HOOKD_ROUTES__1__SOURCE", "b"),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        let routes = table["routes"].as_array().unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0]["queue"].as_str(), Some("critical"));
        assert_eq!(routes[1]["source"].as_str(), Some("b"));
        assert_eq!(applied[0].path, "routes[0].queue");

        let (table, _, problems) = overlay_on("", &[("HOOKD_ROUTES__0__SOURCE", "a")]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(table["routes"][0]["source"].as_str(), Some("a"));
    }

    #[test]
    fn deeper_variables_win_whatever_the_order() {
        let (table, _, problems) = overlay_on(
            "",
            &[
                ("HOOKD_SOURCES__SHOP__TENANT", "acme"),
                (
                    "HOOKD_SOURCES__SHOP",
                    r#"{ tenant = "other", preset = "generic-hmac" }"#,
                ),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(table["sources"]["shop"]["tenant"].as_str(), Some("acme"));
        assert_eq!(
            table["sources"]["shop"]["preset"].as_str(),
            Some("generic-hmac")
        );
    }

    #[test]
    fn reports_variables_that_cannot_be_applied() {
        let (_, _, problems) = overlay_on(
            "[server]\nlisten = \"127.0.0.1:8080\"\n",
            &[
                ("HOOKD_SERVER__LISTEN__PORT", "1"),
                ("HOOKD_SERVER____LISTEN", "x"),
                ("HOOKD_ROUTES__5__QUEUE", "q"),
            ],
        );
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert!(shown.iter().any(|p| {
            p.starts_with("error: HOOKD_SERVER__LISTEN__PORT: `server.listen` is a string")
        }));
        assert!(
            shown
                .iter()
                .any(|p| p.starts_with("error: HOOKD_SERVER____LISTEN: empty key level"))
        );
        assert!(
            shown
                .iter()
                .any(|p| p.starts_with("error: HOOKD_ROUTES__5__QUEUE: `routes` has 0 entries"))
        );
    }
}
