//! Tables: one file each, listed once in [`TABLES`]. A table says what its
//! rows are (events or daily snapshots), how a day is cut into units, and
//! generates a unit: a unit in, an Arrow record batch out, no I/O, no clock.
//!
//! Adding a table is its schema in `schemas/`, one file here implementing
//! [`Table`], and one line in [`TABLES`].

mod clicks;
mod columns;
mod sales;
pub(crate) mod session;
mod stores;
mod users;

use std::fmt;

use arrow_array::RecordBatch;
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dirty::DirtyShape;
use crate::plan::{DayVolumes, Unit};
use crate::world::World;

/// Every table, in plan order. A unit's shard is its position in the plan,
/// so this order is part of the data contract: append new tables at the end.
static TABLES: [&dyn Table; 4] = [
    &users::Users,
    &stores::Stores,
    &sales::Sales,
    &clicks::Clicks,
];

/// What a table's rows are, which decides its file layout.
#[derive(Clone, Copy, Debug)]
pub enum TableKind {
    /// Facts with an event time, one file per (hour, chunk), partitioned
    /// `ingest_date=/hour=`; they go to record sinks too.
    Event(EventColumns),
    /// The whole table as known on a day, partitioned `snapshot_date=`.
    Snapshot,
}

/// The columns that the pipeline and dirty data need to know of an event table.
#[derive(Clone, Copy, Debug)]
pub struct EventColumns {
    /// Unique row id (an Int64 column).
    pub id: &'static str,
    /// Event time (a UTC microsecond timestamp column).
    pub ts: &'static str,
    /// Records of a stream are keyed by this (Int64) column, or by the row's
    /// id where it is null.
    pub partition_key: &'static str,
    /// How defects apply; `None` when the table is never dirty.
    pub dirty: Option<DirtyShape>,
}

/// A schema file of `schemas/`, embedded: `(name, json)`, name `table.vN`.
pub type SchemaFile = (&'static str, &'static str);

/// Embeds `schemas/<name>.json`.
macro_rules! schema_file {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../../schemas/", $name, ".json")),
        )
    };
}
pub(crate) use schema_file;

/// One table of the world.
pub trait Table: Sync {
    /// Folder, seed tag and `--domains` name: `clicks`.
    fn name(&self) -> &'static str;
    fn kind(&self) -> TableKind;
    /// The schema files this table writes, oldest version first.
    fn schemas(&self) -> &'static [SchemaFile];
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

/// A table, by its place in the registry. Serialised as its name.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain(u8);

impl Domain {
    /// Every table, in plan order.
    pub fn all() -> impl Iterator<Item = Domain> {
        (0..TABLES.len() as u8).map(Domain)
    }

    pub fn from_name(name: &str) -> Option<Domain> {
        Domain::all().find(|d| d.name() == name)
    }

    /// The table called `name`; panics on an unknown name (for tests and
    /// table-specific code).
    pub fn named(name: &str) -> Domain {
        Domain::from_name(name).unwrap_or_else(|| panic!("no table {name}"))
    }

    pub fn names() -> Vec<&'static str> {
        Domain::all().map(Domain::name).collect()
    }

    pub fn table(self) -> &'static dyn Table {
        TABLES[self.0 as usize]
    }

    pub fn name(self) -> &'static str {
        self.table().name()
    }

    /// The event columns, for event tables.
    pub fn events(self) -> Option<EventColumns> {
        match self.table().kind() {
            TableKind::Event(e) => Some(e),
            TableKind::Snapshot => None,
        }
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Domain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Domain::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown table '{name}' (expected one of {})",
                Domain::names().join(", ")
            ))
        })
    }
}

/// Every schema file of every table.
pub(crate) fn schema_files() -> impl Iterator<Item = SchemaFile> {
    TABLES.iter().flat_map(|t| t.schemas().iter().copied())
}

/// Generates the batch of one unit.
pub(crate) fn unit_batch(world: &World, unit: &Unit) -> RecordBatch {
    unit.domain.table().generate(world, unit)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::schema;
    use crate::spec::DatasetSpec;

    pub(crate) fn world(v2_from: Option<&str>) -> World {
        let mut spec = DatasetSpec {
            scale: 0.002,
            ..DatasetSpec::default()
        };
        spec.world.clicks_v2_from = v2_from.map(|d| crate::spec::parse_date(d).unwrap());
        World::new(&spec)
    }

    pub(crate) fn unit(name: &str, hour: u32) -> Unit {
        Unit {
            domain: Domain::named(name),
            date: NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(),
            hour,
            chunk: 0,
            chunks: 1,
        }
    }

    #[test]
    fn clicks_v2_leaves_v1_columns_unchanged() {
        let v1 = unit_batch(&world(None), &unit("clicks", 12));
        let v2 = unit_batch(&world(Some("2025-01-01")), &unit("clicks", 12));
        assert_eq!(v1.schema(), schema::arrow("clicks.v1"));
        assert_eq!(v2.schema(), schema::arrow("clicks.v2"));
        assert!(v1.num_rows() > 100);
        for (i, col) in v1.columns().iter().enumerate() {
            assert_eq!(
                col.as_ref(),
                v2.column(i).as_ref(),
                "column {}",
                v1.schema().field(i).name()
            );
        }
        // Before the switch-over date, clicks stay v1.
        let later = unit_batch(&world(Some("2025-02-01")), &unit("clicks", 12));
        assert_eq!(later, v1);
    }

    #[test]
    fn every_batch_matches_its_latest_schema_file() {
        let w = world(Some("2025-01-01"));
        for d in Domain::all() {
            let b = unit_batch(&w, &unit(d.name(), 12));
            let latest = d.table().schemas().last().unwrap().0;
            assert_eq!(b.schema(), schema::arrow(latest), "{latest}");
            assert!(b.num_rows() > 0, "{latest}");
        }
    }

    #[test]
    fn clicks_fill_the_planned_volume_exactly() {
        let w = world(None);
        let u = unit("clicks", 12);
        let planned = DayVolumes::new(&w, u.date).clicks_in(12);
        assert_eq!(unit_batch(&w, &u).num_rows() as u64, planned);
    }

    #[test]
    fn domains_serialise_as_names_in_registry_order() {
        let names = Domain::names();
        assert_eq!(names, ["users", "stores", "sales", "clicks"]);
        let json = serde_json::to_string(&Domain::all().collect::<Vec<_>>()).unwrap();
        assert_eq!(json, r#"["users","stores","sales","clicks"]"#);
        let e = serde_json::from_str::<Domain>(r#""orders""#).unwrap_err();
        assert!(e.to_string().contains("unknown table 'orders'"), "{e}");
    }
}
