//! The plan of a run: each day's work units (`unit.rs`) in a fixed order,
//! from the day's volumes (`volumes.rs`), and which shard runs each. A
//! unit's rows and random streams depend only on the spec and the unit, so
//! any thread or shard may run it.

pub(crate) mod unit;
pub(crate) mod volumes;

use chrono::NaiveDate;

pub use unit::{CHUNK_ROWS, EPOCH, USERS_PER_FILE, Unit};
pub use volumes::DayVolumes;

use crate::tables;
use crate::world::World;

/// Every unit of one day, in a fixed order: tables in registry order, then
/// hour and chunk.
pub(crate) fn day_units(world: &World, date: NaiveDate) -> Vec<Unit> {
    let vol = DayVolumes::new(world, date);
    let mut units = Vec::new();
    for &domain in &world.spec.domains {
        for (hour, chunks) in tables::generator(domain).plan_day(world, &vol) {
            units.extend((0..chunks).map(|chunk| Unit {
                domain,
                date,
                hour,
                chunk,
                chunks,
            }));
        }
    }
    units
}

/// The units of one shard, lazily, day by day: unit `i` of the run (in plan
/// order) belongs to shard `i % shard_count`.
pub(crate) fn shard_units(
    world: &World,
    shard_index: u32,
    shard_count: u32,
) -> impl Iterator<Item = Unit> + '_ {
    world
        .spec
        .dates()
        .flat_map(move |date| day_units(world, date))
        .enumerate()
        .filter(move |(i, _)| (*i as u64 % shard_count as u64) == shard_index as u64)
        .map(|(_, u)| u)
}
