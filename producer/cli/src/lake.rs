//! A lake's bookkeeping around the data: which dataset it holds (the
//! claim), who is writing which shard (locks), the journal that lets a
//! killed run resume, and where manifests go. All of it lives under
//! `_manifests/`, through the same object sink as the data, so it works
//! alike on a folder and on S3.
//!
//! - `_manifests/_dataset.json` names the dataset (run id and spec). It is
//!   created only if absent; a run of another dataset is refused.
//! - `_manifests/_locks/<shard>.lock`: one writer per shard at a time.
//! - `_manifests/_journal/<shard>/<seq>.json`: what the run delivered so far,
//!   written in small segments every second or 64 files. A resumed run
//!   skips every unit the journal (or an earlier manifest) lists whose
//!   files are still there with their recorded size; files are only ever
//!   visible complete, so that is enough. The journal is deleted once the
//!   complete manifest is written.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use marketpulse_gen::DatasetSpec;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::manifest::{FileEntry, MANIFEST_DIR, Manifest};
use crate::sinks::ObjectSink;

pub(crate) const CLAIM: &str = "_manifests/_dataset.json";
pub(crate) const JOURNAL_DIR: &str = "_manifests/_journal";
pub(crate) const LOCK_DIR: &str = "_manifests/_locks";

/// Journal segments are written after this many files or this long.
const SEGMENT_FILES: usize = 64;
const SEGMENT_AGE: Duration = Duration::from_secs(1);

/// One shard of one run.
#[derive(Clone, Debug)]
pub(crate) struct Shard {
    pub run: String,
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `<run>-shard-<i>-of-<n>`, as in manifest names.
    pub(crate) fn name(&self) -> String {
        format!("{}-shard-{:05}-of-{:05}", self.run, self.index, self.count)
    }

    pub(crate) fn manifest_key(&self) -> String {
        format!(
            "{MANIFEST_DIR}/{}",
            Manifest::file_name(&self.run, self.index, self.count)
        )
    }

    pub(crate) fn lock_key(&self) -> String {
        format!("{LOCK_DIR}/{}.lock", self.name())
    }

    fn journal_prefix(&self) -> String {
        format!("{JOURNAL_DIR}/{}/", self.name())
    }
}

#[derive(Serialize, Deserialize)]
struct Claim {
    run: String,
    spec: serde_json::Value,
}

/// The run id a bookkeeping key belongs to, if it names one. Another
/// writer's temporary file names no run, though its owner's name holds one.
pub(crate) fn run_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(&format!("{MANIFEST_DIR}/"))?;
    if rest
        .rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with(crate::sinks::folder_temp_prefix()))
    {
        return None;
    }
    let name = rest
        .strip_prefix("_journal/")
        .or_else(|| rest.strip_prefix("_locks/"))
        .unwrap_or(rest);
    let (run, _) = name.split_once("-shard-")?;
    Some(run)
}

/// A few words on a spec, to tell datasets apart in messages.
fn describe(spec: &serde_json::Value) -> String {
    format!(
        "seed {}, start {}, {} days, scale {}, {}",
        spec["seed"],
        spec["start"].as_str().unwrap_or("?"),
        spec["days"],
        spec["scale"],
        spec["format"].as_str().unwrap_or("?")
    )
}

/// Claims the lake for `spec`'s dataset. A lake that holds another dataset
/// (by its claim, or by the manifests of lakes written before claims) is
/// refused unless `force`, which re-claims it.
pub(crate) fn claim(lake: &dyn ObjectSink, spec: &DatasetSpec, force: bool) -> Result<(), Error> {
    let run = spec.id();
    let ours = Claim {
        run: run.clone(),
        spec: serde_json::to_value(spec).expect("spec serialises"),
    };
    let bytes = serde_json::to_vec_pretty(&ours).expect("claim serialises");
    // Shards start together: a claim seen taken can be gone when read (a
    // run of another dataset gave it up), and then it is tried again.
    let mut held = None;
    for _ in 0..3 {
        if lake.put_new(CLAIM, &bytes)? {
            return first_claim(lake, &run, &ours, force);
        }
        held = lake.get(CLAIM)?;
        if held.is_some() {
            break;
        }
    }
    let held: Claim = held
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| Error::runtime(format!("{} is unreadable", lake.describe(CLAIM))))?;
    if held.run == run {
        return Ok(());
    }
    if force {
        lake.put(CLAIM, &bytes)?;
        return Ok(());
    }
    Err(Error::usage(format!(
        "{} holds dataset {} ({}); this run is {run} ({}): write to another --out, or add --force",
        lake.describe(""),
        held.run,
        describe(&held.spec),
        describe(&ours.spec)
    )))
}

/// A new claim: an older lake may still hold other runs' manifests.
fn first_claim(lake: &dyn ObjectSink, run: &str, ours: &Claim, force: bool) -> Result<(), Error> {
    if let Some(other) = lake
        .list(&format!("{MANIFEST_DIR}/"))?
        .iter()
        .filter_map(|l| run_of(&l.key))
        .find(|r| *r != run)
        && !force
    {
        lake.delete(CLAIM)?;
        return Err(Error::usage(format!(
            "{} holds dataset {other}; this run is {run} ({}): write to another --out, or add --force",
            lake.describe(""),
            describe(&ours.spec)
        )));
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Segment {
    files: Vec<FileEntry>,
}

/// What a shard delivered so far, written as it goes.
pub(crate) struct Journal<'a> {
    lake: &'a dyn ObjectSink,
    prefix: String,
    next: u64,
    pending: Vec<FileEntry>,
    since: Instant,
}

impl<'a> Journal<'a> {
    /// A journal for `shard`. Resuming continues the segments there are;
    /// otherwise they belong to an abandoned run and are removed.
    pub(crate) fn open(
        lake: &'a dyn ObjectSink,
        shard: &Shard,
        resume: bool,
    ) -> Result<Self, Error> {
        let prefix = shard.journal_prefix();
        let existing = lake.list(&prefix)?;
        if !resume {
            for l in &existing {
                lake.delete(&l.key)?;
            }
        }
        let next = if resume { existing.len() as u64 } else { 0 };
        Ok(Journal {
            lake,
            prefix,
            next,
            pending: Vec::new(),
            since: Instant::now(),
        })
    }

    /// Records delivered files; writes a segment when enough have gathered.
    pub(crate) fn record(
        &mut self,
        entries: impl IntoIterator<Item = FileEntry>,
    ) -> Result<(), Error> {
        self.pending.extend(entries);
        if self.pending.len() >= SEGMENT_FILES || self.since.elapsed() >= SEGMENT_AGE {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        self.since = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let segment = Segment {
            files: std::mem::take(&mut self.pending),
        };
        let key = format!("{}{:08}.json", self.prefix, self.next);
        self.lake.put(
            &key,
            &serde_json::to_vec(&segment).expect("segment serialises"),
        )?;
        self.next += 1;
        Ok(())
    }

    /// Removes the journal once the complete manifest is written.
    pub(crate) fn remove(self) -> Result<(), Error> {
        for l in self.lake.list(&self.prefix)? {
            self.lake.delete(&l.key)?;
        }
        Ok(())
    }
}

/// The manifest at `key`, if there is one and it parses.
pub(crate) fn read_manifest(lake: &dyn ObjectSink, key: &str) -> Result<Option<Manifest>, Error> {
    Ok(lake.get(key)?.and_then(|b| serde_json::from_slice(&b).ok()))
}

/// The files `shard` delivered before, by path: from its journal and any
/// earlier manifest, kept only where the file is still there with the
/// recorded size (records delivered to a stream are kept as they are).
pub(crate) fn recover(
    lake: &dyn ObjectSink,
    shard: &Shard,
) -> Result<BTreeMap<String, FileEntry>, Error> {
    let mut found: BTreeMap<String, FileEntry> = BTreeMap::new();
    if let Some(m) = read_manifest(lake, &shard.manifest_key())? {
        found.extend(m.files.into_iter().map(|f| (f.path.clone(), f)));
    }
    for l in lake.list(&shard.journal_prefix())? {
        let bytes = lake.get(&l.key)?.unwrap_or_default();
        // A segment is written whole or not at all; one that does not parse
        // was not written by us and is left out.
        if let Ok(s) = serde_json::from_slice::<Segment>(&bytes) {
            found.extend(s.files.into_iter().map(|f| (f.path.clone(), f)));
        }
    }
    if found.is_empty() {
        return Ok(found);
    }
    let sizes: BTreeMap<String, u64> = lake
        .list("")?
        .into_iter()
        .map(|l| (l.key, l.size))
        .collect();
    found.retain(|path, f| f.sink.is_some() || sizes.get(path) == Some(&f.bytes));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping_keys_name_their_run() {
        let shard = Shard {
            run: "abc".into(),
            index: 1,
            count: 3,
        };
        assert_eq!(run_of(&shard.manifest_key()), Some("abc"));
        assert_eq!(run_of(&shard.lock_key()), Some("abc"));
        assert_eq!(
            run_of(&format!("{}00000000.json", shard.journal_prefix())),
            Some("abc")
        );
        assert_eq!(run_of(CLAIM), None);
        // A folder lake's temporary file, named after its writer's shard.
        let temp = format!(
            "_manifests/{}abc-shard-00001-of-00003-x1y2",
            crate::sinks::folder_temp_prefix()
        );
        assert_eq!(run_of(&temp), None);
    }
}
