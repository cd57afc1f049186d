//! Cursor pages: every listing asks the store for one row more than the page, which tells
//! whether another page follows without a second query.

/// Cuts `rows` (fetched with `limit + 1`) down to the page and returns the cursor of the
/// next page, the last row's `cursor`, when the extra row came back or `more` says there is
/// more anyway.
pub(super) fn cut<T>(
    rows: &mut Vec<T>,
    limit: u32,
    more: bool,
    cursor: impl Fn(&T) -> String,
) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let follows = more || rows.len() > limit;
    rows.truncate(limit);
    if follows {
        rows.last().map(cursor)
    } else {
        None
    }
}
