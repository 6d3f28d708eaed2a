use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use marketpulse::aws::AwsOptions;
use marketpulse::config::{
    Compression, Domain, FileConfig, Format, Overrides, RecordTarget, Settings,
};
use marketpulse::error::Error;
use marketpulse::manifest::verify;
use marketpulse::metrics::Metrics;
use marketpulse::realtime::{Pace, RealtimeOptions, run_realtime};
use marketpulse::run::{Outputs, generate};
use marketpulse::s3::{S3Options, S3Sink};
use marketpulse::sink::{FolderSink, Sink};
use marketpulse::stream::{StdoutSink, StreamKind, StreamSink};

/// Sets `stop` on SIGINT or SIGTERM: the run finishes what is in flight and
/// writes its manifest. A second signal exits at once.
async fn watch_signals(stop: Arc<AtomicBool>, which: Arc<Mutex<Option<&'static str>>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    for _ in 0..2 {
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        if stop.swap(true, Ordering::SeqCst) {
            eprintln!("marketpulse: {name} again, exiting without a manifest");
            std::process::exit(if name == "SIGINT" { 130 } else { 143 });
        }
        *which.lock().expect("signal lock") = Some(name);
        eprintln!("marketpulse: {name}: finishing deliveries in flight, then writing the manifest");
    }
}

/// Deterministic synthetic retail world: users, stores, sales and clicks.
#[derive(Parser)]
#[command(name = "marketpulse", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a dataset into a partitioned lake folder.
    Generate(Box<GenerateArgs>),
    /// Check a lake against its manifests: sizes, SHA-256, missing and extra files.
    Verify {
        /// Lake folder to check.
        dir: PathBuf,
    },
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

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Backfill,
    Realtime,
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Output folder [default: ./lake]
    #[arg(long, env = "MARKETPULSE_OUT")]
    out: Option<PathBuf>,
    /// First day, YYYY-MM-DD [default: 2025-01-06]
    #[arg(long, env = "MARKETPULSE_START")]
    start: Option<String>,
    /// Number of days [default: 1]
    #[arg(long, env = "MARKETPULSE_DAYS", allow_hyphen_values = true)]
    days: Option<i64>,
    /// Volume multiplier; 1 gives 5,000,000 clicks a day [default: 1]
    #[arg(long, env = "MARKETPULSE_SCALE", allow_hyphen_values = true)]
    scale: Option<f64>,
    /// Seed of every random stream [default: 42]
    #[arg(long, env = "MARKETPULSE_SEED")]
    seed: Option<u64>,
    /// File format [default: parquet]
    #[arg(long, env = "MARKETPULSE_FORMAT", value_enum)]
    format: Option<Format>,
    /// Parquet compression codec [default: zstd]
    #[arg(long, env = "MARKETPULSE_COMPRESSION", value_enum)]
    compression: Option<Compression>,
    /// Worker threads [default: number of cores]
    #[arg(long, env = "MARKETPULSE_THREADS", allow_hyphen_values = true)]
    threads: Option<i64>,
    /// This shard's index, below --shard-count [default: 0]
    #[arg(long, env = "MARKETPULSE_SHARD_INDEX", allow_hyphen_values = true)]
    shard_index: Option<i64>,
    /// Number of shards sharing the run [default: 1]
    #[arg(long, env = "MARKETPULSE_SHARD_COUNT", allow_hyphen_values = true)]
    shard_count: Option<i64>,
    /// Domains to generate, comma-separated [default: all]
    #[arg(long, env = "MARKETPULSE_DOMAINS", value_enum, value_delimiter = ',')]
    domains: Option<Vec<Domain>>,
    /// Clicks switch to schema v2 from this day, YYYY-MM-DD
    #[arg(long, env = "MARKETPULSE_CLICKS_V2_FROM")]
    clicks_v2_from: Option<String>,
    /// TOML config file; flags and environment override its values
    #[arg(long, env = "MARKETPULSE_CONFIG")]
    config: Option<PathBuf>,
    /// Send events to kinesis://STREAM, firehose://DELIVERY-STREAM or stdout
    /// instead of the lake; the manifest still goes to --out
    #[arg(long, env = "MARKETPULSE_SINK")]
    sink: Option<String>,
    /// AWS-compatible endpoint for S3, Kinesis and Firehose
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// S3: encrypt with SSE-KMS under this key (default SSE-S3)
    #[arg(long, env = "MARKETPULSE_SSE_KMS_KEY")]
    sse_kms_key: Option<String>,
    /// S3: refuse to replace existing objects (conditional writes)
    #[arg(long)]
    no_overwrite: bool,
    /// S3: files of at least this many MiB go up as multipart uploads [default: 16]
    #[arg(long, value_parser = clap::value_parser!(u32).range(5..=5120))]
    multipart_threshold_mib: Option<u32>,
    /// S3: multipart part size in MiB [default: 8]
    #[arg(long, value_parser = clap::value_parser!(u32).range(5..=5120))]
    part_size_mib: Option<u32>,
    /// backfill: as fast as possible; realtime: paced, in event-time order
    #[arg(long, value_enum, default_value = "backfill")]
    mode: Mode,
    /// Real-time: emit this many events per second
    #[arg(long, conflicts_with = "speedup")]
    rate: Option<f64>,
    /// Real-time: replay simulated time this many times faster than the clock [default: 1]
    #[arg(long)]
    speedup: Option<f64>,
    /// Real-time object sinks: a file per domain every N seconds of event time
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    flush_seconds: u32,
    /// Real-time object sinks: or once a file holds about this many MB
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    flush_mb: u32,
    /// Real-time: stop after this many seconds (the manifest lists what was sent)
    #[arg(long)]
    duration: Option<f64>,
    /// Requests in flight at once [default: 8 for S3, 1 for streams, which
    /// keeps each partition key's records in order]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: Option<u32>,
    /// Write the sink metrics (latency percentiles, counters) as JSON to FILE
    #[arg(long)]
    metrics_json: Option<PathBuf>,
    /// Print CloudWatch Embedded Metric Format lines to stderr
    #[arg(long)]
    emf: bool,
}

fn realtime_options(a: &GenerateArgs) -> Result<RealtimeOptions, Error> {
    if a.mode == Mode::Backfill && (a.rate.is_some() || a.speedup.is_some() || a.duration.is_some())
    {
        return Err(Error::usage(
            "--rate, --speedup and --duration need --mode realtime",
        ));
    }
    let pace = match (a.rate, a.speedup) {
        (Some(r), _) if !(r.is_finite() && r > 0.0 && r <= 10_000_000.0) => {
            return Err(Error::usage(format!(
                "invalid --rate {r}: must be above 0 and at most 10000000 events/s"
            )));
        }
        (Some(r), _) => Pace::Rate(r),
        (None, Some(x)) if !(x.is_finite() && x > 0.0 && x <= 1e7) => {
            return Err(Error::usage(format!(
                "invalid --speedup {x}: must be above 0 and at most 10000000"
            )));
        }
        (None, Some(x)) => Pace::Speedup(x),
        (None, None) => Pace::Speedup(1.0),
    };
    let duration = match a.duration {
        Some(d) if !(d.is_finite() && d > 0.0) => {
            return Err(Error::usage(format!(
                "invalid --duration {d}: must be above 0 seconds"
            )));
        }
        d => d.map(std::time::Duration::from_secs_f64),
    };
    Ok(RealtimeOptions {
        pace,
        flush_seconds: a.flush_seconds,
        flush_bytes: (a.flush_mb as usize) << 20,
        duration,
    })
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Generate(a) => {
            let realtime = realtime_options(&a)?;
            let file = match &a.config {
                Some(p) => FileConfig::load(p)?,
                None => FileConfig::default(),
            };
            let overrides = Overrides {
                out: a.out,
                start: a.start,
                days: a.days,
                scale: a.scale,
                seed: a.seed,
                format: a.format,
                compression: a.compression,
                threads: a.threads,
                shard_index: a.shard_index,
                shard_count: a.shard_count,
                domains: a.domains,
                clicks_v2_from: a.clicks_v2_from,
                sink: a.sink.clone(),
            };
            let settings = Settings::resolve(overrides, file)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Error::runtime(format!("cannot start the I/O runtime: {e}")))?;
            let stop = Arc::new(AtomicBool::new(false));
            let signal = Arc::new(Mutex::new(None::<&'static str>));
            runtime.spawn(watch_signals(stop.clone(), signal.clone()));
            let metrics = Arc::new(Metrics::default());
            let aws = AwsOptions {
                endpoint_url: a.endpoint_url.clone(),
            };
            let mut s3 = S3Options {
                sse_kms_key: a.sse_kms_key.clone(),
                no_overwrite: a.no_overwrite,
                ..S3Options::default()
            };
            if let Some(m) = a.multipart_threshold_mib {
                s3.multipart_threshold = (m as usize) << 20;
            }
            if let Some(m) = a.part_size_mib {
                s3.part_size = (m as usize) << 20;
            }
            if let Some(c) = a.concurrency {
                s3.file_concurrency = c as usize;
            }
            let stream = |kind, name: &str| -> Result<Box<dyn Sink>, Error> {
                let mut s =
                    StreamSink::open(kind, name, &aws, runtime.handle().clone(), metrics.clone())?;
                s.concurrency = a.concurrency.unwrap_or(1) as usize;
                Ok(Box::new(s))
            };
            let out = settings.out.to_string_lossy().to_string();
            let lake: Box<dyn Sink> = if out.starts_with("s3://") {
                Box::new(S3Sink::open(
                    &out,
                    &aws,
                    s3,
                    runtime.handle().clone(),
                    metrics.clone(),
                )?)
            } else {
                Box::new(FolderSink::open(&settings.out)?.with_metrics(metrics.clone()))
            };
            let records: Option<Box<dyn Sink>> = match &settings.records {
                None => None,
                Some(RecordTarget::Stdout) => Some(Box::new(StdoutSink {
                    metrics: metrics.clone(),
                })),
                Some(RecordTarget::Kinesis(name)) => Some(stream(StreamKind::Kinesis, name)?),
                Some(RecordTarget::Firehose(name)) => Some(stream(StreamKind::Firehose, name)?),
            };
            let sink_name = match &settings.records {
                Some(RecordTarget::Kinesis(n)) => format!("kinesis://{n}"),
                Some(RecordTarget::Firehose(n)) => format!("firehose://{n}"),
                Some(RecordTarget::Stdout) => "stdout".into(),
                None => out.clone(),
            };
            let outputs = Outputs {
                data: records.as_deref().unwrap_or(lake.as_ref()),
                manifest: lake.as_ref(),
                metrics: metrics.clone(),
                stop: &stop,
                progress: std::io::stderr().is_terminal(),
            };
            let result = match a.mode {
                Mode::Backfill => generate(&settings, &outputs),
                Mode::Realtime => run_realtime(&settings, &outputs, &realtime),
            };
            let snapshot = metrics.snapshot();
            if let Some(path) = &a.metrics_json {
                let json = serde_json::json!({
                    "sink": sink_name,
                    "complete": result.is_ok(),
                    "metrics": snapshot,
                });
                std::fs::write(path, format!("{json:#}\n"))
                    .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))?;
            }
            if a.emf {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                eprintln!("{}", snapshot.emf(now, &sink_name));
            }
            let signal_name = *signal.lock().expect("signal lock");
            match (result, signal_name) {
                (Ok(summary), _) => {
                    eprint!("{}", summary.render());
                    Ok(())
                }
                (Err(e), Some(sig)) => Err(Error::interrupted(sig, e.to_string())),
                (Err(e), None) => Err(e),
            }
        }
        Command::Profile { dir, json } => {
            let p = marketpulse::profile::profile(&dir)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&p).expect("profile serialises")
                );
            } else {
                print!("{}", p.render());
            }
            Ok(())
        }
        Command::Verify { dir } => {
            let report = verify(&dir)?;
            for p in &report.problems {
                eprintln!("{p}");
            }
            if report.problems.is_empty() {
                eprintln!(
                    "ok: {} files, {} bytes match {} manifest(s)",
                    report.files, report.bytes, report.manifests
                );
                Ok(())
            } else {
                Err(Error::runtime(format!(
                    "verify failed: {} problem(s) in {}",
                    report.problems.len(),
                    dir.display()
                )))
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line: clap's own first line names the problem.
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!("marketpulse: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("marketpulse: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
