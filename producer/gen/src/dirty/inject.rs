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
use rand_distr::{Distribution, Exp};

use super::late::{self, LateCache};
use super::{DefectKind, Defects, UNKNOWN_CURRENCY, malformed_kinds};
use crate::World;
use crate::plan::Unit;
use crate::seed::{StreamRng, stream, tag};

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

/// Per-row edit before the batch is rebuilt.
pub(super) enum Edit {
    /// Leaves this unit to land this many hours later (see `late`).
    Late(i64),
    Copy,
    NearCopy,
    Malformed(DefectKind),
}

/// The rows of a unit's clean batch of `n` rows that get a defect, in row
/// order, and the unit's dirty stream positioned after those draws.
pub(super) fn pick(
    world: &World,
    unit: &Unit,
    n: usize,
) -> Option<(StreamRng, Vec<(usize, Edit)>)> {
    let spec = &world.spec;
    let cfg = &spec.dirty;
    let shape = unit.domain.events().and_then(|e| e.dirty)?;
    if !cfg.any() {
        return None;
    }
    let mut rng: StreamRng =
        stream(&unit.seed_words(spec.seed, tag(unit.domain.name()), tag("dirty")));
    let kinds = malformed_kinds(&shape, spec.format);
    let delay = (cfg.late_mean_hours > 0.0).then(|| Exp::new(1.0 / cfg.late_mean_hours).unwrap());
    let cuts = [
        cfg.late,
        cfg.late + cfg.duplicates,
        cfg.late + cfg.duplicates + cfg.near_duplicates,
        cfg.late + cfg.duplicates + cfg.near_duplicates + cfg.malformed,
    ];
    let mut edits: Vec<(usize, Edit)> = Vec::new();
    for row in 0..n {
        let u = rng.random::<f64>();
        if u >= cuts[3] {
            continue;
        }
        let edit = if u < cuts[0] {
            let extra = delay.map_or(0.0, |d| d.sample(&mut rng)).floor();
            let hours = (1.0 + extra).min(cfg.late_max_hours as f64) as i64;
            Edit::Late(hours)
        } else if u < cuts[1] {
            Edit::Copy
        } else if u < cuts[2] {
            Edit::NearCopy
        } else {
            Edit::Malformed(kinds[rng.random_range(0..kinds.len())])
        };
        edits.push((row, edit));
    }
    Some((rng, edits))
}

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
    let n = batch.num_rows();

    // Copies follow their original; `at` maps edits to final row positions.
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

    let schema = batch.schema();
    let col = |name: &str| schema.index_of(name).expect("column in schema");
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let id_col = col(events.id);
    let ids = columns[id_col].as_primitive::<Int64Type>().clone();
    let ts_col = col(events.ts);
    let mut ts: Vec<i64> = columns[ts_col]
        .as_primitive::<TimestampMicrosecondType>()
        .values()
        .to_vec();
    let key_col = col(shape.null_key);
    let mut key_valid: Vec<bool> = match columns[key_col].nulls() {
        Some(nulls) => nulls.iter().collect(),
        None => vec![true; batch.num_rows()],
    };
    let amount_col = shape.money.map(|m| col(m.amount));
    let mut amount: Vec<i128> = if let Some(c) = amount_col {
        columns[c]
            .as_primitive::<Decimal128Type>()
            .values()
            .to_vec()
    } else {
        Vec::new()
    };
    // Near-duplicates change a dictionary column (a click's page, a sale's
    // payment type).
    let changed_col = col(shape.near_duplicate_changes);
    let mut changed_keys: Vec<i32> = dict_keys(&columns[changed_col]);
    let changed_len = columns[changed_col]
        .as_dictionary::<Int32Type>()
        .values()
        .len() as i32;
    let currency_col = shape.money.map(|m| col(m.currency));
    let mut currency_keys: Vec<i32> = currency_col.map_or(Vec::new(), |c| dict_keys(&columns[c]));
    let hour_end = ts_hour_end(unit);

    let mut defects = Defects::default();
    let (mut touched_ts, mut touched_key, mut touched_amount, mut touched_changed, mut touched_cur) =
        (false, false, false, false, false);
    for (pos, edit) in placed {
        let kind = match edit {
            Edit::Late(_) => unreachable!("late rows left the batch"),
            Edit::Copy => DefectKind::Duplicate,
            Edit::NearCopy => {
                let step = rng.random_range(1..changed_len.max(2));
                changed_keys[pos] = (changed_keys[pos] + step) % changed_len.max(1);
                touched_changed = true;
                DefectKind::NearDuplicate
            }
            Edit::Malformed(kind) => {
                match kind {
                    DefectKind::NullKey => {
                        key_valid[pos] = false;
                        touched_key = true;
                    }
                    DefectKind::NegativeAmount => {
                        amount[pos] = -amount[pos].max(1);
                        touched_amount = true;
                    }
                    DefectKind::AmountMismatch => {
                        amount[pos] += rng.random_range(1..=500) as i128;
                        touched_amount = true;
                    }
                    DefectKind::UnknownCurrency => {
                        currency_keys[pos] = -1;
                        touched_cur = true;
                    }
                    DefectKind::FutureTimestamp => {
                        ts[pos] = hour_end + rng.random_range(1..=365) * DAY_US;
                        touched_ts = true;
                    }
                    DefectKind::Unparseable => defects.unparseable_rows.push(pos),
                    _ => unreachable!("not a malformed kind"),
                }
                *kind
            }
        };
        defects.truth.push((ids.value(pos), kind));
        defects.rows.push(pos);
    }

    if touched_ts {
        columns[ts_col] = Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC"));
    }
    if touched_key {
        columns[key_col] = with_nulls(&columns[key_col], key_valid);
    }
    if let (true, Some(c)) = (touched_amount, amount_col) {
        columns[c] = Arc::new(
            Decimal128Array::from(amount)
                .with_precision_and_scale(12, 2)
                .expect("valid decimal"),
        );
    }
    if touched_changed {
        let values = columns[changed_col]
            .as_dictionary::<Int32Type>()
            .values()
            .clone();
        columns[changed_col] = Arc::new(
            DictionaryArray::<Int32Type>::try_new(Int32Array::from(changed_keys), values)
                .expect("keys in range"),
        );
    }
    if let (true, Some(c)) = (touched_cur, currency_col) {
        let values = columns[c].as_dictionary::<Int32Type>().values().clone();
        let mut names: Vec<String> = values
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect();
        names.push(UNKNOWN_CURRENCY.into());
        let unknown = (names.len() - 1) as i32;
        let keys: Int32Array = currency_keys
            .iter()
            .map(|&k| Some(if k < 0 { unknown } else { k }))
            .collect();
        columns[c] = Arc::new(
            DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(names)))
                .expect("keys in range"),
        );
    }
    let batch = RecordBatch::try_new(schema, columns).expect("same schema");
    late::land(world, cache, unit, batch, defects)
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
