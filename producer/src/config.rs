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
pub const CONTRACT_VERSION: u32 = 2;
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
    /// Relative web traffic per local hour 00..23, in the user's time zone.
    pub hourly_weights: Vec<f64>,
    /// Relative store traffic per local hour 00..23, in the store's time zone.
    pub pos_hourly_weights: Vec<f64>,
    /// Day multipliers, Monday first. Every multiplier is at least 1, so a day
    /// never has fewer events than `clicks_per_day` × scale.
    pub weekday_multipliers: Vec<f64>,
    /// Black Friday: the day after the fourth Thursday of November.
    pub black_friday_multiplier: f64,
    /// Cyber Monday: three days after Black Friday.
    pub cyber_monday_multiplier: f64,
    /// 1 to 24 December.
    pub december_multiplier: f64,
    /// Compound growth per day from `growth_from` on (0.0005 is about 20% a year).
    pub daily_growth: f64,
    pub growth_from: String,
    /// SCD2 users: expected loyalty tier changes and city moves per user-year.
    pub tier_changes_per_year: f64,
    pub city_moves_per_year: f64,
    /// Physical stores open uniformly between these days (YYYY-MM-DD).
    pub stores_opened_from: String,
    pub stores_opened_to: String,
    /// Share of physical stores that close, 1 to 15 years after opening.
    pub store_close_share: f64,
    /// Local currency units per USD; one entry per currency.
    pub fx_per_usd: BTreeMap<String, f64>,
    /// Payment mix per country code; `default` covers countries not listed.
    pub payment_mix: BTreeMap<String, PaymentMix>,
    /// Sessions that arrive without a campaign: referrer → share (`direct` = none).
    pub organic_referrers: BTreeMap<String, f64>,
    /// Marketing campaigns; they set `utm_*` and add traffic while they run.
    pub campaigns: Vec<Campaign>,
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
            signup_to: "2023-12-31".into(),
            hourly_weights: vec![
                1.6, 1.1, 0.8, 0.6, 0.6, 0.9, 1.8, 3.0, 4.2, 4.8, 5.0, 5.2, 5.6, 5.4, 5.2, 5.2,
                5.4, 5.8, 6.4, 7.0, 7.2, 6.4, 4.6, 2.8,
            ],
            pos_hourly_weights: vec![
                0.1, 0.0, 0.0, 0.0, 0.0, 0.1, 0.4, 1.5, 3.5, 5.0, 6.5, 7.5, 8.5, 8.0, 7.5, 7.5,
                8.0, 9.0, 9.5, 8.5, 6.0, 3.0, 1.0, 0.3,
            ],
            weekday_multipliers: vec![1.0, 1.0, 1.02, 1.05, 1.12, 1.25, 1.18],
            black_friday_multiplier: 3.0,
            cyber_monday_multiplier: 2.4,
            december_multiplier: 1.3,
            daily_growth: 0.0005,
            growth_from: "2025-01-01".into(),
            tier_changes_per_year: 0.25,
            city_moves_per_year: 0.05,
            stores_opened_from: "2005-01-01".into(),
            stores_opened_to: "2026-06-30".into(),
            store_close_share: 0.2,
            fx_per_usd: map([
                ("USD", 1.0),
                ("GBP", 0.79),
                ("EUR", 0.92),
                ("JPY", 150.0),
                ("BRL", 5.0),
                ("CAD", 1.36),
                ("AUD", 1.52),
                ("INR", 83.0),
            ]),
            payment_mix: default_payment_mix(),
            organic_referrers: map([
                ("direct", 0.45),
                ("https://www.google.com/", 0.36),
                ("https://www.bing.com/", 0.07),
                ("https://t.co/", 0.05),
                ("https://www.facebook.com/", 0.07),
            ]),
            campaigns: default_campaigns(),
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

/// Payment type shares of one country, at the till and online.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMix {
    pub pos: BTreeMap<String, f64>,
    pub online: BTreeMap<String, f64>,
}

/// A campaign runs from `start` to `end` (inclusive; open-ended when unset).
/// While it runs, `weight` of the sessions carry its UTM values and web
/// traffic grows by `uplift` (0.1 = +10%).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub name: String,
    /// `utm_source`: a search engine for cpc, a social site for social.
    pub source: String,
    /// `utm_medium`: cpc, social, email, affiliate or display.
    pub medium: String,
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    pub weight: f64,
    #[serde(default)]
    pub uplift: f64,
    /// `utm_term` values (search keywords); empty gives null.
    #[serde(default)]
    pub terms: Vec<String>,
    /// `utm_content` values (ad variants); empty gives null.
    #[serde(default)]
    pub contents: Vec<String>,
}

/// Referrer that a campaign's source sends, by medium: search engines for
/// cpc, social sites for social, none for e-mail, the partner's site otherwise.
pub fn campaign_referrer(source: &str, medium: &str) -> Result<Option<String>, String> {
    const SEARCH: [(&str, &str); 3] = [
        ("google", "https://www.google.com/"),
        ("bing", "https://www.bing.com/"),
        ("duckduckgo", "https://duckduckgo.com/"),
    ];
    const SOCIAL: [(&str, &str); 6] = [
        ("facebook", "https://www.facebook.com/"),
        ("instagram", "https://www.instagram.com/"),
        ("tiktok", "https://www.tiktok.com/"),
        ("x", "https://t.co/"),
        ("pinterest", "https://www.pinterest.com/"),
        ("youtube", "https://www.youtube.com/"),
    ];
    let find = |table: &[(&str, &str)], kind: &str| {
        table
            .iter()
            .find(|(s, _)| *s == source)
            .map(|(_, r)| Some(r.to_string()))
            .ok_or_else(|| {
                let names: Vec<&str> = table.iter().map(|(s, _)| *s).collect();
                format!(
                    "source '{source}' is not a {kind} (medium {medium} expects one of {})",
                    names.join(", ")
                )
            })
    };
    match medium {
        "cpc" => find(&SEARCH, "search engine"),
        "social" => find(&SOCIAL, "social site"),
        "email" => Ok(None),
        "affiliate" | "display" => {
            if source.is_empty()
                || !source
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                Err(format!(
                    "source '{source}' must be a plain name (letters, digits, -)"
                ))
            } else {
                Ok(Some(format!("https://www.{source}.com/")))
            }
        }
        _ => Err(format!(
            "medium '{medium}' is unknown (expected cpc, social, email, affiliate or display)"
        )),
    }
}

fn default_payment_mix() -> BTreeMap<String, PaymentMix> {
    let mix = |pos: [f64; 5], online: [f64; 5]| {
        let names = ["card", "cash", "mobile_wallet", "bnpl", "gift_card"];
        let m = |w: [f64; 5]| {
            names
                .iter()
                .zip(w)
                .filter(|(_, v)| *v > 0.0)
                .map(|(k, v)| (k.to_string(), v))
                .collect()
        };
        PaymentMix {
            pos: m(pos),
            online: m(online),
        }
    };
    [
        (
            "default",
            mix([0.55, 0.22, 0.18, 0.0, 0.05], [0.68, 0.0, 0.20, 0.09, 0.03]),
        ),
        (
            "DE",
            mix([0.42, 0.43, 0.10, 0.0, 0.05], [0.45, 0.0, 0.22, 0.30, 0.03]),
        ),
        (
            "JP",
            mix([0.40, 0.38, 0.19, 0.0, 0.03], [0.75, 0.0, 0.18, 0.04, 0.03]),
        ),
        (
            "IN",
            mix([0.20, 0.30, 0.48, 0.0, 0.02], [0.25, 0.0, 0.65, 0.08, 0.02]),
        ),
        (
            "BR",
            mix([0.45, 0.15, 0.38, 0.0, 0.02], [0.40, 0.0, 0.52, 0.06, 0.02]),
        ),
        (
            "GB",
            mix([0.62, 0.12, 0.22, 0.0, 0.04], [0.66, 0.0, 0.22, 0.09, 0.03]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn default_campaigns() -> Vec<Campaign> {
    let c = |name: &str,
             source: &str,
             medium: &str,
             start: &str,
             end: Option<&str>,
             weight: f64,
             uplift: f64,
             terms: &[&str],
             contents: &[&str]| Campaign {
        name: name.into(),
        source: source.into(),
        medium: medium.into(),
        start: start.into(),
        end: end.map(str::to_string),
        weight,
        uplift,
        terms: terms.iter().map(|t| t.to_string()).collect(),
        contents: contents.iter().map(|t| t.to_string()).collect(),
    };
    vec![
        c(
            "brand_search",
            "google",
            "cpc",
            "2019-01-01",
            None,
            0.05,
            0.0,
            &["marketpulse", "marketpulse store"],
            &["text_ad_1"],
        ),
        c(
            "generic_search",
            "google",
            "cpc",
            "2019-01-01",
            None,
            0.05,
            0.0,
            &["buy shoes online", "wireless headphones", "coffee maker"],
            &["text_ad_2", "text_ad_3"],
        ),
        c(
            "generic_search_bing",
            "bing",
            "cpc",
            "2021-06-01",
            None,
            0.015,
            0.0,
            &["buy shoes online", "wireless headphones"],
            &["text_ad_2"],
        ),
        c(
            "weekly_deals",
            "newsletter",
            "email",
            "2019-01-01",
            None,
            0.06,
            0.0,
            &[],
            &["header_banner", "footer_link"],
        ),
        c(
            "partner_program",
            "dealsblog",
            "affiliate",
            "2020-03-01",
            None,
            0.03,
            0.0,
            &[],
            &["sidebar"],
        ),
        c(
            "spring_sale_2025",
            "instagram",
            "social",
            "2025-03-14",
            Some("2025-03-31"),
            0.06,
            0.08,
            &[],
            &["story_1", "story_2"],
        ),
        c(
            "summer_2025",
            "facebook",
            "social",
            "2025-06-20",
            Some("2025-07-20"),
            0.05,
            0.05,
            &[],
            &["carousel_1"],
        ),
        c(
            "back_to_school_2025",
            "tiktok",
            "social",
            "2025-08-10",
            Some("2025-09-07"),
            0.04,
            0.04,
            &[],
            &["video_1"],
        ),
        c(
            "black_friday_2025",
            "facebook",
            "social",
            "2025-11-17",
            Some("2025-12-01"),
            0.08,
            0.10,
            &[],
            &["carousel_bf", "video_bf"],
        ),
        c(
            "holiday_2025",
            "instagram",
            "social",
            "2025-12-02",
            Some("2025-12-24"),
            0.06,
            0.06,
            &[],
            &["story_gifts"],
        ),
        c(
            "spring_sale_2026",
            "instagram",
            "social",
            "2026-03-13",
            Some("2026-03-31"),
            0.06,
            0.08,
            &[],
            &["story_1", "story_2"],
        ),
        c(
            "black_friday_2026",
            "facebook",
            "social",
            "2026-11-23",
            Some("2026-11-30"),
            0.08,
            0.10,
            &[],
            &["carousel_bf", "video_bf"],
        ),
        c(
            "holiday_2026",
            "instagram",
            "social",
            "2026-12-01",
            Some("2026-12-24"),
            0.06,
            0.06,
            &[],
            &["story_gifts"],
        ),
    ]
}

/// Defects injected on purpose into sales and clicks. Every rate is the
/// share of a file's clean rows picked for that defect; a row gets at most
/// one. All are off by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirtyConfig {
    /// Event time moved back by 1 + Exp(late_mean_hours) hours (capped at
    /// `late_max_hours`), so it lands in a later hour than it happened.
    pub late: f64,
    pub late_mean_hours: f64,
    pub late_max_hours: u32,
    /// An exact copy of the row follows it.
    pub duplicates: f64,
    /// A copy with the same id and a changed payload follows it.
    pub near_duplicates: f64,
    /// The row is broken in one way: null key, negative amount, unknown
    /// currency, future timestamp, amount different from its items, or (jsonl
    /// only) an unparseable line.
    pub malformed: f64,
}

impl Default for DirtyConfig {
    fn default() -> Self {
        DirtyConfig {
            late: 0.0,
            late_mean_hours: 2.0,
            late_max_hours: 48,
            duplicates: 0.0,
            near_duplicates: 0.0,
            malformed: 0.0,
        }
    }
}

impl DirtyConfig {
    pub fn any(&self) -> bool {
        self.late + self.duplicates + self.near_duplicates + self.malformed > 0.0
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
    pub dirty: Option<DirtyConfig>,
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    pub dirty: DirtyConfig,
}

impl DatasetSpec {
    /// Short content hash of the spec; names the run's manifests.
    pub fn id(&self) -> String {
        let json = serde_json::to_vec(self).expect("spec serialises");
        let digest = Sha256::digest(&json);
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where events go when not to the lake at `out`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordTarget {
    Kinesis(String),
    Firehose(String),
    Stdout,
}

impl RecordTarget {
    pub fn parse(s: &str) -> Result<RecordTarget, Error> {
        if s == "stdout" {
            return Ok(RecordTarget::Stdout);
        }
        let named = |rest: &str| {
            if rest.is_empty() || rest.contains('/') {
                Err(Error::usage(format!(
                    "invalid --sink '{s}': name one stream, as kinesis://NAME or firehose://NAME"
                )))
            } else {
                Ok(rest.to_string())
            }
        };
        if let Some(rest) = s.strip_prefix("kinesis://") {
            return Ok(RecordTarget::Kinesis(named(rest)?));
        }
        if let Some(rest) = s.strip_prefix("firehose://") {
            return Ok(RecordTarget::Firehose(named(rest)?));
        }
        Err(Error::usage(format!(
            "invalid --sink '{s}': expected kinesis://STREAM, firehose://DELIVERY-STREAM or stdout"
        )))
    }
}

/// A fully resolved `generate` run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Lake folder or `s3://bucket/prefix`; with a record sink, where the
    /// manifest (and truth sidecars) go.
    pub out: PathBuf,
    /// Events go to this stream (or stdout) instead of the lake.
    pub records: Option<RecordTarget>,
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
    pub sink: Option<String>,
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
        let records = cli.sink.as_deref().map(RecordTarget::parse).transpose()?;
        let default_domains = if records.is_some() {
            vec![Domain::Sales, Domain::Clicks]
        } else {
            Domain::ALL.to_vec()
        };
        let mut domains = cli.domains.or(file.domains).unwrap_or(default_domains);
        if records.is_some()
            && let Some(d) = domains
                .iter()
                .find(|d| matches!(d, Domain::Users | Domain::Stores))
        {
            return Err(Error::usage(format!(
                "invalid --domains: record sinks carry sales and clicks events, not {} snapshots",
                d.name()
            )));
        }
        let format = cli.format.or(file.format);
        if records.is_some() && format.is_some_and(|f| f != Format::Jsonl) {
            return Err(Error::usage(
                "invalid --format: record sinks send JSON lines (use --format jsonl or leave it out)",
            ));
        }
        let default_format = if records.is_some() {
            Format::Jsonl
        } else {
            Format::Parquet
        };
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
        let dirty = file.dirty.unwrap_or_default();
        validate_dirty(&dirty)?;
        let signup_to = parse_date("world.signup_to", &world.signup_to)?;
        if signup_to >= start {
            return Err(Error::usage(format!(
                "invalid --start {start}: events reference signed-up users, so it must be after world.signup_to ({signup_to})"
            )));
        }
        Ok(Settings {
            out: cli
                .out
                .or(file.out)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT)),
            records,
            threads,
            shard_index: shard_index as u32,
            shard_count: shard_count as u32,
            spec: DatasetSpec {
                contract_version: CONTRACT_VERSION,
                start,
                days: days as u32,
                scale,
                seed: cli.seed.or(file.seed).unwrap_or(42),
                format: format.unwrap_or(default_format),
                compression: cli
                    .compression
                    .or(file.compression)
                    .unwrap_or(Compression::Zstd),
                domains,
                world,
                dirty,
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
    if w.weekday_multipliers.len() != 7 {
        return bad("weekday_multipliers needs 7 numbers, Monday first".into());
    }
    for (name, v) in w
        .weekday_multipliers
        .iter()
        .map(|v| ("weekday_multipliers", *v))
        .chain([
            ("black_friday_multiplier", w.black_friday_multiplier),
            ("cyber_monday_multiplier", w.cyber_monday_multiplier),
            ("december_multiplier", w.december_multiplier),
        ])
    {
        if !(v.is_finite() && (1.0..=100.0).contains(&v)) {
            return bad(format!(
                "{name} = {v} must be between 1 and 100 (multipliers only add volume)"
            ));
        }
    }
    if !(w.daily_growth.is_finite() && (0.0..=0.1).contains(&w.daily_growth)) {
        return bad(format!(
            "daily_growth = {} must be between 0 and 0.1",
            w.daily_growth
        ));
    }
    parse_date("world.growth_from", &w.growth_from)?;
    for (name, v) in [
        ("tier_changes_per_year", w.tier_changes_per_year),
        ("city_moves_per_year", w.city_moves_per_year),
    ] {
        if !(v.is_finite() && (0.0..=12.0).contains(&v)) {
            return bad(format!("{name} = {v} must be between 0 and 12"));
        }
    }
    let opened_from = parse_date("world.stores_opened_from", &w.stores_opened_from)?;
    let opened_to = parse_date("world.stores_opened_to", &w.stores_opened_to)?;
    if opened_to < opened_from {
        return bad("stores_opened_to is before stores_opened_from".into());
    }
    if !(0.0..=1.0).contains(&w.store_close_share) {
        return bad("store_close_share must be between 0 and 1".into());
    }
    validate_money(w)?;
    validate_traffic(w)?;
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

fn validate_money(w: &WorldConfig) -> Result<(), Error> {
    let bad = |m: String| Err(Error::usage(format!("invalid [world] config: {m}")));
    for c in &crate::world::COUNTRIES {
        match w.fx_per_usd.get(c.currency) {
            Some(v) if v.is_finite() && *v > 0.0 => {}
            Some(v) => return bad(format!("fx_per_usd.{} = {v} must be above 0", c.currency)),
            None => return bad(format!("fx_per_usd has no rate for {}", c.currency)),
        }
    }
    if let Some(k) = w.fx_per_usd.keys().find(|k| {
        !crate::world::COUNTRIES
            .iter()
            .any(|c| c.currency == k.as_str())
    }) {
        return bad(format!("fx_per_usd has unknown currency '{k}'"));
    }
    if !w.payment_mix.contains_key("default") {
        return bad("payment_mix needs a 'default' entry".into());
    }
    for (country, mix) in &w.payment_mix {
        if country != "default" && !crate::world::COUNTRIES.iter().any(|c| c.code == country) {
            return bad(format!("payment_mix has unknown country '{country}'"));
        }
        for (channel, shares) in [("pos", &mix.pos), ("online", &mix.online)] {
            for (k, v) in shares {
                if !crate::world::PAYMENT_TYPES.contains(&k.as_str()) {
                    return bad(format!(
                        "payment_mix.{country}.{channel} has unknown payment type '{k}' (expected one of {})",
                        crate::world::PAYMENT_TYPES.join(", ")
                    ));
                }
                if !(v.is_finite() && *v >= 0.0) {
                    return bad(format!(
                        "payment_mix.{country}.{channel}.{k} = {v} must be non-negative"
                    ));
                }
            }
            if shares.values().sum::<f64>() <= 0.0 {
                return bad(format!(
                    "payment_mix.{country}.{channel} needs a positive share"
                ));
            }
        }
    }
    Ok(())
}

fn validate_traffic(w: &WorldConfig) -> Result<(), Error> {
    let bad = |m: String| Err(Error::usage(format!("invalid [world] config: {m}")));
    for (k, v) in &w.organic_referrers {
        if k != "direct" && !(k.starts_with("https://") || k.starts_with("http://")) {
            return bad(format!(
                "organic_referrers key '{k}' must be 'direct' or an http(s) URL"
            ));
        }
        if !(v.is_finite() && *v >= 0.0) {
            return bad(format!("organic_referrers.{k} = {v} must be non-negative"));
        }
    }
    if w.organic_referrers.values().sum::<f64>() <= 0.0 {
        return bad("organic_referrers needs a positive share".into());
    }
    let mut names = std::collections::BTreeSet::new();
    let mut total = 0.0;
    for c in &w.campaigns {
        let name = &c.name;
        if name.is_empty() || !names.insert(name.as_str()) {
            return bad(format!("campaign name '{name}' is empty or used twice"));
        }
        if let Err(m) = campaign_referrer(&c.source, &c.medium) {
            return bad(format!("campaign '{name}': {m}"));
        }
        let start = parse_date(&format!("campaign '{name}' start"), &c.start)?;
        if let Some(end) = &c.end
            && parse_date(&format!("campaign '{name}' end"), end)? < start
        {
            return bad(format!("campaign '{name}' ends before it starts"));
        }
        if !(c.weight.is_finite() && (0.0..=1.0).contains(&c.weight)) {
            return bad(format!(
                "campaign '{name}' weight {} must be between 0 and 1",
                c.weight
            ));
        }
        if !(c.uplift.is_finite() && (0.0..=10.0).contains(&c.uplift)) {
            return bad(format!(
                "campaign '{name}' uplift {} must be between 0 and 10",
                c.uplift
            ));
        }
        if c.terms.len() > 255 || c.contents.len() > 255 {
            return bad(format!(
                "campaign '{name}' has more than 255 terms or contents"
            ));
        }
        total += c.weight;
    }
    if total > 1.0 + 1e-9 {
        return bad(format!(
            "campaign weights sum to {total}, above 1: they are session shares"
        ));
    }
    Ok(())
}

fn validate_dirty(d: &DirtyConfig) -> Result<(), Error> {
    let bad = |m: String| Err(Error::usage(format!("invalid [dirty] config: {m}")));
    for (name, v) in [
        ("late", d.late),
        ("duplicates", d.duplicates),
        ("near_duplicates", d.near_duplicates),
        ("malformed", d.malformed),
    ] {
        if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
            return bad(format!("{name} = {v} must be a rate between 0 and 1"));
        }
    }
    let sum = d.late + d.duplicates + d.near_duplicates + d.malformed;
    if sum > 1.0 + 1e-9 {
        return bad(format!(
            "rates sum to {sum}, above 1: a row gets at most one defect"
        ));
    }
    if !(d.late_mean_hours.is_finite() && (0.0..=1000.0).contains(&d.late_mean_hours)) {
        return bad("late_mean_hours must be between 0 and 1000".into());
    }
    if !(1..=8760).contains(&d.late_max_hours) {
        return bad("late_max_hours must be between 1 and 8760".into());
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
        assert_eq!(file.dirty.clone().unwrap(), DirtyConfig::default());
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
