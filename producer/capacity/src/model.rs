//! The capacity and cost model of `plan`: volumes from the generator's own
//! plan, speeds and sizes from a calibration, money from a price table. Each
//! line item keeps its formula with the numbers put in, so it can be checked
//! by hand. Items come in a fixed order: the window, a local run, the
//! backfill, a month of compute, the sink's costs, the totals.

use crate::compute::{Costing, Work, compute_cost};
use crate::error::Error;
use crate::input::{
    Engine, GB, Input, KB, MB, MONTH_HOURS, MULTIPART_BYTES, Machine, PART_BYTES,
    PARTITION_KEY_BYTES, Sink, Table,
};
use crate::items::Items;
use crate::numbers::{n, sum_formula};
use crate::prices::Prices;

/// The window's volumes, as the later items use them.
struct Window<'a> {
    /// Events of the window, and of a month at the planned rate.
    events: f64,
    month_events: f64,
    /// Data bytes per table, and in all.
    bytes: Vec<(&'a str, f64)>,
    total_bytes: f64,
    vcpu_hours: f64,
    /// Window days to a 730-hour month.
    month: f64,
}

/// Every line item of a plan.
pub(crate) fn line_items(
    input: &Input,
    machine: &Machine,
    prices: &Prices,
) -> Result<Items, Error> {
    let instance = prices.instance(&input.instance_type)?;
    let mut items = Items::default();
    let window = window(&mut items, input);
    local_run(&mut items, input, machine);
    let costing = Costing {
        efficiency: machine.efficiency,
        instance: (input.instance_type.as_str(), instance),
        prices,
    };
    if let Some(hours) = input.backfill_hours {
        backfill(&mut items, input, hours, window.vcpu_hours, &costing);
    }
    let peak = month_and_peak(&mut items, input, &window);
    let compute = month_compute(&mut items, input, &window, peak, &costing);
    let mut costs = vec![("compute", compute)];
    let record = record_bytes(input, window.events);
    match input.sink {
        Sink::S3 => s3_costs(&mut items, input, &window, prices, &mut costs),
        Sink::Kinesis => kinesis_costs(&mut items, &window, peak, record, prices, &mut costs),
        Sink::Firehose => firehose_costs(&mut items, &window, record, prices, &mut costs),
    }
    totals(&mut items, &costs, window.month_events);
    Ok(items)
}

/// Events, bytes and vCPU-hours of the window, per table and in all.
fn window<'a>(items: &mut Items, input: &'a Input) -> Window<'a> {
    let events: Vec<(&str, f64)> = input
        .event_tables()
        .map(|t| (t.name.as_str(), t.rows))
        .collect();
    let window_events = items.add(
        "window.events",
        "events in the window",
        events.iter().map(|e| e.1).sum(),
        "events",
        sum_formula(&events),
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
        bytes.push((t.name.as_str(), table_bytes(items, t)));
        cpu.push((t.name.as_str(), table_vcpu_hours(items, t)));
    }
    let total_bytes = items.add(
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
    Window {
        events: window_events,
        month_events,
        bytes,
        total_bytes,
        vcpu_hours,
        month: MONTH_HOURS / 24.0 / input.days,
    }
}

fn table_bytes(items: &mut Items, t: &Table) -> f64 {
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
    )
}

fn table_vcpu_hours(items: &mut Items, t: &Table) -> f64 {
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
    )
}

/// A local run on this machine: the worker threads' wall time.
fn local_run(items: &mut Items, input: &Input, machine: &Machine) {
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
}

/// Backfill of the window within a deadline of `hours`.
fn backfill(items: &mut Items, input: &Input, hours: f64, vcpu_hours: f64, costing: &Costing<'_>) {
    let instance = costing.instance.1;
    let capacity = hours * instance.vcpu * costing.efficiency;
    items.add(
        "backfill.instances",
        &format!(
            "{} instances to backfill {} day(s) in {} h",
            input.instance_type,
            n(input.days),
            n(hours)
        ),
        (vcpu_hours / capacity).ceil().max(1.0),
        "instances",
        format!(
            "ceil({} vCPU-h / ({} h x {} vCPU x {} efficiency))",
            n(vcpu_hours),
            n(hours),
            n(instance.vcpu),
            n(costing.efficiency)
        ),
    );
    for spot in [false, true] {
        let key = if spot {
            "backfill.cost.spot"
        } else {
            "backfill.cost.on_demand"
        };
        compute_cost(
            items,
            (key, "backfill"),
            Work::Batch { vcpu_hours },
            (input.engine, spot),
            costing,
        );
    }
}

/// A month of steady production's vCPU-hours, and the events per second
/// at the peak (the busiest hour of the window, spread evenly over its
/// minutes) and on average; returns the peak.
fn month_and_peak(items: &mut Items, input: &Input, window: &Window<'_>) -> f64 {
    items.add(
        "month.vcpu_hours",
        "vCPU-hours per month",
        window.vcpu_hours * window.month,
        "vCPU-h",
        format!(
            "{} vCPU-h x {} h / ({} days x 24 h)",
            n(window.vcpu_hours),
            n(MONTH_HOURS),
            n(input.days)
        ),
    );
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
    peak
}

/// Compute per month on each engine, on demand and spot; returns the cost
/// of the planned engine. A stream's producers run all month, sized for
/// the peak; a lake's run only as long as their CPU work takes.
fn month_compute(
    items: &mut Items,
    input: &Input,
    window: &Window<'_>,
    peak: f64,
    costing: &Costing<'_>,
) -> f64 {
    let work = if input.sink == Sink::S3 {
        Work::Batch {
            vcpu_hours: window.vcpu_hours * window.month,
        }
    } else {
        let per_event = input
            .event_tables()
            .map(|t| t.worker_seconds() * t.cpu_per_wall)
            .sum::<f64>()
            / window.events.max(1.0);
        let vcpus = items.add(
            "stream.vcpus",
            "vCPUs generating the peak (the sink's own CPU not counted)",
            peak * per_event,
            "vCPU",
            format!(
                "{} events/s x {} CPU seconds per event",
                n(peak),
                n(per_event)
            ),
        );
        Work::AlwaysOn { vcpus }
    };
    let mut chosen = 0.0;
    for engine in [Engine::Emr, Engine::Ecs] {
        for spot in [false, true] {
            let key = format!(
                "month.compute.{}.{}",
                if engine == Engine::Emr { "emr" } else { "ecs" },
                if spot { "spot" } else { "on_demand" }
            );
            let cost = compute_cost(items, (&key, "per month"), work, (engine, spot), costing);
            if engine == input.engine && spot == input.spot {
                chosen = cost;
            }
        }
    }
    chosen
}

/// JSON bytes of an event, weighted by the event tables' rows.
fn record_bytes(input: &Input, window_events: f64) -> f64 {
    if window_events > 0.0 {
        input
            .event_tables()
            .map(|t| t.rows * t.record_bytes)
            .sum::<f64>()
            / window_events
    } else {
        0.0
    }
}

/// The lake: S3 requests (multipart for big files) and storage.
fn s3_costs<'a>(
    items: &mut Items,
    input: &'a Input,
    window: &Window<'a>,
    prices: &Prices,
    costs: &mut Vec<(&'static str, f64)>,
) {
    let mut puts = Vec::new();
    for (t, (name, b)) in input.tables.iter().zip(&window.bytes) {
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
                t.files * (t.requests_per_file - 1.0 + per_file) * window.month,
                "requests",
                format!(
                    "{} files x ({} requests per file - 1 + {} for the data file of {} MiB) x {}",
                    n(t.files),
                    n(t.requests_per_file),
                    n(per_file),
                    n(file / MB),
                    month_text(input.days)
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
            items,
            window.total_bytes * window.month,
            prices,
            format!(
                "{} bytes x {}",
                n(window.total_bytes),
                month_text(input.days)
            ),
        ),
    ));
}

/// A Kinesis stream: shards for the peak, and PUT payload units.
fn kinesis_costs(
    items: &mut Items,
    window: &Window<'_>,
    peak: f64,
    record: f64,
    prices: &Prices,
    costs: &mut Vec<(&'static str, f64)>,
) {
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
        window.month_events * units_per_record,
        "units",
        format!(
            "{} records x ceil({} bytes / {} KB)",
            n(window.month_events),
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

/// A Firehose delivery stream: ingestion billed per rounded-up record, and
/// the S3 storage it delivers to.
fn firehose_costs(
    items: &mut Items,
    window: &Window<'_>,
    record: f64,
    prices: &Prices,
    costs: &mut Vec<(&'static str, f64)>,
) {
    let month_events = window.month_events;
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
            items,
            month_events * record,
            prices,
            format!("{} records x {} bytes", n(month_events), n(record)),
        ),
    ));
}

/// The month's total and the cost per billion events.
fn totals(items: &mut Items, costs: &[(&str, f64)], month_events: f64) {
    let total = items.add(
        "month.total",
        "total per month",
        costs.iter().map(|c| c.1).sum(),
        "USD",
        sum_formula(costs),
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
