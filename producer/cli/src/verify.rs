//! `verify`: re-reads every file the manifests of a lake list, and every
//! file under it, and reports each difference.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::manifest::{FileEntry, MANIFEST_DIR, Manifest, hex};

/// One problem `verify` found.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Problem {
    Missing(String),
    Mismatch(String, String),
    Unexpected(String),
    Conflict(String),
    Unreadable(String, String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing(p) => write!(f, "missing: {p} is listed in a manifest but absent"),
            Problem::Mismatch(p, why) => write!(f, "mismatch: {p}: {why}"),
            Problem::Unexpected(p) => write!(f, "unexpected: {p} is in no manifest"),
            Problem::Conflict(p) => write!(f, "conflict: manifests disagree about {p}"),
            Problem::Unreadable(p, e) => write!(f, "unreadable: {p}: {e}"),
        }
    }
}

pub(crate) struct VerifyReport {
    pub(crate) manifests: usize,
    pub(crate) files: usize,
    pub(crate) bytes: u64,
    pub(crate) problems: Vec<Problem>,
}

/// Re-reads every file the manifests under `root` list, and every file under
/// `root`, and reports each difference.
pub(crate) fn verify(root: &Path) -> Result<VerifyReport, Error> {
    if !root.is_dir() {
        return Err(Error::usage(format!(
            "cannot verify {}: not a folder",
            root.display()
        )));
    }
    let mdir = root.join(MANIFEST_DIR);
    let mut manifest_paths: Vec<PathBuf> = match std::fs::read_dir(&mdir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            return Err(Error::runtime(format!(
                "cannot read {}: {e}",
                mdir.display()
            )));
        }
    };
    manifest_paths.sort();
    if manifest_paths.is_empty() {
        return Err(Error::runtime(format!(
            "no manifests in {}",
            mdir.display()
        )));
    }
    let mut problems = Vec::new();
    let mut expected: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut manifest_names = Vec::new();
    for mp in &manifest_paths {
        let name = format!(
            "{MANIFEST_DIR}/{}",
            mp.file_name().unwrap().to_string_lossy()
        );
        manifest_names.push(name.clone());
        let parsed = std::fs::read(mp)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()));
        match parsed {
            Ok(m) => {
                for f in m.files {
                    match expected.get(&f.path) {
                        Some(prev) if prev.sha256 != f.sha256 || prev.bytes != f.bytes => {
                            problems.push(Problem::Conflict(f.path.clone()))
                        }
                        _ => {
                            expected.insert(f.path.clone(), f);
                        }
                    }
                }
            }
            Err(e) => problems.push(Problem::Unreadable(name, e)),
        }
    }
    let mut bytes_total = 0;
    for (path, entry) in &expected {
        let full = root.join(path);
        match hash_file(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(Problem::Missing(path.clone()))
            }
            Err(e) => problems.push(Problem::Unreadable(path.clone(), e.to_string())),
            Ok((len, _)) if len != entry.bytes => problems.push(Problem::Mismatch(
                path.clone(),
                format!("{len} bytes, manifest says {}", entry.bytes),
            )),
            Ok((_, sha)) if sha != entry.sha256 => problems.push(Problem::Mismatch(
                path.clone(),
                "SHA-256 differs from the manifest".into(),
            )),
            Ok((len, _)) => bytes_total += len,
        }
    }
    for path in walk(root)? {
        if !expected.contains_key(&path) && !manifest_names.contains(&path) {
            problems.push(Problem::Unexpected(path));
        }
    }
    problems.sort();
    Ok(VerifyReport {
        manifests: manifest_paths.len(),
        files: expected.len(),
        bytes: bytes_total,
        problems,
    })
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
    Ok((len, hex(&h.finalize())))
}

/// Every file below `root`, as `/`-separated relative paths, sorted.
fn walk(root: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| Error::runtime(format!("cannot read {}: {e}", dir.display())))?;
        for entry in rd {
            let entry =
                entry.map_err(|e| Error::runtime(format!("cannot read {}: {e}", dir.display())))?;
            let path = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).expect("below root");
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    out.sort();
    Ok(out)
}
