//! What is known of each table before anything is generated: its name, its
//! kind (events, with the columns the pipeline and dirty data need, or
//! daily snapshots) and its schema files, listed once in [`CATALOG`].
//! [`Domain`] names a table by its place there; the table's generator (a
//! `Table`, one file each) is found by `tables::generator`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dirty::defects::{DirtyShape, MoneyColumns};

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

/// What the catalog says of one table.
pub struct TableInfo {
    name: &'static str,
    kind: TableKind,
    schemas: &'static [SchemaFile],
}

impl TableInfo {
    /// Folder, seed tag and `--domains` name: `clicks`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// The schema files this table writes, oldest version first.
    pub fn schemas(&self) -> &'static [SchemaFile] {
        self.schemas
    }
}

/// Every table, in plan order. A unit's shard is its position in the plan,
/// so this order is part of the data contract: append new tables at the end.
static CATALOG: [TableInfo; 4] = [
    TableInfo {
        name: "users",
        kind: TableKind::Snapshot,
        schemas: &[schema_file!("users.v2")],
    },
    TableInfo {
        name: "stores",
        kind: TableKind::Snapshot,
        schemas: &[schema_file!("stores.v1")],
    },
    TableInfo {
        name: "sales",
        kind: TableKind::Event(EventColumns {
            id: "transaction_id",
            ts: "ts",
            partition_key: "user_id",
            dirty: Some(DirtyShape {
                null_key: "store_id",
                near_duplicate_changes: "payment_type",
                money: Some(MoneyColumns {
                    amount: "amount",
                    currency: "currency",
                }),
            }),
        }),
        schemas: &[schema_file!("sales.v1")],
    },
    TableInfo {
        name: "clicks",
        kind: TableKind::Event(EventColumns {
            id: "event_id",
            ts: "ts",
            partition_key: "user_id",
            dirty: Some(DirtyShape {
                null_key: "user_id",
                near_duplicate_changes: "page",
                money: None,
            }),
        }),
        schemas: &[schema_file!("clicks.v1"), schema_file!("clicks.v2")],
    },
];

/// A table, by its place in the catalog. Serialised as its name.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain(u8);

impl Domain {
    /// Every table, in plan order.
    pub fn all() -> impl Iterator<Item = Domain> {
        (0..CATALOG.len() as u8).map(Domain)
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

    /// The table as the catalog describes it (its generator is
    /// `tables::generator`).
    pub fn table(self) -> &'static TableInfo {
        &CATALOG[self.0 as usize]
    }

    pub fn name(self) -> &'static str {
        self.table().name
    }

    /// The event columns, for event tables.
    pub fn events(self) -> Option<EventColumns> {
        match self.table().kind {
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
    CATALOG.iter().flat_map(|t| t.schemas.iter().copied())
}
