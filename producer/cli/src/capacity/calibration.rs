//! `marketpulse calibrate`: what this machine does per table, format and
//! codec, measured by running `generate` as child processes into a temporary
//! folder. A child process per measurement gives its own wall time, CPU time
//! and peak RSS (`wait4`), untouched by the others.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use marketpulse_gen::{Compression, Domain, Format};
use serde::{Deserialize, Serialize};

use crate::console::say;
use crate::error::Error;
use crate::manifest::{MANIFEST_DIR, Manifest};

/// The calibration file's layout version.
pub(crate) const VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Calibration {
    pub version: u32,
    /// A `--quick` calibration: few rows, one run; `plan` uses it as a speed
    /// factor on the reference calibration.
    pub quick: bool,
    pub command: String,
    pub producer_version: String,
    /// `release` or `debug`: a debug build is several times slower.
    pub build: String,
    pub cpu: String,
    pub cores: usize,
    pub date: String,
    /// Each measurement generates one day at this scale, this many times.
    pub scale: f64,
    pub runs: u32,
    /// Wall time of a run with next to no rows: process start, world, manifest.
    pub startup_seconds: f64,
    pub parallel: Parallel,
    pub rss: Rss,
    pub tables: Vec<Entry>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Parallel {
    /// clicks, Parquet/zstd on this many threads (the machine's cores) ...
    pub threads: usize,
    /// ... ran this share of `threads` times the one-thread rate.
    pub efficiency: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Rss {
    /// Peak RSS of a one-thread run, less one thread's share.
    pub base_mib: f64,
    /// What each further worker thread adds to the peak.
    pub per_thread_mib: f64,
}

/// One measured day: its manifest's totals and the run's resources.
#[derive(Default)]
struct Point {
    rows: u64,
    bytes: u64,
    files: u64,
    requests: u64,
    seconds: f64,
    cpu_seconds: f64,
    rss_mib: f64,
}

/// A table, format and codec. Time and size are fitted as a cost per row
/// plus a cost per file (a Parquet footer, a file's start) from a day at
/// the calibration's scale and one at a tenth of it; a quick calibration
/// measures the first only and puts everything on the rows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Entry {
    pub domain: String,
    pub format: String,
    pub compression: String,
    /// Rows of the measured day, median wall and CPU seconds on one thread.
    pub rows: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    /// Data bytes (files of the table, not manifests or truth).
    pub bytes: u64,
    /// The day at a tenth of the scale: rows, files, seconds, bytes.
    pub small: Option<[f64; 4]>,
    /// Rows per second of one core beyond the per-file cost, start-up excluded.
    pub events_per_core_second: f64,
    pub seconds_per_file: f64,
    /// CPU seconds per wall second of the one-thread run, start-up
    /// excluded: the I/O threads (writes, compression of text files) work
    /// beside the worker, and a vCPU-hour is CPU time.
    pub cpu_per_wall: f64,
    /// Data bytes per row beyond the per-file bytes.
    pub bytes_per_event: f64,
    pub bytes_per_file: f64,
    pub data_files: u64,
    /// Sink requests (puts, lists, renames, deletes) of the whole run.
    pub requests: u64,
    pub files_per_hour: f64,
    pub requests_per_hour: f64,
    pub peak_rss_mib: f64,
}

/// `a` per file and `b` per row from two (files, rows, total) points; all on
/// the rows when the points cannot tell them apart.
fn fit(p1: (f64, f64, f64), p2: Option<(f64, f64, f64)>) -> (f64, f64) {
    let (f1, r1, t1) = p1;
    let on_rows = (0.0, t1 / r1.max(1.0));
    let Some((f2, r2, t2)) = p2 else {
        return on_rows;
    };
    let det = f1 * r2 - f2 * r1;
    if det.abs() < 1e-9 {
        return on_rows;
    }
    let a = (t1 * r2 - t2 * r1) / det;
    let b = (f1 * t2 - f2 * t1) / det;
    if a >= 0.0 && b > 0.0 { (a, b) } else { on_rows }
}

impl Entry {
    fn fit(
        domain: &str,
        format: Format,
        compression: Compression,
        big: &Point,
        small: Option<&Point>,
        startup: f64,
    ) -> Entry {
        let work = |p: &Point| (p.seconds - startup).max(p.seconds * 0.05);
        let point = |p: &Point, total: f64| (p.files as f64, p.rows as f64, total);
        let (spf, spr) = fit(point(big, work(big)), small.map(|s| point(s, work(s))));
        let (bpf, bpr) = fit(
            point(big, big.bytes as f64),
            small.map(|s| point(s, s.bytes as f64)),
        );
        Entry {
            domain: domain.to_string(),
            format: format.name().to_string(),
            compression: compression.name().to_string(),
            rows: big.rows,
            seconds: round(big.seconds, 4),
            cpu_seconds: round(big.cpu_seconds, 4),
            bytes: big.bytes,
            small: small.map(|s| {
                [
                    s.rows as f64,
                    s.files as f64,
                    round(s.seconds, 4),
                    s.bytes as f64,
                ]
            }),
            events_per_core_second: round(1.0 / spr, 0),
            seconds_per_file: round(spf, 6),
            cpu_per_wall: round(
                ((big.cpu_seconds - startup) / work(big).max(1e-9)).max(1.0),
                3,
            ),
            bytes_per_event: round(bpr, 3),
            bytes_per_file: round(bpf, 0),
            data_files: big.files,
            requests: big.requests,
            files_per_hour: round(big.files as f64 / 24.0, 3),
            requests_per_hour: round(big.requests as f64 / 24.0, 3),
            peak_rss_mib: round(big.rss_mib, 1),
        }
    }

    /// One-thread seconds of `rows` in `files`, start-up excluded.
    pub(crate) fn seconds_for(&self, rows: f64, files: f64) -> f64 {
        rows / self.events_per_core_second + files * self.seconds_per_file
    }
}

impl Calibration {
    pub(crate) fn entry(
        &self,
        domain: &str,
        format: Format,
        compression: Compression,
    ) -> Option<&Entry> {
        self.tables.iter().find(|e| {
            e.domain == domain && e.format == format.name() && e.compression == compression.name()
        })
    }
}

/// The codecs each format takes.
pub(crate) fn combos() -> Vec<(Format, Compression)> {
    let mut v = Vec::new();
    for f in Format::ALL {
        for c in Compression::ALL {
            if f == Format::Parquet || c != Compression::Snappy {
                v.push((f, c));
            }
        }
    }
    v
}

/// One finished child: wall and CPU seconds, peak RSS.
struct Child {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
}

/// Runs `cmd` to its end and reads its resource use from `wait4`. Its
/// stderr goes to a file: a pipe nobody reads could fill and stall it.
fn measure(mut cmd: Command, stderr: &Path) -> Result<Child, Error> {
    let cannot =
        |e: std::io::Error| Error::runtime(format!("calibrate: cannot start generate: {e}"));
    let err_file = std::fs::File::create(stderr).map_err(cannot)?;
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .spawn()
        .map_err(cannot)?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `usage` is plain old data that wait4 fills; `pid` is our own
    // child, which nothing else waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    if got != pid {
        return Err(Error::runtime(format!(
            "calibrate: cannot wait for generate: {}",
            std::io::Error::last_os_error()
        )));
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let err = std::fs::read_to_string(stderr).unwrap_or_default();
        let last = err.lines().last().unwrap_or("no message").to_string();
        return Err(Error::runtime(format!(
            "calibrate: generate failed: {last}"
        )));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Child {
        wall,
        cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        rss_mib: usage.ru_maxrss as f64 / 1024.0,
    })
}

/// The middle value (the mean of the two middle ones); 0 for none.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A `generate` of one day into `out`, isolated from the caller's settings:
/// no config file, no `MARKETPULSE_*` variables, the default world and seed.
fn generate(exe: &Path, out: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(exe);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MARKETPULSE_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("generate")
        .arg("--quiet")
        .arg("--days")
        .arg("1")
        .arg("--out")
        .arg(out)
        .args(args);
    cmd
}

/// Rows and data bytes of `domain` in the lake's manifest; its data files.
fn manifest_totals(lake: &Path, domain: &str) -> Result<(u64, u64, u64), Error> {
    let dir = lake.join(MANIFEST_DIR);
    let mut rows = 0;
    let mut bytes = 0;
    let mut files = 0;
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Error::runtime(format!("calibrate: cannot list {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.contains("-shard-") || !name.ends_with(".json") {
            continue;
        }
        let text = std::fs::read(entry.path())
            .map_err(|e| Error::runtime(format!("calibrate: cannot read {name}: {e}")))?;
        let m: Manifest = serde_json::from_slice(&text)
            .map_err(|e| Error::runtime(format!("calibrate: cannot read {name}: {e}")))?;
        for f in m.files.iter().filter(|f| f.domain == domain) {
            rows += f.rows;
            bytes += f.bytes;
            files += 1;
        }
    }
    Ok((rows, bytes, files))
}

fn requests_of(metrics: &Path) -> Result<u64, Error> {
    let text = std::fs::read(metrics)
        .map_err(|e| Error::runtime(format!("calibrate: cannot read the run's metrics: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::runtime(format!("calibrate: cannot read the run's metrics: {e}")))?;
    Ok(v["metrics"]["requests"].as_u64().unwrap_or(0))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

pub(crate) struct Options {
    pub quick: bool,
}

/// Measures every table, format and codec on one thread, then start-up,
/// parallel efficiency and RSS per thread.
pub(crate) fn calibrate(opts: &Options) -> Result<Calibration, Error> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::runtime(format!("calibrate: cannot find this program: {e}")))?;
    let tmp = tempfile::Builder::new()
        .prefix("marketpulse-calibrate-")
        .tempdir()
        .map_err(|e| Error::runtime(format!("calibrate: cannot make a temporary folder: {e}")))?;
    let (scale, runs) = if opts.quick { (0.1, 2) } else { (1.0, 3) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut seq = 0;
    let mut fresh = || {
        seq += 1;
        tmp.path().join(format!("lake-{seq}"))
    };
    let scale_arg = scale.to_string();
    let exe = exe.as_path();
    let errors = tmp.path().join("stderr.txt");

    // Start-up: clicks at a scale that gives a few hundred rows.
    let mut startup = Vec::new();
    for _ in 0..3 {
        let out = fresh();
        let cmd = generate(
            exe,
            &out,
            &strings(&["--domains", "clicks", "--scale", "0.0001", "--threads", "1"]),
        );
        startup.push(measure(cmd, &errors)?.wall);
        let _ = std::fs::remove_dir_all(&out);
    }
    let startup_seconds = median(startup);

    // One measurement: `runs` runs of one day; medians, largest RSS.
    let mut point = |domain: &str, f: Format, c: Compression, scale: f64, runs: u32| {
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        let mut p = Point::default();
        for _ in 0..runs {
            let out = fresh();
            let metrics = tmp.path().join("metrics.json");
            let mut args = strings(&["--domains", domain, "--threads", "1"]);
            args.extend(strings(&["--scale", &scale.to_string()]));
            args.extend(strings(&["--format", f.name(), "--compression", c.name()]));
            args.extend(strings(&["--metrics-json", &metrics.to_string_lossy()]));
            let run = measure(generate(exe, &out, &args), &errors)?;
            (p.rows, p.bytes, p.files) = manifest_totals(&out, domain)?;
            p.requests = requests_of(&metrics)?;
            walls.push(run.wall);
            cpus.push(run.cpu);
            p.rss_mib = p.rss_mib.max(run.rss_mib);
            let _ = std::fs::remove_dir_all(&out);
        }
        // A quick calibration's runs are short: the fastest of them, as
        // load only ever slows a run; else the median.
        if opts.quick {
            p.seconds = walls.iter().copied().fold(f64::INFINITY, f64::min);
            p.cpu_seconds = cpus.iter().copied().fold(f64::INFINITY, f64::min);
        } else {
            p.seconds = median(walls);
            p.cpu_seconds = median(cpus);
        }
        Ok::<Point, Error>(p)
    };

    let mut tables = Vec::new();
    for domain in Domain::names() {
        for (format, compression) in combos() {
            // Quick: every codec of the event tables, the plain ones of the
            // snapshots.
            let plain = compression == Compression::None
                || (format == Format::Parquet && compression == Compression::Zstd);
            if opts.quick && Domain::named(domain).events().is_none() && !plain {
                continue;
            }
            let big = point(domain, format, compression, scale, runs)?;
            // A tenth of the volume in as many files or more: what a file
            // costs apart from its rows.
            let small = if opts.quick {
                None
            } else {
                Some(point(domain, format, compression, scale / 10.0, 1)?)
            };
            let e = Entry::fit(
                domain,
                format,
                compression,
                &big,
                small.as_ref(),
                startup_seconds,
            );
            say!(
                "calibrate: {domain} {}/{}: {} rows in {:.2} s, {:.0} events/s per core, {:.1} bytes per event",
                e.format,
                e.compression,
                e.rows,
                e.seconds,
                e.events_per_core_second,
                e.bytes_per_event
            );
            tables.push(e);
        }
    }

    // Parallel efficiency and RSS per thread: clicks, Parquet/zstd, on one
    // thread and on every core (at least two, for the RSS slope).
    let threads = cores.max(2);
    let mut one = Vec::new();
    let mut many = Vec::new();
    let (mut rss1, mut rss_n) = (0.0f64, 0.0f64);
    for _ in 0..runs {
        for (t, walls, rss) in [(1, &mut one, &mut rss1), (threads, &mut many, &mut rss_n)] {
            let out = fresh();
            let args = strings(&[
                "--domains",
                "clicks",
                "--scale",
                &scale_arg,
                "--threads",
                &t.to_string(),
            ]);
            let c = measure(generate(exe, &out, &args), &errors)?;
            walls.push((c.wall - startup_seconds).max(c.wall * 0.05));
            *rss = rss.max(c.rss_mib);
            let _ = std::fs::remove_dir_all(&out);
        }
    }
    let efficiency = if cores >= 2 {
        (median(one) / median(many) / threads as f64).min(1.0)
    } else {
        1.0
    };
    let per_thread = ((rss_n - rss1) / (threads - 1) as f64).max(0.0);
    Ok(Calibration {
        version: VERSION,
        quick: opts.quick,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_string(),
        cpu: cpu_model(),
        cores,
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        scale,
        runs,
        startup_seconds: round(startup_seconds, 4),
        parallel: Parallel {
            threads,
            efficiency: round(efficiency, 3),
        },
        rss: Rss {
            base_mib: round(rss1 - per_thread, 1),
            per_thread_mib: round(per_thread, 1),
        },
        tables,
    })
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}
