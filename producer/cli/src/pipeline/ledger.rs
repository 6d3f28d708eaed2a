//! The manifest builder: every delivered file (or unit of records) and truth
//! sidecar is entered here, journaled as it comes (`lake::Journal`), and
//! `finish` writes the manifest, complete or not, listing exactly what was
//! delivered. A complete manifest already in the lake is never replaced by
//! a partial one.

use std::collections::BTreeMap;
use std::time::Instant;

use marketpulse_gen::{Domain, Unit};

use super::outputs::{DomainTotals, Outputs, Summary};
use super::produce::Sidecar;
use crate::error::Error;
use crate::lake::{Journal, read_manifest};
use crate::manifest::{FileEntry, Manifest, TRUTH_DOMAIN, sha256_hex};
use crate::settings::Run;

pub(super) struct Ledger<'a> {
    entries: Vec<FileEntry>,
    totals: BTreeMap<Domain, DomainTotals>,
    started: Instant,
    journal: Option<Journal<'a>>,
    /// Files listed as delivered by an earlier run and kept (resume).
    resumed: u64,
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
    /// The record sink that took the unit's records.
    pub sink: Option<String>,
}

impl<'a> Ledger<'a> {
    pub(super) fn new(run: &Run, journal: Option<Journal<'a>>) -> Ledger<'a> {
        Ledger {
            entries: Vec::new(),
            totals: run
                .spec
                .domains
                .iter()
                .map(|d| (*d, DomainTotals::default()))
                .collect(),
            started: Instant::now(),
            journal,
            resumed: 0,
        }
    }

    /// Rows of event tables so far, for progress.
    pub(super) fn events(&self) -> u64 {
        self.totals
            .iter()
            .filter(|(d, _)| d.events().is_some())
            .map(|(_, t)| t.rows)
            .sum()
    }

    fn enter(&mut self, entry: FileEntry) -> Result<(), Error> {
        if let Some(j) = &mut self.journal {
            j.record([entry.clone()])?;
        }
        self.entries.push(entry);
        Ok(())
    }

    pub(super) fn data(&mut self, d: Delivered) -> Result<(), Error> {
        let t = self.totals.entry(d.domain).or_default();
        t.rows += d.rows;
        t.files += 1;
        t.bytes += d.bytes;
        self.enter(FileEntry {
            path: d.path,
            domain: d.domain.name().into(),
            partition: d.partition,
            rows: d.rows,
            bytes: d.bytes,
            sha256: d.sha256,
            defects: d.defects,
            sink: d.sink,
        })
    }

    /// A whole file of `unit`'s table: `bytes` as written under `path`.
    pub(super) fn file(
        &mut self,
        unit: &Unit,
        path: String,
        rows: u64,
        bytes: &[u8],
        defects: BTreeMap<String, u64>,
    ) -> Result<(), Error> {
        self.data(Delivered {
            domain: unit.domain,
            path,
            partition: unit.partition(),
            rows,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            defects,
            sink: None,
        })
    }

    pub(super) fn truth(&mut self, unit: &Unit, sidecar: &Sidecar) -> Result<(), Error> {
        self.truth_named(&sidecar.key, unit.partition(), sidecar)
    }

    /// A truth sidecar under its own key (micro-batches name theirs).
    pub(super) fn truth_named(
        &mut self,
        key: &str,
        partition: String,
        sidecar: &Sidecar,
    ) -> Result<(), Error> {
        self.enter(FileEntry {
            path: key.to_string(),
            domain: TRUTH_DOMAIN.into(),
            partition,
            rows: sidecar.records,
            bytes: sidecar.bytes.len() as u64,
            sha256: sha256_hex(&sidecar.bytes),
            defects: BTreeMap::new(),
            sink: None,
        })
    }

    /// An entry an earlier run of this shard delivered, kept as it was.
    pub(super) fn resumed(&mut self, entry: FileEntry) {
        if let Some(d) = Domain::from_name(&entry.domain)
            && let Some(t) = self.totals.get_mut(&d)
        {
            t.rows += entry.rows;
            t.files += 1;
            t.bytes += entry.bytes;
        }
        self.resumed += 1;
        self.entries.push(entry);
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
            shard_source: Some(run.shard_source.clone()),
            complete: complete && outcome.is_ok(),
            spec: serde_json::to_value(&run.spec).expect("spec serialises"),
            files: self.entries,
        };
        out.lake.release();
        let key = manifest.key();
        let written = if manifest.complete {
            out.lake.put(&key, &manifest.to_bytes())
        } else {
            match read_manifest(out.lake, &key) {
                // The lake is complete from an earlier run and this one
                // changed nothing in it: keep its manifest.
                Ok(Some(earlier)) if earlier.complete => Ok(()),
                _ => out.lake.put(&key, &manifest.to_bytes()),
            }
        };
        if let Some(mut j) = self.journal {
            if manifest.complete && written.is_ok() {
                j.remove()?;
            } else {
                // Kept for --resume; the manifest above lists the same files,
                // so a failure here loses nothing.
                let _ = j.flush();
            }
        }
        let listed = out.lake.describe(&key);
        match (outcome, written) {
            (Err(e), Ok(())) => {
                let resume = if run.realtime.is_none() {
                    "; --resume continues"
                } else {
                    ""
                };
                Err(e.with_detail(format!(
                    "{} delivered files are listed in {listed}{resume}",
                    manifest.files.len()
                )))
            }
            (Err(e), Err(_)) => Err(e),
            (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(Summary {
                domains: self.totals,
                wall: self.started.elapsed(),
                manifest: listed,
                shard: format!(
                    "shard {} of {}, index from {}",
                    run.shard_index, run.shard_count, run.shard_source
                ),
                resumed: self.resumed,
                sink: out.metrics.snapshot(),
            }),
        }
    }
}
