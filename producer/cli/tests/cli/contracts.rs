//! The producer against `schemas/lake/`, the contract its readers load:
//! table metadata, partitions, file names, defect kinds and the spec's keys
//! there are the ones the generator declares and a run writes. The
//! contract's patterns are checked on real runs by `jobs/tests`.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use marketpulse_gen::dirty::DEFECTS;
use marketpulse_gen::spec::CONTRACT_VERSION;
use marketpulse_gen::tables::TableKind;
use marketpulse_gen::{Compression, DatasetSpec, Domain, Format, Unit, schema};
use serde_json::Value;

use super::{generate, manifest, tmp};

fn lake_file(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/lake")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn layout_def(name: &str) -> Value {
    lake_file("layout.schema.json")["$defs"][name].clone()
}

fn unit(table: &str, hour: u32) -> Unit {
    Unit {
        domain: Domain::named(table),
        date: NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(),
        hour,
        chunk: 0,
        chunks: 1,
    }
}

/// The columns of a table's newest schema file.
fn columns(d: Domain) -> BTreeSet<String> {
    let (_, json) = d.table().schemas().last().unwrap();
    schema::parse(json)
        .columns
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[test]
fn tables_json_lists_every_table_in_plan_order() {
    let tables = lake_file("tables.json");
    let names: Vec<&str> = tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(names, Domain::names());
}

#[test]
fn table_metadata_is_what_the_generator_declares() {
    let tables = lake_file("tables.json");
    for (d, t) in Domain::all().zip(tables["tables"].as_array().unwrap()) {
        let name = d.name();
        let keys = strings(&t["keys"]);
        let cols = columns(d);
        match d.table().kind() {
            TableKind::Event(e) => {
                assert_eq!(t["kind"], "event", "{name}");
                assert_eq!(t["id"], e.id, "{name}");
                assert_eq!(t["event_time"], e.ts, "{name}");
                assert_eq!(t["stream_key"], e.partition_key, "{name}");
                assert!(keys.iter().any(|k| k == e.id), "{name}: id not among keys");
                if let Some(dirty) = e.dirty {
                    // null_key defects break exactly a key column.
                    assert!(
                        keys.iter().any(|k| k == dirty.null_key),
                        "{name}: {}",
                        dirty.null_key
                    );
                    match dirty.money {
                        Some(m) => {
                            assert_eq!(t["money"]["amount"], m.amount, "{name}");
                            assert_eq!(t["money"]["currency"], m.currency, "{name}");
                        }
                        None => assert!(t.get("money").is_none(), "{name}: money without amounts"),
                    }
                }
            }
            TableKind::Snapshot => {
                assert_eq!(t["kind"], "snapshot", "{name}");
                for absent in ["event_time", "stream_key", "money"] {
                    assert!(t.get(absent).is_none(), "{name}: {absent} on a snapshot");
                }
            }
        }
        let named = [&t["id"], &t["event_time"], &t["stream_key"]]
            .into_iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .chain(keys);
        for c in named {
            assert!(cols.contains(&c), "{name}: {c} is not a column");
        }
        // The partition columns are the keys of the generator's partition path.
        let path = unit(name, 12).partition();
        let from_path: Vec<String> = path
            .split('/')
            .map(|p| p.split_once('=').unwrap().0.to_string())
            .collect();
        assert_eq!(strings(&t["partitions"]), from_path, "{name}: {path}");
    }
}

#[test]
fn layout_examples_are_the_generators_names() {
    let contains = |def: &str, key: String| {
        let examples = strings(&layout_def(def)["examples"]);
        assert!(examples.contains(&key), "{def}: {key} not in {examples:?}");
    };
    let sales = unit("sales", 12);
    contains("dataFile", sales.path("parquet"));
    contains("eventPartition", sales.partition());
    // A truth sidecar mirrors its data file under _truth/, as csv.
    contains("truthFile", format!("_truth/{}", sales.path("csv")));
    let users = unit("users", 0);
    contains("dataFile", users.path("parquet"));
    contains("snapshotPartition", users.partition());
}

#[test]
fn extensions_are_those_of_every_valid_format_and_codec() {
    let mut made = BTreeSet::new();
    for format in Format::ALL {
        for compression in Compression::ALL {
            let spec = DatasetSpec {
                format,
                compression,
                ..DatasetSpec::default()
            };
            if spec.validate().is_ok() {
                made.insert(spec.file_extension());
            }
        }
    }
    let declared: BTreeSet<String> = strings(&layout_def("extension")["enum"])
        .into_iter()
        .collect();
    assert_eq!(declared, made);
}

#[test]
fn defect_kinds_are_the_registry() {
    let schema = lake_file("manifest.schema.json");
    let declared = strings(&schema["$defs"]["defectKind"]["enum"]);
    let registry: Vec<String> = DEFECTS.iter().map(|d| d.name.to_string()).collect();
    assert_eq!(declared, registry);
}

/// Object keys of `value` and the keys `schema` requires and allows.
fn same_keys(what: &str, value: &Value, schema: &Value) {
    let written: BTreeSet<String> = value.as_object().unwrap().keys().cloned().collect();
    let required: BTreeSet<String> = strings(&schema["required"]).into_iter().collect();
    let allowed: BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(schema["additionalProperties"], false, "{what}");
    assert_eq!(written, required, "{what}: keys written vs required");
    assert_eq!(written, allowed, "{what}: keys written vs declared");
}

#[test]
fn the_spec_schema_declares_every_key_the_spec_writes() {
    let schema = lake_file("spec.schema.json");
    let spec = serde_json::to_value(DatasetSpec::default()).unwrap();
    same_keys("spec", &spec, &schema);
    same_keys("world", &spec["world"], &schema["$defs"]["world"]);
    same_keys("dirty", &spec["dirty"], &schema["$defs"]["dirty"]);
    let campaign = &schema["$defs"]["world"]["properties"]["campaigns"]["items"];
    for c in spec["world"]["campaigns"].as_array().unwrap() {
        same_keys("campaign", c, campaign);
    }
    assert_eq!(
        schema["properties"]["contract_version"]["const"],
        CONTRACT_VERSION
    );
    let formats: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(strings(&schema["properties"]["format"]["enum"]), formats);
    let codecs: Vec<&str> = Compression::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        strings(&schema["properties"]["compression"]["enum"]),
        codecs
    );
}

#[test]
fn a_run_writes_its_manifest_and_claim_where_the_layout_says() {
    let d = tmp();
    generate(d.path(), &[]);
    let run = manifest(d.path())["run"].as_str().unwrap().to_string();
    // The examples' run id, replaced by this run's, names files it wrote.
    let example = strings(&layout_def("manifestFile")["examples"]).remove(0);
    let example_run = example
        .strip_prefix("_manifests/")
        .and_then(|n| n.split_once("-shard-"))
        .unwrap()
        .0;
    let manifest_key = example.replace(example_run, &run);
    assert!(d.path().join(&manifest_key).is_file(), "{manifest_key}");
    let claim = layout_def("datasetClaim")["const"]
        .as_str()
        .unwrap()
        .to_string();
    let held: Value =
        serde_json::from_slice(&std::fs::read(d.path().join(&claim)).unwrap()).unwrap();
    assert_eq!(held["run"], run.as_str());
}
