//! The world model's parameters (`[world]`). Defaults, with a comment per
//! key, are in `producer/defaults.toml`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::error::SpecError;
use crate::world::vocabulary::{COUNTRIES, PAYMENT_TYPES, PageKind};

/// Field order is part of the contract (it is hashed into the run id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Users signed up uniformly between these days.
    pub signup_from: NaiveDate,
    pub signup_to: NaiveDate,
    /// Relative web traffic per local hour 00..23, in the user's time zone.
    pub hourly_weights: Vec<f64>,
    /// Relative store traffic per local hour 00..23, in the store's time zone.
    pub pos_hourly_weights: Vec<f64>,
    /// Day multipliers, Monday first, each at least 1.
    pub weekday_multipliers: Vec<f64>,
    pub black_friday_multiplier: f64,
    pub cyber_monday_multiplier: f64,
    pub december_multiplier: f64,
    /// Compound growth per day from `growth_from` on.
    pub daily_growth: f64,
    pub growth_from: NaiveDate,
    /// SCD2 users: expected changes per user-year.
    pub tier_changes_per_year: f64,
    pub city_moves_per_year: f64,
    pub stores_opened_from: NaiveDate,
    pub stores_opened_to: NaiveDate,
    pub store_close_share: f64,
    /// Local currency units per USD; one entry per currency.
    pub fx_per_usd: BTreeMap<String, f64>,
    /// Payment mix per country code; `default` covers countries not listed.
    pub payment_mix: BTreeMap<String, PaymentMix>,
    /// Sessions without a campaign: referrer → share (`direct` = none).
    pub organic_referrers: BTreeMap<String, f64>,
    pub campaigns: Vec<Campaign>,
    pub zipf_stores: f64,
    pub zipf_products: f64,
    pub zipf_categories: f64,
    pub zipf_users: f64,
    pub price_median_usd: f64,
    pub price_sigma: f64,
    pub basket_extra_lines: f64,
    pub qty_extra: f64,
    pub click_gap_mean_seconds: f64,
    pub checkout_delay_max_seconds: u32,
    pub max_session_clicks: u32,
    /// Share of sessions landing on home, category or product pages.
    pub landing: BTreeMap<String, f64>,
    /// Funnel transition probabilities from page kind to next page kind;
    /// what a row leaves to 1 is the exit probability.
    pub funnel: BTreeMap<String, BTreeMap<String, f64>>,
    pub anonymous_pos_share: f64,
    /// Clicks carry v2 columns from this day on; never when unset.
    pub clicks_v2_from: Option<NaiveDate>,
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
    pub start: NaiveDate,
    #[serde(default)]
    pub end: Option<NaiveDate>,
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

fn bad<T>(key: &str, message: String) -> Result<T, SpecError> {
    Err(SpecError::new(format!("world.{key}"), message))
}

/// `lo <= v <= hi`, finite.
fn within(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), SpecError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        bad(key, format!("{key} = {v} must be between {lo} and {hi}"))
    }
}

impl WorldConfig {
    /// Checks every key; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.validate_curves()?;
        self.validate_sessions()?;
        self.validate_sizes()?;
        self.validate_calendar()?;
        self.validate_money()?;
        self.validate_traffic()?;
        self.validate_funnel()
    }

    /// The local-hour curves of web and store traffic.
    fn validate_curves(&self) -> Result<(), SpecError> {
        for (name, curve) in [
            ("hourly_weights", &self.hourly_weights),
            ("pos_hourly_weights", &self.pos_hourly_weights),
        ] {
            if curve.len() != 24
                || curve.iter().any(|x| !x.is_finite() || *x < 0.0)
                || curve.iter().sum::<f64>() <= 0.0
            {
                return bad(
                    name,
                    format!("{name} needs 24 non-negative numbers with a positive sum"),
                );
            }
        }
        Ok(())
    }

    /// Popularity skews, baskets, prices and sessions.
    fn validate_sessions(&self) -> Result<(), SpecError> {
        for (name, v) in [
            ("zipf_stores", self.zipf_stores),
            ("zipf_products", self.zipf_products),
            ("zipf_categories", self.zipf_categories),
            ("zipf_users", self.zipf_users),
            ("basket_extra_lines", self.basket_extra_lines),
            ("qty_extra", self.qty_extra),
            ("price_sigma", self.price_sigma),
        ] {
            within(name, v, 0.0, 10.0)?;
        }
        if !(self.price_median_usd.is_finite()
            && self.price_median_usd > 0.0
            && self.price_median_usd < 1e6)
        {
            return bad(
                "price_median_usd",
                "price_median_usd must be above 0 and below 1000000".into(),
            );
        }
        within(
            "click_gap_mean_seconds",
            self.click_gap_mean_seconds,
            0.0,
            600.0,
        )?;
        if !(1..=200).contains(&self.max_session_clicks) {
            return bad(
                "max_session_clicks",
                "max_session_clicks must be between 1 and 200".into(),
            );
        }
        if !(1..=600).contains(&self.checkout_delay_max_seconds) {
            return bad(
                "checkout_delay_max_seconds",
                "checkout_delay_max_seconds must be between 1 and 600".into(),
            );
        }
        within("anonymous_pos_share", self.anonymous_pos_share, 0.0, 1.0)
    }

    /// How many users, products, categories and stores, and when users sign up.
    fn validate_sizes(&self) -> Result<(), SpecError> {
        if self.users == 0 || self.users > 1 << 40 {
            return bad("users", "users must be between 1 and 2^40".into());
        }
        if self.products == 0 || self.products > 1_000_000 {
            return bad("products", "products must be between 1 and 1000000".into());
        }
        if self.categories == 0 || self.categories > 10_000 {
            return bad(
                "categories",
                "categories must be between 1 and 10000".into(),
            );
        }
        if self.stores > 1_000_000 {
            return bad("stores", "stores must be at most 1000000".into());
        }
        if self.signup_to < self.signup_from {
            return bad("signup_to", "signup_to is before signup_from".into());
        }
        Ok(())
    }

    /// Day multipliers, growth, SCD2 change rates and store openings.
    fn validate_calendar(&self) -> Result<(), SpecError> {
        if self.weekday_multipliers.len() != 7 {
            return bad(
                "weekday_multipliers",
                "weekday_multipliers needs 7 numbers, Monday first".into(),
            );
        }
        for (name, v) in self
            .weekday_multipliers
            .iter()
            .map(|v| ("weekday_multipliers", *v))
            .chain([
                ("black_friday_multiplier", self.black_friday_multiplier),
                ("cyber_monday_multiplier", self.cyber_monday_multiplier),
                ("december_multiplier", self.december_multiplier),
            ])
        {
            if !(v.is_finite() && (1.0..=100.0).contains(&v)) {
                return bad(
                    name,
                    format!("{name} = {v} must be between 1 and 100 (multipliers only add volume)"),
                );
            }
        }
        within("daily_growth", self.daily_growth, 0.0, 0.1)?;
        within(
            "tier_changes_per_year",
            self.tier_changes_per_year,
            0.0,
            12.0,
        )?;
        within("city_moves_per_year", self.city_moves_per_year, 0.0, 12.0)?;
        if self.stores_opened_to < self.stores_opened_from {
            return bad(
                "stores_opened_to",
                "stores_opened_to is before stores_opened_from".into(),
            );
        }
        within("store_close_share", self.store_close_share, 0.0, 1.0)
    }

    /// Where sessions land and how they walk the funnel.
    fn validate_funnel(&self) -> Result<(), SpecError> {
        check_probabilities(
            "landing",
            "landing",
            &self.landing,
            &[PageKind::Home, PageKind::Category, PageKind::Product],
        )?;
        for (from, row) in &self.funnel {
            let known = PageKind::from_name(from).filter(|k| *k != PageKind::Confirmation);
            if known.is_none() {
                return bad(
                    "funnel",
                    format!(
                        "funnel has unknown page kind '{from}' (expected one of home, category, product, cart, checkout)"
                    ),
                );
            }
            check_probabilities(
                &format!("funnel.{from}"),
                &format!("funnel.{from}"),
                row,
                &PageKind::ALL,
            )?;
        }
        Ok(())
    }

    fn validate_money(&self) -> Result<(), SpecError> {
        for c in &COUNTRIES {
            match self.fx_per_usd.get(c.currency) {
                Some(v) if v.is_finite() && *v > 0.0 => {}
                Some(v) => {
                    return bad(
                        &format!("fx_per_usd.{}", c.currency),
                        format!("fx_per_usd.{} = {v} must be above 0", c.currency),
                    );
                }
                None => {
                    return bad(
                        "fx_per_usd",
                        format!("fx_per_usd has no rate for {}", c.currency),
                    );
                }
            }
        }
        if let Some(k) = self
            .fx_per_usd
            .keys()
            .find(|k| !COUNTRIES.iter().any(|c| c.currency == k.as_str()))
        {
            return bad(
                &format!("fx_per_usd.{k}"),
                format!("fx_per_usd has unknown currency '{k}'"),
            );
        }
        if !self.payment_mix.contains_key("default") {
            return bad("payment_mix", "payment_mix needs a 'default' entry".into());
        }
        for (country, mix) in &self.payment_mix {
            if country != "default" && !COUNTRIES.iter().any(|c| c.code == country) {
                return bad(
                    &format!("payment_mix.{country}"),
                    format!("payment_mix has unknown country '{country}'"),
                );
            }
            for (channel, shares) in [("pos", &mix.pos), ("online", &mix.online)] {
                let key = format!("payment_mix.{country}.{channel}");
                for (k, v) in shares {
                    if !PAYMENT_TYPES.contains(&k.as_str()) {
                        return bad(
                            &format!("{key}.{k}"),
                            format!(
                                "{key} has unknown payment type '{k}' (expected one of {})",
                                PAYMENT_TYPES.join(", ")
                            ),
                        );
                    }
                    if !(v.is_finite() && *v >= 0.0) {
                        return bad(
                            &format!("{key}.{k}"),
                            format!("{key}.{k} = {v} must be non-negative"),
                        );
                    }
                }
                if shares.values().sum::<f64>() <= 0.0 {
                    return bad(&key, format!("{key} needs a positive share"));
                }
            }
        }
        Ok(())
    }

    fn validate_traffic(&self) -> Result<(), SpecError> {
        for (k, v) in &self.organic_referrers {
            let key = format!("organic_referrers.\"{k}\"");
            if k != "direct" && !(k.starts_with("https://") || k.starts_with("http://")) {
                return bad(
                    &key,
                    format!("organic_referrers key '{k}' must be 'direct' or an http(s) URL"),
                );
            }
            if !(v.is_finite() && *v >= 0.0) {
                return bad(
                    &key,
                    format!("organic_referrers.{k} = {v} must be non-negative"),
                );
            }
        }
        if self.organic_referrers.values().sum::<f64>() <= 0.0 {
            return bad(
                "organic_referrers",
                "organic_referrers needs a positive share".into(),
            );
        }
        let mut names = BTreeSet::new();
        let mut total = 0.0;
        for (i, c) in self.campaigns.iter().enumerate() {
            let key = |field: &str| format!("campaigns.{i}.{field}");
            let name = &c.name;
            if name.is_empty() || !names.insert(name.as_str()) {
                return bad(
                    &key("name"),
                    format!("campaign name '{name}' is empty or used twice"),
                );
            }
            if let Err(m) = campaign_referrer(&c.source, &c.medium) {
                let field = if m.starts_with("medium") {
                    "medium"
                } else {
                    "source"
                };
                return bad(&key(field), format!("campaign '{name}': {m}"));
            }
            if c.end.is_some_and(|end| end < c.start) {
                return bad(
                    &key("end"),
                    format!("campaign '{name}' ends before it starts"),
                );
            }
            if !(c.weight.is_finite() && (0.0..=1.0).contains(&c.weight)) {
                return bad(
                    &key("weight"),
                    format!(
                        "campaign '{name}' weight {} must be between 0 and 1",
                        c.weight
                    ),
                );
            }
            if !(c.uplift.is_finite() && (0.0..=10.0).contains(&c.uplift)) {
                return bad(
                    &key("uplift"),
                    format!(
                        "campaign '{name}' uplift {} must be between 0 and 10",
                        c.uplift
                    ),
                );
            }
            if c.terms.len() > 255 || c.contents.len() > 255 {
                return bad(
                    &key("terms"),
                    format!("campaign '{name}' has more than 255 terms or contents"),
                );
            }
            total += c.weight;
        }
        if total > 1.0 + 1e-9 {
            return bad(
                "campaigns",
                format!("campaign weights sum to {total}, above 1: they are session shares"),
            );
        }
        Ok(())
    }
}

fn check_probabilities(
    key: &str,
    what: &str,
    row: &BTreeMap<String, f64>,
    allowed: &[PageKind],
) -> Result<(), SpecError> {
    for (k, v) in row {
        if !allowed.iter().any(|a| a.name() == k) {
            let names: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
            return bad(
                &format!("{key}.{k}"),
                format!(
                    "{what} has unknown page kind '{k}' (expected one of {})",
                    names.join(", ")
                ),
            );
        }
        if !(v.is_finite() && *v >= 0.0) {
            return bad(
                &format!("{key}.{k}"),
                format!("{what}.{k} = {v} must be non-negative"),
            );
        }
    }
    let sum: f64 = row.values().sum();
    if sum > 1.0 + 1e-9 {
        return bad(key, format!("{what} sums to {sum}, above 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funnel_rows_must_be_probabilities() {
        let mut w = WorldConfig::default();
        w.funnel
            .get_mut("cart")
            .unwrap()
            .insert("checkout".into(), 0.95);
        let e = w.validate().unwrap_err();
        assert_eq!(e.key, "world.funnel.cart");
        assert!(e.message.contains("funnel.cart sums to"), "{e}");
    }

    #[test]
    fn campaign_errors_name_the_field() {
        let mut w = WorldConfig::default();
        w.campaigns[1].source = "facebook".into();
        let e = w.validate().unwrap_err();
        assert_eq!(e.key, "world.campaigns.1.source");
        assert!(e.message.contains("is not a search engine"), "{e}");
    }
}
