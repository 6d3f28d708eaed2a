//! Tables: what each is in [`catalog`] (name, kind, schema files), and
//! its generator in a file of its own implementing [`Table`]: a unit in, an
//! Arrow record batch out, no I/O, no clock.
//!
//! Adding a table is its schema in `schemas/`, one entry in the catalog,
//! one file here implementing [`Table`], and one arm in [`generator`].

pub(crate) mod catalog;
mod clicks;
pub(crate) mod columns;
mod sales;
pub(crate) mod session;
mod stores;
mod table;
mod users;

use arrow_array::RecordBatch;

pub use catalog::{Domain, EventColumns, SchemaFile, TableInfo, TableKind};
pub use table::Table;

use crate::plan::unit::Unit;
use crate::world::World;

/// The generator of `domain`.
pub fn generator(domain: Domain) -> &'static dyn Table {
    match domain.name() {
        "users" => &users::Users,
        "stores" => &stores::Stores,
        "sales" => &sales::Sales,
        "clicks" => &clicks::Clicks,
        other => unreachable!("table {other} has no generator"),
    }
}

/// Generates the batch of one unit.
pub(crate) fn unit_batch(world: &World, unit: &Unit) -> RecordBatch {
    generator(unit.domain).generate(world, unit)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::plan::DayVolumes;
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
    fn every_table_has_a_generator() {
        for d in Domain::all() {
            let w = world(None);
            assert!(
                !generator(d)
                    .plan_day(&w, &DayVolumes::new(&w, w.spec.start))
                    .is_empty()
            );
        }
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
