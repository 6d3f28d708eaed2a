//! MarketPulse's world generator: a pure function from a dataset spec to
//! Arrow record batches. No I/O, no clock, no threads of its own; encoding,
//! sinks and the command line live in the `marketpulse` crate.
//!
//! Flow: [`spec`] → [`World`] (fixed parts and sampling tables) → [`plan`]
//! (the units of a shard) → [`tables`] (a unit's clean batch) → [`dirty`]
//! (defects injected, with their truth). [`seed`] derives every random
//! stream; [`calendar`] holds the day multipliers and local hours.
//!
//! No module cycles (checked by `producer/cli/tests/cli/architecture.rs`):
//! types that several modules share sit in leaf modules below the code that
//! uses them (`spec::format`, `tables::catalog`, `plan::unit`,
//! `dirty::defects`), a parent's children never refer to it, and the code of
//! this crate refers to items by their own module, not by the re-exports
//! below, which are for other crates.

pub mod calendar;
pub mod dirty;
pub mod plan;
pub mod schema;
mod seed;
pub mod spec;
mod summary;
pub mod tables;
pub mod world;

use arrow_array::RecordBatch;

pub use plan::Unit;
pub use spec::{Compression, DatasetSpec, Format, SpecError};
pub use summary::{PlanSummary, TablePlan};
pub use tables::Domain;
pub use world::World;

/// One unit's rows with their defects injected.
pub struct Generated {
    pub unit: Unit,
    pub batch: RecordBatch,
    /// What was injected, for truth sidecars, manifest counts and the
    /// unparseable lines of jsonl files.
    pub defects: dirty::Defects,
}

/// The world of one spec, ready to generate any unit.
pub struct Generator {
    world: World,
    late: dirty::LateCache,
}

impl Generator {
    /// Checks `spec` (`DatasetSpec::validate`) and builds its world.
    pub fn new(spec: &DatasetSpec) -> Result<Generator, SpecError> {
        spec.validate()?;
        Ok(Generator {
            world: World::new(spec),
            late: dirty::LateCache::default(),
        })
    }

    pub fn spec(&self) -> &DatasetSpec {
        &self.world.spec
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// The units of shard `index` of `count`, lazily, in plan order.
    pub fn shard_units(&self, index: u32, count: u32) -> impl Iterator<Item = Unit> + '_ {
        plan::shard_units(&self.world, index, count)
    }

    /// What the plan of shard `index` of `count` holds, without generating it.
    pub fn summarize(&self, index: u32, count: u32) -> PlanSummary {
        summary::summarize(&self.world, index, count)
    }

    /// Events each of `count` shards plans (online sales estimated): what
    /// a fleet's shares of a rate come from.
    pub fn shard_events(&self, count: u32) -> Vec<f64> {
        summary::shard_events(&self.world, count)
    }

    /// The rows of `unit`, with `[dirty]` defects injected.
    pub fn generate(&self, unit: Unit) -> Generated {
        let clean = tables::unit_batch(&self.world, &unit);
        let (batch, defects) = dirty::inject(&self.world, &self.late, &unit, clean);
        Generated {
            unit,
            batch,
            defects,
        }
    }
}
