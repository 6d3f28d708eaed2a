//! Applying the `[dirty]` rates to one unit's clean batch.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, Decimal128Array, DictionaryArray, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow_buffer::NullBuffer;
use rand::RngExt;

use super::defects::{DefectKind, Defects, DirtyShape, UNKNOWN_CURRENCY};
use super::late::{self, LateCache};
use super::pick::{Edit, pick};
use crate::plan::unit::Unit;
use crate::seed::StreamRng;
use crate::tables::catalog::EventColumns;
use crate::world::World;

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

/// Injects the configured defects into a sales or clicks batch, and appends
/// the late rows of earlier units that land in this one.
pub(crate) fn inject(
    world: &World,
    cache: &LateCache,
    unit: &Unit,
    batch: RecordBatch,
) -> (RecordBatch, Defects) {
    let Some((mut rng, mut edits)) = pick(world, unit, batch.num_rows()) else {
        return (batch, Defects::default());
    };
    let events = unit.domain.events().expect("dirty tables are event tables");
    let shape = events.dirty.expect("dirty tables have a shape");
    // A late row with no hour to land in stays on time.
    let slots = late::slots(world, cache, unit, &edits);
    edits.retain(|(row, e)| {
        !matches!(e, Edit::Late(_)) || slots.binary_search_by_key(row, |(r, _)| *r).is_ok()
    });
    if world.spec.dirty.late > 0.0 {
        cache.keep_outgoing(unit, &batch, &slots);
    }
    let (batch, placed) = place(batch, &edits);
    let mut columns = Edited::read(&batch, events, shape);
    let hour_end = ts_hour_end(unit);
    let mut defects = Defects::default();
    for (pos, edit) in placed {
        let kind = columns.apply(pos, edit, &mut rng, hour_end, &mut defects);
        defects.truth.push((columns.ids.value(pos), kind));
        defects.rows.push(pos);
    }
    let batch = RecordBatch::try_new(batch.schema(), columns.write(&batch)).expect("same schema");
    late::land(world, cache, unit, batch, defects)
}

/// The batch without its late rows and with its copies after their
/// originals, and where each remaining edit's row now is.
fn place(batch: RecordBatch, edits: &[(usize, Edit)]) -> (RecordBatch, Vec<(usize, &Edit)>) {
    let n = batch.num_rows();
    let copies = edits
        .iter()
        .filter(|(_, e)| matches!(e, Edit::Copy | Edit::NearCopy))
        .count();
    let mut indices: Vec<u32> = Vec::with_capacity(n + copies);
    let mut placed: Vec<(usize, &Edit)> = Vec::with_capacity(edits.len());
    let mut next_edit = edits.iter().peekable();
    let late_out = edits
        .iter()
        .filter(|(_, e)| matches!(e, Edit::Late(_)))
        .count();
    for row in 0..n {
        let edit = next_edit.next_if(|(r, _)| *r == row).map(|(_, e)| e);
        if matches!(edit, Some(Edit::Late(_))) {
            continue;
        }
        indices.push(row as u32);
        match edit {
            Some(e @ (Edit::Copy | Edit::NearCopy)) => {
                indices.push(row as u32);
                placed.push((indices.len() - 1, e));
            }
            Some(e) => placed.push((indices.len() - 1, e)),
            None => {}
        }
    }
    let batch = if copies > 0 || late_out > 0 {
        late::take(&batch, &UInt32Array::from(indices))
    } else {
        batch
    };
    (batch, placed)
}

/// The columns that defects change, as plain values while they are
/// edited, with which of them were touched.
struct Edited {
    ids: Int64Array,
    ts_col: usize,
    ts: Vec<i64>,
    key_col: usize,
    key_valid: Vec<bool>,
    amount_col: Option<usize>,
    amount: Vec<i128>,
    /// Near-duplicates change a dictionary column (a click's page, a
    /// sale's payment type).
    changed_col: usize,
    changed_keys: Vec<i32>,
    changed_len: i32,
    currency_col: Option<usize>,
    currency_keys: Vec<i32>,
    touched: Touched,
}

#[derive(Default)]
struct Touched {
    ts: bool,
    key: bool,
    amount: bool,
    changed: bool,
    currency: bool,
}

impl Edited {
    fn read(batch: &RecordBatch, events: EventColumns, shape: DirtyShape) -> Edited {
        let schema = batch.schema();
        let col = |name: &str| schema.index_of(name).expect("column in schema");
        let columns = batch.columns();
        let ts_col = col(events.ts);
        let key_col = col(shape.null_key);
        let amount_col = shape.money.map(|m| col(m.amount));
        let changed_col = col(shape.near_duplicate_changes);
        let currency_col = shape.money.map(|m| col(m.currency));
        Edited {
            ids: columns[col(events.id)].as_primitive::<Int64Type>().clone(),
            ts_col,
            ts: columns[ts_col]
                .as_primitive::<TimestampMicrosecondType>()
                .values()
                .to_vec(),
            key_col,
            key_valid: match columns[key_col].nulls() {
                Some(nulls) => nulls.iter().collect(),
                None => vec![true; batch.num_rows()],
            },
            amount_col,
            amount: amount_col.map_or(Vec::new(), |c| {
                columns[c]
                    .as_primitive::<Decimal128Type>()
                    .values()
                    .to_vec()
            }),
            changed_col,
            changed_keys: dict_keys(&columns[changed_col]),
            changed_len: columns[changed_col]
                .as_dictionary::<Int32Type>()
                .values()
                .len() as i32,
            currency_col,
            currency_keys: currency_col.map_or(Vec::new(), |c| dict_keys(&columns[c])),
            touched: Touched::default(),
        }
    }

    /// Applies `edit` to the row at `pos`; the kind of defect it is.
    fn apply(
        &mut self,
        pos: usize,
        edit: &Edit,
        rng: &mut StreamRng,
        hour_end: i64,
        defects: &mut Defects,
    ) -> DefectKind {
        match edit {
            Edit::Late(_) => unreachable!("late rows left the batch"),
            Edit::Copy => DefectKind::Duplicate,
            Edit::NearCopy => {
                let step = rng.random_range(1..self.changed_len.max(2));
                self.changed_keys[pos] = (self.changed_keys[pos] + step) % self.changed_len.max(1);
                self.touched.changed = true;
                DefectKind::NearDuplicate
            }
            Edit::Malformed(kind) => {
                self.malform(pos, *kind, rng, hour_end, defects);
                *kind
            }
        }
    }

    fn malform(
        &mut self,
        pos: usize,
        kind: DefectKind,
        rng: &mut StreamRng,
        hour_end: i64,
        defects: &mut Defects,
    ) {
        match kind {
            DefectKind::NullKey => {
                self.key_valid[pos] = false;
                self.touched.key = true;
            }
            DefectKind::NegativeAmount => {
                self.amount[pos] = -self.amount[pos].max(1);
                self.touched.amount = true;
            }
            DefectKind::AmountMismatch => {
                self.amount[pos] += rng.random_range(1..=500) as i128;
                self.touched.amount = true;
            }
            DefectKind::UnknownCurrency => {
                self.currency_keys[pos] = -1;
                self.touched.currency = true;
            }
            DefectKind::FutureTimestamp => {
                self.ts[pos] = hour_end + rng.random_range(1..=365) * DAY_US;
                self.touched.ts = true;
            }
            DefectKind::Unparseable => defects.unparseable_rows.push(pos),
            _ => unreachable!("not a malformed kind"),
        }
    }

    /// `batch`'s columns with the touched ones rebuilt.
    fn write(self, batch: &RecordBatch) -> Vec<ArrayRef> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let t = &self.touched;
        if t.ts {
            columns[self.ts_col] =
                Arc::new(TimestampMicrosecondArray::from(self.ts).with_timezone("UTC"));
        }
        if t.key {
            columns[self.key_col] = with_nulls(&columns[self.key_col], self.key_valid);
        }
        if let (true, Some(c)) = (t.amount, self.amount_col) {
            columns[c] = Arc::new(
                Decimal128Array::from(self.amount)
                    .with_precision_and_scale(12, 2)
                    .expect("valid decimal"),
            );
        }
        if t.changed {
            let values = columns[self.changed_col]
                .as_dictionary::<Int32Type>()
                .values()
                .clone();
            columns[self.changed_col] = Arc::new(
                DictionaryArray::<Int32Type>::try_new(Int32Array::from(self.changed_keys), values)
                    .expect("keys in range"),
            );
        }
        if let (true, Some(c)) = (t.currency, self.currency_col) {
            columns[c] = with_unknown_currency(&columns[c], &self.currency_keys);
        }
        columns
    }
}

/// A currency column with the keys below 0 pointing at `UNKNOWN_CURRENCY`,
/// added to its dictionary.
fn with_unknown_currency(col: &ArrayRef, keys: &[i32]) -> ArrayRef {
    let values = col.as_dictionary::<Int32Type>().values().clone();
    let mut names: Vec<String> = values
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    names.push(UNKNOWN_CURRENCY.into());
    let unknown = (names.len() - 1) as i32;
    let keys: Int32Array = keys
        .iter()
        .map(|&k| Some(if k < 0 { unknown } else { k }))
        .collect();
    Arc::new(
        DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(names)))
            .expect("keys in range"),
    )
}

fn dict_keys(col: &ArrayRef) -> Vec<i32> {
    col.as_dictionary::<Int32Type>().keys().values().to_vec()
}

fn with_nulls(col: &ArrayRef, valid: Vec<bool>) -> ArrayRef {
    let nulls = Some(NullBuffer::from(valid));
    if let Some(a) = col.as_primitive_opt::<Int64Type>() {
        Arc::new(Int64Array::new(a.values().clone(), nulls))
    } else {
        let a = col.as_primitive::<Int32Type>();
        Arc::new(Int32Array::new(a.values().clone(), nulls))
    }
}

fn ts_hour_end(unit: &Unit) -> i64 {
    let midnight = unit
        .date
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_micros();
    midnight + (unit.hour as i64 + 1) * HOUR_US
}

/// Cuts the given lines of a jsonl file in half so they cannot be parsed.
pub fn break_lines(jsonl: &[u8], rows: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jsonl.len());
    let mut broken = rows.iter().peekable();
    for (i, line) in jsonl.split_inclusive(|&b| b == b'\n').enumerate() {
        if broken.peek() == Some(&&i) {
            broken.next();
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            out.extend_from_slice(&body[..body.len() / 2]);
            out.push(b'\n');
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}
