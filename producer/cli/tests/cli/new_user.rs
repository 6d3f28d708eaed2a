//! What a new user hit: file modes, closed pipes, SIGHUP, options that do not
//! apply, clap's hints, progress and the summary's wording.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use super::{BIN, all_files, bin, generate, manifest, run, stderr, tmp};

const SMALL: [&str; 4] = ["--scale", "0.004", "--days", "2"];

/// Files follow the umask, like every other tool's: 0644 under umask 022.
#[test]
fn files_follow_the_umask() {
    for (umask, mode) in [("022", 0o644), ("027", 0o640)] {
        let d = tmp();
        // Dirty, so truth files are written too.
        let dirty = d.path().join("dirty.toml");
        std::fs::write(&dirty, "[dirty]\nmalformed = 0.01\n").unwrap();
        let lake = d.path().join("lake");
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" generate --out \"$1\" --config \"$2\" --scale 0.004 --days 1"
            ))
            .arg(BIN)
            .arg(&lake)
            .arg(&dirty)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let files = all_files(&lake);
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().contains("_truth/"))
        );
        for f in files {
            let got = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(got, mode, "umask {umask}: {}", f.display());
        }
    }
}

/// `profile --json | head -1`: the reader is gone before anything is
/// written. The process ends quietly with the shell's SIGPIPE code.
#[test]
fn closed_stdout_ends_quietly() {
    let d = tmp();
    generate(d.path(), &["--days", "1"]);
    let lake = d.path().to_str().unwrap();
    for args in [
        vec!["profile", "--json", lake],
        vec!["profile", lake],
        vec!["verify", "--json", lake],
    ] {
        let mut child = bin()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(141), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
    // The stdout sink stops at its first refused write, without a message;
    // its manifest says the run is incomplete.
    let m = d.path().join("m");
    let mut child = bin()
        .args(["generate", "--out", m.to_str().unwrap(), "--sink", "stdout"])
        .args(SMALL)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(141), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(manifest(&m)["complete"], false);
}

/// `generate 2>&1 | head -c 0`: with stderr closed the run still finishes.
#[test]
fn closed_stderr_does_not_stop_a_run() {
    let d = tmp();
    let mut child = bin()
        .args(["generate", "--out", d.path().to_str().unwrap()])
        .args(SMALL)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(manifest(d.path())["complete"], true);
}

/// Options that cannot apply: an error where the user surely meant
/// something else, a warning where it is harmless.
#[test]
fn options_that_do_not_apply_are_reported() {
    let d = tmp();
    let lake = d.path().join("lake");
    let out = lake.to_str().unwrap();
    let o = run(&["generate", "--out", out, "--sse-kms-key", "alias/k"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--sse-kms-key 'alias/k': applies to S3 lakes"),
        "{}",
        stderr(&o)
    );
    assert!(!lake.exists());

    let o = run(&[
        "generate",
        "--out",
        out,
        "--dry-run",
        "--endpoint-url",
        "http://127.0.0.1:1",
        "--part-size-mib",
        "8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "warning: --endpoint-url 'http://127.0.0.1:1', --part-size-mib 8 apply only to S3"
        ),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "generate",
        "--out",
        out,
        "--dry-run",
        "--sink",
        "stdout",
        "--compression",
        "gzip",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--compression 'gzip': record sinks send plain JSON lines"),
        "{}",
        stderr(&o)
    );
}

/// `--metrics-json` into a missing folder fails before the run, not after.
#[test]
fn metrics_json_is_checked_before_the_run() {
    let d = tmp();
    let lake = d.path().join("lake");
    let target = d.path().join("no-such-folder/m.json");
    let o = run(&[
        "generate",
        "--out",
        lake.to_str().unwrap(),
        "--metrics-json",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    assert!(!lake.exists(), "the run started");
}

/// clap's hints survive the one-line rule; numbers get a message about
/// their value; a file is not a folder.
#[test]
fn messages_name_the_problem_and_keep_the_hints() {
    let d = tmp();
    let file = d.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for (args, needle) in [
        (
            vec!["generate", "--format", "xml"],
            "invalid value 'xml' for '--format <FORMAT>' (possible values: parquet, jsonl, csv)",
        ),
        (
            vec!["generate", "--formt", "csv"],
            "tip: a similar argument exists: '--format'",
        ),
        (
            vec!["verify"],
            "the following required arguments were not provided: <LAKE>",
        ),
        (
            vec!["generate", "--seed", "-1"],
            "invalid value '-1' for '--seed <SEED>': a seed is a whole number from 0 to",
        ),
        (
            vec!["generate", "--out", file.to_str().unwrap()],
            "is a file, not a folder",
        ),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

/// A plan that yields no events says so.
#[test]
fn zero_events_warn() {
    let d = tmp();
    let o = generate(d.path(), &["--domains", "clicks", "--scale", "0.00000001"]);
    assert!(
        stderr(&o).contains("warning: the plan has no events"),
        "{}",
        stderr(&o)
    );
}

/// Without a terminal: a line every few seconds and one at 100%; the summary gives rows, events/s and MB. `--quiet` keeps only
/// the summary.
#[test]
fn progress_lines_and_summary() {
    let d = tmp();
    let o = generate(&d.path().join("a"), &["--progress-seconds", "1"]);
    let err = stderr(&o);
    let files = manifest(&d.path().join("a"))["files"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        err.contains(&format!(
            "marketpulse: shard 0 of 1: {files}/{files} files (100%), "
        )),
        "{err}"
    );
    let header = err.lines().find(|l| l.starts_with("table")).expect(&err);
    assert!(
        header
            .split_whitespace()
            .eq(["table", "rows", "files", "size"])
    );
    assert!(err.contains(" events/s, "), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("total") && (l.ends_with(" kB") || l.ends_with(" MB"))),
        "{err}"
    );

    let q = generate(&d.path().join("b"), &["--quiet"]);
    let err = stderr(&q);
    assert!(!err.contains("(100%)"), "{err}");
    assert!(err.contains("events/s"), "{err}");
}

/// `verify` and `profile` share one rule: 0 the lake is whole, 1 the lake
/// has a problem, 2 the command is wrong (a flag, a path that is no folder).
#[test]
fn verify_and_profile_share_the_exit_codes() {
    let d = tmp();
    let lake = d.path().join("lake");
    generate(&lake, &["--days", "1"]);
    let path = lake.to_str().unwrap();
    let missing = d.path().join("nothing-here");
    for command in ["verify", "profile"] {
        assert_eq!(run(&[command, path]).status.code(), Some(0), "{command}");
        let wrong = [
            vec![command, missing.to_str().unwrap()],
            vec![command, "--bogus", path],
            vec![command],
        ];
        for args in wrong {
            let o = run(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        }
    }
    let victim = all_files(&lake)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/clicks/"))
        .unwrap();
    std::fs::remove_file(&victim).unwrap();
    for command in ["verify", "profile"] {
        let o = run(&[command, path]);
        assert_eq!(o.status.code(), Some(1), "{command}: {}", stderr(&o));
    }
}

/// `--dry-run` and `--print-config` refuse the destinations a run refuses,
/// with the run's message and exit code, and create nothing.
#[test]
fn dry_run_and_print_config_refuse_what_a_run_refuses() {
    let d = tmp();
    let lake = d.path().join("lake");
    let out = lake.to_str().unwrap();
    let folder = d.path().join("folder");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--out", out, "--sink", "kafka://x"],
            "unknown scheme 'kafka'",
        ),
        (&["--out", "s3://"], "no bucket"),
        (&["--out", out, "--sink", "kinesis://"], "name one stream"),
        (&["--out", "stdout"], "invalid --out stdout"),
        (
            &["--out", out, "--sink", folder.to_str().unwrap()],
            "invalid --sink",
        ),
    ];
    for (flags, message) in cases {
        for mode in [None, Some("--dry-run"), Some("--print-config")] {
            let mut args = vec!["generate", "--scale", "0.001", "--days", "1"];
            args.extend(flags);
            args.extend(mode);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        }
    }
    assert!(!lake.exists() && !folder.exists());
}
