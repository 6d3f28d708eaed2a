//! `calibrate` and `plan` on the command line: their flags and settings,
//! over the capacity crate (`marketpulse-capacity`), which measures this
//! binary and holds the model.

use std::path::{Path, PathBuf};

use marketpulse_capacity::{Engine, LakeTotals, Options, Request, Sink};
use marketpulse_gen::DatasetSpec;

use crate::cli::{GenerateArgs, PlanArgs};
use crate::console::{self, say};
use crate::error::Error;
use crate::manifest::{MANIFEST_DIR, Manifest};

/// Rows, data bytes and data files of `domain` in a lake's manifests.
fn lake_totals(lake: &Path, domain: &str) -> Result<LakeTotals, marketpulse_capacity::Error> {
    let failed = |what: String| marketpulse_capacity::Error::Runtime(format!("calibrate: {what}"));
    let dir = lake.join(MANIFEST_DIR);
    let mut totals = LakeTotals::default();
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| failed(format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.contains("-shard-") || !name.ends_with(".json") {
            continue;
        }
        let text =
            std::fs::read(entry.path()).map_err(|e| failed(format!("cannot read {name}: {e}")))?;
        let m: Manifest = serde_json::from_slice(&text)
            .map_err(|e| failed(format!("cannot read {name}: {e}")))?;
        for f in m.files.iter().filter(|f| f.domain == domain) {
            totals.rows += f.rows;
            totals.bytes += f.bytes;
            totals.files += 1;
        }
    }
    Ok(totals)
}

/// `marketpulse calibrate`: measures this binary and writes the calibration.
pub(crate) fn calibrate(out: Option<PathBuf>, quick: bool) -> Result<(), Error> {
    let out = out.unwrap_or_else(|| PathBuf::from("calibration.json"));
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Error::usage(format!(
            "invalid --out {}: {} is not a folder",
            out.display(),
            parent.display()
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::runtime(format!("calibrate: cannot find this program: {e}")))?;
    let c = marketpulse_capacity::calibrate(&Options {
        exe: &exe,
        quick,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_string(),
        lake_totals: &lake_totals,
        progress: &|line| say!("{line}"),
    })?;
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&c).expect("calibration serialises")
    );
    // Written aside and renamed: a reader never sees half a file.
    let tmp = out.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &out))
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", out.display())))?;
    say!(
        "calibrate: {} tables, start-up {:.3} s, {} threads at {:.0}% efficiency, {:.0} MiB + {:.0} MiB per thread; written to {}",
        c.tables.len(),
        c.startup_seconds,
        c.parallel.threads,
        c.parallel.efficiency * 100.0,
        c.rss.base_mib,
        c.rss.per_thread_mib,
        out.display()
    );
    Ok(())
}

/// The dataset spec of the planned window at scale 1, read through the same
/// settings layers as `generate` (config file, environment, flags).
fn window_spec(a: &PlanArgs, sink: Sink) -> Result<DatasetSpec, Error> {
    let mut domains = a.domains.clone();
    if domains.is_none() && sink != Sink::S3 {
        // Streams carry events.
        domains = Some(vec!["sales".to_string(), "clicks".to_string()]);
    }
    let g = GenerateArgs {
        config: a.config.clone(),
        start: a.start.clone(),
        days: Some(a.days.unwrap_or(30)),
        scale: Some(1.0),
        domains,
        format: a.format.clone(),
        compression: a.compression.clone(),
        threads: Some(1),
        quiet: true,
        ..GenerateArgs::default()
    };
    let loaded = crate::settings::load(&g)?;
    Ok(crate::settings::resolve(&loaded)?.spec)
}

/// `plan`'s flags, checked, as a request.
fn request(a: &PlanArgs) -> Result<Request, Error> {
    let per_day = a.events_per_day;
    if !(per_day.is_finite() && per_day > 0.0) {
        return Err(Error::usage(format!(
            "invalid --events-per-day {per_day}: must be a number above 0"
        )));
    }
    if let Some(h) = a.backfill_hours
        && !(h.is_finite() && h > 0.0)
    {
        return Err(Error::usage(format!(
            "invalid --backfill-hours {h}: must be a number above 0"
        )));
    }
    let threads = match a.threads {
        Some(t) if !(1..=1024).contains(&t) => {
            return Err(Error::usage(format!(
                "invalid --threads {t}: must be between 1 and 1024"
            )));
        }
        Some(t) => Some(t as usize),
        None => None,
    };
    let sink = match a.sink.as_str() {
        "kinesis" => Sink::Kinesis,
        "firehose" => Sink::Firehose,
        _ => Sink::S3,
    };
    if sink != Sink::S3 && (a.format.is_some() || a.compression.is_some()) {
        return Err(Error::usage(format!(
            "--format and --compression are the lake's: --sink {} carries JSON lines, one event per record",
            a.sink
        )));
    }
    Ok(Request {
        events_per_day: per_day,
        window: window_spec(a, sink)?,
        sink,
        engine: if a.engine == "ecs" {
            Engine::Ecs
        } else {
            Engine::Emr
        },
        spot: a.spot,
        instance: a.instance.clone(),
        backfill_hours: a.backfill_hours,
        threads,
        calibration: a.calibration.clone(),
        prices: a.prices.clone(),
    })
}

/// `marketpulse plan`: prints the plan as text or JSON.
pub(crate) fn plan(a: &PlanArgs) -> Result<(), Error> {
    let p = marketpulse_capacity::plan(&request(a)?)?;
    if a.json {
        console::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&p.to_json()).expect("plan serialises")
        ));
    } else {
        console::out(&p.render());
    }
    Ok(())
}
