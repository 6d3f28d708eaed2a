//! End-to-end tests of the `marketpulse` binary: determinism, the golden
//! fingerprint, `verify`, and bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_marketpulse");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("MARKETPULSE_CONFIG")
        .output()
        .expect("binary runs")
}

fn generate(out: &Path, extra: &[&str]) -> Output {
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
fn data_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
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

fn all_files(root: &Path) -> Vec<PathBuf> {
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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn threads_do_not_change_bytes() {
    let (a, b) = (tmp(), tmp());
    generate(a.path(), &["--threads", "1"]);
    generate(b.path(), &["--threads", "2"]);
    let (fa, fb) = (data_files(a.path()), data_files(b.path()));
    assert!(fa.len() > 50, "expected many files, got {}", fa.len());
    assert_eq!(fa, fb);
    // The manifest too: it lists the same files, hashes and spec.
    let m = |d: &Path| {
        let mdir = d.join("_manifests");
        let name = std::fs::read_dir(&mdir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::read(name).unwrap()
    };
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
        "15404fc93639a062b64d6f13e9f90943736caf6ecf99cda408f45419a8560dea"
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
    assert_eq!(
        golden(&["--format", "jsonl", "--config", config.to_str().unwrap()]),
        "b145899753448b57c290c30406b4df04e158426215b443b90e0b418ea3bb2afd"
    );
}

#[test]
fn text_formats_hold_the_same_rows() {
    let (p, j, c) = (tmp(), tmp(), tmp());
    generate(p.path(), &["--domains", "sales"]);
    generate(j.path(), &["--domains", "sales", "--format", "jsonl"]);
    generate(c.path(), &["--domains", "sales", "--format", "csv"]);
    let rows = |root: &Path, header: usize| -> usize {
        data_files(root)
            .values()
            .map(|b| b.iter().filter(|&&x| x == b'\n').count() - header)
            .sum()
    };
    let manifest_rows = |root: &Path| -> u64 {
        let mdir = root.join("_manifests");
        let path = std::fs::read_dir(&mdir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rows"].as_u64().unwrap())
            .sum()
    };
    let n = manifest_rows(p.path());
    assert!(n > 1000);
    assert_eq!(rows(j.path(), 0) as u64, n);
    // CSV items are JSON text, quoted; it has no raw newlines inside fields.
    assert_eq!(rows(c.path(), 1) as u64, n);
    assert_eq!(manifest_rows(j.path()), n);
}

fn first_data_file(root: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = all_files(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files.remove(0)
}

#[test]
fn verify_catches_flipped_byte_missing_and_extra_files() {
    let d = tmp();
    generate(d.path(), &["--days", "1"]);
    let root = d.path().to_str().unwrap();

    let victim = first_data_file(d.path());
    let rel = victim
        .strip_prefix(d.path())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let original = std::fs::read(&victim).unwrap();
    let mut flipped = original.clone();
    flipped[original.len() / 2] ^= 0x01;
    std::fs::write(&victim, &flipped).unwrap();
    let v = run(&["verify", root]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        stderr(&v).contains(&format!("mismatch: {rel}: SHA-256 differs")),
        "{}",
        stderr(&v)
    );
    std::fs::write(&victim, &original).unwrap();
    assert!(run(&["verify", root]).status.success());

    std::fs::remove_file(&victim).unwrap();
    let v = run(&["verify", root]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        stderr(&v).contains(&format!("missing: {rel}")),
        "{}",
        stderr(&v)
    );
    std::fs::write(&victim, &original).unwrap();

    let extra = d
        .path()
        .join("clicks/ingest_date=2025-01-06/hour=03/stray.parquet");
    std::fs::write(&extra, b"PAR1").unwrap();
    let v = run(&["verify", root]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        stderr(&v).contains("unexpected: clicks/ingest_date=2025-01-06/hour=03/stray.parquet"),
        "{}",
        stderr(&v)
    );
    std::fs::remove_file(&extra).unwrap();
    assert!(run(&["verify", root]).status.success());
}

/// Runs `generate` with bad input and checks: exit code, one line naming the
/// problem, and no file left behind.
fn rejects(args: &[&str], env: &[(&str, &str)], code: i32, needle: &str) {
    let d = tmp();
    let out = d.path().join("lake");
    let mut full = vec![
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--scale",
        "0.001",
    ];
    full.extend_from_slice(args);
    let mut cmd = Command::new(BIN);
    cmd.args(&full).env_remove("MARKETPULSE_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(
        err.contains(needle),
        "{args:?}: '{err}' does not name '{needle}'"
    );
    assert!(
        all_files(&out).is_empty(),
        "{args:?} left files: {:?}",
        all_files(&out)
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let d = tmp();
    let unknown_key = d.path().join("unknown.toml");
    std::fs::write(&unknown_key, "days = 1\nsclae = 2\n").unwrap();
    let unknown_world = d.path().join("world.toml");
    std::fs::write(&unknown_world, "[world]\nclicks_per_dya = 3\n").unwrap();
    let bad_toml = d.path().join("bad.toml");
    std::fs::write(&bad_toml, "days = [\n").unwrap();
    let missing = d.path().join("missing.toml");
    let s = |p: &Path| p.to_str().unwrap().to_string();

    rejects(&["--bogus"], &[], 2, "--bogus");
    rejects(&["--config", &s(&unknown_key)], &[], 2, "sclae");
    rejects(&["--config", &s(&unknown_world)], &[], 2, "clicks_per_dya");
    rejects(&["--config", &s(&bad_toml)], &[], 2, "bad.toml");
    rejects(
        &["--config", &s(&missing)],
        &[],
        2,
        "cannot read config file",
    );
    rejects(&["--start", "2025-02-30"], &[], 2, "--start '2025-02-30'");
    rejects(&["--start", "yesterday"], &[], 2, "--start 'yesterday'");
    rejects(&["--scale", "0"], &[], 2, "--scale 0");
    rejects(&["--scale", "-1"], &[], 2, "--scale -1");
    rejects(&["--days", "0"], &[], 2, "--days 0");
    rejects(&["--days", "-3"], &[], 2, "--days -3");
    rejects(
        &["--shard-index", "3", "--shard-count", "3"],
        &[],
        2,
        "--shard-index 3",
    );
    rejects(&["--format", "xml"], &[], 2, "xml");
    rejects(&["--domains", "sales,orders"], &[], 2, "orders");
    rejects(&[], &[("MARKETPULSE_DAYS", "zero")], 2, "zero");

    // World and dirty-data settings are checked before anything is written.
    let config = |name: &str, text: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        s(&p)
    };
    let cpc_on_facebook = config(
        "cpc.toml",
        "[[world.campaigns]]\nname = \"x\"\nsource = \"facebook\"\nmedium = \"cpc\"\nstart = \"2025-01-01\"\nweight = 0.1\n",
    );
    rejects(
        &["--config", &cpc_on_facebook],
        &[],
        2,
        "source 'facebook' is not a search engine",
    );
    let rates = config("rates.toml", "[dirty]\nlate = 0.6\nmalformed = 0.6\n");
    rejects(&["--config", &rates], &[], 2, "rates sum to 1.2");
    let fx = config("fx.toml", "[world.fx_per_usd]\nUSD = 1.0\n");
    rejects(&["--config", &fx], &[], 2, "fx_per_usd has no rate for GBP");
    let weekday = config(
        "weekday.toml",
        "[world]\nweekday_multipliers = [1, 1, 1, 1, 1, 0.5, 1]\n",
    );
    rejects(&["--config", &weekday], &[], 2, "weekday_multipliers = 0.5");
    rejects(
        &["--start", "2023-06-01"],
        &[],
        2,
        "must be after world.signup_to",
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

#[test]
fn unwritable_output_exits_1() {
    let d = tmp();
    let file = d.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("lake");
    let o = run(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--scale",
        "0.001",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    assert!(stderr(&o).contains("is not writable"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

/// A real full disk: a small tmpfs (needs root, as CI runs).
#[test]
fn full_disk_exits_1_and_leaves_only_complete_files() {
    let d = tmp();
    let mnt = d.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let m = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "tmpfs",
            mnt.to_str().unwrap(),
        ])
        .output();
    let mounted = m.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        mounted,
        "cannot mount a tmpfs (run the tests as root): {m:?}"
    );
    let o = run(&[
        "generate",
        "--out",
        mnt.to_str().unwrap(),
        "--scale",
        "0.01",
        "--threads",
        "2",
    ]);
    let files = all_files(&mnt);
    let v = run(&["verify", mnt.to_str().unwrap()]);
    let _ = Command::new("umount").arg(&mnt).status();

    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("No space left on device"),
        "{}",
        stderr(&o)
    );
    let hidden: Vec<_> = files
        .iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "temporary files left: {hidden:?}");
    // What is there is complete: the partial manifest lists it and it verifies.
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn flags_beat_environment_beat_config_file() {
    let d = tmp();
    let cfg = d.path().join("c.toml");
    std::fs::write(
        &cfg,
        "seed = 5\ndays = 1\nscale = 0.001\ndomains = [\"stores\"]\n",
    )
    .unwrap();
    let out = d.path().join("lake");
    let o = Command::new(BIN)
        .args([
            "generate",
            "--out",
            out.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--seed",
            "9",
        ])
        .env("MARKETPULSE_SEED", "8")
        .env("MARKETPULSE_START", "2024-02-29")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mpath = std::fs::read_dir(out.join("_manifests"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(mpath).unwrap()).unwrap();
    assert_eq!(m["spec"]["seed"], 9);
    assert_eq!(m["spec"]["start"], "2024-02-29");
    assert_eq!(m["spec"]["domains"], serde_json::json!(["stores"]));
    assert_eq!(
        m["files"][0]["path"],
        "stores/snapshot_date=2024-02-29/part-20240229-0000.parquet"
    );
}
