//! Record batch → file bytes. Encoded bytes depend only on the batch and the
//! format settings: fixed writer properties, fixed `created_by`, no clocks.

mod jsonl;

use std::sync::{Arc, Mutex};

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, Encoding, GzipLevel, ZstdLevel};
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

/// Output buffers reused from unit to unit. A fresh buffer per unit costs
/// a page fault for every 4 KiB of output: for jsonl, more than the
/// encoding itself. The pool keeps at most `limit` buffers.
pub(crate) struct Buffers {
    free: Mutex<Vec<Vec<u8>>>,
    limit: usize,
}

impl Buffers {
    pub(crate) fn new(limit: usize) -> Buffers {
        Buffers {
            free: Mutex::new(Vec::new()),
            limit,
        }
    }

    pub(crate) fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .expect("buffer lock")
            .pop()
            .unwrap_or_default()
    }

    pub(crate) fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut free = self.free.lock().expect("buffer lock");
        if free.len() < self.limit {
            free.push(buffer);
        }
    }
}

/// A batch as file bytes, with the rows `defects` marks unparseable broken
/// (jsonl only), then compressed as the spec says; written into a buffer
/// from `buffers`.
pub(crate) fn encode_with_defects(
    batch: &RecordBatch,
    defects: &Defects,
    format: Format,
    compression: Compression,
    buffers: &Buffers,
) -> Result<Vec<u8>, EncodeError> {
    let bytes = encode_into(buffers.take(), batch, format, compression)?;
    let bytes = match format {
        Format::Jsonl if !defects.unparseable_rows.is_empty() => {
            let broken = break_lines(&bytes, &defects.unparseable_rows);
            buffers.give(bytes);
            broken
        }
        _ => bytes,
    };
    match (format, compression) {
        (Format::Parquet, _) | (_, Compression::None) => Ok(bytes),
        _ => {
            let packed = compress_text(&bytes, compression);
            buffers.give(bytes);
            packed
        }
    }
}

/// A whole jsonl or csv file compressed: gzip (level 1, no name, mtime 0)
/// or zstd (level 1, one frame). Fixed settings give fixed bytes.
fn compress_text(bytes: &[u8], compression: Compression) -> Result<Vec<u8>, EncodeError> {
    use std::io::Write;
    match compression {
        Compression::None => unreachable!("plain text is written as it is"),
        Compression::Gzip => {
            let mut gz = flate2::GzBuilder::new()
                .mtime(0)
                .operating_system(255)
                .write(
                    Vec::with_capacity(bytes.len() / 4),
                    flate2::Compression::new(1),
                );
            gz.write_all(bytes).map_err(|e| err("gzip")(e.into()))?;
            gz.finish().map_err(|e| err("gzip")(e.into()))
        }
        Compression::Zstd => zstd::bulk::compress(bytes, 1).map_err(|e| err("zstd")(e.into())),
        Compression::Snappy => Err(err("snappy")("snappy is for Parquet pages only".into())),
    }
}

/// A clean batch as file bytes, compressed as a whole for text formats.
#[cfg(test)]
pub(crate) fn encode(
    batch: &RecordBatch,
    format: Format,
    compression: Compression,
) -> Result<Vec<u8>, EncodeError> {
    encode_with_defects(
        batch,
        &Defects::default(),
        format,
        compression,
        &Buffers::new(0),
    )
}

/// A batch as file bytes appended to `out`; only Parquet pages are
/// compressed here.
fn encode_into(
    mut out: Vec<u8>,
    batch: &RecordBatch,
    format: Format,
    compression: Compression,
) -> Result<Vec<u8>, EncodeError> {
    match format {
        Format::Parquet => parquet_bytes(out, batch, compression),
        Format::Jsonl => {
            if jsonl::write(batch, &mut out) {
                Ok(out)
            } else {
                arrow_jsonl(batch)
            }
        }
        Format::Csv => {
            let batch = lists_as_json(batch)?;
            let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(out);
            w.write(&batch).map_err(|e| err("csv")(e.into()))?;
            Ok(w.into_inner())
        }
    }
}

/// JSON lines by arrow-json, with explicit nulls: every line carries every
/// column. The reference `jsonl::write` matches.
fn arrow_jsonl(batch: &RecordBatch) -> Result<Vec<u8>, EncodeError> {
    let mut w = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
    w.write(batch).map_err(|e| err("jsonl")(e.into()))?;
    w.finish().map_err(|e| err("jsonl")(e.into()))?;
    Ok(w.into_inner())
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
        Compression::Gzip => PqCompression::GZIP(GzipLevel::try_new(1).expect("level 1 is valid")),
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

fn parquet_bytes(
    mut out: Vec<u8>,
    batch: &RecordBatch,
    compression: Compression,
) -> Result<Vec<u8>, EncodeError> {
    let props = writer_properties(batch.schema_ref(), compression);
    out.reserve(batch.get_array_memory_size() / 3);
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

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use arrow_array::ArrayRef;
    use chrono::NaiveDate;
    use marketpulse_gen::{DatasetSpec, Domain, Generator, Unit};

    use super::*;

    /// The type a text reader can rebuild: dictionaries become their values.
    fn plain_type(t: &DataType) -> DataType {
        match t {
            DataType::Dictionary(_, v) => v.as_ref().clone(),
            DataType::List(item) => DataType::List(Arc::new(plain_field(item))),
            DataType::Struct(fields) => {
                DataType::Struct(fields.iter().map(|f| plain_field(f)).collect())
            }
            other => other.clone(),
        }
    }

    fn plain_field(f: &Field) -> Field {
        Field::new(f.name(), plain_type(f.data_type()), f.is_nullable())
    }

    fn plain(schema: &Schema) -> Schema {
        Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| plain_field(f))
                .collect::<Vec<_>>(),
        )
    }

    fn unify(batch: &RecordBatch) -> RecordBatch {
        let schema = Arc::new(plain(&batch.schema()));
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| arrow_cast::cast(c, f.data_type()).unwrap())
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn read_jsonl(bytes: &[u8], schema: Arc<Schema>) -> RecordBatch {
        let reader = arrow_json::ReaderBuilder::new(schema.clone())
            .with_batch_size(1 << 20)
            .build(Cursor::new(bytes))
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        arrow_select::concat::concat_batches(&schema, &batches).unwrap()
    }

    fn read_csv(bytes: &[u8], plain: Arc<Schema>) -> RecordBatch {
        // Lists travel as JSON text; read them as text, then as JSON.
        let text = Schema::new(
            plain
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::List(_) => Field::new(f.name(), DataType::Utf8, f.is_nullable()),
                    _ => f.as_ref().clone(),
                })
                .collect::<Vec<_>>(),
        );
        let reader = arrow_csv::ReaderBuilder::new(Arc::new(text))
            .with_header(true)
            .with_batch_size(1 << 20)
            .build(Cursor::new(bytes))
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let batch = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (i, f) in plain.fields().iter().enumerate() {
            if !matches!(f.data_type(), DataType::List(_)) {
                continue;
            }
            let texts = columns[i].as_any().downcast_ref::<StringArray>().unwrap();
            let mut lines = Vec::new();
            for t in texts.iter() {
                lines
                    .extend_from_slice(format!("{{\"{}\":{}}}\n", f.name(), t.unwrap()).as_bytes());
            }
            let one = Arc::new(Schema::new(vec![f.as_ref().clone()]));
            columns[i] = read_jsonl(&lines, one).column(0).clone();
        }
        RecordBatch::try_new(plain, columns).unwrap()
    }

    /// A small world with clicks in v2 and every kind of dirty row.
    fn dirty_spec() -> DatasetSpec {
        let mut spec = DatasetSpec {
            scale: 0.01,
            ..DatasetSpec::default()
        };
        spec.world.clicks_v2_from = NaiveDate::from_ymd_opt(2025, 1, 1);
        spec.dirty.late = 0.02;
        spec.dirty.duplicates = 0.02;
        spec.dirty.near_duplicates = 0.02;
        spec.dirty.malformed = 0.05;
        spec
    }

    /// The fast JSON lines writer gives arrow-json's bytes, for every table
    /// with dirty rows (nulls, ZZZ currencies, negative amounts, copies) and
    /// timestamps with and without fractions.
    #[test]
    fn jsonl_writer_matches_arrow_json() {
        let spec = dirty_spec();
        let generator = Generator::new(&spec).unwrap();
        for domain in Domain::all() {
            for hour in [0, 12] {
                let g = generator.generate(Unit {
                    domain,
                    date: spec.start,
                    hour,
                    chunk: 0,
                    chunks: 1,
                });
                let mut fast = Vec::new();
                assert!(
                    jsonl::write(&g.batch, &mut fast),
                    "every column type is known"
                );
                assert_eq!(fast, arrow_jsonl(&g.batch).unwrap(), "{domain} hour {hour}");
            }
        }
        // Whole seconds and whole milliseconds drop the fraction's zeros.
        use arrow_array::TimestampMicrosecondArray;
        let ts = TimestampMicrosecondArray::from(vec![
            1_736_164_800_000_000,
            1_736_164_800_123_000,
            1_736_164_800_000_001,
            946_684_799_999_999,
        ])
        .with_timezone("UTC");
        let batch = RecordBatch::try_from_iter([("ts", Arc::new(ts) as ArrayRef)]).unwrap();
        let mut fast = Vec::new();
        assert!(jsonl::write(&batch, &mut fast));
        assert_eq!(fast, arrow_jsonl(&batch).unwrap());
    }

    /// Every table (clicks in v2, dirty rows included) written as jsonl and
    /// csv reads back to the same values, column by column.
    #[test]
    fn text_formats_read_back_to_the_same_values() {
        let spec = dirty_spec();
        let generator = Generator::new(&spec).unwrap();
        for domain in Domain::all() {
            let unit = Unit {
                domain,
                date: spec.start,
                hour: 12,
                chunk: 0,
                chunks: 1,
            };
            let g = generator.generate(unit);
            assert!(g.batch.num_rows() > 50, "{domain}");
            let expected = unify(&g.batch);
            let schema = expected.schema();
            let jsonl = encode(&g.batch, Format::Jsonl, Compression::None).unwrap();
            let back = read_jsonl(&jsonl, schema.clone());
            for (i, f) in schema.fields().iter().enumerate() {
                assert_eq!(
                    back.column(i).as_ref(),
                    expected.column(i).as_ref(),
                    "jsonl {domain}.{}",
                    f.name()
                );
            }
            let csv = encode(&g.batch, Format::Csv, Compression::None).unwrap();
            let back = read_csv(&csv, schema.clone());
            for (i, f) in schema.fields().iter().enumerate() {
                assert_eq!(
                    back.column(i).as_ref(),
                    expected.column(i).as_ref(),
                    "csv {domain}.{}",
                    f.name()
                );
            }
        }
    }
}
