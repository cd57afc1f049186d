//! Reading columns of result rows: a value of the wrong type or out of range is a
//! [`StoreError::Backend`] naming the column (never "unavailable": retrying cannot fix
//! a row).

use hookd_store::StoreError;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::invalid;

/// The value of `column`.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, StoreError> {
    row.try_get(column)
        .map_err(|err| invalid("reading a row", format!("column {column}: {err}")))
}

/// The value of `column`, converted to the record's narrower type (a priority, an
/// attempt count, a status code).
pub(crate) fn get_as<'a, S, T>(row: &'a Row, column: &str) -> Result<T, StoreError>
where
    S: FromSql<'a> + Copy + std::fmt::Display,
    T: TryFrom<S>,
{
    let value: S = get(row, column)?;
    T::try_from(value).map_err(|_| {
        invalid(
            "reading a row",
            format!("column {column}: {value} is out of range"),
        )
    })
}

/// Like [`get_as`] for a nullable column.
pub(crate) fn get_opt_as<'a, S, T>(row: &'a Row, column: &str) -> Result<Option<T>, StoreError>
where
    S: FromSql<'a> + Copy + std::fmt::Display,
    T: TryFrom<S>,
{
    let value: Option<S> = get(row, column)?;
    value
        .map(|value| {
            T::try_from(value).map_err(|_| {
                invalid(
                    "reading a row",
                    format!("column {column}: {value} is out of range"),
                )
            })
        })
        .transpose()
}
