//! Fixed parts of the world that are plain values: user id blocks per
//! country, product prices, the page, city and currency dictionaries.

use rand_distr::{Distribution, StandardNormal};

use super::sampling::gcd;
use super::vocabulary::{CATEGORY_NAMES, COUNTRIES};
use crate::seed::{stream, tag};
use crate::spec::world::WorldConfig;

/// First user id of each country's block, plus `users` at the end.
pub(super) fn country_user_start(users: u64) -> Vec<u64> {
    let mut starts = Vec::with_capacity(COUNTRIES.len() + 1);
    let total_share: f64 = COUNTRIES.iter().map(|c| c.share).sum();
    let mut acc = 0.0;
    for c in &COUNTRIES {
        starts.push((acc / total_share * users as f64).floor() as u64);
        acc += c.share;
    }
    starts.push(users);
    starts
}

/// List prices in US cents, log-normal around the median, each product
/// from its own stream.
pub(super) fn product_prices(w: &WorldConfig, seed: u64) -> Vec<i64> {
    let mut product_price_usd_cents = Vec::with_capacity(w.products as usize);
    for p in 0..w.products as u64 {
        let mut rng = stream(&[seed, tag("product"), p]);
        let z: f64 = StandardNormal.sample(&mut rng);
        let price = w.price_median_usd * (w.price_sigma * z).exp();
        product_price_usd_cents.push(((price * 100.0).round() as i64).clamp(1, 100_000_000));
    }
    product_price_usd_cents
}

pub(super) fn sku(p: u32) -> String {
    format!("SKU-{p:07}")
}

/// The page dictionary: fixed pages, then categories, then products.
pub(super) fn pages(w: &WorldConfig) -> Vec<String> {
    let mut categories: Vec<String> = Vec::with_capacity(w.categories as usize);
    for c in 0..w.categories as usize {
        categories.push(match CATEGORY_NAMES.get(c) {
            Some(n) => n.to_string(),
            None => format!("{}-{}", CATEGORY_NAMES[c % 40], c / 40 + 1),
        });
    }
    let mut pages = vec![
        "/".to_string(),
        "/cart".into(),
        "/checkout".into(),
        "/checkout/confirmation".into(),
    ];
    pages.extend(categories.iter().map(|c| format!("/c/{c}")));
    pages.extend((0..w.products).map(|p| format!("/p/{}", sku(p))));
    pages
}

/// Every country's cities in one dictionary, and where each country's start.
pub(super) fn cities() -> (Vec<&'static str>, Vec<i32>) {
    let mut cities = Vec::new();
    let mut city_start = Vec::new();
    for c in &COUNTRIES {
        city_start.push(cities.len() as i32);
        cities.extend(c.cities.iter().copied());
    }
    (cities, city_start)
}

/// The currencies in first-use order, and each country's key among them.
pub(super) fn currencies() -> (Vec<&'static str>, Vec<i32>) {
    let mut currencies: Vec<&str> = Vec::new();
    let currency_of_country = COUNTRIES
        .iter()
        .map(|c| match currencies.iter().position(|x| *x == c.currency) {
            Some(i) => i as i32,
            None => {
                currencies.push(c.currency);
                (currencies.len() - 1) as i32
            }
        })
        .collect();
    (currencies, currency_of_country)
}

/// Names as e-mail addresses spell them: lower case, letters and digits.
pub(super) fn lower(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            n.to_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        })
        .collect()
}

/// Users of a country are ranked by activity; a fixed stride per country,
/// prime to its block's size, permutes ranks onto its block of ids, so
/// activity is not id order.
pub(super) fn user_strides(country_user_start: &[u64]) -> Vec<u64> {
    (0..COUNTRIES.len())
        .map(|c| {
            let n = (country_user_start[c + 1] - country_user_start[c]).max(1);
            let mut stride = (0x9E37_79B9_7F4A_7C15u64 % n.max(2)) | 1;
            while gcd(stride, n) != 1 {
                stride += 2;
            }
            stride
        })
        .collect()
}
