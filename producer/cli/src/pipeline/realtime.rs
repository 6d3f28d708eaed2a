//! Real-time mode: the same events as a backfill, emitted paced in event-time
//! order, hour by hour. `--rate N` and `--rate-profile` pace by a schedule of
//! due times (`schedule.rs`); `--speedup X` replays simulated time X times
//! faster than the wall clock.
//!
//! Each event is emitted at its event time; late arrivals (dirty data) at the
//! start of the hour they land in, future timestamps at its end. Record sinks
//! get small batches as they come due. Object sinks get micro-batch files:
//! one per domain every `flush_seconds` of event time, or sooner once a
//! file's rows reach `flush_mb`. File names count windows within the hour,
//! so the files are deterministic for a given spec and flush settings.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use chrono::Datelike;
use marketpulse_gen::dirty::{DefectKind, Defects};
use marketpulse_gen::{Domain, Format, Generator, Unit};
use sha2::{Digest, Sha256};

use super::ledger::{Delivered, Ledger};
use super::outputs::{Outputs, Summary};
use super::pacer::{Pacer, pacer_of, wait_until};
use super::produce::{Needs, Produced, Sidecar, produce};
use crate::encode::{Buffers, encode_with_defects};
use crate::error::Error;
use crate::manifest::{TRUTH_DIR, hex};
use crate::settings::{RealtimeOptions, Run};

const HOUR_US: i64 = 3_600_000_000;

/// One generated unit of the current hour.
struct HourUnit {
    p: Produced,
    /// Where each row's JSON line ends in `p.bytes` (record sinks).
    line_ends: Vec<usize>,
    /// Estimated encoded bytes per row (object sinks).
    row_bytes: usize,
    /// Row → index of its record in `p.defects.truth` (`NO_DEFECT` when
    /// clean); empty for a clean unit.
    defect_at: Vec<u32>,
    // What was delivered of it (record sinks).
    sent_rows: u64,
    sent_bytes: u64,
    sha: Sha256,
    /// `p.defects.truth` indices of the rows sent.
    sent_defects: Vec<u32>,
}

const NO_DEFECT: u32 = u32::MAX;

impl HourUnit {
    /// Where row `r`'s JSON line (newline included) lies in `p.bytes`.
    fn line(&self, r: usize) -> std::ops::Range<usize> {
        let start = if r == 0 { 0 } else { self.line_ends[r - 1] };
        start..self.line_ends[r]
    }

    /// The injected record of row `r`, if it is one.
    fn defect(&self, r: usize) -> Option<usize> {
        match self.defect_at.get(r) {
            Some(&i) if i != NO_DEFECT => Some(i as usize),
            _ => None,
        }
    }

    /// The truth of the rows sent to a record sink, in the unit's order.
    fn sent_truth(&self) -> Defects {
        let mut picked: Vec<usize> = self.sent_defects.iter().map(|&i| i as usize).collect();
        picked.sort_unstable();
        let mut d = Defects::default();
        for i in picked {
            d.truth.push(self.p.defects.truth[i]);
            d.rows.push(self.p.defects.rows[i]);
        }
        d
    }
}

/// Rows waiting for the next micro-batch file of one domain.
#[derive(Default)]
struct Window {
    rows: Vec<(usize, usize)>,
    bytes: usize,
    /// Time slot of the rows (event time / flush_seconds).
    slot: i64,
    /// Files written so far this hour: names the next one.
    seq: u32,
}

struct State<'a> {
    run: &'a Run,
    out: &'a Outputs<'a>,
    opts: &'a RealtimeOptions,
    ledger: Ledger<'a>,
    emitted: u64,
}

fn ts_column(p: &Produced) -> Vec<i64> {
    let ts = p.unit.domain.events().expect("hours hold events").ts;
    p.batch
        .column_by_name(ts)
        .expect("events have a time")
        .as_primitive::<TimestampMicrosecondType>()
        .values()
        .to_vec()
}

fn hour_start(unit: &Unit) -> i64 {
    unit.date
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_micros()
        + unit.hour as i64 * HOUR_US
}

/// Generates one event unit, with its JSON lines when the sink takes records.
fn prepare(generator: &Generator, records: bool, unit: Unit) -> Result<HourUnit, Error> {
    let needs = Needs {
        encode: records.then_some(Format::Jsonl),
        partition_keys: records,
    };
    let p = produce(generator, unit, needs, &Buffers::new(0))?;
    let line_ends = p
        .bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    let row_bytes = p.batch.get_array_memory_size() / p.batch.num_rows().max(1);
    let mut defect_at = Vec::new();
    if !p.defects.rows.is_empty() {
        defect_at = vec![NO_DEFECT; p.batch.num_rows()];
        for (i, &r) in p.defects.rows.iter().enumerate() {
            defect_at[r] = i as u32;
        }
    }
    Ok(HourUnit {
        p,
        line_ends,
        row_bytes,
        defect_at,
        sent_rows: 0,
        sent_bytes: 0,
        sha: Sha256::new(),
        sent_defects: Vec::new(),
    })
}

impl State<'_> {
    /// Object sinks: puts the `due` rows into their domain's micro-batch,
    /// writing the batch first when its time slot ends or it is full.
    fn add_to_windows(
        &mut self,
        hour: &[HourUnit],
        due: &[(i64, usize, usize)],
        start: i64,
        windows: &mut BTreeMap<Domain, Window>,
    ) -> Result<(), Error> {
        for &(key, u, r) in due {
            let domain = hour[u].p.unit.domain;
            let slot = (key - start) / (self.opts.flush_seconds as i64 * 1_000_000);
            let w = windows.entry(domain).or_default();
            if !w.rows.is_empty() && (w.slot != slot || w.bytes >= self.opts.flush_bytes) {
                self.flush(hour, domain, w)?;
            }
            if w.rows.is_empty() {
                w.slot = slot;
            }
            w.rows.push((u, r));
            w.bytes += hour[u].row_bytes;
        }
        Ok(())
    }

    fn records(&self) -> bool {
        self.out.records.is_some()
    }

    /// Snapshots (users, stores) go out whole at the start of their day.
    fn snapshot(&mut self, generator: &Generator, unit: Unit) -> Result<(), Error> {
        let spec = &self.run.spec;
        let needs = Needs {
            encode: Some(spec.format),
            partition_keys: false,
        };
        let p = produce(generator, unit, needs, &Buffers::new(0))?;
        let key = unit.path(&spec.file_extension());
        self.out.lake.put(&key, &p.bytes)?;
        self.ledger.file(
            &unit,
            key,
            p.batch.num_rows() as u64,
            &p.bytes,
            BTreeMap::new(),
        )
    }

    /// Writes one micro-batch file of `domain` from the window's rows, and
    /// its truth sidecar (`_truth/<file path>.csv`) when the table is dirty:
    /// the injected records of exactly these rows, unparseable lines broken.
    fn flush(
        &mut self,
        units: &[HourUnit],
        domain: Domain,
        window: &mut Window,
    ) -> Result<(), Error> {
        if window.rows.is_empty() {
            return Ok(());
        }
        let spec = &self.run.spec;
        // Only this domain's batches: they share one schema.
        let mut position = vec![usize::MAX; units.len()];
        let mut batches: Vec<&RecordBatch> = Vec::new();
        for (i, u) in units.iter().enumerate() {
            if u.p.unit.domain == domain {
                position[i] = batches.len();
                batches.push(&u.p.batch);
            }
        }
        let rows: Vec<(usize, usize)> =
            window.rows.iter().map(|&(u, r)| (position[u], r)).collect();
        let batch = arrow_select::interleave::interleave_record_batch(&batches, &rows)
            .map_err(|e| Error::runtime(format!("cannot assemble a micro-batch: {e}")))?;
        let mut defects = Defects::default();
        for (j, &(u, r)) in window.rows.iter().enumerate() {
            if let Some(i) = units[u].defect(r) {
                let (id, kind) = units[u].p.defects.truth[i];
                defects.truth.push((id, kind));
                defects.rows.push(j);
                if kind == DefectKind::Unparseable {
                    defects.unparseable_rows.push(j);
                }
            }
        }
        let bytes = encode_with_defects(
            &batch,
            &defects,
            spec.format,
            spec.compression,
            &Buffers::new(0),
        )
        .map_err(|e| Error::runtime(e.to_string()))?;
        let first_unit = &units[window.rows[0].0];
        let first = &first_unit.p.unit;
        let d = first.date;
        let stem = format!(
            "{}/{}/part-{:04}{:02}{:02}-{:02}-m{:04}",
            domain.name(),
            first.partition(),
            d.year(),
            d.month(),
            d.day(),
            first.hour,
            window.seq,
        );
        let key = format!("{stem}.{}", spec.file_extension());
        self.out.lake.put(&key, &bytes)?;
        self.ledger.file(
            first,
            key,
            batch.num_rows() as u64,
            &bytes,
            defects.counts(),
        )?;
        // The unit's own sidecar says whether this table is dirty.
        if first_unit.p.truth.is_some() {
            let sidecar = Sidecar::of(format!("{TRUTH_DIR}/{stem}.csv"), &defects);
            self.out.lake.put(&sidecar.key, &sidecar.bytes)?;
            self.ledger
                .truth_named(&sidecar.key, first.partition(), &sidecar)?;
        }
        window.rows.clear();
        window.bytes = 0;
        window.seq += 1;
        Ok(())
    }

    /// Sends a due batch of rows to the record sink.
    fn send(&mut self, units: &mut [HourUnit], due: &[(i64, usize, usize)]) -> Result<(), Error> {
        let Some(sink) = self.out.records else {
            return Ok(());
        };
        let mut jsonl = Vec::new();
        let mut keys = Vec::with_capacity(due.len());
        for &(_, u, r) in due {
            jsonl.extend_from_slice(&units[u].p.bytes[units[u].line(r)]);
            keys.push(units[u].p.partition_keys[r].clone());
        }
        sink.put_records("real-time batch", &jsonl, &keys)?;
        for &(_, u, r) in due {
            let hu = &mut units[u];
            hu.sent_rows += 1;
            let line = hu.line(r);
            hu.sent_bytes += line.len() as u64;
            hu.sha.update(&hu.p.bytes[line]);
            if let Some(i) = hu.defect(r) {
                hu.sent_defects.push(i as u32);
            }
        }
        Ok(())
    }

    /// Record sinks: ledger entries of the hour's units, what each
    /// delivered, and the truth sidecar of the rows it sent, written to the
    /// lake. (Micro-batch files carry their own truth.)
    fn close_hour(&mut self, units: Vec<HourUnit>) -> Result<(), Error> {
        if !self.records() {
            return Ok(());
        }
        // Units that sent rows get an entry, and a sidecar when dirty.
        for hu in units.into_iter().filter(|hu| hu.sent_rows > 0) {
            let unit = hu.p.unit;
            let sent = hu.sent_truth();
            self.ledger.data(Delivered {
                domain: unit.domain,
                path: unit.path("jsonl"),
                partition: unit.partition(),
                rows: hu.sent_rows,
                bytes: hu.sent_bytes,
                sha256: hex(&hu.sha.finalize()),
                defects: sent.counts(),
                sink: self.out.records.map(|s| s.describe()),
            })?;
            if let Some(t) = &hu.p.truth {
                let sidecar = Sidecar::of(t.key.clone(), &sent);
                self.out.lake.put(&sidecar.key, &sidecar.bytes)?;
                self.ledger.truth(&unit, &sidecar)?;
            }
        }
        Ok(())
    }
}

pub(super) fn run(run: &Run, out: &Outputs<'_>, opts: &RealtimeOptions) -> Result<Summary, Error> {
    let generator = Generator::new(&run.spec).map_err(|e| Error::usage(e.to_string()))?;
    let pacer = pacer_of(&generator, run, &opts.pace);
    let mut state = State {
        run,
        out,
        opts,
        ledger: Ledger::new(run, None),
        emitted: 0,
    };
    // Reaching --duration is a normal end, with an incomplete manifest.
    let (outcome, complete) = match emit_all(&generator, &pacer, &mut state) {
        Ok(done) => (Ok(()), done),
        Err(e) => (Err(e), false),
    };
    state.ledger.finish(run, out, outcome, complete)
}

/// The hour's events in emission order: (event time within the hour, unit,
/// row).
fn emission_order(hour: &[HourUnit], start: i64) -> Vec<(i64, usize, usize)> {
    let end = start + HOUR_US - 1;
    let mut order: Vec<(i64, usize, usize)> = Vec::new();
    for (u, hu) in hour.iter().enumerate() {
        for (r, ts) in ts_column(&hu.p).into_iter().enumerate() {
            order.push((ts.clamp(start, end), u, r));
        }
    }
    order.sort_unstable();
    order
}

/// How many of the `next` events to emit now: those falling due within
/// the next 5 ms (10 ms by speed-up), at least one and at most 500.
fn due_now(
    pacer: &Pacer,
    emitted: u64,
    next: &[(i64, usize, usize)],
    t0: Instant,
    sim0: i64,
) -> usize {
    let n = match pacer {
        Pacer::Schedule(s) => {
            let horizon = t0.elapsed().as_secs_f64() + 0.005;
            s.due_by(horizon).saturating_sub(emitted) as usize
        }
        Pacer::Speedup(_) => {
            let horizon = t0.elapsed().as_secs_f64() + 0.010;
            next.iter()
                .take(500)
                .take_while(|e| pacer.due(0, e.0, sim0).is_some_and(|d| d <= horizon))
                .count()
        }
    };
    n.clamp(1, 500).min(next.len())
}

/// Emits the run; `Ok(false)` when `--duration` or the end of the rate
/// profile ended it early.
fn emit_all(generator: &Generator, pacer: &Pacer, state: &mut State<'_>) -> Result<bool, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the pacing clock: {e}")))?;
    let mut sim_start: Option<i64> = None;
    // The clock starts at the first emission, after the first hour is ready.
    let mut pace_start: Option<Instant> = None;
    let signalled = |state: &State<'_>| state.out.stop.load(Ordering::Relaxed);
    let timed_out = |state: &State<'_>, pace_start: Option<Instant>| {
        state
            .opts
            .duration
            .zip(pace_start)
            .is_some_and(|(d, t0)| t0.elapsed() >= d)
            || matches!(pacer, Pacer::Schedule(s) if s.time_of(state.emitted).is_none())
    };
    let run = state.run;
    let records = state.records();
    std::thread::scope(|scope| {
        // The next hour is generated while this one is emitted, so pacing never
        // waits for generation.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Step, Error>>(1);
        scope.spawn(move || plan_steps(run, records, generator, &tx));
        for step in rx {
            let (first, mut hour) = match step? {
                Step::Snapshot(unit) => {
                    if signalled(state) {
                        return Err(Error::runtime("stopped before the end of the run"));
                    }
                    state.snapshot(generator, unit)?;
                    continue;
                }
                Step::Hour(first, hour) => (first, hour),
            };
            if signalled(state) {
                return Err(Error::runtime("stopped before the end of the run"));
            }
            if timed_out(state, pace_start) {
                return Ok(false);
            }
            let start = hour_start(&first);
            let order = emission_order(&hour, start);
            let sim0 = *sim_start.get_or_insert(start);
            let mut windows: BTreeMap<Domain, Window> = BTreeMap::new();
            let mut i = 0;
            let t0 = *pace_start.get_or_insert_with(Instant::now);
            while i < order.len() {
                if signalled(state) || timed_out(state, pace_start) {
                    flush_all(state, &hour, &mut windows)?;
                    state.close_hour(hour)?;
                    if signalled(state) {
                        return Err(Error::runtime("stopped before the end of the run"));
                    }
                    return Ok(false);
                }
                // Waits until the next event is due, then takes what falls
                // due within the next 5 ms (10 ms by speed-up).
                let due = pacer
                    .due(state.emitted, order[i].0, sim0)
                    .expect("checked above");
                let stop = || signalled(state) || timed_out(state, pace_start);
                if !wait_until(&runtime, t0 + Duration::from_secs_f64(due), stop) {
                    continue;
                }
                let n = due_now(pacer, state.emitted, &order[i..], t0, sim0);
                let due = &order[i..i + n];
                if state.records() {
                    state.send(&mut hour, due)?;
                } else {
                    state.add_to_windows(&hour, due, start, &mut windows)?;
                }
                // Each event's lag against its own scheduled time.
                let now = Instant::now();
                for (j, e) in due.iter().enumerate() {
                    let k = state.emitted + j as u64;
                    let due = t0 + Duration::from_secs_f64(pacer.due(k, e.0, sim0).unwrap_or(0.0));
                    state.out.metrics.lag(now.saturating_duration_since(due), 1);
                }
                state.emitted += n as u64;
                state.out.metrics.paced(t0.elapsed(), state.emitted);
                i += n;
            }
            flush_all(state, &hour, &mut windows)?;
            state.close_hour(hour)?;
        }
        Ok(true)
    })
}

/// What the emitter does next, in emission order.
enum Step {
    /// A users or stores snapshot, written whole.
    Snapshot(Unit),
    /// Every event unit of one hour, generated.
    Hour(Unit, Vec<HourUnit>),
}

/// Feeds the emitter: plan order is domain by domain within a day, emission
/// goes hour by hour. Stops when the emitter hangs up.
fn plan_steps(
    run: &Run,
    records: bool,
    generator: &Generator,
    tx: &std::sync::mpsc::SyncSender<Result<Step, Error>>,
) {
    let mut units = generator
        .shard_units(run.shard_index, run.shard_count)
        .peekable();
    while let Some(first) = units.next() {
        let date = first.date;
        let mut day = vec![first];
        while let Some(u) = units.next_if(|u| u.date == date) {
            day.push(u);
        }
        day.sort_by_key(|u| (u.hour, u.domain.events().is_some(), u.domain, u.chunk));
        let mut day = day.into_iter().peekable();
        while let Some(unit) = day.next() {
            let step = if unit.domain.events().is_none() {
                Ok(Step::Snapshot(unit))
            } else {
                let mut hour = vec![unit];
                while let Some(u) = day.next_if(|u| u.hour == unit.hour) {
                    hour.push(u);
                }
                hour.into_iter()
                    .map(|u| prepare(generator, records, u))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|h| Step::Hour(unit, h))
            };
            if tx.send(step).is_err() {
                return;
            }
        }
    }
}

fn flush_all(
    state: &mut State<'_>,
    hour: &[HourUnit],
    windows: &mut BTreeMap<Domain, Window>,
) -> Result<(), Error> {
    for (domain, w) in windows.iter_mut() {
        state.flush(hour, *domain, w)?;
    }
    Ok(())
}
