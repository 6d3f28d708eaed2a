//! How much a day holds: events per UTC hour and country, and the exact
//! splits of totals over hours, countries and chunks.

use chrono::{NaiveDate, NaiveTime};

use super::unit::CHUNK_ROWS;
use crate::calendar::{curve_at, day_multiplier, local_day_total, local_start};
use crate::spec::DatasetSpec;
use crate::world::{COUNTRIES, World};

/// Splits `total` over `weights`, rounding so the parts sum exactly to `total`
/// (largest remainder; ties go to the earlier index).
pub(crate) fn split_exact(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut parts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut left = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for i in order {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// Rows of chunk `c` of `n` when `total` rows are spread evenly.
pub(crate) fn chunk_share(total: u64, n: u32, c: u32) -> u64 {
    total / n as u64 + u64::from((c as u64) < total % n as u64)
}

/// Events of one hour, per country (in `COUNTRIES` order).
pub(crate) type PerCountry = [u64; COUNTRIES.len()];

/// Per-day volumes of the event domains, per UTC hour and country.
///
/// Each country's traffic follows the configured curve on its own wall
/// clock, scaled by the day multiplier of its local date (weekday, holiday,
/// growth) and, for clicks, campaign uplift. A local day's hours are
/// normalised over the hours it really has, so DST days keep their volume.
/// The UTC day's total is rounded once and split exactly; it never falls
/// below the configured base volume.
pub struct DayVolumes {
    pub(crate) clicks: Vec<PerCountry>,
    pub(crate) pos_sales: Vec<PerCountry>,
}

impl DayVolumes {
    pub(crate) fn new(world: &World, date: NaiveDate) -> DayVolumes {
        let spec = &world.spec;
        let w = &spec.world;
        let growth_from = w.growth_from;
        let base_clicks = (w.clicks_per_day as f64 * spec.scale).round();
        let base_pos = (w.pos_sales_per_day as f64 * spec.scale).round();
        let shares: f64 = COUNTRIES.iter().map(|c| c.share).sum();
        let open_weight: Vec<f64> = (0..COUNTRIES.len())
            .map(|c| {
                world
                    .physical_stores
                    .iter()
                    .zip(&world.store_weight)
                    .filter(|(s, _)| s.country == c && s.is_open(date))
                    .map(|(_, w)| w)
                    .sum()
            })
            .collect();
        let all_open: f64 = open_weight.iter().sum();
        let midnight = date.and_time(NaiveTime::MIN).and_utc();
        let mut click_w = Vec::with_capacity(24 * COUNTRIES.len());
        let mut pos_w = Vec::with_capacity(24 * COUNTRIES.len());
        let mut totals: Vec<(usize, NaiveDate, f64, f64)> = Vec::new();
        for hour in 0..24 {
            for (c, country) in COUNTRIES.iter().enumerate() {
                let tz = world.timezones_of_country[c];
                let at = local_start(tz, midnight + chrono::Duration::hours(hour));
                let (day_clicks, day_pos) = match totals.iter().find(|t| t.0 == c && t.1 == at.date)
                {
                    Some(t) => (t.2, t.3),
                    None => {
                        let t = (
                            local_day_total(tz, at.date, &w.hourly_weights),
                            local_day_total(tz, at.date, &w.pos_hourly_weights),
                        );
                        totals.push((c, at.date, t.0, t.1));
                        t
                    }
                };
                let day = day_multiplier(w, growth_from, at.date);
                let uplift = 1.0 + world.campaign_uplift(at.date);
                let part = |curve: &[f64], total: f64| {
                    if total > 0.0 {
                        curve_at(curve, at) / total
                    } else {
                        0.0
                    }
                };
                click_w.push(
                    country.share / shares * part(&w.hourly_weights, day_clicks) * day * uplift,
                );
                let store_share = if all_open > 0.0 {
                    open_weight[c] / all_open
                } else {
                    0.0
                };
                pos_w.push(store_share * part(&w.pos_hourly_weights, day_pos) * day);
            }
        }
        let split = |base: f64, weights: &[f64]| -> Vec<PerCountry> {
            let expected: f64 = weights.iter().sum::<f64>() * base;
            let total = if weights.iter().any(|&x| x > 0.0) {
                expected.round().max(base) as u64
            } else {
                0
            };
            let flat = split_exact(total, weights);
            flat.chunks(COUNTRIES.len())
                .map(|c| c.try_into().expect("one value per country"))
                .collect()
        };
        DayVolumes {
            clicks: split(base_clicks, &click_w),
            pos_sales: split(base_pos, &pos_w),
        }
    }

    pub(crate) fn clicks_in(&self, hour: usize) -> u64 {
        self.clicks[hour].iter().sum()
    }

    pub(crate) fn pos_in(&self, hour: usize) -> u64 {
        self.pos_sales[hour].iter().sum()
    }

    /// Sales and clicks share their chunking so an online sale lands in the
    /// same unit as the session it came from.
    pub(crate) fn chunks(&self, hour: usize) -> u32 {
        let rows = self.clicks_in(hour).max(self.pos_in(hour));
        rows.div_ceil(CHUNK_ROWS) as u32
    }
}

pub(crate) fn users_total(spec: &DatasetSpec) -> u64 {
    ((spec.world.users as f64 * spec.scale).round() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sums_exactly() {
        let w = [1.6, 1.1, 0.8, 3.3, 0.0, 7.2];
        for total in [0, 1, 7, 999, 5_000_001] {
            let parts = split_exact(total, &w);
            assert_eq!(parts.iter().sum::<u64>(), total);
            assert_eq!(parts[4], 0);
        }
    }

    #[test]
    fn chunk_shares_sum() {
        for (total, n) in [(10, 3), (250_001, 2), (5, 7)] {
            assert_eq!((0..n).map(|c| chunk_share(total, n, c)).sum::<u64>(), total);
        }
    }

    #[test]
    fn campaign_uplift_adds_web_traffic_only() {
        use crate::spec::{Campaign, WorldConfig};
        let world = |campaigns: Vec<Campaign>| {
            World::new(&DatasetSpec {
                scale: 0.01,
                world: WorldConfig {
                    campaigns,
                    daily_growth: 0.0,
                    ..WorldConfig::default()
                },
                ..DatasetSpec::default()
            })
        };
        let sale = Campaign {
            name: "sale".into(),
            source: "x".into(),
            medium: "social".into(),
            start: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2025, 1, 31),
            weight: 0.2,
            uplift: 0.5,
            terms: vec![],
            contents: vec![],
        };
        // Mid-campaign, every country's local day is inside it.
        let date = NaiveDate::from_ymd_opt(2025, 1, 15).unwrap();
        let (plain, boosted) = (world(vec![]), world(vec![sale]));
        let (a, b) = (
            DayVolumes::new(&plain, date),
            DayVolumes::new(&boosted, date),
        );
        let total = |v: &DayVolumes| (0..24).map(|h| v.clicks_in(h)).sum::<u64>() as f64;
        let pos = |v: &DayVolumes| (0..24).map(|h| v.pos_in(h)).sum::<u64>();
        assert!((total(&b) / total(&a) - 1.5).abs() < 1e-3);
        assert_eq!(pos(&a), pos(&b));
    }
}
