//! The command line. `generate`'s flags are one layer of the settings
//! (`settings/`): each flag is a key of the same name with `_`, also
//! accepted in the config file and as `MARKETPULSE_<KEY>`.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand};
use marketpulse_gen::{Compression, Domain, Format};
use serde::Serialize;

/// A seed, with a message about the value (`-1`, `1.5`) rather than the
/// parser's "invalid digit".
fn seed(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("a seed is a whole number from 0 to {}", u64::MAX))
}

/// Deterministic synthetic retail world: users, stores, sales and clicks.
#[derive(Parser)]
#[command(name = "marketpulse", version, about, args_override_self = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Generate a dataset into a partitioned lake (a folder or S3), a stream or stdout.
    Generate(Box<GenerateArgs>),
    /// Check a lake against its manifests: sizes, SHA-256, missing, extra and
    /// temporary files, incomplete or missing shards, interrupted runs.
    Verify {
        /// The lake: a folder or s3://BUCKET/PREFIX.
        lake: String,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// AWS-compatible endpoint for an S3 lake (also AWS_ENDPOINT_URL)
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// Measure this machine: events/s per core and bytes per event of each
    /// table, format and codec, start-up, parallel efficiency and RSS per
    /// thread; written as JSON for `plan`.
    Calibrate {
        /// Where the calibration goes [default: calibration.json]
        #[arg(long)]
        out: Option<PathBuf>,
        /// A few seconds instead of a few minutes: small runs, once each;
        /// `plan` scales the reference calibration by it
        #[arg(long)]
        quick: bool,
    },
    /// Capacity and cost of N events a day: vCPU-hours, instances for a
    /// backfill, S3 requests and storage, Kinesis shards at the peak minute,
    /// Firehose ingestion, compute cost, the monthly total.
    Plan(Box<PlanArgs>),
    /// Print a Parquet lake's realised distributions next to its config:
    /// hourly curves, top pages and stores, funnel, baskets, defects.
    Profile {
        /// Lake folder written by `generate`.
        dir: PathBuf,
        /// Print JSON instead of the text report.
        #[arg(long)]
        json: bool,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> PossibleValuesParser {
    PossibleValuesParser::new(all.iter().map(|v| name(*v)))
}

fn domain_names() -> PossibleValuesParser {
    PossibleValuesParser::new(Domain::names())
}

/// `generate`'s flags. Unset flags are left out of the layer, so the
/// environment, the config file or the default decides.
#[derive(clap::Args, Serialize, Default)]
pub(crate) struct GenerateArgs {
    /// TOML config file (also MARKETPULSE_CONFIG); flags and environment override it
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Print every setting as read, each with where it came from; then check them and exit
    #[arg(long)]
    #[serde(skip)]
    pub print_config: bool,

    /// First day, YYYY-MM-DD [default: 2025-01-06]
    #[arg(long, help_heading = "Dataset")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Number of days [default: 1]
    #[arg(long, allow_hyphen_values = true, help_heading = "Dataset")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// Volume multiplier; 1 gives 5,000,000 clicks a day [default: 1]
    #[arg(long, allow_hyphen_values = true, help_heading = "Dataset")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    /// Seed of every random stream [default: 42]
    #[arg(long, allow_hyphen_values = true, value_parser = seed, help_heading = "Dataset")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// File format [default: parquet]
    #[arg(long, value_parser = names(&Format::ALL, Format::name), help_heading = "Dataset")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Codec: of Parquet pages (zstd, snappy, gzip, none) or of whole jsonl and csv files (gzip, zstd, none) [default: zstd for parquet, none for text]
    #[arg(long, value_parser = names(&Compression::ALL, Compression::name), help_heading = "Dataset")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Tables to generate, comma-separated [default: all; sales,clicks for record sinks]
    #[arg(long, value_parser = domain_names(), value_delimiter = ',', help_heading = "Dataset")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    /// Clicks switch to schema v2 from this day, YYYY-MM-DD (`[world] clicks_v2_from`)
    #[arg(long, help_heading = "Dataset")]
    #[serde(skip)]
    pub clicks_v2_from: Option<String>,

    /// Lake: a folder or s3://BUCKET/PREFIX; with --sink, where the manifest goes [default: lake]
    #[arg(long, help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// Send events to kinesis://STREAM, firehose://DELIVERY-STREAM or stdout instead of the lake
    #[arg(long, help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<String>,
    /// Worker threads [default: number of cores]
    #[arg(long, allow_hyphen_values = true, help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<i64>,
    /// This shard's index, below --shard-count [default: 0]
    #[arg(long, allow_hyphen_values = true, help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_index: Option<i64>,
    /// Number of shards sharing the run [default: 1]
    #[arg(long, allow_hyphen_values = true, help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_count: Option<i64>,
    /// Print the plan (files, rows, estimated bytes per table) and exit without writing
    #[arg(long, help_heading = "Output")]
    #[serde(skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// Continue a killed run of this shard: skip what it delivered, remove what it left half-written
    #[arg(long, help_heading = "Output")]
    #[serde(skip_serializing_if = "is_false")]
    pub resume: bool,
    /// Write into a lake that holds another dataset (another seed or spec)
    #[arg(long, help_heading = "Output")]
    #[serde(skip_serializing_if = "is_false")]
    pub force: bool,
    /// S3: a shard's lock is free this long after its holder last renewed it [default: 60]
    #[arg(long, allow_hyphen_values = true, help_heading = "Output")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_lease_seconds: Option<i64>,

    #[command(flatten)]
    #[serde(flatten)]
    pub sink_options: SinkArgs,

    /// backfill: as fast as possible; realtime: paced, in event-time order [default: backfill]
    #[arg(long, value_parser = PossibleValuesParser::new(["backfill", "realtime"]), help_heading = "Real time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Emit this many events per second (in a fleet: all shards together)
    #[arg(long, allow_hyphen_values = true, help_heading = "Real time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Pace by segments, e.g. ramp:1000..20000/60s,hold:20000/2m,spike:50000/10s; or diurnal:SPEEDUP, the world's own hourly curve with each hour lasting 3600/SPEEDUP s (at --rate on average when given). The run ends with the profile
    #[arg(long, help_heading = "Real time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_profile: Option<String>,
    /// Replay simulated time this many times faster than the clock [default: 1]
    #[arg(long, allow_hyphen_values = true, help_heading = "Real time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
    /// Stop after this many seconds (the manifest lists what was sent)
    #[arg(long, allow_hyphen_values = true, help_heading = "Real time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Object sinks: a file per table every N seconds of event time [default: 60]
    #[arg(long, allow_hyphen_values = true, help_heading = "Real time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush_seconds: Option<i64>,
    /// Object sinks: or once a file holds about this many MB [default: 64]
    #[arg(long, allow_hyphen_values = true, help_heading = "Real time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush_mb: Option<i64>,

    /// No progress on stderr (the summary still ends the run)
    #[arg(long, short, help_heading = "Metrics")]
    #[serde(skip_serializing_if = "is_false")]
    pub quiet: bool,
    /// Without a terminal, a progress line this often, in seconds [default: 5]
    #[arg(long, allow_hyphen_values = true, help_heading = "Metrics")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_seconds: Option<i64>,
    /// Write the sink metrics (latency percentiles, counters) as JSON to FILE
    #[arg(long, help_heading = "Metrics")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_json: Option<String>,
    /// Print CloudWatch Embedded Metric Format lines to stderr
    #[arg(long, help_heading = "Metrics")]
    #[serde(skip_serializing_if = "is_false")]
    pub emf: bool,
}

/// `plan`'s flags. The dataset flags mean what they mean to `generate`.
#[derive(clap::Args, Default)]
pub(crate) struct PlanArgs {
    /// Events (sales and clicks) a day, on average over the window
    #[arg(long, allow_hyphen_values = true)]
    pub events_per_day: f64,
    /// First day of the window, YYYY-MM-DD [default: 2025-01-06]
    #[arg(long)]
    pub start: Option<String>,
    /// Days in the window: the backfill, and where the peak is sought [default: 30]
    #[arg(long, allow_hyphen_values = true)]
    pub days: Option<i64>,
    /// Tables, comma-separated [default: all; sales,clicks for streams]
    #[arg(long, value_parser = domain_names(), value_delimiter = ',')]
    pub domains: Option<Vec<String>>,
    /// File format of the lake [default: parquet]
    #[arg(long, value_parser = names(&Format::ALL, Format::name))]
    pub format: Option<String>,
    /// Codec [default: zstd for parquet, none for text]
    #[arg(long, value_parser = names(&Compression::ALL, Compression::name))]
    pub compression: Option<String>,
    /// Where events go: the S3 lake, a Kinesis data stream or Firehose
    #[arg(long, default_value = "s3", value_parser = PossibleValuesParser::new(["s3", "kinesis", "firehose"]))]
    pub sink: String,
    /// Backfill the window within this many hours: instances needed and cost
    #[arg(long, allow_hyphen_values = true)]
    pub backfill_hours: Option<f64>,
    /// EC2 instance type of the producers, as priced in the price file [default: c7i.2xlarge]
    #[arg(long)]
    pub instance: Option<String>,
    /// The monthly total with spot prices
    #[arg(long)]
    pub spot: bool,
    /// Compute of the monthly total: EMR instances or ECS Fargate tasks
    #[arg(long, default_value = "emr", value_parser = PossibleValuesParser::new(["emr", "ecs"]))]
    pub engine: String,
    /// Threads of the local run whose wall time the plan predicts [default: the calibration's cores]
    #[arg(long, allow_hyphen_values = true)]
    pub threads: Option<i64>,
    /// World config (TOML), as for generate: its curves decide the peak
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Calibration JSON from `marketpulse calibrate` [default: the reference machine's]
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Price table (TOML) [default: load-tests/prices/aws-us-east-1-2026-11.toml, compiled in]
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Print the plan as JSON
    #[arg(long)]
    pub json: bool,
}

/// Flags of the sinks (`sinks/`).
#[derive(clap::Args, Serialize, Default)]
pub(crate) struct SinkArgs {
    /// AWS-compatible endpoint for S3, Kinesis and Firehose (also AWS_ENDPOINT_URL)
    #[arg(long, help_heading = "Sinks")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// S3: encrypt with SSE-KMS under this key [default: the bucket's default encryption]
    #[arg(long, help_heading = "Sinks")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse_kms_key: Option<String>,
    /// Refuse to replace existing data files (S3: conditional writes)
    #[arg(long, help_heading = "Sinks")]
    #[serde(skip_serializing_if = "is_false")]
    pub no_overwrite: bool,
    /// S3: files of at least this many MiB go up as multipart uploads [default: 16]
    #[arg(long, allow_hyphen_values = true, help_heading = "Sinks")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multipart_threshold_mib: Option<i64>,
    /// S3: multipart part size in MiB [default: 8]
    #[arg(long, allow_hyphen_values = true, help_heading = "Sinks")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_size_mib: Option<i64>,
    /// Requests in flight at once [default: 8 for S3, 1 for streams, which keeps each partition key's records in order]
    #[arg(long, allow_hyphen_values = true, help_heading = "Sinks")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<i64>,
    /// Do not check the bucket or stream before the run (for roles without Head/Describe rights)
    #[arg(long, help_heading = "Sinks")]
    #[serde(skip_serializing_if = "is_false")]
    pub skip_sink_check: bool,
}
