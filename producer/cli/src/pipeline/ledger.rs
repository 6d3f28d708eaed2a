//! The manifest builder: every delivered file (or unit of records) and truth
//! sidecar is entered here, and `finish` writes the manifest, complete or
//! not, listing exactly what was delivered.

use std::collections::BTreeMap;
use std::time::Instant;

use marketpulse_gen::{Domain, Unit};

use super::produce::Sidecar;
use super::{DomainTotals, Outputs, Summary};
use crate::error::Error;
use crate::manifest::{FileEntry, Manifest, TRUTH_DOMAIN, sha256_hex};
use crate::settings::Run;

pub(super) struct Ledger {
    entries: Vec<FileEntry>,
    totals: BTreeMap<Domain, DomainTotals>,
    started: Instant,
}

/// A delivered data file, or the records of one unit.
pub(super) struct Delivered {
    pub domain: Domain,
    pub path: String,
    pub partition: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub defects: BTreeMap<String, u64>,
}

impl Ledger {
    pub(super) fn new(run: &Run) -> Ledger {
        Ledger {
            entries: Vec::new(),
            totals: run
                .spec
                .domains
                .iter()
                .map(|d| (*d, DomainTotals::default()))
                .collect(),
            started: Instant::now(),
        }
    }

    /// Rows so far, for progress.
    pub(super) fn rows(&self) -> u64 {
        self.totals.values().map(|t| t.rows).sum()
    }

    pub(super) fn data(&mut self, d: Delivered) {
        let t = self.totals.entry(d.domain).or_default();
        t.rows += d.rows;
        t.files += 1;
        t.bytes += d.bytes;
        self.entries.push(FileEntry {
            path: d.path,
            domain: d.domain.name().into(),
            partition: d.partition,
            rows: d.rows,
            bytes: d.bytes,
            sha256: d.sha256,
            defects: d.defects,
        });
    }

    /// A whole file of `unit`'s table: `bytes` as written under `path`.
    pub(super) fn file(
        &mut self,
        unit: &Unit,
        path: String,
        rows: u64,
        bytes: &[u8],
        defects: BTreeMap<String, u64>,
    ) {
        self.data(Delivered {
            domain: unit.domain,
            path,
            partition: unit.partition(),
            rows,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            defects,
        });
    }

    pub(super) fn truth(&mut self, unit: &Unit, sidecar: &Sidecar) {
        self.entries.push(FileEntry {
            path: sidecar.key.clone(),
            domain: TRUTH_DOMAIN.into(),
            partition: unit.partition(),
            rows: sidecar.records,
            bytes: sidecar.bytes.len() as u64,
            sha256: sha256_hex(&sidecar.bytes),
            defects: BTreeMap::new(),
        });
    }

    /// Writes the manifest and builds the summary. `outcome` is how the run
    /// ended; `complete` is false when it ended early without an error
    /// (`--duration`).
    pub(super) fn finish(
        mut self,
        run: &Run,
        out: &Outputs<'_>,
        outcome: Result<(), Error>,
        complete: bool,
    ) -> Result<Summary, Error> {
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = Manifest {
            producer: "marketpulse".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            run: run.spec.id(),
            shard_index: run.shard_index,
            shard_count: run.shard_count,
            complete: complete && outcome.is_ok(),
            spec: serde_json::to_value(&run.spec).expect("spec serialises"),
            files: self.entries,
        };
        out.lake.release();
        let written = out.lake.put(&manifest.key(), &manifest.to_bytes());
        match (outcome, written) {
            (Err(e), Ok(())) => Err(e.with_detail(format!(
                "{} delivered files are listed in {}",
                manifest.files.len(),
                out.lake.describe(&manifest.key())
            ))),
            (Err(e), Err(_)) => Err(e),
            (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(Summary {
                domains: self.totals,
                wall: self.started.elapsed(),
                manifest: out.lake.describe(&manifest.key()),
                sink: out.metrics.snapshot(),
            }),
        }
    }
}
