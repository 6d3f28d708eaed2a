//! `generate`: plan → generate → encode on one worker per thread, then
//! delivery on the sink's own uploader threads, and bookkeeping plus the
//! manifest on the calling thread. Bounded channels join them, so memory
//! stays flat however many days the run covers.
//!
//! A stop request (SIGINT, SIGTERM) or a failure stops new work; deliveries
//! in flight finish, and the manifest lists exactly what was delivered.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{TrySendError, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Domain, Format, Settings};
use crate::dirty::{break_lines, inject};
use crate::encode::encode;
use crate::error::Error;
use crate::generate::unit_batch;
use crate::manifest::{FileEntry, Manifest, TRUTH_DIR, TRUTH_DOMAIN, sha256_hex};
use crate::metrics::{Metrics, Snapshot};
use crate::plan::{Unit, shard_units};
use crate::sink::Sink;
use crate::world::World;

/// One unit, generated and encoded.
struct Encoded {
    unit: Unit,
    key: String,
    bytes: Vec<u8>,
    rows: u64,
    sha256: String,
    defects: BTreeMap<String, u64>,
    /// The truth sidecar (`id,kind` CSV) when dirty data is on.
    truth: Option<(String, Vec<u8>, u64)>,
    /// One partition key per row, for record sinks.
    partition_keys: Vec<String>,
}

/// Where a run delivers and what it reports.
pub struct Outputs<'a> {
    /// Data files or records.
    pub data: &'a dyn Sink,
    /// The manifest, and truth sidecars when `data` takes records.
    pub manifest: &'a dyn Sink,
    pub metrics: Arc<Metrics>,
    /// Set from outside (a signal handler) to stop the run early.
    pub stop: &'a AtomicBool,
    pub progress: bool,
}

/// Partition key of each row: the user, or the row's own id when anonymous.
pub(crate) fn partition_keys(batch: &RecordBatch, domain: Domain) -> Vec<String> {
    let id_col = if domain == Domain::Clicks {
        "event_id"
    } else {
        "transaction_id"
    };
    let users = batch
        .column_by_name("user_id")
        .expect("events have user_id")
        .as_primitive::<Int64Type>();
    let ids = batch
        .column_by_name(id_col)
        .expect("events have ids")
        .as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .map(|i| {
            if users.is_valid(i) {
                users.value(i).to_string()
            } else if ids.is_valid(i) {
                format!("id-{}", ids.value(i))
            } else {
                "none".to_string()
            }
        })
        .collect()
}

#[derive(Default)]
pub struct DomainTotals {
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
}

pub struct Summary {
    pub domains: BTreeMap<Domain, DomainTotals>,
    pub wall: Duration,
    pub manifest: String,
    pub sink: Snapshot,
}

impl Summary {
    pub fn render(&self) -> String {
        let mut s = String::from("domain        events        files          bytes\n");
        let (mut rows, mut files, mut bytes) = (0, 0, 0);
        for (d, t) in &self.domains {
            s += &format!(
                "{:<8} {:>11} {:>12} {:>14}\n",
                d.name(),
                t.rows,
                t.files,
                t.bytes
            );
            rows += t.rows;
            files += t.files;
            bytes += t.bytes;
        }
        s += &format!("{:<8} {:>11} {:>12} {:>14}\n", "total", rows, files, bytes);
        let secs = self.wall.as_secs_f64();
        s += &format!(
            "wall time {:.2} s, {:.0} events/s, {:.1} MB/s\nmanifest {}\n",
            secs,
            rows as f64 / secs.max(1e-9),
            bytes as f64 / 1e6 / secs.max(1e-9),
            self.manifest
        );
        s += &self.sink.render();
        s
    }
}

fn produce(
    world: &World,
    unit: Unit,
    settings: &Settings,
    records: bool,
) -> Result<Encoded, Error> {
    let spec = &settings.spec;
    let clean: RecordBatch = unit_batch(world, &unit);
    let (batch, defects) = inject(&spec.dirty, spec.seed, &unit, spec.format, clean);
    let mut bytes = encode(&batch, spec.format, spec.compression)
        .map_err(|e| Error::runtime(format!("unit {} {}: {e}", unit.domain.name(), unit.name())))?;
    if spec.format == Format::Jsonl {
        bytes = break_lines(bytes, &defects.unparseable_rows);
    }
    let events = matches!(unit.domain, Domain::Sales | Domain::Clicks);
    let partition_keys = if records && events {
        partition_keys(&batch, unit.domain)
    } else {
        Vec::new()
    };
    let truth = (spec.dirty.any() && events).then(|| {
        (
            format!("{TRUTH_DIR}/{}", unit.path("csv")),
            defects.truth_csv(),
            defects.truth.len() as u64,
        )
    });
    Ok(Encoded {
        key: unit.path(spec.format.extension()),
        unit,
        sha256: sha256_hex(&bytes),
        bytes,
        rows: batch.num_rows() as u64,
        defects: defects.counts(),
        truth,
        partition_keys,
    })
}

/// Delivers one unit: data to the data sink, the truth sidecar next to the
/// data (or next to the manifest when the data goes to a stream).
fn deliver(out: &Outputs<'_>, enc: &Encoded) -> Result<(), Error> {
    if out.data.takes_records() {
        out.data
            .put_records(&enc.key, &enc.bytes, &enc.partition_keys)?;
        if let Some((key, bytes, _)) = &enc.truth {
            out.manifest.put(key, bytes)?;
        }
    } else {
        out.data.put(&enc.key, &enc.bytes)?;
        if let Some((key, bytes, _)) = &enc.truth {
            out.data.put(key, bytes)?;
        }
    }
    Ok(())
}

pub fn generate(settings: &Settings, out: &Outputs<'_>) -> Result<Summary, Error> {
    let started = Instant::now();
    let spec = &settings.spec;
    let world = World::new(spec);
    let total_units =
        shard_units(&world, settings.shard_index, settings.shard_count).count() as u64;
    let bar = if out.progress {
        ProgressBar::new(total_units)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} files, {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );

    // Room for the manifest: about 400 bytes per file entry, twice over.
    let files_per_unit = if spec.dirty.any() { 2 } else { 1 };
    out.manifest
        .reserve(8192 + 800 * files_per_unit * total_units)?;
    let records = out.data.takes_records();
    let units = Mutex::new(shard_units(
        &world,
        settings.shard_index,
        settings.shard_count,
    ));
    // `failed` stops the run on an error; `out.stop` on a signal.
    let failed = AtomicBool::new(false);
    let stopping = || failed.load(Ordering::Relaxed) || out.stop.load(Ordering::Relaxed);
    let (tx, rx) = sync_channel::<Result<Encoded, Error>>(settings.threads);
    let rx = Mutex::new(rx);
    let (done_tx, done_rx) = channel::<Result<Encoded, Error>>();
    let mut entries: Vec<FileEntry> = Vec::new();
    let mut totals: BTreeMap<Domain, DomainTotals> = spec
        .domains
        .iter()
        .map(|d| (*d, DomainTotals::default()))
        .collect();

    let mut first_error: Option<Error> = None;
    std::thread::scope(|scope| {
        for _ in 0..settings.threads {
            let tx = tx.clone();
            let (units, world, stopping) = (&units, &world, &stopping);
            scope.spawn(move || {
                while !stopping() {
                    let next = units.lock().expect("plan lock").next();
                    let Some(unit) = next else { break };
                    let mut item = produce(world, unit, settings, records);
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
            });
        }
        drop(tx);
        for _ in 0..out.data.concurrency().max(1) {
            let done_tx = done_tx.clone();
            let (rx, stopping) = (&rx, &stopping);
            scope.spawn(move || {
                while !stopping() {
                    let next = rx.lock().expect("channel lock").recv();
                    let Ok(item) = next else { break };
                    let delivered = item.and_then(|enc| deliver(out, &enc).map(|()| enc));
                    if done_tx.send(delivered).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut rows_done = 0u64;
        for result in done_rx.iter() {
            let enc = match result {
                Ok(enc) => enc,
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let t = totals.get_mut(&enc.unit.domain).expect("planned domain");
            t.rows += enc.rows;
            t.files += 1;
            t.bytes += enc.bytes.len() as u64;
            rows_done += enc.rows;
            if let Some((key, bytes, truth_records)) = enc.truth {
                entries.push(FileEntry {
                    path: key,
                    domain: TRUTH_DOMAIN.into(),
                    partition: enc.unit.partition(),
                    rows: truth_records,
                    bytes: bytes.len() as u64,
                    sha256: sha256_hex(&bytes),
                    defects: BTreeMap::new(),
                });
            }
            entries.push(FileEntry {
                path: enc.key,
                domain: enc.unit.domain.name().into(),
                partition: enc.unit.partition(),
                rows: enc.rows,
                bytes: enc.bytes.len() as u64,
                sha256: enc.sha256,
                defects: enc.defects,
            });
            bar.inc(1);
            bar.set_message(format!("{rows_done} events"));
        }
    });
    bar.finish_and_clear();
    let outcome = match first_error {
        Some(e) => Err(e),
        None if out.stop.load(Ordering::Relaxed) => Err(Error::runtime("stopped by a signal")),
        None => Ok(()),
    };

    let complete = outcome.is_ok();
    finish(settings, out, entries, totals, outcome, complete, started)
}

/// Writes the manifest (complete or not) and builds the summary.
pub(crate) fn finish(
    settings: &Settings,
    out: &Outputs<'_>,
    mut entries: Vec<FileEntry>,
    totals: BTreeMap<Domain, DomainTotals>,
    outcome: Result<(), Error>,
    complete: bool,
    started: Instant,
) -> Result<Summary, Error> {
    let spec = &settings.spec;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        producer: "marketpulse".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        run: spec.id(),
        shard_index: settings.shard_index,
        shard_count: settings.shard_count,
        complete: complete && outcome.is_ok(),
        spec: serde_json::to_value(spec).expect("spec serialises"),
        files: entries,
    };
    out.manifest.release();
    let written = out.manifest.put(&manifest.key(), &manifest.to_bytes());
    match (outcome, written) {
        (Err(e), Ok(())) => Err(Error::runtime(format!(
            "{e} ({} delivered files are listed in {})",
            manifest.files.len(),
            out.manifest.describe(&manifest.key())
        ))),
        (Err(e), Err(_)) => Err(e),
        (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(Summary {
            domains: totals,
            wall: started.elapsed(),
            manifest: out.manifest.describe(&manifest.key()),
            sink: out.metrics.snapshot(),
        }),
    }
}
