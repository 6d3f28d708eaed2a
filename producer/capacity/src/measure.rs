//! `marketpulse calibrate`: what this machine does per table, format and
//! codec, measured by running the producer's `generate` as child processes
//! into a temporary folder. A child process per measurement gives its own
//! wall time, CPU time and peak RSS (`wait4`), untouched by the others.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use marketpulse_gen::{Compression, Domain, Format};

use crate::calibration::{Calibration, Entry, Parallel, Point, Rss, VERSION, median, round};
use crate::error::Error;

/// Rows, data bytes and data files of one table in a finished run's lake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LakeTotals {
    pub rows: u64,
    pub bytes: u64,
    pub files: u64,
}

/// What a calibration runs and records.
pub struct Options<'a> {
    /// The producer binary whose `generate` is measured.
    pub exe: &'a Path,
    /// Few rows and one run per table: a speed factor on the reference.
    pub quick: bool,
    /// Recorded in the calibration: the command line, the producer's
    /// version and build (`release` or `debug`).
    pub command: String,
    pub producer_version: String,
    pub build: String,
    /// A table's totals in a lake the producer wrote (its manifests): the
    /// producer reads its own manifests.
    pub lake_totals: &'a dyn Fn(&Path, &str) -> Result<LakeTotals, Error>,
    /// Told a line per measured table.
    pub progress: &'a dyn Fn(&str),
}

/// One finished child: wall and CPU seconds, peak RSS.
struct Child {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
}

/// The codecs each format takes.
fn combos() -> Vec<(Format, Compression)> {
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

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The runs of one calibration: each `generate` of one day goes to a fresh
/// lake in a temporary folder, removed once measured.
struct Runs<'a> {
    opts: &'a Options<'a>,
    tmp: tempfile::TempDir,
    seq: u32,
    errors: PathBuf,
}

impl Runs<'_> {
    fn fresh(&mut self) -> PathBuf {
        self.seq += 1;
        self.tmp.path().join(format!("lake-{}", self.seq))
    }

    /// A `generate` of one day into `out`, isolated from the caller's
    /// settings: no config file, no `MARKETPULSE_*` variables, the default
    /// world and seed.
    fn generate(&self, out: &Path, args: &[String]) -> Command {
        let mut cmd = Command::new(self.opts.exe);
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

    /// Runs `generate` with `args` into a fresh lake, then removes it.
    fn run(&mut self, args: &[String]) -> Result<Child, Error> {
        let out = self.fresh();
        let child = measure(self.generate(&out, args), &self.errors)?;
        let _ = std::fs::remove_dir_all(&out);
        Ok(child)
    }

    /// Start-up: clicks at a scale that gives a few hundred rows.
    fn startup_seconds(&mut self) -> Result<f64, Error> {
        let args = strings(&["--domains", "clicks", "--scale", "0.0001", "--threads", "1"]);
        let mut walls = Vec::new();
        for _ in 0..3 {
            walls.push(self.run(&args)?.wall);
        }
        Ok(median(walls))
    }

    /// One measurement of a table, format and codec: `runs` runs of one day
    /// on one thread; medians (a quick calibration's fastest run), the
    /// largest RSS.
    fn point(
        &mut self,
        (domain, f, c): (&str, Format, Compression),
        scale: f64,
        runs: u32,
    ) -> Result<Point, Error> {
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        let mut p = Point::default();
        for _ in 0..runs {
            let out = self.fresh();
            let metrics = self.tmp.path().join("metrics.json");
            let mut args = strings(&["--domains", domain, "--threads", "1"]);
            args.extend(strings(&["--scale", &scale.to_string()]));
            args.extend(strings(&["--format", f.name(), "--compression", c.name()]));
            args.extend(strings(&["--metrics-json", &metrics.to_string_lossy()]));
            let run = measure(self.generate(&out, &args), &self.errors)?;
            let totals = (self.opts.lake_totals)(&out, domain)?;
            (p.rows, p.bytes, p.files) = (totals.rows, totals.bytes, totals.files);
            p.requests = requests_of(&metrics)?;
            walls.push(run.wall);
            cpus.push(run.cpu);
            p.rss_mib = p.rss_mib.max(run.rss_mib);
            let _ = std::fs::remove_dir_all(&out);
        }
        // A quick calibration's runs are short: the fastest of them, as
        // load only ever slows a run; else the median.
        if self.opts.quick {
            p.seconds = walls.iter().copied().fold(f64::INFINITY, f64::min);
            p.cpu_seconds = cpus.iter().copied().fold(f64::INFINITY, f64::min);
        } else {
            p.seconds = median(walls);
            p.cpu_seconds = median(cpus);
        }
        Ok(p)
    }

    /// Every table, format and codec on one thread (a quick calibration:
    /// every codec of the event tables, the plain ones of the snapshots).
    fn tables(&mut self, scale: f64, runs: u32, startup: f64) -> Result<Vec<Entry>, Error> {
        let quick = self.opts.quick;
        let mut tables = Vec::new();
        for domain in Domain::names() {
            for (format, compression) in combos() {
                let plain = compression == Compression::None
                    || (format == Format::Parquet && compression == Compression::Zstd);
                if quick && Domain::named(domain).events().is_none() && !plain {
                    continue;
                }
                let what = (domain, format, compression);
                let big = self.point(what, scale, runs)?;
                // A tenth of the volume in as many files or more: what a
                // file costs apart from its rows.
                let small = if quick {
                    None
                } else {
                    Some(self.point(what, scale / 10.0, 1)?)
                };
                let e = Entry::fit(what, &big, small.as_ref(), startup);
                (self.opts.progress)(&format!(
                    "calibrate: {domain} {}/{}: {} rows in {:.2} s, {:.0} events/s per core, {:.1} bytes per event",
                    e.format,
                    e.compression,
                    e.rows,
                    e.seconds,
                    e.events_per_core_second,
                    e.bytes_per_event
                ));
                tables.push(e);
            }
        }
        Ok(tables)
    }

    /// Parallel efficiency and RSS per thread: clicks, Parquet/zstd, on one
    /// thread and on every core (at least two, for the RSS slope).
    fn parallel(
        &mut self,
        (scale, runs, cores): (f64, u32, usize),
        startup: f64,
    ) -> Result<(Parallel, Rss), Error> {
        let threads = cores.max(2);
        let scale = scale.to_string();
        let mut one = Vec::new();
        let mut many = Vec::new();
        let (mut rss1, mut rss_n) = (0.0f64, 0.0f64);
        for _ in 0..runs {
            for (t, walls, rss) in [(1, &mut one, &mut rss1), (threads, &mut many, &mut rss_n)] {
                let t = t.to_string();
                let args = strings(&["--domains", "clicks", "--scale", &scale, "--threads", &t]);
                let c = self.run(&args)?;
                walls.push((c.wall - startup).max(c.wall * 0.05));
                *rss = rss.max(c.rss_mib);
            }
        }
        let efficiency = if cores >= 2 {
            (median(one) / median(many) / threads as f64).min(1.0)
        } else {
            1.0
        };
        let per_thread = ((rss_n - rss1) / (threads - 1) as f64).max(0.0);
        Ok((
            Parallel {
                threads,
                efficiency: round(efficiency, 3),
            },
            Rss {
                base_mib: round(rss1 - per_thread, 1),
                per_thread_mib: round(per_thread, 1),
            },
        ))
    }
}

/// Measures every table, format and codec on one thread, then start-up,
/// parallel efficiency and RSS per thread.
pub fn calibrate(opts: &Options<'_>) -> Result<Calibration, Error> {
    let tmp = tempfile::Builder::new()
        .prefix("marketpulse-calibrate-")
        .tempdir()
        .map_err(|e| Error::runtime(format!("calibrate: cannot make a temporary folder: {e}")))?;
    let (scale, runs) = if opts.quick { (0.1, 2) } else { (1.0, 3) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let errors = tmp.path().join("stderr.txt");
    let mut measured = Runs {
        opts,
        tmp,
        seq: 0,
        errors,
    };
    let startup_seconds = measured.startup_seconds()?;
    let tables = measured.tables(scale, runs, startup_seconds)?;
    let (parallel, rss) = measured.parallel((scale, runs, cores), startup_seconds)?;
    Ok(Calibration {
        version: VERSION,
        quick: opts.quick,
        command: opts.command.clone(),
        producer_version: opts.producer_version.clone(),
        build: opts.build.clone(),
        cpu: cpu_model(),
        cores,
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        scale,
        runs,
        startup_seconds: round(startup_seconds, 4),
        parallel,
        rss,
        tables,
    })
}
