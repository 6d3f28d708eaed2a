//! Shard identity from the engine that runs the producer: AWS Batch array
//! children and Kubernetes Indexed Jobs number themselves, and a fleet of
//! such children writes the same lake as shards named by flags.

use std::path::Path;
use std::process::Output;

use super::{bin, data_files, manifest_paths, run, stderr, tmp};

pub const ENGINE_VARS: [&str; 3] = [
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ID",
    "JOB_COMPLETION_INDEX",
];
const SMALL: [&str; 6] = ["--scale", "0.002", "--days", "1", "--shard-count", "3"];

fn generate_env(out: &Path, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.args(["generate", "--out", out.to_str().unwrap()])
        .args(SMALL)
        .args(extra)
        .envs(env.iter().copied());
    cmd.output().expect("binary runs")
}

fn manifest_of(root: &Path, shard: u64) -> serde_json::Value {
    manifest_paths(root)
        .iter()
        .map(|p| serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap())
        .find(|m| m["shard_index"] == shard)
        .expect("the shard's manifest")
}

#[test]
fn engine_children_write_the_lake_that_flagged_shards_write() {
    let engines = tmp();
    let children = [
        ("AWS_BATCH_JOB_ARRAY_INDEX", "0", 0),
        ("AWS_BATCH_JOB_ID", "5e1f-aa:1", 1),
        ("JOB_COMPLETION_INDEX", "2", 2),
    ];
    for (var, value, index) in children {
        let o = generate_env(engines.path(), &[(var, value)], &[]);
        assert!(o.status.success(), "{var}: {}", stderr(&o));
        let said = stderr(&o);
        assert!(
            said.contains(&format!("shard {index} of 3, index from {var}")),
            "{said}"
        );
        assert_eq!(manifest_of(engines.path(), index)["shard_source"], var);
    }
    let flagged = tmp();
    for i in ["0", "1", "2"] {
        let o = generate_env(flagged.path(), &[], &["--shard-index", i]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        manifest_of(flagged.path(), 1)["shard_source"],
        "--shard-index"
    );
    assert_eq!(data_files(engines.path()), data_files(flagged.path()));
    assert!(
        run(&["verify", engines.path().to_str().unwrap()])
            .status
            .success()
    );
}

#[test]
fn settings_beat_the_engine() {
    let d = tmp();
    let env = [
        ("MARKETPULSE_SHARD_INDEX", "2"),
        ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
    ];
    let o = generate_env(d.path(), &env, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        manifest_of(d.path(), 2)["shard_source"],
        "MARKETPULSE_SHARD_INDEX"
    );
}

#[test]
fn a_bad_engine_index_is_one_line_and_writes_nothing() {
    for (env, says) in [
        (
            ("AWS_BATCH_JOB_ARRAY_INDEX", "3"),
            "invalid AWS_BATCH_JOB_ARRAY_INDEX (shard 3): must be below --shard-count 3",
        ),
        (
            ("JOB_COMPLETION_INDEX", "two"),
            "invalid JOB_COMPLETION_INDEX=two holds no shard index",
        ),
    ] {
        let d = tmp();
        let o = generate_env(d.path(), &[env], &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
