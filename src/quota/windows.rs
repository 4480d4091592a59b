//! UTC calendar windows: which day and month a moment belongs to, and when each next resets.
//!
//! VirusTotal counts the daily and monthly budgets on calendar windows in UTC, not on rolling
//! 24-hour or 30-day periods, so a budget spent at 23:59 is whole again one minute later.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

/// The UTC calendar day a moment belongs to; days compare in calendar order.
pub type DayKey = NaiveDate;

/// The UTC calendar month a moment belongs to, as `(year, month)`; months compare in calendar order.
pub type MonthKey = (i32, u32);

/// The UTC day `now` falls in.
pub fn day_key(now: DateTime<Utc>) -> DayKey {
    now.date_naive()
}

/// The UTC month `now` falls in.
pub fn month_key(now: DateTime<Utc>) -> MonthKey {
    (now.year(), now.month())
}

/// The next 00:00 UTC strictly after `now` (at exactly 00:00 that is the following midnight).
pub fn next_day_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .succ_opt()
        .map_or(DateTime::<Utc>::MAX_UTC, start_of_day)
}

/// 00:00 UTC on the 1st of the month after `now` (December rolls over to January of the next year).
pub fn next_month_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = match now.month() {
        12 => (now.year() + 1, 1),
        month => (now.year(), month + 1),
    };
    // Only the last representable month has no successor; "never" is the honest answer there.
    NaiveDate::from_ymd_opt(year, month, 1).map_or(DateTime::<Utc>::MAX_UTC, start_of_day)
}

fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    #[test]
    fn the_last_millisecond_of_a_day_resets_at_the_coming_midnight() {
        let now = at("2026-03-10T23:59:59.999Z");

        let reset = next_day_reset(now);

        assert_eq!(reset, at("2026-03-11T00:00:00Z"));
    }

    #[test]
    fn exactly_midnight_resets_at_the_following_midnight() {
        let now = at("2026-03-11T00:00:00Z");

        let reset = next_day_reset(now);

        assert_eq!(reset, at("2026-03-12T00:00:00Z"));
    }

    #[test]
    fn the_day_after_december_31_is_january_1_of_the_next_year() {
        let now = at("2026-12-31T12:00:00Z");

        let reset = next_day_reset(now);

        assert_eq!(reset, at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn february_28_of_a_leap_year_resets_into_february_29() {
        let now = at("2024-02-28T18:00:00Z");

        let reset = next_day_reset(now);

        assert_eq!(reset, at("2024-02-29T00:00:00Z"));
    }

    #[test]
    fn february_28_of_a_common_year_resets_into_march_1() {
        let now = at("2025-02-28T18:00:00Z");

        let reset = next_day_reset(now);

        assert_eq!(reset, at("2025-03-01T00:00:00Z"));
    }

    #[test]
    fn a_day_reset_ignores_the_offset_the_moment_was_written_in() {
        // 01:30 in UTC+02:00 is still 23:30 UTC of the previous day.
        let now = at("2026-03-11T01:30:00+02:00");

        let reset = next_day_reset(now);

        assert_eq!(reset, at("2026-03-11T00:00:00Z"));
    }

    #[test]
    fn a_month_resets_on_the_first_of_the_next_month() {
        let now = at("2026-01-31T23:59:59.999Z");

        let reset = next_month_reset(now);

        assert_eq!(reset, at("2026-02-01T00:00:00Z"));
    }

    #[test]
    fn december_resets_into_january_of_the_next_year() {
        let now = at("2026-12-15T08:00:00Z");

        let reset = next_month_reset(now);

        assert_eq!(reset, at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn exactly_the_first_at_midnight_resets_on_the_following_first() {
        let now = at("2026-03-01T00:00:00Z");

        let reset = next_month_reset(now);

        assert_eq!(reset, at("2026-04-01T00:00:00Z"));
    }

    #[test]
    fn february_29_of_a_leap_year_resets_on_march_1() {
        let now = at("2024-02-29T23:59:59.999Z");

        let reset = next_month_reset(now);

        assert_eq!(reset, at("2024-03-01T00:00:00Z"));
    }

    #[test]
    fn keys_change_exactly_at_midnight_and_on_the_first() {
        let before = at("2026-12-31T23:59:59.999Z");
        let after = at("2027-01-01T00:00:00Z");

        assert!(day_key(after) > day_key(before));
        assert!(month_key(after) > month_key(before));
        assert_eq!(month_key(before), (2026, 12));
        assert_eq!(month_key(after), (2027, 1));
    }
}
