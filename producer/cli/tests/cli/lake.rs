//! A lake is protected: one dataset per folder, one writer per shard,
//! complete manifests kept; `verify` reports incomplete and missing shards
//! and leftovers; `profile` refuses a lake it cannot trust.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{all_files, bin, generate, manifest, manifest_paths, run, stderr, tmp};

const SMALL: [&str; 4] = ["--scale", "0.004", "--days", "2"];

fn verify_json(root: &Path) -> (Option<i32>, serde_json::Value) {
    let o = run(&["verify", "--json", root.to_str().unwrap()]);
    (o.status.code(), serde_json::from_slice(&o.stdout).unwrap())
}

fn kinds(report: &serde_json::Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Starts a long `generate` and returns once `ready` sees its progress.
fn start_long_run(out: &Path, ready: impl Fn(&[std::path::PathBuf]) -> bool) -> Child {
    let child = bin()
        .args([
            "generate",
            "--out",
            out.to_str().unwrap(),
            "--scale",
            "2",
            "--threads",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(&all_files(out)) {
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn has(files: &[std::path::PathBuf], part: &str) -> bool {
    files.iter().any(|p| p.to_string_lossy().contains(part))
}

#[test]
fn another_dataset_is_refused_unless_forced() {
    let d = tmp();
    generate(d.path(), &SMALL);
    let before = all_files(d.path()).len();
    let mut args = vec!["generate", "--out", d.path().to_str().unwrap()];
    args.extend_from_slice(&SMALL);
    args.extend(["--seed", "9"]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("holds dataset"), "{}", stderr(&o));
    assert!(stderr(&o).contains("seed 9"), "{}", stderr(&o));
    assert_eq!(
        all_files(d.path()).len(),
        before,
        "a refused run wrote files"
    );
    args.push("--force");
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_second_writer_of_a_shard_is_refused() {
    let d = tmp();
    let mut first = start_long_run(d.path(), |f| has(f, "part-"));
    let o = run(&[
        "generate",
        "--out",
        d.path().to_str().unwrap(),
        "--scale",
        "2",
        "--threads",
        "1",
    ]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another run is writing this shard"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_interrupted_rerun_keeps_the_complete_manifest() {
    let d = tmp();
    let out = d.path().join("lake");
    let o = run(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--scale",
        "2",
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let complete = std::fs::read(&manifest_paths(&out)[0]).unwrap();
    // Ready once the re-run journals what it rewrote.
    let mut rerun = start_long_run(&out, |f| has(f, "/_journal/"));
    // SIGTERM: the run stops gracefully and writes what it has.
    let pid = rerun.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = rerun.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert_eq!(std::fs::read(&manifest_paths(&out)[0]).unwrap(), complete);
    assert_eq!(manifest(&out)["complete"], true);
    let (code, report) = verify_json(&out);
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn no_overwrite_refuses_to_replace_files_in_a_folder() {
    let d = tmp();
    let flags = ["--scale", "0.001", "--domains", "stores"];
    generate(d.path(), &flags);
    let before: Vec<_> = all_files(d.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("part-"))
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let mut args = vec![
        "generate",
        "--out",
        d.path().to_str().unwrap(),
        "--scale",
        "0.004",
        "--days",
        "2",
    ];
    args.extend(flags);
    args.push("--no-overwrite");
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--no-overwrite"), "{}", stderr(&o));
    for (p, bytes) in before {
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }
}

#[test]
fn verify_reports_missing_shards_and_temporary_files() {
    let d = tmp();
    let root = d.path().to_str().unwrap();
    for i in ["0", "1"] {
        generate(
            d.path(),
            &[&SMALL[..], &["--shard-count", "3", "--shard-index", i]].concat(),
        );
    }
    let (code, report) = verify_json(d.path());
    assert_eq!(code, Some(1));
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0]["kind"], "missing");
    assert!(
        problems[0]["detail"]
            .as_str()
            .unwrap()
            .contains("shard 2 of 3"),
        "{report}"
    );
    generate(
        d.path(),
        &[&SMALL[..], &["--shard-count", "3", "--shard-index", "2"]].concat(),
    );
    assert!(run(&["verify", root]).status.success());
    // A temporary file a killed writer left behind.
    let stray = d.path().join("stores/.tmp-abc-shard-00000-of-00001-x1");
    std::fs::write(&stray, b"half").unwrap();
    let (code, report) = verify_json(d.path());
    assert_eq!(code, Some(1));
    assert_eq!(kinds(&report), ["temporary"], "{report}");
    std::fs::remove_file(&stray).unwrap();
}

#[test]
fn profile_refuses_a_swapped_file_or_an_edited_manifest() {
    let d = tmp();
    generate(d.path(), &["--scale", "0.002", "--days", "1"]);
    let root = d.path().to_str().unwrap();
    assert!(run(&["profile", root]).status.success());
    let parquet: Vec<_> = all_files(d.path())
        .into_iter()
        .filter(|p| {
            p.to_string_lossy().contains("/clicks/")
                && p.extension().is_some_and(|e| e == "parquet")
        })
        .collect();
    let (a, b) = (&parquet[0], &parquet[1]);
    let original = std::fs::read(a).unwrap();
    std::fs::copy(b, a).unwrap();
    let o = run(&["profile", root]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not match its manifest entry"),
        "{}",
        stderr(&o)
    );
    std::fs::write(a, original).unwrap();

    let path = &manifest_paths(d.path())[0];
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, text.replacen("\"seed\": 42", "\"seed\": 43", 1)).unwrap();
    let o = run(&["profile", root]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("was it edited"), "{}", stderr(&o));
    std::fs::write(path, "{ not json").unwrap();
    let o = run(&["profile", root]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid manifest"), "{}", stderr(&o));
}
