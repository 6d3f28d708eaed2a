//! `marketpulse plan`: what N events a day need and cost. The window's
//! volumes come from the generator's own plan at the scale that gives N
//! (as several datasets side by side above one spec's limits), speeds and
//! sizes from a calibration, money from a price table; the model turns them
//! into line items.

use std::path::{Path, PathBuf};

use marketpulse_gen::spec::{MAX_EVENTS_PER_HOUR, MAX_SCALE, MAX_USERS};
use marketpulse_gen::{Compression, DatasetSpec, Format, Generator, PlanSummary};
use serde_json::json;

use crate::calibration::{Calibration, REFERENCE_NAME, reference};
use crate::error::Error;
use crate::input::{Engine, Input, Machine, Sink, Table};
use crate::items::{Item, Items};
use crate::model::line_items;
use crate::numbers::{money, n};
use crate::prices::{DEFAULT_NAME, DEFAULT_TEXT, Prices};

/// Most datasets side by side a plan may need.
const MAX_DATASETS: u32 = 10_000;
/// The instance type of the producers when none is given.
const DEFAULT_INSTANCE: &str = "c7i.2xlarge";

/// What to plan. Values are checked by the caller: `events_per_day` and
/// `backfill_hours` above 0, `threads` at least 1.
pub struct Request {
    pub events_per_day: f64,
    /// The planned window at scale 1: start, days, domains, world, and the
    /// lake's format and codec (a stream carries JSON lines whatever these).
    pub window: DatasetSpec,
    pub sink: Sink,
    pub engine: Engine,
    pub spot: bool,
    /// The producers' EC2 instance type [default: c7i.2xlarge].
    pub instance: Option<String>,
    pub backfill_hours: Option<f64>,
    /// Threads of the local run [default: the calibration's cores].
    pub threads: Option<usize>,
    /// A calibration file [default: the reference machine's, compiled in].
    pub calibration: Option<PathBuf>,
    /// A price table [default: the compiled-in one].
    pub prices: Option<PathBuf>,
}

/// A plan, ready to print.
pub struct Plan {
    headline: String,
    calibration_note: String,
    calibration: Calibration,
    prices: Prices,
    items: Items,
    inputs: serde_json::Value,
}

impl Sink {
    /// As `--sink` names it.
    pub fn name(self) -> &'static str {
        match self {
            Sink::S3 => "s3",
            Sink::Kinesis => "kinesis",
            Sink::Firehose => "firehose",
        }
    }
}

impl Engine {
    /// As `--engine` names it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Emr => "emr",
            Engine::Ecs => "ecs",
        }
    }
}

fn read_text(path: &Path, what: &str) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read {what} {}: {e}", path.display())))
}

fn load_prices(path: Option<&Path>) -> Result<Prices, Error> {
    match path {
        Some(p) => Prices::parse(&p.display().to_string(), &read_text(p, "price file")?),
        None => Prices::parse(DEFAULT_NAME, DEFAULT_TEXT),
    }
}

/// The calibration to plan with: its file, and how the plan names it (a
/// quick one scales the reference onto its machine).
struct Loaded {
    calibration: Calibration,
    file: String,
    note: String,
}

fn load_calibration(path: Option<&Path>) -> Result<Loaded, Error> {
    let (file, given) = match path {
        Some(p) => {
            let name = p.display().to_string();
            let c = Calibration::parse(&name, &read_text(p, "calibration")?)?;
            (name, c)
        }
        None => (REFERENCE_NAME.to_string(), reference()),
    };
    if !given.quick {
        return Ok(Loaded {
            calibration: given,
            note: file.clone(),
            file,
        });
    }
    let (calibration, factor) = given.onto_machine(&reference());
    let note = format!(
        "{file}, a quick calibration: the reference ({REFERENCE_NAME}) at {} times its speed",
        n(factor)
    );
    Ok(Loaded {
        calibration,
        file,
        note,
    })
}

/// The window's volume at the scale that gives the planned events a day.
struct Volume {
    /// Events a day at scale 1, and the events of the window at scale 1.
    per_day_at_one: f64,
    events_at_one: f64,
    scale: f64,
    /// Datasets side by side, each at `spec.scale`.
    datasets: u32,
    spec: DatasetSpec,
    /// The plan of one dataset.
    summary: PlanSummary,
}

/// Scale and datasets for `per_day` events a day. One dataset spec has
/// limits (users, events per hour); above them the volume runs as several
/// datasets side by side, each with its own seed.
fn volume(per_day: f64, mut spec: DatasetSpec) -> Result<Volume, Error> {
    let days = f64::from(spec.days);
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
    let too_big = |why: String| {
        Error::usage(format!(
            "invalid --events-per-day {per_day:e}: more than 10,000 datasets of this world would be needed ({why})"
        ))
    };
    // At least what the scale and user limits need, then one more at a time
    // while an hour holds too many events.
    let users = spec.world.users as f64 * scale / MAX_USERS as f64;
    let least = (scale / MAX_SCALE).max(users).ceil().max(1.0);
    if least > f64::from(MAX_DATASETS) {
        return Err(too_big(format!("scale {scale:e}")));
    }
    let mut datasets = least as u32;
    let generator = loop {
        spec.scale = scale / f64::from(datasets);
        match Generator::new(&spec) {
            Ok(g) => break g,
            // Only the volume's limits: more datasets make each smaller.
            Err(e) if e.key == "scale" && datasets < MAX_DATASETS => datasets += 1,
            Err(e) if e.key == "scale" => return Err(too_big(e.to_string())),
            Err(e) => return Err(Error::usage(e.to_string())),
        }
    };
    Ok(Volume {
        per_day_at_one,
        events_at_one: at_one.events() as f64,
        scale,
        datasets,
        summary: generator.summarize(0, 1),
        spec,
    })
}

/// The window's tables in `datasets` side by side, with the calibration's
/// speeds and sizes of `format` and `codec`.
fn tables(
    v: &Volume,
    cal: &Loaded,
    (format, compression): (Format, Compression),
) -> Result<Vec<Table>, Error> {
    let times = f64::from(v.datasets);
    let mut tables = Vec::new();
    for t in &v.summary.tables {
        let name = t.domain.name();
        let e = cal
            .calibration
            .entry(name, format, compression)
            .ok_or_else(|| {
                Error::usage(format!(
                    "calibration {} has no {name} {}/{} entry",
                    cal.file,
                    format.name(),
                    compression.name()
                ))
            })?;
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
    Ok(tables)
}

/// How the scale, and the datasets when more than one, came about: the
/// first items of a plan.
fn volume_items(items: &mut Items, per_day: f64, v: &Volume) {
    let mut first = vec![Item {
        key: "scale".to_string(),
        label: "scale".to_string(),
        value: v.scale,
        unit: String::new(),
        formula: format!(
            "{} events/day / {} events/day at scale 1 ({} events in {} days)",
            n(per_day),
            n(v.per_day_at_one),
            n(v.events_at_one),
            n(f64::from(v.spec.days))
        ),
    }];
    if v.datasets > 1 {
        first.push(Item {
            key: "datasets".to_string(),
            label: "datasets side by side".to_string(),
            value: f64::from(v.datasets),
            unit: String::new(),
            formula: format!(
                "scale {} is above what one dataset spec takes (at most {} users, {} events of a table in an hour): {} datasets of scale {}, each with its own --seed",
                n(v.scale),
                n(MAX_USERS as f64),
                n(MAX_EVENTS_PER_HOUR as f64),
                v.datasets,
                n(v.spec.scale)
            ),
        });
    }
    items.0.splice(0..0, first);
}

/// Plans `r`.
pub fn plan(r: &Request) -> Result<Plan, Error> {
    let prices = load_prices(r.prices.as_deref())?;
    let instance_type = r
        .instance
        .clone()
        .unwrap_or_else(|| DEFAULT_INSTANCE.to_string());
    prices.instance(&instance_type)?;
    let cal = load_calibration(r.calibration.as_deref())?;
    let v = volume(r.events_per_day, r.window.clone())?;
    let encoding = if r.sink == Sink::S3 {
        (v.spec.format, v.spec.compression)
    } else {
        (Format::Jsonl, Compression::None)
    };
    let times = f64::from(v.datasets);
    let input = Input {
        events_per_day: r.events_per_day,
        days: f64::from(v.spec.days),
        tables: tables(&v, &cal, encoding)?,
        hourly_events: v
            .summary
            .hourly_events
            .iter()
            .map(|&h| h as f64 * times)
            .collect(),
        sink: r.sink,
        engine: r.engine,
        spot: r.spot,
        instance_type,
        backfill_hours: r.backfill_hours,
        threads: r.threads.unwrap_or(cal.calibration.cores),
    };
    let machine = Machine {
        startup_seconds: cal.calibration.startup_seconds,
        cores: cal.calibration.cores,
        efficiency: cal.calibration.parallel.efficiency,
    };
    let mut items = line_items(&input, &machine, &prices)?;
    volume_items(&mut items, r.events_per_day, &v);
    Ok(Plan {
        headline: headline(r, &input, &v.spec, encoding),
        inputs: inputs(r, &input, &v.spec, encoding),
        calibration_note: cal.note,
        calibration: cal.calibration,
        prices,
        items,
    })
}

fn headline(
    r: &Request,
    input: &Input,
    spec: &DatasetSpec,
    (format, compression): (Format, Compression),
) -> String {
    let domains: Vec<&str> = spec.domains.iter().map(|d| d.name()).collect();
    format!(
        "{} events/day; {} day(s) from {}; {} as {}/{}; sink {}; {} {}{}",
        n(r.events_per_day),
        n(input.days),
        spec.start,
        domains.join(", "),
        format.name(),
        compression.name(),
        r.sink.name(),
        if r.engine == Engine::Emr {
            format!("EMR on {}", input.instance_type)
        } else {
            "ECS Fargate".to_string()
        },
        if r.spot { "spot" } else { "on-demand" },
        r.backfill_hours
            .map_or(String::new(), |h| format!("; backfill within {} h", n(h)))
    )
}

fn inputs(
    r: &Request,
    input: &Input,
    spec: &DatasetSpec,
    (format, compression): (Format, Compression),
) -> serde_json::Value {
    let domains: Vec<&str> = spec.domains.iter().map(|d| d.name()).collect();
    json!({
        "events_per_day": r.events_per_day,
        "start": spec.start.to_string(),
        "days": spec.days,
        "domains": domains,
        "format": format.name(),
        "compression": compression.name(),
        "sink": r.sink.name(),
        "engine": r.engine.name(),
        "instance": input.instance_type,
        "spot": r.spot,
        "backfill_hours": r.backfill_hours,
        "threads": input.threads,
    })
}

impl Plan {
    /// The plan as `plan --json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let cal = &self.calibration;
        let p = &self.prices;
        json!({
            "plan": self.headline,
            "inputs": self.inputs,
            "calibration": {
                "name": self.calibration_note, "cpu": cal.cpu, "cores": cal.cores,
                "build": cal.build, "date": cal.date, "quick": cal.quick,
            },
            "prices": {
                "name": p.name, "source": p.source,
                "date": p.date, "region": p.region,
            },
            "items": self.items.0,
        })
    }

    /// The plan as text: what it used, then each item with its formula.
    pub fn render(&self) -> String {
        let (cal, prices) = (&self.calibration, &self.prices);
        let mut s = format!(
            "plan: {}\ncalibration: {} ({} build, {} cores of {}, {})\nprices: {} ({}, {}; {})\n\n",
            self.headline,
            self.calibration_note,
            cal.build,
            cal.cores,
            cal.cpu,
            cal.date,
            prices.name,
            prices.region,
            prices.date,
            prices.source
        );
        let width = self
            .items
            .0
            .iter()
            .map(|i| i.label.len())
            .max()
            .unwrap_or(0);
        for i in &self.items.0 {
            let value = match i.unit.as_str() {
                "USD" => format!("{} USD", money(i.value)),
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

    /// The value of item `key`.
    #[cfg(test)]
    pub(crate) fn item(&self, key: &str) -> Option<f64> {
        self.items.get(key)
    }
}
