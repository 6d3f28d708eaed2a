//! Every line item of a plan, recomputed by hand from the calibration and
//! price numbers put in; and the peak that sizes Kinesis.

use marketpulse_gen::{DatasetSpec, Domain};

use crate::input::{Engine, Input, Machine, Sink, Table};
use crate::items::Items;
use crate::model::line_items;
use crate::plan::{Plan, Request, plan};
use crate::prices::Prices;

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
        cpu_per_wall: 1.0,
        bytes_per_event: bpe,
        bytes_per_file: 1000.0,
        requests_per_file: rpf,
        record_bytes: record,
    }
}

/// Two days: 1.8M clicks and 0.2M sales in 48 files each, 0.1M users in 2.
/// Clicks use 1.5 CPU seconds per wall second of their worker.
fn input(sink: Sink, peak_hour: f64) -> Input {
    let mut hourly = vec![40_000.0; 48];
    hourly[30] = peak_hour;
    let mut clicks = table(
        "clicks",
        true,
        1_800_000.0,
        48.0,
        1_000_000.0,
        10.0,
        2.0,
        250.0,
    );
    clicks.cpu_per_wall = 1.5;
    Input {
        events_per_day: 1_000_000.0,
        days: 2.0,
        tables: vec![
            clicks,
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
        // 0.0001 h: short enough that one instance does not do.
        backfill_hours: Some(0.0001),
        threads: 2,
    }
}

const MACHINE: Machine = Machine {
    startup_seconds: 0.5,
    cores: 2,
    efficiency: 0.8,
};

/// Checks items against values worked out by hand, and that every item of
/// the plan was checked.
struct ByHand<'a> {
    items: &'a Items,
    checked: std::collections::BTreeSet<String>,
}

impl<'a> ByHand<'a> {
    fn new(items: &'a Items) -> Self {
        ByHand {
            items,
            checked: Default::default(),
        }
    }

    fn close(&mut self, key: &str, want: f64) {
        let got = self
            .items
            .get(key)
            .unwrap_or_else(|| panic!("no item {key}"));
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{key}: plan {got}, by hand {want}"
        );
        self.checked.insert(key.to_string());
    }

    fn all_checked(&self) {
        let keys: std::collections::BTreeSet<String> =
            self.items.0.iter().map(|i| i.key.clone()).collect();
        assert_eq!(keys, self.checked, "items not worked out by hand");
    }
}

/// The S3 and stream plans share these; `ecs`: the backfill on Fargate.
fn common(h: &mut ByHand<'_>, ecs: bool) {
    let month = 730.0 / 48.0; // a 2-day window to 730 hours
    h.close("window.events", 2_000_000.0);
    h.close("month.events", 1_000_000.0 * 730.0 / 24.0);
    h.close("window.bytes.clicks", 18_000_000.0 + 48_000.0);
    h.close("window.bytes.sales", 6_000_000.0 + 48_000.0);
    h.close("window.bytes.users", 1_500_000.0 + 2_000.0);
    h.close("window.bytes", 25_500_000.0 + 98_000.0);
    // Worker seconds: rows / rate + 0.01 s a file; clicks x 1.5 CPU.
    h.close("window.vcpu_hours.clicks", (1.8 + 0.48) * 1.5 / 3600.0);
    h.close("window.vcpu_hours.sales", (0.4 + 0.48) / 3600.0);
    h.close("window.vcpu_hours.users", (0.05 + 0.02) / 3600.0);
    let vcpu_h = (3.42 + 0.88 + 0.07) / 3600.0;
    h.close("window.vcpu_hours", vcpu_h);
    // The local run's wall time counts worker seconds, not CPU.
    h.close(
        "local.wall_seconds",
        0.5 + (2.28 + 0.88 + 0.07) / (2.0 * 0.8),
    );
    // 0.0012139 vCPU-h over 0.0001 h x 8 vCPU x 0.8: 1.9 instances.
    h.close("backfill.instances", 2.0);
    if ecs {
        h.close("backfill.cost.on_demand", vcpu_h * (0.04 + 2.0 * 0.004));
        h.close("backfill.cost.spot", vcpu_h * (0.012 + 2.0 * 0.0012));
    } else {
        h.close("backfill.cost.on_demand", vcpu_h / 6.4 * (0.4 + 0.1));
        h.close("backfill.cost.spot", vcpu_h / 6.4 * (0.15 + 0.1));
    }
    h.close("month.vcpu_hours", vcpu_h * month);
}

#[test]
fn every_line_item_of_an_s3_plan_by_hand() {
    let prices = Prices::parse("test", PRICES).unwrap();
    let items = line_items(&input(Sink::S3, 180_000.0), &MACHINE, &prices).unwrap();
    let mut h = ByHand::new(&items);
    common(&mut h, false);
    let month = 730.0 / 48.0;
    let month_events = 1_000_000.0 * 730.0 / 24.0;
    h.close("peak.events_per_second", 50.0);
    h.close(
        "average.events_per_second",
        (47.0 * 40_000.0 + 180_000.0) / 48.0 / 3600.0,
    );
    let mv = (3.42 + 0.88 + 0.07) / 3600.0 * month;
    h.close("month.compute.emr.on_demand", mv / 6.4 * 0.5);
    h.close("month.compute.emr.spot", mv / 6.4 * 0.25);
    // Fargate: 1-vCPU tasks, no loss to threads; 2 GB per vCPU.
    h.close("month.compute.ecs.on_demand", mv * 0.04 + mv * 2.0 * 0.004);
    h.close("month.compute.ecs.spot", mv * 0.012 + mv * 2.0 * 0.0012);
    // Files well under the multipart threshold: one PUT for the data file
    // beside the rest of the requests per file.
    h.close("month.s3.requests.clicks", 48.0 * 2.0 * month);
    h.close("month.s3.requests.sales", 48.0 * 3.0 * month);
    h.close("month.s3.requests.users", 2.0 * month);
    let puts = (96.0 + 144.0 + 2.0) * month;
    h.close("month.s3.requests", puts);
    h.close("month.s3.requests.cost", puts / 1000.0 * 0.005);
    let gb = (25_500_000.0 + 98_000.0) * month / 1_073_741_824.0;
    h.close("month.s3.gb", gb);
    h.close("month.s3.storage.cost", gb * 0.025);
    let total = mv / 6.4 * 0.5 + puts / 1000.0 * 0.005 + gb * 0.025;
    h.close("month.total", total);
    h.close("month.per_billion_events", total / (month_events / 1e9));
    h.all_checked();
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
    let items = line_items(&kinesis, &MACHINE, &prices).unwrap();
    let mut h = ByHand::new(&items);
    common(&mut h, true);
    h.close("peak.events_per_second", 2000.0);
    h.close(
        "average.events_per_second",
        (47.0 * 40_000.0 + 7_200_000.0) / 48.0 / 3600.0,
    );
    // CPU per event: (2.28 x 1.5 + 0.88) s per 2M events.
    let vcpus = 2000.0 * (3.42 + 0.88) / 2e6;
    h.close("stream.vcpus", vcpus);
    // Producers run all month: one instance, one 1-vCPU task.
    h.close("month.compute.emr.on_demand", 730.0 * 0.5);
    h.close("month.compute.emr.spot", 730.0 * 0.25);
    h.close("month.compute.ecs.on_demand", 730.0 * (0.04 + 2.0 * 0.004));
    let compute = 730.0 * (0.012 + 2.0 * 0.0012);
    h.close("month.compute.ecs.spot", compute);
    h.close("kinesis.record_bytes", record + 10.0);
    // 2,000 records/s over 1,000 per shard outweighs 2,000 x 268 bytes over 1 MiB/s.
    h.close("kinesis.shards", 2.0);
    h.close("month.kinesis.shards.cost", 2.0 * 730.0 * 0.015);
    h.close("month.kinesis.payload_units", month_events);
    h.close(
        "month.kinesis.payload_units.cost",
        month_events / 1e6 * 0.014,
    );
    let total = compute + 2.0 * 730.0 * 0.015 + month_events / 1e6 * 0.014;
    h.close("month.total", total);
    h.close("month.per_billion_events", total / (month_events / 1e9));
    h.all_checked();

    let items = line_items(&input(Sink::Firehose, 180_000.0), &MACHINE, &prices).unwrap();
    let mut h = ByHand::new(&items);
    // Each 258-byte record is billed as 5 KB.
    let billed = month_events * 5120.0 / 1_073_741_824.0;
    h.close("month.firehose.billed_gb", billed);
    h.close("month.firehose.cost", billed * 0.03);
    let gb = month_events * record / 1_073_741_824.0;
    h.close("month.s3.gb", gb);
    h.close("month.total", 730.0 * 0.5 + billed * 0.03 + gb * 0.025);
}

#[test]
fn stream_producers_are_sized_for_the_peak() {
    let prices = Prices::parse("test", PRICES).unwrap();
    let mut slow = input(Sink::Kinesis, 7_200_000.0);
    // 100 clicks/s a worker: 2,000 events/s need about 27 vCPUs.
    slow.tables[0].events_per_core_second = 100.0;
    let items = line_items(&slow, &MACHINE, &prices).unwrap();
    let mut h = ByHand::new(&items);
    let vcpus = 2000.0 * ((18_000.0 + 0.48) * 1.5 + 0.88) / 2e6;
    h.close("stream.vcpus", vcpus);
    // ceil(27.0 / (8 x 0.8)) = 5 instances; 28 one-vCPU tasks.
    h.close("month.compute.emr.on_demand", 5.0 * 730.0 * 0.5);
    h.close(
        "month.compute.ecs.on_demand",
        28.0 * 730.0 * (0.04 + 2.0 * 0.004),
    );
}

#[test]
fn big_files_go_up_in_parts() {
    let prices = Prices::parse("test", PRICES).unwrap();
    let mut i = input(Sink::S3, 180_000.0);
    // 1.8M rows of 1,000 bytes in 48 files: 37.5 MB each, 5 parts of 8 MiB
    // and the create and complete requests: 7 in place of the one PUT.
    i.tables[0].bytes_per_event = 1000.0;
    let items = line_items(&i, &MACHINE, &prices).unwrap();
    let file: f64 = (1_800_000_000.0 + 48_000.0) / 48.0;
    let parts = (file / 8_388_608.0).ceil() + 2.0;
    assert_eq!(parts, 7.0);
    let mut h = ByHand::new(&items);
    h.close(
        "month.s3.requests.clicks",
        48.0 * (2.0 - 1.0 + 7.0) * 730.0 / 48.0,
    );
}

/// A week's plan from `start`, as `plan --events-per-day ... --days 7`
/// gives it: the default world at scale 1, sales and clicks for a stream.
fn request(events_per_day: f64, start: &str, sink: Sink) -> Request {
    let mut window = DatasetSpec {
        start: start.parse().unwrap(),
        days: 7,
        ..DatasetSpec::default()
    };
    if sink != Sink::S3 {
        window.domains = vec![Domain::named("sales"), Domain::named("clicks")];
    }
    Request {
        events_per_day,
        window,
        sink,
        engine: Engine::Emr,
        spot: false,
        instance: None,
        backfill_hours: None,
        threads: None,
        calibration: None,
        prices: None,
    }
}

#[test]
fn kinesis_is_sized_for_black_friday_not_the_average() {
    let week = |start| plan(&request(100_000.0 * 86_400.0, start, Sink::Kinesis)).unwrap();
    let plain = week("2025-11-10");
    let friday = week("2025-11-24");
    let shards = |p: &Plan| p.item("kinesis.shards").unwrap();
    let peak = |p: &Plan| p.item("peak.events_per_second").unwrap();
    let average = |p: &Plan| p.item("average.events_per_second").unwrap();
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

#[test]
fn scale_and_datasets_follow_the_volume() {
    let start = DatasetSpec::default().start.to_string();
    let at = |events: f64| plan(&request(events, &start, Sink::S3)).unwrap();
    // Scale is linear in the volume.
    let one = at(1e6);
    let ten = at(1e7);
    let s1 = one.item("scale").unwrap();
    assert!((ten.item("scale").unwrap() / s1 - 10.0).abs() < 1e-9);
    assert!(one.item("datasets").is_none());
    // 10^9 users at most in one dataset, 10^6 users at scale 1: above scale
    // 1,000 the volume is planned as datasets side by side.
    let big = at(2500.0 / s1 * 1e6);
    assert_eq!(big.item("datasets"), Some(3.0));
    let events = big.item("window.events").unwrap();
    assert!(
        (events / (2500.0 / s1 * 1e6 * 7.0) - 1.0).abs() < 0.01,
        "{events}"
    );
}
