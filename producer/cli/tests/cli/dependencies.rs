//! The crates' dependency rule and the build profile, checked on the real
//! workspace's dependency graph.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::architecture::workspace;

/// The packages `package` depends on (its tests included), by name.
fn dependencies(package: &str) -> Vec<String> {
    let tree = String::from_utf8(cargo(&[
        "tree",
        "-p",
        package,
        "-e",
        "normal,dev,build",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]))
    .unwrap();
    let packages: Vec<String> = tree
        .lines()
        .filter_map(|l| Some(l.split_whitespace().next()?.to_string()))
        .collect();
    assert!(packages.iter().any(|p| p == package));
    assert!(
        packages.iter().any(|p| p == "serde"),
        "the tree is real: {packages:?}"
    );
    packages
}

/// The generator crate, its tests included, depends on no CLI, runtime,
/// cloud, encoding or terminal crate.
#[test]
fn generator_crate_has_no_io_dependencies() {
    let packages = dependencies("marketpulse-gen");
    assert!(packages.iter().any(|p| p == "arrow-array"));
    for p in &packages {
        let forbidden = ["clap", "tokio", "parquet", "indicatif", "figment"].contains(&p.as_str())
            || p.starts_with("aws-")
            || p.starts_with("marketpulse") && p != "marketpulse-gen";
        assert!(!forbidden, "marketpulse-gen depends on {p}");
    }
}

/// The capacity crate builds on the generator, never on the command line,
/// and pulls in no runtime, cloud, encoding or terminal crate.
#[test]
fn capacity_crate_does_not_depend_on_the_cli() {
    let packages = dependencies("marketpulse-capacity");
    assert!(packages.iter().any(|p| p == "marketpulse-gen"));
    for p in &packages {
        let forbidden = [
            "marketpulse",
            "clap",
            "tokio",
            "parquet",
            "indicatif",
            "figment",
        ]
        .contains(&p.as_str())
            || p.starts_with("aws-");
        assert!(!forbidden, "marketpulse-capacity depends on {p}");
    }
}

fn metadata() -> serde_json::Value {
    let out = cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--filter-platform",
        "x86_64-unknown-linux-gnu",
    ]);
    serde_json::from_slice(&out).unwrap()
}

/// What a cargo command prints on the workspace, offline and locked.
fn cargo(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args(args)
        .args(["--offline", "--locked"])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The packages that only run inside the compiler: reached from the
/// workspace through a proc macro or a build script, never linked into a
/// binary or test.
fn compile_time_only(meta: &serde_json::Value) -> BTreeSet<String> {
    let packages: BTreeMap<&str, &serde_json::Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let is_proc_macro = |id: &str| {
        packages[id]["targets"].as_array().unwrap().iter().any(|t| {
            t["kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == "proc-macro")
        })
    };
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let mut linked = BTreeSet::new();
    let mut todo: Vec<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    while let Some(id) = todo.pop() {
        if !linked.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let runtime = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "dev");
            let pkg = dep["pkg"].as_str().unwrap();
            if runtime && !is_proc_macro(pkg) {
                todo.push(pkg);
            }
        }
    }
    let name = |id: &str| packages[id]["name"].as_str().unwrap().to_string();
    let linked_names: BTreeSet<String> = linked.iter().map(|id| name(id)).collect();
    nodes
        .keys()
        .filter(|id| !linked.contains(*id))
        .map(|id| name(id))
        .filter(|n| !linked_names.contains(n))
        .collect()
}

/// Cargo.toml builds every compile-time-only package unoptimised, and of
/// the packages the binaries run only the AWS SDK and the cold ones it
/// names in `[workspace.metadata.cold-runtime]`: a new proc macro would
/// otherwise be built at the dependencies' opt-level 2, and a hot runtime
/// package slipped into the list would slow the tests.
#[test]
fn compile_time_only_packages_are_built_unoptimised() {
    let meta = metadata();
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap()).unwrap();
    let overrides = manifest["profile"]["dev"]["package"].as_table().unwrap();
    let cold: BTreeSet<String> = manifest["workspace"]["metadata"]["cold-runtime"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let unoptimised: BTreeSet<String> = overrides
        .iter()
        .filter(|(name, p)| !name.starts_with("aws-") && p["opt-level"].as_integer() == Some(0))
        .map(|(name, _)| name.clone())
        .filter(|name| !cold.contains(name))
        .collect();
    let expected = compile_time_only(&meta);
    assert!(
        expected.contains("syn") && !expected.contains("serde"),
        "{expected:?}"
    );
    assert_eq!(
        unoptimised, expected,
        "[profile.dev.package.<name>] opt-level = 0 in Cargo.toml lists exactly the compile-time-only packages and [workspace.metadata.cold-runtime]"
    );
    for name in &cold {
        assert_eq!(
            overrides
                .get(name)
                .and_then(|p| p["opt-level"].as_integer()),
            Some(0),
            "{name} is listed as cold but not built at opt-level 0"
        );
        assert!(
            !expected.contains(name),
            "{name} runs only in the compiler: it belongs to the compile-time-only list"
        );
        assert!(
            meta["packages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == name.as_str()),
            "{name} is listed as cold but is no dependency"
        );
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
    let meta = metadata();
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
