//! A dataset is a pure function of its spec: threads, shards and re-runs
//! change no byte, and golden fingerprints pin the values.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{data_files, generate, manifest_paths, run, stderr, tmp};

#[test]
fn threads_do_not_change_bytes() {
    let (a, b) = (tmp(), tmp());
    generate(a.path(), &["--threads", "1"]);
    generate(b.path(), &["--threads", "7"]);
    let (fa, fb) = (data_files(a.path()), data_files(b.path()));
    assert!(fa.len() > 50, "expected many files, got {}", fa.len());
    assert_eq!(fa, fb);
    // The manifest too: it lists the same files, hashes and spec.
    let m = |d: &Path| std::fs::read(&manifest_paths(d)[0]).unwrap();
    assert_eq!(m(a.path()), m(b.path()));
}

#[test]
fn any_shard_count_gives_the_same_files() {
    let whole = tmp();
    generate(whole.path(), &[]);
    let expected = data_files(whole.path());
    for count in [3, 7] {
        let union = tmp();
        let mut seen = 0;
        for index in 0..count {
            let shard = tmp();
            generate(
                shard.path(),
                &[
                    "--shard-index",
                    &index.to_string(),
                    "--shard-count",
                    &count.to_string(),
                ],
            );
            let files = data_files(shard.path());
            assert!(!files.is_empty(), "shard {index}/{count} wrote nothing");
            seen += files.len();
            generate(
                union.path(),
                &[
                    "--shard-index",
                    &index.to_string(),
                    "--shard-count",
                    &count.to_string(),
                ],
            );
        }
        // Shards are disjoint and their union is the unsharded dataset.
        assert_eq!(
            seen,
            expected.len(),
            "shards of {count} overlap or miss units"
        );
        assert_eq!(data_files(union.path()), expected, "shard count {count}");
        let v = run(&["verify", union.path().to_str().unwrap()]);
        assert!(v.status.success(), "{}", stderr(&v));
    }
}

#[test]
fn rerun_over_existing_output_is_identical_and_verifies() {
    let d = tmp();
    generate(d.path(), &[]);
    let first = data_files(d.path());
    generate(d.path(), &[]);
    assert_eq!(data_files(d.path()), first);
    let v = run(&["verify", d.path().to_str().unwrap()]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(stderr(&v).starts_with("ok: "), "{}", stderr(&v));
}

/// Digest of a small dataset: its files' paths and SHA-256, in path order.
fn fingerprint(root: &Path) -> String {
    let mut h = Sha256::new();
    for (path, bytes) in data_files(root) {
        h.update(path.as_bytes());
        h.update(Sha256::digest(&bytes));
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Fingerprint of the small golden dataset in the given extra flags' format.
fn golden(extra: &[&str]) -> String {
    let d = tmp();
    let mut args = vec![
        "generate",
        "--out",
        d.path().to_str().unwrap(),
        "--scale",
        "0.002",
        "--seed",
        "7",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    fingerprint(d.path())
}

/// Pins generated values. A change here changes users' datasets: update the
/// value on purpose and add a CHANGELOG line.
#[test]
fn golden_fingerprint() {
    assert_eq!(
        golden(&["--threads", "2"]),
        "dd2958e767054d27497c0a5794ee18383692555f4372401c6068040b4538737e"
    );
    assert_eq!(
        golden(&["--format", "jsonl"]),
        "917ddf60155a6e8e182d72cee30a3196093e24c69210d0c5ca87779211426b60"
    );
    // Dirty data is pinned too: defects are part of the dataset.
    let d = tmp();
    let config = d.path().join("dirty.toml");
    std::fs::write(
        &config,
        "[dirty]\nlate = 0.01\nduplicates = 0.01\nnear_duplicates = 0.01\nmalformed = 0.02\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    assert_eq!(
        golden(&["--format", "jsonl", "--config", config]),
        "e8f5f5b37d054f002e40903ccaedc2e49bc243d59e207b217e5d9e2e7e43eb89"
    );
    // Clicks v2 (device columns from their own stream) and CSV, clean and dirty.
    assert_eq!(
        golden(&["--clicks-v2-from", "2025-01-06"]),
        "63921990811d10c4f1573dea81eeb09abb73c9af1a45a40e645edc6cac00f27e"
    );
    assert_eq!(
        golden(&["--format", "csv"]),
        "74ae99c210cf7eff7305ab5f20487bc6483130494d0d9e724100a8be366b1220"
    );
    assert_eq!(
        golden(&["--format", "csv", "--config", config]),
        "bc0ff62940e91c9056dfa68e76018ac184591f7f7fa463c89ae0907d4de7c3d0"
    );
}

/// DST changes (US and EU, both directions), a year boundary and 29 February:
/// generation succeeds and the bytes do not depend on threads or shards.
#[test]
fn calendar_edges_are_deterministic() {
    let dirty = tmp();
    let config = dirty.path().join("dirty.toml");
    std::fs::write(
        &config,
        "[dirty]\nlate = 0.01\nduplicates = 0.01\nnear_duplicates = 0.01\nmalformed = 0.01\n",
    )
    .unwrap();
    for (start, days) in [
        ("2025-03-08", "3"),
        ("2025-03-29", "2"),
        ("2025-10-25", "2"),
        ("2025-11-01", "2"),
        ("2025-12-31", "2"),
        ("2024-02-28", "3"),
    ] {
        let (a, b) = (tmp(), tmp());
        let common = [
            "--start",
            start,
            "--days",
            days,
            "--scale",
            "0.001",
            "--config",
            config.to_str().unwrap(),
        ];
        generate(a.path(), &[&common[..], &["--threads", "1"]].concat());
        for shard in ["0", "1"] {
            generate(
                b.path(),
                &[
                    &common[..],
                    &[
                        "--threads",
                        "2",
                        "--shard-count",
                        "2",
                        "--shard-index",
                        shard,
                    ],
                ]
                .concat(),
            );
        }
        let (fa, fb) = (data_files(a.path()), data_files(b.path()));
        assert!(fa.len() > 100, "{start}");
        assert!(fa == fb, "{start}: files differ between runs");
    }
}
