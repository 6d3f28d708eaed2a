//! Column builders shared by the tables: dictionary keys, timestamps,
//! decimals, and the batch assembled against its schema file.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Decimal128Array, DictionaryArray, Int32Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow_buffer::NullBuffer;
use chrono::{NaiveDate, NaiveTime};

use crate::plan::unit::Unit;
use crate::schema;
use crate::seed::{StreamRng, stream, tag};
use crate::world::{Dict, World};

pub(crate) const SECOND: i64 = 1_000_000;
pub(crate) const HOUR: i64 = 3600 * SECOND;

/// The stream of one attribute group of a unit: (seed, domain, date, hour,
/// chunk, group).
pub(crate) fn unit_stream(world: &World, unit: &Unit, domain: &str, group: &str) -> StreamRng {
    stream(&unit.seed_words(world.seed, tag(domain), tag(group)))
}

/// Microseconds since the Unix epoch at the start of the unit's UTC hour.
pub(crate) fn hour_start_us(unit: &Unit) -> i64 {
    let midnight = unit
        .date
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_micros();
    midnight + unit.hour as i64 * HOUR
}

pub(crate) fn unix_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

/// Days since 1970-01-01, as Arrow's Date32 counts them.
pub(crate) fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - unix_epoch()).num_days() as i32
}

pub(crate) fn dict_array(keys: Int32Array, values: &Dict) -> ArrayRef {
    Arc::new(
        DictionaryArray::<Int32Type>::try_new(keys, values.clone() as ArrayRef)
            .expect("keys in range"),
    )
}

pub(crate) fn timestamps(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
}

/// Money in minor units (cents) as `decimal(12,2)`.
pub(crate) fn decimal(cents: Vec<i128>) -> Decimal128Array {
    Decimal128Array::from(cents)
        .with_precision_and_scale(12, 2)
        .expect("valid decimal")
}

/// Dictionary keys, some null, without a per-row builder.
pub(crate) fn optional_keys(n: usize, key: impl Fn(usize) -> Option<i32>) -> Int32Array {
    let mut values: Vec<i32> = Vec::with_capacity(n);
    let mut valid = arrow_buffer::BooleanBufferBuilder::new(n);
    for i in 0..n {
        let k = key(i);
        values.push(k.unwrap_or(0));
        valid.append(k.is_some());
    }
    let valid = valid.finish();
    let nulls = (valid.count_set_bits() < n).then(|| NullBuffer::from(valid));
    Int32Array::new(values.into(), nulls)
}

/// The batch of `schema_name` ("clicks.v2"); the columns must match it.
pub(crate) fn batch(schema_name: &str, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema::arrow(schema_name), columns)
        .expect("columns match the schema file")
}
