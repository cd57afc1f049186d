//! Configuration objects stored through the API, laid over the file.
//!
//! The effective configuration is the file (after the `HOOKD_*` overlay) with every
//! stored object on top: a stored source, queue or destination replaces the file's table
//! of that name whole, a stored route replaces the file's route of that `name`, and a
//! deleted object (stored without a body) hides the file's. File routes without a `name`
//! are named `routes[N]` by their place in the file, as the check names them, and that
//! name is written into them here so that it stays theirs whatever is removed before
//! them.
//!
//! The merge happens on the TOML table, before it is read: an object from the API goes
//! through exactly the reading and the checks of the file (unknown keys, types, every
//! semantic check, cross-references), and its problems carry the file's key paths, which
//! [`locate`] turns into JSON pointers into the object.

use std::sync::Arc;

use hookd_store::{ConfigKind, ConfigObject};
use toml::{Table, Value};

use super::Config;
use super::check::{self, Checker, Problem, key_path};
use super::read::read_raw;

/// Every kind of object the API edits, in the order the configuration lists them.
pub(crate) const KINDS: [ConfigKind; 4] = [
    ConfigKind::Source,
    ConfigKind::Route,
    ConfigKind::Queue,
    ConfigKind::Destination,
];

/// The sections an edit is checked without: they are not editable, were checked when the
/// node started, and their checks read files and the host name.
const FIXED_SECTIONS: [&str; 2] = ["server", "api"];

/// The section of the file that holds objects of `kind`.
pub(crate) fn section(kind: ConfigKind) -> &'static str {
    match kind {
        ConfigKind::Source => "sources",
        ConfigKind::Route => "routes",
        ConfigKind::Queue => "queues",
        ConfigKind::Destination => "destinations",
    }
}

/// Lays `objects` over `table` (the file after the `HOOKD_*` overlay).
///
/// # Errors
///
/// One problem per stored object whose body is not a JSON object, named by its key path.
pub(crate) fn apply(table: &mut Table, objects: &[ConfigObject]) -> Result<(), Vec<Problem>> {
    name_routes(table);
    let mut problems = Vec::new();
    for object in objects {
        let body = match object.body.as_deref().map(parse_body).transpose() {
            Ok(body) => body,
            Err(message) => {
                problems.push(Problem::error(
                    key_path(section(object.kind), &object.name),
                    format!("the object stored through the API cannot be read: {message}"),
                ));
                continue;
            }
        };
        set(table, object.kind, &object.name, body);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A stored body as a TOML table.
fn parse_body(text: &str) -> Result<Table, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(map) = json else {
        return Err("it is not a JSON object".to_owned());
    };
    table_from_json(&map).map_err(|problems| {
        problems
            .into_iter()
            .map(|(pointer, message)| format!("{pointer}: {message}"))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Writes `name = "routes[N]"` into every route of the file that has no name.
fn name_routes(table: &mut Table) {
    let Some(Value::Array(routes)) = table.get_mut(section(ConfigKind::Route)) else {
        return;
    };
    for (i, route) in routes.iter_mut().enumerate() {
        if let Value::Table(route) = route {
            route
                .entry("name")
                .or_insert_with(|| Value::String(format!("routes[{i}]")));
        }
    }
}

/// Sets the object `kind`/`name` of `table` to `body`, or removes it when `None`.
pub(crate) fn set(table: &mut Table, kind: ConfigKind, name: &str, body: Option<Table>) {
    let at = section(kind);
    if kind == ConfigKind::Route {
        let routes = match table.entry(at).or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(routes) => routes,
            other => {
                *other = Value::Array(Vec::new());
                let Value::Array(routes) = other else {
                    unreachable!("just set to an array")
                };
                routes
            }
        };
        let place = route_index(routes, name);
        match (place, body) {
            (Some(i), Some(mut body)) => {
                body.insert("name".to_owned(), Value::String(name.to_owned()));
                routes[i] = Value::Table(body);
            }
            (None, Some(mut body)) => {
                body.insert("name".to_owned(), Value::String(name.to_owned()));
                routes.push(Value::Table(body));
            }
            (Some(i), None) => {
                routes.remove(i);
            }
            (None, None) => {}
        }
        return;
    }
    let objects = match table
        .entry(at)
        .or_insert_with(|| Value::Table(Table::new()))
    {
        Value::Table(objects) => objects,
        other => {
            *other = Value::Table(Table::new());
            let Value::Table(objects) = other else {
                unreachable!("just set to a table")
            };
            objects
        }
    };
    match body {
        Some(body) => {
            objects.insert(name.to_owned(), Value::Table(body));
        }
        None => {
            objects.remove(name);
        }
    }
}

/// The name of the route at `i`: its `name`, or `routes[N]`.
fn route_name(route: &Value, i: usize) -> String {
    route
        .get("name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("routes[{i}]"), str::to_owned)
}

/// The place of the route `name` among `routes`.
fn route_index(routes: &[Value], name: &str) -> Option<usize> {
    routes
        .iter()
        .enumerate()
        .position(|(i, route)| route_name(route, i) == name)
}

/// Every object of `kind` in `table` with its name: routes in their order, the others
/// by name.
pub(crate) fn entries(table: &Table, kind: ConfigKind) -> Vec<(String, &Table)> {
    match (kind, table.get(section(kind))) {
        (ConfigKind::Route, Some(Value::Array(routes))) => routes
            .iter()
            .enumerate()
            .filter_map(|(i, route)| Some((route_name(route, i), route.as_table()?)))
            .collect(),
        (ConfigKind::Route, _) => Vec::new(),
        (_, Some(Value::Table(objects))) => objects
            .iter()
            .filter_map(|(name, object)| Some((name.clone(), object.as_table()?)))
            .collect(),
        (_, _) => Vec::new(),
    }
}

/// The object `kind`/`name` of `table`.
pub(crate) fn object<'a>(table: &'a Table, kind: ConfigKind, name: &str) -> Option<&'a Table> {
    entries(table, kind)
        .into_iter()
        .find_map(|(n, object)| (n == name).then_some(object))
}

/// Reads and checks a whole configuration table, as `hookd config check` does a file.
///
/// # Errors
///
/// Every problem, errors and warnings, when there is at least one error.
pub(crate) fn check_table(table: Table) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
    let file = Arc::new(table.clone());
    let mut cx = Checker::default();
    let (raw, declared) = read_raw(table, &mut cx);
    let config = check::build(&raw, &declared, file, &mut cx);
    match config {
        Some(config) if !cx.problems.iter().any(Problem::is_error) => Ok((config, cx.problems)),
        _ => Err(cx.problems),
    }
}

/// The effective configuration of `config` (loaded from the file) with `objects` laid
/// over it, as TOML text that `hookd config check` accepts, secrets included.
///
/// # Errors
///
/// Every problem, when the objects do not fit the file.
pub(crate) fn export(config: &Config, objects: &[ConfigObject]) -> Result<String, Vec<Problem>> {
    let mut merged = (*config.file).clone();
    apply(&mut merged, objects)?;
    check_table(merged.clone())?;
    Ok(toml::to_string(&merged)
        .unwrap_or_else(|e| unreachable!("a table read from TOML and JSON is TOML again: {e}")))
}

/// `table` without the sections an edit is not checked with ([`FIXED_SECTIONS`]).
pub(crate) fn for_edits(table: &Table) -> Table {
    table
        .iter()
        .filter(|(key, _)| !FIXED_SECTIONS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Reads a key path as the check writes it (`sources.shop.secrets[0]`,
/// `routes[2].match."/status"`); `None` for anything else (a file or variable name).
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut chars = path.chars().peekable();
    let mut first = true;
    while let Some(&c) = chars.peek() {
        match c {
            '[' => {
                chars.next();
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                if chars.next() != Some(']') {
                    return None;
                }
                segments.push(Segment::Index(digits.parse().ok()?));
            }
            '.' if !first => {
                chars.next();
                segments.push(Segment::Key(read_key(&mut chars)?));
            }
            _ if first => segments.push(Segment::Key(read_key(&mut chars)?)),
            _ => return None,
        }
        first = false;
    }
    Some(segments)
}

/// One key: bare, or quoted as `{key:?}` writes it.
fn read_key(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut key = String::new();
    if chars.next_if_eq(&'"').is_none() {
        while let Some(c) = chars.next_if(|c| !matches!(c, '.' | '[')) {
            key.push(c);
        }
        return (!key.is_empty()).then_some(key);
    }
    loop {
        match chars.next()? {
            '"' => return Some(key),
            '\\' => key.push(match chars.next()? {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                '0' => '\0',
                'u' => {
                    chars.next_if_eq(&'{')?;
                    let mut hex = String::new();
                    while let Some(h) = chars.next_if(|c| *c != '}') {
                        hex.push(h);
                    }
                    chars.next()?;
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                }
                other => other,
            }),
            c => key.push(c),
        }
    }
}

/// Writes segments back as a key path.
fn render(segments: &[Segment]) -> String {
    segments
        .iter()
        .fold(String::new(), |path, segment| match segment {
            Segment::Key(key) => key_path(&path, key),
            Segment::Index(i) => format!("{path}[{i}]"),
        })
}

/// The segments that lead to the object `kind`/`name` of `table`.
fn object_segments(table: &Table, kind: ConfigKind, name: &str) -> Option<Vec<Segment>> {
    let at = Segment::Key(section(kind).to_owned());
    if kind != ConfigKind::Route {
        return Some(vec![at, Segment::Key(name.to_owned())]);
    }
    let Some(Value::Array(routes)) = table.get(section(kind)) else {
        return None;
    };
    Some(vec![at, Segment::Index(route_index(routes, name)?)])
}

/// The object of `table` a problem at `path` lies in, as (kind, name).
pub(crate) fn owner(table: &Table, path: &str) -> Option<(ConfigKind, String)> {
    let segments = parse_path(path)?;
    let kind = KINDS.into_iter().find(
        |kind| matches!(segments.first(), Some(Segment::Key(key)) if key == section(*kind)),
    )?;
    match (kind, segments.get(1)?) {
        (ConfigKind::Route, Segment::Index(i)) => {
            let routes = table.get(section(kind))?.as_array()?;
            Some((kind, route_name(routes.get(*i)?, *i)))
        }
        (ConfigKind::Route, Segment::Key(_)) | (_, Segment::Index(_)) => None,
        (_, Segment::Key(name)) => Some((kind, name.clone())),
    }
}

/// Where a problem at `path` lies, for an edit of the object `kind`/`name` of `table`: a
/// JSON pointer into that object (`/secrets/0`; `path.name` for its name itself), or
/// else the key path in the configuration, with routes named by their name
/// (`routes."paid orders".queue`) rather than by their place.
pub(crate) fn locate(table: &Table, kind: ConfigKind, name: &str, path: &str) -> String {
    let Some(segments) = parse_path(path) else {
        return path.to_owned();
    };
    if let Some(prefix) = object_segments(table, kind, name)
        && let Some(rest) = segments.strip_prefix(prefix.as_slice())
    {
        if rest.is_empty() {
            return "path.name".to_owned();
        }
        return rest.iter().fold(String::new(), |pointer, segment| {
            let token = match segment {
                Segment::Key(key) => key.replace('~', "~0").replace('/', "~1"),
                Segment::Index(i) => i.to_string(),
            };
            format!("{pointer}/{token}")
        });
    }
    let routes = section(ConfigKind::Route);
    match segments.as_slice() {
        [Segment::Key(first), Segment::Index(_), rest @ ..] if first == routes => {
            match owner(table, path) {
                Some((_, route)) => {
                    let mut named = vec![Segment::Key(first.clone()), Segment::Key(route)];
                    named.extend_from_slice(rest);
                    render(&named)
                }
                None => path.to_owned(),
            }
        }
        _ => path.to_owned(),
    }
}

/// A JSON object as a TOML table; every value TOML cannot hold is named by its JSON
/// pointer. A key whose value is `null`, at any depth, is left out, as the documented
/// schemas allow: it takes its default.
///
/// # Errors
///
/// `(pointer, problem)` for each `null` in a list and each number TOML cannot hold.
pub(crate) fn table_from_json(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<Table, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let table = map
        .iter()
        .filter(|(_, value)| !value.is_null())
        .filter_map(|(key, value)| {
            let pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
            Some((key.clone(), json_to_toml(value, &pointer, &mut problems)?))
        })
        .collect();
    if problems.is_empty() {
        Ok(table)
    } else {
        Err(problems)
    }
}

fn json_to_toml(
    value: &serde_json::Value,
    pointer: &str,
    problems: &mut Vec<(String, String)>,
) -> Option<Value> {
    use serde_json::Value as J;
    Some(match value {
        J::Null => {
            problems.push((
                pointer.to_owned(),
                "null is not a value a list may hold".to_owned(),
            ));
            return None;
        }
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            (None, Some(f)) if n.is_f64() => Value::Float(f),
            _ => {
                problems.push((
                    pointer.to_owned(),
                    format!("{n} is too large; numbers must fit a signed 64-bit integer"),
                ));
                return None;
            }
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| json_to_toml(item, &format!("{pointer}/{i}"), problems))
                .collect(),
        ),
        J::Object(map) => Value::Table(
            map.iter()
                .filter(|(_, item)| !item.is_null())
                .filter_map(|(key, item)| {
                    let at = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                    Some((key.clone(), json_to_toml(item, &at, problems)?))
                })
                .collect(),
        ),
    })
}

/// A TOML table as a JSON object (dates and times as their TOML text).
pub(crate) fn table_to_json(table: &Table) -> serde_json::Map<String, serde_json::Value> {
    match check::toml_to_json(&Value::Table(table.clone())) {
        Ok(serde_json::Value::Object(map)) => map,
        // Only a float JSON cannot hold (NaN, infinity) fails; no key takes one.
        _ => table
            .iter()
            .map(|(key, value)| {
                let json = check::toml_to_json(value)
                    .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
                (key.clone(), json)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: ConfigKind, name: &str, body: Option<&str>) -> ConfigObject {
        ConfigObject {
            kind,
            name: name.to_owned(),
            body: body.map(str::to_owned),
            updated_at: 0,
            updated_by: "test".to_owned(),
        }
    }

    fn file() -> Table {
        toml::from_str(
            r#"
            [sources.shop]
            secrets = ["s"]
            signature_header = "x-signature"

            [[routes]]
            source = "shop"
            destination = "app"

            [[routes]]
            name = "paid"
            source = "shop"
            destination = "app"

            [[routes]]
            source = "shop"
            destination = "app"
            "#,
        )
        .expect("valid TOML")
    }

    fn route_names(table: &Table) -> Vec<String> {
        entries(table, ConfigKind::Route)
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn unnamed_file_routes_keep_their_place_names_when_one_before_them_is_deleted() {
        let mut table = file();
        apply(&mut table, &[object(ConfigKind::Route, "routes[0]", None)]).expect("applies");
        assert_eq!(route_names(&table), ["paid", "routes[2]"]);
    }

    #[test]
    fn a_stored_object_replaces_the_files_whole_and_a_new_route_comes_last() {
        let mut table = file();
        apply(
            &mut table,
            &[
                object(ConfigKind::Source, "shop", Some(r#"{"secrets": ["new"]}"#)),
                object(ConfigKind::Route, "later", Some(r#"{"source": "shop"}"#)),
                object(ConfigKind::Route, "paid", Some(r#"{"source": "other"}"#)),
            ],
        )
        .expect("applies");
        let shop = super::object(&table, ConfigKind::Source, "shop").expect("shop");
        assert_eq!(shop.get("signature_header"), None);
        assert_eq!(
            route_names(&table),
            ["routes[0]", "paid", "routes[2]", "later"]
        );
        let paid = super::object(&table, ConfigKind::Route, "paid").expect("paid");
        assert_eq!(paid.get("source").and_then(Value::as_str), Some("other"));
    }

    #[test]
    fn a_stored_body_that_is_not_an_object_is_a_problem_named_by_its_key_path() {
        let mut table = file();
        let problems = apply(
            &mut table,
            &[object(ConfigKind::Queue, "bulk", Some("[1]"))],
        )
        .expect_err("not an object");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "queues.bulk");
    }

    #[test]
    fn problems_in_the_edited_object_are_json_pointers_and_others_name_routes() {
        let table = file();
        let source = |path| locate(&table, ConfigKind::Source, "shop", path);
        assert_eq!(source("sources.shop.secrets[0]"), "/secrets/0");
        assert_eq!(source("sources.shop"), "path.name");
        assert_eq!(
            source("routes[1].match.\"/a~b\""),
            "routes.paid.match.\"/a~b\""
        );
        let route = |path| locate(&table, ConfigKind::Route, "paid", path);
        assert_eq!(route("routes[1].match.\"/a~b\""), "/match/~1a~0b");
        assert_eq!(route("routes[0].queue"), "routes.\"routes[0]\".queue");
        assert_eq!(route("HOOKD_X"), "HOOKD_X");
    }

    #[test]
    fn the_owner_of_a_problem_is_found_by_kind_and_name() {
        let table = file();
        assert_eq!(
            owner(&table, "routes[1].destination"),
            Some((ConfigKind::Route, "paid".to_owned()))
        );
        assert_eq!(
            owner(&table, "queues.\"a.b\".lease"),
            Some((ConfigKind::Queue, "a.b".to_owned()))
        );
        assert_eq!(owner(&table, "server.listen"), None);
    }

    #[test]
    fn null_keys_are_left_out_and_nulls_in_lists_and_huge_numbers_are_named_by_pointer() {
        let json = serde_json::json!({
            "a": null, "b": [1, null], "c": u64::MAX, "d": 1.5, "e": {"f": null, "g": 1}
        });
        let problems = table_from_json(json.as_object().expect("an object")).expect_err("bad");
        let pointers: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(pointers, ["/b/1", "/c"]);

        let json = serde_json::json!({"a": null, "e": {"f": null, "g": 1}});
        let table = table_from_json(json.as_object().expect("an object")).expect("no problem");
        assert_eq!(table.to_string().trim(), "[e]\ng = 1");
    }
}
