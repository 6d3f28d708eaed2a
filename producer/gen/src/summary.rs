//! What a shard's plan holds before anything is generated: files and rows
//! per table, for `--dry-run`, progress and the plan's limits. Clicks and
//! stores are counted exactly; sales count their point-of-sale rows exactly
//! and estimate the online ones from a sample hour of sessions; users
//! estimate their SCD2 versions from the change rates.

use chrono::NaiveDate;

use crate::plan::unit::{USERS_PER_FILE, Unit};
use crate::plan::volumes::{DayVolumes, chunk_share, users_total};
use crate::tables::{self, Domain, session::SessionWalker};
use crate::world::{COUNTRIES, World};

/// One table's share of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct TablePlan {
    pub domain: Domain,
    pub files: u64,
    pub rows: u64,
    /// Whether `rows` is exact or an estimate.
    pub exact: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlanSummary {
    pub tables: Vec<TablePlan>,
    /// Events (sales and clicks) per UTC hour of the run, day by day from
    /// the start: the curves the capacity planner takes its peak from.
    /// Online sales are estimated, as in `tables`.
    pub hourly_events: Vec<u64>,
}

impl PlanSummary {
    pub fn files(&self) -> u64 {
        self.tables.iter().map(|t| t.files).sum()
    }

    /// Rows of the event tables (sales, clicks).
    pub fn events(&self) -> u64 {
        self.tables
            .iter()
            .filter(|t| t.domain.events().is_some())
            .map(|t| t.rows)
            .sum()
    }
}

/// Online sales per click, from the sessions of the busiest hour of the
/// first day.
fn online_sales_per_click(world: &World) -> f64 {
    let date = world.spec.start;
    let vol = DayVolumes::new(world, date);
    let Some(hour) = (0..24).max_by_key(|&h| vol.clicks_in(h)) else {
        return 0.0;
    };
    if vol.clicks_in(hour) == 0 {
        return 0.0;
    }
    let unit = Unit {
        domain: Domain::named("clicks"),
        date,
        hour: hour as u32,
        chunk: 0,
        chunks: vol.chunks(hour),
    };
    let mut walker = SessionWalker::new(world, &unit);
    let clicks = walker.total.max(1) as f64;
    let mut sales = 0u64;
    while let Some(s) = walker.next_session() {
        sales += u64::from(s.sale_us.is_some());
    }
    sales as f64 / clicks
}

/// Expected SCD2 versions per user on `date`.
fn versions_per_user(world: &World, date: NaiveDate) -> f64 {
    let w = &world.config;
    let middle = world.signup_from + chrono::Days::new(u64::from(world.signup_days / 2));
    let years = (date - middle).num_days().max(0) as f64 / 365.25;
    1.0 + (w.tier_changes_per_year + w.city_moves_per_year) * years
}

/// One unit of the plan, as counted before it is generated.
struct Counted {
    /// The unit's place in the run's plan order (shard = position mod N).
    position: u64,
    /// Index of its table in the spec's domains.
    table: usize,
    /// Hour of the run, from the first day's midnight UTC.
    hour: usize,
    /// Exact rows, and estimated ones (online sales, user versions).
    exact: u64,
    estimated: f64,
    events: bool,
}

/// Visits every unit of the run in plan order, with its rows.
fn count_units(world: &World, mut visit: impl FnMut(Counted)) {
    let spec = &world.spec;
    let online = if spec.domains.contains(&Domain::named("sales")) {
        online_sales_per_click(world)
    } else {
        0.0
    };
    let users = users_total(spec);
    let mut position = 0u64;
    for (day, date) in spec.dates().enumerate() {
        let vol = DayVolumes::new(world, date);
        for (t, &domain) in spec.domains.iter().enumerate() {
            for (hour, chunks) in tables::generator(domain).plan_day(world, &vol) {
                for chunk in 0..chunks {
                    let h = hour as usize;
                    let share = |per_country: &[u64; COUNTRIES.len()]| -> u64 {
                        per_country
                            .iter()
                            .map(|&n| chunk_share(n, chunks, chunk))
                            .sum()
                    };
                    let (exact, estimated) = match domain.name() {
                        "clicks" => (share(&vol.clicks[h]), 0.0),
                        "sales" => (
                            share(&vol.pos_sales[h]),
                            share(&vol.clicks[h]) as f64 * online,
                        ),
                        "users" => {
                            let lo = u64::from(chunk) * USERS_PER_FILE;
                            let n = (lo + USERS_PER_FILE).min(users) - lo;
                            (0, n as f64 * versions_per_user(world, date))
                        }
                        "stores" => {
                            let opened = world
                                .physical_stores
                                .iter()
                                .filter(|s| s.opened_on <= date)
                                .count();
                            ((opened + COUNTRIES.len()) as u64, 0.0)
                        }
                        _ => (0, 0.0),
                    };
                    visit(Counted {
                        position,
                        table: t,
                        hour: day * 24 + h,
                        exact,
                        estimated,
                        events: domain.events().is_some(),
                    });
                    position += 1;
                }
            }
        }
    }
}

/// The plan of shard `shard_index` of `shard_count`.
pub(crate) fn summarize(world: &World, shard_index: u32, shard_count: u32) -> PlanSummary {
    let spec = &world.spec;
    let mut tables: Vec<TablePlan> = spec
        .domains
        .iter()
        .map(|&domain| TablePlan {
            domain,
            files: 0,
            rows: 0,
            exact: !matches!(domain.name(), "sales" | "users"),
        })
        .collect();
    let mut estimated = vec![0.0f64; tables.len()];
    let mut hourly = vec![0.0f64; spec.days as usize * 24];
    count_units(world, |u| {
        if u.position % u64::from(shard_count) != u64::from(shard_index) {
            return;
        }
        tables[u.table].files += 1;
        tables[u.table].rows += u.exact;
        estimated[u.table] += u.estimated;
        if u.events {
            hourly[u.hour] += u.exact as f64 + u.estimated;
        }
    });
    for (t, e) in tables.iter_mut().zip(estimated) {
        t.rows += e.round() as u64;
    }
    PlanSummary {
        tables,
        hourly_events: hourly.into_iter().map(|n| n.round() as u64).collect(),
    }
}

/// Events (sales and clicks, online sales estimated) of each of
/// `shard_count` shards, in one pass over the plan.
pub(crate) fn shard_events(world: &World, shard_count: u32) -> Vec<f64> {
    let mut events = vec![0.0; shard_count as usize];
    count_units(world, |u| {
        if u.events {
            events[(u.position % u64::from(shard_count)) as usize] += u.exact as f64 + u.estimated;
        }
    });
    events
}

#[cfg(test)]
mod tests {
    use crate::spec::DatasetSpec;

    #[test]
    fn exact_counts_match_the_generated_rows() {
        let spec = DatasetSpec {
            scale: 0.002,
            days: 2,
            ..DatasetSpec::default()
        };
        let generator = crate::Generator::new(&spec).unwrap();
        let summary = generator.summarize(0, 1);
        // Shards' events add up to the run's; each is its own summary's.
        let shards = generator.shard_events(3);
        for (i, e) in shards.iter().enumerate() {
            let own = generator.summarize(i as u32, 3).events() as f64;
            assert!((e - own).abs() <= 1.0, "shard {i}: {e} vs {own}");
        }
        let hourly: u64 = summary.hourly_events.iter().sum();
        assert!(hourly.abs_diff(summary.events()) <= 48, "{hourly}");
        let mut files = 0;
        let mut rows = std::collections::BTreeMap::new();
        for unit in generator.shard_units(0, 1) {
            files += 1;
            *rows.entry(unit.domain.name()).or_insert(0u64) +=
                generator.generate(unit).batch.num_rows() as u64;
        }
        assert_eq!(summary.files(), files);
        for t in &summary.tables {
            let real = rows[t.domain.name()] as f64;
            if t.exact {
                assert_eq!(t.rows as f64, real, "{}", t.domain);
            } else {
                // Estimates: within 10%.
                assert!(
                    (t.rows as f64 / real - 1.0).abs() < 0.1,
                    "{}: {} vs {real}",
                    t.domain,
                    t.rows
                );
            }
        }
    }
}
