//! Record batch → file bytes. Encoded bytes depend only on the batch and the
//! format settings: fixed writer properties, fixed `created_by`, no clocks.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

use marketpulse_gen::dirty::{Defects, break_lines};
use marketpulse_gen::plan::CHUNK_ROWS;
use marketpulse_gen::spec::CONTRACT_VERSION;
use marketpulse_gen::{Compression, Format};

#[derive(Debug, thiserror::Error)]
#[error("cannot encode {what}: {source}")]
pub(crate) struct EncodeError {
    what: &'static str,
    source: Box<dyn std::error::Error + Send + Sync>,
}

fn err(what: &'static str) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> EncodeError {
    move |source| EncodeError { what, source }
}

/// A batch as file bytes, with the rows `defects` marks unparseable broken
/// (jsonl only).
pub(crate) fn encode_with_defects(
    batch: &RecordBatch,
    defects: &Defects,
    format: Format,
    compression: Compression,
) -> Result<Vec<u8>, EncodeError> {
    let bytes = encode(batch, format, compression)?;
    Ok(match format {
        Format::Jsonl => break_lines(bytes, &defects.unparseable_rows),
        _ => bytes,
    })
}

pub(crate) fn encode(
    batch: &RecordBatch,
    format: Format,
    compression: Compression,
) -> Result<Vec<u8>, EncodeError> {
    match format {
        Format::Parquet => parquet_bytes(batch, compression),
        Format::Jsonl => {
            // Explicit nulls: every line carries every column.
            let mut w = arrow_json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
            w.write(batch).map_err(|e| err("jsonl")(e.into()))?;
            w.finish().map_err(|e| err("jsonl")(e.into()))?;
            Ok(w.into_inner())
        }
        Format::Csv => {
            let batch = lists_as_json(batch)?;
            let mut w = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(Vec::new());
            w.write(&batch).map_err(|e| err("csv")(e.into()))?;
            Ok(w.into_inner())
        }
    }
}

/// Writer settings are fixed so the same batch always gives the same bytes.
/// Parquet v1 data pages: read by Spark 3.5, DuckDB, pyarrow, Athena, Redshift.
/// Encodings are PLAIN, dictionary (RLE_DICTIONARY) and DELTA_BINARY_PACKED.
/// Dictionary encoding only where the schema marks a column low-cardinality;
/// unique ids and timestamps are written plain, which saves hashing every value.
fn writer_properties(schema: &Schema, compression: Compression) -> WriterProperties {
    let codec = match compression {
        Compression::Zstd => PqCompression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")),
        Compression::Snappy => PqCompression::SNAPPY,
        Compression::None => PqCompression::UNCOMPRESSED,
    };
    let mut props = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_created_by(format!("marketpulse contract v{CONTRACT_VERSION}"))
        .set_compression(codec)
        .set_max_row_group_row_count(Some(CHUNK_ROWS as usize))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_dictionary_enabled(true);
    for field in schema.fields() {
        let path = ColumnPath::from(field.name().as_str());
        props = match field.data_type() {
            // Min/max of low-cardinality strings prune little and cost a
            // comparison per row.
            DataType::Dictionary(..) => {
                props.set_column_statistics_enabled(path, EnabledStatistics::None)
            }
            DataType::List(_) => props,
            // Ids count up and timestamps cluster: delta packing shrinks them
            // before compression, which saves more zstd time than it costs.
            DataType::Int64 | DataType::Timestamp(..) => props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED),
            _ => props.set_column_dictionary_enabled(path, false),
        };
    }
    props.build()
}

fn parquet_bytes(batch: &RecordBatch, compression: Compression) -> Result<Vec<u8>, EncodeError> {
    let props = writer_properties(batch.schema_ref(), compression);
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 3);
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props))
        .map_err(|e| err("parquet")(e.into()))?;
    w.write(batch).map_err(|e| err("parquet")(e.into()))?;
    w.close().map_err(|e| err("parquet")(e.into()))?;
    Ok(out)
}

/// CSV has no nested values: list columns become JSON text, as in jsonl.
fn lists_as_json(batch: &RecordBatch) -> Result<RecordBatch, EncodeError> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::List(_)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        if !matches!(field.data_type(), DataType::List(_)) {
            fields.push(field.as_ref().clone());
            columns.push(col.clone());
            continue;
        }
        let single = RecordBatch::try_new(
            Arc::new(Schema::new(vec![field.as_ref().clone()])),
            vec![col.clone()],
        )
        .map_err(|e| err("csv")(e.into()))?;
        let mut w = arrow_json::LineDelimitedWriter::new(Vec::new());
        w.write(&single).map_err(|e| err("csv")(e.into()))?;
        w.finish().map_err(|e| err("csv")(e.into()))?;
        let text = String::from_utf8(w.into_inner()).map_err(|e| err("csv")(e.into()))?;
        let prefix = format!("{{\"{}\":", field.name());
        let values: StringArray = text
            .lines()
            .map(|line| line.strip_prefix(&prefix).and_then(|r| r.strip_suffix('}')))
            .collect();
        debug_assert_eq!(values.len(), col.len());
        fields.push(Field::new(
            field.name(),
            DataType::Utf8,
            field.is_nullable(),
        ));
        columns.push(Arc::new(values));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| err("csv")(e.into()))
}
