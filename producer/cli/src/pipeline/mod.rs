//! `generate`'s pipeline: plan → generate → inject → encode → sink →
//! manifest. Backfill runs flat out on one worker per thread; real time
//! paces the same events in event-time order. Both share the produce step
//! (`produce.rs`) and the manifest builder (`ledger.rs`).

mod backfill;
mod ledger;
mod pacer;
mod produce;
mod progress;
mod realtime;
pub(crate) mod schedule;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use marketpulse_gen::Domain;

pub(crate) use progress::Progress;
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
    pub progress: Progress,
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
    /// `shard i of n, index from <source>`.
    pub shard: String,
    /// Files an earlier run of the shard delivered, kept by `--resume`.
    pub resumed: u64,
    pub sink: Snapshot,
}

impl Summary {
    pub(crate) fn render(&self) -> String {
        use crate::plan::human_bytes;
        // "rows" because snapshot tables (users, stores) hold rows, not events.
        let mut s = format!(
            "{:<8} {:>13} {:>9} {:>10}\n",
            "table", "rows", "files", "size"
        );
        let (mut rows, mut events, mut files, mut bytes) = (0, 0, 0, 0);
        for (d, t) in &self.domains {
            s += &format!(
                "{:<8} {:>13} {:>9} {:>10}\n",
                d.name(),
                t.rows,
                t.files,
                human_bytes(t.bytes as f64)
            );
            rows += t.rows;
            files += t.files;
            bytes += t.bytes;
            if d.events().is_some() {
                events += t.rows;
            }
        }
        s += &format!(
            "{:<8} {:>13} {:>9} {:>10}\n",
            "total",
            rows,
            files,
            human_bytes(bytes as f64)
        );
        let secs = self.wall.as_secs_f64().max(1e-9);
        s += &format!(
            "wall time {:.2} s, {:.0} events/s, {:.1} MB/s ({} bytes)\nmanifest {} ({})\n",
            self.wall.as_secs_f64(),
            events as f64 / secs,
            bytes as f64 / 1e6 / secs,
            bytes,
            self.manifest,
            self.shard
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
