//! Data moves forward through the stages, never back (DESIGN.md, "Allowed
//! dependencies"): this test reads every file under `crates/hookd/src/<stage>/` and fails
//! on a `crate::` path a stage must not use.
//!
//! - `route` must not use `ingest` or `dispatch`; `targets` must not use `dispatch`.
//! - No stage uses `server`, `runtime`, `cli` or `api`, except that `dispatch` and
//!   `scheduler` may use `crate::runtime::Services`, the shared service context.
//!
//! Paths are found in code and doc comments (an intra-doc link is a reference too), in
//! every form: `use crate::a::B;`, `use crate::{a, b::C};`, `crate::a::f()`. Plain `//`
//! comments are skipped.

use std::path::{Path, PathBuf};

const STAGES: [&str; 5] = ["ingest", "route", "dispatch", "targets", "scheduler"];

/// The `crate::` paths a stage may not start with.
fn forbidden(stage: &str) -> Vec<&'static str> {
    let mut never = vec!["server", "runtime", "cli", "api"];
    match stage {
        "route" => never.extend(["ingest", "dispatch"]),
        "targets" => never.push("dispatch"),
        _ => {}
    }
    never
}

/// Paths allowed although their first segment is forbidden.
fn exceptions(stage: &str) -> &'static [&'static str] {
    match stage {
        "dispatch" | "scheduler" => &["runtime::Services"],
        _ => &[],
    }
}

#[test]
fn no_stage_imports_a_stage_it_must_not_depend_on() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for stage in STAGES {
        let dir = src.join(stage);
        assert!(dir.is_dir(), "stage folder {} is missing", dir.display());
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        assert!(!files.is_empty(), "{} holds no Rust file", dir.display());
        for file in files {
            let text = std::fs::read_to_string(&file).expect("reading a source file");
            for (line, path) in crate_paths(&text) {
                if let Some(problem) = judge(stage, &path) {
                    violations.push(format!(
                        "{}:{line}: crate::{path}: {problem}",
                        file.strip_prefix(&src).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "stages import backwards:\n{}",
        violations.join("\n")
    );
}

/// Why `stage` may not use `crate::{path}`, or `None` when it may.
fn judge(stage: &str, path: &str) -> Option<String> {
    let first = path.split("::").next().unwrap_or_default();
    if !forbidden(stage).contains(&first) {
        return None;
    }
    let allowed = exceptions(stage)
        .iter()
        .any(|ok| path == *ok || path.starts_with(&format!("{ok}::")));
    (!allowed).then(|| format!("`{stage}` must not depend on `{first}`"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("listing a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::` path in `text`, with its 1-based line, group imports expanded
/// (`crate::{a, b::{C, D}}` gives `a`, `b::C`, `b::D`).
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let code: String = text
        .lines()
        .map(strip_plain_comment)
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        let preceded_by_ident = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if preceded_by_ident {
            continue; // `hookd_crate::`, not ours
        }
        let line = code[..start].matches('\n').count() + 1;
        let mut rest = &code[from..];
        for path in use_tree(&mut rest) {
            found.push((line, path));
        }
    }
    found
}

/// A line without its `//` comment, unless that comment is a doc comment.
fn strip_plain_comment(line: &str) -> &str {
    match line.find("//") {
        Some(at) if !line[at..].starts_with("///") && !line[at..].starts_with("//!") => &line[..at],
        _ => line,
    }
}

/// Reads one use tree at the start of `rest` (after `crate::`), advancing past it, and
/// returns the full paths it names.
fn use_tree(rest: &mut &str) -> Vec<String> {
    *rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('{') {
        *rest = inner;
        let mut paths = Vec::new();
        loop {
            *rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                *rest = after;
                return paths;
            }
            if let Some(after) = rest.strip_prefix(',') {
                *rest = after;
                continue;
            }
            if rest.is_empty() {
                return paths;
            }
            let before = rest.len();
            paths.extend(use_tree(rest));
            if rest.len() == before {
                // Not a path (e.g. `*`): step over one character.
                let mut chars = rest.chars();
                chars.next();
                *rest = chars.as_str();
            }
        }
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let ident = &rest[..end];
    *rest = &rest[end..];
    if ident.is_empty() {
        return Vec::new();
    }
    match rest.strip_prefix("::") {
        Some(after) => {
            *rest = after;
            let tails = use_tree(rest);
            if tails.is_empty() {
                vec![ident.to_owned()]
            } else {
                tails.into_iter().map(|t| format!("{ident}::{t}")).collect()
            }
        }
        None => vec![ident.to_owned()],
    }
}

#[test]
fn the_scanner_sees_every_form_of_path() {
    let text = "\
use crate::runtime::Services;
use crate::{dispatch, scheduler::{self, lease}, server};
// use crate::cli; a plain comment is not code
/// See [`x`]: crate::api::Thing
fn f() { crate::targets::http::deliver(); let _ = my_crate::server::X; }
use crate::runtime;
";
    let paths = crate_paths(text);
    let seen: Vec<(usize, &str)> = paths.iter().map(|(l, p)| (*l, p.as_str())).collect();
    assert_eq!(
        seen,
        [
            (1, "runtime::Services"),
            (2, "dispatch"),
            (2, "scheduler::self"),
            (2, "scheduler::lease"),
            (2, "server"),
            (4, "api::Thing"),
            (5, "targets::http::deliver"),
            (6, "runtime"),
        ]
    );
    assert_eq!(judge("dispatch", "runtime::Services"), None);
    assert!(judge("dispatch", "runtime").is_some());
    assert!(judge("dispatch", "runtime::Gateway").is_some());
    assert!(judge("ingest", "runtime::Services").is_some());
    assert!(judge("route", "ingest::IngestError").is_some());
    assert!(judge("targets", "dispatch::backoff").is_some());
    assert_eq!(judge("dispatch", "targets::http::HttpTarget"), None);
    assert_eq!(judge("route", "config::Config"), None);
}
