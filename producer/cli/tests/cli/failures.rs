//! Failures: bad input exits 2 with one line and writes nothing; run-time
//! failures exit 1 and leave only complete files; `verify` names each
//! difference.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{all_files, bin, generate, run, stderr, tmp};

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
    let mut cmd = bin();
    cmd.args(&full);
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

/// One table of every kind of bad input and its message.
#[test]
#[allow(clippy::too_many_lines)]
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
    // Plans beyond the limits, and numbers no Duration holds.
    let rt = ["--mode", "realtime", "--sink", "stdout"];
    rejects(
        &[&rt[..], &["--duration", "1e20"]].concat(),
        &[],
        2,
        "--duration",
    );
    rejects(&[&rt[..], &["--rate", "1e-20"]].concat(), &[], 2, "--rate");
    rejects(
        &[&rt[..], &["--speedup", "1e-20"]].concat(),
        &[],
        2,
        "--speedup",
    );
    rejects(&["--scale", "1e9"], &[], 2, "--scale");
    rejects(
        &["--scale", "0.001", "--days", "36600"],
        &[],
        2,
        "--days 36600",
    );
    rejects(&["--start", "2200-01-01"], &[], 2, "after 2199-12-31");
    // Growth past the hourly limit on the first day is the start date's
    // fault, not the run length's.
    rejects(
        &["--scale", "1", "--start", "2080-01-01", "--days", "1"],
        &[],
        2,
        "invalid --start '2080-01-01': world.daily_growth = 0.0005 from world.growth_from",
    );
    rejects(&["--start", "1999-12-31"], &[], 2, "2000-01-01 or later");
    let growth = config("growth.toml", "[world]\ndaily_growth = 0.1\n");
    rejects(
        &["--config", &growth, "--days", "400"],
        &[],
        2,
        "daily_growth = 0.1 compounds",
    );
    let flat = config("flat.toml", "[world]\ndaily_growth = 0.0\n");
    rejects(
        &["--config", &flat, "--scale", "0.001", "--days", "36000"],
        &[],
        2,
        "at most 1000000 a shard",
    );
    // Destinations: an unknown scheme, a URL without //, a folder as --sink.
    rejects(&["--sink", "kafka://t"], &[], 2, "unknown scheme 'kafka'");
    let folder_sink = d.path().join("sink-folder");
    rejects(
        &["--sink", folder_sink.to_str().unwrap()],
        &[],
        2,
        "invalid --sink",
    );
    assert!(!folder_sink.exists(), "a refused --sink created its folder");
}

/// `--dry-run` prints the plan, with the counts a real run then writes,
/// and writes nothing.
#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let d = tmp();
    let out = d.path().join("lake");
    let flags = [
        "--scale",
        "0.004",
        "--days",
        "2",
        "--domains",
        "stores,clicks",
    ];
    let o = bin()
        .args(["generate", "--out", out.to_str().unwrap(), "--dry-run"])
        .args(flags)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.exists(), "a dry run wrote {}", out.display());
    let report = String::from_utf8(o.stdout).unwrap();
    let row = |table: &str| -> (u64, u64) {
        let line = report.lines().find(|l| l.starts_with(table)).unwrap();
        let cells: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(2)
            .map(|c| c.trim_end_matches('~').replace(',', "").parse().unwrap())
            .collect();
        (cells[0], cells[1])
    };
    generate(&out, &flags);
    let m = super::manifest(&out);
    for table in ["stores", "clicks"] {
        let files: Vec<_> = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["domain"] == table)
            .collect();
        let rows: u64 = files.iter().map(|f| f["rows"].as_u64().unwrap()).sum();
        assert_eq!(row(table), (files.len() as u64, rows), "{table}: {report}");
    }
}

/// `--out` values that look like URLs are refused, not taken as folder names.
#[test]
fn urls_are_not_folders() {
    for (out, needle) in [
        ("S3://bucket/x", "unknown scheme 'S3'"),
        ("gs://bucket/x", "unknown scheme 'gs'"),
        ("s3:/bucket/x", "it looks like a URL"),
    ] {
        let d = tmp();
        let o = bin()
            .current_dir(d.path())
            .args(["generate", "--out", out, "--scale", "0.001"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{out}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{out}: {}", stderr(&o));
        assert!(all_files(d.path()).is_empty(), "{out} wrote files");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            0,
            "{out} made a folder"
        );
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

/// A real full disk: a small tmpfs. Mounting one needs root (CI runs as
/// root); as another user the test says so and skips.
#[test]
fn full_disk_exits_1_and_leaves_only_complete_files() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        // Straight to stderr: the test harness hides `eprintln!` of a
        // passing test, and this message is for the person running it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped full_disk_exits_1_and_leaves_only_complete_files: mounting a tmpfs needs root"
        );
        return;
    }
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
        "--quiet",
    ]);
    let files = all_files(&mnt);
    let v = run(&["verify", "--json", mnt.to_str().unwrap()]);
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
    // What is there is complete: the partial manifest lists it, and verify
    // finds nothing wrong but the run's being incomplete.
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    let report: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    let kinds: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"incomplete"), "{report}");
    assert!(
        kinds
            .iter()
            .all(|k| ["incomplete", "interrupted"].contains(k)),
        "{report}"
    );
    assert!(report["files"].as_u64().unwrap() > 0, "{report}");
}
