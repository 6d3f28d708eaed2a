//! Late arrivals. A row picked late leaves its own unit's file and lands,
//! with its values unchanged, in a file of a later hour: the hour
//! `1 + Exp(late_mean_hours)` (at most `late_max_hours`) after its own, in
//! chunk `chunk % chunks` of that hour. The record then says when it
//! happened and the partition says when it arrived, as in a real lake, and a
//! pipeline that places records by event time rebuilds the clean lake.
//!
//! Landing stays inside the run and inside the row's schema version: a row
//! whose landing hour would fall after the last day (or after the day its
//! table changes schema) lands in the last hour that has a file; when there
//! is none after its own, it stays on time.
//!
//! A unit's incoming rows are the late rows of the units of the
//! `late_max_hours` before it. Those are recomputed from their clean batches
//! (units stay pure functions of the spec) and kept in a bounded cache, so a
//! run that goes hour by hour generates each unit about once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{RecordBatch, UInt32Array};
use chrono::{Days, NaiveDate};

use super::defects::{DefectKind, Defects};
use super::pick::{Edit, pick};
use crate::plan::unit::{EPOCH, Unit};
use crate::plan::volumes::DayVolumes;
use crate::tables::{self, Domain};
use crate::world::World;

/// Bytes of late rows the cache keeps before it forgets the oldest units.
const CACHE_BYTES: usize = 256 << 20;

/// A file a late row can land in: one unit's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Slot {
    domain: Domain,
    date: NaiveDate,
    hour: u32,
    chunk: u32,
    chunks: u32,
}

impl Slot {
    fn of(unit: &Unit) -> Slot {
        Slot {
            domain: unit.domain,
            date: unit.date,
            hour: unit.hour,
            chunk: unit.chunk,
            chunks: unit.chunks,
        }
    }
}

/// A unit's late rows (taken from its clean batch), by the slot each lands in.
struct Outgoing {
    batch: RecordBatch,
    rows_by_target: HashMap<Slot, UInt32Array>,
}

impl Outgoing {
    fn new(clean: &RecordBatch, slots: &[(usize, Slot)]) -> Outgoing {
        let mut rows_by_target: HashMap<Slot, Vec<u32>> = HashMap::new();
        for (i, (_, slot)) in slots.iter().enumerate() {
            rows_by_target.entry(*slot).or_default().push(i as u32);
        }
        let rows: Vec<u32> = slots.iter().map(|(row, _)| *row as u32).collect();
        Outgoing {
            batch: take(clean, &UInt32Array::from(rows)),
            rows_by_target: rows_by_target
                .into_iter()
                .map(|(slot, rows)| (slot, UInt32Array::from(rows)))
                .collect(),
        }
    }
}

/// What late landing needs to remember across units; one per generator.
#[derive(Default)]
pub struct LateCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    outgoing: HashMap<Slot, Arc<Outgoing>>,
    order: VecDeque<(Slot, usize)>,
    bytes: usize,
    /// Chunks per hour of a table's day (0: no file that hour).
    hours: HashMap<(Domain, NaiveDate), Arc<[u32; 24]>>,
}

impl LateCache {
    fn hours(&self, world: &World, domain: Domain, date: NaiveDate) -> Arc<[u32; 24]> {
        if let Some(h) = self.inner.lock().unwrap().hours.get(&(domain, date)) {
            return h.clone();
        }
        let vol = DayVolumes::new(world, date);
        let mut chunks = [0u32; 24];
        for (hour, n) in tables::generator(domain).plan_day(world, &vol) {
            chunks[hour as usize] = n;
        }
        let chunks = Arc::new(chunks);
        let mut inner = self.inner.lock().unwrap();
        inner.hours.insert((domain, date), chunks.clone());
        chunks
    }

    fn outgoing(&self, world: &World, unit: &Unit) -> Arc<Outgoing> {
        if let Some(o) = self.inner.lock().unwrap().outgoing.get(&Slot::of(unit)) {
            return o.clone();
        }
        let clean = tables::unit_batch(world, unit);
        let edits = pick(world, unit, clean.num_rows()).map_or(Vec::new(), |(_, e)| e);
        let slots = slots(world, self, unit, &edits);
        self.insert(unit, Outgoing::new(&clean, &slots))
    }

    /// Remembers the late rows of a unit generated for its own file.
    pub(super) fn keep_outgoing(&self, unit: &Unit, clean: &RecordBatch, slots: &[(usize, Slot)]) {
        self.insert(unit, Outgoing::new(clean, slots));
    }

    fn insert(&self, unit: &Unit, out: Outgoing) -> Arc<Outgoing> {
        let out = Arc::new(out);
        let size = out.batch.get_array_memory_size();
        let mut inner = self.inner.lock().unwrap();
        if inner.outgoing.insert(Slot::of(unit), out.clone()).is_none() {
            inner.order.push_back((Slot::of(unit), size));
            inner.bytes += size;
        }
        while inner.bytes > CACHE_BYTES
            && let Some((slot, size)) = inner.order.pop_front()
        {
            inner.outgoing.remove(&slot);
            inner.bytes -= size;
        }
        out
    }
}

/// The rows of a batch at `rows`, in that order.
pub(super) fn take(batch: &RecordBatch, rows: &UInt32Array) -> RecordBatch {
    arrow_select::take::take_record_batch(batch, rows).expect("rows in range")
}

/// Hours since `EPOCH`.
fn abs_hour(date: NaiveDate, hour: u32) -> i64 {
    (date - EPOCH).num_days() * 24 + hour as i64
}

fn from_abs(h: i64) -> (NaiveDate, u32) {
    (EPOCH + Days::new((h / 24) as u64), (h % 24) as u32)
}

/// The late rows among `edits` (a unit's, in row order) that land
/// somewhere, with their slot. A late row of `source` that is `hours` late
/// lands `hours` later, or in the nearest hour with files after that within
/// the window, or else before it; with no hour at all it stays on time.
pub(super) fn slots(
    world: &World,
    cache: &LateCache,
    source: &Unit,
    edits: &[(usize, Edit)],
) -> Vec<(usize, Slot)> {
    if !edits.iter().any(|(_, e)| matches!(e, Edit::Late(_))) {
        return Vec::new();
    }
    let spec = &world.spec;
    let domain = source.domain;
    let last_day = spec.start + Days::new(spec.days.saturating_sub(1) as u64);
    let own = abs_hour(source.date, source.hour);
    // Within the run, the row's schema version and `late_max_hours` (where
    // `land` looks for incoming rows).
    let mut last = abs_hour(last_day, 23).min(own + spec.dirty.late_max_hours as i64);
    if let Some(switch) = tables::generator(domain).schema_switch(world)
        && source.date < switch
    {
        last = last.min(abs_hour(switch, 0) - 1);
    }
    // Chunks of each hour after `own` up to `last` (0: no file).
    let chunks: Vec<u32> = (own + 1..=last)
        .map(|h| {
            let (date, hour) = from_abs(h);
            cache.hours(world, domain, date)[hour as usize]
        })
        .collect();
    let target = |hours: i64| {
        let want = (hours as usize - 1).min(chunks.len().checked_sub(1)?);
        let i = (want..chunks.len())
            .find(|&i| chunks[i] > 0)
            .or_else(|| (0..want).rev().find(|&i| chunks[i] > 0))?;
        let (date, hour) = from_abs(own + 1 + i as i64);
        Some(Slot {
            domain,
            date,
            hour,
            chunk: source.chunk % chunks[i],
            chunks: chunks[i],
        })
    };
    edits
        .iter()
        .filter_map(|(row, e)| match e {
            Edit::Late(hours) => target(*hours).map(|slot| (*row, slot)),
            _ => None,
        })
        .collect()
}

/// Appends the late rows of earlier units that land in `unit`, after its
/// own rows (they arrived last), with their truth.
pub(super) fn land(
    world: &World,
    cache: &LateCache,
    unit: &Unit,
    batch: RecordBatch,
    mut defects: Defects,
) -> (RecordBatch, Defects) {
    let spec = &world.spec;
    if spec.dirty.late <= 0.0 {
        return (batch, defects);
    }
    let me = Slot::of(unit);
    let own = abs_hour(unit.date, unit.hour);
    let first = abs_hour(spec.start, 0).max(own - spec.dirty.late_max_hours as i64);
    let mut parts = vec![batch];
    for h in first..own {
        let (date, hour) = from_abs(h);
        let chunks = cache.hours(world, unit.domain, date)[hour as usize];
        for chunk in 0..chunks {
            let source = Unit {
                domain: unit.domain,
                date,
                hour,
                chunk,
                chunks,
            };
            let out = cache.outgoing(world, &source);
            if let Some(rows) = out.rows_by_target.get(&me) {
                parts.push(take(&out.batch, rows));
            }
        }
    }
    if parts.len() == 1 {
        return (parts.pop().unwrap(), defects);
    }
    let events = unit.domain.events().expect("late rows are events");
    let mut at = parts[0].num_rows();
    for part in &parts[1..] {
        let ids = part
            .column_by_name(events.id)
            .expect("id column")
            .as_primitive::<Int64Type>();
        for i in 0..part.num_rows() {
            defects.truth.push((ids.value(i), DefectKind::Late));
            defects.rows.push(at + i);
        }
        at += part.num_rows();
    }
    let batch = arrow_select::concat::concat_batches(&parts[0].schema(), &parts)
        .expect("late rows share their target's schema");
    (batch, defects)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::spec::DatasetSpec;
    use crate::{Domain, Generator};

    /// A late row's id and the day and hour it landed in.
    type Landed = (i64, NaiveDate, u32);

    /// Ids of every row in every unit, with the units' truth.
    fn run(spec: &DatasetSpec) -> (BTreeMap<i64, usize>, Vec<Landed>) {
        let generator = Generator::new(spec).unwrap();
        let mut ids = BTreeMap::new();
        let mut late = Vec::new();
        for unit in generator.shard_units(0, 1) {
            let g = generator.generate(unit);
            let events = unit.domain.events().unwrap();
            let col = g.batch.column_by_name(events.id).unwrap();
            for id in col.as_primitive::<Int64Type>().values() {
                *ids.entry(*id).or_default() += 1;
            }
            for (id, kind) in &g.defects.truth {
                assert_eq!(*kind, DefectKind::Late);
                late.push((*id, unit.date, unit.hour));
            }
        }
        (ids, late)
    }

    /// With hours that have no file and a short `late_max_hours`, every late
    /// row lands exactly once, later than its own hour and within the limit,
    /// and the lake holds the clean lake's rows.
    #[test]
    fn late_rows_land_once_even_around_empty_hours() {
        let mut spec = DatasetSpec {
            scale: 0.0005,
            days: 3,
            domains: vec![Domain::named("sales"), Domain::named("clicks")],
            ..DatasetSpec::default()
        };
        let mut weights = vec![0.0; 24];
        weights[12] = 1.0;
        spec.world.hourly_weights = weights.clone();
        spec.world.pos_hourly_weights = weights;
        let (clean, _) = run(&spec);
        spec.dirty.late = 0.4;
        spec.dirty.late_mean_hours = 6.0;
        spec.dirty.late_max_hours = 3;
        let (dirty, late) = run(&spec);
        assert_eq!(dirty, clean, "rows lost, added or doubled");
        assert!(late.len() > 20, "{} late rows", late.len());
        for (id, date, hour) in late {
            // Row ids carry their event day and hour.
            let event = EPOCH + Days::new((id >> 43) as u64);
            let delay = abs_hour(date, hour) - abs_hour(event, ((id >> 38) & 31) as u32);
            assert!(
                (1..=3).contains(&delay),
                "id {id} landed {delay} hours late"
            );
        }
    }
}
