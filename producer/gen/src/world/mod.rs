//! The simulated world's fixed parts: stores, products, pages and traffic
//! sources, plus the sampling tables built from them. A `World` is a pure
//! function of the dataset spec; table generators only read it.

mod parts;
mod sampling;
pub(crate) mod vocabulary;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::StringArray;
use chrono::NaiveDate;
use chrono_tz::Tz;
use rand::RngExt;
use rand_distr::Distribution;
use rand_distr::weighted::WeightedAliasIndex;

use parts::{
    cities, country_user_start, currencies, lower, pages, product_prices, sku, user_strides,
};
pub(crate) use sampling::{RankSampler, alias, zipf_pick, zipf_weights};
pub use vocabulary::*;

use crate::seed::{StreamRng, stream, tag};
use crate::spec::{DatasetSpec, WorldConfig, campaign_referrer};

/// Dictionary values of a string column, shared by every batch.
pub(crate) type Dict = Arc<StringArray>;

pub(crate) fn dict<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Dict {
    Arc::new(StringArray::from_iter_values(values))
}

pub struct Store {
    pub country: usize,
    /// Index into the country's cities; None for online storefronts.
    pub city: Option<usize>,
    /// Open from `opened_on` up to, not including, `closed_on` (UTC days).
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
}

impl Store {
    pub fn is_open(&self, date: NaiveDate) -> bool {
        self.opened_on <= date && self.closed_on.is_none_or(|c| date < c)
    }
}

/// Where a session comes from: organic (a referrer or none) or a campaign.
pub(crate) struct Source {
    /// Key in `World::referrers`; None is a null referrer.
    pub(crate) referrer: Option<i32>,
    /// Keys of utm_source, utm_medium and utm_campaign (None for organic).
    pub(crate) utm: [Option<i32>; 3],
    /// Keys of the utm_term and utm_content values a session picks from.
    pub(crate) terms: Vec<i32>,
    pub(crate) contents: Vec<i32>,
    pub(crate) weight: f64,
    /// Running days and traffic uplift of a campaign.
    pub(crate) window: Option<(NaiveDate, Option<NaiveDate>, f64)>,
}

impl Source {
    fn runs_on(&self, date: NaiveDate) -> bool {
        self.window
            .is_some_and(|(start, end, _)| start <= date && end.is_none_or(|e| date <= e))
    }
}

/// Sessions' sources on one day: campaigns that run take their weight, the
/// organic referrers share the rest.
pub(crate) struct SourceTable {
    pick: WeightedAliasIndex<f64>,
    ids: Vec<u16>,
}

impl SourceTable {
    #[inline]
    pub(crate) fn sample(&self, rng: &mut StreamRng) -> u16 {
        self.ids[self.pick.sample(rng)]
    }
}

/// Fixed parts of the world plus sampling tables.
pub struct World {
    pub(crate) seed: u64,
    /// First user id of each country's block, plus `users` at the end.
    pub(crate) country_user_start: Vec<u64>,
    /// Per country: activity ranks and the stride that maps ranks onto ids.
    user_activity: Vec<RankSampler>,
    user_stride: Vec<u64>,
    pub timezones_of_country: Vec<Tz>,
    pub(crate) fx_per_usd: Vec<f64>,
    /// Zipf weight of each physical store (by id, which is its rank).
    pub(crate) store_weight: Vec<f64>,
    pub physical_stores: Vec<Store>,
    pub(crate) product_popularity: WeightedAliasIndex<f64>,
    pub(crate) category_popularity: WeightedAliasIndex<f64>,
    /// List price of each product in US cents.
    pub(crate) product_price_usd_cents: Vec<i64>,
    pub(crate) sources: Vec<Source>,
    pub(crate) signup_from: NaiveDate,
    pub(crate) signup_days: u32,
    // Dictionary values.
    pub(crate) pages: Dict,
    pub(crate) skus: Dict,
    pub(crate) countries: Dict,
    pub(crate) currencies: Dict,
    pub(crate) cities: Dict,
    /// Index of each country's first city in `cities`.
    pub(crate) city_start: Vec<i32>,
    pub(crate) timezones: Dict,
    pub(crate) channels: Dict,
    pub(crate) store_types: Dict,
    pub(crate) payment_types: Dict,
    pub(crate) tiers: Dict,
    pub(crate) devices: Dict,
    pub(crate) os_names: Dict,
    pub(crate) app_versions: Dict,
    pub(crate) first_names: Dict,
    pub(crate) last_names: Dict,
    /// Lower-case names for e-mail addresses.
    pub(crate) first_names_lower: Vec<String>,
    pub(crate) last_names_lower: Vec<String>,
    pub(crate) referrers: Dict,
    pub(crate) utm: [Dict; 5],
    pub(crate) currency_of_country: Vec<i32>,
    pub(crate) tier_pick: WeightedAliasIndex<f64>,
    pub(crate) device_pick: WeightedAliasIndex<f64>,
    /// Payment mix per country.
    pub(crate) pos_payment_pick: Vec<WeightedAliasIndex<f64>>,
    pub(crate) online_payment_pick: Vec<WeightedAliasIndex<f64>>,
    pub(crate) config: WorldConfig,
    pub spec: DatasetSpec,
}

/// Page dictionary layout: fixed pages first, then categories, then products.
pub(crate) const PAGE_HOME: i32 = 0;
pub(crate) const PAGE_CART: i32 = 1;
pub(crate) const PAGE_CHECKOUT: i32 = 2;
pub(crate) const PAGE_CONFIRMATION: i32 = 3;
pub(crate) const PAGE_FIRST_CATEGORY: i32 = 4;

/// Interns strings into a dictionary's values, returning keys.
#[derive(Default)]
struct Interner(Vec<String>);

impl Interner {
    fn key(&mut self, v: &str) -> i32 {
        match self.0.iter().position(|x| x == v) {
            Some(i) => i as i32,
            None => {
                self.0.push(v.to_string());
                (self.0.len() - 1) as i32
            }
        }
    }
}

fn build_sources(w: &WorldConfig) -> (Vec<Source>, Dict, [Dict; 5]) {
    let mut referrers = Interner::default();
    let mut utm: [Interner; 5] = Default::default();
    let mut sources = Vec::new();
    for (referrer, weight) in &w.organic_referrers {
        sources.push(Source {
            referrer: (referrer != "direct").then(|| referrers.key(referrer)),
            utm: [None; 3],
            terms: vec![],
            contents: vec![],
            weight: *weight,
            window: None,
        });
    }
    for c in &w.campaigns {
        let referrer = campaign_referrer(&c.source, &c.medium).expect("validated");
        sources.push(Source {
            referrer: referrer.map(|r| referrers.key(&r)),
            utm: [
                Some(utm[0].key(&c.source)),
                Some(utm[1].key(&c.medium)),
                Some(utm[2].key(&c.name)),
            ],
            terms: c.terms.iter().map(|t| utm[3].key(t)).collect(),
            contents: c.contents.iter().map(|t| utm[4].key(t)).collect(),
            weight: c.weight,
            window: Some((c.start, c.end, c.uplift)),
        });
    }
    let utm = utm.map(|i| dict(i.0));
    (sources, dict(referrers.0), utm)
}

/// The physical stores, each from its own stream: country, city, opening
/// day and, for some, a closing day.
fn physical_stores(w: &WorldConfig, seed: u64) -> Vec<Store> {
    let country_pick = alias(COUNTRIES.iter().map(|c| c.share).collect());
    let opened_from = w.stores_opened_from;
    let open_days = (w.stores_opened_to - opened_from).num_days() as u64 + 1;
    let mut physical_stores = Vec::with_capacity(w.stores as usize);
    for s in 0..w.stores as u64 {
        let mut rng = stream(&[seed, tag("store"), s]);
        let country = country_pick.sample(&mut rng);
        let ncity = COUNTRIES[country].cities.len();
        let city = zipf_pick(&mut rng, ncity);
        let opened_on = opened_from + chrono::Days::new(rng.random_range(0..open_days));
        // Closing stores last 1 to 15 years.
        let closes = rng.random::<f64>() < w.store_close_share;
        let life = rng.random_range(365..=15 * 365u64);
        physical_stores.push(Store {
            country,
            city: Some(city),
            opened_on,
            closed_on: closes.then(|| opened_on + chrono::Days::new(life)),
        });
    }
    physical_stores
}

impl World {
    pub fn new(spec: &DatasetSpec) -> World {
        let w = &spec.world;
        let seed = spec.seed;
        let users = ((w.users as f64 * spec.scale).round() as u64).max(1);
        let country_user_start = country_user_start(users);
        let physical_stores = physical_stores(w, seed);
        let product_price_usd_cents = product_prices(w, seed);
        let pages = pages(w);
        let (cities, city_start) = cities();
        let (currencies, currency_of_country) = currencies();
        let (sources, referrers, utm) = build_sources(w);
        let mix = |c: &Country| {
            w.payment_mix
                .get(c.code)
                .or_else(|| w.payment_mix.get("default"))
                .expect("validated: default exists")
        };
        let payment_pick = |shares: &BTreeMap<String, f64>| {
            alias(
                PAYMENT_TYPES
                    .iter()
                    .map(|p| shares.get(*p).copied().unwrap_or(0.0))
                    .collect(),
            )
        };
        let first: Vec<&str> = first_names().collect();
        let last: Vec<&str> = last_names().collect();
        let user_stride = user_strides(&country_user_start);
        let store_weight = zipf_weights(physical_stores.len(), w.zipf_stores);
        let user_activity = (0..COUNTRIES.len())
            .map(|c| {
                let block = country_user_start[c + 1] - country_user_start[c];
                RankSampler::new(block.max(1), w.zipf_users)
            })
            .collect();

        World {
            seed,
            country_user_start,
            user_activity,
            user_stride,
            timezones_of_country: COUNTRIES
                .iter()
                .map(|c| c.timezone.parse().expect("known time zone"))
                .collect(),
            fx_per_usd: COUNTRIES.iter().map(|c| w.fx_per_usd[c.currency]).collect(),
            store_weight,
            physical_stores,
            product_popularity: alias(zipf_weights(w.products as usize, w.zipf_products)),
            category_popularity: alias(zipf_weights(w.categories as usize, w.zipf_categories)),
            product_price_usd_cents,
            sources,
            signup_from: w.signup_from,
            signup_days: (w.signup_to - w.signup_from).num_days() as u32 + 1,
            pages: dict(pages),
            skus: dict((0..w.products).map(sku)),
            countries: dict(COUNTRIES.iter().map(|c| c.code)),
            currencies: dict(currencies),
            cities: dict(cities),
            city_start,
            timezones: dict(COUNTRIES.iter().map(|c| c.timezone)),
            channels: dict(["pos", "online"]),
            store_types: dict(["physical", "online"]),
            payment_types: dict(PAYMENT_TYPES),
            tiers: dict(LOYALTY_TIERS),
            devices: dict(Device::ALL.map(Device::name)),
            os_names: dict(OS_NAMES),
            app_versions: dict(APP_VERSIONS),
            first_names: dict(&first),
            last_names: dict(&last),
            first_names_lower: lower(&first),
            last_names_lower: lower(&last),
            referrers,
            utm,
            currency_of_country,
            tier_pick: alias(LOYALTY_WEIGHTS.to_vec()),
            device_pick: alias(Device::WEIGHTS.to_vec()),
            pos_payment_pick: COUNTRIES
                .iter()
                .map(|c| payment_pick(&mix(c).pos))
                .collect(),
            online_payment_pick: COUNTRIES
                .iter()
                .map(|c| payment_pick(&mix(c).online))
                .collect(),
            config: w.clone(),
            spec: spec.clone(),
        }
    }

    /// A user of `country` drawn by activity (Zipf over activity ranks).
    #[inline]
    pub(crate) fn active_user(&self, rng: &mut StreamRng, country: usize) -> u64 {
        let start = self.country_user_start[country];
        let n = self.country_user_start[country + 1] - start;
        let rank = self.user_activity[country].sample(rng);
        start + ((rank as u128 * self.user_stride[country] as u128) % n.max(1) as u128) as u64
    }

    /// Sources of sessions on `date` (a local day).
    pub(crate) fn source_table(&self, date: NaiveDate) -> SourceTable {
        let campaign_share: f64 = self
            .sources
            .iter()
            .filter(|s| s.runs_on(date))
            .map(|s| s.weight)
            .sum();
        let organic_total: f64 = self
            .sources
            .iter()
            .filter(|s| s.window.is_none())
            .map(|s| s.weight)
            .sum();
        let organic_share = (1.0 - campaign_share).max(0.0);
        let mut ids = Vec::new();
        let mut weights = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            let w = match s.window {
                None => s.weight / organic_total * organic_share,
                Some(_) if s.runs_on(date) => s.weight,
                Some(_) => continue,
            };
            if w > 0.0 {
                ids.push(i as u16);
                weights.push(w);
            }
        }
        if ids.is_empty() {
            // Every running campaign has weight 0 and organic shares are 0:
            // fall back to the first organic source.
            ids.push(0);
            weights.push(1.0);
        }
        SourceTable {
            pick: alias(weights),
            ids,
        }
    }

    /// Extra web traffic from campaigns running on `date`: 0.1 is +10%.
    pub(crate) fn campaign_uplift(&self, date: NaiveDate) -> f64 {
        self.sources
            .iter()
            .filter(|s| s.runs_on(date))
            .map(|s| s.window.map_or(0.0, |w| w.2))
            .sum()
    }

    /// Alias table over the physical stores of `country` open on `date`,
    /// with their store ids.
    pub(crate) fn open_stores(
        &self,
        country: usize,
        date: NaiveDate,
    ) -> Option<(WeightedAliasIndex<f64>, Vec<u32>)> {
        let (ids, weights): (Vec<u32>, Vec<f64>) = self
            .physical_stores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.country == country && s.is_open(date))
            .map(|(i, _)| (i as u32, self.store_weight[i]))
            .unzip();
        (!ids.is_empty()).then(|| (alias(weights), ids))
    }

    /// Country index of user `u`: users are laid out in country blocks.
    #[inline]
    pub fn user_country(&self, u: u64) -> usize {
        self.country_user_start[1..].partition_point(|&start| start <= u)
    }

    /// A uniformly drawn user living in `country`, if the country has any.
    pub(crate) fn user_in_country(&self, rng: &mut StreamRng, country: usize) -> Option<u64> {
        let (lo, hi) = (
            self.country_user_start[country],
            self.country_user_start[country + 1],
        );
        (hi > lo).then(|| rng.random_range(lo..hi))
    }

    /// Store id of the online storefront selling in `country`.
    pub(crate) fn online_store(&self, country: usize) -> i32 {
        (self.physical_stores.len() + country) as i32
    }

    pub(crate) fn store_count(&self) -> usize {
        self.physical_stores.len() + COUNTRIES.len()
    }

    pub fn store_name(&self, id: usize) -> String {
        match self.physical_stores.get(id) {
            Some(s) => {
                let c = &COUNTRIES[s.country];
                let suffix = STORE_SUFFIXES[id % STORE_SUFFIXES.len()];
                format!("{} {suffix} #{id}", c.cities[s.city.unwrap_or(0)])
            }
            None => format!("Online {}", COUNTRIES[id - self.physical_stores.len()].code),
        }
    }

    /// Price of `product` in the currency of `country`, in minor units (cents).
    #[inline]
    pub(crate) fn local_price_cents(&self, product: usize, country: usize) -> i64 {
        let usd = self.product_price_usd_cents[product];
        let fx = self.fx_per_usd[country];
        ((usd as f64 * fx).round() as i64).max(1)
    }

    /// A page of `kind`: categories and products by popularity.
    #[inline]
    pub(crate) fn page_of_kind(&self, kind: PageKind, rng: &mut StreamRng) -> i32 {
        match kind {
            PageKind::Home => PAGE_HOME,
            PageKind::Category => PAGE_FIRST_CATEGORY + self.category_popularity.sample(rng) as i32,
            PageKind::Product => {
                PAGE_FIRST_CATEGORY
                    + self.config.categories as i32
                    + self.product_popularity.sample(rng) as i32
            }
            PageKind::Cart => PAGE_CART,
            PageKind::Checkout => PAGE_CHECKOUT,
            PageKind::Confirmation => PAGE_CONFIRMATION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn world(scale: f64) -> World {
        World::new(&DatasetSpec {
            scale,
            ..DatasetSpec::default()
        })
    }

    #[test]
    fn user_permutation_is_a_bijection_per_country() {
        let w = world(0.001);
        for c in 0..COUNTRIES.len() {
            let (lo, hi) = (w.country_user_start[c], w.country_user_start[c + 1]);
            let n = hi - lo;
            let mut seen = vec![false; n as usize];
            for rank in 0..n {
                let u = ((rank as u128 * w.user_stride[c] as u128) % n as u128) as usize;
                assert!(!seen[u]);
                seen[u] = true;
            }
        }
    }

    #[test]
    fn campaigns_run_between_their_dates() {
        let w = world(0.001);
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(w.campaign_uplift(d("2025-11-16")), 0.0);
        assert!((w.campaign_uplift(d("2025-11-17")) - 0.10).abs() < 1e-12);
        assert!((w.campaign_uplift(d("2025-12-01")) - 0.10).abs() < 1e-12);
        assert!((w.campaign_uplift(d("2025-12-02")) - 0.06).abs() < 1e-12);
        // Outside campaigns only organic and always-on sources are drawn.
        let t = w.source_table(d("2025-01-10"));
        assert!(t.ids.iter().all(|&i| {
            w.sources[i as usize]
                .window
                .is_none_or(|(s, e, _)| s <= d("2025-01-10") && e.is_none())
        }));
        assert!(t.ids.len() >= 5);
    }

    #[test]
    fn country_blocks_cover_all_users() {
        let w = world(0.01);
        assert_eq!(w.user_country(0), 0);
        let users = *w.country_user_start.last().unwrap();
        assert_eq!(w.user_country(users - 1), COUNTRIES.len() - 1);
        for c in 0..COUNTRIES.len() {
            let start = w.country_user_start[c];
            assert_eq!(w.user_country(start), c);
        }
    }
}
