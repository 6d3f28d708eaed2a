//! Where a run delivers, and the summary it reports when done.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use marketpulse_capacity::numbers::human_bytes;
use marketpulse_gen::Domain;

use super::progress::Progress;
use crate::metrics::{Metrics, Snapshot};
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
