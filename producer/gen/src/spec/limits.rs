//! Limits a plan must stay within, checked from the spec alone before
//! anything is generated: the row-id layout (day 20 bits from 2000-01-01,
//! hour 5, chunk 14, row 24) and sizes no machine would finish.

use chrono::{Duration, NaiveDate};

use super::error::SpecError;
use super::world::WorldConfig;
use crate::calendar::day_multiplier;
use crate::plan::unit::{CHUNK_ROWS, EPOCH};

/// First day a plan may cover: day 0 of row ids.
pub const FIRST_DAY: NaiveDate = EPOCH;
/// Last day a plan may cover.
pub const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2199, 12, 31).expect("valid date");
/// Most users (users × scale) a world may have.
pub const MAX_USERS: u64 = 1_000_000_000;
/// Most files of one table in one hour: the 14-bit chunk field of row ids.
pub const MAX_CHUNKS_PER_HOUR: u64 = (1 << 14) - 1;
/// Most events of one table in one hour.
pub const MAX_EVENTS_PER_HOUR: u64 = MAX_CHUNKS_PER_HOUR * CHUNK_ROWS;

/// Largest share of a day's volume one UTC hour can get from a local-hour
/// curve: its peak value over a 23-hour (DST) day's total.
fn peak_hour_share(curve: &[f64]) -> f64 {
    let sum: f64 = curve.iter().sum();
    let peak = curve.iter().copied().fold(0.0, f64::max);
    if sum - peak > 0.0 {
        peak / (sum - peak)
    } else {
        1.0
    }
}

/// Checks a plan of `days` from `start` at `scale` of `world`.
pub(super) fn check(
    start: NaiveDate,
    days: u32,
    scale: f64,
    world: &WorldConfig,
) -> Result<(), SpecError> {
    let last = start + Duration::days(days as i64 - 1);
    if start < FIRST_DAY {
        return Err(SpecError::new(
            "start",
            format!("must be {FIRST_DAY} or later: row ids count days from it"),
        ));
    }
    if last > LAST_DAY {
        let key = if start > LAST_DAY { "start" } else { "days" };
        return Err(SpecError::new(
            key,
            format!("the run would end on {last}, after {LAST_DAY}, the last day a plan may cover"),
        ));
    }
    let users = (world.users as f64 * scale).round();
    if users > MAX_USERS as f64 {
        return Err(SpecError::new(
            "scale",
            format!("gives {users:.0} users (world.users x scale); at most {MAX_USERS}"),
        ));
    }
    // The busiest hour's volume, bounded from above: a day's largest
    // multiplier over the plan (local days reach one day beyond it) with
    // campaign uplift, times the largest share one hour can take.
    let w = world;
    // The largest multiplier over days `from..=to`, and its day.
    let worst_over = |from: NaiveDate, to: NaiveDate| {
        let mut worst = (1.0f64, from);
        let mut date = from;
        while date <= to {
            let uplift: f64 = w
                .campaigns
                .iter()
                .filter(|c| c.start <= date && c.end.is_none_or(|e| date <= e))
                .map(|c| c.uplift)
                .sum();
            let m = day_multiplier(w, w.growth_from, date) * (1.0 + uplift);
            // NaN and infinity (a growth that overflows) count as the worst.
            if m.is_nan() || m > worst.0 {
                worst = (m, date);
            }
            date += Duration::days(1);
        }
        worst
    };
    let (worst_day, worst_date) = worst_over(start - Duration::days(1), last + Duration::days(1));
    // The first day alone: past the limit, no run length helps.
    let (first_day, _) = worst_over(start - Duration::days(1), start + Duration::days(1));
    for (table, per_day, curve) in [
        ("clicks", w.clicks_per_day, &w.hourly_weights),
        ("sales", w.pos_sales_per_day, &w.pos_hourly_weights),
    ] {
        let hour = per_day as f64 * scale * worst_day * peak_hour_share(curve);
        if hour.is_nan() || hour > MAX_EVENTS_PER_HOUR as f64 {
            let grown =
                (1.0 + w.daily_growth).powf((last - w.growth_from).num_days().max(0) as f64);
            let limit = format!(
                "at most {MAX_EVENTS_PER_HOUR}: the {MAX_CHUNKS_PER_HOUR} files of {CHUNK_ROWS} rows that row ids allow"
            );
            let at_start =
                (1.0 + w.daily_growth).powf((start - w.growth_from).num_days().max(0) as f64);
            let first_hour = per_day as f64 * scale * first_day * peak_hour_share(curve);
            return Err(
                if first_hour.is_nan() || first_hour > MAX_EVENTS_PER_HOUR as f64 {
                    SpecError::new(
                        "start",
                        format!(
                            "world.daily_growth = {} from world.growth_from {} compounds to x{at_start:.3e} by {start}, so {table} could reach {first_hour:.3e} events in an hour ({limit}): start earlier, lower the growth or move world.growth_from",
                            w.daily_growth, w.growth_from
                        ),
                    )
                } else if grown.is_nan() || grown > 1000.0 {
                    SpecError::new(
                        "days",
                        format!(
                            "world.daily_growth = {} compounds to x{grown:.3e} by {last}, so {table} could reach {hour:.3e} events in an hour ({limit}): shorten the run or lower the growth",
                            w.daily_growth
                        ),
                    )
                } else {
                    SpecError::new(
                        "scale",
                        format!(
                            "{table} could reach {hour:.3e} events in an hour around {worst_date}; {limit}"
                        ),
                    )
                },
            );
        }
    }
    Ok(())
}
