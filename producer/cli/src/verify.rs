//! `verify`: checks a lake (a folder or `s3://bucket/prefix`) against its
//! manifests. It re-reads every file they list (size and SHA-256), looks at
//! every object in the lake, and reports each difference: missing, changed,
//! unexpected and temporary files, incomplete or missing shards, and runs
//! interrupted with a journal left behind.
//!
//! Exit codes (shared with `profile`): 0 the lake is whole; 1 a problem was
//! found, or the lake could not be read; 2 the command itself is wrong (a
//! bad URL, a file where a lake should be).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::Error;
use crate::lake::{CLAIM, JOURNAL_DIR, LOCK_DIR, run_of};
use crate::manifest::{FileEntry, MANIFEST_DIR, Manifest, sha256_hex};
use crate::sinks::{Listed, ObjectSink, folder_temp_prefix};

/// One problem `verify` found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Problem {
    pub kind: &'static str,
    pub path: String,
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.kind, self.path, self.detail)
    }
}

fn problem(kind: &'static str, path: impl Into<String>, detail: impl Into<String>) -> Problem {
    Problem {
        kind,
        path: path.into(),
        detail: detail.into(),
    }
}

#[derive(Serialize)]
pub(crate) struct VerifyReport {
    pub lake: String,
    pub ok: bool,
    pub manifests: usize,
    pub files: usize,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

/// `_manifests/<run>-shard-<i>-of-<n>.json`, not the bookkeeping below it.
fn is_manifest(key: &str) -> bool {
    key.strip_prefix(&format!("{MANIFEST_DIR}/"))
        .is_some_and(|rest| {
            !rest.contains('/') && rest.ends_with(".json") && rest.contains("-shard-")
        })
}

/// The lake's manifests, by key; an unreadable one is a problem.
fn read_manifests(
    lake: &dyn ObjectSink,
    listed: &[Listed],
    problems: &mut Vec<Problem>,
) -> Result<Vec<(String, Manifest)>, Error> {
    let mut manifests: Vec<(String, Manifest)> = Vec::new();
    for l in listed.iter().filter(|l| is_manifest(&l.key)) {
        let parsed = lake
            .get(&l.key)?
            .ok_or_else(|| "vanished while being read".to_string())
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()));
        match parsed {
            Ok(m) => manifests.push((l.key.clone(), m)),
            Err(e) => problems.push(problem("unreadable", &l.key, e)),
        }
    }
    if manifests.is_empty() && problems.is_empty() {
        problems.push(problem(
            "missing",
            MANIFEST_DIR,
            "no manifests: nothing was generated here, or every run was killed before writing one",
        ));
    }
    Ok(manifests)
}

/// Shards: each run with a shard count needs every index, complete. The
/// keys of the complete manifests.
fn check_shards(manifests: &[(String, Manifest)], problems: &mut Vec<Problem>) -> BTreeSet<String> {
    let mut shards: BTreeMap<(String, u32), BTreeSet<u32>> = BTreeMap::new();
    let mut complete: BTreeSet<String> = BTreeSet::new();
    for (key, m) in manifests {
        shards
            .entry((m.run.clone(), m.shard_count))
            .or_default()
            .insert(m.shard_index);
        if m.complete {
            complete.insert(key.clone());
        } else {
            problems.push(problem(
                "incomplete",
                key,
                format!(
                    "shard {} of {} stopped early and lists only what it delivered; run it again with --resume",
                    m.shard_index, m.shard_count
                ),
            ));
        }
    }
    for ((run, count), present) in &shards {
        for i in (0..*count).filter(|i| !present.contains(i)) {
            problems.push(problem(
                "missing",
                format!("{MANIFEST_DIR}/{}", Manifest::file_name(run, i, *count)),
                format!("shard {i} of {count} of run {run} has no manifest"),
            ));
        }
    }
    complete
}

/// The files the manifests list, by path; two manifests disagreeing on
/// one is a problem.
fn expected_files(
    manifests: &[(String, Manifest)],
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, FileEntry> {
    let mut expected: BTreeMap<String, FileEntry> = BTreeMap::new();
    for (key, m) in manifests {
        for f in &m.files {
            // Records went to a stream; there is no file to check.
            if f.sink.is_some() {
                continue;
            }
            match expected.get(&f.path) {
                Some(prev) if prev.sha256 != f.sha256 || prev.bytes != f.bytes => {
                    problems.push(problem(
                        "conflict",
                        &f.path,
                        format!("{key} and another manifest disagree"),
                    ))
                }
                _ => {
                    expected.insert(f.path.clone(), f.clone());
                }
            }
        }
    }
    expected
}

/// Re-reads every expected file: size, then SHA-256. The bytes read.
fn check_files(
    lake: &dyn ObjectSink,
    expected: &BTreeMap<String, FileEntry>,
    sizes: &BTreeMap<&str, u64>,
    problems: &mut Vec<Problem>,
) -> Result<u64, Error> {
    let mut bytes_total = 0;
    for (path, entry) in expected {
        match sizes.get(path.as_str()) {
            None => problems.push(problem("missing", path, "listed in a manifest but absent")),
            Some(&size) if size != entry.bytes => problems.push(problem(
                "mismatch",
                path,
                format!("{size} bytes, manifest says {}", entry.bytes),
            )),
            Some(_) => match lake.get(path)? {
                None => problems.push(problem("missing", path, "vanished while being read")),
                Some(b) if sha256_hex(&b) != entry.sha256 => problems.push(problem(
                    "mismatch",
                    path,
                    "SHA-256 differs from the manifest",
                )),
                Some(b) => bytes_total += b.len() as u64,
            },
        }
    }
    Ok(bytes_total)
}

/// Objects in no manifest: the lake's bookkeeping, temporary files of a
/// killed run, journals of an unfinished one, or unexpected.
fn check_unlisted(
    listed: &[Listed],
    listed_keys: (&BTreeMap<String, FileEntry>, &BTreeSet<&str>),
    complete: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) {
    let (expected, manifest_keys) = listed_keys;
    let temp = folder_temp_prefix();
    let mut journals: BTreeSet<String> = BTreeSet::new();
    for l in listed {
        let key = l.key.as_str();
        let name = key.rsplit('/').next().unwrap_or(key);
        if expected.contains_key(key) || manifest_keys.contains(key) || key == CLAIM {
            continue;
        }
        if key.starts_with(&format!("{LOCK_DIR}/")) {
            continue;
        }
        if key.starts_with(&format!("{JOURNAL_DIR}/")) && run_of(key).is_some() {
            let shard = key.split('/').nth(2).unwrap_or("");
            journals.insert(shard.to_string());
            continue;
        }
        if name.starts_with(temp) || name.starts_with(".mp-probe-") {
            problems.push(problem(
                "temporary",
                key,
                "half-written by a killed run; --resume removes it",
            ));
            continue;
        }
        problems.push(problem("unexpected", key, "in no manifest"));
    }
    // A journal next to a complete manifest is from an interrupted re-run
    // that changed nothing; only one without is an unfinished run.
    for shard in journals {
        if !complete.contains(&format!("{MANIFEST_DIR}/{shard}.json")) {
            problems.push(problem(
                "interrupted",
                format!("{JOURNAL_DIR}/{shard}/"),
                "a run of this shard was killed or is running; run it again with --resume",
            ));
        }
    }
}

pub(crate) fn verify(lake: &dyn ObjectSink) -> Result<VerifyReport, Error> {
    let listed = lake.list("")?;
    let sizes: BTreeMap<&str, u64> = listed.iter().map(|l| (l.key.as_str(), l.size)).collect();
    let mut problems = Vec::new();
    let manifests = read_manifests(lake, &listed, &mut problems)?;
    let complete = check_shards(&manifests, &mut problems);
    let expected = expected_files(&manifests, &mut problems);
    let bytes_total = check_files(lake, &expected, &sizes, &mut problems)?;
    let manifest_keys: BTreeSet<&str> = manifests.iter().map(|(k, _)| k.as_str()).collect();
    check_unlisted(
        &listed,
        (&expected, &manifest_keys),
        &complete,
        &mut problems,
    );
    problems.sort();
    problems.dedup();
    Ok(VerifyReport {
        lake: lake.describe(""),
        ok: problems.is_empty(),
        manifests: manifests.len(),
        files: expected.len(),
        bytes: bytes_total,
        problems,
    })
}
