//! `plan` against reality (bytes here; wall and CPU time in an ignored
//! test that benchmarks run), its bad input, and rate profiles: exact
//! event counts and the fleet's union (timing itself is a benchmark:
//! load-tests/bench_rate_profile.py).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use super::{bin, manifest, manifest_paths, run, stderr, tmp};

fn plan_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert!(o.status.success(), "plan failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn item(plan: &serde_json::Value, key: &str) -> f64 {
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap_or_else(|| panic!("no item {key}"))["value"]
        .as_f64()
        .unwrap()
}

/// CPU seconds (user and system) of this process's waited-for children.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the plain struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Data bytes of a lake, from its manifests (truth sidecars excluded).
fn data_bytes(lake: &Path) -> f64 {
    manifest_paths(lake)
        .iter()
        .flat_map(|p| {
            let m: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            m["files"].as_array().unwrap().clone()
        })
        .filter(|f| f["domain"] != "truth")
        .map(|f| f["bytes"].as_f64().unwrap())
        .sum()
}

/// A local run of `days` from 2025-03-03 at `scale`, in `format` and
/// `codec`, on two threads, next to its plan (by `calibration`, the
/// reference's when none): the plan, the run's data bytes, wall seconds and
/// CPU seconds. The run is the test process's only child while it runs
/// when the test runs alone.
fn plan_and_run(
    dir: &Path,
    (days, scale): (&str, f64),
    (format, compression): (&str, &str),
    calibration: Option<&str>,
) -> (serde_json::Value, f64, f64, f64) {
    let mut window = vec!["--days", days, "--start", "2025-03-03"];
    if let Some(c) = calibration {
        window.extend(["--calibration", c]);
    }
    // Events a day at scale 1 over this window, from the plan itself.
    let mut args = vec!["--events-per-day", "1000000"];
    args.extend_from_slice(&window);
    let per_day_at_one = 1e6 / item(&plan_json(&args), "scale");
    let per_day = (per_day_at_one * scale).to_string();
    let mut args = vec!["--events-per-day", &per_day, "--threads", "2"];
    args.extend_from_slice(&window);
    args.extend_from_slice(&["--format", format, "--compression", compression]);
    let plan = plan_json(&args);
    assert!((item(&plan, "scale") / scale - 1.0).abs() < 1e-6);
    let lake = dir.join(format);
    let started = Instant::now();
    let cpu_before = children_cpu_seconds();
    let o = bin()
        .args(["generate", "--quiet", "--threads", "2"])
        .args(["--scale", &scale.to_string(), "--days", days])
        .args(["--start", "2025-03-03", "--format", format])
        .args(["--compression", compression])
        .arg("--out")
        .arg(&lake)
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds() - cpu_before;
    assert!(o.status.success(), "generate failed: {}", stderr(&o));
    let bytes = data_bytes(&lake);
    std::fs::remove_dir_all(&lake).unwrap();
    (plan, bytes, wall, cpu)
}

/// The model's bytes checked against a run: the reference calibration's
/// sizes per row and per file predict a local run's data bytes within 10%.
/// Sizes are deterministic, so this holds on any machine at any load.
#[test]
fn plan_predicts_the_bytes_of_a_local_run() {
    let dir = tmp();
    for encoding in [("parquet", "zstd"), ("jsonl", "gzip")] {
        let (plan, bytes, _, _) = plan_and_run(dir.path(), ("1", 0.05), encoding, None);
        let want = item(&plan, "window.bytes");
        assert!(
            (bytes / want - 1.0).abs() <= 0.10,
            "{encoding:?}: {bytes} bytes against {want:.0} planned"
        );
    }
}

/// The model's times checked against a run: the reference calibration,
/// scaled by a quick calibration of this machine, predicts the wall time
/// and CPU time (within 35%) of a local run. Timing: it needs a quiet
/// machine and runs alone, from `make bench` or `make calibrate`:
/// `cargo test --locked -p marketpulse --test cli -- --ignored --exact
/// capacity::plan_predicts_the_wall_and_cpu_time_of_a_local_run --nocapture`.
#[test]
#[ignore = "timing: run alone on a quiet machine (make bench, make calibrate)"]
fn plan_predicts_the_wall_and_cpu_time_of_a_local_run() {
    let dir = tmp();
    let quick = dir.path().join("quick.json");
    let o = run(&["calibrate", "--quick", "--out", quick.to_str().unwrap()]);
    assert!(o.status.success(), "calibrate failed: {}", stderr(&o));
    let mut failures = Vec::new();
    for (format, compression) in [("parquet", "zstd"), ("jsonl", "gzip")] {
        let (plan, bytes, wall, cpu) = plan_and_run(
            dir.path(),
            ("3", 0.5),
            (format, compression),
            Some(quick.to_str().unwrap()),
        );
        let (want_bytes, want_wall) = (
            item(&plan, "window.bytes"),
            item(&plan, "local.wall_seconds"),
        );
        let want_cpu = item(&plan, "window.vcpu_hours") * 3600.0;
        eprintln!(
            "{format}/{compression}: bytes {bytes} planned {want_bytes:.0} ({:+.1}%); wall {wall:.2} s planned {want_wall:.2} s ({:+.1}%); CPU {cpu:.2} s planned {want_cpu:.2} s ({:+.1}%)",
            (bytes / want_bytes - 1.0) * 100.0,
            (wall / want_wall - 1.0) * 100.0,
            (cpu / want_cpu - 1.0) * 100.0
        );
        // The vCPU-hours a plan bills are CPU time: checked too.
        if (cpu / want_cpu - 1.0).abs() > 0.35 {
            failures.push(format!(
                "{format}: CPU {cpu:.2} s against {want_cpu:.2} s planned"
            ));
        }
        if (wall / want_wall - 1.0).abs() > 0.35 {
            failures.push(format!(
                "{format}: wall {wall:.2} s against {want_wall:.2} s planned"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn plan_prints_every_line_item_with_its_formula() {
    let plan = plan_json(&[
        "--events-per-day",
        "5000000",
        "--days",
        "7",
        "--backfill-hours",
        "1",
    ]);
    for i in plan["items"].as_array().unwrap() {
        assert!(i["formula"].as_str().unwrap().len() > 3, "{i}");
    }
    for key in [
        "window.vcpu_hours",
        "backfill.instances",
        "month.s3.requests",
        "month.s3.gb",
        "month.total",
    ] {
        assert!(item(&plan, key) > 0.0, "{key}");
    }
    assert_eq!(plan["prices"]["date"], "2026-11-28");
    let o = run(&["plan", "--events-per-day", "5e6", "--sink", "firehose"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Firehose GB billed per month"), "{text}");
}

#[test]
fn bad_plans_fail_with_one_line_and_exit_2() {
    let dir = tmp();
    let prices = dir.path().join("prices.toml");
    // The repository's table less one item.
    let table = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../load-tests/prices/aws-us-east-1-2026-11.toml"
    );
    let text = std::fs::read_to_string(table).unwrap();
    let without: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("storage_gb_month"))
        .collect();
    assert!(without.len() < text.lines().count());
    std::fs::write(&prices, without.join("\n")).unwrap();
    let p = prices.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--events-per-day", "0"],
            "invalid --events-per-day 0: must be a number above 0",
        ),
        (
            vec!["--events-per-day", "-5"],
            "invalid --events-per-day -5: must be a number above 0",
        ),
        (
            vec!["--events-per-day", "1e6", "--instance", "m9.huge"],
            "unknown instance type 'm9.huge': ",
        ),
        (
            vec!["--events-per-day", "1e6", "--prices", p],
            "invalid price file ",
        ),
        (
            vec!["--events-per-day", "1e6", "--backfill-hours", "0"],
            "invalid --backfill-hours 0",
        ),
        (
            vec![
                "--events-per-day",
                "1e6",
                "--sink",
                "kinesis",
                "--format",
                "parquet",
            ],
            "--format and --compression are the lake's",
        ),
        (
            vec!["--events-per-day", "1e300"],
            "invalid --events-per-day 1e300: more than 10,000 datasets",
        ),
    ] {
        let mut all = vec!["plan"];
        all.extend_from_slice(&args);
        let o = run(&all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("marketpulse: {want}")),
            "{args:?}: {err}"
        );
    }
    let o = run(&["plan", "--events-per-day", "1e6", "--prices", p]);
    assert!(
        stderr(&o).contains("missing s3.storage_gb_month"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "generate",
        "--mode",
        "realtime",
        "--rate-profile",
        "ramp:10..20",
        "--sink",
        "stdout",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("marketpulse: invalid --rate-profile 'ramp:10..20': segment 1 'ramp:10..20' is not ramp:FROM..TO/DURATION"),
        "{}",
        stderr(&o)
    );
}

/// Lines a real-time run to stdout emitted, and its manifest.
fn realtime(out: &Path, args: &[&str]) -> (Vec<String>, serde_json::Value) {
    let (lines, _) = realtime_shard(out, args);
    (lines, manifest(out))
}

/// Lines a real-time run (or one shard of it) emitted to stdout, and how
/// long it took. Clicks unless `args` say otherwise.
fn realtime_shard(out: &Path, args: &[&str]) -> (Vec<String>, f64) {
    let started = Instant::now();
    let o = bin()
        .args(["generate", "--mode", "realtime", "--sink", "stdout"])
        .args(["--quiet", "--domains", "clicks", "--days", "1"])
        .args(["--out", out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let took = started.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    (text.lines().map(str::to_string).collect(), took)
}

/// Four shards side by side, each with `args`: their lines and times.
fn fleet_of_four(out: &Path, args: &[&str]) -> Vec<(Vec<String>, f64)> {
    let shards: Vec<_> = (0..4)
        .map(|i| {
            let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            args.extend(["--shard-count", "4", "--shard-index"].map(String::from));
            args.push(i.to_string());
            let out = out.to_path_buf();
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                realtime_shard(&out, &args)
            })
        })
        .collect();
    shards.into_iter().map(|s| s.join().unwrap()).collect()
}

fn counted(lines: impl IntoIterator<Item = String>) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for line in lines {
        *m.entry(line).or_default() += 1;
    }
    m
}

#[test]
fn a_profile_emits_exactly_its_integral_then_ends() {
    let dir = tmp();
    // 300 in the hold, none in the pause, (300 + 900) / 2 x 1 s in the ramp.
    let profile = "hold:300/1s,hold:0/0.5s,ramp:300..900/1s";
    let (lines, m) = realtime(dir.path(), &["--scale", "0.01", "--rate-profile", profile]);
    assert_eq!(lines.len(), 900);
    assert_eq!(m["complete"], false);
}

#[test]
fn a_pause_still_stops_at_the_duration() {
    let dir = tmp();
    // A 30 s pause after 10 events; --duration 1 ends the run within it.
    let profile = "hold:10/1s,hold:0/30s,hold:10/1s";
    let args = [
        "--scale",
        "0.01",
        "--rate-profile",
        profile,
        "--duration",
        "1",
    ];
    let (lines, took) = realtime_shard(dir.path(), &args);
    assert_eq!(lines.len(), 10);
    assert!(took < 10.0, "the run took {took:.1} s");
}

#[test]
fn diurnal_replays_the_day_at_its_own_pace() {
    let dir = tmp();
    // A day in a second, sales (whose online part the plan estimates) and
    // clicks: every event of the day, and a complete run.
    let args = [
        "--scale",
        "0.0004",
        "--domains",
        "sales,clicks",
        "--rate-profile",
        "diurnal:86400",
    ];
    let (lines, m) = realtime(dir.path(), &args);
    let rows: u64 = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(m["complete"], true);
    assert_eq!(lines.len() as u64, rows);
    assert!(rows > 1000, "{rows}");
}

#[test]
fn a_fleet_at_a_total_rate_emits_one_process_events_at_that_rate() {
    let one = tmp();
    let (single, _) = realtime(one.path(), &["--scale", "0.0004", "--rate", "3000"]);
    let fleet = tmp();
    let shards = fleet_of_four(fleet.path(), &["--scale", "0.0004", "--rate", "3000"]);
    // Each shard paces at its share of 3,000/s, so each takes about as long
    // as the whole at 3,000/s (one at the full rate would take a quarter).
    let least = single.len() as f64 / 3000.0 * 0.8;
    for (i, (_, took)) in shards.iter().enumerate() {
        assert!(
            *took >= least,
            "shard {i} took {took:.2} s, under {least:.2} s"
        );
    }
    let union = counted(shards.into_iter().flat_map(|(lines, _)| lines));
    let want = counted(single);
    assert!(want.len() > 1000);
    assert_eq!(union, want);
}

#[test]
fn a_fleet_splits_a_finite_profile_into_whole_events() {
    let fleet = tmp();
    // 401 events in all, split by the shards' shares of the plan.
    let shards = fleet_of_four(
        fleet.path(),
        &["--scale", "0.01", "--rate-profile", "hold:401/1s"],
    );
    let counts: Vec<usize> = shards.iter().map(|(lines, _)| lines.len()).collect();
    assert_eq!(counts.iter().sum::<usize>(), 401, "{counts:?}");
    assert!(
        counts.iter().all(|&n| (80..=120).contains(&n)),
        "{counts:?}"
    );
}
