//! The produce step, shared by backfill and real time: a unit generated,
//! defects injected, encoded, with its truth sidecar and, for record sinks,
//! a partition key per row.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use marketpulse_gen::dirty::Defects;
use marketpulse_gen::{DatasetSpec, Domain, Format, Generator, Unit};

use crate::encode::{Buffers, encode_with_defects};
use crate::error::Error;
use crate::manifest::TRUTH_DIR;

/// A unit ready to deliver.
pub(super) struct Produced {
    pub unit: Unit,
    pub batch: RecordBatch,
    pub defects: Defects,
    /// The whole unit encoded, when asked for.
    pub bytes: Vec<u8>,
    /// One key per row, for record sinks.
    pub partition_keys: Vec<String>,
    /// The `_truth/` sidecar, when dirty data is on for this table.
    pub truth: Option<Sidecar>,
}

/// A truth sidecar: `id,kind` of each injected record.
pub(super) struct Sidecar {
    pub key: String,
    pub bytes: Vec<u8>,
    pub records: u64,
}

impl Sidecar {
    pub(super) fn of(key: String, defects: &Defects) -> Sidecar {
        Sidecar {
            key,
            bytes: defects.truth_csv(),
            records: defects.truth.len() as u64,
        }
    }
}

/// What the caller needs of a unit besides its batch.
#[derive(Clone, Copy)]
pub(super) struct Needs {
    /// Encode the whole unit in this format.
    pub encode: Option<Format>,
    /// Partition keys for a record sink.
    pub partition_keys: bool,
}

pub(super) fn produce(
    generator: &Generator,
    unit: Unit,
    needs: Needs,
    buffers: &Buffers,
) -> Result<Produced, Error> {
    let spec = generator.spec();
    let g = generator.generate(unit);
    let bytes = match needs.encode {
        Some(format) => {
            encode_with_defects(&g.batch, &g.defects, format, spec.compression, buffers).map_err(
                |e| Error::runtime(format!("unit {} {}: {e}", unit.domain.name(), unit.name())),
            )?
        }
        None => Vec::new(),
    };
    let partition_keys = if needs.partition_keys {
        partition_keys(&g.batch, unit.domain)
    } else {
        Vec::new()
    };
    let truth = truth_sidecar(spec, &unit, &g.defects);
    Ok(Produced {
        unit,
        batch: g.batch,
        defects: g.defects,
        bytes,
        partition_keys,
        truth,
    })
}

/// Where the truth sidecar of `unit` goes.
pub(super) fn truth_key(unit: &Unit) -> String {
    format!("{TRUTH_DIR}/{}", unit.path("csv"))
}

/// Whether a unit has a truth sidecar: a table that can be dirty, with
/// dirty data on.
pub(super) fn has_truth(spec: &DatasetSpec, unit: &Unit) -> bool {
    spec.dirty.any() && unit.domain.events().is_some_and(|e| e.dirty.is_some())
}

/// The sidecar of a unit of a table that can be dirty, when dirty data is on.
pub(super) fn truth_sidecar(spec: &DatasetSpec, unit: &Unit, defects: &Defects) -> Option<Sidecar> {
    has_truth(spec, unit).then(|| Sidecar::of(truth_key(unit), defects))
}

/// Partition key of each row: the table's key column, or the row's own id
/// when the key is null (anonymous buyers, malformed rows).
fn partition_keys(batch: &RecordBatch, domain: Domain) -> Vec<String> {
    let Some(events) = domain.events() else {
        return Vec::new();
    };
    let keys = batch
        .column_by_name(events.partition_key)
        .expect("partition key column in schema")
        .as_primitive::<Int64Type>();
    let ids = batch
        .column_by_name(events.id)
        .expect("id column in schema")
        .as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .map(|i| {
            if keys.is_valid(i) {
                keys.value(i).to_string()
            } else if ids.is_valid(i) {
                format!("id-{}", ids.value(i))
            } else {
                "none".to_string()
            }
        })
        .collect()
}
