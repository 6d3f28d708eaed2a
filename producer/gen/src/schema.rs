//! Arrow schemas from `schemas/*.json`, the single place a column is
//! declared. The table catalog embeds each table's files
//! (`tables::catalog`), so the binary needs nothing beside it.

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    pub table: String,
    pub version: u32,
    pub description: String,
    pub columns: Vec<ColumnDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub nullable: bool,
    pub description: String,
    /// Low-cardinality string: dictionary-encoded in Arrow and Parquet.
    #[serde(default)]
    pub dictionary: bool,
    /// Struct fields of a `list` column's elements.
    #[serde(default)]
    pub fields: Vec<ColumnDef>,
}

fn data_type(col: &ColumnDef) -> DataType {
    let t = col.type_name.as_str();
    match t {
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "bool" => DataType::Boolean,
        "date" => DataType::Date32,
        "timestamp_us_utc" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "string" if col.dictionary => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        "string" => DataType::Utf8,
        "list" => {
            let fields: Fields = col.fields.iter().map(field).collect();
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(fields),
                false,
            )))
        }
        _ => {
            if let Some(ps) = t.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
                let (p, s) = ps.split_once(',').expect("decimal(p,s)");
                return DataType::Decimal128(p.trim().parse().unwrap(), s.trim().parse().unwrap());
            }
            panic!("schemas: unknown type '{t}' for column '{}'", col.name)
        }
    }
}

fn field(col: &ColumnDef) -> Field {
    Field::new(&col.name, data_type(col), col.nullable)
}

pub fn parse(json: &str) -> TableDef {
    serde_json::from_str(json).expect("embedded schema is valid JSON")
}

/// The Arrow schema of `name` ("clicks.v2", ...).
pub fn arrow(name: &str) -> SchemaRef {
    static CACHE: OnceLock<Vec<(String, SchemaRef)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        crate::tables::catalog::schema_files()
            .map(|(n, json)| {
                let def = parse(json);
                let fields: Vec<Field> = def.columns.iter().map(field).collect();
                (n.to_string(), Arc::new(Schema::new(fields)))
            })
            .collect()
    });
    all.iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.clone())
        .unwrap_or_else(|| panic!("no schema {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_names_itself() {
        for (name, json) in crate::tables::catalog::schema_files() {
            let def = parse(json);
            assert_eq!(format!("{}.v{}", def.table, def.version), name);
            assert!(!def.columns.is_empty());
            for c in &def.columns {
                assert!(
                    !c.description.is_empty(),
                    "{name}.{} has no description",
                    c.name
                );
                let _ = data_type(c);
            }
        }
    }

    /// Every file in `schemas/` belongs to a table: a schema no table
    /// writes would be a column declared and never produced.
    #[test]
    fn every_schema_file_is_claimed_by_a_table() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect();
        on_disk.sort();
        let mut claimed: Vec<String> = crate::tables::catalog::schema_files()
            .map(|(n, _)| n.to_string())
            .collect();
        claimed.sort();
        assert_eq!(on_disk, claimed);
    }

    #[test]
    fn clicks_v2_extends_v1_unchanged() {
        let v1 = arrow("clicks.v1");
        let v2 = arrow("clicks.v2");
        assert!(v2.fields().len() > v1.fields().len());
        for (a, b) in v1.fields().iter().zip(v2.fields().iter()) {
            assert_eq!(a, b);
        }
    }
}
