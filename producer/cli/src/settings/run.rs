//! Settings checked and turned into a run: the dataset spec, where it goes,
//! how it is paced. Every check happens here, before anything is written.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use figment::value::{Dict, Value};
use marketpulse_gen::spec::{DirtyConfig, MAX_DAYS, MAX_SCALE, WorldConfig, parse_date};
use marketpulse_gen::{Compression, DatasetSpec, Domain, Format};

use super::layers;
use super::loaded::{Loaded, Mode};
use super::origin::Origin;
use crate::console::say;
use crate::error::Error;
use crate::pipeline::schedule::Profile;
use crate::sinks::SinkOptions;

/// How a real-time run is paced.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Pace {
    /// Events per second, in total over the fleet's shards.
    Rate(f64),
    /// Simulated seconds per wall-clock second.
    Speedup(f64),
    /// A rate profile, in total over the shards; with `--rate`, the mean
    /// rate of a diurnal profile.
    Profile(Profile, Option<f64>),
}

/// A real-time run: its pace and micro-batches.
#[derive(Clone, Debug)]
pub(crate) struct RealtimeOptions {
    pub(crate) pace: Pace,
    /// Object sinks: a file per domain every this many seconds of event time.
    pub(crate) flush_seconds: u32,
    /// Object sinks: or once a file's rows reach this size (estimated).
    pub(crate) flush_bytes: usize,
    /// Stop after this long (the manifest then says `complete: false`).
    pub(crate) duration: Option<Duration>,
}

/// A resolved `generate`.
pub(crate) struct Run {
    pub spec: DatasetSpec,
    /// The lake: a folder or `s3://bucket/prefix`; with `records`, where the
    /// manifest and truth sidecars go.
    pub out: String,
    /// Events go to this record sink URL instead of the lake.
    pub records: Option<String>,
    pub threads: usize,
    pub shard_index: u32,
    pub shard_count: u32,
    /// Where the shard index came from: a flag, a variable, the config
    /// file, an engine's variable (`AWS_BATCH_JOB_ARRAY_INDEX`), or default.
    pub shard_source: String,
    /// Print the plan and write nothing.
    pub dry_run: bool,
    /// Continue a killed run of this shard.
    pub resume: bool,
    /// Write even into a lake of another dataset.
    pub force: bool,
    /// How long a lock on S3 outlives its holder's last renewal.
    pub lock_lease: Duration,
    /// Set in real-time mode.
    pub realtime: Option<RealtimeOptions>,
    pub sinks: SinkOptions,
    pub metrics_json: Option<PathBuf>,
    pub emf: bool,
    /// No progress on stderr.
    pub quiet: bool,
    /// Without a terminal, a progress line this often.
    pub progress_every: Duration,
}

/// `defaults` with each key of `given` replacing the default's whole value.
fn overlay(defaults: &Dict, table: &str, given: &Dict) -> Value {
    let mut merged = match defaults.get(table) {
        Some(Value::Dict(_, d)) => d.clone(),
        _ => Dict::new(),
    };
    for (k, v) in given {
        merged.insert(k.clone(), v.clone());
    }
    Value::from(merged)
}

fn in_range(l: &Loaded, key: &str, v: i64, lo: i64, hi: i64) -> Result<i64, Error> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(l.invalid(key, format!("must be between {lo} and {hi}")))
    }
}

/// A number between `min` and `max`: what a `Duration` of it holds.
fn within(
    l: &Loaded,
    key: &str,
    v: Option<f64>,
    min: f64,
    max: f64,
    unit: &str,
) -> Result<Option<f64>, Error> {
    match v {
        Some(x) if !(x.is_finite() && (min..=max).contains(&x)) => {
            Err(l.invalid(key, format!("must be between {min} and {max}{unit}")))
        }
        v => Ok(v),
    }
}

/// The tables to generate. Record sinks carry events; their default is
/// the event tables.
fn domains(l: &Loaded, events_only: bool) -> Result<Vec<Domain>, Error> {
    let domains_given = l.origin("domains") != Origin::Default;
    let mut domains = Vec::new();
    for name in &l.settings.domains {
        let d = Domain::from_name(name).ok_or_else(|| {
            l.invalid(
                "domains",
                format!(
                    "'{name}' is not a table (expected {})",
                    Domain::names().join(", ")
                ),
            )
        })?;
        if d.events().is_none() && events_only {
            if domains_given {
                return Err(l.invalid(
                    "domains",
                    format!("record sinks carry events, not {name} snapshots"),
                ));
            }
            continue;
        }
        domains.push(d);
    }
    domains.sort();
    domains.dedup();
    if domains.is_empty() {
        return Err(l.invalid("domains", "name at least one table"));
    }
    Ok(domains)
}

/// Format and codec. Record sinks send plain JSON lines; files take the
/// format's default codec.
fn encoding(l: &Loaded, events_only: bool) -> Result<(Format, Compression), Error> {
    let s = &l.settings;
    let format_given = l.origin("format") != Origin::Default;
    let format = match (events_only, format_given) {
        (true, true) if s.format != Format::Jsonl => {
            return Err(l.invalid(
                "format",
                "record sinks send JSON lines (use --format jsonl or leave it out)",
            ));
        }
        (true, _) => Format::Jsonl,
        (false, _) => s.format,
    };
    let compression = match (events_only, s.compression) {
        (true, Some(c)) if c != Compression::None => {
            return Err(l.invalid(
                "compression",
                "record sinks send plain JSON lines: leave --compression out or set none",
            ));
        }
        (true, _) => Compression::None,
        (false, Some(c)) => c,
        (false, None) => Compression::default_for(format),
    };
    Ok((format, compression))
}

/// The dataset spec, `[world]` and `[dirty]` over their defaults, checked;
/// an error names the key where its layer set it.
fn dataset_spec(
    l: &Loaded,
    (start, days): (NaiveDate, u32),
    domains: Vec<Domain>,
    (format, compression): (Format, Compression),
) -> Result<DatasetSpec, Error> {
    let s = &l.settings;
    let defaults = layers::default_table();
    let world: WorldConfig = overlay(&defaults, "world", &s.world)
        .deserialize()
        .map_err(|e| layers::explain(&l.figment, l.file.as_ref(), &["world"], e))?;
    let dirty: DirtyConfig = overlay(&defaults, "dirty", &s.dirty)
        .deserialize()
        .map_err(|e| layers::explain(&l.figment, l.file.as_ref(), &["dirty"], e))?;
    let spec = DatasetSpec {
        contract_version: marketpulse_gen::spec::CONTRACT_VERSION,
        start,
        days,
        scale: s.scale,
        seed: s.seed,
        format,
        compression,
        domains,
        world,
        dirty,
    };
    spec.validate().map_err(|e| match e.key.split_once('.') {
        Some((table, _)) => Error::usage(format!(
            "invalid [{table}] config ({}): {}",
            l.origin(&e.key).location(),
            e.message
        )),
        None if e.key == "world" || e.key == "dirty" => Error::usage(format!(
            "invalid [{}] config ({}): {}",
            e.key,
            l.origin(&e.key).location(),
            e.message
        )),
        None => l.invalid(&e.key, e.message),
    })?;
    Ok(spec)
}

fn sink_options(l: &Loaded) -> Result<SinkOptions, Error> {
    let s = &l.settings;
    let mib = |key: &str, v: i64| in_range(l, key, v, 5, 5120).map(|v| (v as usize) << 20);
    Ok(SinkOptions {
        endpoint_url: s.endpoint_url.clone(),
        sse_kms_key: s.sse_kms_key.clone(),
        no_overwrite: s.no_overwrite,
        multipart_threshold: mib("multipart_threshold_mib", s.multipart_threshold_mib)?,
        part_size: mib("part_size_mib", s.part_size_mib)?,
        concurrency: s
            .concurrency
            .map(|c| in_range(l, "concurrency", c, 1, 256).map(|c| c as usize))
            .transpose()?,
        skip_check: s.skip_sink_check,
    })
}

pub(super) fn build(l: &Loaded) -> Result<Run, Error> {
    let s = &l.settings;
    let start =
        parse_date(&s.start).ok_or_else(|| l.invalid("start", "expected a date YYYY-MM-DD"))?;
    let days = in_range(l, "days", s.days, 1, MAX_DAYS as i64)?;
    if !(s.scale.is_finite() && s.scale > 0.0 && s.scale <= MAX_SCALE) {
        return Err(l.invalid(
            "scale",
            format!("must be a number above 0 and at most {MAX_SCALE}"),
        ));
    }
    let threads = match s.threads {
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(t) => in_range(l, "threads", t, 1, 1024)? as usize,
    };
    let shard_count = in_range(l, "shard_count", s.shard_count, 1, 1_000_000)?;
    let (shard_index, shard_source) = shard_index(l, shard_count)?;
    let records = s.sink.clone();
    let events_only = records.is_some();
    let domains = domains(l, events_only)?;
    let encoding = encoding(l, events_only)?;
    let spec = dataset_spec(l, (start, days as u32), domains, encoding)?;
    let realtime = realtime(l)?;
    let sinks = sink_options(l)?;
    if s.resume && s.mode == Mode::Realtime {
        return Err(Error::usage(format!(
            "{} needs --mode backfill: a real-time run is paced by the clock and starts anew",
            l.describe("resume")
        )));
    }
    let lock_lease = in_range(l, "lock_lease_seconds", s.lock_lease_seconds, 1, 3600)?;
    check_applies(l)?;
    if let Some(path) = &s.metrics_json {
        check_writable(l, "metrics_json", std::path::Path::new(path))?;
    }
    Ok(Run {
        spec,
        out: s.out.clone(),
        records,
        threads,
        shard_index: shard_index as u32,
        shard_count: shard_count as u32,
        shard_source,
        dry_run: s.dry_run,
        resume: s.resume,
        force: s.force,
        lock_lease: Duration::from_secs(lock_lease as u64),
        realtime,
        sinks,
        metrics_json: s.metrics_json.as_ref().map(PathBuf::from),
        emf: s.emf,
        quiet: s.quiet,
        progress_every: Duration::from_secs(in_range(
            l,
            "progress_seconds",
            s.progress_seconds,
            1,
            3600,
        )? as u64),
    })
}

/// Options that do not apply to the chosen destinations: an error where the
/// user surely meant something else, a warning where it is harmless.
fn check_applies(l: &Loaded) -> Result<(), Error> {
    let s = &l.settings;
    let s3 = s.out.starts_with("s3://");
    let streams = s
        .sink
        .as_deref()
        .is_some_and(|k| k.starts_with("kinesis://") || k.starts_with("firehose://"));
    let given = |key: &str| l.origin(key) != Origin::Default;
    if s.sse_kms_key.is_some() && !s3 {
        return Err(l.invalid(
            "sse_kms_key",
            format!(
                "applies to S3 lakes (--out s3://...); {} is a folder",
                s.out
            ),
        ));
    }
    let mut idle: Vec<String> = Vec::new();
    if given("endpoint_url") && !s3 && !streams {
        idle.push(l.describe("endpoint_url"));
    }
    for key in [
        "multipart_threshold_mib",
        "part_size_mib",
        "lock_lease_seconds",
    ] {
        if given(key) && !s3 {
            idle.push(l.describe(key));
        }
    }
    if !idle.is_empty() {
        say!(
            "marketpulse: warning: {} apply only to S3 or AWS streams, not to {}",
            idle.join(", "),
            s.out
        );
    }
    Ok(())
}

/// A file the run will write once it ends: its folder must exist and take
/// files now, so the run does not fail at its end.
fn check_writable(l: &Loaded, key: &str, path: &std::path::Path) -> Result<(), Error> {
    if path.is_dir() {
        return Err(l.invalid(key, "is a folder, not a file"));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        return Err(l.invalid(key, format!("folder {} does not exist", parent.display())));
    }
    tempfile::Builder::new()
        .prefix(".mp-probe-")
        .tempfile_in(parent)
        .map(|_| ())
        .map_err(|e| l.invalid(key, format!("cannot write in {}: {e}", parent.display())))
}

fn realtime(l: &Loaded) -> Result<Option<RealtimeOptions>, Error> {
    let s = &l.settings;
    let flush_seconds = in_range(l, "flush_seconds", s.flush_seconds, 1, 3600)? as u32;
    let flush_bytes = (in_range(l, "flush_mb", s.flush_mb, 1, 4096)? as usize) << 20;
    if s.mode == Mode::Backfill {
        for key in [
            "rate",
            "rate_profile",
            "speedup",
            "duration",
            "flush_seconds",
            "flush_mb",
        ] {
            if l.origin(key) != Origin::Default {
                return Err(Error::usage(format!(
                    "{} needs --mode realtime",
                    l.describe(key)
                )));
            }
        }
        return Ok(None);
    }
    if s.rate.is_some() && s.speedup.is_some() {
        return Err(Error::usage(format!(
            "{} and {} cannot be used together: pace by rate or by speed-up",
            l.describe("rate"),
            l.describe("speedup")
        )));
    }
    let rate = within(l, "rate", s.rate, 0.001, 10_000_000.0, " events/s")?;
    let speedup = within(l, "speedup", s.speedup, 0.001, 10_000_000.0, "")?;
    let duration = within(l, "duration", s.duration, 0.001, 1e9, " seconds")?;
    let profile = match &s.rate_profile {
        None => None,
        Some(text) => Some(Profile::parse(text).map_err(|why| l.invalid("rate_profile", why))?),
    };
    let pace = match (profile, rate, speedup) {
        (Some(_), _, Some(_)) => {
            return Err(Error::usage(format!(
                "{} and {} cannot be used together: pace by profile or by speed-up",
                l.describe("rate_profile"),
                l.describe("speedup")
            )));
        }
        (Some(Profile::Segments(_)), Some(_), _) => {
            return Err(Error::usage(format!(
                "{} and {} cannot be used together: the segments give the rates (only diurnal:SPEEDUP takes a mean --rate)",
                l.describe("rate_profile"),
                l.describe("rate")
            )));
        }
        (Some(p), r, None) => Pace::Profile(p, r),
        (None, Some(r), _) => Pace::Rate(r),
        (None, None, Some(x)) => Pace::Speedup(x),
        (None, None, None) => Pace::Speedup(1.0),
    };
    Ok(Some(RealtimeOptions {
        pace,
        flush_seconds,
        flush_bytes,
        duration: duration.map(Duration::from_secs_f64),
    }))
}

/// The shard index and where it came from: the settings when a layer set
/// it, else the engine's environment (`engine.rs`), else 0.
fn shard_index(l: &Loaded, shard_count: i64) -> Result<(i64, String), Error> {
    let origin = l.origin("shard_index");
    let engine = if origin == Origin::Default {
        super::engine::shard_from(|k| std::env::var(k).ok())
            .map_err(|why| Error::usage(format!("invalid {why}")))?
    } else {
        None
    };
    let (index, source, described) = match engine {
        Some((i, var)) => (i, var.to_string(), format!("{var} (shard {i})")),
        None => (
            l.settings.shard_index,
            origin.location(),
            l.describe("shard_index"),
        ),
    };
    if index < 0 || index >= shard_count {
        return Err(Error::usage(format!(
            "invalid {described}: must be below --shard-count {shard_count}"
        )));
    }
    Ok((index, source))
}
