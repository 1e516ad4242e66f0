//! Moments as citizens read them: stored in UTC, shown in Europe/Luxembourg time (CET in
//! winter, CEST in summer, by the IANA database of `chrono-tz`), in the language's format
//! with its month names (`chrono`'s locale data).

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Europe::Luxembourg;

use super::Lang;

fn locale(lang: Lang) -> chrono::Locale {
    match lang {
        Lang::Fr => chrono::Locale::fr_LU,
        Lang::De => chrono::Locale::de_LU,
        Lang::En => chrono::Locale::en_GB,
    }
}

/// A stored UTC moment as a date and time in Luxembourg, e.g. "3 décembre 2026 à 18:32",
/// "3. Dezember 2026, 18:32", "3 December 2026, 18:32".
pub fn datetime(lang: Lang, utc: NaiveDateTime) -> String {
    let local = Luxembourg.from_utc_datetime(&utc);
    let pattern = match lang {
        Lang::Fr => "%-d %B %Y à %H:%M",
        Lang::De => "%-d. %B %Y, %H:%M",
        Lang::En => "%-d %B %Y, %H:%M",
    };
    local.format_localized(pattern, locale(lang)).to_string()
}

/// The same, with the zone's abbreviation (CET/CEST, MEZ/MESZ), for e-mails read anywhere.
pub fn datetime_with_zone(lang: Lang, utc: NaiveDateTime) -> String {
    let local = Luxembourg.from_utc_datetime(&utc);
    let summer = local.format("%Z").to_string() == "CEST";
    let zone = match (lang, summer) {
        (Lang::De, false) => "MEZ",
        (Lang::De, true) => "MESZ",
        (_, false) => "CET",
        (_, true) => "CEST",
    };
    format!("{} ({zone})", datetime(lang, utc))
}

/// A stored UTC moment as a date in Luxembourg, e.g. "3 déc. 2026".
pub fn date(lang: Lang, utc: NaiveDateTime) -> String {
    let local = Luxembourg.from_utc_datetime(&utc);
    let pattern = match lang {
        Lang::De => "%-d. %B %Y",
        Lang::Fr | Lang::En => "%-d %B %Y",
    };
    local.format_localized(pattern, locale(lang)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn winter_is_utc_plus_one_and_summer_utc_plus_two() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            datetime(Lang::En, at(2026, 3, 29, 0, 59)),
            "29 March 2026, 01:59"
        );
        assert_eq!(
            datetime(Lang::En, at(2026, 3, 29, 1, 0)),
            "29 March 2026, 03:00"
        );
        assert_eq!(
            datetime(Lang::En, at(2026, 10, 25, 0, 59)),
            "25 October 2026, 02:59"
        );
        assert_eq!(
            datetime(Lang::En, at(2026, 10, 25, 1, 0)),
            "25 October 2026, 02:00"
        );
    }

    #[test]
    fn each_language_its_format_and_month_names() {
        let t = at(2026, 12, 3, 17, 32);
        assert_eq!(datetime(Lang::Fr, t), "3 décembre 2026 à 18:32");
        assert_eq!(datetime(Lang::De, t), "3. Dezember 2026, 18:32");
        assert_eq!(datetime(Lang::En, t), "3 December 2026, 18:32");
        assert_eq!(
            datetime_with_zone(Lang::De, t),
            "3. Dezember 2026, 18:32 (MEZ)"
        );
        assert_eq!(
            datetime_with_zone(Lang::Fr, at(2026, 7, 1, 10, 0)),
            "1 juillet 2026 à 12:00 (CEST)"
        );
        assert_eq!(date(Lang::De, t), "3. Dezember 2026");
    }
}
