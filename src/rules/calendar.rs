//! When orders may be placed, from `calendar.toml`: business days (weekdays
//! that are not French public holidays nor extra closed days), the blackout
//! day, the month's cut-off and the office hours, all in one time zone.
//!
//! The reception time is always an input: nothing here reads the clock.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Deserialize;
use toml::Spanned;

use super::SourceError;

/// The ordering calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Zone in which days and hours are read.
    pub time_zone: TimeZone,
    /// Day of the month on which nothing may change (the console renews every licence).
    pub blackout_day: i8,
    /// Last moment for changes on the month's last business day.
    pub cutoff: Time,
    /// Start of office hours on business days.
    pub office_start: Time,
    /// End of office hours on business days.
    pub office_end: Time,
    /// Closed days on top of weekends and public holidays.
    pub closed_days: BTreeSet<Date>,
    /// Business days a requester has to confirm a held request (upgrade,
    /// annual licence): until the end of office hours of the last one.
    pub confirmation_days: u8,
}

/// Whether a request received at some moment may be ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// During office hours, inside the month's window.
    Open,
    /// Inside the month's window, but out of office hours: handled at `next_opening`.
    OutsideHours { next_opening: Zoned },
    /// On the blackout day: to be sent again from `resend_from`.
    FirstOfMonth { resend_from: Zoned },
    /// At or after the month's cut-off: to be sent again from `resend_from`.
    AfterCutoff { cutoff: Zoned, resend_from: Zoned },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCalendar {
    time_zone: Option<Spanned<String>>,
    blackout_day: Option<Spanned<i64>>,
    cutoff: Option<Spanned<String>>,
    #[serde(default)]
    closed_days: Vec<Spanned<String>>,
    confirmation_days: Option<Spanned<i64>>,
    office_hours: Option<RawOfficeHours>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOfficeHours {
    start: Spanned<String>,
    end: Spanned<String>,
}

impl Default for Calendar {
    /// The company's procedure: Europe/Paris, nothing on the 1st, cut-off and
    /// end of office hours at 17:30, office opens at 9:00.
    fn default() -> Calendar {
        Calendar {
            time_zone: TimeZone::get("Europe/Paris").expect("Europe/Paris is in the bundled tzdb"),
            blackout_day: 1,
            cutoff: Time::constant(17, 30, 0, 0),
            office_start: Time::constant(9, 0, 0, 0),
            office_end: Time::constant(17, 30, 0, 0),
            closed_days: BTreeSet::new(),
            confirmation_days: 1,
        }
    }
}

/// The reception times the calendar reckons with: a deadline or a cut-off
/// is computed up to two months ahead, which must stay inside the dates
/// jiff knows (up to 9999-12-31); a time outside is no real reception time.
pub const RECKONED_YEARS: std::ops::RangeInclusive<i16> = 1970..=9000;

/// True when `at` lies in [`RECKONED_YEARS`] (in UTC).
pub fn reckoned(at: Timestamp) -> bool {
    RECKONED_YEARS.contains(&at.to_zoned(TimeZone::UTC).year())
}

impl Calendar {
    /// Parses and checks the text of `calendar.toml`; absent keys keep the defaults.
    pub fn from_toml(source: &str) -> Result<Calendar, SourceError> {
        let raw: RawCalendar =
            toml::from_str(source).map_err(|e| SourceError::from_toml(source, e))?;
        let mut calendar = Calendar::default();
        let time = |key: &str, value: &Spanned<String>| {
            value.get_ref().parse::<Time>().map_err(|_| {
                let msg = format!(
                    "{key}: « {} » is not a time of day (HH:MM)",
                    value.get_ref()
                );
                SourceError::at(source, value.span(), msg)
            })
        };
        if let Some(zone) = &raw.time_zone {
            calendar.time_zone = TimeZone::get(zone.get_ref()).map_err(|_| {
                let msg = format!("time-zone: « {} » is not an IANA time zone", zone.get_ref());
                SourceError::at(source, zone.span(), msg)
            })?;
        }
        if let Some(day) = &raw.blackout_day {
            calendar.blackout_day = i8::try_from(*day.get_ref())
                .ok()
                .filter(|d| (1..=28).contains(d))
                .ok_or_else(|| {
                    SourceError::at(source, day.span(), "blackout-day: must be 1 to 28".into())
                })?;
        }
        if let Some(days) = &raw.confirmation_days {
            calendar.confirmation_days = u8::try_from(*days.get_ref())
                .ok()
                .filter(|d| (1..=10).contains(d))
                .ok_or_else(|| {
                    let msg = "confirmation-days: must be 1 to 10 (business days)".to_owned();
                    SourceError::at(source, days.span(), msg)
                })?;
        }
        if let Some(cutoff) = &raw.cutoff {
            calendar.cutoff = time("cutoff", cutoff)?;
        }
        if let Some(hours) = &raw.office_hours {
            calendar.office_start = time("office-hours.start", &hours.start)?;
            calendar.office_end = time("office-hours.end", &hours.end)?;
            if calendar.office_start >= calendar.office_end {
                let msg = "office-hours.end: must be after office-hours.start".to_owned();
                return Err(SourceError::at(source, hours.end.span(), msg));
            }
        }
        for day in &raw.closed_days {
            let date = day.get_ref().parse::<Date>().map_err(|_| {
                let msg = format!(
                    "closed-days: « {} » is not a date (YYYY-MM-DD)",
                    day.get_ref()
                );
                SourceError::at(source, day.span(), msg)
            })?;
            calendar.closed_days.insert(date);
        }
        Ok(calendar)
    }

    /// Monday to Friday, not a French public holiday, not an extra closed day.
    pub fn is_business_day(&self, date: Date) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.closed_days.contains(&date)
            && !french_holidays(date.year()).contains(&date)
    }

    /// The last business day of the month of `date`.
    pub fn last_business_day(&self, date: Date) -> Date {
        let mut day = date.last_of_month();
        while !self.is_business_day(day) && day.day() > 1 {
            day = day.yesterday().expect("inside the month");
        }
        day
    }

    /// The end of office hours of the last business day before `date`: the
    /// last moment a request is handled before a deadline on `date`.
    pub fn last_business_moment_before(&self, date: Date) -> Zoned {
        let mut day = date.yesterday().expect("date in range");
        while !self.is_business_day(day) {
            day = day.yesterday().expect("date in range");
        }
        self.zoned(day, self.office_end)
    }

    /// The moment the month's orders close: the cut-off time of its last business day.
    pub fn cutoff_of_month(&self, date: Date) -> Zoned {
        self.zoned(self.last_business_day(date), self.cutoff)
    }

    /// Until when a request held at `received` may be confirmed: the end of
    /// office hours on the [`Calendar::confirmation_days`]-th business day
    /// after it, and never past the month's cut-off.
    pub fn confirmation_deadline(&self, received: Timestamp) -> Zoned {
        let date = received.to_zoned(self.time_zone.clone()).date();
        let mut day = date;
        for _ in 0..self.confirmation_days {
            day = day.tomorrow().expect("date in range");
            while !self.is_business_day(day) {
                day = day.tomorrow().expect("date in range");
            }
        }
        let deadline = self.zoned(day, self.office_end);
        let cutoff = self.cutoff_of_month(date);
        if cutoff.timestamp() > received && cutoff < deadline {
            cutoff
        } else {
            deadline
        }
    }

    /// Judges a reception time against the blackout day, the cut-off and the office hours.
    pub fn window(&self, received: Timestamp) -> Window {
        let local = received.to_zoned(self.time_zone.clone());
        let date = local.date();
        if date.day() == self.blackout_day {
            return Window::FirstOfMonth {
                resend_from: self.opening_after(date),
            };
        }
        let cutoff = self.cutoff_of_month(date);
        if received >= cutoff.timestamp() {
            let blackout = date
                .last_of_month()
                .tomorrow()
                .and_then(|first| first.with().day(self.blackout_day).build())
                .expect("blackout day exists in every month");
            return Window::AfterCutoff {
                cutoff,
                resend_from: self.opening_after(blackout),
            };
        }
        let time = local.time();
        if !self.is_business_day(date) || time >= self.office_end {
            return Window::OutsideHours {
                next_opening: self.opening_after(date),
            };
        }
        if time < self.office_start {
            return Window::OutsideHours {
                next_opening: self.zoned(date, self.office_start),
            };
        }
        Window::Open
    }

    /// Office opening on the first business day after `date`.
    fn opening_after(&self, date: Date) -> Zoned {
        let mut day = date.tomorrow().expect("date in range");
        while !self.is_business_day(day) || day.day() == self.blackout_day {
            day = day.tomorrow().expect("date in range");
        }
        self.zoned(day, self.office_start)
    }

    fn zoned(&self, date: Date, time: Time) -> Zoned {
        date.to_datetime(time)
            .to_zoned(self.time_zone.clone())
            .expect("civil time in range")
    }
}

/// Easter Sunday of `year` (Gregorian computus, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let (a, b, c) = (y % 19, y / 100, y % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, month as i8, day as i8).expect("computus gives a valid date")
}

/// The eleven public holidays of metropolitan France in `year`: fixed dates,
/// and Easter Monday, Ascension and Whit Monday from Easter.
pub fn french_holidays(year: i16) -> [Date; 11] {
    let fixed = |month, day| Date::new(year, month, day).expect("fixed holiday");
    let easter = easter_sunday(year);
    let after_easter = |days: i64| {
        easter
            .checked_add(jiff::Span::new().days(days))
            .expect("in range")
    };
    [
        fixed(1, 1),
        after_easter(1),
        fixed(5, 1),
        fixed(5, 8),
        after_easter(39),
        after_easter(50),
        fixed(7, 14),
        fixed(8, 15),
        fixed(11, 1),
        fixed(11, 11),
        fixed(12, 25),
    ]
}

const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `lundi 2 novembre 2026`, `mardi 1er décembre 2026`.
pub fn french_date(date: Date) -> String {
    let weekday = WEEKDAYS[date.weekday().to_monday_zero_offset() as usize];
    let day = if date.day() == 1 {
        "1er".to_owned()
    } else {
        date.day().to_string()
    };
    format!(
        "{weekday} {day} {} {}",
        MONTHS[date.month() as usize - 1],
        date.year()
    )
}

/// `lundi 2 novembre 2026 à 9 h`, `… à 17 h 30`.
pub fn french_date_time(moment: &Zoned) -> String {
    format!(
        "{} à {}",
        french_date(moment.date()),
        french_time(moment.time())
    )
}

/// `9 h`, `17 h 30`, as French writes hours (no-break spaces).
pub fn french_time(time: jiff::civil::Time) -> String {
    match time.minute() {
        0 => format!("{}\u{a0}h", time.hour()),
        minute => format!("{}\u{a0}h\u{a0}{minute:02}", time.hour()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn confirmation_deadline_is_the_next_business_day_capped_at_the_cutoff() {
        let mut cal = Calendar::default();
        let local = |s: &str| cal.confirmation_deadline(at(s)).datetime().to_string();
        // 11 November is a public holiday: Tuesday's deadline is Thursday.
        assert_eq!(local("2026-11-10T09:00:00Z"), "2026-11-12T17:30:00");
        // Friday's is Monday.
        assert_eq!(local("2026-11-20T15:00:00Z"), "2026-11-23T17:30:00");
        // On the month's last business day, the cut-off comes first.
        assert_eq!(local("2026-11-30T09:00:00Z"), "2026-11-30T17:30:00");
        cal.confirmation_days = 2;
        let two = cal.confirmation_deadline(at("2026-11-20T15:00:00Z"));
        assert_eq!(two.datetime().to_string(), "2026-11-24T17:30:00");
        let err = Calendar::from_toml("confirmation-days = 0\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(
            err.message.starts_with("confirmation-days:"),
            "{}",
            err.message
        );
    }

    // Issue 19: a refund deadline on a closed day gives the last business
    // moment before it.
    #[test]
    fn last_business_moment_before_a_closed_day() {
        let cal = Calendar::default();
        let before = |s: &str| {
            cal.last_business_moment_before(date(s))
                .datetime()
                .to_string()
        };
        // Saturday: Friday's end of office hours.
        assert_eq!(before("2026-11-28"), "2026-11-27T17:30:00");
        // Christmas 2026 is a Friday: Thursday.
        assert_eq!(before("2026-12-25"), "2026-12-24T17:30:00");
        // Monday after Easter Monday 2026 (6 April): Friday 3 April.
        assert_eq!(before("2026-04-06"), "2026-04-03T17:30:00");
    }

    #[test]
    fn easter_of_known_years() {
        assert_eq!(easter_sunday(2024), date("2024-03-31"));
        assert_eq!(easter_sunday(2026), date("2026-04-05"));
        assert_eq!(easter_sunday(2038), date("2038-04-25"));
    }

    #[test]
    fn last_business_day_skips_weekends_holidays_and_closed_days() {
        let mut cal = Calendar::default();
        assert_eq!(
            cal.last_business_day(date("2026-10-10")),
            date("2026-10-30")
        );
        // 2004-05-31 was Whit Monday: the last business day is the Friday before.
        assert_eq!(
            cal.last_business_day(date("2004-05-03")),
            date("2004-05-28")
        );
        cal.closed_days.insert(date("2026-12-31"));
        assert_eq!(
            cal.last_business_day(date("2026-12-01")),
            date("2026-12-30")
        );
    }

    #[test]
    fn blackout_day_is_read_in_paris_time() {
        let cal = Calendar::default();
        // 2026-10-31T23:30Z is 00:30 on 1 November in Paris (CET).
        let Window::FirstOfMonth { resend_from } = cal.window(at("2026-10-31T23:30:00Z")) else {
            panic!()
        };
        assert_eq!(
            resend_from.to_string(),
            "2026-11-02T09:00:00+01:00[Europe/Paris]"
        );
        assert!(matches!(
            cal.window(at("2026-11-01T23:30:00Z")),
            Window::OutsideHours { .. }
        ));
    }

    #[test]
    fn cutoff_follows_daylight_saving_time() {
        let cal = Calendar::default();
        // October 2026 ends in CET (DST ended on the 25th): 17:30 is 16:30Z.
        assert!(matches!(
            cal.window(at("2026-10-30T16:29:59Z")),
            Window::Open
        ));
        let Window::AfterCutoff {
            cutoff,
            resend_from,
        } = cal.window(at("2026-10-30T16:30:00Z"))
        else {
            panic!()
        };
        assert_eq!(
            cutoff.to_string(),
            "2026-10-30T17:30:00+01:00[Europe/Paris]"
        );
        assert_eq!(
            resend_from.to_string(),
            "2026-11-02T09:00:00+01:00[Europe/Paris]"
        );
        // March 2026 ends in CEST (DST began on the 29th): 17:30 is 15:30Z.
        assert!(matches!(
            cal.window(at("2026-03-31T15:29:59Z")),
            Window::Open
        ));
        assert!(matches!(
            cal.window(at("2026-03-31T15:30:00Z")),
            Window::AfterCutoff { .. }
        ));
        // The weekend after the last business day is still after the cut-off.
        assert!(matches!(
            cal.window(at("2026-10-31T10:00:00Z")),
            Window::AfterCutoff { .. }
        ));
    }

    #[test]
    fn out_of_hours_requests_wait_for_the_next_opening() {
        let cal = Calendar::default();
        let next = |s| match cal.window(at(s)) {
            Window::OutsideHours { next_opening } => next_opening.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            next("2026-11-23T07:59:00Z"),
            "2026-11-23T09:00:00+01:00[Europe/Paris]"
        );
        assert_eq!(
            next("2026-11-20T16:30:00Z"),
            "2026-11-23T09:00:00+01:00[Europe/Paris]"
        );
        // Wednesday 11 November is a holiday.
        assert_eq!(
            next("2026-11-11T10:00:00Z"),
            "2026-11-12T09:00:00+01:00[Europe/Paris]"
        );
        assert!(matches!(
            cal.window(at("2026-11-23T08:00:00Z")),
            Window::Open
        ));
    }

    #[test]
    fn calendar_file_errors_name_key_and_line() {
        let err =
            Calendar::from_toml("time-zone = \"Europe/Paris\"\ncutoff = \"25:00\"\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.starts_with("cutoff"), "{}", err.message);
        let err = Calendar::from_toml("closed-days = [\"2026-13-01\"]\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        let err = Calendar::from_toml("time-zone = \"Mars/Olympus\"\n").unwrap_err();
        assert!(err.message.starts_with("time-zone"), "{}", err.message);
    }

    #[test]
    fn french_dates() {
        assert_eq!(french_date(date("2026-12-01")), "mardi 1er décembre 2026");
        let z = date("2026-11-23")
            .to_datetime(Time::constant(9, 0, 0, 0))
            .in_tz("Europe/Paris")
            .unwrap();
        assert_eq!(french_date_time(&z), "lundi 23 novembre 2026 à 9\u{a0}h");
    }
}
