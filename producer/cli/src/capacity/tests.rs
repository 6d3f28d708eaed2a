//! Every line item of a plan, recomputed by hand from the calibration and
//! price numbers put in; and the peak that sizes Kinesis.

use super::model::{self, Engine, Input, Machine, Sink, Table};
use super::prices::Prices;

const PRICES: &str = r#"
source = "test"
date = "2026-11-28"
region = "test-1"
[s3]
put_per_1000 = 0.005
storage_gb_month = 0.025
[kinesis]
shard_hour = 0.015
put_payload_units_per_million = 0.014
shard_ingest_mb_per_second = 1
shard_ingest_records_per_second = 1000
payload_unit_kb = 25
[firehose]
ingest_gb = 0.03
record_rounding_kb = 5
[fargate]
vcpu_hour = 0.04
gb_hour = 0.004
spot_vcpu_hour = 0.012
spot_gb_hour = 0.0012
[instance."x.big"]
vcpu = 8
memory_gib = 16
on_demand_hour = 0.4
spot_hour = 0.15
emr_hour = 0.1
"#;

/// A table whose files cost 0.01 s and 1,000 bytes each beyond their rows.
#[allow(clippy::too_many_arguments)]
fn table(
    name: &str,
    events: bool,
    rows: f64,
    files: f64,
    eps: f64,
    bpe: f64,
    rpf: f64,
    record: f64,
) -> Table {
    Table {
        name: name.to_string(),
        events,
        rows,
        files,
        events_per_core_second: eps,
        seconds_per_file: 0.01,
        bytes_per_event: bpe,
        bytes_per_file: 1000.0,
        requests_per_file: rpf,
        record_bytes: record,
    }
}

fn input(sink: Sink, peak_hour: f64) -> Input {
    let mut hourly = vec![40_000.0; 48];
    hourly[30] = peak_hour;
    Input {
        events_per_day: 1_000_000.0,
        days: 2.0,
        tables: vec![
            table(
                "clicks",
                true,
                1_800_000.0,
                48.0,
                1_000_000.0,
                10.0,
                2.0,
                250.0,
            ),
            table("sales", true, 200_000.0, 48.0, 500_000.0, 30.0, 3.0, 330.0),
            table(
                "users",
                false,
                100_000.0,
                2.0,
                2_000_000.0,
                15.0,
                1.0,
                290.0,
            ),
        ],
        hourly_events: hourly,
        sink,
        engine: Engine::Emr,
        spot: false,
        instance_type: "x.big".to_string(),
        backfill_hours: Some(1.0),
        threads: 2,
    }
}

const MACHINE: Machine = Machine {
    startup_seconds: 0.5,
    cores: 2,
    efficiency: 0.8,
};

fn close(items: &model::Items, key: &str, want: f64) {
    let got = items.get(key).unwrap_or_else(|| panic!("no item {key}"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{key}: plan {got}, by hand {want}"
    );
}

#[test]
fn every_line_item_of_an_s3_plan_by_hand() {
    let prices = Prices::parse("test", PRICES).unwrap();
    let items = model::plan(&input(Sink::S3, 180_000.0), &MACHINE, &prices).unwrap();
    let month = 730.0 / 48.0; // a 2-day window to 730 hours
    let month_events = 1_000_000.0 * 730.0 / 24.0;
    close(&items, "window.events", 2_000_000.0);
    close(&items, "month.events", month_events);
    close(&items, "window.bytes.clicks", 18_000_000.0 + 48_000.0);
    close(&items, "window.bytes.sales", 6_000_000.0 + 48_000.0);
    close(&items, "window.bytes.users", 1_500_000.0 + 2_000.0);
    let bytes = 25_500_000.0 + 98_000.0;
    close(&items, "window.bytes", bytes);
    close(&items, "window.vcpu_hours.clicks", (1.8 + 0.48) / 3600.0);
    close(&items, "window.vcpu_hours.sales", (0.4 + 0.48) / 3600.0);
    close(&items, "window.vcpu_hours.users", (0.05 + 0.02) / 3600.0);
    let vcpu_s = 2.25 + 0.98;
    let vcpu_h = vcpu_s / 3600.0;
    close(&items, "window.vcpu_hours", vcpu_h);
    close(&items, "local.wall_seconds", 0.5 + vcpu_s / (2.0 * 0.8));
    close(&items, "backfill.instances", 1.0);
    close(
        &items,
        "backfill.cost.on_demand",
        vcpu_h / 6.4 * (0.4 + 0.1),
    );
    close(&items, "backfill.cost.spot", vcpu_h / 6.4 * (0.15 + 0.1));
    let mv = vcpu_h * month;
    close(&items, "month.vcpu_hours", mv);
    close(&items, "month.compute.emr.on_demand", mv / 6.4 * 0.5);
    close(&items, "month.compute.emr.spot", mv / 6.4 * 0.25);
    close(
        &items,
        "month.compute.ecs.on_demand",
        mv / 0.8 * 0.04 + mv / 0.8 * 2.0 * 0.004,
    );
    close(
        &items,
        "month.compute.ecs.spot",
        mv / 0.8 * 0.012 + mv / 0.8 * 2.0 * 0.0012,
    );
    close(&items, "peak.events_per_second", 50.0);
    close(
        &items,
        "average.events_per_second",
        (47.0 * 40_000.0 + 180_000.0) / 48.0 / 3600.0,
    );
    // Files well under the multipart threshold: one PUT each.
    close(&items, "month.s3.requests.clicks", 48.0 * 2.0 * month);
    close(&items, "month.s3.requests.sales", 48.0 * 3.0 * month);
    close(&items, "month.s3.requests.users", 2.0 * month);
    let puts = (96.0 + 144.0 + 2.0) * month;
    close(&items, "month.s3.requests", puts);
    close(&items, "month.s3.requests.cost", puts / 1000.0 * 0.005);
    let gb = bytes * month / 1_073_741_824.0;
    close(&items, "month.s3.gb", gb);
    close(&items, "month.s3.storage.cost", gb * 0.025);
    let total = mv / 6.4 * 0.5 + puts / 1000.0 * 0.005 + gb * 0.025;
    close(&items, "month.total", total);
    close(
        &items,
        "month.per_billion_events",
        total / (month_events / 1e9),
    );
    assert!(items.get("kinesis.shards").is_none());
}

#[test]
fn every_line_item_of_a_stream_plan_by_hand() {
    let prices = Prices::parse("test", PRICES).unwrap();
    let month_events = 1_000_000.0 * 730.0 / 24.0;
    // JSON bytes per event, weighted by rows: (1.8M x 250 + 0.2M x 330) / 2M.
    let record = 258.0;
    let mut kinesis = input(Sink::Kinesis, 7_200_000.0);
    kinesis.engine = Engine::Ecs;
    kinesis.spot = true;
    let items = model::plan(&kinesis, &MACHINE, &prices).unwrap();
    close(&items, "peak.events_per_second", 2000.0);
    close(&items, "kinesis.record_bytes", record + 10.0);
    // 2,000 records/s over 1,000 per shard outweighs 2,000 x 268 bytes over 1 MiB/s.
    close(&items, "kinesis.shards", 2.0);
    close(&items, "month.kinesis.shards.cost", 2.0 * 730.0 * 0.015);
    close(&items, "month.kinesis.payload_units", month_events);
    close(
        &items,
        "month.kinesis.payload_units.cost",
        month_events / 1e6 * 0.014,
    );
    // Producers run all month, sized for the peak: 2,000 events/s at
    // (1.8 + 0.48 + 0.4 + 0.48) core-seconds per 2M events, / 0.8 efficiency.
    close(&items, "stream.vcpus", 2000.0 * (3.16 / 2e6) / 0.8);
    close(
        &items,
        "month.compute.ecs.spot",
        730.0 * (0.012 + 2.0 * 0.0012),
    );
    close(&items, "month.compute.emr.on_demand", 730.0 * 0.5);
    let compute = 730.0 * (0.012 + 2.0 * 0.0012);
    close(
        &items,
        "month.total",
        compute + 2.0 * 730.0 * 0.015 + month_events / 1e6 * 0.014,
    );

    let items = model::plan(&input(Sink::Firehose, 180_000.0), &MACHINE, &prices).unwrap();
    // Each 258-byte record is billed as 5 KB.
    let billed = month_events * 5120.0 / 1_073_741_824.0;
    close(&items, "month.firehose.billed_gb", billed);
    close(&items, "month.firehose.cost", billed * 0.03);
    let gb = month_events * record / 1_073_741_824.0;
    close(&items, "month.s3.gb", gb);
    let compute = 730.0 * 0.5;
    close(&items, "month.total", compute + billed * 0.03 + gb * 0.025);
}

#[test]
fn big_files_go_up_in_parts() {
    let prices = Prices::parse("test", PRICES).unwrap();
    let mut i = input(Sink::S3, 180_000.0);
    // 1.8M rows of 1,000 bytes in 48 files: 37.5 MB each.
    i.tables[0].bytes_per_event = 1000.0;
    let items = model::plan(&i, &MACHINE, &prices).unwrap();
    let file = (1_800_000_000.0 + 48_000.0) / 48.0;
    let parts = (file / 8_388_608.0_f64).ceil() + 2.0;
    close(
        &items,
        "month.s3.requests.clicks",
        48.0 * 2.0 * parts * 730.0 / 48.0,
    );
}

fn plan_args(start: &str, sink: &str) -> crate::cli::PlanArgs {
    crate::cli::PlanArgs {
        events_per_day: 100_000.0 * 86_400.0,
        start: Some(start.to_string()),
        days: Some(7),
        sink: sink.to_string(),
        engine: "emr".to_string(),
        ..Default::default()
    }
}

#[test]
fn kinesis_is_sized_for_black_friday_not_the_average() {
    let plain = super::compute(&plan_args("2025-11-10", "kinesis")).unwrap();
    let friday = super::compute(&plan_args("2025-11-24", "kinesis")).unwrap();
    let shards = |p: &super::Computed| p.items.get("kinesis.shards").unwrap();
    let peak = |p: &super::Computed| p.items.get("peak.events_per_second").unwrap();
    let average = |p: &super::Computed| p.items.get("average.events_per_second").unwrap();
    // The same volume on average...
    assert!((average(&plain) / average(&friday) - 1.0).abs() < 0.01);
    // ... but the week with Black Friday peaks higher, and needs more shards.
    assert!(
        peak(&friday) > peak(&plain) * 1.5,
        "{} vs {}",
        peak(&friday),
        peak(&plain)
    );
    assert!(
        shards(&friday) > shards(&plain),
        "{} vs {}",
        shards(&friday),
        shards(&plain)
    );
    // Sized from the peak: more shards than the average needs.
    let by_average = (average(&plain) / 1000.0).ceil();
    assert!(
        shards(&plain) > by_average,
        "{} vs {by_average}",
        shards(&plain)
    );
}
