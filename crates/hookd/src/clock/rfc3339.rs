//! RFC 3339 date-times, the ISO-8601 profile providers write their times in
//! (`2025-04-22T19:30:00.000000000Z`, `2025-04-22T14:30:00-05:00`), turned into unix
//! milliseconds and back: the `occurred_at` of `standard-webhooks`, `shopify` and
//! `highlevel` events and the signed-window timestamp of `softpro` on the way in; the
//! times the management API answers with and the time filters it reads.
//!
//! # Format
//!
//! `YYYY-MM-DD` `T` `hh:mm:ss` [`.` 1–9 digits] (`Z` | `±hh:mm`), as RFC 3339 section
//! 5.6 gives it; `t`, `z` and a space in place of `T` are accepted as the RFC allows.
//! Fields are range-checked (months, days of the month with leap years, hours ≤ 23,
//! seconds ≤ 60 for a leap second). A time without an offset is refused: it names no
//! instant. Digits past milliseconds are truncated.
//!
//! [`format_millis`] writes the one form hookd answers with: UTC, always three fraction
//! digits (`2025-04-22T19:30:00.000Z`), which [`parse_millis`] reads back unchanged.
//!
//! A date crate would parse this too; the whole grammar is the short function below, so
//! none is added.

use hookd_store::Millis;

/// The instant `text` names, in unix milliseconds; `None` when it is not an RFC 3339
/// date-time.
pub(crate) fn parse_millis(text: &str) -> Option<Millis> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let field = b.get(from..from + len)?;
        field.iter().try_fold(0_i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));

    let year = digits(0, 4)?;
    let month = digits(5, 2)?;
    let day = digits(8, 2)?;
    let hour = digits(11, 2)?;
    let minute = digits(14, 2)?;
    let second = digits(17, 2)?;
    let separators = at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":");
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !separators || !in_range {
        return None;
    }

    let mut i = 19;
    let mut millis = 0;
    if at(i, b".") {
        let count = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&count) {
            return None;
        }
        let kept = count.min(3);
        let scale = [100, 10, 1][kept - 1];
        millis = digits(i + 1, kept)? * scale;
        i += 1 + count;
    }

    let offset_secs = match b.get(i..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = hours * 3600 + minutes * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1000 + millis)
}

/// `millis` as `YYYY-MM-DDThh:mm:ss.mmmZ`. Instants before year 0 or after 9999 have no
/// four-digit year; they are written with a sign or a longer year, as `{:04}` does.
pub(crate) fn format_millis(millis: Millis) -> String {
    let secs = millis.div_euclid(1000);
    let fraction = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The number of days of `month` (1–12) in `year`, leap years included.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{format_millis, parse_millis};

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_745_350_200_000), "2025-04-22T19:30:00.000Z");
        assert_eq!(format_millis(1_667_507_170_344), "2022-11-03T20:26:10.344Z");
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_millis(1_709_164_800_000), "2024-02-29T00:00:00.000Z");
        assert_eq!(format_millis(951_868_800_000), "2000-03-01T00:00:00.000Z");
    }

    #[test]
    fn what_is_formatted_parses_back_unchanged() {
        // Every day of four centuries around the epoch, at a time with milliseconds.
        for day in -73_000..73_000_i64 {
            let millis = day * 86_400_000 + 45_296_789;
            let text = format_millis(millis);
            assert_eq!(parse_millis(&text), Some(millis), "{text}");
        }
    }

    #[test]
    fn parses_utc_times_with_and_without_fractions() {
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_millis("2025-04-22T19:30:00.000000000Z"),
            Some(1_745_350_200_000)
        );
        assert_eq!(
            parse_millis("2022-11-03T20:26:10.344522Z"),
            Some(1_667_507_170_344)
        );
        assert_eq!(
            parse_millis("2022-11-03T20:26:10.3Z"),
            Some(1_667_507_170_300)
        );
        assert_eq!(parse_millis("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_millis("2000-03-01T00:00:00Z"), Some(951_868_800_000));
    }

    #[test]
    fn offsets_name_the_same_instant() {
        let utc = parse_millis("2025-04-22T19:30:00Z");
        assert_eq!(parse_millis("2025-04-22T14:30:00-05:00"), utc);
        assert_eq!(parse_millis("2025-04-23T01:00:00+05:30"), utc);
        assert_eq!(parse_millis("2025-04-22T19:30:00-00:00"), utc);
        assert_eq!(parse_millis("2025-04-22t19:30:00z"), utc);
        assert_eq!(parse_millis("2025-04-22 19:30:00Z"), utc);
    }

    #[test]
    fn leap_days_and_leap_seconds() {
        assert_eq!(
            parse_millis("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_millis("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(parse_millis("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_millis("1900-02-29T00:00:00Z"), None);
        assert_eq!(
            parse_millis("2016-12-31T23:59:60Z"),
            parse_millis("2017-01-01T00:00:00Z")
        );
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        for bad in [
            "",
            "2025-04-22",
            "2025-04-22T19:30:00",
            "2025-04-22T19:30Z",
            "2025-04-22T19:30:00+0500",
            "2025-04-22T19:30:00+05",
            "2025-04-22T19:30:00.Z",
            "2025-04-22T19:30:00.1234567890Z",
            "2025-04-22T19:30:00ZZ",
            "2025-04-22T19:30:00Z ",
            " 2025-04-22T19:30:00Z",
            "2025-13-01T00:00:00Z",
            "2025-00-01T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-04-00T00:00:00Z",
            "2025-04-22T24:00:00Z",
            "2025-04-22T23:60:00Z",
            "2025-04-22T23:59:61Z",
            "2025-04-22T19:30:00+24:00",
            "2025-04-22T19:30:00+05:60",
            "2025/04/22T19:30:00Z",
            "+025-04-22T19:30:00Z",
            "2025-04-22T19:30:00.12a4Z",
            "1745350200",
            "２０２５-04-22T19:30:00Z",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad:?}");
        }
    }
}
