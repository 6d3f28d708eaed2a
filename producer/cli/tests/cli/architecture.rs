//! The crates' dependency rule (ARCHITECTURE.md) and the size rule for
//! source files, checked on the real workspace.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The generator crate, its tests included, depends on no CLI, runtime,
/// cloud, encoding or terminal crate.
#[test]
fn generator_crate_has_no_io_dependencies() {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "marketpulse-gen",
            "-e",
            "normal,dev,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let packages: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(packages.contains(&"marketpulse-gen"));
    assert!(
        packages.contains(&"arrow-array"),
        "the tree is real: {packages:?}"
    );
    for p in &packages {
        let forbidden = ["clap", "tokio", "parquet", "indicatif", "figment"].contains(p)
            || p.starts_with("aws-");
        assert!(!forbidden, "marketpulse-gen depends on {p}");
    }
}

fn version(v: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap()).collect();
    parts.resize(3, 0);
    parts
}

/// The workspace's `rust-version` is what the code and its dependencies
/// really need: no dependency in the lock file asks for a newer compiler.
#[test]
fn rust_version_covers_every_dependency() {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--locked",
            "--filter-platform",
            "x86_64-unknown-linux-gnu",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = env!("CARGO_PKG_RUST_VERSION");
    let newest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p["rust_version"].as_str()?, p["name"].as_str()?)))
        .max_by_key(|(v, _)| version(v))
        .unwrap();
    assert!(
        version(newest.0) <= version(ours),
        "{} needs Rust {}, rust-version is {ours}",
        newest.1,
        newest.0
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut files = Vec::new();
    rust_files(&workspace().join("producer"), &mut files);
    assert!(files.len() > 20);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}
