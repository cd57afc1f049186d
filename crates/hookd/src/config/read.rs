//! First half of the check: the parsed (and overlaid) TOML table → [`RawConfig`], reporting
//! every unknown key and every value of the wrong type with its key path.
//!
//! Each section and each source, queue, destination and route is deserialized on its own,
//! so that a mistake in one does not hide those in the others. Inside one entry, a value
//! of the wrong type is reported (`serde_path_to_error` names it), removed, and the entry
//! read again, until it reads; so one entry reports all its type errors too. Unknown keys
//! are collected with `serde_ignored` rather than `deny_unknown_fields`, which would stop at
//! the first, and each is reported with the closest known key or the list of known keys.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::check::{Checker, key_path};
use super::raw::{
    RawApi, RawBackoff, RawConfig, RawFieldRef, RawQueue, RawRetention, RawServer, RawSource,
    RawStats,
};

/// How many type errors one entry may report before the rest of it is skipped.
const MAX_TYPE_ERRORS_PER_ENTRY: usize = 32;

/// Names declared in the file, whether or not their tables could be read: cross-references
/// are checked against these, so that a broken `[queues.bulk]` is not also reported as an
/// unknown queue by every route using it.
#[derive(Debug, Default)]
pub(super) struct Declared {
    pub(super) sources: BTreeSet<String>,
    pub(super) queues: BTreeSet<String>,
    pub(super) destinations: BTreeSet<String>,
}

/// Reads every section of `table`; problems go to `cx`.
pub(super) fn read_raw(table: Table, cx: &mut Checker) -> (RawConfig, Declared) {
    let mut raw = RawConfig::default();
    let mut declared = Declared::default();
    for (key, value) in table {
        match key.as_str() {
            "server" => {
                if let Some(server) = read_entry::<RawServer>(value, "server", cx) {
                    raw.server = server;
                }
            }
            "api" => {
                if let Some(api) = read_entry::<RawApi>(value, "api", cx) {
                    raw.api = api;
                }
            }
            "retention" => {
                if let Some(retention) = read_entry::<RawRetention>(value, "retention", cx) {
                    raw.retention = retention;
                }
            }
            "stats" => {
                if let Some(stats) = read_entry::<RawStats>(value, "stats", cx) {
                    raw.stats = stats;
                }
            }
            "sources" => {
                raw.sources = read_named(value, "sources", "source", cx, &mut declared.sources);
            }
            "queues" => {
                raw.queues = read_named(value, "queues", "queue", cx, &mut declared.queues);
            }
            "destinations" => {
                raw.destinations = read_named(
                    value,
                    "destinations",
                    "destination",
                    cx,
                    &mut declared.destinations,
                );
            }
            "routes" => match value {
                Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        let path = format!("routes[{i}]");
                        // A route that cannot be read at all keeps its place, so that the
                        // default names `routes[N]` stay aligned with the file.
                        raw.routes
                            .push(read_entry(item, &path, cx).unwrap_or_default());
                    }
                }
                other => cx.error(
                    "routes",
                    format!(
                        "invalid type: {}, expected a list of tables (write each route as \
                         [[routes]])",
                        other.type_str()
                    ),
                ),
            },
            _ => cx.error(
                key_path("", &key),
                "unknown key; known sections: server, sources, queues, destinations, routes, api, \
                 retention, stats",
            ),
        }
    }
    (raw, declared)
}

/// Reads `[section.NAME]` tables, recording each declared name.
fn read_named<T: DeserializeOwned + Default + 'static>(
    value: Value,
    section: &str,
    what: &str,
    cx: &mut Checker,
    names: &mut BTreeSet<String>,
) -> BTreeMap<String, T> {
    let Value::Table(table) = value else {
        cx.error(
            section,
            format!(
                "invalid type: {}, expected a table of {what}s ([{section}.NAME])",
                value.type_str()
            ),
        );
        return BTreeMap::new();
    };
    let mut entries = BTreeMap::new();
    for (name, value) in table {
        let path = key_path(section, &name);
        names.insert(name.clone());
        if let Some(entry) = read_entry::<T>(value, &path, cx) {
            entries.insert(name, entry);
        }
    }
    entries
}

/// Deserializes one entry at `path`, reporting every unknown key and every value of the
/// wrong type (each is dropped and the entry read again). `None` when the entry itself has
/// the wrong type.
fn read_entry<T: DeserializeOwned + 'static>(
    mut value: Value,
    path: &str,
    cx: &mut Checker,
) -> Option<T> {
    let mut unknown: BTreeSet<Vec<Segment>> = BTreeSet::new();
    let mut result = None;
    for _ in 0..MAX_TYPE_ERRORS_PER_ENTRY {
        let mut ignored = Vec::new();
        let mut on_ignored = |p: serde_ignored::Path<'_>| ignored.push(ignored_segments(&p));
        let outcome = serde_path_to_error::deserialize::<_, T>(serde_ignored::Deserializer::new(
            value.clone(),
            &mut on_ignored,
        ));
        unknown.extend(ignored);
        match outcome {
            Ok(entry) => {
                result = Some(entry);
                break;
            }
            Err(e) => {
                let segments = error_segments(e.path());
                cx.error(
                    segments_path(path, &segments),
                    e.inner().message().trim_end(),
                );
                match drop_value(&mut value, &segments) {
                    Some(dropped) => cx.dropped.push(segments_path(path, &segments[..dropped])),
                    None => break,
                }
            }
        }
    }
    for segments in unknown {
        let message = unknown_key_message::<T>(&segments);
        cx.error(segments_path(path, &segments), message);
    }
    result
}

/// One step of a key path inside an entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Key(String),
    Index(usize),
}

fn segments_path(prefix: &str, segments: &[Segment]) -> String {
    segments
        .iter()
        .fold(prefix.to_owned(), |path, segment| match segment {
            Segment::Key(key) => key_path(&path, key),
            Segment::Index(i) => format!("{path}[{i}]"),
        })
}

fn error_segments(path: &serde_path_to_error::Path) -> Vec<Segment> {
    use serde_path_to_error::Segment as S;
    let mut segments = Vec::new();
    for segment in path {
        match segment {
            S::Map { key } => segments.push(Segment::Key(key.clone())),
            S::Seq { index } => segments.push(Segment::Index(*index)),
            S::Enum { .. } => {}
            S::Unknown => break,
        }
    }
    segments
}

fn ignored_segments(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    use serde_ignored::Path as P;
    let mut segments = Vec::new();
    let mut at = path;
    loop {
        match at {
            P::Root => break,
            P::Seq { parent, index } => {
                segments.push(Segment::Index(*index));
                at = parent;
            }
            P::Map { parent, key } => {
                segments.push(Segment::Key(key.clone()));
                at = parent;
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                at = parent;
            }
        }
    }
    segments.reverse();
    segments
}

/// Removes the innermost table key on `segments` from `value`; returns how many segments
/// lead to it, or `None` when nothing can be removed.
fn drop_value(value: &mut Value, segments: &[Segment]) -> Option<usize> {
    let last_key = segments
        .iter()
        .rposition(|s| matches!(s, Segment::Key(_)))?;
    let mut at = value;
    for segment in &segments[..last_key] {
        at = match (segment, at) {
            (Segment::Key(key), Value::Table(table)) => table.get_mut(key)?,
            (Segment::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    let (Segment::Key(key), Value::Table(table)) = (&segments[last_key], at) else {
        return None;
    };
    table.remove(key)?;
    Some(last_key + 1)
}

/// "unknown key", with the closest known key or the list of known keys of the table it
/// is in.
fn unknown_key_message<T: DeserializeOwned + 'static>(segments: &[Segment]) -> String {
    let Some(Segment::Key(key)) = segments.last() else {
        return "unknown key".to_owned();
    };
    let parent: Vec<&str> = segments[..segments.len() - 1]
        .iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
        .collect();
    let known = known_keys::<T>(&parent);
    if known.is_empty() {
        return "unknown key".to_owned();
    }
    match known.iter().find(|k| is_close(key, k)) {
        Some(close) => format!("unknown key; did you mean `{close}`?"),
        None => format!("unknown key; known keys: {}", known.join(", ")),
    }
}

/// The keys of the table at `parent` inside an entry of type `T`.
fn known_keys<T: DeserializeOwned + 'static>(parent: &[&str]) -> &'static [&'static str] {
    use std::any::TypeId;
    let t = TypeId::of::<T>();
    match parent {
        [] => probe::fields::<T>(),
        ["event_type" | "event_id"] if t == TypeId::of::<RawSource>() => {
            probe::fields::<RawFieldRef>()
        }
        ["backoff"] if t == TypeId::of::<RawQueue>() => probe::fields::<RawBackoff>(),
        _ => &[],
    }
}

/// Whether `a` is probably a misspelling of `b`: one edit apart, or one is the other plus
/// a letter or two (`secret` for `secrets`).
fn is_close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()] <= 2.min(a.len().min(b.len()) / 3 + 1)
}

/// Learns the field names of a derived struct from its `Deserialize` impl.
mod probe {
    use serde::de::{self, Deserialize, Visitor};
    use serde::forward_to_deserialize_any;

    /// The field names `T` asks for in `deserialize_struct`; empty if `T` is not a struct.
    pub(super) fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(Probe {
            fields: &mut fields,
        });
        fields
    }

    struct Probe<'a> {
        fields: &'a mut &'static [&'static str],
    }

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("probe"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.fields = fields;
            Err(de::Error::custom("probe"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
}
