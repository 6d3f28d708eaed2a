//! What generates a table: its units of a day, and a unit's rows.

use arrow_array::RecordBatch;
use chrono::NaiveDate;

use crate::plan::unit::Unit;
use crate::plan::volumes::DayVolumes;
use crate::world::World;

/// The generator of one table of the catalog.
pub trait Table: Sync {
    /// The hours of a day that have rows and how many chunks (files) each is
    /// cut into, in hour order; snapshots use hour 0.
    fn plan_day(&self, world: &World, day: &DayVolumes) -> Vec<(u32, u32)>;
    /// The rows of one unit.
    fn generate(&self, world: &World, unit: &Unit) -> RecordBatch;
    /// The first day of the table's newest schema version, when the run
    /// switches versions: late rows do not cross it.
    fn schema_switch(&self, _world: &World) -> Option<NaiveDate> {
        None
    }
}
