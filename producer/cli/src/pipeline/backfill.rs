//! Backfill: produce on one worker per thread, deliver on the sink's own
//! uploader threads, and keep the ledger on the calling thread. Bounded
//! channels join them, so memory stays flat however many days the run covers.
//!
//! A stop request (SIGINT, SIGTERM) or a failure stops new work; deliveries
//! in flight finish, and the manifest lists exactly what was delivered.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};
use std::time::Duration;

use marketpulse_gen::Generator;

use std::collections::{BTreeMap, HashSet};

use marketpulse_gen::Unit;

use super::ledger::{Delivered, Ledger};
use super::outputs::{Outputs, Summary};
use super::produce::{Needs, Produced, has_truth, produce, truth_key};
use super::progress::Reporter;
use crate::encode::Buffers;
use crate::error::Error;
use crate::lake::{self, Journal, Shard};
use crate::manifest::{FileEntry, sha256_hex};
use crate::settings::Run;

/// A produced unit with its key, and once delivered the SHA-256 of its
/// bytes, computed by the deliverer so that hashing overlaps generation.
struct Ready {
    produced: Produced,
    key: String,
    sha256: String,
}

/// Delivers one unit: data to the lake or the record sink; the truth
/// sidecar to the lake.
fn deliver(out: &Outputs<'_>, r: &Ready) -> Result<(), Error> {
    let p = &r.produced;
    match out.records {
        Some(records) => records.put_records(&r.key, &p.bytes, &p.partition_keys)?,
        None => out.lake.put(&r.key, &p.bytes)?,
    }
    if let Some(t) = &p.truth {
        out.lake.put(&t.key, &t.bytes)?;
    }
    Ok(())
}

/// The files a unit delivers: its data (or records) and its truth sidecar.
fn unit_keys(run: &Run, unit: &Unit) -> (String, Option<String>) {
    let spec = &run.spec;
    let data = unit.path(&spec.file_extension());
    let truth = has_truth(spec, unit).then(|| truth_key(unit));
    (data, truth)
}

/// With `--resume`: what an earlier run of the shard delivered and left in
/// place, by path. Its leftovers (temporary files, unfinished uploads) are
/// removed first.
fn recovered(
    run: &Run,
    out: &Outputs<'_>,
    shard: &Shard,
    generator: &Generator,
) -> Result<BTreeMap<String, FileEntry>, Error> {
    if !run.resume {
        return Ok(BTreeMap::new());
    }
    let mut planned = HashSet::new();
    for unit in generator.shard_units(run.shard_index, run.shard_count) {
        let (data, truth) = unit_keys(run, &unit);
        planned.insert(data);
        planned.extend(truth);
    }
    out.lake
        .clean_up(&shard.name(), &|key| planned.contains(key))?;
    lake::recover(out.lake, shard)
}

/// Produces units from `units` until they run out or `stopping`, and sends
/// each (or its error) to the deliverers.
fn produce_units(
    units: &Mutex<impl Iterator<Item = Unit>>,
    (generator, needs, buffers): (&Generator, Needs, &Buffers),
    extension: &str,
    tx: SyncSender<Result<Ready, Error>>,
    stopping: &(dyn Fn() -> bool + Sync),
) {
    while !stopping() {
        let next = units.lock().expect("plan lock").next();
        let Some(unit) = next else { break };
        // Record sinks carry jsonl: the spec's format then is jsonl.
        let mut item = produce(generator, unit, needs, buffers).map(|produced| Ready {
            key: unit.path(extension),
            sha256: String::new(),
            produced,
        });
        // Never block for good on a full channel: deliveries may stop.
        loop {
            match tx.try_send(item) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if !stopping() => {
                    item = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return,
            }
        }
    }
}

/// Delivers what the producers send, hashing it first, and passes each
/// delivered unit (or its error) on to the ledger.
fn deliver_units(
    out: &Outputs<'_>,
    rx: &Mutex<Receiver<Result<Ready, Error>>>,
    done_tx: Sender<Result<Ready, Error>>,
    stopping: &(dyn Fn() -> bool + Sync),
) {
    while !stopping() {
        let next = rx.lock().expect("channel lock").recv();
        let Ok(item) = next else { break };
        let delivered = item.and_then(|mut r| {
            r.sha256 = sha256_hex(&r.produced.bytes);
            deliver(out, &r).map(|()| r)
        });
        if done_tx.send(delivered).is_err() {
            break;
        }
    }
}

/// Enters a delivered unit's files into the ledger and gives its buffer
/// back.
fn enter(
    ledger: &mut Ledger<'_>,
    out: &Outputs<'_>,
    r: Ready,
    buffers: &Buffers,
) -> Result<(), Error> {
    let p = r.produced;
    let mut entered = match &p.truth {
        Some(t) => ledger.truth(&p.unit, t),
        None => Ok(()),
    };
    entered = entered.and_then(|()| {
        ledger.data(Delivered {
            domain: p.unit.domain,
            path: r.key,
            partition: p.unit.partition(),
            rows: p.batch.num_rows() as u64,
            bytes: p.bytes.len() as u64,
            sha256: r.sha256,
            defects: p.defects.counts(),
            sink: out.records.map(|s| s.describe()),
        })
    });
    buffers.give(p.bytes);
    entered
}

pub(super) fn run(run: &Run, out: &Outputs<'_>, shard: &Shard) -> Result<Summary, Error> {
    let spec = &run.spec;
    let generator = Generator::new(spec).map_err(|e| Error::usage(e.to_string()))?;
    let done = recovered(run, out, shard, &generator)?;
    let journal = Journal::open(out.lake, shard, run.resume)?;
    let mut ledger = Ledger::new(run, Some(journal));
    // A unit is done when every file it delivers is; these are its entries.
    let finished = |unit: &Unit| -> Option<Vec<FileEntry>> {
        if done.is_empty() {
            return None;
        }
        let (data, truth) = unit_keys(run, unit);
        let mut files = vec![done.get(&data)?.clone()];
        if let Some(t) = truth {
            files.push(done.get(&t)?.clone());
        }
        Some(files)
    };
    let mut total_units = 0u64;
    for unit in generator.shard_units(run.shard_index, run.shard_count) {
        match finished(&unit) {
            Some(files) => files.into_iter().for_each(|f| ledger.resumed(f)),
            None => total_units += 1,
        }
    }
    let mut progress = Reporter::start(
        out.progress,
        total_units,
        &format!("shard {} of {}", run.shard_index, run.shard_count),
    );
    let (mut done_units, mut bytes) = (0u64, 0u64);

    // Room for the manifest: about 400 bytes per file entry, twice over,
    // and never more than 64 MiB (a shard has at most a million files).
    let files_per_unit = if spec.dirty.any() { 2 } else { 1 };
    out.lake
        .reserve((8192 + 800 * files_per_unit * total_units).min(64 << 20))?;
    let needs = Needs {
        encode: Some(spec.format),
        partition_keys: out.records.is_some(),
    };
    let concurrency = match out.records {
        Some(r) => r.concurrency(),
        None => out.lake.concurrency(),
    };
    // In flight at most: a unit per worker, the channel's, the uploads'.
    let buffers = Buffers::new(2 * run.threads + concurrency);
    let units = Mutex::new(
        generator
            .shard_units(run.shard_index, run.shard_count)
            .filter(|u| finished(u).is_none()),
    );
    // `failed` stops the run on an error; `out.stop` on a signal.
    let failed = AtomicBool::new(false);
    let stopping = || failed.load(Ordering::Relaxed) || out.stop.load(Ordering::Relaxed);
    let extension = spec.file_extension();
    let (tx, rx) = sync_channel::<Result<Ready, Error>>(run.threads);
    let rx = Mutex::new(rx);
    let (done_tx, done_rx) = channel::<Result<Ready, Error>>();
    let mut first_error: Option<Error> = None;
    std::thread::scope(|scope| {
        for _ in 0..run.threads {
            let (tx, producing) = (tx.clone(), (&generator, needs, &buffers));
            let (units, stopping, extension) = (&units, &stopping, &extension);
            scope.spawn(move || produce_units(units, producing, extension, tx, stopping));
        }
        drop(tx);
        for _ in 0..concurrency.max(1) {
            let (done_tx, rx, stopping) = (done_tx.clone(), &rx, &stopping);
            scope.spawn(move || deliver_units(out, rx, done_tx, stopping));
        }
        drop(done_tx);
        let mut fail = |e| {
            failed.store(true, Ordering::Relaxed);
            first_error.get_or_insert(e);
        };
        for result in done_rx.iter() {
            let r = match result {
                Ok(r) => r,
                Err(e) => {
                    fail(e);
                    continue;
                }
            };
            bytes += r.produced.bytes.len() as u64;
            if let Err(e) = enter(&mut ledger, out, r, &buffers) {
                fail(e);
            }
            done_units += 1;
            progress.update(done_units, ledger.events(), bytes);
        }
    });
    progress.finish();
    let outcome = match first_error {
        Some(e) => Err(e),
        None if out.stop.load(Ordering::Relaxed) => Err(Error::runtime("stopped by a signal")),
        None => Ok(()),
    };
    let complete = outcome.is_ok();
    ledger.finish(run, out, outcome, complete)
}
