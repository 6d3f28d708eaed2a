//! Capacity and cost: `calibrate` measures this machine, `plan` answers
//! "what does N events a day need, and cost" from a calibration and a dated
//! price table. Both compiled-in defaults are files of the repository
//! (`load-tests/results/calibration.json`, `load-tests/prices/`), so a plan
//! needs no network and names what it used.

pub(crate) mod calibration;
mod compute;
pub(crate) mod model;
pub(crate) mod numbers;
pub(crate) mod prices;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use marketpulse_gen::spec::MAX_SCALE;
use marketpulse_gen::{Compression, DatasetSpec, Format, Generator};
use serde_json::json;

use crate::cli::{GenerateArgs, PlanArgs};
use crate::console::{self, say};
use crate::error::Error;
use calibration::Calibration;
use model::{Engine, Input, Items, Machine, Sink, Table};
use numbers::n;
use prices::Prices;

/// The reference machine's calibration, compiled in.
pub(crate) const REFERENCE_NAME: &str = "load-tests/results/calibration.json";
const REFERENCE_TEXT: &str = include_str!("../../../../load-tests/results/calibration.json");

fn read_text(path: &Path, what: &str) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read {what} {}: {e}", path.display())))
}

pub(crate) fn parse_calibration(name: &str, text: &str) -> Result<Calibration, Error> {
    let c: Calibration = serde_json::from_str(text)
        .map_err(|e| Error::usage(format!("invalid calibration {name}: {e}")))?;
    if c.version != calibration::VERSION {
        return Err(Error::usage(format!(
            "invalid calibration {name}: layout version {}, this program reads {}",
            c.version,
            calibration::VERSION
        )));
    }
    let bad = |why: String| Error::usage(format!("invalid calibration {name}: {why}"));
    for e in &c.tables {
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
                return Err(bad(format!(
                    "{table}: {field} is {v}, not a number {least}"
                )));
            }
        }
    }
    let eff = c.parallel.efficiency;
    if !(eff > 0.0 && eff <= 1.0) {
        return Err(bad(format!(
            "parallel.efficiency is {eff}, not above 0 and at most 1"
        )));
    }
    if c.cores == 0 || !(c.startup_seconds.is_finite() && c.startup_seconds >= 0.0) {
        return Err(bad(
            "cores must be at least 1 and startup_seconds at least 0".to_string(),
        ));
    }
    Ok(c)
}

pub(crate) fn reference() -> Calibration {
    parse_calibration(REFERENCE_NAME, REFERENCE_TEXT).expect("the compiled-in calibration reads")
}

/// A quick calibration is small runs: its speeds, relative to what the
/// reference model says the reference machine would have taken for the same
/// rows and files, scale the reference onto this machine. One ratio per
/// format (the median over its tables and codecs: single short runs are
/// noisy, while formats differ, a debug build's encoders most), else the
/// median of all. Sizes stay the reference's, measured on full days; so
/// does the parallel efficiency when the core counts match, as small runs
/// measure it poorly.
pub(crate) fn onto_machine(quick: &Calibration, reference: &Calibration) -> (Calibration, f64) {
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
        (!v.is_empty()).then(|| calibration::median(v))
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
    let c = calibration::calibrate(&calibration::Options { quick })?;
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

fn sink_of(name: &str) -> Sink {
    match name {
        "kinesis" => Sink::Kinesis,
        "firehose" => Sink::Firehose,
        _ => Sink::S3,
    }
}

/// A plan, before it is printed.
pub(crate) struct Computed {
    pub headline: String,
    pub calibration_note: String,
    pub calibration: Calibration,
    pub prices: Prices,
    pub items: Items,
    pub inputs: serde_json::Value,
}

pub(crate) fn plan(a: &PlanArgs) -> Result<(), Error> {
    let p = compute(a)?;
    if a.json {
        let cal = &p.calibration;
        let out = json!({
            "plan": p.headline,
            "inputs": p.inputs,
            "calibration": {
                "name": p.calibration_note, "cpu": cal.cpu, "cores": cal.cores,
                "build": cal.build, "date": cal.date, "quick": cal.quick,
            },
            "prices": {
                "name": p.prices.name, "source": p.prices.source,
                "date": p.prices.date, "region": p.prices.region,
            },
            "items": p.items.0,
        });
        console::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&out).expect("plan serialises")
        ));
    } else {
        console::out(&render(&p));
    }
    Ok(())
}

pub(crate) fn compute(a: &PlanArgs) -> Result<Computed, Error> {
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
    let prices = match &a.prices {
        Some(p) => Prices::parse(&p.display().to_string(), &read_text(p, "price file")?)?,
        None => Prices::parse(prices::DEFAULT_NAME, prices::DEFAULT_TEXT)?,
    };
    let instance_type = a
        .instance
        .clone()
        .unwrap_or_else(|| "c7i.2xlarge".to_string());
    prices.instance(&instance_type)?;
    let (cal_name, given) = match &a.calibration {
        Some(p) => {
            let name = p.display().to_string();
            let c = parse_calibration(&name, &read_text(p, "calibration")?)?;
            (name, c)
        }
        None => (REFERENCE_NAME.to_string(), reference()),
    };
    let (cal, cal_note) = if given.quick {
        let (c, factor) = onto_machine(&given, &reference());
        (
            c,
            format!(
                "{cal_name}, a quick calibration: the reference ({REFERENCE_NAME}) at {} times its speed",
                n(factor)
            ),
        )
    } else {
        (given, cal_name.clone())
    };
    let sink = sink_of(&a.sink);
    let engine = if a.engine == "ecs" {
        Engine::Ecs
    } else {
        Engine::Emr
    };

    let mut spec = window_spec(a, sink)?;
    let days = spec.days as f64;
    let at_one = Generator::new(&spec)
        .map_err(|e| Error::usage(e.to_string()))?
        .summarize(0, 1);
    let per_day_at_one = at_one.events() as f64 / days;
    if per_day_at_one <= 0.0 {
        return Err(Error::usage(
            "the world gives no events in this window: plan needs sales or clicks among --domains",
        ));
    }
    let scale = per_day / per_day_at_one;
    // One dataset spec has limits (users, events per hour); above them the
    // volume runs as several datasets side by side, each with its own seed.
    let too_big = |why: String| {
        Error::usage(format!(
            "invalid --events-per-day {per_day:e}: more than 10,000 datasets of this world would be needed ({why})"
        ))
    };
    // At least what the scale and user limits need, then one more at a time
    // while an hour holds too many events.
    let users = spec.world.users as f64 * scale / marketpulse_gen::spec::MAX_USERS as f64;
    let least = (scale / MAX_SCALE).max(users).ceil().max(1.0);
    if least > 10_000.0 {
        return Err(too_big(format!("scale {scale:e}")));
    }
    let mut datasets = least as u32;
    let generator = loop {
        spec.scale = scale / f64::from(datasets);
        match Generator::new(&spec) {
            Ok(g) => break g,
            // Only the volume's limits: more datasets make each smaller.
            Err(e) if e.key == "scale" && datasets < 10_000 => datasets += 1,
            Err(e) if e.key == "scale" => return Err(too_big(e.to_string())),
            Err(e) => return Err(Error::usage(e.to_string())),
        }
    };
    let summary = generator.summarize(0, 1);
    let times = f64::from(datasets);
    let record_sink = sink != Sink::S3;
    let (format, compression) = if record_sink {
        if a.format.is_some() || a.compression.is_some() {
            return Err(Error::usage(format!(
                "--format and --compression are the lake's: --sink {} carries JSON lines, one event per record",
                a.sink
            )));
        }
        (Format::Jsonl, Compression::None)
    } else {
        (spec.format, spec.compression)
    };
    let entry = |domain: &str, f: Format, c: Compression| {
        cal.entry(domain, f, c).ok_or_else(|| {
            Error::usage(format!(
                "calibration {cal_name} has no {domain} {}/{} entry",
                f.name(),
                c.name()
            ))
        })
    };
    let mut tables = Vec::new();
    for t in &summary.tables {
        let name = t.domain.name();
        let e = entry(name, format, compression)?;
        tables.push(Table {
            name: name.to_string(),
            events: t.domain.events().is_some(),
            rows: t.rows as f64 * times,
            files: t.files as f64 * times,
            events_per_core_second: e.events_per_core_second,
            seconds_per_file: e.seconds_per_file,
            cpu_per_wall: e.cpu_per_wall,
            bytes_per_event: e.bytes_per_event,
            bytes_per_file: e.bytes_per_file,
            requests_per_file: e.requests as f64 / e.data_files.max(1) as f64,
            // Streams: the format is JSON lines, a record one line.
            record_bytes: e.bytes_per_event,
        });
    }
    let input = Input {
        events_per_day: per_day,
        days,
        tables,
        hourly_events: summary
            .hourly_events
            .iter()
            .map(|&h| h as f64 * times)
            .collect(),
        sink,
        engine,
        spot: a.spot,
        instance_type,
        backfill_hours: a.backfill_hours,
        threads: threads.unwrap_or(cal.cores),
    };
    let machine = Machine {
        startup_seconds: cal.startup_seconds,
        cores: cal.cores,
        efficiency: cal.parallel.efficiency,
    };
    let mut items = model::plan(&input, &machine, &prices)?;
    items.0.insert(
        0,
        model::Item {
            key: "scale".to_string(),
            label: "scale".to_string(),
            value: scale,
            unit: String::new(),
            formula: format!(
                "{} events/day / {} events/day at scale 1 ({} events in {} days)",
                n(per_day),
                n(per_day_at_one),
                n(at_one.events() as f64),
                n(days)
            ),
        },
    );
    if datasets > 1 {
        items.0.insert(
            1,
            model::Item {
                key: "datasets".to_string(),
                label: "datasets side by side".to_string(),
                value: f64::from(datasets),
                unit: String::new(),
                formula: format!(
                    "scale {} is above what one dataset spec takes (at most {} users, {} events of a table in an hour): {datasets} datasets of scale {}, each with its own --seed",
                    n(scale),
                    n(marketpulse_gen::spec::MAX_USERS as f64),
                    n(marketpulse_gen::spec::MAX_EVENTS_PER_HOUR as f64),
                    n(spec.scale)
                ),
            },
        );
    }
    let domains: Vec<&str> = spec.domains.iter().map(|d| d.name()).collect();
    let headline = format!(
        "{} events/day; {} day(s) from {}; {} as {}/{}; sink {}; {} {}{}",
        n(per_day),
        n(days),
        spec.start,
        domains.join(", "),
        format.name(),
        compression.name(),
        a.sink,
        if engine == Engine::Emr {
            format!("EMR on {}", input.instance_type)
        } else {
            "ECS Fargate".to_string()
        },
        if a.spot { "spot" } else { "on-demand" },
        a.backfill_hours
            .map_or(String::new(), |h| format!("; backfill within {} h", n(h)))
    );
    let inputs = json!({
        "events_per_day": per_day,
        "start": spec.start.to_string(),
        "days": spec.days,
        "domains": domains,
        "format": format.name(),
        "compression": compression.name(),
        "sink": a.sink,
        "engine": a.engine,
        "instance": input.instance_type,
        "spot": a.spot,
        "backfill_hours": a.backfill_hours,
        "threads": input.threads,
    });
    Ok(Computed {
        headline,
        calibration_note: cal_note,
        calibration: cal,
        prices,
        items,
        inputs,
    })
}

fn render(p: &Computed) -> String {
    let (headline, cal_note, cal, prices, items) = (
        &p.headline,
        &p.calibration_note,
        &p.calibration,
        &p.prices,
        &p.items,
    );
    let mut s = format!(
        "plan: {headline}\ncalibration: {cal_note} ({} build, {} cores of {}, {})\nprices: {} ({}, {}; {})\n\n",
        cal.build,
        cal.cores,
        cal.cpu,
        cal.date,
        prices.name,
        prices.region,
        prices.date,
        prices.source
    );
    let width = items.0.iter().map(|i| i.label.len()).max().unwrap_or(0);
    for i in &items.0 {
        let value = match i.unit.as_str() {
            "USD" => format!("{} USD", numbers::money(i.value)),
            "" => n(i.value),
            u if i.value >= 1000.0 || i.value == i.value.trunc() => {
                format!("{} {u}", n(i.value.round()))
            }
            u => format!("{:.3} {u}", i.value),
        };
        s.push_str(&format!(
            "{:<width$}  {:>24}  = {}\n",
            i.label, value, i.formula
        ));
    }
    s
}
