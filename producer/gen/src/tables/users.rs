//! `users`: daily snapshots of an SCD2 history. User *u* is a function of
//! (seed, u): attributes from its own stream, changes from another, so any
//! snapshot is a prefix of every later one.

use std::sync::Arc;

use arrow_array::{Date32Array, Int32Array, Int64Array, RecordBatch};
use rand::RngExt;
use rand_distr::{Distribution, Exp};

use super::columns::{batch, days_since_epoch, dict_array};
use super::table::Table;
use crate::plan::unit::{USERS_PER_FILE, Unit};
use crate::plan::volumes::{DayVolumes, users_total};
use crate::seed::{stream, tag};
use crate::world::{COUNTRIES, LOYALTY_TIERS, World, zipf_pick};

pub(crate) struct Users;

impl Table for Users {
    /// One file per `USERS_PER_FILE` users, each with all its versions.
    fn plan_day(&self, world: &World, _day: &DayVolumes) -> Vec<(u32, u32)> {
        vec![(0, users_total(&world.spec).div_ceil(USERS_PER_FILE) as u32)]
    }

    fn generate(&self, world: &World, unit: &Unit) -> RecordBatch {
        users(world, unit)
    }
}

/// One SCD2 version of a user: the attributes that change over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct UserVersion {
    /// First day, as days since 1970-01-01.
    pub(crate) from: i32,
    /// Index into the country's cities.
    pub(crate) city: usize,
    pub(crate) tier: usize,
}

/// Appends the versions of user `u` that start on or before day `until`
/// (days since 1970-01-01). The history is a fixed sequence per (seed,
/// user), so a later snapshot only adds versions: each snapshot agrees with
/// every later one.
pub(crate) fn user_history(
    world: &World,
    u: u64,
    first: UserVersion,
    until: i32,
    out: &mut Vec<UserVersion>,
) {
    out.push(first);
    let w = &world.config;
    let per_day = (w.tier_changes_per_year + w.city_moves_per_year) / 365.25;
    if per_day <= 0.0 {
        return;
    }
    let tier_share = w.tier_changes_per_year / (w.tier_changes_per_year + w.city_moves_per_year);
    let gap = Exp::new(per_day).expect("positive rate");
    let cities = COUNTRIES[world.user_country(u)].cities.len();
    let mut rng = stream(&[world.seed, tag("user_history"), u]);
    let mut v = first;
    loop {
        // Whole days, at least one: versions never overlap.
        let days = gap.sample(&mut rng).ceil().clamp(1.0, 1e6) as i32;
        if v.from > until - days {
            return;
        }
        v.from += days;
        if rng.random::<f64>() < tier_share || cities < 2 {
            // One step up or down the ladder.
            let up = v.tier == 0 || (v.tier + 1 < LOYALTY_TIERS.len() && rng.random::<bool>());
            v.tier = if up { v.tier + 1 } else { v.tier - 1 };
        } else {
            let step = rng.random_range(1..cities);
            v.city = (v.city + step) % cities;
        }
        out.push(v);
    }
}

fn users(world: &World, unit: &Unit) -> RecordBatch {
    let total = users_total(&world.spec);
    let lo = unit.chunk as u64 * USERS_PER_FILE;
    let hi = (lo + USERS_PER_FILE).min(total);
    let n = (hi - lo) as usize;
    let signup_from = days_since_epoch(world.signup_from);
    let until = days_since_epoch(unit.date);

    let mut user_id = Vec::with_capacity(n);
    let mut signup = Vec::with_capacity(n);
    let (mut first, mut last) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut email = arrow_array::builder::StringBuilder::with_capacity(n, n * 32);
    let (mut country, mut city, mut tier, mut device) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut eff_from, mut eff_to, mut current) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut buf = itoa::Buffer::new();
    let mut line = String::with_capacity(64);
    let mut versions = Vec::new();
    for u in lo..hi {
        // Users are random-access: attributes depend on (seed, user) only.
        let mut rng = stream(&[world.seed, tag("user"), u]);
        let signed_up = signup_from + rng.random_range(0..world.signup_days) as i32;
        let f = rng.random_range(0..world.first_names_lower.len());
        let l = rng.random_range(0..world.last_names_lower.len());
        line.clear();
        line.push_str(&world.first_names_lower[f]);
        line.push('.');
        line.push_str(&world.last_names_lower[l]);
        line.push_str(buf.format(u));
        line.push_str("@example.com");
        let c = world.user_country(u);
        let first_version = UserVersion {
            from: signed_up,
            city: zipf_pick(&mut rng, COUNTRIES[c].cities.len()),
            tier: world.tier_pick.sample(&mut rng),
        };
        let dev = world.device_pick.sample(&mut rng) as i32;
        versions.clear();
        user_history(world, u, first_version, until, &mut versions);
        for (i, v) in versions.iter().enumerate() {
            user_id.push(u as i64);
            signup.push(signed_up);
            first.push(f as i32);
            last.push(l as i32);
            email.append_value(&line);
            country.push(c as i32);
            city.push(world.city_start[c] + v.city as i32);
            tier.push(v.tier as i32);
            device.push(dev);
            eff_from.push(v.from);
            let next = versions.get(i + 1);
            eff_to.push(next.map(|n| n.from));
            current.push(next.is_none());
        }
    }
    batch(
        "users.v2",
        vec![
            Arc::new(Int64Array::from(user_id)),
            Arc::new(Date32Array::from(signup)),
            dict_array(Int32Array::from(first), &world.first_names),
            dict_array(Int32Array::from(last), &world.last_names),
            Arc::new(email.finish()),
            dict_array(Int32Array::from(country), &world.countries),
            dict_array(Int32Array::from(city), &world.cities),
            dict_array(Int32Array::from(tier), &world.tiers),
            dict_array(Int32Array::from(device), &world.devices),
            Arc::new(Date32Array::from(eff_from)),
            Arc::new(Date32Array::from(eff_to)),
            Arc::new(arrow_array::BooleanArray::from(current)),
        ],
    )
}
