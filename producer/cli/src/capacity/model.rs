//! The capacity and cost model of `plan`: volumes from the generator's own
//! plan, speeds and sizes from a calibration, money from a price table. Each
//! line item keeps its formula with the numbers put in, so it can be checked
//! by hand.

use serde::Serialize;

use super::compute::{Costing, Work, compute_cost};
use super::numbers::{n, sum_formula};
use super::prices::Prices;

/// Hours in a month, as AWS bills them.
pub(crate) const MONTH_HOURS: f64 = 730.0;
/// GB as AWS bills storage and Firehose ingestion: 2^30 bytes.
pub(crate) const GB: f64 = 1_073_741_824.0;
/// Kinesis limits count KB and MB in powers of two.
const KB: f64 = 1024.0;
const MB: f64 = 1_048_576.0;
/// S3 multipart: files from this size go up in parts of `PART_BYTES`.
const MULTIPART_BYTES: f64 = 16.0 * MB;
const PART_BYTES: f64 = 8.0 * MB;
/// A record's partition key: a user or session id, as decimal text.
pub(crate) const PARTITION_KEY_BYTES: f64 = 10.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Sink {
    S3,
    Kinesis,
    Firehose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Engine {
    Emr,
    Ecs,
}

/// One table of the planned window: what the generator's plan gives, and
/// what the calibration says of its format.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub name: String,
    pub events: bool,
    pub rows: f64,
    pub files: f64,
    pub events_per_core_second: f64,
    pub seconds_per_file: f64,
    /// CPU seconds per wall second of a one-thread run (the I/O threads
    /// work beside the worker).
    pub cpu_per_wall: f64,
    pub bytes_per_event: f64,
    pub bytes_per_file: f64,
    /// Sink requests per data file (manifest, journal and truth included).
    pub requests_per_file: f64,
    /// JSON-lines bytes per event: the size of a stream record.
    pub record_bytes: f64,
}

impl Table {
    /// Wall seconds of one worker thread for the table's rows and files.
    pub(crate) fn worker_seconds(&self) -> f64 {
        self.rows / self.events_per_core_second + self.files * self.seconds_per_file
    }
}

/// What the machine adds beyond the tables.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    pub startup_seconds: f64,
    pub cores: usize,
    pub efficiency: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct Input {
    pub events_per_day: f64,
    pub days: f64,
    pub tables: Vec<Table>,
    /// Events per UTC hour of the window.
    pub hourly_events: Vec<f64>,
    pub sink: Sink,
    pub engine: Engine,
    pub spot: bool,
    pub instance_type: String,
    pub backfill_hours: Option<f64>,
    /// Threads of the local run whose wall time is predicted.
    pub threads: usize,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Item {
    pub key: String,
    pub label: String,
    pub value: f64,
    pub unit: String,
    pub formula: String,
}

#[derive(Default)]
pub(crate) struct Items(pub Vec<Item>);

impl Items {
    pub(crate) fn add(
        &mut self,
        key: &str,
        label: &str,
        value: f64,
        unit: &str,
        formula: String,
    ) -> f64 {
        self.0.push(Item {
            key: key.to_string(),
            label: label.to_string(),
            value,
            unit: unit.to_string(),
            formula,
        });
        value
    }

    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<f64> {
        self.0.iter().find(|i| i.key == key).map(|i| i.value)
    }
}

/// Every line item of a plan.
pub(crate) fn plan(
    input: &Input,
    machine: &Machine,
    prices: &Prices,
) -> Result<Items, crate::error::Error> {
    let instance = prices.instance(&input.instance_type)?;
    let mut items = Items::default();
    let days = input.days;
    let month = MONTH_HOURS / 24.0 / days;
    let events: Vec<&Table> = input.tables.iter().filter(|t| t.events).collect();

    // Volume.
    let window_events = items.add(
        "window.events",
        "events in the window",
        events.iter().map(|t| t.rows).sum(),
        "events",
        sum_formula(
            &events
                .iter()
                .map(|t| (t.name.as_str(), t.rows))
                .collect::<Vec<_>>(),
        ),
    );
    let month_events = items.add(
        "month.events",
        "events per month",
        input.events_per_day * MONTH_HOURS / 24.0,
        "events",
        format!(
            "{} events/day x {} h / 24",
            n(input.events_per_day),
            n(MONTH_HOURS)
        ),
    );
    let mut bytes = Vec::new();
    let mut cpu = Vec::new();
    for t in &input.tables {
        bytes.push((
            t.name.as_str(),
            items.add(
                &format!("window.bytes.{}", t.name),
                &format!("{} bytes in the window", t.name),
                t.rows * t.bytes_per_event + t.files * t.bytes_per_file,
                "bytes",
                format!(
                    "{} rows x {} bytes + {} files x {} bytes",
                    n(t.rows),
                    n(t.bytes_per_event),
                    n(t.files),
                    n(t.bytes_per_file)
                ),
            ),
        ));
        cpu.push((
            t.name.as_str(),
            items.add(
                &format!("window.vcpu_hours.{}", t.name),
                &format!("{} vCPU-hours in the window", t.name),
                t.worker_seconds() * t.cpu_per_wall / 3600.0,
                "vCPU-h",
                format!(
                    "({} rows / {} rows per second + {} files x {} s) x {} CPU per wall second / 3600",
                    n(t.rows),
                    n(t.events_per_core_second),
                    n(t.files),
                    n(t.seconds_per_file),
                    n(t.cpu_per_wall)
                ),
            ),
        ));
    }
    let window_bytes = items.add(
        "window.bytes",
        "bytes in the window",
        bytes.iter().map(|b| b.1).sum(),
        "bytes",
        sum_formula(&bytes),
    );
    let vcpu_hours = items.add(
        "window.vcpu_hours",
        "vCPU-hours in the window",
        cpu.iter().map(|c| c.1).sum(),
        "vCPU-h",
        sum_formula(&cpu),
    );

    // A local run on this machine.
    // A local run on this machine: the worker threads' wall time.
    let threads = input.threads.min(machine.cores).max(1);
    let efficiency = if threads > 1 { machine.efficiency } else { 1.0 };
    let worker: f64 = input.tables.iter().map(Table::worker_seconds).sum();
    items.add(
        "local.wall_seconds",
        &format!("wall time of one local run on {threads} thread(s)"),
        machine.startup_seconds + worker / (threads as f64 * efficiency),
        "s",
        format!(
            "{} s start-up + {} worker-thread s / ({} thread(s) x {} efficiency)",
            n(machine.startup_seconds),
            n(worker),
            threads,
            n(efficiency)
        ),
    );

    // Backfill of the window within a deadline.
    let costing = Costing {
        efficiency: machine.efficiency,
        instance: (input.instance_type.as_str(), instance),
        prices,
    };
    if let Some(h) = input.backfill_hours {
        let capacity = h * instance.vcpu * machine.efficiency;
        items.add(
            "backfill.instances",
            &format!(
                "{} instances to backfill {} day(s) in {} h",
                input.instance_type,
                n(days),
                n(h)
            ),
            (vcpu_hours / capacity).ceil().max(1.0),
            "instances",
            format!(
                "ceil({} vCPU-h / ({} h x {} vCPU x {} efficiency))",
                n(vcpu_hours),
                n(h),
                n(instance.vcpu),
                n(machine.efficiency)
            ),
        );
        for spot in [false, true] {
            let key = if spot {
                "backfill.cost.spot"
            } else {
                "backfill.cost.on_demand"
            };
            compute_cost(
                &mut items,
                (key, "backfill"),
                Work::Batch { vcpu_hours },
                (input.engine, spot),
                &costing,
            );
        }
    }

    // A month of steady production.
    let month_vcpu = items.add(
        "month.vcpu_hours",
        "vCPU-hours per month",
        vcpu_hours * month,
        "vCPU-h",
        format!(
            "{} vCPU-h x {} h / ({} days x 24 h)",
            n(vcpu_hours),
            n(MONTH_HOURS),
            n(days)
        ),
    );
    // Peak: the busiest hour of the window, spread evenly over its minutes.
    let peak_hour = input.hourly_events.iter().copied().fold(0.0, f64::max);
    let hours = input.hourly_events.len().max(1) as f64;
    let peak = items.add(
        "peak.events_per_second",
        "events/s at the peak (the busiest hour)",
        peak_hour / 3600.0,
        "events/s",
        format!("{} events in the busiest hour / 3600 s", n(peak_hour)),
    );
    items.add(
        "average.events_per_second",
        "events/s on average",
        input.hourly_events.iter().sum::<f64>() / hours / 3600.0,
        "events/s",
        format!(
            "{} events / {} h / 3600 s",
            n(input.hourly_events.iter().sum()),
            n(hours)
        ),
    );
    // A stream's producers run all month, sized for the peak; a lake's run
    // only as long as their CPU work takes.
    let always_on = if input.sink == Sink::S3 {
        None
    } else {
        let per_event = events
            .iter()
            .map(|t| t.worker_seconds() * t.cpu_per_wall)
            .sum::<f64>()
            / window_events.max(1.0);
        Some(items.add(
            "stream.vcpus",
            "vCPUs generating the peak (the sink's own CPU not counted)",
            peak * per_event,
            "vCPU",
            format!(
                "{} events/s x {} CPU seconds per event",
                n(peak),
                n(per_event)
            ),
        ))
    };
    let mut chosen = 0.0;
    for engine in [Engine::Emr, Engine::Ecs] {
        for spot in [false, true] {
            let key = format!(
                "month.compute.{}.{}",
                if engine == Engine::Emr { "emr" } else { "ecs" },
                if spot { "spot" } else { "on_demand" }
            );
            let what = (key.as_str(), "per month");
            let work = match always_on {
                Some(vcpus) => Work::AlwaysOn { vcpus },
                None => Work::Batch {
                    vcpu_hours: month_vcpu,
                },
            };
            let cost = compute_cost(&mut items, what, work, (engine, spot), &costing);
            if engine == input.engine && spot == input.spot {
                chosen = cost;
            }
        }
    }
    let mut costs = vec![("compute", chosen)];

    let record = if window_events > 0.0 {
        events.iter().map(|t| t.rows * t.record_bytes).sum::<f64>() / window_events
    } else {
        0.0
    };

    match input.sink {
        Sink::S3 => {
            let mut puts = Vec::new();
            for (t, (name, b)) in input.tables.iter().zip(&bytes) {
                let file = if t.files > 0.0 { b / t.files } else { 0.0 };
                let per_file = if file >= MULTIPART_BYTES {
                    (file / PART_BYTES).ceil() + 2.0
                } else {
                    1.0
                };
                puts.push((
                    *name,
                    items.add(
                        &format!("month.s3.requests.{name}"),
                        &format!("{name} S3 requests per month"),
                        t.files * (t.requests_per_file - 1.0 + per_file) * month,
                        "requests",
                        format!(
                            "{} files x ({} requests per file - 1 + {} for the data file of {} MiB) x {}",
                            n(t.files),
                            n(t.requests_per_file),
                            n(per_file),
                            n(file / MB),
                            month_text(days)
                        ),
                    ),
                ));
            }
            let total = items.add(
                "month.s3.requests",
                "S3 requests per month",
                puts.iter().map(|p| p.1).sum(),
                "requests",
                sum_formula(&puts),
            );
            costs.push((
                "S3 requests",
                items.add(
                    "month.s3.requests.cost",
                    "S3 requests",
                    total / 1000.0 * prices.s3_put_per_1000,
                    "USD",
                    format!("{} / 1000 x {} USD", n(total), n(prices.s3_put_per_1000)),
                ),
            ));
            costs.push((
                "S3 storage",
                storage(
                    &mut items,
                    window_bytes * month,
                    prices,
                    format!("{} bytes x {}", n(window_bytes), month_text(days)),
                ),
            ));
        }
        Sink::Kinesis => {
            let rb = items.add(
                "kinesis.record_bytes",
                "bytes per Kinesis record",
                record + PARTITION_KEY_BYTES,
                "bytes",
                format!(
                    "{} JSON bytes per event + {} partition key bytes",
                    n(record),
                    n(PARTITION_KEY_BYTES)
                ),
            );
            let by_bytes = peak * rb / (prices.kinesis_shard_mb_per_second * MB);
            let by_records = peak / prices.kinesis_shard_records_per_second;
            let shards = items.add(
                "kinesis.shards",
                "Kinesis shards for the peak",
                by_bytes.max(by_records).ceil().max(1.0),
                "shards",
                format!(
                    "ceil(max({} events/s x {} bytes / {} MiB/s, {} events/s / {} records/s))",
                    n(peak),
                    n(rb),
                    n(prices.kinesis_shard_mb_per_second),
                    n(peak),
                    n(prices.kinesis_shard_records_per_second)
                ),
            );
            costs.push((
                "Kinesis shards",
                items.add(
                    "month.kinesis.shards.cost",
                    "Kinesis shard-hours",
                    shards * MONTH_HOURS * prices.kinesis_shard_hour,
                    "USD",
                    format!(
                        "{} shards x {} h x {} USD",
                        n(shards),
                        n(MONTH_HOURS),
                        n(prices.kinesis_shard_hour)
                    ),
                ),
            ));
            let units_per_record = (rb / (prices.kinesis_payload_unit_kb * KB)).ceil();
            let units = items.add(
                "month.kinesis.payload_units",
                "Kinesis PUT payload units per month",
                month_events * units_per_record,
                "units",
                format!(
                    "{} records x ceil({} bytes / {} KB)",
                    n(month_events),
                    n(rb),
                    n(prices.kinesis_payload_unit_kb)
                ),
            );
            costs.push((
                "Kinesis PUTs",
                items.add(
                    "month.kinesis.payload_units.cost",
                    "Kinesis PUT payload units",
                    units / 1e6 * prices.kinesis_put_payload_units_per_million,
                    "USD",
                    format!(
                        "{} units / 1,000,000 x {} USD",
                        n(units),
                        n(prices.kinesis_put_payload_units_per_million)
                    ),
                ),
            ));
        }
        Sink::Firehose => {
            let rounding = prices.firehose_record_rounding_kb * KB;
            let billed = if rounding > 0.0 {
                (record / rounding).ceil() * rounding
            } else {
                record
            };
            let gb = items.add(
                "month.firehose.billed_gb",
                "Firehose GB billed per month",
                month_events * billed / GB,
                "GB",
                format!(
                    "{} records x {} bytes billed ({} bytes rounded up to {} KB) / 2^30",
                    n(month_events),
                    n(billed),
                    n(record),
                    n(prices.firehose_record_rounding_kb)
                ),
            );
            costs.push((
                "Firehose",
                items.add(
                    "month.firehose.cost",
                    "Firehose ingestion",
                    gb * prices.firehose_ingest_gb,
                    "USD",
                    format!("{} GB x {} USD", n(gb), n(prices.firehose_ingest_gb)),
                ),
            ));
            costs.push((
                "S3 storage",
                storage(
                    &mut items,
                    month_events * record,
                    prices,
                    format!("{} records x {} bytes", n(month_events), n(record)),
                ),
            ));
        }
    }

    let total = items.add(
        "month.total",
        "total per month",
        costs.iter().map(|c| c.1).sum(),
        "USD",
        sum_formula(&costs),
    );
    items.add(
        "month.per_billion_events",
        "cost per billion events",
        if month_events > 0.0 {
            total / (month_events / 1e9)
        } else {
            0.0
        },
        "USD",
        format!("{} USD / ({} events / 1e9)", n(total), n(month_events)),
    );
    Ok(items)
}

fn month_text(days: f64) -> String {
    format!("{} h / ({} days x 24 h)", n(MONTH_HOURS), n(days))
}

/// A month of data, stored for a month.
fn storage(items: &mut Items, bytes: f64, prices: &Prices, how: String) -> f64 {
    let gb = items.add(
        "month.s3.gb",
        "GB stored per month of data",
        bytes / GB,
        "GB",
        format!("{how} / 2^30"),
    );
    items.add(
        "month.s3.storage.cost",
        "S3 storage of a month of data",
        gb * prices.s3_storage_gb_month,
        "USD",
        format!(
            "{} GB x {} USD per GB-month",
            n(gb),
            n(prices.s3_storage_gb_month)
        ),
    )
}
