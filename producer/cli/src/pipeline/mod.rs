//! `generate`'s pipeline: plan → generate → inject → encode → sink →
//! manifest. Backfill runs flat out on one worker per thread; real time
//! paces the same events in event-time order. Both share the produce step
//! (`produce.rs`) and the manifest builder (`ledger.rs`).

mod backfill;
mod ledger;
mod produce;
mod realtime;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use marketpulse_gen::Domain;

pub(crate) use realtime::{Pace, RealtimeOptions};

use crate::error::Error;
use crate::lake::{self, Shard};
use crate::metrics::{Metrics, Snapshot};
use crate::settings::Run;
use crate::sinks::{ObjectSink, RecordSink};

/// Where a run delivers and what it reports.
pub(crate) struct Outputs<'a> {
    /// The lake: data files (unless `records` is set), truth sidecars and
    /// the manifest.
    pub lake: &'a dyn ObjectSink,
    /// Events go here instead of the lake.
    pub records: Option<&'a dyn RecordSink>,
    pub metrics: Arc<Metrics>,
    /// Set from outside (a signal handler) to stop the run early.
    pub stop: &'a AtomicBool,
    pub progress: bool,
}

/// The shard `run` writes.
pub(crate) fn shard_of(run: &Run) -> Shard {
    Shard {
        run: run.spec.id(),
        index: run.shard_index,
        count: run.shard_count,
    }
}

/// Runs `run` into `out`: claims the lake for the dataset, locks the shard,
/// then backfills, or emits in real time when the run has pacing.
pub(crate) fn run(run: &Run, out: &Outputs<'_>) -> Result<Summary, Error> {
    let shard = shard_of(run);
    lake::claim(out.lake, &run.spec, run.force)?;
    let _lock = out.lake.lock(&shard.lock_key(), run.lock_lease)?;
    match &run.realtime {
        None => backfill::run(run, out, &shard),
        Some(opts) => realtime::run(run, out, opts),
    }
}

#[derive(Default)]
pub(crate) struct DomainTotals {
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
}

pub(crate) struct Summary {
    pub domains: BTreeMap<Domain, DomainTotals>,
    pub wall: Duration,
    pub manifest: String,
    /// Files an earlier run of the shard delivered, kept by `--resume`.
    pub resumed: u64,
    pub sink: Snapshot,
}

impl Summary {
    pub(crate) fn render(&self) -> String {
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
        if self.resumed > 0 {
            s += &format!(
                "resumed: {} files were already delivered by an earlier run\n",
                self.resumed
            );
        }
        s += &self.sink.render();
        s
    }
}
