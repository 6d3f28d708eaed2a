//! Day multipliers (weekday, holidays, growth) and local hours. Volumes follow
//! each country's wall clock, so DST changes move traffic in UTC, not locally.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::spec::world::WorldConfig;

/// The day after the fourth Thursday of November.
pub(crate) fn black_friday(year: i32) -> NaiveDate {
    let thanksgiving = NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4)
        .expect("November has four Thursdays");
    thanksgiving + Duration::days(1)
}

/// Weekday × holiday × growth multiplier of a (local) day.
pub(crate) fn day_multiplier(w: &WorldConfig, growth_from: NaiveDate, date: NaiveDate) -> f64 {
    let mut m = w.weekday_multipliers[date.weekday().num_days_from_monday() as usize];
    let bf = black_friday(date.year());
    if date == bf {
        m *= w.black_friday_multiplier;
    }
    if date == bf + Duration::days(3) {
        m *= w.cyber_monday_multiplier;
    }
    if date.month() == 12 && date.day() <= 24 {
        m *= w.december_multiplier;
    }
    let days = (date - growth_from).num_days();
    if days > 0 {
        m *= (1.0 + w.daily_growth).powi(days as i32);
    }
    m
}

/// Where a UTC hour starts on a country's wall clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalStart {
    pub date: NaiveDate,
    pub hour: usize,
    /// Minutes past the local hour, as a fraction (time zones off by 30 min).
    pub frac: f64,
}

pub fn local_start(tz: Tz, utc: DateTime<Utc>) -> LocalStart {
    let offset = tz.offset_from_utc_datetime(&utc.naive_utc()).fix();
    let local = utc.naive_utc() + Duration::seconds(offset.local_minus_utc() as i64);
    LocalStart {
        date: local.date(),
        hour: local.hour() as usize,
        frac: local.minute() as f64 / 60.0,
    }
}

/// Weight of a UTC hour that starts at `at` on a 24-value local curve.
pub(crate) fn curve_at(curve: &[f64], at: LocalStart) -> f64 {
    (1.0 - at.frac) * curve[at.hour] + at.frac * curve[(at.hour + 1) % 24]
}

/// Sum of `curve_at` over the UTC hours that start on local day `date`: 24
/// hours on most days, 23 or 25 when the clocks change.
pub(crate) fn local_day_total(tz: Tz, date: NaiveDate, curve: &[f64]) -> f64 {
    let first = (date - Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    (0..72)
        .map(|h| local_start(tz, first + Duration::hours(h)))
        .filter(|at| at.date == date)
        .map(|at| curve_at(curve, at))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn black_fridays() {
        assert_eq!(black_friday(2024), d("2024-11-29"));
        assert_eq!(black_friday(2025), d("2025-11-28"));
        assert_eq!(black_friday(2026), d("2026-11-27"));
    }

    #[test]
    fn dst_days_have_23_and_25_local_hours() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let ones = [1.0; 24];
        assert_eq!(local_day_total(ny, d("2025-03-08"), &ones), 24.0);
        assert_eq!(local_day_total(ny, d("2025-03-09"), &ones), 23.0);
        assert_eq!(local_day_total(ny, d("2025-11-02"), &ones), 25.0);
        assert_eq!(local_day_total(berlin, d("2025-03-30"), &ones), 23.0);
        assert_eq!(local_day_total(berlin, d("2025-10-26"), &ones), 25.0);
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let at = local_start(
            kolkata,
            d("2025-01-01").and_hms_opt(0, 0, 0).unwrap().and_utc(),
        );
        assert_eq!((at.hour, at.frac), (5, 0.5));
    }

    #[test]
    fn multipliers_combine() {
        let w = WorldConfig {
            daily_growth: 0.0,
            ..WorldConfig::default()
        };
        let g = d("2025-01-01");
        let friday = day_multiplier(&w, g, d("2025-11-21"));
        assert_eq!(friday, w.weekday_multipliers[4]);
        assert_eq!(
            day_multiplier(&w, g, d("2025-11-28")),
            friday * w.black_friday_multiplier
        );
        // Cyber Monday 2025 is 1 December: both multipliers apply.
        assert_eq!(
            day_multiplier(&w, g, d("2025-12-01")),
            w.weekday_multipliers[0] * w.cyber_monday_multiplier * w.december_multiplier
        );
        let grown = WorldConfig::default();
        let ratio =
            day_multiplier(&grown, g, d("2025-01-13")) / day_multiplier(&grown, g, d("2025-01-06"));
        assert!((ratio - (1.0 + grown.daily_growth).powi(7)).abs() < 1e-12);
    }
}
