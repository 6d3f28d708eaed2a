//! `generate`: plan → generate → encode on one worker per thread, then the
//! sink and the manifest on the calling thread. A bounded channel joins them,
//! so memory stays flat however many days the run covers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Domain, Format, Settings};
use crate::dirty::{break_lines, inject};
use crate::encode::encode;
use crate::error::Error;
use crate::generate::unit_batch;
use crate::manifest::{FileEntry, Manifest, TRUTH_DIR, TRUTH_DOMAIN, sha256_hex};
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
        s
    }
}

fn produce(world: &World, unit: Unit, settings: &Settings) -> Result<Encoded, Error> {
    let spec = &settings.spec;
    let clean: RecordBatch = unit_batch(world, &unit);
    let (batch, defects) = inject(&spec.dirty, spec.seed, &unit, spec.format, clean);
    let mut bytes = encode(&batch, spec.format, spec.compression)
        .map_err(|e| Error::runtime(format!("unit {} {}: {e}", unit.domain.name(), unit.name())))?;
    if spec.format == Format::Jsonl {
        bytes = break_lines(bytes, &defects.unparseable_rows);
    }
    let events = matches!(unit.domain, Domain::Sales | Domain::Clicks);
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
    })
}

pub fn generate(settings: &Settings, sink: &dyn Sink, progress: bool) -> Result<Summary, Error> {
    let started = Instant::now();
    let spec = &settings.spec;
    let world = World::new(spec);
    let total_units =
        shard_units(&world, settings.shard_index, settings.shard_count).count() as u64;
    let bar = if progress {
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
    sink.reserve(8192 + 800 * files_per_unit * total_units)?;
    let units = Mutex::new(shard_units(
        &world,
        settings.shard_index,
        settings.shard_count,
    ));
    let stop = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Result<Encoded, Error>>(settings.threads);
    let mut entries: Vec<FileEntry> = Vec::new();
    let mut totals: BTreeMap<Domain, DomainTotals> = spec
        .domains
        .iter()
        .map(|d| (*d, DomainTotals::default()))
        .collect();

    let outcome: Result<(), Error> = std::thread::scope(|scope| {
        for _ in 0..settings.threads {
            let tx = tx.clone();
            let (units, stop, world) = (&units, &stop, &world);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let next = units.lock().expect("plan lock").next();
                    let Some(unit) = next else { break };
                    if tx.send(produce(world, unit, settings)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Owned here so an early return drops it, which stops the workers.
        let rx = rx;
        let mut rows_done = 0u64;
        for result in rx.iter() {
            let delivered = result.and_then(|enc| {
                sink.put(&enc.key, &enc.bytes)?;
                if let Some((key, bytes, _)) = &enc.truth {
                    sink.put(key, bytes)?;
                }
                Ok(enc)
            });
            let enc = match delivered {
                Ok(enc) => enc,
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            };
            let t = totals.get_mut(&enc.unit.domain).expect("planned domain");
            t.rows += enc.rows;
            t.files += 1;
            t.bytes += enc.bytes.len() as u64;
            rows_done += enc.rows;
            if let Some((key, bytes, records)) = enc.truth {
                entries.push(FileEntry {
                    path: key,
                    domain: TRUTH_DOMAIN.into(),
                    partition: enc.unit.partition(),
                    rows: records,
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
        Ok(())
    });
    bar.finish_and_clear();

    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        producer: "marketpulse".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        run: spec.id(),
        shard_index: settings.shard_index,
        shard_count: settings.shard_count,
        complete: outcome.is_ok(),
        spec: serde_json::to_value(spec).expect("spec serialises"),
        files: entries,
    };
    sink.release();
    let written = sink.put(&manifest.key(), &manifest.to_bytes());
    match (outcome, written) {
        (Err(e), Ok(())) => Err(Error::runtime(format!(
            "{e} ({} complete files are listed in {})",
            manifest.files.len(),
            sink.describe(&manifest.key())
        ))),
        (Err(e), Err(_)) => Err(e),
        (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(Summary {
            domains: totals,
            wall: started.elapsed(),
            manifest: sink.describe(&manifest.key()),
        }),
    }
}
