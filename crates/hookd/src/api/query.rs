//! Reading an operation's query string the way every list operation answers it: each
//! parameter known to the operation and given at most once, each value read by its own
//! parser, and every problem named `query.NAME` in one 400, in the order the query names
//! them.

use std::collections::BTreeMap;

use super::error::{ApiError, FieldProblem};

/// Items per page when `limit` is not given.
pub(super) const LIMIT_DEFAULT: u32 = 100;

/// The most items one page may hold.
pub(super) const LIMIT_MAX: u32 = 1000;

/// The problem with a `cursor` that is not one this API gave out.
pub(super) const NOT_A_CURSOR: &str = "is not a cursor this API gave out (next_cursor)";

/// The parameters of one query string, and the problems found so far.
#[derive(Debug)]
pub(super) struct QueryReader {
    /// Each known parameter's position in the query, and its value.
    values: BTreeMap<String, (usize, String)>,
    /// Each problem with the position of its parameter, which orders them.
    problems: Vec<(usize, FieldProblem)>,
}

impl QueryReader {
    /// Reads `query` (URL-encoded, as received) for an operation whose parameters are
    /// `known`: any other parameter, and a second occurrence of one, is a problem.
    pub(super) fn new(query: Option<&str>, known: &[&str]) -> Self {
        let mut reader = Self {
            values: BTreeMap::new(),
            problems: Vec::new(),
        };
        let mut seen = Vec::new();
        let params = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        for (at, (name, value)) in params.enumerate() {
            if seen.contains(&name) {
                reader.problem(at, &name, "is given more than once");
                continue;
            }
            seen.push(name.clone());
            if known.contains(&&*name) {
                reader
                    .values
                    .insert(name.into_owned(), (at, value.into_owned()));
            } else {
                reader.problem(at, &name, "is not a parameter of this operation");
            }
        }
        reader
    }

    /// The value of `name` as `parse` reads it; `None` when it is not given or `parse`
    /// refuses it, which is then a problem with `parse`'s message.
    pub(super) fn get<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (at, value) = self.values.remove(name)?;
        match parse(&value) {
            Ok(parsed) => Some(parsed),
            Err(problem) => {
                self.problem(at, name, problem);
                None
            }
        }
    }

    /// Adds a problem of `name` that the operation finds among values read well, such as
    /// two that contradict each other; it comes after the problems of the query itself.
    pub(super) fn refuse(&mut self, name: &str, problem: impl Into<String>) {
        self.problem(usize::MAX, name, problem);
    }

    /// `Ok` when no problem was found, else 400 naming every one.
    pub(super) fn finish(mut self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            self.problems.sort_by_key(|(at, _)| *at);
            Err(ApiError::Invalid(
                self.problems.into_iter().map(|(_, p)| p).collect(),
            ))
        }
    }

    fn problem(&mut self, at: usize, name: &str, problem: impl Into<String>) {
        let problem = FieldProblem {
            path: format!("query.{name}"),
            problem: problem.into(),
        };
        self.problems.push((at, problem));
    }
}

/// `limit`: a whole number of items per page, 1 to [`LIMIT_MAX`].
pub(super) fn limit(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=LIMIT_MAX).contains(n))
        .ok_or_else(|| format!("`{text}` is not a whole number from 1 to {LIMIT_MAX}"))
}

/// `cursor` of a listing paged by id: a positive id written in digits.
pub(super) fn id_cursor(text: &str) -> Result<i64, String> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0'))
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| NOT_A_CURSOR.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(reader: QueryReader) -> Vec<(String, String)> {
        match reader.finish() {
            Ok(()) => Vec::new(),
            Err(ApiError::Invalid(problems)) => {
                problems.into_iter().map(|p| (p.path, p.problem)).collect()
            }
            Err(other) => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn known_parameters_are_read_by_their_parsers() {
        let mut reader = QueryReader::new(Some("n=7&name=a%20b"), &["n", "name", "absent"]);
        assert_eq!(
            reader.get("n", |v| v.parse::<u8>().map_err(|e| e.to_string())),
            Some(7)
        );
        assert_eq!(
            reader.get("name", |v| Ok::<_, String>(v.to_owned())),
            Some("a b".to_owned())
        );
        assert_eq!(
            reader.get("absent", |v| Ok::<_, String>(v.to_owned())),
            None
        );
        assert!(problems(reader).is_empty());
    }

    #[test]
    fn unknown_repeated_and_refused_parameters_are_each_named() {
        let mut reader = QueryReader::new(Some("n=x&n=1&other=2"), &["n"]);
        assert_eq!(
            reader.get("n", |_| Err::<u8, _>("is not a number".to_owned())),
            None
        );
        assert_eq!(
            problems(reader),
            [
                ("query.n".to_owned(), "is not a number".to_owned()),
                ("query.n".to_owned(), "is given more than once".to_owned()),
                (
                    "query.other".to_owned(),
                    "is not a parameter of this operation".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn limits_and_id_cursors_are_read() {
        assert_eq!(limit("1000"), Ok(1000));
        assert!(limit("0").is_err() && limit("1001").is_err());
        assert_eq!(id_cursor("42"), Ok(42));
        for bad in ["", "0", "07", "-1", "+1", "abc", "99999999999999999999"] {
            assert_eq!(id_cursor(bad), Err(NOT_A_CURSOR.to_owned()), "{bad:?}");
        }
    }
}
