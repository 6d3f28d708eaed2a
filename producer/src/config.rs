//! Run settings: defaults, a TOML file (`--config`), `MARKETPULSE_*` environment
//! variables and flags, in rising precedence. Everything that shapes generated
//! values lives in [`DatasetSpec`]; the rest (output place, threads, shard)
//! only decides where and how fast.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Version of the data contract. Bump it whenever generated values change.
pub const CONTRACT_VERSION: u32 = 1;
/// First day generated when `--start` is not given: a Monday.
pub const DEFAULT_START: &str = "2025-01-06";
pub const DEFAULT_OUT: &str = "lake";

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Users,
    Stores,
    Sales,
    Clicks,
}

impl Domain {
    pub const ALL: [Domain; 4] = [Domain::Users, Domain::Stores, Domain::Sales, Domain::Clicks];
    pub fn name(self) -> &'static str {
        match self {
            Domain::Users => "users",
            Domain::Stores => "stores",
            Domain::Sales => "sales",
            Domain::Clicks => "clicks",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Jsonl,
    Csv,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Zstd,
    Snappy,
    None,
}

/// The world model's parameters. Defaults describe a mid-sized retailer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldConfig {
    /// Page views per day at scale 1 (before seasonality).
    pub clicks_per_day: u64,
    /// Point-of-sale purchases per day at scale 1.
    pub pos_sales_per_day: u64,
    /// Registered users at scale 1.
    pub users: u64,
    /// Physical stores (not scaled); one online storefront per country is added.
    pub stores: u32,
    pub products: u32,
    pub categories: u32,
    /// Users signed up uniformly between these days (YYYY-MM-DD).
    pub signup_from: String,
    pub signup_to: String,
    /// Relative web traffic per UTC hour, 24 values.
    pub hourly_weights: Vec<f64>,
    /// Relative store traffic per UTC hour, 24 values.
    pub pos_hourly_weights: Vec<f64>,
    /// Zipf exponents of popularity ranks.
    pub zipf_stores: f64,
    pub zipf_products: f64,
    pub zipf_categories: f64,
    pub zipf_users: f64,
    /// Product list prices are log-normal: median in USD and sigma of ln(price).
    pub price_median_usd: f64,
    pub price_sigma: f64,
    /// Basket lines are 1 + Poisson(basket_extra_lines); each line's quantity
    /// is 1 + Poisson(qty_extra).
    pub basket_extra_lines: f64,
    pub qty_extra: f64,
    /// Seconds between clicks are exponential with this mean (at least 1 s).
    pub click_gap_mean_seconds: f64,
    /// The purchase is recorded 1..=N seconds after the confirmation click.
    pub checkout_delay_max_seconds: u32,
    /// Sessions end after this many clicks at most.
    pub max_session_clicks: u32,
    /// Share of sessions landing on home, category or product pages.
    pub landing: BTreeMap<String, f64>,
    /// Funnel transition probabilities: from page kind to next page kind.
    /// What a row leaves to 1 is the exit probability. `confirmation` always exits.
    pub funnel: BTreeMap<String, BTreeMap<String, f64>>,
    /// Share of point-of-sale buyers who are not identified users.
    pub anonymous_pos_share: f64,
    /// Clicks carry v2 columns from this day on (YYYY-MM-DD); never when unset.
    pub clicks_v2_from: Option<String>,
}

fn map<const N: usize>(pairs: [(&str, f64); N]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            clicks_per_day: 5_000_000,
            pos_sales_per_day: 400_000,
            users: 1_000_000,
            stores: 200,
            products: 20_000,
            categories: 40,
            signup_from: "2019-01-01".into(),
            signup_to: "2024-12-31".into(),
            hourly_weights: vec![
                1.6, 1.1, 0.8, 0.6, 0.6, 0.9, 1.8, 3.0, 4.2, 4.8, 5.0, 5.2, 5.6, 5.4, 5.2, 5.2,
                5.4, 5.8, 6.4, 7.0, 7.2, 6.4, 4.6, 2.8,
            ],
            pos_hourly_weights: vec![
                0.1, 0.0, 0.0, 0.0, 0.0, 0.1, 0.4, 1.5, 3.5, 5.0, 6.5, 7.5, 8.5, 8.0, 7.5, 7.5,
                8.0, 9.0, 9.5, 8.5, 6.0, 3.0, 1.0, 0.3,
            ],
            zipf_stores: 0.8,
            zipf_products: 1.05,
            zipf_categories: 0.9,
            zipf_users: 0.6,
            price_median_usd: 24.0,
            price_sigma: 0.9,
            basket_extra_lines: 1.4,
            qty_extra: 0.3,
            click_gap_mean_seconds: 30.0,
            checkout_delay_max_seconds: 20,
            max_session_clicks: 60,
            landing: map([("home", 0.5), ("category", 0.3), ("product", 0.2)]),
            funnel: [
                ("home", map([("category", 0.55), ("product", 0.15)])),
                ("category", map([("category", 0.15), ("product", 0.55)])),
                (
                    "product",
                    map([("product", 0.25), ("category", 0.10), ("cart", 0.12)]),
                ),
                ("cart", map([("checkout", 0.55), ("product", 0.15)])),
                ("checkout", map([("confirmation", 0.75)])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            anonymous_pos_share: 0.35,
            clicks_v2_from: None,
        }
    }
}

/// The TOML file: every flag's key plus `[world]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub out: Option<PathBuf>,
    pub start: Option<String>,
    pub days: Option<i64>,
    pub scale: Option<f64>,
    pub seed: Option<u64>,
    pub format: Option<Format>,
    pub compression: Option<Compression>,
    pub threads: Option<i64>,
    pub shard_index: Option<i64>,
    pub shard_count: Option<i64>,
    pub domains: Option<Vec<Domain>>,
    pub world: Option<WorldConfig>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!("cannot read config file {}: {e}", path.display()))
        })?;
        toml::from_str(&text).map_err(|e| {
            let msg = e.message().replace('\n', " ");
            let line = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            Error::usage(format!(
                "invalid config file {}{line}: {msg}",
                path.display()
            ))
        })
    }
}

/// Everything that decides generated values. Two runs with equal specs produce
/// identical files.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetSpec {
    pub contract_version: u32,
    pub start: NaiveDate,
    pub days: u32,
    pub scale: f64,
    pub seed: u64,
    pub format: Format,
    pub compression: Compression,
    pub domains: Vec<Domain>,
    pub world: WorldConfig,
}

impl DatasetSpec {
    /// Short content hash of the spec; names the run's manifests.
    pub fn id(&self) -> String {
        let json = serde_json::to_vec(self).expect("spec serialises");
        let digest = Sha256::digest(&json);
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A fully resolved `generate` run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub out: PathBuf,
    pub threads: usize,
    pub shard_index: u32,
    pub shard_count: u32,
    pub spec: DatasetSpec,
}

/// Values given on the command line or in the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub out: Option<PathBuf>,
    pub start: Option<String>,
    pub days: Option<i64>,
    pub scale: Option<f64>,
    pub seed: Option<u64>,
    pub format: Option<Format>,
    pub compression: Option<Compression>,
    pub threads: Option<i64>,
    pub shard_index: Option<i64>,
    pub shard_count: Option<i64>,
    pub domains: Option<Vec<Domain>>,
    pub clicks_v2_from: Option<String>,
}

pub fn parse_date(what: &str, s: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| Error::usage(format!("invalid {what} '{s}': expected a date YYYY-MM-DD")))
}

impl Settings {
    pub fn resolve(cli: Overrides, file: FileConfig) -> Result<Settings, Error> {
        let start = cli
            .start
            .or(file.start)
            .unwrap_or_else(|| DEFAULT_START.into());
        let start = parse_date("--start", &start)?;
        let days = cli.days.or(file.days).unwrap_or(1);
        if !(1..=36_600).contains(&days) {
            return Err(Error::usage(format!(
                "invalid --days {days}: must be between 1 and 36600"
            )));
        }
        let scale = cli.scale.or(file.scale).unwrap_or(1.0);
        if !(scale.is_finite() && scale > 0.0 && scale <= 10_000.0) {
            return Err(Error::usage(format!(
                "invalid --scale {scale}: must be a number above 0 and at most 10000"
            )));
        }
        let threads = match cli.threads.or(file.threads) {
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Some(t) if (1..=1024).contains(&t) => t as usize,
            Some(t) => {
                return Err(Error::usage(format!(
                    "invalid --threads {t}: must be between 1 and 1024"
                )));
            }
        };
        let shard_count = cli.shard_count.or(file.shard_count).unwrap_or(1);
        if !(1..=1_000_000).contains(&shard_count) {
            return Err(Error::usage(format!(
                "invalid --shard-count {shard_count}: must be between 1 and 1000000"
            )));
        }
        let shard_index = cli.shard_index.or(file.shard_index).unwrap_or(0);
        if shard_index < 0 || shard_index >= shard_count {
            return Err(Error::usage(format!(
                "invalid --shard-index {shard_index}: must be below --shard-count {shard_count}"
            )));
        }
        let mut domains = cli
            .domains
            .or(file.domains)
            .unwrap_or_else(|| Domain::ALL.to_vec());
        domains.sort();
        domains.dedup();
        if domains.is_empty() {
            return Err(Error::usage("invalid --domains: name at least one domain"));
        }
        let mut world = file.world.unwrap_or_default();
        if let Some(d) = cli.clicks_v2_from {
            world.clicks_v2_from = Some(d);
        }
        validate_world(&world)?;
        Ok(Settings {
            out: cli
                .out
                .or(file.out)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT)),
            threads,
            shard_index: shard_index as u32,
            shard_count: shard_count as u32,
            spec: DatasetSpec {
                contract_version: CONTRACT_VERSION,
                start,
                days: days as u32,
                scale,
                seed: cli.seed.or(file.seed).unwrap_or(42),
                format: cli.format.or(file.format).unwrap_or(Format::Parquet),
                compression: cli
                    .compression
                    .or(file.compression)
                    .unwrap_or(Compression::Zstd),
                domains,
                world,
            },
        })
    }
}

pub const PAGE_KINDS: [&str; 6] = [
    "home",
    "category",
    "product",
    "cart",
    "checkout",
    "confirmation",
];

fn validate_world(w: &WorldConfig) -> Result<(), Error> {
    let bad = |m: String| Err(Error::usage(format!("invalid [world] config: {m}")));
    for (name, curve) in [
        ("hourly_weights", &w.hourly_weights),
        ("pos_hourly_weights", &w.pos_hourly_weights),
    ] {
        if curve.len() != 24
            || curve.iter().any(|x| !x.is_finite() || *x < 0.0)
            || curve.iter().sum::<f64>() <= 0.0
        {
            return bad(format!(
                "{name} needs 24 non-negative numbers with a positive sum"
            ));
        }
    }
    for (name, v) in [
        ("zipf_stores", w.zipf_stores),
        ("zipf_products", w.zipf_products),
        ("zipf_categories", w.zipf_categories),
        ("zipf_users", w.zipf_users),
        ("basket_extra_lines", w.basket_extra_lines),
        ("qty_extra", w.qty_extra),
        ("price_sigma", w.price_sigma),
    ] {
        if !(v.is_finite() && (0.0..=10.0).contains(&v)) {
            return bad(format!("{name} = {v} must be between 0 and 10"));
        }
    }
    if !(w.price_median_usd.is_finite() && w.price_median_usd > 0.0 && w.price_median_usd < 1e6) {
        return bad("price_median_usd must be above 0 and below 1000000".into());
    }
    if !(w.click_gap_mean_seconds.is_finite() && (0.0..=600.0).contains(&w.click_gap_mean_seconds))
    {
        return bad("click_gap_mean_seconds must be between 0 and 600".into());
    }
    if !(1..=200).contains(&w.max_session_clicks) {
        return bad("max_session_clicks must be between 1 and 200".into());
    }
    if !(1..=600).contains(&w.checkout_delay_max_seconds) {
        return bad("checkout_delay_max_seconds must be between 1 and 600".into());
    }
    if !(0.0..=1.0).contains(&w.anonymous_pos_share) {
        return bad("anonymous_pos_share must be between 0 and 1".into());
    }
    if w.users == 0 || w.users > 1 << 40 || w.products == 0 || w.products > 1_000_000 {
        return bad(
            "users and products must be positive (users < 2^40, products <= 1000000)".into(),
        );
    }
    if w.categories == 0 || w.categories > 10_000 || w.stores > 1_000_000 {
        return bad("categories must be 1..=10000 and stores at most 1000000".into());
    }
    let from = parse_date("world.signup_from", &w.signup_from)?;
    let to = parse_date("world.signup_to", &w.signup_to)?;
    if to < from {
        return bad("signup_to is before signup_from".into());
    }
    if let Some(d) = &w.clicks_v2_from {
        parse_date("--clicks-v2-from", d)?;
    }
    check_probabilities("landing", &w.landing, &["home", "category", "product"])?;
    for (from, row) in &w.funnel {
        if !PAGE_KINDS[..5].contains(&from.as_str()) {
            return bad(format!(
                "funnel has unknown page kind '{from}' (expected one of home, category, product, cart, checkout)"
            ));
        }
        check_probabilities(&format!("funnel.{from}"), row, &PAGE_KINDS)?;
    }
    Ok(())
}

fn check_probabilities(
    what: &str,
    row: &BTreeMap<String, f64>,
    allowed: &[&str],
) -> Result<(), Error> {
    for (k, v) in row {
        if !allowed.contains(&k.as_str()) {
            return Err(Error::usage(format!(
                "invalid [world] config: {what} has unknown page kind '{k}' (expected one of {})",
                allowed.join(", ")
            )));
        }
        if !(v.is_finite() && *v >= 0.0) {
            return Err(Error::usage(format!(
                "invalid [world] config: {what}.{k} = {v} must be non-negative"
            )));
        }
    }
    let sum: f64 = row.values().sum();
    if sum > 1.0 + 1e-9 {
        return Err(Error::usage(format!(
            "invalid [world] config: {what} sums to {sum}, above 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beat_defaults() {
        let file: FileConfig = toml::from_str("days = 3\nscale = 0.5\nseed = 7").unwrap();
        let cli = Overrides {
            days: Some(2),
            ..Default::default()
        };
        let s = Settings::resolve(cli, file).unwrap();
        assert_eq!(s.spec.days, 2);
        assert_eq!(s.spec.scale, 0.5);
        assert_eq!(s.spec.seed, 7);
        assert_eq!(s.spec.start, NaiveDate::from_ymd_opt(2025, 1, 6).unwrap());
    }

    #[test]
    fn example_config_shows_the_defaults() {
        let file: FileConfig =
            toml::from_str(include_str!("../../docs/config.example.toml")).unwrap();
        assert_eq!(file.world.clone().unwrap(), WorldConfig::default());
        let s = Settings::resolve(Overrides::default(), file).unwrap();
        let d = Settings::resolve(Overrides::default(), FileConfig::default()).unwrap();
        assert_eq!(s.spec, d.spec);
        assert_eq!(s.out, d.out);
    }

    #[test]
    fn unknown_world_key_is_rejected() {
        let err = toml::from_str::<FileConfig>("[world]\nclicks_per_dya = 3").unwrap_err();
        assert!(
            err.message().contains("clicks_per_dya"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn funnel_rows_must_be_probabilities() {
        let mut w = WorldConfig::default();
        w.funnel
            .get_mut("cart")
            .unwrap()
            .insert("checkout".into(), 0.95);
        assert!(
            validate_world(&w)
                .unwrap_err()
                .to_string()
                .contains("funnel.cart sums to")
        );
    }

    #[test]
    fn spec_id_tracks_values_not_placement() {
        let a = Settings::resolve(Overrides::default(), FileConfig::default()).unwrap();
        let b = Settings::resolve(
            Overrides {
                threads: Some(3),
                out: Some("x".into()),
                ..Default::default()
            },
            FileConfig::default(),
        )
        .unwrap();
        let c = Settings::resolve(
            Overrides {
                seed: Some(1),
                ..Default::default()
            },
            FileConfig::default(),
        )
        .unwrap();
        assert_eq!(a.spec.id(), b.spec.id());
        assert_ne!(a.spec.id(), c.spec.id());
    }
}
