//! End-to-end tests of the `marketpulse` binary, one test binary in
//! modules: determinism and golden fingerprints, settings from every layer,
//! failures and `verify`, shard identity from fleet engines, the crates'
//! dependency rule and build profile, and the modules' no-cycle rule.

mod architecture;
mod capacity;
mod contracts;
mod dependencies;
mod determinism;
mod failures;
mod fleet;
mod lake;
mod new_user;
mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_marketpulse");

/// The binary, with none of the caller's MARKETPULSE_* settings or an
/// engine's shard variables.
pub fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("MARKETPULSE_") || fleet::ENGINE_VARS.contains(&k.as_str()) {
            cmd.env_remove(k);
        }
    }
    cmd
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

pub fn generate(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--scale",
        "0.004",
        "--days",
        "2",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(
        o.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every file below `root` (relative path → bytes), manifests excluded.
pub fn data_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if !rel.starts_with("_manifests/") {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
    }
    out
}

pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if !root.exists() {
        return out;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The manifest files of a lake (`_manifests/<run>-shard-…json`), sorted.
pub fn manifest_paths(root: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("_manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.contains("-shard-") && name.ends_with(".json")
        })
        .collect();
    paths.sort();
    paths
}

/// The manifest of a single-manifest lake, parsed.
pub fn manifest(root: &Path) -> serde_json::Value {
    let mut paths = manifest_paths(root);
    assert_eq!(paths.len(), 1, "{paths:?}");
    serde_json::from_slice(&std::fs::read(paths.remove(0)).unwrap()).unwrap()
}
