//! A calibration: what a machine does per table, format and codec (speed,
//! CPU, bytes per row and per file), its start-up, parallel efficiency and
//! RSS. `measure` makes one; the reference machine's is compiled in
//! (`load-tests/results/calibration.json`), and a quick calibration scales
//! it onto another machine.

use marketpulse_gen::{Compression, Format};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The calibration file's layout version.
pub(crate) const VERSION: u32 = 1;

/// The reference machine's calibration, compiled in.
pub const REFERENCE_NAME: &str = "load-tests/results/calibration.json";
const REFERENCE_TEXT: &str = include_str!("../../../load-tests/results/calibration.json");

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
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
pub struct Parallel {
    /// clicks, Parquet/zstd on this many threads (the machine's cores) ...
    pub threads: usize,
    /// ... ran this share of `threads` times the one-thread rate.
    pub efficiency: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Rss {
    /// Peak RSS of a one-thread run, less one thread's share.
    pub base_mib: f64,
    /// What each further worker thread adds to the peak.
    pub per_thread_mib: f64,
}

/// One measured day: its manifest's totals and the run's resources.
#[derive(Default)]
pub(crate) struct Point {
    pub rows: u64,
    pub bytes: u64,
    pub files: u64,
    pub requests: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub rss_mib: f64,
}

/// A table, format and codec. Time and size are fitted as a cost per row
/// plus a cost per file (a Parquet footer, a file's start) from a day at
/// the calibration's scale and one at a tenth of it; a quick calibration
/// measures the first only and puts everything on the rows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
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
    pub(crate) fn fit(
        (domain, format, compression): (&str, Format, Compression),
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
    pub fn entry(&self, domain: &str, format: Format, compression: Compression) -> Option<&Entry> {
        self.tables.iter().find(|e| {
            e.domain == domain && e.format == format.name() && e.compression == compression.name()
        })
    }

    /// The calibration file `name`'s `text`, checked.
    pub fn parse(name: &str, text: &str) -> Result<Calibration, Error> {
        let c: Calibration = serde_json::from_str(text)
            .map_err(|e| Error::usage(format!("invalid calibration {name}: {e}")))?;
        if c.version != VERSION {
            return Err(Error::usage(format!(
                "invalid calibration {name}: layout version {}, this program reads {VERSION}",
                c.version
            )));
        }
        c.check()
            .map_err(|why| Error::usage(format!("invalid calibration {name}: {why}")))?;
        Ok(c)
    }

    fn check(&self) -> Result<(), String> {
        for e in &self.tables {
            let table = format!("{} {}/{}", e.domain, e.format, e.compression);
            for (field, v, positive) in [
                ("events_per_core_second", e.events_per_core_second, true),
                ("cpu_per_wall", e.cpu_per_wall, true),
                ("seconds_per_file", e.seconds_per_file, false),
                ("bytes_per_event", e.bytes_per_event, false),
                ("bytes_per_file", e.bytes_per_file, false),
            ] {
                if !(v.is_finite() && (v > 0.0 || (!positive && v == 0.0))) {
                    let least = if positive { "above 0" } else { "at least 0" };
                    return Err(format!("{table}: {field} is {v}, not a number {least}"));
                }
            }
        }
        let eff = self.parallel.efficiency;
        if !(eff > 0.0 && eff <= 1.0) {
            return Err(format!(
                "parallel.efficiency is {eff}, not above 0 and at most 1"
            ));
        }
        if self.cores == 0 || !(self.startup_seconds.is_finite() && self.startup_seconds >= 0.0) {
            return Err("cores must be at least 1 and startup_seconds at least 0".to_string());
        }
        Ok(())
    }

    /// A quick calibration is small runs: its speeds, relative to what the
    /// reference model says the reference machine would have taken for the
    /// same rows and files, scale the reference onto this machine. One
    /// ratio per format (the median over its tables and codecs: single
    /// short runs are noisy, while formats differ, a debug build's encoders
    /// most), else the median of all. Sizes stay the reference's, measured
    /// on full days; so does the parallel efficiency when the core counts
    /// match, as small runs measure it poorly. Returns the scaled
    /// calibration and the overall factor.
    pub(crate) fn onto_machine(&self, reference: &Calibration) -> (Calibration, f64) {
        let quick = self;
        let ratios: Vec<(&str, f64)> = reference
            .tables
            .iter()
            .filter_map(|e| {
                let q = quick.tables.iter().find(|q| {
                    q.domain == e.domain && q.format == e.format && q.compression == e.compression
                })?;
                let work = (q.seconds - quick.startup_seconds).max(q.seconds * 0.05);
                Some((
                    e.format.as_str(),
                    e.seconds_for(q.rows as f64, q.data_files as f64) / work,
                ))
            })
            .collect();
        let median_of = |format: Option<&str>| {
            let v: Vec<f64> = ratios
                .iter()
                .filter(|(f, _)| format.is_none_or(|x| x == *f))
                .map(|r| r.1)
                .collect();
            (!v.is_empty()).then(|| median(v))
        };
        let factor = median_of(None).unwrap_or(1.0);
        let mut c = reference.clone();
        for e in &mut c.tables {
            let r = median_of(Some(&e.format)).unwrap_or(factor);
            e.events_per_core_second *= r;
            e.seconds_per_file /= r;
        }
        c.quick = true;
        c.cpu = quick.cpu.clone();
        c.cores = quick.cores;
        c.build = quick.build.clone();
        c.date = quick.date.clone();
        c.startup_seconds = quick.startup_seconds;
        if quick.cores != reference.cores {
            c.parallel = quick.parallel.clone();
        }
        (c, factor)
    }
}

/// The reference machine's calibration (`load-tests/results/calibration.json`).
pub fn reference() -> Calibration {
    Calibration::parse(REFERENCE_NAME, REFERENCE_TEXT).expect("the compiled-in calibration reads")
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

pub(crate) fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}
