//! `stores`: daily snapshots of the physical stores opened by then (with
//! their close date once it has passed) and one online storefront per country.

use std::sync::Arc;

use arrow_array::{Date32Array, Int32Array, RecordBatch, StringArray};

use super::columns::{batch, days_since_epoch, dict_array};
use super::table::Table;
use crate::plan::unit::Unit;
use crate::plan::volumes::DayVolumes;
use crate::world::World;

pub(crate) struct Stores;

impl Table for Stores {
    fn plan_day(&self, _world: &World, _day: &DayVolumes) -> Vec<(u32, u32)> {
        vec![(0, 1)]
    }

    fn generate(&self, world: &World, unit: &Unit) -> RecordBatch {
        stores(world, unit)
    }
}

/// Stores known on the snapshot day: physical stores opened by then (with
/// their close date once it has passed) and the online storefronts.
fn stores(world: &World, unit: &Unit) -> RecordBatch {
    let physical = world.physical_stores.len();
    let ids: Vec<usize> = (0..world.store_count())
        .filter(|&id| {
            world
                .physical_stores
                .get(id)
                .is_none_or(|s| s.opened_on <= unit.date)
        })
        .collect();
    let country = |id: usize| {
        world
            .physical_stores
            .get(id)
            .map_or_else(|| id - physical, |s| s.country)
    };
    let keys =
        |f: &dyn Fn(usize) -> Option<i32>| -> Int32Array { ids.iter().map(|&id| f(id)).collect() };
    batch(
        "stores.v1",
        vec![
            Arc::new(Int32Array::from_iter_values(
                ids.iter().map(|&id| id as i32),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|&id| world.store_name(id)),
            )),
            dict_array(
                keys(&|id| Some(i32::from(id >= physical))),
                &world.store_types,
            ),
            dict_array(keys(&|id| Some(country(id) as i32)), &world.countries),
            dict_array(
                keys(&|id| {
                    let s = world.physical_stores.get(id)?;
                    Some(world.city_start[s.country] + s.city? as i32)
                }),
                &world.cities,
            ),
            dict_array(
                keys(&|id| Some(world.currency_of_country[country(id)])),
                &world.currencies,
            ),
            dict_array(keys(&|id| Some(country(id) as i32)), &world.timezones),
            Arc::new(Date32Array::from_iter_values(ids.iter().map(|&id| {
                days_since_epoch(
                    world
                        .physical_stores
                        .get(id)
                        .map_or(world.signup_from, |s| s.opened_on),
                )
            }))),
            Arc::new(Date32Array::from_iter(ids.iter().map(|&id| {
                let closed = world.physical_stores.get(id)?.closed_on?;
                (closed <= unit.date).then(|| days_since_epoch(closed))
            }))),
        ],
    )
}
